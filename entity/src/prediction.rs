//! A prediction of a task, by hand, by an ML backend or by a prompt run.
use sea_orm::entity::prelude::*;

/// A prediction row. Runs write at most one per (model_run, task), enforced by a unique key.
/// Token, cost and time fields are Label Studio's PredictionMeta folded into the row.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "predictions")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub task_id: i64,
    pub project_id: i64,
    pub result: Json,
    pub score: Option<f64>,
    /// How `score` was found; `None` when nothing was known and the score is Label Studio's
    /// constant 1.0 (or a client's own).
    pub score_method: Option<crate::enums::ScoreMethod>,
    pub model_version: String,
    pub model_run_id: Option<i64>,
    pub cluster: Option<i32>,
    pub neighbors: Option<Json>,
    pub mislabeling: f64,
    pub inference_time: Option<f64>,
    pub prompt_tokens: Option<i64>,
    pub completion_tokens: Option<i64>,
    pub total_tokens: Option<i64>,
    pub prompt_cost: Option<f64>,
    pub completion_cost: Option<f64>,
    pub total_cost: Option<f64>,
    pub extra: Option<Json>,
    /// The id Label Studio gave this prediction when it was pushed there, if it was.
    pub ls_prediction_id: Option<i64>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
