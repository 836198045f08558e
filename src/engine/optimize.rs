//! Prompt optimization: a search over candidate prompts of a version that proves itself on
//! held-out tasks before it changes anything.
//!
//! 1. **Split.** The project's ground-truth tasks (at most `max_tasks`, drawn by the seed) are
//!    split, stratified by their answer and seeded, into train and held-out; the split is
//!    stored on the row, so every attempt uses the same tasks.
//! 2. **Baseline.** The version's own prompt (the *parent*) answers every train task.
//! 3. **Search**, `rounds` times. The first round asks the teacher for one rewrite per cluster
//!    of the parent's train failures (tasks with the same truth answered the same wrong way);
//!    each later round asks it for a reflective mutation of the best candidate so far, from
//!    that candidate's failures. Each round also writes worked examples from the train tasks
//!    into the incumbent's prompt (a few-shot candidate). The round's candidates and the
//!    incumbent are then scored by successive halving: the same first `minibatch` train tasks,
//!    the better half kept, the rung doubled, until one is left; it is scored on every train
//!    task and becomes the incumbent when it is more accurate.
//! 4. **Held-out test.** The best `finalists` candidates that beat the parent on train, and the
//!    parent, answer every held-out task. Each finalist is tested against the parent with
//!    McNemar's test at `alpha / finalists` (Bonferroni); the most accurate significant one is
//!    promoted to a new version. Otherwise the optimization ends saying nothing was better.
//!
//! Every labeling call goes through [`Plan`](super::plan::Plan) (the version's scheduler, its
//! connection's pacing and spend budget); the teacher's through its connection's scheduler.
//! The budgets (`max_cost`, `max_calls`, `max_seconds`) are checked before each step: the
//! search stops when its next step and the held-out test would no longer fit, and a held-out
//! test that does not fit ends the optimization with nothing promoted. What each candidate
//! answered on each task is stored after every step of a few calls, so a worker that takes
//! the job over (after a crash) resumes where the last one stopped, paying for no call twice
//! but those of the step that was cut.
use crate::auth::AuthUser;
use crate::engine::plan::Plan;
use crate::error::ApiError;
use crate::jobs::{JobContext, JobError};
use crate::label_config::LabelConfig;
use crate::services::jobs as job_rows;
use crate::services::optimizations::{self as service, split_of};
use crate::services::{projects, scored, versions};
use crate::views::optimizations::{OptimizationEstimate, OptimizationSettings, Outcome};
use entity::enums::{CandidateOrigin, CandidateStatus, OptimizationStatus};
use entity::{model_version, optimization_candidate, project, prompt_optimization};
use sea_orm::ActiveValue::{NotSet, Set};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::time::Instant;

mod conclude;
mod propose;
mod score;

/// Why the search or the optimization stopped early.
#[derive(Debug)]
enum Stop {
    /// A budget would be passed (its name).
    Budget(&'static str),
    /// The job must stop (canceled, lost, or failed).
    Job(JobError),
}

impl From<JobError> for Stop {
    fn from(e: JobError) -> Stop {
        Stop::Job(e)
    }
}

impl From<sea_orm::DbErr> for Stop {
    fn from(e: sea_orm::DbErr) -> Stop {
        Stop::Job(e.into())
    }
}

/// A database or service error as a job error (a database error is worth another attempt).
fn transient(e: ApiError) -> JobError {
    match e {
        ApiError::Database(e) => JobError::from(e),
        other => JobError::Permanent(other.to_string()),
    }
}

/// One attempt of an optimization: what it works on and what it has found so far.
struct Search<'a> {
    cx: &'a JobContext,
    row: prompt_optimization::Model,
    s: OptimizationSettings,
    estimate: OptimizationEstimate,
    caller: AuthUser,
    version: model_version::Model,
    project: project::Model,
    config: LabelConfig,
    /// Ground truth of the split's tasks.
    truth: HashMap<i64, Value>,
    /// Data of the split's tasks.
    data: HashMap<i64, Value>,
    /// Train tasks, in rung order.
    train: Vec<i64>,
    held_out: Vec<i64>,
    /// The candidates, in `seq` order (the parent first).
    cands: Vec<optimization_candidate::Model>,
    /// Plans of the candidates scored in this attempt, by candidate id.
    plans: HashMap<i64, Plan>,
    /// When `elapsed_seconds` was last brought up to date.
    mark: Instant,
    /// The budget that cut the search short, if one did.
    cut_by: Option<&'static str>,
}

/// Runs one attempt of the `optimize` job of optimization `id` (see the module docs).
pub async fn run_job(cx: &JobContext, id: i64) -> Result<String, JobError> {
    let db = cx.db();
    let Some(row) = prompt_optimization::Entity::find_by_id(id).one(db).await? else {
        return Ok(format!("optimization {id} was deleted"));
    };
    if !row.status.is_open() {
        return Ok(format!("optimization {id} is already {}", row.status));
    }
    let caller = job_rows::caller_of(db, row.organization_id, row.created_by_id)
        .await
        .map_err(transient)?
        .ok_or_else(|| {
            JobError::Permanent(
                "The user who started the optimization is no longer an active member.".into(),
            )
        })?;
    let version = match versions::get(db, &caller, row.prompt_id, row.version_id).await {
        Ok(v) => v,
        Err(ApiError::NotFound) => {
            return Ok(format!("the version of optimization {id} was deleted"));
        }
        Err(e) => return Err(transient(e)),
    };
    let project = projects::get(db, &caller, row.project_id)
        .await
        .map_err(|e| match e {
            ApiError::NotFound => {
                JobError::Permanent(format!("Project {} was deleted.", row.project_id))
            }
            e => transient(e),
        })?;
    prompt_optimization::Entity::update_many()
        .col_expr(
            prompt_optimization::Column::Status,
            Expr::value(OptimizationStatus::Running),
        )
        .filter(prompt_optimization::Column::Id.eq(id))
        .filter(prompt_optimization::Column::Status.eq(OptimizationStatus::Queued))
        .exec(db)
        .await?;
    let mut search = Search {
        s: service::settings_of(&row),
        estimate: serde_json::from_value(row.estimate.clone()).unwrap_or_default(),
        config: projects::config_of(&project),
        cx,
        row,
        caller,
        version,
        project,
        truth: HashMap::new(),
        data: HashMap::new(),
        train: vec![],
        held_out: vec![],
        cands: vec![],
        plans: HashMap::new(),
        mark: Instant::now(),
        cut_by: None,
    };
    search.prepare().await?;
    match search.search().await {
        Ok(()) => {}
        Err(Stop::Budget(name)) => search.cut_by = Some(name),
        Err(Stop::Job(e)) => return Err(e),
    }
    search.conclude().await
}

impl Search<'_> {
    /// Draws and stores the split (once), loads its tasks and the candidates, and adds the
    /// parent.
    async fn prepare(&mut self) -> Result<(), JobError> {
        let db = self.cx.db();
        if self.row.split.is_none() {
            let all = service::ground_truth_task_ids(db, self.project.id)
                .await
                .map_err(transient)?;
            let used = service::draw(&all, self.s.max_tasks as usize, self.s.seed as u64);
            let truth = scored::ground_truth(db, &used).await.map_err(transient)?;
            let results: HashMap<i64, Value> =
                truth.into_iter().map(|(k, a)| (k, a.result)).collect();
            let (train, held) = service::split(
                &service::classes(&results, &used),
                self.s.held_out_fraction,
                self.s.seed as u64,
            );
            if train.len() < 2 || held.len() < service::MIN_HELD_OUT {
                return Err(JobError::Permanent(format!(
                    "Project {} no longer has enough tasks with ground truth ({} train, {} \
                     held-out).",
                    self.project.id,
                    train.len(),
                    held.len()
                )));
            }
            let split = service::split_value(&train, &held);
            self.update_row(|r| {
                r.split = Set(Some(split.clone()));
                r.stage = Set("baseline".into());
            })
            .await?;
        }
        let (train, held) = split_of(&self.row).unwrap_or_default();
        let ids: Vec<i64> = train.iter().chain(held.iter()).copied().collect();
        let truth = scored::ground_truth(db, &ids).await.map_err(transient)?;
        self.truth = truth.into_iter().map(|(k, a)| (k, a.result)).collect();
        let data: Vec<(i64, Value)> = crate::db::in_chunks(&ids, |chunk| {
            use sea_orm::QuerySelect;
            entity::task::Entity::find()
                .select_only()
                .columns([entity::task::Column::Id, entity::task::Column::Data])
                .filter(entity::task::Column::Id.is_in(chunk))
                .into_tuple::<(i64, Value)>()
                .all(db)
        })
        .await?;
        self.data = data.into_iter().collect();
        // Tasks deleted, or whose ground truth was removed, since the split drop out of it.
        let keep = |t: &i64| self.truth.contains_key(t) && self.data.contains_key(t);
        self.train = train.into_iter().filter(keep).collect();
        self.held_out = held.into_iter().filter(keep).collect();
        self.cands = service::candidates(db, self.row.id)
            .await
            .map_err(transient)?;
        if self.cands.is_empty() {
            let prompt = self.version.prompt.clone();
            self.add(0, CandidateOrigin::Parent, None, prompt, None)
                .await?;
        }
        Ok(())
    }

    /// The search rounds (see the module docs); `Err(Budget)` when a budget cut it short.
    async fn search(&mut self) -> Result<(), Stop> {
        self.set_stage("baseline").await?;
        let train = self.train.clone();
        self.score(0, &train, false, true).await?;
        self.set_stage("search").await?;
        for round in 0..self.s.rounds as i32 {
            let incumbent = self.incumbent();
            self.propose(round, incumbent).await?;
            let mut pool: Vec<usize> = (0..self.cands.len())
                .filter(|i| {
                    self.cands[*i].round == round
                        && self.cands[*i].origin != CandidateOrigin::Parent
                        && self.cands[*i].status != CandidateStatus::Eliminated
                })
                .collect();
            if pool.is_empty() {
                continue;
            }
            if !pool.contains(&incumbent) {
                pool.push(incumbent);
            }
            let survivor = self.halve(pool).await?;
            self.score(survivor, &train, false, true).await?;
        }
        Ok(())
    }

    /// The best candidate scored on every train task: highest train accuracy, the earliest on
    /// a tie (the parent first).
    fn incumbent(&self) -> usize {
        let mut best = 0;
        let mut best_acc = -1.0;
        for (i, c) in self.cands.iter().enumerate() {
            let outcomes = service::outcomes(&c.train);
            let (right, n) = service::score_on(&outcomes, &self.train);
            if n as usize == self.train.len() && n > 0 {
                let acc = right as f64 / n as f64;
                if acc > best_acc {
                    best = i;
                    best_acc = acc;
                }
            }
        }
        best
    }

    /// Successive halving of `pool` (indices) over the train prefix: each rung scores the
    /// pool on the first `size` train tasks, keeps the better half (ties: the cheaper per call,
    /// then the earlier), doubles `size`; returns the survivor.
    async fn halve(&mut self, mut pool: Vec<usize>) -> Result<usize, Stop> {
        let mut size = (self.s.minibatch as usize).min(self.train.len());
        loop {
            let prefix: Vec<i64> = self.train[..size].to_vec();
            for &i in &pool {
                self.score(i, &prefix, false, true).await?;
            }
            let mut ranked: Vec<(usize, f64, f64)> = pool
                .iter()
                .map(|&i| {
                    let c = &self.cands[i];
                    let (right, n) = service::score_on(&service::outcomes(&c.train), &prefix);
                    let per_call = if c.calls > 0 {
                        c.cost / f64::from(c.calls)
                    } else {
                        0.0
                    };
                    (i, right as f64 / n.max(1) as f64, per_call)
                })
                .collect();
            ranked.sort_by(|a, b| {
                b.1.total_cmp(&a.1)
                    .then(a.2.total_cmp(&b.2))
                    .then(a.0.cmp(&b.0))
            });
            let keep = pool.len().div_ceil(2);
            for &(i, _, _) in &ranked[keep..] {
                if self.cands[i].origin != CandidateOrigin::Parent {
                    self.set_status(i, CandidateStatus::Eliminated).await?;
                }
            }
            pool = ranked[..keep].iter().map(|r| r.0).collect();
            if pool.len() <= 1 || size >= self.train.len() {
                return Ok(pool[0]);
            }
            size = (size * 2).min(self.train.len());
        }
    }

    /// Adds a candidate (stored at once, so a takeover keeps a paid proposal).
    async fn add(
        &mut self,
        round: i32,
        origin: CandidateOrigin,
        parent: Option<i64>,
        prompt: String,
        note: Option<String>,
    ) -> Result<usize, JobError> {
        let txn = self.fence().await?;
        let now = crate::util::now();
        let seq = self.cands.last().map_or(0, |c| c.seq + 1);
        let row = optimization_candidate::ActiveModel {
            id: NotSet,
            optimization_id: Set(self.row.id),
            seq: Set(seq),
            round: Set(round),
            origin: Set(origin),
            parent_candidate_id: Set(parent),
            prompt: Set(prompt),
            note: Set(note),
            status: Set(CandidateStatus::Active),
            train: Set(json!({})),
            held_out: Set(json!({})),
            calls: Set(0),
            cost: Set(0.0),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(&txn)
        .await?;
        txn.commit().await?;
        self.cands.push(row);
        Ok(self.cands.len() - 1)
    }

    /// Sets candidate `i`'s status.
    async fn set_status(&mut self, i: usize, status: CandidateStatus) -> Result<(), JobError> {
        if self.cands[i].status == status {
            return Ok(());
        }
        let txn = self.fence().await?;
        optimization_candidate::Entity::update_many()
            .col_expr(optimization_candidate::Column::Status, Expr::value(status))
            .filter(optimization_candidate::Column::Id.eq(self.cands[i].id))
            .exec(&txn)
            .await?;
        txn.commit().await?;
        self.cands[i].status = status;
        Ok(())
    }

    /// Records the stage the optimization is at.
    async fn set_stage(&mut self, stage: &str) -> Result<(), JobError> {
        if self.row.stage == stage {
            return Ok(());
        }
        let stage = stage.to_string();
        self.update_row(|r| r.stage = Set(stage.clone())).await
    }

    /// Applies `change` to the row (with the work time brought up to date).
    async fn update_row(
        &mut self,
        change: impl FnOnce(&mut prompt_optimization::ActiveModel),
    ) -> Result<(), JobError> {
        let mut update: prompt_optimization::ActiveModel = self.row.clone().into();
        update.elapsed_seconds = Set(self.elapsed());
        update.updated_at = Set(crate::util::now());
        change(&mut update);
        let txn = self.fence().await?;
        self.row = update.update(&txn).await?;
        txn.commit().await?;
        self.mark = Instant::now();
        Ok(())
    }

    /// A write transaction that goes on only while this worker holds the job: every write of
    /// an attempt is fenced, so a worker whose lease lapsed changes nothing.
    async fn fence(&self) -> Result<sea_orm::DatabaseTransaction, JobError> {
        let txn = crate::db::begin_write(self.cx.db()).await?;
        if self.cx.holds(&txn).await? {
            Ok(txn)
        } else {
            Err(JobError::Lost)
        }
    }

    /// Seconds of work over every attempt, this one's so far included.
    fn elapsed(&self) -> f64 {
        self.row.elapsed_seconds + self.mark.elapsed().as_secs_f64()
    }

    /// The outcome of a search cut short before any candidate could be tested.
    fn outcome_if_cut(&self) -> Option<(Outcome, String)> {
        self.cut_by.map(|b| {
            (
                Outcome::BudgetReached,
                format!(
                    "The budget {b} was reached before a candidate could be tested on the \
                     held-out tasks; nothing was promoted."
                ),
            )
        })
    }
}

/// Marks optimization `id` failed (or canceled) with `error` if it has not ended (its job was
/// given up or canceled).
pub async fn give_up(
    db: &impl ConnectionTrait,
    id: i64,
    error: &str,
) -> Result<(), sea_orm::DbErr> {
    let status = if error == job_rows::CANCELED_BY_USER {
        OptimizationStatus::Canceled
    } else {
        OptimizationStatus::Failed
    };
    prompt_optimization::Entity::update_many()
        .col_expr(prompt_optimization::Column::Status, Expr::value(status))
        .col_expr(
            prompt_optimization::Column::ErrorMessage,
            Expr::value(error),
        )
        .col_expr(
            prompt_optimization::Column::UpdatedAt,
            Expr::value(crate::util::now()),
        )
        .filter(prompt_optimization::Column::Id.eq(id))
        .filter(
            prompt_optimization::Column::Status
                .is_in([OptimizationStatus::Queued, OptimizationStatus::Running]),
        )
        .exec(db)
        .await?;
    Ok(())
}
