//! Projects and tasks.
use crate::builders::{create_all, drop_all, fk, index, timestamps};
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

/// Creates the project and task tables.
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
                            .table("projects")
                            .col(big_pk_auto("id"))
                            .col(big_integer("organization_id"))
                            .col(string_len("title", 50))
                            .col(text("description"))
                            .col(text("label_config"))
                            .col(text("expert_instruction"))
                            .col(boolean("show_instruction"))
                            .col(boolean("show_skip_button"))
                            .col(boolean("enable_empty_annotation"))
                            .col(boolean("show_annotation_history"))
                            .col(boolean("show_collab_predictions"))
                            .col(boolean("show_ground_truth_first"))
                            .col(boolean("show_overlap_first"))
                            .col(integer("overlap_cohort_percentage"))
                            .col(integer("maximum_annotations"))
                            .col(integer("min_annotations_to_start_training"))
                            .col(boolean("evaluate_predictions_automatically"))
                            .col(boolean("reveal_preannotations_interactively"))
                            .col(boolean("is_published"))
                            .col(boolean("is_draft"))
                            .col(string_len("color", 16))
                            .col(text("model_version"))
                            .col(string_len("sampling", 100))
                            .col(string_len("skip_queue", 100))
                            .col(json_binary("control_weights"))
                            .col(timestamp_with_time_zone_null("pinned_at"))
                            .col(big_integer_null("created_by_id"))
                            .foreign_key(&mut fk(
                                "projects",
                                "organization_id",
                                "organizations",
                                Cascade,
                            ))
                            .foreign_key(&mut fk("projects", "created_by_id", "users", SetNull)),
                    )
                    .to_owned(),
                    vec![index("projects", &["organization_id", "id"], false)],
                ),
                (
                    timestamps(
                        Table::create()
                            .table("tasks")
                            .col(big_pk_auto("id"))
                            .col(big_integer("project_id"))
                            .col(json_binary("data"))
                            .col(json_binary("meta"))
                            .col(boolean("is_labeled"))
                            .col(integer("overlap"))
                            .col(big_integer("inner_id"))
                            .col(integer("total_annotations"))
                            .col(integer("cancelled_annotations"))
                            .col(integer("total_predictions"))
                            .foreign_key(&mut fk("tasks", "project_id", "projects", Cascade)),
                    )
                    .to_owned(),
                    vec![index("tasks", &["project_id", "id"], false)],
                ),
            ],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_all(manager, &["tasks", "projects"]).await
    }
}
