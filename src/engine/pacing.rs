//! Pacing shared by every process of a deployment: a connection's RPM and TPM are the
//! provider's, whatever the number of `prompter serve` and `prompter worker` processes. Every
//! second this loop renews the process's lease on each (connection, model) it called lately
//! and whose limits it knows ([`services::pacing`](crate::services::pacing)); each scheduler
//! then paces to 1/n of the limits, n the live leases, re-balanced as processes come and go
//! (a dead process's lease lapses in [`TTL`]). A 429 (or a spent allowance) one process meets
//! is published with its lease and holds every process's calls until it passes.
use super::Engine;
use crate::services::pacing;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// How often leases are renewed and shares recomputed.
pub const EVERY: Duration = Duration::from_secs(1);
/// How long a lease lives without renewal.
pub const TTL: Duration = Duration::from_secs(4);
/// Ticks without a call after which a process gives its share up.
const IDLE_TICKS: u32 = 10;

/// A scheduler's activity as this loop last saw it.
#[derive(Debug, Default)]
struct Seen {
    attempts: u64,
    idle: u32,
    held: bool,
}

/// `instant` as a time of day (UTC), for another process to read.
fn wall(instant: Instant) -> chrono::DateTime<chrono::Utc> {
    let ahead = instant.saturating_duration_since(Instant::now());
    crate::util::now() + chrono::Duration::from_std(ahead).unwrap_or_default()
}

/// Runs the loop until the engine shuts down, as `holder`; gives the leases up then.
pub async fn run(engine: Engine, holder: String) {
    let stop = engine.shutdown_signal().clone();
    let mut seen: HashMap<(i64, String), Seen> = HashMap::new();
    let mut ticks: u64 = 0;
    loop {
        tokio::select! {
            _ = stop.canceled() => break,
            _ = tokio::time::sleep(EVERY) => {}
        }
        ticks += 1;
        let db = engine.db();
        for (connection, model, scheduler) in engine.schedulers().all() {
            if !scheduler.has_limits() {
                continue;
            }
            let attempts = scheduler.stats().attempts;
            let s = seen.entry((connection, model.clone())).or_default();
            let called = attempts != s.attempts || scheduler.paused_until().is_some();
            s.attempts = attempts;
            s.idle = if called { 0 } else { s.idle.saturating_add(1) };
            if s.idle >= IDLE_TICKS {
                if s.held {
                    s.held = false;
                    scheduler.set_share(1.0);
                    if let Err(e) = pacing::release(db, &holder, Some((connection, &model))).await {
                        tracing::warn!(connection, %model, error = %e, "giving a pacing lease up failed");
                    }
                }
                continue;
            }
            let now = crate::util::now();
            let expires = now + chrono::Duration::from_std(TTL).unwrap_or_default();
            let backoff = scheduler.paused_until().map(wall);
            match pacing::renew(db, connection, &model, &holder, now, expires, backoff).await {
                Ok(shared) => {
                    s.held = true;
                    if (scheduler.share() - shared.share()).abs() > 1e-9 {
                        tracing::info!(connection, %model, processes = shared.holders, "pacing to a share of the connection's limits");
                    }
                    scheduler.set_share(shared.share());
                    if let Some(until) = shared.backoff_until.filter(|u| *u > now) {
                        let ahead = (until - now).to_std().unwrap_or_default();
                        scheduler.pause_until(Instant::now() + ahead);
                    }
                }
                Err(e) => {
                    tracing::warn!(connection, %model, error = %e, "renewing a pacing lease failed")
                }
            }
        }
        if ticks.is_multiple_of(60)
            && let Err(e) = pacing::prune(engine.db(), crate::util::now()).await
        {
            tracing::warn!(error = %e, "pruning lapsed pacing leases failed");
        }
    }
    if let Err(e) = pacing::release(engine.db(), &holder, None).await {
        tracing::warn!(error = %e, "giving the pacing leases up failed");
    }
}
