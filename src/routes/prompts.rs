//! Prompts: `/api/prompts/`, `/api/prompts/{id}/` and `/api/prompts/compatible-projects`.
use super::{page_links, parse_ids, resource};
use crate::auth::{AuthUser, Manager};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::ApiJson;
use crate::label_config::Skill;
use crate::presenters::prompts::{creators, detail_views};
use crate::respond::{Created, Json, NoContent};
use crate::services::projects;
use crate::services::prompts::{self as service, ListFilter};
use crate::state::AppState;
use crate::views::projects::ProjectView;
use crate::views::prompts::PromptInput;
use crate::views::prompts::{CompatibleQuery, PromptDetailView, PromptListQuery, PromptView};
use crate::views::{PageParams, Paginated};
use actix_web::{HttpRequest, web};
use entity::enums::PromptStatus;
use entity::model_interface;

/// Registers the prompt routes (compatible-projects before `{id}`).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        resource("/api/prompts/")
            .route(web::get().to(list))
            .route(web::post().to(create)),
    )
    .service(resource("/api/prompts/compatible-projects").route(web::get().to(compatible_projects)))
    .service(
        resource("/api/prompts/{id}/")
            .route(web::get().to(get))
            .route(web::patch().to(update))
            .route(web::delete().to(delete)),
    );
}

async fn plain_view(state: &AppState, prompt: model_interface::Model) -> ApiResult<PromptView> {
    let mut prompts = [prompt];
    service::forget_deleted_deployed(&state.db, &mut prompts).await?;
    let [prompt] = prompts;
    let projects = service::associations(&state.db, &[prompt.id])
        .await?
        .remove(&prompt.id)
        .unwrap_or_default();
    let users = creators(state, std::iter::once(prompt.created_by_id)).await?;
    let creator = prompt.created_by_id.and_then(|id| users.get(&id).cloned());
    Ok(PromptView::new(prompt, projects, creator))
}

/// The caller organization's prompts, paginated (100 per page by default), filtered by tags,
/// domain and status (archived ones are left out unless asked for) and searched by text.
#[utoipa::path(get, path = "/api/prompts/", tag = "prompts", params(PageParams, PromptListQuery),
    responses((status = 200, body = Paginated<PromptDetailView>), (status = 401, body = ErrorBody)))]
pub async fn list(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: AuthUser,
    paging: web::Query<PageParams>,
    query: web::Query<PromptListQuery>,
) -> ApiResult<Json<Paginated<PromptDetailView>>> {
    let request = paging.resolve(100, 1000)?;
    let query = query.into_inner();
    let status = match query
        .status
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        None => None,
        Some(raw) => Some(PromptStatus::parse(raw).ok_or_else(|| {
            ApiError::field(
                "status",
                format!("\"{raw}\" is not a valid choice: draft, deployed, paused or archived."),
            )
        })?),
    };
    let filter = ListFilter {
        search: query.search,
        ordering: query.ordering,
        tags: service::parse_tags(query.tags.as_deref().unwrap_or("")),
        domain: query.domain.filter(|d| !d.trim().is_empty()),
        status,
    };
    let (items, count, page) = service::list(&state.db, &caller, &filter, request).await?;
    let (next, previous) = page_links(&req, page, count);
    let results = detail_views(&state, items).await?;
    Ok(Json(Paginated {
        count,
        next,
        previous,
        results,
    }))
}

/// Creates a prompt. Input fields and output classes are checked against each associated
/// project's label config.
#[utoipa::path(post, path = "/api/prompts/", tag = "prompts", request_body = PromptInput,
    responses((status = 201, body = PromptView), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn create(
    state: web::Data<AppState>,
    caller: Manager,
    body: ApiJson<PromptInput>,
) -> ApiResult<Created<PromptView>> {
    let created = service::create(&state.db, &caller, body.0).await?;
    Ok(Created(plain_view(&state, created).await?))
}

/// One prompt, with projects, counts and best score.
#[utoipa::path(get, path = "/api/prompts/{id}/", tag = "prompts", params(("id" = i64, Path, description = "Prompt id")),
    responses((status = 200, body = PromptDetailView), (status = 404, body = ErrorBody)))]
pub async fn get(
    state: web::Data<AppState>,
    caller: AuthUser,
    id: web::Path<i64>,
) -> ApiResult<Json<PromptDetailView>> {
    let found = service::get(&state.db, &caller, *id).await?;
    let view = detail_views(&state, vec![found])
        .await?
        .pop()
        .ok_or(ApiError::NotFound)?;
    Ok(Json(view))
}

/// Partial update; `associated_projects` replaces the set. `deployed_version` (a Prompter
/// extension) must be a version of this prompt, or `null` (the newest version answers).
#[utoipa::path(patch, path = "/api/prompts/{id}/", tag = "prompts", params(("id" = i64, Path, description = "Prompt id")),
    request_body = PromptInput,
    responses((status = 200, body = PromptView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn update(
    state: web::Data<AppState>,
    caller: Manager,
    id: web::Path<i64>,
    body: ApiJson<PromptInput>,
) -> ApiResult<Json<PromptView>> {
    let updated = service::update(&state.db, &caller, *id, body.0).await?;
    Ok(Json(plain_view(&state, updated).await?))
}

/// Deletes a prompt with its versions, runs and their predictions.
#[utoipa::path(delete, path = "/api/prompts/{id}/", tag = "prompts", params(("id" = i64, Path, description = "Prompt id")),
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn delete(
    state: web::Data<AppState>,
    caller: Manager,
    id: web::Path<i64>,
) -> ApiResult<NoContent> {
    service::delete(&state.db, &caller, *id).await?;
    Ok(NoContent)
}

/// Projects a prompt of `project_type` can run on: a Choices (or Labels) control over a Text
/// or HyperText object, and no control of the other kind.
#[utoipa::path(get, path = "/api/prompts/compatible-projects", tag = "prompts", params(PageParams, CompatibleQuery),
    responses((status = 200, body = Paginated<ProjectView>), (status = 400, body = ErrorBody)))]
pub async fn compatible_projects(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: AuthUser,
    paging: web::Query<PageParams>,
    query: web::Query<CompatibleQuery>,
) -> ApiResult<Json<Paginated<ProjectView>>> {
    let request = paging.resolve(100, 1000)?;
    let skill = match query.project_type.as_deref() {
        None => Skill::TextClassification,
        Some(raw) => Skill::parse(raw)
            .ok_or_else(|| ApiError::field("project_type", Skill::invalid_choice(raw)))?,
    };
    let filter = projects::ListFilter {
        title: query.title.clone().filter(|t| !t.is_empty()),
        search: None,
        ids: query
            .ids
            .as_deref()
            .map(|raw| parse_ids("ids", raw))
            .transpose()?
            .flatten(),
        ordering: query.ordering.clone(),
    };
    let ids = projects::compatible_ids(&state.db, &caller, &filter, skill).await?;
    let count = ids.len() as u64;
    let page = request.locate(count);
    let page_ids: Vec<i64> = ids
        .into_iter()
        .skip(usize::try_from(page.offset).unwrap_or(usize::MAX))
        .take(usize::try_from(page.size).unwrap_or(usize::MAX))
        .collect();
    let items = projects::by_ids_in_order(&state.db, &page_ids).await?;
    let (next, previous) = page_links(&req, page, count);
    let results = crate::presenters::projects::views(&state, items).await?;
    Ok(Json(Paginated {
        count,
        next,
        previous,
        results,
    }))
}
