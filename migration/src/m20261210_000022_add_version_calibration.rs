//! A calibration map on a version: fitted on one of its runs with ground truth, applied to the
//! scores of its later predictions.
use crate::builders::{add_columns, drop_columns};
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

/// Adds `model_versions.calibration`.
#[derive(DeriveMigrationName)]
pub struct Migration;

/// The column added.
fn columns() -> Vec<(&'static str, ColumnDef)> {
    vec![("model_versions", json_binary_null("calibration").to_owned())]
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
