//! Prompt optimizations: a search over candidate prompts of a version, scored on a stored,
//! seeded train/held-out split of the project's ground truth, with the candidates and their
//! per-task outcomes kept so a job taken over by another worker resumes where it stopped.
use crate::builders::{create_all, drop_all, fk, index, timestamps};
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

/// Creates `prompt_optimizations` and `optimization_candidates`.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use ForeignKeyAction::{Cascade, SetNull};
        let t = "prompt_optimizations";
        let c = "optimization_candidates";
        create_all(
            manager,
            vec![
                (
                    timestamps(
                        Table::create()
                            .table(t)
                            .col(big_pk_auto("id"))
                            .col(big_integer("organization_id"))
                            .col(big_integer("prompt_id"))
                            .col(big_integer("version_id"))
                            .col(big_integer("project_id"))
                            .col(string_len("teacher_model_name", 255))
                            .col(big_integer("teacher_connection_id"))
                            .col(json_binary("settings"))
                            .col(string_len("status", 16))
                            .col(string_len("stage", 16))
                            .col(json_binary_null("split"))
                            .col(integer("calls"))
                            .col(double("cost"))
                            .col(double("elapsed_seconds"))
                            .col(json_binary("estimate"))
                            .col(json_binary_null("result"))
                            .col(big_integer_null("new_version_id"))
                            .col(text_null("error_message"))
                            .col(big_integer_null("job_id"))
                            .col(big_integer_null("created_by_id"))
                            .foreign_key(&mut fk(t, "organization_id", "organizations", Cascade))
                            .foreign_key(&mut fk(t, "prompt_id", "model_interfaces", Cascade))
                            .foreign_key(&mut fk(t, "version_id", "model_versions", Cascade))
                            .foreign_key(&mut fk(t, "project_id", "projects", Cascade))
                            .foreign_key(&mut fk(
                                t,
                                "teacher_connection_id",
                                "model_provider_connections",
                                Cascade,
                            ))
                            .foreign_key(&mut fk(t, "new_version_id", "model_versions", SetNull))
                            .foreign_key(&mut fk(t, "created_by_id", "users", SetNull)),
                    )
                    .to_owned(),
                    vec![index(t, &["prompt_id", "id"], false)],
                ),
                (
                    timestamps(
                        Table::create()
                            .table(c)
                            .col(big_pk_auto("id"))
                            .col(big_integer("optimization_id"))
                            .col(integer("seq"))
                            .col(integer("round"))
                            .col(string_len("origin", 16))
                            .col(big_integer_null("parent_candidate_id"))
                            .col(text("prompt"))
                            .col(text_null("note"))
                            .col(string_len("status", 16))
                            .col(json_binary("train"))
                            .col(json_binary("held_out"))
                            .col(integer("calls"))
                            .col(double("cost"))
                            .foreign_key(&mut fk(c, "optimization_id", t, Cascade)),
                    )
                    .to_owned(),
                    vec![index(c, &["optimization_id", "seq"], true)],
                ),
            ],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_all(
            manager,
            &["optimization_candidates", "prompt_optimizations"],
        )
        .await
    }
}
