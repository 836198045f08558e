//! A prompt (Label Studio's `ModelInterface`): input fields and output classes over projects.
use sea_orm::entity::prelude::*;

/// A prompt row; its projects are in `model_interface_projects`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "model_interfaces")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub organization_id: i64,
    pub title: String,
    #[sea_orm(column_type = "Text", nullable)]
    pub description: Option<String>,
    pub skill_name: Option<crate::enums::Skill>,
    /// Task-data fields the prompt reads.
    pub input_fields: crate::enums::StringList,
    /// Label values the prompt outputs.
    pub output_classes: crate::enums::StringList,
    pub created_by_id: Option<i64>,
    /// The version the prompt's ML backend answers with (none: its newest version).
    pub deployed_version_id: Option<i64>,
    /// Registry: tags, a JSON list of strings.
    pub tags: crate::enums::StringList,
    /// Registry: the business domain.
    pub domain: Option<String>,
    /// Registry: draft, deployed, paused or archived.
    pub status: crate::enums::PromptStatus,
    /// Registry: defaults the versions inherit (a JSON object).
    pub parameters: Option<Json>,
    /// The content hash of the import document the prompt was made from (unique per
    /// organization: importing the same document again answers with this prompt); `None` for
    /// a prompt made otherwise or imported as a copy.
    pub import_hash: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
