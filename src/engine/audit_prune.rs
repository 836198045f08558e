//! Retention, once at start and then every hour: audit log entries older than
//! `PROMPTER_AUDIT_RETENTION_DAYS` are deleted (0 days: kept forever), and the response
//! cache's answers older than `PROMPTER_CACHE_TTL_SECS` or beyond `PROMPTER_CACHE_MAX_ENTRIES`
//! an organization.
use super::Engine;
use crate::services::audit;
use std::time::Duration;

/// How often the audit log is pruned.
const EVERY: Duration = Duration::from_secs(3600);

/// Prunes the audit log and the response cache now and every hour until the engine shuts
/// down.
pub async fn run(engine: Engine) {
    let days = engine.config().audit_retention_days;
    let (ttl, max) = (
        engine.config().cache_ttl_secs,
        engine.config().cache_max_entries,
    );
    let stop = engine.shutdown_signal().clone();
    loop {
        if days > 0 {
            match audit::prune(engine.db(), crate::util::now(), days).await {
                Ok(0) => {}
                Ok(removed) => tracing::info!(removed, days, "audit log pruned"),
                Err(e) => tracing::warn!(error = %e, "the audit log could not be pruned"),
            }
        }
        match crate::services::llm_cache::prune(engine.db(), crate::util::now(), ttl, max).await {
            Ok(0) => {}
            Ok(removed) => tracing::info!(removed, "response cache pruned"),
            Err(e) => tracing::warn!(error = %e, "the response cache could not be pruned"),
        }
        tokio::select! {
            _ = stop.canceled() => return,
            _ = tokio::time::sleep(EVERY) => {}
        }
    }
}
