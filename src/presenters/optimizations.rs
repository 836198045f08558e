//! Optimization views: each candidate's train and held-out scores with their Wilson
//! intervals, the accuracy/cost front and the progress, for the API and the web page alike.
use crate::error::ApiResult;
use crate::services::optimizations::{self as service};
use crate::stats::{Z95, wilson};
use crate::views::optimizations::{
    CandidateView, OptimizationEstimate, OptimizationProgress, OptimizationResult,
    OptimizationView, SplitScore,
};
use entity::{optimization_candidate, prompt_optimization};
use sea_orm::ConnectionTrait;

/// Right over scored, with the interval.
fn split_score(outcomes: &std::collections::HashMap<i64, bool>, tasks: &[i64]) -> SplitScore {
    let (right, n) = service::score_on(outcomes, tasks);
    SplitScore {
        scored: n as i64,
        correct: right as i64,
        accuracy: (n > 0).then(|| right as f64 / n as f64),
        interval: wilson(right, n, Z95).map(|(lo, hi)| vec![lo, hi]),
    }
}

/// The view of candidate `c` over the split's tasks.
fn candidate_view(
    c: optimization_candidate::Model,
    train: &[i64],
    held_out: &[i64],
) -> CandidateView {
    let train_score = split_score(&service::outcomes(&c.train), train);
    let held_score = split_score(&service::outcomes(&c.held_out), held_out);
    CandidateView {
        id: c.id,
        seq: c.seq,
        round: c.round,
        origin: c.origin,
        parent_candidate_id: c.parent_candidate_id,
        prompt: c.prompt,
        note: c.note,
        status: c.status,
        train: train_score,
        held_out: held_score,
        calls: c.calls,
        cost: c.cost,
        cost_per_call: (c.calls > 0).then(|| c.cost / f64::from(c.calls)),
        on_front: false,
    }
}

/// The view of optimization `row`; with `candidates`, its candidates and front (the list
/// leaves them out).
pub async fn view(
    db: &impl ConnectionTrait,
    row: prompt_optimization::Model,
    candidates: bool,
) -> ApiResult<OptimizationView> {
    let (train, held_out) = service::split_of(&row).unwrap_or_default();
    let mut cands: Vec<CandidateView> = if candidates {
        service::candidates(db, row.id)
            .await?
            .into_iter()
            .map(|c| candidate_view(c, &train, &held_out))
            .collect()
    } else {
        vec![]
    };
    let points: Vec<(i64, f64, f64)> = cands
        .iter()
        .filter_map(|c| Some((c.id, c.train.accuracy?, c.cost_per_call?)))
        .collect();
    let front = service::pareto_front(&points);
    for c in &mut cands {
        c.on_front = front.contains(&c.id);
    }
    let estimate: OptimizationEstimate =
        serde_json::from_value(row.estimate.clone()).unwrap_or_default();
    let result: Option<OptimizationResult> = row
        .result
        .clone()
        .and_then(|r| serde_json::from_value(r).ok());
    Ok(OptimizationView {
        id: row.id,
        prompt_id: row.prompt_id,
        version_id: row.version_id,
        project_id: row.project_id,
        teacher_model_name: row.teacher_model_name.clone(),
        teacher_model_provider_connection_id: row.teacher_connection_id,
        status: row.status,
        stage: row.stage.clone(),
        settings: service::settings_of(&row),
        progress: OptimizationProgress {
            done: i64::from(row.calls),
            total: estimate.calls.max(i64::from(row.calls)),
        },
        estimate,
        train_tasks: train.len() as i64,
        held_out_tasks: held_out.len() as i64,
        calls: row.calls,
        cost: row.cost,
        elapsed_seconds: row.elapsed_seconds,
        candidates: cands,
        pareto_front: front,
        result,
        new_version_id: row.new_version_id,
        error_message: row.error_message,
        job_id: row.job_id,
        created_by: row.created_by_id,
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}
