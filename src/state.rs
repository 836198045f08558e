//! The state every handler shares.
use crate::crypto::Secrets;
use sea_orm::DatabaseConnection;

/// Shared application state: the database pool and the secrets key.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The database pool.
    pub db: DatabaseConnection,
    /// Seals and opens provider credentials.
    pub secrets: Secrets,
    /// Settings handlers read.
    pub settings: std::sync::Arc<Settings>,
    /// Recently authenticated tokens.
    pub auth_cache: std::sync::Arc<crate::auth::AuthCache>,
    /// The run engine (workers, schedulers, live predictions).
    pub engine: crate::engine::Engine,
}

/// Settings that handlers read, from the configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Whether `/setup` adds the token header to Label Studio's webhook for the ML backend.
    pub ml_webhook_auth: bool,
    /// Model prices for estimates and run costs.
    pub prices: crate::pricing::PriceTable,
    /// Seconds between two firings of a schedule, at least (`PROMPTER_SCHEDULE_MIN_INTERVAL`).
    pub schedule_min_interval: u64,
    /// Whether `GET /metrics` is served (`PROMPTER_METRICS`).
    pub metrics: bool,
    /// The bearer token `GET /metrics` requires, if any (`PROMPTER_METRICS_TOKEN`).
    pub metrics_token: Option<String>,
}
