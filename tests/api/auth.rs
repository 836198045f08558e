//! Authentication and tenancy on every route: no token and a bad token answer 401 with Label
//! Studio's body; another organization's token never sees or changes this one's objects.
use crate::helpers::reply::read;
use crate::helpers::{CLS, Reply, TestApp, choice};
use prompter::error::ErrorCode;
use prompter::views::Paginated;
use prompter::views::annotations::AnnotationView;
use prompter::views::ops::ServerVersionView;
use prompter::views::predictions::PredictionView;
use prompter::views::projects::ProjectView;
use prompter::views::users::WhoAmIView;
use reqwest::Method;
use serde_json::{Value, json};

struct Fixture {
    project: i64,
    task: i64,
    annotation: i64,
    prediction: i64,
}

async fn fixture(app: &TestApp) -> Fixture {
    let project = app.project(CLS).await;
    let task = app.import(project, json!([{"text": "good"}])).await[0];
    let a: AnnotationView = app
        .post(
            &format!("/api/tasks/{task}/annotations/"),
            json!({"result": choice("Positive")}),
        )
        .await
        .created();
    let p: PredictionView = app
        .post(
            "/api/predictions/",
            json!({"task": task, "result": choice("Positive")}),
        )
        .await
        .created();
    Fixture {
        project,
        task,
        annotation: a.id,
        prediction: p.id,
    }
}

/// (method, path, body, status for another organization's token)
fn routes(f: &Fixture) -> Vec<(Method, String, Option<Value>, u16)> {
    let (p, t, a, pr) = (f.project, f.task, f.annotation, f.prediction);
    let body = Some(json!({}));
    vec![
        (Method::GET, "/api/current-user/whoami".into(), None, 200),
        (Method::GET, "/api/current-user".into(), None, 200),
        (Method::GET, "/api/projects/".into(), None, 200),
        (
            Method::POST,
            "/api/projects/validate/".into(),
            Some(json!({"label_config": CLS})),
            200,
        ),
        (Method::GET, format!("/api/projects/{p}/"), None, 404),
        (
            Method::PATCH,
            format!("/api/projects/{p}/"),
            Some(json!({"title": "stolen"})),
            404,
        ),
        (
            Method::POST,
            format!("/api/projects/{p}/import"),
            Some(json!([{"text": "x"}])),
            404,
        ),
        (
            Method::POST,
            format!("/api/projects/{p}/validate/"),
            Some(json!({"label_config": CLS})),
            404,
        ),
        (
            Method::DELETE,
            format!("/api/projects/{p}/tasks/"),
            None,
            404,
        ),
        (Method::GET, format!("/api/tasks/?project={p}"), None, 404),
        (
            Method::POST,
            "/api/tasks/".into(),
            Some(json!({"project": p, "data": {"text": "x"}})),
            400,
        ),
        (Method::GET, format!("/api/tasks/{t}/"), None, 404),
        (
            Method::PATCH,
            format!("/api/tasks/{t}/"),
            Some(json!({"data": {"text": "stolen"}})),
            404,
        ),
        (
            Method::GET,
            format!("/api/tasks/{t}/annotations/"),
            None,
            404,
        ),
        (
            Method::POST,
            format!("/api/tasks/{t}/annotations/"),
            Some(json!({"result": []})),
            404,
        ),
        (Method::GET, format!("/api/annotations/{a}/"), None, 404),
        (
            Method::PATCH,
            format!("/api/annotations/{a}/"),
            Some(json!({"result": []})),
            404,
        ),
        (
            Method::GET,
            format!("/api/predictions/?project={p}"),
            None,
            200,
        ),
        (
            Method::POST,
            "/api/predictions/".into(),
            Some(json!({"task": t, "result": []})),
            400,
        ),
        (Method::GET, format!("/api/predictions/{pr}/"), None, 404),
        (
            Method::PATCH,
            format!("/api/predictions/{pr}/"),
            Some(json!({"score": 0.1})),
            404,
        ),
        (Method::DELETE, format!("/api/predictions/{pr}/"), None, 404),
        (Method::DELETE, format!("/api/annotations/{a}/"), None, 404),
        (Method::DELETE, format!("/api/tasks/{t}/"), None, 404),
        (Method::DELETE, format!("/api/projects/{p}/"), None, 404),
        (Method::POST, "/api/projects/".into(), body, 201),
    ]
}

#[tokio::test]
async fn every_route_requires_a_valid_token() {
    let app = TestApp::spawn().await;
    let f = fixture(&app).await;
    for (method, path, body, _) in routes(&f) {
        // Typed reading checks Label Studio's error body: `id` and `detail` are strings.
        let err = app
            .send(method.clone(), &path, None, body.as_ref())
            .await
            .bad();
        assert_eq!(err.status_code, 401, "{method} {path} without a token");
        assert_eq!(err.code, ErrorCode::NotAuthenticated, "{method} {path}");
        let err = app
            .send(
                method.clone(),
                &path,
                Some("not-a-real-token"),
                body.as_ref(),
            )
            .await
            .bad();
        assert_eq!(err.status_code, 401, "{method} {path} with a bad token");
        assert_eq!(err.code, ErrorCode::AuthenticationFailed);
    }
}

#[tokio::test]
async fn another_organization_sees_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let f = fixture(&app).await;
    for (method, path, body, expected) in routes(&f) {
        let (status, resp) = app
            .send(method.clone(), &path, Some(&app.other_token), body.as_ref())
            .await;
        assert_eq!(
            status, expected,
            "{method} {path} as another organization: {resp}"
        );
        if path.starts_with("/api/predictions/?") {
            let listed: Vec<PredictionView> = read(resp);
            assert!(listed.is_empty(), "no foreign predictions listed");
        } else if path == "/api/projects/" && method == Method::GET {
            let listed: Paginated<ProjectView> = read(resp);
            assert_eq!(listed.count, 0, "no foreign projects listed");
        }
    }
    let project: ProjectView = app
        .get(&format!("/api/projects/{}/", f.project))
        .await
        .good();
    assert_eq!(project.title, "test", "title unchanged");
    assert_eq!(
        project.task_number, 1,
        "no task imported or deleted by the other organization"
    );
    for path in [
        format!("/api/tasks/{}/", f.task),
        format!("/api/annotations/{}/", f.annotation),
        format!("/api/predictions/{}/", f.prediction),
    ] {
        assert_eq!(app.get(&path).await.0, 200, "{path} still exists");
    }
}

#[tokio::test]
async fn bearer_tokens_work_and_whoami_names_the_user() {
    let app = TestApp::spawn().await;
    let resp = reqwest::Client::new()
        .get(format!("{}/api/current-user/whoami", app.address))
        .header("Authorization", format!("Bearer {}", app.token))
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status().as_u16(), 200);
    let me: WhoAmIView = resp.json().await.expect("json");
    assert_eq!(me.email, "admin@example.com");
    assert_eq!(me.organization_membership.role, "Owner");
    let other: WhoAmIView = app
        .send(
            Method::GET,
            "/api/current-user/whoami",
            Some(&app.other_token),
            None,
        )
        .await
        .good();
    assert_ne!(other.active_organization, me.active_organization);
    // The version needs no token.
    let version: ServerVersionView = app
        .send(Method::GET, "/api/version/", None, None)
        .await
        .good();
    assert_eq!(version.release, "1.23.2");
}

#[tokio::test]
async fn annotators_cannot_change_projects_or_predictions() {
    let app = TestApp::spawn().await;
    let f = fixture(&app).await;
    let token = Some(app.annotator_token.as_str());
    for (method, path, body) in [
        (
            Method::POST,
            "/api/projects/".to_string(),
            Some(json!({"title": "x"})),
        ),
        (
            Method::PATCH,
            format!("/api/projects/{}/", f.project),
            Some(json!({"title": "x"})),
        ),
        (
            Method::DELETE,
            format!("/api/projects/{}/", f.project),
            None,
        ),
        (
            Method::POST,
            format!("/api/projects/{}/import", f.project),
            Some(json!([{"text": "x"}])),
        ),
        (
            Method::POST,
            "/api/predictions/".to_string(),
            Some(json!({"task": f.task, "result": []})),
        ),
        (
            Method::DELETE,
            format!("/api/predictions/{}/", f.prediction),
            None,
        ),
    ] {
        let err = app
            .send(method.clone(), &path, token, body.as_ref())
            .await
            .bad();
        assert_eq!(err.status_code, 403, "{method} {path} as an annotator");
        assert_eq!(err.code, ErrorCode::PermissionDenied);
    }
    let (status, _) = app
        .send(
            Method::GET,
            &format!("/api/projects/{}/", f.project),
            token,
            None,
        )
        .await;
    assert_eq!(status, 200, "annotators read their organization's projects");
}

#[tokio::test]
async fn tokens_are_stored_hashed() {
    use sea_orm::{EntityTrait, QuerySelect};
    let app = TestApp::spawn().await;
    let hashes: Vec<String> = entity::api_token::Entity::find()
        .select_only()
        .column(entity::api_token::Column::TokenHash)
        .into_tuple()
        .all(&app.db)
        .await
        .expect("tokens");
    assert_eq!(hashes.len(), 3);
    assert!(
        !hashes
            .iter()
            .any(|h| h.contains(&app.token) || h.contains(&app.other_token))
    );
    assert!(hashes.contains(&prompter::crypto::hash_token(&app.token)));
}

/// Operations that change nothing, or that annotators may do: annotating, validating a label
/// config, and commenting on a prompt (its history is every member's).
const OPEN_TO_ANNOTATORS: [(&str, &str); 6] = [
    ("post", "/api/prompts/{id}/comments"),
    ("post", "/api/tasks/{id}/annotations/"),
    ("patch", "/api/annotations/{id}/"),
    ("delete", "/api/annotations/{id}/"),
    ("post", "/api/projects/validate/"),
    ("post", "/api/projects/{id}/validate/"),
];

/// Every operation that changes data, read from the OpenAPI document so that no route can be
/// forgotten, answers 403 to a read-only role: the extractor a handler takes (`Manager`)
/// checks the role before anything else happens.
#[tokio::test]
async fn every_mutating_route_refuses_a_read_only_role() {
    let app = TestApp::spawn().await;
    let f = fixture(&app).await;
    let spec: Value =
        serde_json::from_str(&prompter::openapi::openapi_json()).expect("the document");
    let mut checked = 0;
    // The OpenAPI document is read as the raw JSON it is.
    for (path, item) in spec["paths"].as_object().expect("paths") {
        for method in ["post", "put", "patch", "delete"] {
            if item.get(method).is_none() || OPEN_TO_ANNOTATORS.contains(&(method, path.as_str())) {
                continue;
            }
            let concrete = path
                .replace("{id}", &f.project.to_string())
                .replace("{version_id}", "1")
                .replace("{run_id}", "1")
                .replace("{schedule_id}", "1")
                .replace("{user_id}", "1");
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).expect("method");
            let (status, body) = app
                .send(
                    method.clone(),
                    &concrete,
                    Some(&app.annotator_token),
                    Some(&json!({})),
                )
                .await;
            assert_eq!(status, 403, "{method} {path} as an Annotator: {body}");
            checked += 1;
        }
    }
    assert!(
        checked >= 30,
        "the walk found the mutating routes: {checked}"
    );
    // Reading is every member's, provider connections included (keys are never shown).
    let (status, _) = app
        .send(
            Method::GET,
            "/api/model-provider-connections/",
            Some(&app.annotator_token),
            None,
        )
        .await;
    assert_eq!(status, 200);
}
