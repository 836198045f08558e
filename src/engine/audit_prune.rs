//! The audit log's retention: entries older than `PROMPTER_AUDIT_RETENTION_DAYS` are deleted
//! once at start and then every hour (0 days: kept forever, and this loop does nothing).
use super::Engine;
use crate::services::audit;
use std::time::Duration;

/// How often the audit log is pruned.
const EVERY: Duration = Duration::from_secs(3600);

/// Prunes the audit log now and every hour until the engine shuts down.
pub async fn run(engine: Engine) {
    let days = engine.config().audit_retention_days;
    if days == 0 {
        return;
    }
    let stop = engine.shutdown_signal().clone();
    loop {
        match audit::prune(engine.db(), crate::util::now(), days).await {
            Ok(0) => {}
            Ok(removed) => tracing::info!(removed, days, "audit log pruned"),
            Err(e) => tracing::warn!(error = %e, "the audit log could not be pruned"),
        }
        tokio::select! {
            _ = stop.canceled() => return,
            _ = tokio::time::sleep(EVERY) => {}
        }
    }
}
