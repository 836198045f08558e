//! What calling the LLM for one task of a version takes, prepared once per run (or per live
//! request): the scheduler of the version's connection and model, the output schema of the
//! project's label config, the few-shot examples, the price. [`Plan::infer`] then turns one
//! task into a result or a typed failure.
use super::Engine;
use super::images::ImageResolver;
use super::prompt;
use crate::label_config::LabelConfig;
use crate::llm::scheduler::{Cancel, Scheduler, SchedulerConfig};
use crate::llm::{Credentials, FailureKind};
use crate::llm::{Message, ModelParams, Part, Role};
use crate::services::ls_access;
use crate::services::model_providers;
use crate::services::results::{FailureResult, PredictionResult};
use crate::template::{self, TemplateError};
use crate::views::versions::{Juror, Step};
use steps::{StepPlan, StepUsage, step_schema, step_system_message, with_steps};

mod batch;
mod cache;
mod call;
mod samples;
mod steps;
pub use call::SYSTEMIC_FAILURES;
use call::{Streak, Voice};
use entity::model_version;
use sea_orm::ConnectionTrait;
use serde_json::Value;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

/// Why a version cannot run at all (the whole run fails with this message).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct PlanError(pub String);

impl From<sea_orm::DbErr> for PlanError {
    fn from(e: sea_orm::DbErr) -> Self {
        PlanError(format!("database: {e}"))
    }
}

/// A ground-truth example shown to the model before the task.
#[derive(Debug, Clone)]
struct Example {
    task_id: i64,
    prompt: Vec<Part>,
    answer: String,
}

/// The prepared calls of a version over a project.
pub struct Plan {
    /// The version.
    pub version: model_version::Model,
    /// The project's label config.
    pub config: LabelConfig,
    /// Cancels every call of this plan.
    pub cancel: Arc<Cancel>,
    /// The version's own model.
    own: Voice,
    /// The other models that answer each task (its jury; none for most versions).
    jury: Vec<Voice>,
    schema: Value,
    system: String,
    examples: Vec<Example>,
    max_examples: usize,
    db: sea_orm::DatabaseConnection,
    streak: std::sync::Mutex<Streak>,
    image_keys: Vec<String>,
    images: ImageResolver,
    /// The steps before the last of a pipeline version (none for a single prompt).
    steps: Vec<StepPlan>,
    /// The response cache, when this plan's single calls may use it.
    cache: Option<cache::CacheUse>,
    /// The server's `PROMPTER_CACHE_TTL_SECS`.
    engine_cache_ttl: u64,
    /// Answers are kept in the cache by the writer of their results (see
    /// [`Plan::keep_with_results`]).
    defer_keep: bool,
    /// The cache entries of a slice's calls, read ahead (see [`Plan::read_cache_ahead`]).
    read_ahead: std::sync::Mutex<std::collections::HashMap<i64, cache::ReadAhead>>,
}

/// How one task ended.
#[derive(Debug, Clone)]
pub enum TaskOutcome {
    /// An answer (not yet converted to regions).
    Success(PredictionResult),
    /// A failed prediction.
    Failure(FailureResult),
    /// A failure of the whole run (the provider refused the credentials).
    Fatal(String),
    /// The plan was canceled before an answer.
    Canceled,
}

/// A fingerprint of what a provider is made from, so a changed key or limit swaps it.
fn fingerprint(c: &Credentials, engine: &Engine) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (
        c.provider.as_str(),
        &c.api_key,
        &c.auth_token,
        &c.endpoint,
        &c.deployment_name,
        c.rpm_limit,
        c.tpm_limit,
        engine.config().concurrency,
    )
        .hash(&mut h);
    h.finish()
}

/// The scheduler of connection `connection_id` of an organization and `model`: what every
/// LLM call of the engine (runs, live predictions, refinements) goes through.
pub async fn scheduler_for(
    engine: &Engine,
    db: &impl ConnectionTrait,
    organization_id: i64,
    connection_id: i64,
    model: &str,
) -> Result<Arc<Scheduler>, PlanError> {
    let credentials =
        model_providers::credentials(db, engine.secrets(), organization_id, connection_id)
            .await
            .map_err(|_| {
                PlanError(format!(
                    "The model provider connection {connection_id} is gone or cannot be opened."
                ))
            })?;
    let provider = crate::llm::provider_for(&credentials, engine.http()).map_err(|e| {
        PlanError(format!(
            "Model provider connection {connection_id} cannot be used: {e}"
        ))
    })?;
    let scheduler = engine.schedulers().get(
        connection_id,
        model,
        fingerprint(&credentials, engine),
        || {
            let config = SchedulerConfig {
                rpm: credentials.rpm_limit.filter(|l| *l > 0).map(|l| l as u64),
                tpm: credentials.tpm_limit.filter(|l| *l > 0).map(|l| l as u64),
                ..engine.scheduler_config()
            };
            (provider, config)
        },
    );
    scheduler.set_provider_name(credentials.provider.as_str());
    Ok(scheduler)
}

/// The model parameters a prompt's versions inherit: `parameters.model_params` of the registry
/// (none when unset or unreadable).
async fn prompt_model_params(
    db: &impl ConnectionTrait,
    prompt_id: i64,
) -> Result<ModelParams, PlanError> {
    use sea_orm::EntityTrait;
    let prompt = entity::model_interface::Entity::find_by_id(prompt_id)
        .one(db)
        .await?;
    Ok(prompt
        .and_then(|p| p.parameters)
        .and_then(|p| p.get("model_params").cloned())
        .and_then(|m| serde_json::from_value::<ModelParams>(m).ok())
        .unwrap_or_default())
}

/// The parameters a call uses, by the one inheritance rule: its own (`own`: the version's, or
/// a step's when it has its own) over its prompt's (`prompt`: `parameters.model_params`), over
/// those of the connection it calls through.
async fn inherit(
    db: &impl ConnectionTrait,
    organization_id: i64,
    connection_id: i64,
    prompt: &ModelParams,
    own: ModelParams,
) -> ModelParams {
    let connection = model_providers::find(db, organization_id, connection_id)
        .await
        .map(|c| ModelParams::from_stored(c.model_params.as_ref()))
        .unwrap_or_default();
    own.over(&prompt.over(&connection))
}

/// The instructions every call starts with.
fn system_message(schema: &Value) -> String {
    format!(
        "You are a careful data annotator for a Label Studio project. Follow the user's \
         instructions for each task and answer with one JSON object, and nothing else, that \
         fits this JSON schema:\n{schema}\nFor spans, copy each span's text into \"text\" \
         exactly as it appears in the input (same characters, spelling and case; for HTML, the \
         visible text without tags), with its labels. Give one item per mention: when the same \
         text occurs several times, add one item for each occurrence you label, with \"start\", \
         the approximate character offset of that occurrence in the input, to tell them apart. \
         Offsets are only a hint: the spans are found by their text."
    )
}

/// The messages a version sends for a task's `data`, without few-shot examples: what the
/// web app shows as a task's full prompt.
pub fn preview_messages(
    prompt_text: &str,
    config: &LabelConfig,
    data: &Value,
) -> Result<Vec<Message>, TemplateError> {
    let parts = prompt::user_parts(prompt_text, data, &config.image_keys(), None)?;
    Ok(vec![
        Message::new(Role::System, system_message(&config.output_schema())),
        Message::with_parts(Role::User, parts),
    ])
}

impl Plan {
    /// Prepares the calls of `version` over a project with `config`.
    pub async fn load(
        engine: &Engine,
        db: &impl ConnectionTrait,
        version: model_version::Model,
        project_id: i64,
        config: LabelConfig,
    ) -> Result<Plan, PlanError> {
        if let Err(e) = template::fields(&version.prompt) {
            return Err(PlanError(format!(
                "The prompt of version \"{}\" cannot be rendered: {e}",
                version.title
            )));
        }
        let Some(connection_id) = version.model_provider_connection_id else {
            return Err(PlanError(format!(
                "Version \"{}\" has no model provider connection.",
                version.title
            )));
        };
        if !crate::llm::is_supported(version.provider) {
            return Err(PlanError(crate::llm::unsupported_message(version.provider)));
        }
        let model = version.provider_model_id.clone();
        let scheduler =
            scheduler_for(engine, db, version.organization_id, connection_id, &model).await?;
        let inherited = prompt_model_params(db, version.parent_model_id).await?;
        let own = ModelParams::from_stored(version.model_params.as_ref());
        let params = inherit(db, version.organization_id, connection_id, &inherited, own).await;
        let schema = config.output_schema();
        if schema["properties"]
            .as_object()
            .is_none_or(|p| p.is_empty())
        {
            return Err(PlanError(
                "The project's label config has no control a prompt can answer (Choices, Labels on text, TextArea, Rating or Number).".into(),
            ));
        }
        let image_keys = config.image_keys();
        let ls = if image_keys.is_empty() {
            None
        } else {
            ls_access::for_project(db, engine.secrets(), project_id)
                .await
                .map_err(|e| PlanError(e.to_string()))?
        };
        let images = ImageResolver::new(engine.http().clone(), engine.config().image_max_bytes, ls);
        let max_examples = version.max_few_shot_examples.unwrap_or(0).max(0) as usize;
        let examples = if max_examples > 0 {
            let found = examples(
                db,
                project_id,
                &version.prompt,
                &config,
                &image_keys,
                max_examples + 1,
            )
            .await?;
            resolve_examples(&images, found).await
        } else {
            vec![]
        };
        let mut steps = vec![];
        if let Some(all) = crate::views::versions::Step::of_stored(version.steps.as_ref()) {
            for step in &all[..all.len() - 1] {
                if let Err(e) = template::fields(&step.prompt) {
                    return Err(PlanError(format!(
                        "The prompt of step \"{}\" cannot be rendered: {e}",
                        step.name
                    )));
                }
                let connection = step.model_provider_connection.unwrap_or(connection_id);
                let model = step
                    .provider_model_id
                    .clone()
                    .unwrap_or_else(|| version.provider_model_id.clone());
                let scheduler =
                    scheduler_for(engine, db, version.organization_id, connection, &model).await?;
                let own = step
                    .model_params
                    .clone()
                    .unwrap_or_else(|| ModelParams::from_stored(version.model_params.as_ref()));
                let params =
                    inherit(db, version.organization_id, connection, &inherited, own).await;
                let outputs = step.outputs();
                let schema = step_schema(&outputs);
                steps.push(StepPlan {
                    name: step.name.clone(),
                    prompt: step.prompt.clone(),
                    system: step_system_message(&schema),
                    schema,
                    outputs,
                    price: engine.prices().price(&model),
                    model,
                    connection,
                    scheduler,
                    params,
                    budget: engine.budgets().get(connection),
                });
            }
        }
        let mut jury = vec![];
        for juror in Juror::of_stored(version.jury.as_ref()) {
            let connection = juror.model_provider_connection.unwrap_or(connection_id);
            let model = juror.provider_model_id;
            let own = ModelParams::from_stored(version.model_params.as_ref());
            jury.push(Voice {
                scheduler: scheduler_for(engine, db, version.organization_id, connection, &model)
                    .await?,
                params: inherit(db, version.organization_id, connection, &inherited, own).await,
                price: engine.prices().price(&model),
                budget: engine.budgets().get(connection),
                model,
                connection,
            });
        }
        Ok(Plan {
            steps,
            own: Voice {
                price: engine.prices().price(&model),
                model,
                connection: connection_id,
                scheduler,
                params,
                budget: engine.budgets().get(connection_id),
            },
            jury,
            system: system_message(&schema),
            schema,
            examples,
            max_examples,
            cancel: Cancel::new(),
            config,
            version,
            db: engine.db().clone(),
            streak: Default::default(),
            image_keys,
            images,
            cache: None,
            engine_cache_ttl: engine.config().cache_ttl_secs,
            defer_keep: false,
            read_ahead: Default::default(),
        }
        .with_cache())
    }

    /// The plan with the cache on (when the server has one).
    fn with_cache(mut self) -> Plan {
        self.use_cache(true);
        self
    }

    /// The scheduler the calls go through.
    pub fn scheduler(&self) -> &Arc<Scheduler> {
        &self.own.scheduler
    }

    /// The messages for a task: instructions, examples from other tasks, the rendered prompt.
    pub fn messages(&self, task_id: i64, data: &Value) -> Result<Vec<Message>, TemplateError> {
        self.messages_with_hint(task_id, data, None)
    }

    /// [`Plan::messages`], with `hint` (e.g. what an annotator already marked on the task)
    /// put before the rendered prompt in the last user message, so the task's text stays last.
    pub fn messages_with_hint(
        &self,
        task_id: i64,
        data: &Value,
        hint: Option<&str>,
    ) -> Result<Vec<Message>, TemplateError> {
        let prompt = prompt::user_parts(&self.version.prompt, data, &self.image_keys, hint)?;
        let mut messages = vec![Message::new(Role::System, self.system.clone())];
        for example in self
            .examples
            .iter()
            .filter(|e| e.task_id != task_id)
            .take(self.max_examples)
        {
            messages.push(Message::with_parts(Role::User, example.prompt.clone()));
            messages.push(Message::new(Role::Assistant, example.answer.clone()));
        }
        messages.push(Message::with_parts(Role::User, prompt));
        Ok(messages)
    }

    /// Calls the model for one task.
    pub async fn infer(&self, task_id: i64, data: &Value) -> TaskOutcome {
        self.infer_with_hint(task_id, data, None).await
    }

    /// [`Plan::infer`] with a hint (see [`Plan::messages_with_hint`]).
    pub async fn infer_with_hint(
        &self,
        task_id: i64,
        data: &Value,
        hint: Option<&str>,
    ) -> TaskOutcome {
        if self.steps.is_empty() {
            return self.infer_last(task_id, data, hint, vec![]).await;
        }
        // A pipeline: each step's answers join the data under its name for the next steps.
        let mut data = data.clone();
        let mut used = vec![];
        for step in &self.steps {
            match self.run_step(step, task_id, &data).await {
                Ok((answers, usage)) => {
                    if let Value::Object(map) = &mut data {
                        map.insert(step.name.clone(), answers);
                    }
                    used.push(usage);
                }
                Err(outcome) => return with_steps(outcome, &used),
            }
        }
        self.infer_last(task_id, &data, hint, used).await
    }

    /// The call that answers the label config (the last step of a pipeline), with what the
    /// earlier steps used added to the result.
    async fn infer_last(
        &self,
        task_id: i64,
        data: &Value,
        hint: Option<&str>,
        steps: Vec<StepUsage>,
    ) -> TaskOutcome {
        let outcome = self.infer_final(task_id, data, hint).await;
        if steps.is_empty() {
            return outcome;
        }
        let named = match outcome {
            TaskOutcome::Failure(mut f) => {
                let last = Step::of_stored(self.version.steps.as_ref())
                    .and_then(|s| s.last().map(|l| l.name.clone()))
                    .unwrap_or_default();
                f.message = format!("Step \"{last}\" failed: {}", f.message);
                TaskOutcome::Failure(f)
            }
            other => other,
        };
        with_steps(named, &steps)
    }

    /// The final call of a task (a single prompt, or the last step of a pipeline).
    async fn infer_final(&self, task_id: i64, data: &Value, hint: Option<&str>) -> TaskOutcome {
        let messages = match self.messages_with_hint(task_id, data, hint) {
            Ok(m) => m,
            Err(e) => {
                let error_type = match e {
                    TemplateError::MissingField(_) => FailureKind::MissingField,
                    TemplateError::Syntax(_) => FailureKind::PromptError,
                };
                return TaskOutcome::Failure(FailureResult {
                    task_id,
                    message: e.to_string(),
                    error_type,
                    ..Default::default()
                });
            }
        };
        let messages = match self.images.resolve_messages(messages).await {
            Ok(messages) => messages,
            Err(message) => {
                return TaskOutcome::Failure(FailureResult {
                    task_id,
                    message,
                    error_type: FailureKind::ImageError,
                    ..Default::default()
                });
            }
        };
        let samples = self.version.samples.clamp(1, samples::MAX_SAMPLES) as usize;
        if samples > 1 || !self.jury.is_empty() {
            return self.vote(task_id, messages, samples).await;
        }
        let own = &self.own;
        let request = own.request(&self.schema, messages, own.params.clone());
        self.answer_cached(own, task_id, request).await
    }
}

/// Up to `limit` ground-truth examples of the project: the newest ground-truth annotation of
/// each task, newest tasks first, rendered with the prompt.
async fn examples(
    db: &impl ConnectionTrait,
    project_id: i64,
    prompt: &str,
    config: &LabelConfig,
    image_keys: &[String],
    limit: usize,
) -> Result<Vec<Example>, PlanError> {
    let sample = crate::services::annotations::ground_truth_sample(db, project_id, limit).await?;
    Ok(sample
        .into_iter()
        .filter_map(|t| {
            let prompt = prompt::user_parts(prompt, &t.data, image_keys, None).ok()?;
            let output = config.to_output(&t.result, &t.data);
            (output.as_object().is_some_and(|o| !o.is_empty())).then(|| Example {
                task_id: t.task_id,
                prompt,
                answer: output.to_string(),
            })
        })
        .collect())
}

/// The examples whose images resolve, resolved once for every call of the plan.
async fn resolve_examples(images: &ImageResolver, found: Vec<Example>) -> Vec<Example> {
    let mut out = Vec::with_capacity(found.len());
    for example in found {
        let message = Message::with_parts(Role::User, example.prompt.clone());
        match images.resolve_messages(vec![message]).await {
            Ok(mut resolved) => out.push(Example {
                prompt: resolved.pop().map(|m| m.parts).unwrap_or_default(),
                ..example
            }),
            Err(e) => {
                tracing::warn!(task = example.task_id, error = %e, "a few-shot example is left out: its image cannot be read");
            }
        }
    }
    out
}
