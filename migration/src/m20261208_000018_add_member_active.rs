//! Memberships that can be deactivated: an Owner or Administrator turns a member off in their
//! organization without deleting the user or what they made, and can turn them on again.
use crate::builders::{add_columns, drop_columns};
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

/// Adds `organization_members.is_active` (true for every membership already there).
#[derive(DeriveMigrationName)]
pub struct Migration;

/// The column added.
fn columns() -> Vec<(&'static str, ColumnDef)> {
    vec![(
        "organization_members",
        boolean("is_active").default(true).to_owned(),
    )]
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
