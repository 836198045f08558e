//! A candidate prompt of an optimization with its per-task outcomes on the train and held-out
//! tasks (`{"task id": true|false}`), so a resumed job never pays for a call twice.
use crate::enums::{CandidateOrigin, CandidateStatus};
use sea_orm::entity::prelude::*;

/// A candidate row; `seq` orders the candidates of an optimization.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "optimization_candidates")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub optimization_id: i64,
    pub seq: i32,
    /// The search round that proposed it (0 for the parent and the first proposals).
    pub round: i32,
    pub origin: CandidateOrigin,
    /// The candidate it was made from.
    pub parent_candidate_id: Option<i64>,
    pub prompt: String,
    /// What the teacher said of it, or how it was made.
    pub note: Option<String>,
    pub status: CandidateStatus,
    /// Outcomes on train tasks.
    pub train: Json,
    /// Outcomes on held-out tasks.
    pub held_out: Json,
    /// Labeling calls made for it.
    pub calls: i32,
    /// What they cost, USD.
    pub cost: f64,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
