//! The forms of a prompt's page besides the editor (run, registry, schedule, comment) as they
//! start, or as they were sent when one comes back with problems: what was typed stays.
use super::editor::Editor;
use crate::views::prompts::PromptDetailView;
use serde::{Deserialize, Serialize};

/// What the forms of the prompt page were sent with, for the one that came back (the others
/// start as usual).
#[derive(Debug, Default)]
pub struct Sent {
    /// The version editor.
    pub editor: Option<Editor>,
    /// The run form.
    pub run: Option<RunValues>,
    /// The registry form.
    pub registry: Option<RegistryValues>,
    /// The schedule form.
    pub schedule: Option<ScheduleValues>,
    /// The label form.
    pub label: Option<LabelValues>,
    /// The comment form's text.
    pub comment: Option<String>,
}

/// The run form's fields, as sent and as shown.
#[derive(Debug, Deserialize, Serialize)]
pub struct RunValues {
    /// The project chosen (the first when none).
    #[serde(default)]
    pub project: Option<i64>,
    /// Which tasks: `HasGT`, `All`, `Sample`, `Custom`.
    #[serde(default)]
    pub subset: String,
    /// A sample's size, as typed.
    #[serde(default)]
    pub sample_size: String,
    /// The selected tasks' ids, as typed.
    #[serde(default)]
    pub task_ids: String,
    /// Checked: ask the provider for every task, none from the response cache.
    #[serde(default)]
    pub fresh: Option<String>,
    /// How to run: `online` or `batch`.
    #[serde(default)]
    pub execution: String,
}

impl Default for RunValues {
    fn default() -> Self {
        RunValues {
            project: None,
            subset: "HasGT".into(),
            sample_size: String::new(),
            task_ids: String::new(),
            fresh: None,
            execution: "online".into(),
        }
    }
}

/// The registry form's fields, as sent and as shown; `open` when it came back (its section
/// starts folded).
#[derive(Debug, Default, Deserialize, Serialize)]
pub struct RegistryValues {
    /// Shown unfolded.
    #[serde(default)]
    pub open: bool,
    /// Tags, comma-separated.
    #[serde(default)]
    pub tags: String,
    /// The domain.
    #[serde(default)]
    pub domain: String,
    /// The status' name.
    #[serde(default)]
    pub status: String,
    /// The deployed version's id, as chosen (empty: the newest).
    #[serde(default)]
    pub deployed_version: String,
    /// Why, for the history.
    #[serde(default)]
    pub reason: String,
}

impl RegistryValues {
    /// The form over the prompt's registry fields now.
    pub fn of(prompt: &PromptDetailView) -> RegistryValues {
        let p = &prompt.prompt;
        RegistryValues {
            open: false,
            tags: p.tags.join(", "),
            domain: p.domain.clone().unwrap_or_default(),
            status: p.status.as_str().to_string(),
            deployed_version: p
                .deployed_version
                .map(|v| v.to_string())
                .unwrap_or_default(),
            reason: String::new(),
        }
    }
}

/// The label form's fields, as sent and as shown; `open` when it came back.
#[derive(Debug, Default, Deserialize, Serialize)]
pub struct LabelValues {
    /// Shown unfolded.
    #[serde(default)]
    pub open: bool,
    /// The label's name.
    #[serde(default)]
    pub name: String,
    /// The version's id, as chosen.
    #[serde(default)]
    pub version: String,
    /// Protected (the box is offered to Owners and Administrators only).
    #[serde(default)]
    pub protected: bool,
    /// Whether the protection box was on the form (so its absence means "not protected"
    /// rather than "as it is").
    #[serde(default)]
    pub protection_shown: bool,
    /// Why, for the history.
    #[serde(default)]
    pub reason: String,
}

/// The schedule form's fields, as sent and as shown; `open` when it came back.
#[derive(Debug, Deserialize, Serialize)]
pub struct ScheduleValues {
    /// Shown unfolded.
    #[serde(default)]
    pub open: bool,
    /// The cron expression.
    #[serde(default)]
    pub cron: String,
    /// The IANA time zone.
    #[serde(default)]
    pub timezone: String,
    /// The project chosen.
    #[serde(default)]
    pub project: Option<i64>,
    /// Which tasks: `All`, `HasGT`, `Sample`.
    #[serde(default)]
    pub subset: String,
    /// The version's id, as chosen (empty: the deployed one).
    #[serde(default)]
    pub version: String,
}

impl Default for ScheduleValues {
    fn default() -> Self {
        ScheduleValues {
            open: false,
            cron: super::super::registry::FORM_CRON.into(),
            timezone: super::super::registry::FORM_TIMEZONE.into(),
            project: None,
            subset: "All".into(),
            version: String::new(),
        }
    }
}
