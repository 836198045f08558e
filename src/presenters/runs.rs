//! Runs as both front ends show them: creator, last error, what the engine is retrying, and
//! the accuracy by the one definition.
use crate::error::ApiResult;
use crate::services::accounts;
use crate::services::runs as service;
use crate::state::AppState;
use crate::views::runs::{
    BatchProgressView, ProviderBatchView, RetryStateView, RunErrorView, RunView,
};
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
    let batch_runs: Vec<i64> = runs
        .iter()
        .filter(|r| r.execution == entity::enums::RunExecution::Batch)
        .map(|r| r.id)
        .collect();
    let mut batches = crate::services::provider_batches::of_runs(&state.db, &batch_runs).await?;
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
            if view.execution == entity::enums::RunExecution::Batch {
                let of_run = batches.remove(&id).unwrap_or_default();
                view.batches = Some(batch_progress(&of_run));
            }
            view
        })
        .collect())
}

/// A batch run's progress at its provider from its `batches`, summed by the one rule
/// ([`crate::services::provider_batches::progress`]).
pub fn batch_progress(batches: &[entity::provider_batch::Model]) -> BatchProgressView {
    let p = crate::services::provider_batches::progress(batches);
    BatchProgressView {
        submitted: p.submitted,
        completed: p.completed,
        failed: p.failed,
        retried_online: p.retried,
        batches: batches
            .iter()
            .map(|b| ProviderBatchView {
                seq: b.seq,
                provider_batch_id: b.provider_batch_id.clone(),
                status: b.status,
                requests: b.request_count,
                completed: b.completed_count,
                failed: b.failed_count,
                retried_online: b.retried_count,
                error: b.error.clone(),
                submitted_at: b.submitted_at,
                ended_at: b.ended_at,
            })
            .collect(),
    }
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

/// A run's cost per correct label as a page shows it ([`cost_per_correct`]): the figure and
/// its 95% interval by the one definition ([`crate::scoring::CostPerCorrectLabel`], the
/// `cost_per_correct_label` indicator's), and the same in words.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CostPerCorrectView {
    /// US dollars per correct label; `None` when not known (see the label for why).
    pub value: Option<f64>,
    /// Lower bound of the 95% interval.
    pub low: Option<f64>,
    /// Upper bound of the 95% interval (`None`: unbounded or not known).
    pub high: Option<f64>,
    /// `$0.0125 per correct label (95%: $0.0115–$0.0141)`, `not known (no price for m)`,
    /// `no ground truth yet`...
    pub label: String,
}

/// The cost per correct label of `run`, by the one definition (its cost from the same counters
/// the API's indicator reads, not known when `unpriced` names its model as in [`counters`]).
pub fn cost_per_correct(run: &RunView, unpriced: Option<&str>) -> CostPerCorrectView {
    let unpriced = crate::pricing::unpriced_model(&run.notes).or(unpriced.map(str::to_string));
    let done = run.total_predictions + run.total_failed_predictions;
    let found = crate::scoring::CostPerCorrectLabel::new(
        run.total_cost_usd.filter(|_| unpriced.is_none()),
        done,
        run.accuracy(),
    );
    CostPerCorrectView {
        value: found.value,
        low: found.interval.map(|i| i.0),
        high: found.interval.and_then(|i| i.1),
        label: cost_per_correct_words(&found, unpriced.as_deref()),
    }
}

/// A cost per correct label in words: the figure and its interval, or why there is none.
fn cost_per_correct_words(
    c: &crate::scoring::CostPerCorrectLabel,
    unpriced: Option<&str>,
) -> String {
    use super::words::usd;
    if c.answered_tasks == 0 {
        return "— (no result yet)".to_string();
    }
    if c.accuracy.value().is_none() {
        return "no ground truth yet".to_string();
    }
    if !c.cost_known {
        return match unpriced {
            Some(model) => format!("not known (no price for {model})"),
            None => "not known".to_string(),
        };
    }
    let interval = match c.interval {
        Some((low, Some(high))) if high > 0.0 => format!(" (95%: {}–{})", usd(low), usd(high)),
        Some((low, None)) if c.value.is_some() => format!(" (95%: {} or more)", usd(low)),
        Some((low, None)) => format!(" (95%: at least {})", usd(low)),
        _ => String::new(),
    };
    match c.value {
        Some(0.0) => "$0 per correct label (the run cost nothing)".to_string(),
        Some(v) => format!("{} per correct label{interval}", usd(v)),
        None => format!("no correct label yet{interval}"),
    }
}

/// Every counter a run's page shows, in words, built in one place ([`counters`]): the page
/// renders it, its live progress (the page script's JSON) sends it and the script puts each
/// text field into the element of the same `data-field`, so no two figures on the page
/// disagree while the run goes.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RunCounters {
    /// `Pending`, `InProgress`, `Completed`, `Failed` or `Canceled`.
    pub status: String,
    /// Whether the run is still going (the page follows it).
    pub active: bool,
    /// Tasks done: answered and failed.
    pub done: i64,
    /// Tasks in the run.
    pub total: i64,
    /// Tasks that failed.
    pub failed: i64,
    /// `20 / 30 tasks (6 failed)`.
    pub progress: String,
    /// The pace and the time left while the run goes (`1.5 tasks/s · about 3 min left`),
    /// else empty.
    pub pace: String,
    /// `Cost so far` while the run goes, `Cost` after.
    pub cost_label: String,
    /// `$0.0123`, or `not known (no price for <model>)`.
    pub cost: String,
    /// `6,891 tokens (6,000 prompt, 891 completion)`, and how many predictions the response
    /// cache answered when it answered some.
    pub tokens: String,
    /// The accuracy with the failures beside it (`30.0% · 9 failed`), `—` before a task with
    /// ground truth is done.
    pub accuracy: String,
    /// The accuracy and what it is made of, or why there is none yet.
    pub accuracy_detail: String,
    /// What a right answer costs (see [`cost_per_correct`]): `$0.0125 per correct label (95%:
    /// $0.0115–$0.0141)`, `not known (no price for m)`, `no ground truth yet`...
    pub cost_per_correct: String,
    /// The failed tasks and their kinds: `6 · Timeout 4 · RateLimit 2`.
    pub failed_detail: String,
    /// `Last error: Timeout — …`, or empty.
    pub last_error: String,
}

/// The counters of `run` at `now`, with its failed tasks counted by kind (`failures`, empty
/// when not read) and `unpriced`, its version's model when the price table has no price for
/// it (so its cost reads as not known from the start, not `$0` until a note says so).
pub fn counters(
    run: &RunView,
    failures: &[(String, u64)],
    unpriced: Option<&str>,
    now: chrono::DateTime<chrono::Utc>,
) -> RunCounters {
    use super::words::{duration, percent, thousands, usd};
    let done = run.total_predictions + run.total_failed_predictions;
    let active = run.status.is_active();
    let elapsed = run
        .triggered_at
        .map(|t| (now - t).num_milliseconds() as f64 / 1000.0)
        .filter(|s| *s > 0.5);
    let rate = match (active, elapsed) {
        (true, Some(secs)) if done > 0 => Some(done as f64 / secs),
        _ => None,
    };
    let failed = run.total_failed_predictions;
    let mut progress = format!("{} / {} tasks", thousands(done), thousands(run.total_tasks));
    if failed > 0 {
        progress.push_str(&format!(" ({} failed)", thousands(failed)));
    }
    let cost_per_correct = cost_per_correct(run, unpriced).label;
    let unpriced = crate::pricing::unpriced_model(&run.notes).or(unpriced.map(str::to_string));
    let cost = match (run.total_cost_usd, unpriced) {
        (_, Some(model)) => format!("not known (no price for {model})"),
        (Some(c), None) => usd(c),
        (None, None) => "not known".to_string(),
    };
    let accuracy = run.accuracy();
    let label = accuracy.label();
    let accuracy_detail = match accuracy.value() {
        Some(_) => {
            let interval = accuracy
                .interval()
                .map(|(lo, hi)| format!(", 95% CI {}–{}", percent(lo), percent(hi)))
                .unwrap_or_default();
            format!(
                "{label} ({} correct of {} tasks with ground truth done, failed ones wrong{interval})",
                thousands(accuracy.correct as i64),
                thousands(accuracy.scored() as i64),
            )
        }
        None if done == 0 => format!("{label} (no result yet)"),
        None => format!("{label} (no task done has ground truth to score against)"),
    };
    let mut failed_detail = thousands(failed);
    for (kind, n) in failures {
        failed_detail.push_str(&format!(" · {kind} {}", thousands(*n as i64)));
    }
    RunCounters {
        status: run.status.as_str().to_string(),
        active,
        done,
        total: run.total_tasks,
        failed,
        progress,
        pace: rate
            .map(|r| {
                let left = (run.total_tasks - done).max(0) as f64 / r;
                if left < 1.0 {
                    format!("{r:.1} tasks/s · almost done")
                } else {
                    format!("{r:.1} tasks/s · about {} left", duration(left))
                }
            })
            .unwrap_or_default(),
        cost_label: if active { "Cost so far" } else { "Cost" }.to_string(),
        cost,
        tokens: match run.total_cached_predictions {
            0 => format!(
                "{} tokens ({} prompt, {} completion)",
                thousands(run.prompt_tokens + run.completion_tokens),
                thousands(run.prompt_tokens),
                thousands(run.completion_tokens)
            ),
            cached => format!(
                "{} tokens ({} prompt, {} completion) · {} answered from the response cache, free",
                thousands(run.prompt_tokens + run.completion_tokens),
                thousands(run.prompt_tokens),
                thousands(run.completion_tokens),
                thousands(cached)
            ),
        },
        accuracy: label,
        accuracy_detail,
        cost_per_correct,
        failed_detail,
        last_error: run
            .last_error
            .as_ref()
            .map(|e| {
                let kind = e.error_type.as_ref().map_or("", |k| k.as_str());
                let message = e.message.as_deref().unwrap_or_default();
                format!("Last error: {kind} — {message}")
            })
            .unwrap_or_default(),
    }
}

/// The model of `version` when `prices` has no price for it.
pub fn unpriced_model(
    prices: &crate::pricing::PriceTable,
    version: &entity::model_version::Model,
) -> Option<String> {
    prices
        .price(&version.provider_model_id)
        .is_none()
        .then(|| version.provider_model_id.clone())
}

/// The counters of `run` with its failed tasks counted by kind, read now: what the run's page
/// shows and its live progress sends (`unpriced` as in [`counters`]).
pub async fn live_counters(
    db: &impl sea_orm::ConnectionTrait,
    caller: &crate::auth::AuthUser,
    run: &RunView,
    unpriced: Option<&str>,
) -> ApiResult<RunCounters> {
    let failures: Vec<(String, u64)> = if run.total_failed_predictions > 0 {
        crate::services::indicators::indicators(
            db,
            caller,
            run.id,
            Some("failed_predictions"),
            None,
        )
        .await?
        .pop()
        .and_then(|i| i.values["by_error_type"].as_object().cloned())
        .unwrap_or_default()
        .into_iter()
        .map(|(kind, n)| (kind, n.as_u64().unwrap_or(0)))
        .collect()
    } else {
        vec![]
    };
    Ok(counters(run, &failures, unpriced, chrono::Utc::now()))
}

/// A run's notes as a page shows them: a note that its model has no known price is worded as
/// today (notes stored before said "(null)").
pub fn notes_in_words(run: &RunView) -> Vec<String> {
    run.notes
        .iter()
        .map(
            |n| match crate::pricing::unpriced_model(std::slice::from_ref(n)) {
                Some(model) => crate::pricing::unpriced_note(&model),
                None => n.clone(),
            },
        )
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(status: &str, answered: i64, failed: i64, cost: Option<f64>, notes: &[&str]) -> RunView {
        serde_json::from_value(json!({
            "id": 7, "project": 1, "model_version": 2, "parent_model": 3,
            "project_subset": "HasGT", "status": status, "total_tasks": 30,
            "total_predictions": answered, "total_correct_predictions": answered / 2,
            "total_failed_predictions": failed, "total_scored_predictions": answered,
            "total_scored_failed_predictions": failed, "only_missing_predictions": false,
            "prompt_tokens": 6000, "completion_tokens": 891, "total_cost_usd": cost,
            "cache": true, "total_cached_predictions": 0, "execution": "online",
            "notes": notes, "organization": 1, "created_at": "2026-12-01T10:00:00Z",
            "triggered_at": "2026-12-01T10:00:00Z",
        }))
        .expect("a run view")
    }

    fn at(s: &str) -> chrono::DateTime<chrono::Utc> {
        s.parse().expect("a time")
    }

    /// The counters of a run that goes agree with one another: the progress, the failures,
    /// the accuracy and the tokens all come from the same counts.
    #[test]
    fn a_running_runs_counters_agree() {
        let r = run("InProgress", 14, 6, Some(0.0123), &[]);
        let c = counters(
            &r,
            &[("Timeout".into(), 6)],
            None,
            at("2026-12-01T10:00:10Z"),
        );
        assert_eq!(c.progress, "20 / 30 tasks (6 failed)");
        assert_eq!(c.failed_detail, "6 · Timeout 6");
        assert_eq!((c.done, c.total, c.failed, c.active), (20, 30, 6, true));
        assert_eq!(c.pace, "2.0 tasks/s · about 5 s left");
        assert_eq!(c.accuracy, "35.0% · 6 failed");
        assert!(
            c.accuracy_detail
                .starts_with("35.0% · 6 failed (7 correct of 20 tasks with ground truth done"),
            "{}",
            c.accuracy_detail
        );
        assert_eq!(
            (c.cost_label.as_str(), c.cost.as_str()),
            ("Cost so far", "$0.0123")
        );
        assert_eq!(c.tokens, "6,891 tokens (6,000 prompt, 891 completion)");
        // Answers from the response cache are said beside the tokens.
        let mut cached = run("InProgress", 14, 6, Some(0.0123), &[]);
        cached.total_cached_predictions = 1200;
        let c = counters(&cached, &[], None, at("2026-12-01T10:00:10Z"));
        assert_eq!(
            c.tokens,
            "6,891 tokens (6,000 prompt, 891 completion) · 1,200 answered from the response \
             cache, free"
        );
    }

    /// A finished run of a model with no price says so in words, never "—" or "null".
    #[test]
    fn a_finished_unpriced_run_says_its_cost_is_not_known() {
        let note = crate::pricing::unpriced_note("fake-model");
        let r = run("Completed", 30, 0, None, &[note.as_str()]);
        let c = counters(&r, &[], None, at("2026-12-01T11:00:00Z"));
        assert_eq!(c.cost_label, "Cost");
        assert_eq!(c.cost, "not known (no price for fake-model)");
        assert_eq!(c.pace, "");
        let old = "No price is known for model \"fake-model\": the cost is not counted (null). \
                   Give its price with --prices-file (PROMPTER_PRICES_FILE).";
        let r = run("Completed", 30, 0, None, &[old]);
        assert!(!notes_in_words(&r).concat().contains("null"));
        let json = serde_json::to_string(&counters(&r, &[], None, at("2026-12-01T11:00:00Z")))
            .expect("json");
        assert!(!json.contains("null"), "{json}");
    }

    /// What a right answer costs, in words, from the same counters as the API's indicator.
    #[test]
    fn the_cost_per_correct_label_in_words() {
        // 15 right of 30 for $0.30: $0.01 a task ÷ 0.5; Wilson(15, 30) ≈ [0.3315, 0.6685].
        let r = run("Completed", 30, 0, Some(0.3), &[]);
        let c = counters(&r, &[], None, at("2026-12-01T11:00:00Z"));
        assert_eq!(
            c.cost_per_correct,
            "$0.0200 per correct label (95%: $0.0150–$0.0302)"
        );
        let view = cost_per_correct(&r, None);
        assert!(
            view.value.is_some_and(|v| (v - 0.02).abs() < 1e-12),
            "{view:?}"
        );
        assert!(view.low.is_some_and(|v| (v - 0.01 / 0.668_46).abs() < 1e-5));
        // Failed tasks are wrong and paid for: 14 right of 28 answered and 2 failed.
        let r = run("Completed", 28, 2, Some(0.3), &[]);
        assert!(
            cost_per_correct(&r, None)
                .value
                .is_some_and(|v| (v - 0.3 / 14.0).abs() < 1e-12)
        );
        // Free, unpriced, nothing right.
        let free = run("Completed", 30, 0, Some(0.0), &[]);
        assert_eq!(
            cost_per_correct(&free, None).label,
            "$0 per correct label (the run cost nothing)"
        );
        assert_eq!(
            cost_per_correct(&r, Some("fake-model")).label,
            "not known (no price for fake-model)"
        );
        let mut no_truth = run("Completed", 30, 0, Some(0.3), &[]);
        (
            no_truth.total_scored_predictions,
            no_truth.total_correct_predictions,
        ) = (0, 0);
        assert_eq!(
            cost_per_correct(&no_truth, None).label,
            "no ground truth yet"
        );
        let wrong = run("Completed", 1, 0, Some(0.3), &[]);
        assert_eq!(cost_per_correct(&wrong, None).value, None);
        assert!(
            cost_per_correct(&wrong, None)
                .label
                .starts_with("no correct label yet (95%: at least $"),
            "{:?}",
            cost_per_correct(&wrong, None)
        );
    }

    #[test]
    fn a_run_without_results_says_why_it_has_no_accuracy() {
        let r = run("Pending", 0, 0, Some(0.0), &[]);
        let c = counters(&r, &[], None, at("2026-12-01T10:00:10Z"));
        assert_eq!(c.accuracy_detail, "— (no result yet)");
        assert_eq!(c.progress, "0 / 30 tasks");
        assert_eq!(c.failed_detail, "0");
        assert_eq!(c.cost, "$0");
        assert_eq!(c.cost_per_correct, "— (no result yet)");
        // A model with no price: not known from the start, before any note says so.
        let c = counters(&r, &[], Some("fake-model"), at("2026-12-01T10:00:10Z"));
        assert_eq!(c.cost, "not known (no price for fake-model)");
    }
}
