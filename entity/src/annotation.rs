//! An annotation of a task (Label Studio's `task_completion`).
use sea_orm::entity::prelude::*;

/// An annotation row. Ground truth of a task is its newest non-cancelled annotation with
/// `ground_truth = true`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "annotations")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub task_id: i64,
    pub project_id: i64,
    pub result: Json,
    pub was_cancelled: bool,
    pub ground_truth: bool,
    pub lead_time: Option<f64>,
    pub completed_by_id: Option<i64>,
    pub updated_by_id: Option<i64>,
    pub parent_prediction_id: Option<i64>,
    pub parent_annotation_id: Option<i64>,
    pub last_action: Option<String>,
    /// The annotation's id in the Label Studio instance it came from, if any.
    pub ls_annotation_id: Option<i64>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
