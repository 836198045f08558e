//! The model registry: a prompt's tags, domain, status and parameters, a version's steps, the
//! comments of a prompt, its schedules, and the schedule a run came from.
use crate::builders::{add_columns, create_all, drop_all, drop_columns, fk, index};
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

/// Adds the registry's columns and tables.
#[derive(DeriveMigrationName)]
pub struct Migration;

/// The columns added, one statement each (SQLite takes one per `ALTER TABLE`).
fn columns() -> Vec<(&'static str, ColumnDef)> {
    vec![
        ("model_interfaces", json("tags").default("[]").to_owned()),
        ("model_interfaces", string_len_null("domain", 255)),
        (
            "model_interfaces",
            string_len("status", 16).default("draft").to_owned(),
        ),
        ("model_interfaces", json_null("parameters")),
        ("model_versions", json_null("steps")),
        ("model_runs", big_integer_null("schedule_id")),
        ("model_runs", timestamp_with_time_zone_null("scheduled_for")),
    ]
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use ForeignKeyAction::{Cascade, SetNull};
        add_columns(manager, columns()).await?;
        create_all(
            manager,
            vec![
                (
                    Table::create()
                        .table("prompt_comments")
                        .col(big_pk_auto("id"))
                        .col(big_integer("organization_id"))
                        .col(big_integer("prompt_id"))
                        .col(big_integer_null("version_id"))
                        .col(big_integer_null("author_id"))
                        .col(string_len("kind", 16))
                        .col(text("text"))
                        .col(timestamp_with_time_zone("created_at"))
                        .foreign_key(&mut fk(
                            "prompt_comments",
                            "prompt_id",
                            "model_interfaces",
                            Cascade,
                        ))
                        .foreign_key(&mut fk(
                            "prompt_comments",
                            "version_id",
                            "model_versions",
                            SetNull,
                        ))
                        .foreign_key(&mut fk("prompt_comments", "author_id", "users", SetNull))
                        .to_owned(),
                    vec![index("prompt_comments", &["prompt_id", "id"], false)],
                ),
                (
                    Table::create()
                        .table("prompt_schedules")
                        .col(big_pk_auto("id"))
                        .col(big_integer("organization_id"))
                        .col(big_integer("prompt_id"))
                        .col(big_integer_null("version_id"))
                        .col(big_integer("project_id"))
                        .col(string_len("project_subset", 16))
                        .col(boolean("only_missing_predictions"))
                        .col(string_len("cron", 255))
                        .col(string_len("timezone", 64))
                        .col(string_len("status", 16))
                        .col(timestamp_with_time_zone_null("next_run_at"))
                        .col(timestamp_with_time_zone_null("last_run_at"))
                        .col(big_integer_null("last_run_id"))
                        .col(big_integer_null("created_by_id"))
                        .col(timestamp_with_time_zone("created_at"))
                        .col(timestamp_with_time_zone("updated_at"))
                        .foreign_key(&mut fk(
                            "prompt_schedules",
                            "prompt_id",
                            "model_interfaces",
                            Cascade,
                        ))
                        .foreign_key(&mut fk(
                            "prompt_schedules",
                            "version_id",
                            "model_versions",
                            SetNull,
                        ))
                        .foreign_key(&mut fk(
                            "prompt_schedules",
                            "project_id",
                            "projects",
                            Cascade,
                        ))
                        .foreign_key(&mut fk(
                            "prompt_schedules",
                            "last_run_id",
                            "model_runs",
                            SetNull,
                        ))
                        .foreign_key(&mut fk(
                            "prompt_schedules",
                            "created_by_id",
                            "users",
                            SetNull,
                        ))
                        .to_owned(),
                    vec![
                        index("prompt_schedules", &["prompt_id"], false),
                        index("prompt_schedules", &["status", "next_run_at"], false),
                    ],
                ),
            ],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_all(manager, &["prompt_schedules", "prompt_comments"]).await?;
        drop_columns(manager, columns()).await
    }
}
