//! A schedule of a prompt: a cron expression in a time zone that starts runs of a version over
//! a project's subset. `next_run_at` is claimed through the database, so a slot fires once
//! across every process.
use sea_orm::entity::prelude::*;

/// A schedule row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "prompt_schedules")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub organization_id: i64,
    pub prompt_id: i64,
    /// The version to run; `None`: the prompt's deployed version when the slot fires.
    pub version_id: Option<i64>,
    /// A deployment label to follow instead: each firing runs the version it points at then.
    pub label: Option<String>,
    pub project_id: i64,
    pub project_subset: crate::enums::Subset,
    pub only_missing_predictions: bool,
    /// Five fields (minute hour day month weekday), or six with seconds first.
    pub cron: String,
    /// An IANA time zone, e.g. `Europe/Paris`.
    pub timezone: String,
    pub status: crate::enums::ScheduleStatus,
    /// The next slot to fire; `None` when paused.
    pub next_run_at: Option<DateTimeUtc>,
    /// The last slot that fired.
    pub last_run_at: Option<DateTimeUtc>,
    /// The run the last firing created.
    pub last_run_id: Option<i64>,
    pub created_by_id: Option<i64>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
