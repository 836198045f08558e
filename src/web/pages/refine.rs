//! Refine ("Enhance prompt"): pick a teacher model, watch the job, read the proposed prompt as
//! a diff against the current one with the teacher's reasoning and cost, and keep or discard
//! the version it created.
use crate::engine::refine as service;
use crate::services::{model_providers, prompts, versions};
use crate::state::AppState;
use crate::views::prompts::PromptDetailView;
use crate::views::refine::{RefineInput, RefinedPromptView};
use crate::views::versions::VersionView;
use crate::web::diff;
use crate::web::forms::{Form, non_empty};
use crate::web::page::{Frame, Page, PageResult, redirect, render};
use crate::web::problems::{Input, Problem, problems};
use crate::web::{PageError, Visitor};
use actix_web::web;
use serde::{Deserialize, Serialize};

/// Registers `/prompts/{id}/refine` and the refine form.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/prompts/{id}/refine", web::get().to(page))
        .route(
            "/prompts/{id}/versions/{version_id}/refine",
            web::post().to(start),
        );
}

#[derive(Deserialize)]
struct RefineQuery {
    version: i64,
    job: Option<String>,
}

/// Refining a version: the form (teacher connection and model), and a job's status, cost,
/// reasoning and proposed prompt as a diff against the version's.
#[derive(Serialize)]
struct RefinePage {
    prompt: PromptDetailView,
    version: VersionView,
    connections: Vec<TeacherChoice>,
    job: Option<RefinedPromptView>,
    /// Whether the job is still running (the page reloads).
    running: bool,
    /// The proposed prompt against the version's, once there is one.
    diff: Option<Vec<diff::DiffLine>>,
    /// The refine form: the version's connection and model, or as sent.
    form: StartForm,
}

impl Page for RefinePage {
    const TEMPLATE: &'static str = "refine.html";
}

/// A connection the teacher may use (managers only).
#[derive(Serialize)]
pub(super) struct TeacherChoice {
    id: i64,
    provider: entity::enums::Provider,
}

/// The inputs of a form that names a project and a teacher (refine, optimize), by the names
/// errors give them: the project's select (`project_id`, with its id and label on the page),
/// the teacher's connection and model.
pub(super) fn teacher_inputs(project_id: &'static str, project_label: &'static str) -> Vec<Input> {
    vec![
        Input::choice(&["project_id", "project"], project_id, project_label),
        Input::choice(
            &["teacher_model_provider_connection_id", "connection"],
            "teacher-connection",
            "Teacher connection",
        ),
        Input::text(
            &["teacher_model_name", "model"],
            "teacher-model",
            "Teacher model",
        ),
    ]
}

/// What a page that asks a teacher about a version shows first (refine, optimize): the prompt,
/// the version, and the connections the teacher may use (none for a visitor who may not start
/// one).
pub(super) async fn version_and_teachers(
    state: &AppState,
    visitor: &Visitor,
    prompt_id: i64,
    version_id: i64,
) -> Result<(PromptDetailView, VersionView, Vec<TeacherChoice>), PageError> {
    let caller = visitor.caller();
    let prompt = prompts::get(&state.db, caller, prompt_id).await?;
    let prompt_view = crate::presenters::prompts::detail_views(state, vec![prompt])
        .await?
        .pop()
        .ok_or(crate::error::ApiError::NotFound)?;
    let version = versions::get(&state.db, caller, prompt_id, version_id).await?;
    let version_view = crate::presenters::versions::views(state, vec![version])
        .await?
        .pop()
        .ok_or(crate::error::ApiError::NotFound)?;
    let connections: Vec<_> = match visitor.manager() {
        Ok(m) => model_providers::list(&state.db, &m, None)
            .await?
            .into_iter()
            .map(|c| TeacherChoice {
                id: c.id,
                provider: c.provider,
            })
            .collect(),
        Err(_) => vec![],
    };
    Ok((prompt_view, version_view, connections))
}

async fn page(
    state: web::Data<AppState>,
    visitor: Visitor,
    id: web::Path<i64>,
    q: web::Query<RefineQuery>,
) -> PageResult {
    let q = q.into_inner();
    refine_page(&state, &visitor, *id, q.version, q.job, None, vec![]).await
}

/// The refine page of version `version_id` of prompt `prompt_id`, with job `job` when given,
/// and the form as `sent` with its `errors`.
async fn refine_page(
    state: &AppState,
    visitor: &Visitor,
    prompt_id: i64,
    version_id: i64,
    job: Option<String>,
    sent: Option<StartForm>,
    errors: Vec<Problem>,
) -> PageResult {
    let caller = visitor.caller();
    let (prompt_view, version_view, connections) =
        version_and_teachers(state, visitor, prompt_id, version_id).await?;
    let (job, running, lines) = match job.as_deref() {
        Some(job_id) => {
            let found = service::get(&state.db, caller, prompt_id, version_id, job_id).await?;
            let running = service::is_running(&found.status);
            let view = RefinedPromptView::new(found, None);
            let lines =
                (!view.prompt.is_empty()).then(|| diff::lines(&version_view.prompt, &view.prompt));
            (Some(view), running, lines)
        }
        None => (None, false, None),
    };
    let form = sent.unwrap_or_else(|| StartForm {
        project: None,
        connection: version_view.model_provider_connection,
        model: Some(version_view.provider_model_id.clone()),
    });
    let page = RefinePage {
        prompt: prompt_view,
        version: version_view,
        connections,
        job,
        running,
        diff: lines,
        form,
    };
    render(Frame::of(visitor, "prompts").with_problems(errors), &page)
}

/// The refine form's fields, as sent and as shown.
#[derive(Debug, Deserialize, Serialize)]
struct StartForm {
    project: Option<i64>,
    connection: Option<i64>,
    #[serde(default)]
    model: Option<String>,
}

async fn start(
    state: web::Data<AppState>,
    path: web::Path<(i64, i64)>,
    form: Form<StartForm>,
) -> PageResult {
    let caller = form.visitor.manager()?;
    let (prompt, version) = path.into_inner();
    let input = RefineInput {
        project_id: form.data.project,
        teacher_model_name: non_empty(form.data.model.clone()),
        teacher_model_provider_connection_id: form.data.connection,
    };
    let job = match service::create(&state.db, &caller, prompt, version, input).await {
        Ok(job) => job,
        Err(e) => {
            let inputs = teacher_inputs("refine-project", "Learn from project");
            let errors = problems(PageError::from(e), &inputs)?;
            return refine_page(
                &state,
                &form.visitor,
                prompt,
                version,
                None,
                Some(form.data),
                errors,
            )
            .await;
        }
    };
    let job_id = job.job_id.clone();
    state.engine.wake();
    tracing::info!(prompt, version, job = %job_id, "refinement started from the web app");
    Ok(redirect(&format!(
        "/prompts/{prompt}/refine?version={version}&job={job_id}"
    )))
}
