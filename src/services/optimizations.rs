//! Prompt optimizations as rows: the settings and budgets checked and stored, the seeded
//! stratified train/held-out split, the estimate before starting, the row and its `optimize`
//! job created in one transaction, and reading them back. The search itself is the engine's
//! (`engine::optimize`); the rules it is judged by (a candidate's accuracy, the front) are here,
//! so the API and the web page show the same figures.
use crate::auth::{AuthUser, Manager};
use crate::error::{ApiError, ApiResult};
use crate::label_config::LabelConfig;
use crate::limits;
use crate::pricing::{PriceTable, count_tokens};
use crate::services::jobs::{self as job_rows, NewJob};
use crate::services::{model_providers, projects, versions};
use crate::views::optimizations::{
    OptimizationEstimate, OptimizationInput, OptimizationSettings, SettingsInput,
};
use entity::enums::{JobKind, OptimizationStatus};
use entity::{annotation, model_version, optimization_candidate, project, prompt_optimization};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use sea_orm::ActiveValue::{NotSet, Set};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, TransactionSession, TransactionTrait,
};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};

/// Ground-truth tasks an optimization needs at least.
pub const MIN_TASKS: usize = 10;
/// Held-out tasks an optimization needs at least.
pub const MIN_HELD_OUT: usize = 5;
/// Characters of one example's input in a few-shot candidate.
pub const FEW_SHOT_INPUT_CHARS: usize = 600;

/// The payload of an `optimize` job.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct OptimizeJob {
    /// The optimization row.
    pub optimization_id: i64,
}

/// An integer setting within `[low, high]`, or its default.
fn int(value: Option<i64>, default: i64, low: i64, high: i64, field: &str) -> ApiResult<i64> {
    let v = value.unwrap_or(default);
    if (low..=high).contains(&v) {
        Ok(v)
    } else {
        Err(ApiError::field(
            field,
            format!("Give a whole number from {low} to {high}."),
        ))
    }
}

/// A budget: none, or a positive number.
fn budget<T: PartialOrd + Default + Copy>(value: Option<T>, field: &str) -> ApiResult<Option<T>> {
    match value {
        Some(v) if v <= T::default() => Err(ApiError::field(
            field,
            "A budget must be above 0 (leave it out for no limit).",
        )),
        other => Ok(other),
    }
}

/// The settings of `input`, each checked against its bounds (a 400 names the field); what it
/// leaves out takes the default.
pub fn settings(input: &SettingsInput) -> ApiResult<OptimizationSettings> {
    let d = defaults();
    let held_out_fraction = input.held_out_fraction.unwrap_or(d.held_out_fraction);
    if !(0.1..=0.8).contains(&held_out_fraction) {
        return Err(ApiError::field(
            "held_out_fraction",
            "Give a share from 0.1 to 0.8.",
        ));
    }
    let alpha = input.alpha.unwrap_or(d.alpha);
    if !(alpha > 0.0 && alpha <= 0.5) {
        return Err(ApiError::field(
            "alpha",
            "Give a level above 0 and at most 0.5.",
        ));
    }
    if input.max_cost.is_some_and(|c| !c.is_finite() || c > 1e6) {
        return Err(ApiError::field("max_cost", "Give at most 1,000,000 USD."));
    }
    Ok(OptimizationSettings {
        seed: int(input.seed, d.seed, 0, i64::from(i32::MAX), "seed")?,
        held_out_fraction,
        max_tasks: int(
            input.max_tasks,
            d.max_tasks,
            MIN_TASKS as i64,
            limits::MAX_OPTIMIZATION_TASKS,
            "max_tasks",
        )?,
        rounds: int(
            input.rounds,
            d.rounds,
            1,
            limits::MAX_OPTIMIZATION_ROUNDS,
            "rounds",
        )?,
        candidates: int(
            input.candidates,
            d.candidates,
            1,
            limits::MAX_OPTIMIZATION_CANDIDATES,
            "candidates",
        )?,
        minibatch: int(
            input.minibatch,
            d.minibatch,
            4,
            limits::MAX_OPTIMIZATION_MINIBATCH,
            "minibatch",
        )?,
        finalists: int(
            input.finalists,
            d.finalists,
            1,
            limits::MAX_OPTIMIZATION_FINALISTS,
            "finalists",
        )?,
        few_shot: int(
            input.few_shot,
            d.few_shot,
            0,
            limits::MAX_FEW_SHOT_EXAMPLES,
            "few_shot",
        )?,
        alpha,
        max_cost: budget(input.max_cost, "max_cost")?,
        max_calls: budget(input.max_calls, "max_calls")?.map(|c| c.min(10_000_000)),
        max_seconds: budget(input.max_seconds, "max_seconds")?.map(|s| s.min(30 * 86_400)),
    })
}

/// The stored settings of an optimization (the defaults when unreadable).
pub fn settings_of(row: &prompt_optimization::Model) -> OptimizationSettings {
    serde_json::from_value(row.settings.clone()).unwrap_or_else(|_| defaults())
}

/// The settings of a request that asks for nothing in particular.
fn defaults() -> OptimizationSettings {
    OptimizationSettings {
        seed: 1,
        held_out_fraction: 0.4,
        max_tasks: 400,
        rounds: 2,
        candidates: 3,
        minibatch: 16,
        finalists: 2,
        few_shot: 4,
        alpha: 0.05,
        max_cost: None,
        max_calls: None,
        max_seconds: None,
    }
}

/// The ids of the project's tasks with ground truth, ascending.
pub async fn ground_truth_task_ids(
    db: &impl ConnectionTrait,
    project_id: i64,
) -> ApiResult<Vec<i64>> {
    let mut ids: Vec<i64> = annotation::Entity::find()
        .select_only()
        .column(annotation::Column::TaskId)
        .filter(annotation::Column::ProjectId.eq(project_id))
        .filter(annotation::Column::GroundTruth.eq(true))
        .filter(annotation::Column::WasCancelled.eq(false))
        .distinct()
        .order_by_asc(annotation::Column::TaskId)
        .into_tuple()
        .all(db)
        .await?;
    ids.dedup();
    Ok(ids)
}

/// The tasks used, at most `max` of `ids`, drawn by `seed` when there are more (ascending).
pub fn draw(ids: &[i64], max: usize, seed: u64) -> Vec<i64> {
    if ids.len() <= max {
        return ids.to_vec();
    }
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut out = ids.to_vec();
    out.shuffle(&mut rng);
    out.truncate(max);
    out.sort_unstable();
    out
}

/// The held-out tasks of a class of `n`: `round(n · fraction)`, leaving one to train when the
/// class has two or more.
fn held_out_of(n: usize, fraction: f64) -> usize {
    let k = (n as f64 * fraction).round() as usize;
    if n >= 2 { k.min(n - 1) } else { k.min(n) }
}

/// Splits tasks (id, class) into train and held-out, stratified: each class keeps the
/// held-out share, drawn by `seed`; the train tasks are then put in a seeded order so every
/// prefix (a successive-halving rung) mixes the classes.
pub fn split(tasks: &[(i64, String)], fraction: f64, seed: u64) -> (Vec<i64>, Vec<i64>) {
    let mut classes: BTreeMap<&str, Vec<i64>> = BTreeMap::new();
    for (id, class) in tasks {
        classes.entry(class.as_str()).or_default().push(*id);
    }
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let (mut train, mut held_out) = (vec![], vec![]);
    for ids in classes.values_mut() {
        ids.sort_unstable();
        ids.shuffle(&mut rng);
        let k = held_out_of(ids.len(), fraction);
        held_out.extend_from_slice(&ids[..k]);
        train.extend_from_slice(&ids[k..]);
    }
    train.sort_unstable();
    train.shuffle(&mut rng);
    held_out.sort_unstable();
    (train, held_out)
}

/// The stored split of an optimization: (train in rung order, held-out).
pub fn split_of(row: &prompt_optimization::Model) -> Option<(Vec<i64>, Vec<i64>)> {
    let split = row.split.as_ref()?;
    let ids = |key: &str| -> Vec<i64> {
        split
            .get(key)
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_i64).collect())
            .unwrap_or_default()
    };
    Some((ids("train"), ids("held_out")))
}

/// The split as stored.
pub fn split_value(train: &[i64], held_out: &[i64]) -> Value {
    json!({"train": train, "held_out": held_out})
}

/// Labeling calls of one successive-halving round at most: `new` candidates join the
/// incumbent (already scored on every train task); rungs of `minibatch`, doubling, each
/// keeping the better half, until one is left or the rung is the whole train set; the
/// survivor is then scored on every train task.
pub fn halving_calls(new: i64, n_train: i64, minibatch: i64) -> i64 {
    if new <= 0 || n_train <= 0 {
        return 0;
    }
    let mut pool = new + 1;
    let mut alive = new;
    let (mut size, mut before, mut calls) = (minibatch.min(n_train), 0, 0);
    loop {
        calls += alive * (size - before);
        before = size;
        pool = (pool + 1) / 2;
        alive = alive.min(pool);
        if pool <= 1 || size >= n_train {
            break;
        }
        size = (size * 2).min(n_train);
    }
    calls + alive.min(1) * (n_train - before)
}

/// Labeling calls of a whole optimization at most (no budget, no early stop): the parent on
/// every train task, each round's halving, the parent and the finalists on every held-out task.
pub fn schedule_calls(s: &OptimizationSettings, n_train: i64, n_held_out: i64) -> (i64, i64) {
    let few_shot = i64::from(s.few_shot > 0);
    let mut labeling = n_train;
    for round in 0..s.rounds {
        let new = if round == 0 { s.candidates } else { 1 } + few_shot;
        labeling += halving_calls(new, n_train, s.minibatch);
    }
    labeling += n_held_out * (1 + s.finalists);
    let teacher = s.candidates + (s.rounds - 1);
    (labeling, teacher)
}

/// Tokens a teacher answer is assumed to take.
const TEACHER_ANSWER_TOKENS: u64 = 600;
/// Tokens a labeling answer is assumed to take.
const LABELING_ANSWER_TOKENS: u64 = 40;
/// Examples a teacher call shows at most (see `engine::optimize`).
pub const TEACHER_EXAMPLES: usize = 12;

/// What an optimization of `version` over `project` may cost with `s`: the schedule's calls
/// at the models' prices, the prompt tokens counted on the project's ground-truth tasks.
pub async fn estimate(
    db: &impl ConnectionTrait,
    prices: &PriceTable,
    version: &model_version::Model,
    project: &project::Model,
    teacher_model: &str,
    s: &OptimizationSettings,
) -> ApiResult<OptimizationEstimate> {
    let all = ground_truth_task_ids(db, project.id).await?;
    let used = draw(&all, s.max_tasks as usize, s.seed as u64);
    let n = used.len() as i64;
    let held = (n as f64 * s.held_out_fraction).round() as i64;
    let (train, held) = (n - held, held);
    let mut e = OptimizationEstimate {
        tasks: n,
        train_tasks: train,
        held_out_tasks: held,
        ..Default::default()
    };
    if used.len() < MIN_TASKS || (held as usize) < MIN_HELD_OUT {
        e.problem = Some(format!(
            "Project {} has {} tasks with ground truth; an optimization needs at least {MIN_TASKS}, \
             with {MIN_HELD_OUT} or more held out (raise held_out_fraction or add ground truth).",
            project.id,
            used.len()
        ));
        return Ok(e);
    }
    let (labeling, teacher) = schedule_calls(s, train, held);
    e.labeling_calls = labeling;
    e.teacher_calls = teacher;
    e.calls = labeling + teacher;
    // Prompt tokens: the version's prompt rendered for up to 20 tasks, plus the instructions
    // and schema every call carries; a few-shot candidate adds its examples.
    let sample: Vec<Value> = entity::task::Entity::find()
        .select_only()
        .column(entity::task::Column::Data)
        .filter(entity::task::Column::Id.is_in(used.iter().take(20).copied()))
        .into_tuple()
        .all(db)
        .await?;
    let model = &version.provider_model_id;
    let config = projects::config_of(project);
    let schema_tokens = count_tokens(model, &config.output_schema().to_string()) + 150;
    let rendered: Vec<u64> = sample
        .iter()
        .map(|d| {
            crate::template::render(&version.prompt, d)
                .map(|t| count_tokens(model, &t))
                .unwrap_or(0)
        })
        .collect();
    let mean = rendered.iter().sum::<u64>() / (rendered.len().max(1) as u64);
    let few_shot_tokens = s.few_shot.max(0) as u64 * (mean.min(200) + 20);
    let per_call = schema_tokens + mean + few_shot_tokens / 2;
    let teacher_prompt = count_tokens(teacher_model, &project.label_config)
        + TEACHER_EXAMPLES as u64 * (mean + 30)
        + 400;
    let labeling_price = prices.price(model);
    let teacher_price = prices.price(teacher_model);
    if let (Some(lp), Some(tp)) = (labeling_price, teacher_price) {
        let (a, b) = lp.cost(per_call, LABELING_ANSWER_TOKENS);
        let (c, d) = tp.cost(teacher_prompt, TEACHER_ANSWER_TOKENS);
        let samples = i64::from(version.samples.max(1));
        e.cost_per_labeling_call = Some(a + b);
        e.single_rewrite_cost = Some(c + d);
        e.cost = Some((a + b) * (labeling * samples) as f64 + (c + d) * teacher as f64);
    }
    Ok(e)
}

/// The version, project and teacher connection of a request, checked.
async fn checked(
    db: &impl ConnectionTrait,
    caller: &AuthUser,
    prompt_id: i64,
    version_id: i64,
    input: &OptimizationInput,
) -> ApiResult<(model_version::Model, project::Model, String, i64)> {
    let version = versions::get(db, caller, prompt_id, version_id).await?;
    let project_id = input
        .project_id
        .ok_or_else(|| ApiError::field("project_id", "This field is required."))?;
    let project = projects::get_for_field(db, caller, project_id, "project_id").await?;
    let (model, connection) = model_providers::teacher(
        db,
        caller,
        input.teacher_model_name.as_deref(),
        input.teacher_model_provider_connection_id,
    )
    .await?;
    if version.model_provider_connection_id.is_none() {
        return Err(ApiError::field(
            "version",
            "The version has no model provider connection: give it one before optimizing it.",
        ));
    }
    Ok((version, project, model, connection))
}

/// The estimate of a request, without starting anything.
pub async fn estimate_request(
    db: &impl ConnectionTrait,
    prices: &PriceTable,
    caller: &AuthUser,
    prompt_id: i64,
    version_id: i64,
    input: &OptimizationInput,
) -> ApiResult<OptimizationEstimate> {
    let s = settings(&input.settings)?;
    let (version, project, teacher, _) = checked(db, caller, prompt_id, version_id, input).await?;
    estimate(db, prices, &version, &project, &teacher, &s).await
}

/// Checks a request, records the optimization `queued` with its estimate and enqueues its
/// job, in one transaction. Too little ground truth is a 400 (`project_id`).
pub async fn create<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    prices: &PriceTable,
    caller: &Manager,
    prompt_id: i64,
    version_id: i64,
    input: OptimizationInput,
) -> ApiResult<prompt_optimization::Model> {
    let s = settings(&input.settings)?;
    let txn = crate::db::begin_write(db).await?;
    let (version, project, teacher, connection) =
        checked(&txn, caller, prompt_id, version_id, &input).await?;
    let e = estimate(&txn, prices, &version, &project, &teacher, &s).await?;
    if let Some(problem) = &e.problem {
        return Err(ApiError::field("project_id", problem.clone()));
    }
    let now = crate::util::now();
    let row = prompt_optimization::ActiveModel {
        id: NotSet,
        organization_id: Set(caller.organization_id),
        prompt_id: Set(prompt_id),
        version_id: Set(version.id),
        project_id: Set(project.id),
        teacher_model_name: Set(teacher),
        teacher_connection_id: Set(connection),
        settings: Set(serde_json::to_value(&s).unwrap_or_default()),
        status: Set(OptimizationStatus::Queued),
        stage: Set("split".into()),
        split: Set(None),
        calls: Set(0),
        cost: Set(0.0),
        elapsed_seconds: Set(0.0),
        estimate: Set(serde_json::to_value(&e).unwrap_or_default()),
        result: Set(None),
        new_version_id: Set(None),
        error_message: Set(None),
        job_id: Set(None),
        created_by_id: Set(Some(caller.user.id)),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await?;
    let job = NewJob::new(
        JobKind::Optimize,
        Some(caller.organization_id),
        serde_json::to_value(OptimizeJob {
            optimization_id: row.id,
        })
        .unwrap_or_default(),
    )
    .about(job_rows::subject::OPTIMIZATION, row.id)
    .by(caller.user.id);
    let job = job_rows::enqueue(
        &txn,
        NewJob {
            max_attempts: 10,
            ..job
        },
    )
    .await?
    .job();
    let mut update: prompt_optimization::ActiveModel = row.into();
    update.job_id = Set(Some(job.id));
    let row = update.update(&txn).await?;
    crate::services::audit::record(
        &txn,
        caller,
        entity::enums::AuditAction::OptimizeStart,
        crate::services::audit::Object::new(
            entity::enums::AuditObject::Optimization,
            row.id,
            format!("Optimization of {}", version.title),
        ),
        crate::services::audit::Changes::created(&row),
    )
    .await?;
    txn.commit().await?;
    Ok(row)
}

/// Optimization `id` of prompt `prompt_id` in the caller's organization, or 404.
pub async fn get(
    db: &impl ConnectionTrait,
    caller: &AuthUser,
    prompt_id: i64,
    id: i64,
) -> ApiResult<prompt_optimization::Model> {
    prompt_optimization::Entity::find_by_id(id)
        .filter(prompt_optimization::Column::PromptId.eq(prompt_id))
        .filter(prompt_optimization::Column::OrganizationId.eq(caller.organization_id))
        .one(db)
        .await?
        .ok_or(ApiError::NotFound)
}

/// The optimizations of prompt `prompt_id` (404 for another organization's), newest first.
pub async fn list(
    db: &impl ConnectionTrait,
    caller: &AuthUser,
    prompt_id: i64,
) -> ApiResult<Vec<prompt_optimization::Model>> {
    crate::services::prompts::get(db, caller, prompt_id).await?;
    Ok(prompt_optimization::Entity::find()
        .filter(prompt_optimization::Column::PromptId.eq(prompt_id))
        .filter(prompt_optimization::Column::OrganizationId.eq(caller.organization_id))
        .order_by_desc(prompt_optimization::Column::Id)
        .limit(limits::MAX_OPTIMIZATIONS_LISTED)
        .all(db)
        .await?)
}

/// The candidates of an optimization, in order.
pub async fn candidates(
    db: &impl ConnectionTrait,
    optimization_id: i64,
) -> ApiResult<Vec<optimization_candidate::Model>> {
    Ok(optimization_candidate::Entity::find()
        .filter(optimization_candidate::Column::OptimizationId.eq(optimization_id))
        .order_by_asc(optimization_candidate::Column::Seq)
        .all(db)
        .await?)
}

/// The outcomes stored in a candidate's `train` or `held_out`: `{"task id": answer}` where
/// the answer is `true` when right, else what the candidate answered (null when its call
/// failed).
pub fn outcomes(stored: &Value) -> HashMap<i64, bool> {
    stored
        .as_object()
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.parse().ok()?, v.as_bool() == Some(true))))
                .collect()
        })
        .unwrap_or_default()
}

/// The wrong answers stored in a candidate's `train` (task id, what it answered; null when
/// its call failed).
pub fn wrong_answers(stored: &Value) -> Vec<(i64, Value)> {
    stored
        .as_object()
        .map(|m| {
            m.iter()
                .filter(|(_, v)| v.as_bool() != Some(true))
                .filter_map(|(k, v)| Some((k.parse().ok()?, v.clone())))
                .collect()
        })
        .unwrap_or_default()
}

/// (right, scored) of `outcomes` over `tasks` (those scored among them).
pub fn score_on(outcomes: &HashMap<i64, bool>, tasks: &[i64]) -> (u64, u64) {
    tasks
        .iter()
        .filter_map(|t| outcomes.get(t))
        .fold((0, 0), |(r, n), ok| (r + u64::from(*ok), n + 1))
}

/// The candidates on the accuracy/cost front: those no other candidate beats on both train
/// accuracy (at least as high) and cost per call (at most as high), one strictly. Points are
/// (id, accuracy, cost per call); candidates not yet scored are left out.
pub fn pareto_front(points: &[(i64, f64, f64)]) -> Vec<i64> {
    points
        .iter()
        .filter(|(id, acc, cost)| {
            !points.iter().any(|(other, a, c)| {
                other != id && *a >= *acc && *c <= *cost && (*a > *acc || *c < *cost)
            })
        })
        .map(|(id, _, _)| *id)
        .collect()
}

/// The classes of tasks for the stratified split: each task's ground truth in words.
pub fn classes(truth: &HashMap<i64, Value>, ids: &[i64]) -> Vec<(i64, String)> {
    ids.iter()
        .filter_map(|id| Some((*id, crate::scoring::labels_key(truth.get(id)?))))
        .collect()
}

/// A few-shot block of worked examples (input fields, then the answer), put before a prompt:
/// one example per class first, in the classes' order, then more of the commonest.
pub fn few_shot_block(
    config: &LabelConfig,
    examples: &[(Value, Value)],
    max: usize,
) -> Option<String> {
    if examples.is_empty() || max == 0 {
        return None;
    }
    let mut block = String::from("Worked examples:\n");
    for (data, truth) in examples.iter().take(max) {
        let input = config
            .input_fields()
            .iter()
            .filter_map(|k| data.get(k).map(|v| (k.clone(), v)))
            .map(|(k, v)| {
                let text = v
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| v.to_string());
                format!("{k}: {}", cut(&text, FEW_SHOT_INPUT_CHARS))
            })
            .collect::<Vec<_>>()
            .join("\n");
        let answer = config.to_output(truth, data);
        block.push_str(&format!("Input:\n{input}\nAnswer: {answer}\n\n"));
    }
    Some(crate::template::escape(&block))
}

/// `s` cut to `max` characters, marked when cut.
fn cut(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &s[..at]),
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_split_is_stratified_seeded_and_disjoint() {
        let tasks: Vec<(i64, String)> = (1..=50)
            .map(|i| (i, if i % 5 == 0 { "B" } else { "A" }.to_string()))
            .collect();
        let (train, held) = split(&tasks, 0.4, 7);
        assert_eq!(train.len() + held.len(), 50);
        assert!(train.iter().all(|t| !held.contains(t)));
        // 40 A → 16 held out, 10 B → 4 held out.
        assert_eq!(held.iter().filter(|t| *t % 5 == 0).count(), 4);
        assert_eq!(held.len(), 20);
        assert_eq!(split(&tasks, 0.4, 7), (train.clone(), held.clone()));
        assert_ne!(split(&tasks, 0.4, 8).1, held);
        // A class of one stays in... whichever side its rounding says, never both.
        let (t, h) = split(&[(1, "A".into())], 0.4, 1);
        assert_eq!(t.len() + h.len(), 1);
    }

    #[test]
    fn halving_counts_each_rung() {
        // 4 new + incumbent, 40 train tasks, rungs 8, 16, 32: 4·8 + 3·8 + 2·16 = 88, then
        // the survivor on the remaining 8.
        assert_eq!(halving_calls(4, 40, 8), 4 * 8 + 3 * 8 + 2 * 16 + 8);
        assert_eq!(halving_calls(0, 40, 8), 0);
        // One new candidate: the pool of 2 halves at once, the survivor finishes train.
        assert_eq!(halving_calls(1, 40, 8), 40);
        // A minibatch larger than train.
        assert_eq!(halving_calls(2, 10, 16), 20);
    }

    #[test]
    fn the_front_keeps_the_undominated() {
        let points = [(1, 0.6, 1.0), (2, 0.8, 2.0), (3, 0.7, 2.5), (4, 0.8, 2.0)];
        assert_eq!(pareto_front(&points), vec![1, 2, 4]);
    }

    #[test]
    fn settings_have_bounds() {
        let s = settings(&SettingsInput::default()).unwrap();
        assert_eq!((s.rounds, s.candidates, s.finalists), (2, 3, 2));
        let bad = SettingsInput {
            alpha: Some(0.0),
            ..Default::default()
        };
        assert!(settings(&bad).is_err());
        let bad = SettingsInput {
            max_calls: Some(0),
            ..Default::default()
        };
        assert!(settings(&bad).is_err());
    }
}
