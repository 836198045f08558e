//! The registry on a prompt's page: its tags, domain, status and deployed version (changed
//! with a reason, which the history keeps), its comments, and its schedules.
use crate::error::ApiError;
use crate::services::labels::{self, LabelChange};
use crate::services::{comments, prompts};
use crate::state::AppState;
use crate::views::prompts::PromptInput;
use crate::web::Visitor;
use crate::web::forms::{Form, NoFields, non_empty};
use crate::web::page::{PageResult, redirect};
use crate::web::pages::prompts::{
    DetailOptions, LabelValues, RegistryValues, ScheduleValues, Sent, detail_page,
};
use crate::web::problems::{Input, Problem, problems};
use actix_web::web;
use entity::enums::PromptStatus;
use serde::Deserialize;

/// Registers the registry forms of a prompt.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/prompts/{id}/registry", web::post().to(update))
        .route("/prompts/{id}/comments", web::post().to(comment))
        .route("/prompts/{id}/schedules", web::post().to(add_schedule))
        .route(
            "/prompts/{id}/schedules/{schedule_id}/status",
            web::post().to(set_schedule_status),
        )
        .route(
            "/prompts/{id}/schedules/{schedule_id}/delete",
            web::post().to(delete_schedule),
        )
        .route("/prompts/{id}/labels", web::post().to(set_label))
        .route(
            "/prompts/{id}/labels/{name}/delete",
            web::post().to(remove_label),
        )
        .route("/app/schedule-preview", web::get().to(schedule_preview));
}

/// The expression and zone the schedule form starts with.
pub const FORM_CRON: &str = "0 2 * * *";
/// The zone the schedule form starts with.
pub const FORM_TIMEZONE: &str = "UTC";

/// The next firings of `cron` in `timezone` as the schedule form shows them (`Mon 7 Dec 2026,
/// 03:00 CET`), or the message saying why it cannot be a schedule. The page renders them on
/// first load and its script asks [`schedule_preview`] again as the fields change.
pub fn preview_lines(
    cron: &str,
    timezone: &str,
    min_interval_secs: u64,
) -> Result<Vec<String>, String> {
    match crate::services::schedules::preview(cron, timezone, crate::util::now(), min_interval_secs)
    {
        Ok((tz, firings)) => Ok(firings
            .iter()
            .map(|t| {
                let local = t.with_timezone(&tz);
                let time = if chrono::Timelike::second(&local) == 0 {
                    "%H:%M"
                } else {
                    "%H:%M:%S"
                };
                local
                    .format(&format!("%a %-d %b %Y, {time} %Z"))
                    .to_string()
            })
            .collect()),
        Err(e) => Err(crate::web::problems::messages(&e).join(" ")),
    }
}

#[derive(Deserialize)]
struct PreviewQuery {
    #[serde(default)]
    cron: String,
    #[serde(default)]
    timezone: String,
}

/// The schedule form's preview as the script reads it: `{"ok": true, "firings": [...]}` or
/// `{"ok": false, "message": ...}`.
async fn schedule_preview(
    state: web::Data<AppState>,
    _visitor: crate::web::session::Visitor,
    q: web::Query<PreviewQuery>,
) -> PageResult {
    let body = match preview_lines(&q.cron, &q.timezone, state.settings.schedule_min_interval) {
        Ok(firings) => serde_json::json!({ "ok": true, "firings": firings }),
        Err(message) => serde_json::json!({ "ok": false, "message": message }),
    };
    Ok(actix_web::HttpResponse::Ok()
        .insert_header(("cache-control", "no-store"))
        .json(body))
}

/// The prompt page again with a form's `problems` and what it was sent with.
async fn again(
    state: &AppState,
    visitor: &Visitor,
    prompt_id: i64,
    sent: Sent,
    problems: Vec<Problem>,
) -> PageResult {
    let options = DetailOptions {
        sent,
        errors: problems,
        ..Default::default()
    };
    detail_page(state, visitor, prompt_id, options).await
}

async fn add_schedule(
    state: web::Data<AppState>,
    id: web::Path<i64>,
    form: Form<ScheduleValues>,
) -> PageResult {
    let caller = form.visitor.manager()?;
    let f = &form.data;
    let added = async {
        let subset = entity::enums::Subset::parse(f.subset.trim())
            .ok_or_else(|| ApiError::field("project_subset", "Choose which tasks to run on."))?;
        // The version menu offers the deployed version (""), each version by id, and each
        // label other than production as `label:NAME`.
        let (version, label) = match f.version.trim() {
            "" => (None, None),
            v => match v.strip_prefix("label:") {
                Some(name) => (None, Some(name.to_string())),
                None => (
                    Some(
                        v.parse::<i64>()
                            .map_err(|_| ApiError::field("version", "Choose a version."))?,
                    ),
                    None,
                ),
            },
        };
        let input = crate::views::registry::ScheduleInput {
            cron: Some(f.cron.clone()),
            timezone: non_empty(Some(f.timezone.clone())),
            version: Some(version),
            label: Some(label),
            project: f.project,
            project_subset: Some(subset),
            only_missing_predictions: Some(true),
            status: None,
        };
        crate::services::schedules::create_with(
            &state.db,
            &caller,
            *id,
            input,
            state.settings.schedule_min_interval,
        )
        .await
    }
    .await;
    match added {
        Ok(_) => Ok(redirect(&format!("/prompts/{}#schedules", *id))),
        Err(e) => {
            let inputs = [
                Input::text(&["cron"], "schedule-cron", "Cron"),
                Input::text(&["timezone"], "schedule-tz", "Time zone"),
                Input::choice(&["project"], "schedule-project", "Project"),
                Input::choice(&["project_subset", "subset"], "schedule-subset", "Tasks"),
                Input::choice(&["version", "label"], "schedule-version", "Version"),
            ];
            let problems = problems(e.into(), &inputs)?;
            let sent = Sent {
                schedule: Some(ScheduleValues {
                    open: true,
                    ..form.data
                }),
                ..Default::default()
            };
            again(&state, &form.visitor, *id, sent, problems).await
        }
    }
}

#[derive(Deserialize)]
struct StatusForm {
    #[serde(default)]
    status: String,
}

async fn set_schedule_status(
    state: web::Data<AppState>,
    path: web::Path<(i64, i64)>,
    form: Form<StatusForm>,
) -> PageResult {
    let caller = form.visitor.manager()?;
    let (prompt, schedule) = path.into_inner();
    let changed = async {
        let status = entity::enums::ScheduleStatus::parse(form.data.status.trim())
            .ok_or_else(|| ApiError::field("status", "Choose active or paused."))?;
        let input = crate::views::registry::ScheduleInput {
            status: Some(status),
            ..Default::default()
        };
        crate::services::schedules::update(
            &state.db,
            &caller,
            prompt,
            schedule,
            input,
            state.settings.schedule_min_interval,
        )
        .await
    }
    .await;
    match changed {
        Ok(_) => Ok(redirect(&format!("/prompts/{prompt}#schedules"))),
        Err(e) => {
            let problems = problems(e.into(), &[])?;
            again(&state, &form.visitor, prompt, Sent::default(), problems).await
        }
    }
}

async fn delete_schedule(
    state: web::Data<AppState>,
    path: web::Path<(i64, i64)>,
    form: Form<NoFields>,
) -> PageResult {
    let caller = form.visitor.manager()?;
    let (prompt, schedule) = path.into_inner();
    match crate::services::schedules::delete(&state.db, &caller, prompt, schedule).await {
        Ok(_) => Ok(redirect(&format!("/prompts/{prompt}#schedules"))),
        Err(e) => {
            let problems = problems(e.into(), &[])?;
            again(&state, &form.visitor, prompt, Sent::default(), problems).await
        }
    }
}

async fn update(
    state: web::Data<AppState>,
    id: web::Path<i64>,
    form: Form<RegistryValues>,
) -> PageResult {
    let caller = form.visitor.manager()?;
    let f = &form.data;
    let updated = async {
        let status = PromptStatus::parse(f.status.trim())
            .ok_or_else(|| ApiError::field("status", "Choose a status."))?;
        let deployed = match f.deployed_version.trim() {
            "" => None,
            v => Some(
                v.parse::<i64>()
                    .map_err(|_| ApiError::field("deployed_version", "Choose a version."))?,
            ),
        };
        let input = PromptInput {
            tags: Some(prompts::parse_tags(&f.tags)),
            domain: Some(non_empty(Some(f.domain.clone()))),
            status: Some(status),
            deployed_version: Some(deployed),
            reason: non_empty(Some(f.reason.clone())),
            ..Default::default()
        };
        prompts::update(&state.db, &caller, *id, input).await
    }
    .await;
    match updated {
        Ok(_) => Ok(redirect(&format!("/prompts/{}#registry", *id))),
        Err(e) => {
            let inputs = [
                Input::text(&["tags"], "registry-tags-input", "Tags"),
                Input::text(&["domain"], "registry-domain", "Domain"),
                Input::choice(&["status"], "registry-status-select", "Status"),
                Input::choice(
                    &["deployed_version"],
                    "registry-deployed-select",
                    "Deployed version",
                ),
                Input::text(&["reason"], "registry-reason", "Reason"),
            ];
            let problems = problems(e.into(), &inputs)?;
            let sent = Sent {
                registry: Some(RegistryValues {
                    open: true,
                    ..form.data
                }),
                ..Default::default()
            };
            again(&state, &form.visitor, *id, sent, problems).await
        }
    }
}

#[derive(Deserialize)]
struct CommentForm {
    #[serde(default)]
    text: String,
}

/// Any member may comment, as in the API.
async fn comment(
    state: web::Data<AppState>,
    id: web::Path<i64>,
    form: Form<CommentForm>,
) -> PageResult {
    let made = comments::create(
        &state.db,
        form.visitor.caller(),
        *id,
        Some(form.data.text.clone()),
        None,
    )
    .await;
    match made {
        Ok(_) => Ok(redirect(&format!("/prompts/{}#history", *id))),
        Err(e) => {
            let inputs = [Input::text(&["text"], "comment-text", "Comment")];
            let problems = problems(e.into(), &inputs)?;
            let sent = Sent {
                comment: Some(form.data.text),
                ..Default::default()
            };
            again(&state, &form.visitor, *id, sent, problems).await
        }
    }
}

/// Sets or moves a label from the label form (Managers; a protected label, or protecting one,
/// takes an Owner or Administrator).
async fn set_label(
    state: web::Data<AppState>,
    id: web::Path<i64>,
    form: Form<LabelValues>,
) -> PageResult {
    let caller = form.visitor.manager()?;
    let f = &form.data;
    let done = async {
        let version = f
            .version
            .trim()
            .parse::<i64>()
            .map_err(|_| ApiError::field("version", "Choose a version."))?;
        let change = LabelChange {
            version: Some(version),
            protected: f.protection_shown.then_some(f.protected),
            reason: non_empty(Some(f.reason.clone())),
        };
        labels::set(&state.db, &caller, *id, &f.name, change).await
    }
    .await;
    match done {
        Ok(_) => Ok(redirect(&format!("/prompts/{}#labels-title", *id))),
        Err(e) => {
            let inputs = [
                Input::text(&["name"], "label-name", "Label"),
                Input::choice(&["version"], "label-version", "Version"),
                Input::text(&["reason"], "label-reason", "Reason"),
            ];
            let problems = problems(e.into(), &inputs)?;
            let sent = Sent {
                label: Some(LabelValues {
                    open: true,
                    ..form.data
                }),
                ..Default::default()
            };
            again(&state, &form.visitor, *id, sent, problems).await
        }
    }
}

/// Removes a label (Managers; a protected one takes an Owner or Administrator).
async fn remove_label(
    state: web::Data<AppState>,
    path: web::Path<(i64, String)>,
    form: Form<NoFields>,
) -> PageResult {
    let caller = form.visitor.manager()?;
    let (prompt, name) = path.into_inner();
    let change = LabelChange::default();
    match labels::set(&state.db, &caller, prompt, &name, change).await {
        Ok(_) => Ok(redirect(&format!("/prompts/{prompt}#labels-title"))),
        Err(e) => {
            let problems = problems(e.into(), &[])?;
            again(&state, &form.visitor, prompt, Sent::default(), problems).await
        }
    }
}
