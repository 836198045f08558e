//! Database connections: a real pool, WAL and a busy timeout on SQLite, foreign keys on.
use crate::config::DatabaseConfig;
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, Database, DatabaseConnection, DbErr, SqliteTransactionMode, TransactionOptions,
    TransactionTrait,
};
use std::time::Duration;

/// Opens a connection pool for `config`. A SQLite file is created if missing.
pub async fn connect(config: &DatabaseConfig) -> Result<DatabaseConnection, DbErr> {
    let mut options = ConnectOptions::new(config.url.clone());
    options
        .max_connections(config.max_connections.max(1))
        .min_connections(1)
        .acquire_timeout(Duration::from_secs(30))
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

/// Applies every pending migration.
pub async fn migrate(db: &DatabaseConnection) -> Result<(), DbErr> {
    use migration::MigratorTrait;
    migration::Migrator::up(db, None).await
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
