//! HTTP routes, one module per resource, each with its `configure`. Handlers are thin: they
//! extract, call a service, and map the result to a view.
use crate::error::ApiError;
use crate::pagination::Page;
use actix_web::{HttpRequest, web};

pub mod annotations;
pub mod evaluation;
pub mod health;
pub mod label_studio;
pub mod live;
pub mod model_providers;
pub mod predictions;
pub mod projects;
pub mod prompts;
pub mod refine;
pub mod registry;
pub mod respond;
pub mod runs;
pub mod tasks;
pub mod users;
pub mod version;
pub mod versions;

/// Registers every route of the API.
pub fn configure(cfg: &mut web::ServiceConfig) {
    version::configure(cfg);
    health::configure(cfg);
    users::configure(cfg);
    projects::configure(cfg);
    tasks::configure(cfg);
    annotations::configure(cfg);
    predictions::configure(cfg);
    model_providers::configure(cfg);
    registry::configure(cfg);
    prompts::configure(cfg);
    versions::configure(cfg);
    refine::configure(cfg);
    runs::configure(cfg);
    evaluation::configure(cfg);
    live::configure(cfg);
    label_studio::configure(cfg);
}

/// A resource served on `path` and on its opposite trailing-slash variant, so that clients
/// that normalise slashes are not redirected (a redirect would turn a POST into a GET).
pub fn resource(path: &str) -> actix_web::Resource {
    let other = match path.strip_suffix('/') {
        Some(bare) => bare.to_string(),
        None => format!("{path}/"),
    };
    web::resource([path.to_string(), other]).default_service(web::to(method_not_allowed))
}

async fn method_not_allowed(req: HttpRequest) -> Result<actix_web::HttpResponse, ApiError> {
    Err(ApiError::MethodNotAllowed(req.method().to_string()))
}

/// Unknown paths: Label Studio's 404 body.
pub async fn not_found() -> Result<actix_web::HttpResponse, ApiError> {
    Err(ApiError::NotFound)
}

/// The `next` and `previous` URLs of a page, built from the request's own URL.
pub fn page_links(req: &HttpRequest, page: Page, count: u64) -> (Option<String>, Option<String>) {
    let info = req.connection_info();
    let base = format!("{}://{}{}", info.scheme(), info.host(), req.path());
    let others: Vec<(String, String)> = url_pairs(req.query_string())
        .into_iter()
        .filter(|(k, _)| k != "page")
        .collect();
    let link = |p: u64| {
        let mut pairs = others.clone();
        if p > 1 {
            pairs.push(("page".into(), p.to_string()));
        }
        let query: Vec<String> = pairs
            .iter()
            .map(|(k, v)| format!("{}={}", query_value(k), query_value(v)))
            .collect();
        if query.is_empty() {
            base.clone()
        } else {
            format!("{base}?{}", query.join("&"))
        }
    };
    let next = page.has_next(count).then(|| link(page.number + 1));
    let previous = (page.number > 1).then(|| link(page.number - 1));
    (next, previous)
}

fn query_value(s: &str) -> String {
    crate::util::url::encode(s, crate::util::url::Part::QueryValue)
}

fn url_pairs(query: &str) -> Vec<(String, String)> {
    web::Query::<Vec<(String, String)>>::from_query(query)
        .map(|q| q.into_inner())
        .unwrap_or_default()
}

/// Parses a comma-separated id list (`ids=1%2C2`); any non-integer answers 400 on `field`.
/// An empty value means no filter (`None`), as in Django.
pub fn parse_ids(field: &str, raw: &str) -> Result<Option<Vec<i64>>, ApiError> {
    if raw.trim().is_empty() {
        return Ok(None);
    }
    raw.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<i64>()
                .map_err(|_| ApiError::field(field, format!("\"{s}\" is not an integer id.")))
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}
