//! Projects: create, read, update, delete, label-config validation, counters and task import.
use crate::auth::AuthUser;
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::label_config::{self, LabelConfig};
use crate::pagination::{Page, PageRequest};
use crate::services::audit::{self, Object};
use crate::services::{counters, tasks};
use crate::views::projects::{ProjectInput, ProjectStats};
use entity::enums::AuditObject;
use entity::project;
use sea_orm::ActiveValue::{NotSet, Set};
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, FromQueryResult,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, TransactionSession, TransactionTrait,
};
use std::collections::HashMap;

/// The label config of a new project when none is given.
pub const EMPTY_CONFIG: &str = "<View></View>";

const SAMPLINGS: [&str; 3] = [
    "Sequential sampling",
    "Uniform sampling",
    "Uncertainty sampling",
];
const SKIP_QUEUES: [&str; 3] = ["REQUEUE_FOR_ME", "REQUEUE_FOR_OTHERS", "IGNORE_SKIPPED"];

/// Parses a label config, answering 400 on `field` with the position of the problem.
pub fn parse_config(field: &str, xml: &str) -> ApiResult<LabelConfig> {
    label_config::parse(xml).map_err(|err| ApiError::field(field, err.to_string()))
}

/// Configs longer than this are parsed on the blocking pool by [`parse_config_off_thread`].
const INLINE_PARSE_BYTES: usize = 64 * 1024;

/// [`parse_config`] for a config a client sent: a large one is parsed on the blocking pool,
/// so the async worker keeps serving other requests meanwhile.
pub async fn parse_config_off_thread(field: &'static str, xml: &str) -> ApiResult<LabelConfig> {
    if xml.len() <= INLINE_PARSE_BYTES {
        return parse_config(field, xml);
    }
    let xml = xml.to_string();
    tokio::task::spawn_blocking(move || parse_config(field, &xml))
        .await
        .map_err(|e| ApiError::Internal(format!("label config parse task: {e}")))?
}

/// Parses a label config typed into the web app, on the blocking pool when large, keeping the
/// error's line and column apart for the editor to point at.
pub async fn check_config(xml: String) -> Result<LabelConfig, label_config::LabelConfigError> {
    if xml.len() <= INLINE_PARSE_BYTES {
        return label_config::parse(&xml);
    }
    tokio::task::spawn_blocking(move || label_config::parse(&xml))
        .await
        .unwrap_or_else(|e| Err(label_config::LabelConfigError::new(e.to_string())))
}

/// The project's parsed label config; a stored config always parsed when it was written. It
/// is read tolerantly: a config stored before unknown tags were refused still reads as it did
/// (its unknown tags are [`LabelConfig::warnings`]).
pub fn config_of(project: &project::Model) -> LabelConfig {
    label_config::parse_tolerant(&project.label_config).unwrap_or_else(|_| LabelConfig {
        objects: vec![],
        controls: vec![],
        index_flags: vec![],
        warnings: vec![],
    })
}

async fn validate(input: &ProjectInput) -> ApiResult<()> {
    if let Some(description) = &input.description {
        crate::limits::check_chars(
            "description",
            description,
            crate::limits::MAX_DESCRIPTION_CHARS,
        )?;
    }
    if let Some(title) = &input.title {
        crate::limits::check_chars("title", title, crate::limits::MAX_PROJECT_TITLE_CHARS)?;
    }
    // Label Studio's `Project.color` is a CharField of 16; PostgreSQL's column is as wide.
    if let Some(color) = &input.color
        && color.chars().count() > 16
    {
        return Err(ApiError::field(
            "color",
            "Ensure this field has no more than 16 characters.",
        ));
    }
    if let Some(xml) = &input.label_config {
        parse_config_off_thread("label_config", xml).await?;
    }
    if let Some(s) = &input.sampling
        && !SAMPLINGS.contains(&s.as_str())
    {
        return Err(ApiError::field(
            "sampling",
            format!("\"{s}\" is not a valid choice."),
        ));
    }
    if let Some(s) = &input.skip_queue
        && !SKIP_QUEUES.contains(&s.as_str())
    {
        return Err(ApiError::field(
            "skip_queue",
            format!("\"{s}\" is not a valid choice."),
        ));
    }
    for (field, value) in [
        ("maximum_annotations", input.maximum_annotations),
        ("overlap_cohort_percentage", input.overlap_cohort_percentage),
        (
            "min_annotations_to_start_training",
            input.min_annotations_to_start_training,
        ),
    ] {
        if value.is_some_and(|v| v < 0) {
            return Err(ApiError::field(
                field,
                "Ensure this value is greater than or equal to 0.",
            ));
        }
    }
    if input.maximum_annotations == Some(0) {
        return Err(ApiError::field(
            "maximum_annotations",
            "Ensure this value is greater than or equal to 1.",
        ));
    }
    Ok(())
}

fn apply(model: &mut project::ActiveModel, input: ProjectInput) {
    macro_rules! set {
        ($($field:ident),*) => { $( if let Some(v) = input.$field { model.$field = Set(v); } )* };
    }
    set!(
        title,
        description,
        label_config,
        expert_instruction,
        show_instruction,
        show_skip_button,
        enable_empty_annotation,
        show_annotation_history,
        show_collab_predictions,
        show_ground_truth_first,
        show_overlap_first,
        overlap_cohort_percentage,
        maximum_annotations,
        min_annotations_to_start_training,
        evaluate_predictions_automatically,
        reveal_preannotations_interactively,
        is_published,
        is_draft,
        color,
        model_version,
        sampling,
        skip_queue
    );
    if let Some(weights) = input.control_weights {
        model.control_weights = Set(serde_json::Value::Object(weights));
    }
    if let Some(pinned_at) = input.pinned_at {
        model.pinned_at = Set(pinned_at);
    }
}

/// Creates a project in the caller's organization.
pub async fn create<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    caller: &AuthUser,
    input: ProjectInput,
) -> ApiResult<project::Model> {
    validate(&input).await?;
    let now = crate::util::now();
    let mut model = project::ActiveModel {
        id: NotSet,
        organization_id: Set(caller.organization_id),
        title: Set(String::new()),
        description: Set(String::new()),
        label_config: Set(EMPTY_CONFIG.into()),
        expert_instruction: Set(String::new()),
        show_instruction: Set(false),
        show_skip_button: Set(true),
        enable_empty_annotation: Set(true),
        show_annotation_history: Set(false),
        show_collab_predictions: Set(true),
        show_ground_truth_first: Set(false),
        show_overlap_first: Set(false),
        overlap_cohort_percentage: Set(100),
        maximum_annotations: Set(1),
        min_annotations_to_start_training: Set(0),
        evaluate_predictions_automatically: Set(false),
        reveal_preannotations_interactively: Set(false),
        is_published: Set(false),
        is_draft: Set(false),
        color: Set("#FFFFFF".into()),
        model_version: Set(String::new()),
        sampling: Set(SAMPLINGS[0].into()),
        skip_queue: Set("REQUEUE_FOR_OTHERS".into()),
        control_weights: Set(serde_json::json!({})),
        pinned_at: Set(None),
        created_by_id: Set(Some(caller.user.id)),
        created_at: Set(now),
        updated_at: Set(now),
    };
    apply(&mut model, input);
    let txn = crate::db::begin_write(db).await?;
    let created = model.insert(&txn).await?;
    audit::created(&txn, caller, object(&created), &created).await?;
    txn.commit().await?;
    Ok(created)
}

/// A project as the audit log names it.
pub fn object(project: &project::Model) -> Object {
    Object::new(AuditObject::Project, project.id, &project.title)
}

/// The project `id` of the caller's organization, or 404.
pub async fn get(
    db: &impl ConnectionTrait,
    caller: &AuthUser,
    id: i64,
) -> ApiResult<project::Model> {
    project::Entity::find_by_id(id)
        .filter(project::Column::OrganizationId.eq(caller.organization_id))
        .one(db)
        .await?
        .ok_or(ApiError::NotFound)
}

/// Like [`get`], but an unknown or foreign project is a 400 on `field` (for ids in a body).
pub async fn get_for_field(
    db: &impl ConnectionTrait,
    caller: &AuthUser,
    id: i64,
    field: &str,
) -> ApiResult<project::Model> {
    get(db, caller, id)
        .await
        .map_err(|err| err.not_found_as_field(field, id))
}

/// Applies a partial update. A changed label config is validated; changing
/// `maximum_annotations` updates every task's overlap and labeled state.
pub async fn update<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    caller: &AuthUser,
    id: i64,
    input: ProjectInput,
) -> ApiResult<project::Model> {
    validate(&input).await?;
    let txn = crate::db::begin_write(db).await?;
    let existing = get(&txn, caller, id).await?;
    let overlap_changed = input
        .maximum_annotations
        .is_some_and(|m| m != existing.maximum_annotations);
    let before = existing.clone();
    let mut model: project::ActiveModel = existing.into();
    apply(&mut model, input);
    model.updated_at = Set(crate::util::now());
    let updated = model.update(&txn).await?;
    audit::updated(&txn, caller, object(&updated), &before, &updated).await?;
    if overlap_changed {
        txn.execute_unprepared(&format!(
            "UPDATE tasks SET overlap = {} WHERE project_id = {id}",
            updated.maximum_annotations
        ))
        .await?;
        counters::recount_project(&txn, id).await?;
    }
    txn.commit().await?;
    Ok(updated)
}

/// Takes Label Studio's label config as project `id`'s own, when a link adopts it. Label
/// Studio accepted the config, so it is read tolerantly: a tag Prompter does not know yet is a
/// warning (as for a stored config), not a refusal; a config that does not parse is refused.
pub async fn adopt_label_config<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    caller: &AuthUser,
    id: i64,
    xml: &str,
) -> ApiResult<project::Model> {
    let owned = xml.to_string();
    tokio::task::spawn_blocking(move || label_config::parse_tolerant(&owned))
        .await
        .map_err(|e| ApiError::Internal(format!("label config parse task: {e}")))?
        .map_err(|err| ApiError::field("label_config", err.to_string()))?;
    let txn = crate::db::begin_write(db).await?;
    let existing = get(&txn, caller, id).await?;
    let before = existing.clone();
    let mut model: project::ActiveModel = existing.into();
    model.label_config = Set(xml.to_string());
    model.updated_at = Set(crate::util::now());
    let updated = model.update(&txn).await?;
    audit::updated(&txn, caller, object(&updated), &before, &updated).await?;
    txn.commit().await?;
    Ok(updated)
}

/// Deletes a project with its tasks, annotations, predictions and runs (foreign-key cascades).
pub async fn delete<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    caller: &AuthUser,
    id: i64,
) -> ApiResult<()> {
    let txn = crate::db::begin_write(db).await?;
    let project = get(&txn, caller, id).await?;
    project::Entity::delete_by_id(project.id).exec(&txn).await?;
    audit::deleted(&txn, caller, object(&project)).await?;
    txn.commit().await?;
    Ok(())
}

/// Filters and ordering of the project list.
#[derive(Debug, Default)]
pub struct ListFilter {
    /// Case-insensitive substring of the title.
    pub title: Option<String>,
    /// Case-insensitive substring of the title or description.
    pub search: Option<String>,
    /// Only these ids.
    pub ids: Option<Vec<i64>>,
    /// DRF ordering: `id`, `title`, `created_at`, `updated_at`, with `-` for descending.
    pub ordering: Option<String>,
}

/// One page of the caller's projects, the total count and the page served.
pub async fn list(
    db: &impl ConnectionTrait,
    caller: &AuthUser,
    filter: &ListFilter,
    request: PageRequest,
) -> ApiResult<(Vec<project::Model>, u64, Page)> {
    let mut query =
        project::Entity::find().filter(project::Column::OrganizationId.eq(caller.organization_id));
    if let Some(title) = &filter.title {
        query = query.filter(crate::util::icontains(project::Column::Title, title));
    }
    if let Some(search) = &filter.search {
        query = query.filter(
            Condition::any()
                .add(crate::util::icontains(project::Column::Title, search))
                .add(crate::util::icontains(project::Column::Description, search)),
        );
    }
    if let Some(ids) = &filter.ids {
        query = query.filter(project::Column::Id.is_in(ids.clone()));
    }
    let (mut query, ordered) = crate::util::order_by(
        query,
        filter.ordering.as_deref(),
        &[
            ("id", project::Column::Id),
            ("title", project::Column::Title),
            ("created_at", project::Column::CreatedAt),
            ("updated_at", project::Column::UpdatedAt),
            ("pinned_at", project::Column::PinnedAt),
        ],
    );
    if !ordered {
        query = query.order_by_desc(project::Column::Id);
    }
    let total = query.clone().count(db).await?;
    let page = request.locate(total);
    let items = query.offset(page.offset).limit(page.size).all(db).await?;
    Ok((items, total, page))
}

#[derive(Debug, FromQueryResult)]
struct StatsRow {
    project_id: i64,
    task_number: i64,
    total_annotations_number: Option<i64>,
    skipped_annotations_number: Option<i64>,
    total_predictions_number: Option<i64>,
    num_tasks_with_annotations: Option<i64>,
    finished_task_number: Option<i64>,
    useful_annotation_number: Option<i64>,
}

#[derive(Debug, FromQueryResult)]
struct CountRow {
    project_id: i64,
    n: i64,
}

/// The counters of each of `ids`, from two grouped queries.
pub async fn stats(
    db: &impl ConnectionTrait,
    ids: &[i64],
) -> ApiResult<HashMap<i64, ProjectStats>> {
    let mut out: HashMap<i64, ProjectStats> = ids
        .iter()
        .map(|id| (*id, ProjectStats::default()))
        .collect();
    if ids.is_empty() {
        return Ok(out);
    }
    let sum = |sql: &str| Expr::cust(format!("CAST(SUM({sql}) AS BIGINT)"));
    let query = Query::select()
        .column("project_id")
        .expr_as(Expr::cust("COUNT(*)"), "task_number")
        .expr_as(sum("total_annotations"), "total_annotations_number")
        .expr_as(sum("cancelled_annotations"), "skipped_annotations_number")
        .expr_as(sum("total_predictions"), "total_predictions_number")
        .expr_as(
            sum("CASE WHEN total_annotations > 0 THEN 1 ELSE 0 END"),
            "num_tasks_with_annotations",
        )
        .expr_as(
            sum("CASE WHEN is_labeled THEN 1 ELSE 0 END"),
            "finished_task_number",
        )
        .expr_as(
            sum("CASE WHEN is_labeled THEN total_annotations ELSE 0 END"),
            "useful_annotation_number",
        )
        .from("tasks")
        .and_where(Expr::col("project_id").is_in(ids.to_vec()))
        .group_by_col("project_id")
        .to_owned();
    for row in db.query_all(&query).await? {
        let row = StatsRow::from_query_result(&row, "")?;
        let entry = out.entry(row.project_id).or_default();
        entry.task_number = row.task_number;
        entry.total_annotations_number = row.total_annotations_number.unwrap_or(0);
        entry.skipped_annotations_number = row.skipped_annotations_number.unwrap_or(0);
        entry.total_predictions_number = row.total_predictions_number.unwrap_or(0);
        entry.num_tasks_with_annotations = row.num_tasks_with_annotations.unwrap_or(0);
        entry.finished_task_number = row.finished_task_number.unwrap_or(0);
        entry.useful_annotation_number = row.useful_annotation_number.unwrap_or(0);
    }
    let gt = Query::select()
        .column("project_id")
        .expr_as(Expr::cust("COUNT(*)"), "n")
        .from("annotations")
        .and_where(Expr::col("project_id").is_in(ids.to_vec()))
        .and_where(Expr::col("ground_truth").eq(true))
        .and_where(Expr::col("was_cancelled").eq(false))
        .group_by_col("project_id")
        .to_owned();
    for row in db.query_all(&gt).await? {
        let row = CountRow::from_query_result(&row, "")?;
        out.entry(row.project_id).or_default().ground_truth_number = row.n;
    }
    Ok(out)
}

/// What an import did.
#[derive(Debug, Default)]
pub struct ImportOutcome {
    /// Ids of the new tasks, in input order.
    pub task_ids: Vec<i64>,
    /// Annotations created.
    pub annotation_count: usize,
    /// Predictions created.
    pub prediction_count: usize,
    /// Data keys seen across the tasks.
    pub data_columns: Vec<String>,
}

/// Records an import into `project` as one audit entry with its counts (not one per task).
async fn audit_import(
    db: &impl ConnectionTrait,
    caller: &AuthUser,
    project: &project::Model,
    outcome: &ImportOutcome,
) -> ApiResult<()> {
    let changes = audit::Changes::new()
        .value("tasks", outcome.task_ids.len())
        .value("annotations", outcome.annotation_count)
        .value("predictions", outcome.prediction_count);
    let action = entity::enums::AuditAction::Import;
    audit::record(db, caller, action, object(project), changes).await
}

/// Imports tasks (Label Studio's import format: bare data objects, or `{"data", "annotations",
/// "predictions", "meta"}`) into a project, all in one transaction: all or nothing. With
/// `commit` false the import is checked and counted, then rolled back.
pub async fn import<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    caller: &AuthUser,
    project_id: i64,
    body: serde_json::Value,
    commit: bool,
    ground_truth: bool,
) -> ApiResult<ImportOutcome> {
    let items = match body {
        serde_json::Value::Array(items) => items,
        object @ serde_json::Value::Object(_) => vec![object],
        _ => {
            return Err(ApiError::bad_request(
                ErrorCode::InvalidImport,
                "The import body must be a JSON list of tasks.",
            ));
        }
    };
    if items.is_empty() {
        return Err(ApiError::bad_request(
            ErrorCode::InvalidImport,
            "No tasks found in the request.",
        ));
    }
    if items.len() > crate::limits::MAX_IMPORT_TASKS {
        return Err(ApiError::field(
            "non_field_errors",
            format!(
                "An import has at most {} tasks; this one has {}: split it.",
                crate::limits::MAX_IMPORT_TASKS,
                items.len()
            ),
        ));
    }
    // Sizes and storable values, before the write transaction (a structured item's data is
    // its `data`, a bare one is the data itself).
    for (i, item) in items.iter().enumerate() {
        match item.get("data") {
            Some(data @ serde_json::Value::Object(_)) => {
                tasks::check_task_json(&format!("[{i}]."), Some(data), item.get("meta"))?;
                crate::util::check_storable_json(item, &format!("[{i}]"))?;
            }
            _ => {
                crate::limits::check_json_bytes(
                    &format!("[{i}]"),
                    item,
                    crate::limits::MAX_TASK_DATA_BYTES,
                )?;
                crate::util::check_storable_json(item, &format!("[{i}]"))?;
            }
        }
    }
    let txn = crate::db::begin_write(db).await?;
    let project = get(&txn, caller, project_id).await?;
    let config = config_of(&project);
    let mut new_tasks = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        new_tasks.push(
            tasks::NewTask::from_import(item, &config, ground_truth).map_err(|msg| {
                ApiError::bad_request(ErrorCode::InvalidImport, format!("Task #{}: {msg}", i + 1))
            })?,
        );
    }
    let outcome = tasks::insert_many(&txn, caller, &project, new_tasks).await?;
    audit_import(&txn, caller, &project, &outcome).await?;
    if commit {
        txn.commit().await?;
    } else {
        txn.rollback().await?;
    }
    Ok(outcome)
}

/// Ids of the caller's projects matching `filter` whose label config suits `skill`, in the
/// filter's order. Reads only ids and configs.
pub async fn compatible_ids(
    db: &impl ConnectionTrait,
    caller: &AuthUser,
    filter: &ListFilter,
    skill: crate::label_config::Skill,
) -> ApiResult<Vec<i64>> {
    let mut out = vec![];
    let mut page = 1;
    loop {
        let (items, total, _) = list(db, caller, filter, PageRequest::nth(page, 500)).await?;
        out.extend(
            items
                .iter()
                .filter(|p| config_of(p).is_compatible(skill))
                .map(|p| p.id),
        );
        if page * 500 >= total {
            return Ok(out);
        }
        page += 1;
    }
}

/// Projects by id, in the order of `ids`.
pub async fn by_ids_in_order(
    db: &impl ConnectionTrait,
    ids: &[i64],
) -> ApiResult<Vec<project::Model>> {
    let mut found: HashMap<i64, project::Model> = crate::db::in_chunks(ids, |chunk| {
        project::Entity::find()
            .filter(project::Column::Id.is_in(chunk))
            .all(db)
    })
    .await?
    .into_iter()
    .map(|p| (p.id, p))
    .collect();
    Ok(ids.iter().filter_map(|id| found.remove(id)).collect())
}
