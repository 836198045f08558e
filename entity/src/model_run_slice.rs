//! A slice of a run's work: up to a fixed number of task ids, leased by one worker at a time.
use sea_orm::entity::prelude::*;

/// A slice row; `task_ids` ascend from `first_task_id` to `last_task_id`. `status` is `pending`, `leased` or `done`; a lease whose `lease_expires_at`
/// has passed may be taken over by another worker.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "model_run_slices")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub model_run_id: i64,
    pub seq: i32,
    pub task_ids: Json,
    pub task_count: i32,
    pub first_task_id: i64,
    pub last_task_id: i64,
    pub status: crate::enums::SliceStatus,
    pub lease_owner: Option<String>,
    pub lease_expires_at: Option<DateTimeUtc>,
    pub attempts: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
