//! An inference run (Label Studio's `ModelRun`) of a version over a project subset.
use sea_orm::entity::prelude::*;

/// A run row, with Label Studio's counters and the engine's own bookkeeping
/// (`total_failed`, token and cost totals, `error_message`).
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "model_runs")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub organization_id: i64,
    pub project_id: i64,
    pub model_version_id: i64,
    pub created_by_id: Option<i64>,
    pub project_subset: crate::enums::Subset,
    pub status: crate::enums::RunStatus,
    pub job_id: Option<String>,
    pub total_tasks: i64,
    pub total_predictions: i64,
    pub total_correct_predictions: i64,
    pub total_failed: i64,
    /// Of `total_predictions`, those on tasks with ground truth when they were stored.
    pub total_scored_predictions: i64,
    /// Of `total_failed`, those on tasks with ground truth when they were stored.
    pub total_scored_failed: i64,
    pub sample_subset_size: Option<i32>,
    pub filters_json: Option<Json>,
    pub task_ids: Option<Json>,
    pub only_missing_predictions: bool,
    pub source_model_run_id: Option<i64>,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub total_cost: f64,
    #[sea_orm(column_type = "Text", nullable)]
    pub error_message: Option<String>,
    pub notes: Option<Json>,
    /// Registry: the schedule whose firing created the run.
    pub schedule_id: Option<i64>,
    /// Registry: the slot of that schedule the run was created for.
    pub scheduled_for: Option<DateTimeUtc>,
    /// Whether identical calls may be answered from the response cache (a run created with
    /// `cache: false` asks the provider every time).
    pub use_cache: bool,
    /// Of `total_predictions`, those answered from the response cache (cost 0).
    pub total_cached_predictions: i64,
    /// How the run's calls are made: one by one (`online`) or through the provider's batch
    /// API (`batch`).
    pub execution: crate::enums::RunExecution,
    pub created_at: DateTimeUtc,
    pub triggered_at: Option<DateTimeUtc>,
    pub predictions_updated_at: Option<DateTimeUtc>,
    pub completed_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
