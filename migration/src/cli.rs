//! The admin migrations CLI: `up`, `down`, `status` and `fresh`, shared by `prompter migrate`
//! and `cargo run -p migration`.
use crate::Migrator;
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::ConnectionTrait;

/// One migrations command.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum MigrateCommand {
    /// Apply pending migrations (all of them, or the next N).
    Up {
        /// How many pending migrations to apply; all when omitted.
        #[arg(short = 'n', long)]
        num: Option<u32>,
    },
    /// Roll back applied migrations (the last one, or the last N).
    Down {
        /// How many applied migrations to roll back.
        #[arg(short = 'n', long, default_value_t = 1)]
        num: u32,
    },
    /// List every migration and whether it is applied.
    Status,
    /// Roll back every migration (dropping Prompter's tables), then apply them all again.
    /// Destroys all data.
    Fresh,
}

/// Runs `command` on `db` and prints what it did to stdout.
pub async fn run_command<C>(db: &C, command: &MigrateCommand) -> Result<(), DbErr>
where
    C: ConnectionTrait + sea_orm_migration::sea_orm::TransactionTrait,
    for<'c> &'c C: IntoSchemaManagerConnection<'c>,
{
    match command {
        MigrateCommand::Up { num } => {
            let pending = Migrator::get_pending_migrations(db).await?;
            let count = num.map_or(pending.len(), |n| (n as usize).min(pending.len()));
            Migrator::up(db, *num).await?;
            for migration in pending.iter().take(count) {
                println!("applied     {}", migration.name());
            }
            if count == 0 {
                println!("nothing to apply: the database is up to date");
            }
        }
        MigrateCommand::Down { num } => {
            let applied = Migrator::get_applied_migrations(db).await?;
            Migrator::down(db, Some(*num)).await?;
            for migration in applied.iter().rev().take(*num as usize) {
                println!("rolled back {}", migration.name());
            }
            if applied.is_empty() {
                println!("nothing to roll back");
            }
        }
        MigrateCommand::Status => {
            for migration in Migrator::get_migration_with_status(db).await? {
                println!(
                    "{:<10}  {}",
                    format!("{}", migration.status()),
                    migration.name()
                );
            }
        }
        MigrateCommand::Fresh => {
            // Rolling back every migration drops the tables children first, which SQLite's
            // foreign-key checks accept (a blind drop of every table does not).
            Migrator::down(db, None).await?;
            Migrator::up(db, None).await?;
            println!(
                "rolled back every migration and applied all {} again",
                Migrator::migrations().len()
            );
        }
    }
    Ok(())
}
