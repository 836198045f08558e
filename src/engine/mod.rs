//! The run engine: workers that execute inference runs in-process (`prompter serve`) or alone
//! (`prompter worker`, several machines on one PostgreSQL), and live predictions for a few
//! tasks through the same path.
//!
//! A worker claims a slice of a run under a lease ([`queue`]), skips the tasks that already
//! have a result in the run (a slice resumed after a crash), calls the LLM for the others
//! through the connection's [`Scheduler`](crate::llm::scheduler::Scheduler) ([`plan`]), and
//! writes results in batches through [`results::write_batch`](crate::services::results::write_batch),
//! whose unique (run, task) keys make every write idempotent: a task ends with exactly one
//! prediction or one failure however often workers die or retry.
mod audit_prune;
pub mod batch;
pub mod budget;
pub mod idle;
pub mod images;
pub mod live;
pub mod observe;
pub mod optimize;
pub mod pacing;
pub mod plan;
pub mod prompt;
pub mod queue;
pub mod refine;
pub mod schedules;
pub mod teacher;
pub mod use_cases;
mod worker;

use crate::crypto::Secrets;
use crate::llm::scheduler::{Cancel, SchedulerConfig, Schedulers};
use crate::pricing::PriceTable;
use sea_orm::DatabaseConnection;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

/// How far ahead the idle hook looks for jobs waiting out a backoff, in seconds.
pub const JOB_HORIZON_SECS: i64 = 60;

/// The engine's settings (they live with the rest of the configuration).
pub use crate::config::EngineConfig;

/// The engine of a process: shared schedulers, HTTP client, and the workers it started.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

struct Inner {
    db: DatabaseConnection,
    secrets: Secrets,
    prices: PriceTable,
    config: EngineConfig,
    schedulers: Schedulers,
    budgets: budget::Gates,
    http: crate::outbound::Outbound,
    wake: Notify,
    shutdown: Arc<Cancel>,
    activity: Arc<idle::Activity>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("config", &self.inner.config)
            .finish()
    }
}

/// The outbound client of `config`'s policy (entries were checked when the flags were read;
/// one that does not parse is left out).
fn outbound_for(config: &EngineConfig) -> crate::outbound::Outbound {
    let entries: Vec<String> = config
        .outbound_allow
        .iter()
        .filter(|e| crate::outbound::AllowEntry::parse(e).is_ok())
        .cloned()
        .collect();
    let policy = crate::outbound::Policy::new(&entries, config.loopback_bound).unwrap_or_default();
    crate::outbound::Outbound::new(policy, config.outbound_max_bytes)
}

impl Engine {
    /// An engine over `db`; no worker runs until [`Engine::start`].
    pub fn new(
        db: DatabaseConnection,
        secrets: Secrets,
        prices: PriceTable,
        config: EngineConfig,
    ) -> Engine {
        let http = outbound_for(&config);
        Engine {
            inner: Arc::new(Inner {
                db,
                secrets,
                prices,
                config,
                schedulers: Schedulers::default(),
                budgets: budget::Gates::default(),
                http,
                wake: Notify::new(),
                shutdown: Cancel::new(),
                activity: Arc::default(),
            }),
        }
    }

    /// Starts `config.workers` run workers, `config.job_workers` job workers (the job queue of
    /// [`crate::jobs`]), the schedule ticker (unless `schedule_poll_ms` is 0) and the audit
    /// log's pruning; each runs until [`Engine::shutdown`].
    pub fn start(&self) -> Vec<JoinHandle<()>> {
        let base = worker_base_id();
        let mut handles: Vec<JoinHandle<()>> = (0..self.inner.config.workers)
            .map(|n| {
                let engine = self.clone();
                let id = format!("{base}-{n}");
                tokio::spawn(async move { worker::run(engine, id).await })
            })
            .collect();
        for n in 0..self.inner.config.job_workers {
            let engine = self.clone();
            let id = format!("{base}-j{n}");
            handles.push(tokio::spawn(
                async move { crate::jobs::run(engine, id).await },
            ));
        }
        if self.inner.config.schedule_poll_ms > 0 {
            let engine = self.clone();
            handles.push(tokio::spawn(async move { schedules::run(engine).await }));
        }
        handles.push(tokio::spawn(audit_prune::run(self.clone())));
        if self.inner.config.shared_pacing {
            handles.push(tokio::spawn(pacing::run(self.clone(), base)));
        }
        handles
    }

    /// Asks the workers to stop: no new claims, calls in flight are canceled and their slices
    /// handed back.
    pub fn shutdown(&self) {
        self.inner.shutdown.cancel();
    }

    /// Wakes idle workers (a run was just created).
    pub fn wake(&self) {
        self.inner.wake.notify_waiters();
    }

    /// Marks the engine busy until the guard drops: [`Engine::wait_idle`] waits for it.
    pub fn busy(&self) -> idle::Busy {
        self.inner.activity.enter(true)
    }

    /// Waits until the engine of this process has nothing left to do: no slice or job held or
    /// being claimed by its workers, (when this process
    /// runs workers) no claimable slice in the queue, and (when it runs job workers) no job
    /// claimable now or within [`JOB_HORIZON_SECS`] (a job waiting out a short backoff is still
    /// work). Slices and jobs leased by workers of other processes are not waited for, nor work
    /// that no worker here can take. Polls the queues every `tick` at most; returns the
    /// database error of a look at them.
    ///
    /// A run that keeps its worker busy (calls that never answer) keeps this waiting: callers
    /// bound it with a timeout.
    pub async fn wait_idle(&self, tick: Duration) -> Result<(), sea_orm::DbErr> {
        let activity = &self.inner.activity;
        loop {
            let changed = activity.changed().notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            let (busy, epoch) = activity.snapshot();
            if busy == 0 {
                let now = crate::util::now();
                let queued = (self.inner.config.workers > 0
                    && queue::has_claimable(&self.inner.db, now).await?)
                    || (self.inner.config.job_workers > 0
                        && crate::jobs::queue::has_claimable(
                            &self.inner.db,
                            now,
                            now + chrono::Duration::seconds(JOB_HORIZON_SECS),
                        )
                        .await?);
                if queued {
                    // Workers may be asleep between polls: the work is there now.
                    self.wake();
                } else if activity.snapshot() == (0, epoch) {
                    return Ok(());
                }
            }
            tokio::select! {
                _ = changed => {}
                _ = tokio::time::sleep(tick) => {}
            }
        }
    }

    /// A guard of a claim attempt (see [`idle`]).
    pub(crate) fn attempt(&self) -> idle::Busy {
        self.inner.activity.enter(false)
    }

    /// The settings.
    pub fn config(&self) -> &EngineConfig {
        &self.inner.config
    }

    /// The database pool.
    pub fn db(&self) -> &DatabaseConnection {
        &self.inner.db
    }

    /// The key that opens provider credentials.
    pub fn secrets(&self) -> &Secrets {
        &self.inner.secrets
    }

    /// Model prices.
    pub fn prices(&self) -> &PriceTable {
        &self.inner.prices
    }

    /// The process's budget gates, one per provider connection.
    pub fn budgets(&self) -> &budget::Gates {
        &self.inner.budgets
    }

    /// The process's schedulers.
    pub fn schedulers(&self) -> &Schedulers {
        &self.inner.schedulers
    }

    /// The client of every request made on a user's behalf (the outbound policy).
    pub fn http(&self) -> &crate::outbound::Outbound {
        &self.inner.http
    }

    /// The scheduler settings from the engine's configuration (limits come from the
    /// connection).
    pub fn scheduler_config(&self) -> SchedulerConfig {
        let c = &self.inner.config;
        SchedulerConfig {
            max_concurrency: c.concurrency.max(1),
            rpm: None,
            tpm: None,
            max_attempts: c.llm_max_attempts.max(1),
            base_backoff: Duration::from_millis(c.llm_backoff_ms),
            max_backoff: Duration::from_secs(30),
            call_timeout: Duration::from_secs_f64(c.llm_timeout_secs.max(0.001)),
        }
    }

    pub(crate) fn shutdown_signal(&self) -> &Arc<Cancel> {
        &self.inner.shutdown
    }

    pub(crate) fn wake_signal(&self) -> &Notify {
        &self.inner.wake
    }
}

/// A worker id prefix unique to this process: host, pid and a random tag.
fn worker_base_id() -> String {
    let host: String = std::env::var("HOSTNAME")
        .unwrap_or_else(|_| "prompter".into())
        .chars()
        .take(32)
        .collect();
    format!(
        "{host}-{}-{}",
        std::process::id(),
        crate::crypto::random_hex(3)
    )
}
