//! Runs replaced by a newer run: creating a run of a version over the same project and subset
//! deletes the previous one, and this row remembers which run took its place, so the old run's
//! page can say so and lead to the new one instead of answering "not found".
use crate::builders::{create_all, drop_all, fk};
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

/// Creates `run_replacements`.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use ForeignKeyAction::{Cascade, SetNull};
        create_all(
            manager,
            vec![(
                Table::create()
                    .table("run_replacements")
                    .col(big_integer("run_id").primary_key())
                    .col(big_integer("replaced_by"))
                    .col(big_integer("organization_id"))
                    .col(big_integer("prompt_id"))
                    .col(big_integer_null("version_id"))
                    .col(timestamp_with_time_zone("created_at"))
                    .foreign_key(&mut fk(
                        "run_replacements",
                        "organization_id",
                        "organizations",
                        Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "run_replacements",
                        "prompt_id",
                        "model_interfaces",
                        Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "run_replacements",
                        "version_id",
                        "model_versions",
                        SetNull,
                    ))
                    .to_owned(),
                vec![],
            )],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_all(manager, &["run_replacements"]).await
    }
}
