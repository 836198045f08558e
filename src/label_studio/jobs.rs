//! The background job of a link: claimed atomically (one job at a time), its progress recorded
//! as its sign of life, its end recorded as `idle` or `failed` with the reason. A job silent for
//! [`STALE_AFTER`] reads as interrupted.
use super::client::LsError;
use super::{STALE_AFTER, job};
use crate::crypto::Secrets;
use crate::error::{ApiError, ApiResult, ErrorCode};
use chrono::Utc;
use entity::enums::LinkStatus;
use entity::label_studio_link as link;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, Condition, DatabaseConnection, EntityTrait, QueryFilter};

/// Whether `l` claims to run a job that has shown no sign of life for [`STALE_AFTER`].
pub fn is_stale(l: &link::Model) -> bool {
    l.status == LinkStatus::Running && Utc::now() - l.updated_at > stale_delta()
}

fn stale_delta() -> chrono::Duration {
    chrono::Duration::from_std(STALE_AFTER).unwrap_or(chrono::Duration::minutes(5))
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

/// Marks the link as running `job` unless another job runs: one conditional UPDATE, so two
/// concurrent requests cannot both start. The start is recorded in the audit log (as
/// `sync.start` or `push.start` by `caller`, with `changes`) in the same transaction.
pub(super) async fn claim(
    db: &DatabaseConnection,
    caller: &crate::auth::AuthUser,
    link_id: i64,
    job: &str,
    changes: crate::services::audit::Changes,
) -> ApiResult<link::Model> {
    use crate::services::audit;
    use entity::enums::{AuditAction, AuditObject};
    let txn = crate::db::begin_write(db).await?;
    let claimed = claim_in(&txn, link_id, job).await?;
    let action = match job {
        job::PUSH => AuditAction::PushStart,
        _ => AuditAction::SyncStart,
    };
    let title = format!("Label Studio link of project {}", claimed.project_id);
    let object = audit::Object::new(AuditObject::LabelStudioLink, claimed.id, title);
    audit::record(&txn, caller, action, object, changes).await?;
    sea_orm::TransactionSession::commit(txn).await?;
    Ok(claimed)
}

async fn claim_in(
    db: &impl sea_orm::ConnectionTrait,
    link_id: i64,
    job: &str,
) -> ApiResult<link::Model> {
    let now = crate::util::now();
    let claimed = link::Entity::update_many()
        .col_expr(link::Column::Status, Expr::value(LinkStatus::Running))
        .col_expr(link::Column::Job, Expr::value(job))
        .col_expr(link::Column::ProgressDone, Expr::value(0i64))
        .col_expr(link::Column::ProgressTotal, Expr::value(0i64))
        .col_expr(link::Column::LastError, Expr::value(Option::<String>::None))
        .col_expr(link::Column::UpdatedAt, Expr::value(now))
        .filter(link::Column::Id.eq(link_id))
        .filter(
            Condition::any()
                .add(link::Column::Status.ne(LinkStatus::Running))
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
pub(super) async fn progress(
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
        .filter(link::Column::Status.eq(LinkStatus::Running))
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
pub(super) async fn finish(
    db: &DatabaseConnection,
    l: &link::Model,
    job: &str,
    outcome: Result<String, String>,
) {
    let now = crate::util::now();
    let mut update = link::Entity::update_many()
        .col_expr(link::Column::UpdatedAt, Expr::value(now))
        .filter(link::Column::Id.eq(l.id))
        .filter(link::Column::Status.eq(LinkStatus::Running));
    match &outcome {
        Ok(summary) => {
            tracing::info!(link = l.id, project = l.project_id, job, "{summary}");
            update = update
                .col_expr(link::Column::Status, Expr::value(LinkStatus::Idle))
                .col_expr(link::Column::LastError, Expr::value(Option::<String>::None));
            if job == self::job::SYNC {
                update = update.col_expr(link::Column::LastSyncedAt, Expr::value(now));
            }
        }
        Err(reason) => {
            tracing::warn!(link = l.id, project = l.project_id, job, error = %reason, "Label Studio job failed");
            let reason: String = reason.chars().take(4000).collect();
            update = update
                .col_expr(link::Column::Status, Expr::value(LinkStatus::Failed))
                .col_expr(link::Column::LastError, Expr::value(reason));
        }
    }
    if let Err(err) = update.exec(db).await {
        tracing::error!(link = l.id, error = %err, "could not record the end of a Label Studio job");
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
