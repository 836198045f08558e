//! Migrated test databases, copied from one template instead of migrated test by test.
//!
//! The template is named by a hash of the migration list and of the migration crate's sources,
//! so a changed or added migration never meets a stale template:
//!
//! - **PostgreSQL**: a database `prompter_tpl_<hash>` on the server of `TEST_DATABASE_URL`,
//!   built once under an advisory lock (test binaries may run side by side, and several
//!   checkouts may share the server): migrated under a temporary name, then renamed, so the
//!   template name only ever points at a complete schema. Each test's database is
//!   `CREATE DATABASE … TEMPLATE prompter_tpl_<hash>`. Templates stay on the server for the
//!   next run (a few MB each); drop old `prompter_tpl_*` databases by hand when convenient.
//! - **SQLite**: a file `sqlite-template-<hash>.db` under Cargo's `CARGO_TARGET_TMPDIR`,
//!   written with `VACUUM INTO` and moved into place with an atomic rename; each test copies
//!   it into its own temp dir.
//!
//! Every test still has a database of its own: the template is only ever read.
use migration::MigratorTrait;
use prompter::config::DatabaseConfig;
use sea_orm::{ConnectOptions, ConnectionTrait, Database, Statement};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use tokio::sync::OnceCell;

/// The advisory lock key under which PostgreSQL templates are built ("prompter" in ASCII).
const TEMPLATE_LOCK: i64 = 0x7072_6f6d_7074_6572;

/// The template of this process: built (or found) by the first test that needs it.
static TEMPLATE: OnceCell<String> = OnceCell::const_new();

/// The schema's fingerprint: the migrations' names in order and the migration crate's sources.
fn schema_hash() -> String {
    let mut hash = Sha256::new();
    for migration in migration::Migrator::migrations() {
        hash.update(migration.name().as_bytes());
        hash.update(b"\n");
    }
    let src = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/migration/src"));
    let mut files: Vec<PathBuf> = std::fs::read_dir(src)
        .expect("read migration/src")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
        .collect();
    files.sort();
    for file in files {
        hash.update(std::fs::read(&file).expect("read a migration"));
    }
    hex::encode(&hash.finalize()[..8])
}

/// A fresh database with every migration applied: a copy of the template, PostgreSQL's when
/// `TEST_DATABASE_URL` is set, else a SQLite file in `dir`. Returns the URL, and for
/// PostgreSQL the base URL and database name to drop at the end.
pub async fn migrated_database(dir: &Path) -> (String, Option<(String, String)>) {
    match std::env::var("TEST_DATABASE_URL") {
        Ok(base) if !base.is_empty() => {
            let template = TEMPLATE
                .get_or_init(|| postgres_template(base.clone()))
                .await;
            let name = format!("prompter_test_{}", uuid::Uuid::new_v4().simple());
            let admin = Database::connect(&base)
                .await
                .expect("connect to TEST_DATABASE_URL");
            admin
                .execute_unprepared(&format!("CREATE DATABASE {name} TEMPLATE {template}"))
                .await
                .expect("create test database from the template");
            admin.close().await.ok();
            (
                format!("{}/{name}", url_head(&base)),
                Some((base.clone(), name)),
            )
        }
        _ => {
            let template = TEMPLATE.get_or_init(sqlite_template).await;
            let path = dir.join("test.db");
            std::fs::copy(template, &path).expect("copy the SQLite template");
            (format!("sqlite://{}", path.display()), None)
        }
    }
}

/// `postgres://user@host:port` of `postgres://user@host:port/db`.
fn url_head(base: &str) -> &str {
    base.rsplit_once('/')
        .expect("TEST_DATABASE_URL has a database name")
        .0
}

/// Finds or builds `prompter_tpl_<hash>` on the server of `base`.
async fn postgres_template(base: String) -> String {
    let template = format!("prompter_tpl_{}", schema_hash());
    // One connection, so that the session-level advisory lock is held where it was taken.
    let mut options = ConnectOptions::new(base.clone());
    options.max_connections(1).min_connections(1);
    let admin = Database::connect(options)
        .await
        .expect("connect to TEST_DATABASE_URL");
    admin
        .execute_unprepared(&format!("SELECT pg_advisory_lock({TEMPLATE_LOCK})"))
        .await
        .expect("take the template lock");
    let exists = admin
        .query_one_raw(Statement::from_sql_and_values(
            admin.get_database_backend(),
            "SELECT 1 AS found FROM pg_database WHERE datname = $1",
            [template.clone().into()],
        ))
        .await
        .expect("look for the template")
        .is_some();
    if !exists {
        let building = format!("{template}_{}", uuid::Uuid::new_v4().simple());
        admin
            .execute_unprepared(&format!("CREATE DATABASE {building}"))
            .await
            .expect("create the template");
        let url = format!("{}/{building}", url_head(&base));
        prompter::db::migrate(&DatabaseConfig::new(url))
            .await
            .expect("migrate the template");
        admin
            .execute_unprepared(&format!("ALTER DATABASE {building} RENAME TO {template}"))
            .await
            .expect("name the template");
    }
    admin
        .execute_unprepared(&format!("SELECT pg_advisory_unlock({TEMPLATE_LOCK})"))
        .await
        .expect("release the template lock");
    admin.close().await.ok();
    template
}

/// Finds or builds `sqlite-template-<hash>.db` under Cargo's temp dir for integration tests.
async fn sqlite_template() -> String {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let template = dir.join(format!("sqlite-template-{}.db", schema_hash()));
    if template.exists() {
        return template.display().to_string();
    }
    let unique = format!("{}-{}", std::process::id(), uuid::Uuid::new_v4().simple());
    let work = dir.join(format!("sqlite-template-build-{unique}.db"));
    let out = dir.join(format!("sqlite-template-out-{unique}.db"));
    let config = DatabaseConfig::new(format!("sqlite://{}", work.display()));
    prompter::db::migrate(&config)
        .await
        .expect("migrate the SQLite template");
    let db = prompter::db::connect_one(&config)
        .await
        .expect("open the SQLite template");
    // One self-contained file (no WAL beside it), moved into place in one step: a process
    // racing this one either sees no template or a whole one.
    db.execute_unprepared(&format!("VACUUM INTO '{}'", out.display()))
        .await
        .expect("write the SQLite template");
    db.close().await.expect("close the SQLite template");
    std::fs::rename(&out, &template).expect("move the SQLite template into place");
    for leftover in [
        work.clone(),
        PathBuf::from(format!("{}-wal", work.display())),
        PathBuf::from(format!("{}-shm", work.display())),
    ] {
        let _ = std::fs::remove_file(leftover);
    }
    template.display().to_string()
}
