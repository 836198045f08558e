//! Pacing shared by the processes of a deployment, in the database: a process that calls a
//! (connection, model) with known limits holds a lease on it (renewed every second, live for a
//! few); the live leases say how many processes share the limits, and the latest
//! `backoff_until` among them (a process met a 429) holds them all.
use chrono::{DateTime, Utc};
use entity::pacing_lease;
use sea_orm::ActiveValue::{NotSet, Set};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QuerySelect};

/// What the live leases of a (connection, model) say.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Shared {
    /// Processes sharing the limits (this one included; at least 1).
    pub holders: u64,
    /// The latest time a process asked every process to hold its calls until.
    pub backoff_until: Option<DateTime<Utc>>,
}

impl Shared {
    /// This process's share of the limits.
    pub fn share(&self) -> f64 {
        1.0 / self.holders.max(1) as f64
    }
}

/// Renews `holder`'s lease on (`connection_id`, `model`) until `expires_at`, publishing its
/// `backoff_until`, and reads the live leases.
pub async fn renew(
    db: &impl ConnectionTrait,
    connection_id: i64,
    model: &str,
    holder: &str,
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    backoff_until: Option<DateTime<Utc>>,
) -> Result<Shared, DbErr> {
    let model: String = model.chars().take(255).collect();
    let holder: String = holder.chars().take(64).collect();
    let row = pacing_lease::ActiveModel {
        id: NotSet,
        connection_id: Set(connection_id),
        model: Set(model.clone()),
        holder: Set(holder),
        expires_at: Set(expires_at),
        backoff_until: Set(backoff_until),
        updated_at: Set(now),
    };
    pacing_lease::Entity::insert(row)
        .on_conflict(
            OnConflict::columns([
                pacing_lease::Column::ConnectionId,
                pacing_lease::Column::Model,
                pacing_lease::Column::Holder,
            ])
            .update_columns([
                pacing_lease::Column::ExpiresAt,
                pacing_lease::Column::BackoffUntil,
                pacing_lease::Column::UpdatedAt,
            ])
            .to_owned(),
        )
        .exec(db)
        .await?;
    let live: Vec<Option<DateTime<Utc>>> = pacing_lease::Entity::find()
        .select_only()
        .column(pacing_lease::Column::BackoffUntil)
        .filter(pacing_lease::Column::ConnectionId.eq(connection_id))
        .filter(pacing_lease::Column::Model.eq(model))
        .filter(pacing_lease::Column::ExpiresAt.gt(now))
        .into_tuple()
        .all(db)
        .await?;
    Ok(Shared {
        holders: (live.len() as u64).max(1),
        backoff_until: live.into_iter().flatten().max(),
    })
}

/// Gives `holder`'s leases up (on (`connection_id`, `model`), or all of them with `None`).
pub async fn release(
    db: &impl ConnectionTrait,
    holder: &str,
    on: Option<(i64, &str)>,
) -> Result<(), DbErr> {
    let mut delete =
        pacing_lease::Entity::delete_many().filter(pacing_lease::Column::Holder.eq(holder));
    if let Some((connection_id, model)) = on {
        delete = delete
            .filter(pacing_lease::Column::ConnectionId.eq(connection_id))
            .filter(pacing_lease::Column::Model.eq(model));
    }
    delete.exec(db).await?;
    Ok(())
}

/// Deletes leases that lapsed before `before` (processes that died).
pub async fn prune(db: &impl ConnectionTrait, before: DateTime<Utc>) -> Result<u64, DbErr> {
    Ok(pacing_lease::Entity::delete_many()
        .filter(pacing_lease::Column::ExpiresAt.lt(before))
        .exec(db)
        .await?
        .rows_affected)
}
