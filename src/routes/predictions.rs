//! Predictions: `/api/predictions/` and `/api/predictions/{id}/` (bare lists, not paginated).
use super::resource;
use crate::auth::{AuthUser, Manager};
use crate::error::{ApiResult, ErrorBody};
use crate::extract::ApiJson;
use crate::respond::{Created, Json, NoContent};
use crate::services::predictions::{self as service, ListFilter};
use crate::state::AppState;
use crate::views::predictions::{PredictionInput, PredictionListQuery, PredictionView};
use actix_web::web;

/// Registers the prediction routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        resource("/api/predictions/")
            .route(web::get().to(list))
            .route(web::post().to(create)),
    )
    .service(
        resource("/api/predictions/{id}/")
            .route(web::get().to(get))
            .route(web::patch().to(update))
            .route(web::delete().to(delete)),
    );
}

/// The caller organization's predictions, by id.
#[utoipa::path(get, path = "/api/predictions/", tag = "predictions", params(PredictionListQuery),
    responses((status = 200, body = Vec<PredictionView>), (status = 401, body = ErrorBody)))]
pub async fn list(
    state: web::Data<AppState>,
    caller: AuthUser,
    query: web::Query<PredictionListQuery>,
) -> ApiResult<Json<Vec<PredictionView>>> {
    let filter = ListFilter {
        task: query.task,
        project: query.project.or(query.task_project),
    };
    if query.project.is_some()
        && query.task_project.is_some()
        && query.project != query.task_project
    {
        return Ok(Json(Vec::<PredictionView>::new()));
    }
    let items = service::list(&state.db, &caller, &filter).await?;
    Ok(Json(
        items
            .into_iter()
            .map(PredictionView::from)
            .collect::<Vec<_>>(),
    ))
}

/// Creates a prediction; `result` may be regions, an object or a single value.
#[utoipa::path(post, path = "/api/predictions/", tag = "predictions", request_body = PredictionInput,
    responses((status = 201, body = PredictionView), (status = 400, body = ErrorBody)))]
pub async fn create(
    state: web::Data<AppState>,
    caller: Manager,
    body: ApiJson<PredictionInput>,
) -> ApiResult<Created<PredictionView>> {
    let created = service::create(&state.db, &caller, body.0).await?;
    Ok(Created(PredictionView::from(created)))
}

/// One prediction.
#[utoipa::path(get, path = "/api/predictions/{id}/", tag = "predictions", params(("id" = i64, Path, description = "Prediction id")),
    responses((status = 200, body = PredictionView), (status = 404, body = ErrorBody)))]
pub async fn get(
    state: web::Data<AppState>,
    caller: AuthUser,
    id: web::Path<i64>,
) -> ApiResult<Json<PredictionView>> {
    let found = service::get(&state.db, &caller, *id).await?;
    Ok(Json(PredictionView::from(found)))
}

/// Partial update of a prediction.
#[utoipa::path(patch, path = "/api/predictions/{id}/", tag = "predictions", params(("id" = i64, Path, description = "Prediction id")),
    request_body = PredictionInput,
    responses((status = 200, body = PredictionView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn update(
    state: web::Data<AppState>,
    caller: Manager,
    id: web::Path<i64>,
    body: ApiJson<PredictionInput>,
) -> ApiResult<Json<PredictionView>> {
    let updated = service::update(&state.db, &caller, *id, body.0).await?;
    Ok(Json(PredictionView::from(updated)))
}

/// Deletes a prediction.
#[utoipa::path(delete, path = "/api/predictions/{id}/", tag = "predictions", params(("id" = i64, Path, description = "Prediction id")),
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn delete(
    state: web::Data<AppState>,
    caller: Manager,
    id: web::Path<i64>,
) -> ApiResult<NoContent> {
    service::delete(&state.db, &caller, *id).await?;
    Ok(NoContent)
}
