//! What the benchmark binaries share: a fresh database per run (a SQLite file in a temp dir,
//! or a new PostgreSQL database on `BENCH_PG_URL`) and its removal.
use sea_orm::{ConnectionTrait, Database};

/// A fresh database URL, and what to drop at the end (PostgreSQL).
pub async fn fresh_database(
    postgres: bool,
    dir: &std::path::Path,
) -> (String, Option<(String, String)>) {
    if !postgres {
        return (format!("sqlite://{}", dir.join("bench.db").display()), None);
    }
    let base = std::env::var("BENCH_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let name = format!("prompter_bench_{}", uuid::Uuid::new_v4().simple());
    let admin = Database::connect(&base)
        .await
        .expect("connect to PostgreSQL");
    admin
        .execute_unprepared(&format!("CREATE DATABASE {name}"))
        .await
        .expect("create database");
    admin.close().await.ok();
    let (head, _) = base.rsplit_once('/').expect("database name in URL");
    (format!("{head}/{name}"), Some((base, name)))
}

/// Drops a PostgreSQL database made by [`fresh_database`].
pub async fn drop_database(pg: Option<(String, String)>) {
    if let Some((base, name)) = pg
        && let Ok(admin) = Database::connect(&base).await
    {
        admin
            .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .await
            .ok();
        admin.close().await.ok();
    }
}
