//! Jobs: every piece of background work of the organization (runs, refinements, Label Studio
//! syncs and pushes, ML-backend events, schedule firings) with its status, progress, error and
//! attempts, a link to what it works on, and a Cancel button for managers.
use super::{Pager, page_request};
use crate::services::jobs::{self as service, ListFilter};
use crate::state::AppState;
use crate::views::jobs::{JobView, kind_label};
use crate::web::Visitor;
use crate::web::forms::{Form, NoFields};
use crate::web::page::{Frame, Page, PageResult, redirect, render};
use actix_web::web;
use entity::enums::{JobKind, JobStatus};
use entity::model_refinement;
use sea_orm::EntityTrait;
use serde::{Deserialize, Serialize};

/// Registers `/jobs` and the cancel form.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/jobs", web::get().to(list))
        .route("/jobs/{id}/cancel", web::post().to(cancel));
}

#[derive(Deserialize)]
struct JobsQuery {
    page: Option<String>,
    kind: Option<String>,
    status: Option<String>,
}

/// A choice of a filter: its value and its words.
#[derive(Serialize)]
struct Choice {
    value: &'static str,
    label: &'static str,
}

/// A job as the page shows it.
#[derive(Serialize)]
struct JobRow {
    job: JobView,
    /// Its status in words.
    status_label: &'static str,
    /// Where what it works on is shown, and its words.
    subject_href: Option<String>,
    subject_label: Option<String>,
    /// It can still be canceled.
    open: bool,
}

/// The jobs page.
#[derive(Serialize)]
struct JobsPage {
    jobs: Vec<JobRow>,
    #[serde(flatten)]
    pager: Pager,
    kinds: Vec<Choice>,
    statuses: Vec<Choice>,
    kind: Option<&'static str>,
    status: Option<&'static str>,
    running: bool,
}

impl Page for JobsPage {
    const TEMPLATE: &'static str = "jobs.html";
}

fn status_label(s: JobStatus) -> &'static str {
    match s {
        JobStatus::Queued => "Queued",
        JobStatus::Running => "Running",
        JobStatus::Succeeded => "Succeeded",
        JobStatus::Failed => "Failed",
        JobStatus::Canceled => "Canceled",
    }
}

/// Where the subject of `job` is shown, and its words.
async fn subject_of(state: &AppState, job: &JobView) -> (Option<String>, Option<String>) {
    let Some(subject) = &job.subject else {
        return (None, None);
    };
    let id = subject.id;
    match subject.kind.as_str() {
        service::subject::RUN => (Some(format!("/runs/{id}")), Some(format!("Run #{id}"))),
        service::subject::PROMPT => (
            Some(format!("/prompts/{id}")),
            Some(format!("Prompt #{id}")),
        ),
        service::subject::LINK => (Some("/label-studio".into()), Some(format!("Link #{id}"))),
        service::subject::REFINEMENT => {
            match model_refinement::Entity::find_by_id(id)
                .one(&state.db)
                .await
            {
                Ok(Some(r)) => (
                    Some(format!(
                        "/prompts/{}/refine?version={}&job={}",
                        r.prompt_id, r.previous_version_id, r.job_id
                    )),
                    Some(format!("Refinement of prompt #{}", r.prompt_id)),
                ),
                _ => (None, Some(format!("Refinement #{id}"))),
            }
        }
        service::subject::OPTIMIZATION => {
            match entity::prompt_optimization::Entity::find_by_id(id)
                .one(&state.db)
                .await
            {
                Ok(Some(o)) => (
                    Some(format!("/prompts/{}/optimizations/{id}", o.prompt_id)),
                    Some(format!("Optimization of prompt #{}", o.prompt_id)),
                ),
                _ => (None, Some(format!("Optimization #{id}"))),
            }
        }
        other => (None, Some(format!("{other} #{id}"))),
    }
}

async fn list(
    state: web::Data<AppState>,
    visitor: Visitor,
    q: web::Query<JobsQuery>,
) -> PageResult {
    let q = q.into_inner();
    let kind = q.kind.as_deref().and_then(JobKind::parse);
    let status = q.status.as_deref().and_then(JobStatus::parse);
    let filter = ListFilter { kind, status };
    let (rows, count, located) = service::list(
        &state.db,
        visitor.caller(),
        &filter,
        page_request(q.page.as_deref()),
    )
    .await?;
    let views = crate::presenters::jobs::views(&state.db, rows).await?;
    let mut jobs = vec![];
    for job in views {
        let (subject_href, subject_label) = subject_of(&state, &job).await;
        jobs.push(JobRow {
            status_label: status_label(job.status),
            open: job.status.is_open(),
            subject_href,
            subject_label,
            job,
        });
    }
    let mut base = String::from("/jobs?");
    if let Some(k) = kind {
        base.push_str(&format!("kind={k}&"));
    }
    if let Some(s) = status {
        base.push_str(&format!("status={s}&"));
    }
    let page = JobsPage {
        running: jobs.iter().any(|j| j.open),
        jobs,
        pager: Pager::new(located.number, count, base),
        kinds: JobKind::ALL
            .iter()
            .map(|k| Choice {
                value: k.as_str(),
                label: kind_label(*k),
            })
            .collect(),
        statuses: JobStatus::ALL
            .iter()
            .map(|s| Choice {
                value: s.as_str(),
                label: status_label(*s),
            })
            .collect(),
        kind: kind.map(JobKind::as_str),
        status: status.map(JobStatus::as_str),
    };
    render(Frame::of(&visitor, "jobs"), &page)
}

async fn cancel(
    state: web::Data<AppState>,
    id: web::Path<i64>,
    form: Form<NoFields>,
) -> PageResult {
    let caller = form.visitor.manager()?;
    crate::jobs::cancel(&state.engine, &caller, *id).await?;
    Ok(redirect("/jobs"))
}
