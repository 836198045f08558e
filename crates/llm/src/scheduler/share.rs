//! Limits shared by several processes: a connection's RPM and TPM are the provider's for the
//! whole deployment, so each process paces to its share of them (set by whoever coordinates
//! the processes: Prompter's engine, through the database), and a 429 one process meets
//! pauses the others (`pause_until`).
use super::{Bucket, Pace, Scheduler};
use std::time::Instant;

/// Sets the buckets to `share` of the base limits.
pub(super) fn apply(pace: &mut Pace, now: Instant) {
    let share = pace.share;
    if let Some(limit) = pace.base_rpm {
        let rate = limit as f64 * share;
        match pace.requests.as_mut() {
            Some(b) => b.set_limit(rate, now),
            None => pace.requests = Some(Bucket::per_minute_f(rate, now)),
        }
    }
    if let Some(limit) = pace.base_tpm {
        let rate = limit as f64 * share;
        match pace.tokens.as_mut() {
            Some(b) => b.set_limit(rate, now),
            None => pace.tokens = Some(Bucket::per_minute_f(rate, now)),
        }
    }
}

impl Scheduler {
    /// Paces this process to `share` (in (0, 1]) of the connection's limits, from now on.
    pub fn set_share(&self, share: f64) {
        let share = if share.is_finite() {
            share.clamp(1e-3, 1.0)
        } else {
            1.0
        };
        if let Ok(mut pace) = self.pace.lock()
            && (pace.share - share).abs() > 1e-9
        {
            pace.share = share;
            apply(&mut pace, Instant::now());
        }
    }

    /// The share of the connection's limits this process paces to.
    pub fn share(&self) -> f64 {
        self.pace.lock().map(|p| p.share).unwrap_or(1.0)
    }

    /// Whether the scheduler knows limits to pace to (configured, or announced by the
    /// provider): only then is there anything to share.
    pub fn has_limits(&self) -> bool {
        self.pace
            .lock()
            .map(|p| p.base_rpm.is_some() || p.base_tpm.is_some())
            .unwrap_or(false)
    }

    /// Holds every call until `until` (another process met a 429 or spent the allowance).
    pub fn pause_until(&self, until: Instant) {
        if let Ok(mut pace) = self.pace.lock() {
            pace.paused_until = Some(pace.paused_until.map_or(until, |t| t.max(until)));
        }
    }

    /// Until when its calls are held, when that is later than now (a 429's `Retry-After`, a
    /// spent allowance, or another process's).
    pub fn paused_until(&self) -> Option<Instant> {
        let now = Instant::now();
        self.pace
            .lock()
            .ok()
            .and_then(|p| p.paused_until)
            .filter(|t| *t > now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduler::SchedulerConfig;
    use std::time::Duration;

    struct Never;

    #[async_trait::async_trait]
    impl crate::LlmProvider for Never {
        async fn complete(
            &self,
            _request: &crate::LlmRequest,
        ) -> Result<crate::LlmResponse, crate::LlmError> {
            Err(crate::LlmError::Connection("never".into()))
        }
    }

    fn scheduler(rpm: Option<u64>) -> Scheduler {
        Scheduler::new(
            std::sync::Arc::new(Never),
            SchedulerConfig {
                rpm,
                tpm: rpm.map(|r| r * 100),
                ..Default::default()
            },
        )
    }

    #[test]
    fn a_share_scales_the_buckets_and_can_grow_back() {
        let s = scheduler(Some(600));
        assert!(s.has_limits());
        let rate = |s: &Scheduler| {
            let p = s.pace.lock().unwrap();
            (p.requests.unwrap().per_second, p.tokens.unwrap().per_second)
        };
        let (full_r, full_t) = rate(&s);
        s.set_share(1.0 / 3.0);
        let (r, t) = rate(&s);
        assert!((r * 3.0 - full_r).abs() < 1e-9, "{r} vs {full_r}");
        assert!((t * 3.0 - full_t).abs() < 1e-6);
        assert!((s.share() - 1.0 / 3.0).abs() < 1e-12);
        s.set_share(1.0);
        assert!((rate(&s).0 - full_r).abs() < 1e-9);
        // Nonsense shares stay within (0, 1].
        s.set_share(f64::NAN);
        assert_eq!(s.share(), 1.0);
        s.set_share(7.0);
        assert_eq!(s.share(), 1.0);
    }

    #[test]
    fn no_limits_nothing_to_share_and_a_pause_holds() {
        let s = scheduler(None);
        assert!(!s.has_limits());
        assert!(s.paused_until().is_none());
        let until = Instant::now() + Duration::from_secs(5);
        s.pause_until(until);
        assert_eq!(s.paused_until(), Some(until));
        // A shorter pause does not shorten it.
        s.pause_until(Instant::now() + Duration::from_secs(1));
        assert_eq!(s.paused_until(), Some(until));
    }
}
