//! Prompt versions: the version view, its writable fields, list ordering, the default name
//! and the cost estimate.
use super::users::UserSimple;
use crate::llm::ModelParams;
use chrono::{DateTime, Utc};
use entity::model_version;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// A prompt version.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct VersionView {
    /// Version id.
    pub id: i64,
    /// Name, unique within the prompt.
    pub title: String,
    /// Prompt template.
    pub prompt: String,
    /// Provider.
    pub provider: entity::enums::Provider,
    /// Model id at the provider.
    pub provider_model_id: String,
    /// Model name for display (the provider's model id).
    pub model_display_name: String,
    /// Provider connection id.
    pub model_provider_connection: Option<i64>,
    /// Few-shot examples per call (0 = none).
    pub max_few_shot_examples: Option<i32>,
    /// Prompter extension: the version's model parameters (`{}` when it sets none; the
    /// connection's apply under them).
    pub model_params: ModelParams,
    /// Prompter extension: answers asked per task (1 to 9). Above 1 the prediction is the
    /// answer most of them agree on, scored by the share that agreed (`score_method:
    /// agreement`); every call is paid for.
    pub samples: i32,
    /// Prompter extension: other models that answer each task beside this one (`[]` when
    /// none); the prediction is the majority answer of all, scored by the share that agreed
    /// (`score_method: agreement`).
    pub jury: Vec<Juror>,
    /// Prompt id.
    pub parent_model: i64,
    /// Accuracy of the latest completed HasGT run (0..1), or null.
    pub score: Option<f64>,
    /// Organization id.
    pub organization: i64,
    /// Creator.
    pub created_by: Option<UserSimple>,
    /// Created at.
    pub created_at: DateTime<Utc>,
    /// Updated at.
    pub updated_at: DateTime<Utc>,
    /// Registry: the steps of a pipeline version; `null` for a single prompt.
    pub steps: Option<Vec<Step>>,
    /// Prompter extension: the calibration map applied to the scores of its predictions, or
    /// null (see `POST .../calibration`).
    pub calibration: Option<Calibration>,
}

impl VersionView {
    /// The view of `v` with its score and creator.
    pub fn new(v: model_version::Model, score: Option<f64>, creator: Option<UserSimple>) -> Self {
        let steps = Step::of_stored(v.steps.as_ref());
        let calibration = Calibration::of_stored(v.calibration.as_ref());
        VersionView {
            id: v.id,
            title: v.title,
            prompt: v.prompt,
            provider: v.provider,
            model_display_name: v.provider_model_id.clone(),
            provider_model_id: v.provider_model_id,
            model_provider_connection: v.model_provider_connection_id,
            max_few_shot_examples: v.max_few_shot_examples,
            model_params: ModelParams::from_stored(v.model_params.as_ref()),
            samples: v.samples,
            jury: Juror::of_stored(v.jury.as_ref()),
            parent_model: v.parent_model_id,
            score,
            organization: v.organization_id,
            created_by: creator,
            created_at: v.created_at,
            updated_at: v.updated_at,
            steps,
            calibration,
        }
    }
}

/// The default name of a new version.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DefaultVersionNameView {
    /// `v{n+1}`, free within the prompt.
    pub default_model_version_name: String,
    /// Always null.
    pub message: Option<String>,
}

/// Writable version fields (create and PATCH).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[schema(example = json!({"title": "v1", "prompt": "What is the sentiment of this review?\n\n{text}", "provider": "OpenAI", "provider_model_id": "gpt-4o-mini", "model_provider_connection": 1, "model_params": {"temperature": 0}}))]
pub struct VersionInput {
    /// Version name, unique within the prompt, at most 500 characters (required on create).
    pub title: Option<String>,
    /// Prompt template; task-data fields as `{field}` (Python `str.format` rules). Required on create.
    pub prompt: Option<String>,
    /// The model at the provider, e.g. `gpt-4o-mini` (required on create).
    pub provider_model_id: Option<String>,
    /// Provider; default `OpenAI`.
    pub provider: Option<entity::enums::Provider>,
    /// Provider connection of the caller's organization; `null` unlinks it.
    #[serde(default, deserialize_with = "crate::util::double_option")]
    #[schema(value_type = Option<i64>)]
    pub model_provider_connection: Option<Option<i64>>,
    /// Ground-truth examples to include in each call (0 disables).
    #[serde(default, deserialize_with = "crate::util::double_option")]
    #[schema(value_type = Option<i32>)]
    pub max_few_shot_examples: Option<Option<i32>>,
    /// Must equal the prompt in the path when given.
    pub parent_model: Option<i64>,
    /// Prompter extension: model parameters (`temperature`, `max_tokens`, `top_p`, `seed`,
    /// `reasoning_effort`, `extra`), over the connection's; what the model does not take is
    /// left out by the provider's rules. `null` clears them.
    #[serde(default, deserialize_with = "crate::util::double_option")]
    #[schema(value_type = Option<ModelParams>)]
    pub model_params: Option<Option<ModelParams>>,
    /// Prompter extension: answers asked per task, 1 (the default) to 9. Above 1 the
    /// prediction is the answer most of them agree on, scored by the share that agreed; samples
    /// are drawn at the version's temperature when above zero, else at 1.
    #[schema(minimum = 1, maximum = 9)]
    pub samples: Option<i32>,
    /// Prompter extension: other models that answer each task beside the version's own (at
    /// most 8; each is asked `samples` times, and `samples` times the models is at most 9).
    /// The prediction is the answer most of them agree on, scored by the share that agreed;
    /// every call is paid for. `null` or `[]` clears it.
    #[serde(default, deserialize_with = "crate::util::double_option")]
    #[schema(value_type = Option<Vec<Juror>>)]
    pub jury: Option<Option<Vec<Juror>>>,
    /// Registry: the steps of a pipeline, run in order for each task; a step's output fields
    /// are placeholders of the later steps (`{summarize.summary}`), and the last step answers
    /// the label config (its prompt, connection, model and parameters become the version's).
    /// Absent or one step: a single prompt. `null` turns a pipeline back into one.
    #[serde(default, deserialize_with = "crate::util::double_option")]
    #[schema(value_type = Option<Vec<Step>>)]
    pub steps: Option<Option<Vec<Step>>>,
}

/// One step of a pipeline version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "summarize", "prompt": "Summarize this review in one sentence: {text}", "output_fields": ["summary"]}))]
pub struct Step {
    /// The step's name: a letter, then letters, digits or `_` (at most 64); later steps read its
    /// outputs as `{name.field}`.
    pub name: String,
    /// The step's prompt template: task fields as `{field}`, earlier steps' outputs as
    /// `{step.field}`.
    pub prompt: String,
    /// Its provider connection (default: the version's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_provider_connection: Option<i64>,
    /// Its model (default: the version's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_model_id: Option<String>,
    /// Its model parameters (default: the version's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_params: Option<ModelParams>,
    /// The text fields an intermediate step answers (default `["output"]`); the last step
    /// answers the label config and takes none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_fields: Option<Vec<String>>,
}

impl Step {
    /// The fields an intermediate step answers.
    pub fn outputs(&self) -> Vec<String> {
        self.output_fields
            .clone()
            .unwrap_or_else(|| vec!["output".to_string()])
    }

    /// The steps stored on a version, if it is a pipeline.
    pub fn of_stored(stored: Option<&serde_json::Value>) -> Option<Vec<Step>> {
        stored
            .and_then(|v| serde_json::from_value::<Vec<Step>>(v.clone()).ok())
            .filter(|steps| steps.len() > 1)
    }
}

/// Another model that answers each task of a version beside its own (agreement across
/// models). It is called with the version's prompt, few-shot examples and parameters (those of
/// its connection under them) and paid at its own price.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"provider_model_id": "gpt-4.1-mini", "model_provider_connection": 1}))]
pub struct Juror {
    /// The model at the provider (1 to 255 characters).
    pub provider_model_id: String,
    /// Its provider connection (default: the version's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_provider_connection: Option<i64>,
}

impl Juror {
    /// The jury stored on a version (none when unset or unreadable).
    pub fn of_stored(stored: Option<&serde_json::Value>) -> Vec<Juror> {
        stored
            .and_then(|v| serde_json::from_value::<Vec<Juror>>(v.clone()).ok())
            .unwrap_or_default()
    }

    /// What a version stores of `jury`: `None` for none.
    pub fn to_stored(jury: &[Juror]) -> Option<serde_json::Value> {
        (!jury.is_empty()).then(|| serde_json::to_value(jury).unwrap_or_default())
    }
}

/// Ordering of the version list.
#[derive(Debug, Deserialize, IntoParams)]
pub struct VersionListQuery {
    /// `id` (default), `title`, `created_at`, `updated_at`; `-` for descending.
    pub ordering: Option<String>,
}

/// A cost estimate (Label Studio's `InferenceRunCostEstimate`; costs are decimal strings).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CostEstimateView {
    /// Prompt cost, USD.
    pub prompt_cost_usd: Option<String>,
    /// Completion cost, USD.
    pub completion_cost_usd: Option<String>,
    /// Total, USD.
    pub total_cost_usd: Option<String>,
    /// True when no cost could be estimated: a model with no known price (the token counts
    /// are still estimated) or no associated project (nothing is).
    pub is_error: bool,
    /// `UnknownModel` or `NoProject`.
    pub error_type: Option<String>,
    /// Explanation.
    pub error_message: Option<String>,
    /// Prompter extension: prompt tokens over the project.
    pub prompt_tokens: u64,
    /// Prompter extension: estimated completion tokens.
    pub completion_tokens: u64,
    /// Prompter extension: tasks priced.
    pub tasks: u64,
    /// Prompter extension: images over the project (image projects).
    pub images: u64,
    /// Prompter extension: of `prompt_tokens`, those of images, by the provider's rules.
    pub image_tokens: u64,
    /// Prompter extension: sampled images whose size could not be read (counted as
    /// 1024×1024).
    pub images_assumed: u64,
    /// Prompter extension: answers asked per task (the version's `samples` times the models
    /// that answer: its own and its jury's); the tokens and costs count every one.
    pub samples: u64,
}

/// How a version's scores are calibrated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum CalibrationMethod {
    /// Isotonic regression: scores to the accuracy observed at them, never decreasing.
    #[default]
    Isotonic,
    /// Temperature scaling: one number that softens (or sharpens) every score's log-odds.
    Temperature,
}

impl CalibrationMethod {
    /// Its name, as `stats::calibration::CalibrationMap::fit` takes it.
    pub fn as_str(self) -> &'static str {
        match self {
            CalibrationMethod::Isotonic => "isotonic",
            CalibrationMethod::Temperature => "temperature",
        }
    }
}

/// What to fit a version's calibration map on.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"run": 12, "method": "isotonic"}))]
pub struct CalibrationInput {
    /// A run of this version with scored predictions on at least 20 tasks with ground truth.
    pub run: i64,
    /// `isotonic` (default) or `temperature`.
    #[serde(default)]
    pub method: CalibrationMethod,
}

/// A version's calibration map, as stored and shown: applied to the scores of the predictions
/// its runs write from then on (the raw score is kept in the prediction's `extra.raw_score`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Calibration {
    /// The map: `{"method": "isotonic", "knots": [[score, accuracy], ...]}` or
    /// `{"method": "temperature", "temperature": t}`.
    pub map: crate::stats::calibration::CalibrationMap,
    /// The run it was fitted on.
    pub run: i64,
    /// Labeled predictions it was fitted on.
    pub labeled: u64,
    /// The expected calibration error of that run's scores before the map.
    pub ece_before: Option<f64>,
    /// The same after the map, on the same labels (so optimistic: judge it on the next run).
    pub ece_after: Option<f64>,
    /// When it was fitted.
    pub fitted_at: DateTime<Utc>,
}

impl Calibration {
    /// The calibration stored on a version, if any (a stale form reads as none).
    pub fn of_stored(stored: Option<&serde_json::Value>) -> Option<Calibration> {
        stored.and_then(|v| serde_json::from_value(v.clone()).ok())
    }
}
