//! The small values that guard the pages: where to go after signing in (a local path only),
//! the sign-in form's CSRF token (signed with the server's secret) and the per-form nonce that
//! makes a form count once however often it is sent.
use crate::crypto::{Secrets, random_hex};

/// Where a visitor goes after signing in when the form names no place.
pub const DEFAULT_NEXT: &str = "/prompts";

/// Where a visitor goes when the form names a place that is not a local path.
pub const FALLBACK_NEXT: &str = "/";

/// How many rounds of percent-decoding `next` gets before it counts as hostile.
const DECODE_ROUNDS: usize = 4;

/// A local path to go to after signing in, never another site: `next` is percent-decoded
/// (until it no longer changes), stripped of control characters (which browsers drop from
/// URLs, so `/<TAB>/evil.example` would be `//evil.example`), and then must start with one `/`
/// and hold no backslash; anything else is [`FALLBACK_NEXT`]. The answer is re-encoded, so it
/// is always a valid `Location`.
pub fn safe_next(next: Option<&str>) -> String {
    let Some(next) = next.filter(|n| !n.is_empty()) else {
        return DEFAULT_NEXT.to_string();
    };
    let mut decoded = next.to_string();
    let mut stable = false;
    for _ in 0..DECODE_ROUNDS {
        let once = crate::util::url::decode(&decoded);
        if once == decoded {
            stable = true;
            break;
        }
        decoded = once;
    }
    if !stable {
        return FALLBACK_NEXT.to_string();
    }
    let cleaned: String = decoded
        .chars()
        .filter(|c| !c.is_control() && !matches!(c, '\u{200b}'..='\u{200f}' | '\u{feff}'))
        .collect();
    let cleaned = cleaned.trim();
    let local = cleaned.starts_with('/')
        && !cleaned.starts_with("//")
        && !cleaned.contains('\\')
        && !has_scheme(cleaned);
    if !local {
        return FALLBACK_NEXT.to_string();
    }
    crate::util::url::encode(cleaned, crate::util::url::Part::PathAndQuery)
}

/// Whether `s` starts with a URL scheme (`letters:` before any `/`, `?` or `#`).
fn has_scheme(s: &str) -> bool {
    let head = s.split(['/', '?', '#']).next().unwrap_or_default();
    head.contains(':')
}

/// What the sign-in form's CSRF token is signed for.
const LOGIN_PURPOSE: &str = "web/login-csrf";

/// How long a sign-in form's token stays valid (the cookie lasts as long).
pub const LOGIN_TOKEN_SECS: i64 = 3600;

/// A new sign-in form token: `<issued unix seconds>.<random>.<HMAC of both>`, set as a cookie
/// and rendered in the form. Only the server can make one.
pub fn login_token(secrets: &Secrets, now: i64) -> String {
    let body = format!("{now}.{}", random_hex(16));
    let tag = secrets.mac(LOGIN_PURPOSE, body.as_bytes());
    format!("{body}.{tag}")
}

/// Whether the form's token and the cookie's are one token the server signed less than
/// [`LOGIN_TOKEN_SECS`] ago (compared and verified in constant time).
pub fn login_token_ok(secrets: &Secrets, cookie: &str, sent: &str, now: i64) -> bool {
    if !crate::crypto::constant_time_eq(cookie.as_bytes(), sent.as_bytes()) {
        return false;
    }
    let Some((body, tag)) = sent.rsplit_once('.') else {
        return false;
    };
    let issued = body
        .split_once('.')
        .and_then(|(t, _)| t.parse::<i64>().ok());
    let fresh = issued.is_some_and(|t| t <= now + 60 && now - t <= LOGIN_TOKEN_SECS);
    secrets.verify_mac(LOGIN_PURPOSE, body.as_bytes(), tag) && fresh
}

/// How long a rendered form stays sendable; its nonce is remembered this long.
pub const NONCE_SECS: i64 = 24 * 3600;

/// The longest nonce accepted.
pub use crate::limits::FORM_NONCE_MAX_LEN as NONCE_MAX_LEN;

/// A new form nonce: `<issued unix seconds>-<random>`. It needs no signature: it protects the
/// sender against its own second click, and a sender that makes up a fresh one gains nothing
/// it could not have by reloading the page.
pub fn new_nonce(now: i64) -> String {
    format!("{now}-{}", random_hex(16))
}

/// Why a form's nonce is not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonceError {
    /// Missing or not a nonce.
    Invalid,
    /// Issued longer ago than [`NONCE_SECS`] (or in the future).
    Expired,
}

/// Checks a form's nonce: well formed and issued within [`NONCE_SECS`] of `now`.
pub fn check_nonce(nonce: Option<&str>, now: i64) -> Result<&str, NonceError> {
    let nonce = nonce.ok_or(NonceError::Invalid)?;
    let (issued, random) = nonce.split_once('-').ok_or(NonceError::Invalid)?;
    let issued: i64 = issued.parse().map_err(|_| NonceError::Invalid)?;
    if nonce.len() > NONCE_MAX_LEN
        || random.len() < 16
        || !random.bytes().all(|b| b.is_ascii_alphanumeric())
    {
        return Err(NonceError::Invalid);
    }
    if issued > now + 300 || now - issued > NONCE_SECS {
        return Err(NonceError::Expired);
    }
    Ok(nonce)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn goes_back_only_to_local_paths() {
        let cases: &[(Option<&str>, &str)] = &[
            (None, DEFAULT_NEXT),
            (Some(""), DEFAULT_NEXT),
            (Some("/runs/3?x=1"), "/runs/3?x=1"),
            (
                Some("/prompts/3?version=5#runs"),
                "/prompts/3?version=5#runs",
            ),
            (Some("/prompts?q=a%20b"), "/prompts?q=a%20b"),
            (Some("/x?q=100%25"), "/x?q=100%25"),
            // Control characters that browsers drop: tab, CR, LF, raw and encoded.
            (Some("/\t/evil.example/phish"), FALLBACK_NEXT),
            (Some("/%09/evil.example/phish"), FALLBACK_NEXT),
            (Some("%2F%09%2Fevil.example%2Fphish"), FALLBACK_NEXT),
            (Some("/\r\n/evil.example"), FALLBACK_NEXT),
            (Some("/%0d%0a/evil.example"), FALLBACK_NEXT),
            (
                Some("/prompts\r\nSet-Cookie: x=1"),
                "/promptsSet-Cookie:%20x=1",
            ),
            (
                Some("/prompts%0D%0ASet-Cookie:%20x=1"),
                "/promptsSet-Cookie:%20x=1",
            ),
            (Some("/\n/evil"), FALLBACK_NEXT),
            // Other sites.
            (Some("//evil"), FALLBACK_NEXT),
            (Some("//evil.example"), FALLBACK_NEXT),
            (Some("/\\evil"), FALLBACK_NEXT),
            (Some("/%5Cevil"), FALLBACK_NEXT),
            (Some("/a\\b"), FALLBACK_NEXT),
            (Some("https://evil"), FALLBACK_NEXT),
            (Some("javascript:alert(1)"), FALLBACK_NEXT),
            (Some("%2F%2Fevil"), FALLBACK_NEXT),
            (Some("%252F%252Fevil"), FALLBACK_NEXT),
            (Some(" //evil"), FALLBACK_NEXT),
            (Some("evil.example"), FALLBACK_NEXT),
            (Some("/\u{200b}/evil"), FALLBACK_NEXT),
            (Some("%25252525252F%25252525252Fevil"), FALLBACK_NEXT),
        ];
        for (next, expected) in cases {
            assert_eq!(safe_next(*next), *expected, "next = {next:?}");
        }
        // Whatever comes in, what goes out is a valid header value.
        for (next, _) in cases {
            let out = safe_next(*next);
            assert!(
                out.bytes().all(|b| (0x21..0x7f).contains(&b)),
                "{next:?} -> {out:?}"
            );
        }
    }

    #[test]
    fn login_tokens_are_signed_fresh_and_match_the_cookie() {
        let secrets = Secrets::from_secret("0123456789abcdef-test").expect("key");
        let now = 1_800_000_000;
        let token = login_token(&secrets, now);
        assert!(login_token_ok(&secrets, &token, &token, now + 10));
        // A self-made pair matches itself but is not signed.
        assert!(!login_token_ok(&secrets, "abc", "abc", now));
        let forged = format!("{now}.0123456789abcdef0123456789abcdef.{}", "0".repeat(64));
        assert!(!login_token_ok(&secrets, &forged, &forged, now));
        // Another token, another secret, an old one.
        let other = login_token(&secrets, now);
        assert!(!login_token_ok(&secrets, &token, &other, now));
        let elsewhere = Secrets::from_secret("another-secret-of-16+").expect("key");
        assert!(!login_token_ok(&elsewhere, &token, &token, now));
        assert!(!login_token_ok(
            &secrets,
            &token,
            &token,
            now + LOGIN_TOKEN_SECS + 1
        ));
    }

    #[test]
    fn nonces_are_well_formed_and_expire() {
        let now = 1_800_000_000;
        let nonce = new_nonce(now);
        assert_eq!(check_nonce(Some(&nonce), now + 5), Ok(nonce.as_str()));
        assert_eq!(check_nonce(None, now), Err(NonceError::Invalid));
        assert_eq!(check_nonce(Some("x"), now), Err(NonceError::Invalid));
        assert_eq!(check_nonce(Some("12-ab"), now), Err(NonceError::Invalid));
        assert_eq!(
            check_nonce(Some(&format!("{now}-{}", "a".repeat(80))), now),
            Err(NonceError::Invalid)
        );
        assert_eq!(
            check_nonce(Some(&nonce), now + NONCE_SECS + 1),
            Err(NonceError::Expired)
        );
        assert_eq!(
            check_nonce(Some(&new_nonce(now + 3600)), now),
            Err(NonceError::Expired)
        );
    }
}
