//! The web app over HTTP (issue 13): signing in and out, the session cookie, CSRF on every
//! form and script request, roles (a Reviewer or Annotator sees and may do no edits), another
//! organization's pages answer 404, the first account of an empty installation, secrets never
//! on a page. The browser tests drive the same pages in Chromium.
use crate::helpers::fixtures::{connection, id_of, new_prompt, new_version};
use crate::helpers::web::{PASSWORD, WebClient, make_reviewer, set_password};
use crate::helpers::{Reply, TestApp};
use entity::enums::ScheduleStatus;
use prompter::services::accounts;
use prompter::views::Paginated;
use prompter::views::model_providers::ModelProviderConnectionView;
use prompter::views::projects::ProjectView;
use prompter::views::prompts::PromptDetailView;
use prompter::views::registry::{CommentView, ScheduleView};
use prompter::views::tasks::TaskListView;
use serde::Deserialize;
use serde_json::json;

/// The answer of the page script's config check (`/app/validate-config`), as far as the tests
/// read it: a shape of the web app's own, with no view type.
#[derive(Debug, Deserialize)]
struct ConfigCheck {
    ok: bool,
    line: Option<u64>,
}

/// A run's progress as the page script polls it (`/app/runs/{id}/progress`), as far as the
/// tests read it.
#[derive(Debug, Deserialize)]
struct Progress {
    status: String,
    active: bool,
    total: i64,
}

const CONFIG: &str = r#"<View><Text name="text" value="$text"/><Choices name="sentiment" toName="text"><Choice value="Positive"/><Choice value="Negative"/></Choices></View>"#;

/// A project of `texts` with a prompt `title` over it and a version `v1`: (project, prompt,
/// version).
pub(crate) async fn prompt_setup(app: &TestApp, title: &str, texts: &[&str]) -> (i64, i64, i64) {
    let project = app.project(CONFIG).await;
    if !texts.is_empty() {
        let data: Vec<serde_json::Value> = texts.iter().map(|t| json!({"text": t})).collect();
        app.import(project, serde_json::Value::Array(data)).await;
    }
    let c = connection(app).await;
    let prompt = new_prompt(
        app,
        json!({"title": title, "associated_projects": [project], "input_fields": ["text"],
            "output_classes": ["Positive", "Negative"]}),
    )
    .await;
    let prompt_id = id_of(&prompt);
    let version = id_of(&new_version(app, prompt_id, c, "v1").await);
    (project, prompt_id, version)
}

/// A Reviewer of the main organization, signed in.
async fn reviewer(app: &TestApp) -> WebClient {
    make_reviewer(app).await;
    let mut web = WebClient::new(app);
    web.sign_in("reviewer@example.com").await;
    web
}

#[tokio::test]
async fn signing_in_and_out() {
    let app = TestApp::spawn().await;
    set_password(&app, "admin@example.com").await;
    let mut web = WebClient::new(&app);
    // Signed out, a page sends the browser to sign in, and back afterwards.
    let page = web.get("/prompts").await;
    assert_eq!(page.status, 303);
    assert_eq!(page.location.as_deref(), Some("/login?next=/prompts"));
    let login = web.get("/login?next=/prompts").await;
    assert!(login.body.contains("Sign in"));
    assert!(
        login.set_cookies[0].contains("HttpOnly") && login.set_cookies[0].contains("SameSite=Lax")
    );
    // A wrong password: 401, the form again, no session.
    let wrong = web
        .post(
            "/login",
            &[
                ("email", "admin@example.com"),
                ("password", "wrong password!"),
            ],
        )
        .await;
    assert_eq!(wrong.status, 401);
    assert!(wrong.body.contains("The email or the password is wrong."));
    assert!(!web.cookies.iter().any(|(k, _)| k == "prompter_session"));
    // The right one: a session cookie, HttpOnly and SameSite=Lax, not Secure over plain HTTP.
    let ok = web
        .post(
            "/login",
            &[
                ("email", "Admin@Example.com"),
                ("password", PASSWORD),
                ("next", "/projects"),
            ],
        )
        .await;
    assert_eq!(
        (ok.status, ok.location.as_deref()),
        (303, Some("/projects"))
    );
    let session = ok
        .set_cookies
        .iter()
        .find(|c| c.starts_with("prompter_session="))
        .expect("session cookie");
    assert!(session.contains("HttpOnly") && session.contains("SameSite=Lax"));
    assert!(!session.contains("Secure"));
    let projects = web.get("/projects").await;
    assert_eq!(projects.status, 200);
    assert!(projects.body.contains("admin@example.com"));
    // The session is stored hashed: the cookie value is in no row.
    let value = web
        .cookies
        .iter()
        .find(|(k, _)| k == "prompter_session")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    use sea_orm::{EntityTrait, PaginatorTrait};
    let sessions = entity::web_session::Entity::find()
        .all(&app.db)
        .await
        .unwrap();
    assert_eq!(sessions.len(), 1);
    assert_ne!(sessions[0].token_hash, value);
    // Going somewhere else after signing in stays on this site.
    let mut other = WebClient::new(&app);
    other.get("/login").await;
    let away = other
        .post(
            "/login",
            &[
                ("email", "admin@example.com"),
                ("password", PASSWORD),
                ("next", "//evil.example/x"),
            ],
        )
        .await;
    assert_eq!(away.location.as_deref(), Some("/"));
    // Signing out ends the session.
    let out = web.post("/logout", &[]).await;
    assert_eq!((out.status, out.location.as_deref()), (303, Some("/login")));
    assert_eq!(web.get("/projects").await.status, 303);
    assert_eq!(
        entity::web_session::Entity::find()
            .count(&app.db)
            .await
            .unwrap(),
        1
    );
}

#[tokio::test]
async fn every_form_and_script_request_needs_the_csrf_token() {
    let app = TestApp::spawn().await;
    set_password(&app, "admin@example.com").await;
    let mut web = WebClient::new(&app);
    web.sign_in("admin@example.com").await;
    let config = CONFIG.to_string();
    let fields = [("title", "No token"), ("label_config", config.as_str())];
    // Without the token, or with another one: 403, and nothing is created.
    let missing = web
        .post("/projects", &[fields[0], fields[1], ("csrf", "")])
        .await;
    assert_eq!(missing.status, 403);
    assert!(missing.body.contains("security token"));
    let forged = web
        .post(
            "/projects",
            &[fields[0], fields[1], ("csrf", "0123456789abcdef")],
        )
        .await;
    assert_eq!(forged.status, 403);
    let list: Paginated<ProjectView> = app.get("/api/projects/").await.good();
    assert_eq!(list.count, 0);
    // A script request without the header is refused too.
    let script = web
        .script(
            "/app/validate-config",
            br#"{"label_config": "<View/>"}"#.to_vec(),
            false,
        )
        .await;
    assert_eq!(script.status, 403);
    // Signing in needs the sign-in form's own token.
    let mut fresh = WebClient::new(&app);
    let no_form = fresh
        .post(
            "/login",
            &[
                ("email", "admin@example.com"),
                ("password", PASSWORD),
                ("csrf", "x"),
            ],
        )
        .await;
    assert_eq!(no_form.status, 403);
    // With the token the same form works.
    let created = web.post("/projects", &fields).await;
    assert_eq!(created.status, 303, "{}", created.body);
    let checked = web
        .script(
            "/app/validate-config",
            br#"{"label_config": "<View>\n<Choices name=\"c\" toName=\"x\"/></View>"}"#.to_vec(),
            true,
        )
        .await;
    assert_eq!(checked.status, 200);
    let body: ConfigCheck = serde_json::from_str(&checked.body).unwrap();
    assert_eq!((body.ok, body.line), (false, Some(2)), "{body:?}");
}

#[tokio::test]
async fn roles_apply_in_the_pages() {
    let app = TestApp::spawn().await;
    let (project, prompt_id, version) = prompt_setup(&app, "Roles", &["I love it"]).await;
    let mut web = reviewer(&app).await;
    // Reading is allowed; no edit control is offered.
    let page = web.get(&format!("/prompts/{prompt_id}")).await;
    assert_eq!(page.status, 200);
    for control in ["save-version", "start-run", "new-version-tab"] {
        assert!(
            !page.body.contains(control),
            "{control} offered to a Reviewer"
        );
    }
    // The version reads as text: no field to type in, no Refine tab.
    assert!(page.body.contains("id=\"version-view\""));
    assert!(page.body.contains("id=\"view-prompt\""));
    assert!(!page.body.contains("id=\"version-prompt\""));
    assert!(!page.body.contains("/refine?version="));
    let refine = web
        .get(&format!("/prompts/{prompt_id}/refine?version={version}"))
        .await;
    assert!(refine.body.contains("refine-read-only"));
    assert!(!refine.body.contains("start-refine"));
    let prompts = web.get("/prompts").await;
    assert!(!prompts.body.contains("new-prompt"));
    assert!(!prompts.body.contains("href=\"/members\""));
    let project_page = web.get(&format!("/projects/{project}")).await;
    assert!(!project_page.body.contains("import-form"));
    // Connections are every member's to read; adding, testing and deleting are not offered.
    let connections = web.get("/connections").await;
    assert_eq!(connections.status, 200);
    for control in ["add-connection", "test-connection", "/delete"] {
        assert!(!connections.body.contains(control), "{control} offered");
    }
    // And what is not offered is refused.
    assert_eq!(web.get("/members").await.status, 403);
    let create = web
        .post("/projects", &[("title", "x"), ("label_config", CONFIG)])
        .await;
    assert_eq!(create.status, 403);
    let run = web
        .post(
            &format!("/prompts/{prompt_id}/versions/{version}/runs"),
            &[("project", &project.to_string()), ("subset", "All")],
        )
        .await;
    assert_eq!(run.status, 403);
    let (_, runs) = app
        .get(&format!(
            "/api/prompts/{prompt_id}/versions/{version}/inference-runs"
        ))
        .await;
    assert_eq!(runs, json!([]));
}

#[tokio::test]
async fn another_organizations_pages_are_not_found() {
    let app = TestApp::spawn().await;
    let (project, prompt_id, version) = prompt_setup(&app, "Private", &[]).await;
    let c = app
        .get("/api/model-provider-connections/")
        .await
        .good::<Vec<ModelProviderConnectionView>>()[0]
        .id;
    set_password(&app, "other@example.com").await;
    let mut web = WebClient::new(&app);
    web.sign_in("other@example.com").await;
    for path in [
        format!("/prompts/{prompt_id}"),
        format!("/projects/{project}"),
        format!("/prompts/{prompt_id}/evaluation"),
        format!("/prompts/{prompt_id}/refine?version={version}"),
    ] {
        let page = web.get(&path).await;
        assert_eq!(page.status, 404, "{path}");
        assert!(page.body.contains("Not found"), "{path}");
        assert!(!page.body.contains("Private"), "{path} shows the prompt");
    }
    let list = web.get("/prompts").await;
    assert!(!list.body.contains("Private"));
    // Nor can it change them.
    let post = web.post(&format!("/connections/{c}/delete"), &[]).await;
    assert_eq!(post.status, 404);
}

#[tokio::test]
async fn the_first_account_of_an_empty_installation() {
    let app = TestApp::spawn().await;
    use sea_orm::ConnectionTrait;
    app.db
        .execute_unprepared("DELETE FROM users")
        .await
        .expect("empty the users");
    let mut web = WebClient::new(&app);
    let home = web.get("/").await;
    assert_eq!(home.location.as_deref(), Some("/setup"));
    assert_eq!(web.get("/login").await.location.as_deref(), Some("/setup"));
    web.get("/setup").await;
    let short = web
        .post(
            "/setup",
            &[
                ("email", "first@example.com"),
                ("organization", "Acme"),
                ("password", "short"),
            ],
        )
        .await;
    assert_eq!(short.status, 422);
    assert!(short.body.contains("8 to 256 characters"));
    let created = web
        .post(
            "/setup",
            &[
                ("email", "first@example.com"),
                ("organization", "Acme"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(
        (created.status, created.location.as_deref()),
        (303, Some("/connections"))
    );
    let profile = web.get("/profile").await;
    assert!(profile.body.contains("Owner"));
    // Once someone exists, the setup page is gone.
    let mut late = WebClient::new(&app);
    assert_eq!(late.get("/setup").await.location.as_deref(), Some("/login"));
}

#[tokio::test]
async fn keys_are_write_only_and_tokens_rotate() {
    let app = TestApp::spawn().await;
    set_password(&app, "admin@example.com").await;
    let mut web = WebClient::new(&app);
    web.sign_in("admin@example.com").await;
    web.get("/connections").await;
    let added = web
        .post(
            "/connections",
            &[
                ("provider", "OpenAI"),
                ("api_key", "sk-very-secret-key-123"),
                ("endpoint", ""),
                ("budget_limit", "12.5"),
            ],
        )
        .await;
    assert_eq!(added.status, 303, "{}", added.body);
    let page = web.get("/connections").await;
    assert!(page.body.contains("OpenAI"));
    assert!(!page.body.contains("sk-very-secret-key-123"));
    // A bad number stays on the form with the field named.
    let bad = web
        .post(
            "/connections",
            &[("provider", "OpenAI"), ("rpm_limit", "many")],
        )
        .await;
    assert_eq!(bad.status, 422);
    assert!(bad.body.contains("Requests per minute: Enter a number"));
    // Rotating the token shows the new one once (after a redirect) and revokes the old.
    web.get("/profile").await;
    let posted = web.post("/profile/token", &[]).await;
    assert_eq!(posted.status, 303);
    assert_eq!(posted.location.as_deref(), Some("/profile"));
    let rotated = web.get("/profile").await;
    let start = rotated
        .body
        .find("id=\"new-token\" class=\"token\">")
        .unwrap()
        + 29;
    let token = rotated.body[start..start + 40].to_string();
    let (old, _) = app.get("/api/projects/").await;
    assert_eq!(old, 401, "the old token still works");
    let (status, _) = app
        .send(reqwest::Method::GET, "/api/projects/", Some(&token), None)
        .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn a_run_is_followed_and_canceled_from_its_page() {
    // No workers in this server: the run stays Pending until it is canceled.
    let app = TestApp::spawn().await;
    let (project, prompt_id, version) =
        prompt_setup(&app, "Cancel me", &["I love it", "awful"]).await;
    set_password(&app, "admin@example.com").await;
    let mut web = WebClient::new(&app);
    web.sign_in("admin@example.com").await;
    web.get(&format!("/prompts/{prompt_id}?version={version}"))
        .await;
    let started = web
        .post(
            &format!("/prompts/{prompt_id}/versions/{version}/runs"),
            &[
                ("project", &project.to_string()),
                ("subset", "All"),
                ("task_ids", ""),
            ],
        )
        .await;
    assert_eq!(started.status, 303, "{}", started.body);
    let run_path = started.location.clone().unwrap_or_default();
    let run_id: i64 = run_path.trim_start_matches("/runs/").parse().unwrap();
    let page = web.get(&run_path).await;
    assert!(page.body.contains("data-progress") && page.body.contains("cancel-run"));
    let progress = web.get(&format!("/app/runs/{run_id}/progress")).await;
    let p: Progress = serde_json::from_str(&progress.body).unwrap();
    assert_eq!(
        (p.status.as_str(), p.active, p.total),
        ("Pending", true, 2),
        "{p:?}"
    );
    // A HasGT run over tasks without ground truth stays on the page with the API's reason.
    let refused = web
        .post(
            &format!("/prompts/{prompt_id}/versions/{version}/runs"),
            &[("project", &project.to_string()), ("subset", "HasGT")],
        )
        .await;
    assert_eq!(refused.status, 422);
    assert!(refused.body.contains("ground truth"), "{}", refused.body);
    // At the tasks chosen, which stay chosen.
    assert!(
        refused.body.contains("id=\"run-subset-error\""),
        "{}",
        refused.body
    );
    assert!(refused.body.contains("<option value=\"HasGT\" selected>"));
    let canceled = web.post(&format!("/runs/{run_id}/cancel"), &[]).await;
    assert_eq!(canceled.location.as_deref(), Some(run_path.as_str()));
    let p: Progress =
        serde_json::from_str(&web.get(&format!("/app/runs/{run_id}/progress")).await.body).unwrap();
    assert_eq!((p.status.as_str(), p.active), ("Canceled", false), "{p:?}");
    assert!(!web.get(&run_path).await.body.contains("cancel-run"));
}

#[tokio::test]
async fn label_studio_links_sync_and_backend_urls() {
    // The Label Studio stand-in: a second Prompter server, which speaks Label Studio's API.
    let ls = TestApp::spawn().await;
    let ls_token = accounts::create_token(&ls.db, "admin@example.com")
        .await
        .unwrap();
    let ls_project = ls.project(CONFIG).await;
    ls.import(
        ls_project,
        json!([{"text": "from Label Studio"}, {"text": "another"}]),
    )
    .await;
    let app = TestApp::spawn().await;
    let project = app.project(CONFIG).await;
    let prompt = new_prompt(
        &app,
        json!({"title": "Backend", "associated_projects": [project], "input_fields": ["text"],
            "output_classes": ["Positive", "Negative"]}),
    )
    .await;
    set_password(&app, "admin@example.com").await;
    let mut web = WebClient::new(&app);
    web.sign_in("admin@example.com").await;
    let page = web.get("/label-studio").await;
    let ml_url = format!("{}/ml/prompts/{}", app.address, id_of(&prompt));
    assert!(
        page.body.replace("&#x2f;", "/").contains(&ml_url),
        "{}",
        page.body
    );
    let linked = web
        .post(
            &format!("/projects/{project}/label-studio"),
            &[
                ("url", &ls.address),
                ("token", &ls_token),
                ("ls_project", &ls_project.to_string()),
            ],
        )
        .await;
    assert_eq!(linked.status, 303, "{}", linked.body);
    let page = web.get("/label-studio").await;
    assert!(!page.body.contains(&ls_token), "the token is on the page");
    let synced = web
        .post(&format!("/projects/{project}/label-studio/sync"), &[])
        .await;
    assert_eq!(synced.status, 303, "{}", synced.body);
    app.engine_idle().await;
    let page = web.get("/label-studio").await;
    assert!(page.body.contains("sync: idle (2 / 2)"), "{}", page.body);
    let tasks: TaskListView = app
        .get(&format!("/api/tasks/?project={project}"))
        .await
        .good();
    assert_eq!(tasks.total, 2, "{tasks:?}");
}

#[tokio::test]
async fn the_registry_on_a_prompts_page() {
    let app = TestApp::spawn().await;
    let (_, prompt_id, version) = prompt_setup(&app, "Registry", &[]).await;
    set_password(&app, "admin@example.com").await;
    let mut web = WebClient::new(&app);
    web.sign_in("admin@example.com").await;
    let page = web.get(&format!("/prompts/{prompt_id}")).await;
    assert!(page.body.contains("registry-form"));
    let saved = web
        .post(
            &format!("/prompts/{prompt_id}/registry"),
            &[
                ("tags", "support, email"),
                ("domain", "Care"),
                ("status", "deployed"),
                ("deployed_version", &version.to_string()),
                ("reason", "best on the sample"),
            ],
        )
        .await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    let prompt = app
        .get(&format!("/api/prompts/{prompt_id}/"))
        .await
        .good::<PromptDetailView>()
        .prompt;
    assert_eq!(prompt.tags, ["support", "email"]);
    assert_eq!(prompt.deployed_version, Some(version));
    let page = web.get(&format!("/prompts/{prompt_id}")).await;
    assert!(
        page.body
            .contains("Deployed v1 (was the newest version). Reason: best on the sample")
    );
    assert!(
        page.body
            .contains("Status deployed (was draft). Reason: best on the sample")
    );
    // A Reviewer may comment but not change the registry.
    let mut reviewer = reviewer(&app).await;
    let page = reviewer.get(&format!("/prompts/{prompt_id}")).await;
    assert!(!page.body.contains("registry-form") && page.body.contains("comment-form"));
    let commented = reviewer
        .post(
            &format!("/prompts/{prompt_id}/comments"),
            &[("text", "Looks good")],
        )
        .await;
    assert_eq!(commented.status, 303);
    let refused = reviewer
        .post(
            &format!("/prompts/{prompt_id}/registry"),
            &[
                ("status", "archived"),
                ("tags", ""),
                ("domain", ""),
                ("deployed_version", ""),
            ],
        )
        .await;
    assert_eq!(refused.status, 403);
    let comments: Vec<CommentView> = app
        .get(&format!("/api/prompts/{prompt_id}/comments"))
        .await
        .good();
    assert_eq!(comments[0].text, "Looks good");
    assert_eq!(
        comments[0].author.as_ref().map(|a| a.email.as_str()),
        Some("reviewer@example.com")
    );
}

#[tokio::test]
async fn schedules_are_made_paused_and_deleted_from_a_prompts_page() {
    let app = TestApp::spawn().await;
    let (project, prompt_id, _) = prompt_setup(&app, "Nightly", &[]).await;
    set_password(&app, "admin@example.com").await;
    let mut web = WebClient::new(&app);
    web.sign_in("admin@example.com").await;
    web.get(&format!("/prompts/{prompt_id}")).await;
    let bad = web
        .post(
            &format!("/prompts/{prompt_id}/schedules"),
            &[
                ("cron", "not cron"),
                ("timezone", "UTC"),
                ("project", &project.to_string()),
                ("subset", "All"),
                ("version", ""),
            ],
        )
        .await;
    // Refused in the page: the form comes back with the problem at the cron.
    assert_eq!(bad.status, 422, "{}", bad.body);
    assert!(
        bad.body.contains("id=\"schedule-cron-error\""),
        "{}",
        bad.body
    );
    let made = web
        .post(
            &format!("/prompts/{prompt_id}/schedules"),
            &[
                ("cron", "0 2 * * *"),
                ("timezone", "Europe/Paris"),
                ("project", &project.to_string()),
                ("subset", "All"),
                ("version", ""),
            ],
        )
        .await;
    assert_eq!(made.status, 303, "{}", made.body);
    let list: Vec<ScheduleView> = app
        .get(&format!("/api/prompts/{prompt_id}/schedules"))
        .await
        .good();
    let sid = list[0].id;
    assert_eq!(
        (list[0].timezone.as_str(), list[0].status),
        ("Europe/Paris", ScheduleStatus::Active)
    );
    let page = web.get(&format!("/prompts/{prompt_id}")).await;
    assert!(page.body.contains(&format!("schedule-{sid}")) && page.body.contains("Pause"));
    web.post(
        &format!("/prompts/{prompt_id}/schedules/{sid}/status"),
        &[("status", "paused")],
    )
    .await;
    let one: ScheduleView = app
        .get(&format!("/api/prompts/{prompt_id}/schedules/{sid}"))
        .await
        .good();
    assert_eq!(
        (one.status, one.next_run_at),
        (ScheduleStatus::Paused, None)
    );
    // A Reviewer sees the schedule and nothing to change it with, and may not.
    let mut viewer = reviewer(&app).await;
    let page = viewer.get(&format!("/prompts/{prompt_id}")).await;
    assert!(page.body.contains("0 2 * * *") && !page.body.contains("schedule-form"));
    let refused = viewer
        .post(&format!("/prompts/{prompt_id}/schedules/{sid}/delete"), &[])
        .await;
    assert_eq!(refused.status, 403);
    let deleted = web
        .post(&format!("/prompts/{prompt_id}/schedules/{sid}/delete"), &[])
        .await;
    assert_eq!(deleted.status, 303);
    let (_, list) = app
        .get(&format!("/api/prompts/{prompt_id}/schedules"))
        .await;
    assert_eq!(list, json!([]));
}
