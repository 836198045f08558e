//! The lease of a refinement job, the same rule as a run slice's: a job's process extends it
//! while the job works; a job still unfinished past it was interrupted, and the sweep (every
//! engine, at start and once per lease) marks it `Failed`.
use crate::engine::Engine;
use entity::enums::RefinementStatus;
use entity::model_refinement;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter};
use std::time::Duration;

/// The lease of a refinement job: the engine's `lease_secs`, like a run slice's.
pub fn lease(engine: &Engine) -> Duration {
    Duration::from_secs(engine.config().lease_secs.max(1))
}

/// `d` as a chrono duration (saturating).
pub(super) fn to_chrono(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

/// What an interrupted job says.
const INTERRUPTED: &str =
    "The refinement was interrupted (the server stopped before it finished). Start it again.";

/// Marks `Failed` the unfinished jobs (only job `only`, when given) whose lease lapsed: its
/// `lease_expires_at` has passed, or it has none (a job from before leases) and its row has
/// not changed for `lease`. Returns how many it failed.
pub(super) async fn fail_lapsed(
    db: &impl ConnectionTrait,
    only: Option<i64>,
    lease: Duration,
) -> Result<u64, sea_orm::DbErr> {
    let now = crate::util::now();
    let lapsed = Condition::any()
        .add(model_refinement::Column::LeaseExpiresAt.lt(now))
        .add(
            Condition::all()
                .add(model_refinement::Column::LeaseExpiresAt.is_null())
                .add(model_refinement::Column::UpdatedAt.lt(now - to_chrono(lease))),
        );
    let mut update = model_refinement::Entity::update_many()
        .col_expr(
            model_refinement::Column::Status,
            Expr::value(RefinementStatus::Failed),
        )
        .col_expr(
            model_refinement::Column::ErrorMessage,
            Expr::value(INTERRUPTED),
        )
        .col_expr(
            model_refinement::Column::LeaseExpiresAt,
            Expr::value(Option::<chrono::DateTime<chrono::Utc>>::None),
        )
        .col_expr(model_refinement::Column::UpdatedAt, Expr::value(now))
        .filter(
            model_refinement::Column::Status
                .is_in([RefinementStatus::Pending, RefinementStatus::InProgress]),
        )
        .filter(lapsed);
    if let Some(id) = only {
        update = update.filter(model_refinement::Column::Id.eq(id));
    }
    Ok(update.exec(db).await?.rows_affected)
}

/// Fails every unfinished job whose lease lapsed (its process died); returns how many.
pub async fn sweep(db: &impl ConnectionTrait, lease: Duration) -> Result<u64, sea_orm::DbErr> {
    let failed = fail_lapsed(db, None, lease).await?;
    if failed > 0 {
        tracing::warn!(
            failed,
            "refinements interrupted by a stopped server marked failed"
        );
    }
    Ok(failed)
}

/// Sweeps interrupted jobs at once and then every lease, until the engine shuts down: a job
/// whose process died is reported `Failed` within two leases.
pub async fn sweeper(engine: Engine) {
    let every = lease(&engine);
    let stop = engine.shutdown_signal().clone();
    loop {
        if let Err(e) = sweep(engine.db(), every).await {
            tracing::warn!(error = %e, "refinements could not be swept");
        }
        tokio::select! {
            _ = stop.canceled() => return,
            _ = tokio::time::sleep(every) => {}
        }
    }
}

/// Extends job `id`'s lease to `lease` from now while it is unfinished.
pub(super) async fn extend(
    db: &impl ConnectionTrait,
    id: i64,
    lease: Duration,
) -> Result<(), sea_orm::DbErr> {
    model_refinement::Entity::update_many()
        .col_expr(
            model_refinement::Column::LeaseExpiresAt,
            Expr::value(crate::util::now() + to_chrono(lease)),
        )
        .filter(model_refinement::Column::Id.eq(id))
        .filter(
            model_refinement::Column::Status
                .is_in([RefinementStatus::Pending, RefinementStatus::InProgress]),
        )
        .exec(db)
        .await?;
    Ok(())
}
