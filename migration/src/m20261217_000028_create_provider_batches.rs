//! Batch execution: a run may be executed through its provider's batch API (`execution`), its
//! tasks submitted in batches, each a row of `provider_batches` with the provider's id, its
//! tasks and its counts, polled by the run's `batch_run` job until its results are written.
use crate::builders::{add_columns, create_all, drop_all, drop_columns, fk, index};
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

/// Creates `provider_batches`; adds `model_runs.execution`.
#[derive(DeriveMigrationName)]
pub struct Migration;

/// The column added to runs.
fn run_columns() -> Vec<(&'static str, ColumnDef)> {
    vec![(
        "model_runs",
        string_len("execution", 16).default("online").to_owned(),
    )]
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use ForeignKeyAction::Cascade;
        let t = "provider_batches";
        create_all(
            manager,
            vec![(
                Table::create()
                    .table(t)
                    .col(big_pk_auto("id"))
                    .col(big_integer("organization_id"))
                    .col(big_integer("model_run_id"))
                    .col(big_integer("connection_id"))
                    .col(string_len("provider", 32))
                    .col(integer("seq"))
                    .col(json_binary("task_ids"))
                    .col(string_len("status", 16))
                    .col(string_len_null("provider_batch_id", 255))
                    .col(big_integer("request_count"))
                    .col(big_integer("completed_count"))
                    .col(big_integer("failed_count"))
                    .col(big_integer("retried_count"))
                    .col(text_null("error"))
                    .col(timestamp_with_time_zone_null("submitted_at"))
                    .col(timestamp_with_time_zone_null("ended_at"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .foreign_key(&mut fk(t, "organization_id", "organizations", Cascade))
                    .foreign_key(&mut fk(t, "model_run_id", "model_runs", Cascade))
                    .to_owned(),
                vec![index(t, &["model_run_id", "seq"], true)],
            )],
        )
        .await?;
        add_columns(manager, run_columns()).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_columns(manager, run_columns()).await?;
        drop_all(manager, &["provider_batches"]).await
    }
}
