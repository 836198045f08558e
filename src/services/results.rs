//! Results of runs: predictions and failed predictions written in batches (by the engine, or by
//! an external worker through `batch-predictions`), idempotently: a task of a run ends with at
//! most one prediction, or one failure, however often a result is sent. Each batch updates the
//! run's counters, accuracy, tokens, cost and status, the tasks' counters and the provider
//! connection's spend.
use crate::error::{ApiError, ApiResult};
use crate::label_config::LabelConfig;
use crate::scoring;
use crate::services::scored::ground_truth;
use chrono::{DateTime, Utc};
use entity::enums::{FailureKind, RunStatus};
use entity::{
    failed_prediction, model_interface, model_run, model_version, prediction, project, task,
};
use sea_orm::ActiveValue::{NotSet, Set};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect, QueryTrait,
    TransactionSession, TransactionTrait,
};
use serde_json::Value;
use std::collections::{BTreeSet, HashMap, HashSet};

mod kept;
mod scores;
mod sent;
use kept::keeps_of;
mod spans;
pub use scores::{Confidence, PredictionScore, score_regions};
pub use sent::{FailureResult, PredictionResult};
pub use spans::with_dropped_spans;

/// What a batch changed.
#[derive(Debug, Default, Clone, Copy)]
pub struct BatchOutcome {
    /// Predictions stored.
    pub predictions: usize,
    /// Failures stored.
    pub failures: usize,
    /// Items ignored: unknown tasks, or tasks that already had a result in this run.
    pub skipped: usize,
}

/// Everything a batch needs to know about its run, loaded once.
#[derive(Debug, Clone)]
pub struct RunContext {
    /// The run.
    pub run: model_run::Model,
    /// Its version.
    pub version: model_version::Model,
    /// The version's prompt.
    pub prompt: model_interface::Model,
    /// The project's label config.
    pub config: LabelConfig,
}

impl RunContext {
    /// Loads the context of `run`.
    pub async fn load(db: &impl ConnectionTrait, run: model_run::Model) -> ApiResult<Self> {
        let version = model_version::Entity::find_by_id(run.model_version_id)
            .one(db)
            .await?
            .ok_or(ApiError::NotFound)?;
        let prompt = model_interface::Entity::find_by_id(version.parent_model_id)
            .one(db)
            .await?
            .ok_or(ApiError::NotFound)?;
        let project = project::Entity::find_by_id(run.project_id)
            .one(db)
            .await?
            .ok_or(ApiError::NotFound)?;
        let config = crate::services::projects::config_of(&project);
        Ok(RunContext {
            run,
            version,
            prompt,
            config,
        })
    }

    /// The `model_version` label of this run's predictions.
    pub fn label(&self) -> String {
        crate::services::versions::prediction_label(&self.prompt.title, &self.version.title)
    }
}

/// Writes a batch of results for a run in one transaction and updates every counter.
/// Outputs that do not fit the label config become `InvalidOutput` failures.
pub async fn write_batch<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    ctx: &RunContext,
    successes: Vec<PredictionResult>,
    failures: Vec<FailureResult>,
) -> ApiResult<BatchOutcome> {
    let notes = notes_of(&successes);
    let keeps = keeps_of(&successes);
    let ids: Vec<i64> = successes
        .iter()
        .map(|s| s.task_id)
        .chain(failures.iter().map(|f| f.task_id))
        .collect();
    let tasks = load_tasks(db, ctx, &ids).await?;
    let mut batch = Batch::new(ctx, tasks, failures);
    let rows = batch.build_predictions(successes);
    let txn = crate::db::begin_write(db).await?;
    batch.insert_predictions(&txn, rows).await?;
    batch.insert_failures(&txn).await?;
    let entries: Vec<(&str, crate::services::llm_cache::Entry<'_>)> = keeps
        .iter()
        .map(|(key, entry)| (key.as_str(), entry.entry()))
        .collect();
    let now = crate::util::now();
    crate::services::llm_cache::store_many(&txn, ctx.run.organization_id, &entries, now).await?;
    let scored = batch.score(&txn).await?;
    batch.update_counters(&txn, scored, notes).await?;
    txn.commit().await?;
    Ok(batch.outcome)
}

/// Tokens in, tokens out and cost (USD) of one stored result, or of a sum of them.
#[derive(Debug, Clone, Copy, Default)]
struct Spend {
    prompt_tokens: i64,
    completion_tokens: i64,
    cost: f64,
}

impl std::ops::Add for Spend {
    type Output = Spend;
    fn add(self, other: Spend) -> Spend {
        Spend {
            prompt_tokens: self.prompt_tokens + other.prompt_tokens,
            completion_tokens: self.completion_tokens + other.completion_tokens,
            cost: self.cost + other.cost,
        }
    }
}

fn spend(prompt_tokens: Option<i64>, completion_tokens: Option<i64>, cost: Option<f64>) -> Spend {
    Spend {
        prompt_tokens: prompt_tokens.unwrap_or(0),
        completion_tokens: completion_tokens.unwrap_or(0),
        cost: cost.unwrap_or(0.0),
    }
}

/// What calls changed to get their answers (e.g. a parameter the provider refused).
fn notes_of(successes: &[PredictionResult]) -> BTreeSet<String> {
    successes
        .iter()
        .filter_map(|s| s.extra.as_ref()?.get("notes")?.as_array())
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect()
}

/// The tasks among `ids` that may take a result: the run's own (its resolved subset) that still
/// exist, with their data when spans must be located in the text (`null` otherwise).
async fn load_tasks(
    db: &impl ConnectionTrait,
    ctx: &RunContext,
    ids: &[i64],
) -> ApiResult<HashMap<i64, Value>> {
    let members = crate::services::runs::members(db, ctx.run.id, ids).await?;
    let needs_text = ctx
        .config
        .controls
        .iter()
        .any(|c| ctx.config.is_span_control(c));
    let wanted: Vec<i64> = members.iter().copied().collect();
    let mut data: HashMap<i64, Value> = HashMap::new();
    if needs_text {
        for chunk in wanted.chunks(500) {
            for (id, d) in task::Entity::find()
                .select_only()
                .columns([task::Column::Id, task::Column::Data])
                .filter(task::Column::Id.is_in(chunk.to_vec()))
                .into_tuple::<(i64, Value)>()
                .all(db)
                .await?
            {
                data.insert(id, d);
            }
        }
    } else {
        // Ids only: a task deleted since the run was created takes no result.
        for chunk in wanted.chunks(500) {
            let existing: Vec<i64> = task::Entity::find()
                .select_only()
                .column(task::Column::Id)
                .filter(task::Column::Id.is_in(chunk.to_vec()))
                .into_tuple()
                .all(db)
                .await?;
            data.extend(existing.into_iter().map(|id| (id, Value::Null)));
        }
    }
    Ok(data)
}

/// The state of one batch, filled in step by step.
struct Batch<'a> {
    ctx: &'a RunContext,
    /// The version's calibration map, applied to every score.
    map: Option<crate::stats::calibration::CalibrationMap>,
    /// The `model_version` of the run's predictions.
    label: String,
    now: DateTime<Utc>,
    /// The tasks that may take a result (see [`load_tasks`]).
    tasks: HashMap<i64, Value>,
    /// Failures to store: those sent, then the outputs that do not fit the label config.
    failures: Vec<FailureResult>,
    /// The regions of each prediction built, for scoring.
    regions: HashMap<i64, Value>,
    /// The spend of each prediction built.
    prediction_spend: HashMap<i64, Spend>,
    /// Tasks whose prediction built was answered from the response cache.
    cached: HashSet<i64>,
    /// Tasks whose prediction this batch stored.
    predicted: Vec<i64>,
    /// The tasks of the earlier failures those predictions replaced.
    replaced_failures: Vec<i64>,
    /// The tasks of the failures this batch stored.
    failed: Vec<i64>,
    /// The spend of each stored failure (a re-sent one adds nothing).
    failure_spend: Vec<Spend>,
    outcome: BatchOutcome,
}

impl<'a> Batch<'a> {
    fn new(ctx: &'a RunContext, tasks: HashMap<i64, Value>, failures: Vec<FailureResult>) -> Self {
        Batch {
            ctx,
            map: crate::views::versions::Calibration::of_stored(ctx.version.calibration.as_ref())
                .map(|c| c.map),
            label: ctx.label(),
            now: crate::util::now(),
            tasks,
            failures,
            regions: HashMap::new(),
            prediction_spend: HashMap::new(),
            cached: HashSet::new(),
            predicted: vec![],
            replaced_failures: vec![],
            failed: vec![],
            failure_spend: vec![],
            outcome: BatchOutcome::default(),
        }
    }

    /// The prediction rows of the successes: one per task that may take a result (the first
    /// success of a task); an output that does not fit the label config becomes a failure.
    fn build_predictions(
        &mut self,
        successes: Vec<PredictionResult>,
    ) -> Vec<prediction::ActiveModel> {
        let mut rows = vec![];
        let mut seen = HashSet::new();
        for mut s in successes {
            // A model's answer may spell NUL characters, which PostgreSQL cannot store, or
            // numbers that a JSON column cannot give back.
            crate::util::make_storable(&mut s.output);
            let Some(task_data) = self.tasks.get(&s.task_id) else {
                self.outcome.skipped += 1;
                continue;
            };
            if !seen.insert(s.task_id) {
                self.outcome.skipped += 1;
                continue;
            }
            if crate::services::llm_cache::is_cached(s.extra.as_ref()) {
                self.cached.insert(s.task_id);
            }
            match self.ctx.config.convert(&s.output, task_data) {
                Ok(mut converted) => {
                    let extra = with_dropped_spans(s.extra.take(), &converted.dropped);
                    let score = score_regions(&mut converted, &s.confidence, self.map.as_ref());
                    let regions = Value::Array(converted.regions);
                    self.regions.insert(s.task_id, regions.clone());
                    let spent = spend(s.prompt_tokens, s.completion_tokens, s.total_cost);
                    self.prediction_spend.insert(s.task_id, spent);
                    rows.push(self.prediction_row(&s, regions, extra, score));
                }
                Err(err) => self.failures.push(FailureResult {
                    task_id: s.task_id,
                    message: format!("The model's output does not fit the label config: {err}"),
                    error_type: FailureKind::InvalidOutput,
                    inference_time: s.inference_time,
                    prompt_tokens: s.prompt_tokens,
                    completion_tokens: s.completion_tokens,
                    total_cost: s.total_cost,
                }),
            }
        }
        rows
    }

    fn prediction_row(
        &self,
        s: &PredictionResult,
        regions: Value,
        extra: Option<Value>,
        scored: PredictionScore,
    ) -> prediction::ActiveModel {
        let run = &self.ctx.run;
        // The score before the version's calibration map, kept beside the one shown.
        let extra = match (scored.raw, extra) {
            (Some(raw), Some(mut extra)) => {
                if let Value::Object(map) = &mut extra {
                    map.insert("raw_score".into(), serde_json::json!(raw));
                }
                Some(extra)
            }
            (Some(raw), None) => Some(serde_json::json!({"raw_score": raw})),
            (None, extra) => extra,
        };
        prediction::ActiveModel {
            id: NotSet,
            task_id: Set(s.task_id),
            project_id: Set(run.project_id),
            result: Set(regions),
            score: Set(Some(scored.score)),
            score_method: Set(scored.method),
            model_version: Set(self.label.clone()),
            model_run_id: Set(Some(run.id)),
            cluster: Set(None),
            neighbors: Set(None),
            mislabeling: Set(0.0),
            inference_time: Set(s.inference_time),
            prompt_tokens: Set(s.prompt_tokens),
            completion_tokens: Set(s.completion_tokens),
            total_tokens: Set(match (s.prompt_tokens, s.completion_tokens) {
                (None, None) => None,
                (p, c) => Some(p.unwrap_or(0) + c.unwrap_or(0)),
            }),
            prompt_cost: Set(s.prompt_cost),
            completion_cost: Set(s.completion_cost),
            total_cost: Set(s.total_cost),
            extra: Set(extra),
            ls_prediction_id: Set(None),
            created_at: Set(self.now),
            updated_at: Set(self.now),
        }
    }

    /// Inserts the predictions (a task that already has one in this run keeps it), removes the
    /// failures they replace and counts them on their tasks.
    async fn insert_predictions(
        &mut self,
        txn: &impl ConnectionTrait,
        rows: Vec<prediction::ActiveModel>,
    ) -> ApiResult<()> {
        let run_id = self.ctx.run.id;
        let row_bytes = rows.first().map_or(1, |r| {
            let json = |v: &sea_orm::ActiveValue<Value>| match v {
                Set(v) => crate::util::json_len(v),
                _ => 0,
            };
            let extra = match &r.extra {
                Set(Some(v)) => crate::util::json_len(v),
                _ => 0,
            };
            json(&r.result) + extra + 256
        });
        for chunk in crate::util::chunked(rows, crate::db::rows_within(txn, row_bytes, 500)) {
            let attempted = chunk.len();
            let inserted = insert_returning_tasks(
                txn,
                prediction::Entity::insert_many(chunk).into_query(),
                [prediction::Column::ModelRunId, prediction::Column::TaskId],
                prediction::Column::TaskId,
            )
            .await?;
            self.outcome.skipped += attempted - inserted.len();
            self.predicted.extend(inserted);
        }
        self.outcome.predictions = self.predicted.len();
        for chunk in self.predicted.chunks(500) {
            // A success replaces an earlier failure of the same task (a retry that worked).
            let replaced: Vec<i64> = failed_prediction::Entity::find()
                .select_only()
                .column(failed_prediction::Column::TaskId)
                .filter(failed_prediction::Column::ModelRunId.eq(run_id))
                .filter(failed_prediction::Column::TaskId.is_in(chunk.to_vec()))
                .into_tuple()
                .all(txn)
                .await?;
            if !replaced.is_empty() {
                failed_prediction::Entity::delete_many()
                    .filter(failed_prediction::Column::ModelRunId.eq(run_id))
                    .filter(failed_prediction::Column::TaskId.is_in(replaced.clone()))
                    .exec(txn)
                    .await?;
                self.replaced_failures.extend(replaced);
            }
            task::Entity::update_many()
                .col_expr(
                    task::Column::TotalPredictions,
                    Expr::col(task::Column::TotalPredictions).add(1),
                )
                .filter(task::Column::Id.is_in(chunk.to_vec()))
                .exec(txn)
                .await?;
        }
        Ok(())
    }

    /// Inserts the failures of tasks that may take a result and have no prediction in this run
    /// (the first failure of a task; a task that already has one in this run keeps it).
    async fn insert_failures(&mut self, txn: &impl ConnectionTrait) -> ApiResult<()> {
        let run = &self.ctx.run;
        let failed_ids: Vec<i64> = self
            .failures
            .iter()
            .map(|f| f.task_id)
            .filter(|id| self.tasks.contains_key(id))
            .collect();
        let mut predicted: HashSet<i64> = HashSet::new();
        for chunk in failed_ids.chunks(500) {
            predicted.extend(
                prediction::Entity::find()
                    .select_only()
                    .column(prediction::Column::TaskId)
                    .filter(prediction::Column::ModelRunId.eq(run.id))
                    .filter(prediction::Column::TaskId.is_in(chunk.to_vec()))
                    .into_tuple::<i64>()
                    .all(txn)
                    .await?,
            );
        }
        let mut rows = vec![];
        let mut spend_of: HashMap<i64, Spend> = HashMap::new();
        let mut seen = HashSet::new();
        for f in std::mem::take(&mut self.failures) {
            if !self.tasks.contains_key(&f.task_id)
                || predicted.contains(&f.task_id)
                || !seen.insert(f.task_id)
            {
                self.outcome.skipped += 1;
                continue;
            }
            let spent = spend(f.prompt_tokens, f.completion_tokens, f.total_cost);
            spend_of.insert(f.task_id, spent);
            rows.push(failed_prediction::ActiveModel {
                id: NotSet,
                task_id: Set(f.task_id),
                project_id: Set(run.project_id),
                model_run_id: Set(Some(run.id)),
                model_version: Set(Some(self.label.clone())),
                message: Set(Some(f.message.replace('\0', ""))),
                error_type: Set(Some(f.error_type)),
                inference_time: Set(f.inference_time),
                prompt_tokens: Set(f.prompt_tokens),
                completion_tokens: Set(f.completion_tokens),
                total_cost: Set(f.total_cost),
                created_at: Set(self.now),
            });
        }
        let row_bytes = rows.first().map_or(1, |r| match &r.message {
            Set(Some(m)) => m.len() + 256,
            _ => 256,
        });
        for chunk in crate::util::chunked(rows, crate::db::rows_within(txn, row_bytes, 500)) {
            let attempted = chunk.len();
            let inserted = insert_returning_tasks(
                txn,
                failed_prediction::Entity::insert_many(chunk).into_query(),
                [
                    failed_prediction::Column::ModelRunId,
                    failed_prediction::Column::TaskId,
                ],
                failed_prediction::Column::TaskId,
            )
            .await?;
            self.outcome.skipped += attempted - inserted.len();
            self.outcome.failures += inserted.len();
            self.failed.extend(inserted.iter().copied());
            // Spend counts once per stored result: a re-sent failure adds nothing.
            for id in &inserted {
                if let Some(m) = spend_of.get(id) {
                    self.failure_spend.push(*m);
                }
            }
        }
        Ok(())
    }

    /// What the batch adds to the run's scored counters: of the results stored (and the
    /// failures they replaced), those on tasks with ground truth, and the correct predictions.
    async fn score(&self, txn: &impl ConnectionTrait) -> ApiResult<Scored> {
        let ids: Vec<i64> = self.predicted.iter().chain(&self.failed).copied().collect();
        let gt = ground_truth(txn, &ids).await?;
        let with_gt = |ids: &[i64]| ids.iter().filter(|id| gt.contains_key(id)).count() as i64;
        let correct = self
            .predicted
            .iter()
            .filter(|id| match (self.regions.get(id), gt.get(id)) {
                (Some(result), Some(a)) => {
                    scoring::score_task(&self.ctx.config, result, &a.result).correct
                }
                _ => false,
            })
            .count() as i64;
        Ok(Scored {
            predictions: with_gt(&self.predicted),
            failed: with_gt(&self.failed) - with_gt(&self.replaced_failures),
            correct,
        })
    }

    /// Adds the batch to the run's counters (and moves its status), records the notes, and adds
    /// the spend to the provider connection's.
    async fn update_counters(
        &self,
        txn: &impl ConnectionTrait,
        scored: Scored,
        notes: BTreeSet<String>,
    ) -> ApiResult<()> {
        let run_id = self.ctx.run.id;
        let stored_predictions = self
            .predicted
            .iter()
            .filter_map(|id| self.prediction_spend.get(id).copied());
        let Spend {
            prompt_tokens,
            completion_tokens,
            cost: cost_sum,
        } = self
            .failure_spend
            .iter()
            .copied()
            .chain(stored_predictions)
            .fold(Spend::default(), |sum, one| sum + one);
        let delta = RunDelta {
            predictions: self.outcome.predictions as i64,
            failed: self.outcome.failures as i64 - self.replaced_failures.len() as i64,
            scored,
            prompt_tokens,
            completion_tokens,
            cost: cost_sum,
            cached: self
                .predicted
                .iter()
                .filter(|id| self.cached.contains(id))
                .count() as i64,
        };
        refresh_run(txn, run_id, &delta).await?;
        if !notes.is_empty() {
            add_notes(txn, run_id, notes).await?;
        }
        if cost_sum > 0.0
            && let Some(connection) = self.ctx.version.model_provider_connection_id
        {
            crate::services::budgets::record_spend(txn, connection, cost_sum).await?;
        }
        Ok(())
    }
}

/// Runs a multi-row insert with `ON CONFLICT (run, task) DO NOTHING RETURNING task_id` and
/// returns the task ids actually inserted (only those: a conflict means a result was there).
async fn insert_returning_tasks<C: sea_orm::ColumnTrait + sea_orm::sea_query::IntoIden + Copy>(
    db: &impl ConnectionTrait,
    mut stmt: sea_orm::sea_query::InsertStatement,
    conflict: [C; 2],
    task_column: C,
) -> ApiResult<Vec<i64>> {
    stmt.on_conflict(OnConflict::columns(conflict).do_nothing().to_owned())
        .returning_col(task_column);
    let rows = db.query_all(&stmt).await?;
    Ok(rows
        .iter()
        .filter_map(|r| r.try_get_by_index::<i64>(0).ok())
        .collect())
}

/// What one batch adds to a run's scored counters (results on tasks with ground truth).
#[derive(Debug, Clone, Copy, Default)]
struct Scored {
    predictions: i64,
    failed: i64,
    correct: i64,
}

/// What one batch adds to a run's counters.
#[derive(Debug, Clone, Copy, Default)]
struct RunDelta {
    /// Of `predictions`, those answered from the response cache.
    cached: i64,
    predictions: i64,
    failed: i64,
    scored: Scored,
    prompt_tokens: i64,
    completion_tokens: i64,
    cost: f64,
}

/// Adds `notes` to the run's notes (each once).
async fn add_notes(
    db: &impl ConnectionTrait,
    run_id: i64,
    notes: BTreeSet<String>,
) -> ApiResult<()> {
    let stored: Option<Option<Value>> = model_run::Entity::find_by_id(run_id)
        .select_only()
        .column(model_run::Column::Notes)
        .into_tuple()
        .one(db)
        .await?;
    let mut all: Vec<String> = stored
        .flatten()
        .and_then(|v| serde_json::from_value(v).ok())
        .unwrap_or_default();
    let before = all.len();
    for note in notes {
        if !all.contains(&note) {
            all.push(note);
        }
    }
    if all.len() > before {
        model_run::Entity::update_many()
            .col_expr(model_run::Column::Notes, Expr::value(Value::from(all)))
            .filter(model_run::Column::Id.eq(run_id))
            .exec(db)
            .await?;
    }
    Ok(())
}

/// Adds a batch's counts to its run in one atomic UPDATE (never a recount: ingesting stays
/// linear), then moves the status: Pending → InProgress on the first result, → Completed once
/// every task has a result (Canceled and Failed runs keep their status).
async fn refresh_run(db: &impl ConnectionTrait, run_id: i64, d: &RunDelta) -> ApiResult<()> {
    if d.predictions == 0
        && d.failed == 0
        && d.prompt_tokens == 0
        && d.completion_tokens == 0
        && d.cost == 0.0
    {
        return Ok(());
    }
    let now = crate::util::now();
    let add = |c: model_run::Column, n: i64| (c, Expr::col(c).add(n));
    let mut update = model_run::Entity::update_many();
    for (column, expr) in [
        add(model_run::Column::TotalPredictions, d.predictions),
        add(model_run::Column::TotalFailed, d.failed),
        add(model_run::Column::TotalCorrectPredictions, d.scored.correct),
        add(
            model_run::Column::TotalScoredPredictions,
            d.scored.predictions,
        ),
        add(model_run::Column::TotalScoredFailed, d.scored.failed),
        add(model_run::Column::PromptTokens, d.prompt_tokens),
        add(model_run::Column::CompletionTokens, d.completion_tokens),
        add(model_run::Column::TotalCachedPredictions, d.cached),
    ] {
        update = update.col_expr(column, expr);
    }
    update
        .col_expr(
            model_run::Column::TotalCost,
            Expr::col(model_run::Column::TotalCost).add(d.cost),
        )
        .col_expr(model_run::Column::PredictionsUpdatedAt, Expr::value(now))
        .filter(model_run::Column::Id.eq(run_id))
        .exec(db)
        .await?;
    let Some(run) = model_run::Entity::find_by_id(run_id).one(db).await? else {
        return Ok(());
    };
    let active = run.status == RunStatus::Pending || run.status == RunStatus::InProgress;
    let next = if active
        && run.total_tasks > 0
        && run.total_predictions + run.total_failed >= run.total_tasks
    {
        Some(RunStatus::Completed)
    } else if run.status == RunStatus::Pending {
        Some(RunStatus::InProgress)
    } else {
        None
    };
    if let Some(next) = next {
        let mut update =
            model_run::Entity::update_many().col_expr(model_run::Column::Status, Expr::value(next));
        if next == RunStatus::Completed {
            update = update.col_expr(model_run::Column::CompletedAt, Expr::value(now));
            let ms = (now - run.created_at).num_milliseconds();
            crate::metrics::observe_job("inference_run", ms as f64 / 1000.0);
        }
        update
            .filter(model_run::Column::Id.eq(run_id))
            .exec(db)
            .await?;
        crate::services::jobs::mirror_run(db, run_id, next, None, now).await?;
    }
    Ok(())
}
