//! Tests of the model provider connection endpoints: defaults, write-only secrets sealed at
//! rest, the hidden internal connections, provider choices, partial updates, validation,
//! permissions, organization scoping and the unlinking of versions on delete.
use crate::helpers::reply::read;
use crate::helpers::{Reply, TestApp, bad_field, field_errors};
use entity::enums::{BudgetResetPeriod, ConnectionScope};
use prompter::crypto::Secrets;
use prompter::error::{ApiError, ErrorCode};
use prompter::llm::{ModelParams, Provider};
use prompter::services::model_providers as service;
use prompter::views::model_providers::ModelProviderConnectionView;
use reqwest::Method;
use sea_orm::{ActiveModelTrait, ActiveValue::NotSet, ActiveValue::Set, EntityTrait};
use serde_json::{Value, json};

const BASE: &str = "/api/model-provider-connections/";

/// The service key the harness configures.
fn secrets() -> Secrets {
    Secrets::from_secret("integration-test-secret-key").expect("key")
}

/// Sends a request as `token` and returns the status and the raw body text.
async fn send_text(
    app: &TestApp,
    method: Method,
    path: &str,
    token: &str,
    body: Option<&Value>,
) -> (u16, String) {
    let mut req = reqwest::Client::new()
        .request(method, format!("{}{path}", app.address))
        .header("Authorization", format!("Token {token}"));
    if let Some(body) = body {
        req = req.json(body);
    }
    let resp = req.send().await.expect("request");
    let status = resp.status().as_u16();
    (status, resp.text().await.expect("body"))
}

/// A connection as the API shows it.
type View = ModelProviderConnectionView;

/// Creates a connection as the admin and returns its body raw (asserts 201). Whole bodies are
/// compared raw, so that a key one answer has and another lacks (a secret) fails the test.
async fn connect_raw(app: &TestApp, body: Value) -> Value {
    let (status, created) = app.post(BASE, body).await;
    assert_eq!(status, 201, "{created}");
    created
}

/// Creates a connection as the admin and returns it (asserts 201).
async fn connect(app: &TestApp, body: Value) -> View {
    read(connect_raw(app, body).await)
}

/// The typed reading of a raw connection body.
fn view(body: &Value) -> View {
    read(body.clone())
}

/// The connection list at `path`, as the admin (asserts 200).
async fn list(app: &TestApp, path: &str) -> Vec<View> {
    app.get(path).await.good()
}

/// The ids of a connection list.
fn ids(list: &[View]) -> Vec<i64> {
    list.iter().map(|c| c.id).collect()
}

/// The stored row of a connection.
async fn row(app: &TestApp, id: i64) -> entity::model_provider_connection::Model {
    entity::model_provider_connection::Entity::find_by_id(id)
        .one(&app.db)
        .await
        .expect("query")
        .expect("row")
}

#[tokio::test]
async fn create_applies_defaults_and_never_returns_secrets() {
    let app = TestApp::spawn().await;
    let key = "sk-test-very-secret-key-123";
    let (status, text) = send_text(
        &app,
        Method::POST,
        BASE,
        &app.token,
        Some(&json!({
            "api_key": key,
            "organization": 9999,
            "created_by": {"id": 9999},
            "budget_limit": 10.0,
            "budget_total_spent": 7.5,
            "budget_reset_period": "Monthly",
            "budget_last_reset_date": "2026-01-01T00:00:00Z",
            "model_params": {"temperature": 0.1},
        })),
    )
    .await;
    assert_eq!(status, 201, "{text}");
    assert!(!text.contains(key), "the key is never echoed: {text}");
    // The secrets are absent from the wire body (not null): checked on the raw JSON.
    let raw: Value = serde_json::from_str(&text).expect("json");
    for secret in ["api_key", "auth_token", "google_application_credentials"] {
        assert!(raw.get(secret).is_none(), "{secret} is write-only: {raw}");
    }
    // The typed read also checks `created_at` and `updated_at` are timestamps.
    let body = view(&raw);
    assert_eq!(body.provider, Provider::OpenAI);
    assert_eq!(body.scope, ConnectionScope::Organization);
    assert!(!body.is_internal);
    assert_eq!(
        body.model_params,
        ModelParams {
            temperature: Some(0.1),
            ..Default::default()
        },
        "writable in Prompter"
    );
    assert!(body.has_api_key);
    assert!(!body.has_auth_token);
    assert!(!body.has_google_application_credentials);
    assert_eq!(
        body.created_by.as_ref().map(|u| u.email.as_str()),
        Some("admin@example.com")
    );
    assert_ne!(body.organization, 9999, "organization is read-only");
    assert_eq!(
        body.budget_limit,
        Some(10.0),
        "budget_limit is writable in Prompter"
    );
    assert_eq!(body.budget_reset_period, Some(BudgetResetPeriod::Monthly));
    assert_eq!(body.budget_total_spent, 0.0, "read-only");
    assert_eq!(body.budget_last_reset_date, None, "read-only");
    assert_eq!(body.budget_alerted_at, None, "read-only");
    assert_eq!(body.endpoint, None, "endpoint");
    assert_eq!(body.deployment_name, None, "deployment_name");
    assert_eq!(body.google_project_id, None, "google_project_id");
    assert_eq!(body.google_location, None, "google_location");
    assert_eq!(
        body.cached_available_models, None,
        "cached_available_models"
    );
    assert_eq!(body.budget_alert_threshold, None, "budget_alert_threshold");
    assert_eq!(body.rpm_limit, None, "rpm_limit");
    assert_eq!(body.tpm_limit, None, "tpm_limit");

    let id = body.id;
    for path in [format!("{BASE}{id}/"), BASE.to_string()] {
        let (status, text) = send_text(&app, Method::GET, &path, &app.token, None).await;
        assert_eq!(status, 200, "{text}");
        assert!(!text.contains(key), "GET {path} never shows the key");
    }

    let empty = connect(&app, json!({})).await;
    assert_eq!(empty.provider, Provider::OpenAI);
    assert!(!empty.has_api_key);

    let full_raw = connect_raw(
        &app,
        json!({"provider": "Custom", "endpoint": "http://127.0.0.1:9/v1", "scope": "User",
               "deployment_name": "dep", "google_project_id": "proj", "google_location": "eu",
               "cached_available_models": "a,b", "budget_alert_threshold": 2.5,
               "rpm_limit": 60, "tpm_limit": 100000, "auth_token": "tok-secret",
               "google_application_credentials": "{\"private_key\": \"pk-secret\"}"}),
    )
    .await;
    let full = view(&full_raw);
    assert_eq!(full.provider, Provider::Custom);
    assert_eq!(full.scope, ConnectionScope::User);
    assert_eq!(full.endpoint.as_deref(), Some("http://127.0.0.1:9/v1"));
    assert_eq!(full.deployment_name.as_deref(), Some("dep"));
    assert_eq!(full.google_project_id.as_deref(), Some("proj"));
    assert_eq!(full.google_location.as_deref(), Some("eu"));
    assert_eq!(full.cached_available_models.as_deref(), Some("a,b"));
    assert_eq!(full.budget_alert_threshold, Some(2.5));
    assert_eq!(full.rpm_limit, Some(60));
    assert_eq!(full.tpm_limit, Some(100000));
    assert!(!full.has_api_key);
    assert!(full.has_auth_token);
    assert!(full.has_google_application_credentials);
    // The secrets appear nowhere in the body: scanned as raw text.
    let shown = full_raw.to_string();
    assert!(!shown.contains("tok-secret") && !shown.contains("pk-secret"));
}

#[tokio::test]
async fn secrets_are_sealed_at_rest_and_patch_replaces_them() {
    let app = TestApp::spawn().await;
    let first = "sk-first-plaintext-key";
    let created = connect(&app, json!({"api_key": first, "auth_token": "tok-1"})).await;
    let id = created.id;
    let organization = created.organization;

    let stored = row(&app, id).await;
    let sealed_first = stored.api_key_enc.clone().expect("api key stored");
    assert!(
        !sealed_first.contains(first),
        "stored sealed, not in plaintext"
    );
    assert_eq!(secrets().open(&sealed_first).expect("opens"), first);
    assert!(
        !stored
            .auth_token_enc
            .clone()
            .expect("token")
            .contains("tok-1")
    );
    assert_eq!(stored.google_application_credentials_enc, None);

    let creds = service::credentials(&app.db, &secrets(), organization, id)
        .await
        .expect("credentials");
    assert_eq!(creds.provider, Provider::OpenAI);
    assert_eq!(creds.api_key.as_deref(), Some(first));
    assert_eq!(creds.auth_token.as_deref(), Some("tok-1"));
    assert_eq!(creds.google_application_credentials, None);
    let shown = format!("{creds:?}");
    assert!(
        !shown.contains(first) && !shown.contains("tok-1"),
        "{shown}"
    );

    // Another organization, or an unknown id, has no credentials here.
    assert!(matches!(
        service::credentials(&app.db, &secrets(), organization + 1000, id).await,
        Err(ApiError::NotFound)
    ));
    // A different service key cannot open them, and the error names no secret.
    let wrong = Secrets::from_secret("a-different-service-key").expect("key");
    match service::credentials(&app.db, &wrong, organization, id).await {
        Err(ApiError::Internal(message)) => {
            assert!(!message.contains(first) && !message.contains(&sealed_first));
            assert!(message.contains("api_key"), "{message}");
        }
        other => panic!("expected an internal error, got {other:?}"),
    }

    let second = "sk-second-plaintext-key";
    let (status, text) = send_text(
        &app,
        Method::PATCH,
        &format!("{BASE}{id}/"),
        &app.token,
        Some(&json!({"api_key": second})),
    )
    .await;
    assert_eq!(status, 200, "{text}");
    assert!(!text.contains(second));
    let patched: View = read(serde_json::from_str(&text).expect("json"));
    assert!(patched.has_api_key);
    let sealed_second = row(&app, id).await.api_key_enc.expect("api key stored");
    assert_ne!(sealed_second, sealed_first, "the stored value changed");
    assert_eq!(secrets().open(&sealed_second).expect("opens"), second);
    assert_eq!(
        row(&app, id).await.auth_token_enc,
        stored.auth_token_enc,
        "an absent secret is kept"
    );

    let cleared: View = app
        .patch(&format!("{BASE}{id}/"), json!({"api_key": ""}))
        .await
        .good();
    assert!(!cleared.has_api_key);
    assert!(cleared.has_auth_token);
    assert_eq!(row(&app, id).await.api_key_enc, None);

    let cleared: View = app
        .patch(
            &format!("{BASE}{id}/"),
            json!({"auth_token": null, "google_application_credentials": "{}"}),
        )
        .await
        .good();
    assert!(!cleared.has_auth_token);
    assert!(cleared.has_google_application_credentials);
    let creds = service::credentials(&app.db, &secrets(), organization, id)
        .await
        .expect("credentials");
    assert_eq!(creds.api_key, None);
    assert_eq!(creds.auth_token, None);
    assert_eq!(creds.google_application_credentials.as_deref(), Some("{}"));
}

#[tokio::test]
async fn list_hides_internal_connections_and_orders() {
    let app = TestApp::spawn().await;
    let a = connect(&app, json!({"provider": "OpenAI"})).await.id;
    let hidden = connect(&app, json!({"provider": "Gemini", "is_internal": true}))
        .await
        .id;
    let b = connect(&app, json!({"provider": "Anthropic"})).await.id;

    assert_eq!(
        ids(&list(&app, BASE).await),
        vec![a, b],
        "internal connections are hidden"
    );
    // The no-slash variant.
    assert_eq!(
        ids(&list(&app, "/api/model-provider-connections").await),
        vec![a, b]
    );

    assert_eq!(
        ids(&list(&app, &format!("{BASE}?ordering=-id")).await),
        vec![b, a]
    );
    assert_eq!(
        ids(&list(&app, &format!("{BASE}?ordering=provider")).await),
        vec![b, a],
        "Anthropic before OpenAI"
    );
    assert_eq!(
        list(&app, &format!("{BASE}?ordering=-created_at"))
            .await
            .len(),
        2
    );
    assert_eq!(
        ids(&list(&app, &format!("{BASE}?ordering=bogus")).await),
        vec![a, b],
        "unknown keys are ignored"
    );

    // An internal connection is still readable by id.
    let got: View = app.get(&format!("{BASE}{hidden}/")).await.good();
    assert!(got.is_internal);

    // Another organization sees none of them, and its own are not listed here.
    let foreign: Vec<View> = app
        .send(Method::GET, BASE, Some(&app.other_token), None)
        .await
        .good();
    assert!(foreign.is_empty(), "{foreign:?}");
    let _: View = app
        .send(Method::POST, BASE, Some(&app.other_token), Some(&json!({})))
        .await
        .created();
    assert_eq!(ids(&list(&app, BASE).await), vec![a, b]);
}

#[tokio::test]
async fn provider_choices_is_an_object() {
    let app = TestApp::spawn().await;
    // The whole body is compared raw: it is an object with this one key, in Label Studio's shape.
    let expected = json!({"provider_choices": ["OpenAI", "AzureOpenAI", "AzureAIFoundry", "VertexAI", "Gemini", "Anthropic", "Custom"]});
    for path in [
        "/api/model-provider-connections/provider-choices",
        "/api/model-provider-connections/provider-choices/",
    ] {
        let (status, body) = app.get(path).await;
        assert_eq!(status, 200, "{path}: {body}");
        assert_eq!(body, expected);
    }
    let (status, _) = app
        .send(
            Method::GET,
            "/api/model-provider-connections/provider-choices",
            None,
            None,
        )
        .await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn get_patch_and_delete() {
    let app = TestApp::spawn().await;
    let created_raw = connect_raw(
        &app,
        json!({"provider": "AzureOpenAI", "endpoint": "https://x.openai.azure.com/",
               "deployment_name": "gpt4o", "api_key": "sk-azure", "rpm_limit": 10}),
    )
    .await;
    let created = view(&created_raw);
    let id = created.id;

    for path in [format!("{BASE}{id}/"), format!("{BASE}{id}")] {
        let (status, got) = app.get(&path).await;
        assert_eq!(status, 200, "{path}: {got}");
        assert_eq!(got, created_raw, "GET {path} returns what create returned");
    }

    let patched: View = app
        .patch(
            &format!("{BASE}{id}/"),
            json!({"budget_alert_threshold": 5.0, "deployment_name": null, "tpm_limit": 5000,
                   "organization": 4242, "budget_total_spent": 99.0}),
        )
        .await
        .good();
    assert_eq!(patched.budget_alert_threshold, Some(5.0));
    assert_eq!(patched.deployment_name, None, "null clears");
    assert_eq!(patched.tpm_limit, Some(5000));
    assert_eq!(patched.rpm_limit, Some(10), "absent fields are kept");
    assert_eq!(
        patched.endpoint.as_deref(),
        Some("https://x.openai.azure.com/")
    );
    assert_eq!(patched.provider, Provider::AzureOpenAI);
    assert!(patched.has_api_key, "the key is kept");
    assert_eq!(patched.organization, created.organization);
    assert_eq!(patched.budget_total_spent, 0.0);
    assert_eq!(patched.created_at, created.created_at);

    let (status, patched_raw) = app
        .patch(
            &format!("{BASE}{id}"),
            json!({"provider": "OpenAI", "scope": "Model", "budget_alert_threshold": null,
                   "rpm_limit": null, "endpoint": "", "is_internal": false}),
        )
        .await;
    assert_eq!(status, 200, "no-slash variant: {patched_raw}");
    let patched = view(&patched_raw);
    assert_eq!(patched.provider, Provider::OpenAI);
    assert_eq!(patched.scope, ConnectionScope::Model);
    assert_eq!(patched.budget_alert_threshold, None);
    assert_eq!(patched.rpm_limit, None);
    assert_eq!(patched.endpoint, None, "an empty string clears");
    assert_eq!(app.get(&format!("{BASE}{id}/")).await.1, patched_raw);

    let (status, _) = app.delete(&format!("{BASE}{id}/")).await;
    assert_eq!(status, 204);
    assert_eq!(app.get(&format!("{BASE}{id}/")).await.0, 404);
    assert_eq!(app.delete(&format!("{BASE}{id}/")).await.0, 404);

    let other = connect(&app, json!({})).await.id;
    assert_eq!(app.delete(&format!("{BASE}{other}")).await.0, 204);
    assert_eq!(app.get(&format!("{BASE}{other}")).await.0, 404);
    assert_eq!(app.get(&format!("{BASE}abc/")).await.0, 404);
    assert!(list(&app, BASE).await.is_empty());
}

#[tokio::test]
async fn invalid_input_answers_400_naming_the_field() {
    let app = TestApp::spawn().await;
    let long = |n: usize| "x".repeat(n);
    let cases = [
        (json!({"provider": "Mistral"}), "provider"),
        (json!({"provider": "openai"}), "provider"),
        (json!({"provider": 5}), "provider"),
        (json!({"scope": "Team"}), "scope"),
        (
            json!({"provider": "Custom", "endpoint": "not a url"}),
            "endpoint",
        ),
        (
            json!({"provider": "Custom", "endpoint": "ftp://host/"}),
            "endpoint",
        ),
        (
            json!({"provider": "AzureOpenAI", "endpoint": "x.azure.com"}),
            "endpoint",
        ),
        (
            json!({"provider": "OpenAI", "endpoint": "not a url"}),
            "endpoint",
        ),
        (
            json!({"provider": "Anthropic", "endpoint": "api.anthropic.com"}),
            "endpoint",
        ),
        (
            json!({"endpoint": format!("http://{}", long(510))}),
            "endpoint",
        ),
        (json!({"deployment_name": long(513)}), "deployment_name"),
        (json!({"google_project_id": long(256)}), "google_project_id"),
        (json!({"google_location": long(256)}), "google_location"),
        (
            json!({"cached_available_models": long(4097)}),
            "cached_available_models",
        ),
        (
            json!({"budget_alert_threshold": -0.5}),
            "budget_alert_threshold",
        ),
        (
            json!({"budget_alert_threshold": "lots"}),
            "budget_alert_threshold",
        ),
        (json!({"rpm_limit": 0}), "rpm_limit"),
        (json!({"tpm_limit": -1}), "tpm_limit"),
        (json!({"rpm_limit": 1.5}), "rpm_limit"),
        (json!({"is_internal": "yes"}), "is_internal"),
        (json!({"api_key": 12345}), "api_key"),
    ];
    for (body, field) in &cases {
        bad_field(app.post(BASE, body.clone()).await, field);
    }
    assert!(list(&app, BASE).await.is_empty(), "nothing was created");
    // An unknown provider, scope or budget period: the message names the allowed values.
    let err = bad_field(
        app.post(BASE, json!({"provider": "Mistral"})).await,
        "provider",
    );
    assert_eq!(
        field_errors(&err, "provider"),
        [
            "\"Mistral\" is not a valid choice: one of OpenAI, AzureOpenAI, AzureAIFoundry, \
             VertexAI, Gemini, Anthropic, Custom."
        ],
        "{err:?}"
    );
    let err = bad_field(app.post(BASE, json!({"scope": "Team"})).await, "scope");
    assert_eq!(
        field_errors(&err, "scope"),
        ["\"Team\" is not a valid choice: one of Organization, User, Model."],
        "{err:?}"
    );
    bad_field(
        app.post(BASE, json!({"budget_reset_period": "Weekly"}))
            .await,
        "budget_reset_period",
    );

    // Vertex AI's endpoint names a region; every other provider's must be a URL.
    let vertex = connect(
        &app,
        json!({"provider": "VertexAI", "endpoint": "europe-west4"}),
    )
    .await;
    let id = vertex.id;
    assert_eq!(vertex.endpoint.as_deref(), Some("europe-west4"));
    assert_eq!(
        connect(
            &app,
            json!({"budget_alert_threshold": 0.0, "rpm_limit": 1, "tpm_limit": 1})
        )
        .await
        .budget_alert_threshold,
        Some(0.0)
    );

    // PATCH checks the same rules, on the connection as it would be stored.
    bad_field(
        app.patch(&format!("{BASE}{id}/"), json!({"provider": "Custom"}))
            .await,
        "endpoint",
    );
    for (body, field) in &cases {
        bad_field(
            app.patch(&format!("{BASE}{id}/"), body.clone()).await,
            field,
        );
    }
    let (status, ok) = app
        .patch(
            &format!("{BASE}{id}/"),
            json!({"provider": "Custom", "endpoint": "http://localhost:8080/v1"}),
        )
        .await;
    assert_eq!(status, 200, "{ok}");
    assert_eq!(app.get(&format!("{BASE}{id}/")).await.1, ok);
}

/// Keys are an Owner's or Administrator's: a Manager, a Reviewer and an Annotator read
/// connections (without keys) but create, change and delete none.
#[tokio::test]
async fn only_owners_and_administrators_set_keys() {
    let app = TestApp::spawn().await;
    let id = connect(&app, json!({"api_key": "sk-x"})).await.id;
    let (_, manager) = prompter::services::accounts::create_user(
        &app.db,
        "manager@example.com",
        "Main",
        prompter::auth::Role::Manager,
        None,
    )
    .await
    .expect("manager");
    let (_, administrator) = prompter::services::accounts::create_user(
        &app.db,
        "administrator@example.com",
        "Main",
        prompter::auth::Role::Administrator,
        None,
    )
    .await
    .expect("administrator");
    for token in [app.annotator_token.as_str(), manager.as_str()] {
        let token = Some(token);
        for path in [BASE.to_string(), format!("{BASE}{id}/")] {
            let (status, body) = app.send(Method::GET, &path, token, None).await;
            assert_eq!(status, 200, "GET {path}: {body}");
            assert!(!body.to_string().contains("sk-x"));
        }
        for (method, path, body) in [
            (Method::POST, BASE.to_string(), Some(json!({}))),
            (
                Method::PATCH,
                format!("{BASE}{id}/"),
                Some(json!({"api_key": "sk-stolen"})),
            ),
            (Method::DELETE, format!("{BASE}{id}/"), None),
        ] {
            let err = app
                .send(method.clone(), &path, token, body.as_ref())
                .await
                .bad();
            assert_eq!(err.status_code, 403, "{method} {path}: {err:?}");
            assert_eq!(err.code, ErrorCode::PermissionDenied);
        }
    }
    let token = Some(app.annotator_token.as_str());
    let (status, body) = app
        .send(
            Method::PATCH,
            &format!("{BASE}{id}/"),
            Some(&administrator),
            Some(&json!({"rpm_limit": 60})),
        )
        .await;
    assert_eq!(status, 200, "an Administrator sets them: {body}");
    let (status, _) = app
        .send(
            Method::GET,
            "/api/model-provider-connections/provider-choices",
            token,
            None,
        )
        .await;
    assert_eq!(status, 200, "anyone signed in may read the choices");
    let stored = row(&app, id).await.api_key_enc.expect("key");
    assert_eq!(secrets().open(&stored).expect("opens"), "sk-x", "unchanged");
}

#[tokio::test]
async fn another_organization_gets_404() {
    let app = TestApp::spawn().await;
    let created = connect_raw(
        &app,
        json!({"api_key": "sk-mine", "deployment_name": "mine"}),
    )
    .await;
    let id = view(&created).id;
    let token = Some(app.other_token.as_str());
    for (method, path, body) in [
        (Method::GET, format!("{BASE}{id}/"), None),
        (Method::GET, format!("{BASE}{id}"), None),
        (
            Method::PATCH,
            format!("{BASE}{id}/"),
            Some(json!({"deployment_name": "stolen", "api_key": "sk-theirs"})),
        ),
        (Method::DELETE, format!("{BASE}{id}/"), None),
    ] {
        let (status, resp) = app.send(method.clone(), &path, token, body.as_ref()).await;
        assert_eq!(
            status, 404,
            "{method} {path} as another organization: {resp}"
        );
    }
    let theirs: Vec<View> = app.send(Method::GET, BASE, token, None).await.good();
    assert!(theirs.is_empty(), "not listed for another organization");
    let (status, mine) = app.get(&format!("{BASE}{id}/")).await;
    assert_eq!(status, 200);
    assert_eq!(mine, created, "unchanged");
    let stored = row(&app, id).await.api_key_enc.expect("key");
    assert_eq!(secrets().open(&stored).expect("opens"), "sk-mine");
}

#[tokio::test]
async fn delete_unlinks_the_versions_that_used_it() {
    let app = TestApp::spawn().await;
    let created = connect(&app, json!({"api_key": "sk-v"})).await;
    let id = created.id;
    let organization = created.organization;
    let now = chrono::Utc::now();
    let prompt = entity::model_interface::ActiveModel {
        id: NotSet,
        organization_id: Set(organization),
        title: Set("Sentiment".into()),
        description: Set(None),
        skill_name: Set(Some(entity::enums::Skill::TextClassification)),
        input_fields: Set(vec!["text".to_string()].into()),
        output_classes: Set(vec!["Positive".to_string(), "Negative".to_string()].into()),
        created_by_id: Set(None),
        deployed_version_id: Set(None),
        tags: Set(Default::default()),
        domain: Set(None),
        status: Set(entity::enums::PromptStatus::Draft),
        parameters: Set(None),
        import_hash: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&app.db)
    .await
    .expect("prompt");
    let version = entity::model_version::ActiveModel {
        id: NotSet,
        organization_id: Set(organization),
        parent_model_id: Set(prompt.id),
        title: Set("v1".into()),
        prompt: Set("Classify: {text}".into()),
        provider: Set(entity::enums::Provider::OpenAI),
        provider_model_id: Set("gpt-4o-mini".into()),
        model_provider_connection_id: Set(Some(id)),
        max_few_shot_examples: Set(None),
        model_params: Set(None),
        steps: Set(None),
        samples: Set(1),
        calibration: Set(None),
        jury: Set(None),
        created_by_id: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&app.db)
    .await
    .expect("version");
    assert_eq!(version.model_provider_connection_id, Some(id));

    assert_eq!(app.delete(&format!("{BASE}{id}/")).await.0, 204);
    let after = entity::model_version::Entity::find_by_id(version.id)
        .one(&app.db)
        .await
        .expect("query")
        .expect("the version still exists");
    assert_eq!(after.model_provider_connection_id, None);
    assert!(
        entity::model_provider_connection::Entity::find_by_id(id)
            .one(&app.db)
            .await
            .expect("query")
            .is_none()
    );
}
