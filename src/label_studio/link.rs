//! The connector to a Label Studio instance: a link from a Prompter project to a Label Studio
//! project (URL and token, the token sealed at rest), a background **sync** that imports the
//! Label Studio project's tasks and annotations, and a background **push** that writes a run's
//! predictions to the Label Studio tasks they belong to.
//!
//! - **Label config.** A link needs the two projects' label configs to agree. When the
//!   Prompter project has no tasks, it adopts Label Studio's config (at link time and again at
//!   each sync, so a config changed in Label Studio meanwhile is followed). When it has tasks,
//!   the parsed configs (controls, their targets, labels and inputs) must be equal, or the link
//!   is refused and a sync fails, naming the difference.
//! - **Sync** pages through the Label Studio task list (`fields=all`, 100 per page), upserts
//!   tasks by `ls_task_id` (data, meta) and annotations by `ls_annotation_id` (result,
//!   was_cancelled, ground_truth), one transaction per page, and recounts the tasks it touched.
//!   Rows whose content has not changed are not written, so a re-sync writes only what is new
//!   or changed. It deletes nothing: tasks and annotations deleted in Label Studio stay.
//! - **Push** lists the Label Studio project's predictions first and skips every task that
//!   already has one with the same `model_version`, so pushing twice (or again after a crash
//!   between a create and its bookkeeping) creates no duplicates; it records `ls_prediction_id`.
//!
//! A job is claimed atomically (a link runs one job at a time); a job that shows no progress for
//! [`STALE_AFTER`] (its server stopped) reads as failed and may be started again. Deleting the
//! link stops its running job at its next step. The token never appears in a response, an
//! error or a log line.
use crate::auth::AuthUser;
use crate::crypto::Secrets;
use crate::error::{ApiError, ApiResult};
use crate::label_config;
use crate::label_studio::client::{LsClient, LsError, LsProject, LsTask, PAGE_SIZE};
use crate::services::projects::{self, ProjectInput, config_of};
use crate::services::{counters, runs, tasks};
use chrono::Utc;
use entity::{annotation, label_studio_link as link, prediction, project, task};
use futures_util::stream::{self, StreamExt};
use sea_orm::ActiveValue::{NotSet, Set};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::time::Duration;
use utoipa::ToSchema;

/// A running job with no sign of life for this long is taken as interrupted.
pub const STALE_AFTER: Duration = Duration::from_secs(300);
/// Predictions pushed to Label Studio at once.
const PUSH_CONCURRENCY: usize = 8;
/// Predictions of a run read (and their progress recorded) per step of a push.
const PUSH_PAGE: u64 = 200;
/// The longest token accepted.
const MAX_TOKEN_LEN: usize = 4096;

/// Link statuses.
pub mod status {
    /// No job running.
    pub const IDLE: &str = "idle";
    /// A job is running.
    pub const RUNNING: &str = "running";
    /// The last job failed (see `last_error`).
    pub const FAILED: &str = "failed";
}

/// Job names.
pub mod job {
    /// Import tasks and annotations from Label Studio.
    pub const SYNC: &str = "sync";
    /// Push a run's predictions to Label Studio.
    pub const PUSH: &str = "push";
}

/// A link, or the fields of a link to change (PATCH). The token is write-only.
#[derive(Default, Deserialize, ToSchema)]
pub struct LinkInput {
    /// The Label Studio instance's base URL, `http(s)://host[:port][/path]`.
    pub url: Option<String>,
    /// A Label Studio API token (legacy token, sent as `Authorization: Token <token>`).
    /// Write-only: stored encrypted, never returned.
    #[schema(write_only)]
    pub token: Option<String>,
    /// The Label Studio project id.
    pub ls_project: Option<i64>,
}

impl std::fmt::Debug for LinkInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LinkInput")
            .field("url", &self.url)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("ls_project", &self.ls_project)
            .finish()
    }
}

/// Which imported annotations count as ground truth.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum GroundTruthMode {
    /// Every non-cancelled annotation (Label Studio users rarely set the flag).
    #[default]
    All,
    /// Only annotations Label Studio flags as ground truth.
    Flagged,
}

/// Options of a sync.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct SyncInput {
    /// `all` (default) or `flagged`.
    pub ground_truth: Option<GroundTruthMode>,
}

/// What to push.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct PushInput {
    /// The inference run whose predictions to push (a run on this project).
    pub run: Option<i64>,
    /// Same as `run`.
    pub model_run: Option<i64>,
}

/// Rows of the Prompter project that are tied to Label Studio objects.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct LinkedCounts {
    /// Tasks synced from Label Studio (with a Label Studio task id).
    pub tasks: i64,
    /// Annotations synced from Label Studio.
    pub annotations: i64,
    /// Predictions pushed to Label Studio (with a Label Studio prediction id).
    pub predictions: i64,
}

/// The link of project `project_id` (which must be the caller's), or 404.
pub async fn get(
    db: &impl ConnectionTrait,
    caller: &AuthUser,
    project_id: i64,
) -> ApiResult<link::Model> {
    Ok(get_with_project(db, caller, project_id).await?.1)
}

async fn get_with_project(
    db: &impl ConnectionTrait,
    caller: &AuthUser,
    project_id: i64,
) -> ApiResult<(project::Model, link::Model)> {
    let project = projects::get(db, caller, project_id).await?;
    let found = link::Entity::find()
        .filter(link::Column::ProjectId.eq(project.id))
        .filter(link::Column::OrganizationId.eq(caller.organization_id))
        .one(db)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok((project, found))
}

/// Whether `l` claims to run a job that has shown no sign of life for [`STALE_AFTER`].
pub fn is_stale(l: &link::Model) -> bool {
    l.status == status::RUNNING && Utc::now() - l.updated_at > stale_delta()
}

fn stale_delta() -> chrono::Duration {
    chrono::Duration::from_std(STALE_AFTER).unwrap_or(chrono::Duration::minutes(5))
}

/// How many rows of the project are tied to Label Studio objects.
pub async fn linked_counts(db: &impl ConnectionTrait, project_id: i64) -> ApiResult<LinkedCounts> {
    let tasks = task::Entity::find()
        .filter(task::Column::ProjectId.eq(project_id))
        .filter(task::Column::LsTaskId.is_not_null())
        .count(db)
        .await?;
    let annotations = annotation::Entity::find()
        .filter(annotation::Column::ProjectId.eq(project_id))
        .filter(annotation::Column::LsAnnotationId.is_not_null())
        .count(db)
        .await?;
    let predictions = prediction::Entity::find()
        .filter(prediction::Column::ProjectId.eq(project_id))
        .filter(prediction::Column::LsPredictionId.is_not_null())
        .count(db)
        .await?;
    Ok(LinkedCounts {
        tasks: tasks as i64,
        annotations: annotations as i64,
        predictions: predictions as i64,
    })
}

fn check_url(raw: &str) -> ApiResult<String> {
    if raw.chars().count() > 2048 {
        return Err(ApiError::field(
            "url",
            "Ensure this field has no more than 2048 characters.",
        ));
    }
    crate::label_studio::client::normalize_base_url(raw).map_err(|m| ApiError::field("url", m))
}

fn check_token(raw: &str) -> ApiResult<String> {
    let token = raw.trim();
    if token.is_empty() {
        return Err(ApiError::field("token", "This field may not be blank."));
    }
    if token.len() > MAX_TOKEN_LEN || token.chars().any(char::is_whitespace) {
        return Err(ApiError::field(
            "token",
            "This is not a Label Studio token.",
        ));
    }
    Ok(token.to_string())
}

fn check_ls_project(id: i64) -> ApiResult<i64> {
    if id < 1 {
        return Err(ApiError::field(
            "ls_project",
            "Ensure this value is greater than or equal to 1.",
        ));
    }
    Ok(id)
}

/// Asks Label Studio for the project with the token; maps its answers to the link's fields.
async fn verify(client: &LsClient, ls_project: i64) -> ApiResult<LsProject> {
    client.project(ls_project).await.map_err(|err| match err {
        LsError::Unauthorized(status) => ApiError::field(
            "token",
            format!("Label Studio refused this token ({status})."),
        ),
        LsError::NotFound => ApiError::field(
            "ls_project",
            format!("Label Studio has no project {ls_project} this token can read."),
        ),
        LsError::Unreachable { .. } => {
            ApiError::bad_request("label_studio_unreachable", err.to_string())
        }
        LsError::Status { .. } | LsError::Invalid(_) => {
            ApiError::bad_request("label_studio_error", err.to_string())
        }
    })
}

/// Makes the project's label config agree with Label Studio's (see the module notes); `Err`
/// says why it cannot.
async fn reconcile_config(
    db: &DatabaseConnection,
    caller: &AuthUser,
    project: &project::Model,
    ls: &LsProject,
) -> Result<(), String> {
    let theirs_xml = ls.label_config.as_deref().unwrap_or_default();
    let theirs = label_config::parse(theirs_xml);
    let has_tasks = task::Entity::find()
        .filter(task::Column::ProjectId.eq(project.id))
        .count(db)
        .await
        .map_err(|e| e.to_string())?
        > 0;
    if !has_tasks {
        theirs.map_err(|e| {
            format!(
                "The label config of Label Studio project {} cannot be used here: {e}",
                ls.id
            )
        })?;
        if project.label_config.trim() != theirs_xml.trim() {
            let input = ProjectInput {
                label_config: Some(theirs_xml.to_string()),
                ..Default::default()
            };
            projects::update(db, caller, project.id, input)
                .await
                .map_err(|e| format!("The label config could not be adopted: {e}"))?;
        }
        return Ok(());
    }
    let ours = config_of(project).parsed_label_config();
    match theirs {
        Ok(theirs) if theirs.parsed_label_config() == ours => Ok(()),
        _ => Err(format!(
            "The label config of Label Studio project {} differs from this project's, which \
             already has tasks: make them equal (PATCH the project's label_config), or link a \
             project without tasks, which adopts Label Studio's.",
            ls.id
        )),
    }
}

/// Links project `project_id` to a Label Studio project, after Label Studio accepted the
/// token and showed the project.
pub async fn create(
    db: &DatabaseConnection,
    secrets: &Secrets,
    caller: &AuthUser,
    project_id: i64,
    input: LinkInput,
) -> ApiResult<link::Model> {
    let project = projects::get(db, caller, project_id).await?;
    let required = |field: &str| ApiError::field(field, "This field is required.");
    let url = check_url(input.url.as_deref().ok_or_else(|| required("url"))?)?;
    let token = check_token(input.token.as_deref().ok_or_else(|| required("token"))?)?;
    let ls_project = check_ls_project(input.ls_project.ok_or_else(|| required("ls_project"))?)?;
    let exists = link::Entity::find()
        .filter(link::Column::ProjectId.eq(project.id))
        .count(db)
        .await?
        > 0;
    if exists {
        return Err(already_linked(project.id));
    }
    let ls = verify(&LsClient::new(&url, &token), ls_project).await?;
    reconcile_config(db, caller, &project, &ls)
        .await
        .map_err(|m| ApiError::field("ls_project", m))?;
    let now = crate::util::now();
    let created = link::ActiveModel {
        id: NotSet,
        organization_id: Set(caller.organization_id),
        project_id: Set(project.id),
        url: Set(url),
        token_enc: Set(secrets.seal(&token)),
        ls_project_id: Set(ls_project),
        status: Set(status::IDLE.into()),
        job: Set(None),
        progress_done: Set(0),
        progress_total: Set(0),
        last_error: Set(None),
        last_synced_at: Set(None),
        created_by_id: Set(Some(caller.user.id)),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await
    .map_err(|e| match ApiError::from(e) {
        err @ ApiError::Database(_) if err.code() == "unique_violation" => {
            already_linked(project.id)
        }
        err => err,
    })?;
    Ok(created)
}

fn already_linked(project_id: i64) -> ApiError {
    ApiError::bad_request(
        "already_linked",
        format!(
            "Project {project_id} is already linked to a Label Studio project; \
             PATCH or DELETE that link first."
        ),
    )
}

fn job_running() -> ApiError {
    ApiError::bad_request(
        "job_running",
        "A sync or push of this link is running; wait for it to end.",
    )
}

fn open_token(secrets: &Secrets, l: &link::Model) -> ApiResult<String> {
    secrets.open(&l.token_enc).map_err(|_| {
        ApiError::bad_request(
            "token_unreadable",
            "The stored Label Studio token cannot be decrypted (was PROMPTER_SECRET_KEY \
             changed?); PATCH the link with the token again.",
        )
    })
}

/// Changes a link's URL, token or Label Studio project; whatever changes is checked with Label
/// Studio first. The Label Studio project of a Prompter project that holds synced tasks cannot
/// change (their ids belong to the first one).
pub async fn update(
    db: &DatabaseConnection,
    secrets: &Secrets,
    caller: &AuthUser,
    project_id: i64,
    input: LinkInput,
) -> ApiResult<link::Model> {
    let (project, existing) = get_with_project(db, caller, project_id).await?;
    if existing.status == status::RUNNING && !is_stale(&existing) {
        return Err(job_running());
    }
    if input.url.is_none() && input.token.is_none() && input.ls_project.is_none() {
        return Ok(existing);
    }
    let url = match input.url.as_deref() {
        Some(raw) => check_url(raw)?,
        None => existing.url.clone(),
    };
    let new_token = input.token.as_deref().map(check_token).transpose()?;
    let token = match &new_token {
        Some(t) => t.clone(),
        None => open_token(secrets, &existing)?,
    };
    let ls_project = match input.ls_project {
        Some(id) => check_ls_project(id)?,
        None => existing.ls_project_id,
    };
    if ls_project != existing.ls_project_id {
        let synced = task::Entity::find()
            .filter(task::Column::ProjectId.eq(project.id))
            .filter(task::Column::LsTaskId.is_not_null())
            .count(db)
            .await?;
        if synced > 0 {
            return Err(ApiError::field(
                "ls_project",
                format!(
                    "This project holds {synced} tasks synced from Label Studio project {}; \
                     link another Prompter project to a different Label Studio project.",
                    existing.ls_project_id
                ),
            ));
        }
    }
    let ls = verify(&LsClient::new(&url, &token), ls_project).await?;
    reconcile_config(db, caller, &project, &ls)
        .await
        .map_err(|m| ApiError::field("ls_project", m))?;
    let mut model: link::ActiveModel = existing.into();
    model.url = Set(url);
    if let Some(token) = new_token {
        model.token_enc = Set(secrets.seal(&token));
    }
    model.ls_project_id = Set(ls_project);
    model.updated_at = Set(crate::util::now());
    Ok(model.update(db).await?)
}

/// Removes a link (its running job stops at its next step). Synced rows keep their Label
/// Studio ids, so linking the same Label Studio project again continues where it was.
pub async fn delete(
    db: &impl ConnectionTrait,
    caller: &AuthUser,
    project_id: i64,
) -> ApiResult<()> {
    let found = get(db, caller, project_id).await?;
    link::Entity::delete_by_id(found.id).exec(db).await?;
    Ok(())
}

/// Marks the link as running `job` unless another job runs: one conditional UPDATE, so two
/// concurrent requests cannot both start.
async fn claim(db: &DatabaseConnection, link_id: i64, job: &str) -> ApiResult<link::Model> {
    let now = crate::util::now();
    let claimed = link::Entity::update_many()
        .col_expr(link::Column::Status, Expr::value(status::RUNNING))
        .col_expr(link::Column::Job, Expr::value(job))
        .col_expr(link::Column::ProgressDone, Expr::value(0i64))
        .col_expr(link::Column::ProgressTotal, Expr::value(0i64))
        .col_expr(link::Column::LastError, Expr::value(Option::<String>::None))
        .col_expr(link::Column::UpdatedAt, Expr::value(now))
        .filter(link::Column::Id.eq(link_id))
        .filter(
            Condition::any()
                .add(link::Column::Status.ne(status::RUNNING))
                .add(link::Column::UpdatedAt.lt(now - stale_delta())),
        )
        .exec(db)
        .await?;
    if claimed.rows_affected == 0 {
        return Err(job_running());
    }
    link::Entity::find_by_id(link_id)
        .one(db)
        .await?
        .ok_or(ApiError::NotFound)
}

/// Records a running job's progress (and its sign of life). `Err` when the link is gone or no
/// longer runs this job: the job stops.
async fn progress(
    db: &DatabaseConnection,
    link_id: i64,
    done: i64,
    total: i64,
) -> Result<(), String> {
    let updated = link::Entity::update_many()
        .col_expr(link::Column::ProgressDone, Expr::value(done))
        .col_expr(link::Column::ProgressTotal, Expr::value(total))
        .col_expr(link::Column::UpdatedAt, Expr::value(crate::util::now()))
        .filter(link::Column::Id.eq(link_id))
        .filter(link::Column::Status.eq(status::RUNNING))
        .exec(db)
        .await
        .map_err(|e| format!("database error: {e}"))?;
    if updated.rows_affected == 0 {
        return Err("the link was deleted or its job was stopped".into());
    }
    Ok(())
}

/// Ends a job: `idle` (and, for a sync, `last_synced_at`) on success, `failed` with the reason
/// otherwise.
async fn finish(
    db: &DatabaseConnection,
    l: &link::Model,
    job: &str,
    outcome: Result<String, String>,
) {
    let now = crate::util::now();
    let mut update = link::Entity::update_many()
        .col_expr(link::Column::UpdatedAt, Expr::value(now))
        .filter(link::Column::Id.eq(l.id))
        .filter(link::Column::Status.eq(status::RUNNING));
    match &outcome {
        Ok(summary) => {
            tracing::info!(link = l.id, project = l.project_id, job, "{summary}");
            update = update
                .col_expr(link::Column::Status, Expr::value(status::IDLE))
                .col_expr(link::Column::LastError, Expr::value(Option::<String>::None));
            if job == self::job::SYNC {
                update = update.col_expr(link::Column::LastSyncedAt, Expr::value(now));
            }
        }
        Err(reason) => {
            tracing::warn!(link = l.id, project = l.project_id, job, error = %reason, "Label Studio job failed");
            let reason: String = reason.chars().take(4000).collect();
            update = update
                .col_expr(link::Column::Status, Expr::value(status::FAILED))
                .col_expr(link::Column::LastError, Expr::value(reason));
        }
    }
    if let Err(err) = update.exec(db).await {
        tracing::error!(link = l.id, error = %err, "could not record the end of a Label Studio job");
    }
}

/// Starts a sync in the background and returns the link, now running.
pub async fn start_sync(
    db: &DatabaseConnection,
    secrets: &Secrets,
    caller: &AuthUser,
    project_id: i64,
    input: SyncInput,
) -> ApiResult<link::Model> {
    let existing = get(db, caller, project_id).await?;
    let token = open_token(secrets, &existing)?;
    let claimed = claim(db, existing.id, job::SYNC).await?;
    let mode = input.ground_truth.unwrap_or_default();
    let (db, caller, l) = (db.clone(), caller.clone(), claimed.clone());
    tokio::spawn(async move {
        let outcome = sync(&db, &caller, &l, &token, mode).await;
        finish(&db, &l, job::SYNC, outcome).await;
    });
    Ok(claimed)
}

/// What a page of a sync wrote.
#[derive(Debug, Default)]
struct SyncStats {
    tasks_read: u64,
    tasks_created: u64,
    tasks_updated: u64,
    annotations_created: u64,
    annotations_updated: u64,
}

fn describe(err: LsError, ls_project: i64) -> String {
    match err {
        LsError::NotFound => {
            format!("Label Studio has no project {ls_project} this token can read")
        }
        other => other.to_string(),
    }
}

async fn sync(
    db: &DatabaseConnection,
    caller: &AuthUser,
    l: &link::Model,
    token: &str,
    mode: GroundTruthMode,
) -> Result<String, String> {
    let client = LsClient::new(&l.url, token);
    let ls = client
        .project(l.ls_project_id)
        .await
        .map_err(|e| describe(e, l.ls_project_id))?;
    let find_project = || async {
        project::Entity::find_by_id(l.project_id)
            .one(db)
            .await
            .map_err(|e| format!("database error: {e}"))?
            .ok_or_else(|| "the project was deleted".to_string())
    };
    reconcile_config(db, caller, &find_project().await?, &ls).await?;
    // Read again: adopting a config touched the row.
    let project = find_project().await?;
    let mut stats = SyncStats::default();
    let mut page = 1u64;
    loop {
        let Some(found) = client
            .tasks_page(l.ls_project_id, page, PAGE_SIZE)
            .await
            .map_err(|e| describe(e, l.ls_project_id))?
        else {
            break;
        };
        let count = found.tasks.len() as u64;
        if count == 0 {
            break;
        }
        apply_page(db, caller, &project, found.tasks, mode, &mut stats)
            .await
            .map_err(|e| format!("the page {page} of tasks could not be written: {e}"))?;
        stats.tasks_read += count;
        let total = found.total.unwrap_or(0).max(stats.tasks_read);
        progress(db, l.id, stats.tasks_read as i64, total as i64).await?;
        if stats.tasks_read >= total || count < PAGE_SIZE {
            break;
        }
        page += 1;
    }
    progress(db, l.id, stats.tasks_read as i64, stats.tasks_read as i64).await?;
    Ok(format!(
        "sync: {} tasks read; {} tasks created, {} updated; {} annotations created, {} updated",
        stats.tasks_read,
        stats.tasks_created,
        stats.tasks_updated,
        stats.annotations_created,
        stats.annotations_updated
    ))
}

/// Equality of JSON values with numbers compared by value (`1.0` equals `1`), as PostgreSQL's
/// `jsonb` may give numbers back in another form than they were sent.
fn same_json(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(x), Some(y)) => x == y,
            _ => x.as_f64() == y.as_f64(),
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same_json(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| same_json(v, w)))
        }
        _ => a == b,
    }
}

/// Sets `column` of the rows of `table` by id, in one statement per 500 rows.
async fn set_ids(
    db: &impl ConnectionTrait,
    table: &str,
    column: &str,
    pairs: &[(i64, i64)],
) -> Result<(), sea_orm::DbErr> {
    for chunk in pairs.chunks(500) {
        let cases: String = chunk
            .iter()
            .map(|(id, value)| format!(" WHEN {id} THEN {value}"))
            .collect();
        let ids = chunk
            .iter()
            .map(|(id, _)| id.to_string())
            .collect::<Vec<_>>()
            .join(",");
        db.execute_unprepared(&format!(
            "UPDATE {table} SET {column} = CASE id{cases} END WHERE id IN ({ids})"
        ))
        .await?;
    }
    Ok(())
}

/// Writes one page of Label Studio tasks in one transaction: new tasks and annotations are
/// inserted, changed ones updated, unchanged ones left alone; touched tasks are recounted.
async fn apply_page(
    db: &DatabaseConnection,
    caller: &AuthUser,
    project: &project::Model,
    page: Vec<LsTask>,
    mode: GroundTruthMode,
    stats: &mut SyncStats,
) -> ApiResult<()> {
    let txn = crate::db::begin_write(db).await?;
    let ls_ids: Vec<i64> = page.iter().map(|t| t.id).collect();
    let existing: HashMap<i64, task::Model> = task::Entity::find()
        .filter(task::Column::ProjectId.eq(project.id))
        .filter(task::Column::LsTaskId.is_in(ls_ids))
        .all(&txn)
        .await?
        .into_iter()
        .filter_map(|t| Some((t.ls_task_id?, t)))
        .collect();
    let now = crate::util::now();
    let mut task_of: HashMap<i64, i64> = HashMap::new();
    let (mut new_tasks, mut new_ls_ids) = (vec![], vec![]);
    for t in &page {
        let meta = t
            .meta
            .clone()
            .filter(|m| !m.is_null())
            .unwrap_or_else(|| json!({}));
        match existing.get(&t.id) {
            Some(row) => {
                task_of.insert(t.id, row.id);
                if !same_json(&row.data, &t.data) || !same_json(&row.meta, &meta) {
                    let mut model: task::ActiveModel = row.clone().into();
                    model.data = Set(t.data.clone());
                    model.meta = Set(meta);
                    model.updated_at = Set(now);
                    model.update(&txn).await?;
                    stats.tasks_updated += 1;
                }
            }
            None => {
                new_tasks.push(tasks::NewTask::plain(t.data.clone(), meta));
                new_ls_ids.push(t.id);
            }
        }
    }
    if !new_tasks.is_empty() {
        let outcome = tasks::insert_many(&txn, caller, project, new_tasks).await?;
        let pairs: Vec<(i64, i64)> = outcome.task_ids.into_iter().zip(new_ls_ids).collect();
        set_ids(&txn, "tasks", "ls_task_id", &pairs).await?;
        stats.tasks_created += pairs.len() as u64;
        task_of.extend(pairs.into_iter().map(|(id, ls)| (ls, id)));
    }
    let ls_annotation_ids: Vec<i64> = page
        .iter()
        .flat_map(|t| t.annotations.iter().map(|a| a.id))
        .collect();
    let mut existing: HashMap<i64, annotation::Model> = HashMap::new();
    for chunk in ls_annotation_ids.chunks(500) {
        for a in annotation::Entity::find()
            .filter(annotation::Column::ProjectId.eq(project.id))
            .filter(annotation::Column::LsAnnotationId.is_in(chunk.to_vec()))
            .all(&txn)
            .await?
        {
            if let Some(ls) = a.ls_annotation_id {
                existing.insert(ls, a);
            }
        }
    }
    let mut touched = vec![];
    let mut new_rows = vec![];
    for t in &page {
        let Some(&task_id) = task_of.get(&t.id) else {
            continue;
        };
        for a in &t.annotations {
            let result = match &a.result {
                Some(v @ Value::Array(_)) => v.clone(),
                _ => json!([]),
            };
            let ground_truth = match mode {
                GroundTruthMode::All => !a.was_cancelled,
                GroundTruthMode::Flagged => a.ground_truth,
            };
            match existing.get(&a.id) {
                Some(row) => {
                    if !same_json(&row.result, &result)
                        || row.was_cancelled != a.was_cancelled
                        || row.ground_truth != ground_truth
                    {
                        let mut model: annotation::ActiveModel = row.clone().into();
                        model.result = Set(result);
                        model.was_cancelled = Set(a.was_cancelled);
                        model.ground_truth = Set(ground_truth);
                        model.lead_time = Set(a.lead_time);
                        model.last_action = Set(Some("updated".into()));
                        model.updated_by_id = Set(Some(caller.user.id));
                        model.updated_at = Set(now);
                        model.update(&txn).await?;
                        touched.push(row.task_id);
                        stats.annotations_updated += 1;
                    }
                }
                None => {
                    new_rows.push(annotation::ActiveModel {
                        id: NotSet,
                        task_id: Set(task_id),
                        project_id: Set(project.id),
                        result: Set(result),
                        was_cancelled: Set(a.was_cancelled),
                        ground_truth: Set(ground_truth),
                        lead_time: Set(a.lead_time),
                        completed_by_id: Set(Some(caller.user.id)),
                        updated_by_id: Set(Some(caller.user.id)),
                        parent_prediction_id: Set(None),
                        parent_annotation_id: Set(None),
                        last_action: Set(Some("imported".into())),
                        ls_annotation_id: Set(Some(a.id)),
                        created_at: Set(now),
                        updated_at: Set(now),
                    });
                    touched.push(task_id);
                }
            }
        }
    }
    stats.annotations_created += new_rows.len() as u64;
    for chunk in crate::util::chunked(new_rows, 500) {
        annotation::Entity::insert_many(chunk)
            .exec_without_returning(&txn)
            .await?;
    }
    counters::recount_tasks(&txn, &touched).await?;
    txn.commit().await?;
    Ok(())
}

/// Starts pushing a run's predictions in the background and returns the link, now running.
pub async fn start_push(
    db: &DatabaseConnection,
    secrets: &Secrets,
    caller: &AuthUser,
    project_id: i64,
    input: PushInput,
) -> ApiResult<link::Model> {
    let run_id = input
        .run
        .or(input.model_run)
        .ok_or_else(|| ApiError::field("run", "This field is required."))?;
    let existing = get(db, caller, project_id).await?;
    let run = runs::get(db, caller, run_id)
        .await
        .map_err(|e| e.not_found_as_field("run", run_id))?;
    if run.project_id != existing.project_id {
        return Err(ApiError::field(
            "run",
            format!("Run {run_id} is not a run on project {project_id}."),
        ));
    }
    let token = open_token(secrets, &existing)?;
    let claimed = claim(db, existing.id, job::PUSH).await?;
    let (db, l) = (db.clone(), claimed.clone());
    tokio::spawn(async move {
        let outcome = push(&db, &l, &token, run_id).await;
        finish(&db, &l, job::PUSH, outcome).await;
    });
    Ok(claimed)
}

/// What a push did.
#[derive(Debug, Default)]
struct PushStats {
    created: u64,
    existing: u64,
    skipped: u64,
    refused: u64,
    first_refusal: Option<String>,
}

async fn push(
    db: &DatabaseConnection,
    l: &link::Model,
    token: &str,
    run_id: i64,
) -> Result<String, String> {
    let db_err = |e: sea_orm::DbErr| format!("database error: {e}");
    let client = LsClient::new(&l.url, token);
    let of_run = || prediction::Entity::find().filter(prediction::Column::ModelRunId.eq(run_id));
    let total = of_run().count(db).await.map_err(db_err)? as i64;
    progress(db, l.id, 0, total).await?;
    // What Label Studio already has decides what to create: this makes pushes idempotent even
    // when our bookkeeping of an earlier push was lost.
    let mut in_ls: HashMap<(i64, String), i64> = client
        .predictions(l.ls_project_id)
        .await
        .map_err(|e| describe(e, l.ls_project_id))?
        .into_iter()
        .map(|p| ((p.task, p.model_version.unwrap_or_default()), p.id))
        .collect();
    let mut stats = PushStats::default();
    let (mut after, mut done) = (0i64, 0i64);
    loop {
        let page = of_run()
            .filter(prediction::Column::Id.gt(after))
            .order_by_asc(prediction::Column::Id)
            .limit(PUSH_PAGE)
            .all(db)
            .await
            .map_err(db_err)?;
        let Some(last) = page.last() else {
            break;
        };
        after = last.id;
        let task_ids: Vec<i64> = page.iter().map(|p| p.task_id).collect();
        let ls_task: HashMap<i64, i64> = task::Entity::find()
            .select_only()
            .columns([task::Column::Id, task::Column::LsTaskId])
            .filter(task::Column::Id.is_in(task_ids))
            .into_tuple::<(i64, Option<i64>)>()
            .all(db)
            .await
            .map_err(db_err)?
            .into_iter()
            .filter_map(|(id, ls)| Some((id, ls?)))
            .collect();
        let mut records: Vec<(i64, i64)> = vec![];
        let mut to_create = vec![];
        for p in &page {
            let Some(&ls_task_id) = ls_task.get(&p.task_id) else {
                stats.skipped += 1;
                continue;
            };
            match in_ls.get(&(ls_task_id, p.model_version.clone())) {
                Some(&ls_id) => {
                    stats.existing += 1;
                    if p.ls_prediction_id != Some(ls_id) {
                        records.push((p.id, ls_id));
                    }
                }
                None => to_create.push((
                    p.id,
                    ls_task_id,
                    p.result.clone(),
                    p.score,
                    p.model_version.clone(),
                )),
            }
        }
        let ls_project = l.ls_project_id;
        let outcomes: Vec<_> = stream::iter(to_create)
            .map(|(id, ls_task_id, result, score, model_version)| {
                let client = client.clone();
                async move {
                    let created = client
                        .create_prediction(ls_project, ls_task_id, &result, score, &model_version)
                        .await;
                    (id, ls_task_id, model_version, created)
                }
            })
            .buffer_unordered(PUSH_CONCURRENCY)
            .collect()
            .await;
        let mut fatal = None;
        for (id, ls_task_id, model_version, created) in outcomes {
            match created {
                Ok(ls_id) => {
                    stats.created += 1;
                    records.push((id, ls_id));
                    in_ls.insert((ls_task_id, model_version), ls_id);
                }
                Err(err @ (LsError::Unauthorized(_) | LsError::Unreachable { .. })) => {
                    fatal.get_or_insert(err.to_string());
                }
                Err(err) => {
                    stats.refused += 1;
                    stats
                        .first_refusal
                        .get_or_insert_with(|| format!("task {ls_task_id}: {err}"));
                }
            }
        }
        // Bookkeeping of what was created, even when the page ends in a fatal error.
        set_ids(db, "predictions", "ls_prediction_id", &records)
            .await
            .map_err(db_err)?;
        if let Some(fatal) = fatal {
            return Err(format!(
                "{fatal} (pushed {} predictions before the failure; pushing again continues)",
                stats.created
            ));
        }
        done += page.len() as i64;
        progress(db, l.id, done, total.max(done)).await?;
    }
    let summary = format!(
        "push of run {run_id}: {} predictions created in Label Studio, {} already there, \
         {} skipped (their tasks were not synced from Label Studio)",
        stats.created, stats.existing, stats.skipped
    );
    match stats.first_refusal {
        Some(first) => Err(format!(
            "Label Studio refused {} predictions (the first: {first}); {summary}",
            stats.refused
        )),
        None => Ok(summary),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_equality_ignores_number_forms_and_key_order() {
        assert!(same_json(
            &json!({"a": 1, "b": [1.0]}),
            &json!({"b": [1], "a": 1.0})
        ));
        assert!(!same_json(&json!({"a": 1}), &json!({"a": 2})));
        assert!(!same_json(&json!({"a": 1}), &json!({"a": 1, "b": null})));
        assert!(!same_json(&json!([1, 2]), &json!([2, 1])));
    }

    #[test]
    fn link_input_debug_hides_the_token() {
        let input = LinkInput {
            url: Some("http://x".into()),
            token: Some("tok-secret".into()),
            ls_project: Some(1),
        };
        assert!(!format!("{input:?}").contains("tok-secret"));
    }
}
