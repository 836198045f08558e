//! The registry's wire types: comments, schedules, and the export document of a prompt with
//! its import request and answer.
use super::users::UserSimple;
use chrono::{DateTime, Utc};
use entity::enums::{CommentKind, PromptStatus, ScheduleStatus, Subset};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

/// A comment of a prompt's history.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CommentView {
    /// Comment id.
    pub id: i64,
    /// The prompt.
    pub prompt: i64,
    /// The version it refers to, if any.
    pub version: Option<i64>,
    /// `comment`, or `deployment` / `status` for the reason of such a change.
    pub kind: CommentKind,
    /// The text.
    pub text: String,
    /// Who wrote it.
    pub author: Option<UserSimple>,
    /// When.
    pub created_at: DateTime<Utc>,
}

/// A new comment.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"text": "v3 wins on the March sample; deploying it Monday.", "version": 3}))]
pub struct CommentInput {
    /// The text, 1 to 10,000 characters.
    pub text: Option<String>,
    /// A version of this prompt the comment refers to.
    pub version: Option<i64>,
}

/// A schedule of a prompt.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ScheduleView {
    /// Schedule id.
    pub id: i64,
    /// The prompt.
    pub prompt: i64,
    /// The version it runs; `null`: the prompt's deployed version when it fires.
    pub version: Option<i64>,
    /// The deployment label it follows instead of a version: each firing runs the version the
    /// label points at then.
    pub label: Option<String>,
    /// The project it runs on.
    pub project: i64,
    /// The tasks of each run.
    pub project_subset: Subset,
    /// Whether each run predicts only tasks without a prediction of the version yet.
    pub only_missing_predictions: bool,
    /// Five fields as in Unix cron (minute hour day-of-month month weekday; weekday 0 and 7
    /// are Sunday, names `sun`–`sat` and `jan`–`dec` too), or six with seconds first.
    pub cron: String,
    /// The IANA time zone the expression is read in.
    pub timezone: String,
    /// `active` or `paused`.
    pub status: ScheduleStatus,
    /// The next firing; `null` while paused.
    pub next_run_at: Option<DateTime<Utc>>,
    /// The last firing.
    pub last_run_at: Option<DateTime<Utc>>,
    /// The run the last firing created.
    pub last_run: Option<i64>,
    /// The runs its firings created, newest first (at most 20).
    pub runs: Vec<i64>,
    /// Creator.
    pub created_by: Option<UserSimple>,
    /// Created at.
    pub created_at: DateTime<Utc>,
    /// Updated at.
    pub updated_at: DateTime<Utc>,
}

/// A schedule to create, or the fields to change (PATCH).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[schema(example = json!({"cron": "0 2 * * *", "timezone": "Europe/Paris", "project": 1, "project_subset": "All"}))]
pub struct ScheduleInput {
    /// Cron expression (required on create): `0 2 * * *` is every night at 02:00.
    pub cron: Option<String>,
    /// IANA time zone; `UTC` by default.
    pub timezone: Option<String>,
    /// The version to run; `null` or absent: the deployed version at each firing.
    #[serde(default, deserialize_with = "crate::util::double_option")]
    #[schema(value_type = Option<i64>)]
    pub version: Option<Option<i64>>,
    /// A deployment label to follow instead of a version (`staging`, `production`…): each
    /// firing runs the version the label points at then; the label must be set. `null`: none.
    #[serde(default, deserialize_with = "crate::util::double_option")]
    #[schema(value_type = Option<String>)]
    pub label: Option<Option<String>>,
    /// The project (required on create); one of the prompt's projects or any of the
    /// organization's (it is then associated).
    pub project: Option<i64>,
    /// `All` (default), `HasGT` or `Sample`.
    pub project_subset: Option<Subset>,
    /// Only tasks without a prediction of the version; true by default.
    pub only_missing_predictions: Option<bool>,
    /// `active` (default) or `paused`.
    pub status: Option<ScheduleStatus>,
}

/// A cron expression and time zone to preview.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SchedulePreviewQuery {
    /// The expression, as a schedule takes it: `0 3 * * 1` is Mondays at 03:00.
    pub cron: String,
    /// IANA time zone; `UTC` when absent or empty.
    pub timezone: Option<String>,
}

/// The next firings of a cron expression in a time zone.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"cron": "0 3 * * 1", "timezone": "Europe/Berlin",
    "next_run_at": ["2026-12-07T02:00:00Z", "2026-12-14T02:00:00Z", "2026-12-21T02:00:00Z"],
    "next_local": ["2026-12-07T03:00:00+01:00", "2026-12-14T03:00:00+01:00", "2026-12-21T03:00:00+01:00"]}))]
pub struct SchedulePreviewView {
    /// The expression, trimmed.
    pub cron: String,
    /// The time zone it is read in.
    pub timezone: String,
    /// The next three firings, in UTC.
    pub next_run_at: Vec<DateTime<Utc>>,
    /// The same firings as local times of the zone, with their offsets (RFC 3339).
    pub next_local: Vec<String>,
}

/// The format name of an exported prompt.
pub const EXPORT_FORMAT: &str = "prompter.prompt";

/// The version of the export format this server writes and reads.
pub const EXPORT_FORMAT_VERSION: u32 = 1;

/// A prompt as one portable JSON document: its fields, versions (with steps), parameters and
/// schedules, and optionally its few-shot examples. No secret and no id of the source
/// installation: connections are named by provider and model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PromptDocument {
    /// Always `prompter.prompt`.
    pub format: String,
    /// The format's version (1).
    pub format_version: u32,
    /// The prompt's own fields.
    pub prompt: PromptAsset,
    /// Its versions, oldest first.
    pub versions: Vec<VersionAsset>,
    /// Its deployment labels other than `production` (which is `prompt.deployed_version`).
    #[serde(default)]
    pub labels: Vec<LabelAsset>,
    /// Its schedules (their project is chosen at import).
    pub schedules: Vec<ScheduleAsset>,
    /// Few-shot examples (task data with their ground-truth result), when asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<Object>>)]
    pub examples: Option<Vec<Value>>,
}

/// A prompt's portable fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PromptAsset {
    /// Name.
    pub title: String,
    /// Description.
    pub description: Option<String>,
    /// Skill.
    pub skill_name: Option<entity::enums::Skill>,
    /// Input fields.
    pub input_fields: Vec<String>,
    /// Output classes.
    pub output_classes: Vec<String>,
    /// Tags.
    pub tags: Vec<String>,
    /// Domain.
    pub domain: Option<String>,
    /// Status.
    pub status: PromptStatus,
    /// Parameters.
    #[schema(value_type = Option<Object>)]
    pub parameters: Option<Value>,
    /// The title of the deployed version, if one is set.
    pub deployed_version: Option<String>,
}

/// A version's portable fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct VersionAsset {
    /// Name (unique in the prompt).
    pub title: String,
    /// The prompt text (the last step's, for a pipeline).
    pub prompt: String,
    /// Provider of its connection.
    pub provider: entity::enums::Provider,
    /// Model at the provider.
    pub provider_model_id: String,
    /// Model parameters.
    #[schema(value_type = Option<Object>)]
    pub model_params: Option<Value>,
    /// Few-shot examples per call.
    pub max_few_shot_examples: Option<i32>,
    /// Answers asked per task (1 when absent, as in documents exported before it existed).
    #[serde(default = "one")]
    pub samples: i32,
    /// Other models that answer each task (none when absent), each naming its connection by
    /// provider.
    #[serde(default)]
    pub jury: Vec<JurorAsset>,
    /// Pipeline steps, each naming its connection by provider.
    #[schema(value_type = Option<Vec<Object>>)]
    pub steps: Option<Value>,
}

/// A juror's portable fields: its connection travels as its provider's name (the version's
/// when absent), as a pipeline step's does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JurorAsset {
    /// Model at the provider.
    pub provider_model_id: String,
    /// Provider of its connection; absent: the version's connection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<entity::enums::Provider>,
}

/// A schedule's portable fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ScheduleAsset {
    /// Cron expression.
    pub cron: String,
    /// Time zone.
    pub timezone: String,
    /// The title of the version it runs; `null`: the deployed one.
    pub version: Option<String>,
    /// The label it follows instead of a version, if any.
    #[serde(default)]
    pub label: Option<String>,
    /// Subset.
    pub project_subset: Subset,
    /// Only missing predictions.
    pub only_missing_predictions: bool,
    /// Status.
    pub status: ScheduleStatus,
}

/// A deployment label of an exported prompt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LabelAsset {
    /// The label's name.
    pub name: String,
    /// The title of the version it points at.
    pub version: String,
    /// Protected (kept at import only when the importer is an Owner or Administrator).
    #[serde(default)]
    pub protected: bool,
}

/// Options of an export.
#[derive(Debug, Deserialize, IntoParams)]
pub struct ExportQuery {
    /// `true` adds the few-shot example set: up to 20 ground-truth tasks of the prompt's
    /// first project (data and result).
    #[param(value_type = Option<bool>)]
    pub include_examples: Option<String>,
}

/// Options of an import.
#[derive(Debug, Deserialize, IntoParams)]
pub struct ImportQuery {
    /// `true` imports the document as a new prompt even when this organization already
    /// imported the same document (by default that import's prompt is answered, with 200).
    pub copy: Option<String>,
    /// The project to associate a bare document's prompt (and its schedules) with; the
    /// wrapped form names it in the body.
    pub project: Option<i64>,
}

/// An import: the document, and how to place it in this organization.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"document": {"format": "prompter.prompt", "format_version": 1}, "project": 1, "connections": {"OpenAI": 2}}))]
pub struct ImportInput {
    /// An exported prompt document.
    #[schema(value_type = Object)]
    pub document: Value,
    /// The project to associate the prompt (and its schedules) with; schedules are not
    /// imported without one.
    pub project: Option<i64>,
    /// A connection id per provider name; a provider not named uses the organization's first
    /// connection of that provider.
    #[serde(default)]
    pub connections: std::collections::BTreeMap<String, i64>,
    /// A new title (default: the document's).
    pub title: Option<String>,
}

/// The body of an import: the document exactly as `GET /api/prompts/{id}/export` returns it
/// (placed with the query's `project`), or wrapped with how to place it (`{"document": …}`).
#[derive(Debug, ToSchema)]
#[serde(untagged)]
pub enum ImportBody {
    /// The document wrapped with its placement.
    Wrapped(ImportInput),
    /// The exported document as it is.
    #[schema(value_type = PromptDocument)]
    Document(Value),
}

impl<'de> Deserialize<'de> for ImportBody {
    /// An object with a `document` key is the wrapped form (its errors name its fields);
    /// anything else is a document, read by the import with its own messages.
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        if value.get("document").is_some() {
            serde_json::from_value(value)
                .map(ImportBody::Wrapped)
                .map_err(serde::de::Error::custom)
        } else {
            Ok(ImportBody::Document(value))
        }
    }
}

impl ImportBody {
    /// The import this body asks for; a bare document goes to `project`, with the
    /// organization's connections.
    pub fn into_input(self, project: Option<i64>) -> ImportInput {
        match self {
            ImportBody::Wrapped(input) => input,
            ImportBody::Document(document) => ImportInput {
                document,
                project,
                connections: Default::default(),
                title: None,
            },
        }
    }
}

/// What an import created (or, for a document already imported, what that import made).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ImportedView {
    /// The new prompt's id (or the earlier import's prompt).
    pub prompt: i64,
    /// Its versions' ids, in the document's order.
    pub versions: Vec<i64>,
    /// Its schedules' ids.
    pub schedules: Vec<i64>,
    /// What could not be carried over, in words.
    pub notes: Vec<String>,
}

/// The default of [`VersionAsset::samples`].
fn one() -> i32 {
    1
}

/// A deployment label: a name that points at one version of the prompt. `production` is the
/// prompt's deployed version (its `deployed_version`), the one its ML backend and its
/// schedules without a version answer with.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct LabelView {
    /// The label's name.
    pub name: String,
    /// The version it points at.
    pub version: i64,
    /// That version's title.
    pub version_title: String,
    /// Only Owners and Administrators move or remove a protected label.
    pub protected: bool,
    /// Who last moved it.
    pub updated_by: Option<UserSimple>,
    /// When it was last moved.
    pub updated_at: DateTime<Utc>,
}

/// Where a label is to point.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"version": 3, "reason": "v3 wins on held-out data (p = 0.01)."}))]
pub struct LabelInput {
    /// A version of this prompt.
    pub version: Option<i64>,
    /// Protect the label (only Owners and Administrators move or remove a protected label, and
    /// only they change this); omitted: as it is (a new label is not protected).
    pub protected: Option<bool>,
    /// Why, kept in the prompt's history (at most 10,000 characters).
    pub reason: Option<String>,
}

/// Why a label is removed.
#[derive(Debug, Deserialize, IntoParams)]
pub struct LabelDeleteQuery {
    /// Why, kept in the prompt's history.
    pub reason: Option<String>,
}
