//! Security headers on every response: a Content-Security-Policy that allows no inline script
//! or style and no framing, `X-Frame-Options`, `X-Content-Type-Options` and a
//! `Referrer-Policy`. The vendored Swagger UI under `/docs/` sets styles inline, so its pages
//! get the same policy with inline styles allowed (never inline script).
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use actix_web::middleware::Next;

/// The policy of the app's pages and of every other response.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
    img-src 'self' data:; object-src 'none'; frame-ancestors 'none'; base-uri 'none'; \
    form-action 'self'";

/// The policy of the Swagger UI under [`DOCS_PREFIX`]: inline styles allowed, nothing else.
pub const DOCS_CSP: &str = "default-src 'self'; script-src 'self'; \
    style-src 'self' 'unsafe-inline'; img-src 'self' data:; object-src 'none'; \
    frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// Where the Swagger UI is served.
pub const DOCS_PREFIX: &str = "/docs";

/// The headers for a response to `path`.
pub fn headers_for(path: &str) -> [(&'static str, &'static str); 4] {
    let csp = if path == DOCS_PREFIX || path.starts_with("/docs/") {
        DOCS_CSP
    } else {
        CSP
    };
    [
        ("content-security-policy", csp),
        ("x-frame-options", "DENY"),
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "same-origin"),
    ]
}

fn add(headers: &mut HeaderMap, path: &str) {
    for (name, value) in headers_for(path) {
        let name = HeaderName::from_static(name);
        if !headers.contains_key(&name) {
            headers.insert(name, HeaderValue::from_static(value));
        }
    }
}

/// Request middleware that adds the security headers to every response a handler or a page
/// error made. (A request refused by a middleware before routing, such as a NUL in the
/// query, is answered by actix from the error and goes without them: a JSON error body.)
pub async fn security_headers(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    // The request must not be cloned before routing (actix needs it unshared): keep the path.
    let path = req.path().to_string();
    let mut res = next.call(req).await?;
    add(res.headers_mut(), &path);
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[::core::prelude::v1::test]
    fn pages_get_the_strict_policy_and_the_docs_inline_styles_only() {
        let page = headers_for("/prompts");
        assert_eq!(page[0].1, CSP);
        assert!(!CSP.contains("unsafe"));
        assert!(CSP.contains("frame-ancestors 'none'") && CSP.contains("script-src 'self'"));
        assert_eq!(headers_for("/docs/")[0].1, DOCS_CSP);
        assert_eq!(headers_for("/docs")[0].1, DOCS_CSP);
        assert_eq!(headers_for("/docsx")[0].1, CSP);
        assert!(!DOCS_CSP.contains("script-src 'self' 'unsafe"));
    }
}
