//! `GET /metrics`: the process's metrics in Prometheus's text format (see [`crate::metrics`]).
//! Open by default, as Prometheus expects of a scrape target; with `PROMPTER_METRICS_TOKEN` it
//! requires `Authorization: Bearer <token>`; `PROMPTER_METRICS=off` turns it off (404).
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use actix_web::http::header::{AUTHORIZATION, CACHE_CONTROL, HeaderMap};
use actix_web::{HttpRequest, HttpResponse, web};

/// Registers `/metrics`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(super::resource("/metrics").route(web::get().to(metrics)));
}

/// The metrics of this process in Prometheus's text format (0.0.4): HTTP requests by route
/// pattern and status with latency histograms, LLM calls by provider, model and outcome with
/// latency, tokens and cost, queue depths, job latency by kind, and the LLM schedulers'
/// concurrency and 429s. Needs no API token; when the server sets `PROMPTER_METRICS_TOKEN`,
/// send it as `Authorization: Bearer <token>`. Answers 404 when the server turned metrics off.
#[utoipa::path(get, path = "/metrics", tag = "ops", security(()),
    responses(
        (status = 200, description = "The metrics in Prometheus's text format", body = String,
            content_type = "text/plain"),
        (status = 401, description = "The server requires a metrics token, and none or another \
            was sent", body = crate::error::ErrorBody),
        (status = 404, description = "The server serves no metrics (`PROMPTER_METRICS=off`)",
            body = crate::error::ErrorBody),
    ))]
pub async fn metrics(req: HttpRequest, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    if !state.settings.metrics {
        return Err(ApiError::NotFound);
    }
    if let Some(expected) = &state.settings.metrics_token {
        let sent = bearer(req.headers()).ok_or(ApiError::NotAuthenticated)?;
        if !crate::crypto::constant_time_eq(sent.as_bytes(), expected.as_bytes()) {
            return Err(ApiError::InvalidToken);
        }
    }
    let scrape = crate::engine::observe::scrape(&state.engine).await?;
    let text = crate::metrics::render(&scrape)
        .map_err(|e| ApiError::Internal(format!("metrics do not render: {e}")))?;
    Ok(HttpResponse::Ok()
        .content_type(crate::metrics::CONTENT_TYPE)
        .insert_header((CACHE_CONTROL, "no-store"))
        .body(text))
}

/// The credential of `Authorization: Bearer <token>` (or `Token <token>`, as the API takes).
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, token) = value.split_once(' ')?;
    (scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("token"))
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}
