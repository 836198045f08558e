//! Sent forms of the web app, one row per form nonce: the insert that claims a nonce is the
//! atomic check (a unique key, on SQLite and PostgreSQL alike, across processes), so a form
//! sent twice does its work once; the first sending's outcome is kept for the second.
use chrono::{DateTime, Duration, Utc};
use entity::form_submission;
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter};

/// The longest outcome (a redirect target) remembered; a longer one is remembered as "done".
pub const OUTCOME_MAX_LEN: usize = 2048;

/// What claiming a nonce found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// The nonce is new: this sending does the work.
    First,
    /// The form was sent before (by `session_id`), with this outcome so far (`None` while the
    /// first sending is still being handled).
    Again {
        /// The session of the first sending.
        session_id: i64,
        /// Where the first sending led: a path, `""` for a page, `None` while in progress.
        outcome: Option<String>,
    },
}

/// Claims `nonce` for `session_id`, and forgets nonces older than `keep` (they are refused as
/// expired before they get here).
pub async fn claim(
    db: &impl ConnectionTrait,
    nonce: &str,
    session_id: i64,
    now: DateTime<Utc>,
    keep: Duration,
) -> Result<Claim, DbErr> {
    form_submission::Entity::delete_many()
        .filter(form_submission::Column::CreatedAt.lt(now - keep))
        .exec(db)
        .await?;
    let row = form_submission::ActiveModel {
        nonce: Set(nonce.to_string()),
        session_id: Set(session_id),
        outcome: Set(None),
        created_at: Set(now),
        ..Default::default()
    };
    let inserted = form_submission::Entity::insert(row)
        .on_conflict(
            OnConflict::column(form_submission::Column::Nonce)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    if inserted == 1 {
        return Ok(Claim::First);
    }
    match find(db, nonce).await? {
        Some(row) => Ok(Claim::Again {
            session_id: row.session_id,
            outcome: row.outcome,
        }),
        // Released between the insert and the read: the first sending failed.
        None => Ok(Claim::Again {
            session_id,
            outcome: None,
        }),
    }
}

/// The row of `nonce`, if it is remembered.
pub async fn find(
    db: &impl ConnectionTrait,
    nonce: &str,
) -> Result<Option<form_submission::Model>, DbErr> {
    form_submission::Entity::find()
        .filter(form_submission::Column::Nonce.eq(nonce))
        .one(db)
        .await
}

/// Records where the first sending of `nonce` led (`""`: it answered with a page).
pub async fn settle(db: &impl ConnectionTrait, nonce: &str, outcome: &str) -> Result<(), DbErr> {
    let outcome = if outcome.len() > OUTCOME_MAX_LEN {
        ""
    } else {
        outcome
    };
    form_submission::Entity::update_many()
        .col_expr(
            form_submission::Column::Outcome,
            sea_orm::sea_query::Expr::value(outcome),
        )
        .filter(form_submission::Column::Nonce.eq(nonce))
        .exec(db)
        .await?;
    Ok(())
}

/// Forgets `nonce`: its sending failed and changed nothing, so the form may be sent again.
pub async fn release(db: &impl ConnectionTrait, nonce: &str) -> Result<(), DbErr> {
    form_submission::Entity::delete_many()
        .filter(form_submission::Column::Nonce.eq(nonce))
        .exec(db)
        .await?;
    Ok(())
}
