//! A run that a newer run replaced: a run of a version over the same project and subset
//! replaces the previous one (which is deleted with its results), and this row keeps which run
//! took its place, so a link to the old run still leads somewhere.
use sea_orm::entity::prelude::*;

/// A replaced run: its id, the run that replaced it, and the prompt and version it was of.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "run_replacements")]
pub struct Model {
    /// The replaced (deleted) run's id.
    #[sea_orm(primary_key, auto_increment = false)]
    pub run_id: i64,
    /// The run that replaced it (itself perhaps replaced since).
    pub replaced_by: i64,
    pub organization_id: i64,
    pub prompt_id: i64,
    /// The version both runs are of, until it is deleted.
    pub version_id: Option<i64>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
