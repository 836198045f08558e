//! Building the application: one builder used by `main` and by the tests. It connects to the
//! database, applies migrations, sets up the secrets key and the first admin, and binds.
use crate::auth::Role;
use crate::config::{DatabaseConfig, ServeConfig};
use crate::crypto::{SecretError, Secrets};
use crate::engine::Engine;
use crate::extract::{BodyLimit, path_config, query_config};
use crate::pricing::PriceTable;
use crate::services::accounts::{self, AccountError};
use crate::state::{AppState, Settings};
use crate::{db, routes};
use actix_web::dev::Server;
use actix_web::middleware::{Compress, from_fn};
use actix_web::{App, HttpServer, web};
use sea_orm::{DatabaseConnection, DbErr};
use std::net::TcpListener;
use std::path::Path;
use tokio::task::JoinHandle;

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// The database could not be reached or migrated.
    #[error("{}", db::message(.0))]
    Database(#[from] DbErr),
    /// The secrets key could not be set up.
    #[error(transparent)]
    Secret(#[from] SecretError),
    /// The first admin could not be created.
    #[error("bootstrap admin: {0}")]
    Admin(#[from] AccountError),
    /// The address could not be bound.
    #[error("listen: {0}")]
    Io(#[from] std::io::Error),
    /// The configuration is incomplete or contradictory.
    #[error("{0}")]
    Config(String),
}

/// A built, bound application, ready to run.
pub struct Application {
    port: u16,
    server: Server,
    db: DatabaseConnection,
    engine: Engine,
    workers: Vec<JoinHandle<()>>,
}

impl Application {
    /// Binds `host:port` (0 = any port) first, so that nothing is created when the port is
    /// taken, then connects, migrates (unless told not to) and bootstraps.
    pub async fn build(config: ServeConfig) -> Result<Self, StartupError> {
        let listener = TcpListener::bind((config.host.as_str(), config.port)).map_err(|e| {
            let hint = match e.kind() {
                std::io::ErrorKind::AddrInUse => {
                    "another process listens there: stop it, or choose another --port / PROMPTER_PORT"
                }
                std::io::ErrorKind::PermissionDenied => {
                    "ports below 1024 need privileges: choose another --port / PROMPTER_PORT"
                }
                _ => "check --host / PROMPTER_HOST and --port / PROMPTER_PORT",
            };
            StartupError::Config(format!(
                "cannot listen on {}:{}: {e} ({hint})",
                config.host, config.port
            ))
        })?;
        if !config.no_migrate {
            db::migrate(&config.database).await?;
        }
        let db = db::connect(&config.database).await?;
        let secrets = secrets_for(
            &config.database,
            config.secret_key.as_deref(),
            config.secret_key_file.as_deref(),
        )?;
        bootstrap_admin(&db, &config).await?;
        let port = listener.local_addr()?.port();
        let prices = load_prices(config.prices_file.as_deref())?;
        let mut engine_config = config.engine.clone();
        engine_config.loopback_bound = crate::config::is_loopback_host(&config.host);
        let engine = Engine::new(db.clone(), secrets.clone(), prices.clone(), engine_config);
        let workers = engine.start();
        let settings = std::sync::Arc::new(Settings {
            ml_webhook_auth: config.ml_webhook_auth,
            prices,
            schedule_min_interval: config.schedule_min_interval,
            metrics: config.metrics,
            metrics_token: config.metrics_token.clone().filter(|t| !t.is_empty()),
        });
        let state = AppState {
            db: db.clone(),
            secrets,
            settings,
            auth_cache: Default::default(),
            engine: engine.clone(),
        };
        let server = server(listener, state, &config)?;
        tracing::info!(address = %format!("{}:{port}", config.host), workers = workers.len(), "listening");
        Ok(Application {
            port,
            server,
            db,
            engine,
            workers,
        })
    }

    /// The bound port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The database pool the application uses.
    pub fn db(&self) -> &DatabaseConnection {
        &self.db
    }

    /// The run engine of the application.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Serves until the process is asked to stop (SIGINT/SIGTERM), then stops the workers,
    /// handing their unfinished slices back.
    pub async fn run_until_stopped(self) -> Result<(), std::io::Error> {
        let result = self.server.await;
        self.engine.shutdown();
        for worker in self.workers {
            let _ = worker.await;
        }
        result
    }
}

/// The price table: built in, extended by the prices file if given.
pub fn load_prices(path: Option<&Path>) -> Result<PriceTable, StartupError> {
    match path {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| StartupError::Config(format!("price file {}: {e}", path.display())))?;
            PriceTable::with_overrides(&text).map_err(StartupError::Config)
        }
        None => Ok(PriceTable::default()),
    }
}

/// The secrets key: the configured secret, else a key file (given, or beside the SQLite file).
pub fn secrets_for(
    database: &DatabaseConfig,
    secret_key: Option<&str>,
    secret_key_file: Option<&Path>,
) -> Result<Secrets, StartupError> {
    if let Some(secret) = secret_key {
        return Ok(Secrets::from_secret(secret)?);
    }
    if let Some(path) = secret_key_file {
        return Ok(Secrets::from_key_file(path)?);
    }
    if !database.is_sqlite() {
        return Err(StartupError::Config(
            "PROMPTER_SECRET_KEY (or PROMPTER_SECRET_KEY_FILE) is required with PostgreSQL: it encrypts provider keys at rest and every server must share it".into(),
        ));
    }
    match database.sqlite_path() {
        Some(db_path) => Ok(Secrets::from_key_file(&db_path.with_extension("key"))?),
        None => {
            tracing::warn!(
                "in-memory database without PROMPTER_SECRET_KEY: using a throw-away key"
            );
            Ok(Secrets::from_secret(&crate::crypto::random_hex(32))?)
        }
    }
}

/// Creates the first organization, user and token from `PROMPTER_ADMIN_*` on an empty database.
async fn bootstrap_admin(
    db: &DatabaseConnection,
    config: &ServeConfig,
) -> Result<(), StartupError> {
    if !accounts::is_empty(db).await? {
        return Ok(());
    }
    match (&config.admin_email, &config.admin_token) {
        (Some(email), Some(token)) => {
            let (user, _) =
                accounts::create_user(db, email, &config.admin_org, Role::Owner, Some(token))
                    .await?;
            if let Some(password) = &config.admin_password {
                crate::services::web_accounts::set_password(db, &user.email, password).await?;
            }
            tracing::info!(user = user.id, email = %user.email, organization = %config.admin_org, "created the first admin");
        }
        (Some(_), None) | (None, Some(_)) => {
            return Err(StartupError::Config(
                "set both PROMPTER_ADMIN_EMAIL and PROMPTER_ADMIN_TOKEN, or neither".into(),
            ));
        }
        (None, None) => tracing::warn!(
            "no users yet: open the web app to create the first account, or run `prompter admin create-user --email you@example.com --org \"My org\" --password ...` (it prints an API token)"
        ),
    }
    Ok(())
}

fn server(
    listener: TcpListener,
    state: AppState,
    config: &ServeConfig,
) -> Result<Server, std::io::Error> {
    let limit = config.max_body_bytes;
    let state = web::Data::new(state);
    let s = &config.sign_in;
    let throttle = web::Data::new(crate::web::SignInThrottle::new(
        crate::web::ThrottleConfig {
            account_failures: s.sign_in_account_failures,
            address_failures: s.sign_in_address_failures,
            backoff: std::time::Duration::from_millis(s.sign_in_backoff_ms),
            max_backoff: std::time::Duration::from_secs(s.sign_in_max_backoff_secs),
            window: std::time::Duration::from_secs(s.sign_in_window_secs),
            trust_forwarded: s.sign_in_trust_forwarded,
        },
    ));
    let mut server = HttpServer::new(move || {
        App::new()
            .wrap(from_fn(crate::web::settle_sent_forms))
            .wrap(from_fn(crate::extract::reject_nul_in_query))
            .wrap(from_fn(crate::openapi::allow_on_405))
            .wrap(from_fn(crate::web::error_pages))
            .wrap(from_fn(crate::telemetry::log_request))
            .wrap(Compress::default())
            .wrap(from_fn(crate::web::security_headers))
            .app_data(state.clone())
            .app_data(throttle.clone())
            .app_data(BodyLimit(limit))
            .app_data(web::PayloadConfig::new(limit))
            .app_data(query_config())
            .app_data(path_config())
            .configure(routes::configure)
            .configure(crate::ml_backend::configure)
            .configure(crate::openapi::configure)
            .configure(crate::web::configure)
            .default_service(web::to(routes::not_found))
    })
    .listen(listener)?
    .shutdown_timeout(10);
    if let Some(workers) = config.http_workers {
        server = server.workers(workers.max(1));
    }
    Ok(server.run())
}
