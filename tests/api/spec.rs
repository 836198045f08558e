//! Issue 18, item 11: the server does what the OpenAPI document says (schemathesis with all its
//! checks in `tests/schemathesis/` probes the rest).
use crate::helpers::TestApp;
use reqwest::Method;
use serde_json::{Value, json};

/// Every documented path answers a method it does not serve with 405 and an `Allow` header
/// that lists exactly the document's methods for that path.
#[tokio::test]
async fn every_405_carries_allow_with_the_documented_methods() {
    let app = TestApp::spawn().await;
    let client = reqwest::Client::new();
    let spec: Value =
        serde_json::from_str(&prompter::routes::docs::openapi_json()).expect("document");
    let paths = spec["paths"].as_object().expect("paths");
    assert!(paths.len() > 40, "the document lists the API");
    for (template, item) in paths {
        let documented: Vec<String> = ["get", "post", "put", "patch", "delete"]
            .into_iter()
            .filter(|m| item.get(*m).is_some())
            .map(str::to_uppercase)
            .collect();
        let path = concrete(template);
        let unserved = ["PUT", "PATCH", "DELETE", "POST", "GET"]
            .into_iter()
            .find(|m| !documented.iter().any(|d| d == m))
            .unwrap_or("TRACE");
        for method in [unserved, "TRACE"] {
            let method_ = Method::from_bytes(method.as_bytes()).expect("method");
            let response = client
                .request(method_, format!("{}{path}", app.address))
                .header("Authorization", format!("Token {}", app.token))
                .send()
                .await
                .expect("request");
            assert_eq!(response.status().as_u16(), 405, "{method} {path}");
            let allow = response
                .headers()
                .get("allow")
                .unwrap_or_else(|| panic!("{method} {path}: 405 without Allow"))
                .to_str()
                .expect("ascii");
            let mut allowed: Vec<&str> = allow.split(',').map(str::trim).collect();
            allowed.sort_unstable();
            let mut expected: Vec<&str> = documented.iter().map(String::as_str).collect();
            expected.sort_unstable();
            assert_eq!(allowed, expected, "{method} {path}");
        }
    }
}

/// A path template with each `{parameter}` replaced by 1.
fn concrete(template: &str) -> String {
    template
        .split('/')
        .map(|s| if s.starts_with('{') { "1" } else { s })
        .collect::<Vec<_>>()
        .join("/")
}

/// A JSON array is not an object with its fields in order: `["text", null]` as a comment is
/// refused with a 400 and nothing is written; nested objects likewise.
#[tokio::test]
async fn positional_arrays_are_not_objects() {
    let app = TestApp::spawn().await;
    let (status, prompt) = app.post("/api/prompts/", json!({"title": "P"})).await;
    assert_eq!(status, 201, "{prompt}");
    let id = prompt["id"].as_i64().expect("id");
    let comments = format!("/api/prompts/{id}/comments");
    let (status, body) = app.post(&comments, json!(["text", null])).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["code"], "validation_error", "{body}");
    assert!(
        body["validation_errors"]["non_field_errors"][0]
            .as_str()
            .is_some_and(|m| m.contains("sequence")),
        "{body}"
    );
    let (status, body) = app.get(&comments).await;
    assert_eq!(status, 200, "{body}");
    // A plain list, or a page of one (the comment list is being paginated).
    let written = body
        .get("count")
        .and_then(Value::as_u64)
        .unwrap_or_else(|| body.as_array().map_or(u64::MAX, |a| a.len() as u64));
    assert_eq!(written, 0, "nothing written: {body}");
    let (status, body) = app
        .post(
            "/api/model-provider-connections/",
            json!(["OpenAI", "Organization"]),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = app
        .post(
            "/api/model-provider-connections/",
            json!({"provider": "OpenAI", "api_key": "k", "model_params": [0.5, 100]}),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["validation_errors"]["model_params"].is_array(),
        "{body}"
    );
}
