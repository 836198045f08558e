//! `prompter audit prune`: deletes the audit log entries older than the retention period, as
//! `serve` and `worker` do every hour (for installations that run neither continuously, or a
//! cron job that prefers to do it itself).
use crate::config::DatabaseConfig;
use crate::db;

/// An audit log command.
#[derive(Debug, clap::Subcommand)]
pub enum AuditCommand {
    /// Delete the entries older than `--days` days (0 deletes none); prints how many.
    Prune {
        /// Days an entry is kept.
        #[arg(long, env = "PROMPTER_AUDIT_RETENTION_DAYS", default_value_t = 365)]
        days: u64,
    },
}

/// Runs an audit log command against `database` (applying pending migrations first).
pub async fn run(database: DatabaseConfig, command: AuditCommand) -> Result<(), String> {
    db::migrate(&database).await.map_err(|e| db::message(&e))?;
    let conn = db::connect(&database).await.map_err(|e| db::message(&e))?;
    match command {
        AuditCommand::Prune { days } => {
            let removed = crate::services::audit::prune(&conn, crate::util::now(), days)
                .await
                .map_err(|e| e.to_string())?;
            match days {
                0 => println!("retention is 0 days (keep forever): nothing deleted"),
                _ => println!("deleted {removed} audit log entries older than {days} days"),
            }
        }
    }
    conn.close().await.ok();
    Ok(())
}
