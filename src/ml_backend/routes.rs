//! The ML backend routes of every prompt, under `/ml/prompts/{id}`: `/` and `/health`,
//! `/setup`, `/predict`, `/webhook`, `/versions` and `/metrics`, each also with a trailing
//! slash. Errors use the ML backend envelope ([`MlError`]); any other path under the prefix is
//! a 404 in that envelope.
use super::MODEL_CLASS;
use super::auth::{MlCaller, MlManager};
use super::error::{MlError, MlErrorBody, MlResult};
use crate::error::ApiError;
use crate::extract::{JsonBytes, parse_json_off_thread};
use crate::label_studio::ml_jobs::{self, Event, HANDLED_ACTIONS};
use crate::respond::{Created, Either, Json};
use crate::services::prompts;
use crate::state::AppState;
use crate::views::ml_backend::{
    HealthView, PredictInput, PredictView, SetupInput, SetupView, VersionsView, WebhookInput,
    WebhookView,
};
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};
use std::time::Instant;

/// Registers the ML backend routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/ml/prompts/{id}")
            .service(resource("").route(web::get().to(health)))
            .service(resource("/health").route(web::get().to(health)))
            .service(resource("/setup").route(web::post().to(setup)))
            .service(resource("/predict").route(web::post().to(predict)))
            .service(resource("/webhook").route(web::post().to(webhook)))
            .service(resource("/versions").route(web::get().to(versions)))
            .service(resource("/metrics").route(web::get().to(metrics)))
            .default_service(web::to(not_found)),
    );
}

/// `path` and `path/`, with a 405 in the envelope for other methods.
fn resource(path: &str) -> actix_web::Resource {
    web::resource([path.to_string(), format!("{path}/")])
        .default_service(web::to(method_not_allowed))
}

async fn method_not_allowed(req: HttpRequest) -> MlResult<HttpResponse> {
    Err(ApiError::MethodNotAllowed(req.method().to_string()).into())
}

async fn not_found() -> MlResult<HttpResponse> {
    Err(ApiError::NotFound.into())
}

/// The prompt id of the path; anything but an integer matches no prompt.
fn prompt_id(raw: &str) -> MlResult<i64> {
    raw.parse().map_err(|_| MlError(ApiError::NotFound))
}

/// Liveness of the prompt's ML backend: 200 once the credentials are good and the prompt is
/// the caller's. Never calls the LLM.
#[utoipa::path(get, path = "/ml/prompts/{id}/health", tag = "ml_backend",
    params(("id" = i64, Path, description = "Prompt id")),
    security(("Basic" = []), ("Token" = [])),
    responses((status = 200, body = HealthView), (status = 401, body = MlErrorBody),
        (status = 404, body = MlErrorBody)))]
pub async fn health(
    state: web::Data<AppState>,
    caller: MlCaller,
    id: web::Path<String>,
) -> MlResult<Json<HealthView>> {
    prompts::get(&state.db, &caller.0, prompt_id(&id)?).await?;
    Ok(Json(HealthView {
        status: "UP".into(),
        model_class: MODEL_CLASS.into(),
    }))
}

/// Registers (or refreshes) a Label Studio project and reports the `model_version` of the
/// prompt's deployed version (its newest when none is deployed).
///
/// On first sight of a Label Studio project, a Prompter project mirroring it is created in the
/// prompt's organization (label config = `schema`) and associated with the prompt; later calls
/// update its label config, Label Studio's hostname and the sealed access token. Never calls
/// the LLM. A prompt without versions, or a label config that does not parse or that a prompt
/// cannot answer, is a 400. Managers and above.
#[utoipa::path(post, path = "/ml/prompts/{id}/setup", tag = "ml_backend",
    params(("id" = i64, Path, description = "Prompt id")),
    security(("Basic" = []), ("Token" = [])),
    request_body = SetupInput,
    responses((status = 200, body = SetupView), (status = 400, body = MlErrorBody),
        (status = 401, body = MlErrorBody), (status = 403, body = MlErrorBody),
        (status = 404, body = MlErrorBody)))]
pub async fn setup(
    state: web::Data<AppState>,
    caller: MlManager,
    req: HttpRequest,
    id: web::Path<String>,
    body: Result<JsonBytes, ApiError>,
) -> MlResult<Json<SetupView>> {
    let prompt = prompt_id(&id)?;
    let input: SetupInput = parse_json_off_thread(body.map_err(MlError)?.0).await?;
    let token = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(super::auth::token_in);
    let view = super::setup::setup(&state, &caller.0, prompt, input, token).await?;
    Ok(Json(view))
}

/// Predicts every task of the request at once with the prompt's deployed version and answers
/// one item per task, in order, each `{"result", "score", "model_version"}`.
///
/// The label config of the request shapes the answers; few-shot examples come from the ground
/// truth of the Label Studio project's mirror (created here when Label Studio never called
/// `/setup`). `params.context.result` (interactive pre-annotation: what the annotator drew) is
/// given to the model as a hint. A task that cannot be predicted (a missing data field, a
/// provider failure, or still running after 90 s, within Label Studio's 100 s limit) gets
/// `{"result": [], "score": 0.0}`. A version that cannot run at all (no provider connection)
/// is a 400. Managers and above.
#[utoipa::path(post, path = "/ml/prompts/{id}/predict", tag = "ml_backend",
    params(("id" = i64, Path, description = "Prompt id")),
    security(("Basic" = []), ("Token" = [])),
    request_body = PredictInput,
    responses((status = 200, body = PredictView), (status = 400, body = MlErrorBody),
        (status = 401, body = MlErrorBody), (status = 403, body = MlErrorBody),
        (status = 404, body = MlErrorBody)))]
pub async fn predict(
    state: web::Data<AppState>,
    caller: MlManager,
    id: web::Path<String>,
    body: Result<JsonBytes, ApiError>,
) -> MlResult<Json<PredictView>> {
    let started = Instant::now();
    let prompt = prompt_id(&id)?;
    let input: PredictInput = parse_json_off_thread(body.map_err(MlError)?.0).await?;
    let view = super::predict::predict(&state, &caller.0, prompt, input, started).await?;
    Ok(Json(view))
}

/// Label Studio events: `ANNOTATION_CREATED`, `ANNOTATION_UPDATED` and `ANNOTATIONS_CREATED`
/// upsert the task and the annotation (ground truth unless cancelled) into the project's
/// mirror; `ANNOTATIONS_DELETED` removes them; `START_TRAINING` links the mirror to its Label
/// Studio project and syncs it. Handled events answer 201 at once and are applied by a job
/// (`ml_event` or `ml_train`, see `GET /api/jobs/`); others answer 200
/// `{"status": "Unknown event"}`.
///
/// Label Studio sends event webhooks without the backend's Basic auth: add the header
/// `Authorization: Token <Prompter token>` to the project's webhook in Label Studio.
/// Managers and above.
#[utoipa::path(post, path = "/ml/prompts/{id}/webhook", tag = "ml_backend",
    params(("id" = i64, Path, description = "Prompt id")),
    security(("Basic" = []), ("Token" = [])),
    request_body = WebhookInput,
    responses((status = 201, body = WebhookView), (status = 200, body = WebhookView),
        (status = 400, body = MlErrorBody), (status = 401, body = MlErrorBody),
        (status = 403, body = MlErrorBody), (status = 404, body = MlErrorBody)))]
pub async fn webhook(
    state: web::Data<AppState>,
    caller: MlManager,
    id: web::Path<String>,
    body: Result<JsonBytes, ApiError>,
) -> MlResult<Either<Json<WebhookView>, Created<WebhookView>>> {
    let prompt_id = prompt_id(&id)?;
    let caller = caller.0;
    let input: WebhookInput = parse_json_off_thread(body.map_err(MlError)?.0).await?;
    let prompt = prompts::get(&state.db, &caller, prompt_id).await?;
    let action = input
        .action
        .as_ref()
        .and_then(Value::as_str)
        .filter(|a| HANDLED_ACTIONS.contains(a));
    let Some(action) = action else {
        return Ok(Either::Left(Json(WebhookView {
            status: "Unknown event".into(),
            result: None,
        })));
    };
    let event = Event::read(action, &input).ok_or_else(|| {
        MlError(ApiError::field(
            "project",
            "The event names no Label Studio project.",
        ))
    })?;
    let result = json!({"action": action, "project": event.ls_project});
    ml_jobs::enqueue_event(&state.engine, &caller, prompt.id, &event, input).await?;
    Ok(Either::Right(Created(WebhookView {
        status: "ok".into(),
        result: Some(result),
    })))
}

/// The `model_version` strings of the prompt's versions, oldest first.
#[utoipa::path(get, path = "/ml/prompts/{id}/versions", tag = "ml_backend",
    params(("id" = i64, Path, description = "Prompt id")),
    security(("Basic" = []), ("Token" = [])),
    responses((status = 200, body = VersionsView), (status = 401, body = MlErrorBody),
        (status = 404, body = MlErrorBody)))]
pub async fn versions(
    state: web::Data<AppState>,
    caller: MlCaller,
    id: web::Path<String>,
) -> MlResult<Json<VersionsView>> {
    let versions = super::setup::version_labels(&state.db, &caller.0, prompt_id(&id)?).await?;
    Ok(Json(VersionsView { versions }))
}

/// The ML backend SDK's metrics stub: `{}`.
#[utoipa::path(get, path = "/ml/prompts/{id}/metrics", tag = "ml_backend",
    params(("id" = i64, Path, description = "Prompt id")),
    security(("Basic" = []), ("Token" = [])),
    responses((status = 200, body = Object), (status = 401, body = MlErrorBody),
        (status = 404, body = MlErrorBody)))]
pub async fn metrics(
    state: web::Data<AppState>,
    caller: MlCaller,
    id: web::Path<String>,
) -> MlResult<Json<Value>> {
    prompts::get(&state.db, &caller.0, prompt_id(&id)?).await?;
    Ok(Json(json!({})))
}
