//! What the teacher of a refinement is shown: the project's ground truth with the version's
//! predictions, the data keys a refined prompt may read, and the conversation itself.
use super::MAX_EXAMPLES;
use crate::label_config::LabelConfig;
use crate::llm::{Message, Role};
use crate::template;
use entity::{model_run, model_version, prediction, project, task};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde_json::Value;
use std::collections::{BTreeSet, HashMap};

/// Characters of one example's input shown to the teacher, at most (longer inputs are cut).
const MAX_INPUT_CHARS: usize = 4000;

/// One ground-truth task shown to the teacher.
#[derive(Debug)]
pub(crate) struct Example {
    pub(crate) input: String,
    pub(crate) ground_truth: Value,
    pub(crate) prediction: Option<Value>,
}

/// What the teacher is shown besides the prompt and the config.
#[derive(Debug)]
pub(crate) struct Context {
    pub(crate) examples: Vec<Example>,
    /// Data keys of the project: those its label config reads and those of its tasks.
    pub(crate) data_keys: BTreeSet<String>,
}

impl Context {
    /// Up to [`MAX_EXAMPLES`] tasks with ground truth (the newest ground-truth annotation of
    /// each, newest first), with the version's prediction from its newest run on the project.
    pub(crate) async fn load(
        db: &impl ConnectionTrait,
        version: &model_version::Model,
        project: &project::Model,
        config: &LabelConfig,
    ) -> Result<Context, sea_orm::DbErr> {
        let sample =
            crate::services::annotations::ground_truth_sample(db, project.id, MAX_EXAMPLES).await?;
        let ids: Vec<i64> = sample.iter().map(|t| t.task_id).collect();
        let run: Option<i64> = model_run::Entity::find()
            .select_only()
            .column(model_run::Column::Id)
            .filter(model_run::Column::ModelVersionId.eq(version.id))
            .filter(model_run::Column::ProjectId.eq(project.id))
            .order_by_desc(model_run::Column::Id)
            .into_tuple()
            .one(db)
            .await?;
        let predictions: HashMap<i64, Value> = match run {
            Some(run) => prediction::Entity::find()
                .select_only()
                .columns([prediction::Column::TaskId, prediction::Column::Result])
                .filter(prediction::Column::ModelRunId.eq(run))
                .filter(prediction::Column::TaskId.is_in(ids))
                .into_tuple::<(i64, Value)>()
                .all(db)
                .await?
                .into_iter()
                .collect(),
            None => HashMap::new(),
        };
        let mut data_keys: BTreeSet<String> = config.input_fields().into_iter().collect();
        let any_task: Option<Value> = if sample.is_empty() {
            task::Entity::find()
                .select_only()
                .column(task::Column::Data)
                .filter(task::Column::ProjectId.eq(project.id))
                .order_by_asc(task::Column::Id)
                .into_tuple()
                .one(db)
                .await?
        } else {
            None
        };
        for d in sample.iter().map(|t| &t.data).chain(any_task.iter()) {
            if let Some(o) = d.as_object() {
                data_keys.extend(o.keys().cloned());
            }
        }
        let examples = sample
            .iter()
            .map(|t| {
                let input = template::render(&version.prompt, &t.data)
                    .unwrap_or_else(|_| t.data.to_string());
                Example {
                    input: cut(&input, MAX_INPUT_CHARS),
                    ground_truth: config.to_output(&t.result, &t.data),
                    prediction: predictions
                        .get(&t.task_id)
                        .map(|p| config.to_output(p, &t.data)),
                }
            })
            .collect();
        Ok(Context {
            examples,
            data_keys,
        })
    }

    /// The teacher's conversation: the job in the system message; the label config, the
    /// current prompt (inside `<current_prompt>` tags) and the examples in the user message.
    pub(crate) fn messages(&self, current: &str, label_config: &str) -> Vec<Message> {
        let placeholders: Vec<String> = template::fields(current)
            .unwrap_or_default()
            .into_iter()
            .map(|f| format!("{{{f}}}"))
            .collect();
        let keep = if placeholders.is_empty() {
            "The current prompt has no placeholder.".to_string()
        } else {
            format!(
                "Keep every placeholder of the current prompt exactly as written ({}): each is \
                 replaced by a field of the task's data.",
                placeholders.join(", ")
            )
        };
        let keys: Vec<&str> = self.data_keys.iter().map(String::as_str).collect();
        let system = format!(
            "You are an expert prompt engineer. A language model labels the tasks of a Label \
             Studio project with a prompt; you improve that prompt. You are shown the project's \
             labeling configuration, the current prompt and labeled examples: each with its \
             input (the prompt rendered for the task), its ground truth (the correct answer) \
             and, when there is one, the current prompt's prediction. Study where the \
             predictions differ from the ground truth and write a clearer, more precise prompt \
             that makes the answers match it. {keep} Use no other placeholder than these and \
             the task data fields ({}); write a literal brace as {{{{ or }}}}. The answer format \
             of the labeling model is enforced separately. Answer with one JSON object, and \
             nothing else, with \"reasoning\" (what you changed and why), \"new_prompt_title\" \
             (a short name for the new prompt) and \"new_prompt_content\" (the complete new \
             prompt).",
            if keys.is_empty() {
                "none known".to_string()
            } else {
                keys.join(", ")
            }
        );
        let mut user = format!(
            "Labeling configuration:\n<label_config>\n{label_config}\n</label_config>\n\n\
             Current prompt:\n<current_prompt>{current}</current_prompt>\n\n"
        );
        if self.examples.is_empty() {
            user.push_str("The project has no ground truth yet: improve the prompt's clarity.\n");
        } else {
            user.push_str(&format!(
                "Examples ({} tasks with ground truth):\n",
                self.examples.len()
            ));
            for (n, e) in self.examples.iter().enumerate() {
                let prediction = e
                    .prediction
                    .as_ref()
                    .map_or_else(|| "none".to_string(), Value::to_string);
                user.push_str(&format!(
                    "\n<example n=\"{}\">\nInput:\n{}\nGround truth: {}\nCurrent prediction: {}\n</example>\n",
                    n + 1,
                    e.input,
                    e.ground_truth,
                    prediction
                ));
            }
        }
        vec![
            Message::new(Role::System, system),
            Message::new(Role::User, user),
        ]
    }
}

/// `s` cut to `max` characters, marked when cut.
pub(crate) fn cut(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &s[..at]),
        None => s.to_string(),
    }
}
