//! Live predictions: `POST /api/prompts/{id}/versions/{version_id}/predict` (a Prompter
//! extension), a version's answers for a few tasks through the run engine's path, not stored.
use super::resource;
use crate::auth::Manager;
use crate::engine::live::request as service;
use crate::error::{ApiResult, ErrorBody};
use crate::extract::ApiJson;
use crate::respond::Json;
use crate::state::AppState;
use crate::views::live::{LiveInput, LiveView};
use actix_web::web;

/// Registers the live prediction route.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        resource("/api/prompts/{id}/versions/{version_id}/predict").route(web::post().to(predict)),
    );
}

/// Predicts up to 100 tasks (stored ones by id, or inline data) with a version, at once, and
/// returns the Label Studio result regions of each without storing them. Failures come back
/// per task with their `error_type`; a version that cannot run at all (no usable connection)
/// answers 400. Managers and above.
#[utoipa::path(post, path = "/api/prompts/{id}/versions/{version_id}/predict", tag = "versions",
    params(("id" = i64, Path, description = "Prompt id"), ("version_id" = i64, Path, description = "Version id")),
    request_body = LiveInput,
    responses((status = 200, body = LiveView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn predict(
    state: web::Data<AppState>,
    caller: Manager,
    path: web::Path<(i64, i64)>,
    body: ApiJson<LiveInput>,
) -> ApiResult<Json<LiveView>> {
    let (prompt, version) = path.into_inner();
    let view = service::predict(&state.db, &state.engine, &caller, prompt, version, body.0).await?;
    Ok(Json(view))
}
