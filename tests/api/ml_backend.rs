//! Prompts as Label Studio ML backends, over real HTTP with the request bodies Label Studio
//! 1.23 sends (shared/spec/ml-backend.md §3) and the fake LLM: auth (Basic with a token as the
//! password, `Token`, 401 challenges, other organizations), `/setup` and the deployed version,
//! the mirror project, `/predict` (batch, a missing field, interactive context, NER spans, the
//! deadline), webhooks feeding few-shot examples, and the error envelope.
use crate::helpers::engine::{custom_connection, fake, version};
use crate::helpers::fixtures::{id_of, new_prompt};
use crate::helpers::reply::read;
use crate::helpers::{NER, Reply, TestApp, field_errors};
use base64::Engine as _;
use entity::{annotation, ml_backend_project, project, task};
use prompter::error::ErrorCode;
use prompter::fake_llm::{FakeLlm, FakeLlmConfig};
use prompter::ml_backend::error::MlErrorBody;
use prompter::views::Paginated;
use prompter::views::ml_backend::{PredictView, SetupView, WebhookView};
use prompter::views::projects::ProjectView;
use prompter::views::prompts::{PromptDetailView, PromptView};
use prompter::views::versions::VersionView;
use reqwest::Method;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// The label config of the verified Label Studio run (spec §10).
const LS_CLS: &str = r#"<View><Text name="text" value="$text"/><Choices name="sentiment" toName="text"><Choice value="Positive"/><Choice value="Negative"/><Choice value="Neutral"/></Choices></View>"#;

/// Label Studio's project key for project 1.
const LS_PROJECT: &str = "1.1795325158";

/// How a test authenticates.
#[derive(Clone, Copy)]
enum Auth<'a> {
    /// `Authorization: Basic base64(user:token)`.
    Basic(&'a str),
    /// `Authorization: Token <token>`.
    Token(&'a str),
    /// `Authorization: Bearer <token>`.
    Bearer(&'a str),
    /// A raw header value.
    Raw(&'a str),
    /// No header.
    None,
}

/// Sends `body` (or nothing) to `path` with `auth`; returns status, `WWW-Authenticate` and the
/// JSON body (`Null` when not JSON).
async fn call(
    app: &TestApp,
    method: Method,
    path: &str,
    auth: Auth<'_>,
    body: Option<&Value>,
) -> (u16, Option<String>, Value) {
    let client = reqwest::Client::new();
    let mut req = client.request(method, format!("{}{path}", app.address));
    req = match auth {
        Auth::Basic(token) => req.basic_auth("label-studio", Some(token)),
        Auth::Token(token) => req.header("Authorization", format!("Token {token}")),
        Auth::Bearer(token) => req.header("Authorization", format!("Bearer {token}")),
        Auth::Raw(value) => req.header("Authorization", value),
        Auth::None => req,
    };
    if let Some(body) = body {
        req = req.json(body);
    }
    let resp = req.send().await.expect("request");
    let status = resp.status().as_u16();
    let challenge = resp
        .headers()
        .get("WWW-Authenticate")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let text = resp.text().await.expect("body");
    (
        status,
        challenge,
        serde_json::from_str(&text).unwrap_or(Value::Null),
    )
}

/// GET `/ml/prompts/{prompt}{rest}` with Basic auth as the admin.
async fn ml_get(app: &TestApp, prompt: i64, rest: &str) -> (u16, Value) {
    let (status, _, body) = call(
        app,
        Method::GET,
        &format!("/ml/prompts/{prompt}{rest}"),
        Auth::Basic(&app.token),
        None,
    )
    .await;
    (status, body)
}

/// POST `/ml/prompts/{prompt}{rest}` with Basic auth as the admin.
async fn ml_post(app: &TestApp, prompt: i64, rest: &str, body: Value) -> (u16, Value) {
    let (status, _, body) = call(
        app,
        Method::POST,
        &format!("/ml/prompts/{prompt}{rest}"),
        Auth::Basic(&app.token),
        Some(&body),
    )
    .await;
    (status, body)
}

/// The `/setup` body Label Studio sends (spec §3.2).
fn setup_body(schema: &str, extra_params: Value) -> Value {
    json!({
        "project": LS_PROJECT,
        "schema": schema,
        "hostname": "http://localhost:8080",
        "access_token": "abcdef1234567890abcdef1234567890abcdef12",
        "extra_params": extra_params
    })
}

/// A batch-retrieval task as Label Studio serializes it (`TaskSimpleSerializer`, spec §3.3.1).
fn batch_task(id: i64, data: Value) -> Value {
    json!({
        "id": id, "data": data, "meta": {},
        "created_at": "2026-11-29T10:00:00.000000Z", "updated_at": "2026-11-29T10:00:00.000000Z",
        "is_labeled": false, "overlap": 1, "inner_id": id, "total_annotations": 0,
        "cancelled_annotations": 0, "total_predictions": 0, "comment_count": 0,
        "unresolved_comment_count": 0, "last_comment_updated_at": null, "project": 1,
        "updated_by": null, "file_upload": 1, "comment_authors": [], "annotations": [],
        "predictions": []
    })
}

/// The `/predict` body of a batch retrieval.
fn predict_body(tasks: Vec<Value>, label_config: &str) -> Value {
    json!({
        "tasks": tasks,
        "project": LS_PROJECT,
        "label_config": label_config,
        "params": {"login": null, "password": null, "context": null}
    })
}

/// Reads the ML backend's error envelope (the exact key sets of Label Studio's answers stay
/// raw where a test checks them); asserts its `status` is `status`.
#[track_caller]
fn ml_error(status: u16, body: Value) -> MlErrorBody {
    let error: MlErrorBody = read(body);
    assert_eq!(error.status, status, "{error:?}");
    error
}

/// The `value.choices` of the first region of the first item of a `/predict` answer.
#[track_caller]
fn first_choices(body: Value) -> Value {
    read::<PredictView>(body).results[0].result[0]["value"]["choices"].clone()
}

/// The prompt `id` as the API shows it.
async fn prompt_view(app: &TestApp, id: i64) -> PromptDetailView {
    app.get(&format!("/api/prompts/{id}/")).await.good()
}

/// A prompt titled "Reviews" with a version `v1` through a Custom connection to `llm`.
async fn prompt_with_version(app: &TestApp, llm: &FakeLlm, template: &str) -> (i64, i64) {
    let prompt = id_of(&new_prompt(app, json!({"title": "Reviews"})).await);
    let connection = custom_connection(app, llm, "fake-key").await;
    let version = version(app, prompt, connection, "v1", template).await;
    (prompt, version)
}

/// The connection of a version.
async fn connection_of(app: &TestApp, prompt: i64, version: i64) -> i64 {
    app.get(&format!("/api/prompts/{prompt}/versions/{version}"))
        .await
        .good::<VersionView>()
        .model_provider_connection
        .expect("connection")
}

/// The ML-backend row of (prompt, Label Studio project 1), if any.
async fn mirror_row(app: &TestApp, prompt: i64) -> Option<ml_backend_project::Model> {
    ml_backend_project::Entity::find()
        .filter(ml_backend_project::Column::PromptId.eq(prompt))
        .filter(ml_backend_project::Column::LsProject.eq("1"))
        .one(&app.db)
        .await
        .expect("query")
}

/// The mirror's annotation with Label Studio id `ls_id`, once the background work (an event
/// is applied as a job of the engine) is done: `until` must hold of it.
async fn wait_annotation(
    app: &TestApp,
    mirror: i64,
    ls_id: i64,
    until: impl Fn(Option<&annotation::Model>) -> bool,
) -> Option<annotation::Model> {
    app.engine_idle().await;
    let found = annotation::Entity::find()
        .filter(annotation::Column::ProjectId.eq(mirror))
        .filter(annotation::Column::LsAnnotationId.eq(ls_id))
        .one(&app.db)
        .await
        .expect("query");
    assert!(
        until(found.as_ref()),
        "annotation {ls_id} of project {mirror} is not in the expected state: {found:?}"
    );
    found
}

#[tokio::test]
async fn health_takes_basic_or_token_auth_and_challenges_without() {
    let llm = fake(FakeLlmConfig::default()).await;
    let app = TestApp::spawn().await;
    let (prompt, _) = prompt_with_version(&app, &llm, "Classify: {text}").await;
    let base = format!("/ml/prompts/{prompt}");
    for path in [
        format!("{base}/health"),
        format!("{base}/health/"),
        base.clone(),
        format!("{base}/"),
    ] {
        let (status, _, body) = call(&app, Method::GET, &path, Auth::Basic(&app.token), None).await;
        assert_eq!(status, 200, "{path}: {body}");
        assert_eq!(body, json!({"status": "UP", "model_class": "Prompter"}));
    }
    for auth in [Auth::Token(&app.token), Auth::Bearer(&app.token)] {
        let (status, _, _) = call(&app, Method::GET, &format!("{base}/health"), auth, None).await;
        assert_eq!(status, 200);
    }
    // Wrong password, a scheme Prompter does not take, no header: 401 with a Basic challenge.
    let garbled = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("no-colon")
    );
    for auth in [
        Auth::Basic("not-a-token"),
        Auth::Raw("Digest abc"),
        Auth::Raw(&garbled),
        Auth::None,
    ] {
        let (status, challenge, body) =
            call(&app, Method::GET, &format!("{base}/health"), auth, None).await;
        assert_eq!(status, 401, "{body}");
        assert_eq!(challenge.as_deref(), Some("Basic realm=\"prompter\""));
        // Typed reading checks `detail` is a string.
        ml_error(401, body);
    }
    // Another organization's token, an unknown prompt, a non-numeric id: 404 in the envelope.
    for (path, token) in [
        (format!("{base}/health"), app.other_token.as_str()),
        ("/ml/prompts/999999/health".to_string(), app.token.as_str()),
        ("/ml/prompts/abc/health".to_string(), app.token.as_str()),
    ] {
        let (status, _, body) = call(&app, Method::GET, &path, Auth::Basic(token), None).await;
        assert_eq!(status, 404, "{path}");
        assert_eq!(ml_error(404, body).code, ErrorCode::NotFound);
    }
    let (status, _, body) = call(
        &app,
        Method::POST,
        &format!("{base}/setup"),
        Auth::Basic(&app.other_token),
        Some(&setup_body(LS_CLS, Value::Null)),
    )
    .await;
    assert_eq!(status, 404, "{body}");
    ml_error(404, body);
    let (status, _, _) = call(
        &app,
        Method::POST,
        &format!("{base}/predict"),
        Auth::Basic(&app.other_token),
        Some(&predict_body(vec![], LS_CLS)),
    )
    .await;
    assert_eq!(status, 404);
    // Unknown paths under the prefix, wrong methods.
    let (status, body) = ml_get(&app, prompt, "/train").await;
    assert_eq!(status, 404, "{body}");
    ml_error(404, body);
    let (status, body) = ml_get(&app, prompt, "/predict").await;
    assert_eq!(status, 405, "{body}");
    ml_error(405, body);
    let (status, body) = ml_get(&app, prompt, "/metrics").await;
    assert_eq!((status, body), (200, json!({})));
    // An annotator may check health, not set up or predict (LLM calls cost money).
    let (status, _, _) = call(
        &app,
        Method::GET,
        &format!("{base}/health"),
        Auth::Basic(&app.annotator_token),
        None,
    )
    .await;
    assert_eq!(status, 200);
    let (status, _, body) = call(
        &app,
        Method::POST,
        &format!("{base}/setup"),
        Auth::Basic(&app.annotator_token),
        Some(&setup_body(LS_CLS, Value::Null)),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    ml_error(403, body);
}

#[tokio::test]
async fn setup_reports_the_deployed_version_and_mirrors_the_project() {
    let llm = fake(FakeLlmConfig::default()).await;
    let app = TestApp::spawn().await;
    // A prompt without versions cannot answer: a clear 400 for /setup and /predict.
    let empty = id_of(&new_prompt(&app, json!({"title": "Empty"})).await);
    let (status, body) = ml_post(&app, empty, "/setup", setup_body(LS_CLS, Value::Null)).await;
    assert_eq!(status, 400, "{body}");
    let error = ml_error(400, body);
    assert_eq!(error.code, ErrorCode::NoVersion);
    assert!(error.detail.contains("no versions"), "{error:?}");
    let (status, body) = ml_post(
        &app,
        empty,
        "/predict",
        predict_body(vec![batch_task(1, json!({"text": "x"}))], LS_CLS),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(ml_error(400, body).code, ErrorCode::NoVersion);

    let (prompt, v1) = prompt_with_version(&app, &llm, "Classify: {text}").await;
    let connection = connection_of(&app, prompt, v1).await;
    let v2 = version(&app, prompt, connection, "v2", "Classify: {text}").await;
    // The newest version answers by default; extra_params may be null, a string or an object.
    for extra in [Value::Null, json!("{\"foo\": 1}"), json!({"foo": 1})] {
        let (status, body) = ml_post(&app, prompt, "/setup", setup_body(LS_CLS, extra)).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body, json!({"model_version": "Reviews__v2"}));
    }
    // Unknown keys are ignored, a trailing slash is fine.
    let mut body = setup_body(LS_CLS, Value::Null);
    body["something_new"] = json!([1, 2]);
    let (status, body) = ml_post(&app, prompt, "/setup/", body).await;
    assert_eq!(
        (status, body),
        (200, json!({"model_version": "Reviews__v2"}))
    );

    // The mirror: one row for (prompt, Label Studio project 1), a project with the schema,
    // associated with the prompt, hostname kept, the access token sealed.
    let row = mirror_row(&app, prompt).await.expect("ml backend row");
    assert_eq!(row.hostname.as_deref(), Some("http://localhost:8080"));
    let sealed = row.access_token_enc.clone().expect("sealed token");
    assert!(!sealed.contains("abcdef1234567890"));
    let secrets =
        prompter::crypto::Secrets::from_secret("integration-test-secret-key").expect("key");
    assert_eq!(
        secrets.open(&sealed).expect("opens"),
        "abcdef1234567890abcdef1234567890abcdef12"
    );
    let mirror: ProjectView = app
        .get(&format!("/api/projects/{}/", row.project_id))
        .await
        .good();
    assert_eq!(
        mirror.title,
        format!("Label Studio project 1 (ML backend of prompt {prompt})")
    );
    assert_eq!(mirror.label_config, LS_CLS);
    let view = prompt_view(&app, prompt).await;
    assert_eq!(view.associated_projects[0].id, row.project_id, "{view:?}");
    assert_eq!(view.prompt.deployed_version, None);
    // A changed label config updates the mirror, on the same row.
    let changed = LS_CLS.replace(r#"<Choice value="Neutral"/>"#, "");
    let (status, _) = ml_post(&app, prompt, "/setup", setup_body(&changed, Value::Null)).await;
    assert_eq!(status, 200);
    let again = mirror_row(&app, prompt).await.expect("row");
    assert_eq!(again.id, row.id);
    assert_eq!(again.project_id, row.project_id);
    let mirror: ProjectView = app
        .get(&format!("/api/projects/{}/", row.project_id))
        .await
        .good();
    assert_eq!(mirror.label_config, changed);
    let rows = ml_backend_project::Entity::find()
        .filter(ml_backend_project::Column::PromptId.eq(prompt))
        .all(&app.db)
        .await
        .expect("rows");
    assert_eq!(rows.len(), 1);

    // Deploying v1 switches the reported version.
    let body: PromptView = app
        .patch(
            &format!("/api/prompts/{prompt}/"),
            json!({"deployed_version": v1}),
        )
        .await
        .good();
    assert_eq!(body.prompt.deployed_version, Some(v1));
    let (_, body) = ml_post(&app, prompt, "/setup", setup_body(LS_CLS, Value::Null)).await;
    assert_eq!(body, json!({"model_version": "Reviews__v1"}));
    let listed: Paginated<PromptDetailView> = app.get("/api/prompts/").await.good();
    let item = listed
        .results
        .iter()
        .find(|p| p.prompt.id == prompt)
        .expect("listed");
    assert_eq!(item.prompt.deployed_version, Some(v1));
    // A version of another prompt, or no version at all, is refused on the field.
    let other = id_of(&new_prompt(&app, json!({"title": "Other"})).await);
    let foreign = version(&app, other, connection, "x", "Classify: {text}").await;
    for bad in [foreign, 999_999] {
        let error = app
            .patch(
                &format!("/api/prompts/{prompt}/"),
                json!({"deployed_version": bad}),
            )
            .await
            .bad();
        assert_eq!(error.status_code, 400, "{error:?}");
        assert!(
            !field_errors(&error, "deployed_version").is_empty(),
            "{error:?}"
        );
    }
    let error = app
        .post(
            "/api/prompts/",
            json!({"title": "New", "deployed_version": v1}),
        )
        .await
        .bad();
    assert_eq!(error.status_code, 400, "{error:?}");
    assert!(!field_errors(&error, "deployed_version").is_empty());
    // /versions lists every version's label.
    let (status, body) = ml_get(&app, prompt, "/versions").await;
    assert_eq!(status, 200);
    assert_eq!(body, json!({"versions": ["Reviews__v1", "Reviews__v2"]}));
    // Deleting the deployed version falls back to the newest; the view shows null.
    let (status, _) = app
        .delete(&format!("/api/prompts/{prompt}/versions/{v1}"))
        .await;
    assert_eq!(status, 204);
    let (_, body) = ml_post(&app, prompt, "/setup", setup_body(LS_CLS, Value::Null)).await;
    assert_eq!(body, json!({"model_version": "Reviews__v2"}));
    let view = prompt_view(&app, prompt).await;
    assert_eq!(view.prompt.deployed_version, None, "{view:?}");
    // null deploys "the newest" explicitly.
    let body: PromptView = app
        .patch(
            &format!("/api/prompts/{prompt}/"),
            json!({"deployed_version": v2}),
        )
        .await
        .good();
    assert_eq!(body.prompt.deployed_version, Some(v2));
    let body: PromptView = app
        .patch(
            &format!("/api/prompts/{prompt}/"),
            json!({"deployed_version": null}),
        )
        .await
        .good();
    assert_eq!(body.prompt.deployed_version, None);

    // Bad input answers 400 in the envelope, naming the field.
    let (status, body) = ml_post(
        &app,
        prompt,
        "/setup",
        setup_body("<View><Text", Value::Null),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    let error = ml_error(400, body);
    assert!(error.detail.starts_with("schema:"), "{error:?}");
    let image = r#"<View><Image name="img" value="$image"/><RectangleLabels name="box" toName="img"><Label value="Car"/></RectangleLabels></View>"#;
    let (status, body) = ml_post(&app, prompt, "/setup", setup_body(image, Value::Null)).await;
    assert_eq!(status, 400, "{body}");
    let error = ml_error(400, body);
    assert!(
        error.detail.contains("no control a prompt can answer"),
        "{error:?}"
    );
    let (status, body) = ml_post(&app, prompt, "/setup", json!({"schema": LS_CLS})).await;
    assert_eq!(status, 400, "{body}");
    let error = ml_error(400, body);
    assert!(error.detail.starts_with("project:"), "{error:?}");
    let (status, _, body) = call(
        &app,
        Method::POST,
        &format!("/ml/prompts/{prompt}/setup"),
        Auth::Basic(&app.token),
        None,
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(ml_error(400, body).code, ErrorCode::ParseError);
}

#[tokio::test]
async fn predict_answers_one_item_per_task_in_order() {
    let llm = fake(FakeLlmConfig::default()).await;
    let app = TestApp::spawn().await;
    let (prompt, _) = prompt_with_version(&app, &llm, "Classify the sentiment. Text: {text}").await;
    let (status, setup) = ml_post(&app, prompt, "/setup", setup_body(LS_CLS, Value::Null)).await;
    assert_eq!(status, 200);
    let label = read::<SetupView>(setup).model_version;
    assert_eq!(label, "Reviews__v1");
    let tasks = vec![
        batch_task(11, json!({"text": "I love this product"})),
        batch_task(12, json!({"text": "This is terrible"})),
        batch_task(13, json!({"text": "Neutral, it is okay"})),
        // A task whose data lacks the field the prompt reads.
        batch_task(14, json!({"review": "no text here"})),
    ];
    let (status, body) = ml_post(&app, prompt, "/predict", predict_body(tasks, LS_CLS)).await;
    assert_eq!(status, 200, "{body}");
    // The exact shape of an item Label Studio reads is checked raw.
    assert_eq!(
        body["results"][3],
        json!({"result": [], "score": 0.0, "model_version": label})
    );
    let results = read::<PredictView>(body).results;
    assert_eq!(results.len(), 4, "{results:?}");
    for (item, want) in results.iter().zip(["Positive", "Negative", "Neutral"]) {
        assert_eq!(item.model_version, label);
        assert_eq!(item.score, 1.0);
        // Regions are Label Studio's free-form objects.
        let region = &item.result[0];
        assert_eq!(region["from_name"], "sentiment", "{item:?}");
        assert_eq!(region["to_name"], "text");
        assert_eq!(region["type"], "choices");
        assert_eq!(region["value"]["choices"], json!([want]), "{item:?}");
    }
    assert_eq!(
        llm.stats().ok,
        3,
        "the task without its field never reached the model"
    );
    // No tasks: no results; no `tasks`: 400 naming it; a trailing slash works.
    let (status, body) = ml_post(&app, prompt, "/predict/", predict_body(vec![], LS_CLS)).await;
    assert_eq!((status, body), (200, json!({"results": []})));
    let (status, body) = ml_post(&app, prompt, "/predict", json!({"label_config": LS_CLS})).await;
    assert_eq!(status, 400, "{body}");
    let error = ml_error(400, body);
    assert!(error.detail.starts_with("tasks:"), "{error:?}");
    // Without a label config or a known project, there is nothing to shape answers with.
    let (status, body) = ml_post(
        &app,
        prompt,
        "/predict",
        json!({"tasks": [batch_task(1, json!({"text": "x"}))], "project": "2.1", "params": null}),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    let error = ml_error(400, body);
    assert!(error.detail.starts_with("label_config:"), "{error:?}");
    // A known project's stored config serves when the request omits it.
    let (status, body) = ml_post(
        &app,
        prompt,
        "/predict",
        json!({"tasks": [batch_task(1, json!({"text": "great"}))], "project": LS_PROJECT}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(first_choices(body), json!(["Positive"]));
}

#[tokio::test]
async fn interactive_context_reaches_the_model_without_setup() {
    let llm = fake(FakeLlmConfig::default()).await;
    let app = TestApp::spawn().await;
    // The fake answers from the whole last user message when it has no "Text:", so the hint
    // (placed before the task's prompt) decides its answer: proof that it reached the model.
    let (prompt, _) = prompt_with_version(&app, &llm, "Classify: {text}").await;
    // The export-style task of `interactive-annotating` (spec §3.3.1), context as in §3.3.3.
    let task = json!({
        "id": 5, "annotations": [], "drafts": [], "predictions": [],
        "data": {"text": "I love it"}, "meta": {},
        "created_at": "2026-11-29T10:00:00.000000Z", "updated_at": "2026-11-29T10:00:00.000000Z",
        "allow_skip": true, "inner_id": 5, "total_annotations": 0, "cancelled_annotations": 0,
        "total_predictions": 0, "comment_count": 0, "unresolved_comment_count": 0,
        "last_comment_updated_at": null, "project": 1, "updated_by": null, "comment_authors": []
    });
    let context = json!({"result": [{"id": "abc", "from_name": "sentiment", "to_name": "text",
        "type": "choices", "value": {"choices": ["Negative"]}, "origin": "manual"}],
        "annotation_id": null, "draft_id": 0, "user_id": 1});
    assert!(mirror_row(&app, prompt).await.is_none());
    let body = json!({"tasks": [task.clone()], "project": LS_PROJECT, "label_config": LS_CLS,
        "params": {"login": null, "password": null, "context": context}});
    let (status, answer) = ml_post(&app, prompt, "/predict", body).await;
    assert_eq!(status, 200, "{answer}");
    let results = read::<PredictView>(answer).results;
    assert_eq!(results.len(), 1);
    assert_eq!(
        results[0].result[0]["value"]["choices"],
        json!(["Negative"]),
        "{results:?}"
    );
    assert_eq!(results[0].model_version, "Reviews__v1");
    // The same task without context: the text alone decides.
    let body = json!({"tasks": [task], "project": LS_PROJECT, "label_config": LS_CLS,
        "params": {"context": null}});
    let (_, answer) = ml_post(&app, prompt, "/predict", body).await;
    assert_eq!(first_choices(answer), json!(["Positive"]));
    // The interactive call created the mirror (no /setup came first).
    let row = mirror_row(&app, prompt)
        .await
        .expect("mirror created lazily");
    let mirror = project::Entity::find_by_id(row.project_id)
        .one(&app.db)
        .await
        .expect("query")
        .expect("project");
    assert_eq!(mirror.label_config, LS_CLS);
}

#[tokio::test]
async fn ner_predictions_are_spans_with_offsets() {
    let llm = fake(FakeLlmConfig::default()).await;
    let app = TestApp::spawn().await;
    let (prompt, _) = prompt_with_version(&app, &llm, "Find the entities. Text: {text}").await;
    let text = "John Smith joined Acme Corp yesterday.";
    let (status, body) = ml_post(
        &app,
        prompt,
        "/predict",
        predict_body(vec![batch_task(1, json!({"text": text}))], NER),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let regions = read::<PredictView>(body).results[0].result.clone();
    // Regions are Label Studio's free-form objects.
    let mut spans: Vec<(String, String)> = regions
        .iter()
        .map(|r| {
            assert_eq!(r["type"], "labels");
            assert_eq!(
                (r["from_name"].as_str(), r["to_name"].as_str()),
                (Some("label"), Some("text"))
            );
            let (start, end) = (
                r["value"]["start"].as_u64().expect("start") as usize,
                r["value"]["end"].as_u64().expect("end") as usize,
            );
            (
                text[start..end].to_string(),
                r["value"]["labels"][0].as_str().expect("label").to_string(),
            )
        })
        .collect();
    spans.sort();
    assert_eq!(
        spans,
        [
            ("Acme Corp".to_string(), "ORG".to_string()),
            ("John Smith".to_string(), "PER".to_string())
        ]
    );
}

/// An annotation webhook body as Label Studio sends it (spec §3.4).
fn annotation_event(
    action: &str,
    ls_task: i64,
    ls_annotation: i64,
    text: &str,
    label: &str,
    updated_at: &str,
) -> Value {
    json!({
        "action": action,
        "project": {"id": 1, "title": "ml-e2e", "label_config": LS_CLS,
            "parsed_label_config": {"sentiment": {"type": "Choices", "to_name": ["text"],
                "inputs": [{"type": "Text", "valueType": null, "value": "text"}],
                "labels": ["Positive", "Negative", "Neutral"]}},
            "model_version": "rust-backend", "task_number": 3},
        "annotation": {"id": ls_annotation, "result": [{"id": "r1", "from_name": "sentiment",
                "to_name": "text", "type": "choices", "value": {"choices": [label]}, "origin": "manual"}],
            "was_cancelled": false, "ground_truth": false,
            "created_at": "2026-11-29T10:00:00.000000Z", "updated_at": updated_at,
            "draft_created_at": null, "lead_time": 4.2, "prediction": {}, "result_count": 1,
            "unique_id": "0f7a", "import_id": null, "last_action": null, "bulk_created": false,
            "task": ls_task, "project": 1, "completed_by": 1, "updated_by": 1,
            "parent_prediction": null, "parent_annotation": null, "last_created_by": null},
        "task": {"id": ls_task, "data": {"text": text}, "meta": {},
            "created_at": "2026-11-29T09:00:00.000000Z", "updated_at": updated_at,
            "is_labeled": true, "allow_skip": true, "overlap": 1, "inner_id": ls_task,
            "total_annotations": 1, "cancelled_annotations": 0, "total_predictions": 0,
            "precomputed_agreement": null, "comment_count": 0, "unresolved_comment_count": 0,
            "last_comment_updated_at": null, "project": 1, "updated_by": 1, "file_upload": 1,
            "comment_authors": []}
    })
}

#[tokio::test]
async fn webhook_annotations_become_few_shot_examples() {
    use prompter::engine::{Engine, EngineConfig, plan::Plan};
    let llm = fake(FakeLlmConfig::default()).await;
    let app = TestApp::spawn().await;
    let (prompt, version) = prompt_with_version(&app, &llm, "Classify: {text}").await;
    let (status, body) = app
        .patch(
            &format!("/api/prompts/{prompt}/versions/{version}"),
            json!({"max_few_shot_examples": 2}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, _) = ml_post(&app, prompt, "/setup", setup_body(LS_CLS, Value::Null)).await;
    assert_eq!(status, 200);
    let mirror = mirror_row(&app, prompt).await.expect("row").project_id;
    let hook = format!("/ml/prompts/{prompt}/webhook");
    // Event webhooks carry no Basic auth: without the added header they are refused.
    let created = annotation_event(
        "ANNOTATION_CREATED",
        21,
        301,
        "awful service",
        "Negative",
        "2026-11-29T10:00:00.000000Z",
    );
    let (status, challenge, _) = call(&app, Method::POST, &hook, Auth::None, Some(&created)).await;
    assert_eq!(
        (status, challenge.as_deref()),
        (401, Some("Basic realm=\"prompter\""))
    );
    let started = Instant::now();
    let (status, _, body) = call(
        &app,
        Method::POST,
        &hook,
        Auth::Token(&app.token),
        Some(&created),
    )
    .await;
    assert!(started.elapsed() < Duration::from_secs(1));
    assert_eq!(status, 201, "{body}");
    assert_eq!(
        body,
        json!({"status": "ok", "result": {"action": "ANNOTATION_CREATED", "project": "1"}})
    );
    let stored = wait_annotation(&app, mirror, 301, |a| a.is_some())
        .await
        .expect("stored");
    assert!(stored.ground_truth && !stored.was_cancelled);
    assert_eq!(stored.result[0]["value"]["choices"], json!(["Negative"]));
    let mirror_task = task::Entity::find_by_id(stored.task_id)
        .one(&app.db)
        .await
        .expect("query")
        .expect("task");
    assert_eq!(mirror_task.ls_task_id, Some(21));
    assert_eq!(mirror_task.project_id, mirror);
    assert_eq!(mirror_task.data, json!({"text": "awful service"}));
    assert_eq!(
        (mirror_task.total_annotations, mirror_task.is_labeled),
        (1, true)
    );

    // The example reaches the prompt of another task.
    let engine = Engine::new(
        app.db.clone(),
        prompter::crypto::Secrets::from_secret("integration-test-secret-key").expect("secret"),
        prompter::pricing::PriceTable::default(),
        EngineConfig::default(),
    );
    let plan_for = |engine: Engine| {
        let db = app.db.clone();
        async move {
            let version = entity::model_version::Entity::find_by_id(version)
                .one(&db)
                .await
                .expect("query")
                .expect("version");
            let config = prompter::label_config::parse(LS_CLS).expect("config");
            Plan::load(&engine, &db, version, mirror, config)
                .await
                .expect("plan")
        }
    };
    let plan = plan_for(engine.clone()).await;
    let messages = plan
        .messages(0, &json!({"text": "I love it"}))
        .expect("messages");
    let contents: Vec<String> = messages.iter().map(|m| m.text()).collect();
    assert_eq!(
        contents[1..],
        [
            "Classify: awful service",
            r#"{"sentiment":"Negative"}"#,
            "Classify: I love it"
        ]
    );
    // And /predict of that very Label Studio task does not use its own annotation.
    let (status, body) = ml_post(
        &app,
        prompt,
        "/predict",
        predict_body(
            vec![batch_task(21, json!({"text": "awful service"}))],
            LS_CLS,
        ),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(first_choices(body), json!(["Negative"]));

    // An update replaces the result (an out-of-date one is ignored).
    let updated = annotation_event(
        "ANNOTATION_UPDATED",
        21,
        301,
        "awful service",
        "Neutral",
        "2026-11-29T11:00:00.000000Z",
    );
    let (status, _, _) = call(
        &app,
        Method::POST,
        &hook,
        Auth::Token(&app.token),
        Some(&updated),
    )
    .await;
    assert_eq!(status, 201);
    wait_annotation(&app, mirror, 301, |a| {
        a.is_some_and(|a| a.result[0]["value"]["choices"] == json!(["Neutral"]))
    })
    .await;
    let stale = annotation_event(
        "ANNOTATION_UPDATED",
        21,
        301,
        "awful service",
        "Positive",
        "2026-11-29T10:30:00.000000Z",
    );
    let (status, _, _) = call(
        &app,
        Method::POST,
        &hook,
        Auth::Basic(&app.token),
        Some(&stale),
    )
    .await;
    assert_eq!(status, 201);
    // Bulk creation (arrays), with Basic auth as START_TRAINING would carry.
    let mut bulk = annotation_event(
        "ANNOTATIONS_CREATED",
        22,
        302,
        "great stuff",
        "Positive",
        "2026-11-29T10:00:00.000000Z",
    );
    bulk["annotation"] = json!([bulk["annotation"].clone()]);
    bulk["task"] = json!([bulk["task"].clone()]);
    let (status, _, _) = call(
        &app,
        Method::POST,
        &hook,
        Auth::Basic(&app.token),
        Some(&bulk),
    )
    .await;
    assert_eq!(status, 201);
    wait_annotation(&app, mirror, 302, |a| a.is_some()).await;
    let kept = wait_annotation(&app, mirror, 301, |a| a.is_some())
        .await
        .expect("kept");
    assert_eq!(
        kept.result[0]["value"]["choices"],
        json!(["Neutral"]),
        "the stale update lost"
    );
    let mirror_tasks = task::Entity::find()
        .filter(task::Column::ProjectId.eq(mirror))
        .all(&app.db)
        .await
        .expect("tasks");
    assert_eq!(
        mirror_tasks.len(),
        2,
        "one mirror task per Label Studio task"
    );

    // Deletion removes it and recounts its task.
    let deleted = json!({"action": "ANNOTATIONS_DELETED", "project": {"id": 1, "title": "ml-e2e"},
        "annotations": [{"id": 301}]});
    let (status, _, _) = call(
        &app,
        Method::POST,
        &hook,
        Auth::Token(&app.token),
        Some(&deleted),
    )
    .await;
    assert_eq!(status, 201);
    wait_annotation(&app, mirror, 301, |a| a.is_none()).await;
    let recounted = task::Entity::find_by_id(stored.task_id)
        .one(&app.db)
        .await
        .expect("query")
        .expect("task");
    assert_eq!(
        (recounted.total_annotations, recounted.is_labeled),
        (0, false)
    );
    let plan = plan_for(engine).await;
    let messages = plan
        .messages(0, &json!({"text": "I love it"}))
        .expect("messages");
    assert_eq!(
        messages[1].text(),
        "Classify: great stuff",
        "only 302 is left"
    );
    assert_eq!(messages.len(), 4);

    // Other events are acknowledged and ignored; START_TRAINING is handled.
    let (status, _, body) = call(
        &app,
        Method::POST,
        &hook,
        Auth::Token(&app.token),
        Some(&json!({"action": "TASKS_CREATED", "project": {"id": 1}, "tasks": [{"id": 9}]})),
    )
    .await;
    assert_eq!((status, body), (200, json!({"status": "Unknown event"})));
    let (status, _, body) = call(
        &app,
        Method::POST,
        &hook,
        Auth::Basic(&app.token),
        Some(&json!({"action": "START_TRAINING", "project": {"id": 1, "title": "ml-e2e"}})),
    )
    .await;
    let answer: WebhookView = read(body);
    assert_eq!((status, answer.status.as_str()), (201, "ok"), "{answer:?}");
    // Another organization's token cannot feed this prompt.
    let (status, _, _) = call(
        &app,
        Method::POST,
        &hook,
        Auth::Token(&app.other_token),
        Some(&created),
    )
    .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn the_deadline_cancels_calls_still_running() {
    use prompter::engine::live::{LiveOptions, LiveTask, predict_with};
    use prompter::engine::{Engine, EngineConfig};
    let llm = fake(FakeLlmConfig {
        latency_ms: 5000,
        ..Default::default()
    })
    .await;
    let app = TestApp::spawn().await;
    let (_, version) = prompt_with_version(&app, &llm, "Text: {text}").await;
    let engine = Engine::new(
        app.db.clone(),
        prompter::crypto::Secrets::from_secret("integration-test-secret-key").expect("secret"),
        prompter::pricing::PriceTable::default(),
        EngineConfig {
            llm_timeout_secs: 30.0,
            ..Default::default()
        },
    );
    let version = entity::model_version::Entity::find_by_id(version)
        .one(&app.db)
        .await
        .expect("query")
        .expect("version");
    let tasks: Vec<LiveTask> = (0..5)
        .map(|i| LiveTask {
            id: 0,
            data: json!({"text": format!("item {i}")}),
        })
        .collect();
    let started = Instant::now();
    let answers = predict_with(
        &engine,
        &app.db,
        version,
        "Reviews__v1".into(),
        0,
        prompter::label_config::parse(LS_CLS).expect("config"),
        tasks,
        LiveOptions {
            deadline: Some(Duration::from_millis(300)),
            hint: None,
        },
    )
    .await
    .expect("plan");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(answers.len(), 5);
    for a in answers {
        assert_eq!(a.error_type, Some(entity::enums::FailureKind::Canceled));
        assert_eq!(a.model_version, "Reviews__v1");
        assert!(a.result.is_empty());
    }
}
