//! A project's link to a Label Studio project: get, create, update and delete it, with the
//! checks of its URL, token and Label Studio project, and the agreement of the two label
//! configs.
use super::client::{LsClient, LsError, LsProject};
use super::jobs::{job_running, open_token};
use crate::auth::AuthUser;
use crate::crypto::Secrets;
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::label_config;
use crate::services::audit;
use crate::services::projects::{self, config_of};
use crate::views::label_studio::{LinkInput, LinkedCounts};
use entity::enums::LinkStatus;
use entity::{annotation, label_studio_link as link, prediction, project, task};
use sea_orm::ActiveValue::{NotSet, Set};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait,
    PaginatorTrait, QueryFilter,
};

/// The longest token accepted.
const MAX_TOKEN_LEN: usize = 4096;

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

/// The links of the caller's `project_ids` that have one, by project.
pub async fn links_of(
    db: &impl ConnectionTrait,
    caller: &AuthUser,
    project_ids: &[i64],
) -> ApiResult<std::collections::HashMap<i64, link::Model>> {
    let owned: Vec<i64> = project::Entity::find()
        .filter(project::Column::Id.is_in(project_ids.to_vec()))
        .filter(project::Column::OrganizationId.eq(caller.organization_id))
        .all(db)
        .await?
        .into_iter()
        .map(|p| p.id)
        .collect();
    Ok(link::Entity::find()
        .filter(link::Column::ProjectId.is_in(owned))
        .all(db)
        .await?
        .into_iter()
        .map(|l| (l.project_id, l))
        .collect())
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
            ApiError::bad_request(ErrorCode::LabelStudioUnreachable, err.to_string())
        }
        LsError::Status { .. } | LsError::Invalid(_) => {
            ApiError::bad_request(ErrorCode::LabelStudioError, err.to_string())
        }
    })
}

/// Makes the project's label config agree with Label Studio's (see the module notes); `Err`
/// says why it cannot.
pub(super) async fn reconcile_config(
    db: &DatabaseConnection,
    caller: &AuthUser,
    project: &project::Model,
    ls: &LsProject,
) -> Result<(), String> {
    let theirs_xml = ls.label_config.as_deref().unwrap_or_default();
    let has_tasks = task::Entity::find()
        .filter(task::Column::ProjectId.eq(project.id))
        .count(db)
        .await
        .map_err(|e| e.to_string())?
        > 0;
    if !has_tasks {
        if project.label_config.trim() != theirs_xml.trim() {
            projects::adopt_label_config(db, caller, project.id, theirs_xml)
                .await
                .map_err(|e| {
                    format!(
                        "The label config of Label Studio project {} cannot be used here: {e}",
                        ls.id
                    )
                })?;
        }
        return Ok(());
    }
    let ours = config_of(project).parsed_label_config();
    // Read as this project's own config is: a tag Prompter does not know only warns here.
    match label_config::parse_tolerant(theirs_xml) {
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
    http: &crate::outbound::Outbound,
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
    let ls = verify(&LsClient::new(http, &url, &token), ls_project).await?;
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
        status: Set(LinkStatus::Idle),
        job: Set(None),
        progress_done: Set(0),
        progress_total: Set(0),
        last_error: Set(None),
        last_synced_at: Set(None),
        created_by_id: Set(Some(caller.user.id)),
        created_at: Set(now),
        updated_at: Set(now),
    };
    let txn = crate::db::begin_write(db).await?;
    let created = created
        .insert(&txn)
        .await
        .map_err(|e| match ApiError::from(e) {
            err @ ApiError::Database(_) if err.code() == ErrorCode::UniqueViolation => {
                already_linked(project.id)
            }
            err => err,
        })?;
    audit::created(&txn, caller, object(&created), &created).await?;
    sea_orm::TransactionSession::commit(txn).await?;
    Ok(created)
}

/// A link as the audit log names it.
fn object(l: &link::Model) -> audit::Object {
    let title = format!("Label Studio link of project {}", l.project_id);
    audit::Object::new(entity::enums::AuditObject::LabelStudioLink, l.id, title)
}

fn already_linked(project_id: i64) -> ApiError {
    ApiError::bad_request(
        ErrorCode::AlreadyLinked,
        format!(
            "Project {project_id} is already linked to a Label Studio project; \
             PATCH or DELETE that link first."
        ),
    )
}

/// Changes a link's URL, token or Label Studio project; whatever changes is checked with Label
/// Studio first. The Label Studio project of a Prompter project that holds synced tasks cannot
/// change (their ids belong to the first one).
pub async fn update(
    db: &DatabaseConnection,
    secrets: &Secrets,
    http: &crate::outbound::Outbound,
    caller: &AuthUser,
    project_id: i64,
    input: LinkInput,
) -> ApiResult<link::Model> {
    let (project, existing) = get_with_project(db, caller, project_id).await?;
    if existing.status == LinkStatus::Running {
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
    let ls = verify(&LsClient::new(http, &url, &token), ls_project).await?;
    reconcile_config(db, caller, &project, &ls)
        .await
        .map_err(|m| ApiError::field("ls_project", m))?;
    let before = existing.clone();
    let mut model: link::ActiveModel = existing.into();
    model.url = Set(url);
    if let Some(token) = new_token {
        model.token_enc = Set(secrets.seal(&token));
    }
    model.ls_project_id = Set(ls_project);
    model.updated_at = Set(crate::util::now());
    let txn = crate::db::begin_write(db).await?;
    let updated = model.update(&txn).await?;
    audit::updated(&txn, caller, object(&updated), &before, &updated).await?;
    sea_orm::TransactionSession::commit(txn).await?;
    Ok(updated)
}

/// Removes a link (its running job stops at its next step). Synced rows keep their Label
/// Studio ids, so linking the same Label Studio project again continues where it was.
pub async fn delete<C: ConnectionTrait + sea_orm::TransactionTrait>(
    db: &C,
    caller: &AuthUser,
    project_id: i64,
) -> ApiResult<()> {
    let txn = crate::db::begin_write(db).await?;
    let found = get(&txn, caller, project_id).await?;
    link::Entity::delete_by_id(found.id).exec(&txn).await?;
    audit::deleted(&txn, caller, object(&found)).await?;
    sea_orm::TransactionSession::commit(txn).await?;
    Ok(())
}
