//! Deployment labels (issue 23, item 2) over HTTP: a label points at one version at a time,
//! moves are kept in the prompt's history with who and why, `production` is the deployed
//! version (the same truth through either door), a protected label is moved only by an Owner
//! or Administrator, `GET …/labels/{name}/version` follows the label, rollback is moving it
//! back, and a deleted version takes its labels with it.
use crate::helpers::fixtures::{connection, fixture, id_of, new_version};
use crate::helpers::reply::bad_field;
use crate::helpers::web::{WebClient, set_password};
use crate::helpers::{CLS, Reply, TestApp};
use entity::enums::CommentKind;
use prompter::auth::Role;
use prompter::services::{accounts, schedules};
use prompter::views::prompts::PromptDetailView;
use prompter::views::registry::{CommentView, LabelView};
use prompter::views::versions::VersionView;
use reqwest::Method;
use serde_json::{Value, json};

/// Sets label `name` of `prompt` with `body` as the caller of `token`.
async fn put(app: &TestApp, token: &str, prompt: i64, name: &str, body: Value) -> (u16, Value) {
    let path = format!("/api/prompts/{prompt}/labels/{name}");
    app.send(Method::PUT, &path, Some(token), Some(&body)).await
}

/// The prompt's labels as `name → version`.
async fn labels(app: &TestApp, prompt: i64) -> Vec<(String, i64)> {
    let list: Vec<LabelView> = app
        .get(&format!("/api/prompts/{prompt}/labels"))
        .await
        .good();
    list.into_iter().map(|l| (l.name, l.version)).collect()
}

/// The texts of the prompt's history entries of `kind`, oldest first.
async fn history(app: &TestApp, prompt: i64, kind: CommentKind) -> Vec<String> {
    let list: Vec<CommentView> = app
        .get(&format!("/api/prompts/{prompt}/comments"))
        .await
        .good();
    let mut texts: Vec<String> = list
        .into_iter()
        .filter(|c| c.kind == kind)
        .map(|c| c.text)
        .collect();
    texts.reverse();
    texts
}

async fn deployed(app: &TestApp, prompt: i64) -> Option<i64> {
    let view: PromptDetailView = app.get(&format!("/api/prompts/{prompt}/")).await.good();
    view.prompt.deployed_version
}

#[tokio::test]
async fn labels_move_with_history_and_production_is_the_deployed_version() {
    let app = TestApp::spawn().await;
    let f = fixture(&app, CLS, &["good", "bad"]).await;
    let (p, v1) = (f.prompt, f.version);
    let v2 = id_of(&new_version(&app, p, f.connection, "v2").await);
    let token = app.token.clone();

    let staging: LabelView = put(&app, &token, p, "staging", json!({"version": v1}))
        .await
        .good();
    assert_eq!((staging.name.as_str(), staging.version), ("staging", v1));
    assert_eq!(staging.version_title, "v1");
    assert!(!staging.protected);
    assert!(staging.updated_by.is_some());
    let moved: LabelView = put(
        &app,
        &token,
        p,
        "staging",
        json!({"version": v2, "reason": "v2 is better on held-out"}),
    )
    .await
    .good();
    assert_eq!(moved.version, v2);
    // The same again is no change: no second history entry.
    put(&app, &token, p, "staging", json!({"version": v2}))
        .await
        .good::<LabelView>();
    let shown: VersionView = app
        .get(&format!("/api/prompts/{p}/labels/staging/version"))
        .await
        .good();
    assert_eq!(shown.id, v2);

    // production is the deployed version, through either door.
    assert_eq!(deployed(&app, p).await, None);
    put(
        &app,
        &token,
        p,
        "production",
        json!({"version": v1, "reason": "first"}),
    )
    .await
    .good::<LabelView>();
    assert_eq!(deployed(&app, p).await, Some(v1));
    let (status, body) = app
        .patch(
            &format!("/api/prompts/{p}/"),
            json!({"deployed_version": v2}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        labels(&app, p).await,
        [("production".to_string(), v2), ("staging".to_string(), v2)]
    );
    let shown: VersionView = app
        .get(&format!("/api/prompts/{p}/labels/production/version"))
        .await
        .good();
    assert_eq!(shown.id, v2);
    // Rollback is moving the label back.
    put(
        &app,
        &token,
        p,
        "production",
        json!({"version": v1, "reason": "rollback"}),
    )
    .await
    .good::<LabelView>();
    assert_eq!(deployed(&app, p).await, Some(v1));

    let path = format!("/api/prompts/{p}/labels/staging?reason=not%20needed");
    let (status, _) = app.send(Method::DELETE, &path, Some(&token), None).await;
    assert_eq!(status, 204);
    assert_eq!(labels(&app, p).await, [("production".to_string(), v1)]);
    let (status, _) = app.send(Method::DELETE, &path, Some(&token), None).await;
    assert_eq!(status, 404, "a label that is not set");

    assert_eq!(
        history(&app, p, CommentKind::Label).await,
        [
            "Label staging set on v1. (no reason given)",
            "Label staging moved to v2 (was v1). Reason: v2 is better on held-out",
            "Label staging removed (was on v2). Reason: not needed",
        ]
    );
    assert_eq!(
        history(&app, p, CommentKind::Deployment).await,
        [
            "Deployed v1 (was the newest version). Reason: first",
            "Deployed v2 (was v1). (no reason given)",
            "Deployed v1 (was v2). Reason: rollback",
        ]
    );

    // Removing production leaves no deployed version: the newest answers.
    let path = format!("/api/prompts/{p}/labels/production");
    let (status, _) = app.send(Method::DELETE, &path, Some(&token), None).await;
    assert_eq!(status, 204);
    assert_eq!(deployed(&app, p).await, None);
    assert!(labels(&app, p).await.is_empty());
}

#[tokio::test]
async fn labels_are_checked_scoped_and_leave_with_their_version() {
    let app = TestApp::spawn().await;
    let f = fixture(&app, CLS, &["good"]).await;
    let other = fixture(&app, CLS, &["bad"]).await;
    let (p, v1) = (f.prompt, f.version);
    let token = app.token.clone();
    bad_field(
        put(&app, &token, p, "Not A Name", json!({"version": v1})).await,
        "name",
    );
    bad_field(
        put(&app, &token, p, &"a".repeat(65), json!({"version": v1})).await,
        "name",
    );
    bad_field(
        put(&app, &token, p, "-x", json!({"version": v1})).await,
        "name",
    );
    bad_field(put(&app, &token, p, "staging", json!({})).await, "version");
    bad_field(
        put(
            &app,
            &token,
            p,
            "staging",
            json!({"version": other.version}),
        )
        .await,
        "version",
    );
    bad_field(
        put(
            &app,
            &token,
            p,
            "production",
            json!({"version": other.version}),
        )
        .await,
        "version",
    );
    // Another organization's prompt is not found, its labels neither.
    let theirs = app.other_token.clone();
    let (status, _) = put(&app, &theirs, p, "staging", json!({"version": v1})).await;
    assert_eq!(status, 404);
    let (status, _) = app
        .send(
            Method::GET,
            &format!("/api/prompts/{p}/labels"),
            Some(&theirs),
            None,
        )
        .await;
    assert_eq!(status, 404);
    let (status, _) = app
        .get(&format!("/api/prompts/{p}/labels/staging/version"))
        .await;
    assert_eq!(status, 404, "no such label");

    // At most 20 labels a prompt.
    for i in 0..20 {
        put(&app, &token, p, &format!("l{i}"), json!({"version": v1}))
            .await
            .good::<LabelView>();
    }
    bad_field(
        put(&app, &token, p, "one-more", json!({"version": v1})).await,
        "name",
    );
    // Moving an existing one is still allowed.
    put(
        &app,
        &token,
        p,
        "l3",
        json!({"version": v1, "reason": "again"}),
    )
    .await
    .good::<LabelView>();

    // A deleted version takes its labels with it.
    let c = connection(&app).await;
    let v2 = id_of(&new_version(&app, p, c, "v2").await);
    put(&app, &token, p, "l0", json!({"version": v2}))
        .await
        .good::<LabelView>();
    let (status, _) = app.delete(&format!("/api/prompts/{p}/versions/{v2}")).await;
    assert_eq!(status, 204);
    assert!(!labels(&app, p).await.iter().any(|(n, _)| n == "l0"));
}

#[tokio::test]
async fn protected_labels_move_only_for_owners_and_administrators() {
    let app = TestApp::spawn().await;
    let f = fixture(&app, CLS, &["good"]).await;
    let (p, v1) = (f.prompt, f.version);
    let v2 = id_of(&new_version(&app, p, f.connection, "v2").await);
    let (_, manager) =
        accounts::create_user(&app.db, "manager@example.com", "Main", Role::Manager, None)
            .await
            .expect("manager");
    let owner = app.token.clone();

    // A Manager sets and moves an unprotected label, but may not protect one.
    put(&app, &manager, p, "production", json!({"version": v1}))
        .await
        .good::<LabelView>();
    let (status, _) = put(
        &app,
        &manager,
        p,
        "staging",
        json!({"version": v1, "protected": true}),
    )
    .await;
    assert_eq!(status, 403);
    assert!(!labels(&app, p).await.iter().any(|(n, _)| n == "staging"));

    let protected: LabelView = put(
        &app,
        &owner,
        p,
        "production",
        json!({"version": v1, "protected": true, "reason": "release freeze"}),
    )
    .await
    .good();
    assert!(protected.protected);
    // Neither door lets a Manager move it, nor remove it.
    let (status, _) = put(&app, &manager, p, "production", json!({"version": v2})).await;
    assert_eq!(status, 403);
    let (status, _) = app
        .send(
            Method::PATCH,
            &format!("/api/prompts/{p}/"),
            Some(&manager),
            Some(&json!({"deployed_version": v2})),
        )
        .await;
    assert_eq!(status, 403);
    let (status, _) = app
        .send(
            Method::DELETE,
            &format!("/api/prompts/{p}/labels/production"),
            Some(&manager),
            None,
        )
        .await;
    assert_eq!(status, 403);
    assert_eq!(deployed(&app, p).await, Some(v1));
    // An Owner moves it; it stays protected.
    let moved: LabelView = put(&app, &owner, p, "production", json!({"version": v2}))
        .await
        .good();
    assert!(moved.protected);
    assert_eq!(deployed(&app, p).await, Some(v2));
    let protection = history(&app, p, CommentKind::Label).await;
    assert_eq!(
        protection,
        ["Label production on v1 is protected. Reason: release freeze"]
    );
    // Annotators read labels but change none.
    let reader = app.annotator_token.clone();
    let (status, _) = app
        .send(
            Method::GET,
            &format!("/api/prompts/{p}/labels"),
            Some(&reader),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = put(&app, &reader, p, "staging", json!({"version": v1})).await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn a_schedule_follows_its_label_when_it_fires() {
    let app = TestApp::spawn_with(|c| c.engine.schedule_poll_ms = 0).await;
    let f = fixture(&app, CLS, &["I love it"]).await;
    let (p, v1) = (f.prompt, f.version);
    let v2 = id_of(&new_version(&app, p, f.connection, "v2").await);
    let token = app.token.clone();
    let path = format!("/api/prompts/{p}/schedules");
    let every = json!({"cron": "* * * * *", "project": f.project, "label": "staging"});
    bad_field(app.post(&path, every.clone()).await, "label");
    put(&app, &token, p, "staging", json!({"version": v1}))
        .await
        .good::<LabelView>();
    let mut both = every.clone();
    both["version"] = json!(v2);
    bad_field(app.post(&path, both).await, "label");
    let made: prompter::views::registry::ScheduleView = app.post(&path, every).await.created();
    assert_eq!(made.label.as_deref(), Some("staging"));
    assert_eq!(made.version, None);
    // The label moves after the schedule was made: the firing runs where it points then.
    put(&app, &token, p, "staging", json!({"version": v2}))
        .await
        .good::<LabelView>();
    let slot = made.next_run_at.expect("a next firing");
    let fired = schedules::fire_due(&app.db, slot, crate::helpers::sample_size())
        .await
        .expect("fires");
    let run = match fired.as_slice() {
        [schedules::Fired::Run { run, .. }] => *run,
        other => panic!("one run: {other:?}"),
    };
    let runs: Vec<prompter::views::runs::RunView> = app
        .get(&format!("/api/prompts/{p}/versions/{v2}/inference-runs"))
        .await
        .good();
    assert!(runs.iter().any(|r| r.id == run), "{runs:?}");
    // A removed label makes the next firing skip, saying why.
    let gone = format!("/api/prompts/{p}/labels/staging");
    let (status, _) = app.send(Method::DELETE, &gone, Some(&token), None).await;
    assert_eq!(status, 204);
    app.engine_idle().await;
    let one: prompter::views::registry::ScheduleView =
        app.get(&format!("{path}/{}", made.id)).await.good();
    let next = one.next_run_at.expect("a next firing");
    let fired = schedules::fire_due(&app.db, next, crate::helpers::sample_size())
        .await
        .expect("fires");
    assert!(
        matches!(fired.as_slice(), [schedules::Fired::Skipped { reason, .. }] if reason.contains("label staging")),
        "{fired:?}"
    );
}

#[tokio::test]
async fn labels_are_set_and_removed_from_the_prompt_page() {
    let app = TestApp::spawn().await;
    let f = fixture(&app, CLS, &["good"]).await;
    let (p, v1) = (f.prompt, f.version);
    set_password(&app, "admin@example.com").await;
    let mut web = WebClient::new(&app);
    web.sign_in("admin@example.com").await;
    let page = web.get(&format!("/prompts/{p}")).await;
    assert!(page.body.contains("id=\"no-labels\""), "{}", page.body);
    let bad = web
        .post(
            &format!("/prompts/{p}/labels"),
            &[
                ("name", "Not A Name"),
                ("version", &v1.to_string()),
                ("reason", ""),
            ],
        )
        .await;
    assert_eq!(bad.status, 422, "{}", bad.body);
    assert!(bad.body.contains("id=\"label-name-error\""), "{}", bad.body);
    let set = web
        .post(
            &format!("/prompts/{p}/labels"),
            &[
                ("name", "staging"),
                ("version", &v1.to_string()),
                ("protection_shown", "true"),
                ("protected", "true"),
                ("reason", "try it"),
            ],
        )
        .await;
    assert_eq!(set.status, 303, "{}", set.body);
    let list: Vec<LabelView> = app.get(&format!("/api/prompts/{p}/labels")).await.good();
    assert_eq!(list.len(), 1);
    assert!(list[0].protected && list[0].version == v1);
    let page = web.get(&format!("/prompts/{p}")).await;
    assert!(page.body.contains("id=\"label-staging\""), "{}", page.body);
    assert!(
        page.body.contains("value=\"label:staging\""),
        "the schedule menu offers it"
    );
    let removed = web
        .post(&format!("/prompts/{p}/labels/staging/delete"), &[])
        .await;
    assert_eq!(removed.status, 303, "{}", removed.body);
    let list: Vec<LabelView> = app.get(&format!("/api/prompts/{p}/labels")).await.good();
    assert!(list.is_empty());
}
