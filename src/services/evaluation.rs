//! Evaluation of runs: the project subsets and the subset-tasks drill-down (predictions beside
//! ground truth, per-task score, errors, class and alignment filters, a summary of the run's
//! scores). The indicators are in [`super::indicators`].
use crate::auth::AuthUser;
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::label_config::LabelConfig;
use crate::pagination::{Page, PageRequest};
use crate::scoring;
use crate::services::runs::Subset;
use crate::services::scored::ground_truth;
use crate::services::{projects, prompts};
use entity::{failed_prediction, model_run, prediction, project, task};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};

/// How many tasks a subset has.
#[derive(Debug, Clone)]
pub struct SubsetCount {
    /// `All`, `HasGT` or `Sample`.
    pub subset: Subset,
    /// Tasks in it.
    pub count: u64,
}

/// The subsets of a project and their sizes.
pub async fn subsets(
    db: &impl ConnectionTrait,
    caller: &AuthUser,
    project_id: i64,
    sample_size: u64,
) -> ApiResult<(Vec<SubsetCount>, LabelConfig)> {
    let project = projects::get(db, caller, project_id).await?;
    let all = task::Entity::find()
        .filter(task::Column::ProjectId.eq(project.id))
        .count(db)
        .await?;
    let gt = task::Entity::find()
        .filter(task::Column::ProjectId.eq(project.id))
        .filter(crate::services::runs::has_ground_truth(project.id))
        .count(db)
        .await?;
    let counts = vec![
        SubsetCount {
            subset: Subset::All,
            count: all,
        },
        SubsetCount {
            subset: Subset::HasGT,
            count: gt,
        },
        SubsetCount {
            subset: Subset::Sample,
            count: task::Entity::find()
                .filter(task::Column::ProjectId.eq(project.id))
                .filter(crate::services::runs::sample_condition(db, project.id, sample_size).await?)
                .count(db)
                .await?,
        },
    ];
    Ok((counts, projects::config_of(&project)))
}

/// The parameters of a subset-tasks query.
#[derive(Debug, Default, Clone)]
pub struct SubsetTasksQuery {
    /// The prompt (required).
    pub parent_model: Option<i64>,
    /// Show this run's predictions.
    pub model_run: Option<i64>,
    /// Without a run: the latest run of this version on the project.
    pub model_version: Option<i64>,
    /// `All`, `HasGT`, `Sample` or `Custom`; default: the run's, else `All`.
    pub project_subset: Option<Subset>,
    /// Count the matching tasks (default true).
    pub include_total: bool,
    /// `id` (default) or `-id`.
    pub ordering: Option<String>,
    /// Keep tasks with predictions of every one of these versions.
    pub prediction_version_ids: Vec<i64>,
    /// Keep tasks whose prediction has this class...
    pub output_class: Option<String>,
    /// ...in this control.
    pub output_from_name: Option<String>,
    /// Keep tasks whose alignment for this class...
    pub alignment_class: Option<String>,
    /// ...in this control...
    pub alignment_from_name: Option<String>,
    /// ...is `all`, `true_positive`, `false_positive` or `false_negative`.
    pub alignment_outcome: Option<String>,
    /// Add the run's score summary (default true).
    pub include_summary: bool,
    /// The run the summary's version comparison compares with.
    pub compare_to: Option<i64>,
}

/// One task of a subset-tasks page.
#[derive(Debug, Clone)]
pub struct SubsetTaskItem {
    /// Task id.
    pub id: i64,
    /// Task data.
    pub data: Value,
    /// The run's prediction `{id, result, score, model_version, model_run}`, or null.
    pub prediction: Value,
    /// The ground truth `{id, result}`, or null.
    pub ground_truth: Value,
    /// Per-task score when both exist.
    pub score: Option<f64>,
    /// The failure `{message, error_type}`, or null.
    pub error: Value,
    /// Closeness of each Rating/Number answer (control name → [0, 1]) when the task has both a
    /// prediction and ground truth with such values.
    pub closeness: Option<Value>,
}

/// A page of subset tasks; `total` is None when not counted.
#[derive(Debug, Clone)]
pub struct SubsetTasksPage {
    /// The tasks.
    pub items: Vec<SubsetTaskItem>,
    /// Matching tasks, when counted.
    pub total: Option<u64>,
    /// The page served.
    pub page: Page,
    /// The run's scores (see [`super::indicators::summary`]), when a run is shown and the
    /// summary was asked for.
    pub summary: Option<Value>,
}

/// Labels of `from_name` (or any control) that a region list carries, as the scores name
/// classes: each label of a list, a Pairwise side, each Taxonomy path joined with ` / `.
fn classes_of(result: &Value, from_name: Option<&str>) -> HashSet<String> {
    let mut out = HashSet::new();
    for region in result.as_array().into_iter().flatten() {
        if from_name.is_some_and(|f| region.get("from_name").and_then(Value::as_str) != Some(f)) {
            continue;
        }
        if let Some(value) = region.get("value").and_then(Value::as_object) {
            for (key, v) in value {
                if matches!(key.as_str(), "start" | "end" | "text") {
                    continue;
                }
                if let Value::String(side) = v {
                    out.insert(side.clone());
                }
                for item in v.as_array().into_iter().flatten() {
                    match item {
                        Value::String(label) => {
                            out.insert(label.clone());
                        }
                        Value::Array(path) => {
                            let labels: Vec<&str> = path.iter().filter_map(Value::as_str).collect();
                            out.insert(labels.join(" / "));
                        }
                        _ => {}
                    }
                }
            }
        }
    }
    out
}

async fn resolve_run(
    db: &impl ConnectionTrait,
    caller: &AuthUser,
    project: &project::Model,
    q: &SubsetTasksQuery,
) -> ApiResult<Option<model_run::Model>> {
    if let Some(id) = q.model_run {
        let run = model_run::Entity::find_by_id(id)
            .filter(model_run::Column::OrganizationId.eq(caller.organization_id))
            .filter(model_run::Column::ProjectId.eq(project.id))
            .one(db)
            .await?
            .ok_or_else(|| {
                ApiError::field(
                    "model_run",
                    format!("Invalid pk \"{id}\" - object does not exist."),
                )
            })?;
        return Ok(Some(run));
    }
    let Some(version) = q.model_version else {
        return Ok(None);
    };
    let mut query = model_run::Entity::find()
        .filter(model_run::Column::OrganizationId.eq(caller.organization_id))
        .filter(model_run::Column::ProjectId.eq(project.id))
        .filter(model_run::Column::ModelVersionId.eq(version));
    if let Some(subset) = q.project_subset {
        query = query.filter(model_run::Column::ProjectSubset.eq(subset));
    }
    Ok(query
        .order_by_desc(model_run::Column::CreatedAt)
        .order_by_desc(model_run::Column::Id)
        .one(db)
        .await?)
}

/// The subset-tasks drill-down of a project for a prompt.
pub async fn subset_tasks(
    db: &impl ConnectionTrait,
    caller: &AuthUser,
    project_id: i64,
    q: &SubsetTasksQuery,
    request: PageRequest,
    sample_size: u64,
) -> ApiResult<SubsetTasksPage> {
    let project = projects::get(db, caller, project_id).await?;
    let prompt_id = q.parent_model.ok_or_else(|| {
        ApiError::bad_request(
            ErrorCode::MissingParentModel,
            "Bad request - missing parent_model",
        )
    })?;
    prompts::get(db, caller, prompt_id)
        .await
        .map_err(|e| e.not_found_as_field("parent_model", prompt_id))?;
    let config = projects::config_of(&project);
    for (field, name) in [
        ("output_from_name", &q.output_from_name),
        ("alignment_from_name", &q.alignment_from_name),
    ] {
        if let Some(name) = name
            && !config.controls.iter().any(|c| &c.name == name)
        {
            let names: Vec<&str> = config.controls.iter().map(|c| c.name.as_str()).collect();
            return Err(ApiError::field(
                field,
                format!(
                    "The project has no control named \"{name}\"; its controls are: {}.",
                    names.join(", ")
                ),
            ));
        }
    }
    let run = resolve_run(db, caller, &project, q).await?;
    let subset = q
        .project_subset
        .or_else(|| run.as_ref().map(|r| r.project_subset))
        .unwrap_or(Subset::All);
    let mut cond = Condition::all().add(task::Column::ProjectId.eq(project.id));
    match subset {
        Subset::HasGT => cond = cond.add(crate::services::runs::has_ground_truth(project.id)),
        Subset::Sample => {
            let n = crate::services::runs::sample_size(
                run.as_ref()
                    .and_then(|r| r.sample_subset_size)
                    .map(|n| n.max(0)),
                sample_size,
            )?;
            cond = cond.add(crate::services::runs::sample_condition(db, project.id, n).await?);
        }
        Subset::Custom => {
            let ids: Vec<i64> = run
                .as_ref()
                .and_then(|r| r.task_ids.as_ref())
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_i64).collect())
                .unwrap_or_default();
            // Bound one by one, a large Custom run would pass SQLite's variable limit.
            cond = cond.add(crate::db::ids_literal_in("tasks.id", &ids));
        }
        Subset::All => {}
    }
    for version in &q.prediction_version_ids {
        cond = cond.add(Expr::cust(format!(
            "EXISTS (SELECT 1 FROM predictions p JOIN model_runs r ON r.id = p.model_run_id WHERE p.task_id = tasks.id AND r.model_version_id = {version})"
        )));
    }
    // Class and alignment filters read the predictions' regions: resolve them to task ids.
    let class_filter = q.output_class.is_some() || q.alignment_class.is_some();
    if class_filter {
        let ids = match &run {
            Some(run) => matching_tasks(db, run, q).await?,
            None => vec![],
        };
        cond = cond.add(crate::db::ids_literal_in("tasks.id", &ids));
    }
    // The run's own subset, unfiltered: page through the tasks it resolved (its slices).
    let own_subset = run.as_ref().filter(|r| {
        r.project_subset == subset && !class_filter && q.prediction_version_ids.is_empty()
    });
    let descending = q.ordering.as_deref() == Some("-id");
    let (tasks, total, page) = if let Some(run) = own_subset {
        let total = run.total_tasks.max(0) as u64;
        let page = request.locate(total);
        let ids = crate::services::runs::page_of_tasks(
            db,
            run.id,
            total,
            page.offset,
            page.size,
            descending,
        )
        .await?;
        let mut found: HashMap<i64, task::Model> = task::Entity::find()
            .filter(task::Column::Id.is_in(ids.clone()))
            .all(db)
            .await?
            .into_iter()
            .map(|t| (t.id, t))
            .collect();
        let tasks: Vec<task::Model> = ids.iter().filter_map(|id| found.remove(id)).collect();
        (tasks, q.include_total.then_some(total), page)
    } else {
        let query = task::Entity::find().filter(cond);
        let total = if q.include_total {
            Some(query.clone().count(db).await?)
        } else {
            None
        };
        let page = request.locate(total.unwrap_or(0));
        let ordered = if descending {
            query.order_by_desc(task::Column::Id)
        } else {
            query.order_by_asc(task::Column::Id)
        };
        (
            ordered.offset(page.offset).limit(page.size).all(db).await?,
            total,
            page,
        )
    };
    let ids: Vec<i64> = tasks.iter().map(|t| t.id).collect();
    let mut preds: HashMap<i64, prediction::Model> = HashMap::new();
    let mut errors: HashMap<i64, failed_prediction::Model> = HashMap::new();
    if let Some(run) = &run {
        for p in prediction::Entity::find()
            .filter(prediction::Column::ModelRunId.eq(run.id))
            .filter(prediction::Column::TaskId.is_in(ids.clone()))
            .all(db)
            .await?
        {
            preds.insert(p.task_id, p);
        }
        for f in failed_prediction::Entity::find()
            .filter(failed_prediction::Column::ModelRunId.eq(run.id))
            .filter(failed_prediction::Column::TaskId.is_in(ids.clone()))
            .all(db)
            .await?
        {
            errors.insert(f.task_id, f);
        }
    }
    let gt = ground_truth(db, &ids).await?;
    let items = tasks
        .into_iter()
        .map(|t| {
            let p = preds.remove(&t.id);
            let g = gt.get(&t.id);
            let (score, closeness) = match (&p, g) {
                (Some(p), Some(g)) => {
                    let close: serde_json::Map<String, Value> =
                        scoring::closeness(&config, &p.result, &g.result)
                            .into_iter()
                            .map(|c| (c.control, json!(c.closeness)))
                            .collect();
                    (
                        Some(scoring::score_task(&config, &p.result, &g.result).score),
                        (!close.is_empty()).then_some(Value::Object(close)),
                    )
                }
                _ => (None, None),
            };
            SubsetTaskItem {
                id: t.id,
                data: t.data,
                prediction: p.map_or(Value::Null, |p| {
                    let mut view = json!({"id": p.id, "result": p.result, "score": p.score, "model_version": p.model_version, "model_run": p.model_run_id});
                    if let Some(n) = p.extra.as_ref().and_then(|e| e.get("dropped_spans")) {
                        view["dropped_spans"] = n.clone();
                    }
                    view
                }),
                ground_truth: g.map_or(Value::Null, |g| json!({"id": g.id, "result": g.result})),
                score,
                error: errors.remove(&t.id).map_or(Value::Null, |f| json!({"message": f.message, "error_type": f.error_type})),
                closeness,
            }
        })
        .collect();
    let summary = match (&run, q.include_summary) {
        (Some(run), true) => Some(super::indicators::summary(db, caller, run, q.compare_to).await?),
        _ => None,
    };
    Ok(SubsetTasksPage {
        items,
        total,
        page,
        summary,
    })
}

/// Task ids of a run whose prediction matches the class or alignment filter, read in chunks.
async fn matching_tasks(
    db: &impl ConnectionTrait,
    run: &model_run::Model,
    q: &SubsetTasksQuery,
) -> ApiResult<Vec<i64>> {
    let mut out = vec![];
    let mut last = 0i64;
    loop {
        let preds: Vec<(i64, Value)> = prediction::Entity::find()
            .select_only()
            .columns([prediction::Column::TaskId, prediction::Column::Result])
            .filter(prediction::Column::ModelRunId.eq(run.id))
            .filter(prediction::Column::TaskId.gt(last))
            .order_by_asc(prediction::Column::TaskId)
            .limit(1000)
            .into_tuple()
            .all(db)
            .await?;
        let Some((tail, _)) = preds.last() else { break };
        last = *tail;
        let ids: Vec<i64> = preds.iter().map(|(id, _)| *id).collect();
        let gt = if q.alignment_class.is_some() {
            ground_truth(db, &ids).await?
        } else {
            HashMap::new()
        };
        for (task_id, result) in preds {
            if let Some(class) = &q.output_class
                && !classes_of(&result, q.output_from_name.as_deref()).contains(class)
            {
                continue;
            }
            if let Some(class) = &q.alignment_class {
                let from = q.alignment_from_name.as_deref();
                let predicted = classes_of(&result, from).contains(class);
                let truth = gt
                    .get(&task_id)
                    .is_some_and(|g| classes_of(&g.result, from).contains(class));
                let keep = match q.alignment_outcome.as_deref().unwrap_or("all") {
                    "true_positive" => predicted && truth,
                    "false_positive" => predicted && !truth,
                    "false_negative" => !predicted && truth,
                    _ => predicted || truth,
                };
                if !keep {
                    continue;
                }
            }
            out.push(task_id);
        }
    }
    Ok(out)
}
