//! The sign-in rate limit: failed sign-ins are counted per account (the email as typed,
//! trimmed and lower-cased) and per client address; past a number of free failures within a
//! window, each further attempt is refused for a delay that doubles with every failure, up to
//! a cap. A refused attempt never reaches the password check. A successful sign-in clears the
//! account's count. The counts live in this process's memory (each server of a scaled-out
//! deployment counts on its own, and a restart forgets them).
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The thresholds of the sign-in rate limit.
#[derive(Debug, Clone, Copy)]
pub struct ThrottleConfig {
    /// Failures of one account allowed within the window before attempts are delayed.
    pub account_failures: u32,
    /// Failures from one client address allowed within the window before attempts are
    /// delayed.
    pub address_failures: u32,
    /// The first delay; each further failure doubles it.
    pub backoff: Duration,
    /// The longest delay.
    pub max_backoff: Duration,
    /// A count is forgotten this long after its last failure.
    pub window: Duration,
    /// Whether the client address comes from `Forwarded` / `X-Forwarded-For` (behind a
    /// reverse proxy) rather than the connection's peer.
    pub trust_forwarded: bool,
}

/// Counted keys at most; past this, forgotten and then the oldest keys are dropped.
const MAX_KEYS: usize = 100_000;

#[derive(Debug, Clone, Copy)]
struct Count {
    failures: u32,
    last_failure: Instant,
    blocked_until: Option<Instant>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Account(String),
    Address(IpAddr),
}

/// The failure counts of this process, shared by its HTTP workers.
#[derive(Debug)]
pub struct SignInThrottle {
    config: ThrottleConfig,
    counts: Mutex<HashMap<Key, Count>>,
}

/// The account key of an email as typed.
fn account(email: &str) -> Key {
    Key::Account(email.trim().to_lowercase())
}

impl SignInThrottle {
    /// An empty throttle with `config`.
    pub fn new(config: ThrottleConfig) -> Self {
        Self {
            config,
            counts: Mutex::new(HashMap::new()),
        }
    }

    /// The client address of `req` that failures are counted under.
    pub fn client_address(&self, req: &actix_web::HttpRequest) -> Option<IpAddr> {
        if self.config.trust_forwarded {
            let info = req.connection_info();
            let forwarded = info.realip_remote_addr().and_then(|a| {
                a.parse::<IpAddr>()
                    .ok()
                    .or_else(|| a.parse::<std::net::SocketAddr>().ok().map(|s| s.ip()))
            });
            if forwarded.is_some() {
                return forwarded;
            }
        }
        req.peer_addr().map(|a| a.ip())
    }

    fn counts(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Count>> {
        // A poisoned lock only means another thread panicked mid-update of plain counters.
        self.counts.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// How long a sign-in of `email` from `address` must still wait; `None` when it may be
    /// tried now.
    pub fn wait(&self, email: &str, address: Option<IpAddr>, now: Instant) -> Option<Duration> {
        let counts = self.counts();
        let keys = [Some(account(email)), address.map(Key::Address)];
        keys.iter()
            .flatten()
            .filter_map(|k| counts.get(k))
            .filter_map(|c| c.blocked_until)
            .filter(|until| *until > now)
            .map(|until| until - now)
            .max()
    }

    /// Counts a failed sign-in of `email` from `address`.
    pub fn failed(&self, email: &str, address: Option<IpAddr>, now: Instant) {
        let mut counts = self.counts();
        if counts.len() >= MAX_KEYS {
            self.forget(&mut counts, now);
        }
        let limits = [
            (Some(account(email)), self.config.account_failures),
            (address.map(Key::Address), self.config.address_failures),
        ];
        for (key, free) in limits {
            let Some(key) = key else { continue };
            let count = counts.entry(key).or_insert(Count {
                failures: 0,
                last_failure: now,
                blocked_until: None,
            });
            if now.duration_since(count.last_failure) > self.config.window {
                count.failures = 0;
            }
            count.failures = count.failures.saturating_add(1);
            count.last_failure = now;
            if count.failures >= free.max(1) {
                let doublings = (count.failures - free.max(1)).min(30);
                let delay = self
                    .config
                    .backoff
                    .saturating_mul(1u32 << doublings)
                    .min(self.config.max_backoff);
                count.blocked_until = Some(now + delay);
            }
        }
    }

    /// Clears the count of `email` after a successful sign-in (the address keeps its count).
    pub fn succeeded(&self, email: &str) {
        self.counts().remove(&account(email));
    }

    /// Drops counts past their window and no longer blocking; if still too many, the oldest.
    fn forget(&self, counts: &mut HashMap<Key, Count>, now: Instant) {
        let window = self.config.window;
        counts.retain(|_, c| {
            now.duration_since(c.last_failure) <= window || c.blocked_until.is_some_and(|u| u > now)
        });
        if counts.len() >= MAX_KEYS {
            let mut ages: Vec<Instant> = counts.values().map(|c| c.last_failure).collect();
            ages.sort_unstable();
            let cut = ages[ages.len() / 2];
            counts.retain(|_, c| c.last_failure > cut);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn throttle() -> SignInThrottle {
        SignInThrottle::new(ThrottleConfig {
            account_failures: 3,
            address_failures: 5,
            backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(10),
            window: Duration::from_secs(60),
            trust_forwarded: false,
        })
    }

    #[test]
    fn failures_past_the_free_ones_wait_longer_and_longer_up_to_the_cap() {
        let t = throttle();
        let ip: Option<IpAddr> = "10.0.0.1".parse().ok();
        let start = Instant::now();
        let at = |s: u64| start + Duration::from_secs(s);
        t.failed("A@x.org", ip, at(0));
        t.failed("a@x.org ", ip, at(0));
        assert_eq!(t.wait("a@x.org", ip, at(0)), None);
        t.failed("a@x.org", ip, at(0));
        // The third failure: 1 s; then 2 s, 4 s, 8 s, 10 s (the cap).
        assert_eq!(t.wait("a@x.org", None, at(0)), Some(Duration::from_secs(1)));
        assert_eq!(t.wait("a@x.org", None, at(1)), None);
        for (i, s) in [1u64, 3, 7, 15].iter().enumerate() {
            t.failed("a@x.org", None, at(*s));
            let waited = t.wait("a@x.org", None, at(*s));
            let want = Duration::from_secs([2, 4, 8, 10][i]);
            assert_eq!(waited, Some(want), "failure {}", i + 4);
        }
        // Another account from the same address: the address had 3 failures, two more block it.
        assert_eq!(t.wait("b@x.org", ip, at(100)), None);
        t.failed("b@x.org", ip, at(100));
        assert_eq!(t.wait("c@x.org", ip, at(100)), None);
        t.failed("c@x.org", ip, at(100));
        assert_eq!(
            t.wait("d@x.org", ip, at(100)),
            None,
            "the window forgot the address's first failures"
        );
        t.failed("d@x.org", ip, at(101));
        t.failed("d@x.org", ip, at(101));
        t.failed("e@x.org", ip, at(101));
        assert!(t.wait("f@x.org", ip, at(101)).is_some());
        assert_eq!(t.wait("f@x.org", None, at(101)), None);
    }

    #[test]
    fn a_success_clears_the_account_and_old_failures_are_forgotten() {
        let t = throttle();
        let start = Instant::now();
        t.failed("a@x.org", None, start);
        t.failed("a@x.org", None, start);
        t.succeeded("A@x.org");
        t.failed("a@x.org", None, start);
        t.failed("a@x.org", None, start);
        assert_eq!(t.wait("a@x.org", None, start), None);
        // Two more after the window: counted from one again.
        let later = start + Duration::from_secs(61);
        t.failed("a@x.org", None, later);
        t.failed("a@x.org", None, later);
        assert_eq!(t.wait("a@x.org", None, later), None);
        t.failed("a@x.org", None, later);
        assert!(t.wait("a@x.org", None, later).is_some());
    }
}
