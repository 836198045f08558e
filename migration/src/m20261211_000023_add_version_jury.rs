//! A version's jury: other models that answer each task beside its own, for agreement across
//! models.
use crate::builders::{add_columns, drop_columns};
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

/// Adds `model_versions.jury`.
#[derive(DeriveMigrationName)]
pub struct Migration;

/// The column added.
fn columns() -> Vec<(&'static str, ColumnDef)> {
    vec![("model_versions", json_binary_null("jury").to_owned())]
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
