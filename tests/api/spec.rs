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
    let spec: Value = serde_json::from_str(&prompter::openapi::openapi_json()).expect("document");
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

/// The parameters the server requires are the ones the document marks required (issue 18,
/// item 11): each is required in the document, and the server answers 400 naming it without.
#[tokio::test]
async fn required_parameters_are_documented_and_enforced() {
    let app = TestApp::spawn().await;
    let spec: Value = serde_json::from_str(&prompter::openapi::openapi_json()).expect("document");
    let query_required = |path: &str, name: &str| {
        spec["paths"][path]["get"]["parameters"]
            .as_array()
            .expect("parameters")
            .iter()
            .any(|p| p["name"] == name && p["in"] == "query" && p["required"] == true)
    };
    assert!(query_required("/api/tasks/", "project"));
    assert!(query_required(
        "/api/prompts/{id}/versions/{version_id}/refine",
        "refinement_job_id"
    ));
    let body_required = |path: &str, name: &str| {
        let schema = &spec["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]
            ["$ref"];
        let component = schema
            .as_str()
            .expect("a component")
            .rsplit('/')
            .next()
            .expect("name");
        let schema = &spec["components"]["schemas"][component];
        let required = schema["required"]
            .as_array()
            .is_some_and(|r| r.iter().any(|f| f == name));
        let nullable = schema["properties"][name]["type"]
            .as_array()
            .is_some_and(|t| t.iter().any(|t| t == "null"));
        required && !nullable
    };
    for (path, field) in [
        ("/api/prompts/", "title"),
        ("/api/predictions/", "task"),
        ("/api/prompts/{id}/schedules", "cron"),
        ("/api/prompts/{id}/schedules", "project"),
        ("/api/model-run/batch-predictions", "modelrun_id"),
        ("/api/model-run/batch-failed-predictions", "modelrun_id"),
        (
            "/api/prompts/{id}/versions/{version_id}/inference-runs",
            "project",
        ),
        ("/api/prompts/{id}/versions/{version_id}/predict", "project"),
    ] {
        assert!(body_required(path, field), "{path}: {field} is required");
    }
    // PATCH keeps every field optional.
    let patch = &spec["paths"]["/api/prompts/{id}/"]["patch"]["requestBody"]["content"]["application/json"]
        ["schema"]["$ref"];
    assert_eq!(patch, "#/components/schemas/PromptInput");

    let (status, body) = app.get("/api/tasks/").await;
    assert_eq!(status, 400, "{body}");
    let (status, prompt) = app.post("/api/prompts/", json!({})).await;
    assert_eq!(status, 400, "{prompt}");
    assert!(prompt["validation_errors"]["title"].is_array(), "{prompt}");
    let (_, prompt) = app.post("/api/prompts/", json!({"title": "P"})).await;
    let id = prompt["id"].as_i64().expect("id");
    let (status, body) = app
        .post(&format!("/api/prompts/{id}/schedules"), json!({}))
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(body["validation_errors"]["cron"].is_array(), "{body}");
    let (status, body) = app.post("/api/predictions/", json!({})).await;
    assert_eq!(status, 400, "{body}");
    assert!(body["validation_errors"]["task"].is_array(), "{body}");
    let (status, body) = app
        .post("/api/model-run/batch-predictions", json!({"results": []}))
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["validation_errors"]["modelrun_id"].is_array(),
        "{body}"
    );
}

/// `page_size` is any positive integer on every list: a larger one is clamped to the list's
/// maximum (as Label Studio does, and as the document says), anything else is a 400 naming it.
#[tokio::test]
async fn page_size_is_clamped_or_refused_the_same_way_on_every_list() {
    let app = TestApp::spawn().await;
    let project = app
        .project(r#"<View><Text name="text" value="$text"/></View>"#)
        .await;
    let lists = [
        "/api/projects/?".to_string(),
        "/api/prompts/?".to_string(),
        "/api/prompts/compatible-projects?".to_string(),
        format!("/api/tasks/?project={project}&"),
    ];
    for list in &lists {
        for huge in ["9223372036854775808", "99999999999999999999999999999"] {
            let (status, body) = app.get(&format!("{list}page_size={huge}")).await;
            assert_eq!(status, 200, "{list} {huge}: {body}");
        }
        for bad in ["0", "-1", "x", "1.5"] {
            let (status, body) = app.get(&format!("{list}page_size={bad}")).await;
            assert_eq!(status, 400, "{list} {bad}: {body}");
            assert!(body["validation_errors"]["page_size"].is_array(), "{body}");
        }
    }
    let spec: Value = serde_json::from_str(&prompter::openapi::openapi_json()).expect("document");
    let size = spec["paths"]["/api/projects/"]["get"]["parameters"]
        .as_array()
        .expect("parameters")
        .iter()
        .find(|p| p["name"] == "page_size")
        .expect("page_size")
        .clone();
    assert_eq!(
        size["schema"],
        json!({"type": "integer", "minimum": 1}),
        "{size}"
    );
}

/// `max_tokens` of 2^31 is refused with a 400 naming it, and the document gives the maximum.
#[tokio::test]
async fn max_tokens_over_the_maximum_is_refused_as_documented() {
    let app = TestApp::spawn().await;
    let (status, body) = app
        .post(
            "/api/model-provider-connections/",
            json!({"provider": "OpenAI", "api_key": "k", "model_params": {"max_tokens": 2147483648u64}}),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["validation_errors"]["model_params.max_tokens"].is_array(),
        "{body}"
    );
    let limit = prompter::limits::MAX_OUTPUT_TOKENS;
    let (status, body) = app
        .post(
            "/api/model-provider-connections/",
            json!({"provider": "OpenAI", "api_key": "k", "model_params": {"max_tokens": limit + 1}}),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["validation_errors"]["model_params.max_tokens"].is_array(),
        "{body}"
    );
    let (status, body) = app
        .post(
            "/api/model-provider-connections/",
            json!({"provider": "OpenAI", "api_key": "k", "model_params": {"max_tokens": limit}}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let spec: Value = serde_json::from_str(&prompter::openapi::openapi_json()).expect("document");
    let documented = &spec["components"]["schemas"]["ModelParams"]["properties"]["max_tokens"];
    assert_eq!(documented["maximum"], json!(limit), "{documented}");
    assert_eq!(documented["minimum"], json!(1), "{documented}");
}

/// A project's colour longer than its column (16 characters, as Label Studio's) is a 400
/// naming it on both databases, not a PostgreSQL error; the document gives the maximum.
#[tokio::test]
async fn a_project_colour_over_its_column_is_refused() {
    let app = TestApp::spawn().await;
    let project = app
        .project(r#"<View><Text name="text" value="$text"/></View>"#)
        .await;
    let (status, body) = app
        .patch(
            &format!("/api/projects/{project}/"),
            json!({"color": "#".repeat(17)}),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(body["validation_errors"]["color"].is_array(), "{body}");
    let (status, body) = app
        .patch(
            &format!("/api/projects/{project}/"),
            json!({"color": "#".repeat(16)}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
}

/// Boolean query values are booleans, as the document types them: anything else (empty
/// included) is a 400 naming the parameter.
#[tokio::test]
async fn boolean_query_values_must_be_booleans() {
    let app = TestApp::spawn().await;
    let project = app
        .project(r#"<View><Text name="text" value="$text"/></View>"#)
        .await;
    let (_, prompt) = app.post("/api/prompts/", json!({"title": "P"})).await;
    let prompt = prompt["id"].as_i64().expect("id");
    for (path, name) in [
        (
            format!("/api/prompts/{prompt}/export?include_examples="),
            "include_examples",
        ),
        (
            format!("/api/tasks/?project={project}&only_annotated=maybe"),
            "only_annotated",
        ),
    ] {
        let (status, body) = app.get(&path).await;
        assert_eq!(status, 400, "{path}: {body}");
        assert!(body["validation_errors"][name].is_array(), "{body}");
    }
    for name in ["commit_to_project", "return_task_ids", "ground_truth"] {
        let (status, body) = app
            .post(
                &format!("/api/projects/{project}/import?{name}=x"),
                json!([{"data": {"text": "t"}}]),
            )
            .await;
        assert_eq!(status, 400, "{name}: {body}");
        assert!(body["validation_errors"][name].is_array(), "{body}");
    }
    let (status, body) = app.get("/api/prompts/?page_size=1").await;
    assert_eq!(status, 200, "{body}");
    let (_, tasks) = app.get(&format!("/api/tasks/?project={project}")).await;
    assert_eq!(tasks["total"], 0, "nothing imported: {tasks}");
}
