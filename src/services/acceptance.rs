//! Accepting what is sure, with a guarantee: the lowest score threshold whose predictions meet an
//! accuracy target with a given confidence on the run's ground truth (see
//! `stats::calibration::acceptance`), what it covers of the whole run, the rest to review
//! (least sure first), and, on request, the accepted predictions turned into annotations.
//!
//! Accepting writes, in one transaction, one annotation per accepted prediction whose task has
//! no annotation yet: completed by the caller, `parent_prediction` the prediction, `last_action`
//! `prediction` (Label Studio's "created from a prediction"), never ground truth. A task that
//! already has an annotation (a person's, or one accepted before) is left alone, so accepting
//! again adds nothing.
use crate::auth::Manager;
use crate::error::{ApiError, ApiResult};
use crate::services::audit::{self, Changes, Object};
use crate::services::trust::{self, TaskTrust};
use crate::services::{counters, scored};
use crate::stats::calibration::{self, Acceptance};
use entity::enums::{AuditAction, AuditObject};
use entity::{annotation, prediction};
use sea_orm::ActiveValue::{NotSet, Set};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect, TransactionSession,
    TransactionTrait,
};
use serde_json::Value;
use std::collections::HashSet;

/// Tasks listed for review, least sure first.
pub const REVIEW_LISTED: usize = 100;

/// What accepting at a target would do.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// The threshold and its guarantee on the labeled predictions (`None`: no threshold meets
    /// the target).
    pub found: Option<Acceptance>,
    /// The run's scored predictions at or above the threshold (task ids).
    pub accepted: Vec<i64>,
    /// The run's answered tasks.
    pub tasks: usize,
    /// The rest, least sure first (task ids; failed tasks first, as score 0).
    pub review: Vec<i64>,
}

/// Checks a target and a confidence: both strictly between 0 and 1, the confidence at least ½.
pub fn check(target: f64, confidence: f64) -> ApiResult<()> {
    if !(target > 0.0 && target < 1.0) {
        return Err(ApiError::field(
            "target",
            "Give the accuracy to meet, between 0 and 1 (e.g. 0.95).",
        ));
    }
    if !(0.5..1.0).contains(&confidence) {
        return Err(ApiError::field(
            "confidence",
            "Give the confidence, at least 0.5 and below 1 (e.g. 0.9).",
        ));
    }
    Ok(())
}

/// What accepting the predictions of `tasks` at `target` and `confidence` would do.
pub fn plan(tasks: &[TaskTrust], target: f64, confidence: f64) -> Plan {
    let found = calibration::acceptance(&trust::pairs(tasks), target, confidence);
    let sure = |t: &TaskTrust| {
        found.is_some_and(|a| t.method.is_some() && !t.failed && t.score >= a.threshold)
    };
    let accepted = tasks
        .iter()
        .filter(|t| sure(t))
        .map(|t| t.task_id)
        .collect();
    let mut rest: Vec<&TaskTrust> = tasks.iter().filter(|t| !sure(t)).collect();
    rest.sort_by(|a, b| a.score.total_cmp(&b.score).then(a.task_id.cmp(&b.task_id)));
    Plan {
        found,
        accepted,
        tasks: tasks.len(),
        review: rest.iter().take(REVIEW_LISTED).map(|t| t.task_id).collect(),
    }
}

/// The plan of run `run_id` of the caller's organization.
pub async fn preview(
    db: &impl ConnectionTrait,
    caller: &crate::auth::AuthUser,
    run_id: i64,
    target: f64,
    confidence: f64,
) -> ApiResult<Plan> {
    check(target, confidence)?;
    let (run, config) = trust::run_with_config(db, caller, run_id).await?;
    let tasks = trust::tasks(db, &config, run.id).await?;
    Ok(plan(&tasks, target, confidence))
}

/// What accepting did.
#[derive(Debug, Clone, PartialEq)]
pub struct Accepted {
    /// The plan it carried out.
    pub plan: Plan,
    /// Annotations written.
    pub created: u64,
    /// Accepted predictions whose task already had an annotation (left alone).
    pub already_annotated: u64,
}

/// Accepts the sure predictions of run `run_id` (see the module docs).
pub async fn accept<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    caller: &Manager,
    run_id: i64,
    target: f64,
    confidence: f64,
) -> ApiResult<Accepted> {
    let plan = preview(db, caller, run_id, target, confidence).await?;
    let Some(found) = plan.found else {
        return Err(ApiError::field(
            "target",
            "No score threshold meets this target with this confidence on the run's ground \
             truth: label more of its tasks, or lower the target.",
        ));
    };
    let txn = crate::db::begin_write(db).await?;
    let mut created = 0u64;
    let mut already = 0u64;
    for chunk in plan.accepted.chunks(500) {
        let annotated: HashSet<i64> = annotation::Entity::find()
            .select_only()
            .column(annotation::Column::TaskId)
            .filter(annotation::Column::TaskId.is_in(chunk.to_vec()))
            .filter(annotation::Column::WasCancelled.eq(false))
            .into_tuple::<i64>()
            .all(&txn)
            .await?
            .into_iter()
            .collect();
        let open: Vec<i64> = chunk
            .iter()
            .copied()
            .filter(|t| !annotated.contains(t))
            .collect();
        already += (chunk.len() - open.len()) as u64;
        if open.is_empty() {
            continue;
        }
        let predictions: Vec<(i64, i64, i64, Value)> = prediction::Entity::find()
            .select_only()
            .columns([
                prediction::Column::Id,
                prediction::Column::TaskId,
                prediction::Column::ProjectId,
                prediction::Column::Result,
            ])
            .filter(prediction::Column::ModelRunId.eq(run_id))
            .filter(prediction::Column::TaskId.is_in(open.clone()))
            .into_tuple()
            .all(&txn)
            .await?;
        let scores = scored::before(&txn, &open).await?;
        let now = crate::util::now();
        let rows: Vec<annotation::ActiveModel> = predictions
            .into_iter()
            .map(|(id, task, project, result)| annotation::ActiveModel {
                id: NotSet,
                task_id: Set(task),
                project_id: Set(project),
                result: Set(result),
                was_cancelled: Set(false),
                ground_truth: Set(false),
                lead_time: Set(None),
                completed_by_id: Set(Some(caller.user.id)),
                updated_by_id: Set(Some(caller.user.id)),
                parent_prediction_id: Set(Some(id)),
                parent_annotation_id: Set(None),
                last_action: Set(Some("prediction".into())),
                ls_annotation_id: Set(None),
                created_at: Set(now),
                updated_at: Set(now),
            })
            .collect();
        created += rows.len() as u64;
        annotation::Entity::insert_many(rows).exec(&txn).await?;
        counters::recount_tasks(&txn, &open).await?;
        scores.apply(&txn).await?;
    }
    let changes = Changes::new()
        .value("accepted_predictions", created)
        .value("threshold", found.threshold)
        .value("target", target)
        .value("confidence", confidence);
    let object = Object::new(AuditObject::Run, run_id, format!("Run {run_id}"));
    audit::record(&txn, &**caller, AuditAction::Update, object, changes).await?;
    txn.commit().await?;
    Ok(Accepted {
        plan,
        created,
        already_annotated: already,
    })
}
