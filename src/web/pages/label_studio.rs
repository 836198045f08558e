//! Label Studio: each prompt's ML-backend URL to paste into Label Studio, and each project's
//! link to a Label Studio project with sync, push and the outcome of its jobs.
use crate::label_studio as service;
use crate::services::{projects, prompts};
use crate::state::AppState;
use crate::views::label_studio::{LabelStudioLinkView, LinkInput, PushInput, SyncInput};
use crate::web::Visitor;
use crate::web::forms::{Form, NoFields, non_empty};
use crate::web::page::{Frame, Page, PageResult, redirect, render};
use crate::web::pages::Link;
use crate::web::problems::{Input, Problem, problems};
use actix_web::{HttpRequest, web};
use entity::enums::RunStatus;
use entity::model_run;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::{Deserialize, Serialize};

/// Registers `/label-studio` and the link, sync and push forms.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/label-studio", web::get().to(page))
        .route("/projects/{id}/label-studio", web::post().to(link))
        .route("/projects/{id}/label-studio/sync", web::post().to(sync))
        .route("/projects/{id}/label-studio/push", web::post().to(push));
}

/// The Label Studio page: each prompt's ML-backend URL (under `base_url`) and each
/// project's link.
#[derive(Serialize)]
struct LabelStudioPage {
    prompts: Vec<Link>,
    base_url: String,
    projects: Vec<ProjectRow>,
    /// A link form that came back with problems, as it was sent (its token is not shown).
    link_form: Option<LinkForm>,
}

impl Page for LabelStudioPage {
    const TEMPLATE: &'static str = "label_studio.html";
}

/// A project with its link to Label Studio, if any, and the runs it may push.
#[derive(Serialize)]
struct ProjectRow {
    project: Link,
    link: Option<LabelStudioLinkView>,
    runs: Vec<PushChoice>,
}

/// A completed run the push form offers.
#[derive(Serialize)]
struct PushChoice {
    id: i64,
    label: String,
}

async fn page(req: HttpRequest, state: web::Data<AppState>, visitor: Visitor) -> PageResult {
    ls_page(&req, &state, &visitor, None, vec![]).await
}

/// The Label Studio page, with a link form as `sent` and the `errors` of a form.
async fn ls_page(
    req: &HttpRequest,
    state: &AppState,
    visitor: &Visitor,
    sent: Option<LinkForm>,
    errors: Vec<Problem>,
) -> PageResult {
    let caller = visitor.caller();
    let first = crate::pagination::PageRequest::nth(1, 200);
    let (found_prompts, _, _) = prompts::list(
        &state.db,
        caller,
        &prompts::ListFilter {
            ordering: Some("-id".into()),
            ..Default::default()
        },
        first,
    )
    .await?;
    let (found_projects, _, _) = projects::list(
        &state.db,
        caller,
        &projects::ListFilter {
            ordering: Some("-id".into()),
            ..Default::default()
        },
        first,
    )
    .await?;
    let ids: Vec<i64> = found_projects.iter().map(|p| p.id).collect();
    let mut links = service::links_of(&state.db, caller, &ids).await?;
    let mut rows = vec![];
    for p in found_projects {
        let link = match links.remove(&p.id) {
            Some(l) => {
                let counts = service::linked_counts(&state.db, p.id).await?;
                Some(LabelStudioLinkView::new(l, counts))
            }
            None => None,
        };
        let runs: Vec<_> = if link.is_some() {
            model_run::Entity::find()
                .filter(model_run::Column::ProjectId.eq(p.id))
                .filter(model_run::Column::Status.eq(RunStatus::Completed))
                .order_by_desc(model_run::Column::Id)
                .limit(20)
                .all(&state.db)
                .await?
                .into_iter()
                .map(|r| PushChoice {
                    id: r.id,
                    label: format!("{} tasks", r.total_tasks),
                })
                .collect()
        } else {
            vec![]
        };
        rows.push(ProjectRow {
            project: Link {
                id: p.id,
                title: p.title,
            },
            link,
            runs,
        });
    }
    let info = req.connection_info();
    let page = LabelStudioPage {
        prompts: found_prompts
            .into_iter()
            .map(|p| Link {
                id: p.id,
                title: p.title,
            })
            .collect(),
        base_url: format!("{}://{}", info.scheme(), info.host()),
        projects: rows,
        link_form: sent,
    };
    render(
        Frame::of(visitor, "label-studio").with_problems(errors),
        &page,
    )
}

/// A link form's fields, as sent and as shown again (never the token).
#[derive(Debug, Default, Deserialize, Serialize)]
struct LinkForm {
    /// The project it was sent for (from the path).
    #[serde(default)]
    project: i64,
    #[serde(default)]
    url: String,
    #[serde(default, skip_serializing)]
    token: String,
    /// As typed.
    #[serde(default)]
    ls_project: String,
}

async fn link(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    form: Form<LinkForm>,
) -> PageResult {
    let caller = form.visitor.manager()?;
    let linked = async {
        let ls_project = match form.data.ls_project.trim() {
            "" => None,
            n => Some(n.parse::<i64>().map_err(|_| {
                crate::error::ApiError::field(
                    "ls_project",
                    "Enter the number of the project in Label Studio (in its address: /projects/<number>).",
                )
            })?),
        };
        let input = LinkInput {
            url: non_empty(Some(form.data.url.clone())),
            token: non_empty(Some(form.data.token.clone())),
            ls_project,
        };
        service::create(
            &state.db,
            &state.secrets,
            state.engine.http(),
            &caller,
            *id,
            input,
        )
        .await
    }
    .await;
    match linked {
        Ok(_) => Ok(redirect("/label-studio")),
        Err(e) => {
            let p = *id;
            let inputs = [
                Input::text(
                    &["url", "label_studio_unreachable", "label_studio_error"],
                    format!("ls-url-{p}"),
                    "Label Studio URL",
                ),
                Input::text(&["token"], format!("ls-token-{p}"), "Token"),
                Input::text(&["ls_project"], format!("ls-project-{p}"), "Project id"),
            ];
            let mut errors = problems(e.into(), &inputs)?;
            // The token typed is not sent back to the page.
            let token_input = format!("ls-token-{p}");
            if !form.data.token.trim().is_empty()
                && !errors
                    .iter()
                    .any(|e| e.input.as_deref() == Some(&token_input))
            {
                errors.push(Problem::at(
                    token_input,
                    "Token",
                    "Enter the token again: a token is never shown on a page, not even the one just typed.",
                ));
            }
            let sent = LinkForm {
                project: p,
                ..form.data
            };
            ls_page(&req, &state, &form.visitor, Some(sent), errors).await
        }
    }
}

async fn sync(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    form: Form<NoFields>,
) -> PageResult {
    let caller = form.visitor.manager()?;
    match service::start_sync(&state.engine, &caller, *id, SyncInput::default()).await {
        Ok(_) => Ok(redirect("/label-studio")),
        Err(e) => {
            let errors = problems(e.into(), &[])?;
            ls_page(&req, &state, &form.visitor, None, errors).await
        }
    }
}

#[derive(Deserialize)]
struct PushForm {
    run: i64,
}

async fn push(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    form: Form<PushForm>,
) -> PageResult {
    let caller = form.visitor.manager()?;
    let input = PushInput {
        run: Some(form.data.run),
        model_run: None,
    };
    match service::start_push(&state.engine, &caller, *id, input).await {
        Ok(_) => Ok(redirect("/label-studio")),
        Err(e) => {
            let errors = problems(e.into(), &[])?;
            ls_page(&req, &state, &form.visitor, None, errors).await
        }
    }
}
