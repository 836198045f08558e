//! The idle hook: how tests (and, later, a graceful shutdown) wait until the engine of this
//! process has nothing left to do.
//!
//! Work in progress is counted by [`Busy`] guards: a run worker holds one from just before it
//! tries a claim until the claimed slice is settled (completed or given back), and a job
//! worker ([`crate::jobs`]) from just before its claim until the claimed job is settled. The
//! engine is idle when no guard is held and the queues have nothing claimable;
//! [`Engine::wait_idle`](super::Engine::wait_idle) checks both, and the epoch (bumped each time
//! a guard that did work drops) tells it that nothing started and ended during its look at the
//! queue.
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use tokio::sync::Notify;

/// The engine's count of work in progress.
#[derive(Debug, Default)]
pub(super) struct Activity {
    busy: AtomicUsize,
    epoch: AtomicU64,
    changed: Notify,
}

impl Activity {
    /// Marks the engine busy until the guard drops.
    pub(super) fn enter(self: &Arc<Self>, worked: bool) -> Busy {
        self.busy.fetch_add(1, Ordering::SeqCst);
        Busy {
            activity: self.clone(),
            worked,
        }
    }

    /// Guards held now, and the epoch.
    pub(super) fn snapshot(&self) -> (usize, u64) {
        (
            self.busy.load(Ordering::SeqCst),
            self.epoch.load(Ordering::SeqCst),
        )
    }

    /// Notified whenever a guard drops.
    pub(super) fn changed(&self) -> &Notify {
        &self.changed
    }
}

/// A guard of work in progress: while one is held the engine is not idle.
#[derive(Debug)]
pub struct Busy {
    activity: Arc<Activity>,
    worked: bool,
}

impl Busy {
    /// Records that the guarded work changed something (a claim succeeded): its end bumps the
    /// epoch, so a look at the queue that overlapped it is not taken as idle.
    pub fn worked(&mut self) {
        self.worked = true;
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        if self.worked {
            self.activity.epoch.fetch_add(1, Ordering::SeqCst);
        }
        self.activity.busy.fetch_sub(1, Ordering::SeqCst);
        self.activity.changed.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guards_count_and_working_guards_bump_the_epoch() {
        let activity = Arc::new(Activity::default());
        let idle = activity.enter(false);
        let mut working = activity.enter(false);
        assert_eq!(activity.snapshot(), (2, 0));
        drop(idle);
        assert_eq!(activity.snapshot(), (1, 0));
        working.worked();
        drop(working);
        assert_eq!(activity.snapshot(), (0, 1));
    }
}
