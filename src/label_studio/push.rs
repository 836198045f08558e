//! The push of a link: writes a run's predictions to the Label Studio tasks they belong to,
//! idempotently.
use super::client::{LsClient, LsError};
use super::jobs::{ls_failure, mark_running, open_token, progress, start, succeed};
use super::link::get;
use super::sync::job_inputs;
use super::{job, set_ids};
use crate::auth::AuthUser;
use crate::engine::Engine;
use crate::error::{ApiError, ApiResult};
use crate::jobs::handlers::LsPushJob;
use crate::jobs::{BackgroundJob, JobContext, JobError};
use crate::services::runs;
use crate::views::label_studio::PushInput;
use entity::{label_studio_link as link, prediction, task};
use futures_util::stream::{self, StreamExt};
use sea_orm::{
    ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use std::collections::HashMap;

/// Predictions pushed to Label Studio at once.
const PUSH_CONCURRENCY: usize = 8;
/// Predictions of a run read (and their progress recorded) per step of a push.
const PUSH_PAGE: u64 = 200;

/// Enqueues a push of a run's predictions (an `ls_push` job, which any worker runs) and
/// returns the link, now running. Refused while another job of the link is open.
pub async fn start_push(
    engine: &Engine,
    caller: &AuthUser,
    project_id: i64,
    input: PushInput,
) -> ApiResult<link::Model> {
    let run_id = input
        .run
        .or(input.model_run)
        .ok_or_else(|| ApiError::field("run", "This field is required."))?;
    let db = engine.db();
    let existing = get(db, caller, project_id).await?;
    let run = runs::get(db, caller, run_id)
        .await
        .map_err(|e| e.not_found_as_field("run", run_id))?;
    if run.project_id != existing.project_id {
        return Err(ApiError::field(
            "run",
            format!("Run {run_id} is not a run on project {project_id}."),
        ));
    }
    open_token(engine.secrets(), &existing)?;
    let payload = LsPushJob {
        link_id: existing.id,
        run_id,
    };
    let started = start(
        db,
        caller,
        &existing,
        job::PUSH,
        LsPushJob::KIND,
        serde_json::to_value(payload).unwrap_or_default(),
        crate::services::audit::Changes::new().value("run", run_id),
    )
    .await?;
    engine.wake();
    Ok(started)
}

/// Runs one attempt of the push of run `run_id` to link `link_id` (an attempt, or a takeover,
/// starts over: what Label Studio already has is skipped).
pub async fn run_job(cx: &JobContext, link_id: i64, run_id: i64) -> Result<String, JobError> {
    let (l, _caller, token) = job_inputs(cx, link_id).await?;
    let db = cx.db();
    mark_running(db, l.id, job::PUSH).await?;
    let summary = push(cx, &l, &token, run_id).await?;
    succeed(db, &l, job::PUSH, &summary).await?;
    Ok(summary)
}

/// What a push did.
#[derive(Debug, Default)]
struct PushStats {
    created: u64,
    existing: u64,
    skipped: u64,
    refused: u64,
    first_refusal: Option<String>,
}

async fn push(
    cx: &JobContext,
    l: &link::Model,
    token: &str,
    run_id: i64,
) -> Result<String, JobError> {
    let db: &DatabaseConnection = cx.db();
    let db_err = |e: sea_orm::DbErr| JobError::from(e);
    let client = LsClient::new(cx.engine.http(), &l.url, token);
    let of_run = || prediction::Entity::find().filter(prediction::Column::ModelRunId.eq(run_id));
    let total = of_run().count(db).await.map_err(db_err)? as i64;
    progress(db, l.id, 0, total).await?;
    // What Label Studio already has decides what to create: this makes pushes idempotent even
    // when our bookkeeping of an earlier push was lost.
    let mut in_ls: HashMap<(i64, String), i64> = client
        .predictions(l.ls_project_id)
        .await
        .map_err(|e| ls_failure(e, l.ls_project_id))?
        .into_iter()
        .map(|p| ((p.task, p.model_version.unwrap_or_default()), p.id))
        .collect();
    let mut stats = PushStats::default();
    let (mut after, mut done) = (0i64, 0i64);
    loop {
        let page = of_run()
            .filter(prediction::Column::Id.gt(after))
            .order_by_asc(prediction::Column::Id)
            .limit(PUSH_PAGE)
            .all(db)
            .await
            .map_err(db_err)?;
        let Some(last) = page.last() else {
            break;
        };
        after = last.id;
        let task_ids: Vec<i64> = page.iter().map(|p| p.task_id).collect();
        let ls_task: HashMap<i64, i64> = task::Entity::find()
            .select_only()
            .columns([task::Column::Id, task::Column::LsTaskId])
            .filter(task::Column::Id.is_in(task_ids))
            .into_tuple::<(i64, Option<i64>)>()
            .all(db)
            .await
            .map_err(db_err)?
            .into_iter()
            .filter_map(|(id, ls)| Some((id, ls?)))
            .collect();
        let mut records: Vec<(i64, i64)> = vec![];
        let mut to_create = vec![];
        for p in &page {
            let Some(&ls_task_id) = ls_task.get(&p.task_id) else {
                stats.skipped += 1;
                continue;
            };
            match in_ls.get(&(ls_task_id, p.model_version.clone())) {
                Some(&ls_id) => {
                    stats.existing += 1;
                    if p.ls_prediction_id != Some(ls_id) {
                        records.push((p.id, ls_id));
                    }
                }
                None => to_create.push((
                    p.id,
                    ls_task_id,
                    p.result.clone(),
                    p.score,
                    p.model_version.clone(),
                )),
            }
        }
        let ls_project = l.ls_project_id;
        let outcomes: Vec<_> = stream::iter(to_create)
            .map(|(id, ls_task_id, result, score, model_version)| {
                let client = client.clone();
                async move {
                    let created = client
                        .create_prediction(ls_project, ls_task_id, &result, score, &model_version)
                        .await;
                    (id, ls_task_id, model_version, created)
                }
            })
            .buffer_unordered(PUSH_CONCURRENCY)
            .collect()
            .await;
        let mut fatal = None;
        for (id, ls_task_id, model_version, created) in outcomes {
            match created {
                Ok(ls_id) => {
                    stats.created += 1;
                    records.push((id, ls_id));
                    in_ls.insert((ls_task_id, model_version), ls_id);
                }
                Err(err @ (LsError::Unauthorized(_) | LsError::Unreachable { .. })) => {
                    fatal.get_or_insert(err);
                }
                Err(err) => {
                    stats.refused += 1;
                    stats
                        .first_refusal
                        .get_or_insert_with(|| format!("task {ls_task_id}: {err}"));
                }
            }
        }
        // Bookkeeping of what was created, even when the page ends in a fatal error.
        set_ids(db, "predictions", "ls_prediction_id", &records)
            .await
            .map_err(db_err)?;
        if let Some(fatal) = fatal {
            let message = format!(
                "{fatal} (pushed {} predictions before the failure; pushing again continues)",
                stats.created
            );
            return Err(match ls_failure(fatal, l.ls_project_id) {
                JobError::Transient(_) => JobError::Transient(message),
                _ => JobError::Permanent(message),
            });
        }
        done += page.len() as i64;
        progress(db, l.id, done, total.max(done)).await?;
        cx.progress(done, total.max(done)).await?;
    }
    let summary = format!(
        "push of run {run_id}: {} predictions created in Label Studio, {} already there, \
         {} skipped (their tasks were not synced from Label Studio)",
        stats.created, stats.existing, stats.skipped
    );
    match stats.first_refusal {
        Some(first) => Err(JobError::Permanent(format!(
            "Label Studio refused {} predictions (the first: {first}); {summary}",
            stats.refused
        ))),
        None => Ok(summary),
    }
}
