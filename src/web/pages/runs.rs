//! A run: live progress (every counter from one presenter, [`RunCounters`], which the page
//! renders and its script refreshes together) and cancel; its results task by task with
//! filters by outcome and class; one task's full prompt and raw model answer; and for a run
//! that a newer run replaced, a page that says so and links the new one.
use super::{Link, Pager, Titled, page_request, summary};
use crate::error::ApiError;
use crate::presenters::runs::RunCounters;
use crate::services::run_results::{self, Outcome, ResultsFilter, ScoreFilter};
use crate::services::{projects, runs as service};
use crate::state::AppState;
use crate::views::runs::RunView;
use crate::web::forms::{Form, NoFields};
use crate::web::page::{Frame, Page, PageResult, redirect, render, render_string};
use crate::web::{PageError, Visitor};
use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};

/// Registers `/runs/{id}`, its tasks, cancel and the progress endpoint.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/runs/{id}", web::get().to(detail))
        .route("/runs/{id}/tasks/{task_id}", web::get().to(task))
        .route("/runs/{id}/cancel", web::post().to(cancel))
        .route("/app/runs/{id}/progress", web::get().to(progress));
}

/// The run view of run `id` (with its last error and retry state), and its version.
async fn view(
    state: &AppState,
    visitor: &Visitor,
    id: i64,
) -> Result<(RunView, entity::model_version::Model), PageError> {
    let run = service::get(&state.db, visitor.caller(), id).await?;
    let version = entity::model_version::Entity::find_by_id(run.model_version_id)
        .one(&state.db)
        .await?
        .ok_or(ApiError::NotFound)?;
    let prompt = version.parent_model_id;
    let view = crate::presenters::runs::views(state, prompt, vec![run])
        .await?
        .pop()
        .ok_or(ApiError::NotFound)?;
    Ok((view, version))
}

async fn progress(state: web::Data<AppState>, visitor: Visitor, id: web::Path<i64>) -> PageResult {
    let (run, version) = view(&state, &visitor, *id).await?;
    let unpriced = crate::presenters::runs::unpriced_model(state.engine.prices(), &version);
    let counters = crate::presenters::runs::live_counters(
        &state.db,
        visitor.caller(),
        &run,
        unpriced.as_deref(),
    )
    .await?;
    Ok(HttpResponse::Ok()
        .insert_header(("cache-control", "no-store"))
        .json(counters))
}

#[derive(Deserialize)]
struct ResultsQuery {
    page: Option<String>,
    outcome: Option<String>,
    class: Option<String>,
    /// `below-80`, `from-90`... (see [`ScoreFilter::parse`]).
    score: Option<String>,
    /// `unsure` for least sure first.
    order: Option<String>,
}

/// The score filters the results offer: (value, words).
const SCORE_FILTERS: [(&str, &str); 6] = [
    ("", "Any score"),
    ("below-50", "Below 50%"),
    ("below-80", "Below 80%"),
    ("below-90", "Below 90%"),
    ("from-90", "90% or more"),
    ("from-99", "99% or more"),
];

/// A run's page: its counters (live while it is active: the page script replaces each with
/// what the progress endpoint sends, built by the same presenter), its notes and a page of its
/// results filtered by outcome and class.
#[derive(Serialize)]
struct RunPage<'a> {
    run: &'a RunView,
    prompt: Link,
    version: Link,
    project: Titled,
    /// Every counter the page shows, in words.
    counters: RunCounters,
    /// The run's notes, in people's words.
    notes: Vec<String>,
    /// The outcome filter (`all`, `correct`, `incorrect`, `failed`).
    outcome: String,
    /// The class filter.
    class: Option<String>,
    /// The classes to filter by.
    classes: Vec<String>,
    /// The score filter chosen (a value of [`SCORE_FILTERS`]).
    score: String,
    /// The score filters, (value, words).
    score_filters: &'static [(&'static str, &'static str)],
    /// Least sure first.
    unsure_first: bool,
    /// Whether any result has a score (the column shows then).
    scored: bool,
    /// Results matching the filters.
    count: u64,
    rows: Vec<Row>,
    #[serde(flatten)]
    pager: Pager,
}

impl Page for RunPage<'_> {
    const TEMPLATE: &'static str = "run.html";
}

/// A result with its task's data in one line.
#[derive(Serialize)]
struct Row {
    #[serde(flatten)]
    row: run_results::ResultRow,
    text: String,
}

async fn detail(
    state: web::Data<AppState>,
    visitor: Visitor,
    id: web::Path<i64>,
    q: web::Query<ResultsQuery>,
) -> PageResult {
    let caller = visitor.caller();
    let (run, version) = match view(&state, &visitor, *id).await {
        Ok(found) => found,
        Err(PageError::Api(ApiError::NotFound)) => return gone(&state, &visitor, *id).await,
        Err(e) => return Err(e),
    };
    let prompt = crate::services::prompts::get(&state.db, caller, run.parent_model).await?;
    let project = projects::get(&state.db, caller, run.project).await?;
    let config = projects::config_of(&project);
    let outcome = Outcome::parse(q.outcome.as_deref());
    let class = q.class.clone().filter(|c| !c.is_empty());
    let score = SCORE_FILTERS
        .iter()
        .find(|(value, _)| Some(*value) == q.score.as_deref())
        .map_or("", |(value, _)| *value);
    let unsure_first = q.order.as_deref() == Some("unsure");
    let filter = ResultsFilter {
        outcome,
        class: class.clone(),
        score: ScoreFilter::parse(Some(score)),
        least_sure_first: unsure_first,
    };
    let request = page_request(q.page.as_deref());
    let (found, count, located) =
        run_results::page(&state.db, caller, run.id, &filter, request).await?;
    let scored = found.iter().any(|r| r.score.is_some());
    let rows: Vec<Row> = found
        .into_iter()
        .map(|row| Row {
            text: summary(&row.data),
            row,
        })
        .collect();
    // From the run's counters, not a scan, by the one definition (failed tasks wrong).
    let unpriced = crate::presenters::runs::unpriced_model(state.engine.prices(), &version);
    let counters =
        crate::presenters::runs::live_counters(&state.db, caller, &run, unpriced.as_deref())
            .await?;
    let outcome_name = q.outcome.clone().unwrap_or_else(|| "all".into());
    let page_base = format!(
        "/runs/{}?outcome={}&class={}&score={score}&order={}&",
        run.id,
        crate::web::page::encode(&outcome_name),
        crate::web::page::encode(class.as_deref().unwrap_or("")),
        if unsure_first { "unsure" } else { "task" },
    );
    let page = RunPage {
        run: &run,
        prompt: Link {
            id: prompt.id,
            title: prompt.title,
        },
        version: Link {
            id: version.id,
            title: version.title,
        },
        project: Titled {
            title: project.title,
        },
        counters,
        notes: crate::presenters::runs::notes_in_words(&run),
        outcome: outcome_name,
        class,
        classes: config.output_classes(),
        score: score.to_string(),
        score_filters: &SCORE_FILTERS,
        unsure_first,
        scored,
        count,
        rows,
        pager: Pager::new(located.number, count, page_base),
    };
    render(Frame::of(&visitor, "prompts"), &page)
}

/// The page of a run that is not there: a newer run of its version on the same tasks replaced
/// it (the page says so and links that run), or it no longer exists (the page links its
/// prompt when that is known). Answered 404, in the app's frame.
#[derive(Serialize)]
struct RunGonePage {
    /// The run asked for.
    id: i64,
    /// The run that replaced it, while it exists.
    replaced_by: Option<i64>,
    /// Whether a newer run replaced it (the replacing run may be gone since).
    replaced: bool,
    /// The prompt page to go back to (`/prompts` when not known).
    prompt_path: String,
}

impl Page for RunGonePage {
    const TEMPLATE: &'static str = "run_gone.html";
}

async fn gone(state: &AppState, visitor: &Visitor, id: i64) -> PageResult {
    let replacement = service::replacement(&state.db, visitor.caller(), id).await?;
    let page = match replacement {
        Some(r) => RunGonePage {
            id,
            replaced_by: r.run.as_ref().map(|run| run.id),
            replaced: true,
            prompt_path: match r.version_id {
                Some(v) => format!("/prompts/{}?version={v}", r.prompt_id),
                None => format!("/prompts/{}", r.prompt_id),
            },
        },
        None => RunGonePage {
            id,
            replaced_by: None,
            replaced: false,
            prompt_path: "/prompts".to_string(),
        },
    };
    let body = render_string(&Frame::of(visitor, "prompts"), &page)?;
    Ok(HttpResponse::NotFound()
        .content_type("text/html; charset=utf-8")
        .insert_header(("cache-control", "no-store"))
        .body(body))
}

/// One task of a run: its result, data, full prompt (or why it does not render) and raw
/// answer.
#[derive(Serialize)]
struct TaskPage {
    run: TaskRun,
    row: run_results::ResultRow,
    prompt_error: Option<String>,
    messages: Vec<PromptMessage>,
}

impl Page for TaskPage {
    const TEMPLATE: &'static str = "task.html";
}

/// The run a task page links back to, and its prompt.
#[derive(Serialize)]
struct TaskRun {
    id: i64,
    parent_model: i64,
}

/// A message of the prompt a task is sent with.
#[derive(Serialize)]
struct PromptMessage {
    role: String,
    text: String,
}

async fn task(
    state: web::Data<AppState>,
    visitor: Visitor,
    path: web::Path<(i64, i64)>,
) -> PageResult {
    let (run_id, task_id) = path.into_inner();
    let caller = visitor.caller();
    if let Err(ApiError::NotFound) = service::get(&state.db, caller, run_id).await {
        return gone(&state, &visitor, run_id).await;
    }
    let (run, config, row) = run_results::one(&state.db, caller, run_id, task_id).await?;
    let version = entity::model_version::Entity::find_by_id(run.model_version_id)
        .one(&state.db)
        .await?
        .ok_or(ApiError::NotFound)?;
    let (messages, prompt_error) =
        match crate::engine::plan::preview_messages(&version.prompt, &config, &row.data) {
            Ok(messages) => (
                messages
                    .iter()
                    .map(|m| PromptMessage {
                        role: format!("{:?}", m.role).to_lowercase(),
                        text: m.text(),
                    })
                    .collect(),
                None,
            ),
            Err(e) => (vec![], Some(e.to_string())),
        };
    let page = TaskPage {
        run: TaskRun {
            id: run.id,
            parent_model: version.parent_model_id,
        },
        row,
        prompt_error,
        messages,
    };
    render(Frame::of(&visitor, "prompts"), &page)
}

async fn cancel(
    state: web::Data<AppState>,
    id: web::Path<i64>,
    form: Form<NoFields>,
) -> PageResult {
    let caller = form.visitor.manager()?;
    let run = service::get(&state.db, &caller, *id).await?;
    let version = entity::model_version::Entity::find_by_id(run.model_version_id)
        .one(&state.db)
        .await?
        .ok_or(ApiError::NotFound)?;
    let detail = service::cancel(
        &state.db,
        &caller,
        version.parent_model_id,
        version.id,
        run.id,
    )
    .await?;
    tracing::info!(run = run.id, %detail, "run canceled from the web app");
    Ok(redirect(&format!("/runs/{}", run.id)))
}

use sea_orm::EntityTrait;
