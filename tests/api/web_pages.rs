//! Every page of the web app renders, with nothing in the organization and with a project,
//! a prompt of two versions, scored runs with failures, a schedule and comments. Templates
//! run with strict undefined values, so a field a template names and its page does not pass
//! fails here (a 500) instead of rendering blank.
use crate::helpers::fixtures::{
    batch, batch_failed, fixture, ground_truth, id_of, item, new_version, run_on,
};
use crate::helpers::web::{WebClient, set_password};
use crate::helpers::{CLS, TestApp, choice};
use serde_json::{Value, json};

/// Gets each of `paths` and asserts a 200 page of the app (not the error page).
async fn all_render(web: &mut WebClient, paths: &[String]) {
    for path in paths {
        let page = web.get(path).await;
        assert_eq!(page.status, 200, "{path}: {}", page.body);
        assert!(page.body.contains("</html>"), "{path}: {}", page.body);
    }
}

#[tokio::test]
async fn every_page_renders_empty_and_populated() {
    let app = TestApp::spawn().await;
    set_password(&app, "admin@example.com").await;
    let mut web = WebClient::new(&app);
    let login = web.get("/login").await;
    assert_eq!(login.status, 200, "{}", login.body);
    web.sign_in("admin@example.com").await;
    // Nothing yet.
    // (`/` leads to `/prompts`.)
    let home = web.get("/").await;
    assert_eq!(home.location.as_deref(), Some("/prompts"));
    let empty: Vec<String> = [
        "/projects",
        "/prompts",
        "/connections",
        "/label-studio",
        "/profile",
        "/prompts?page=2",
    ]
    .map(String::from)
    .to_vec();
    all_render(&mut web, &empty).await;
    // A project without tasks and a prompt without runs.
    let bare = fixture(&app, CLS, &[]).await;
    let (p, v) = (bare.prompt, bare.version);
    all_render(
        &mut web,
        &[
            format!("/projects/{}", bare.project),
            format!("/prompts/{p}"),
            format!("/prompts/{p}?version={v}"),
            format!("/prompts/{p}?new=1"),
            format!("/prompts/{p}?version={v}&estimate=1"),
            format!("/prompts/{p}/evaluation"),
            format!("/prompts/{p}/compare?a={v}&b={v}"),
            format!("/prompts/{p}/refine?version={v}"),
        ],
    )
    .await;
    // Populated: ground truth, two versions, runs with right, wrong and failed tasks, a
    // schedule, a comment and registry changes.
    let texts: Vec<String> = (0..6).map(|i| format!("review {i}")).collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let f = fixture(&app, CLS, &refs).await;
    for task in &f.tasks {
        ground_truth(&app, *task, choice("Positive")).await;
    }
    let run1 = run_on(&app, &f, f.version, "HasGT").await;
    let items: Vec<Value> = f.tasks[..4]
        .iter()
        .enumerate()
        .map(|(i, t)| {
            item(
                *t,
                json!({"sentiment": if i < 3 { "Positive" } else { "Negative" }}),
            )
        })
        .collect();
    batch(&app, run1, Value::Array(items)).await;
    batch_failed(
        &app,
        run1,
        json!([
            {"task_id": f.tasks[4], "message": "boom", "error_type": "Timeout"},
            {"task_id": f.tasks[5], "message": "boom", "error_type": "Timeout"}
        ]),
    )
    .await;
    let v2 = id_of(&new_version(&app, f.prompt, f.connection, "v2").await);
    let run2 = run_on(&app, &f, v2, "HasGT").await;
    let items: Vec<Value> = f
        .tasks
        .iter()
        .map(|t| item(*t, json!({"sentiment": "Positive"})))
        .collect();
    batch(&app, run2, Value::Array(items)).await;
    // One run still pending.
    let pending = run_on(&app, &f, v2, "All").await;
    let (status, body) = app
        .post(
            &format!("/api/prompts/{}/schedules", f.prompt),
            json!({"cron": "0 3 * * mon", "timezone": "Europe/Berlin", "project": f.project}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = app
        .post(
            &format!("/api/prompts/{}/comments", f.prompt),
            json!({"text": "looks right"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = app
        .patch(
            &format!("/api/prompts/{}/", f.prompt),
            json!({"status": "deployed", "deployed_version": v2, "reason": "better",
                "tags": ["support"], "domain": "Care"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let p = f.prompt;
    all_render(
        &mut web,
        &[
            "/projects".into(),
            "/prompts".into(),
            format!("/projects/{}", f.project),
            format!("/prompts/{p}"),
            format!("/prompts/{p}?version={}", f.version),
            format!("/prompts/{p}?version={v2}&estimate=1"),
            format!("/prompts/{p}?new=1"),
            format!("/prompts/{p}/evaluation"),
            format!("/prompts/{p}/evaluation?run={run1}"),
            format!("/prompts/{p}/compare?a={}&b={v2}", f.version),
            format!("/prompts/{p}/refine?version={}", f.version),
            format!("/runs/{run1}"),
            format!("/runs/{run1}?outcome=failed"),
            format!("/runs/{run1}?outcome=incorrect&class=Negative"),
            format!("/runs/{run2}"),
            format!("/runs/{pending}"),
            format!("/runs/{run1}/tasks/{}", f.tasks[0]),
            format!("/runs/{run1}/tasks/{}", f.tasks[5]),
            format!("/runs/{pending}/tasks/{}", f.tasks[0]),
        ],
    )
    .await;
    // The error page itself.
    let missing = web.get("/prompts/999999").await;
    assert_eq!(missing.status, 404, "{}", missing.body);
    assert!(missing.body.contains("</html>"));
}
