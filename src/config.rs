//! Configuration of the service, from flags and `PROMPTER_*` environment variables.
use std::path::PathBuf;

/// Where log lines go and how they look.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Default)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// Database settings, shared by every subcommand that touches the database.
#[derive(Debug, Clone, clap::Args)]
pub struct DatabaseConfig {
    /// Database URL: `sqlite://FILE` (created if missing) or `postgres://USER@HOST:PORT/DB`.
    #[arg(
        long = "database-url",
        env = "PROMPTER_DATABASE_URL",
        default_value = "sqlite://prompter.db",
        global = true
    )]
    pub url: String,
    /// Largest number of pooled database connections.
    #[arg(
        long = "db-max-connections",
        env = "PROMPTER_DB_MAX_CONNECTIONS",
        default_value_t = 16,
        global = true
    )]
    pub max_connections: u32,
}

impl DatabaseConfig {
    /// A config for `url` with the default pool size.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            max_connections: 16,
        }
    }

    /// True when the URL names a SQLite database.
    pub fn is_sqlite(&self) -> bool {
        self.url.starts_with("sqlite:")
    }

    /// The file of a SQLite database URL; `None` for PostgreSQL and in-memory SQLite.
    pub fn sqlite_path(&self) -> Option<PathBuf> {
        let rest = self.url.strip_prefix("sqlite:")?;
        let rest = rest.strip_prefix("//").unwrap_or(rest);
        let path = rest.split('?').next().unwrap_or_default();
        if path.is_empty() || path == ":memory:" || self.url.contains("mode=memory") {
            None
        } else {
            Some(PathBuf::from(path))
        }
    }
}

/// Settings of `prompter serve`.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeConfig {
    #[command(flatten)]
    pub database: DatabaseConfig,
    /// Address to listen on.
    #[arg(long, env = "PROMPTER_HOST", default_value = "127.0.0.1")]
    pub host: String,
    /// Port to listen on (0 picks a free one).
    #[arg(long, env = "PROMPTER_PORT", default_value_t = 9090)]
    pub port: u16,
    /// Secret that encrypts provider keys at rest. Default with SQLite: a random key generated
    /// once into a `.key` file beside the database. Required with PostgreSQL.
    #[arg(long, env = "PROMPTER_SECRET_KEY", hide_env_values = true)]
    pub secret_key: Option<String>,
    /// File holding the secret (read, or created with a random secret if missing).
    #[arg(long, env = "PROMPTER_SECRET_KEY_FILE")]
    pub secret_key_file: Option<PathBuf>,
    /// Email of the first admin, created with `admin_token` on an empty database.
    #[arg(long, env = "PROMPTER_ADMIN_EMAIL")]
    pub admin_email: Option<String>,
    /// API token of the first admin (any string of 8 to 256 characters).
    #[arg(long, env = "PROMPTER_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
    /// Web sign-in password of the first admin (optional; 8 to 256 characters).
    #[arg(long, env = "PROMPTER_ADMIN_PASSWORD", hide_env_values = true)]
    pub admin_password: Option<String>,
    /// Organization title of the first admin.
    #[arg(long, env = "PROMPTER_ADMIN_ORG", default_value = "Prompter")]
    pub admin_org: String,
    /// Do not apply pending migrations at start.
    #[arg(long, env = "PROMPTER_NO_MIGRATE")]
    pub no_migrate: bool,
    /// Largest accepted request body, in bytes.
    #[arg(long, env = "PROMPTER_MAX_BODY_BYTES", default_value_t = crate::limits::DEFAULT_MAX_BODY_BYTES)]
    pub max_body_bytes: usize,
    /// Seconds between two firings of a schedule, at least: a cron expression that fires more
    /// often (`* * * * * *`) is refused.
    #[arg(long, env = "PROMPTER_SCHEDULE_MIN_INTERVAL", default_value_t = crate::limits::DEFAULT_SCHEDULE_MIN_INTERVAL_SECS)]
    pub schedule_min_interval: u64,
    /// HTTP worker threads (default: one per core).
    #[arg(long, env = "PROMPTER_HTTP_WORKERS")]
    pub http_workers: Option<usize>,
    /// JSON file of model prices (USD per million tokens) that extends or overrides the
    /// built-in table: `{"model-prefix": {"prompt": 0.15, "completion": 0.6}}`.
    #[arg(long, env = "PROMPTER_PRICES_FILE")]
    pub prices_file: Option<PathBuf>,
    /// On an ML backend `/setup` from Label Studio, add the backend's token header to the
    /// webhook Label Studio created for it, so annotation events are accepted without a manual
    /// step (`false` leaves Label Studio's webhooks alone).
    #[arg(long, env = "PROMPTER_ML_WEBHOOK_AUTH", default_value_t = true, action = clap::ArgAction::Set)]
    pub ml_webhook_auth: bool,
    /// Serve `GET /metrics` in Prometheus's text format (`off` answers it 404).
    #[arg(long, env = "PROMPTER_METRICS", default_value_t = true, action = clap::ArgAction::Set,
        value_parser = clap::builder::BoolishValueParser::new())]
    pub metrics: bool,
    /// Token that `GET /metrics` then requires as `Authorization: Bearer <token>` (unset: the
    /// metrics answer without one).
    #[arg(long, env = "PROMPTER_METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<String>,
    #[command(flatten)]
    pub engine: EngineConfig,
    #[command(flatten)]
    pub sign_in: SignInConfig,
}

/// The web sign-in's rate limit (counted in each server process's memory).
#[derive(Debug, Clone, clap::Args)]
pub struct SignInConfig {
    /// Failed sign-ins of one account (email) within the window before each further attempt
    /// waits.
    #[arg(long, env = "PROMPTER_SIGN_IN_ACCOUNT_FAILURES", default_value_t = 5)]
    pub sign_in_account_failures: u32,
    /// Failed sign-ins from one client address within the window before each further attempt
    /// waits.
    #[arg(long, env = "PROMPTER_SIGN_IN_ADDRESS_FAILURES", default_value_t = 20)]
    pub sign_in_address_failures: u32,
    /// The first wait in milliseconds; it doubles with every further failure.
    #[arg(long, env = "PROMPTER_SIGN_IN_BACKOFF_MS", default_value_t = 1000)]
    pub sign_in_backoff_ms: u64,
    /// The longest wait, in seconds.
    #[arg(long, env = "PROMPTER_SIGN_IN_MAX_BACKOFF_SECS", default_value_t = 900)]
    pub sign_in_max_backoff_secs: u64,
    /// Seconds after its last failure that an account's or address's count is forgotten.
    #[arg(long, env = "PROMPTER_SIGN_IN_WINDOW_SECS", default_value_t = 900)]
    pub sign_in_window_secs: u64,
    /// Count failures per address from `X-Forwarded-For` / `Forwarded` (set this only behind
    /// a reverse proxy that sets them; otherwise the connection's peer address counts).
    #[arg(long, env = "PROMPTER_SIGN_IN_TRUST_FORWARDED", default_value_t = false, action = clap::ArgAction::Set)]
    pub sign_in_trust_forwarded: bool,
}

impl Default for SignInConfig {
    fn default() -> Self {
        SignInConfig {
            sign_in_account_failures: 5,
            sign_in_address_failures: 20,
            sign_in_backoff_ms: 1000,
            sign_in_max_backoff_secs: 900,
            sign_in_window_secs: 900,
            sign_in_trust_forwarded: false,
        }
    }
}

/// Settings of `prompter worker`: run workers alone against a shared database.
#[derive(Debug, Clone, clap::Args)]
pub struct WorkerConfig {
    #[command(flatten)]
    pub database: DatabaseConfig,
    /// The secret that encrypts provider keys at rest (the servers' `PROMPTER_SECRET_KEY`).
    #[arg(long, env = "PROMPTER_SECRET_KEY", hide_env_values = true)]
    pub secret_key: Option<String>,
    /// File holding the secret (default with SQLite: the `.key` file beside the database).
    #[arg(long, env = "PROMPTER_SECRET_KEY_FILE")]
    pub secret_key_file: Option<PathBuf>,
    /// JSON file of model prices (see `serve`).
    #[arg(long, env = "PROMPTER_PRICES_FILE")]
    pub prices_file: Option<PathBuf>,
    #[command(flatten)]
    pub engine: EngineConfig,
}

impl ServeConfig {
    /// A config with every default, for `database_url` on `127.0.0.1:port`.
    pub fn new(database_url: impl Into<String>, port: u16) -> Self {
        Self {
            database: DatabaseConfig::new(database_url),
            host: "127.0.0.1".into(),
            port,
            secret_key: None,
            secret_key_file: None,
            admin_email: None,
            admin_token: None,
            admin_password: None,
            admin_org: "Prompter".into(),
            no_migrate: false,
            max_body_bytes: crate::limits::DEFAULT_MAX_BODY_BYTES,
            schedule_min_interval: crate::limits::DEFAULT_SCHEDULE_MIN_INTERVAL_SECS,
            http_workers: None,
            prices_file: None,
            ml_webhook_auth: true,
            metrics: true,
            metrics_token: None,
            engine: EngineConfig::default(),
            sign_in: SignInConfig::default(),
        }
    }
}

/// Settings of the engine, from flags and `PROMPTER_*` variables.
#[derive(Debug, Clone, clap::Args)]
pub struct EngineConfig {
    /// Tasks in a `Sample` subset (its first N tasks) when a request gives no
    /// `sample_subset_size`: API, web and scheduled runs alike, and the subsets' counts.
    #[arg(long, env = "PROMPTER_SAMPLE_SUBSET_SIZE", default_value_t = 20)]
    pub sample_subset_size: u64,
    /// Run workers in this process (0: none; `prompter worker` runs them elsewhere).
    #[arg(long, env = "PROMPTER_WORKERS", default_value_t = 1)]
    pub workers: usize,
    /// LLM calls in flight per worker, and per provider connection and model.
    #[arg(long, env = "PROMPTER_CONCURRENCY", default_value_t = 64)]
    pub concurrency: usize,
    /// Seconds a slice lease (and a job's) lasts without a heartbeat: a dead worker's slices
    /// and jobs are taken over by another worker after this.
    #[arg(long, env = "PROMPTER_LEASE_SECS", default_value_t = 30)]
    pub lease_secs: u64,
    /// Milliseconds an idle worker waits before looking for work again.
    #[arg(long, env = "PROMPTER_POLL_MS", default_value_t = 500)]
    pub poll_ms: u64,
    /// Results written per database transaction, at most.
    #[arg(long, env = "PROMPTER_WRITE_BATCH", default_value_t = 200)]
    pub write_batch: usize,
    /// Seconds one LLM call may take before it counts as a timeout.
    #[arg(long, env = "PROMPTER_LLM_TIMEOUT_SECS", default_value_t = 60.0)]
    pub llm_timeout_secs: f64,
    /// Attempts per LLM call (the first included) for 429s, 5xx, timeouts.
    #[arg(long, env = "PROMPTER_LLM_MAX_ATTEMPTS", default_value_t = 8)]
    pub llm_max_attempts: u32,
    /// First retry backoff in milliseconds (doubles per attempt, with jitter, up to 30 s).
    #[arg(long, env = "PROMPTER_LLM_BACKOFF_MS", default_value_t = 500)]
    pub llm_backoff_ms: u64,
    /// Largest image Prompter fetches to send inline (bytes); a larger one fails its task.
    #[arg(long, env = "PROMPTER_IMAGE_MAX_BYTES", default_value_t = 10 * 1024 * 1024)]
    pub image_max_bytes: usize,
    /// Job workers in this process: loops that claim jobs (refinements, Label Studio syncs
    /// and pushes, ML-backend events) one at a time (0: this process runs no job).
    #[arg(long, env = "PROMPTER_JOB_WORKERS", default_value_t = 2)]
    pub job_workers: usize,
    /// First backoff of a job that failed for a transient reason, in milliseconds (doubles
    /// per attempt, with jitter, up to 10 minutes).
    #[arg(long, env = "PROMPTER_JOB_BACKOFF_MS", default_value_t = 2000)]
    pub job_backoff_ms: u64,
    /// First backoff of a webhook delivery that failed, in milliseconds: doubles per attempt up
    /// to 240 times this (2 hours at the default), for 20 attempts: about a day.
    #[arg(long, env = "PROMPTER_WEBHOOK_BACKOFF_MS", default_value_t = 30_000)]
    pub webhook_backoff_ms: u64,
    /// Milliseconds between looks for due schedules (0: this process fires none).
    #[arg(long, env = "PROMPTER_SCHEDULE_POLL_MS", default_value_t = 1000)]
    pub schedule_poll_ms: u64,
    /// Days an audit log entry is kept (pruned hourly by serve and worker, or by `prompter
    /// audit prune`); 0 keeps entries forever.
    #[arg(long, env = "PROMPTER_AUDIT_RETENTION_DAYS", default_value_t = 365)]
    pub audit_retention_days: u64,
    /// Seconds an answer of the response cache is used for (an identical call within an
    /// organization is answered from it at cost 0); 0 turns the cache off.
    #[arg(long, env = "PROMPTER_CACHE_TTL_SECS", default_value_t = 7 * 86_400)]
    pub cache_ttl_secs: u64,
    /// Answers the response cache keeps per organization at most (the oldest are dropped
    /// first, hourly and when it is cleared).
    #[arg(long, env = "PROMPTER_CACHE_MAX_ENTRIES", default_value_t = 100_000)]
    pub cache_max_entries: u64,
    /// Share a connection's rate limits with the other processes on the database (each paces
    /// to 1/n of them, n the processes calling it). Turn it off only to measure what it does:
    /// alone, each process paces to all of the limits.
    #[arg(long, env = "PROMPTER_SHARED_PACING", default_value_t = true, action = clap::ArgAction::Set)]
    pub shared_pacing: bool,
    /// Milliseconds between looks at a batch run's provider batches (they take minutes to a
    /// day; each look is one request per open batch).
    #[arg(long, env = "PROMPTER_BATCH_POLL_MS", default_value_t = 30_000)]
    pub batch_poll_ms: u64,
    /// Requests in one provider batch at most (also bounded by the provider's own limits:
    /// 50,000 at OpenAI, 100,000 at Azure OpenAI and Anthropic, 20 MB inline at Gemini).
    #[arg(long, env = "PROMPTER_BATCH_MAX_REQUESTS", default_value_t = 5_000)]
    pub batch_max_requests: usize,
    /// Loopback and private addresses that requests made on a user's behalf (LLM endpoints,
    /// images, Label Studio hosts) may reach, comma-separated: host names, `host:port`,
    /// addresses, `address:port`, CIDR blocks, or the words `loopback` and `private`.
    /// Link-local and cloud metadata addresses are never reached. A server listening on a
    /// loopback address may reach loopback without this.
    #[arg(long, env = "PROMPTER_OUTBOUND_ALLOW", value_delimiter = ',', value_parser = outbound_entry)]
    pub outbound_allow: Vec<String>,
    /// Largest answer read from an outbound request (an LLM's, a Label Studio's), in bytes.
    #[arg(long, env = "PROMPTER_OUTBOUND_MAX_BYTES", default_value_t = 32 * 1024 * 1024)]
    pub outbound_max_bytes: usize,
    /// Loopback may be reached: `serve` sets it when it listens on a loopback address.
    #[arg(skip)]
    pub loopback_bound: bool,
}

/// Checks one `PROMPTER_OUTBOUND_ALLOW` entry.
fn outbound_entry(raw: &str) -> Result<String, String> {
    crate::outbound::AllowEntry::parse(raw).map(|_| raw.trim().to_string())
}

/// Whether `host` (as `--host` gives it) is a loopback address or `localhost`.
pub fn is_loopback_host(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare.eq_ignore_ascii_case("localhost")
        || bare
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            sample_subset_size: 20,
            workers: 1,
            concurrency: 64,
            lease_secs: 30,
            poll_ms: 500,
            write_batch: 200,
            llm_timeout_secs: 60.0,
            llm_max_attempts: 8,
            llm_backoff_ms: 500,
            image_max_bytes: 10 * 1024 * 1024,
            job_workers: 2,
            job_backoff_ms: 2000,
            webhook_backoff_ms: 30_000,
            schedule_poll_ms: 1000,
            audit_retention_days: 365,
            cache_ttl_secs: 7 * 86_400,
            cache_max_entries: 100_000,
            shared_pacing: true,
            batch_poll_ms: 30_000,
            batch_max_requests: 5_000,
            outbound_allow: Vec::new(),
            outbound_max_bytes: 32 * 1024 * 1024,
            // Programmatic configs are local ones (tests, `ServeConfig::new` on 127.0.0.1).
            loopback_bound: true,
        }
    }
}
