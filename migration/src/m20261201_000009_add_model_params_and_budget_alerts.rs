//! Model parameters on versions and provider connections (a connection's are the defaults of
//! the versions that use it), the budget alert of a connection (when its spending last crossed
//! the alert threshold), and the notes of a run (what was changed to get answers, e.g. a
//! parameter the provider refused).
use crate::builders::{add_columns, drop_columns};
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

/// Adds `model_params`, `budget_alerted_at` and `notes`.
#[derive(DeriveMigrationName)]
pub struct Migration;

/// The columns added, one statement each (SQLite takes one per `ALTER TABLE`).
fn columns() -> Vec<(&'static str, ColumnDef)> {
    vec![
        ("model_versions", json_null("model_params")),
        ("model_provider_connections", json_null("model_params")),
        (
            "model_provider_connections",
            timestamp_with_time_zone_null("budget_alerted_at"),
        ),
        ("model_runs", json_null("notes")),
    ]
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        add_columns(manager, columns()).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_columns(manager, columns()).await
    }
}
