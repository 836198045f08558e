//! Annotations, after predictions because an annotation may point at its parent prediction.
use crate::builders::{create_all, drop_all, fk, index, timestamps};
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

/// Creates the annotation table.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use ForeignKeyAction::{Cascade, SetNull};
        create_all(
            manager,
            vec![(
                timestamps(
                    Table::create()
                        .table("annotations")
                        .col(big_pk_auto("id"))
                        .col(big_integer("task_id"))
                        .col(big_integer("project_id"))
                        .col(json_binary("result"))
                        .col(boolean("was_cancelled"))
                        .col(boolean("ground_truth"))
                        .col(double_null("lead_time"))
                        .col(big_integer_null("completed_by_id"))
                        .col(big_integer_null("updated_by_id"))
                        .col(big_integer_null("parent_prediction_id"))
                        .col(big_integer_null("parent_annotation_id"))
                        .col(string_len_null("last_action", 128))
                        .foreign_key(&mut fk("annotations", "task_id", "tasks", Cascade))
                        .foreign_key(&mut fk("annotations", "project_id", "projects", Cascade))
                        .foreign_key(&mut fk("annotations", "completed_by_id", "users", SetNull))
                        .foreign_key(&mut fk("annotations", "updated_by_id", "users", SetNull))
                        .foreign_key(&mut fk(
                            "annotations",
                            "parent_prediction_id",
                            "predictions",
                            SetNull,
                        ))
                        .foreign_key(&mut fk(
                            "annotations",
                            "parent_annotation_id",
                            "annotations",
                            SetNull,
                        )),
                )
                .to_owned(),
                vec![
                    index("annotations", &["task_id"], false),
                    index("annotations", &["project_id", "ground_truth"], false),
                    index("annotations", &["parent_prediction_id"], false),
                ],
            )],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_all(manager, &["annotations"]).await
    }
}
