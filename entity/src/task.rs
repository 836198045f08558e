//! A task: one data item of a project, with denormalised counters.
use sea_orm::entity::prelude::*;

/// A task row. `total_annotations`, `cancelled_annotations` and `total_predictions` are kept
/// current by every write that adds or removes annotations and predictions.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "tasks")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub project_id: i64,
    pub data: Json,
    pub meta: Json,
    pub is_labeled: bool,
    pub overlap: i32,
    pub inner_id: i64,
    pub total_annotations: i32,
    pub cancelled_annotations: i32,
    pub total_predictions: i32,
    /// The task's id in the Label Studio project it was synced from, if any.
    pub ls_task_id: Option<i64>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
