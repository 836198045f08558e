//! The kinds of jobs and their handlers: one payload type per kind implementing
//! [`BackgroundJob`], and [`dispatch`], the one match from a row's kind to its handler.
use super::{BackgroundJob, JobContext, JobError, payload};
use crate::engine::refine;
use crate::label_studio;
use crate::services::optimizations::OptimizeJob;
use crate::services::provider_batches::BatchRunJob;
use crate::views::label_studio::GroundTruthMode;
use entity::enums::JobKind;
use serde::{Deserialize, Serialize};

/// A prompt refinement: the teacher call, its checks and the new version.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RefineJob {
    /// The refinement row.
    pub refinement_id: i64,
}

impl BackgroundJob for RefineJob {
    const KIND: JobKind = JobKind::Refine;

    async fn run(&self, cx: &JobContext) -> Result<String, JobError> {
        refine::run_job(cx, self.refinement_id).await
    }

    async fn ended(&self, cx: &JobContext, error: &str) -> Result<(), JobError> {
        refine::give_up(cx.db(), self.refinement_id, error).await?;
        Ok(())
    }
}

impl BackgroundJob for crate::services::optimizations::OptimizeJob {
    const KIND: JobKind = JobKind::Optimize;
    // A search of many steps: each takeover resumes it where its last step was stored.
    const MAX_ATTEMPTS: i32 = 10;

    async fn run(&self, cx: &JobContext) -> Result<String, JobError> {
        crate::engine::optimize::run_job(cx, self.optimization_id).await
    }

    async fn ended(&self, cx: &JobContext, error: &str) -> Result<(), JobError> {
        crate::engine::optimize::give_up(cx.db(), self.optimization_id, error).await?;
        Ok(())
    }
}

impl BackgroundJob for BatchRunJob {
    const KIND: JobKind = JobKind::BatchRun;
    // Each attempt is one look at the run's batches; waiting between looks counts none, so
    // these are attempts that failed (a provider or database error) or were interrupted.
    const MAX_ATTEMPTS: i32 = 20;

    async fn run(&self, cx: &JobContext) -> Result<String, JobError> {
        crate::engine::batch::run_job(cx, self.run_id).await
    }

    async fn ended(&self, cx: &JobContext, error: &str) -> Result<(), JobError> {
        crate::engine::batch::give_up(cx.db(), self.run_id, error).await?;
        Ok(())
    }
}

/// A Label Studio sync of a link.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LsSyncJob {
    /// The link.
    pub link_id: i64,
    /// How annotations become ground truth.
    #[serde(default)]
    pub ground_truth: GroundTruthMode,
}

impl BackgroundJob for LsSyncJob {
    const KIND: JobKind = JobKind::LsSync;

    async fn run(&self, cx: &JobContext) -> Result<String, JobError> {
        label_studio::sync::run_job(cx, self.link_id, self.ground_truth).await
    }

    async fn ended(&self, cx: &JobContext, error: &str) -> Result<(), JobError> {
        label_studio::jobs::give_up(cx.db(), self.link_id, error).await?;
        Ok(())
    }
}

/// A push of a run's predictions to a link's Label Studio project.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LsPushJob {
    /// The link.
    pub link_id: i64,
    /// The run.
    pub run_id: i64,
}

impl BackgroundJob for LsPushJob {
    const KIND: JobKind = JobKind::LsPush;

    async fn run(&self, cx: &JobContext) -> Result<String, JobError> {
        label_studio::push::run_job(cx, self.link_id, self.run_id).await
    }

    async fn ended(&self, cx: &JobContext, error: &str) -> Result<(), JobError> {
        label_studio::jobs::give_up(cx.db(), self.link_id, error).await?;
        Ok(())
    }
}

/// Runs one attempt of `T` from the row's payload.
async fn typed<T: BackgroundJob>(cx: &JobContext) -> Result<String, JobError> {
    payload::<T>(&cx.job)?.run(cx).await
}

/// Records a job's end for good on what it works on.
async fn typed_end<T: BackgroundJob>(cx: &JobContext, error: &str) -> Result<(), JobError> {
    payload::<T>(&cx.job)?.ended(cx, error).await
}

/// Runs one attempt of the claimed job by its kind.
pub async fn dispatch(cx: &JobContext) -> Result<String, JobError> {
    match cx.job.kind {
        JobKind::Refine => typed::<RefineJob>(cx).await,
        JobKind::Optimize => typed::<OptimizeJob>(cx).await,
        JobKind::BatchRun => typed::<BatchRunJob>(cx).await,
        JobKind::LsSync => typed::<LsSyncJob>(cx).await,
        JobKind::LsPush => typed::<LsPushJob>(cx).await,
        JobKind::MlTrain => typed::<crate::label_studio::ml_jobs::MlTrainJob>(cx).await,
        JobKind::MlEvent => typed::<crate::label_studio::ml_jobs::MlEventJob>(cx).await,
        JobKind::LsWebhookAuth => {
            typed::<crate::label_studio::webhook_auth::WebhookAuthJob>(cx).await
        }
        JobKind::WebhookDelivery => typed::<super::webhooks::DeliveryJob>(cx).await,
        // Rows that are records rather than work (runs, firings) are never worth an attempt.
        JobKind::InferenceRun | JobKind::ScheduleFire => Err(JobError::Permanent(format!(
            "no worker handles jobs of kind {}",
            cx.job.kind
        ))),
    }
}

/// Records the end for good of the claimed job on its subject.
pub async fn ended(cx: &JobContext, error: &str) -> Result<(), JobError> {
    match cx.job.kind {
        JobKind::Refine => typed_end::<RefineJob>(cx, error).await,
        JobKind::Optimize => typed_end::<OptimizeJob>(cx, error).await,
        JobKind::BatchRun => typed_end::<BatchRunJob>(cx, error).await,
        JobKind::LsSync => typed_end::<LsSyncJob>(cx, error).await,
        JobKind::LsPush => typed_end::<LsPushJob>(cx, error).await,
        JobKind::WebhookDelivery => typed_end::<super::webhooks::DeliveryJob>(cx, error).await,
        _ => Ok(()),
    }
}

/// How long the claimed job waits before its next attempt after a transient failure: a
/// webhook delivery by its own schedule (about a day in all), any other job by the queue's
/// backoff (`PROMPTER_JOB_BACKOFF_MS`, doubling up to 10 minutes).
pub fn retry_delay(cx: &JobContext) -> std::time::Duration {
    let config = cx.engine.config();
    match cx.job.kind {
        JobKind::WebhookDelivery => {
            super::webhooks::retry_delay(config.webhook_backoff_ms, cx.job.attempts)
        }
        _ => super::queue::backoff(
            std::time::Duration::from_millis(config.job_backoff_ms),
            cx.job.attempts,
        ),
    }
}
