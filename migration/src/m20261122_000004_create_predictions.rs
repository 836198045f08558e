//! Predictions and failed predictions, one of each at most per (run, task).
use crate::builders::{create_all, drop_all, fk, index, timestamps};
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

/// Creates the prediction tables.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use ForeignKeyAction::Cascade;
        create_all(
            manager,
            vec![
                (
                    timestamps(
                        Table::create()
                            .table("predictions")
                            .col(big_pk_auto("id"))
                            .col(big_integer("task_id"))
                            .col(big_integer("project_id"))
                            .col(json_binary("result"))
                            .col(double_null("score"))
                            .col(text("model_version"))
                            .col(big_integer_null("model_run_id"))
                            .col(integer_null("cluster"))
                            .col(json_binary_null("neighbors"))
                            .col(double("mislabeling"))
                            .col(double_null("inference_time"))
                            .col(big_integer_null("prompt_tokens"))
                            .col(big_integer_null("completion_tokens"))
                            .col(big_integer_null("total_tokens"))
                            .col(double_null("prompt_cost"))
                            .col(double_null("completion_cost"))
                            .col(double_null("total_cost"))
                            .col(json_binary_null("extra"))
                            .foreign_key(&mut fk("predictions", "task_id", "tasks", Cascade))
                            .foreign_key(&mut fk("predictions", "project_id", "projects", Cascade))
                            .foreign_key(&mut fk(
                                "predictions",
                                "model_run_id",
                                "model_runs",
                                Cascade,
                            )),
                    )
                    .to_owned(),
                    vec![
                        index("predictions", &["model_run_id", "task_id"], true),
                        index("predictions", &["task_id"], false),
                        index("predictions", &["project_id"], false),
                    ],
                ),
                (
                    Table::create()
                        .table("failed_predictions")
                        .col(big_pk_auto("id"))
                        .col(big_integer("task_id"))
                        .col(big_integer("project_id"))
                        .col(big_integer_null("model_run_id"))
                        .col(text_null("model_version"))
                        .col(text_null("message"))
                        .col(string_len_null("error_type", 512))
                        .col(double_null("inference_time"))
                        .col(big_integer_null("prompt_tokens"))
                        .col(big_integer_null("completion_tokens"))
                        .col(double_null("total_cost"))
                        .col(timestamp_with_time_zone("created_at"))
                        .foreign_key(&mut fk("failed_predictions", "task_id", "tasks", Cascade))
                        .foreign_key(&mut fk(
                            "failed_predictions",
                            "project_id",
                            "projects",
                            Cascade,
                        ))
                        .foreign_key(&mut fk(
                            "failed_predictions",
                            "model_run_id",
                            "model_runs",
                            Cascade,
                        ))
                        .to_owned(),
                    vec![
                        index("failed_predictions", &["model_run_id", "task_id"], true),
                        index("failed_predictions", &["task_id"], false),
                        index("failed_predictions", &["project_id"], false),
                    ],
                ),
            ],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_all(manager, &["failed_predictions", "predictions"]).await
    }
}
