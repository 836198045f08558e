//! Error pages a person can go on from. Every error a page meets, and every API error a
//! browser meets outside `/api/` (a mistyped address, a query that does not parse), is shown
//! as a page in the app's frame: the menu and sign-out when someone is signed in, what went
//! wrong in people's words, and links on (back to the page they came from, their prompts).
//! Programs keep Label Studio's JSON error body: HTML is chosen only when the request asks for
//! it (`Accept` names `text/html`), and never under `/api/`.
use super::page::{ErrorPage, Frame, PageError, render_string};
use super::session::{COOKIE, Visitor, read_cookie};
use crate::error::ApiError;
use crate::state::AppState;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{
    ACCEPT, CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE, HeaderMap, REFERER, WWW_AUTHENTICATE,
};
use actix_web::middleware::Next;
use actix_web::{HttpResponse, web};

/// Whether an answer to `path` may be an HTML page: anything outside the API.
pub fn is_api_path(path: &str) -> bool {
    path == "/api" || path.starts_with("/api/")
}

/// Whether the request asks for HTML: its `Accept` names `text/html` (or
/// `application/xhtml+xml`) with a quality above zero. `*/*` alone is a program's.
pub fn asks_for_html(headers: &HeaderMap) -> bool {
    headers
        .get_all(ACCEPT)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|item| {
            let mut parts = item.split(';').map(str::trim);
            let kind = parts.next().unwrap_or_default().to_ascii_lowercase();
            let q = parts
                .find_map(|p| p.strip_prefix("q="))
                .and_then(|q| q.parse::<f32>().ok())
                .unwrap_or(1.0);
            (kind == "text/html" || kind == "application/xhtml+xml") && q > 0.0
        })
}

/// The local path (and query) of the page the request came from, when it came from a page
/// of this site, for the error page's "back" link.
fn came_from(req: &ServiceRequest) -> Option<String> {
    let referer = req.headers().get(REFERER)?.to_str().ok()?;
    let host = req.connection_info().host().to_string();
    let rest = referer
        .strip_prefix("http://")
        .or_else(|| referer.strip_prefix("https://"))?;
    let path = rest.strip_prefix(host.as_str())?;
    if !path.starts_with('/') || path == req.path() {
        return None;
    }
    let safe = super::guard::safe_next(Some(path));
    (safe != super::guard::FALLBACK_NEXT || path == "/").then_some(safe)
}

/// The menu section an address belongs to, marked current on its error page.
fn section_of(path: &str) -> Option<&'static str> {
    let first = path.trim_start_matches('/').split('/').next()?;
    match first {
        "prompts" | "runs" => Some("prompts"),
        "projects" => Some("projects"),
        "connections" => Some("connections"),
        "label-studio" => Some("label-studio"),
        "profile" => Some("profile"),
        _ => None,
    }
}

/// Request middleware that shows errors as pages (see the module notes). A response that is
/// not an error, or an error a program asked for, passes through unchanged; the status and
/// the other headers of an error page stay the error's.
pub async fn error_pages(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    // What the page needs is read now: the request must not be cloned before routing.
    let wants_html = !is_api_path(req.path()) && asks_for_html(req.headers());
    let cookie = read_cookie(req.request(), COOKIE);
    let back = came_from(&req);
    let section = section_of(req.path());
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let res = next.call(req).await?;
    let status = res.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return Ok(res.map_into_boxed_body());
    }
    let page = res.response().error().and_then(|e| {
        if let Some(page_error) = e.as_error::<PageError>() {
            Some(page_error.page())
        } else if wants_html {
            e.as_error::<ApiError>().map(ErrorPage::of_api)
        } else {
            None
        }
    });
    let Some(mut page) = page else {
        return Ok(res.map_into_boxed_body());
    };
    page.back = back;
    page.reference = crate::request_id::current();
    let visitor = match (cookie, state) {
        (Some(cookie), Some(state)) => crate::auth::authenticate_session(&state.db, &cookie)
            .await
            .ok()
            .flatten()
            .map(Visitor),
        _ => None,
    };
    let frame = match (&visitor, section) {
        (Some(v), Some(section)) => Frame::of(v, section),
        (Some(v), None) => Frame::signed_in(v),
        (None, _) => Frame::anonymous(),
    };
    let body = match render_string(&frame, &page) {
        Ok(body) => body,
        Err(e) => {
            tracing::error!(error = %e, "the error page does not render");
            return Ok(res.map_into_boxed_body());
        }
    };
    // A new response: outer middleware that rewrites API errors (naming what a 404 missed)
    // must not find the error and answer JSON again. The status and headers stay.
    let (req, old) = res.into_parts();
    let mut response = HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((CACHE_CONTROL, "no-store"))
        .body(body);
    for (name, value) in old.headers() {
        if ![
            CONTENT_TYPE,
            CONTENT_LENGTH,
            CACHE_CONTROL,
            WWW_AUTHENTICATE,
        ]
        .contains(name)
        {
            response.headers_mut().append(name.clone(), value.clone());
        }
    }
    Ok(ServiceResponse::new(req, response))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT, HeaderValue::from_str(value).expect("header"));
        headers
    }

    use actix_web::http::header::HeaderValue;

    #[::core::prelude::v1::test]
    fn html_only_when_asked_for() {
        let browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
        assert!(asks_for_html(&accept(browser)));
        assert!(asks_for_html(&accept("application/xhtml+xml")));
        assert!(!asks_for_html(&accept("*/*")));
        assert!(!asks_for_html(&accept("application/json")));
        assert!(!asks_for_html(&accept("application/json, text/html;q=0")));
        assert!(!asks_for_html(&HeaderMap::new()));
        assert!(is_api_path("/api/projects/") && is_api_path("/api"));
        assert!(!is_api_path("/apix") && !is_api_path("/prompts"));
        assert_eq!(section_of("/runs/3/tasks/4"), Some("prompts"));
        assert_eq!(section_of("/promts"), None);
    }
}
