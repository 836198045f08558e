//! The end of an optimization: the finalists (the candidates most accurate on every train
//! task, and more so than the parent) and the parent answer every held-out task; each
//! finalist is tested against the parent with McNemar's test at `alpha / finalists`; the most
//! accurate significant one becomes a new version, in the transaction that records the end
//! while the worker still holds the job.
use super::{Search, Stop, transient};
use crate::jobs::JobError;
use crate::services::optimizations::{self as service};
use crate::services::versions;
use crate::stats;
use crate::views::optimizations::{HeldOutTest, OptimizationResult, Outcome};
use entity::enums::{CandidateOrigin, CandidateStatus, OptimizationStatus};
use entity::{model_interface, prompt_optimization};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::LockType;
use sea_orm::{ActiveModelTrait, EntityTrait, QuerySelect};

/// Largest title a version may have.
const MAX_TITLE_CHARS: usize = 500;

impl Search<'_> {
    /// Train accuracy of candidate `i` when it was scored on every train task.
    fn full_train_accuracy(&self, i: usize) -> Option<f64> {
        let (right, n) = service::score_on(&service::outcomes(&self.cands[i].train), &self.train);
        (n > 0 && n as usize == self.train.len()).then(|| right as f64 / n as f64)
    }

    /// The finalists: candidates more accurate than the parent on every train task, the best
    /// `finalists` of them.
    fn finalists(&self) -> Vec<usize> {
        let Some(parent) = self.full_train_accuracy(0) else {
            return vec![];
        };
        let mut better: Vec<(usize, f64)> = (1..self.cands.len())
            .filter(|i| self.cands[*i].origin != CandidateOrigin::Parent)
            .filter_map(|i| Some((i, self.full_train_accuracy(i)?)))
            .filter(|(_, acc)| *acc > parent)
            .collect();
        better.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        better
            .into_iter()
            .take(self.s.finalists as usize)
            .map(|(i, _)| i)
            .collect()
    }

    /// McNemar's test of candidate `i` against the parent on the held-out tasks.
    fn test(&self, i: usize, level: f64) -> HeldOutTest {
        let mine = service::outcomes(&self.cands[i].held_out);
        let parent = service::outcomes(&self.cands[0].held_out);
        let (mut both, mut only_mine, mut only_parent, mut n) = (0u64, 0u64, 0u64, 0u64);
        for t in &self.held_out {
            let (Some(a), Some(b)) = (mine.get(t), parent.get(t)) else {
                continue;
            };
            n += 1;
            match (*a, *b) {
                (true, true) => both += 1,
                (true, false) => only_mine += 1,
                (false, true) => only_parent += 1,
                (false, false) => {}
            }
        }
        let m = stats::mcnemar(only_mine, only_parent);
        let rate = |k: u64| if n > 0 { k as f64 / n as f64 } else { 0.0 };
        HeldOutTest {
            candidate_id: self.cands[i].id,
            tasks: n as i64,
            accuracy: rate(both + only_mine),
            parent_accuracy: rate(both + only_parent),
            only_candidate_correct: only_mine as i64,
            only_parent_correct: only_parent as i64,
            method: m.method.to_string(),
            p_value: m.p_value,
            significant: n > 0 && m.p_value < level && only_mine > only_parent,
        }
    }

    /// Tests the finalists on the held-out tasks and records the end (see the module docs).
    pub(super) async fn conclude(mut self) -> Result<String, JobError> {
        let finalists = self.finalists();
        let alpha = self.s.alpha;
        let level = alpha / finalists.len().max(1) as f64;
        let mut result = OptimizationResult {
            outcome: Outcome::NothingBetter,
            message: String::new(),
            budget: self.cut_by.map(str::to_string),
            alpha,
            alpha_per_test: level,
            tests: vec![],
            winner_candidate_id: None,
        };
        if finalists.is_empty() {
            let (outcome, message) = self.outcome_if_cut().unwrap_or((
                Outcome::NothingBetter,
                format!(
                    "No candidate was more accurate than the version's prompt on the {} train \
                     tasks; nothing was promoted.",
                    self.train.len()
                ),
            ));
            result.outcome = outcome;
            result.message = message;
            return self.finish(result, None).await;
        }
        self.set_stage("held_out").await?;
        let held = self.held_out.clone();
        for i in std::iter::once(0).chain(finalists.iter().copied()) {
            match self.score(i, &held, true, false).await {
                Ok(()) => {}
                Err(Stop::Budget(name)) => {
                    result.outcome = Outcome::BudgetReached;
                    result.budget = Some(name.to_string());
                    result.message = format!(
                        "The budget {name} was reached during the held-out test; nothing was \
                         promoted."
                    );
                    return self.finish(result, None).await;
                }
                Err(Stop::Job(e)) => return Err(e),
            }
            if i != 0 {
                self.set_status(i, CandidateStatus::Finalist).await?;
            }
        }
        result.tests = finalists.iter().map(|i| self.test(*i, level)).collect();
        let winner = result
            .tests
            .iter()
            .filter(|t| t.significant)
            .max_by(|a, b| a.accuracy.total_cmp(&b.accuracy))
            .cloned();
        match &winner {
            Some(t) => {
                result.outcome = Outcome::Promoted;
                result.winner_candidate_id = Some(t.candidate_id);
                result.message = format!(
                    "A candidate answered {:.1}% of the {} held-out tasks right against the \
                     version's {:.1}% (McNemar p = {:.4} < {:.4}); it is the new version.",
                    t.accuracy * 100.0,
                    t.tasks,
                    t.parent_accuracy * 100.0,
                    t.p_value,
                    level
                );
            }
            None => {
                let best = result
                    .tests
                    .iter()
                    .min_by(|a, b| a.p_value.total_cmp(&b.p_value));
                result.message = match best {
                    Some(t) => format!(
                        "No candidate was significantly better than the version on the {} \
                         held-out tasks (best: {:.1}% against {:.1}%, McNemar p = {:.4}, level \
                         {:.4}); nothing was promoted.",
                        t.tasks,
                        t.accuracy * 100.0,
                        t.parent_accuracy * 100.0,
                        t.p_value,
                        level
                    ),
                    None => "No candidate was tested; nothing was promoted.".into(),
                };
            }
        }
        let winner = winner.and_then(|t| self.cands.iter().position(|c| c.id == t.candidate_id));
        self.finish(result, winner).await
    }

    /// Records the end: the result, and the winner as a new version, in one transaction that
    /// commits only while the worker holds the job.
    async fn finish(
        mut self,
        result: OptimizationResult,
        winner: Option<usize>,
    ) -> Result<String, JobError> {
        let db = self.cx.db();
        let txn = crate::db::begin_write(db).await?;
        if model_interface::Entity::find_by_id(self.version.parent_model_id)
            .lock(LockType::NoKeyUpdate)
            .one(&txn)
            .await?
            .is_none()
        {
            return Ok(format!(
                "the prompt of optimization {} was deleted",
                self.row.id
            ));
        }
        if !self.cx.holds(&txn).await? {
            return Err(JobError::Lost);
        }
        let mut new_version = None;
        if let Some(i) = winner {
            let title = self.title(&txn).await.map_err(transient)?;
            let changes = versions::VersionChanges {
                title: Some(title),
                prompt: Some(self.cands[i].prompt.clone()),
                ..Default::default()
            };
            let created = versions::derive_from(&txn, &self.caller, &self.version, changes)
                .await
                .map_err(|e| {
                    JobError::Permanent(format!(
                        "The winning prompt cannot be saved as a version: {e}"
                    ))
                })?;
            let mut cand: entity::optimization_candidate::ActiveModel =
                self.cands[i].clone().into();
            cand.status = Set(CandidateStatus::Winner);
            cand.update(&txn).await?;
            new_version = Some(created.id);
        }
        let summary = result.message.clone();
        let mut row: prompt_optimization::ActiveModel = self.row.clone().into();
        row.status = Set(OptimizationStatus::Completed);
        row.stage = Set("done".into());
        row.result = Set(Some(serde_json::to_value(&result).unwrap_or_default()));
        row.new_version_id = Set(new_version);
        row.elapsed_seconds = Set(self.elapsed());
        row.updated_at = Set(crate::util::now());
        self.row = row.update(&txn).await?;
        txn.commit().await?;
        tracing::info!(
            optimization = self.row.id,
            outcome = ?result.outcome,
            calls = self.row.calls,
            cost = self.row.cost,
            new_version = ?new_version,
            "optimization finished"
        );
        Ok(summary)
    }

    /// The new version's title: "{version} (optimized #{id})" when free, else the prompt's
    /// default name.
    async fn title(&self, txn: &impl sea_orm::ConnectionTrait) -> crate::error::ApiResult<String> {
        let suffix = format!(" (optimized #{})", self.row.id);
        let room = MAX_TITLE_CHARS.saturating_sub(suffix.chars().count());
        let base: String = self.version.title.chars().take(room).collect();
        let title = format!("{base}{suffix}");
        if versions::title_taken(txn, self.version.parent_model_id, &title, None).await? {
            versions::default_name(txn, &self.caller, self.version.parent_model_id).await
        } else {
            Ok(title)
        }
    }
}
