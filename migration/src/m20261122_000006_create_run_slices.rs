//! The work of a run: its resolved task ids in slices that workers lease.
use crate::builders::{create_all, drop_all, fk, index, timestamps};
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

/// Creates the run-slice table.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use ForeignKeyAction::Cascade;
        create_all(
            manager,
            vec![(
                timestamps(
                    Table::create()
                        .table("model_run_slices")
                        .col(big_pk_auto("id"))
                        .col(big_integer("model_run_id"))
                        .col(integer("seq"))
                        .col(json_binary("task_ids"))
                        .col(integer("task_count"))
                        .col(big_integer("first_task_id"))
                        .col(big_integer("last_task_id"))
                        .col(string_len("status", 16))
                        .col(string_len_null("lease_owner", 64))
                        .col(timestamp_with_time_zone_null("lease_expires_at"))
                        .col(integer("attempts"))
                        .foreign_key(&mut fk(
                            "model_run_slices",
                            "model_run_id",
                            "model_runs",
                            Cascade,
                        )),
                )
                .to_owned(),
                vec![
                    index("model_run_slices", &["model_run_id", "seq"], true),
                    index(
                        "model_run_slices",
                        &["model_run_id", "first_task_id"],
                        false,
                    ),
                    index("model_run_slices", &["status", "lease_expires_at"], false),
                ],
            )],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_all(manager, &["model_run_slices"]).await
    }
}
