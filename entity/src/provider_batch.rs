//! One batch of a run at its provider's batch API: its tasks, the provider's id and counts.
use crate::enums::{Provider, ProviderBatchStatus};
use sea_orm::entity::prelude::*;

/// A provider batch; unique per run and sequence number.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "provider_batches")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub organization_id: i64,
    pub model_run_id: i64,
    /// The connection it was submitted through.
    pub connection_id: i64,
    pub provider: Provider,
    /// Its place among the run's batches, from 1.
    pub seq: i32,
    /// The tasks it asks about (custom id `task-{id}` each), in order.
    pub task_ids: Json,
    pub status: ProviderBatchStatus,
    /// The provider's id (`batch_...`, `msgbatch_...`, `batches/...`), once submitted.
    pub provider_batch_id: Option<String>,
    /// Requests submitted.
    pub request_count: i64,
    /// Answered, as the provider last reported (or as written once collected).
    pub completed_count: i64,
    /// Failed inside the batch, as the provider last reported (or as written once collected).
    pub failed_count: i64,
    /// Of its tasks, those asked again online (failed inside the batch, or never executed).
    pub retried_count: i64,
    /// Why it failed as a whole, in Prompter's words.
    #[sea_orm(column_type = "Text", nullable)]
    pub error: Option<String>,
    pub submitted_at: Option<DateTimeUtc>,
    pub ended_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
