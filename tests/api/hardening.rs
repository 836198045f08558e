//! Requests a client can send that once panicked, answered 500 or were wrongly accepted
//! (issue 9), on both databases: pages near the integer limit, NUL characters, huge label
//! configs, bodies the schema forbids. Run creation under concurrency is in `engine.rs`.
use crate::helpers::fixtures::{id_of, new_prompt};
use crate::helpers::reply::read;
use crate::helpers::{CLS, Reply, TestApp, choice, field_errors};
use prompter::error::{ErrorBody, ErrorCode};
use prompter::views::predictions::PredictionView;
use prompter::views::projects::ProjectView;
use prompter::views::tasks::TaskView;
use reqwest::Method;
use serde_json::{Value, json};

/// Item 1: page numbers whose offset overflows answer 404 "Invalid page." on every list, and
/// the server keeps answering (the worker used to panic and drop the connection).
#[tokio::test]
async fn pages_near_the_integer_limit_are_invalid_not_a_panic() {
    let app = TestApp::spawn().await;
    let project = app.project(CLS).await;
    app.import(project, json!([{"text": "a"}])).await;
    let huge = [
        "18446744073709551615",
        "9223372036854775807",
        "92233720368547759",
    ];
    let lists = [
        "/api/projects/?page={p}".to_string(),
        "/api/projects/?page={p}&page_size=101".to_string(),
        "/api/prompts/?page={p}&page_size=101".to_string(),
        format!("/api/tasks/?project={project}&page={{p}}&page_size=100"),
        format!("/api/tasks/?project={project}&page={{p}}&page_size=1"),
        format!("/api/projects/{project}/subset-tasks?page={{p}}&page_size=1000"),
        "/api/prompts/compatible-projects?page={p}&page_size=1000".to_string(),
    ];
    for list in &lists {
        for page in huge {
            let path = list.replace("{p}", page);
            let (status, body) = app.get(&path).await;
            match status {
                404 => {
                    let error: ErrorBody = read(body);
                    assert_eq!(error.code, ErrorCode::InvalidPage, "{path}: {error:?}");
                }
                // A page whose offset still fits the database is an empty page (of whichever
                // list: its shape is checked where each list is tested).
                200 => assert!(body.is_object(), "{path}: {body}"),
                other => panic!("{path}: {other} {body}"),
            }
        }
    }
    let error = app
        .get("/api/prompts/?page=92233720368547759&page_size=1000")
        .await
        .bad();
    assert_eq!(
        (error.status_code, error.code),
        (404, ErrorCode::InvalidPage)
    );
    let (status, _) = app.get("/api/version/").await;
    assert_eq!(status, 200, "the server still answers");
}

/// Asserts a 400 that names `field` with the NUL message.
#[track_caller]
fn assert_nul_refused(reply: (u16, Value), field: &str) {
    let error = reply.bad();
    assert_eq!(error.status_code, 400, "{error:?}");
    assert_eq!(
        field_errors(&error, field),
        ["Null characters are not allowed."],
        "{error:?}"
    );
}

/// Item 2: a NUL character anywhere in a body or a query is a 400 naming the field, on both
/// databases (PostgreSQL cannot store it; SQLite used to), and nothing is written.
#[tokio::test]
async fn nul_characters_are_refused_naming_the_field() {
    let app = TestApp::spawn().await;
    let project = app.project(CLS).await;
    let task = app.import(project, json!([{"text": "fine"}])).await[0];
    let prompt = id_of(
        &new_prompt(
            &app,
            json!({"title": "P", "associated_projects": [project]}),
        )
        .await,
    );
    let before = (
        app.rows("projects").await,
        app.rows("tasks").await,
        app.rows("annotations").await,
        app.rows("predictions").await,
    );
    let cases: Vec<(Method, String, Value, &str)> = vec![
        (
            Method::POST,
            "/api/projects/".into(),
            json!({"title": "a\u{0}b"}),
            "title",
        ),
        (
            Method::PATCH,
            format!("/api/projects/{project}/"),
            json!({"description": "x\u{0}"}),
            "description",
        ),
        (
            Method::POST,
            "/api/tasks/".into(),
            json!({"project": project, "data": {"text": "a\u{0}"}}),
            "data.text",
        ),
        (
            Method::POST,
            "/api/tasks/".into(),
            json!({"project": project, "data": {"text": "ok", "k\u{0}": 1}}),
            "data.k\\u0000",
        ),
        (
            Method::POST,
            format!("/api/projects/{project}/import"),
            json!([{"text": "one"}, {"text": "t\u{0}wo"}]),
            "[1].text",
        ),
        (
            Method::POST,
            format!("/api/tasks/{task}/annotations/"),
            json!({"result": [{"from_name": "sentiment", "to_name": "text", "type": "choices",
                               "value": {"choices": ["Posi\u{0}tive"]}}]}),
            "result[0].value.choices[0]",
        ),
        (
            Method::PATCH,
            format!("/api/prompts/{prompt}/"),
            json!({"title": "\u{0}"}),
            "title",
        ),
        (
            Method::POST,
            "/api/predictions/".into(),
            json!({"task": task, "result": choice("Positive"), "model_version": "v\u{0}1"}),
            "model_version",
        ),
    ];
    for (method, path, body, field) in cases {
        let reply = app
            .send(method.clone(), &path, Some(&app.token), Some(&body))
            .await;
        assert_nul_refused(reply, field);
    }
    let after = (
        app.rows("projects").await,
        app.rows("tasks").await,
        app.rows("annotations").await,
        app.rows("predictions").await,
    );
    assert_eq!(before, after, "nothing was written");
    let stored: ProjectView = app.get(&format!("/api/projects/{project}/")).await.good();
    assert_eq!(stored.description, "", "the PATCH changed nothing");

    assert_nul_refused(app.get("/api/projects/?search=a%00b").await, "search");
    assert_nul_refused(
        app.get(&format!("/api/tasks/?project={project}&fi%00elds=all"))
            .await,
        "fi\\u0000elds",
    );
    // An escaped backslash before "u0000" is not a NUL.
    let body: ProjectView = app
        .post("/api/projects/", json!({"title": "a\\u0000b"}))
        .await
        .created();
    assert_eq!(body.title, "a\\u0000b");
}

/// Asserts a 400 whose validation errors name `field`.
#[track_caller]
fn assert_field_named(reply: (u16, Value), field: &str) {
    let error = reply.bad();
    assert_eq!(error.status_code, 400, "{error:?}");
    assert!(
        !field_errors(&error, field).is_empty(),
        "{field}: {error:?}"
    );
}

/// A Choices config with `n` distinct choices.
fn choices(n: usize) -> String {
    let mut xml = String::from(r#"<View><Text name="t" value="$t"/><Choices name="c" toName="t">"#);
    for i in 0..n {
        xml.push_str(&format!(r#"<Choice value="choice number {i}"/>"#));
    }
    xml.push_str("</Choices></View>");
    xml
}

/// Item 3: label configs past the budget are a 400 that says which limit, on every endpoint
/// that takes one (they used to parse for minutes, stalling the worker); one at the limit is
/// accepted.
#[tokio::test]
async fn label_configs_past_the_budget_are_refused() {
    let app = TestApp::spawn().await;
    let project = app.project(CLS).await;
    let too_many = choices(prompter::label_config::MAX_LABELS + 1);
    let mut too_big = choices(10);
    too_big.insert_str(6, &" ".repeat(prompter::label_config::MAX_CONFIG_BYTES));
    for (xml, says) in [(&too_many, "labels"), (&too_big, "limit")] {
        for (method, path) in [
            (Method::POST, "/api/projects/validate/".to_string()),
            (Method::POST, format!("/api/projects/{project}/validate/")),
            (Method::POST, "/api/projects/".to_string()),
            (Method::PATCH, format!("/api/projects/{project}/")),
        ] {
            let body = json!({"title": "big", "label_config": xml});
            let error = app
                .send(method, &path, Some(&app.token), Some(&body))
                .await
                .bad();
            assert_eq!(error.status_code, 400, "{path}: {error:?}");
            let message = field_errors(&error, "label_config")
                .first()
                .map(String::as_str)
                .unwrap_or_default();
            assert!(message.contains(says), "{path}: {message}");
        }
    }
    let at_limit = choices(prompter::label_config::MAX_LABELS);
    let (status, body) = app
        .post(
            "/api/projects/",
            json!({"title": "many labels", "label_config": at_limit}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let deep = "<View>".repeat(prompter::label_config::MAX_DEPTH + 1);
    let (status, body) = app
        .post("/api/projects/validate/", json!({"label_config": deep}))
        .await;
    assert_eq!(status, 400, "{body}");
}

/// Item 5: bodies the schema forbids are refused: JSON types the schema does not allow,
/// trailing garbage after the JSON value, and bodies without a JSON content type.
#[tokio::test]
async fn bodies_the_schema_forbids_are_refused() {
    let app = TestApp::spawn().await;
    let project = app.project(CLS).await;
    let task = app.import(project, json!([{"text": "fine"}])).await[0];
    let prediction = |neighbors: Value| json!({"task": task, "result": choice("Positive"), "neighbors": neighbors});
    for bad in [json!(42), json!("a string"), json!(true)] {
        assert_field_named(
            app.post("/api/predictions/", prediction(bad)).await,
            "neighbors",
        );
    }
    for good in [json!([3, 4]), json!({"ids": [3]}), Value::Null] {
        let body: PredictionView = app
            .post("/api/predictions/", prediction(good.clone()))
            .await
            .created();
        assert_eq!(body.neighbors.unwrap_or(Value::Null), good);
    }
    let shown: TaskView = app.get(&format!("/api/tasks/{task}/")).await.good();
    for p in shown.predictions.as_ref().expect("predictions") {
        assert!(
            p.neighbors
                .as_ref()
                .is_none_or(|n| n.is_array() || n.is_object()),
            "{p:?}"
        );
    }

    // Fields documented as objects take only objects.
    let cases = [
        (
            Method::POST,
            "/api/tasks/".to_string(),
            json!({"project": project, "data": {"text": "x"}, "meta": 42}),
            "meta",
        ),
        (
            Method::PATCH,
            format!("/api/tasks/{task}/"),
            json!({"meta": "text"}),
            "meta",
        ),
        (
            Method::PATCH,
            format!("/api/projects/{project}/"),
            json!({"control_weights": [1]}),
            "control_weights",
        ),
    ];
    for (method, path, body, field) in cases {
        assert_field_named(
            app.send(method, &path, Some(&app.token), Some(&body)).await,
            field,
        );
    }
    let (status, body) = app
        .post(
            &format!("/api/projects/{project}/import"),
            json!([{"data": {"text": "x"}, "meta": 7}]),
        )
        .await;
    assert_eq!(status, 400, "{body}");

    // Trailing garbage, and no JSON content type: nothing is created.
    let before = app.rows("projects").await;
    let (status, body) = app
        .raw(
            Method::POST,
            "/api/projects/",
            "application/json",
            br#"{"title":"tg"} xyz"#.to_vec(),
        )
        .await;
    let error: ErrorBody = read(body);
    assert_eq!(
        (status, error.code),
        (400, ErrorCode::ParseError),
        "{error:?}"
    );
    let resp = reqwest::Client::new()
        .post(format!("{}/api/projects/", app.address))
        .header("Authorization", format!("Token {}", app.token))
        .body(r#"{"title":"no content type"}"#)
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status().as_u16(), 415);
    let error = app
        .raw(
            Method::POST,
            "/api/projects/",
            "text/plain",
            br#"{"title":"text"}"#.to_vec(),
        )
        .await
        .bad();
    assert_eq!(
        (error.status_code, error.code),
        (415, ErrorCode::UnsupportedMediaType)
    );
    let (status, _) = app
        .raw(
            Method::POST,
            "/api/projects/",
            "application/json; charset=utf-8",
            br#"{"title":"with charset"}"#.to_vec(),
        )
        .await;
    assert_eq!(status, 201);
    assert_eq!(app.rows("projects").await, before + 1);
}
