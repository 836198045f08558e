//! Rows of the durable job queue (`jobs`): enqueuing a job in the caller's own transaction
//! (with an optional dedupe key: one open job per key), and listing, reading and canceling the
//! jobs of the caller's organization. Claiming and running jobs is the business of the
//! background layer's `jobs` module; this module only writes and reads rows, so any service can
//! enqueue work in the transaction of the change that calls for it.
use crate::auth::{AuthUser, Role};
use crate::error::{ApiError, ApiResult};
use crate::pagination::{Page, PageRequest};
use chrono::{DateTime, Utc};
use entity::enums::{JobKind, JobStatus, RunStatus};
use entity::{job, model_run, organization_member, user};
use sea_orm::ActiveValue::{NotSet, Set};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect,
};
use serde_json::Value;

/// What a job canceled by a user says (its `last_error`, and what its subject records).
pub const CANCELED_BY_USER: &str = "Canceled by a user.";

/// Attempts of a job before it is given up, unless its kind says otherwise.
pub const DEFAULT_MAX_ATTEMPTS: i32 = 5;

/// What a job works on, for "the job of X" and for links in the lists.
pub mod subject {
    /// A prompt refinement (`model_refinements.id`).
    pub const REFINEMENT: &str = "refinement";
    /// A prompt optimization (`prompt_optimizations.id`).
    pub const OPTIMIZATION: &str = "optimization";
    /// A Label Studio link (`label_studio_links.id`).
    pub const LINK: &str = "link";
    /// An inference run (`model_runs.id`).
    pub const RUN: &str = "run";
    /// A prompt (`model_interfaces.id`).
    pub const PROMPT: &str = "prompt";
    /// A schedule (`prompt_schedules.id`).
    pub const SCHEDULE: &str = "schedule";
}

/// A job to enqueue.
#[derive(Debug, Clone)]
pub struct NewJob {
    /// What it does.
    pub kind: JobKind,
    /// Whose it is (`None`: the operator's, seen by no organization).
    pub organization_id: Option<i64>,
    /// Its input: ids only, never a secret.
    pub payload: Value,
    /// At most one open (queued or running) job holds a key.
    pub dedupe_key: Option<String>,
    /// What it works on: (type, id).
    pub subject: Option<(&'static str, i64)>,
    /// Who asked for it.
    pub created_by: Option<i64>,
    /// Attempts before it is given up.
    pub max_attempts: i32,
    /// The status it is born with: `queued` for work, `running` for a row that mirrors work
    /// done elsewhere (a run), `succeeded` for a record of work already done (a firing).
    pub status: JobStatus,
    /// Progress it is born with (done, total).
    pub progress: (i64, i64),
    /// The summary of a job born finished.
    pub result: Option<String>,
}

impl NewJob {
    /// A queued job of `kind` for `organization_id` with `payload`.
    pub fn new(kind: JobKind, organization_id: Option<i64>, payload: Value) -> NewJob {
        NewJob {
            kind,
            organization_id,
            payload,
            dedupe_key: None,
            subject: None,
            created_by: None,
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            status: JobStatus::Queued,
            progress: (0, 0),
            result: None,
        }
    }

    /// With a dedupe key.
    pub fn dedupe(mut self, key: impl Into<String>) -> NewJob {
        self.dedupe_key = Some(key.into());
        self
    }

    /// With a subject.
    pub fn about(mut self, kind: &'static str, id: i64) -> NewJob {
        self.subject = Some((kind, id));
        self
    }

    /// Asked for by `user_id`.
    pub fn by(mut self, user_id: i64) -> NewJob {
        self.created_by = Some(user_id);
        self
    }
}

/// What [`enqueue`] did.
#[derive(Debug, Clone)]
pub enum Enqueued {
    /// A new job.
    New(job::Model),
    /// An open job already held the dedupe key: nothing was added.
    Existing(job::Model),
}

impl Enqueued {
    /// The job, new or existing.
    pub fn job(self) -> job::Model {
        match self {
            Enqueued::New(j) | Enqueued::Existing(j) => j,
        }
    }
}

/// Enqueues a job in `db` (the caller's transaction: the job exists iff the change that asked
/// for it commits). With a dedupe key held by an open job, that job is returned instead; a key
/// held by a finished job is released (its row keeps its history without the key).
pub async fn enqueue(db: &impl ConnectionTrait, new: NewJob) -> ApiResult<Enqueued> {
    let now = crate::util::now();
    if let Some(key) = &new.dedupe_key
        && let Some(found) = job::Entity::find()
            .filter(job::Column::DedupeKey.eq(key.as_str()))
            .one(db)
            .await?
    {
        if found.status.is_open() {
            return Ok(Enqueued::Existing(found));
        }
        job::Entity::update_many()
            .col_expr(job::Column::DedupeKey, Expr::value(Option::<String>::None))
            .filter(job::Column::Id.eq(found.id))
            .exec(db)
            .await?;
    }
    let finished = !new.status.is_open();
    let running = new.status == JobStatus::Running;
    let row = job::ActiveModel {
        id: NotSet,
        organization_id: Set(new.organization_id),
        kind: Set(new.kind),
        status: Set(new.status),
        payload: Set(new.payload),
        dedupe_key: Set(new.dedupe_key),
        subject_type: Set(new.subject.map(|(t, _)| t.to_string())),
        subject_id: Set(new.subject.map(|(_, id)| id)),
        attempts: Set(if finished || running { 1 } else { 0 }),
        max_attempts: Set(new.max_attempts.max(1)),
        run_at: Set(now),
        lease_owner: Set(None),
        lease_expires_at: Set(None),
        heartbeat_at: Set(None),
        cancel_requested: Set(false),
        progress_done: Set(new.progress.0),
        progress_total: Set(new.progress.1),
        last_error: Set(None),
        result: Set(new.result),
        created_by_id: Set(new.created_by),
        started_at: Set((finished || running).then_some(now)),
        finished_at: Set(finished.then_some(now)),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await?;
    Ok(Enqueued::New(row))
}

/// Filters of a job list.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    /// Jobs of this kind.
    pub kind: Option<JobKind>,
    /// Jobs in this status.
    pub status: Option<JobStatus>,
}

/// The caller organization's jobs, newest first, one page of them, with the count.
pub async fn list(
    db: &impl ConnectionTrait,
    caller: &AuthUser,
    filter: &ListFilter,
    request: PageRequest,
) -> ApiResult<(Vec<job::Model>, u64, Page)> {
    let mut query =
        job::Entity::find().filter(job::Column::OrganizationId.eq(caller.organization_id));
    if let Some(kind) = filter.kind {
        query = query.filter(job::Column::Kind.eq(kind));
    }
    if let Some(status) = filter.status {
        query = query.filter(job::Column::Status.eq(status));
    }
    let query = query
        .order_by_desc(job::Column::CreatedAt)
        .order_by_desc(job::Column::Id);
    let total = query.clone().count(db).await?;
    let page = request.locate(total);
    let items = query.offset(page.offset).limit(page.size).all(db).await?;
    Ok((items, total, page))
}

/// The job `id` of the caller's organization, or 404.
pub async fn get(db: &impl ConnectionTrait, caller: &AuthUser, id: i64) -> ApiResult<job::Model> {
    job::Entity::find_by_id(id)
        .filter(job::Column::OrganizationId.eq(caller.organization_id))
        .one(db)
        .await?
        .ok_or(ApiError::NotFound)
}

/// The newest job of `kind` about (`subject_type`, `subject_id`), if any.
pub async fn of_subject(
    db: &impl ConnectionTrait,
    kind: JobKind,
    subject_type: &str,
    subject_id: i64,
) -> ApiResult<Option<job::Model>> {
    Ok(job::Entity::find()
        .filter(job::Column::Kind.eq(kind))
        .filter(job::Column::SubjectType.eq(subject_type))
        .filter(job::Column::SubjectId.eq(subject_id))
        .order_by_desc(job::Column::Id)
        .one(db)
        .await?)
}

/// What canceling a job did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Canceled {
    /// It was queued: it is canceled now.
    Now,
    /// It runs: its worker stops it at its next heartbeat.
    Requested,
    /// It is an inference run: the run is to be canceled (the caller does it, with the run's
    /// own rules, and the job follows).
    Run(i64),
    /// It had already ended.
    AlreadyEnded,
}

/// Cancels job `id` of the caller's organization (404 otherwise): a queued job at once, a
/// running one at its worker's next heartbeat; an inference run's job is left to the run's
/// cancel ([`Canceled::Run`]).
pub async fn cancel(db: &impl ConnectionTrait, caller: &AuthUser, id: i64) -> ApiResult<Canceled> {
    let found = get(db, caller, id).await?;
    if !found.status.is_open() {
        return Ok(Canceled::AlreadyEnded);
    }
    if found.kind == JobKind::InferenceRun {
        return Ok(Canceled::Run(found.subject_id.unwrap_or_default()));
    }
    let now = crate::util::now();
    let queued = job::Entity::update_many()
        .col_expr(job::Column::Status, Expr::value(JobStatus::Canceled))
        .col_expr(job::Column::FinishedAt, Expr::value(now))
        .col_expr(job::Column::UpdatedAt, Expr::value(now))
        .col_expr(job::Column::LastError, Expr::value(CANCELED_BY_USER))
        .filter(job::Column::Id.eq(id))
        .filter(job::Column::Status.eq(JobStatus::Queued))
        .exec(db)
        .await?;
    if queued.rows_affected > 0 {
        return Ok(Canceled::Now);
    }
    let running = job::Entity::update_many()
        .col_expr(job::Column::CancelRequested, Expr::value(true))
        .col_expr(job::Column::UpdatedAt, Expr::value(now))
        .filter(job::Column::Id.eq(id))
        .filter(job::Column::Status.eq(JobStatus::Running))
        .exec(db)
        .await?;
    Ok(if running.rows_affected > 0 {
        Canceled::Requested
    } else {
        Canceled::AlreadyEnded
    })
}

/// Brings the job of run `run_id` in step with the run's status (Completed → succeeded,
/// Failed → failed, Canceled → canceled, InProgress → running), in the caller's transaction.
pub async fn mirror_run(
    db: &impl ConnectionTrait,
    run_id: i64,
    status: RunStatus,
    message: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(), sea_orm::DbErr> {
    let to = match status {
        RunStatus::Pending | RunStatus::InProgress => JobStatus::Running,
        RunStatus::Completed => JobStatus::Succeeded,
        RunStatus::Failed => JobStatus::Failed,
        RunStatus::Canceled => JobStatus::Canceled,
    };
    let mut update = job::Entity::update_many()
        .col_expr(job::Column::Status, Expr::value(to))
        .col_expr(job::Column::UpdatedAt, Expr::value(now))
        .filter(job::Column::Kind.eq(JobKind::InferenceRun))
        .filter(job::Column::SubjectType.eq(subject::RUN))
        .filter(job::Column::SubjectId.eq(run_id))
        .filter(job::Column::Status.is_in([JobStatus::Queued, JobStatus::Running]));
    if !to.is_open() {
        update = update.col_expr(job::Column::FinishedAt, Expr::value(now));
    }
    if let Some(m) = message {
        update = update.col_expr(job::Column::LastError, Expr::value(m));
    }
    let changed = update.exec(db).await?;
    // The run's end, told once: only the transition that closed its job emits.
    if !to.is_open() && changed.rows_affected > 0 {
        crate::services::webhooks::run_ended(db, run_id, status, message).await?;
    }
    Ok(())
}

/// Writes the `inference_run` job of `run` (in its creation transaction): the job queue's view
/// of it, never claimed (the run's slices are), its status kept in step with the run's. The
/// jobs of the runs it `replaced` end as canceled.
pub async fn record_run(
    txn: &impl ConnectionTrait,
    caller: &AuthUser,
    run: &model_run::Model,
    replaced: &[i64],
) -> ApiResult<()> {
    let now = crate::util::now();
    for old in replaced {
        mirror_run(
            txn,
            *old,
            RunStatus::Canceled,
            Some(&format!("Replaced by run {}.", run.id)),
            now,
        )
        .await?;
    }
    let finished = run.status == RunStatus::Completed;
    let new = NewJob {
        status: if finished {
            JobStatus::Succeeded
        } else {
            JobStatus::Queued
        },
        progress: (0, run.total_tasks),
        ..NewJob::new(
            JobKind::InferenceRun,
            Some(run.organization_id),
            serde_json::json!({"run_id": run.id}),
        )
        .about(subject::RUN, run.id)
        .by(caller.user.id)
    };
    enqueue(txn, new).await?;
    if finished {
        crate::services::webhooks::run_ended(txn, run.id, run.status, None).await?;
    }
    Ok(())
}

/// Progress of the runs of `run_ids` from their counters: (done, total) per run.
pub async fn run_progress(
    db: &impl ConnectionTrait,
    run_ids: &[i64],
) -> ApiResult<std::collections::HashMap<i64, (i64, i64)>> {
    if run_ids.is_empty() {
        return Ok(Default::default());
    }
    let rows: Vec<(i64, i64, i64, i64)> = model_run::Entity::find()
        .select_only()
        .columns([
            model_run::Column::Id,
            model_run::Column::TotalPredictions,
            model_run::Column::TotalFailed,
            model_run::Column::TotalTasks,
        ])
        .filter(model_run::Column::Id.is_in(run_ids.to_vec()))
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(id, p, f, t)| (id, (p + f, t)))
        .collect())
}

/// The member `user_id` of organization `organization_id` as a caller (a job acts for whoever
/// asked for it), when the user still exists, is active and is a member; `None` otherwise.
pub async fn caller_of(
    db: &impl ConnectionTrait,
    organization_id: i64,
    user_id: Option<i64>,
) -> ApiResult<Option<AuthUser>> {
    let Some(user_id) = user_id else {
        return Ok(None);
    };
    let Some(found) = user::Entity::find_by_id(user_id).one(db).await? else {
        return Ok(None);
    };
    let role = organization_member::Entity::find()
        .filter(organization_member::Column::UserId.eq(user_id))
        .filter(organization_member::Column::OrganizationId.eq(organization_id))
        .one(db)
        .await?
        .and_then(|m| Role::parse(&m.role));
    Ok(role.filter(|_| found.is_active).map(|role| AuthUser {
        user: found,
        organization_id,
        role,
    }))
}
