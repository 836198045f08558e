//! One worker: claims slices, runs their tasks through the plan of their run, writes results
//! in batches, keeps its leases alive and notices canceled runs.
//!
//! Four loops share the worker's state: the claimer (this file's [`run`]), the writer, the
//! heartbeat and the run watcher. The claimer dispatches a slice's tasks as call slots free
//! while the next slice is already claimed and loaded in the background, so slices overlap and
//! the provider's concurrency never idles at slice boundaries, not even through the claim's
//! database round trips.
use super::Engine;
use super::plan::{Plan, TaskOutcome};
use super::queue::{self, Claim};
use crate::services::results::{self, FailureResult, PredictionResult, RunContext};
use entity::{failed_prediction, model_run, prediction, task};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{Semaphore, mpsc};

/// A run this worker has work of: its plan and what its writes need.
struct RunWork {
    plan: Plan,
    ctx: RunContext,
}

/// A slice this worker holds.
#[derive(Debug, Default)]
struct Held {
    run_id: i64,
    /// Tasks dispatched but not yet written.
    remaining: usize,
    /// Some task was canceled before its result: give the slice back, don't complete it.
    unfinished: bool,
    /// Another worker took the slice over (our lease lapsed).
    lost: bool,
    /// The engine is busy until the slice is settled.
    busy: Option<super::idle::Busy>,
}

/// A task's outcome on its way to the writer.
struct Done {
    run: Arc<RunWork>,
    slice_id: i64,
    outcome: TaskOutcome,
}

/// A lease taken or renewed now: when, and until when it holds.
struct Lease {
    now: chrono::DateTime<chrono::Utc>,
    expires: chrono::DateTime<chrono::Utc>,
}

/// What the four loops share.
struct Shared {
    engine: Engine,
    id: String,
    held: Mutex<HashMap<i64, Held>>,
    runs: Mutex<HashMap<i64, Arc<RunWork>>>,
}

impl Shared {
    fn lease(&self) -> Lease {
        let now = crate::util::now();
        let ttl = chrono::Duration::seconds(self.engine.config().lease_secs.max(1) as i64);
        Lease {
            now,
            expires: now + ttl,
        }
    }

    fn is_lost(&self, slice_id: i64) -> bool {
        self.held
            .lock()
            .map(|h| h.get(&slice_id).is_none_or(|s| s.lost))
            .unwrap_or(true)
    }
}

/// Runs a worker until the engine shuts down.
pub(super) async fn run(engine: Engine, id: String) {
    let shared = Arc::new(Shared {
        engine: engine.clone(),
        id,
        held: Mutex::default(),
        runs: Mutex::default(),
    });
    tracing::info!(worker = %shared.id, concurrency = engine.config().concurrency, "worker started");
    let (tx, rx) = mpsc::unbounded_channel::<Done>();
    let writer = tokio::spawn(write_loop(shared.clone(), rx));
    let heartbeat = tokio::spawn(heartbeat_loop(shared.clone()));
    let watcher = tokio::spawn(watch_loop(shared.clone()));
    let slots = Arc::new(Semaphore::new(engine.config().concurrency.max(1)));
    let stop = engine.shutdown_signal().clone();
    let poll = Duration::from_millis(engine.config().poll_ms.max(10));
    // The next slice is claimed and loaded while the current one is dispatched, so no call
    // slot idles through the database round trips at a slice boundary.
    let mut ahead: Option<tokio::task::JoinHandle<Fetched>> = None;
    loop {
        let first = tokio::select! {
            p = slots.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
            _ = stop.canceled() => break,
        };
        let prefetched = match ahead.take() {
            Some(h) => h.await.unwrap_or(Fetched::Nothing),
            None => Fetched::Nothing,
        };
        // Without a prefetched slice (or when the prefetch found nothing: a run may have
        // been created since), look now.
        let fetched = match prefetched {
            Fetched::Nothing => fetch(shared.clone()).await,
            found => found,
        };
        match fetched {
            Fetched::Ready(prepared) => {
                ahead = Some(tokio::spawn(fetch(shared.clone())));
                launch(&shared, prepared, first, &slots, &tx).await;
            }
            Fetched::Settled => continue,
            Fetched::Failed => {
                drop(first);
                tokio::time::sleep(poll).await;
            }
            Fetched::Nothing => {
                drop(first);
                tokio::select! {
                    _ = tokio::time::sleep(poll) => {}
                    _ = engine.wake_signal().notified() => {}
                    _ = stop.canceled() => break,
                }
            }
        }
    }
    if let Some(h) = ahead
        && let Ok(Fetched::Ready(p)) = h.await
    {
        let _ = queue::release(engine.db(), &shared.id, p.claim.slice_id).await;
    }
    // Stop: cancel what is in flight; the writer gives the unfinished slices back.
    if let Ok(runs) = shared.runs.lock() {
        for run in runs.values() {
            run.plan.cancel.cancel();
        }
    }
    drop(tx);
    let _ = writer.await;
    heartbeat.abort();
    watcher.abort();
    tracing::info!(worker = %shared.id, "worker stopped");
}

/// The work of a run, loaded on first use. A run whose version cannot run fails at once.
async fn run_work(shared: &Shared, run_id: i64) -> Result<Option<Arc<RunWork>>, sea_orm::DbErr> {
    if let Some(work) = shared
        .runs
        .lock()
        .ok()
        .and_then(|r| r.get(&run_id).cloned())
    {
        return Ok(Some(work));
    }
    let db = shared.engine.db();
    let Some(run) = model_run::Entity::find_by_id(run_id).one(db).await? else {
        return Ok(None);
    };
    let ctx = match RunContext::load(db, run).await {
        Ok(ctx) => ctx,
        Err(_) => return Ok(None),
    };
    let plan = match Plan::load(
        &shared.engine,
        db,
        ctx.version.clone(),
        ctx.run.project_id,
        ctx.config.clone(),
    )
    .await
    {
        Ok(mut plan) => {
            plan.use_cache(ctx.run.use_cache);
            plan.keep_with_results();
            plan
        }
        Err(e) => {
            tracing::warn!(run = run_id, error = %e, "the run cannot start");
            queue::fail_run(db, run_id, &e.0, crate::util::now()).await?;
            return Ok(None);
        }
    };
    let work = Arc::new(RunWork { plan, ctx });
    if let Ok(mut runs) = shared.runs.lock() {
        runs.insert(run_id, work.clone());
    }
    Ok(Some(work))
}

/// A claimed slice, loaded: its run's work and the tasks that have no result yet.
struct Prepared {
    claim: Claim,
    work: Arc<RunWork>,
    tasks: Vec<(i64, Value)>,
    busy: super::idle::Busy,
}

/// What looking for work found.
enum Fetched {
    /// A slice to dispatch.
    Ready(Prepared),
    /// A slice with nothing left to do (completed), or of a run that cannot run.
    Settled,
    /// Nothing claimable.
    Nothing,
    /// A database error (logged).
    Failed,
}

/// Claims the next slice and loads it.
async fn fetch(shared: Arc<Shared>) -> Fetched {
    // Busy from before the claim, so the idle hook never sees the slice leased by no one busy.
    let mut busy = shared.engine.attempt();
    let Lease { now, expires } = shared.lease();
    let claim = match queue::claim(shared.engine.db(), &shared.id, now, expires).await {
        Ok(Some(c)) => {
            busy.worked();
            c
        }
        Ok(None) => return Fetched::Nothing,
        Err(e) => {
            tracing::warn!(worker = %shared.id, error = %e, "claiming a slice failed");
            return Fetched::Failed;
        }
    };
    match prepare(&shared, claim, busy).await {
        Ok(Some(p)) => Fetched::Ready(p),
        Ok(None) => Fetched::Settled,
        Err(e) => {
            tracing::warn!(worker = %shared.id, error = %e, "dispatching a slice failed");
            Fetched::Failed
        }
    }
}

/// Loads a claimed slice: the tasks that have no result yet. A slice with none is completed.
async fn prepare(
    shared: &Arc<Shared>,
    claim: Claim,
    busy: super::idle::Busy,
) -> Result<Option<Prepared>, sea_orm::DbErr> {
    let db = shared.engine.db();
    let Some(work) = run_work(shared, claim.run_id).await? else {
        return Ok(None);
    };
    // A slice claimed before (its worker died or gave it back) may have results already:
    // those tasks are done. A first claim skips the lookup: a new run has no results but the
    // engine's, and a result pushed meanwhile through the API is kept by the idempotent write.
    // (On PostgreSQL the lookup is no cheap probe: with no statistics for a new run id, the
    // planner reads every prediction of the run, so it grew with the run's progress.)
    let mut done: HashSet<i64> = HashSet::new();
    if claim.attempts > 1 {
        done.extend(
            prediction::Entity::find()
                .select_only()
                .column(prediction::Column::TaskId)
                .filter(prediction::Column::ModelRunId.eq(claim.run_id))
                .filter(prediction::Column::TaskId.is_in(claim.task_ids.clone()))
                .into_tuple::<i64>()
                .all(db)
                .await?,
        );
        done.extend(
            failed_prediction::Entity::find()
                .select_only()
                .column(failed_prediction::Column::TaskId)
                .filter(failed_prediction::Column::ModelRunId.eq(claim.run_id))
                .filter(failed_prediction::Column::TaskId.is_in(claim.task_ids.clone()))
                .into_tuple::<i64>()
                .all(db)
                .await?,
        );
    }
    let todo: Vec<i64> = claim
        .task_ids
        .iter()
        .copied()
        .filter(|id| !done.contains(id))
        .collect();
    let tasks: Vec<(i64, Value)> = if todo.is_empty() {
        vec![]
    } else {
        task::Entity::find()
            .select_only()
            .columns([task::Column::Id, task::Column::Data])
            .filter(task::Column::Id.is_in(todo))
            .into_tuple()
            .all(db)
            .await?
    };
    if tasks.is_empty() {
        queue::complete(
            db,
            &shared.id,
            claim.slice_id,
            claim.run_id,
            crate::util::now(),
        )
        .await?;
        return Ok(None);
    }
    // The slice's cache entries in one read, not one per call.
    work.plan.read_cache_ahead(&tasks).await;
    Ok(Some(Prepared {
        claim,
        work,
        tasks,
        busy,
    }))
}

/// Starts the tasks of a loaded slice, each as a call slot frees.
async fn launch(
    shared: &Arc<Shared>,
    prepared: Prepared,
    first: tokio::sync::OwnedSemaphorePermit,
    slots: &Arc<Semaphore>,
    tx: &mpsc::UnboundedSender<Done>,
) {
    let Prepared {
        claim,
        work,
        tasks,
        busy,
    } = prepared;
    if let Ok(mut held) = shared.held.lock() {
        held.insert(
            claim.slice_id,
            Held {
                run_id: claim.run_id,
                remaining: tasks.len(),
                busy: Some(busy),
                ..Default::default()
            },
        );
    }
    let stop = shared.engine.shutdown_signal().clone();
    let mut first = Some(first);
    for (task_id, data) in tasks {
        let permit = match first.take() {
            Some(p) => p,
            None => tokio::select! {
                p = slots.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
                _ = stop.canceled() => {
                    // Not started: count it as unfinished so the slice is given back.
                    let _ = tx.send(Done { run: work.clone(), slice_id: claim.slice_id, outcome: TaskOutcome::Canceled });
                    continue;
                }
            },
        };
        let work = work.clone();
        let tx = tx.clone();
        let shared = shared.clone();
        let slice_id = claim.slice_id;
        tokio::spawn(async move {
            let outcome = if work.plan.cancel.is_canceled() || shared.is_lost(slice_id) {
                TaskOutcome::Canceled
            } else {
                work.plan.infer(task_id, &data).await
            };
            drop(permit);
            let _ = tx.send(Done {
                run: work,
                slice_id,
                outcome,
            });
        });
    }
}

/// Writes outcomes in batches (by size, or every 100 ms) and settles finished slices.
async fn write_loop(shared: Arc<Shared>, mut rx: mpsc::UnboundedReceiver<Done>) {
    let batch = shared.engine.config().write_batch.max(1);
    let interval = Duration::from_millis(100);
    let mut pending: Vec<Done> = vec![];
    let mut since = Instant::now();
    let mut open = true;
    while open || !pending.is_empty() {
        if open {
            let wait = interval.saturating_sub(since.elapsed());
            match tokio::time::timeout(wait, rx.recv()).await {
                Ok(Some(done)) => {
                    if pending.is_empty() {
                        since = Instant::now();
                    }
                    pending.push(done);
                    while pending.len() < batch {
                        match rx.try_recv() {
                            Ok(done) => pending.push(done),
                            Err(_) => break,
                        }
                    }
                }
                Ok(None) => open = false,
                Err(_) => {}
            }
        }
        let due = pending.len() >= batch || since.elapsed() >= interval || !open;
        if due && !pending.is_empty() {
            flush(&shared, std::mem::take(&mut pending)).await;
            since = Instant::now();
        }
    }
}

/// The results of one run in a batch.
struct RunBatch {
    work: Arc<RunWork>,
    successes: Vec<PredictionResult>,
    failures: Vec<FailureResult>,
}

/// One task of a batch, for the slice bookkeeping: whether its result is settled.
struct Settled {
    slice: i64,
    run: i64,
    finished: bool,
}

/// A slice all of whose tasks came back: completed, or given back when some are unfinished.
struct SliceDone {
    slice: i64,
    run: i64,
    give_back: bool,
    /// The idle hook's guard, dropped once the slice is settled in the database.
    _busy: Option<super::idle::Busy>,
}

/// Writes one batch: results per run, job-level failures, then slice bookkeeping.
async fn flush(shared: &Shared, batch: Vec<Done>) {
    let db = shared.engine.db();
    let mut by_run: HashMap<i64, RunBatch> = HashMap::new();
    // Runs that failed as a whole (refused credentials, budget), with why.
    let mut fatal: HashMap<i64, String> = HashMap::new();
    let mut settled: Vec<Settled> = vec![];
    for done in batch {
        let run_id = done.run.ctx.run.id;
        let entry = by_run.entry(run_id).or_insert_with(|| RunBatch {
            work: done.run.clone(),
            successes: vec![],
            failures: vec![],
        });
        let finished = match done.outcome {
            TaskOutcome::Success(p) => {
                entry.successes.push(p);
                true
            }
            TaskOutcome::Failure(f) => {
                entry.failures.push(f);
                true
            }
            TaskOutcome::Fatal(message) => {
                // The run fails once this batch's results are written: they are kept.
                if !done.run.plan.cancel.is_canceled() {
                    done.run.plan.cancel.cancel();
                    fatal.entry(run_id).or_insert(message);
                }
                false
            }
            TaskOutcome::Canceled => false,
        };
        settled.push(Settled {
            slice: done.slice_id,
            run: run_id,
            finished,
        });
    }
    // Results of a run canceled, failed or deleted since its calls started are dropped: the
    // run keeps what it had when it stopped.
    let ids: Vec<i64> = by_run.keys().copied().collect();
    let active: HashSet<i64> = match queue::statuses(db, &ids).await {
        Ok(statuses) => statuses
            .into_iter()
            .filter(|(_, s)| s.is_active())
            .map(|(id, _)| id)
            .collect(),
        Err(_) => ids.iter().copied().collect(),
    };
    for (
        run_id,
        RunBatch {
            work,
            successes,
            failures,
        },
    ) in by_run
    {
        if successes.is_empty() && failures.is_empty() {
            continue;
        }
        if !active.contains(&run_id) {
            work.plan.cancel.cancel();
            // The results are dropped, but the provider was paid for them.
            let cost: f64 = successes
                .iter()
                .filter_map(|s| s.total_cost)
                .chain(failures.iter().filter_map(|f| f.total_cost))
                .sum();
            if let Some(connection) = work.ctx.version.model_provider_connection_id
                && cost > 0.0
                && let Err(e) = record_spend(db, connection, cost).await
            {
                tracing::warn!(run = run_id, error = %e, "recording the spending of dropped results failed");
            }
            continue;
        }
        let count = successes.len() + failures.len();
        let mut attempt = 0;
        loop {
            attempt += 1;
            match results::write_batch(db, &work.ctx, successes.clone(), failures.clone()).await {
                Ok(_) => break,
                Err(e) if attempt < 5 => {
                    tracing::warn!(run = run_id, error = %e, attempt, "writing results failed; retrying");
                    tokio::time::sleep(Duration::from_millis(200 * attempt)).await;
                }
                Err(e) => {
                    // The slice is given back below; another claim redoes these tasks.
                    tracing::error!(run = run_id, error = %e, results = count, "writing results failed");
                    for s in settled.iter_mut().filter(|s| s.run == run_id) {
                        s.finished = false;
                    }
                    break;
                }
            }
        }
    }
    for (run_id, message) in fatal {
        tracing::warn!(run = run_id, %message, "failing the run");
        if let Err(e) = queue::fail_run(db, run_id, &message, crate::util::now()).await {
            tracing::error!(run = run_id, error = %e, "could not fail the run");
        }
    }
    // Slice bookkeeping: complete or give back the slices whose tasks are all settled.
    let mut finished_slices: Vec<SliceDone> = vec![];
    if let Ok(mut held) = shared.held.lock() {
        for Settled {
            slice: slice_id,
            finished,
            ..
        } in settled
        {
            if let Some(h) = held.get_mut(&slice_id) {
                h.remaining = h.remaining.saturating_sub(1);
                h.unfinished |= !finished;
                if h.remaining == 0
                    && let Some(h) = held.remove(&slice_id)
                {
                    finished_slices.push(SliceDone {
                        slice: slice_id,
                        run: h.run_id,
                        give_back: h.unfinished || h.lost,
                        _busy: h.busy,
                    });
                }
            }
        }
    }
    // Each slice's guard drops once the slice is settled in the database.
    for SliceDone {
        slice: slice_id,
        run: run_id,
        give_back,
        _busy,
    } in finished_slices
    {
        let result = if give_back {
            queue::release(db, &shared.id, slice_id).await
        } else {
            queue::complete(db, &shared.id, slice_id, run_id, crate::util::now()).await
        };
        if let Err(e) = result {
            tracing::warn!(slice = slice_id, error = %e, "settling a slice failed; its lease will lapse");
        }
    }
}

/// Adds `cost` to a connection's spending in a transaction of its own.
async fn record_spend(
    db: &sea_orm::DatabaseConnection,
    connection: i64,
    cost: f64,
) -> crate::error::ApiResult<()> {
    let txn = crate::db::begin_write(db).await?;
    crate::services::budgets::record_spend(&txn, connection, cost).await?;
    txn.commit().await?;
    Ok(())
}

/// Extends the worker's leases every third of their length; marks lost the slices another
/// worker took over.
async fn heartbeat_loop(shared: Arc<Shared>) {
    let every = Duration::from_secs(shared.engine.config().lease_secs.max(3)) / 3;
    loop {
        tokio::time::sleep(every).await;
        let Lease { expires, .. } = shared.lease();
        match queue::extend(shared.engine.db(), &shared.id, expires).await {
            Ok(owned) => {
                let owned: HashSet<i64> = owned.into_iter().collect();
                if let Ok(mut held) = shared.held.lock() {
                    for (slice_id, h) in held.iter_mut() {
                        if !owned.contains(slice_id) && !h.lost {
                            tracing::warn!(
                                slice = slice_id,
                                "lease lost; another worker resumes the slice"
                            );
                            h.lost = true;
                        }
                    }
                }
            }
            Err(e) => tracing::warn!(worker = %shared.id, error = %e, "extending leases failed"),
        }
    }
}

/// Every half second: cancels the calls of runs that were canceled, failed or deleted, and
/// forgets finished runs.
async fn watch_loop(shared: Arc<Shared>) {
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let ids: Vec<i64> = match shared.runs.lock() {
            Ok(runs) => runs.keys().copied().collect(),
            Err(_) => continue,
        };
        let Ok(statuses) = queue::statuses(shared.engine.db(), &ids).await else {
            continue;
        };
        let active: HashSet<i64> = statuses
            .into_iter()
            .filter(|(_, s)| s.is_active())
            .map(|(id, _)| id)
            .collect();
        if let Ok(mut runs) = shared.runs.lock() {
            runs.retain(|id, work| {
                let keep = active.contains(id);
                if !keep {
                    work.plan.cancel.cancel();
                }
                keep
            });
        }
    }
}
