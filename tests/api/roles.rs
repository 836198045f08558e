//! Label Studio Enterprise's permission matrix, route by route: every operation of the OpenAPI
//! document the code generates (so a new route is covered the day it is added) is sent by each
//! of the five roles, and answers as the matrix says: allowed → neither 401 nor 403, refused →
//! 403; without a token, 401.
//!
//! | what | who |
//! |---|---|
//! | reading anything (GET), provider connections included | every member |
//! | annotating, commenting on a prompt, checking a label config | every member |
//! | provider connections: create, change, delete (keys) | Owner, Administrator |
//! | members: list, add, change, deactivate | Owner, Administrator |
//! | webhooks: every operation, reading included (endpoints and their delivery log) | Owner, Administrator |
//! | every other change (projects, tasks, predictions, prompts, versions, runs, refine, schedules, registry, Label Studio links, ML backend predict/setup/webhook) | Owner, Administrator, Manager |
use crate::helpers::fixtures::{fixture, id_of, new_run};
use crate::helpers::{CLS, TestApp, choice};
use prompter::auth::Role;
use prompter::services::accounts;
use reqwest::Method;
use serde_json::{Value, json};

/// Who may call an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Need {
    /// Anyone, without a token.
    Public,
    /// Every member.
    Member,
    /// Owner, Administrator or Manager.
    Manager,
    /// Owner or Administrator.
    Admin,
}

/// Changes every member may make (annotating is what Annotators are for; a prompt's comment
/// history is every member's; checking a label config changes nothing).
const OPEN_TO_MEMBERS: [(&str, &str); 6] = [
    ("post", "/api/prompts/{id}/comments"),
    ("post", "/api/tasks/{id}/annotations/"),
    ("patch", "/api/annotations/{id}/"),
    ("delete", "/api/annotations/{id}/"),
    ("post", "/api/projects/validate/"),
    ("post", "/api/projects/{id}/validate/"),
];

/// The matrix.
fn need(method: &str, path: &str) -> Need {
    // `/metrics` is open unless PROMPTER_METRICS_TOKEN is set (tested in `metrics`).
    if matches!(path, "/health" | "/ready" | "/api/version/" | "/metrics") {
        return Need::Public;
    }
    if path.starts_with("/api/organizations/{id}/memberships")
        || path == "/api/audit-log/"
        || path.starts_with("/api/webhooks/")
    {
        return Need::Admin;
    }
    if method == "get" || OPEN_TO_MEMBERS.contains(&(method, path)) {
        return Need::Member;
    }
    // Clearing the response cache is an organization-wide setting's.
    if path == "/api/llm-cache" {
        return Need::Admin;
    }
    if path.starts_with("/api/model-provider-connections/") {
        return Need::Admin;
    }
    Need::Manager
}

/// Whether `role` has what `need` asks.
fn allowed(role: Role, need: Need) -> bool {
    match need {
        Need::Public | Need::Member => true,
        Need::Manager => role <= Role::Manager,
        Need::Admin => role <= Role::Administrator,
    }
}

/// The objects the paths name.
struct Ids {
    organization: i64,
    project: i64,
    task: i64,
    annotation: i64,
    prediction: i64,
    prompt: i64,
    connection: i64,
    version: i64,
    run: i64,
    schedule: i64,
    member: i64,
}

async fn objects(app: &TestApp) -> Ids {
    let f = fixture(app, CLS, &["good", "bad"]).await;
    let task = f.tasks[0];
    // The Annotator's own: an Annotator changes only their own annotations.
    let (status, annotation) = app
        .send(
            Method::POST,
            &format!("/api/tasks/{task}/annotations/"),
            Some(&app.annotator_token),
            Some(&json!({"result": choice("Positive")})),
        )
        .await;
    assert_eq!(status, 201, "{annotation}");
    let (status, prediction) = app
        .post(
            "/api/predictions/",
            json!({"task": task, "result": choice("Positive")}),
        )
        .await;
    assert_eq!(status, 201, "{prediction}");
    let run = new_run(
        app,
        f.prompt,
        f.version,
        json!({"project": f.project, "project_subset": "All"}),
    )
    .await;
    let (status, schedule) = app
        .post(
            &format!("/api/prompts/{}/schedules", f.prompt),
            json!({"cron": "0 3 * * *", "version": f.version, "project": f.project,
                   "project_subset": "All", "status": "paused"}),
        )
        .await;
    assert_eq!(status, 201, "{schedule}");
    let (member, _) =
        accounts::create_user(&app.db, "target@example.com", "Main", Role::Annotator, None)
            .await
            .expect("target");
    let me: Value = app.get("/api/current-user").await.1;
    Ids {
        organization: me["active_organization"].as_i64().expect("organization"),
        project: f.project,
        task,
        annotation: id_of(&annotation),
        prediction: id_of(&prediction),
        prompt: f.prompt,
        connection: f.connection,
        version: f.version,
        run: id_of(&run),
        schedule: id_of(&schedule),
        member: member.id,
    }
}

/// `path` with its placeholders filled from `ids` (`{id}` by the collection it follows).
fn concrete(path: &str, ids: &Ids) -> String {
    let id = if path.starts_with("/api/organizations/") {
        ids.organization
    } else if path.starts_with("/api/projects/") {
        ids.project
    } else if path.starts_with("/api/tasks/") {
        ids.task
    } else if path.starts_with("/api/annotations/") {
        ids.annotation
    } else if path.starts_with("/api/predictions/") {
        ids.prediction
    } else if path.starts_with("/api/inference-runs/") {
        ids.run
    } else if path.starts_with("/api/model-provider-connections/") {
        ids.connection
    } else {
        ids.prompt
    };
    path.replace("{id}", &id.to_string())
        .replace("{version_id}", &ids.version.to_string())
        .replace("{run_id}", &ids.run.to_string())
        .replace("{schedule_id}", &ids.schedule.to_string())
        .replace("{user_id}", &ids.member.to_string())
        .replace("{key}", "accuracy")
        .replace("{name}", "staging")
}

#[tokio::test]
async fn every_route_answers_every_role_as_the_matrix_says() {
    let app = TestApp::spawn().await;
    let ids = objects(&app).await;
    let mut tokens = vec![(Role::Annotator, app.annotator_token.clone())];
    for (role, email) in [
        (Role::Reviewer, "reviewer@example.com"),
        (Role::Manager, "manager@example.com"),
        (Role::Administrator, "administrator@example.com"),
    ] {
        let (_, token) = accounts::create_user(&app.db, email, "Main", role, None)
            .await
            .expect("member");
        tokens.push((role, token));
    }
    tokens.push((Role::Owner, app.token.clone()));
    let spec: Value =
        serde_json::from_str(&prompter::openapi::openapi_json()).expect("the document");
    let mut checked = std::collections::BTreeMap::<String, usize>::new();
    let mut failures = vec![];
    for (path, item) in spec["paths"].as_object().expect("paths") {
        for method in ["get", "post", "put", "patch", "delete"] {
            if item.get(method).is_none() {
                continue;
            }
            let need = need(method, path);
            let url = concrete(path, &ids);
            let verb = Method::from_bytes(method.to_uppercase().as_bytes()).expect("method");
            let body = |allowed: bool| match (method, allowed) {
                ("get" | "delete", _) => None,
                // A body of the wrong shape: an allowed caller is stopped at the body, after
                // the role check, so nothing costly (an LLM call, a Label Studio request) starts.
                (_, true) => Some(json!([])),
                (_, false) => Some(json!({})),
            };
            if need != Need::Public {
                let (status, answer) = app
                    .send(verb.clone(), &url, None, body(false).as_ref())
                    .await;
                if status != 401 {
                    failures.push(format!(
                        "{method} {path} without a token: {status} {answer}"
                    ));
                }
            }
            // The least powerful first, so that what an Owner deletes is deleted last.
            for (role, token) in &tokens {
                let ok = allowed(*role, need);
                if !ok {
                    // The caller's authentication is cached first, as any client's is after
                    // its first request: the role check then answers before the body is read
                    // (with a cold cache a malformed body may be answered 400 first).
                    app.send(Method::GET, "/api/current-user", Some(token), None)
                        .await;
                }
                let (status, answer) = app
                    .send(verb.clone(), &url, Some(token), body(ok).as_ref())
                    .await;
                let fine = if ok {
                    status != 401 && status != 403
                } else {
                    status == 403
                };
                if !fine {
                    failures.push(format!(
                        "{method} {path} as {}: {status} (needs {need:?}) {answer}",
                        role.as_str()
                    ));
                }
            }
            *checked.entry(format!("{need:?}")).or_default() += 1;
        }
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // The walk met every kind of operation, the new ones included.
    assert!(checked["Admin"] >= 7, "{checked:?}");
    assert!(checked["Manager"] >= 30, "{checked:?}");
    assert!(checked["Member"] >= 30, "{checked:?}");
    assert!(spec["paths"]["/api/organizations/{id}/memberships/{user_id}"]["patch"].is_object());
}

/// Reading is every member's: a Reviewer and an Annotator list and open connections (no key),
/// prompts, versions, runs and their indicators.
#[tokio::test]
async fn reviewers_and_annotators_read_what_managers_make() {
    let app = TestApp::spawn().await;
    let ids = objects(&app).await;
    let (_, reviewer) = accounts::create_user(
        &app.db,
        "reviewer@example.com",
        "Main",
        Role::Reviewer,
        None,
    )
    .await
    .expect("reviewer");
    let (p, v, r, c) = (ids.prompt, ids.version, ids.run, ids.connection);
    for token in [reviewer.as_str(), app.annotator_token.as_str()] {
        for path in [
            "/api/model-provider-connections/".to_string(),
            format!("/api/model-provider-connections/{c}/"),
            "/api/prompts/".to_string(),
            format!("/api/prompts/{p}/"),
            format!("/api/prompts/{p}/versions"),
            format!("/api/prompts/{p}/versions/{v}"),
            format!("/api/prompts/{p}/versions/{v}/inference-runs"),
            format!("/api/inference-runs/{r}/indicators/"),
            format!("/api/prompts/{p}/schedules"),
            format!("/api/prompts/{p}/comments"),
            format!("/api/organizations/{}", ids.organization),
        ] {
            let (status, body) = app.send(Method::GET, &path, Some(token), None).await;
            assert_eq!(status, 200, "GET {path}: {body}");
            assert!(!body.to_string().contains("sk-test"), "no key in {path}");
        }
    }
}
