//! Prompts: the prompt views (plain and detailed, sharing [`PromptFields`]), the writable
//! fields, list search and the compatible-projects filters.
use super::users::UserSimple;
use chrono::{DateTime, Utc};
use entity::model_interface;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

/// A prompt's own fields, which every view of it shows; `PromptView` and `PromptDetailView`
/// add its projects, each in its own way.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PromptFields {
    /// Prompt id.
    pub id: i64,
    /// Name.
    pub title: String,
    /// Description.
    pub description: Option<String>,
    /// `TextClassification` or `NamedEntityRecognition`.
    pub skill_name: Option<entity::enums::Skill>,
    /// Task-data fields the prompt reads.
    pub input_fields: Vec<String>,
    /// Label values the prompt outputs.
    pub output_classes: Vec<String>,
    /// Prompter extension: the version the prompt's Label Studio ML backend answers with;
    /// `null`: its newest version.
    pub deployed_version: Option<i64>,
    /// Registry: tags.
    pub tags: Vec<String>,
    /// Registry: the business domain.
    pub domain: Option<String>,
    /// Registry: `draft`, `deployed`, `paused` or `archived`.
    pub status: entity::enums::PromptStatus,
    /// Registry: parameters the versions inherit (an object), or null.
    #[schema(value_type = Option<Object>)]
    pub parameters: Option<Value>,
    /// Organization id.
    pub organization: i64,
    /// Creator.
    pub created_by: Option<UserSimple>,
    /// Created at.
    pub created_at: DateTime<Utc>,
    /// Updated at.
    pub updated_at: DateTime<Utc>,
}

impl PromptFields {
    /// The fields of `p` with its creator.
    pub fn new(p: model_interface::Model, creator: Option<UserSimple>) -> Self {
        PromptFields {
            id: p.id,
            title: p.title,
            description: p.description,
            skill_name: p.skill_name,
            input_fields: p.input_fields.0,
            output_classes: p.output_classes.0,
            deployed_version: p.deployed_version_id,
            tags: p.tags.0,
            domain: p.domain,
            status: p.status,
            parameters: p.parameters,
            organization: p.organization_id,
            created_by: creator,
            created_at: p.created_at,
            updated_at: p.updated_at,
        }
    }
}

/// A prompt as create and update return it (`associated_projects` as ids).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PromptView {
    /// The prompt's own fields.
    #[serde(flatten)]
    pub prompt: PromptFields,
    /// Project ids.
    pub associated_projects: Vec<i64>,
}

impl PromptView {
    /// The view of `p` with its project ids and creator.
    pub fn new(p: model_interface::Model, projects: Vec<i64>, creator: Option<UserSimple>) -> Self {
        PromptView {
            prompt: PromptFields::new(p, creator),
            associated_projects: projects,
        }
    }
}

/// A project a prompt works on.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AssociatedProject {
    /// Project id.
    pub id: i64,
    /// Project title.
    pub title: Option<String>,
}

/// A prompt as list and get return it, with counts and best score.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PromptDetailView {
    /// The prompt's own fields.
    #[serde(flatten)]
    pub prompt: PromptFields,
    /// Projects, as `{id, title}`.
    pub associated_projects: Vec<AssociatedProject>,
    /// Number of versions.
    pub versions_count: i64,
    /// Number of runs across all versions.
    pub runs_count: i64,
    /// Best version score (accuracy of its latest completed HasGT run), or null.
    pub best_score: Option<f64>,
}

/// Writable prompt fields (create and PATCH); `organization` and `created_by` are ignored.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[schema(example = json!({"title": "Review sentiment", "skill_name": "TextClassification", "associated_projects": [1], "input_fields": ["text"], "output_classes": ["Positive", "Negative"]}))]
pub struct PromptInput {
    /// Prompt name, at most 500 characters (required on create).
    pub title: Option<String>,
    /// Description; `null` clears it.
    #[serde(default, deserialize_with = "crate::util::double_option")]
    #[schema(value_type = Option<String>)]
    pub description: Option<Option<String>>,
    /// `TextClassification` (default) or `NamedEntityRecognition`.
    pub skill_name: Option<entity::enums::Skill>,
    /// Project ids the prompt works on; replaces the set on PATCH.
    pub associated_projects: Option<Vec<i64>>,
    /// Task-data fields the prompt reads, e.g. `["text"]`.
    pub input_fields: Option<Vec<String>>,
    /// Label values the prompt outputs, e.g. `["Negative", "Positive"]`.
    pub output_classes: Option<Vec<String>>,
    /// Prompter extension: the version that answers when a Label Studio uses this prompt as
    /// its ML backend (`/ml/prompts/{id}`); a version of this prompt, or `null` for its newest
    /// version.
    #[serde(default, deserialize_with = "crate::util::double_option")]
    #[schema(value_type = Option<i64>)]
    pub deployed_version: Option<Option<i64>>,
    /// Registry: tags (each 1 to 64 characters, at most 50; replaces the list).
    pub tags: Option<Vec<String>>,
    /// Registry: the business domain, at most 255 characters; `null` clears it.
    #[serde(default, deserialize_with = "crate::util::double_option")]
    #[schema(value_type = Option<String>)]
    pub domain: Option<Option<String>>,
    /// Registry: `draft`, `deployed`, `paused` or `archived`. Archiving hides the prompt from
    /// lists; paused and archived prompts' schedules do not fire.
    pub status: Option<entity::enums::PromptStatus>,
    /// Registry: parameters the versions inherit (a JSON object; `model_params` in it are the
    /// versions' default model parameters); `null` clears them.
    #[serde(default, deserialize_with = "crate::util::double_option")]
    #[schema(value_type = Option<Object>)]
    pub parameters: Option<Option<Value>>,
    /// Registry: why the deployed version or the status changes, kept as a comment of the
    /// prompt's history.
    pub reason: Option<String>,
}

/// Search, filters and ordering of the prompt list.
#[derive(Debug, Deserialize, IntoParams)]
pub struct PromptListQuery {
    /// Title or description contains (case-insensitive).
    pub search: Option<String>,
    /// Registry: comma-separated tags; a prompt must have every one.
    pub tags: Option<String>,
    /// Registry: the business domain (exact).
    pub domain: Option<String>,
    /// Registry: `draft`, `deployed`, `paused` or `archived`; without it archived prompts are
    /// left out.
    #[param(value_type = Option<entity::enums::PromptStatus>)]
    pub status: Option<String>,
    /// `id`, `title`, `created_at`, `updated_at`; `-` for descending (default `-created_at`).
    pub ordering: Option<String>,
}

/// Filters of the compatible-projects list.
#[derive(Debug, Deserialize, IntoParams)]
pub struct CompatibleQuery {
    /// `TextClassification` (default) or `NamedEntityRecognition`.
    #[param(value_type = Option<entity::enums::Skill>)]
    pub project_type: Option<String>,
    /// Comma-separated project ids.
    pub ids: Option<String>,
    /// Title contains (case-insensitive).
    pub title: Option<String>,
    /// `id`, `title`, `created_at`; `-` for descending.
    pub ordering: Option<String>,
}
