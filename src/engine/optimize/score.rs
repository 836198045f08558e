//! Scoring candidates: a candidate's prompt answers tasks through the version's plan, a few
//! tasks at a time; each answer is scored against the ground truth by the one task rule
//! ([`scoring::score_task`]), and stored with the calls and cost, fenced by the job's lease,
//! before the next step. The budgets are checked before each step.
use super::{Search, Stop};
use crate::engine::plan::{Plan, TaskOutcome};
use crate::jobs::JobError;
use crate::scoring;
use entity::optimization_candidate;
use entity::prompt_optimization;
use futures_util::future::join_all;
use sea_orm::ActiveModelTrait;
use sea_orm::ActiveValue::Set;
use serde_json::Value;

/// Tasks answered at once in a step (the scheduler paces them).
const STEP: usize = 8;

impl Search<'_> {
    /// Calls per task of the version: its samples times its models, plus a pipeline's steps.
    pub(super) fn calls_per_task(&self) -> i64 {
        let samples = i64::from(self.version.samples.max(1));
        let models =
            1 + crate::views::versions::Juror::of_stored(self.version.jury.as_ref()).len() as i64;
        let steps = crate::views::versions::Step::of_stored(self.version.steps.as_ref())
            .map_or(0, |s| s.len().saturating_sub(1) as i64);
        samples * models + steps
    }

    /// What a labeling call costs: the mean so far, else the estimate's.
    fn cost_per_call(&self) -> f64 {
        let (calls, cost): (i32, f64) = self
            .cands
            .iter()
            .fold((0, 0.0), |(n, c), k| (n + k.calls, c + k.cost));
        if calls > 0 {
            cost / f64::from(calls)
        } else {
            self.estimate.cost_per_labeling_call.unwrap_or(0.0)
        }
    }

    /// Labeling calls the held-out test still needs: the parent and `finalists` candidates on
    /// every held-out task.
    fn held_out_reserve(&self) -> i64 {
        self.held_out.len() as i64 * (1 + self.s.finalists) * self.calls_per_task()
    }

    /// `Err(Budget)` when `calls` more calls costing `cost` would pass a budget, or the work
    /// time is used up.
    pub(super) fn allows(&self, calls: i64, cost: f64) -> Result<(), Stop> {
        if let Some(max) = self.s.max_calls
            && i64::from(self.row.calls) + calls > max
        {
            return Err(Stop::Budget("max_calls"));
        }
        if let Some(max) = self.s.max_cost
            && self.row.cost + cost > max
        {
            return Err(Stop::Budget("max_cost"));
        }
        if let Some(max) = self.s.max_seconds
            && self.elapsed() >= max as f64
        {
            return Err(Stop::Budget("max_seconds"));
        }
        Ok(())
    }

    /// Scores candidate `i` on `tasks` (those not scored yet), on the held-out tasks when
    /// `held_out`. A search step (`search`) also keeps the held-out test's calls in reserve.
    pub(super) async fn score(
        &mut self,
        i: usize,
        tasks: &[i64],
        held_out: bool,
        search: bool,
    ) -> Result<(), Stop> {
        let done = if held_out {
            service_outcomes(&self.cands[i].held_out)
        } else {
            service_outcomes(&self.cands[i].train)
        };
        let todo: Vec<i64> = tasks
            .iter()
            .copied()
            .filter(|t| !done.contains_key(t))
            .collect();
        if todo.is_empty() {
            return Ok(());
        }
        self.ensure_plan(i).await?;
        for step in todo.chunks(STEP) {
            self.cx.check_cancel().await?;
            let calls = step.len() as i64 * self.calls_per_task();
            let reserve = if search { self.held_out_reserve() } else { 0 };
            self.allows(
                calls + reserve,
                (calls + reserve) as f64 * self.cost_per_call(),
            )?;
            let answers = self.answer(i, step).await?;
            self.store(i, held_out, answers).await?;
        }
        Ok(())
    }

    /// Prepares candidate `i`'s plan: the version with the candidate's prompt.
    async fn ensure_plan(&mut self, i: usize) -> Result<(), Stop> {
        let id = self.cands[i].id;
        if self.plans.contains_key(&id) {
            return Ok(());
        }
        let mut version = self.version.clone();
        version.prompt = self.cands[i].prompt.clone();
        let plan = Plan::load(
            &self.cx.engine,
            self.cx.db(),
            version,
            self.project.id,
            self.config.clone(),
        )
        .await
        .map_err(|e| Stop::Job(JobError::Permanent(e.0)))?;
        self.plans.insert(id, plan);
        Ok(())
    }

    /// Candidate `i`'s answers to `tasks`: (task, stored answer, calls, cost).
    async fn answer(&self, i: usize, tasks: &[i64]) -> Result<Vec<(i64, Value, f64)>, Stop> {
        let Some(plan) = self.plans.get(&self.cands[i].id) else {
            return Ok(vec![]);
        };
        let calls = tasks.iter().map(|t| async move {
            let data = self.data.get(t).cloned().unwrap_or(Value::Null);
            (*t, plan.infer(*t, &data).await, data)
        });
        let mut out = Vec::with_capacity(tasks.len());
        for (task, outcome, data) in join_all(calls).await {
            let truth = self.truth.get(&task).cloned().unwrap_or(Value::Null);
            let (answer, cost) = match outcome {
                TaskOutcome::Success(p) => {
                    let cost = p.total_cost.unwrap_or(0.0);
                    let answer = match self.config.convert(&p.output, &data) {
                        Ok(c) => {
                            let regions = Value::Array(c.regions);
                            if scoring::score_task(&self.config, &regions, &truth).correct {
                                Value::Bool(true)
                            } else {
                                self.config.to_output(&regions, &data)
                            }
                        }
                        Err(_) => Value::Null,
                    };
                    (answer, cost)
                }
                TaskOutcome::Failure(f) => (Value::Null, f.total_cost.unwrap_or(0.0)),
                TaskOutcome::Fatal(message) => {
                    return Err(Stop::Job(JobError::Permanent(message)));
                }
                TaskOutcome::Canceled => {
                    return Err(Stop::Job(self.cx.check().err().unwrap_or(JobError::Lost)));
                }
            };
            out.push((task, answer, cost));
        }
        Ok(out)
    }

    /// Stores candidate `i`'s answers with their calls and cost, and the optimization's
    /// totals, in one transaction that commits only while the worker holds the job.
    async fn store(
        &mut self,
        i: usize,
        held_out: bool,
        answers: Vec<(i64, Value, f64)>,
    ) -> Result<(), Stop> {
        let per_task = self.calls_per_task() as i32;
        let calls = answers.len() as i32 * per_task;
        let cost: f64 = answers.iter().map(|a| a.2).sum();
        let c = &self.cands[i];
        let mut stored = if held_out {
            c.held_out.clone()
        } else {
            c.train.clone()
        };
        if let Value::Object(map) = &mut stored {
            for (task, answer, _) in answers {
                map.insert(task.to_string(), answer);
            }
        }
        let now = crate::util::now();
        let txn = self.fence().await?;
        let mut cand: optimization_candidate::ActiveModel = c.clone().into();
        if held_out {
            cand.held_out = Set(stored);
        } else {
            cand.train = Set(stored);
        }
        cand.calls = Set(c.calls + calls);
        cand.cost = Set(c.cost + cost);
        cand.updated_at = Set(now);
        let cand = cand.update(&txn).await?;
        let mut row: prompt_optimization::ActiveModel = self.row.clone().into();
        row.calls = Set(self.row.calls + calls);
        row.cost = Set(self.row.cost + cost);
        row.elapsed_seconds = Set(self.elapsed());
        row.updated_at = Set(now);
        let row = row.update(&txn).await?;
        // Paid like a run's calls: against the version's connection's budget.
        if let Some(connection) = self.version.model_provider_connection_id {
            crate::services::budgets::record_spend(&txn, connection, cost)
                .await
                .map_err(|e| Stop::Job(super::transient(e)))?;
        }
        txn.commit().await?;
        self.cands[i] = cand;
        self.row = row;
        self.mark = std::time::Instant::now();
        self.cx
            .progress(
                i64::from(self.row.calls),
                self.estimate.calls.max(i64::from(self.row.calls)),
            )
            .await?;
        Ok(())
    }

    /// Adds a teacher call's cost to the optimization's totals.
    pub(super) async fn spend_teacher(&mut self, cost: f64) -> Result<(), JobError> {
        let (calls, total) = (self.row.calls + 1, self.row.cost + cost);
        self.update_row(|r| {
            r.calls = Set(calls);
            r.cost = Set(total);
        })
        .await
    }
}

/// The outcomes stored in a candidate's column.
fn service_outcomes(stored: &Value) -> std::collections::HashMap<i64, bool> {
    crate::services::optimizations::outcomes(stored)
}
