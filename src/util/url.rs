//! Percent-encoding, once: what may stand as is depends on where the text goes (RFC 3986), so
//! every caller names the part of the URL it writes.

/// The part of a URL a text is written into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// One path segment: only unreserved characters stay (`/` is encoded, so a value cannot
    /// add a segment).
    PathSegment,
    /// A query key or value: unreserved characters and `/` stay (`/` is allowed in a query and
    /// keeps local paths readable, `?next=/prompts`); `&`, `=`, `+`, `#`, `?`, `%` and space are
    /// encoded.
    QueryValue,
    /// A local path with its query and fragment, re-encoded after decoding: the characters
    /// paths and queries are made of stay (delimiters included), the rest (space, `%`, quotes,
    /// `\`, control characters, non-ASCII) is encoded.
    PathAndQuery,
}

fn unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// Whether byte `b` may stand as is in `part`.
fn keeps(part: Part, b: u8) -> bool {
    match part {
        Part::PathSegment => unreserved(b),
        Part::QueryValue => unreserved(b) || b == b'/',
        Part::PathAndQuery => {
            unreserved(b)
                || matches!(
                    b,
                    b'/' | b'?'
                        | b'&'
                        | b'='
                        | b'#'
                        | b':'
                        | b'@'
                        | b'!'
                        | b'$'
                        | b'\''
                        | b'('
                        | b')'
                        | b'*'
                        | b'+'
                        | b','
                        | b';'
                )
        }
    }
}

/// Percent-encodes `s` (its UTF-8 bytes) for `part`, with upper-case hex digits.
pub fn encode(s: &str, part: Part) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if keeps(part, b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Decodes `%XX` escapes once; invalid escapes and invalid UTF-8 stay as they are (lossy).
/// `+` stays `+` (this is not form decoding).
pub fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
            if let Some(b) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::{Part, decode, encode};

    #[test]
    fn slash_is_kept_in_queries_and_encoded_in_segments() {
        assert_eq!(
            encode("/prompts/1?x=a b", Part::QueryValue),
            "/prompts/1%3Fx%3Da%20b"
        );
        assert_eq!(encode("a/b c", Part::PathSegment), "a%2Fb%20c");
        assert_eq!(
            encode("a&b=c+d#e%", Part::QueryValue),
            "a%26b%3Dc%2Bd%23e%25"
        );
        assert_eq!(encode("é", Part::QueryValue), "%C3%A9");
        assert_eq!(
            encode("/p?q=a b&x=1#r\\", Part::PathAndQuery),
            "/p?q=a%20b&x=1#r%5C"
        );
    }

    #[test]
    fn decode_undoes_encode_and_leaves_bad_escapes() {
        for part in [Part::PathSegment, Part::QueryValue, Part::PathAndQuery] {
            let s = "a/b c?d=é&%+";
            assert_eq!(decode(&encode(s, part)), s);
        }
        assert_eq!(decode("100%"), "100%");
        assert_eq!(decode("%zz%4"), "%zz%4");
        assert_eq!(decode("a+b"), "a+b");
    }
}
