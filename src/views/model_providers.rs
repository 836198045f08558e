//! Model provider connections: the connection view (secrets only as `has_*` flags), the
//! writable fields (secrets write-only), list ordering and the provider choices.
use super::users::UserSimple;
use crate::llm::{ModelParams, Provider};
use chrono::{DateTime, Utc};
use entity::enums::{BudgetResetPeriod, ConnectionScope};
use entity::{model_provider_connection as connection, user};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// A model provider connection as Label Studio returns it (`ModelProviderConnection`), plus
/// Prompter's `has_*`, `rpm_limit` and `tpm_limit`. The secrets (`api_key`, `auth_token`,
/// `google_application_credentials`) are write-only and never part of it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ModelProviderConnectionView {
    /// Connection id.
    pub id: i64,
    /// The provider.
    pub provider: Provider,
    /// `Organization`, `User` or `Model`.
    pub scope: ConnectionScope,
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
    pub budget_reset_period: Option<BudgetResetPeriod>,
    /// When the budget was last reset. Read-only.
    pub budget_last_reset_date: Option<DateTime<Utc>>,
    /// Default model parameters of the versions that use this connection (`{}` when none);
    /// writable in Prompter.
    pub model_params: ModelParams,
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
            model_params: ModelParams::from_stored(c.model_params.as_ref()),
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

/// Ordering of the connection list.
#[derive(Debug, Deserialize, IntoParams)]
pub struct ConnectionListQuery {
    /// `id`, `created_at` or `provider`, with `-` for descending (default `id`).
    pub ordering: Option<String>,
}

/// The providers a connection can use (`ListModelProviderChoicesResponse`).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ProviderChoicesView {
    /// Every provider, in Label Studio's order.
    pub provider_choices: Vec<Provider>,
}

/// Writable fields of a provider connection, for create and PATCH; every one is optional.
/// On PATCH an absent field is left as is; `null` clears a nullable field (and is ignored on
/// `provider`, `scope` and `is_internal`). Read-only keys the SDK may send (`organization`,
/// `created_by`, `budget_total_spent`, `budget_last_reset_date`) and unknown keys are ignored.
#[derive(Default, Deserialize, ToSchema)]
#[schema(example = json!({"provider": "OpenAI", "api_key": "sk-...", "budget_limit": 50.0}))]
pub struct ModelProviderConnectionInput {
    /// The provider; `OpenAI` by default.
    pub provider: Option<Provider>,
    /// API key. Write-only: stored encrypted, never returned (see `has_api_key`). An empty
    /// string or `null` removes it.
    #[serde(default, deserialize_with = "crate::util::double_option")]
    #[schema(value_type = Option<String>, write_only)]
    pub api_key: Option<Option<String>>,
    /// Auth token. Write-only: stored encrypted, never returned (see `has_auth_token`). An
    /// empty string or `null` removes it.
    #[serde(default, deserialize_with = "crate::util::double_option")]
    #[schema(value_type = Option<String>, write_only)]
    pub auth_token: Option<Option<String>>,
    /// Google service-account credentials (JSON text), for Vertex AI. Write-only: stored
    /// encrypted, never returned (see `has_google_application_credentials`). An empty string or
    /// `null` removes them.
    #[serde(default, deserialize_with = "crate::util::double_option")]
    #[schema(value_type = Option<String>, write_only)]
    pub google_application_credentials: Option<Option<String>>,
    /// Deployment name (Azure), at most 512 characters. An empty string or `null` clears it.
    #[serde(default, deserialize_with = "crate::util::double_option")]
    #[schema(value_type = Option<String>)]
    pub deployment_name: Option<Option<String>>,
    /// Endpoint URL, at most 512 characters; for `Custom` and `AzureOpenAI` it must be an
    /// `http(s)://` URL. An empty string or `null` clears it.
    #[serde(default, deserialize_with = "crate::util::double_option")]
    #[schema(value_type = Option<String>)]
    pub endpoint: Option<Option<String>>,
    /// Google Cloud project id (Vertex AI), at most 255 characters. An empty string or `null`
    /// clears it.
    #[serde(default, deserialize_with = "crate::util::double_option")]
    #[schema(value_type = Option<String>)]
    pub google_project_id: Option<Option<String>>,
    /// Google Cloud location (Vertex AI), at most 255 characters. An empty string or `null`
    /// clears it.
    #[serde(default, deserialize_with = "crate::util::double_option")]
    #[schema(value_type = Option<String>)]
    pub google_location: Option<Option<String>>,
    /// The provider's models, as last listed, at most 4096 characters. An empty string or
    /// `null` clears it.
    #[serde(default, deserialize_with = "crate::util::double_option")]
    #[schema(value_type = Option<String>)]
    pub cached_available_models: Option<Option<String>>,
    /// Who the connection is for; `Organization` by default.
    pub scope: Option<ConnectionScope>,
    /// Hidden from the connection list (internal connections); false by default.
    pub is_internal: Option<bool>,
    /// Spending (USD) at which to alert; at least 0. `null` clears it.
    #[serde(default, deserialize_with = "crate::util::double_option")]
    #[schema(value_type = Option<f64>)]
    pub budget_alert_threshold: Option<Option<f64>>,
    /// Prompter extension (read-only in Label Studio): spending limit (USD) per period; runs
    /// stop before they would cross it. At least 0; `null` means unlimited.
    #[serde(default, deserialize_with = "crate::util::double_option")]
    #[schema(value_type = Option<f64>)]
    pub budget_limit: Option<Option<f64>>,
    /// Prompter extension (read-only in Label Studio): `Monthly` or `Yearly` starts the
    /// spending over each period; `null` never does.
    #[serde(default, deserialize_with = "crate::util::double_option")]
    #[schema(value_type = Option<BudgetResetPeriod>)]
    pub budget_reset_period: Option<Option<BudgetResetPeriod>>,
    /// Prompter extension: default model parameters of the versions that use this connection
    /// (a version's own win key by key). `null` clears them.
    #[serde(default, deserialize_with = "crate::util::double_option")]
    #[schema(value_type = Option<ModelParams>)]
    pub model_params: Option<Option<ModelParams>>,
    /// Prompter extension: requests per minute the provider allows this connection (at
    /// least 1); runs pace themselves to it. `null` means no limit.
    #[serde(default, deserialize_with = "crate::util::double_option")]
    #[schema(value_type = Option<i32>, minimum = 1)]
    pub rpm_limit: Option<Option<i32>>,
    /// Prompter extension: tokens per minute the provider allows this connection (at least
    /// 1); runs pace themselves to it. `null` means no limit.
    #[serde(default, deserialize_with = "crate::util::double_option")]
    #[schema(value_type = Option<i64>, minimum = 1)]
    pub tpm_limit: Option<Option<i64>>,
}

impl std::fmt::Debug for ModelProviderConnectionInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModelProviderConnectionInput")
            .field("provider", &self.provider)
            .field("api_key", &redacted(&self.api_key))
            .field("auth_token", &redacted(&self.auth_token))
            .field(
                "google_application_credentials",
                &redacted(&self.google_application_credentials),
            )
            .field("deployment_name", &self.deployment_name)
            .field("endpoint", &self.endpoint)
            .field("google_project_id", &self.google_project_id)
            .field("google_location", &self.google_location)
            .field("cached_available_models", &self.cached_available_models)
            .field("scope", &self.scope)
            .field("is_internal", &self.is_internal)
            .field("budget_alert_threshold", &self.budget_alert_threshold)
            .field("rpm_limit", &self.rpm_limit)
            .field("tpm_limit", &self.tpm_limit)
            .finish()
    }
}

/// How a write-only value appears in `Debug` output: never its text.
fn redacted<T>(value: &Option<Option<T>>) -> &'static str {
    match value {
        None => "absent",
        Some(None) => "null",
        Some(Some(_)) => "<redacted>",
    }
}
