//! The audit log: every change leaves one entry (who, what, on which object, the changed
//! fields) in the transaction of the change; a refused change leaves none; secrets never
//! appear; entries are filtered, paged newest first, scoped to the organization, readable by
//! Owners, Administrators and Managers only, and pruned after the retention period.
use crate::helpers::fixtures::{connection, new_prompt, new_version, runs_path};
use crate::helpers::web::{PASSWORD, WebClient, set_password};
use crate::helpers::{CLS, TestApp, choice};
use reqwest::Method;
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};

const LOG: &str = "/api/audit-log/";

/// The entries of the admin's organization matching `query` (`a=b&c=d`), newest first.
async fn entries(app: &TestApp, query: &str) -> Vec<Value> {
    let (status, body) = app.get(&format!("{LOG}?page_size=1000&{query}")).await;
    assert_eq!(status, 200, "{body}");
    body["results"].as_array().cloned().unwrap_or_default()
}

/// The one entry of `action` on object `kind` `id`; panics unless there is exactly one.
async fn one(app: &TestApp, action: &str, kind: &str, id: i64) -> Value {
    let found = entries(
        app,
        &format!("action={action}&object_type={kind}&object_id={id}"),
    )
    .await;
    assert_eq!(found.len(), 1, "{action} {kind} {id}: {found:#?}");
    found[0].clone()
}

/// The change of `field` in an entry.
fn change<'a>(entry: &'a Value, field: &str) -> &'a Value {
    entry["changes"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["field"] == field))
        .unwrap_or_else(|| panic!("no change of {field} in {entry:#}"))
}

/// Every text column of every audit row, as one string per row.
async fn every_row_text(app: &TestApp) -> Vec<String> {
    let backend = app.db.get_database_backend();
    let rows = app
        .db
        .query_all_raw(Statement::from_string(
            backend,
            "SELECT actor_type, actor_email, action, object_type, object_title, changes \
             FROM audit_log"
                .to_string(),
        ))
        .await
        .expect("audit rows");
    rows.iter()
        .map(|r| {
            let text = |c: &str| r.try_get::<Option<String>>("", c).ok().flatten();
            let changes = r
                .try_get::<Value>("", "changes")
                .map(|v| v.to_string())
                .or_else(|_| r.try_get::<String>("", "changes"))
                .unwrap_or_default();
            format!(
                "{:?} {:?} {:?} {:?} {:?} {changes}",
                text("actor_type"),
                text("actor_email"),
                text("action"),
                text("object_type"),
                text("object_title")
            )
        })
        .collect()
}

#[tokio::test]
async fn each_change_leaves_one_entry_with_its_actor_and_fields() {
    let app = TestApp::spawn().await;
    // Projects: create, update, import (one entry with counts), delete all tasks.
    let project = app.project(CLS).await;
    let created = one(&app, "create", "project", project).await;
    assert_eq!(created["actor_type"], "user");
    assert_eq!(created["actor_email"], "admin@example.com");
    assert_eq!(created["object_title"], "test");
    assert_eq!(change(&created, "title")["new"], "test");
    let (status, _) = app
        .patch(
            &format!("/api/projects/{project}/"),
            json!({"title": "Reviews"}),
        )
        .await;
    assert_eq!(status, 200);
    let updated = one(&app, "update", "project", project).await;
    assert_eq!(change(&updated, "title")["old"], "test");
    assert_eq!(change(&updated, "title")["new"], "Reviews");
    assert_eq!(updated["object_title"], "Reviews");
    let tasks = app
        .import(
            project,
            json!([{"text": "a"}, {"text": "b"}, {"data": {"text": "c"}, "annotations": [{"result": choice("Positive")}]}]),
        )
        .await;
    let import = one(&app, "import", "project", project).await;
    assert_eq!(change(&import, "tasks")["new"], 3);
    assert_eq!(change(&import, "annotations")["new"], 1);
    assert!(entries(&app, "object_type=task").await.is_empty());
    // Tasks: update one.
    let (status, _) = app
        .patch(
            &format!("/api/tasks/{}/", tasks[0]),
            json!({"data": {"text": "A"}}),
        )
        .await;
    assert_eq!(status, 200);
    let task = one(&app, "update", "task", tasks[0]).await;
    assert_eq!(change(&task, "data")["old"], json!({"text": "a"}));
    // Annotations: create, update, delete.
    let (status, annotation) = app
        .post(
            &format!("/api/tasks/{}/annotations/", tasks[1]),
            json!({"result": choice("Negative")}),
        )
        .await;
    assert_eq!(status, 201);
    let annotation = annotation["id"].as_i64().unwrap();
    one(&app, "create", "annotation", annotation).await;
    let (status, _) = app
        .patch(
            &format!("/api/annotations/{annotation}/"),
            json!({"ground_truth": true}),
        )
        .await;
    assert_eq!(status, 200);
    let gt = one(&app, "update", "annotation", annotation).await;
    assert_eq!(change(&gt, "ground_truth")["old"], false);
    assert_eq!(change(&gt, "ground_truth")["new"], true);
    let (status, _) = app.delete(&format!("/api/annotations/{annotation}/")).await;
    assert_eq!(status, 204);
    one(&app, "delete", "annotation", annotation).await;
    // Connections: create with a key, rotate it.
    let conn = connection(&app).await;
    let made = one(&app, "create", "connection", conn).await;
    assert_eq!(change(&made, "api_key")["secret"], "set");
    let (status, _) = app
        .patch(
            &format!("/api/model-provider-connections/{conn}/"),
            json!({"api_key": "sk-rotated"}),
        )
        .await;
    assert_eq!(status, 200);
    let rotated = one(&app, "key.rotated", "connection", conn).await;
    assert_eq!(change(&rotated, "api_key")["secret"], "changed");
    // Prompts, versions, deploy, runs, comments, schedules.
    let prompt = new_prompt(
        &app,
        json!({"title": "Sentiment", "input_fields": ["text"], "output_classes": ["Positive", "Negative"], "associated_projects": [project]}),
    )
    .await["id"]
        .as_i64()
        .unwrap();
    let p = one(&app, "create", "prompt", prompt).await;
    assert_eq!(change(&p, "associated_projects")["new"], json!([project]));
    let version = new_version(&app, prompt, conn, "v1").await["id"]
        .as_i64()
        .unwrap();
    one(&app, "create", "version", version).await;
    let (status, body) = app
        .patch(
            &format!("/api/prompts/{prompt}/"),
            json!({"deployed_version": version, "tags": ["nlp"]}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let deploy = one(&app, "deploy", "prompt", prompt).await;
    assert_eq!(change(&deploy, "deployed_version")["new"], version);
    let tags = one(&app, "update", "prompt", prompt).await;
    assert_eq!(change(&tags, "tags")["new"], json!(["nlp"]));
    assert!(
        tags["changes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["field"] != "deployed_version_id")
    );
    let (status, run) = app
        .post(
            &runs_path(prompt, version),
            json!({"project": project, "project_subset": "All"}),
        )
        .await;
    assert_eq!(status, 201, "{run}");
    let run = run["id"].as_i64().unwrap();
    let started = one(&app, "run.start", "run", run).await;
    assert_eq!(change(&started, "total_tasks")["new"], 3);
    assert_eq!(change(&started, "project_subset")["new"], "All");
    let (status, body) = app
        .post(
            &format!("{}/{run}/cancel", runs_path(prompt, version)),
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    one(&app, "run.cancel", "run", run).await;
    let (status, comment) = app
        .post(
            &format!("/api/prompts/{prompt}/comments"),
            json!({"text": "ship it"}),
        )
        .await;
    assert_eq!(status, 201);
    one(&app, "create", "comment", comment["id"].as_i64().unwrap()).await;
    let (status, schedule) = app
        .post(
            &format!("/api/prompts/{prompt}/schedules"),
            json!({"cron": "0 2 * * *", "project": project, "project_subset": "All"}),
        )
        .await;
    assert_eq!(status, 201, "{schedule}");
    let schedule = schedule["id"].as_i64().unwrap();
    one(&app, "create", "schedule", schedule).await;
    let (status, _) = app
        .delete(&format!("/api/prompts/{prompt}/schedules/{schedule}"))
        .await;
    assert_eq!(status, 204);
    one(&app, "delete", "schedule", schedule).await;
    // Deletions.
    let (status, _) = app.delete(&format!("/api/prompts/{prompt}/")).await;
    assert_eq!(status, 204);
    one(&app, "delete", "prompt", prompt).await;
    let (status, _) = app.delete(&format!("/api/projects/{project}/tasks/")).await;
    assert!(status == 200 || status == 204, "{status}");
    let cleared = one(&app, "delete", "project", project).await;
    assert_eq!(change(&cleared, "tasks")["old"], 3);
    let (status, _) = app.delete(&format!("/api/projects/{project}/")).await;
    assert_eq!(status, 204);
    assert_eq!(
        entries(
            &app,
            &format!("action=delete&object_type=project&object_id={project}")
        )
        .await
        .len(),
        2
    );
}

#[tokio::test]
async fn a_refused_change_writes_nothing() {
    let app = TestApp::spawn().await;
    let before = app.rows("audit_log").await;
    // Not allowed (an Annotator), invalid, and a run with nothing to score.
    let (status, _) = app
        .send(
            Method::POST,
            "/api/projects/",
            Some(&app.annotator_token),
            Some(&json!({"title": "x"})),
        )
        .await;
    assert_eq!(status, 403);
    let (status, _) = app
        .post(
            "/api/projects/",
            json!({"title": "x", "label_config": "<View>"}),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(app.rows("audit_log").await, before);
    let project = app.project(CLS).await;
    app.import(project, json!([{"text": "a"}])).await;
    let after_setup = app.rows("audit_log").await;
    let (status, _) = app
        .post(
            &format!("/api/projects/{project}/import"),
            json!([{"nope": 1}, 5]),
        )
        .await;
    assert_eq!(status, 400);
    let conn = connection(&app).await;
    let prompt = new_prompt(
        &app,
        json!({"title": "S", "input_fields": ["text"], "output_classes": ["Positive"], "associated_projects": [project]}),
    )
    .await["id"]
        .as_i64()
        .unwrap();
    let version = new_version(&app, prompt, conn, "v1").await["id"]
        .as_i64()
        .unwrap();
    let counted = app.rows("audit_log").await;
    assert_eq!(counted, after_setup + 3, "connection, prompt, version");
    let (status, body) = app
        .post(
            &runs_path(prompt, version),
            json!({"project": project, "project_subset": "HasGT"}),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    let (status, _) = app
        .patch(
            &format!("/api/prompts/{prompt}/"),
            json!({"deployed_version": 999999}),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(app.rows("audit_log").await, counted);
    assert!(entries(&app, "action=run.start").await.is_empty());
    assert!(entries(&app, "action=deploy").await.is_empty());
}

#[tokio::test]
async fn no_secret_ever_appears_in_the_log() {
    let app = TestApp::spawn().await;
    let first = "sk-audit-FIRST-7f3a9c1e5b2d4a6f8e0c";
    let second = "sk-audit-SECOND-1b2c3d4e5f6a7b8c9d0e";
    let (status, body) = app
        .post(
            "/api/model-provider-connections/",
            json!({"provider": "OpenAI", "api_key": first}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let conn = body["id"].as_i64().unwrap();
    let path = format!("/api/model-provider-connections/{conn}/");
    let (status, _) = app.patch(&path, json!({"api_key": second})).await;
    assert_eq!(status, 200);
    let (status, _) = app.patch(&path, json!({"api_key": ""})).await;
    assert_eq!(status, 200);
    one(&app, "create", "connection", conn).await;
    one(&app, "key.rotated", "connection", conn).await;
    let removed = one(&app, "key.removed", "connection", conn).await;
    assert_eq!(change(&removed, "api_key")["secret"], "removed");
    // A web sign-in and a token rotation (last: it revokes the admin's token): the password
    // and the tokens stay out too.
    let (_, me) = app.get("/api/current-user/whoami").await;
    let admin = me["id"].as_i64().expect("admin id");
    set_password(&app, "admin@example.com").await;
    let mut web = WebClient::new(&app);
    web.sign_in("admin@example.com").await;
    let profile = web.get("/profile").await;
    assert_eq!(profile.status, 200);
    let rotated = web.post("/profile/token", &[]).await;
    assert!(rotated.status < 400, "{}", rotated.body);
    let new_tokens: Vec<String> = prompter::services::web_accounts::tokens_of(&app.db, admin)
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.token_hash)
        .collect();
    assert_eq!(new_tokens.len(), 1);
    let rows = every_row_text(&app).await;
    assert!(!rows.is_empty());
    for row in &rows {
        for secret in [first, second, PASSWORD, crate::helpers::ADMIN_TOKEN] {
            assert!(!row.contains(secret), "{secret} in {row}");
        }
        for hash in &new_tokens {
            assert!(!row.contains(hash.as_str()), "a token hash in {row}");
        }
        assert!(!row.contains("_enc"), "a sealed column in {row}");
    }
    let count = |action: &str| {
        let needle = format!("Some(\"{action}\")");
        rows.iter().filter(|r| r.contains(&needle)).count()
    };
    assert_eq!(count("token.revoke"), 1);
    assert_eq!(count("token.create"), 1);
    assert_eq!(count("sign_in"), 1);
    // The unit's own guard: a name that looks like a secret never keeps its value.
    use prompter::services::audit::Changes;
    let guarded = Changes::new()
        .field("api_key", "sk-a", "sk-b")
        .value("password", "hunter22");
    assert!(guarded.has("api_key") && guarded.has("password"));
    assert!(
        !format!("{guarded:?}").contains("sk-a") && !format!("{guarded:?}").contains("hunter22")
    );
}

#[tokio::test]
async fn sign_ins_and_failed_sign_ins_are_recorded() {
    let app = TestApp::spawn().await;
    set_password(&app, "admin@example.com").await;
    let mut web = WebClient::new(&app);
    web.get("/login").await;
    let wrong = web
        .post(
            "/login",
            &[
                ("email", "admin@example.com"),
                ("password", "not the password"),
                ("next", "/prompts"),
            ],
        )
        .await;
    assert_eq!(wrong.status, 401);
    web.get("/login").await;
    let unknown = web
        .post(
            "/login",
            &[
                ("email", "nobody@example.com"),
                ("password", "whatever123"),
                ("next", "/prompts"),
            ],
        )
        .await;
    assert_eq!(unknown.status, 401);
    web.sign_in("admin@example.com").await;
    let failed = entries(&app, "action=sign_in.failed").await;
    assert_eq!(failed.len(), 1, "{failed:#?}");
    assert_eq!(failed[0]["actor_email"], "admin@example.com");
    assert_eq!(failed[0]["object_type"], "user");
    let ok = entries(&app, "action=sign_in").await;
    assert_eq!(ok.len(), 1);
    assert!(
        !every_row_text(&app)
            .await
            .iter()
            .any(|r| r.contains("nobody@example.com"))
    );
}

#[tokio::test]
async fn long_texts_are_shortened_with_their_length_and_digest() {
    let app = TestApp::spawn().await;
    let project = app.project(CLS).await;
    let conn = connection(&app).await;
    let prompt = new_prompt(
        &app,
        json!({"title": "S", "input_fields": ["text"], "output_classes": ["Positive"], "associated_projects": [project]}),
    )
    .await["id"]
        .as_i64()
        .unwrap();
    let long = format!("Classify: {{text}} {}", "be careful ".repeat(100));
    let (status, version) = app
        .post(
            &format!("/api/prompts/{prompt}/versions"),
            json!({"title": "long", "prompt": long, "provider_model_id": "gpt-4o-mini",
                   "provider": "OpenAI", "model_provider_connection": conn}),
        )
        .await;
    assert_eq!(status, 201, "{version}");
    let entry = one(&app, "create", "version", version["id"].as_i64().unwrap()).await;
    let shown = change(&entry, "prompt")["new"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(shown.starts_with("Classify: {text} be careful"), "{shown}");
    assert!(
        shown.contains(&format!("({} characters, sha256 ", long.chars().count())),
        "{shown}"
    );
    assert!(shown.chars().count() < 200, "{shown}");
}

#[tokio::test]
async fn the_log_filters_pages_newest_first_and_stays_in_its_organization() {
    let app = TestApp::spawn().await;
    let a = app.project(CLS).await;
    let b = app.project(CLS).await;
    let (status, _) = app
        .patch(&format!("/api/projects/{a}/"), json!({"title": "A2"}))
        .await;
    assert_eq!(status, 200);
    // Newest first, paged.
    let all = entries(&app, "object_type=project").await;
    assert_eq!(all.len(), 3);
    assert_eq!(all[0]["action"], "update");
    assert!(
        all.windows(2)
            .all(|w| w[0]["id"].as_i64() > w[1]["id"].as_i64())
    );
    let (status, page) = app
        .get(&format!("{LOG}?object_type=project&page_size=2"))
        .await;
    assert_eq!(status, 200);
    assert_eq!(page["count"], 3);
    assert_eq!(page["results"].as_array().unwrap().len(), 2);
    assert!(page["next"].as_str().is_some());
    // By object, action, actor and time.
    assert_eq!(
        entries(&app, &format!("object_type=project&object_id={b}"))
            .await
            .len(),
        1
    );
    assert_eq!(entries(&app, "action=update").await.len(), 1);
    let admin_id = all[0]["actor_id"].as_i64().unwrap();
    assert_eq!(
        entries(&app, &format!("object_type=project&actor={admin_id}"))
            .await
            .len(),
        3
    );
    assert!(
        entries(
            &app,
            &format!("object_type=project&actor={}", admin_id + 1000)
        )
        .await
        .is_empty()
    );
    assert!(
        entries(&app, "object_type=project&since=2999-01-01")
            .await
            .is_empty()
    );
    assert_eq!(
        entries(&app, "object_type=project&until=2999-01-01T00:00:00Z")
            .await
            .len(),
        3
    );
    assert!(
        entries(&app, "object_type=project&until=2000-01-01")
            .await
            .is_empty()
    );
    // Bad filters name their field.
    for (query, field) in [
        ("action=explode", "action"),
        ("object_type=planet", "object_type"),
        ("actor=me", "actor"),
        ("since=yesterday", "since"),
        ("since=2026-02-01&until=2026-01-01", "until"),
    ] {
        let (status, body) = app.get(&format!("{LOG}?{query}")).await;
        assert_eq!(status, 400, "{query}: {body}");
        assert!(
            body["validation_errors"].get(field).is_some(),
            "{query}: {body}"
        );
    }
    // Another organization sees none of it; roles below Manager are refused.
    let (status, theirs) = app
        .send(
            Method::GET,
            &format!("{LOG}?object_type=project&object_id={a}"),
            Some(&app.other_token),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(theirs["count"], 0);
    let (status, _) = app
        .send(Method::GET, LOG, Some(&app.annotator_token), None)
        .await;
    assert_eq!(status, 403);
    let (status, _) = app.send(Method::GET, LOG, None, None).await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn pruning_removes_entries_past_the_retention_only() {
    let app = TestApp::spawn().await;
    let a = app.project(CLS).await;
    let b = app.project(CLS).await;
    let backend = app.db.get_database_backend();
    let old = chrono::Utc::now() - chrono::Duration::days(40);
    app.db
        .execute_raw(Statement::from_sql_and_values(
            backend,
            match backend {
                sea_orm::DatabaseBackend::Postgres => {
                    "UPDATE audit_log SET created_at = $1 WHERE object_type = 'project' AND object_id = $2"
                }
                _ => "UPDATE audit_log SET created_at = ? WHERE object_type = 'project' AND object_id = ?",
            },
            [old.into(), a.into()],
        ))
        .await
        .unwrap();
    let now = chrono::Utc::now();
    use prompter::services::audit::prune;
    assert_eq!(prune(&app.db, now, 0).await.unwrap(), 0, "0 keeps forever");
    assert_eq!(prune(&app.db, now, 60).await.unwrap(), 0);
    assert_eq!(prune(&app.db, now, 30).await.unwrap(), 1);
    assert!(
        entries(&app, &format!("object_type=project&object_id={a}"))
            .await
            .is_empty()
    );
    assert_eq!(
        entries(&app, &format!("object_type=project&object_id={b}"))
            .await
            .len(),
        1
    );
}

#[tokio::test]
async fn the_audit_page_shows_entries_in_words_to_owners_and_administrators_only() {
    let app = TestApp::spawn().await;
    let project = app.project(CLS).await;
    let (status, _) = app
        .post(
            "/api/model-provider-connections/",
            json!({"provider": "OpenAI", "api_key": "sk-page-secret-123456"}),
        )
        .await;
    assert_eq!(status, 201);
    set_password(&app, "admin@example.com").await;
    let mut web = WebClient::new(&app);
    web.sign_in("admin@example.com").await;
    let page = web.get("/audit-log").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Audit log"));
    assert!(
        page.body.contains(&format!("href=\"/projects/{project}\"")),
        "{}",
        page.body
    );
    assert!(
        page.body
            .contains("api key set (the value is never recorded)"),
        "{}",
        page.body
    );
    assert!(!page.body.contains("sk-page-secret"));
    let filtered = web.get("/audit-log?action=key.set").await;
    assert_eq!(filtered.status, 200);
    assert!(
        !filtered
            .body
            .contains(&format!("href=\"/projects/{project}\""))
    );
    let bad = web.get("/audit-log?since=someday").await;
    assert_eq!(bad.status, 422, "{}", bad.body);
    assert!(bad.body.contains("someday"), "{}", bad.body);
    // A signed-in annotator sees no link and is refused the page.
    set_password(&app, "annotator@example.com").await;
    let mut annotator = WebClient::new(&app);
    annotator.sign_in("annotator@example.com").await;
    let prompts = annotator.get("/prompts").await;
    assert!(!prompts.body.contains("href=\"/audit-log\""));
    let refused = annotator.get("/audit-log").await;
    assert_eq!(refused.status, 403);
}
