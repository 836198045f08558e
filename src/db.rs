//! Database connections: a real pool, WAL and a busy timeout on SQLite, foreign keys on.
use crate::config::DatabaseConfig;
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, Database, DatabaseConnection, DbErr, SqliteTransactionMode, TransactionOptions,
    TransactionTrait,
};
use std::time::Duration;

/// How long opening the first connection may take before the database counts as unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Opens a connection pool for `config`. A SQLite file is created if missing (its folder must
/// exist). A failure names the file, or the host and port, and says what to check.
pub async fn connect(config: &DatabaseConfig) -> Result<DatabaseConnection, DbErr> {
    if let Some(path) = config.sqlite_path()
        && let Some(folder) = path.parent().filter(|p| !p.as_os_str().is_empty())
        && !folder.is_dir()
    {
        return Err(DbErr::Custom(format!(
            "cannot open the SQLite database {}: the folder {} does not exist (create it, or \
             point --database-url / PROMPTER_DATABASE_URL elsewhere)",
            path.display(),
            folder.display()
        )));
    }
    if !config.is_sqlite() {
        tracing::info!(database = %postgres_target(&config.url), "connecting to PostgreSQL");
    }
    // The pool retries a refused connection until its acquire timeout; a first connection
    // that does not come within CONNECT_TIMEOUT is reported at once instead.
    match tokio::time::timeout(CONNECT_TIMEOUT, open(config)).await {
        Ok(result) => result.map_err(|e| DbErr::Custom(explain(config, &e))),
        Err(_) => Err(DbErr::Custom(explain(
            config,
            &DbErr::Custom(format!(
                "no connection within {} s (connection refused or timed out)",
                CONNECT_TIMEOUT.as_secs()
            )),
        ))),
    }
}

async fn open(config: &DatabaseConfig) -> Result<DatabaseConnection, DbErr> {
    let mut options = ConnectOptions::new(config.url.clone());
    options
        .max_connections(config.max_connections.max(1))
        .min_connections(1)
        .connect_timeout(CONNECT_TIMEOUT)
        .acquire_timeout(Duration::from_secs(30))
        // A connection idle this long is pinged before it is handed out; a busy one is not:
        // pinging at every acquire cost a round trip per statement (a message to SQLite's
        // worker thread and back; a network round trip on PostgreSQL), since every statement
        // outside a transaction acquires a connection.
        .test_before_acquire_if_idle_for(Duration::from_secs(30))
        .sqlx_logging(false)
        .map_sqlx_sqlite_opts(|opts| {
            opts.create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(30))
                .foreign_keys(true)
        });
    Database::connect(options).await
}

/// A database error as a person should read it: the explained text of a connection failure,
/// else the driver's message.
pub fn message(err: &DbErr) -> String {
    match err {
        DbErr::Custom(text) => text.clone(),
        other => format!("database: {other}"),
    }
}

/// A connection failure in words: which database, what went wrong (without the driver's
/// source positions), and what to check.
fn explain(config: &DatabaseConfig, err: &DbErr) -> String {
    let raw = match err {
        DbErr::Custom(text) => text.clone(),
        other => other.to_string(),
    };
    let raw = raw
        .trim_start_matches("Connection Error: ")
        .trim_start_matches("error returned from database: ")
        .to_string();
    let cause = match raw.find(" at line ") {
        Some(i) if raw[i..].contains("column") || raw[i + 9..].trim().parse::<u32>().is_ok() => {
            raw[..i].to_string()
        }
        _ => raw.clone(),
    };
    if let Some(path) = config.sqlite_path() {
        return format!(
            "cannot open the SQLite database {}: {cause} (check that the file and its folder \
             are writable)",
            path.display()
        );
    }
    let target = postgres_target(&config.url);
    let hint = if cause.contains("does not exist") && cause.contains("database") {
        let name = config.url.rsplit('/').next().unwrap_or_default();
        let name = name.split('?').next().unwrap_or(name);
        format!("create it (`createdb {name}`) or fix the URL's database name")
    } else if cause.contains("password") || cause.contains("authentication") {
        "check the user and password in the URL".to_string()
    } else if cause.contains("timed out") || cause.contains("refused") || cause.contains("resolve")
    {
        "is PostgreSQL running there, and is the URL's host and port right?".to_string()
    } else {
        "check --database-url / PROMPTER_DATABASE_URL".to_string()
    };
    format!("cannot connect to PostgreSQL at {target}: {cause}; {hint}")
}

/// The `host:port/database` of a PostgreSQL URL, without its user and password.
fn postgres_target(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let rest = rest.rsplit_once('@').map_or(rest, |(_, r)| r);
    rest.split('?').next().unwrap_or(rest).to_string()
}

/// Applies every pending migration, over a connection of its own (see [`connect_one`]).
pub async fn migrate(config: &DatabaseConfig) -> Result<(), DbErr> {
    use migration::MigratorTrait;
    let db = connect_one(config).await?;
    let applied = migration::Migrator::up(&db, None).await;
    db.close().await?;
    applied
}

/// Opens a pool of exactly one connection for `config`: what migrations run over. A schema
/// change spread over a pool's connections can interleave with itself on SQLite (a pragma set
/// on one connection, a drop or create on another: seen as "index … already exists" after a
/// rollback), so every migration command runs on one connection.
pub async fn connect_one(config: &DatabaseConfig) -> Result<DatabaseConnection, DbErr> {
    let mut one = config.clone();
    one.max_connections = 1;
    connect(&one).await
}

/// Begins a write transaction. On SQLite it is `BEGIN IMMEDIATE`: the write lock is taken at
/// once (waiting out the busy timeout), so two writers never both read and then deadlock on
/// the upgrade, which SQLite reports at once as "database is locked". PostgreSQL ignores it.
pub async fn begin_write<C: TransactionTrait>(db: &C) -> Result<C::Transaction, DbErr> {
    db.begin_with_options(TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..Default::default()
    })
    .await
}

/// A failure that trying the same transaction again can cure: a deadlock or a serialization
/// failure (PostgreSQL aborts one of the transactions involved), or SQLite still busy after its
/// timeout.
pub fn is_transient(err: &DbErr) -> bool {
    use sea_orm::RuntimeErr;
    let (DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e))) = err
    else {
        return false;
    };
    let Some(db_err) = e.as_database_error() else {
        return false;
    };
    // PostgreSQL: deadlock_detected, serialization_failure; SQLite: SQLITE_BUSY (5).
    matches!(db_err.code().as_deref(), Some("40P01" | "40001" | "5"))
}

/// The bytes one multi-row statement should carry at most. sqlx leaves Nagle's algorithm on
/// for PostgreSQL's socket, so a statement longer than a TCP segment (about 64 KB on loopback)
/// sends its last part only when the first is acknowledged, which PostgreSQL delays by 40 ms:
/// a results batch's cache rows with their log-probabilities, 25 to a statement, waited that
/// long each and held the run's writer to a third of its pace (B1 on PostgreSQL). Measured:
/// 8 KB (B1 efficiency on PostgreSQL 0.29-0.36 -> 0.92); 32 KB still stalled.
pub const STATEMENT_BYTES: usize = 8 * 1024;

/// How many rows of about `row_bytes` each one statement over `db` takes: at most `max_rows`,
/// and on PostgreSQL within [`STATEMENT_BYTES`] (at least one). SQLite has no socket: there
/// fewer statements are cheaper.
pub fn rows_within(db: &impl sea_orm::ConnectionTrait, row_bytes: usize, max_rows: usize) -> usize {
    match db.get_database_backend() {
        sea_orm::DbBackend::Postgres => {
            (STATEMENT_BYTES / row_bytes.max(1)).clamp(1, max_rows.max(1))
        }
        _ => max_rows.max(1),
    }
}

/// The most ids one statement binds: SQLite refuses a statement with more than 32,766 bound
/// variables ("too many SQL variables") and PostgreSQL more than 65,535, so every list of ids
/// that can grow with the data (a prompt's versions, a run's tasks) is bound in chunks of this.
pub const MAX_BOUND_IDS: usize = 500;

/// Runs `query` once per chunk of at most [`MAX_BOUND_IDS`] of `ids` and returns all their
/// rows in chunk order. Queries whose rows group or order by the chunked column give the same
/// rows as one statement would; others must merge what they need themselves.
pub async fn in_chunks<I, T, F, Fut>(ids: &[I], mut query: F) -> Result<Vec<T>, DbErr>
where
    I: Clone,
    F: FnMut(Vec<I>) -> Fut,
    Fut: std::future::Future<Output = Result<Vec<T>, DbErr>>,
{
    let mut out = Vec::new();
    for chunk in ids.chunks(MAX_BOUND_IDS) {
        out.extend(query(chunk.to_vec()).await?);
    }
    Ok(out)
}

/// `column IN (ids)` with the ids written into the statement as integer literals, not bound:
/// for a condition that one paged query must hold whole (a Custom run's tasks, tasks matching
/// a class filter), however many ids there are. Integers only, so nothing can be injected; an
/// empty list matches nothing. `column` is SQL as written (`tasks.id`).
pub fn ids_literal_in(column: &str, ids: &[i64]) -> sea_orm::sea_query::Expr {
    use std::fmt::Write;
    if ids.is_empty() {
        return sea_orm::sea_query::Expr::cust("1 = 0");
    }
    let mut list = String::with_capacity(ids.len() * 8);
    for (i, id) in ids.iter().enumerate() {
        if i > 0 {
            list.push(',');
        }
        let _ = write!(list, "{id}");
    }
    sea_orm::sea_query::Expr::cust(format!("{column} IN ({list})"))
}
