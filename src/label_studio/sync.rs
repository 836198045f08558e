//! The sync of a link: imports the Label Studio project's tasks and annotations page by page.
use super::client::{LsClient, PAGE_SIZE};
use super::job;
use super::jobs::{ls_failure, mark_running, open_token, progress, start, succeed};
use super::link::{get, reconcile_config};
use super::mirror::{self, Source, Written};
use crate::auth::AuthUser;
use crate::engine::Engine;
use crate::error::ApiResult;
use crate::jobs::handlers::LsSyncJob;
use crate::jobs::{BackgroundJob, JobContext, JobError};
use crate::views::label_studio::{GroundTruthMode, SyncInput};
use entity::{label_studio_link as link, project};
use sea_orm::{DatabaseConnection, EntityTrait};

/// Enqueues a sync (an `ls_sync` job, which any worker runs) and returns the link, now
/// running. Refused while another job of the link is open.
pub async fn start_sync(
    engine: &Engine,
    caller: &AuthUser,
    project_id: i64,
    input: SyncInput,
) -> ApiResult<link::Model> {
    let db = engine.db();
    let existing = get(db, caller, project_id).await?;
    open_token(engine.secrets(), &existing)?;
    let payload = LsSyncJob {
        link_id: existing.id,
        ground_truth: input.ground_truth.unwrap_or_default(),
    };
    let started = start(
        db,
        caller,
        &existing,
        job::SYNC,
        LsSyncJob::KIND,
        serde_json::to_value(payload).unwrap_or_default(),
        crate::services::audit::Changes::new(),
    )
    .await?;
    engine.wake();
    Ok(started)
}

/// What a link's job acts with: the link, the caller it acts for, and the token.
pub(super) async fn job_inputs(
    cx: &JobContext,
    link_id: i64,
) -> Result<(link::Model, AuthUser, String), JobError> {
    let db = cx.db();
    let l = link::Entity::find_by_id(link_id)
        .one(db)
        .await?
        .ok_or_else(|| JobError::Permanent("The link was deleted.".into()))?;
    let caller = crate::services::jobs::caller_of(
        db,
        cx.job.organization_id.unwrap_or_default(),
        cx.job.created_by_id,
    )
    .await
    .map_err(|e| JobError::Transient(e.to_string()))?
    .ok_or_else(|| {
        JobError::Permanent("The user who started the job is no longer an active member.".into())
    })?;
    let token =
        open_token(cx.engine.secrets(), &l).map_err(|e| JobError::Permanent(e.to_string()))?;
    Ok((l, caller, token))
}

/// Runs one attempt of the sync of link `link_id` (an attempt, or a takeover, starts over:
/// the upserts make it idempotent).
pub async fn run_job(
    cx: &JobContext,
    link_id: i64,
    mode: GroundTruthMode,
) -> Result<String, JobError> {
    let (l, caller, token) = job_inputs(cx, link_id).await?;
    let db = cx.db();
    mark_running(db, l.id, job::SYNC).await?;
    let summary = sync(cx, &caller, &l, &token, mode).await?;
    succeed(db, &l, job::SYNC, &summary).await?;
    Ok(summary)
}

/// Reconciles the label configs, then pages through the Label Studio task list (100 per page)
/// and upserts each page into the project; returns the summary, or why it stopped.
async fn sync(
    cx: &JobContext,
    caller: &AuthUser,
    l: &link::Model,
    token: &str,
    mode: GroundTruthMode,
) -> Result<String, JobError> {
    let db: &DatabaseConnection = cx.db();
    let client = LsClient::new(cx.engine.http(), &l.url, token);
    let ls = client
        .project(l.ls_project_id)
        .await
        .map_err(|e| ls_failure(e, l.ls_project_id))?;
    let find_project = || async {
        project::Entity::find_by_id(l.project_id)
            .one(db)
            .await?
            .ok_or_else(|| JobError::Permanent("the project was deleted".to_string()))
    };
    reconcile_config(db, caller, &find_project().await?, &ls)
        .await
        .map_err(JobError::Permanent)?;
    // Read again: adopting a config touched the row.
    let project = find_project().await?;
    let (mut tasks_read, mut written) = (0u64, Written::default());
    let mut page = 1u64;
    loop {
        let Some(found) = client
            .tasks_page(l.ls_project_id, page, PAGE_SIZE)
            .await
            .map_err(|e| ls_failure(e, l.ls_project_id))?
        else {
            break;
        };
        let count = found.tasks.len() as u64;
        if count == 0 {
            break;
        }
        // One transaction per page; rows whose content has not changed are not written.
        let page_written = mirror::upsert(db, caller, &project, Source::Sync(mode), &found.tasks)
            .await
            .map_err(|e| match e {
                crate::error::ApiError::Database(e) => JobError::from(e),
                other => JobError::Permanent(format!(
                    "the page {page} of tasks could not be written: {other}"
                )),
            })?;
        written += page_written;
        tasks_read += count;
        let total = found.total.unwrap_or(0).max(tasks_read);
        progress(db, l.id, tasks_read as i64, total as i64).await?;
        cx.progress(tasks_read as i64, total as i64).await?;
        if tasks_read >= total || count < PAGE_SIZE {
            break;
        }
        page += 1;
    }
    progress(db, l.id, tasks_read as i64, tasks_read as i64).await?;
    cx.progress(tasks_read as i64, tasks_read as i64).await?;
    Ok(format!(
        "sync: {} tasks read; {} tasks created, {} updated; {} annotations created, {} updated",
        tasks_read,
        written.tasks_created,
        written.tasks_updated,
        written.annotations_created,
        written.annotations_updated
    ))
}
