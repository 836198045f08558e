//! The committed OpenAPI document matches the code, and the server serves it and the docs.
use crate::helpers::TestApp;

/// Fails when `openapi/openapi.json` drifts from the code; `UPDATE_OPENAPI=1` rewrites it.
#[test]
fn committed_openapi_matches_the_code() {
    let generated = prompter::routes::docs::openapi_json();
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/openapi.json");
    if std::env::var("UPDATE_OPENAPI").is_ok_and(|v| v == "1") {
        std::fs::write(path, &generated).expect("write openapi.json");
    }
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        committed == generated,
        "openapi/openapi.json is out of date: run `UPDATE_OPENAPI=1 cargo test --test api openapi` and commit it"
    );
}

#[tokio::test]
async fn serves_the_spec_and_offline_docs() {
    let app = TestApp::spawn().await;
    let (status, spec) = app
        .send(reqwest::Method::GET, "/openapi.json", None, None)
        .await;
    assert_eq!(status, 200);
    assert!(spec["paths"]["/api/projects/"].is_object());
    assert!(spec["components"]["securitySchemes"]["Token"].is_object());
    let html = reqwest::get(format!("{}/docs/", app.address))
        .await
        .expect("docs")
        .text()
        .await
        .expect("html");
    assert!(html.contains("swagger"), "Swagger UI page");
}
