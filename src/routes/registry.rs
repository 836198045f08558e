//! The registry: a prompt's comments (`/api/prompts/{id}/comments`), schedules
//! (`/api/prompts/{id}/schedules[/{sid}]`), export (`/api/prompts/{id}/export`) and import
//! (`/api/prompts/import`). Tags, domain, status, parameters and the deployed version are
//! fields of the prompt itself (`/api/prompts/{id}/`).
use super::resource;
use crate::auth::{AuthUser, Manager};
use crate::error::{ApiResult, ErrorBody};
use crate::extract::{ApiJson, parse_bool};
use crate::limits::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE};
use crate::presenters::registry::{comment_views, label_views, schedule_views};
use crate::respond::{Created, Either, Json, NoContent, Paged};
use crate::services::labels::{self, LabelChange};
use crate::services::{assets, comments, schedules};
use crate::state::AppState;
use crate::views::PageParams;
use crate::views::registry::{
    CommentInput, CommentView, ExportQuery, ImportBody, ImportQuery, ImportedView,
    LabelDeleteQuery, LabelInput, LabelView, PromptDocument, ScheduleInput, SchedulePreviewQuery,
    SchedulePreviewView, ScheduleView,
};
use actix_web::{HttpRequest, web};
use entity::prompt_schedule;

/// Registers the registry routes (import before the prompts' `{id}` routes).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        resource("/api/prompts/import")
            .app_data(crate::extract::BodyLimit(
                crate::limits::MAX_IMPORT_BODY_BYTES,
            ))
            .route(web::post().to(import)),
    )
    .service(
        resource("/api/prompts/{id}/comments")
            .route(web::get().to(list_comments))
            .route(web::post().to(create_comment)),
    )
    .service(resource("/api/schedules/preview").route(web::get().to(preview_schedule)))
    .service(
        resource("/api/prompts/{id}/schedules")
            .route(web::get().to(list_schedules))
            .route(web::post().to(create_schedule)),
    )
    .service(
        resource("/api/prompts/{id}/schedules/{schedule_id}")
            .route(web::get().to(get_schedule))
            .route(web::patch().to(update_schedule))
            .route(web::delete().to(delete_schedule)),
    )
    .service(resource("/api/prompts/{id}/export").route(web::get().to(export)))
    .service(resource("/api/prompts/{id}/labels").route(web::get().to(list_labels)))
    .service(
        resource("/api/prompts/{id}/labels/{name}")
            .route(web::put().to(set_label))
            .route(web::delete().to(delete_label)),
    )
    .service(
        resource("/api/prompts/{id}/labels/{name}/version").route(web::get().to(labeled_version)),
    );
}

/// The prompt's comments, newest first: notes, and the reasons of deployment and status
/// changes.
/// Paginated by `page` and `page_size` (1,000 a page by default and at most); the body stays a
/// list, the total is in `X-Total-Count` and the other pages in `Link`.
#[utoipa::path(get, path = "/api/prompts/{id}/comments", tag = "registry",
    params(("id" = i64, Path, description = "Prompt id"), PageParams),
    responses((status = 200, body = Vec<CommentView>, headers(
        ("X-Total-Count" = u64, description = "Comments over all pages"),
        ("Link" = String, description = "The next and previous pages (RFC 8288)"))),
        (status = 404, body = ErrorBody)))]
pub async fn list_comments(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: AuthUser,
    id: web::Path<i64>,
    paging: web::Query<PageParams>,
) -> ApiResult<Paged<CommentView>> {
    let request = paging.resolve(DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)?;
    let (found, count, page) = comments::list(&state.db, &caller, *id, request).await?;
    let views = comment_views(&state, found).await?;
    Ok(Paged::new(&req, page, count, views))
}

/// Adds a comment (append-only: comments are never edited or deleted). Any member may
/// comment.
#[utoipa::path(post, path = "/api/prompts/{id}/comments", tag = "registry",
    params(("id" = i64, Path, description = "Prompt id")), request_body = CommentInput,
    responses((status = 201, body = CommentView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn create_comment(
    state: web::Data<AppState>,
    caller: AuthUser,
    id: web::Path<i64>,
    body: ApiJson<CommentInput>,
) -> ApiResult<Created<CommentView>> {
    let input = body.0;
    let made = comments::create(&state.db, &caller, *id, input.text, input.version).await?;
    let view = comment_views(&state, vec![made])
        .await?
        .pop()
        .ok_or(crate::error::ApiError::NotFound)?;
    Ok(Created(view))
}

async fn one_schedule(state: &AppState, s: prompt_schedule::Model) -> ApiResult<ScheduleView> {
    schedule_views(state, vec![s])
        .await?
        .pop()
        .ok_or(crate::error::ApiError::NotFound)
}

/// The prompt's schedules.
#[utoipa::path(get, path = "/api/prompts/{id}/schedules", tag = "registry",
    params(("id" = i64, Path, description = "Prompt id")),
    responses((status = 200, body = Vec<ScheduleView>), (status = 404, body = ErrorBody)))]
pub async fn list_schedules(
    state: web::Data<AppState>,
    caller: AuthUser,
    id: web::Path<i64>,
) -> ApiResult<Json<Vec<ScheduleView>>> {
    let found = schedules::list(&state.db, &caller, *id).await?;
    Ok(Json(schedule_views(&state, found).await?))
}

/// The next three firings of a cron expression in a time zone, as a schedule with it would
/// fire; refused with 400 on `cron` or `timezone` exactly as creating that schedule would be
/// (the message names the field of the expression and what it allows).
#[utoipa::path(get, path = "/api/schedules/preview", tag = "registry",
    params(SchedulePreviewQuery),
    responses((status = 200, body = SchedulePreviewView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub async fn preview_schedule(
    state: web::Data<AppState>,
    _caller: AuthUser,
    query: web::Query<SchedulePreviewQuery>,
) -> ApiResult<web::Json<SchedulePreviewView>> {
    let timezone = query.timezone.clone().unwrap_or_default();
    let (tz, firings) = schedules::preview(
        &query.cron,
        &timezone,
        crate::util::now(),
        state.settings.schedule_min_interval,
    )?;
    Ok(web::Json(SchedulePreviewView {
        cron: query.cron.trim().to_string(),
        timezone: tz.name().to_string(),
        next_local: firings
            .iter()
            .map(|t| t.with_timezone(&tz).to_rfc3339())
            .collect(),
        next_run_at: firings,
    }))
}

/// Creates a schedule: a cron expression as Unix writes it (five fields, minute hour
/// day-of-month month weekday, 0 and 7 Sunday; or six with seconds first) in an IANA time
/// zone. Each slot fires once across every server and worker on the database; it runs
/// the given version, or the deployed one, over the project's subset, by default only tasks
/// without a prediction of that version.
#[utoipa::path(post, path = "/api/prompts/{id}/schedules", tag = "registry",
    params(("id" = i64, Path, description = "Prompt id")), request_body = ScheduleInput,
    responses((status = 201, body = ScheduleView), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn create_schedule(
    state: web::Data<AppState>,
    caller: Manager,
    id: web::Path<i64>,
    body: ApiJson<ScheduleInput>,
) -> ApiResult<Created<ScheduleView>> {
    let made = schedules::create_with(
        &state.db,
        &caller,
        *id,
        body.0,
        state.settings.schedule_min_interval,
    )
    .await?;
    Ok(Created(one_schedule(&state, made).await?))
}

/// One schedule.
#[utoipa::path(get, path = "/api/prompts/{id}/schedules/{schedule_id}", tag = "registry",
    params(("id" = i64, Path, description = "Prompt id"), ("schedule_id" = i64, Path, description = "Schedule id")),
    responses((status = 200, body = ScheduleView), (status = 404, body = ErrorBody)))]
pub async fn get_schedule(
    state: web::Data<AppState>,
    caller: AuthUser,
    path: web::Path<(i64, i64)>,
) -> ApiResult<Json<ScheduleView>> {
    let (prompt, schedule) = path.into_inner();
    let found = schedules::get(&state.db, &caller, prompt, schedule).await?;
    Ok(Json(one_schedule(&state, found).await?))
}

/// Changes a schedule; `status: paused` stops it, `active` starts it from the next slot.
#[utoipa::path(patch, path = "/api/prompts/{id}/schedules/{schedule_id}", tag = "registry",
    params(("id" = i64, Path, description = "Prompt id"), ("schedule_id" = i64, Path, description = "Schedule id")),
    request_body = ScheduleInput,
    responses((status = 200, body = ScheduleView), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn update_schedule(
    state: web::Data<AppState>,
    caller: Manager,
    path: web::Path<(i64, i64)>,
    body: ApiJson<ScheduleInput>,
) -> ApiResult<Json<ScheduleView>> {
    let (prompt, schedule) = path.into_inner();
    let updated = schedules::update(
        &state.db,
        &caller,
        prompt,
        schedule,
        body.0,
        state.settings.schedule_min_interval,
    )
    .await?;
    Ok(Json(one_schedule(&state, updated).await?))
}

/// Deletes a schedule; the runs it created stay.
#[utoipa::path(delete, path = "/api/prompts/{id}/schedules/{schedule_id}", tag = "registry",
    params(("id" = i64, Path, description = "Prompt id"), ("schedule_id" = i64, Path, description = "Schedule id")),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete_schedule(
    state: web::Data<AppState>,
    caller: Manager,
    path: web::Path<(i64, i64)>,
) -> ApiResult<NoContent> {
    let (prompt, schedule) = path.into_inner();
    schedules::delete(&state.db, &caller, prompt, schedule).await?;
    Ok(NoContent)
}

/// The prompt as one portable JSON document: fields, versions with steps, parameters and
/// schedules, with `include_examples=true` its few-shot example set. No secret: connections
/// are named by provider.
#[utoipa::path(get, path = "/api/prompts/{id}/export", tag = "registry",
    params(("id" = i64, Path, description = "Prompt id"), ExportQuery),
    responses((status = 200, body = PromptDocument), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn export(
    state: web::Data<AppState>,
    caller: AuthUser,
    id: web::Path<i64>,
    query: web::Query<ExportQuery>,
) -> ApiResult<Json<PromptDocument>> {
    let include = match query.include_examples.as_deref() {
        None => false,
        // An empty value is not a boolean either, as the document says (type boolean).
        Some(raw) => parse_bool(raw).ok_or_else(|| {
            crate::error::ApiError::field("include_examples", "Must be true or false.")
        })?,
    };
    let document = assets::export(&state.db, &caller, *id, include).await?;
    Ok(Json(document))
}

/// Imports an exported prompt as a new prompt of the caller's organization, in one
/// transaction: its versions (connections matched by provider, or as `connections` names
/// them), deployed version, and, with a `project`, its schedules and few-shot examples
/// (examples whose data a task of the project already has are not added again).
///
/// Idempotent per document: importing a document this organization already imported (the
/// same content, whatever its key order or layout) answers 200 with that import's prompt
/// and writes nothing, also when the imports run concurrently; `copy=true` makes a new prompt
/// anyway (201). The document is bounded: at most 500 versions of at most 10 steps, 1,000
/// examples, 100 schedules and 5 MiB; over a bound is a 400 naming the field.
///
/// The body is the document exactly as export returns it (`export | import` works; the
/// query's `project` places it), or `{"document": …}` with `project`, `connections` and
/// `title`.
#[utoipa::path(post, path = "/api/prompts/import", tag = "registry", request_body = ImportBody,
    params(ImportQuery),
    responses((status = 201, body = ImportedView, description = "A new prompt"),
        (status = 200, body = ImportedView, description = "The document was already imported: the prompt of that import"),
        (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn import(
    state: web::Data<AppState>,
    caller: Manager,
    query: web::Query<ImportQuery>,
    body: ApiJson<ImportBody>,
) -> ApiResult<Either<Created<ImportedView>, Json<ImportedView>>> {
    let copy = match query.copy.as_deref() {
        None | Some("") => false,
        Some(raw) => parse_bool(raw)
            .ok_or_else(|| crate::error::ApiError::field("copy", "Must be true or false."))?,
    };
    Ok(
        match assets::import(
            &state.db,
            &caller,
            body.0.into_input(query.project),
            copy,
            state.settings.schedule_min_interval,
        )
        .await?
        {
            assets::Imported::Created(imported) => {
                tracing::info!(
                    prompt = imported.prompt,
                    versions = imported.versions.len(),
                    "imported a prompt"
                );
                Either::Left(Created(imported))
            }
            assets::Imported::Existing(found) => {
                tracing::info!(prompt = found.prompt, "the document was already imported");
                Either::Right(Json(found))
            }
        },
    )
}

/// The prompt's deployment labels, by name. `production` is its deployed version.
#[utoipa::path(get, path = "/api/prompts/{id}/labels", tag = "registry",
    params(("id" = i64, Path, description = "Prompt id")),
    responses((status = 200, body = Vec<LabelView>), (status = 404, body = ErrorBody)))]
pub async fn list_labels(
    state: web::Data<AppState>,
    caller: AuthUser,
    id: web::Path<i64>,
) -> ApiResult<Json<Vec<LabelView>>> {
    let found = labels::list(&state.db, &caller, *id).await?;
    Ok(Json(label_views(&state, found).await?))
}

/// Sets label `name` on a version of the prompt, or moves it there (Manager or above; a
/// protected label, or protecting one, takes an Owner or Administrator). The move is kept in
/// the prompt's history with who and why; moving `production` deploys the version (as
/// `deployed_version` does). A prompt has at most 20 labels; a name is 1 to 64 lowercase
/// letters, digits, `-`, `_` and `.`.
#[utoipa::path(put, path = "/api/prompts/{id}/labels/{name}", tag = "registry",
    params(("id" = i64, Path, description = "Prompt id"), ("name" = String, Path, description = "Label name")),
    request_body = LabelInput,
    responses((status = 200, body = LabelView), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn set_label(
    state: web::Data<AppState>,
    caller: Manager,
    path: web::Path<(i64, String)>,
    body: ApiJson<LabelInput>,
) -> ApiResult<Json<LabelView>> {
    let (id, name) = path.into_inner();
    let input = body.0;
    let version = input
        .version
        .ok_or_else(|| crate::error::ApiError::field("version", "This field is required."))?;
    let change = LabelChange {
        version: Some(version),
        protected: input.protected,
        reason: input.reason,
    };
    let label = labels::set(&state.db, &caller, id, &name, change)
        .await?
        .ok_or(crate::error::ApiError::NotFound)?;
    let view = label_views(&state, vec![label])
        .await?
        .pop()
        .ok_or(crate::error::ApiError::NotFound)?;
    Ok(Json(view))
}

/// Removes label `name` from the prompt (Manager or above; a protected label takes an Owner or
/// Administrator), kept in the history with `reason`. Removing `production` leaves the prompt
/// without a deployed version: its newest version answers.
#[utoipa::path(delete, path = "/api/prompts/{id}/labels/{name}", tag = "registry",
    params(("id" = i64, Path, description = "Prompt id"), ("name" = String, Path, description = "Label name"), LabelDeleteQuery),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete_label(
    state: web::Data<AppState>,
    caller: Manager,
    path: web::Path<(i64, String)>,
    query: web::Query<LabelDeleteQuery>,
) -> ApiResult<NoContent> {
    let (id, name) = path.into_inner();
    let change = LabelChange {
        version: None,
        protected: None,
        reason: query.into_inner().reason,
    };
    labels::set(&state.db, &caller, id, &name, change).await?;
    Ok(NoContent)
}

/// The version label `name` points at, as `GET /api/prompts/{id}/versions/{version_id}`
/// shows it: what a deployment script or a CI gate reads to find the version that serves.
#[utoipa::path(get, path = "/api/prompts/{id}/labels/{name}/version", tag = "registry",
    params(("id" = i64, Path, description = "Prompt id"), ("name" = String, Path, description = "Label name")),
    responses((status = 200, body = crate::views::versions::VersionView), (status = 404, body = ErrorBody)))]
pub async fn labeled_version(
    state: web::Data<AppState>,
    caller: AuthUser,
    path: web::Path<(i64, String)>,
) -> ApiResult<Json<crate::views::versions::VersionView>> {
    let (id, name) = path.into_inner();
    let version = labels::version_of(&state.db, &caller, id, &name).await?;
    let view = crate::presenters::versions::views(&state, vec![version])
        .await?
        .pop()
        .ok_or(crate::error::ApiError::NotFound)?;
    Ok(Json(view))
}
