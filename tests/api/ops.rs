//! Operations basics (issue 12, item 8): `/health` and `/ready` answer without a token, `/`
//! leads to the documentation.
use crate::helpers::TestApp;
use reqwest::Method;

#[tokio::test]
async fn health_ready_and_the_root() {
    let app = TestApp::spawn().await;
    let (status, body) = app.send(Method::GET, "/health", None, None).await;
    assert_eq!((status, &body["status"]), (200, &serde_json::json!("ok")));
    let (status, body) = app.send(Method::GET, "/ready", None, None).await;
    assert_eq!(
        (status, &body["status"]),
        (200, &serde_json::json!("ok")),
        "{body}"
    );
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let response = client
        .get(format!("{}/", app.address))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status().as_u16(), 307);
    assert_eq!(
        response
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok()),
        Some("/docs/")
    );
    // A database one migration behind is not ready.
    use sea_orm::ConnectionTrait;
    app.db
        .execute_unprepared("DELETE FROM seaql_migrations WHERE version = (SELECT MAX(version) FROM seaql_migrations)")
        .await
        .expect("forget the last migration");
    let (status, body) = app.send(Method::GET, "/ready", None, None).await;
    assert_eq!(status, 503, "{body}");
    assert!(
        body["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("migrate up"),
        "{body}"
    );
}
