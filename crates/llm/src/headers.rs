//! What providers say about their limits in response headers: `Retry-After`, OpenAI's
//! `x-ratelimit-*` and Anthropic's `anthropic-ratelimit-*`.
use super::RateLimits;
use reqwest::header::HeaderMap;
use std::time::Duration;

/// Reads a header as text.
fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// `Retry-After` (seconds, or an HTTP date) or `retry-after-ms`.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    if let Some(ms) = header(headers, "retry-after-ms").and_then(|v| v.trim().parse::<f64>().ok()) {
        return Some(Duration::from_secs_f64(ms.max(0.0) / 1000.0));
    }
    let value = header(headers, "retry-after")?.trim();
    if let Ok(secs) = value.parse::<f64>() {
        return Some(Duration::from_secs_f64(secs.max(0.0)));
    }
    let when = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let wait = when.with_timezone(&chrono::Utc) - chrono::Utc::now();
    Some(wait.to_std().unwrap_or(Duration::ZERO))
}

/// OpenAI's `x-ratelimit-*` headers (Anthropic's `anthropic-ratelimit-*` too).
pub fn rate_limits(headers: &HeaderMap) -> RateLimits {
    let number = |names: &[&str]| {
        names
            .iter()
            .find_map(|n| header(headers, n).and_then(|v| v.trim().parse::<u64>().ok()))
    };
    let duration = |names: &[&str]| {
        names
            .iter()
            .find_map(|n| header(headers, n).and_then(parse_reset))
    };
    RateLimits {
        limit_requests: number(&[
            "x-ratelimit-limit-requests",
            "anthropic-ratelimit-requests-limit",
        ]),
        limit_tokens: number(&[
            "x-ratelimit-limit-tokens",
            "anthropic-ratelimit-tokens-limit",
        ]),
        remaining_requests: number(&[
            "x-ratelimit-remaining-requests",
            "anthropic-ratelimit-requests-remaining",
        ]),
        remaining_tokens: number(&[
            "x-ratelimit-remaining-tokens",
            "anthropic-ratelimit-tokens-remaining",
        ]),
        reset_requests: duration(&[
            "x-ratelimit-reset-requests",
            "anthropic-ratelimit-requests-reset",
        ]),
        reset_tokens: duration(&[
            "x-ratelimit-reset-tokens",
            "anthropic-ratelimit-tokens-reset",
        ]),
    }
}

/// OpenAI's reset durations (`1s`, `6m0s`, `20ms`, `1h2m3.5s`, plain seconds), or an RFC 3339
/// time (Anthropic's resets), as the wait from now.
pub fn parse_reset(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(when) = chrono::DateTime::parse_from_rfc3339(value) {
        let wait = when.with_timezone(&chrono::Utc) - chrono::Utc::now();
        return Some(wait.to_std().unwrap_or(Duration::ZERO));
    }
    if let Ok(secs) = value.parse::<f64>() {
        return Some(Duration::from_secs_f64(secs.max(0.0)));
    }
    let mut total = 0.0f64;
    let mut number = String::new();
    let mut chars = value.chars().peekable();
    let mut any = false;
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() || c == '.' {
            number.push(c);
            continue;
        }
        let n: f64 = number.parse().ok()?;
        number.clear();
        let unit = match c {
            'h' => 3600.0,
            'm' if chars.peek() == Some(&'s') => {
                chars.next();
                0.001
            }
            'm' => 60.0,
            's' => 1.0,
            _ => return None,
        };
        total += n * unit;
        any = true;
    }
    (any && number.is_empty()).then(|| Duration::from_secs_f64(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reset_durations_parse() {
        assert_eq!(parse_reset("1s"), Some(Duration::from_secs(1)));
        assert_eq!(parse_reset("6m0s"), Some(Duration::from_secs(360)));
        assert_eq!(parse_reset("20ms"), Some(Duration::from_millis(20)));
        assert_eq!(parse_reset("2.5"), Some(Duration::from_millis(2500)));
        assert_eq!(parse_reset("1h"), Some(Duration::from_secs(3600)));
        assert_eq!(parse_reset("soon"), None);
        assert_eq!(parse_reset("5x"), None);
        assert_eq!(parse_reset("2020-01-01T00:00:00Z"), Some(Duration::ZERO));
        let later = (chrono::Utc::now() + chrono::Duration::seconds(30)).to_rfc3339();
        assert!(parse_reset(&later).is_some_and(|d| d > Duration::from_secs(20)));
    }
}
