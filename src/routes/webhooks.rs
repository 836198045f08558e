//! Outbound webhooks: `GET, POST /api/webhooks/`, `GET, PATCH, DELETE /api/webhooks/{id}/`,
//! `POST /api/webhooks/{id}/test` and `GET /api/webhooks/{id}/deliveries`. Owners and
//! Administrators only; another organization's ids answer 404.
use super::{page_links, resource};
use crate::auth::Admin;
use crate::error::{ApiResult, ErrorBody};
use crate::extract::ApiJson;
use crate::respond::{Accepted, Created, Json, NoContent};
use crate::services::webhooks::{self as service, events_of};
use crate::state::AppState;
use crate::views::webhooks::{WebhookDeliveryView, WebhookEndpointInput, WebhookEndpointView};
use crate::views::{PageParams, Paginated};
use actix_web::{HttpRequest, web};

/// Registers the webhook routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        resource("/api/webhooks/")
            .route(web::get().to(list))
            .route(web::post().to(create)),
    )
    .service(
        resource("/api/webhooks/{id}/")
            .route(web::get().to(get))
            .route(web::patch().to(update))
            .route(web::delete().to(delete)),
    )
    .service(resource("/api/webhooks/{id}/test").route(web::post().to(test)))
    .service(resource("/api/webhooks/{id}/deliveries").route(web::get().to(deliveries)));
}

fn view(w: entity::webhook::Model) -> WebhookEndpointView {
    let events = events_of(&w);
    WebhookEndpointView::new(w, events)
}

/// The organization's webhook endpoints, oldest first (100 per page by default, at most
/// 1,000). Owner or Administrator only.
#[utoipa::path(get, path = "/api/webhooks/", tag = "webhooks", params(PageParams),
    responses((status = 200, body = Paginated<WebhookEndpointView>), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn list(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: Admin,
    paging: web::Query<PageParams>,
) -> ApiResult<Json<Paginated<WebhookEndpointView>>> {
    let request = paging.resolve(100, 1000)?;
    let (rows, count, page) = service::list(&state.db, &caller, request).await?;
    let (next, previous) = page_links(&req, page, count);
    Ok(Json(Paginated {
        count,
        next,
        previous,
        results: rows.into_iter().map(view).collect(),
    }))
}

/// Creates an endpoint: `url` and `secret` are required, `events` defaults to every event.
/// Each delivery is a `POST` of JSON signed with the secret (see the README's "Webhooks").
/// An organization has at most 50 endpoints. Owner or Administrator only.
#[utoipa::path(post, path = "/api/webhooks/", tag = "webhooks", request_body = WebhookEndpointInput,
    responses((status = 201, body = WebhookEndpointView), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn create(
    state: web::Data<AppState>,
    caller: Admin,
    body: ApiJson<WebhookEndpointInput>,
) -> ApiResult<Created<WebhookEndpointView>> {
    let created = service::create(&state.db, &state.secrets, &caller, body.0).await?;
    Ok(Created(view(created)))
}

/// An endpoint of the organization (its secret is never shown). Owner or Administrator only.
#[utoipa::path(get, path = "/api/webhooks/{id}/", tag = "webhooks",
    params(("id" = i64, Path, description = "Webhook id")),
    responses((status = 200, body = WebhookEndpointView), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get(
    state: web::Data<AppState>,
    caller: Admin,
    id: web::Path<i64>,
) -> ApiResult<Json<WebhookEndpointView>> {
    Ok(Json(view(service::get(&state.db, &caller, *id).await?)))
}

/// Changes an endpoint's `url`, `secret`, `events`, `is_active` or `description` (each
/// optional). A disabled endpoint receives no new event and its pending deliveries fail.
/// Owner or Administrator only.
#[utoipa::path(patch, path = "/api/webhooks/{id}/", tag = "webhooks",
    params(("id" = i64, Path, description = "Webhook id")), request_body = WebhookEndpointInput,
    responses((status = 200, body = WebhookEndpointView), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn update(
    state: web::Data<AppState>,
    caller: Admin,
    id: web::Path<i64>,
    body: ApiJson<WebhookEndpointInput>,
) -> ApiResult<Json<WebhookEndpointView>> {
    let changed = service::update(&state.db, &state.secrets, &caller, *id, body.0).await?;
    Ok(Json(view(changed)))
}

/// Deletes an endpoint and its delivery log; pending deliveries are not sent. Owner or
/// Administrator only.
#[utoipa::path(delete, path = "/api/webhooks/{id}/", tag = "webhooks",
    params(("id" = i64, Path, description = "Webhook id")),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn delete(
    state: web::Data<AppState>,
    caller: Admin,
    id: web::Path<i64>,
) -> ApiResult<NoContent> {
    service::delete(&state.db, &caller, *id).await?;
    Ok(NoContent)
}

/// Sends a `webhook.test` event to the endpoint (active or not) and answers 202 with the
/// queued delivery; its outcome shows in the delivery log. Owner or Administrator only.
#[utoipa::path(post, path = "/api/webhooks/{id}/test", tag = "webhooks",
    params(("id" = i64, Path, description = "Webhook id")),
    responses((status = 202, body = WebhookDeliveryView), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn test(
    state: web::Data<AppState>,
    caller: Admin,
    id: web::Path<i64>,
) -> ApiResult<Accepted<WebhookDeliveryView>> {
    let queued = service::send_test(&state.db, &caller, *id).await?;
    state.engine.wake();
    Ok(Accepted(queued.into()))
}

/// The endpoint's deliveries, newest first (50 per page by default, at most 500): event,
/// delivery id, status, attempts, the last answer's HTTP status and Prompter's reason for a
/// failure (never what the receiver answered). Owner or Administrator only.
#[utoipa::path(get, path = "/api/webhooks/{id}/deliveries", tag = "webhooks",
    params(("id" = i64, Path, description = "Webhook id"), PageParams),
    responses((status = 200, body = Paginated<WebhookDeliveryView>), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn deliveries(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: Admin,
    id: web::Path<i64>,
    paging: web::Query<PageParams>,
) -> ApiResult<Json<Paginated<WebhookDeliveryView>>> {
    let request = paging.resolve(50, 500)?;
    let (rows, count, page) = service::deliveries(&state.db, &caller, *id, request).await?;
    let (next, previous) = page_links(&req, page, count);
    Ok(Json(Paginated {
        count,
        next,
        previous,
        results: rows.into_iter().map(WebhookDeliveryView::from).collect(),
    }))
}
