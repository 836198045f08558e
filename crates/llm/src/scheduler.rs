//! One scheduler per provider connection and model: the only place that paces, retries and
//! bounds LLM calls.
//!
//! * **Pacing**: a token bucket for requests and one for tokens per minute, filled evenly at
//!   95% of the limit (configured on the connection, or learned from `x-ratelimit-limit-*`
//!   headers), with one second of burst, so a provider's sliding window is never overrun.
//! * **Concurrency** that adapts: a semaphore of at most `max_concurrency` calls, cut by a
//!   quarter on every 429 and grown by one after a window of successes (AIMD).
//! * **Retries** of 429, 5xx, connection errors and timeouts, with exponential backoff and full
//!   jitter, `Retry-After` honoured for every call of the scheduler (a 429 pauses them all),
//!   and a bound on attempts. Other errors (authentication, bad request, invalid output) are
//!   returned at once; a refused parameter is retried inside one attempt ([`super::refusals`]).
//! * **Cancellation**: a [`Cancel`] stops waiting and in-flight calls at once.
use super::{LlmError, LlmProvider, LlmRequest, LlmResponse, RateLimits};
use rand::Rng;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};

/// Share of a rate limit the buckets fill at: headroom for clock skew and the provider's own
/// accounting.
const SAFETY: f64 = 0.95;

/// A cancellation signal shared by the calls of one run.
#[derive(Debug, Default)]
pub struct Cancel {
    flag: AtomicBool,
    notify: Notify,
}

impl Cancel {
    /// A new, not canceled signal.
    pub fn new() -> Arc<Cancel> {
        Arc::new(Cancel::default())
    }

    /// Cancels: every waiting or running call returns [`LlmError::Canceled`].
    pub fn cancel(&self) {
        self.flag.store(true, Ordering::SeqCst);
        self.notify.notify_waiters();
    }

    /// Whether it was canceled.
    pub fn is_canceled(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
    }

    /// Completes once canceled.
    pub async fn canceled(&self) {
        loop {
            let notified = self.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.is_canceled() {
                return;
            }
            notified.await;
        }
    }
}

/// Settings of a scheduler.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SchedulerConfig {
    /// Largest number of calls in flight.
    pub max_concurrency: usize,
    /// Requests per minute allowed (None: unknown until the provider says).
    pub rpm: Option<u64>,
    /// Tokens per minute allowed.
    pub tpm: Option<u64>,
    /// Attempts per call, the first included.
    pub max_attempts: u32,
    /// First backoff; doubles per attempt.
    pub base_backoff: Duration,
    /// Largest backoff.
    pub max_backoff: Duration,
    /// Time limit of one attempt.
    pub call_timeout: Duration,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        SchedulerConfig {
            max_concurrency: 64,
            rpm: None,
            tpm: None,
            max_attempts: 8,
            base_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(30),
            call_timeout: Duration::from_secs(60),
        }
    }
}

/// Counters of a scheduler, for logs and benchmarks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SchedulerStats {
    /// Attempts sent to the provider.
    pub attempts: u64,
    /// Calls that succeeded.
    pub succeeded: u64,
    /// Calls that failed for good.
    pub failed: u64,
    /// Attempts answered 429.
    pub rate_limited: u64,
    /// Attempts retried.
    pub retried: u64,
}

/// What a scheduler is retrying now, for a run's progress: how many calls wait to be retried,
/// and the last error that made one wait.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryState {
    /// Calls waiting out a backoff before their next attempt.
    pub waiting: u64,
    /// Attempts retried since the scheduler started.
    pub retried: u64,
    /// The kind of the last retried error (`RateLimit`, `Timeout`, `ProviderError`, ...).
    pub last_error_type: super::FailureKind,
    /// The last retried error's message.
    pub last_error: String,
    /// When it happened.
    pub last_error_at: chrono::DateTime<chrono::Utc>,
}

/// Counts a call as waiting to be retried while it lives (also when its future is dropped).
struct Waiting<'a>(&'a AtomicU64);

impl<'a> Waiting<'a> {
    fn start(counter: &'a AtomicU64) -> Self {
        counter.fetch_add(1, Ordering::Relaxed);
        Waiting(counter)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The last retried error of a scheduler.
#[derive(Debug, Clone)]
struct LastRetry {
    error_type: super::FailureKind,
    message: String,
    at: chrono::DateTime<chrono::Utc>,
}

/// A token bucket.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    per_second: f64,
    capacity: f64,
    level: f64,
    last: Instant,
}

impl Bucket {
    fn per_minute(limit: u64, now: Instant) -> Bucket {
        Bucket::per_minute_f(limit as f64, now)
    }

    /// A bucket of `limit` per minute (a share of a limit need not be whole).
    fn per_minute_f(limit: f64, now: Instant) -> Bucket {
        let per_second = (limit * SAFETY / 60.0).max(1e-3);
        let capacity = per_second.max(1.0);
        Bucket {
            per_second,
            capacity,
            level: capacity,
            last: now,
        }
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.level = (self.level + elapsed * self.per_second).min(self.capacity);
        self.last = now;
    }

    /// How long until `amount` is there (zero: it is).
    fn wait_for(&self, amount: f64) -> Duration {
        let amount = amount.min(self.capacity);
        if self.level >= amount {
            Duration::ZERO
        } else {
            Duration::from_secs_f64((amount - self.level) / self.per_second)
        }
    }

    fn set_limit(&mut self, limit: f64, now: Instant) {
        self.refill(now);
        let fresh = Bucket::per_minute_f(limit, now);
        self.per_second = fresh.per_second;
        self.capacity = fresh.capacity;
        self.level = self.level.min(self.capacity);
    }
}

/// Pacing state under one lock.
#[derive(Debug)]
struct Pace {
    requests: Option<Bucket>,
    tokens: Option<Bucket>,
    /// Whether the limits came from the configuration (headers then do not override them).
    configured_rpm: bool,
    configured_tpm: bool,
    paused_until: Option<Instant>,
    /// The limits of the connection (configured or learned), whole: this process paces to
    /// `share` of them.
    base_rpm: Option<u64>,
    base_tpm: Option<u64>,
    /// This process's share of the limits (1 alone; 1/n among n processes).
    share: f64,
    /// The concurrency now allowed, and the permits still to withdraw to reach it.
    limit: usize,
    debt: usize,
    successes_since_change: usize,
}

/// The scheduler of one (connection, model).
pub struct Scheduler {
    provider: Mutex<Arc<dyn LlmProvider>>,
    config: SchedulerConfig,
    slots: Arc<Semaphore>,
    pace: Mutex<Pace>,
    attempts: AtomicU64,
    succeeded: AtomicU64,
    failed: AtomicU64,
    rate_limited: AtomicU64,
    retried: AtomicU64,
    waiting: AtomicU64,
    last_retry: Mutex<Option<LastRetry>>,
    /// The provider's name (`OpenAI`, `Custom`…) for metrics; set by whoever made it.
    provider_name: Mutex<&'static str>,
}

/// A successful call, with how it went.
#[derive(Debug, Clone)]
pub struct CallOutcome {
    /// The answer.
    pub response: LlmResponse,
    /// Attempts it took.
    pub attempts: u32,
    /// Seconds of the successful attempt.
    pub seconds: f64,
}

impl Scheduler {
    /// A scheduler over `provider`.
    pub fn new(provider: Arc<dyn LlmProvider>, config: SchedulerConfig) -> Scheduler {
        let now = Instant::now();
        let max = config.max_concurrency.max(1);
        Scheduler {
            provider: Mutex::new(provider),
            slots: Arc::new(Semaphore::new(max)),
            pace: Mutex::new(Pace {
                requests: config.rpm.map(|l| Bucket::per_minute(l, now)),
                tokens: config.tpm.map(|l| Bucket::per_minute(l, now)),
                configured_rpm: config.rpm.is_some(),
                configured_tpm: config.tpm.is_some(),
                paused_until: None,
                base_rpm: config.rpm,
                base_tpm: config.tpm,
                share: 1.0,
                limit: max,
                debt: 0,
                successes_since_change: 0,
            }),
            config: SchedulerConfig {
                max_concurrency: max,
                ..config
            },
            attempts: AtomicU64::new(0),
            succeeded: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            rate_limited: AtomicU64::new(0),
            retried: AtomicU64::new(0),
            waiting: AtomicU64::new(0),
            last_retry: Mutex::new(None),
            provider_name: Mutex::new("unknown"),
        }
    }

    /// Names the provider this scheduler calls, for metrics (`unknown` until named).
    pub fn set_provider_name(&self, name: &'static str) {
        if let Ok(mut n) = self.provider_name.lock() {
            *n = name;
        }
    }

    /// The provider's name given by [`Scheduler::set_provider_name`].
    pub fn provider_name(&self) -> &'static str {
        self.provider_name.lock().map(|n| *n).unwrap_or("unknown")
    }

    /// The most calls in flight it may allow.
    pub fn max_concurrency(&self) -> usize {
        self.config.max_concurrency
    }

    /// What this scheduler is retrying now; `None` when it has never retried.
    pub fn retry_state(&self) -> Option<RetryState> {
        let last = self.last_retry.lock().ok()?.clone()?;
        Some(RetryState {
            waiting: self.waiting.load(Ordering::Relaxed),
            retried: self.retried.load(Ordering::Relaxed),
            last_error_type: last.error_type,
            last_error: last.message,
            last_error_at: last.at,
        })
    }

    /// The counters so far.
    pub fn stats(&self) -> SchedulerStats {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        SchedulerStats {
            attempts: get(&self.attempts),
            succeeded: get(&self.succeeded),
            failed: get(&self.failed),
            rate_limited: get(&self.rate_limited),
            retried: get(&self.retried),
        }
    }

    /// The concurrency now allowed.
    pub fn concurrency(&self) -> usize {
        self.pace.lock().map(|p| p.limit).unwrap_or(1)
    }

    /// Swaps the provider (the connection's credentials changed).
    pub fn set_provider(&self, provider: Arc<dyn LlmProvider>) {
        if let Ok(mut p) = self.provider.lock() {
            *p = provider;
        }
    }

    /// Calls the provider with pacing and retries until an answer, a final error, the bound
    /// on attempts, or `cancel`.
    pub async fn call(
        &self,
        request: &LlmRequest,
        cancel: &Cancel,
    ) -> Result<CallOutcome, LlmError> {
        let estimate = request.estimated_tokens();
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            if cancel.is_canceled() {
                return Err(LlmError::Canceled);
            }
            let slot = self.acquire(estimate, cancel).await?;
            let provider = self
                .provider
                .lock()
                .map(|p| p.clone())
                .map_err(|_| LlmError::Connection("scheduler state poisoned".into()))?;
            self.attempts.fetch_add(1, Ordering::Relaxed);
            let started = Instant::now();
            let result = tokio::select! {
                biased;
                _ = cancel.canceled() => Err(LlmError::Canceled),
                r = tokio::time::timeout(self.config.call_timeout, provider.complete(request)) => {
                    r.unwrap_or(Err(LlmError::Timeout(self.config.call_timeout)))
                }
            };
            let seconds = started.elapsed().as_secs_f64();
            let result = result.map_err(|e| match e {
                LlmError::Timeout(d) if d.is_zero() => LlmError::Timeout(self.config.call_timeout),
                other => other,
            });
            self.release(slot);
            match result {
                Ok(response) => {
                    self.on_success(estimate, &response);
                    self.succeeded.fetch_add(1, Ordering::Relaxed);
                    return Ok(CallOutcome {
                        response,
                        attempts: attempt,
                        seconds,
                    });
                }
                Err(LlmError::Canceled) => return Err(LlmError::Canceled),
                Err(e) if e.is_retryable() && attempt < self.config.max_attempts => {
                    let wait = self.on_retryable(&e, attempt);
                    self.retried.fetch_add(1, Ordering::Relaxed);
                    // The first retry of a call is logged; later ones of the same call at debug.
                    if attempt == 1 {
                        tracing::info!(
                            error_type = %e.error_type(),
                            error = %e,
                            max_attempts = self.config.max_attempts,
                            wait_ms = wait.as_millis() as u64,
                            "retrying an LLM call"
                        );
                    } else {
                        tracing::debug!(
                            error_type = %e.error_type(),
                            attempt,
                            wait_ms = wait.as_millis() as u64,
                            "retrying an LLM call"
                        );
                    }
                    if let Ok(mut last) = self.last_retry.lock() {
                        *last = Some(LastRetry {
                            error_type: e.error_type(),
                            message: e.to_string(),
                            at: chrono::Utc::now(),
                        });
                    }
                    let _waiting = Waiting::start(&self.waiting);
                    tokio::select! {
                        _ = tokio::time::sleep(wait) => {}
                        _ = cancel.canceled() => return Err(LlmError::Canceled),
                    }
                }
                Err(e) => {
                    if matches!(e, LlmError::RateLimit { .. }) {
                        self.rate_limited.fetch_add(1, Ordering::Relaxed);
                    }
                    self.failed.fetch_add(1, Ordering::Relaxed);
                    if e.is_retryable() {
                        tracing::warn!(error_type = %e.error_type(), error = %e, attempts = attempt, "an LLM call failed after its last attempt");
                    }
                    return Err(e);
                }
            }
        }
    }

    /// Waits for a concurrency slot, then for the buckets and any pause.
    async fn acquire(
        &self,
        estimate: u64,
        cancel: &Cancel,
    ) -> Result<OwnedSemaphorePermit, LlmError> {
        let permit = tokio::select! {
            biased;
            _ = cancel.canceled() => return Err(LlmError::Canceled),
            p = self.slots.clone().acquire_owned() => p.map_err(|_| LlmError::Canceled)?,
        };
        loop {
            let wait = {
                let Ok(mut pace) = self.pace.lock() else {
                    return Err(LlmError::Connection("scheduler state poisoned".into()));
                };
                let now = Instant::now();
                let mut wait = pace
                    .paused_until
                    .map(|t| t.saturating_duration_since(now))
                    .unwrap_or_default();
                if wait.is_zero() {
                    if let Some(b) = pace.requests.as_mut() {
                        b.refill(now);
                        wait = wait.max(b.wait_for(1.0));
                    }
                    if let Some(b) = pace.tokens.as_mut() {
                        b.refill(now);
                        wait = wait.max(b.wait_for(estimate as f64));
                    }
                }
                if wait.is_zero() {
                    if let Some(b) = pace.requests.as_mut() {
                        b.level -= 1.0;
                    }
                    if let Some(b) = pace.tokens.as_mut() {
                        b.level -= estimate as f64;
                    }
                    return Ok(permit);
                }
                wait
            };
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = cancel.canceled() => return Err(LlmError::Canceled),
            }
        }
    }

    /// Returns a slot, withdrawing it instead when the concurrency was cut.
    fn release(&self, permit: OwnedSemaphorePermit) {
        if let Ok(mut pace) = self.pace.lock()
            && pace.debt > 0
        {
            pace.debt -= 1;
            permit.forget();
        }
    }

    /// Learns from a success: real token use, the provider's limits, and room to grow.
    fn on_success(&self, estimate: u64, response: &LlmResponse) {
        let Ok(mut pace) = self.pace.lock() else {
            return;
        };
        let now = Instant::now();
        let used = response.usage.prompt_tokens + response.usage.completion_tokens;
        if let Some(b) = pace.tokens.as_mut()
            && used > 0
        {
            b.level -= used as f64 - estimate as f64;
        }
        self.learn_limits(&mut pace, &response.limits, now);
        pace.successes_since_change += 1;
        if pace.successes_since_change >= pace.limit && pace.limit < self.config.max_concurrency {
            pace.limit += 1;
            pace.successes_since_change = 0;
            if pace.debt > 0 {
                pace.debt -= 1;
            } else {
                self.slots.add_permits(1);
            }
        }
    }

    /// Takes limits the provider announced, unless configured.
    fn learn_limits(&self, pace: &mut Pace, limits: &RateLimits, now: Instant) {
        if !pace.configured_rpm
            && let Some(limit) = limits.limit_requests.filter(|l| *l > 0)
        {
            pace.base_rpm = Some(limit);
            pace.configured_rpm = true;
            share::apply(pace, now);
        }
        if !pace.configured_tpm
            && let Some(limit) = limits.limit_tokens.filter(|l| *l > 0)
        {
            pace.base_tpm = Some(limit);
            pace.configured_tpm = true;
            share::apply(pace, now);
        }
        // The allowance is spent: wait for its reset rather than collect 429s.
        let spent = |remaining: Option<u64>, reset: Option<Duration>| {
            (remaining == Some(0)).then_some(reset).flatten()
        };
        if let Some(reset) = spent(limits.remaining_requests, limits.reset_requests)
            .or(spent(limits.remaining_tokens, limits.reset_tokens))
        {
            let until = now + reset;
            pace.paused_until = Some(pace.paused_until.map_or(until, |t| t.max(until)));
        }
    }

    /// Reacts to a retryable error; returns how long this call waits before trying again.
    fn on_retryable(&self, error: &LlmError, attempt: u32) -> Duration {
        let exponent = attempt.saturating_sub(1).min(16);
        let ceiling = self
            .config
            .base_backoff
            .saturating_mul(1u32 << exponent)
            .min(self.config.max_backoff);
        // Full jitter in [ceiling/2, ceiling].
        let jittered = ceiling.mul_f64(rand::thread_rng().gen_range(0.5..=1.0));
        let LlmError::RateLimit {
            retry_after,
            limits,
            ..
        } = error
        else {
            return jittered;
        };
        self.rate_limited.fetch_add(1, Ordering::Relaxed);
        let Ok(mut pace) = self.pace.lock() else {
            return jittered;
        };
        let now = Instant::now();
        self.learn_limits(&mut pace, limits, now);
        // Multiplicative decrease of the concurrency.
        let target = (pace.limit * 3 / 4).max(1);
        if target < pace.limit {
            pace.debt += pace.limit - target;
            pace.limit = target;
        }
        pace.successes_since_change = 0;
        // A 429 despite pacing: the real limit is lower than we thought.
        if let Some(b) = pace.requests.as_mut() {
            b.per_second *= 0.97;
        }
        match retry_after {
            Some(after) => {
                let spread = after.mul_f64(1.0 + rand::thread_rng().gen_range(0.0..0.1));
                let until = now + *after;
                pace.paused_until = Some(pace.paused_until.map_or(until, |t| t.max(until)));
                spread
            }
            None => jittered,
        }
    }
}

/// A scheduler with the fingerprint of what its provider was made from.
type Entry = (u64, Arc<Scheduler>);

/// The schedulers of a process, one per (connection, model).
#[derive(Default)]
pub struct Schedulers {
    map: Mutex<HashMap<(i64, String), Entry>>,
}

impl Schedulers {
    /// The scheduler of `connection` and `model`, made with `make` on first use. A
    /// `fingerprint` that differs from the stored one (credentials or limits changed) swaps
    /// the provider in, keeping the pacing state.
    pub fn get(
        &self,
        connection: i64,
        model: &str,
        fingerprint: u64,
        make: impl FnOnce() -> (Arc<dyn LlmProvider>, SchedulerConfig),
    ) -> Arc<Scheduler> {
        let Ok(mut map) = self.map.lock() else {
            let (provider, config) = make();
            return Arc::new(Scheduler::new(provider, config));
        };
        let key = (connection, model.to_string());
        match map.get_mut(&key) {
            Some((stored, scheduler)) if *stored == fingerprint => scheduler.clone(),
            Some((stored, scheduler)) => {
                let (provider, config) = make();
                let same_limits = scheduler.config.rpm == config.rpm
                    && scheduler.config.tpm == config.tpm
                    && scheduler.config.max_concurrency == config.max_concurrency;
                if same_limits {
                    scheduler.set_provider(provider);
                } else {
                    *scheduler = Arc::new(Scheduler::new(provider, config));
                }
                *stored = fingerprint;
                scheduler.clone()
            }
            None => {
                let (provider, config) = make();
                let scheduler = Arc::new(Scheduler::new(provider, config));
                map.insert(key, (fingerprint, scheduler.clone()));
                scheduler
            }
        }
    }

    /// The scheduler of `connection` and `model`, if this process has made one.
    pub fn find(&self, connection: i64, model: &str) -> Option<Arc<Scheduler>> {
        let map = self.map.lock().ok()?;
        map.get(&(connection, model.to_string()))
            .map(|(_, s)| s.clone())
    }

    /// Every scheduler of this process with its connection and model, for metrics.
    pub fn all(&self) -> Vec<(i64, String, Arc<Scheduler>)> {
        let Ok(map) = self.map.lock() else {
            return vec![];
        };
        map.iter()
            .map(|((connection, model), (_, s))| (*connection, model.clone(), s.clone()))
            .collect()
    }

    /// Every scheduler's counters, added up.
    pub fn stats(&self) -> SchedulerStats {
        let Ok(map) = self.map.lock() else {
            return SchedulerStats::default();
        };
        map.values()
            .fold(SchedulerStats::default(), |mut acc, (_, s)| {
                let st = s.stats();
                acc.attempts += st.attempts;
                acc.succeeded += st.succeeded;
                acc.failed += st.failed;
                acc.rate_limited += st.rate_limited;
                acc.retried += st.retried;
                acc
            })
    }
}

mod share;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Message, Role, Usage};
    use std::sync::atomic::AtomicUsize;

    /// A provider that fails the first `failures` calls with `error`, then answers.
    struct Flaky {
        failures: usize,
        error: LlmError,
        calls: AtomicUsize,
    }

    #[async_trait::async_trait]
    impl LlmProvider for Flaky {
        async fn complete(&self, _: &LlmRequest) -> Result<LlmResponse, LlmError> {
            let n = self.calls.fetch_add(1, Ordering::SeqCst);
            if n < self.failures {
                return Err(self.error.clone());
            }
            Ok(LlmResponse {
                output: serde_json::json!({"ok": true}),
                usage: Usage {
                    prompt_tokens: 3,
                    completion_tokens: 1,
                    ..Default::default()
                },
                limits: RateLimits::default(),
                notes: vec![],
                logprobs: vec![],
            })
        }
    }

    fn request() -> LlmRequest {
        LlmRequest {
            model: "m".into(),
            messages: vec![Message::new(Role::User, "hi")],
            schema: serde_json::json!({"type": "object"}),
            params: Default::default(),
        }
    }

    fn quick() -> SchedulerConfig {
        SchedulerConfig {
            base_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(4),
            max_attempts: 4,
            ..Default::default()
        }
    }

    fn flaky(failures: usize, error: LlmError) -> Arc<Flaky> {
        Arc::new(Flaky {
            failures,
            error,
            calls: AtomicUsize::new(0),
        })
    }

    #[tokio::test]
    async fn retryable_errors_are_retried_up_to_the_bound() {
        let p = flaky(
            2,
            LlmError::Server {
                status: 500,
                message: "x".into(),
            },
        );
        let s = Scheduler::new(p.clone(), quick());
        let out = s
            .call(&request(), &Cancel::default())
            .await
            .expect("answer");
        assert_eq!(out.attempts, 3);
        let p = flaky(10, LlmError::Timeout(Duration::ZERO));
        let s = Scheduler::new(p.clone(), quick());
        let err = s.call(&request(), &Cancel::default()).await.unwrap_err();
        assert_eq!(err.error_type(), "Timeout");
        assert_eq!(p.calls.load(Ordering::SeqCst), 4);
        assert_eq!(s.stats().retried, 3);
    }

    #[tokio::test]
    async fn final_errors_are_not_retried() {
        let p = flaky(10, LlmError::Authentication("bad key".into()));
        let s = Scheduler::new(p.clone(), quick());
        let err = s.call(&request(), &Cancel::default()).await.unwrap_err();
        assert_eq!(err.error_type(), "Authentication");
        assert_eq!(p.calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn rate_limits_cut_concurrency_and_honour_retry_after() {
        let p = flaky(
            1,
            LlmError::RateLimit {
                message: "slow".into(),
                retry_after: Some(Duration::from_millis(5)),
                limits: Box::default(),
            },
        );
        let s = Scheduler::new(
            p,
            SchedulerConfig {
                max_concurrency: 8,
                ..quick()
            },
        );
        let out = s
            .call(&request(), &Cancel::default())
            .await
            .expect("answer");
        assert_eq!(out.attempts, 2);
        assert_eq!(s.concurrency(), 6);
        assert_eq!(s.stats().rate_limited, 1);
    }

    #[tokio::test]
    async fn a_canceled_call_returns_at_once() {
        let p = flaky(0, LlmError::Canceled);
        let s = Scheduler::new(p, quick());
        let cancel = Cancel::default();
        cancel.cancel();
        let err = s.call(&request(), &cancel).await.unwrap_err();
        assert_eq!(err, LlmError::Canceled);
    }

    #[test]
    fn buckets_pace_below_the_limit() {
        let now = Instant::now();
        let mut b = Bucket::per_minute(600, now);
        // 9.5 per second, one second of burst.
        assert!(b.wait_for(1.0).is_zero());
        b.level = 0.0;
        let wait = b.wait_for(1.0);
        assert!(wait > Duration::from_millis(100) && wait < Duration::from_millis(110));
        b.refill(now + Duration::from_secs(10));
        assert!((b.level - b.capacity).abs() < 1e-9);
    }
}
