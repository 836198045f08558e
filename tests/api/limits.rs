//! Issue 18, items 2 to 4, on both databases: numbers a JSON column cannot give back are
//! refused before anything is written; statements over many ids stay under SQLite's variable
//! limit; every collection and string a client writes has a limit, refused with a 400 naming
//! the field; lists are paginated; crons that fire too often or never are refused.
use crate::helpers::fixtures::{connection, id_of, new_prompt, new_version};
use crate::helpers::reply::read;
use crate::helpers::{CLS, Reply, TestApp, field_errors};
use prompter::error::{ErrorBody, ErrorCode};
use prompter::views::Paginated;
use prompter::views::prompts::{PromptDetailView, PromptView};
use prompter::views::registry::{CommentView, ScheduleView};
use prompter::views::versions::VersionView;
use reqwest::Method;
use serde_json::{Value, json};

/// Asserts a 400 whose validation errors name `field`; returns the error.
#[track_caller]
fn assert_names(reply: (u16, Value), field: &str) -> ErrorBody {
    let error = reply.bad();
    assert_eq!(error.status_code, 400, "{field}: {error:?}");
    assert!(
        !field_errors(&error, field).is_empty(),
        "{field} not named: {error:?}"
    );
    error
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
        before.push(app.rows(t).await);
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
        let error = assert_names(
            app.send(method.clone(), &path, Some(&app.token), Some(&body))
                .await,
            field,
        );
        assert_eq!(
            field_errors(&error, field)[0],
            prompter::util::NUMBER_RANGE_MESSAGE,
            "{path}: {error:?}"
        );
    }
    let mut after = vec![];
    for t in tables {
        after.push(app.rows(t).await);
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
}

/// Inserts `n` versions of `prompt` straight into the database, in batches.
async fn insert_versions(app: &TestApp, prompt: i64, connection: i64, n: usize) {
    use entity::model_version;
    use sea_orm::{ActiveValue::NotSet, ActiveValue::Set, EntityTrait};
    let organization = app
        .get(&format!("/api/prompts/{prompt}/"))
        .await
        .good::<PromptDetailView>()
        .prompt
        .organization;
    let now = chrono::Utc::now();
    let rows: Vec<model_version::ActiveModel> = (0..n)
        .map(|i| model_version::ActiveModel {
            id: NotSet,
            organization_id: Set(organization),
            parent_model_id: Set(prompt),
            title: Set(format!("bulk {i}")),
            prompt: Set("Classify: {text}".into()),
            provider: Set(entity::enums::Provider::OpenAI),
            provider_model_id: Set("gpt-4o-mini".into()),
            model_provider_connection_id: Set(Some(connection)),
            max_few_shot_examples: Set(None),
            model_params: Set(None),
            steps: Set(None),
            samples: Set(1),
            calibration: Set(None),
            jury: Set(None),
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
    let body: Paginated<PromptDetailView> = app.get("/api/prompts/").await.good();
    assert_eq!(
        body.results[0].versions_count, 40_001,
        "{:?}",
        body.results[0]
    );
    let (status, body) = app.get(&format!("/api/prompts/{prompt}/")).await;
    assert_eq!(status, 200, "{body}");
    // The version list is paginated: a list of the first 1,000, the total in a header.
    let versions = format!("/api/prompts/{prompt}/versions");
    let (status, total, link, body) = get_page(&app, &versions).await;
    assert_eq!(status, 200, "{body}");
    let listed: Vec<VersionView> = read(body);
    assert_eq!(listed.len(), 1_000);
    assert_eq!(listed[0].title, "v1");
    assert_eq!(total.as_deref(), Some("40001"));
    assert!(link.is_some_and(|l| l.contains("rel=\"next\"")));
    let (status, _, _, body) =
        get_page(&app, &format!("{versions}?page=last&page_size=1000")).await;
    assert_eq!((status, body.as_array().map(Vec::len)), (200, Some(1)));
    let (status, body) = app.delete(&format!("/api/prompts/{prompt}/")).await;
    assert_eq!(status, 204, "{body}");
    assert_eq!(app.rows("model_versions").await, 0);
}

/// Item 4: tags, titles, descriptions, parameters, comments and version texts past their
/// limits are 400s naming the field, refused before any write (10,001 tags at once too: the
/// check is linear), and nothing changes.
#[tokio::test]
async fn strings_and_collections_past_their_limits_are_refused() {
    use prompter::limits::*;
    let app = TestApp::spawn().await;
    let project = app.project(CLS).await;
    let conn = connection(&app).await;
    let prompt = id_of(&new_prompt(&app, json!({"title": "P", "tags": ["a"]})).await);
    let version = id_of(&new_version(&app, prompt, conn, "v1").await);
    let many_tags: Vec<String> = (0..10_001).map(|i| format!("tag {i}")).collect();
    let big = |n: usize| "x".repeat(n);
    let big_params = json!({"blob": big(MAX_PARAMETERS_BYTES)});
    let big_extra = json!({"extra": {"blob": big(MAX_MODEL_PARAMS_BYTES)}});
    let p = format!("/api/prompts/{prompt}/");
    let cases: Vec<(Method, String, Value, &str)> = vec![
        (Method::PATCH, p.clone(), json!({"tags": many_tags}), "tags"),
        (
            Method::PATCH,
            p.clone(),
            json!({"tags": (0..=MAX_TAGS).map(|i| i.to_string()).collect::<Vec<_>>()}),
            "tags",
        ),
        (
            Method::PATCH,
            p.clone(),
            json!({"tags": [big(MAX_TAG_CHARS + 1)]}),
            "tags",
        ),
        (
            Method::PATCH,
            p.clone(),
            json!({"title": big(MAX_PROMPT_TITLE_CHARS + 1)}),
            "title",
        ),
        (
            Method::PATCH,
            p.clone(),
            json!({"description": big(MAX_DESCRIPTION_CHARS + 1)}),
            "description",
        ),
        (
            Method::POST,
            "/api/prompts/".into(),
            json!({"title": "Q", "description": big(MAX_DESCRIPTION_CHARS + 1)}),
            "description",
        ),
        (
            Method::PATCH,
            p.clone(),
            json!({"parameters": big_params}),
            "parameters",
        ),
        (
            Method::PATCH,
            p.clone(),
            json!({"status": "paused", "reason": big(MAX_COMMENT_CHARS + 1)}),
            "reason",
        ),
        (
            Method::POST,
            format!("/api/prompts/{prompt}/comments"),
            json!({"text": big(MAX_COMMENT_CHARS + 1)}),
            "text",
        ),
        (
            Method::PATCH,
            format!("/api/projects/{project}/"),
            json!({"description": big(MAX_DESCRIPTION_CHARS + 1)}),
            "description",
        ),
        (
            Method::PATCH,
            format!("/api/prompts/{prompt}/versions/{version}"),
            json!({"prompt": big(MAX_PROMPT_TEXT_CHARS + 1)}),
            "prompt",
        ),
        (
            Method::PATCH,
            format!("/api/prompts/{prompt}/versions/{version}"),
            json!({"model_params": big_extra}),
            "model_params",
        ),
        (
            Method::PATCH,
            format!("/api/model-provider-connections/{conn}/"),
            json!({"model_params": big_extra}),
            "model_params",
        ),
    ];
    for (method, path, body, field) in cases {
        assert_names(
            app.send(method.clone(), &path, Some(&app.token), Some(&body))
                .await,
            field,
        );
    }
    let stored = app.get(&p).await.good::<PromptDetailView>().prompt;
    assert_eq!(stored.tags, ["a"]);
    assert_eq!(stored.title, "P");
    assert_eq!(stored.status, entity::enums::PromptStatus::Draft);
    assert!(stored.parameters.is_none(), "{stored:?}");
    assert_eq!(app.rows("prompt_comments").await, 0);
    assert_eq!(app.rows("model_interfaces").await, 1);
    let v: VersionView = app
        .get(&format!("/api/prompts/{prompt}/versions/{version}"))
        .await
        .good();
    assert_eq!(v.prompt, "Classify: {text}");
    // At the limits, accepted; duplicates count once.
    let mut fifty: Vec<String> = (0..MAX_TAGS).map(|i| i.to_string()).collect();
    fifty.push("0".into());
    let body: PromptView = app
        .patch(
            &p,
            json!({"tags": fifty, "description": big(MAX_DESCRIPTION_CHARS)}),
        )
        .await
        .good();
    assert_eq!(body.prompt.tags.len(), MAX_TAGS);
}

/// Item 4: one import has at most `MAX_IMPORT_TASKS` tasks and each task's data at most
/// `MAX_TASK_DATA_BYTES`; over either, a 400 and no task is written.
#[tokio::test]
async fn imports_and_task_data_past_their_limits_are_refused() {
    use prompter::limits::{MAX_IMPORT_TASKS, MAX_TASK_DATA_BYTES};
    let app = TestApp::spawn().await;
    let project = app.project(CLS).await;
    let import = format!("/api/projects/{project}/import");
    let too_many: Vec<Value> = (0..=MAX_IMPORT_TASKS)
        .map(|_| json!({"text": "a"}))
        .collect();
    assert_names(
        app.post(&import, Value::from(too_many)).await,
        "non_field_errors",
    );
    let huge = "x".repeat(MAX_TASK_DATA_BYTES);
    assert_names(
        app.post(&import, json!([{"text": "a"}, {"text": huge}]))
            .await,
        "[1]",
    );
    assert_names(
        app.post(
            &import,
            json!([{"data": {"text": "a"}, "meta": {"m": huge}}]),
        )
        .await,
        "[0].meta",
    );
    assert_names(
        app.post(
            "/api/tasks/",
            json!({"project": project, "data": {"text": huge}}),
        )
        .await,
        "data",
    );
    assert_eq!(app.rows("tasks").await, 0, "no task was written");
    let task = app.import(project, json!([{"text": "a"}])).await[0];
    assert_names(
        app.patch(&format!("/api/tasks/{task}/"), json!({"meta": {"m": huge}}))
            .await,
        "meta",
    );
}

/// The status, `X-Total-Count`, `Link` and body of a GET as the admin.
async fn get_page(app: &TestApp, path: &str) -> (u16, Option<String>, Option<String>, Value) {
    let resp = reqwest::Client::new()
        .get(format!("{}{path}", app.address))
        .header("Authorization", format!("Token {}", app.token))
        .send()
        .await
        .expect("request");
    let header = |name: &str| {
        resp.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let (total, link) = (header("X-Total-Count"), header("Link"));
    let status = resp.status().as_u16();
    (
        status,
        total,
        link,
        resp.json().await.unwrap_or(Value::Null),
    )
}

/// Item 4: the comment list honours `page` and `page_size` (it used to answer every comment),
/// stays a list, and tells the total and the next page in headers.
#[tokio::test]
async fn the_comment_list_is_paginated() {
    let app = TestApp::spawn().await;
    let prompt = id_of(&new_prompt(&app, json!({"title": "P"})).await);
    let path = format!("/api/prompts/{prompt}/comments");
    for i in 0..25 {
        let (status, body) = app.post(&path, json!({"text": format!("note {i}")})).await;
        assert_eq!(status, 201, "{body}");
    }
    let (status, total, link, body) = get_page(&app, &format!("{path}?page_size=10")).await;
    assert_eq!(status, 200, "{body}");
    let comments: Vec<CommentView> = read(body);
    assert_eq!(comments.len(), 10);
    assert_eq!(comments[0].text, "note 24", "newest first");
    assert_eq!(total.as_deref(), Some("25"));
    let link = link.expect("a Link header");
    assert!(
        link.contains("page=2") && link.contains("rel=\"next\""),
        "{link}"
    );
    let (_, _, link, body) = get_page(&app, &format!("{path}?page_size=10&page=3")).await;
    let comments: Vec<CommentView> = read(body);
    assert_eq!(comments.len(), 5);
    assert_eq!(comments[4].text, "note 0");
    assert!(link.is_some_and(|l| l.contains("rel=\"prev\"") && !l.contains("next")));
    let (status, _, _, body) = get_page(&app, &path).await;
    assert_eq!((status, body.as_array().map(Vec::len)), (200, Some(25)));
    let error = app.get(&format!("{path}?page=0")).await.bad();
    assert_eq!(
        (error.status_code, error.code),
        (404, ErrorCode::InvalidPage),
        "{error:?}"
    );
    let (status, body) = app.get(&format!("{path}?page=9")).await;
    assert_eq!(
        (status, body),
        (200, json!([])),
        "past the last page: empty"
    );
}

/// Item 4: schedules past their limits: a too long cron or time zone, a cron that fires more
/// often than the instance's minimum interval (`* * * * * *`) or never (`0 0 30 2 *`), and a
/// schedule past the prompt's maximum are 400s naming the field, with nothing written.
#[tokio::test]
async fn schedules_past_their_limits_are_refused() {
    use prompter::limits::{MAX_CRON_CHARS, MAX_SCHEDULES_PER_PROMPT, MAX_TIMEZONE_CHARS};
    let app = TestApp::spawn_with(|c| c.engine.schedule_poll_ms = 0).await;
    let project = app.project(CLS).await;
    let prompt = id_of(&new_prompt(&app, json!({"title": "P"})).await);
    let path = format!("/api/prompts/{prompt}/schedules");
    let long_cron = format!("0 2 * * *{}", " ".repeat(MAX_CRON_CHARS));
    for (body, field) in [
        (json!({"cron": long_cron, "project": project}), "cron"),
        (
            json!({"cron": "0 2 * * *", "timezone": "U".repeat(MAX_TIMEZONE_CHARS + 1), "project": project}),
            "timezone",
        ),
        (json!({"cron": "* * * * * *", "project": project}), "cron"),
        (
            json!({"cron": "*/30 * * * * *", "project": project}),
            "cron",
        ),
        (
            json!({"cron": "0,30 0 0 * * *", "project": project}),
            "cron",
        ),
        (json!({"cron": "0 0 30 2 *", "project": project}), "cron"),
        (
            json!({"cron": "0 0 0 1 1 * 2020", "project": project}),
            "cron",
        ),
    ] {
        assert_names(app.post(&path, body).await, field);
    }
    assert_eq!(app.rows("prompt_schedules").await, 0);
    // Once a minute is the default minimum; leap days fire.
    for cron in ["* * * * *", "0 0 29 2 *"] {
        let (status, body) = app
            .post(&path, json!({"cron": cron, "project": project}))
            .await;
        assert_eq!(status, 201, "{cron}: {body}");
    }
    let sid = app.get(&path).await.good::<Vec<ScheduleView>>()[0].id;
    assert_names(
        app.patch(&format!("{path}/{sid}"), json!({"cron": "*/5 * * * * *"}))
            .await,
        "cron",
    );
    for _ in 2..MAX_SCHEDULES_PER_PROMPT {
        let (status, body) = app
            .post(&path, json!({"cron": "0 2 * * *", "project": project}))
            .await;
        assert_eq!(status, 201, "{body}");
    }
    assert_names(
        app.post(&path, json!({"cron": "0 2 * * *", "project": project}))
            .await,
        "schedules",
    );
    assert_eq!(
        app.rows("prompt_schedules").await,
        MAX_SCHEDULES_PER_PROMPT as i64
    );
}

/// `PROMPTER_SCHEDULE_MIN_INTERVAL` is the instance's: at 1 second, a cron every second is
/// accepted.
#[tokio::test]
async fn the_minimum_interval_between_firings_is_an_instance_setting() {
    let app = TestApp::spawn_with(|c| {
        c.engine.schedule_poll_ms = 0;
        c.schedule_min_interval = 1;
    })
    .await;
    let project = app.project(CLS).await;
    let prompt = id_of(&new_prompt(&app, json!({"title": "P"})).await);
    let path = format!("/api/prompts/{prompt}/schedules");
    let (status, body) = app
        .post(&path, json!({"cron": "* * * * * *", "project": project}))
        .await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = app
        .post(&path, json!({"cron": "0,0 * * * * *", "project": project}))
        .await;
    assert_eq!(status, 201, "{body}");
}

/// Item 4: a task's annotation list is paginated the same way (it answered every row).
#[tokio::test]
async fn the_annotation_list_is_paginated() {
    let app = TestApp::spawn().await;
    let project = app.project(CLS).await;
    let task = app.import(project, json!([{"text": "a"}])).await[0];
    let path = format!("/api/tasks/{task}/annotations/");
    for _ in 0..3 {
        let result = json!([{"from_name": "sentiment", "to_name": "text", "type": "choices",
                             "value": {"choices": ["Positive"]}}]);
        let (status, body) = app.post(&path, json!({"result": result})).await;
        assert_eq!(status, 201, "{body}");
    }
    let (status, total, link, body) = get_page(&app, &format!("{path}?page_size=2")).await;
    assert_eq!(
        (status, body.as_array().map(Vec::len)),
        (200, Some(2)),
        "{body}"
    );
    assert_eq!(total.as_deref(), Some("3"));
    assert!(link.is_some_and(|l| l.contains("rel=\"next\"")));
    let (_, _, _, body) = get_page(&app, &path).await;
    assert_eq!(body.as_array().map(Vec::len), Some(3));
}

/// An import body past `MAX_IMPORT_BODY_BYTES` is a 413 before any of it is parsed (a 26 MB
/// document once took a gigabyte to refuse), whatever the server's general body limit.
#[tokio::test]
async fn an_import_body_past_its_own_limit_is_413_before_parsing() {
    let app = TestApp::spawn_with(|c| {
        c.engine.workers = 0;
        c.max_body_bytes = 100 * 1024 * 1024;
    })
    .await;
    let big = "x".repeat(prompter::limits::MAX_IMPORT_BODY_BYTES + 1);
    let body = format!(r#"{{"document": {{"format": "prompter.prompt", "pad": "{big}"}}}}"#);
    let error = app
        .raw(
            Method::POST,
            "/api/prompts/import",
            "application/json",
            body.into_bytes(),
        )
        .await
        .bad();
    assert_eq!(error.status_code, 413, "{error:?}");
    assert_eq!(error.code, ErrorCode::PayloadTooLarge, "{error:?}");
    assert_eq!(app.rows("model_interfaces").await, 0);
}
