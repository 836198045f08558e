//! The `prompter` command line: `serve`, `migrate`, `admin`, `audit`, `openapi`, `worker`, `run`,
//! `eval`, `ls`, `jobs`.
pub mod assets;
pub mod audit;
pub mod eval;
pub mod jobs;
pub mod ls;
pub mod run;

use crate::auth::Role;
use crate::config::{DatabaseConfig, LogFormat, ServeConfig};
use crate::services::{accounts, web_accounts};
use crate::startup::Application;
use crate::{db, telemetry};
use clap::{Parser, Subcommand};
use migration::MigrateCommand;

/// Prompter: Label Studio Prompts, open and self-hostable.
#[derive(Debug, Parser)]
#[command(name = "prompter", version, about)]
pub struct Cli {
    /// Log line format.
    #[arg(long, env = "PROMPTER_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

/// A subcommand.
#[derive(Debug, Subcommand)]
// Parsed once at start; boxing the large variant would buy nothing.
#[allow(clippy::large_enum_variant)]
pub enum Command {
    /// Run the HTTP API (applies pending migrations first).
    Serve(ServeConfig),
    /// Manage the database schema.
    Migrate {
        #[command(flatten)]
        database: DatabaseConfig,
        #[command(subcommand)]
        command: MigrateCommand,
    },
    /// Manage users and tokens.
    Admin {
        #[command(flatten)]
        database: DatabaseConfig,
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Manage the audit log (prune old entries).
    Audit {
        #[command(flatten)]
        database: DatabaseConfig,
        #[command(subcommand)]
        command: crate::cli::audit::AuditCommand,
    },
    /// Print the OpenAPI document.
    Openapi,
    /// Run inference and job workers alone, against the database the servers share
    /// (scale-out).
    Worker(crate::config::WorkerConfig),
    /// Start an inference run on a Prompter server and follow it with a progress bar.
    Run(crate::cli::run::RunArgs),
    /// A regression gate for CI: compare a candidate version with a baseline (by default the
    /// `production` label) on a project's ground truth through a Prompter server; exit 1 when
    /// the candidate is significantly worse (or, with `--require-better`, not better), 2 when
    /// the gate cannot decide.
    Eval(crate::cli::eval::EvalArgs),
    /// Export a prompt (versions, steps, parameters, schedules) as one JSON document, through
    /// a Prompter server.
    Export(crate::cli::assets::ExportArgs),
    /// Import an exported prompt as a new prompt, through a Prompter server.
    Import(crate::cli::assets::ImportArgs),
    /// Link, sync and push with a Label Studio instance through a Prompter server.
    Ls {
        #[command(subcommand)]
        command: crate::cli::ls::LsCommand,
    },
    /// List the jobs of a Prompter server, or follow one with a progress bar (`--watch ID`).
    Jobs(crate::cli::jobs::JobsArgs),
    /// Run the fake OpenAI-compatible LLM server (tests and benchmarks).
    FakeLlm {
        /// The loopback port to listen on (0 picks a free one).
        #[arg(long, default_value_t = 8089)]
        port: u16,
        #[command(flatten)]
        config: crate::fake_llm::FakeLlmConfig,
    },
}

/// An admin command.
#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create a user (and its organization if new); prints a new API token on the last line.
    CreateUser {
        /// The user's email.
        #[arg(long)]
        email: String,
        /// Organization title; created if it does not exist.
        #[arg(long)]
        org: String,
        /// Role in the organization (case-insensitive).
        #[arg(long, value_enum, default_value_t = Role::Owner, ignore_case = true)]
        role: Role,
        /// Web sign-in password (8 to 256 characters); without it the user signs in only
        /// after `set-password`.
        #[arg(long, env = "PROMPTER_PASSWORD", hide_env_values = true)]
        password: Option<String>,
    },
    /// Set the web sign-in password of an existing user (from --password, PROMPTER_PASSWORD,
    /// or the first line of standard input).
    SetPassword {
        /// The user's email.
        #[arg(long)]
        email: String,
        /// The new password (8 to 256 characters).
        #[arg(long, env = "PROMPTER_PASSWORD", hide_env_values = true)]
        password: Option<String>,
    },
    /// Issue a new API token for an existing user; prints it on the last line.
    CreateToken {
        /// The user's email.
        #[arg(long)]
        email: String,
    },
}

/// The binary's entry point: parses the command line, runs it on a multi-threaded tokio
/// runtime and returns the process exit code. Kept here, not in `main.rs`, so that the whole
/// async call tree under [`run`] is compiled once, in this crate, rather than again in the binary.
pub fn main() -> i32 {
    let cli = Cli::parse();
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime.block_on(run(cli)),
        Err(error) => {
            eprintln!("prompter: cannot start the async runtime: {error}");
            1
        }
    }
}

/// Runs the command line; returns the process exit code.
pub async fn run(cli: Cli) -> i32 {
    telemetry::init(cli.log_format);
    crate::util::install_tls();
    let result: Result<(), String> = match cli.command {
        Command::Serve(config) => serve(config).await,
        Command::Migrate { database, command } => migrate(database, command).await,
        Command::Admin { database, command } => admin(database, command).await,
        Command::Audit { database, command } => crate::cli::audit::run(database, command).await,
        Command::Openapi => {
            // A reader that stops early (`| head`) closes the pipe: not an error worth a panic.
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            match out.write_all(crate::openapi::openapi_json().as_bytes()) {
                Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.to_string()),
                _ => Ok(()),
            }
        }
        Command::FakeLlm { port, config } => fake_llm(config, port).await,
        Command::Worker(config) => worker(config).await,
        Command::Run(args) => return crate::cli::run::run(args).await,
        Command::Eval(args) => return crate::cli::eval::run(args).await,
        Command::Export(args) => return crate::cli::assets::export(args).await,
        Command::Import(args) => return crate::cli::assets::import(args).await,
        Command::Ls { command } => return crate::cli::ls::run(command).await,
        Command::Jobs(args) => return crate::cli::jobs::run(args).await,
    };
    match result {
        Ok(()) => 0,
        Err(message) => {
            eprintln!("error: {message}");
            1
        }
    }
}

async fn serve(config: ServeConfig) -> Result<(), String> {
    let app = Application::build(config)
        .await
        .map_err(|e| e.to_string())?;
    app.run_until_stopped().await.map_err(|e| e.to_string())
}

async fn worker(config: crate::config::WorkerConfig) -> Result<(), String> {
    if config.engine.workers == 0 && config.engine.job_workers == 0 {
        return Err("--workers or --job-workers must be at least 1 for `prompter worker`".into());
    }
    let conn = db::connect(&config.database)
        .await
        .map_err(|e| db::message(&e))?;
    let secrets = crate::startup::secrets_for(
        &config.database,
        config.secret_key.as_deref(),
        config.secret_key_file.as_deref(),
    )
    .map_err(|e| e.to_string())?;
    let prices =
        crate::startup::load_prices(config.prices_file.as_deref()).map_err(|e| e.to_string())?;
    let engine = crate::engine::Engine::new(conn, secrets, prices, config.engine.clone());
    let workers = engine.start();
    tracing::info!(
        workers = workers.len(),
        "workers running; Ctrl-C or SIGTERM stops them"
    );
    shutdown_signal().await;
    engine.shutdown();
    for w in workers {
        let _ = w.await;
    }
    Ok(())
}

/// Completes on SIGINT or SIGTERM.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

async fn fake_llm(config: crate::fake_llm::FakeLlmConfig, port: u16) -> Result<(), String> {
    let server = crate::fake_llm::FakeLlm::start(config, port)
        .await
        .map_err(|e| format!("cannot start the fake LLM server: {e}"))?;
    println!("fake LLM listening; base URL {}", server.base_url());
    tokio::signal::ctrl_c().await.map_err(|e| e.to_string())?;
    server.stop().await;
    println!("{}", serde_json::json!(server.stats()));
    Ok(())
}

async fn migrate(database: DatabaseConfig, command: MigrateCommand) -> Result<(), String> {
    let conn = db::connect_one(&database)
        .await
        .map_err(|e| db::message(&e))?;
    let done = migration::run_command(&conn, &command)
        .await
        .map_err(|e| e.to_string());
    conn.close().await.ok();
    done
}

async fn admin(database: DatabaseConfig, command: AdminCommand) -> Result<(), String> {
    db::migrate(&database).await.map_err(|e| db::message(&e))?;
    let conn = db::connect(&database).await.map_err(|e| db::message(&e))?;
    match command {
        AdminCommand::CreateUser {
            email,
            org,
            role,
            password,
        } => {
            if let Some(p) = &password {
                web_accounts::check_password(p).map_err(|e| e.to_string())?;
            }
            let (user, token) = accounts::create_user(&conn, &email, &org, role, None)
                .await
                .map_err(|e| e.to_string())?;
            if let Some(p) = &password {
                web_accounts::set_password(&conn, &user.email, p)
                    .await
                    .map_err(|e| e.to_string())?;
            }
            println!(
                "created user {} ({}) in organization \"{org}\" as {}",
                user.id,
                user.email,
                role.as_str()
            );
            println!("API token (shown once; use it as `Authorization: Token <token>`):");
            println!("{token}");
        }
        AdminCommand::SetPassword { email, password } => {
            let password = match password {
                Some(p) => p,
                None => {
                    let mut line = String::new();
                    std::io::stdin()
                        .read_line(&mut line)
                        .map_err(|e| format!("reading the password from standard input: {e}"))?;
                    line.trim_end_matches(['\r', '\n']).to_string()
                }
            };
            let user = web_accounts::set_password(&conn, &email, &password)
                .await
                .map_err(|e| e.to_string())?;
            println!("password set for {}; sign in at /login", user.email);
        }
        AdminCommand::CreateToken { email } => {
            let token = accounts::create_token(&conn, &email)
                .await
                .map_err(|e| e.to_string())?;
            println!("new API token for {email} (shown once):");
            println!("{token}");
        }
    }
    Ok(())
}
