//! Agreement across samples and models: a version with `samples` above one, or with a jury
//! of other models, asks each of its models that many times per task (each call with its own
//! seed; with several samples, at the version's temperature when above zero, else
//! [`SAMPLE_TEMPERATURE`]); the prediction is the answer most of them gave (the earliest of
//! equal counts), its score the share of the answers that agreed with it. Answers are compared
//! whole (the same labels, spans and values). A call that failed is no vote: the share counts
//! the answers received, and the task fails only when every call did. Every call is paid for:
//! the result carries the tokens and cost of them all, and `extra.samples` what each model
//! answered.
use super::{Plan, TaskOutcome};
use crate::llm::{Message, ModelParams};
use crate::services::results::{Confidence, FailureResult, PredictionResult};
use futures_util::future::join_all;
use serde_json::{Value, json};

/// The most answers a version may ask per task.
pub use crate::limits::MAX_SAMPLES;

/// The temperature samples are drawn at when the version sets none above zero: at 0 a model
/// gives the same answer every time, and agreement would mean nothing.
pub const SAMPLE_TEMPERATURE: f64 = 1.0;

/// The parameters of call `i` of `samples` a model makes for a task (`offset` counts the calls
/// of the models before it): its own seed and, with several samples, a temperature above zero.
fn sample_params(params: &ModelParams, offset: usize, i: usize, samples: usize) -> ModelParams {
    let mut params = params.clone();
    params.seed = Some(params.seed.unwrap_or(0) + (offset + i) as i64);
    if samples > 1 && !params.temperature.is_some_and(|t| t > 0.0) {
        params.temperature = Some(SAMPLE_TEMPERATURE);
    }
    params
}

impl Plan {
    /// Asks `samples` answers to `messages` of each of the version's models and keeps the one
    /// most agree on.
    pub(super) async fn vote(
        &self,
        task_id: i64,
        messages: Vec<Message>,
        samples: usize,
    ) -> TaskOutcome {
        let voices = std::iter::once(&self.own).chain(self.jury.iter());
        let calls = voices.enumerate().flat_map(|(j, voice)| {
            let messages = &messages;
            (0..samples).map(move |i| async move {
                let params = sample_params(&voice.params, j * samples, i, samples);
                let request = voice.request(&self.schema, messages.clone(), params);
                (
                    voice.model.clone(),
                    self.answer(voice, task_id, request).await,
                )
            })
        });
        let outcomes = join_all(calls).await;
        let asked = outcomes.len();
        agree(task_id, asked, outcomes)
    }
}

/// Adds `more` to an optional sum.
fn add<T: std::ops::Add<Output = T> + Copy>(sum: Option<T>, more: Option<T>) -> Option<T> {
    match (sum, more) {
        (Some(a), Some(b)) => Some(a + b),
        (a, b) => a.or(b),
    }
}

/// The outcome of a task answered `asked` times, each outcome with the model that gave it (see
/// the module docs).
pub(super) fn agree(
    task_id: i64,
    asked: usize,
    outcomes: Vec<(String, TaskOutcome)>,
) -> TaskOutcome {
    let mut answers: Vec<PredictionResult> = vec![];
    let mut models: Vec<String> = vec![];
    let mut failures: Vec<FailureResult> = vec![];
    for (model, outcome) in outcomes {
        match outcome {
            TaskOutcome::Success(r) => {
                answers.push(r);
                models.push(model);
            }
            TaskOutcome::Failure(f) => failures.push(f),
            // The run ends, or the task is not done: nothing is written for it.
            other @ (TaskOutcome::Fatal(_) | TaskOutcome::Canceled) => return other,
        }
    }
    let spent_prompt = failures.iter().map(|f| f.prompt_tokens).fold(None, add);
    let spent_completion = failures.iter().map(|f| f.completion_tokens).fold(None, add);
    let spent_cost = failures.iter().map(|f| f.total_cost).fold(None, add);
    if answers.is_empty() {
        let Some(mut first) = failures.into_iter().next() else {
            return TaskOutcome::Failure(FailureResult {
                task_id,
                message: "no sample was answered".into(),
                ..Default::default()
            });
        };
        first.message = format!("All {asked} samples failed; the first: {}", first.message);
        first.prompt_tokens = spent_prompt;
        first.completion_tokens = spent_completion;
        first.total_cost = spent_cost;
        return TaskOutcome::Failure(first);
    }
    // Distinct answers with their counts and the models that gave them, in the order first
    // given.
    let mut tally: Vec<(Value, usize, Vec<String>)> = vec![];
    for (answer, model) in answers.iter().zip(&models) {
        match tally.iter_mut().find(|(o, _, _)| *o == answer.output) {
            Some((_, n, by)) => {
                *n += 1;
                if !by.contains(model) {
                    by.push(model.clone());
                }
            }
            None => tally.push((answer.output.clone(), 1, vec![model.clone()])),
        }
    }
    let (winner, agreed) = tally
        .iter()
        .enumerate()
        .max_by_key(|(i, (_, n, _))| (*n, std::cmp::Reverse(*i)))
        .map(|(_, (o, n, _))| (o.clone(), *n))
        .unwrap_or((Value::Null, 0));
    let answered = answers.len();
    let share = agreed as f64 / answered as f64;
    let prompt_tokens = answers
        .iter()
        .map(|a| a.prompt_tokens)
        .fold(spent_prompt, add);
    let completion_tokens = answers
        .iter()
        .map(|a| a.completion_tokens)
        .fold(spent_completion, add);
    let prompt_cost = answers.iter().map(|a| a.prompt_cost).fold(None, add);
    let completion_cost = answers.iter().map(|a| a.completion_cost).fold(None, add);
    let inference_time = answers
        .iter()
        .filter_map(|a| a.inference_time)
        .fold(None, |m: Option<f64>, t| Some(m.map_or(t, |m| m.max(t))));
    let Some(mut chosen) = answers.into_iter().find(|a| a.output == winner) else {
        return TaskOutcome::Failure(FailureResult {
            task_id,
            message: "no sample was answered".into(),
            ..Default::default()
        });
    };
    let record = json!({
        "asked": asked,
        "answered": answered,
        "agreed": agreed,
        "failed": failures.len(),
        "answers": tally
            .iter()
            .map(|(o, n, by)| json!({"output": o, "count": n, "models": by}))
            .collect::<Vec<_>>(),
    });
    let mut extra = chosen.extra.take().unwrap_or_else(|| json!({}));
    if let Value::Object(map) = &mut extra {
        map.insert("samples".into(), record);
    }
    chosen.extra = Some(extra);
    chosen.prompt_tokens = prompt_tokens;
    chosen.completion_tokens = completion_tokens;
    chosen.prompt_cost = prompt_cost;
    chosen.completion_cost = completion_cost;
    // What failed calls cost is in neither part; the total has it.
    chosen.total_cost = add(add(prompt_cost, completion_cost), spent_cost);
    chosen.inference_time = inference_time;
    chosen.confidence = Confidence::Agreement(share);
    TaskOutcome::Success(chosen)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::FailureKind;

    fn said(label: &str, tokens: i64, cost: f64) -> (String, TaskOutcome) {
        said_by("m", label, tokens, cost)
    }

    fn said_by(model: &str, label: &str, tokens: i64, cost: f64) -> (String, TaskOutcome) {
        let outcome = TaskOutcome::Success(PredictionResult {
            task_id: 1,
            output: json!({"sentiment": label}),
            prompt_tokens: Some(tokens),
            completion_tokens: Some(1),
            prompt_cost: Some(cost),
            completion_cost: Some(0.0),
            total_cost: Some(cost),
            ..Default::default()
        });
        (model.to_string(), outcome)
    }

    fn failed(cost: f64) -> (String, TaskOutcome) {
        let outcome = TaskOutcome::Failure(FailureResult {
            task_id: 1,
            message: "timed out".into(),
            error_type: FailureKind::Timeout,
            prompt_tokens: Some(10),
            total_cost: Some(cost),
            ..Default::default()
        });
        ("m".to_string(), outcome)
    }

    #[test]
    fn the_majority_wins_scored_by_the_share_that_agreed_and_every_call_is_paid() {
        let outcome = agree(
            1,
            4,
            vec![
                said("Neg", 10, 0.1),
                said("Pos", 10, 0.1),
                said("Pos", 10, 0.1),
                failed(0.05),
            ],
        );
        let TaskOutcome::Success(r) = outcome else {
            panic!("{outcome:?}")
        };
        assert_eq!(r.output, json!({"sentiment": "Pos"}));
        assert!(matches!(r.confidence, Confidence::Agreement(s) if (s - 2.0 / 3.0).abs() < 1e-12));
        assert_eq!(r.prompt_tokens, Some(40));
        assert!((r.total_cost.unwrap_or_default() - 0.35).abs() < 1e-12);
        let samples = &r.extra.unwrap_or_default()["samples"];
        assert_eq!(samples["asked"], 4);
        assert_eq!(samples["answered"], 3);
        assert_eq!(samples["agreed"], 2);
        assert_eq!(samples["answers"][0]["output"]["sentiment"], "Neg");
    }

    #[test]
    fn ties_go_to_the_earliest_and_all_failed_is_a_failure_that_cost_them_all() {
        let TaskOutcome::Success(r) = agree(1, 2, vec![said("A", 1, 0.0), said("B", 1, 0.0)])
        else {
            panic!("a tie still answers")
        };
        assert_eq!(r.output["sentiment"], "A");
        let TaskOutcome::Failure(f) = agree(1, 2, vec![failed(0.1), failed(0.2)]) else {
            panic!("every call failed")
        };
        assert!(
            f.message.starts_with("All 2 samples failed"),
            "{}",
            f.message
        );
        assert_eq!(f.prompt_tokens, Some(20));
        assert!((f.total_cost.unwrap_or_default() - 0.3).abs() < 1e-12);
    }

    #[test]
    fn samples_get_their_own_seed_and_a_temperature_above_zero() {
        let p = sample_params(&ModelParams::default(), 0, 2, 3);
        assert_eq!((p.seed, p.temperature), (Some(2), Some(SAMPLE_TEMPERATURE)));
        let own = ModelParams {
            seed: Some(10),
            temperature: Some(0.7),
            ..Default::default()
        };
        let p = sample_params(&own, 0, 1, 2);
        assert_eq!((p.seed, p.temperature), (Some(11), Some(0.7)));
        // One answer from each model of a jury: its own seed, the version's temperature.
        let p = sample_params(&ModelParams::default(), 2, 0, 1);
        assert_eq!((p.seed, p.temperature), (Some(2), None));
    }

    #[test]
    fn the_tally_names_the_models_behind_each_answer() {
        let TaskOutcome::Success(r) = agree(
            1,
            3,
            vec![
                said_by("a", "Pos", 1, 0.0),
                said_by("b", "Neg", 1, 0.0),
                said_by("c", "Pos", 1, 0.0),
            ],
        ) else {
            panic!("answered")
        };
        let samples = &r.extra.unwrap_or_default()["samples"];
        assert_eq!(samples["answers"][0]["models"], json!(["a", "c"]));
        assert_eq!(samples["answers"][1]["models"], json!(["b"]));
        assert!(matches!(r.confidence, Confidence::Agreement(s) if (s - 2.0 / 3.0).abs() < 1e-12));
    }
}
