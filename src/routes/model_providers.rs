//! Model provider connections: `/api/model-provider-connections/`, its `{id}/` and
//! `provider-choices` (bare lists, not paginated). Secrets are write-only: no response carries
//! them, only `has_*` flags. Every member reads connections; only an Owner or Administrator
//! creates, changes or deletes one (an [`Admin`]), as in Label Studio Enterprise.
use super::resource;
use crate::auth::{Admin, AuthUser};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::ApiJson;
use crate::llm::Provider;
use crate::presenters::model_providers::views;
use crate::respond::{Created, Json, NoContent};
use crate::services::model_providers as service;
use crate::state::AppState;
use crate::views::model_providers::{
    ConnectionListQuery, ModelProviderConnectionInput, ModelProviderConnectionView,
    ProviderChoicesView,
};
use actix_web::web;
use entity::model_provider_connection as connection;

/// Registers the provider-connection routes (`provider-choices` before `{id}`).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        resource("/api/model-provider-connections/")
            .route(web::get().to(list))
            .route(web::post().to(create)),
    )
    .service(
        resource("/api/model-provider-connections/provider-choices")
            .route(web::get().to(provider_choices)),
    )
    .service(
        resource("/api/model-provider-connections/{id}/")
            .route(web::get().to(get))
            .route(web::patch().to(update))
            .route(web::delete().to(delete)),
    );
}

async fn one_view(
    state: &AppState,
    connection: connection::Model,
) -> ApiResult<ModelProviderConnectionView> {
    views(state, vec![connection])
        .await?
        .pop()
        .ok_or(ApiError::NotFound)
}

/// The caller organization's provider connections, by id; internal ones are hidden. Any
/// member may read them (keys are never shown).
#[utoipa::path(get, path = "/api/model-provider-connections/", tag = "model_providers", params(ConnectionListQuery),
    responses((status = 200, body = Vec<ModelProviderConnectionView>), (status = 401, body = ErrorBody)))]
pub async fn list(
    state: web::Data<AppState>,
    caller: AuthUser,
    query: web::Query<ConnectionListQuery>,
) -> ApiResult<Json<Vec<ModelProviderConnectionView>>> {
    let items = service::list(&state.db, &caller, query.ordering.as_deref()).await?;
    Ok(Json(views(&state, items).await?))
}

/// Creates a provider connection; `api_key`, `auth_token` and `google_application_credentials`
/// are stored encrypted and never returned. Credentials are not checked against the provider.
/// Owner or Administrator only.
#[utoipa::path(post, path = "/api/model-provider-connections/", tag = "model_providers",
    request_body = ModelProviderConnectionInput,
    responses((status = 201, body = ModelProviderConnectionView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn create(
    state: web::Data<AppState>,
    caller: Admin,
    body: ApiJson<ModelProviderConnectionInput>,
) -> ApiResult<Created<ModelProviderConnectionView>> {
    let created = service::create(&state.db, &state.secrets, &caller, body.0).await?;
    Ok(Created(one_view(&state, created).await?))
}

/// The providers a connection can use, as `{"provider_choices": [...]}`.
#[utoipa::path(get, path = "/api/model-provider-connections/provider-choices", tag = "model_providers",
    responses((status = 200, body = ProviderChoicesView), (status = 401, body = ErrorBody)))]
pub async fn provider_choices(_caller: AuthUser) -> ApiResult<Json<ProviderChoicesView>> {
    Ok(Json(ProviderChoicesView {
        provider_choices: Provider::ALL.to_vec(),
    }))
}

/// One provider connection. Any member may read it (keys are never shown).
#[utoipa::path(get, path = "/api/model-provider-connections/{id}/", tag = "model_providers",
    params(("id" = i64, Path, description = "Connection id")),
    responses((status = 200, body = ModelProviderConnectionView), (status = 404, body = ErrorBody)))]
pub async fn get(
    state: web::Data<AppState>,
    caller: AuthUser,
    id: web::Path<i64>,
) -> ApiResult<Json<ModelProviderConnectionView>> {
    let found = service::get(&state.db, &caller, *id).await?;
    Ok(Json(one_view(&state, found).await?))
}

/// Partial update: absent fields are kept, `null` clears a nullable one; a new secret replaces
/// the stored one, `""` or `null` removes it. Owner or Administrator only.
#[utoipa::path(patch, path = "/api/model-provider-connections/{id}/", tag = "model_providers",
    params(("id" = i64, Path, description = "Connection id")),
    request_body = ModelProviderConnectionInput,
    responses((status = 200, body = ModelProviderConnectionView), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn update(
    state: web::Data<AppState>,
    caller: Admin,
    id: web::Path<i64>,
    body: ApiJson<ModelProviderConnectionInput>,
) -> ApiResult<Json<ModelProviderConnectionView>> {
    let updated = service::update(&state.db, &state.secrets, &caller, *id, body.0).await?;
    Ok(Json(one_view(&state, updated).await?))
}

/// Deletes a provider connection; prompt versions that used it keep existing with
/// `model_provider_connection` set to null. Owner or Administrator only.
#[utoipa::path(delete, path = "/api/model-provider-connections/{id}/", tag = "model_providers",
    params(("id" = i64, Path, description = "Connection id")),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete(
    state: web::Data<AppState>,
    caller: Admin,
    id: web::Path<i64>,
) -> ApiResult<NoContent> {
    service::delete(&state.db, &caller, *id).await?;
    Ok(NoContent)
}
