//! Wire shapes of the job queue: `GET /api/jobs/`, `GET /api/jobs/{id}/`,
//! `POST /api/jobs/{id}/cancel`.
use chrono::{DateTime, Utc};
use entity::enums::{JobKind, JobStatus};
use entity::job;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// Filters of the job list.
#[derive(Debug, Default, Deserialize, IntoParams)]
pub struct JobListQuery {
    /// Jobs of this kind (`refine`, `ls_sync`, `ls_push`, `ml_train`, `ml_event`,
    /// `ls_webhook_auth`, `schedule_fire`, `webhook_delivery`, `inference_run`).
    #[param(value_type = Option<JobKind>)]
    pub kind: Option<String>,
    /// Jobs in this status (`queued`, `running`, `succeeded`, `failed`, `canceled`).
    #[param(value_type = Option<JobStatus>)]
    pub status: Option<String>,
}

/// How far a job has come.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
pub struct JobProgress {
    /// Units done (tasks read, predictions pushed, tasks answered).
    pub done: i64,
    /// Units in all (0 while unknown).
    pub total: i64,
}

/// What a job works on.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct JobSubject {
    /// `refinement`, `link`, `run`, `prompt` or `schedule`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Its id.
    pub id: i64,
}

/// A job of the job queue.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct JobView {
    /// Job id.
    pub id: i64,
    /// What it does.
    pub kind: JobKind,
    /// What it does, in words.
    pub kind_label: String,
    /// `queued`, `running`, `succeeded`, `failed` or `canceled`.
    pub status: JobStatus,
    /// Progress (an inference run's comes from its counters).
    pub progress: JobProgress,
    /// Why the last attempt failed, or why the job was given up or canceled.
    pub error: Option<String>,
    /// What the job did, once it succeeded.
    pub result: Option<String>,
    /// Attempts so far (a takeover after a worker died counts as one).
    pub attempts: i32,
    /// Attempts before the job is given up.
    pub max_attempts: i32,
    /// A user asked to cancel the job; its worker stops it at its next heartbeat.
    pub cancel_requested: bool,
    /// What it works on.
    pub subject: Option<JobSubject>,
    /// Who asked for it.
    pub created_by: Option<i64>,
    /// Created at.
    pub created_at: DateTime<Utc>,
    /// First claimed by a worker.
    pub started_at: Option<DateTime<Utc>>,
    /// Ended at.
    pub finished_at: Option<DateTime<Utc>>,
    /// When a queued job that failed before is tried again.
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// Last sign of life of its worker.
    pub heartbeat_at: Option<DateTime<Utc>>,
}

/// What a kind of job does, in words.
pub fn kind_label(kind: JobKind) -> &'static str {
    match kind {
        JobKind::InferenceRun => "Inference run",
        JobKind::Refine => "Prompt refinement",
        JobKind::Optimize => "Prompt optimization",
        JobKind::BatchRun => "Batch run at the provider",
        JobKind::LsSync => "Label Studio sync",
        JobKind::LsPush => "Push to Label Studio",
        JobKind::MlTrain => "Label Studio training request",
        JobKind::MlEvent => "Label Studio annotation event",
        JobKind::LsWebhookAuth => "Label Studio webhook setup",
        JobKind::ScheduleFire => "Scheduled run",
        JobKind::WebhookDelivery => "Webhook delivery",
    }
}

impl JobView {
    /// The view of `row`; `run_progress` is the (done, total) of its run, for a run's job.
    pub fn new(row: job::Model, run_progress: Option<(i64, i64)>) -> JobView {
        let (done, total) = run_progress.unwrap_or((row.progress_done, row.progress_total));
        let next_attempt_at =
            (row.status == JobStatus::Queued && row.attempts > 0).then_some(row.run_at);
        JobView {
            id: row.id,
            kind: row.kind,
            kind_label: kind_label(row.kind).to_string(),
            status: row.status,
            progress: JobProgress { done, total },
            error: row.last_error,
            result: row.result,
            attempts: row.attempts,
            max_attempts: row.max_attempts,
            cancel_requested: row.cancel_requested,
            subject: row
                .subject_type
                .zip(row.subject_id)
                .map(|(kind, id)| JobSubject { kind, id }),
            created_by: row.created_by_id,
            created_at: row.created_at,
            started_at: row.started_at,
            finished_at: row.finished_at,
            next_attempt_at,
            heartbeat_at: row.heartbeat_at,
        }
    }
}
