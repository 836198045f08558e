//! The organization and its members, on Label Studio Enterprise's paths:
//! `/api/organizations/{id}` and `/api/organizations/{id}/memberships[/{user_id}]`. Members are
//! managed by Owners and Administrators; another organization's id answers 404.
use super::{page_links, resource};
use crate::auth::{Admin, AuthUser};
use crate::error::{ApiResult, ErrorBody};
use crate::extract::ApiJson;
use crate::respond::{Created, Json, NoContent};
use crate::services::members as service;
use crate::state::AppState;
use crate::views::members::{MemberInput, MemberUpdate, MemberView, OrganizationView};
use crate::views::{PageParams, Paginated};
use actix_web::{HttpRequest, web};

/// Registers the organization and membership routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/api/organizations/{id}").route(web::get().to(get_organization)))
        .service(
            resource("/api/organizations/{id}/memberships")
                .route(web::get().to(list))
                .route(web::post().to(add)),
        )
        .service(
            resource("/api/organizations/{id}/memberships/{user_id}")
                .route(web::patch().to(update))
                .route(web::delete().to(deactivate)),
        );
}

/// The caller's organization (any member may read it); another id answers 404.
#[utoipa::path(get, path = "/api/organizations/{id}", tag = "organizations",
    params(("id" = i64, Path, description = "Organization id")),
    responses((status = 200, body = OrganizationView), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get_organization(
    state: web::Data<AppState>,
    caller: AuthUser,
    id: web::Path<i64>,
) -> ApiResult<Json<OrganizationView>> {
    let found = service::organization(&state.db, &caller, *id).await?;
    Ok(Json(found.into()))
}

/// The organization's members, active and deactivated, oldest first (100 per page by
/// default, at most 1,000). Owner or Administrator only.
#[utoipa::path(get, path = "/api/organizations/{id}/memberships", tag = "organizations",
    params(("id" = i64, Path, description = "Organization id"), PageParams),
    responses((status = 200, body = Paginated<MemberView>), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn list(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: Admin,
    id: web::Path<i64>,
    paging: web::Query<PageParams>,
) -> ApiResult<Json<Paginated<MemberView>>> {
    let request = paging.resolve(100, 1000)?;
    let (members, count, page) = service::list(&state.db, &caller, *id, request).await?;
    let (next, previous) = page_links(&req, page, count);
    let results = members
        .into_iter()
        .map(|(m, u)| MemberView::new(m, &u))
        .collect();
    Ok(Json(Paginated {
        count,
        next,
        previous,
        results,
    }))
}

/// Adds a member by email. A user with that email joins the organization; for an unknown
/// email a user is created **without a password or API token**: `can_sign_in` is false until
/// an operator runs `prompter admin set-password --email <email>` (and `create-token` for API
/// access). `role` defaults to `Annotator`; only an Owner may add an Owner (403). Someone who
/// is already a member, active or not, is a 400 on `email`. Owner or Administrator only.
#[utoipa::path(post, path = "/api/organizations/{id}/memberships", tag = "organizations",
    params(("id" = i64, Path, description = "Organization id")), request_body = MemberInput,
    responses((status = 201, body = MemberView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn add(
    state: web::Data<AppState>,
    caller: Admin,
    id: web::Path<i64>,
    body: ApiJson<MemberInput>,
) -> ApiResult<Created<MemberView>> {
    let (m, u, _) = service::add(&state.db, &state.auth_cache, &caller, *id, body.0).await?;
    Ok(Created(MemberView::new(m, &u)))
}

/// Changes a member's `role` and/or `active` flag (`active: true` reactivates a deactivated
/// member). Only an Owner may make or unmake an Owner (403); a change that would leave the
/// organization without an active Owner is a 400 with code `last_owner`. It holds from the
/// next request on. Owner or Administrator only.
#[utoipa::path(patch, path = "/api/organizations/{id}/memberships/{user_id}", tag = "organizations",
    params(("id" = i64, Path, description = "Organization id"), ("user_id" = i64, Path, description = "User id")),
    request_body = MemberUpdate,
    responses((status = 200, body = MemberView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn update(
    state: web::Data<AppState>,
    caller: Admin,
    path: web::Path<(i64, i64)>,
    body: ApiJson<MemberUpdate>,
) -> ApiResult<Json<MemberView>> {
    let (id, user_id) = path.into_inner();
    let (m, u) =
        service::update(&state.db, &state.auth_cache, &caller, id, user_id, body.0).await?;
    Ok(Json(MemberView::new(m, &u)))
}

/// Deactivates a member: their tokens and web sessions stop working in this organization at
/// once; the user and what they made stay, and `PATCH` with `active: true` reactivates them.
/// The last active Owner cannot be deactivated (400 `last_owner`); only an Owner may
/// deactivate an Owner. Owner or Administrator only.
#[utoipa::path(delete, path = "/api/organizations/{id}/memberships/{user_id}", tag = "organizations",
    params(("id" = i64, Path, description = "Organization id"), ("user_id" = i64, Path, description = "User id")),
    responses((status = 204), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn deactivate(
    state: web::Data<AppState>,
    caller: Admin,
    path: web::Path<(i64, i64)>,
) -> ApiResult<NoContent> {
    let (id, user_id) = path.into_inner();
    service::deactivate(&state.db, &state.auth_cache, &caller, id, user_id).await?;
    Ok(NoContent)
}
