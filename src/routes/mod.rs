//! HTTP routes, one module per resource, each with its `configure`. Handlers are thin: they
//! extract, call a service, and map the result to a view.
use crate::error::ApiError;
use actix_web::{HttpRequest, web};

pub mod annotations;
pub mod audit;
pub mod evaluation;
pub mod health;
pub mod jobs;
pub mod label_studio;
pub mod live;
pub mod llm_cache;
pub mod members;
pub mod metrics;
pub mod model_providers;
pub mod optimizations;
pub mod predictions;
pub mod projects;
pub mod prompts;
pub mod refine;
pub mod registry;
pub mod runs;
pub mod tasks;
pub mod users;
pub mod version;
pub mod versions;
pub mod webhooks;

/// Registers every route of the API.
pub fn configure(cfg: &mut web::ServiceConfig) {
    version::configure(cfg);
    health::configure(cfg);
    metrics::configure(cfg);
    users::configure(cfg);
    members::configure(cfg);
    projects::configure(cfg);
    tasks::configure(cfg);
    annotations::configure(cfg);
    predictions::configure(cfg);
    model_providers::configure(cfg);
    registry::configure(cfg);
    prompts::configure(cfg);
    versions::configure(cfg);
    refine::configure(cfg);
    optimizations::configure(cfg);
    runs::configure(cfg);
    evaluation::configure(cfg);
    live::configure(cfg);
    llm_cache::configure(cfg);
    label_studio::configure(cfg);
    jobs::configure(cfg);
    audit::configure(cfg);
    webhooks::configure(cfg);
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

pub use crate::pagination::page_links;

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
