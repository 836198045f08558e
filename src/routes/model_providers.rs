//! Model provider connections: `/api/model-provider-connections/`, its `{id}/` and
//! `provider-choices` (bare lists, not paginated). Secrets are write-only: no response carries
//! them, only `has_*` flags.
use super::resource;
use crate::auth::{AuthUser, Manager};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::ApiJson;
use crate::llm::Provider;
use crate::services::accounts;
use crate::services::model_providers::{self as service, ModelProviderConnectionInput};
use crate::state::AppState;
use crate::views::users::UserSimple;
use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use entity::{model_provider_connection as connection, user};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

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

/// A model provider connection as Label Studio returns it (`ModelProviderConnection`), plus
/// Prompter's `has_*`, `rpm_limit` and `tpm_limit`. The secrets (`api_key`, `auth_token`,
/// `google_application_credentials`) are write-only and never part of it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ModelProviderConnectionView {
    /// Connection id.
    pub id: i64,
    /// The provider.
    #[schema(value_type = Provider)]
    pub provider: String,
    /// `Organization`, `User` or `Model`.
    #[schema(value_type = service::ConnectionScope)]
    pub scope: String,
    /// Deployment name (Azure).
    pub deployment_name: Option<String>,
    /// Endpoint URL (Azure, Custom).
    pub endpoint: Option<String>,
    /// Google Cloud project id (Vertex AI).
    pub google_project_id: Option<String>,
    /// Google Cloud location (Vertex AI).
    pub google_location: Option<String>,
    /// The provider's models, as last listed.
    pub cached_available_models: Option<String>,
    /// Hidden from the connection list.
    pub is_internal: bool,
    /// Spending (USD) at which to alert.
    pub budget_alert_threshold: Option<f64>,
    /// Spending limit (USD) per period; null means unlimited. Runs stop before they would
    /// cross it. Writable in Prompter.
    pub budget_limit: Option<f64>,
    /// Spent so far (USD). Read-only.
    pub budget_total_spent: f64,
    /// `Monthly`, `Yearly` or null: when spending starts over. Writable in Prompter.
    pub budget_reset_period: Option<String>,
    /// When the budget was last reset. Read-only.
    pub budget_last_reset_date: Option<DateTime<Utc>>,
    /// Default model parameters of the versions that use this connection (`{}` when none);
    /// writable in Prompter.
    pub model_params: crate::llm::ModelParams,
    /// Prompter extension: when the spending of the current period crossed
    /// `budget_alert_threshold` (recorded once per period), or null.
    pub budget_alerted_at: Option<DateTime<Utc>>,
    /// Organization id.
    pub organization: i64,
    /// Creator, or null once deleted.
    pub created_by: Option<UserSimple>,
    /// Created at.
    pub created_at: DateTime<Utc>,
    /// Updated at.
    pub updated_at: DateTime<Utc>,
    /// Prompter extension: requests per minute the provider allows, or null.
    pub rpm_limit: Option<i32>,
    /// Prompter extension: tokens per minute the provider allows, or null.
    pub tpm_limit: Option<i64>,
    /// Prompter extension: whether an API key is stored (its value is never returned).
    pub has_api_key: bool,
    /// Prompter extension: whether an auth token is stored (its value is never returned).
    pub has_auth_token: bool,
    /// Prompter extension: whether Google credentials are stored (never returned).
    pub has_google_application_credentials: bool,
}

impl ModelProviderConnectionView {
    /// The view of `c` with its creator; the sealed secrets only show as `has_*` flags.
    pub fn new(c: connection::Model, creator: Option<&user::Model>) -> Self {
        ModelProviderConnectionView {
            id: c.id,
            provider: c.provider,
            scope: c.scope,
            deployment_name: c.deployment_name,
            endpoint: c.endpoint,
            google_project_id: c.google_project_id,
            google_location: c.google_location,
            cached_available_models: c.cached_available_models,
            is_internal: c.is_internal,
            budget_alert_threshold: c.budget_alert_threshold,
            budget_limit: c.budget_limit,
            budget_total_spent: c.budget_total_spent,
            budget_reset_period: c.budget_reset_period,
            budget_last_reset_date: c.budget_last_reset_date,
            model_params: crate::llm::ModelParams::from_stored(c.model_params.as_ref()),
            budget_alerted_at: c.budget_alerted_at,
            organization: c.organization_id,
            created_by: creator.map(UserSimple::from),
            created_at: c.created_at,
            updated_at: c.updated_at,
            rpm_limit: c.rpm_limit,
            tpm_limit: c.tpm_limit,
            has_api_key: c.api_key_enc.is_some(),
            has_auth_token: c.auth_token_enc.is_some(),
            has_google_application_credentials: c.google_application_credentials_enc.is_some(),
        }
    }
}

/// Builds the views of `connections` with their creators.
pub async fn views(
    state: &AppState,
    connections: Vec<connection::Model>,
) -> ApiResult<Vec<ModelProviderConnectionView>> {
    let creators: Vec<i64> = connections.iter().filter_map(|c| c.created_by_id).collect();
    let users = accounts::users_by_id(&state.db, &creators).await?;
    Ok(connections
        .into_iter()
        .map(|c| {
            let creator = c.created_by_id.and_then(|id| users.get(&id));
            ModelProviderConnectionView::new(c, creator)
        })
        .collect())
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

/// Ordering of the connection list.
#[derive(Debug, Deserialize, IntoParams)]
pub struct ConnectionListQuery {
    /// `id`, `created_at` or `provider`, with `-` for descending (default `id`).
    pub ordering: Option<String>,
}

/// The providers a connection can use (`ListModelProviderChoicesResponse`).
#[derive(Debug, Serialize, ToSchema)]
pub struct ProviderChoicesView {
    /// Every provider, in Label Studio's order.
    pub provider_choices: Vec<Provider>,
}

/// The caller organization's provider connections, by id; internal ones are hidden.
/// Owner, Administrator or Manager only.
#[utoipa::path(get, path = "/api/model-provider-connections/", tag = "model_providers", params(ConnectionListQuery),
    responses((status = 200, body = Vec<ModelProviderConnectionView>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list(
    state: web::Data<AppState>,
    caller: Manager,
    query: web::Query<ConnectionListQuery>,
) -> ApiResult<HttpResponse> {
    let items = service::list(&state.db, &caller, query.ordering.as_deref()).await?;
    Ok(HttpResponse::Ok().json(views(&state, items).await?))
}

/// Creates a provider connection; `api_key`, `auth_token` and `google_application_credentials`
/// are stored encrypted and never returned. Credentials are not checked against the provider.
/// Owner, Administrator or Manager only.
#[utoipa::path(post, path = "/api/model-provider-connections/", tag = "model_providers",
    request_body = ModelProviderConnectionInput,
    responses((status = 201, body = ModelProviderConnectionView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn create(
    state: web::Data<AppState>,
    caller: Manager,
    body: ApiJson<ModelProviderConnectionInput>,
) -> ApiResult<HttpResponse> {
    let created = service::create(&state.db, &state.secrets, &caller, body.0).await?;
    Ok(HttpResponse::Created().json(one_view(&state, created).await?))
}

/// The providers a connection can use, as `{"provider_choices": [...]}`.
#[utoipa::path(get, path = "/api/model-provider-connections/provider-choices", tag = "model_providers",
    responses((status = 200, body = ProviderChoicesView), (status = 401, body = ErrorBody)))]
pub async fn provider_choices(_caller: AuthUser) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(ProviderChoicesView {
        provider_choices: Provider::ALL.to_vec(),
    }))
}

/// One provider connection. Owner, Administrator or Manager only.
#[utoipa::path(get, path = "/api/model-provider-connections/{id}/", tag = "model_providers",
    params(("id" = i64, Path, description = "Connection id")),
    responses((status = 200, body = ModelProviderConnectionView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get(
    state: web::Data<AppState>,
    caller: Manager,
    id: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    let found = service::get(&state.db, &caller, *id).await?;
    Ok(HttpResponse::Ok().json(one_view(&state, found).await?))
}

/// Partial update: absent fields are kept, `null` clears a nullable one; a new secret replaces
/// the stored one, `""` or `null` removes it. Owner, Administrator or Manager only.
#[utoipa::path(patch, path = "/api/model-provider-connections/{id}/", tag = "model_providers",
    params(("id" = i64, Path, description = "Connection id")),
    request_body = ModelProviderConnectionInput,
    responses((status = 200, body = ModelProviderConnectionView), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn update(
    state: web::Data<AppState>,
    caller: Manager,
    id: web::Path<i64>,
    body: ApiJson<ModelProviderConnectionInput>,
) -> ApiResult<HttpResponse> {
    let updated = service::update(&state.db, &state.secrets, &caller, *id, body.0).await?;
    Ok(HttpResponse::Ok().json(one_view(&state, updated).await?))
}

/// Deletes a provider connection; prompt versions that used it keep existing with
/// `model_provider_connection` set to null. Owner, Administrator or Manager only.
#[utoipa::path(delete, path = "/api/model-provider-connections/{id}/", tag = "model_providers",
    params(("id" = i64, Path, description = "Connection id")),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete(
    state: web::Data<AppState>,
    caller: Manager,
    id: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    service::delete(&state.db, &caller, *id).await?;
    Ok(HttpResponse::NoContent().finish())
}
