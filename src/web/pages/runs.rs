//! A run: live progress (counts, rate, ETA, cost so far) and cancel; its results task by task
//! with filters by outcome and class; one task's full prompt and raw model answer.
use super::{Link, Pager, Titled, page_request, summary};
use crate::error::ApiError;
use crate::presenters::runs::AccuracyView;
use crate::services::run_results::{self, Outcome};
use crate::services::{projects, runs as service};
use crate::state::AppState;
use crate::views::runs::RunView;
use crate::web::forms::{Form, NoFields};
use crate::web::page::{Frame, Page, PageResult, redirect, render};
use crate::web::{PageError, Visitor};
use actix_web::{HttpResponse, web};
use chrono::Utc;
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

/// Progress in words: tasks done, rate, time left.
#[derive(Debug, Serialize)]
struct Progress {
    status: String,
    active: bool,
    done: i64,
    total: i64,
    failed: i64,
    rate: Option<String>,
    eta: Option<String>,
    cost: String,
    accuracy: Option<String>,
    last_error: Option<String>,
}

/// A duration in words: `45 s`, `3 min`, `2 h 5 min`.
pub fn duration_words(seconds: f64) -> String {
    let s = seconds.max(0.0).round() as u64;
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} min", s.div_ceil(60)),
        _ => format!("{} h {} min", s / 3600, (s % 3600) / 60),
    }
}

fn progress_of(run: &RunView) -> Progress {
    let done = run.total_predictions + run.total_failed_predictions;
    let active = run.status.is_active();
    let elapsed = run
        .triggered_at
        .map(|t| (Utc::now() - t).num_milliseconds() as f64 / 1000.0)
        .filter(|s| *s > 0.5);
    let rate = match (active, elapsed) {
        (true, Some(secs)) if done > 0 => Some(done as f64 / secs),
        _ => None,
    };
    Progress {
        status: run.status.as_str().to_string(),
        active,
        done,
        total: run.total_tasks,
        failed: run.total_failed_predictions,
        rate: rate.map(|r| format!("{r:.1}")),
        eta: rate
            .filter(|r| *r > 0.0)
            .map(|r| duration_words((run.total_tasks - done).max(0) as f64 / r)),
        cost: crate::web::page::usd(minijinja::Value::from_serialize(run.total_cost_usd)),
        accuracy: Some(run.accuracy().label()),
        last_error: run.last_error.as_ref().map(|e| {
            format!(
                "{} — {}",
                e.error_type.as_ref().map_or("", |k| k.as_str()),
                e.message.clone().unwrap_or_default()
            )
        }),
    }
}

async fn progress(state: web::Data<AppState>, visitor: Visitor, id: web::Path<i64>) -> PageResult {
    let (run, _) = view(&state, &visitor, *id).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("cache-control", "no-store"))
        .json(progress_of(&run)))
}

#[derive(Deserialize)]
struct ResultsQuery {
    page: Option<String>,
    outcome: Option<String>,
    class: Option<String>,
}

/// A run's page: its progress (live while it is active), its accuracy and failures, and a
/// page of its results filtered by outcome and class.
#[derive(Serialize)]
struct RunPage<'a> {
    run: &'a RunView,
    prompt: Link,
    version: Link,
    project: Titled,
    /// Whether it is still running (the page follows its progress).
    active: bool,
    /// Tasks done: answered and failed.
    done: i64,
    /// Tasks per second, while active.
    rate: Option<String>,
    /// Time left in words, while active.
    eta: Option<String>,
    accuracy: AccuracyView,
    /// Failed tasks by kind, in the indicator's order.
    failures: Vec<FailureCount>,
    /// The outcome filter (`all`, `correct`, `incorrect`, `failed`).
    outcome: String,
    /// The class filter.
    class: Option<String>,
    /// The classes to filter by.
    classes: Vec<String>,
    /// Results matching the filters.
    count: u64,
    rows: Vec<Row>,
    #[serde(flatten)]
    pager: Pager,
}

impl Page for RunPage<'_> {
    const TEMPLATE: &'static str = "run.html";
}

/// How many tasks failed with one kind of error.
#[derive(Serialize)]
struct FailureCount {
    kind: String,
    count: u64,
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
    let (run, version) = view(&state, &visitor, *id).await?;
    let prompt = crate::services::prompts::get(&state.db, caller, run.parent_model).await?;
    let project = projects::get(&state.db, caller, run.project).await?;
    let config = projects::config_of(&project);
    let outcome = Outcome::parse(q.outcome.as_deref());
    let class = q.class.clone().filter(|c| !c.is_empty());
    let request = page_request(q.page.as_deref());
    let (found, count, located) = run_results::page(
        &state.db,
        caller,
        run.id,
        outcome,
        class.as_deref(),
        request,
    )
    .await?;
    let rows: Vec<Row> = found
        .into_iter()
        .map(|row| Row {
            text: summary(&row.data),
            row,
        })
        .collect();
    // From the run's counters, not a scan, by the one definition (failed tasks wrong).
    let accuracy = AccuracyView::from(run.accuracy());
    let failures = crate::services::indicators::indicators(
        &state.db,
        caller,
        run.id,
        Some("failed_predictions"),
        None,
    )
    .await?
    .pop()
    .and_then(|i| i.values["by_error_type"].as_object().cloned())
    .unwrap_or_default()
    .into_iter()
    .map(|(kind, n)| FailureCount {
        kind,
        count: n.as_u64().unwrap_or(0),
    })
    .collect();
    let p = progress_of(&run);
    let outcome_name = q.outcome.clone().unwrap_or_else(|| "all".into());
    let page_base = format!(
        "/runs/{}?outcome={}&class={}&",
        run.id,
        crate::web::page::encode(&outcome_name),
        crate::web::page::encode(class.as_deref().unwrap_or(""))
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
        active: p.active,
        done: p.done,
        rate: p.rate,
        eta: p.eta,
        accuracy,
        failures,
        outcome: outcome_name,
        class,
        classes: config.output_classes(),
        count,
        rows,
        pager: Pager::new(located.number, count, page_base),
    };
    render(Frame::of(&visitor, "prompts"), &page)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_durations() {
        assert_eq!(duration_words(12.4), "12 s");
        assert_eq!(duration_words(61.0), "2 min");
        assert_eq!(duration_words(7500.0), "2 h 5 min");
        assert_eq!(duration_words(-3.0), "0 s");
    }
}
