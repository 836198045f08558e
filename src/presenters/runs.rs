//! Runs as both front ends show them: creator, last error, what the engine is retrying, and
//! the accuracy by the one definition.
use crate::error::ApiResult;
use crate::services::accounts;
use crate::services::runs as service;
use crate::state::AppState;
use crate::views::runs::{RetryStateView, RunErrorView, RunView};
use crate::views::users::UserSimple;
use entity::model_run;
use sea_orm::EntityTrait;

/// The views of `runs` of the prompt `prompt_id`.
pub async fn views(
    state: &AppState,
    prompt_id: i64,
    runs: Vec<model_run::Model>,
) -> ApiResult<Vec<RunView>> {
    let creators: Vec<i64> = runs.iter().filter_map(|r| r.created_by_id).collect();
    let users = accounts::users_by_id(&state.db, &creators).await?;
    let failed: Vec<i64> = runs
        .iter()
        .filter(|r| r.total_failed > 0)
        .map(|r| r.id)
        .collect();
    let failures = service::latest_failures(&state.db, &failed).await?;
    let active: Vec<&model_run::Model> = runs.iter().filter(|r| r.status.is_active()).collect();
    let mut retrying = std::collections::HashMap::new();
    for run in active {
        if let Some(state) = retry_state(state, run).await? {
            retrying.insert(run.id, state);
        }
    }
    Ok(runs
        .into_iter()
        .map(|r| {
            let creator = r
                .created_by_id
                .and_then(|id| users.get(&id))
                .map(UserSimple::from);
            let id = r.id;
            let mut view = RunView::new(r, prompt_id, creator);
            view.last_error = failures.get(&id).map(|f| RunErrorView {
                error_type: f.error_type.clone(),
                message: f.message.clone(),
                task: f.task_id,
                at: f.created_at,
            });
            view.retry_state = retrying.remove(&id);
            view
        })
        .collect())
}

/// What this server's engine is retrying for an active run: the retry state of the scheduler
/// of its version's connection and model, if that scheduler retried since the run started.
async fn retry_state(
    state: &AppState,
    run: &model_run::Model,
) -> ApiResult<Option<RetryStateView>> {
    let Some(version) = entity::model_version::Entity::find_by_id(run.model_version_id)
        .one(&state.db)
        .await?
    else {
        return Ok(None);
    };
    let Some(connection) = version.model_provider_connection_id else {
        return Ok(None);
    };
    let since = run.triggered_at.unwrap_or(run.created_at);
    Ok(state
        .engine
        .schedulers()
        .find(connection, &version.provider_model_id)
        .and_then(|s| s.retry_state())
        .filter(|s| s.last_error_at >= since)
        .map(RetryStateView::from))
}

/// An accuracy as a page shows it: the figure, its label with the failures beside it
/// (`30.0% · 9 failed`), the counts and the 95% Wilson interval.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AccuracyView {
    /// The figure, `None` before any task is scored.
    pub accuracy: Option<f64>,
    /// The figure with the failures beside it.
    pub label: String,
    /// Correct tasks.
    pub correct: u64,
    /// Tasks scored: answered and failed.
    pub scored: u64,
    /// Failed tasks, counted wrong.
    pub failed: u64,
    /// Lower bound of the 95% Wilson interval.
    pub ci_low: Option<f64>,
    /// Upper bound of the 95% Wilson interval.
    pub ci_high: Option<f64>,
}

impl From<crate::scoring::Accuracy> for AccuracyView {
    fn from(a: crate::scoring::Accuracy) -> Self {
        let interval = a.interval();
        Self {
            accuracy: a.value(),
            label: a.label(),
            correct: a.correct,
            scored: a.scored(),
            failed: a.failed,
            ci_low: interval.map(|i| i.0),
            ci_high: interval.map(|i| i.1),
        }
    }
}
