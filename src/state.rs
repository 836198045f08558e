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
}
