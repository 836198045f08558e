//! Provider connections, prompts, their project links, versions and runs.
use crate::builders::{create_all, drop_all, fk, index, timestamps};
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

/// Creates the Prompts tables.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use ForeignKeyAction::{Cascade, SetNull};
        create_all(
            manager,
            vec![
                (
                    timestamps(
                        Table::create()
                            .table("model_provider_connections")
                            .col(big_pk_auto("id"))
                            .col(big_integer("organization_id"))
                            .col(string_len("provider", 32))
                            .col(string_len("scope", 32))
                            .col(text_null("api_key_enc"))
                            .col(text_null("auth_token_enc"))
                            .col(text_null("google_application_credentials_enc"))
                            .col(string_len_null("deployment_name", 512))
                            .col(string_len_null("endpoint", 512))
                            .col(string_len_null("google_project_id", 255))
                            .col(string_len_null("google_location", 255))
                            .col(text_null("cached_available_models"))
                            .col(boolean("is_internal"))
                            .col(double_null("budget_alert_threshold"))
                            .col(double_null("budget_limit"))
                            .col(double("budget_total_spent"))
                            .col(string_len_null("budget_reset_period", 16))
                            .col(timestamp_with_time_zone_null("budget_last_reset_date"))
                            .col(integer_null("rpm_limit"))
                            .col(big_integer_null("tpm_limit"))
                            .col(big_integer_null("created_by_id"))
                            .foreign_key(&mut fk(
                                "model_provider_connections",
                                "organization_id",
                                "organizations",
                                Cascade,
                            ))
                            .foreign_key(&mut fk(
                                "model_provider_connections",
                                "created_by_id",
                                "users",
                                SetNull,
                            )),
                    )
                    .to_owned(),
                    vec![index(
                        "model_provider_connections",
                        &["organization_id"],
                        false,
                    )],
                ),
                (
                    timestamps(
                        Table::create()
                            .table("model_interfaces")
                            .col(big_pk_auto("id"))
                            .col(big_integer("organization_id"))
                            .col(string_len("title", 500))
                            .col(text_null("description"))
                            .col(string_len_null("skill_name", 64))
                            .col(json_binary("input_fields"))
                            .col(json_binary("output_classes"))
                            .col(big_integer_null("created_by_id"))
                            .foreign_key(&mut fk(
                                "model_interfaces",
                                "organization_id",
                                "organizations",
                                Cascade,
                            ))
                            .foreign_key(&mut fk(
                                "model_interfaces",
                                "created_by_id",
                                "users",
                                SetNull,
                            )),
                    )
                    .to_owned(),
                    vec![index(
                        "model_interfaces",
                        &["organization_id", "created_at"],
                        false,
                    )],
                ),
                (
                    Table::create()
                        .table("model_interface_projects")
                        .col(big_integer("model_interface_id"))
                        .col(big_integer("project_id"))
                        .primary_key(Index::create().col("model_interface_id").col("project_id"))
                        .foreign_key(&mut fk(
                            "model_interface_projects",
                            "model_interface_id",
                            "model_interfaces",
                            Cascade,
                        ))
                        .foreign_key(&mut fk(
                            "model_interface_projects",
                            "project_id",
                            "projects",
                            Cascade,
                        ))
                        .to_owned(),
                    vec![index("model_interface_projects", &["project_id"], false)],
                ),
                (
                    timestamps(
                        Table::create()
                            .table("model_versions")
                            .col(big_pk_auto("id"))
                            .col(big_integer("organization_id"))
                            .col(big_integer("parent_model_id"))
                            .col(string_len("title", 500))
                            .col(text("prompt"))
                            .col(string_len("provider", 32))
                            .col(string_len("provider_model_id", 255))
                            .col(big_integer_null("model_provider_connection_id"))
                            .col(integer_null("max_few_shot_examples"))
                            .col(big_integer_null("created_by_id"))
                            .foreign_key(&mut fk(
                                "model_versions",
                                "organization_id",
                                "organizations",
                                Cascade,
                            ))
                            .foreign_key(&mut fk(
                                "model_versions",
                                "parent_model_id",
                                "model_interfaces",
                                Cascade,
                            ))
                            .foreign_key(&mut fk(
                                "model_versions",
                                "model_provider_connection_id",
                                "model_provider_connections",
                                SetNull,
                            ))
                            .foreign_key(&mut fk(
                                "model_versions",
                                "created_by_id",
                                "users",
                                SetNull,
                            )),
                    )
                    .to_owned(),
                    vec![
                        index("model_versions", &["parent_model_id", "title"], true),
                        index("model_versions", &["model_provider_connection_id"], false),
                    ],
                ),
                (
                    Table::create()
                        .table("model_runs")
                        .col(big_pk_auto("id"))
                        .col(big_integer("organization_id"))
                        .col(big_integer("project_id"))
                        .col(big_integer("model_version_id"))
                        .col(big_integer_null("created_by_id"))
                        .col(string_len("project_subset", 16))
                        .col(string_len("status", 16))
                        .col(string_len_null("job_id", 255))
                        .col(big_integer("total_tasks"))
                        .col(big_integer("total_predictions"))
                        .col(big_integer("total_correct_predictions"))
                        .col(big_integer("total_failed"))
                        .col(integer_null("sample_subset_size"))
                        .col(json_binary_null("filters_json"))
                        .col(json_binary_null("task_ids"))
                        .col(boolean("only_missing_predictions"))
                        .col(big_integer_null("source_model_run_id"))
                        .col(big_integer("prompt_tokens"))
                        .col(big_integer("completion_tokens"))
                        .col(double("total_cost"))
                        .col(text_null("error_message"))
                        .col(timestamp_with_time_zone("created_at"))
                        .col(timestamp_with_time_zone_null("triggered_at"))
                        .col(timestamp_with_time_zone_null("predictions_updated_at"))
                        .col(timestamp_with_time_zone_null("completed_at"))
                        .foreign_key(&mut fk(
                            "model_runs",
                            "organization_id",
                            "organizations",
                            Cascade,
                        ))
                        .foreign_key(&mut fk("model_runs", "project_id", "projects", Cascade))
                        .foreign_key(&mut fk(
                            "model_runs",
                            "model_version_id",
                            "model_versions",
                            Cascade,
                        ))
                        .foreign_key(&mut fk("model_runs", "created_by_id", "users", SetNull))
                        .foreign_key(&mut fk(
                            "model_runs",
                            "source_model_run_id",
                            "model_runs",
                            SetNull,
                        ))
                        .to_owned(),
                    vec![
                        index(
                            "model_runs",
                            &["model_version_id", "project_id", "project_subset"],
                            false,
                        ),
                        index("model_runs", &["project_id"], false),
                        index("model_runs", &["status"], false),
                    ],
                ),
            ],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_all(
            manager,
            &[
                "model_runs",
                "model_versions",
                "model_interface_projects",
                "model_interfaces",
                "model_provider_connections",
            ],
        )
        .await
    }
}
