//! The connector to a Label Studio instance: `/api/projects/{id}/label-studio` (the link),
//! its `sync` (import tasks and annotations) and `push` (export a run's predictions). Jobs run
//! in the background; the link shows their progress. Any member reads the link (its token is
//! never shown); Managers and above change it and start its jobs.
use super::resource;
use crate::auth::{AuthUser, Manager};
use crate::error::{ApiResult, ErrorBody};
use crate::extract::{ApiJson, JsonBytes, parse_json};
use crate::label_studio as service;
use crate::respond::{Accepted, Created, Json, NoContent};
use crate::state::AppState;
use crate::views::label_studio::LabelStudioLinkView;
use crate::views::label_studio::{LinkInput, PushInput, SyncInput};
use actix_web::web;
use entity::label_studio_link as link;

/// Registers the connector routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        resource("/api/projects/{id}/label-studio")
            .route(web::get().to(get))
            .route(web::post().to(create))
            .route(web::patch().to(update))
            .route(web::delete().to(delete)),
    )
    .service(resource("/api/projects/{id}/label-studio/sync").route(web::post().to(sync)))
    .service(resource("/api/projects/{id}/label-studio/push").route(web::post().to(push)));
}

async fn view(state: &AppState, l: link::Model) -> ApiResult<LabelStudioLinkView> {
    let linked = service::linked_counts(&state.db, l.project_id).await?;
    Ok(LabelStudioLinkView::new(l, linked))
}

/// Links the project to a project on a Label Studio instance.
///
/// Prompter asks Label Studio for the project (`GET {url}/api/projects/{ls_project}/` with
/// `Authorization: Token <token>`) first: a refused token answers 400 on `token`, an unknown
/// project 400 on `ls_project`, an instance that cannot be reached 400 with code
/// `label_studio_unreachable`. A project without tasks adopts Label Studio's label config; a
/// project with tasks must have the same one (400 on `ls_project` otherwise). The token is
/// stored encrypted and never returned. A project has at most one link (400 `already_linked`).
#[utoipa::path(post, path = "/api/projects/{id}/label-studio", tag = "label_studio",
    params(("id" = i64, Path, description = "Project id")), request_body = LinkInput,
    responses((status = 201, body = LabelStudioLinkView), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn create(
    state: web::Data<AppState>,
    caller: Manager,
    id: web::Path<i64>,
    body: ApiJson<LinkInput>,
) -> ApiResult<Created<LabelStudioLinkView>> {
    let created = service::create(
        &state.db,
        &state.secrets,
        state.engine.http(),
        &caller,
        *id,
        body.0,
    )
    .await?;
    Ok(Created(view(&state, created).await?))
}

/// The project's link, with the progress of its running or last job.
#[utoipa::path(get, path = "/api/projects/{id}/label-studio", tag = "label_studio",
    params(("id" = i64, Path, description = "Project id")),
    responses((status = 200, body = LabelStudioLinkView), (status = 404, body = ErrorBody)))]
pub async fn get(
    state: web::Data<AppState>,
    caller: AuthUser,
    id: web::Path<i64>,
) -> ApiResult<Json<LabelStudioLinkView>> {
    let found = service::get(&state.db, &caller, *id).await?;
    Ok(Json(view(&state, found).await?))
}

/// Changes the link's `url`, `token` or `ls_project`, checked with Label Studio as on create.
/// Refused while a job runs (400 `job_running`), and for `ls_project` once tasks were synced.
#[utoipa::path(patch, path = "/api/projects/{id}/label-studio", tag = "label_studio",
    params(("id" = i64, Path, description = "Project id")), request_body = LinkInput,
    responses((status = 200, body = LabelStudioLinkView), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn update(
    state: web::Data<AppState>,
    caller: Manager,
    id: web::Path<i64>,
    body: ApiJson<LinkInput>,
) -> ApiResult<Json<LabelStudioLinkView>> {
    let updated = service::update(
        &state.db,
        &state.secrets,
        state.engine.http(),
        &caller,
        *id,
        body.0,
    )
    .await?;
    Ok(Json(view(&state, updated).await?))
}

/// Removes the link; a running job stops at its next step. Synced tasks and annotations stay.
#[utoipa::path(delete, path = "/api/projects/{id}/label-studio", tag = "label_studio",
    params(("id" = i64, Path, description = "Project id")),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete(
    state: web::Data<AppState>,
    caller: Manager,
    id: web::Path<i64>,
) -> ApiResult<NoContent> {
    service::delete(&state.db, &caller, *id).await?;
    Ok(NoContent)
}

/// Imports the Label Studio project's tasks and annotations in the background (202).
///
/// Pages through Label Studio's task list and upserts tasks by their Label Studio id (data,
/// meta) and annotations by theirs (result, was_cancelled, ground_truth); unchanged rows are
/// not written, nothing is deleted. `ground_truth`: `all` (default) makes every non-cancelled
/// annotation ground truth, `flagged` keeps Label Studio's flag. The body is optional. Poll
/// `GET` for `status` and `progress`; a failure sets `status: failed` and `last_error`. A link
/// already running a job answers 400 `job_running`.
#[utoipa::path(post, path = "/api/projects/{id}/label-studio/sync", tag = "label_studio",
    params(("id" = i64, Path, description = "Project id")), request_body(content = Option<SyncInput>),
    responses((status = 202, body = LabelStudioLinkView), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn sync(
    state: web::Data<AppState>,
    caller: Manager,
    id: web::Path<i64>,
    body: JsonBytes,
) -> ApiResult<Accepted<LabelStudioLinkView>> {
    let body = body.0;
    let input: SyncInput = if body.iter().all(u8::is_ascii_whitespace) {
        SyncInput::default()
    } else {
        parse_json(&body)?
    };
    let started = service::start_sync(&state.engine, &caller, *id, input).await?;
    Ok(Accepted(view(&state, started).await?))
}

/// Pushes a run's predictions to Label Studio in the background (202).
///
/// Each prediction of the run (`run`, or `model_run`) on a task synced from Label Studio
/// becomes a Label Studio prediction of that task (`POST {url}/api/predictions/` with `task`,
/// `result`, `score`, `model_version`). Tasks that already have a prediction with the same
/// `model_version` in Label Studio are skipped, so pushing twice creates no duplicates.
/// Predictions of tasks not synced from Label Studio are skipped. A link already running a job
/// answers 400 `job_running`.
#[utoipa::path(post, path = "/api/projects/{id}/label-studio/push", tag = "label_studio",
    params(("id" = i64, Path, description = "Project id")), request_body = PushInput,
    responses((status = 202, body = LabelStudioLinkView), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn push(
    state: web::Data<AppState>,
    caller: Manager,
    id: web::Path<i64>,
    body: ApiJson<PushInput>,
) -> ApiResult<Accepted<LabelStudioLinkView>> {
    let started = service::start_push(&state.engine, &caller, *id, body.0).await?;
    Ok(Accepted(view(&state, started).await?))
}
