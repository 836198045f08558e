//! The durable job system: every piece of background work but a run's slices is a row of
//! `jobs` (written by [`services::jobs::enqueue`](crate::services::jobs::enqueue), in the
//! transaction of the change that asks for it), claimed under a lease by a job worker of any
//! process (`prompter serve` or `prompter worker`).
//!
//! - **Claim** ([`queue::claim`]): the oldest queued job that is due, or a running one whose
//!   lease lapsed (its worker died: **takeover**), in one statement (`FOR UPDATE SKIP LOCKED` on
//!   PostgreSQL, `BEGIN IMMEDIATE` on SQLite). A job claimed more than `max_attempts` times is
//!   failed as interrupted too often.
//! - **Heartbeat**: every third of the lease the worker extends it; a heartbeat that finds the
//!   job taken over stops the work (its writes are fenced by the lease owner anyway), and one
//!   that finds a cancel request stops it as canceled.
//! - **Retries**: a handler's [`JobError::Transient`] puts the job back in the queue after an
//!   exponential backoff with jitter ([`queue::backoff`], `PROMPTER_JOB_BACKOFF_MS`) until its
//!   attempts run out; [`JobError::Permanent`] fails it at once.
//! - **Exactly once**: a handler makes its side effect and its end one transaction where it
//!   can (a refinement's new version), fenced with [`JobContext::holds`]; otherwise the side
//!   effect is idempotent (a sync's upserts, a push that skips what Label Studio has).
//!
//! The kinds and their handlers are in [`handlers`]; a new kind is a variant of
//! [`JobKind`](entity::enums::JobKind), a type implementing [`BackgroundJob`] and one arm of
//! [`handlers::dispatch`].
pub mod handlers;
pub mod queue;
pub mod webhooks;

use crate::auth::Manager;
use crate::engine::Engine;
use crate::error::{ApiError, ApiResult};
use crate::llm::scheduler::Cancel;
use crate::services::jobs::{self as job_rows, Canceled};
use entity::enums::JobKind;
use entity::job;
use queue::{Beat, Settle};
use sea_orm::EntityTrait;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Why an attempt of a job did not succeed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobError {
    /// Worth another attempt later (a host unreachable, a database deadlock).
    Transient(String),
    /// No other attempt will do better.
    Permanent(String),
    /// A user canceled the job.
    Canceled,
    /// The job is no longer this worker's (its lease lapsed and another worker took it).
    Lost,
    /// Not an error: the job waits for something outside (a provider's batch) and is to be
    /// claimed again after this long, the attempt not counted.
    Later(Duration),
}

impl From<sea_orm::DbErr> for JobError {
    fn from(e: sea_orm::DbErr) -> JobError {
        JobError::Transient(format!("database error: {e}"))
    }
}

/// A kind of background work: its payload type, its kind, its attempts and how it runs.
pub trait BackgroundJob: Serialize + DeserializeOwned + Send + Sync + 'static {
    /// The kind of its rows.
    const KIND: JobKind;
    /// Attempts before it is given up.
    const MAX_ATTEMPTS: i32 = crate::services::jobs::DEFAULT_MAX_ATTEMPTS;

    /// Runs one attempt; returns a summary of what it did.
    fn run(&self, cx: &JobContext) -> impl Future<Output = Result<String, JobError>> + Send;

    /// Called once when the job has ended for good without succeeding (failed, canceled, or
    /// interrupted too often), to leave what it works on in a readable state.
    fn ended(
        &self,
        _cx: &JobContext,
        _error: &str,
    ) -> impl Future<Output = Result<(), JobError>> + Send {
        async { Ok(()) }
    }
}

/// What a running job knows of itself: the engine, its row as claimed, its worker.
pub struct JobContext {
    /// The engine of the process.
    pub engine: Engine,
    /// The row as claimed (`attempts` counts this attempt).
    pub job: job::Model,
    worker: String,
    stop: Arc<Cancel>,
    canceled: Arc<AtomicBool>,
}

impl JobContext {
    /// The database.
    pub fn db(&self) -> &sea_orm::DatabaseConnection {
        self.engine.db()
    }

    /// The worker that holds the job.
    pub fn worker(&self) -> &str {
        &self.worker
    }

    /// Records progress (fenced by the lease). `Err(Lost)` when the job is no longer this
    /// worker's, `Err(Canceled)` after a cancel request.
    pub async fn progress(&self, done: i64, total: i64) -> Result<(), JobError> {
        self.check()?;
        if queue::progress(self.db(), self.job.id, &self.worker, done, total).await? {
            Ok(())
        } else {
            Err(JobError::Lost)
        }
    }

    /// Whether this worker still holds the job, read in `db` (a transaction that makes the
    /// job's side effect: the effect commits only while the job is this worker's).
    pub async fn holds(&self, db: &impl sea_orm::ConnectionTrait) -> Result<bool, JobError> {
        Ok(queue::holds(db, self.job.id, &self.worker).await?)
    }

    /// Like [`JobContext::check`], and reads the row for a cancel request now rather than at
    /// the next heartbeat: for a long job between its steps, so a cancel stops it at once.
    pub async fn check_cancel(&self) -> Result<(), JobError> {
        self.check()?;
        let requested = job::Entity::find_by_id(self.job.id)
            .one(self.db())
            .await?
            .is_some_and(|j| j.cancel_requested);
        if requested {
            self.canceled.store(true, Ordering::SeqCst);
            self.stop.cancel();
            return Err(JobError::Canceled);
        }
        Ok(())
    }

    /// `Err` once the job must stop (canceled, or lost).
    pub fn check(&self) -> Result<(), JobError> {
        if !self.stop.is_canceled() {
            Ok(())
        } else if self.canceled.load(Ordering::SeqCst) {
            Err(JobError::Canceled)
        } else {
            Err(JobError::Lost)
        }
    }
}

/// The lease of a job: the engine's `lease_secs`, as a run slice's.
pub fn lease(engine: &Engine) -> Duration {
    Duration::from_secs(engine.config().lease_secs.max(1))
}

fn to_chrono(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

/// Runs one job worker until the engine shuts down: claims a job, runs it under its lease,
/// settles it; sleeps `poll_ms` (or until woken) when nothing is claimable.
pub async fn run(engine: Engine, id: String) {
    let stop = engine.shutdown_signal().clone();
    let poll = Duration::from_millis(engine.config().poll_ms.max(10));
    let ttl = to_chrono(lease(&engine));
    tracing::info!(worker = %id, "job worker started");
    loop {
        if stop.is_canceled() {
            break;
        }
        let mut busy = engine.attempt();
        let now = crate::util::now();
        match queue::claim(engine.db(), &id, now, now + ttl).await {
            Ok(Some(row)) => {
                busy.worked();
                execute(&engine, &id, row).await;
                drop(busy);
            }
            Ok(None) => {
                drop(busy);
                tokio::select! {
                    _ = tokio::time::sleep(poll) => {}
                    _ = engine.wake_signal().notified() => {}
                    _ = stop.canceled() => break,
                }
            }
            Err(e) => {
                drop(busy);
                tracing::warn!(worker = %id, error = %e, "claiming a job failed");
                tokio::select! {
                    _ = tokio::time::sleep(poll) => {}
                    _ = stop.canceled() => break,
                }
            }
        }
    }
    tracing::info!(worker = %id, "job worker stopped");
}

/// Runs a claimed job and settles it.
async fn execute(engine: &Engine, worker: &str, row: job::Model) {
    let id = row.id;
    let kind = row.kind;
    let cx = JobContext {
        engine: engine.clone(),
        job: row,
        worker: worker.to_string(),
        stop: Cancel::new(),
        canceled: Arc::new(AtomicBool::new(false)),
    };
    if cx.job.cancel_requested {
        finish(&cx, Err(JobError::Canceled)).await;
        return;
    }
    if cx.job.attempts > cx.job.max_attempts {
        let reason = format!(
            "The job was interrupted {} times (its worker stopped before it finished); \
             it was given up.",
            cx.job.attempts - 1
        );
        finish(&cx, Err(JobError::Permanent(reason))).await;
        return;
    }
    tracing::info!(job = id, %kind, attempt = cx.job.attempts, worker, "job started");
    let heartbeat = tokio::spawn(heartbeat(
        engine.clone(),
        id,
        worker.to_string(),
        cx.stop.clone(),
        cx.canceled.clone(),
    ));
    let shutdown = engine.shutdown_signal().clone();
    let outcome = tokio::select! {
        r = handlers::dispatch(&cx) => r,
        _ = cx.stop.canceled() => cx.check().map(|_| String::new()),
        _ = shutdown.canceled() => {
            heartbeat.abort();
            if let Err(e) = queue::settle(engine.db(), id, worker, Settle::Release).await {
                tracing::warn!(job = id, error = %e, "could not hand a job back");
            }
            return;
        }
    };
    heartbeat.abort();
    finish(&cx, outcome).await;
}

/// Extends the lease every third of it; trips `stop` when the job is lost or canceled.
async fn heartbeat(
    engine: Engine,
    id: i64,
    worker: String,
    stop: Arc<Cancel>,
    canceled: Arc<AtomicBool>,
) {
    let every = lease(&engine) / 3;
    let ttl = to_chrono(lease(&engine));
    loop {
        tokio::time::sleep(every).await;
        let now = crate::util::now();
        match queue::extend(engine.db(), id, &worker, now, now + ttl).await {
            Ok(Beat::Held) => {}
            Ok(Beat::CancelRequested) => {
                canceled.store(true, Ordering::SeqCst);
                stop.cancel();
                return;
            }
            Ok(Beat::Lost) => {
                stop.cancel();
                return;
            }
            Err(e) => tracing::warn!(job = id, error = %e, "extending a job's lease failed"),
        }
    }
}

/// Settles the job from its outcome, and calls its kind's `ended` when it ended for good
/// without succeeding.
async fn finish(cx: &JobContext, outcome: Result<String, JobError>) {
    let (id, worker, db) = (cx.job.id, cx.worker.as_str(), cx.db());
    let settle = match &outcome {
        Ok(summary) => Settle::Succeeded(summary.clone()),
        Err(JobError::Lost) => {
            tracing::warn!(job = id, %worker, "job taken over by another worker; this attempt stops");
            return;
        }
        Err(JobError::Canceled) => Settle::Canceled,
        Err(JobError::Later(wait)) => Settle::Wait {
            run_at: crate::util::now() + to_chrono(*wait),
        },
        Err(JobError::Permanent(reason)) => Settle::Failed(reason.clone()),
        Err(JobError::Transient(error)) if cx.job.attempts < cx.job.max_attempts => {
            let wait = handlers::retry_delay(cx);
            Settle::Retry {
                error: error.clone(),
                run_at: crate::util::now() + to_chrono(wait),
            }
        }
        Err(JobError::Transient(error)) => {
            Settle::Failed(format!("{error} (after {} attempts)", cx.job.attempts))
        }
    };
    let final_error = match &settle {
        Settle::Failed(reason) => Some(reason.clone()),
        Settle::Canceled => Some(job_rows::CANCELED_BY_USER.to_string()),
        _ => None,
    };
    let settled = queue::settle(db, id, worker, settle.clone()).await;
    if matches!(settled, Ok(true)) && !matches!(settle, Settle::Retry { .. } | Settle::Wait { .. })
    {
        // From enqueued to ended for good: what a user waits for a job of this kind.
        let waited = (crate::util::now() - cx.job.created_at).num_milliseconds();
        crate::metrics::observe_job(cx.job.kind.as_str(), waited.max(0) as f64 / 1000.0);
    }
    match settled {
        Ok(true) => match settle {
            Settle::Succeeded(summary) => {
                tracing::info!(job = id, kind = %cx.job.kind, %summary, "job succeeded")
            }
            Settle::Retry { error, run_at } => {
                tracing::warn!(job = id, kind = %cx.job.kind, attempt = cx.job.attempts, %error, %run_at, "job failed; retried later")
            }
            Settle::Wait { run_at } => {
                tracing::debug!(job = id, kind = %cx.job.kind, %run_at, "job waits; looked at again later")
            }
            other => tracing::warn!(job = id, kind = %cx.job.kind, outcome = ?other, "job ended"),
        },
        Ok(false) => {
            tracing::warn!(job = id, "job taken over before it was settled");
            return;
        }
        Err(e) => {
            tracing::error!(job = id, error = %e, "could not settle a job");
            return;
        }
    }
    // Ended for good without succeeding: what it works on says so.
    if let Some(error) = &final_error
        && let Err(e) = handlers::ended(cx, error).await
    {
        tracing::warn!(job = id, error = ?e, "a job's end could not be recorded on its subject");
    }
    cx.engine.wake();
}

/// Decodes a job's payload as `T`.
pub fn payload<T: BackgroundJob>(row: &job::Model) -> Result<T, JobError> {
    serde_json::from_value(row.payload.clone())
        .map_err(|e| JobError::Permanent(format!("the job's payload cannot be read: {e}")))
}

/// Cancels job `id` of the caller's organization (404 otherwise) and returns it: a queued job
/// is canceled at once (and what it works on says so), a running one stops at its worker's
/// next heartbeat, an inference run's job cancels the run (its job follows the run). A job
/// that has ended is returned unchanged.
pub async fn cancel(engine: &Engine, caller: &Manager, id: i64) -> ApiResult<job::Model> {
    let db = engine.db();
    match job_rows::cancel(db, caller, id).await? {
        Canceled::Now => {
            let row = job_rows::get(db, caller, id).await?;
            let cx = JobContext {
                engine: engine.clone(),
                job: row,
                worker: String::new(),
                stop: Cancel::new(),
                canceled: Arc::new(AtomicBool::new(true)),
            };
            if let Err(e) = handlers::ended(&cx, job_rows::CANCELED_BY_USER).await {
                tracing::warn!(job = id, error = ?e, "a canceled job's subject could not be updated");
            }
        }
        Canceled::Run(run_id) => {
            let run = crate::services::runs::get(db, caller, run_id).await?;
            let version = entity::model_version::Entity::find_by_id(run.model_version_id)
                .one(db)
                .await?
                .ok_or(ApiError::NotFound)?;
            crate::services::runs::cancel(db, caller, version.parent_model_id, version.id, run.id)
                .await?;
        }
        Canceled::Requested | Canceled::AlreadyEnded => {}
    }
    job_rows::get(db, caller, id).await
}
