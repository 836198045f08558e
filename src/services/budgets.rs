//! The spending of provider connections: recorded per period (`budget_reset_period`), alerted
//! once per period when it crosses `budget_alert_threshold`, and read by the engine, which
//! stops runs before they would cross `budget_limit`.
use crate::error::ApiResult;
use chrono::{DateTime, Datelike, TimeZone, Utc};
use entity::enums::BudgetResetPeriod;
use entity::model_provider_connection as connection;
use sea_orm::{ConnectionTrait, EntityTrait, QuerySelect};

/// The start of the period `now` falls in (UTC), or `None` when spending never starts over.
pub fn period_start(
    period: Option<BudgetResetPeriod>,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let (year, month) = match period? {
        BudgetResetPeriod::Monthly => (now.year(), now.month()),
        BudgetResetPeriod::Yearly => (now.year(), 1),
    };
    Utc.with_ymd_and_hms(year, month, 1, 0, 0, 0).single()
}

/// The spending of a connection in the current period (0 when its period has started over
/// since it was last recorded).
pub fn spent_now(c: &connection::Model, now: DateTime<Utc>) -> f64 {
    match period_start(c.budget_reset_period, now) {
        Some(start) if c.budget_last_reset_date.is_none_or(|last| last < start) => 0.0,
        _ => c.budget_total_spent,
    }
}

/// What the engine needs to know of a connection's budget.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BudgetState {
    /// The spending limit of a period, if any.
    pub limit: Option<f64>,
    /// Spent in the current period.
    pub spent: f64,
}

/// The budget of connection `id`, or `None` when it is gone.
pub async fn state(db: &impl ConnectionTrait, id: i64) -> ApiResult<Option<BudgetState>> {
    let found = connection::Entity::find_by_id(id).one(db).await?;
    Ok(found.map(|c| BudgetState {
        limit: c.budget_limit,
        spent: spent_now(&c, crate::util::now()),
    }))
}

/// Adds `cost` (USD) to the spending of connection `id`, inside the caller's transaction:
/// starts the period over first when it has ended, and records the alert (once per period)
/// when the spending reaches `budget_alert_threshold`. The row is locked until the
/// transaction ends, so concurrent writers add up.
pub async fn record_spend(db: &impl ConnectionTrait, id: i64, cost: f64) -> ApiResult<()> {
    if cost <= 0.0 || !cost.is_finite() {
        return Ok(());
    }
    let Some(c) = connection::Entity::find_by_id(id)
        .lock_exclusive()
        .one(db)
        .await?
    else {
        return Ok(());
    };
    let now = crate::util::now();
    let mut model: connection::ActiveModel = c.clone().into();
    let start = period_start(c.budget_reset_period, now);
    let restarted = start.is_some_and(|s| c.budget_last_reset_date.is_none_or(|l| l < s));
    let before = if restarted {
        model.budget_last_reset_date = sea_orm::Set(start);
        model.budget_alerted_at = sea_orm::Set(None);
        0.0
    } else {
        c.budget_total_spent
    };
    let spent = before + cost;
    model.budget_total_spent = sea_orm::Set(spent);
    let alerted = c.budget_alerted_at.is_some() && !restarted;
    if let Some(threshold) = c.budget_alert_threshold
        && spent >= threshold
        && !alerted
    {
        model.budget_alerted_at = sea_orm::Set(Some(now));
        tracing::warn!(
            connection = id,
            organization = c.organization_id,
            spent,
            threshold,
            "budget alert: the connection's spending crossed its alert threshold"
        );
    }
    let alert = matches!(model.budget_alerted_at, sea_orm::ActiveValue::Set(Some(_)));
    sea_orm::ActiveModelTrait::update(model, db).await?;
    if alert && let Some(threshold) = c.budget_alert_threshold {
        let data = serde_json::json!({
            "connection": {"id": c.id, "provider": c.provider},
            "spent_usd": spent,
            "threshold_usd": threshold,
            "limit_usd": c.budget_limit,
            "period_start": start,
        });
        // Once per period already: `budget_alerted_at` is set only by the crossing.
        crate::services::webhooks::emit(
            db,
            c.organization_id,
            entity::enums::WebhookEvent::BudgetAlert,
            data,
            None,
        )
        .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_start_on_the_first() {
        let now = Utc
            .with_ymd_and_hms(2026, 12, 15, 10, 0, 0)
            .single()
            .expect("time");
        assert_eq!(
            period_start(Some(BudgetResetPeriod::Monthly), now),
            Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).single()
        );
        assert_eq!(
            period_start(Some(BudgetResetPeriod::Yearly), now),
            Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).single()
        );
        assert_eq!(period_start(None, now), None);
    }
}
