//! Operations basics (issue 12, item 8): `/health` and `/ready` answer without a token; `/`
//! is the web app's (a signed-out browser goes to sign in).
use crate::helpers::{Reply, TestApp};
use prompter::views::ops::ProbeView;
use reqwest::Method;

#[tokio::test]
async fn health_ready_and_the_root() {
    let app = TestApp::spawn().await;
    let health: ProbeView = app.send(Method::GET, "/health", None, None).await.good();
    assert_eq!(health.status, "ok");
    let ready: ProbeView = app.send(Method::GET, "/ready", None, None).await.good();
    assert_eq!(ready.status, "ok", "{ready:?}");
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let response = client
        .get(format!("{}/", app.address))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status().as_u16(), 303);
    assert_eq!(
        response
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok()),
        Some("/login")
    );
    // A database one migration behind is not ready.
    use sea_orm::ConnectionTrait;
    app.db
        .execute_unprepared("DELETE FROM seaql_migrations WHERE version = (SELECT MAX(version) FROM seaql_migrations)")
        .await
        .expect("forget the last migration");
    let ready: ProbeView = app
        .send(Method::GET, "/ready", None, None)
        .await
        .with_status(503);
    assert!(
        ready
            .detail
            .as_deref()
            .unwrap_or_default()
            .contains("migrate up"),
        "{ready:?}"
    );
}

/// Issue 12, item 5: start-up failures name the file, or the host and port, say what to do,
/// and leave nothing behind.
#[tokio::test]
async fn start_up_errors_name_the_place_and_the_fix() {
    use prompter::config::ServeConfig;
    use prompter::startup::Application;
    let dir = tempfile::tempdir().expect("dir");
    let missing = dir.path().join("no/such/folder/p.db");
    let config = ServeConfig::new(format!("sqlite://{}", missing.display()), 0);
    let err = Application::build(config)
        .await
        .err()
        .expect("refused")
        .to_string();
    assert!(err.contains(&missing.display().to_string()), "{err}");
    assert!(err.contains("does not exist"), "{err}");

    // A taken port: refused before the database or its key file is created.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port();
    let db = dir.path().join("fresh.db");
    let config = ServeConfig::new(format!("sqlite://{}", db.display()), port);
    let err = Application::build(config)
        .await
        .err()
        .expect("refused")
        .to_string();
    assert!(err.contains(&format!("127.0.0.1:{port}")), "{err}");
    assert!(err.contains("--port"), "{err}");
    assert!(!db.exists(), "no database file was created");
    assert!(
        !dir.path().join("fresh.key").exists(),
        "no key file was created"
    );

    // PostgreSQL: a database that does not exist is named, with the command that creates it.
    if let Ok(base) = std::env::var("TEST_DATABASE_URL")
        && !base.is_empty()
    {
        let (head, _) = base.rsplit_once('/').expect("a database in the URL");
        let mut config = ServeConfig::new(format!("{head}/prompter_no_such_db"), 0);
        config.secret_key = Some("a-secret-of-sixteen-chars".into());
        let err = Application::build(config)
            .await
            .err()
            .expect("refused")
            .to_string();
        assert!(err.contains("createdb prompter_no_such_db"), "{err}");
        assert!(!err.contains(" at line "), "{err}");
    }
}
