//! Proposing candidates: the teacher's rewrites of clustered failures (first round) and
//! reflective mutations of the incumbent (later rounds), shown the failing train tasks in the
//! refinement's conversation; and few-shot candidates, the incumbent's prompt with worked
//! examples from the train tasks written before it. Proposals are stored as they come, so a
//! resumed round asks for none twice.
use super::{Search, Stop};
use crate::engine::refine::context::{Context, Example};
use crate::engine::refine::{answer_schema, check_prompt};
use crate::engine::teacher::{self, Teacher};
use crate::jobs::JobError;
use crate::llm::{Message, Role};
use crate::services::optimizations::{self as service, TEACHER_EXAMPLES};
use entity::enums::{CandidateOrigin, CandidateStatus};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// Characters of one example's input shown to the teacher.
const INPUT_CHARS: usize = 2000;

/// A group of train failures that share their truth and their wrong answer.
struct Cluster {
    truth: String,
    answer: String,
    tasks: Vec<(i64, Value)>,
}

impl Search<'_> {
    /// Proposes round `round`'s candidates that are not stored yet.
    pub(super) async fn propose(&mut self, round: i32, incumbent: usize) -> Result<(), Stop> {
        let count = |origin: CandidateOrigin, cands: &[entity::optimization_candidate::Model]| {
            cands
                .iter()
                .filter(|c| c.round == round && c.origin == origin)
                .count()
        };
        if round == 0 {
            let clusters = self.clusters(incumbent);
            let want = (self.s.candidates as usize).min(clusters.len());
            for cluster in clusters
                .iter()
                .take(want)
                .skip(count(CandidateOrigin::Rewrite, &self.cands))
            {
                let note = format!(
                    "Focus on this cluster of failures: tasks whose correct answer is {} were \
                     answered {}. Rewrite the prompt so that tasks like these are answered \
                     right, without breaking the tasks it already answers right.",
                    cluster.truth, cluster.answer
                );
                self.ask(
                    round,
                    CandidateOrigin::Rewrite,
                    incumbent,
                    &cluster.tasks,
                    note,
                )
                .await?;
            }
        } else if count(CandidateOrigin::Mutation, &self.cands) == 0 {
            let failures = self.spread_failures(incumbent);
            let note = "Reflect on why the current prompt fails on these tasks (what it leaves \
                        unsaid, what it misleads the model into), then mutate it: keep what \
                        works, change what makes these answers wrong."
                .to_string();
            self.ask(round, CandidateOrigin::Mutation, incumbent, &failures, note)
                .await?;
        }
        if self.s.few_shot > 0 && count(CandidateOrigin::FewShot, &self.cands) == 0 {
            self.add_few_shot(round, incumbent).await?;
        }
        Ok(())
    }

    /// The train failures of candidate `i`, grouped by truth and wrong answer, largest first.
    fn clusters(&self, i: usize) -> Vec<Cluster> {
        let mut groups: BTreeMap<(String, String), Vec<(i64, Value)>> = BTreeMap::new();
        let train: BTreeSet<i64> = self.train.iter().copied().collect();
        for (task, answer) in service::wrong_answers(&self.cands[i].train) {
            if !train.contains(&task) {
                continue;
            }
            let truth = self
                .truth
                .get(&task)
                .map(crate::scoring::labels_key)
                .unwrap_or_default();
            let said = if answer.is_null() {
                "with no valid answer".to_string()
            } else {
                answer.to_string()
            };
            groups
                .entry((truth, said))
                .or_default()
                .push((task, answer));
        }
        let mut clusters: Vec<Cluster> = groups
            .into_iter()
            .map(|((truth, answer), tasks)| Cluster {
                truth,
                answer,
                tasks,
            })
            .collect();
        clusters.sort_by_key(|c| std::cmp::Reverse(c.tasks.len()));
        clusters
    }

    /// Up to [`TEACHER_EXAMPLES`] failures of candidate `i`, taken from each cluster in turn.
    fn spread_failures(&self, i: usize) -> Vec<(i64, Value)> {
        let clusters = self.clusters(i);
        let mut out = vec![];
        let mut depth = 0;
        while out.len() < TEACHER_EXAMPLES && clusters.iter().any(|c| c.tasks.len() > depth) {
            for c in &clusters {
                if let Some(t) = c.tasks.get(depth)
                    && out.len() < TEACHER_EXAMPLES
                {
                    out.push(t.clone());
                }
            }
            depth += 1;
        }
        out
    }

    /// Asks the teacher for a candidate made from candidate `from`, shown `failures`, and
    /// stores it (a failed call or a rejected prompt is stored as an eliminated candidate, so
    /// it is not asked for again).
    async fn ask(
        &mut self,
        round: i32,
        origin: CandidateOrigin,
        from: usize,
        failures: &[(i64, Value)],
        note: String,
    ) -> Result<(), Stop> {
        self.cx.check_cancel().await?;
        let teacher_cost = self.estimate.single_rewrite_cost.unwrap_or(0.0);
        self.allows(1, teacher_cost)?;
        let current = self.cands[from].prompt.clone();
        let examples = failures
            .iter()
            .take(TEACHER_EXAMPLES)
            .filter_map(|(task, answer)| {
                let data = self.data.get(task)?;
                let truth = self.truth.get(task)?;
                let input =
                    crate::template::render(&current, data).unwrap_or_else(|_| data.to_string());
                Some(Example {
                    input: crate::engine::refine::context::cut(&input, INPUT_CHARS),
                    ground_truth: self.config.to_output(truth, data),
                    prediction: (!answer.is_null()).then(|| answer.clone()),
                })
            })
            .collect();
        let context = Context {
            examples,
            data_keys: self.data_keys(),
        };
        let mut messages = context.messages(&current, &self.project.label_config);
        if let Some(last) = messages.last_mut() {
            *last = Message::new(Role::User, format!("{}\n{note}\n", last.text()));
        }
        let (prompt, reasoning, cost) = self.teach(messages).await?;
        self.spend_teacher(cost).await?;
        let parent = Some(self.cands[from].id);
        let (prompt, note, status) = match prompt {
            Ok(p) => match check_prompt(&p, &current, &context.data_keys, self.project.id) {
                Ok(()) => match self.cands.iter().find(|c| c.prompt == p) {
                    Some(same) => (
                        p,
                        Some(format!("The same prompt as candidate {}.", same.seq)),
                        CandidateStatus::Eliminated,
                    ),
                    None => (p, reasoning, CandidateStatus::Active),
                },
                Err(e) => (p, Some(e), CandidateStatus::Eliminated),
            },
            Err(e) => (String::new(), Some(e), CandidateStatus::Eliminated),
        };
        let i = self.add(round, origin, parent, prompt, note).await?;
        self.set_status(i, status).await?;
        Ok(())
    }

    /// The data keys a candidate may read: the config's inputs and the split's tasks' keys.
    fn data_keys(&self) -> BTreeSet<String> {
        let mut keys: BTreeSet<String> = self.config.input_fields().into_iter().collect();
        for d in self.data.values() {
            if let Some(o) = d.as_object() {
                keys.extend(o.keys().cloned());
            }
        }
        keys
    }

    /// One teacher call: (the new prompt or why there is none, its reasoning, its cost); a
    /// teacher that can never answer (refused credentials, a spent budget) stops the job.
    async fn teach(
        &self,
        messages: Vec<Message>,
    ) -> Result<(Result<String, String>, Option<String>, f64), JobError> {
        let row = &self.row;
        let teacher = Teacher {
            organization_id: row.organization_id,
            connection_id: row.teacher_connection_id,
            model: &row.teacher_model_name,
        };
        match teacher::ask(&self.cx.engine, teacher, messages, answer_schema()).await {
            Ok(answer) => {
                let out = &answer.output;
                let text = |key: &str| {
                    out.get(key)
                        .and_then(Value::as_str)
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(str::to_string)
                };
                let prompt = text("new_prompt_content")
                    .ok_or_else(|| "The teacher's answer has no new_prompt_content.".to_string());
                Ok((prompt, text("reasoning"), answer.cost))
            }
            Err(f) if f.fatal => Err(JobError::Permanent(f.message)),
            Err(f) => Ok((Err(f.message), None, f.cost)),
        }
    }

    /// Adds the few-shot candidate of round `round`: candidate `from`'s prompt after worked
    /// examples from the train tasks, one per class first (a task `from` got wrong when there
    /// is one), then more of the commonest classes.
    async fn add_few_shot(&mut self, round: i32, from: usize) -> Result<(), Stop> {
        let wrong: BTreeSet<i64> = service::wrong_answers(&self.cands[from].train)
            .into_iter()
            .map(|(t, _)| t)
            .collect();
        let mut by_class: BTreeMap<String, Vec<i64>> = BTreeMap::new();
        for t in &self.train {
            if let Some(truth) = self.truth.get(t) {
                by_class
                    .entry(crate::scoring::labels_key(truth))
                    .or_default()
                    .push(*t);
            }
        }
        let mut classes: Vec<Vec<i64>> = by_class.into_values().collect();
        classes.sort_by_key(|c| std::cmp::Reverse(c.len()));
        for tasks in &mut classes {
            // Failures first, stably.
            tasks.sort_by_key(|t| !wrong.contains(t));
        }
        let max = self.s.few_shot as usize;
        let mut chosen: Vec<i64> = vec![];
        let mut depth = 0;
        while chosen.len() < max && classes.iter().any(|c| c.len() > depth) {
            for c in &classes {
                if let Some(t) = c.get(depth)
                    && chosen.len() < max
                {
                    chosen.push(*t);
                }
            }
            depth += 1;
        }
        let examples: Vec<(Value, Value)> = chosen
            .iter()
            .filter_map(|t| Some((self.data.get(t)?.clone(), self.truth.get(t)?.clone())))
            .collect();
        let Some(block) = service::few_shot_block(&self.config, &examples, max) else {
            return Ok(());
        };
        let prompt = format!("{block}\n{}", self.cands[from].prompt);
        let note = format!(
            "Candidate {}'s prompt with {} worked examples from the train tasks.",
            self.cands[from].seq,
            examples.len()
        );
        let parent = Some(self.cands[from].id);
        let same = self.cands.iter().any(|c| c.prompt == prompt);
        let i = self
            .add(round, CandidateOrigin::FewShot, parent, prompt, Some(note))
            .await?;
        if same {
            self.set_status(i, CandidateStatus::Eliminated).await?;
        }
        Ok(())
    }
}
