//! A labeling project: a label config (XML) over tasks.
use sea_orm::entity::prelude::*;

/// A project row. The parsed label config is derived from `label_config`, never stored.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "projects")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub organization_id: i64,
    pub title: String,
    pub description: String,
    #[sea_orm(column_type = "Text")]
    pub label_config: String,
    #[sea_orm(column_type = "Text")]
    pub expert_instruction: String,
    pub show_instruction: bool,
    pub show_skip_button: bool,
    pub enable_empty_annotation: bool,
    pub show_annotation_history: bool,
    pub show_collab_predictions: bool,
    pub show_ground_truth_first: bool,
    pub show_overlap_first: bool,
    pub overlap_cohort_percentage: i32,
    pub maximum_annotations: i32,
    pub min_annotations_to_start_training: i32,
    pub evaluate_predictions_automatically: bool,
    pub reveal_preannotations_interactively: bool,
    pub is_published: bool,
    pub is_draft: bool,
    pub color: String,
    pub model_version: String,
    pub sampling: String,
    pub skip_queue: String,
    pub control_weights: Json,
    pub pinned_at: Option<DateTimeUtc>,
    pub created_by_id: Option<i64>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
