//! The schedule ticker: every `schedule_poll_ms` it fires the schedules due (see
//! `services::schedules`) and wakes the workers for the runs it created. Every `prompter serve`
//! and `prompter worker` runs one; the database decides which process fires a slot.
use super::Engine;
use crate::services::schedules::{self, Fired};
use std::time::Duration;

/// Runs until the engine shuts down.
pub async fn run(engine: Engine) {
    let every = Duration::from_millis(engine.config().schedule_poll_ms.max(10));
    let stop = engine.shutdown_signal().clone();
    match schedules::realign(engine.db(), crate::util::now()).await {
        Ok(0) => {}
        Ok(moved) => tracing::info!(moved, "schedules' next firings recomputed"),
        Err(e) => tracing::warn!(error = %e, "schedules could not be realigned"),
    }
    loop {
        tokio::select! {
            _ = stop.canceled() => return,
            _ = tokio::time::sleep(every) => {}
        }
        match schedules::fire_due(
            engine.db(),
            crate::util::now(),
            engine.config().sample_subset_size,
        )
        .await
        {
            Ok(fired) => {
                if fired.iter().any(|f| matches!(f, Fired::Run { .. })) {
                    engine.wake();
                }
            }
            Err(e) => tracing::warn!(error = %e, "schedules could not be read"),
        }
    }
}
