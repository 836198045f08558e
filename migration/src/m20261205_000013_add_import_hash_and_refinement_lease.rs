//! Idempotent imports and leased refinements: a prompt made by an import keeps the content hash
//! of the document it came from (unique per organization, so two identical imports make one
//! prompt even when they race), and a refinement holds a lease that its process extends while
//! it works (a refinement whose lease lapsed was interrupted and is failed by the sweep).
use crate::builders::{add_columns, drop_columns, index};
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

/// Adds `model_interfaces.import_hash` (with its unique index per organization) and
/// `model_refinements.lease_expires_at`.
#[derive(DeriveMigrationName)]
pub struct Migration;

/// The columns added, one statement each (SQLite takes one per `ALTER TABLE`).
fn columns() -> Vec<(&'static str, ColumnDef)> {
    vec![
        ("model_interfaces", string_len_null("import_hash", 64)),
        (
            "model_refinements",
            timestamp_with_time_zone_null("lease_expires_at"),
        ),
    ]
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        add_columns(manager, columns()).await?;
        // NULLs are distinct in a unique index on both databases: prompts not made by an
        // import (or imported as a copy) never collide.
        manager
            .create_index(index(
                "model_interfaces",
                &["organization_id", "import_hash"],
                true,
            ))
            .await?;
        manager
            .create_index(index(
                "model_refinements",
                &["status", "lease_expires_at"],
                false,
            ))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (table, columns) in [
            ("model_refinements", "status_lease_expires_at"),
            ("model_interfaces", "organization_id_import_hash"),
        ] {
            manager
                .drop_index(
                    Index::drop()
                        .name(format!("ix_{table}_{columns}"))
                        .table(table)
                        .to_owned(),
                )
                .await?;
        }
        drop_columns(manager, columns()).await
    }
}
