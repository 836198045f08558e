//! Inference runs (Label Studio's `ModelRun`): creation resolves the subset to task ids once,
//! in slices the engine's workers lease; replacement of the previous run of the same project,
//! version and subset (remembered, so a link to the old run leads to the new one); listing;
//! cancel.
use crate::auth::AuthUser;
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::services::audit::{self, Acting, Actor};
use crate::services::{counters, projects, prompts, versions};
use crate::views::runs::RunInput;
use entity::enums::{AuditAction, AuditObject, JobKind, RunExecution};
use entity::{model_run, model_run_slice, task};
use sea_orm::ActiveValue::{NotSet, Set};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, TransactionSession, TransactionTrait,
};
use serde_json::Value;
use std::collections::HashMap;

pub use entity::enums::{RunStatus, Subset};

mod replacements;
use replacements::remember_replaced;
pub use replacements::{Replacement, replacement};

/// Task ids per slice of work.
pub const SLICE_SIZE: usize = 100;
/// Task ids read per keyset query while resolving a subset.
const KEYSET_PAGE: u64 = 50_000;
/// Slices per INSERT (11 columns each: within SQLite's and PostgreSQL's bind limits).
const SLICE_INSERT_BATCH: usize = 1000;

/// The condition on `tasks` of a project's HasGT subset: tasks with a non-cancelled
/// ground-truth annotation, found through the annotations' (project, ground_truth) index
/// rather than probed task by task.
pub fn has_ground_truth(project_id: i64) -> Expr {
    Expr::cust(format!(
        "tasks.id IN (SELECT a.task_id FROM annotations a WHERE a.project_id = {project_id} \
         AND a.ground_truth = true AND a.was_cancelled = false)"
    ))
}

/// The size of a `Sample` subset: the size a request asks for (at least 0), else the one
/// configured (`PROMPTER_SAMPLE_SUBSET_SIZE`). API, web and scheduled runs all size their
/// Sample subset here.
pub fn sample_size(asked: Option<i32>, configured: u64) -> ApiResult<u64> {
    match asked {
        Some(n) if n < 0 => Err(ApiError::field(
            "sample_subset_size",
            "Ensure this value is greater than or equal to 0.",
        )),
        Some(n) => Ok(n as u64),
        None => Ok(configured),
    }
}

/// The `Sample` subset of a project, its first `size` tasks by id, as a condition on `tasks`:
/// the one definition that runs, the subsets' counts and the subset-tasks page resolve.
pub async fn sample_condition(
    db: &impl ConnectionTrait,
    project_id: i64,
    size: u64,
) -> ApiResult<Condition> {
    if size == 0 {
        return Ok(Condition::all().add(task::Column::Id.lte(0)));
    }
    let nth: Option<i64> = task::Entity::find()
        .select_only()
        .column(task::Column::Id)
        .filter(task::Column::ProjectId.eq(project_id))
        .order_by_asc(task::Column::Id)
        .offset(size - 1)
        .limit(1)
        .into_tuple()
        .one(db)
        .await?;
    // Fewer tasks than `size`: all of them.
    Ok(match nth {
        Some(nth) => Condition::all().add(task::Column::Id.lte(nth)),
        None => Condition::all(),
    })
}

/// The SQL condition on `tasks` of a subset (besides the project).
fn subset_condition(
    subset: Subset,
    project_id: i64,
    version_id: i64,
    only_missing: bool,
) -> Condition {
    let mut cond = Condition::all();
    if subset == Subset::HasGT {
        cond = cond.add(has_ground_truth(project_id));
    }
    if only_missing {
        cond = cond.add(Expr::cust(format!(
            "NOT EXISTS (SELECT 1 FROM predictions p JOIN model_runs r ON r.id = p.model_run_id \
             WHERE p.task_id = tasks.id AND r.model_version_id = {version_id})"
        )));
    }
    cond
}

/// Streams the task ids of a subset by keyset pages and writes them as slices; returns the
/// number of tasks. Never holds more than one page of ids.
async fn write_slices(
    db: &impl ConnectionTrait,
    run: &model_run::Model,
    subset: Subset,
    sample: Option<Condition>,
    custom: Option<&[i64]>,
) -> ApiResult<i64> {
    let mut cond = subset_condition(
        subset,
        run.project_id,
        run.model_version_id,
        run.only_missing_predictions,
    );
    if let Some(sample) = sample {
        cond = cond.add(sample);
    }
    let now = crate::util::now();
    let (mut last, mut total, mut seq) = (0i64, 0i64, 0i32);
    let mut pending: Vec<i64> = Vec::with_capacity(SLICE_SIZE);
    let mut rows: Vec<model_run_slice::ActiveModel> = vec![];
    let flush =
        |ids: &mut Vec<i64>, seq: &mut i32, rows: &mut Vec<model_run_slice::ActiveModel>| {
            rows.push(model_run_slice::ActiveModel {
                id: NotSet,
                model_run_id: Set(run.id),
                seq: Set(*seq),
                task_count: Set(ids.len() as i32),
                first_task_id: Set(ids.first().copied().unwrap_or(0)),
                last_task_id: Set(ids.last().copied().unwrap_or(0)),
                task_ids: Set(Value::from(std::mem::take(ids))),
                status: Set(entity::enums::SliceStatus::Pending),
                lease_owner: Set(None),
                lease_expires_at: Set(None),
                attempts: Set(0),
                created_at: Set(now),
                updated_at: Set(now),
            });
            *seq += 1;
        };
    loop {
        let page = KEYSET_PAGE;
        let mut query = task::Entity::find()
            .select_only()
            .column(task::Column::Id)
            .filter(task::Column::ProjectId.eq(run.project_id))
            .filter(task::Column::Id.gt(last))
            .filter(cond.clone());
        if let Some(ids) = custom {
            let chunk: Vec<i64> = ids
                .iter()
                .copied()
                .filter(|id| *id > last)
                .take(KEYSET_PAGE as usize)
                .collect();
            if chunk.is_empty() {
                break;
            }
            last = chunk.last().copied().unwrap_or(last);
            query = query.filter(task::Column::Id.is_in(chunk));
        }
        let ids: Vec<i64> = query
            .order_by_asc(task::Column::Id)
            .limit(page)
            .into_tuple()
            .all(db)
            .await?;
        if ids.is_empty() {
            if custom.is_some() {
                continue;
            }
            break;
        }
        if custom.is_none() {
            last = *ids.last().unwrap_or(&last);
        }
        total += ids.len() as i64;
        for id in ids {
            pending.push(id);
            if pending.len() == SLICE_SIZE {
                flush(&mut pending, &mut seq, &mut rows);
            }
        }
        if rows.len() >= SLICE_INSERT_BATCH {
            model_run_slice::Entity::insert_many(std::mem::take(&mut rows))
                .exec_without_returning(db)
                .await?;
        }
    }
    if !pending.is_empty() {
        flush(&mut pending, &mut seq, &mut rows);
    }
    if !rows.is_empty() {
        model_run_slice::Entity::insert_many(rows)
            .exec_without_returning(db)
            .await?;
    }
    Ok(total)
}

/// Creates a run of a version over a project subset, replacing the previous run of the same
/// (project, version, subset) with its predictions unless `only_missing_predictions`. A
/// transaction PostgreSQL aborts as a deadlock or a serialization failure is tried again.
pub async fn create<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    caller: &AuthUser,
    prompt_id: i64,
    version_id: i64,
    input: RunInput,
    default_sample: u64,
) -> ApiResult<model_run::Model> {
    let actor = caller.actor();
    create_by(
        db,
        caller,
        &actor,
        prompt_id,
        version_id,
        input,
        default_sample,
    )
    .await
}

/// [`create`] with the audit log naming `actor` as who started it (a schedule firing).
pub async fn create_by<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    caller: &AuthUser,
    actor: &Actor,
    prompt_id: i64,
    version_id: i64,
    input: RunInput,
    default_sample: u64,
) -> ApiResult<model_run::Model> {
    let mut attempt = 1;
    loop {
        let result = create_once(
            db,
            (caller, actor),
            prompt_id,
            version_id,
            input.clone(),
            default_sample,
        )
        .await;
        match result {
            Err(ApiError::Database(err)) if attempt < 3 && crate::db::is_transient(&err) => {
                tracing::warn!(version = version_id, attempt, error = %err, "run creation retried");
                attempt += 1;
            }
            other => return other,
        }
    }
}

async fn create_once<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    (caller, actor): (&AuthUser, &Actor),
    prompt_id: i64,
    version_id: i64,
    input: RunInput,
    default_sample: u64,
) -> ApiResult<model_run::Model> {
    let project_id = input
        .project
        .ok_or_else(|| ApiError::field("project", "This field is required."))?;
    let subset = input.project_subset.unwrap_or(Subset::HasGT);
    let custom = match (subset, &input.task_ids) {
        (Subset::Custom, Some(ids)) if !ids.is_empty() => {
            let mut ids = ids.clone();
            ids.sort_unstable();
            ids.dedup();
            Some(ids)
        }
        (Subset::Custom, _) => {
            return Err(ApiError::field(
                "task_ids",
                "A Custom run needs a non-empty task_ids list.",
            ));
        }
        _ => None,
    };
    let sample = sample_size(input.sample_subset_size, default_sample)?;
    let only_missing = input.only_missing_predictions.unwrap_or(false);
    let txn = crate::db::begin_write(db).await?;
    let version = versions::get(&txn, caller, prompt_id, version_id).await?;
    if version.model_provider_connection_id.is_none() {
        return Err(ApiError::bad_request(
            ErrorCode::VersionCannotRun,
            format!(
                "Version \"{}\" has no model provider connection: set its \
                 model_provider_connection before running it.",
                version.title
            ),
        ));
    }
    let execution = input.execution.unwrap_or(RunExecution::Online);
    if execution == RunExecution::Batch
        && let Some(refusal) = crate::services::provider_batches::refusal(&version)
    {
        return Err(ApiError::bad_request(ErrorCode::BatchNotSupported, refusal));
    }
    // Run creations of one version take turns from here to the commit, so "replace the
    // previous run" is atomic: PostgreSQL locks the version's row; SQLite's write transaction
    // (BEGIN IMMEDIATE) already admits one writer at a time.
    versions::lock(&txn, version.id).await?;
    let project = projects::get_for_field(&txn, caller, project_id, "project").await?;
    prompts::associate(&txn, prompt_id, project.id).await?;
    let mut replaced: Vec<i64> = vec![];
    if !only_missing {
        let previous: Vec<i64> = model_run::Entity::find()
            .select_only()
            .column(model_run::Column::Id)
            .filter(model_run::Column::ProjectId.eq(project.id))
            .filter(model_run::Column::ModelVersionId.eq(version.id))
            .filter(model_run::Column::ProjectSubset.eq(subset))
            .into_tuple()
            .all(&txn)
            .await?;
        // Rows are locked in the order workers lock them (a run's slices, then the run, then
        // its tasks), so a replacement never deadlocks with a worker claiming, finishing or
        // writing results of the run it replaces.
        model_run_slice::Entity::delete_many()
            .filter(model_run_slice::Column::ModelRunId.is_in(previous.clone()))
            .exec(&txn)
            .await?;
        model_run::Entity::find()
            .select_only()
            .column(model_run::Column::Id)
            .filter(model_run::Column::Id.is_in(previous.clone()))
            .lock_exclusive()
            .into_tuple::<i64>()
            .all(&txn)
            .await?;
        counters::forget_runs(&txn, &previous).await?;
        model_run::Entity::delete_many()
            .filter(model_run::Column::Id.is_in(previous.clone()))
            .exec(&txn)
            .await?;
        replaced = previous;
    }
    let now = crate::util::now();
    let run = model_run::ActiveModel {
        id: NotSet,
        organization_id: Set(caller.organization_id),
        project_id: Set(project.id),
        model_version_id: Set(version.id),
        created_by_id: Set(Some(caller.user.id)),
        project_subset: Set(subset),
        status: Set(RunStatus::Pending),
        job_id: Set(None),
        total_tasks: Set(0),
        total_predictions: Set(0),
        total_correct_predictions: Set(0),
        total_failed: Set(0),
        total_scored_predictions: Set(0),
        total_scored_failed: Set(0),
        sample_subset_size: Set((subset == Subset::Sample).then_some(sample as i32)),
        filters_json: Set(input.filters_json.map(Value::Object)),
        task_ids: Set(custom.as_ref().map(|ids| Value::from(ids.clone()))),
        only_missing_predictions: Set(only_missing),
        source_model_run_id: Set(None),
        prompt_tokens: Set(0),
        completion_tokens: Set(0),
        total_cost: Set(0.0),
        error_message: Set(None),
        notes: Set(None),
        schedule_id: Set(None),
        scheduled_for: Set(None),
        use_cache: Set(input.cache.unwrap_or(true)),
        total_cached_predictions: Set(0),
        execution: Set(execution),
        created_at: Set(now),
        triggered_at: Set(Some(now)),
        predictions_updated_at: Set(None),
        completed_at: Set(None),
    }
    .insert(&txn)
    .await?;
    remember_replaced(&txn, &version, &replaced, run.id, now).await?;
    let bound = match subset {
        Subset::Sample => Some(sample_condition(&txn, project.id, sample).await?),
        _ => None,
    };
    let total = write_slices(&txn, &run, subset, bound, custom.as_deref()).await?;
    if total == 0 && subset == Subset::HasGT && !only_missing {
        // Nothing to score against: say how to get ground truth rather than "complete" a run
        // of nothing (the transaction, and the replacement of an earlier run, roll back).
        return Err(ApiError::bad_request(
            ErrorCode::NoGroundTruth,
            format!(
                "Project {} has no ground-truth tasks, so a HasGT run would have nothing to \
                 score. Mark annotations as ground truth (\"ground_truth\": true when you \
                 create or import them, or PATCH /api/annotations/{{id}}/), import with \
                 ?ground_truth=true, or run the All or Sample subset.",
                project.id
            ),
        ));
    }
    let job_id = format!("prompter-run-{}", run.id);
    let mut model: model_run::ActiveModel = run.into();
    model.total_tasks = Set(total);
    model.job_id = Set(Some(job_id));
    if total == 0 {
        model.status = Set(RunStatus::Completed);
        model.completed_at = Set(Some(now));
    }
    let run = model.update(&txn).await?;
    crate::services::jobs::record_run(&txn, caller, &run, &replaced).await?;
    if run.execution == RunExecution::Batch && run.status.is_active() {
        // The run's batches are submitted, polled and collected by this job, not by the run
        // workers (they take online runs only).
        let job = crate::services::jobs::NewJob::new(
            JobKind::BatchRun,
            Some(run.organization_id),
            serde_json::json!({"run_id": run.id}),
        )
        .about(crate::services::jobs::subject::RUN, run.id)
        .by(caller.user.id);
        crate::services::jobs::enqueue(&txn, job).await?;
    }
    let changes = audit::Changes::new()
        .value("version", version.id)
        .value("project", project.id)
        .value("project_subset", subset)
        .value("total_tasks", total)
        .value("only_missing_predictions", only_missing)
        .value("execution", run.execution)
        .field("replaced_runs", vec![], replaced);
    let title = format!("Run {} of {}", run.id, version.title);
    let object = audit::Object::new(AuditObject::Run, run.id, title);
    audit::record(&txn, actor, AuditAction::RunStart, object, changes).await?;
    txn.commit().await?;
    Ok(run)
}

/// The latest failure of each of `run_ids` that has one: their ids in one grouped query, then
/// those rows.
pub async fn latest_failures(
    db: &impl ConnectionTrait,
    run_ids: &[i64],
) -> ApiResult<HashMap<i64, entity::failed_prediction::Model>> {
    use entity::failed_prediction;
    if run_ids.is_empty() {
        return Ok(HashMap::new());
    }
    let latest: Vec<Option<i64>> = crate::db::in_chunks(run_ids, |chunk| {
        failed_prediction::Entity::find()
            .select_only()
            .column_as(failed_prediction::Column::Id.max(), "latest")
            .filter(failed_prediction::Column::ModelRunId.is_in(chunk))
            .group_by(failed_prediction::Column::ModelRunId)
            .into_tuple()
            .all(db)
    })
    .await?;
    let ids: Vec<i64> = latest.into_iter().flatten().collect();
    let rows = crate::db::in_chunks(&ids, |chunk| {
        failed_prediction::Entity::find()
            .filter(failed_prediction::Column::Id.is_in(chunk))
            .all(db)
    })
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|f| Some((f.model_run_id?, f)))
        .collect())
}

/// Filters of the run list.
#[derive(Debug, Default)]
pub struct ListFilter {
    /// Runs on this project.
    pub project: Option<i64>,
    /// Runs of this subset.
    pub project_subset: Option<Subset>,
    /// DRF ordering over `id`, `created_at`, `completed_at` (default `-created_at`).
    pub ordering: Option<String>,
}

/// The runs of a version, newest first unless ordered otherwise.
pub async fn list(
    db: &impl ConnectionTrait,
    caller: &AuthUser,
    prompt_id: i64,
    version_id: i64,
    filter: &ListFilter,
) -> ApiResult<Vec<model_run::Model>> {
    let version = versions::get(db, caller, prompt_id, version_id).await?;
    let mut query =
        model_run::Entity::find().filter(model_run::Column::ModelVersionId.eq(version.id));
    if let Some(p) = filter.project {
        query = query.filter(model_run::Column::ProjectId.eq(p));
    }
    if let Some(s) = filter.project_subset {
        query = query.filter(model_run::Column::ProjectSubset.eq(s));
    }
    let (query, _) = crate::util::order_by(
        query,
        Some(filter.ordering.as_deref().unwrap_or("-created_at")),
        &[
            ("id", model_run::Column::Id),
            ("created_at", model_run::Column::CreatedAt),
            ("completed_at", model_run::Column::CompletedAt),
        ],
    );
    // Newest first among equals, whatever the ordering.
    let query = query.order_by_desc(model_run::Column::Id);
    Ok(query.all(db).await?)
}

/// The run `id` of the caller's organization, or 404.
pub async fn get(
    db: &impl ConnectionTrait,
    caller: &AuthUser,
    id: i64,
) -> ApiResult<model_run::Model> {
    model_run::Entity::find_by_id(id)
        .filter(model_run::Column::OrganizationId.eq(caller.organization_id))
        .one(db)
        .await?
        .ok_or(ApiError::NotFound)
}

/// The task ids at positions `offset..offset + limit` of a run's resolved tasks (ascending by
/// id, or descending), read from the few slices that hold them: every slice but the last
/// holds exactly [`SLICE_SIZE`] ids, so a position maps to a slice directly.
pub async fn page_of_tasks(
    db: &impl ConnectionTrait,
    run_id: i64,
    total: u64,
    offset: u64,
    limit: u64,
    descending: bool,
) -> ApiResult<Vec<i64>> {
    if offset >= total || limit == 0 {
        return Ok(vec![]);
    }
    let end = (offset + limit).min(total);
    // Positions in ascending order that this page covers.
    let (lo, hi) = if descending {
        (total - end, total - offset)
    } else {
        (offset, end)
    };
    let size = SLICE_SIZE as u64;
    let slices: Vec<(i32, Value)> = model_run_slice::Entity::find()
        .select_only()
        .columns([
            model_run_slice::Column::Seq,
            model_run_slice::Column::TaskIds,
        ])
        .filter(model_run_slice::Column::ModelRunId.eq(run_id))
        .filter(model_run_slice::Column::Seq.gte((lo / size) as i32))
        .filter(model_run_slice::Column::Seq.lte(((hi - 1) / size) as i32))
        .order_by_asc(model_run_slice::Column::Seq)
        .into_tuple()
        .all(db)
        .await?;
    let mut ids: Vec<i64> = vec![];
    for (seq, task_ids) in slices {
        let base = seq as u64 * size;
        for (i, id) in task_ids
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_i64)
            .enumerate()
        {
            let position = base + i as u64;
            if position >= lo && position < hi {
                ids.push(id);
            }
        }
    }
    if descending {
        ids.reverse();
    }
    Ok(ids)
}

/// Which of `task_ids` belong to the run's resolved tasks: reads only the slices whose id
/// range overlaps theirs.
pub async fn members(
    db: &impl ConnectionTrait,
    run_id: i64,
    task_ids: &[i64],
) -> ApiResult<std::collections::HashSet<i64>> {
    let (Some(min), Some(max)) = (task_ids.iter().min(), task_ids.iter().max()) else {
        return Ok(Default::default());
    };
    let wanted: std::collections::HashSet<i64> = task_ids.iter().copied().collect();
    let slices: Vec<Value> = model_run_slice::Entity::find()
        .select_only()
        .column(model_run_slice::Column::TaskIds)
        .filter(model_run_slice::Column::ModelRunId.eq(run_id))
        .filter(model_run_slice::Column::FirstTaskId.lte(*max))
        .filter(model_run_slice::Column::LastTaskId.gte(*min))
        .into_tuple()
        .all(db)
        .await?;
    Ok(slices
        .iter()
        .filter_map(Value::as_array)
        .flatten()
        .filter_map(Value::as_i64)
        .filter(|id| wanted.contains(id))
        .collect())
}

/// Cancels a Pending or InProgress run (stored predictions are kept); a finished run keeps its
/// status. Returns the explanation for the response's `detail`.
pub async fn cancel<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    caller: &AuthUser,
    prompt_id: i64,
    version_id: i64,
    run_id: i64,
) -> ApiResult<String> {
    let txn = crate::db::begin_write(db).await?;
    let version = versions::get(&txn, caller, prompt_id, version_id).await?;
    let run = get(&txn, caller, run_id).await?;
    if run.model_version_id != version.id {
        return Err(ApiError::NotFound);
    }
    let detail = if run.status == RunStatus::Pending || run.status == RunStatus::InProgress {
        let now = crate::util::now();
        model_run::Entity::update_many()
            .col_expr(model_run::Column::Status, Expr::value(RunStatus::Canceled))
            .col_expr(model_run::Column::CompletedAt, Expr::value(now))
            .filter(model_run::Column::Id.eq(run.id))
            .exec(&txn)
            .await?;
        crate::services::jobs::mirror_run(&txn, run.id, RunStatus::Canceled, None, now).await?;
        // A batch run's job cancels its batches at the provider now, not at its next look.
        crate::services::provider_batches::hurry(&txn, run.id).await?;
        let changes = audit::Changes::new().field("status", run.status, RunStatus::Canceled);
        let title = format!("Run {} of {}", run.id, version.title);
        let object = audit::Object::new(AuditObject::Run, run.id, title);
        audit::record(&txn, caller, AuditAction::RunCancel, object, changes).await?;
        format!(
            "Inference run {} canceled; {} predictions kept.",
            run.id, run.total_predictions
        )
    } else {
        format!(
            "Inference run {} is already {}; nothing to cancel.",
            run.id, run.status
        )
    };
    txn.commit().await?;
    Ok(detail)
}
