//! Migrations up, down and up again, and the CLI's status, on the test database.
use crate::helpers::fresh_database;
use migration::{MigrateCommand, Migrator, MigratorTrait, run_command};
use sea_orm::{ConnectionTrait, Database};

#[tokio::test]
async fn migrations_go_up_down_and_up_again() {
    let dir = tempfile::tempdir().expect("dir");
    let (url, pg) = fresh_database(dir.path()).await;
    let db = prompter::db::connect_one(&prompter::config::DatabaseConfig::new(url))
        .await
        .expect("connect");
    let total = Migrator::migrations().len();
    run_command(&db, &MigrateCommand::Up { num: None })
        .await
        .expect("up");
    assert_eq!(
        Migrator::get_pending_migrations(&db)
            .await
            .expect("pending")
            .len(),
        0
    );
    db.execute_unprepared("INSERT INTO organizations (title, created_at, updated_at) VALUES ('o', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z')")
        .await
        .expect("tables exist");
    run_command(&db, &MigrateCommand::Down { num: total as u32 })
        .await
        .expect("down");
    assert_eq!(
        Migrator::get_applied_migrations(&db)
            .await
            .expect("applied")
            .len(),
        0
    );
    assert!(
        db.execute_unprepared("SELECT 1 FROM organizations")
            .await
            .is_err(),
        "tables are gone after down"
    );
    run_command(&db, &MigrateCommand::Up { num: Some(2) })
        .await
        .expect("up 2");
    assert_eq!(
        Migrator::get_pending_migrations(&db)
            .await
            .expect("pending")
            .len(),
        total - 2
    );
    run_command(&db, &MigrateCommand::Up { num: None })
        .await
        .expect("up rest");
    run_command(&db, &MigrateCommand::Status)
        .await
        .expect("status");
    run_command(&db, &MigrateCommand::Fresh)
        .await
        .expect("fresh");
    assert_eq!(
        Migrator::get_applied_migrations(&db)
            .await
            .expect("applied")
            .len(),
        total
    );
    db.close().await.ok();
    if let Some((base, name)) = pg {
        let admin = Database::connect(&base).await.expect("admin");
        admin
            .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .await
            .expect("drop");
    }
}

/// SQLite is built with its query planner stability guarantee (`.cargo/config.toml`): without
/// it every statement whose plan read a bound value (each `LIMIT ?`) was parsed and planned
/// again at each execution. On PostgreSQL there is nothing to check.
#[tokio::test]
async fn sqlite_is_built_with_stable_plans() {
    let dir = tempfile::tempdir().expect("dir");
    let (url, pg) = fresh_database(dir.path()).await;
    if pg.is_some() {
        return;
    }
    let db = prompter::db::connect_one(&prompter::config::DatabaseConfig::new(url))
        .await
        .expect("connect");
    let options: Vec<String> = db
        .query_all_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            "PRAGMA compile_options",
        ))
        .await
        .expect("compile options")
        .iter()
        .filter_map(|row| row.try_get_by_index::<String>(0).ok())
        .collect();
    assert!(
        options.iter().any(|o| o == "ENABLE_QPSG"),
        "SQLite was built without SQLITE_ENABLE_QPSG: {options:?}"
    );
    db.close().await.ok();
}
