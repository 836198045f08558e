//! Label Studio integration: the ids of Label Studio objects on the rows synced from or pushed
//! to a Label Studio instance, the deployed version of a prompt (the one its ML backend answers
//! with), links from Prompter projects to Label Studio projects, and the Label Studio projects
//! that use a prompt as their ML backend.
use crate::builders::{create_all, drop_all, fk, index, timestamps};
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

/// Adds the Label Studio id columns and creates the link tables.
#[derive(DeriveMigrationName)]
pub struct Migration;

/// `(table, column)` pairs added as nullable big integers; SQLite takes one per statement.
const COLUMNS: [(&str, &str); 4] = [
    ("tasks", "ls_task_id"),
    ("annotations", "ls_annotation_id"),
    ("predictions", "ls_prediction_id"),
    ("model_interfaces", "deployed_version_id"),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use ForeignKeyAction::{Cascade, SetNull};
        for (table, column) in COLUMNS {
            manager
                .alter_table(
                    Table::alter()
                        .table(table)
                        .add_column(big_integer_null(column))
                        .to_owned(),
                )
                .await?;
        }
        for stmt in [
            index("tasks", &["project_id", "ls_task_id"], true),
            index("annotations", &["project_id", "ls_annotation_id"], true),
        ] {
            manager.create_index(stmt).await?;
        }
        const LINKS: &str = "label_studio_links";
        const ML: &str = "ml_backend_projects";
        create_all(
            manager,
            vec![
                (
                    timestamps(
                        Table::create()
                            .table(LINKS)
                            .col(big_pk_auto("id"))
                            .col(big_integer("organization_id"))
                            .col(big_integer("project_id"))
                            .col(string_len("url", 2048))
                            .col(text("token_enc"))
                            .col(big_integer("ls_project_id"))
                            .col(string_len("status", 16))
                            .col(string_len_null("job", 16))
                            .col(big_integer("progress_done"))
                            .col(big_integer("progress_total"))
                            .col(text_null("last_error"))
                            .col(timestamp_with_time_zone_null("last_synced_at"))
                            .col(big_integer_null("created_by_id"))
                            .foreign_key(&mut fk(
                                LINKS,
                                "organization_id",
                                "organizations",
                                Cascade,
                            ))
                            .foreign_key(&mut fk(LINKS, "project_id", "projects", Cascade))
                            .foreign_key(&mut fk(LINKS, "created_by_id", "users", SetNull)),
                    )
                    .to_owned(),
                    vec![index(LINKS, &["project_id"], true)],
                ),
                (
                    timestamps(
                        Table::create()
                            .table(ML)
                            .col(big_pk_auto("id"))
                            .col(big_integer("organization_id"))
                            .col(big_integer("prompt_id"))
                            .col(string_len("ls_project", 64))
                            .col(big_integer("project_id"))
                            .col(string_len_null("hostname", 2048))
                            .col(text_null("access_token_enc"))
                            .foreign_key(&mut fk(ML, "organization_id", "organizations", Cascade))
                            .foreign_key(&mut fk(ML, "prompt_id", "model_interfaces", Cascade))
                            .foreign_key(&mut fk(ML, "project_id", "projects", Cascade)),
                    )
                    .to_owned(),
                    vec![index(ML, &["prompt_id", "ls_project"], true)],
                ),
            ],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_all(manager, &["ml_backend_projects", "label_studio_links"]).await?;
        for (table, columns) in [
            ("tasks", vec!["project_id", "ls_task_id"]),
            ("annotations", vec!["project_id", "ls_annotation_id"]),
        ] {
            manager
                .drop_index(
                    Index::drop()
                        .name(format!("ix_{table}_{}", columns.join("_")))
                        .table(table)
                        .to_owned(),
                )
                .await?;
        }
        for (table, column) in COLUMNS {
            manager
                .alter_table(Table::alter().table(table).drop_column(column).to_owned())
                .await?;
        }
        Ok(())
    }
}
