//! The background jobs of a link (a sync, a push): each is a job of the job queue
//! ([`crate::jobs`]) with the dedupe key `link:{id}`, so a link runs one job at a time; the
//! link's `status`, `job`, progress and `last_error` are kept by the job as the link's view
//! of it: `running` from the enqueue until the job ends (retries and takeovers included),
//! then `idle`, or `failed` with the reason.
use super::client::LsError;
use super::job;
use crate::auth::AuthUser;
use crate::crypto::Secrets;
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::jobs::JobError;
use crate::services::jobs::{self as job_rows, Enqueued, NewJob};
use entity::enums::{JobKind, LinkStatus};
use entity::label_studio_link as link;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter};

/// The dedupe key of a link's jobs: one open job per link.
pub fn dedupe_key(link_id: i64) -> String {
    format!("link:{link_id}")
}

/// The refusal of a second job while one runs.
pub(super) fn job_running() -> ApiError {
    ApiError::bad_request(
        ErrorCode::JobRunning,
        "A sync or push of this link is running; wait for it to end.",
    )
}

/// The link's token, unsealed.
pub(super) fn open_token(secrets: &Secrets, l: &link::Model) -> ApiResult<String> {
    secrets.open(&l.token_enc).map_err(|_| {
        ApiError::bad_request(
            ErrorCode::TokenUnreadable,
            "The stored Label Studio token cannot be decrypted (was PROMPTER_SECRET_KEY \
             changed?); PATCH the link with the token again.",
        )
    })
}

/// Enqueues job `name` (`kind`, with `payload`) of link `l` for `caller` and marks the link
/// running, in one transaction; refused while another job of the link is open.
pub(super) async fn start(
    db: &DatabaseConnection,
    caller: &AuthUser,
    l: &link::Model,
    name: &str,
    kind: JobKind,
    payload: serde_json::Value,
    changes: crate::services::audit::Changes,
) -> ApiResult<link::Model> {
    use crate::services::audit;
    use entity::enums::{AuditAction, AuditObject};
    let txn = crate::db::begin_write(db).await?;
    let new = NewJob::new(kind, Some(caller.organization_id), payload)
        .dedupe(dedupe_key(l.id))
        .about(job_rows::subject::LINK, l.id)
        .by(caller.user.id);
    if let Enqueued::Existing(_) = job_rows::enqueue(&txn, new).await? {
        return Err(job_running());
    }
    mark_running(&txn, l.id, name).await?;
    // The start is recorded in the audit log (`sync.start` or `push.start` by `caller`).
    let action = match name {
        job::PUSH => AuditAction::PushStart,
        _ => AuditAction::SyncStart,
    };
    let title = format!("Label Studio link of project {}", l.project_id);
    let object = audit::Object::new(AuditObject::LabelStudioLink, l.id, title);
    audit::record(&txn, caller, action, object, changes).await?;
    txn.commit().await?;
    link::Entity::find_by_id(l.id)
        .one(db)
        .await?
        .ok_or(ApiError::NotFound)
}

/// Marks the link as running job `name` from the start (an attempt, or a takeover, starts
/// over).
pub(super) async fn mark_running(
    db: &impl ConnectionTrait,
    link_id: i64,
    name: &str,
) -> Result<(), sea_orm::DbErr> {
    link::Entity::update_many()
        .col_expr(link::Column::Status, Expr::value(LinkStatus::Running))
        .col_expr(link::Column::Job, Expr::value(name))
        .col_expr(link::Column::ProgressDone, Expr::value(0i64))
        .col_expr(link::Column::ProgressTotal, Expr::value(0i64))
        .col_expr(link::Column::LastError, Expr::value(Option::<String>::None))
        .col_expr(link::Column::UpdatedAt, Expr::value(crate::util::now()))
        .filter(link::Column::Id.eq(link_id))
        .exec(db)
        .await?;
    Ok(())
}

/// Records a running job's progress (and its sign of life). `Err` when the link is gone or no
/// longer runs this job: the job stops.
pub(super) async fn progress(
    db: &DatabaseConnection,
    link_id: i64,
    done: i64,
    total: i64,
) -> Result<(), JobError> {
    let updated = link::Entity::update_many()
        .col_expr(link::Column::ProgressDone, Expr::value(done))
        .col_expr(link::Column::ProgressTotal, Expr::value(total))
        .col_expr(link::Column::UpdatedAt, Expr::value(crate::util::now()))
        .filter(link::Column::Id.eq(link_id))
        .filter(link::Column::Status.eq(LinkStatus::Running))
        .exec(db)
        .await?;
    if updated.rows_affected == 0 {
        return Err(JobError::Permanent(
            "the link was deleted or its job was stopped".into(),
        ));
    }
    Ok(())
}

/// Ends a job that succeeded: the link is `idle` (and, for a sync, `last_synced_at` is set).
pub(super) async fn succeed(
    db: &DatabaseConnection,
    l: &link::Model,
    name: &str,
    summary: &str,
) -> Result<(), sea_orm::DbErr> {
    let now = crate::util::now();
    tracing::info!(link = l.id, project = l.project_id, job = name, "{summary}");
    let mut update = link::Entity::update_many()
        .col_expr(link::Column::UpdatedAt, Expr::value(now))
        .col_expr(link::Column::Status, Expr::value(LinkStatus::Idle))
        .col_expr(link::Column::LastError, Expr::value(Option::<String>::None))
        .filter(link::Column::Id.eq(l.id));
    if name == job::SYNC {
        update = update.col_expr(link::Column::LastSyncedAt, Expr::value(now));
    }
    let txn = crate::db::begin_write(db).await?;
    update.exec(&txn).await?;
    if name == job::SYNC {
        let data = serde_json::json!({
            "link": {"id": l.id, "project": l.project_id, "ls_project": l.ls_project_id},
            "summary": summary,
        });
        crate::services::webhooks::emit(
            &txn,
            l.organization_id,
            entity::enums::WebhookEvent::SyncCompleted,
            data,
            None,
        )
        .await?;
    }
    txn.commit().await?;
    Ok(())
}

/// Ends a job given up (or canceled): the link is `failed` with the reason.
pub async fn give_up(
    db: &impl ConnectionTrait,
    link_id: i64,
    reason: &str,
) -> Result<(), sea_orm::DbErr> {
    let reason: String = reason.chars().take(4000).collect();
    link::Entity::update_many()
        .col_expr(link::Column::UpdatedAt, Expr::value(crate::util::now()))
        .col_expr(link::Column::Status, Expr::value(LinkStatus::Failed))
        .col_expr(link::Column::LastError, Expr::value(reason))
        .filter(link::Column::Id.eq(link_id))
        .exec(db)
        .await?;
    Ok(())
}

/// A Label Studio failure as a job error: an instance that cannot be reached, or that answers
/// 429 or 5xx, is worth another attempt later; a refused token or a missing project is not.
pub(super) fn ls_failure(err: LsError, ls_project: i64) -> JobError {
    match &err {
        LsError::Unreachable { .. } => JobError::Transient(err.to_string()),
        LsError::Status { status } if *status == 429 || *status >= 500 => {
            JobError::Transient(err.to_string())
        }
        _ => JobError::Permanent(describe(err, ls_project)),
    }
}

/// A job's reason for failing, from Label Studio's answer.
pub(super) fn describe(err: LsError, ls_project: i64) -> String {
    match err {
        LsError::NotFound => {
            format!("Label Studio has no project {ls_project} this token can read")
        }
        other => other.to_string(),
    }
}
