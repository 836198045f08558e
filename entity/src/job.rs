//! A job of the durable job queue: one piece of background work, claimed under a lease by any
//! worker, retried with backoff, taken over when its worker dies.
use sea_orm::entity::prelude::*;

/// A job row. `payload` holds ids only (never a secret). A `queued` job is claimable from
/// `run_at`; a `running` one whose `lease_expires_at` has passed may be taken over. `subject_type`
/// and `subject_id` name what the job works on (a refinement, a link, a run).
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "jobs")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub organization_id: Option<i64>,
    pub kind: crate::enums::JobKind,
    pub status: crate::enums::JobStatus,
    pub payload: Json,
    pub dedupe_key: Option<String>,
    pub subject_type: Option<String>,
    pub subject_id: Option<i64>,
    pub attempts: i32,
    pub max_attempts: i32,
    pub run_at: DateTimeUtc,
    pub lease_owner: Option<String>,
    pub lease_expires_at: Option<DateTimeUtc>,
    pub heartbeat_at: Option<DateTimeUtc>,
    pub cancel_requested: bool,
    pub progress_done: i64,
    pub progress_total: i64,
    #[sea_orm(column_type = "Text", nullable)]
    pub last_error: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub result: Option<String>,
    pub created_by_id: Option<i64>,
    pub started_at: Option<DateTimeUtc>,
    pub finished_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
