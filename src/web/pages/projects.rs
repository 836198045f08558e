//! Projects: the list, creating one with a label config checked as it is typed (errors point
//! at line and column, likely mistakes are warnings), and browsing tasks with their ground
//! truth and predictions. Importing a file is in [`super::import`].
use super::{Pager, page_request, summary};
use crate::error::{ApiError, ErrorCode};
use crate::services::run_results::labels;
use crate::services::{projects as service, tasks};
use crate::state::AppState;
use crate::views::projects::{ProjectInput, ProjectView};
use crate::web::Visitor;
use crate::web::forms::{Form, ScriptBody};
use crate::web::page::{Frame, Page, PageResult, redirect, render};
use crate::web::problems::{Input, Problem, problems};
use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// The config a new project starts from: sentiment of a text.
const DEFAULT_CONFIG: &str = r#"<View>
  <Text name="text" value="$text"/>
  <Choices name="sentiment" toName="text" choice="single">
    <Choice value="Positive"/>
    <Choice value="Negative"/>
    <Choice value="Neutral"/>
  </Choices>
</View>"#;

/// Registers `/projects`, `/projects/{id}` and the config check (the import is in
/// [`super::import`]).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/projects", web::get().to(list))
        .route("/projects", web::post().to(create))
        .route("/projects/{id}", web::get().to(detail))
        .route("/app/validate-config", web::post().to(validate_config));
}

#[derive(Deserialize)]
struct PageQuery {
    page: Option<String>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
struct ProjectForm {
    #[serde(default)]
    title: String,
    #[serde(default)]
    label_config: String,
}

/// The projects, a page of them, and the new-project form with the config it starts from.
#[derive(Serialize)]
struct ProjectsPage {
    projects: Vec<ProjectView>,
    #[serde(flatten)]
    pager: Pager,
    form: ProjectForm,
    default_config: &'static str,
}

impl Page for ProjectsPage {
    const TEMPLATE: &'static str = "projects.html";
}

async fn list_page(
    state: &AppState,
    visitor: &Visitor,
    page: Option<&str>,
    form: ProjectForm,
    errors: Vec<Problem>,
) -> PageResult {
    let request = page_request(page);
    let filter = service::ListFilter {
        ordering: Some("-id".into()),
        ..Default::default()
    };
    let (found, count, located) =
        service::list(&state.db, visitor.caller(), &filter, request).await?;
    let page = ProjectsPage {
        projects: crate::presenters::projects::views(state, found).await?,
        pager: Pager::new(located.number, count, "/projects?"),
        form,
        default_config: DEFAULT_CONFIG,
    };
    render(Frame::of(visitor, "projects").with_problems(errors), &page)
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
        ProjectForm::default(),
        vec![],
    )
    .await
}

async fn create(state: web::Data<AppState>, form: Form<ProjectForm>) -> PageResult {
    let caller = form.visitor.manager()?;
    let input = ProjectInput {
        title: Some(form.data.title.trim().to_string()),
        label_config: Some(form.data.label_config.clone()),
        ..Default::default()
    };
    match service::create(&state.db, &caller, input).await {
        Ok(p) => {
            tracing::info!(project = p.id, "project created from the web app");
            Ok(redirect(&format!("/projects/{}", p.id)))
        }
        Err(e) => {
            let inputs = [
                Input::text(&["title"], "title", "Title"),
                Input::text(&["label_config"], "label_config", "Label config"),
            ];
            let errors = problems(e.into(), &inputs)?;
            list_page(&state, &form.visitor, None, form.data, errors).await
        }
    }
}

/// A project: its counts, fields and classes, and a page of its tasks.
#[derive(Serialize)]
struct ProjectPage {
    project: ProjectView,
    input_fields: Vec<String>,
    output_classes: Vec<String>,
    /// Likely mistakes in the label config, as "Line 3, column 5: …".
    config_warnings: Vec<String>,
    tasks: Vec<TaskRow>,
    #[serde(flatten)]
    pager: Pager,
}

impl Page for ProjectPage {
    const TEMPLATE: &'static str = "project.html";
}

/// A task as the project's table shows it.
#[derive(Serialize)]
struct TaskRow {
    id: i64,
    text: String,
    ground_truth: Option<String>,
    predictions: Vec<PredictionChip>,
}

/// A prediction of a task: its labels and the version that made it.
#[derive(Serialize)]
struct PredictionChip {
    label: String,
    model_version: String,
}

async fn detail(
    state: web::Data<AppState>,
    visitor: Visitor,
    id: web::Path<i64>,
    q: web::Query<PageQuery>,
) -> PageResult {
    let project = service::get(&state.db, visitor.caller(), *id).await?;
    let config = service::config_of(&project);
    let request = page_request(q.page.as_deref());
    let found = tasks::list(&state.db, visitor.caller(), project.id, false, request).await?;
    let located = request.locate(found.total);
    let details = tasks::with_children(&state.db, found.tasks).await?;
    let rows: Vec<TaskRow> = details
        .into_iter()
        .map(|d| {
            let truth = d
                .annotations
                .iter()
                .filter(|a| a.ground_truth && !a.was_cancelled)
                .max_by_key(|a| a.id)
                .map(|a| labels(&a.result).join(", "));
            TaskRow {
                id: d.task.id,
                text: summary(&d.task.data),
                ground_truth: truth,
                predictions: d
                    .predictions
                    .iter()
                    .rev()
                    .take(4)
                    .map(|p| PredictionChip {
                        label: labels(&p.result).join(", "),
                        model_version: p.model_version.clone(),
                    })
                    .collect(),
            }
        })
        .collect();
    let project_view = crate::presenters::projects::views(&state, vec![project])
        .await?
        .pop()
        .ok_or(ApiError::NotFound)?;
    let page = ProjectPage {
        project: project_view,
        input_fields: config.input_fields(),
        output_classes: config.output_classes(),
        config_warnings: config
            .warnings
            .iter()
            .map(|w| match (w.line, w.column) {
                (Some(line), Some(column)) => {
                    format!("Line {line}, column {column}: {}", w.message)
                }
                _ => w.message.clone(),
            })
            .collect(),
        tasks: rows,
        pager: Pager::new(located.number, found.total, format!("/projects/{}?", *id)),
    };
    render(Frame::of(&visitor, "projects"), &page)
}

#[derive(Deserialize)]
struct ConfigInput {
    label_config: String,
}

async fn validate_config(body: ScriptBody) -> PageResult {
    let input: ConfigInput = serde_json::from_slice(&body.bytes)
        .map_err(|e| ApiError::bad_request(ErrorCode::ParseError, e.to_string()))?;
    Ok(match service::check_config(input.label_config).await {
        Ok(config) => HttpResponse::Ok().json(json!({
            "ok": true, "fields": config.input_fields(), "classes": config.output_classes(),
            "warnings": config.warnings.iter().map(|w| json!({
                "message": w.message, "line": w.line, "column": w.column,
            })).collect::<Vec<_>>(),
        })),
        Err(e) => HttpResponse::Ok().json(json!({
            "ok": false, "message": e.message, "line": e.line, "column": e.column,
        })),
    })
}
