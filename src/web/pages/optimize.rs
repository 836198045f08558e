//! Optimize: start a search for a better prompt of a version (with what it may cost beside a
//! single rewrite), follow it (progress, spend against the budgets), and read its candidates
//! (train and held-out accuracy with intervals, cost, the accuracy/cost front as a chart) and
//! its conclusion, with the way to the version it made.
use crate::presenters::optimizations::view;
use crate::services::optimizations as service;
use crate::services::{prompts, versions};
use crate::state::AppState;
use crate::views::optimizations::{
    CandidateView, OptimizationEstimate, OptimizationInput, OptimizationView, Outcome,
    SettingsInput,
};
use crate::views::prompts::PromptDetailView;
use crate::views::versions::VersionView;
use crate::web::forms::{Form, non_empty};
use crate::web::page::{Frame, Page, PageResult, redirect, render};
use crate::web::problems::{Input, Problem, problems};
use crate::web::svg::{FrontPoint, front_chart};
use crate::web::{PageError, Visitor};
use actix_web::web;
use entity::enums::{CandidateOrigin, CandidateStatus, OptimizationStatus};
use serde::{Deserialize, Serialize};

/// Registers the optimization pages and forms.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/prompts/{id}/optimize", web::get().to(start_page))
        .route(
            "/prompts/{id}/versions/{version_id}/optimize",
            web::post().to(start),
        )
        .route(
            "/prompts/{id}/optimizations/{optimization_id}",
            web::get().to(detail),
        )
        .route(
            "/prompts/{id}/optimizations/{optimization_id}/cancel",
            web::post().to(cancel),
        );
}

#[derive(Deserialize)]
struct StartQuery {
    version: i64,
}

/// An optimization in the list.
#[derive(Serialize)]
struct Listed {
    id: i64,
    version_id: i64,
    status: &'static str,
    outcome: Option<String>,
    cost: f64,
    calls: i32,
    created_at: String,
}

/// The start page: what an optimization does, the form, the estimate and the prompt's
/// optimizations.
#[derive(Serialize)]
struct StartPage {
    prompt: PromptDetailView,
    version: VersionView,
    connections: Vec<super::refine::TeacherChoice>,
    form: StartForm,
    estimate: Option<OptimizationEstimate>,
    optimizations: Vec<Listed>,
}

impl Page for StartPage {
    const TEMPLATE: &'static str = "optimize.html";
}

/// The form's fields, as sent and as shown (numbers as typed).
#[derive(Debug, Default, Deserialize, Serialize)]
struct StartForm {
    project: Option<i64>,
    connection: Option<i64>,
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    max_cost: Option<String>,
    #[serde(default)]
    max_calls: Option<String>,
    #[serde(default)]
    max_minutes: Option<String>,
    #[serde(default)]
    rounds: Option<String>,
    #[serde(default)]
    alpha: Option<String>,
}

/// A number typed in a form: empty is none, anything else must read as one.
fn number<T: std::str::FromStr>(raw: &Option<String>, field: &str) -> Result<Option<T>, PageError> {
    match non_empty(raw.clone()) {
        None => Ok(None),
        Some(s) => s
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| PageError::Api(crate::error::ApiError::field(field, "Give a number."))),
    }
}

impl StartForm {
    fn input(&self) -> Result<OptimizationInput, PageError> {
        Ok(OptimizationInput {
            project_id: self.project,
            teacher_model_name: non_empty(self.model.clone()),
            teacher_model_provider_connection_id: self.connection,
            settings: SettingsInput {
                max_cost: number(&self.max_cost, "max_cost")?,
                max_calls: number(&self.max_calls, "max_calls")?,
                max_seconds: number::<i64>(&self.max_minutes, "max_seconds")?
                    .map(|m| m.saturating_mul(60)),
                rounds: number(&self.rounds, "rounds")?,
                alpha: number(&self.alpha, "alpha")?,
                ..Default::default()
            },
        })
    }
}

/// A status in words.
fn status_words(s: OptimizationStatus) -> &'static str {
    match s {
        OptimizationStatus::Queued => "Waiting",
        OptimizationStatus::Running => "Searching",
        OptimizationStatus::Completed => "Finished",
        OptimizationStatus::Failed => "Failed",
        OptimizationStatus::Canceled => "Canceled",
    }
}

/// An outcome in words.
fn outcome_words(o: Outcome) -> &'static str {
    match o {
        Outcome::Promoted => "A better version was found",
        Outcome::NothingBetter => "Nothing was better",
        Outcome::BudgetReached => "Stopped by its budget",
    }
}

async fn start_page(
    state: web::Data<AppState>,
    visitor: Visitor,
    id: web::Path<i64>,
    q: web::Query<StartQuery>,
) -> PageResult {
    show_start(&state, &visitor, *id, q.version, None, vec![]).await
}

async fn show_start(
    state: &AppState,
    visitor: &Visitor,
    prompt_id: i64,
    version_id: i64,
    sent: Option<StartForm>,
    errors: Vec<Problem>,
) -> PageResult {
    let caller = visitor.caller();
    let (prompt, version, connections) =
        super::refine::version_and_teachers(state, visitor, prompt_id, version_id).await?;
    let form = sent.unwrap_or_else(|| StartForm {
        project: prompt.associated_projects.first().map(|p| p.id),
        connection: version.model_provider_connection,
        model: Some(version.provider_model_id.clone()),
        ..Default::default()
    });
    // What the defaults (with the form's teacher) may cost, when the form can say.
    let estimate = match form.input() {
        Ok(input)
            if input.project_id.is_some()
                && input.teacher_model_provider_connection_id.is_some() =>
        {
            service::estimate_request(
                &state.db,
                state.engine.prices(),
                caller,
                prompt_id,
                version_id,
                &input,
            )
            .await
            .ok()
        }
        _ => None,
    };
    let optimizations = service::list(&state.db, caller, prompt_id)
        .await?
        .into_iter()
        .map(|r| Listed {
            id: r.id,
            version_id: r.version_id,
            status: status_words(r.status),
            outcome: r
                .result
                .as_ref()
                .and_then(|v| {
                    serde_json::from_value::<crate::views::optimizations::OptimizationResult>(
                        v.clone(),
                    )
                    .ok()
                })
                .map(|res| outcome_words(res.outcome).to_string()),
            cost: r.cost,
            calls: r.calls,
            created_at: r.created_at.to_rfc3339(),
        })
        .collect();
    let page = StartPage {
        prompt,
        version,
        connections,
        form,
        estimate,
        optimizations,
    };
    render(Frame::of(visitor, "prompts").with_problems(errors), &page)
}

async fn start(
    state: web::Data<AppState>,
    path: web::Path<(i64, i64)>,
    form: Form<StartForm>,
) -> PageResult {
    let caller = form.visitor.manager()?;
    let (prompt, version) = path.into_inner();
    let created = match form.data.input() {
        Ok(input) => service::create(
            &state.db,
            state.engine.prices(),
            &caller,
            prompt,
            version,
            input,
        )
        .await
        .map_err(PageError::from),
        Err(e) => Err(e),
    };
    let row = match created {
        Ok(row) => row,
        Err(e) => {
            let mut inputs = super::refine::teacher_inputs("optimize-project", "Project");
            inputs.extend([
                Input::text(&["max_cost"], "max-cost", "Spend at most (USD)"),
                Input::text(&["max_calls"], "max-calls", "Calls at most"),
                Input::text(&["max_seconds"], "max-minutes", "Minutes at most"),
                Input::text(&["rounds"], "rounds", "Rounds"),
                Input::choice(&["alpha"], "alpha", "Significance"),
            ]);
            let errors = problems(e, &inputs)?;
            return show_start(
                &state,
                &form.visitor,
                prompt,
                version,
                Some(form.data),
                errors,
            )
            .await;
        }
    };
    state.engine.wake();
    tracing::info!(
        prompt,
        version,
        optimization = row.id,
        "optimization started from the web app"
    );
    Ok(redirect(&format!(
        "/prompts/{prompt}/optimizations/{}",
        row.id
    )))
}

/// A candidate as the page shows it.
#[derive(Serialize)]
struct CandidateRow {
    c: CandidateView,
    origin: &'static str,
    status: &'static str,
}

/// The detail page.
#[derive(Serialize)]
struct DetailPage {
    prompt: PromptDetailView,
    version: Option<VersionView>,
    o: OptimizationView,
    status: &'static str,
    outcome: Option<&'static str>,
    running: bool,
    /// Calls made as a share of the estimate, in percent.
    percent: u32,
    chart: Option<String>,
    candidates: Vec<CandidateRow>,
}

impl Page for DetailPage {
    const TEMPLATE: &'static str = "optimization.html";
}

fn origin_words(o: CandidateOrigin) -> &'static str {
    match o {
        CandidateOrigin::Parent => "The version's prompt",
        CandidateOrigin::Rewrite => "Rewrite of a cluster of failures",
        CandidateOrigin::Mutation => "Reflective mutation of the best so far",
        CandidateOrigin::FewShot => "Worked examples added",
    }
}

fn candidate_status_words(s: CandidateStatus) -> &'static str {
    match s {
        CandidateStatus::Active => "In the search",
        CandidateStatus::Eliminated => "Dropped on train",
        CandidateStatus::Finalist => "Tested on held-out tasks",
        CandidateStatus::Winner => "Promoted",
    }
}

async fn detail(
    state: web::Data<AppState>,
    visitor: Visitor,
    path: web::Path<(i64, i64)>,
) -> PageResult {
    let (prompt_id, id) = path.into_inner();
    let caller = visitor.caller();
    let prompt = prompts::get(&state.db, caller, prompt_id).await?;
    let prompt = crate::presenters::prompts::detail_views(&state, vec![prompt])
        .await?
        .pop()
        .ok_or(crate::error::ApiError::NotFound)?;
    let row = service::get(&state.db, caller, prompt_id, id).await?;
    let version = match versions::get(&state.db, caller, prompt_id, row.version_id).await {
        Ok(v) => crate::presenters::versions::views(&state, vec![v])
            .await?
            .pop(),
        Err(_) => None,
    };
    let o = view(&state.db, row, true).await?;
    let points: Vec<FrontPoint> = o
        .candidates
        .iter()
        .filter_map(|c| {
            Some(FrontPoint {
                label: format!("#{} {}", c.seq, origin_words(c.origin)),
                accuracy: c.train.accuracy?,
                cost: c.cost_per_call?,
                on_front: c.on_front,
            })
        })
        .collect();
    let percent = if o.progress.total > 0 {
        ((o.progress.done * 100) / o.progress.total).clamp(0, 100) as u32
    } else {
        0
    };
    let page = DetailPage {
        prompt,
        version,
        status: status_words(o.status),
        outcome: o.result.as_ref().map(|r| outcome_words(r.outcome)),
        running: o.status.is_open(),
        percent,
        chart: (!points.is_empty()).then(|| front_chart(&points)),
        candidates: o
            .candidates
            .iter()
            .cloned()
            .map(|c| CandidateRow {
                origin: origin_words(c.origin),
                status: candidate_status_words(c.status),
                c,
            })
            .collect(),
        o,
    };
    render(Frame::of(&visitor, "prompts"), &page)
}

#[derive(Deserialize)]
struct Nothing {}

async fn cancel(
    state: web::Data<AppState>,
    path: web::Path<(i64, i64)>,
    form: Form<Nothing>,
) -> PageResult {
    let caller = form.visitor.manager()?;
    let (prompt, id) = path.into_inner();
    let row = service::get(&state.db, &caller, prompt, id).await?;
    if row.status.is_open()
        && let Some(job) = row.job_id
    {
        crate::jobs::cancel(&state.engine, &caller, job).await?;
    }
    Ok(redirect(&format!("/prompts/{prompt}/optimizations/{id}")))
}
