//! A connection to an LLM provider, with its credentials encrypted at rest.
use sea_orm::entity::prelude::*;

/// A provider-connection row. The `*_enc` columns hold sealed secrets (nonce + ciphertext,
/// base64); they are never returned by the API and never logged.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "model_provider_connections")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub organization_id: i64,
    pub provider: crate::enums::Provider,
    pub scope: crate::enums::ConnectionScope,
    #[sea_orm(column_type = "Text", nullable)]
    pub api_key_enc: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub auth_token_enc: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub google_application_credentials_enc: Option<String>,
    pub deployment_name: Option<String>,
    pub endpoint: Option<String>,
    pub google_project_id: Option<String>,
    pub google_location: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub cached_available_models: Option<String>,
    pub is_internal: bool,
    pub budget_alert_threshold: Option<f64>,
    pub budget_limit: Option<f64>,
    pub budget_total_spent: f64,
    pub budget_reset_period: Option<crate::enums::BudgetResetPeriod>,
    pub budget_last_reset_date: Option<DateTimeUtc>,
    pub budget_alerted_at: Option<DateTimeUtc>,
    pub model_params: Option<Json>,
    pub rpm_limit: Option<i32>,
    pub tpm_limit: Option<i64>,
    pub created_by_id: Option<i64>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
