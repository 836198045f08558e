//! Issue 18, items 2 to 4, on both databases: numbers a JSON column cannot give back are
//! refused before anything is written; statements over many ids stay under SQLite's variable
//! limit; every collection and string a client writes has a limit, refused with a 400 naming
//! the field; lists are paginated; crons that fire too often or never are refused.
use crate::helpers::fixtures::{connection, id_of, new_prompt, new_version};
use crate::helpers::{CLS, TestApp, choice};
use reqwest::Method;
use serde_json::{Value, json};

/// The number of rows of `table`, read straight from the database.
pub async fn rows(app: &TestApp, table: &str) -> i64 {
    use sea_orm::{ConnectionTrait, Statement};
    let backend = app.db.get_database_backend();
    let row = app
        .db
        .query_one_raw(Statement::from_string(
            backend,
            format!("SELECT COUNT(*) AS n FROM {table}"),
        ))
        .await
        .expect("count")
        .expect("a row");
    row.try_get::<i64>("", "n").expect("n")
}

/// Asserts a 400 whose validation errors name `field`.
fn assert_names(status: u16, body: &Value, field: &str) {
    assert_eq!(status, 400, "{field}: {body}");
    assert!(
        body["validation_errors"][field].is_array(),
        "{field} not named: {body}"
    );
}

/// `f64::MAX`: PostgreSQL's `jsonb` keeps it and gives it back as a 309-digit integer that
/// serde_json cannot parse, so a row holding it could never be read again.
const HUGE: f64 = f64::MAX;

/// Item 2: a number a JSON column cannot give back is a 400 naming the field on every JSON
/// column a client writes, nothing is written, and the lists still answer.
#[tokio::test]
async fn numbers_a_json_column_cannot_give_back_are_refused() {
    let app = TestApp::spawn().await;
    let project = app.project(CLS).await;
    let task = app.import(project, json!([{"text": "fine"}])).await[0];
    let conn = connection(&app).await;
    let prompt = id_of(
        &new_prompt(
            &app,
            json!({"title": "P", "associated_projects": [project]}),
        )
        .await,
    );
    let version = id_of(&new_version(&app, prompt, conn, "v1").await);
    let tables = [
        "tasks",
        "annotations",
        "predictions",
        "model_provider_connections",
        "model_interfaces",
        "model_versions",
    ];
    let mut before = vec![];
    for t in tables {
        before.push(rows(&app, t).await);
    }
    let extra = json!({"extra": {"x": HUGE}});
    let cases: Vec<(Method, String, Value, &str)> = vec![
        (
            Method::PATCH,
            format!("/api/model-provider-connections/{conn}/"),
            json!({"model_params": extra}),
            "model_params.extra.x",
        ),
        (
            Method::POST,
            "/api/model-provider-connections/".into(),
            json!({"provider": "OpenAI", "api_key": "sk-2", "model_params": extra}),
            "model_params.extra.x",
        ),
        (
            Method::POST,
            "/api/tasks/".into(),
            json!({"project": project, "data": {"text": "a", "n": HUGE}}),
            "data.n",
        ),
        (
            Method::POST,
            "/api/tasks/".into(),
            json!({"project": project, "data": {"text": "a"}, "meta": {"n": [-HUGE]}}),
            "meta.n[0]",
        ),
        (
            Method::PATCH,
            format!("/api/tasks/{task}/"),
            json!({"data": {"text": "a", "n": HUGE}}),
            "data.n",
        ),
        (
            Method::POST,
            format!("/api/projects/{project}/import"),
            json!([{"text": "one"}, {"text": "two", "n": HUGE}]),
            "[1].n",
        ),
        (
            Method::POST,
            format!("/api/projects/{project}/import"),
            json!([{"data": {"text": "one"}, "meta": {"n": HUGE}}]),
            "[0].meta.n",
        ),
        (
            Method::POST,
            format!("/api/tasks/{task}/annotations/"),
            json!({"result": [{"from_name": "sentiment", "to_name": "text", "type": "choices",
                            "value": {"choices": ["Positive"]}, "score": HUGE}]}),
            "result[0].score",
        ),
        (
            Method::POST,
            "/api/predictions/".into(),
            json!({"task": task, "result": [{"from_name": "sentiment", "to_name": "text",
                "type": "choices", "value": {"choices": ["Positive"], "n": HUGE}}]}),
            "result[0].value.n",
        ),
        (
            Method::PATCH,
            format!("/api/prompts/{prompt}/versions/{version}"),
            json!({"model_params": extra}),
            "model_params.extra.x",
        ),
        (
            Method::POST,
            format!("/api/prompts/{prompt}/versions"),
            json!({"title": "v2", "prompt": "Classify: {text}", "provider_model_id": "gpt-4o-mini",
                "provider": "OpenAI", "model_provider_connection": conn, "model_params": extra}),
            "model_params.extra.x",
        ),
        (
            Method::PATCH,
            format!("/api/prompts/{prompt}/"),
            json!({"parameters": {"n": HUGE}}),
            "parameters.n",
        ),
        (
            Method::POST,
            "/api/prompts/".into(),
            json!({"title": "Q", "parameters": {"model_params": extra}}),
            "parameters.model_params.extra.x",
        ),
        (
            Method::PATCH,
            format!("/api/projects/{project}/"),
            json!({"control_weights": {"sentiment": {"overall": HUGE}}}),
            "control_weights.sentiment.overall",
        ),
    ];
    for (method, path, body, field) in cases {
        let (status, answer) = app
            .send(method.clone(), &path, Some(&app.token), Some(&body))
            .await;
        assert_names(status, &answer, field);
        assert_eq!(
            answer["validation_errors"][field][0],
            json!(prompter::util::NUMBER_RANGE_MESSAGE),
            "{path}: {answer}"
        );
    }
    let mut after = vec![];
    for t in tables {
        after.push(rows(&app, t).await);
    }
    assert_eq!(before, after, "nothing was written");
    for list in [
        "/api/model-provider-connections/".to_string(),
        format!("/api/tasks/?project={project}"),
        format!("/api/tasks/{task}/"),
        format!("/api/predictions/?task={task}"),
        format!("/api/prompts/{prompt}/versions"),
        "/api/prompts/".to_string(),
        format!("/api/projects/{project}/"),
    ] {
        let (status, body) = app.get(&list).await;
        assert_eq!(status, 200, "{list}: {body}");
    }
    // Large numbers that read back are kept.
    let (status, body) = app
        .post(
            "/api/tasks/",
            json!({"project": project, "data": {"text": "a", "n": 1e300, "m": -1e-300}}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let (status, _) = app.get(&format!("/api/tasks/?project={project}")).await;
    assert_eq!(status, 200);
    let _ = choice("Positive");
}

/// Inserts `n` versions of `prompt` straight into the database, in batches.
async fn insert_versions(app: &TestApp, prompt: i64, connection: i64, n: usize) {
    use entity::model_version;
    use sea_orm::{ActiveValue::NotSet, ActiveValue::Set, EntityTrait};
    let (_, body) = app.get(&format!("/api/prompts/{prompt}/")).await;
    let organization = body["organization"].as_i64().expect("organization");
    let now = chrono::Utc::now();
    let rows: Vec<model_version::ActiveModel> = (0..n)
        .map(|i| model_version::ActiveModel {
            id: NotSet,
            organization_id: Set(organization),
            parent_model_id: Set(prompt),
            title: Set(format!("bulk {i}")),
            prompt: Set("Classify: {text}".into()),
            provider: Set("OpenAI".into()),
            provider_model_id: Set("gpt-4o-mini".into()),
            model_provider_connection_id: Set(Some(connection)),
            max_few_shot_examples: Set(None),
            model_params: Set(None),
            steps: Set(None),
            created_by_id: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
        })
        .collect();
    for chunk in rows.chunks(1000) {
        model_version::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(&app.db)
            .await
            .expect("insert versions");
    }
}

/// Item 3: a prompt with more versions than SQLite binds in one statement (32,766) still
/// lists, reads, lists its versions and deletes: statements over many ids are chunked.
#[tokio::test]
async fn a_prompt_with_forty_thousand_versions_still_answers() {
    let app = TestApp::spawn().await;
    let project = app.project(CLS).await;
    let conn = connection(&app).await;
    let prompt = id_of(
        &new_prompt(
            &app,
            json!({"title": "P", "associated_projects": [project]}),
        )
        .await,
    );
    new_version(&app, prompt, conn, "v1").await;
    insert_versions(&app, prompt, conn, 40_000).await;
    let (status, body) = app.get("/api/prompts/").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["results"][0]["versions_count"], 40_001,
        "{}",
        body["results"][0]
    );
    let (status, body) = app.get(&format!("/api/prompts/{prompt}/")).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = app.get(&format!("/api/prompts/{prompt}/versions")).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.as_array().is_some_and(|v| !v.is_empty()), "a list");
    let (status, body) = app.delete(&format!("/api/prompts/{prompt}/")).await;
    assert_eq!(status, 204, "{body}");
    assert_eq!(rows(&app, "model_versions").await, 0);
}
