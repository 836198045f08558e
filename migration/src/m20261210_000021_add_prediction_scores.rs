//! Scores that mean something: how each prediction's score was found, and versions that ask for
//! several answers per task and keep the one most of them agree on.
use crate::builders::{add_columns, drop_columns};
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

/// Adds `predictions.score_method` and `model_versions.samples`.
#[derive(DeriveMigrationName)]
pub struct Migration;

/// The columns added.
fn columns() -> Vec<(&'static str, ColumnDef)> {
    vec![
        ("predictions", string_null("score_method").to_owned()),
        ("model_versions", integer("samples").default(1).to_owned()),
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
