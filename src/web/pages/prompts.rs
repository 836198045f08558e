//! Prompts: the list (projects, versions, best score, runs, cost), creating one from a project
//! (input fields and classes filled in from its label config), and a prompt's page: version
//! tabs, the editor (placeholders checked against the project's fields), saving a new
//! version, the cost estimate, starting a run and its live progress.
use super::{Link, Pager, page_request};
use crate::error::ApiError;
use crate::presenters::model_providers::ModelChoices;
use crate::presenters::prompts::PromptRow;
use crate::presenters::runs::RunCounters;
use crate::presenters::versions::ScoredVersion;
use crate::services::{evaluation, model_providers, projects, prompts as service, versions};
use crate::state::AppState;
use crate::views::prompts::{PromptDetailView, PromptInput};
use crate::views::registry::{CommentView, ScheduleView};
use crate::views::runs::{RunInput, RunView};
use crate::views::versions::{CostEstimateView, VersionView};
use crate::web::forms::{Form, NoFields, non_empty};
use crate::web::page::{Frame, Page, PageResult, redirect, render};
use crate::web::problems::{Input, Problem, problems};
use crate::web::{PageError, Visitor};
use actix_web::web;
use entity::enums::{RunExecution, Subset};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

mod editor;
mod sent;
use editor::{Editor, Fields};

pub(super) use sent::{LabelValues, RegistryValues, RunValues, ScheduleValues, Sent};

/// Registers `/prompts`, `/prompts/{id}`, version creation and deletion, and runs.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/prompts", web::get().to(list))
        .route("/prompts", web::post().to(create))
        .route("/prompts/{id}", web::get().to(detail))
        .route("/prompts/{id}/versions", web::post().to(create_version))
        .route(
            "/prompts/{id}/versions/{version_id}/delete",
            web::post().to(delete_version),
        )
        .route(
            "/prompts/{id}/versions/{version_id}/runs",
            web::post().to(start_run),
        );
}

#[derive(Deserialize)]
struct PageQuery {
    page: Option<String>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
struct PromptForm {
    #[serde(default)]
    title: String,
    /// The project chosen (chosen again when the form comes back with a problem).
    #[serde(default)]
    project: Option<i64>,
}

/// The prompts, a page of them, and the new-prompt form with the projects to start from.
#[derive(Serialize)]
struct PromptsPage {
    prompts: Vec<PromptRow>,
    #[serde(flatten)]
    pager: Pager,
    projects: Vec<Link>,
    form: PromptForm,
}

impl Page for PromptsPage {
    const TEMPLATE: &'static str = "prompts.html";
}

async fn list_page(
    state: &AppState,
    visitor: &Visitor,
    page: Option<&str>,
    form: PromptForm,
    errors: Vec<Problem>,
) -> PageResult {
    let request = page_request(page);
    let filter = service::ListFilter {
        ordering: Some("-id".into()),
        ..Default::default()
    };
    let (found, count, located) =
        service::list(&state.db, visitor.caller(), &filter, request).await?;
    let prompts = crate::presenters::prompts::rows(state, found).await?;
    let projects = projects::list(
        &state.db,
        visitor.caller(),
        &projects::ListFilter {
            ordering: Some("-id".into()),
            ..Default::default()
        },
        crate::pagination::PageRequest::nth(1, 200),
    )
    .await?
    .0
    .into_iter()
    .map(|p| Link {
        id: p.id,
        title: p.title,
    })
    .collect();
    let page = PromptsPage {
        prompts,
        pager: Pager::new(located.number, count, "/prompts?"),
        projects,
        form,
    };
    render(Frame::of(visitor, "prompts").with_problems(errors), &page)
}

async fn list(
    state: web::Data<AppState>,
    visitor: Visitor,
    q: web::Query<PageQuery>,
) -> PageResult {
    list_page(
        &state,
        &visitor,
        q.page.as_deref(),
        PromptForm::default(),
        vec![],
    )
    .await
}

async fn create(state: web::Data<AppState>, form: Form<PromptForm>) -> PageResult {
    let caller = form.visitor.manager()?;
    let created = async {
        let project_id = form
            .data
            .project
            .ok_or_else(|| ApiError::field("project", "Choose a project."))?;
        let project = projects::get(&state.db, &caller, project_id).await?;
        let config = projects::config_of(&project);
        let input = PromptInput {
            title: Some(form.data.title.trim().to_string()),
            associated_projects: Some(vec![project.id]),
            input_fields: Some(config.input_fields()),
            output_classes: Some(config.output_classes()),
            ..Default::default()
        };
        service::create(&state.db, &caller, input).await
    }
    .await;
    match created {
        Ok(p) => {
            tracing::info!(prompt = p.id, "prompt created from the web app");
            Ok(redirect(&format!("/prompts/{}?new=1", p.id)))
        }
        Err(e) => {
            let inputs = [
                Input::text(&["title"], "prompt-title", "Title"),
                Input::choice(
                    &["project", "associated_projects"],
                    "prompt-project",
                    "Project",
                ),
            ];
            let errors = problems(e.into(), &inputs)?;
            list_page(&state, &form.visitor, None, form.data, errors).await
        }
    }
}

#[derive(Deserialize)]
struct DetailQuery {
    version: Option<i64>,
    new: Option<String>,
    estimate: Option<String>,
}

/// A run as the prompt page lists it, with its counters (as its own page words them), its
/// project and its tasks in words (what a new run on the same tasks replaces).
#[derive(Serialize)]
struct RunRow {
    #[serde(flatten)]
    run: RunView,
    counters: RunCounters,
    project_title: String,
    tasks: &'static str,
}

/// A run's choice of tasks in words.
fn subset_words(subset: Subset) -> &'static str {
    match subset {
        Subset::HasGT => "the tasks with ground truth",
        Subset::All => "all tasks",
        Subset::Sample => "a sample",
        Subset::Custom => "selected tasks",
    }
}

/// A prompt's page: its versions as tabs, the editor, the runs of the version shown with
/// the run form and a cost estimate, and the registry (status, deployed version, schedules,
/// history).
#[derive(Serialize)]
struct PromptPage<'a> {
    prompt: PromptDetailView,
    /// Its input fields (of its first project).
    fields: Vec<String>,
    versions: &'a [ScoredVersion],
    /// The version shown (none on the new-version tab).
    current: Option<&'a VersionView>,
    editor: Editor,
    default_title: String,
    connections: Vec<ConnectionChoice>,
    runs: Vec<RunRow>,
    estimate: Option<CostEstimateView>,
    /// Tasks per subset of its first project (`HasGT`, `All`).
    subsets: HashMap<&'static str, u64>,
    statuses: Vec<&'static str>,
    schedules: Vec<ScheduleView>,
    /// Its deployment labels, by name.
    labels: Vec<crate::views::registry::LabelView>,
    /// The label form, as it starts or as it was sent.
    label_form: LabelValues,
    /// The run form, as it starts or as it was sent.
    run_form: RunValues,
    /// The registry form, as it starts (the prompt's) or as it was sent.
    registry_form: RegistryValues,
    /// The schedule form, as it starts or as it was sent.
    schedule_form: ScheduleValues,
    /// The next firings of the schedule form's expression, or why it cannot be a schedule.
    schedule_preview: Vec<String>,
    /// The comment as typed, when the form came back.
    comment: String,
    history: Vec<CommentView>,
}

impl Page for PromptPage<'_> {
    const TEMPLATE: &'static str = "prompt.html";
}

/// A connection the editor offers (managers only), with the models to choose from for it.
#[derive(Serialize)]
struct ConnectionChoice {
    id: i64,
    provider: entity::enums::Provider,
    endpoint: Option<String>,
    choices: ModelChoices,
}

/// How the prompt page is shown: which version, whether with the estimate, and when a form
/// comes back, what was sent in it and its problems.
#[derive(Default)]
pub(super) struct DetailOptions {
    /// The version shown (the newest when none).
    pub version: Option<i64>,
    /// The new-version tab.
    pub new: bool,
    /// With the cost estimate of the version shown.
    pub estimate: bool,
    /// What the form that came back was sent with.
    pub sent: Sent,
    /// Its problems.
    pub errors: Vec<Problem>,
}

/// The prompt page (see [`DetailOptions`]).
pub(super) async fn detail_page(
    state: &AppState,
    visitor: &Visitor,
    prompt_id: i64,
    options: DetailOptions,
) -> PageResult {
    let caller = visitor.caller();
    let prompt = service::get(&state.db, caller, prompt_id).await?;
    let prompt_view = crate::presenters::prompts::detail_views(state, vec![prompt])
        .await?
        .pop()
        .ok_or(ApiError::NotFound)?;
    let mut versions_found = versions::list(&state.db, caller, prompt_id, Some("id")).await?;
    versions_found.reverse();
    let scored_versions = crate::presenters::versions::scored(state, versions_found).await?;
    let version_views: Vec<&VersionView> = scored_versions.iter().map(|v| &v.view).collect();
    let current = if options.new {
        None
    } else {
        match options.version {
            Some(id) => Some(
                *version_views
                    .iter()
                    .find(|v| v.id == id)
                    .ok_or(ApiError::NotFound)?,
            ),
            None => version_views.first().copied(),
        }
    };
    let project_ids: Vec<i64> = prompt_view
        .associated_projects
        .iter()
        .map(|p| p.id)
        .collect();
    let first_project = match project_ids.first() {
        Some(id) => Some(projects::get(&state.db, caller, *id).await?),
        None => None,
    };
    let fields = first_project
        .as_ref()
        .map(|p| projects::config_of(p).input_fields())
        .unwrap_or_default();
    let connections: Vec<_> = match visitor.manager() {
        Ok(m) => model_providers::list(&state.db, &m, None)
            .await?
            .into_iter()
            .map(|c| ConnectionChoice {
                choices: crate::presenters::model_providers::model_choices(&c),
                id: c.id,
                provider: c.provider,
                endpoint: c.endpoint,
            })
            .collect(),
        Err(_) => vec![],
    };
    // The editor starts from the version shown, or for a new one from the newest: a save
    // derives from it, so nothing of it is lost.
    let Sent {
        editor,
        run,
        registry,
        schedule,
        label,
        comment,
    } = options.sent;
    let editor = editor.unwrap_or_else(|| match current.or(version_views.first().copied()) {
        Some(v) => Editor::of(v),
        // The first connection, and the first model its test found (else its provider's
        // usual one).
        None => Editor::starter(
            starter_prompt(&fields, &prompt_view.prompt.output_classes),
            connections.first().map(|c| c.id),
            connections
                .first()
                .map(|c| c.choices.default.clone())
                .unwrap_or_default(),
        ),
    });
    let default_title = versions::default_name(&state.db, caller, prompt_id).await?;
    let (runs, estimate, subsets) = match current {
        Some(v) => {
            let found = crate::services::runs::list(
                &state.db,
                caller,
                prompt_id,
                v.id,
                &crate::services::runs::ListFilter {
                    project: None,
                    project_subset: None,
                    ordering: Some("-id".into()),
                },
            )
            .await?;
            let now = chrono::Utc::now();
            let unpriced = state
                .engine
                .prices()
                .price(&v.provider_model_id)
                .is_none()
                .then_some(v.provider_model_id.as_str());
            let runs: Vec<RunRow> = crate::presenters::runs::views(state, prompt_id, found)
                .await?
                .into_iter()
                .map(|run| RunRow {
                    counters: crate::presenters::runs::counters(&run, &[], unpriced, now),
                    project_title: prompt_view
                        .associated_projects
                        .iter()
                        .find(|p| p.id == run.project)
                        .and_then(|p| p.title.clone())
                        .unwrap_or_else(|| format!("project {}", run.project)),
                    tasks: subset_words(run.project_subset),
                    run,
                })
                .collect();
            let estimate = if options.estimate {
                Some(
                    crate::engine::use_cases::estimate(&state.engine, caller, prompt_id, v.id)
                        .await?,
                )
            } else {
                None
            };
            let subsets: HashMap<&str, u64> = match first_project.as_ref() {
                Some(p) => evaluation::subsets(
                    &state.db,
                    caller,
                    p.id,
                    state.engine.config().sample_subset_size,
                )
                .await?
                .0
                .into_iter()
                .map(|s| (s.subset.as_str(), s.count))
                .collect(),
                None => HashMap::new(),
            };
            (runs, estimate, subsets)
        }
        None => (vec![], None, HashMap::new()),
    };
    // The registry: history (newest 20) and schedules.
    let history = crate::presenters::registry::comment_views(
        state,
        crate::services::comments::list(
            &state.db,
            caller,
            prompt_id,
            crate::pagination::PageRequest::nth(1, 20),
        )
        .await?
        .0,
    )
    .await?;
    let schedules = crate::presenters::registry::schedule_views(
        state,
        crate::services::schedules::list(&state.db, caller, prompt_id).await?,
    )
    .await?;
    let labels = crate::presenters::registry::label_views(
        state,
        crate::services::labels::list(&state.db, caller, prompt_id).await?,
    )
    .await?;
    let schedule_form = schedule.unwrap_or_default();
    let schedule_preview = super::registry::preview_lines(
        &schedule_form.cron,
        &schedule_form.timezone,
        state.settings.schedule_min_interval,
    )
    .unwrap_or_else(|message| vec![message]);
    let registry_form = registry.unwrap_or_else(|| RegistryValues::of(&prompt_view));
    let statuses: Vec<&str> = entity::enums::PromptStatus::ALL
        .iter()
        .map(|s| s.as_str())
        .collect();
    let page = PromptPage {
        prompt: prompt_view,
        fields,
        versions: &scored_versions,
        current,
        editor,
        default_title,
        connections,
        runs,
        estimate,
        subsets,
        statuses,
        schedules,
        labels,
        label_form: label.unwrap_or_default(),
        run_form: run.unwrap_or_default(),
        registry_form,
        schedule_form,
        schedule_preview,
        comment: comment.unwrap_or_default(),
        history,
    };
    render(
        Frame::of(visitor, "prompts").with_problems(options.errors),
        &page,
    )
}

/// The prompt a first version starts from: the fields and classes of the project.
fn starter_prompt(fields: &[String], classes: &[String]) -> String {
    let placeholders: Vec<String> = fields.iter().map(|f| format!("{{{f}}}")).collect();
    format!(
        "Classify the following text as one of: {}.\n\n{}",
        classes.join(", "),
        placeholders.join("\n")
    )
}

async fn detail(
    state: web::Data<AppState>,
    visitor: Visitor,
    id: web::Path<i64>,
    q: web::Query<DetailQuery>,
) -> PageResult {
    let options = DetailOptions {
        version: q.version,
        new: q.new.is_some(),
        estimate: q.estimate.is_some(),
        ..Default::default()
    };
    detail_page(&state, &visitor, *id, options).await
}

/// *Save as new version*: a version derived from the one the editor started from, with
/// everything the editor shows; a prompt's first version is created from it.
async fn create_version(
    state: web::Data<AppState>,
    id: web::Path<i64>,
    form: Form<Vec<(String, String)>>,
) -> PageResult {
    let caller = form.visitor.manager()?;
    let editor = Editor::read(&Fields(form.data));
    let created = async {
        let connection_id = editor.connection.ok_or_else(|| {
            ApiError::field(
                "connection",
                "Add a connection first (on the Connections page), then choose it.",
            )
        })?;
        let connection = model_providers::get(&state.db, &caller, connection_id)
            .await
            .map_err(|e| e.not_found_as_field("connection", connection_id))?;
        let title = match non_empty(Some(editor.title.clone())) {
            Some(t) => t,
            None => versions::default_name(&state.db, &caller, *id).await?,
        };
        match editor.source {
            Some(source) => {
                let from = versions::get(&state.db, &caller, *id, source).await?;
                let steps = crate::views::versions::Step::of_stored(from.steps.as_ref());
                let changes = editor.changes(title, connection.provider, steps)?;
                versions::derive(&state.db, &caller, *id, source, changes).await
            }
            None => {
                let input = editor.input(title, connection.provider)?;
                versions::create(&state.db, &caller, *id, input).await
            }
        }
        .map_err(PageError::from)
    }
    .await;
    match created {
        Ok(v) => {
            tracing::info!(
                prompt = *id,
                version = v.id,
                from = editor.source,
                "version saved from the web app"
            );
            Ok(redirect(&format!("/prompts/{}?version={}", *id, v.id)))
        }
        Err(e) => {
            let errors = problems(e, &editor::inputs())?;
            let options = DetailOptions {
                version: editor.source,
                new: editor.source.is_none(),
                sent: Sent {
                    editor: Some(editor),
                    ..Default::default()
                },
                errors,
                ..Default::default()
            };
            detail_page(&state, &form.visitor, *id, options).await
        }
    }
}

async fn delete_version(
    state: web::Data<AppState>,
    path: web::Path<(i64, i64)>,
    form: Form<NoFields>,
) -> PageResult {
    let caller = form.visitor.manager()?;
    let (prompt, version) = path.into_inner();
    match versions::delete(&state.db, &caller, prompt, version).await {
        Ok(()) => Ok(redirect(&format!("/prompts/{prompt}"))),
        Err(e) => {
            let options = DetailOptions {
                version: Some(version),
                errors: problems(e.into(), &[])?,
                ..Default::default()
            };
            detail_page(&state, &form.visitor, prompt, options).await
        }
    }
}

/// Why a version with no connection cannot run, and what to do.
const NO_CONNECTION: &str = "This version has no connection to a provider any more (its \
    connection was deleted), so it cannot run. Add a connection on the Connections page, choose \
    it above and save a new version.";

async fn start_run(
    state: web::Data<AppState>,
    path: web::Path<(i64, i64)>,
    form: Form<RunValues>,
) -> PageResult {
    let caller = form.visitor.manager()?;
    let (prompt, version) = path.into_inner();
    let created = async {
        // A version whose connection was deleted would fail at once: the page offers no Run
        // for it, and a form sent from an older page is refused with the same reason.
        if versions::get(&state.db, &caller, prompt, version)
            .await?
            .model_provider_connection_id
            .is_none()
        {
            return Err(ApiError::field("connection", NO_CONNECTION).into());
        }
        let subset = Subset::parse(&form.data.subset)
            .ok_or_else(|| ApiError::field("subset", "Choose which tasks to run on."))?;
        let sample = match non_empty(Some(form.data.sample_size.clone())) {
            Some(n) => Some(
                n.parse::<i32>()
                    .map_err(|_| ApiError::field("sample_size", "Enter a whole number."))?,
            ),
            None => None,
        };
        let task_ids = match non_empty(Some(form.data.task_ids.clone())) {
            Some(raw) => Some(
                raw.split([',', ' ', '\n'])
                    .filter(|s| !s.trim().is_empty())
                    .map(|s| s.trim().parse::<i64>())
                    .collect::<Result<Vec<i64>, _>>()
                    .map_err(|_| {
                        ApiError::field("task_ids", "Give task ids separated by commas.")
                    })?,
            ),
            None => None,
        };
        let input = RunInput {
            project: form.data.project,
            project_subset: Some(subset),
            only_missing_predictions: None,
            sample_subset_size: sample,
            filters_json: None,
            task_ids: (subset == Subset::Custom).then_some(task_ids).flatten(),
            cache: form.data.fresh.is_some().then_some(false),
            execution: match form.data.execution.as_str() {
                "" | "online" => None,
                other => Some(RunExecution::parse(other).ok_or_else(|| {
                    ApiError::field(
                        "execution",
                        "Choose how to run: now, or as a provider batch.",
                    )
                })?),
            },
        };
        crate::engine::use_cases::start_run(&state.engine, &caller, prompt, version, input, "web")
            .await
            .map_err(PageError::from)
    }
    .await;
    match created {
        Ok(run) => Ok(redirect(&format!("/runs/{}", run.id))),
        Err(e) => {
            let inputs = [
                Input::choice(&["project", "missing_project"], "run-project", "Project"),
                Input::choice(
                    &["subset", "project_subset", "no_ground_truth"],
                    "run-subset",
                    "Tasks",
                ),
                Input::text(
                    &["sample_size", "sample_subset_size"],
                    "run-sample",
                    "Sample size",
                ),
                Input::text(&["task_ids"], "run-tasks", "Task ids"),
                Input::choice(
                    &["execution", "batch_not_supported"],
                    "run-execution",
                    "How",
                ),
            ];
            let errors = problems(e, &inputs)?;
            let options = DetailOptions {
                version: Some(version),
                sent: Sent {
                    run: Some(form.data),
                    ..Default::default()
                },
                errors,
                ..Default::default()
            };
            detail_page(&state, &form.visitor, prompt, options).await
        }
    }
}
