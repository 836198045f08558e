//! A version's calibration map: fitted on one of its runs with ground truth (the scored
//! predictions of labeled tasks), stored on the version, applied by `services::results` to the
//! scores its later runs write, and removed on request.
use super::*;
use crate::auth::Manager;
use crate::services::trust;
use crate::stats::calibration::{self, CalibrationMap};
use crate::views::versions::{Calibration, CalibrationInput};

/// Fewest labeled, scored predictions a map is fitted on.
pub const MIN_CALIBRATION_LABELS: usize = 20;

/// Fits the map `input` asks on run `input.run` of version `version_id` of prompt `prompt_id`
/// and stores it on the version (replacing one there).
pub async fn calibrate<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    caller: &Manager,
    prompt_id: i64,
    version_id: i64,
    input: CalibrationInput,
) -> ApiResult<model_version::Model> {
    let version = get(db, caller, prompt_id, version_id).await?;
    let (run, config) = trust::run_with_config(db, caller, input.run)
        .await
        .map_err(|_| invalid_run(input.run))?;
    if run.model_version_id != version.id {
        return Err(invalid_run(input.run));
    }
    let tasks = trust::tasks(db, &config, run.id).await?;
    // Fitted on the scores as the model gave them (a run written through an earlier map keeps
    // them in `extra.raw_score`): the map is applied to raw scores.
    let pairs = trust::raw_pairs(&tasks);
    if pairs.len() < MIN_CALIBRATION_LABELS {
        return Err(ApiError::field(
            "run",
            format!(
                "The run has {} scored predictions on tasks with ground truth; a calibration map \
                 needs at least {MIN_CALIBRATION_LABELS}. Label more of its tasks.",
                pairs.len()
            ),
        ));
    }
    let map = CalibrationMap::fit(input.method.as_str(), &pairs)
        .ok_or_else(|| ApiError::field("method", "Use isotonic or temperature."))?;
    let before = calibration::ece(&calibration::reliability(&pairs, trust::BINS));
    let mapped: Vec<calibration::Pair> = pairs
        .iter()
        .map(|p| calibration::Pair {
            score: map.apply(p.score),
            correct: p.correct,
        })
        .collect();
    let after = calibration::ece(&calibration::reliability(&mapped, trust::BINS));
    let stored = Calibration {
        map,
        run: run.id,
        labeled: pairs.len() as u64,
        ece_before: before,
        ece_after: after,
        fitted_at: crate::util::now(),
    };
    let value = serde_json::to_value(&stored)
        .map_err(|e| ApiError::Internal(format!("calibration map: {e}")))?;
    set(db, caller, version, Some(value)).await
}

/// Removes the version's calibration map (its later scores are used as they come).
pub async fn uncalibrate<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    caller: &Manager,
    prompt_id: i64,
    version_id: i64,
) -> ApiResult<model_version::Model> {
    let version = get(db, caller, prompt_id, version_id).await?;
    set(db, caller, version, None).await
}

fn invalid_run(id: i64) -> ApiError {
    ApiError::field(
        "run",
        format!("Invalid pk \"{id}\" - object does not exist (a run of this version)."),
    )
}

/// Stores `value` as the version's calibration, audited, in one transaction.
async fn set<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    caller: &Manager,
    version: model_version::Model,
    value: Option<serde_json::Value>,
) -> ApiResult<model_version::Model> {
    let txn = crate::db::begin_write(db).await?;
    let before = version.clone();
    let mut row: model_version::ActiveModel = version.into();
    row.calibration = Set(value);
    row.updated_at = Set(crate::util::now());
    let updated = row.update(&txn).await?;
    audit::updated(&txn, &**caller, object(&updated), &before, &updated).await?;
    txn.commit().await?;
    Ok(updated)
}
