//! A small reader of `multipart/form-data` bodies (RFC 7578), enough for the files API's
//! uploads: each part's field name, file name and bytes.

/// One part of a form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Part {
    /// The field's `name`.
    pub(super) name: String,
    /// The `filename`, for a file.
    pub(super) filename: Option<String>,
    /// Its content.
    pub(super) data: Vec<u8>,
}

/// The boundary of a `multipart/form-data` content type.
fn boundary(content_type: &str) -> Option<String> {
    let mut params = content_type.split(';');
    let kind = params.next()?.trim();
    if !kind.eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    params.find_map(|p| {
        let (key, value) = p.split_once('=')?;
        key.trim()
            .eq_ignore_ascii_case("boundary")
            .then(|| value.trim().trim_matches('"').to_string())
            .filter(|b| !b.is_empty())
    })
}

/// Where `needle` first occurs in `haystack` at or after `from`.
fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if needle.is_empty() || haystack.len() < needle.len() || from > haystack.len() {
        return None;
    }
    haystack[from..]
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|i| i + from)
}

/// The value of parameter `key` in a `Content-Disposition` header's value.
fn disposition_param(value: &str, key: &str) -> Option<String> {
    value.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case(key)
            .then(|| v.trim().trim_matches('"').to_string())
    })
}

/// The parts of a `multipart/form-data` body, or why it cannot be read.
pub(super) fn parse(content_type: &str, body: &[u8]) -> Result<Vec<Part>, String> {
    let boundary = boundary(content_type)
        .ok_or("The request's Content-Type must be multipart/form-data with a boundary.")?;
    let delimiter = format!("--{boundary}").into_bytes();
    let next_delimiter = format!("\r\n--{boundary}").into_bytes();
    let unreadable = || "The multipart body could not be read.".to_string();
    let mut at = find(body, &delimiter, 0).ok_or_else(unreadable)? + delimiter.len();
    let mut parts = Vec::new();
    loop {
        if body[at..].starts_with(b"--") {
            return Ok(parts);
        }
        // The rest of the delimiter line (optional whitespace, then CRLF).
        let line_end = find(body, b"\r\n", at).ok_or_else(unreadable)?;
        let start = line_end + 2;
        let end = find(body, &next_delimiter, start).ok_or_else(unreadable)?;
        let part = &body[start..end];
        let (head, data) = match find(part, b"\r\n\r\n", 0) {
            Some(i) => (&part[..i], &part[i + 4..]),
            None if part.starts_with(b"\r\n") => (&part[..0], &part[2..]),
            None => return Err(unreadable()),
        };
        let head = String::from_utf8_lossy(head);
        let disposition = head.split("\r\n").find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.trim()
                .eq_ignore_ascii_case("content-disposition")
                .then(|| value.trim().to_string())
        });
        if let Some(disposition) = disposition {
            parts.push(Part {
                name: disposition_param(&disposition, "name").unwrap_or_default(),
                filename: disposition_param(&disposition, "filename"),
                data: data.to_vec(),
            });
        }
        at = end + next_delimiter.len();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_form_is_read_into_its_parts() {
        let body = b"--XyZ\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\nbatch\r\n\
                     --XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"in.jsonl\"\r\n\
                     Content-Type: application/jsonl\r\n\r\n{\"a\":1}\n{\"b\":2}\n\r\n--XyZ--\r\n";
        let parts = parse("multipart/form-data; boundary=\"XyZ\"", body).expect("parts");
        assert_eq!(parts.len(), 2);
        assert_eq!(
            (parts[0].name.as_str(), parts[0].data.as_slice()),
            ("purpose", &b"batch"[..])
        );
        assert_eq!(parts[1].filename.as_deref(), Some("in.jsonl"));
        assert_eq!(parts[1].data, b"{\"a\":1}\n{\"b\":2}\n");
        assert!(parse("application/json", body).is_err());
        assert!(parse("multipart/form-data; boundary=XyZ", b"--XyZ\r\nbroken").is_err());
    }
}
