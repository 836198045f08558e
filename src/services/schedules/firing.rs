//! Firing schedules: a due slot is claimed by the process whose conditional update moves the
//! schedule's `next_run_at` past it, which then creates the run (or records why the slot was
//! skipped) in the same transaction.
use super::*;

/// What happened to a due slot.
#[derive(Debug, Clone, PartialEq)]
pub enum Fired {
    /// A run was created.
    Run {
        /// The schedule.
        schedule: i64,
        /// The slot.
        slot: DateTime<Utc>,
        /// The run.
        run: i64,
    },
    /// The slot was passed over, for the reason given.
    Skipped {
        /// The schedule.
        schedule: i64,
        /// The slot.
        slot: DateTime<Utc>,
        /// Why.
        reason: String,
    },
}

/// The caller a schedule acts as: its creator, with the role they have now (a Manager or
/// above, with an active membership: a schedule of someone who lost that role, or was
/// deactivated, does not fire).
async fn acting_caller(
    db: &impl ConnectionTrait,
    s: &schedule::Model,
) -> ApiResult<Option<AuthUser>> {
    let Some(user_id) = s.created_by_id else {
        return Ok(None);
    };
    let Some(found) = user::Entity::find_by_id(user_id).one(db).await? else {
        return Ok(None);
    };
    let role = organization_member::Entity::find()
        .filter(organization_member::Column::UserId.eq(user_id))
        .filter(organization_member::Column::OrganizationId.eq(s.organization_id))
        .one(db)
        .await?
        .filter(|m| m.is_active)
        .and_then(|m| Role::parse(&m.role));
    Ok(role
        .filter(|r| *r <= Role::Manager && found.is_active)
        .map(|role| AuthUser {
            user: found,
            organization_id: s.organization_id,
            role,
        }))
}

/// Writes the `schedule_fire` job of a firing, born succeeded (the firing itself is the
/// conditional update above, exactly once), so that firings show in the job list: its subject
/// is the run it started (the schedule when the slot was skipped).
async fn record_firing(
    txn: &impl ConnectionTrait,
    s: &schedule::Model,
    slot: DateTime<Utc>,
    outcome: &Fired,
) -> ApiResult<()> {
    use crate::services::jobs::{self as job_rows, NewJob};
    use entity::enums::{JobKind, JobStatus};
    let (subject, summary, run) = match outcome {
        Fired::Run { run, .. } => (
            (job_rows::subject::RUN, *run),
            format!("schedule {} fired for {slot}: run {run}", s.id),
            Some(*run),
        ),
        Fired::Skipped { reason, .. } => (
            (job_rows::subject::SCHEDULE, s.id),
            format!("schedule {} skipped the slot {slot}: {reason}", s.id),
            None,
        ),
    };
    let mut new = NewJob::new(
        JobKind::ScheduleFire,
        Some(s.organization_id),
        serde_json::json!({"schedule_id": s.id, "prompt_id": s.prompt_id, "slot": slot, "run_id": run}),
    )
    .dedupe(format!("schedule:{}:{}", s.id, slot.timestamp()))
    .about(subject.0, subject.1);
    new.status = JobStatus::Succeeded;
    new.result = Some(summary);
    new.created_by = s.created_by_id;
    job_rows::enqueue(txn, new).await?;
    let skipped = match outcome {
        Fired::Skipped { reason, .. } => Some(reason.as_str()),
        Fired::Run { .. } => None,
    };
    crate::services::webhooks::schedule_fired(txn, s, slot, run, skipped).await?;
    Ok(())
}

/// Fires the schedules due at `now`: each due slot is claimed by one process and either
/// creates a run or is skipped. Returns what happened to the slots this process claimed.
/// A `Sample` run gets the configured Sample size (`sample_size`), as API and web runs do.
pub async fn fire_due<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    now: DateTime<Utc>,
    sample_size: u64,
) -> ApiResult<Vec<Fired>> {
    let due = schedule::Entity::find()
        .filter(schedule::Column::Status.eq(ScheduleStatus::Active))
        .filter(schedule::Column::NextRunAt.lte(now))
        .order_by_asc(schedule::Column::NextRunAt)
        .limit(100)
        .all(db)
        .await?;
    let mut out = vec![];
    for s in due {
        if let Some(fired) = fire_one(db, &s, now, sample_size).await? {
            out.push(fired);
        }
    }
    Ok(out)
}

async fn fire_one<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    s: &schedule::Model,
    now: DateTime<Utc>,
    sample_size: u64,
) -> ApiResult<Option<Fired>> {
    let Some(due) = s.next_run_at else {
        return Ok(None);
    };
    let (Ok(expression), Ok(tz)) = (parse_cron(&s.cron), parse_timezone(&s.timezone)) else {
        return Ok(None);
    };
    if next_after(&expression, tz, due - chrono::Duration::seconds(1)) != Some(due) {
        // A slot the expression does not give (stored under an earlier reading of cron) does
        // not fire: the schedule moves to its next real firing.
        move_next(db, s, next_after(&expression, tz, now), now).await?;
        return Ok(None);
    }
    let (slot, next) = catch_up(&expression, tz, due, now);
    let txn = crate::db::begin_write(db).await?;
    // The claim: only the process whose update still sees the due slot fires it.
    let claimed = schedule::Entity::update_many()
        .col_expr(schedule::Column::NextRunAt, Expr::value(next))
        .col_expr(schedule::Column::LastRunAt, Expr::value(Some(slot)))
        .col_expr(schedule::Column::UpdatedAt, Expr::value(now))
        .filter(schedule::Column::Id.eq(s.id))
        .filter(schedule::Column::Status.eq(ScheduleStatus::Active))
        .filter(schedule::Column::NextRunAt.eq(due))
        .exec(&txn)
        .await?;
    if claimed.rows_affected != 1 {
        txn.rollback().await?;
        return Ok(None);
    }
    let skip = |reason: String| Fired::Skipped {
        schedule: s.id,
        slot,
        reason,
    };
    let outcome = match plan(&txn, s).await? {
        Err(reason) => skip(reason),
        Ok((caller, version)) => {
            let input = RunInput {
                project: Some(s.project_id),
                project_subset: Some(s.project_subset),
                only_missing_predictions: Some(s.only_missing_predictions),
                sample_subset_size: None,
                filters_json: None,
                task_ids: None,
                cache: None,
                execution: None,
            };
            let actor = audit::Actor::schedule(s.organization_id, s.id);
            let made = runs::create_by(
                &txn,
                &caller,
                &actor,
                s.prompt_id,
                version,
                input,
                sample_size,
            );
            match made.await {
                Ok(run) => {
                    let mut model: model_run::ActiveModel = run.into();
                    model.schedule_id = Set(Some(s.id));
                    model.scheduled_for = Set(Some(slot));
                    let run = model.update(&txn).await?;
                    schedule::Entity::update_many()
                        .col_expr(schedule::Column::LastRunId, Expr::value(Some(run.id)))
                        .filter(schedule::Column::Id.eq(s.id))
                        .exec(&txn)
                        .await?;
                    Fired::Run {
                        schedule: s.id,
                        slot,
                        run: run.id,
                    }
                }
                Err(ApiError::Database(e)) => return Err(ApiError::Database(e)),
                Err(e) => skip(format!("the run could not be created: {e}")),
            }
        }
    };
    record_firing(&txn, s, slot, &outcome).await?;
    txn.commit().await?;
    match &outcome {
        Fired::Run { run, .. } => {
            tracing::info!(schedule = s.id, prompt = s.prompt_id, run, slot = %slot, "schedule fired")
        }
        Fired::Skipped { reason, .. } => {
            tracing::info!(schedule = s.id, prompt = s.prompt_id, slot = %slot, reason = %reason, "schedule slot skipped")
        }
    }
    Ok(Some(outcome))
}

/// Who fires schedule `s` and which version, or why the slot is skipped.
async fn plan(
    db: &impl ConnectionTrait,
    s: &schedule::Model,
) -> ApiResult<Result<(AuthUser, i64), String>> {
    let Some(prompt) = model_interface::Entity::find_by_id(s.prompt_id)
        .one(db)
        .await?
    else {
        return Ok(Err("the prompt is gone".into()));
    };
    if matches!(prompt.status, PromptStatus::Paused | PromptStatus::Archived) {
        return Ok(Err(format!("the prompt is {}", prompt.status)));
    }
    if let Some(previous) = s.last_run_id
        && let Some(run) = model_run::Entity::find_by_id(previous).one(db).await?
        && run.status.is_active()
    {
        return Ok(Err(format!(
            "its previous run {} is still {}",
            run.id, run.status
        )));
    }
    let Some(caller) = acting_caller(db, s).await? else {
        return Ok(Err(
            "its creator is no longer a Manager (or above) of the organization".into(),
        ));
    };
    let version = match (&s.label, s.version_id) {
        (Some(label), _) => match labels::find(db, prompt.id, label).await? {
            Some(l) => Some(l.version_id),
            None => return Ok(Err(format!("its label {label} is not set on any version"))),
        },
        (None, Some(v)) => Some(v),
        (None, None) => prompts::answering_version(db, &prompt).await?.map(|v| v.id),
    };
    Ok(match version {
        Some(v) => Ok((caller, v)),
        None => Err("the prompt has no version to run".into()),
    })
}
