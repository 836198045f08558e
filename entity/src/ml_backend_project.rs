//! A Label Studio project that uses a prompt as its ML backend, and the Prompter project that
//! mirrors what the prompt knows of it (its tasks and annotations, for few-shot examples).
use sea_orm::entity::prelude::*;

/// An ML-backend project row; `ls_project` is Label Studio's project id (the part of its
/// `"<id>.<created_at>"` key before the dot), unique per prompt. `access_token_enc` holds the
/// token Label Studio sent in `/setup`, sealed; never returned, never logged.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "ml_backend_projects")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub organization_id: i64,
    pub prompt_id: i64,
    pub ls_project: String,
    pub project_id: i64,
    pub hostname: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub access_token_enc: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
