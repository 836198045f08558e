//! The version editor: every parameter a version has (a pipeline's steps, the few-shot count,
//! temperature, output tokens, top P, seed, reasoning effort and extra parameters as name and
//! value rows) as form fields a person reads and edits, read back from the sent form into
//! the changes of a derived version (or the fields of a first one).
use crate::error::ApiError;
use crate::llm::{ModelParams, REASONING_EFFORTS};
use crate::services::versions::VersionChanges;
use crate::views::versions::{Juror, Step, VersionInput, VersionView};
use crate::web::forms::non_empty;
use crate::web::problems::Input;
use serde::Serialize;
use serde_json::Value;

/// The fields of a sent form, in the order they came, names repeated for rows.
#[derive(Debug, Default)]
pub(super) struct Fields(pub Vec<(String, String)>);

impl Fields {
    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn text(&self, name: &str) -> String {
        self.get(name).unwrap_or_default().to_string()
    }

    fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    fn id(&self, name: &str) -> Option<i64> {
        self.get(name).and_then(|v| v.trim().parse().ok())
    }
}

/// One extra parameter: its name and its value as a person writes it.
#[derive(Debug, Default, Clone, PartialEq, Serialize)]
pub(super) struct ExtraRow {
    name: String,
    value: String,
}

/// Model parameters as the editor shows them; blank is "not set".
#[derive(Debug, Default, Clone, PartialEq, Serialize)]
pub(super) struct ParamsForm {
    temperature: String,
    max_tokens: String,
    top_p: String,
    seed: String,
    reasoning_effort: String,
    extra: Vec<ExtraRow>,
}

/// An extra parameter's value as written in the editor: numbers, `true`, `false`, `null`,
/// quoted text, lists and objects read as JSON; anything else is text.
fn read_value(text: &str) -> Value {
    let text = text.trim();
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_string()))
}

/// The inverse of [`read_value`]: text is shown bare unless it would read back as something
/// else (then quoted).
fn show_value(value: &Value) -> String {
    match value {
        Value::String(s) if s.trim() == s && serde_json::from_str::<Value>(s).is_err() => s.clone(),
        other => other.to_string(),
    }
}

fn number<T: std::str::FromStr>(
    text: &str,
    field: &str,
    hint: &str,
) -> Result<Option<T>, ApiError> {
    match non_empty(Some(text.to_string())) {
        Some(t) => t
            .parse::<T>()
            .map(Some)
            .map_err(|_| ApiError::field(field, hint)),
        None => Ok(None),
    }
}

impl ParamsForm {
    fn of(p: &ModelParams) -> ParamsForm {
        ParamsForm {
            temperature: p.temperature.map(|t| t.to_string()).unwrap_or_default(),
            max_tokens: p.max_tokens.map(|t| t.to_string()).unwrap_or_default(),
            top_p: p.top_p.map(|t| t.to_string()).unwrap_or_default(),
            seed: p.seed.map(|t| t.to_string()).unwrap_or_default(),
            reasoning_effort: p.reasoning_effort.clone().unwrap_or_default(),
            extra: p
                .extra
                .iter()
                .flatten()
                .map(|(name, value)| ExtraRow {
                    name: name.clone(),
                    value: show_value(value),
                })
                .collect(),
        }
    }

    /// The parameters sent under names starting with `prefix`.
    fn read(fields: &Fields, prefix: &str) -> ParamsForm {
        let names = fields.all(&format!("{prefix}extra_name"));
        let values = fields.all(&format!("{prefix}extra_value"));
        ParamsForm {
            temperature: fields.text(&format!("{prefix}temperature")),
            max_tokens: fields.text(&format!("{prefix}max_tokens")),
            top_p: fields.text(&format!("{prefix}top_p")),
            seed: fields.text(&format!("{prefix}seed")),
            reasoning_effort: fields.text(&format!("{prefix}reasoning_effort")),
            extra: names
                .iter()
                .zip(values.iter().chain(std::iter::repeat(&"")))
                .filter(|(n, v)| !n.trim().is_empty() || !v.trim().is_empty())
                .map(|(n, v)| ExtraRow {
                    name: n.trim().to_string(),
                    value: v.to_string(),
                })
                .collect(),
        }
    }

    /// The parameters written here (`None` when every field is blank); errors name `what`.
    fn params(&self, what: &str) -> Result<Option<ModelParams>, ApiError> {
        let field = |name: &str| format!("{what}{name}");
        let mut extra = serde_json::Map::new();
        for row in &self.extra {
            if row.name.is_empty() {
                return Err(ApiError::field(
                    &field("Extra parameters"),
                    format!(
                        "Give the name of the parameter whose value is {}.",
                        row.value
                    ),
                ));
            }
            extra.insert(row.name.clone(), read_value(&row.value));
        }
        let effort = non_empty(Some(self.reasoning_effort.clone()));
        if let Some(e) = &effort
            && !REASONING_EFFORTS.contains(&e.as_str())
        {
            return Err(ApiError::field(
                &field("Reasoning effort"),
                format!("Choose one of {}.", REASONING_EFFORTS.join(", ")),
            ));
        }
        let params = ModelParams {
            temperature: number(
                &self.temperature,
                &field("Temperature"),
                "Enter a number from 0 to 2.",
            )?,
            max_tokens: number(
                &self.max_tokens,
                &field("Max output tokens"),
                "Enter a whole number.",
            )?,
            top_p: number(&self.top_p, &field("Top P"), "Enter a number from 0 to 1.")?,
            seed: number(&self.seed, &field("Seed"), "Enter a whole number.")?,
            reasoning_effort: effort,
            extra: (!extra.is_empty()).then_some(extra),
        };
        Ok((params != ModelParams::default()).then_some(params))
    }
}

/// A step before the last of a pipeline, as the editor shows it; blank connection, model,
/// outputs and parameters are the version's (or the default `output`).
#[derive(Debug, Default, Clone, PartialEq, Serialize)]
pub(super) struct StepForm {
    name: String,
    prompt: String,
    outputs: String,
    connection: Option<i64>,
    model: String,
    params: ParamsForm,
}

impl StepForm {
    fn of(step: &Step) -> StepForm {
        StepForm {
            name: step.name.clone(),
            prompt: step.prompt.clone(),
            outputs: step.output_fields.clone().unwrap_or_default().join(", "),
            connection: step.model_provider_connection,
            model: step.provider_model_id.clone().unwrap_or_default(),
            params: step
                .model_params
                .as_ref()
                .map(ParamsForm::of)
                .unwrap_or_default(),
        }
    }

    fn step(&self, n: usize) -> Result<Step, ApiError> {
        let what = format!("Step {n} ({}): ", self.name.trim());
        let outputs: Vec<String> = self
            .outputs
            .split(',')
            .map(|o| o.trim().to_string())
            .filter(|o| !o.is_empty())
            .collect();
        Ok(Step {
            name: self.name.trim().to_string(),
            prompt: self.prompt.clone(),
            model_provider_connection: self.connection,
            provider_model_id: non_empty(Some(self.model.clone())),
            model_params: self.params.params(&what)?,
            output_fields: (!outputs.is_empty()).then_some(outputs),
        })
    }
}

/// Another model of the version's jury, as the editor shows it; a blank connection is the
/// version's, a blank model drops the row.
#[derive(Debug, Default, Clone, PartialEq, Serialize)]
pub(super) struct JurorForm {
    connection: Option<i64>,
    model: String,
}

impl JurorForm {
    /// The rows of the sent form (`juror_connection` and `juror_model`, repeated in order).
    fn read(fields: &Fields) -> Vec<JurorForm> {
        let connections = fields.all("juror_connection");
        fields
            .all("juror_model")
            .into_iter()
            .enumerate()
            .map(|(i, model)| JurorForm {
                connection: connections.get(i).and_then(|c| c.trim().parse().ok()),
                model: model.trim().to_string(),
            })
            .filter(|j| !j.model.is_empty())
            .take(crate::limits::MAX_JURORS + 1)
            .collect()
    }

    fn juror(&self) -> Juror {
        Juror {
            provider_model_id: self.model.clone(),
            model_provider_connection: self.connection,
        }
    }
}

/// What the version editor shows: the version it starts from and every field of it.
#[derive(Debug, Default, Clone, Serialize)]
pub(in crate::web::pages) struct Editor {
    /// The version a save derives from (none for a prompt's first version).
    pub source: Option<i64>,
    /// The prompt (a pipeline's last step's).
    pub prompt: String,
    /// The connection.
    pub connection: Option<i64>,
    /// The model at the provider.
    pub model: String,
    /// Few-shot examples per call.
    pub few_shot: String,
    /// Answers asked per task.
    pub samples: String,
    /// Other models that answer each task.
    jury: Vec<JurorForm>,
    params: ParamsForm,
    /// A pipeline's steps before the last (none for a single prompt).
    steps: Vec<StepForm>,
    /// A pipeline's last step's name.
    last_step: String,
    /// The new version's name as typed (blank: the default name).
    pub title: String,
    /// The reasoning efforts to choose from.
    efforts: &'static [&'static str],
}

impl Editor {
    /// A blank editor over `prompt`, `connection` and `model` (a prompt's first version).
    pub fn starter(prompt: String, connection: Option<i64>, model: String) -> Editor {
        Editor {
            prompt,
            connection,
            model,
            few_shot: "0".into(),
            samples: "1".into(),
            efforts: &REASONING_EFFORTS,
            ..Default::default()
        }
    }

    /// The editor over version `v`: a save derives from it.
    pub fn of(v: &VersionView) -> Editor {
        let steps = v.steps.clone().unwrap_or_default();
        let (earlier, last) = match steps.split_last() {
            Some((last, earlier)) => (earlier.to_vec(), last.name.clone()),
            None => (vec![], String::new()),
        };
        Editor {
            source: Some(v.id),
            prompt: v.prompt.clone(),
            connection: v.model_provider_connection,
            model: v.provider_model_id.clone(),
            few_shot: v.max_few_shot_examples.unwrap_or(0).to_string(),
            samples: v.samples.to_string(),
            jury: v
                .jury
                .iter()
                .map(|j| JurorForm {
                    connection: j.model_provider_connection,
                    model: j.provider_model_id.clone(),
                })
                .collect(),
            params: ParamsForm::of(&v.model_params),
            steps: earlier.iter().map(StepForm::of).collect(),
            last_step: last,
            title: String::new(),
            efforts: &REASONING_EFFORTS,
        }
    }

    /// The editor as a sent form filled it in.
    pub(super) fn read(fields: &Fields) -> Editor {
        let count = fields
            .get("step_count")
            .and_then(|n| n.trim().parse::<usize>().ok())
            .unwrap_or(0)
            .min(crate::limits::MAX_PIPELINE_STEPS);
        let steps = (0..count)
            .map(|i| {
                let p = format!("step{i}_");
                StepForm {
                    name: fields.text(&format!("{p}name")),
                    prompt: fields.text(&format!("{p}prompt")),
                    outputs: fields.text(&format!("{p}outputs")),
                    connection: fields.id(&format!("{p}connection")),
                    model: fields.text(&format!("{p}model")),
                    params: ParamsForm::read(fields, &p),
                }
            })
            .collect();
        Editor {
            source: fields.id("source"),
            prompt: fields.text("prompt"),
            connection: fields.id("connection"),
            model: fields.text("model"),
            few_shot: fields.text("few_shot"),
            samples: fields.text("samples"),
            jury: JurorForm::read(fields),
            params: ParamsForm::read(fields, ""),
            steps,
            last_step: fields.text("last_step"),
            title: fields.text("title"),
            efforts: &REASONING_EFFORTS,
        }
    }

    fn few_shot(&self) -> Result<Option<i32>, ApiError> {
        number(
            &self.few_shot,
            "Few-shot examples",
            "Enter a whole number, 0 for none.",
        )
    }

    /// Answers per task: blank is 1.
    fn samples(&self) -> Result<i32, ApiError> {
        Ok(number(
            &self.samples,
            "Answers per task",
            "Enter a whole number from 1 to 9.",
        )?
        .unwrap_or(1))
    }

    /// The changes the editor makes to its source version (whose steps are `source_steps`),
    /// bound to a connection of `provider`: everything the editor shows.
    pub fn changes(
        &self,
        title: String,
        provider: entity::enums::Provider,
        source_steps: Option<Vec<Step>>,
    ) -> Result<VersionChanges, ApiError> {
        let steps = match (self.steps.is_empty(), source_steps) {
            (false, Some(source)) => {
                let mut list = self
                    .steps
                    .iter()
                    .enumerate()
                    .map(|(i, s)| s.step(i + 1))
                    .collect::<Result<Vec<Step>, ApiError>>()?;
                // The last step keeps what the editor shows as the version's (they mirror it).
                let Some(mut last) = source.last().cloned() else {
                    return Err(ApiError::field("steps", "The version has no steps."));
                };
                last.name = self.last_step.trim().to_string();
                last.prompt = self.prompt.clone();
                list.push(last);
                Some(Some(list))
            }
            _ => None,
        };
        Ok(VersionChanges {
            title: Some(title),
            prompt: Some(self.prompt.clone()),
            provider_model_id: Some(self.model.trim().to_string()),
            provider: Some(provider),
            model_provider_connection: Some(self.connection),
            max_few_shot_examples: Some(self.few_shot()?),
            model_params: Some(self.params.params("")?),
            samples: Some(self.samples()?),
            jury: Some(self.jury.iter().map(JurorForm::juror).collect()),
            steps,
        })
    }

    /// The fields of a prompt's first version, bound to a connection of `provider`.
    pub fn input(
        &self,
        title: String,
        provider: entity::enums::Provider,
    ) -> Result<VersionInput, ApiError> {
        Ok(VersionInput {
            title: Some(title),
            prompt: Some(self.prompt.clone()),
            provider_model_id: Some(self.model.trim().to_string()),
            provider: Some(provider),
            model_provider_connection: Some(self.connection),
            max_few_shot_examples: Some(self.few_shot()?),
            parent_model: None,
            model_params: Some(self.params.params("")?),
            samples: Some(self.samples()?),
            jury: Some(Some(self.jury.iter().map(JurorForm::juror).collect())),
            steps: None,
        })
    }
}

/// The editor's inputs, by the names errors give them: the API's field names, and the
/// labels the editor's own checks use (see [`ParamsForm::params`]).
pub(super) fn inputs() -> Vec<Input> {
    vec![
        Input::text(&["title"], "version-title", "Name"),
        Input::text(&["prompt"], "version-prompt", "Prompt"),
        Input::text(&["provider_model_id", "model"], "version-model", "Model"),
        Input::choice(
            &["model_provider_connection", "connection", "provider"],
            "version-connection",
            "Connection",
        ),
        Input::text(
            &["max_few_shot_examples", "Few-shot examples"],
            "version-few-shot",
            "Few-shot examples",
        ),
        Input::text(
            &["samples", "Answers per task"],
            "version-samples",
            "Answers per task",
        ),
        Input::text(&["jury"], "version-jury", "Other models that answer"),
        Input::text(&["Temperature"], "version-temperature", "Temperature"),
        Input::text(
            &["Max output tokens"],
            "version-max-tokens",
            "Max output tokens",
        ),
        Input::text(&["Top P"], "version-top-p", "Top P"),
        Input::text(&["Seed"], "version-seed", "Seed"),
        Input::choice(
            &["Reasoning effort"],
            "version-reasoning-effort",
            "Reasoning effort",
        ),
        Input::text(&["Extra parameters"], "version-extra", "Other parameters"),
        Input::text(&["steps", "last_step"], "steps", "Steps"),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_model_parameter_survives_the_form() {
        let mut extra = serde_json::Map::new();
        for (k, v) in [
            ("presence_penalty", json!(0.5)),
            ("user", json!("team-a")),
            ("tag", json!("42")),
            ("stop", json!(["\n\n"])),
            ("logprobs", json!(true)),
            ("padded", json!(" x ")),
        ] {
            extra.insert(k.to_string(), v);
        }
        // Every field named: a new parameter fails to compile here until the form shows it.
        let params = ModelParams {
            temperature: Some(0.7),
            max_tokens: Some(300),
            top_p: Some(0.9),
            seed: Some(-7),
            reasoning_effort: Some("low".into()),
            extra: Some(extra),
        };
        let shown = ParamsForm::of(&params);
        let mut fields = vec![
            ("temperature".to_string(), shown.temperature.clone()),
            ("max_tokens".to_string(), shown.max_tokens.clone()),
            ("top_p".to_string(), shown.top_p.clone()),
            ("seed".to_string(), shown.seed.clone()),
            (
                "reasoning_effort".to_string(),
                shown.reasoning_effort.clone(),
            ),
        ];
        for row in &shown.extra {
            fields.push(("extra_name".into(), row.name.clone()));
            fields.push(("extra_value".into(), row.value.clone()));
        }
        // The blank row the editor adds for a new parameter.
        fields.push(("extra_name".into(), String::new()));
        fields.push(("extra_value".into(), String::new()));
        let read = ParamsForm::read(&Fields(fields), "");
        assert_eq!(read, shown);
        assert_eq!(read.params("").ok(), Some(Some(params)));
        assert_eq!(ParamsForm::default().params("").ok(), Some(None));
    }

    #[test]
    fn text_that_reads_as_something_else_is_quoted() {
        assert_eq!(show_value(&json!("plain words")), "plain words");
        assert_eq!(show_value(&json!("42")), "\"42\"");
        assert_eq!(show_value(&json!("true")), "\"true\"");
        assert_eq!(read_value("plain words"), json!("plain words"));
        assert_eq!(read_value("\"42\""), json!("42"));
        assert_eq!(read_value("42"), json!(42));
    }
}
