//! `migration`: the admin migrations CLI on its own (`cargo run -p migration -- up`).
use clap::Parser;
use migration::{MigrateCommand, run_command};
use sea_orm_migration::sea_orm::{ConnectOptions, Database};

/// Prompter's database migrations.
#[derive(Parser)]
#[command(name = "migration", version)]
struct Cli {
    /// Database URL (sqlite://file.db?mode=rwc or postgres://user@host/db).
    #[arg(
        short = 'u',
        long,
        env = "PROMPTER_DATABASE_URL",
        default_value = "sqlite://prompter.db"
    )]
    database_url: String,
    #[command(subcommand)]
    command: MigrateCommand,
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let cli = Cli::parse();
    let result = async {
        let mut options = ConnectOptions::new(cli.database_url.clone());
        options
            .sqlx_logging(false)
            .map_sqlx_sqlite_opts(|o| o.create_if_missing(true).foreign_keys(true));
        let db = Database::connect(options).await?;
        run_command(&db, &cli.command).await
    }
    .await;
    if let Err(err) = result {
        eprintln!("migration failed: {err}");
        std::process::exit(1);
    }
}
