//! The id of a request: taken from the client's `X-Request-Id` when it is short and made of
//! safe characters, made up otherwise; echoed in the answer's `X-Request-Id`, carried by every
//! log line written while the request is served (its `request` span), and given as the `id`
//! of its error body. A foundation module: the error type reads the id of the request being
//! served from here, while the request middleware sets it.
use std::future::Future;

/// The header that carries a request's id, both ways.
pub const HEADER: &str = "x-request-id";

tokio::task_local! {
    static CURRENT: String;
}

/// Whether `id` may be used as a request's id as the client sent it: 1 to
/// [`crate::limits::MAX_REQUEST_ID_CHARS`] characters among ASCII letters, digits, `-`, `_`,
/// `.` and `:` (nothing a log line or a header could be confused by).
pub fn is_valid(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= crate::limits::MAX_REQUEST_ID_CHARS
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

/// A new id: 32 hexadecimal digits.
pub fn new_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// The id of a request that sent `incoming` (its `X-Request-Id`, if any): that value when it
/// [`is_valid`], a new one otherwise.
pub fn accept_or_new(incoming: Option<&str>) -> String {
    match incoming {
        Some(id) if is_valid(id) => id.to_string(),
        _ => new_id(),
    }
}

/// Runs `work` as the serving of the request `id`: [`current`] answers `id` within it.
pub async fn scope<F: Future>(id: String, work: F) -> F::Output {
    CURRENT.scope(id, work).await
}

/// The id of the request being served, if any.
pub fn current() -> Option<String> {
    CURRENT.try_with(Clone::clone).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_short_safe_ids_are_kept() {
        assert!(is_valid("abc-123_X.y:z"));
        assert!(is_valid(&"a".repeat(crate::limits::MAX_REQUEST_ID_CHARS)));
        assert!(!is_valid(
            &"a".repeat(crate::limits::MAX_REQUEST_ID_CHARS + 1)
        ));
        for bad in ["", "a b", "a\nb", "a\"b", "ü", "a/b", "<script>", "a=b"] {
            assert!(!is_valid(bad), "{bad:?}");
        }
        assert_eq!(accept_or_new(Some("trace-7")), "trace-7");
        let made = accept_or_new(Some("bad id"));
        assert_eq!(made.len(), 32);
        assert_ne!(accept_or_new(None), made);
    }

    #[tokio::test]
    async fn the_current_id_is_the_scopes() {
        assert_eq!(current(), None);
        let seen = scope("r-1".into(), async { current() }).await;
        assert_eq!(seen.as_deref(), Some("r-1"));
        assert_eq!(current(), None);
    }
}
