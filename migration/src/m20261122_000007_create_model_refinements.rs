//! Prompt refinements: a teacher model's rewrite of a version's prompt, as a job whose result
//! is a new version of the same prompt.
use crate::builders::{create_all, drop_all, fk, index, timestamps};
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

/// Creates the refinement table.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use ForeignKeyAction::{Cascade, SetNull};
        const T: &str = "model_refinements";
        create_all(
            manager,
            vec![(
                timestamps(
                    Table::create()
                        .table(T)
                        .col(big_pk_auto("id"))
                        .col(big_integer("organization_id"))
                        .col(big_integer("prompt_id"))
                        .col(big_integer("previous_version_id"))
                        .col(big_integer("project_id"))
                        .col(string_len("teacher_model_name", 255))
                        .col(big_integer("teacher_connection_id"))
                        .col(string_len("job_id", 64))
                        .col(string_len("status", 16))
                        .col(big_integer_null("new_version_id"))
                        .col(string_len_null("title", 500))
                        .col(text_null("reasoning"))
                        .col(text("prompt"))
                        .col(double("total_cost"))
                        .col(text_null("error_message"))
                        .col(big_integer_null("created_by_id"))
                        .foreign_key(&mut fk(T, "organization_id", "organizations", Cascade))
                        .foreign_key(&mut fk(T, "prompt_id", "model_interfaces", Cascade))
                        .foreign_key(&mut fk(T, "previous_version_id", "model_versions", Cascade))
                        .foreign_key(&mut fk(T, "project_id", "projects", Cascade))
                        .foreign_key(&mut fk(T, "new_version_id", "model_versions", SetNull))
                        .foreign_key(&mut fk(T, "created_by_id", "users", SetNull)),
                )
                .to_owned(),
                vec![
                    index(T, &["job_id"], true),
                    index(T, &["previous_version_id"], false),
                    index(T, &["new_version_id"], false),
                ],
            )],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_all(manager, &["model_refinements"]).await
    }
}
