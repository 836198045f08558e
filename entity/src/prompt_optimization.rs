//! A prompt optimization of a version over a project: its settings and budgets, the stored
//! train/held-out split, what it has spent, where it stands and what it concluded.
use crate::enums::OptimizationStatus;
use sea_orm::entity::prelude::*;

/// An optimization row.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "prompt_optimizations")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub organization_id: i64,
    pub prompt_id: i64,
    /// The version optimized (the parent every candidate is tested against).
    pub version_id: i64,
    /// The project whose ground truth scores the candidates.
    pub project_id: i64,
    pub teacher_model_name: String,
    pub teacher_connection_id: i64,
    /// The settings and budgets asked for (seed, held-out share, candidates, alpha, ...).
    pub settings: Json,
    pub status: OptimizationStatus,
    /// The step it is at: `split`, `baseline`, `search`, `held_out`, `done`.
    pub stage: String,
    /// `{"train": [task ids], "held_out": [task ids]}`, stored once drawn.
    pub split: Option<Json>,
    /// Model calls made (labeling and teacher).
    pub calls: i32,
    /// What the calls cost, USD.
    pub cost: f64,
    /// Seconds of work, over every attempt.
    pub elapsed_seconds: f64,
    /// The estimate made before it started.
    pub estimate: Json,
    /// The held-out test and its conclusion, once ended.
    pub result: Option<Json>,
    /// The version promoted, if one was.
    pub new_version_id: Option<i64>,
    pub error_message: Option<String>,
    /// Its row in the job queue.
    pub job_id: Option<i64>,
    pub created_by_id: Option<i64>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
