//! Live predictions: a version's answers for a few tasks, through the same plan, scheduler and
//! region conversion as runs, returned instead of stored (the ML backend's `/predict` and the
//! `predict` endpoint use it).
pub mod request;

use super::Engine;
use super::plan::{Plan, PlanError, TaskOutcome};
use crate::label_config::LabelConfig;
use crate::llm::FailureKind;
use crate::services::results::score_regions;
use crate::views::live::LivePrediction;
use entity::model_version;
use futures_util::future::join_all;
use sea_orm::ConnectionTrait;
use serde_json::Value;
use std::time::Duration;

/// A task to predict: its id (0 for data that is not a stored task) and data.
#[derive(Debug, Clone)]
pub struct LiveTask {
    /// The task id.
    pub id: i64,
    /// The task data.
    pub data: Value,
}

/// What a live request may add to its tasks (the ML backend's `/predict` uses both).
#[derive(Debug, Clone, Default)]
pub struct LiveOptions {
    /// Cancels the calls still waiting or running this long after they start; their tasks
    /// end `Canceled` (so a caller with a time budget still answers every task).
    pub deadline: Option<Duration>,
    /// Added to every task's prompt (see [`Plan::messages_with_hint`]).
    pub hint: Option<String>,
}

/// Predicts `tasks` with `version` over a project with `config`, all concurrently (paced by
/// the connection's scheduler). Fails as a whole only when the version cannot run at all.
pub async fn predict(
    engine: &Engine,
    db: &impl ConnectionTrait,
    version: model_version::Model,
    label: String,
    project_id: i64,
    config: LabelConfig,
    tasks: Vec<LiveTask>,
) -> Result<Vec<LivePrediction>, PlanError> {
    predict_with(
        engine,
        db,
        version,
        label,
        project_id,
        config,
        tasks,
        LiveOptions::default(),
    )
    .await
}

/// [`predict`] with a deadline and a hint.
#[allow(clippy::too_many_arguments)]
pub async fn predict_with(
    engine: &Engine,
    db: &impl ConnectionTrait,
    version: model_version::Model,
    label: String,
    project_id: i64,
    config: LabelConfig,
    tasks: Vec<LiveTask>,
    options: LiveOptions,
) -> Result<Vec<LivePrediction>, PlanError> {
    let plan = Plan::load(engine, db, version, project_id, config).await?;
    let hint = options.hint.as_deref();
    let all = join_all(
        tasks
            .iter()
            .map(|t| plan.infer_with_hint(t.id, &t.data, hint)),
    );
    let outcomes = match options.deadline {
        None => all.await,
        Some(deadline) => {
            tokio::pin!(all);
            tokio::select! {
                outcomes = &mut all => outcomes,
                _ = tokio::time::sleep(deadline) => {
                    // Waiting and in-flight calls return `Canceled` at once.
                    plan.cancel.cancel();
                    all.await
                }
            }
        }
    };
    let map = crate::views::versions::Calibration::of_stored(plan.version.calibration.as_ref())
        .map(|c| c.map);
    Ok(tasks
        .iter()
        .zip(outcomes)
        .map(|(t, outcome)| {
            let mut p = LivePrediction {
                task: t.id,
                result: vec![],
                score: None,
                model_version: label.clone(),
                error_type: None,
                error_message: None,
                prompt_tokens: None,
                completion_tokens: None,
                total_cost_usd: None,
                inference_time: None,
            };
            match outcome {
                TaskOutcome::Success(s) => {
                    p.prompt_tokens = s.prompt_tokens;
                    p.completion_tokens = s.completion_tokens;
                    p.total_cost_usd = s.total_cost;
                    p.inference_time = s.inference_time;
                    match plan.config.convert(&s.output, &t.data) {
                        Ok(mut converted) => {
                            let scored = score_regions(&mut converted, &s.confidence, map.as_ref());
                            p.result = converted.regions;
                            p.score = Some(scored.score);
                        }
                        Err(e) => {
                            p.error_type = Some(FailureKind::InvalidOutput);
                            p.error_message = Some(format!(
                                "The model's output does not fit the label config: {e}"
                            ));
                        }
                    }
                }
                TaskOutcome::Failure(f) => {
                    p.error_type = Some(f.error_type);
                    p.error_message = Some(f.message);
                }
                TaskOutcome::Fatal(message) => {
                    p.error_type = Some(FailureKind::Authentication);
                    p.error_message = Some(message);
                }
                TaskOutcome::Canceled => {
                    p.error_type = Some(FailureKind::Canceled);
                    p.error_message = Some("The prediction was canceled.".into());
                }
            }
            p
        })
        .collect())
}
