//! A prompt version (Label Studio's `ThirdPartyModelVersion`): a prompt text bound to a model.
use sea_orm::entity::prelude::*;

/// A version row; `title` is unique within its prompt (`parent_model_id`).
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "model_versions")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub organization_id: i64,
    pub parent_model_id: i64,
    pub title: String,
    #[sea_orm(column_type = "Text")]
    pub prompt: String,
    pub provider: crate::enums::Provider,
    pub provider_model_id: String,
    pub model_provider_connection_id: Option<i64>,
    pub max_few_shot_examples: Option<i32>,
    pub model_params: Option<Json>,
    /// Registry: the steps of a pipeline version (a JSON list); `None` for a single prompt.
    pub steps: Option<Json>,
    /// Answers asked per task (1 to 9): with more than one, the prediction is the answer most
    /// of them agree on, scored by the share that agreed.
    pub samples: i32,
    /// A calibration map fitted on one of the version's runs, applied to its later scores
    /// (`views::versions::Calibration` as JSON); `None` when the scores are used as they come.
    pub calibration: Option<Json>,
    /// Other models that answer each task beside the version's own (`views::versions::Juror`
    /// as a JSON list); `None` when only the version's model answers.
    pub jury: Option<Json>,
    pub created_by_id: Option<i64>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
