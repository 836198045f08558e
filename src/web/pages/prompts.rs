//! Prompts: the list (projects, versions, best score, runs, cost), creating one from a project
//! (input fields and classes filled in from its label config), and a prompt's page: version
//! tabs, the editor (placeholders checked against the project's fields), saving a new
//! version, the cost estimate, starting a run and its live progress.
use super::{page_request, pages};
use crate::error::ApiError;
use crate::llm::ModelParams;
use crate::services::{evaluation, model_providers, projects, prompts as service, versions};
use crate::state::AppState;
use crate::views::prompts::PromptInput;
use crate::views::runs::{RunInput, RunView};
use crate::views::versions::VersionInput;
use crate::web::forms::{Form, NoFields, non_empty};
use crate::web::page::{PageResult, form_errors, redirect, render};
use crate::web::{PageError, Visitor};
use actix_web::web;
use entity::enums::Subset;
use minijinja::context;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

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
    #[serde(default)]
    project: Option<i64>,
}

async fn list_page(
    state: &AppState,
    visitor: &Visitor,
    page: Option<&str>,
    form: PromptForm,
    errors: Vec<String>,
) -> PageResult {
    let request = page_request(page);
    let filter = service::ListFilter {
        ordering: Some("-id".into()),
        ..Default::default()
    };
    let (found, count, located) =
        service::list(&state.db, visitor.caller(), &filter, request).await?;
    let ids: Vec<i64> = found.iter().map(|p| p.id).collect();
    let costs: HashMap<String, f64> = service::stats(&state.db, &ids)
        .await?
        .into_iter()
        .map(|(id, s)| (id.to_string(), s.total_cost))
        .collect();
    let prompts = crate::routes::prompts::detail_views(state, found).await?;
    let all_projects = projects::list(
        &state.db,
        visitor.caller(),
        &projects::ListFilter {
            ordering: Some("-id".into()),
            ..Default::default()
        },
        crate::pagination::PageRequest::nth(1, 200),
    )
    .await?
    .0;
    let projects: Vec<_> = all_projects
        .iter()
        .map(|p| context! { id => p.id, title => p.title.clone() })
        .collect();
    render(
        visitor,
        "prompts",
        "prompts.html",
        context! { prompts, costs, projects, form, errors,
        page => located.number, pages => pages(count), page_base => "/prompts?" },
    )
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
            let errors = form_errors(e.into())?;
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

/// What the version editor shows.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Editor {
    #[serde(default)]
    prompt: String,
    #[serde(default)]
    connection: Option<i64>,
    #[serde(default)]
    model: String,
    #[serde(default)]
    temperature: Option<String>,
    #[serde(default)]
    max_tokens: Option<String>,
    #[serde(default)]
    title: Option<String>,
}

/// A run as the prompt page lists it.
#[derive(Serialize)]
struct RunRow {
    #[serde(flatten)]
    run: RunView,
    accuracy: Option<f64>,
}

struct DetailOptions {
    version: Option<i64>,
    new: bool,
    estimate: bool,
    editor: Option<Editor>,
    errors: Vec<String>,
}

async fn detail_page(
    state: &AppState,
    visitor: &Visitor,
    prompt_id: i64,
    options: DetailOptions,
) -> PageResult {
    let caller = visitor.caller();
    let prompt = service::get(&state.db, caller, prompt_id).await?;
    let prompt_view = crate::routes::prompts::detail_views(state, vec![prompt])
        .await?
        .pop()
        .ok_or(ApiError::NotFound)?;
    let mut versions_found = versions::list(&state.db, caller, prompt_id, Some("id")).await?;
    versions_found.reverse();
    let version_views = crate::routes::versions::views(state, versions_found).await?;
    let current = if options.new {
        None
    } else {
        match options.version {
            Some(id) => Some(
                version_views
                    .iter()
                    .find(|v| v.id == id)
                    .ok_or(ApiError::NotFound)?,
            ),
            None => version_views.first(),
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
            .map(|c| context! { id => c.id, provider => c.provider, endpoint => c.endpoint })
            .collect(),
        Err(_) => vec![],
    };
    let editor = options.editor.unwrap_or_else(|| match current {
        Some(v) => Editor {
            prompt: v.prompt.clone(),
            connection: v.model_provider_connection,
            model: v.provider_model_id.clone(),
            temperature: v.model_params.temperature.map(|t| t.to_string()),
            max_tokens: v.model_params.max_tokens.map(|t| t.to_string()),
            title: None,
        },
        None => Editor {
            prompt: version_views
                .first()
                .map(|v| v.prompt.clone())
                .unwrap_or_else(|| starter_prompt(&fields, &prompt_view.prompt.output_classes)),
            connection: version_views
                .first()
                .and_then(|v| v.model_provider_connection),
            model: version_views
                .first()
                .map(|v| v.provider_model_id.clone())
                .unwrap_or_else(|| "gpt-4o-mini".into()),
            ..Default::default()
        },
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
            let runs: Vec<RunRow> = crate::routes::runs::views(state, prompt_id, found)
                .await?
                .into_iter()
                .map(|run| RunRow {
                    accuracy: super::run_accuracy(&run),
                    run,
                })
                .collect();
            let estimate = if options.estimate {
                let sizes = crate::engine::images::ImageResolver::for_prompt(
                    &state.engine,
                    &state.db,
                    caller,
                    prompt_id,
                )
                .await?;
                Some(
                    crate::services::costs::estimate(
                        &state.db,
                        caller,
                        prompt_id,
                        v.id,
                        &state.settings.prices,
                        &sizes,
                    )
                    .await?,
                )
            } else {
                None
            };
            let subsets: HashMap<&str, u64> = match first_project.as_ref() {
                Some(p) => {
                    evaluation::subsets(&state.db, caller, p.id, state.settings.sample_subset_size)
                        .await?
                        .0
                        .into_iter()
                        .map(|s| (s.subset.as_str(), s.count))
                        .collect()
                }
                None => HashMap::new(),
            };
            (runs, estimate, subsets)
        }
        None => (vec![], None, HashMap::new()),
    };
    // The registry: history (newest 20) and schedules.
    let history = crate::routes::registry::comment_views(
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
    let schedules = crate::routes::registry::schedule_views(
        state,
        crate::services::schedules::list(&state.db, caller, prompt_id).await?,
    )
    .await?;
    let statuses: Vec<&str> = entity::enums::PromptStatus::ALL
        .iter()
        .map(|s| s.as_str())
        .collect();
    render(
        visitor,
        "prompts",
        "prompt.html",
        context! {
            prompt => prompt_view, versions => &version_views, current,
            fields, connections, editor, default_title, runs, estimate, subsets,
            errors => options.errors, history, schedules, statuses,
        },
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
        editor: None,
        errors: vec![],
    };
    detail_page(&state, &visitor, *id, options).await
}

fn params(editor: &Editor) -> Result<ModelParams, PageError> {
    let temperature = match non_empty(editor.temperature.clone()) {
        Some(t) => Some(
            t.parse::<f64>()
                .map_err(|_| ApiError::field("temperature", "Enter a number from 0 to 2."))?,
        ),
        None => None,
    };
    let max_tokens = match non_empty(editor.max_tokens.clone()) {
        Some(t) => Some(
            t.parse::<u32>()
                .map_err(|_| ApiError::field("max_tokens", "Enter a whole number."))?,
        ),
        None => None,
    };
    Ok(ModelParams {
        temperature,
        max_tokens,
        ..Default::default()
    })
}

async fn create_version(
    state: web::Data<AppState>,
    id: web::Path<i64>,
    form: Form<Editor>,
) -> PageResult {
    let caller = form.visitor.manager()?;
    let created = async {
        let connection_id = form.data.connection.ok_or_else(|| {
            ApiError::field("connection", "Add a connection first, then choose it.")
        })?;
        let connection = model_providers::get(&state.db, &caller, connection_id)
            .await
            .map_err(|e| e.not_found_as_field("connection", connection_id))?;
        let model_params = params(&form.data)?;
        let title = match non_empty(form.data.title.clone()) {
            Some(t) => t,
            None => versions::default_name(&state.db, &caller, *id).await?,
        };
        let input = VersionInput {
            title: Some(title),
            prompt: Some(form.data.prompt.clone()),
            provider_model_id: Some(form.data.model.trim().to_string()),
            provider: Some(connection.provider),
            model_provider_connection: Some(Some(connection.id)),
            model_params: (model_params != ModelParams::default()).then_some(Some(model_params)),
            ..Default::default()
        };
        versions::create(&state.db, &caller, *id, input)
            .await
            .map_err(PageError::from)
    }
    .await;
    match created {
        Ok(v) => {
            tracing::info!(
                prompt = *id,
                version = v.id,
                "version created from the web app"
            );
            Ok(redirect(&format!("/prompts/{}?version={}", *id, v.id)))
        }
        Err(e) => {
            let errors = form_errors(e)?;
            let options = DetailOptions {
                version: None,
                new: true,
                estimate: false,
                editor: Some(form.data),
                errors,
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
    versions::delete(&state.db, &caller, prompt, version).await?;
    Ok(redirect(&format!("/prompts/{prompt}")))
}

#[derive(Deserialize)]
struct RunForm {
    project: Option<i64>,
    #[serde(default)]
    subset: String,
    #[serde(default)]
    sample_size: Option<String>,
    #[serde(default)]
    task_ids: Option<String>,
}

async fn start_run(
    state: web::Data<AppState>,
    path: web::Path<(i64, i64)>,
    form: Form<RunForm>,
) -> PageResult {
    let caller = form.visitor.manager()?;
    let (prompt, version) = path.into_inner();
    let created = async {
        let subset = Subset::parse(&form.data.subset)
            .ok_or_else(|| ApiError::field("subset", "Choose which tasks to run on."))?;
        let sample = match non_empty(form.data.sample_size.clone()) {
            Some(n) => Some(
                n.parse::<i32>()
                    .map_err(|_| ApiError::field("sample_size", "Enter a whole number."))?,
            ),
            None => None,
        };
        let task_ids = match non_empty(form.data.task_ids.clone()) {
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
        };
        crate::services::runs::create(
            &state.db,
            &caller,
            prompt,
            version,
            input,
            state.settings.sample_subset_size,
        )
        .await
        .map_err(PageError::from)
    }
    .await;
    match created {
        Ok(run) => {
            tracing::info!(run = run.id, tasks = run.total_tasks, subset = %run.project_subset, "run started from the web app");
            state.engine.wake();
            Ok(redirect(&format!("/runs/{}", run.id)))
        }
        Err(e) => {
            let errors = form_errors(e)?;
            let options = DetailOptions {
                version: Some(version),
                new: false,
                estimate: false,
                editor: None,
                errors,
            };
            detail_page(&state, &form.visitor, prompt, options).await
        }
    }
}
