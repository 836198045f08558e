//! Deployment labels: named pointers from a prompt to one of its versions (`production`,
//! `staging`, any name), one version per label, some protected (only Owners and Administrators
//! move them). `production` is the prompt's deployed version: the existing deployed versions
//! become `production` labels here. A schedule may follow a label instead of naming a version.
use crate::builders::{add_columns, create_all, drop_all, drop_columns, fk, index, timestamps};
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

/// Creates `version_labels` and fills it with the deployed versions; adds
/// `prompt_schedules.label`.
#[derive(DeriveMigrationName)]
pub struct Migration;

/// The column added to schedules.
fn schedule_columns() -> Vec<(&'static str, ColumnDef)> {
    vec![("prompt_schedules", string_len_null("label", 64).to_owned())]
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use ForeignKeyAction::{Cascade, SetNull};
        create_all(
            manager,
            vec![(
                timestamps(
                    Table::create()
                        .table("version_labels")
                        .col(big_pk_auto("id"))
                        .col(big_integer("organization_id"))
                        .col(big_integer("prompt_id"))
                        .col(string_len("name", 64))
                        .col(big_integer("version_id"))
                        .col(boolean("protected"))
                        .col(big_integer_null("updated_by_id"))
                        .foreign_key(&mut fk(
                            "version_labels",
                            "organization_id",
                            "organizations",
                            Cascade,
                        ))
                        .foreign_key(&mut fk(
                            "version_labels",
                            "prompt_id",
                            "model_interfaces",
                            Cascade,
                        ))
                        .foreign_key(&mut fk(
                            "version_labels",
                            "version_id",
                            "model_versions",
                            Cascade,
                        ))
                        .foreign_key(&mut fk("version_labels", "updated_by_id", "users", SetNull)),
                )
                .to_owned(),
                vec![
                    index("version_labels", &["prompt_id", "name"], true),
                    index("version_labels", &["version_id"], false),
                ],
            )],
        )
        .await?;
        // The deployed versions that still exist become `production` labels.
        manager
            .get_connection()
            .execute_unprepared(
                "INSERT INTO version_labels \
                 (organization_id, prompt_id, name, version_id, protected, updated_by_id, \
                  created_at, updated_at) \
                 SELECT p.organization_id, p.id, 'production', p.deployed_version_id, false, \
                        NULL, p.updated_at, p.updated_at \
                 FROM model_interfaces p \
                 JOIN model_versions v ON v.id = p.deployed_version_id \
                                      AND v.parent_model_id = p.id",
            )
            .await?;
        add_columns(manager, schedule_columns()).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_columns(manager, schedule_columns()).await?;
        drop_all(manager, &["version_labels"]).await
    }
}
