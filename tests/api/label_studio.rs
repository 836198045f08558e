//! Tests of the connector to a Label Studio instance. The "Label Studio instance" is a second
//! real Prompter server, which speaks Label Studio's API for projects, tasks, annotations and
//! predictions: link (checks of URL, token and project, label-config adoption), sync (paging,
//! counters, incremental re-sync, ground-truth modes, failures), push (idempotent, skips tasks
//! not from Label Studio), organization scoping, roles, the token never in a response, and the
//! `prompter ls` command line.
use crate::helpers::fixtures::{
    assert_field_error, batch, connection, id_of, item, new_prompt, new_run, new_version,
};
use crate::helpers::reply::read;
use crate::helpers::{CLS, NER, Reply, TestApp, choice};
use chrono::{DateTime, Utc};
use entity::enums::LinkStatus;
use prompter::error::{ErrorBody, ErrorCode};
use prompter::services::accounts;
use prompter::views::annotations::AnnotationView;
use prompter::views::label_studio::{LabelStudioLinkView, LinkedCounts};
use prompter::views::predictions::PredictionView;
use prompter::views::projects::ProjectView;
use prompter::views::tasks::{TaskListView, TaskView};
use reqwest::Method;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};

/// A Label Studio stand-in with a project of `texts` (CLS config), and a fresh token of its
/// admin (different from every Prompter-side token).
struct Ls {
    app: TestApp,
    token: String,
    project: i64,
    tasks: Vec<i64>,
}

async fn ls_instance(texts: &[&str]) -> Ls {
    let app = TestApp::spawn().await;
    let token = accounts::create_token(&app.db, "admin@example.com")
        .await
        .expect("token");
    let project = app.project(CLS).await;
    let tasks = if texts.is_empty() {
        vec![]
    } else {
        let data: Vec<Value> = texts.iter().map(|t| json!({"text": t})).collect();
        app.import(project, Value::Array(data)).await
    };
    Ls {
        app,
        token,
        project,
        tasks,
    }
}

fn link_path(project: i64) -> String {
    format!("/api/projects/{project}/label-studio")
}

/// A Prompter project without a label config (it adopts Label Studio's on link).
async fn empty_project(app: &TestApp) -> i64 {
    app.post("/api/projects/", json!({"title": "from LS"}))
        .await
        .created::<ProjectView>()
        .id
}

/// Links `project` to the stand-in's project (asserts 201).
async fn link(app: &TestApp, project: i64, ls: &Ls) -> LabelStudioLinkView {
    app.post(
        &link_path(project),
        json!({"url": ls.app.address, "token": ls.token, "ls_project": ls.project}),
    )
    .await
    .created()
}

/// Waits until the engine is idle (a sync or push is a job of the engine), then reads the
/// link as raw JSON (for the checks that the token is nowhere in it): its job is no longer
/// running; returns the link.
async fn wait_done_raw(app: &TestApp, project: i64) -> Value {
    app.engine_idle().await;
    let (status, body) = app.get(&link_path(project)).await;
    assert_eq!(status, 200, "{body}");
    let link: LabelStudioLinkView = read(body.clone());
    assert_ne!(
        link.status,
        LinkStatus::Running,
        "the Label Studio job did not end: {body}"
    );
    body
}

/// [`wait_done_raw`], read as the link view.
async fn wait_done(app: &TestApp, project: i64) -> LabelStudioLinkView {
    read(wait_done_raw(app, project).await)
}

/// Starts a job (asserts 202) and waits for it; returns the link as raw JSON.
async fn run_job_raw(app: &TestApp, project: i64, job: &str, body: Value) -> Value {
    let started: LabelStudioLinkView = app
        .post(&format!("{}/{job}", link_path(project)), body)
        .await
        .with_status(202);
    assert_eq!(started.job.as_deref(), Some(job));
    wait_done_raw(app, project).await
}

/// [`run_job_raw`], read as the link view.
async fn run_job(app: &TestApp, project: i64, job: &str, body: Value) -> LabelStudioLinkView {
    read(run_job_raw(app, project, job, body).await)
}

/// Syncs and asserts success; returns the link.
async fn sync(app: &TestApp, project: i64, body: Value) -> LabelStudioLinkView {
    let done = run_job(app, project, "sync", body).await;
    assert_eq!(done.status, LinkStatus::Idle, "{done:?}");
    assert!(done.last_error.is_none(), "{done:?}");
    done
}

/// The project as the API shows it.
async fn project_of(app: &TestApp, project: i64) -> ProjectView {
    app.get(&format!("/api/projects/{project}/")).await.good()
}

/// Every task of a project with annotations and predictions.
async fn tasks_of(app: &TestApp, project: i64) -> Vec<TaskView> {
    app.get(&format!(
        "/api/tasks/?project={project}&fields=all&page_size=1000"
    ))
    .await
    .good::<TaskListView>()
    .tasks
}

/// Annotates `task` on `app` (asserts 201); returns the annotation id.
async fn annotate(app: &TestApp, task: i64, body: Value) -> i64 {
    app.post(&format!("/api/tasks/{task}/annotations/"), body)
        .await
        .created::<AnnotationView>()
        .id
}

/// The `(done, total)` of a link's progress.
fn progress(link: &LabelStudioLinkView) -> (i64, i64) {
    (link.progress.done, link.progress.total)
}

/// The `(tasks, annotations, predictions)` of a link's counts.
fn linked(counts: &LinkedCounts) -> (i64, i64, i64) {
    (counts.tasks, counts.annotations, counts.predictions)
}

/// Reads an error body with `code` (asserts a 400).
#[track_caller]
fn bad_with(status: u16, body: &Value, code: ErrorCode) {
    let error: ErrorBody = read(body.clone());
    assert_eq!((status, error.code), (400, code), "{body}");
}

/// The task whose `data.text` is `text`.
#[track_caller]
fn text_is<'a>(tasks: &'a [TaskView], text: &str) -> &'a TaskView {
    tasks
        .iter()
        .find(|t| t.data["text"] == text)
        .unwrap_or_else(|| panic!("no task {text:?}"))
}

/// The annotations nested in a task of the `fields=all` list.
fn annotations(task: &TaskView) -> &[AnnotationView] {
    task.annotations.as_deref().expect("the task's annotations")
}

/// `(id, updated_at)` pairs.
type Stamps = Vec<(i64, DateTime<Utc>)>;

/// `(task id, updated_at)` of every task and `(annotation id, updated_at)` of every annotation.
fn stamps(tasks: &[TaskView]) -> (Stamps, Stamps) {
    let mut t = vec![];
    let mut a = vec![];
    for task in tasks {
        t.push((task.id, task.updated_at));
        for ann in task.annotations.as_ref().expect("annotations") {
            a.push((ann.id, ann.updated_at));
        }
    }
    (t, a)
}

#[tokio::test]
async fn link_checks_the_url_the_token_and_the_project_and_adopts_the_config() {
    let ls = ls_instance(&["a", "b"]).await;
    let app = TestApp::spawn().await;
    let project = empty_project(&app).await;
    let path = link_path(project);
    let mut bodies = vec![];
    let body = |url: &str, token: &str, ls_project: i64| json!({"url": url, "token": token, "ls_project": ls_project});

    // Input checks before any call.
    let (status, b) = app
        .post(&path, body("ftp://x.org", &ls.token, ls.project))
        .await;
    assert_field_error(status, &b, "url");
    bodies.push(b);
    let (status, b) = app
        .post(
            &path,
            json!({"url": ls.app.address, "ls_project": ls.project}),
        )
        .await;
    assert_field_error(status, &b, "token");
    let (status, b) = app.post(&path, body(&ls.app.address, &ls.token, 0)).await;
    assert_field_error(status, &b, "ls_project");

    // Label Studio's answers.
    let (status, b) = app
        .post(
            &path,
            body(&ls.app.address, "not-a-valid-token-1", ls.project),
        )
        .await;
    assert_field_error(status, &b, "token");
    let (status, b) = app
        .post(&path, body(&ls.app.address, &ls.token, 9999))
        .await;
    assert_field_error(status, &b, "ls_project");
    bodies.push(b);
    let (status, b) = app
        .post(&path, body("http://127.0.0.1:1", &ls.token, ls.project))
        .await;
    bad_with(status, &b, ErrorCode::LabelStudioUnreachable);
    bodies.push(b);
    // A project of another organization on the Label Studio side is not found either.
    let foreign = ls
        .app
        .send(
            Method::POST,
            "/api/projects/",
            Some(&ls.app.other_token),
            Some(&json!({"title": "foreign", "label_config": CLS})),
        )
        .await
        .created::<ProjectView>()
        .id;
    let (status, b) = app
        .post(&path, body(&ls.app.address, &ls.token, foreign))
        .await;
    assert_field_error(status, &b, "ls_project");

    // A good link: 201, the view, the token stored sealed, the label config adopted.
    let (status, raw) = app
        .post(
            &path,
            body(&format!("{}/", ls.app.address), &ls.token, ls.project),
        )
        .await;
    assert_eq!(status, 201, "{raw}");
    // The token's keys are absent from the wire, not null: a key-presence check.
    assert!(raw.get("token").is_none() && raw.get("token_enc").is_none());
    bodies.push(raw.clone());
    // Typed reading checks `created_at` is a timestamp.
    let created: LabelStudioLinkView = read(raw);
    assert_eq!(created.project, project);
    assert_eq!(created.url, ls.app.address, "trailing slash dropped");
    assert_eq!(created.ls_project, ls.project);
    assert!(created.has_token);
    assert_eq!(created.status, LinkStatus::Idle);
    assert!(created.job.is_none());
    assert_eq!(progress(&created), (0, 0));
    assert!(created.last_error.is_none());
    assert!(created.last_synced_at.is_none());
    assert_eq!(project_of(&app, project).await.label_config, CLS);
    let stored = entity::label_studio_link::Entity::find()
        .filter(entity::label_studio_link::Column::ProjectId.eq(project))
        .one(&app.db)
        .await
        .expect("query")
        .expect("link row")
        .token_enc;
    assert!(!stored.is_empty() && !stored.contains(&ls.token), "sealed");

    // One link per project.
    let (status, b) = app
        .post(&path, body(&ls.app.address, &ls.token, ls.project))
        .await;
    bad_with(status, &b, ErrorCode::AlreadyLinked);

    // GET; PATCH checks what changes with Label Studio too.
    let (status, got) = app.get(&path).await;
    assert_eq!(status, 200, "{got}");
    assert_eq!(read::<LabelStudioLinkView>(got.clone()).id, created.id);
    bodies.push(got);
    let (status, b) = app
        .patch(&path, json!({"token": "wrong-token-12345"}))
        .await;
    assert_field_error(status, &b, "token");
    let (status, b) = app.patch(&path, json!({"ls_project": 9999})).await;
    assert_field_error(status, &b, "ls_project");
    let (status, patched) = app
        .patch(
            &path,
            json!({"url": format!("{}//", ls.app.address), "token": ls.token}),
        )
        .await;
    assert_eq!(status, 200, "{patched}");
    assert_eq!(
        read::<LabelStudioLinkView>(patched.clone()).url,
        ls.app.address
    );
    bodies.push(patched);

    // Organization scoping and roles.
    for (method, suffix, payload) in [
        (Method::GET, "", None),
        (Method::PATCH, "", Some(json!({"url": ls.app.address}))),
        (Method::POST, "/sync", Some(json!({}))),
        (Method::POST, "/push", Some(json!({"run": 1}))),
        (Method::DELETE, "", None),
    ] {
        let p = format!("{path}{suffix}");
        let (status, b) = app
            .send(method.clone(), &p, Some(&app.other_token), payload.as_ref())
            .await;
        assert_eq!(status, 404, "{method} {p} as another organization: {b}");
        let (status, b) = app
            .send(
                method.clone(),
                &p,
                Some(&app.annotator_token),
                payload.as_ref(),
            )
            .await;
        // Every member reads the link; changing it is a Manager's.
        let expected = if method == Method::GET { 200 } else { 403 };
        assert_eq!(status, expected, "{method} {p} as an annotator: {b}");
        let (status, _) = app.send(method.clone(), &p, None, payload.as_ref()).await;
        assert_eq!(status, 401);
    }
    let (status, b) = app
        .send(
            Method::POST,
            &path,
            Some(&app.other_token),
            Some(&body(&ls.app.address, &ls.token, ls.project)),
        )
        .await;
    assert_eq!(status, 404, "{b}");

    // A project with tasks and another label config is refused.
    let busy = app.project(NER).await;
    app.import(busy, json!([{"text": "x"}])).await;
    let (status, b) = app
        .post(
            &link_path(busy),
            body(&ls.app.address, &ls.token, ls.project),
        )
        .await;
    assert_field_error(status, &b, "ls_project");
    // Anywhere in the body: the message names the difference.
    assert!(b.to_string().contains("differs"), "{b}");
    // ... and one with the same config is linked as is.
    let same = app.project(CLS).await;
    app.import(same, json!([{"text": "x"}])).await;
    let (status, b) = app
        .post(
            &link_path(same),
            body(&ls.app.address, &ls.token, ls.project),
        )
        .await;
    assert_eq!(status, 201, "{b}");

    // No response ever carries the token (the whole raw body is searched).
    for b in &bodies {
        assert!(!b.to_string().contains(&ls.token), "{b}");
    }

    // DELETE, then 404.
    let (status, _) = app.delete(&path).await;
    assert_eq!(status, 204);
    let (status, b) = app.get(&path).await;
    assert_eq!(status, 404, "{b}");
    let (status, _) = app.delete(&path).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn sync_imports_tasks_and_annotations_and_resyncs_only_what_changed() {
    // 205 tasks: three pages of 100.
    let texts: Vec<String> = (0..205).map(|i| format!("review {i}")).collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let ls = ls_instance(&refs).await;
    annotate(&ls.app, ls.tasks[0], json!({"result": choice("Positive")})).await;
    annotate(
        &ls.app,
        ls.tasks[1],
        json!({"result": choice("Negative"), "ground_truth": true}),
    )
    .await;
    annotate(
        &ls.app,
        ls.tasks[2],
        json!({"result": [], "was_cancelled": true}),
    )
    .await;
    let app = TestApp::spawn().await;
    let project = empty_project(&app).await;
    link(&app, project, &ls).await;
    let receiver = crate::helpers::receiver::Receiver::start(|_, _| {
        crate::helpers::receiver::Answer::Status(200)
    })
    .await;
    let hook = crate::webhooks::endpoint(&app, &receiver.url, json!(["sync.completed"])).await;

    // The sync body is optional.
    let started: LabelStudioLinkView = app
        .raw(
            Method::POST,
            &format!("{}/sync", link_path(project)),
            "application/json",
            vec![],
        )
        .await
        .with_status(202);
    assert_eq!(started.status, LinkStatus::Running);
    assert_eq!(started.job.as_deref(), Some("sync"));
    let done = wait_done(&app, project).await;
    assert_eq!(done.status, LinkStatus::Idle, "{done:?}");
    assert_eq!(progress(&done), (205, 205));
    assert!(done.last_synced_at.is_some());
    assert_eq!(linked(&done.linked), (205, 3, 0));
    let told = crate::webhooks::settled_deliveries(&app, hook, 1).await;
    assert_eq!(told.len(), 1, "{told:?}");
    assert_eq!(told[0]["event"], "sync.completed");
    assert_eq!(told[0]["payload"]["data"]["link"]["project"], project);
    let p = project_of(&app, project).await;
    assert_eq!(p.task_number, 205);
    assert_eq!(p.total_annotations_number, 2);
    assert_eq!(p.skipped_annotations_number, 1);
    assert_eq!(p.num_tasks_with_annotations, 2);
    // `all`: every submitted, non-cancelled annotation is ground truth.
    assert_eq!(p.ground_truth_number, 2);
    let tasks = tasks_of(&app, project).await;
    let mut seen: Vec<String> = tasks
        .iter()
        .map(|t| t.data["text"].as_str().expect("text").to_string())
        .collect();
    seen.sort();
    let mut expected = texts.clone();
    expected.sort();
    assert_eq!(seen, expected);
    let first = text_is(&tasks, "review 0");
    assert_eq!(first.total_annotations, 1);
    assert_eq!(annotations(first)[0].result, choice("Positive"));
    assert!(annotations(first)[0].ground_truth);
    let cancelled = text_is(&tasks, "review 2");
    assert_eq!(cancelled.cancelled_annotations, 1);
    assert!(!annotations(cancelled)[0].ground_truth);

    // A re-sync with nothing new writes nothing.
    let before = stamps(&tasks);
    sync(&app, project, json!({})).await;
    let again = tasks_of(&app, project).await;
    assert_eq!(stamps(&again), before, "unchanged rows are not rewritten");

    // New and changed things on the Label Studio side.
    let new_task = ls
        .app
        .import(ls.project, json!([{"text": "brand new"}]))
        .await[0];
    annotate(&ls.app, new_task, json!({"result": choice("Negative")})).await;
    annotate(&ls.app, ls.tasks[3], json!({"result": choice("Positive")})).await;
    let first_ls_annotation = ls
        .app
        .get(&format!("/api/tasks/{}/annotations/", ls.tasks[0]))
        .await
        .good::<Vec<AnnotationView>>()[0]
        .id;
    let (status, b) = ls
        .app
        .patch(
            &format!("/api/annotations/{first_ls_annotation}/"),
            json!({"result": choice("Negative")}),
        )
        .await;
    assert_eq!(status, 200, "{b}");
    let done = sync(&app, project, json!({"ground_truth": "all"})).await;
    assert_eq!(progress(&done), (206, 206));
    assert_eq!(done.linked.tasks, 206);
    assert_eq!(done.linked.annotations, 5);
    let p = project_of(&app, project).await;
    assert_eq!(p.task_number, 206);
    assert_eq!(p.total_annotations_number, 4);
    assert_eq!(p.ground_truth_number, 4);
    let after = tasks_of(&app, project).await;
    let (after_tasks, after_annotations) = stamps(&after);
    let (before_tasks, before_annotations) = before;
    // Old tasks keep their stamps except those whose counters moved... which do not touch
    // updated_at either: every old task is as it was.
    for stamp in &before_tasks {
        assert!(after_tasks.contains(stamp), "task {stamp:?} rewritten");
    }
    let changed: Vec<_> = before_annotations
        .iter()
        .filter(|s| !after_annotations.contains(s))
        .collect();
    assert_eq!(changed.len(), 1, "only the edited annotation is rewritten");
    let first = text_is(&after, "review 0");
    assert_eq!(annotations(first)[0].result, choice("Negative"));
    let brand_new = text_is(&after, "brand new");
    assert_eq!(brand_new.total_annotations, 1);
    assert!(brand_new.is_labeled);

    // `flagged`: only Label Studio's ground-truth flag counts.
    sync(&app, project, json!({"ground_truth": "flagged"})).await;
    let p = project_of(&app, project).await;
    assert_eq!(p.ground_truth_number, 1);
    assert_eq!(p.total_annotations_number, 4);
    let (status, b) = app
        .post(
            &format!("{}/sync", link_path(project)),
            json!({"ground_truth": "some"}),
        )
        .await;
    assert_field_error(status, &b, "ground_truth");

    // One job at a time: while a worker (of another process) holds the link's job, a sync, a
    // push and a change of the link are refused.
    let link_id = app
        .get(&link_path(project))
        .await
        .good::<LabelStudioLinkView>()
        .id;
    let hold = |lease: chrono::DateTime<Utc>| {
        use sea_orm::sea_query::Expr;
        entity::job::Entity::update_many()
            .col_expr(
                entity::job::Column::Status,
                Expr::value(entity::enums::JobStatus::Running),
            )
            .col_expr(
                entity::job::Column::LeaseOwner,
                Expr::value("another-process"),
            )
            .col_expr(entity::job::Column::LeaseExpiresAt, Expr::value(lease))
            .filter(entity::job::Column::DedupeKey.eq(format!("link:{link_id}")))
            .exec(&app.db)
    };
    hold(chrono::Utc::now() + chrono::Duration::minutes(10))
        .await
        .expect("update");
    app.db
        .execute_unprepared(&format!(
            "UPDATE label_studio_links SET status = 'running' WHERE project_id = {project}"
        ))
        .await
        .expect("update");
    for job in ["sync", "push"] {
        let (status, b) = app
            .post(&format!("{}/{job}", link_path(project)), json!({"run": 1}))
            .await;
        assert_eq!(status, 400, "{b}");
        if job == "sync" {
            bad_with(status, &b, ErrorCode::JobRunning);
        }
    }
    let (status, b) = app
        .patch(&link_path(project), json!({"url": ls.app.address}))
        .await;
    bad_with(status, &b, ErrorCode::JobRunning);
    // That worker dies: its lease lapses, and a worker of this server takes the job over and
    // finishes it.
    hold(chrono::Utc::now() - chrono::Duration::seconds(1))
        .await
        .expect("update");
    let shown = wait_done(&app, project).await;
    assert_eq!(shown.status, LinkStatus::Idle, "{shown:?}");
    assert_eq!(project_of(&app, project).await.task_number, 206);
    sync(&app, project, json!({})).await;
    assert_eq!(project_of(&app, project).await.task_number, 206);
}

#[tokio::test]
async fn a_failed_sync_says_why_and_never_shows_the_token() {
    let ls = ls_instance(&["a", "b"]).await;
    let app = TestApp::spawn().await;
    let project = empty_project(&app).await;
    link(&app, project, &ls).await;
    sync(&app, project, json!({})).await;

    // Label Studio's config changes while the Prompter project has tasks: the sync fails.
    let (status, b) = ls
        .app
        .patch(
            &format!("/api/projects/{}/", ls.project),
            json!({"label_config": CLS.replace("Negative", "Neutral")}),
        )
        .await;
    assert_eq!(status, 200, "{b}");
    let failed = run_job(&app, project, "sync", json!({})).await;
    assert_eq!(failed.status, LinkStatus::Failed, "{failed:?}");
    assert!(
        failed
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("differs")),
        "{failed:?}"
    );

    // Label Studio goes away: the sync fails, naming the URL, never the token.
    app.db
        .execute_unprepared(&format!(
            "UPDATE label_studio_links SET url = 'http://127.0.0.1:1' WHERE project_id = {project}"
        ))
        .await
        .expect("update");
    let raw = run_job_raw(&app, project, "sync", json!({})).await;
    // The whole raw body is searched for the token.
    assert!(!raw.to_string().contains(&ls.token));
    let failed: LabelStudioLinkView = read(raw);
    assert_eq!(failed.status, LinkStatus::Failed, "{failed:?}");
    let error = failed.last_error.as_deref().expect("last_error");
    assert!(
        error.contains("Could not reach Label Studio at http://127.0.0.1:1")
            && error.contains("the host cannot be reached"),
        "{error}"
    );
    assert_eq!(
        project_of(&app, project).await.task_number,
        2,
        "nothing deleted"
    );
}

#[tokio::test]
async fn push_creates_predictions_in_label_studio_once() {
    let ls = ls_instance(&["I love it", "awful", "meh"]).await;
    let app = TestApp::spawn().await;
    let project = empty_project(&app).await;
    link(&app, project, &ls).await;
    sync(&app, project, json!({})).await;
    let synced: Vec<(i64, String)> = tasks_of(&app, project)
        .await
        .iter()
        .map(|t| {
            (
                t.id,
                t.data["text"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    // A task made in Prompter: its prediction is skipped.
    let local = app
        .post(
            "/api/tasks/",
            json!({"project": project, "data": {"text": "local"}}),
        )
        .await
        .created::<TaskView>()
        .id;

    let prompt = id_of(
        &new_prompt(
            &app,
            json!({"title": "Sentiment", "associated_projects": [project]}),
        )
        .await,
    );
    let conn = connection(&app).await;
    let version = id_of(&new_version(&app, prompt, conn, "v1").await);
    let run = id_of(
        &new_run(
            &app,
            prompt,
            version,
            json!({"project": project, "project_subset": "All"}),
        )
        .await,
    );
    let mut results: Vec<Value> = synced
        .iter()
        .map(|(id, text)| {
            let label = if text == "awful" {
                "Negative"
            } else {
                "Positive"
            };
            item(*id, json!({"sentiment": label}))
        })
        .collect();
    results.push(item(local, json!({"sentiment": "Positive"})));
    batch(&app, run, Value::Array(results)).await;

    let ls_predictions = || async {
        ls.app
            .get(&format!("/api/predictions/?project={}", ls.project))
            .await
            .good::<Vec<PredictionView>>()
    };
    let done = run_job(&app, project, "push", json!({"run": run})).await;
    assert_eq!(done.status, LinkStatus::Idle, "{done:?}");
    assert_eq!(progress(&done), (4, 4));
    assert_eq!(done.linked.predictions, 3);
    let pushed = ls_predictions().await;
    assert_eq!(pushed.len(), 3, "{pushed:?}");
    let mut tasks: Vec<i64> = pushed.iter().map(|p| p.task).collect();
    tasks.sort();
    assert_eq!(tasks, ls.tasks);
    for p in &pushed {
        assert_eq!(p.model_version, "Sentiment__v1");
        let text = ls
            .app
            .get(&format!("/api/tasks/{}/", p.task))
            .await
            .good::<TaskView>()
            .data["text"]
            .clone();
        let label = if text == "awful" {
            "Negative"
        } else {
            "Positive"
        };
        // Regions are Label Studio's free-form objects.
        assert_eq!(p.result[0]["value"]["choices"], json!([label]), "{p:?}");
        assert_eq!(p.result[0]["from_name"], "sentiment");
    }

    // Pushing again creates nothing (`model_run` names the run too).
    let done = run_job(&app, project, "push", json!({"model_run": run})).await;
    assert_eq!(done.status, LinkStatus::Idle, "{done:?}");
    assert_eq!(ls_predictions().await.len(), 3);

    // Nor after our bookkeeping is lost (a crash between Label Studio's create and ours).
    app.db
        .execute_unprepared("UPDATE predictions SET ls_prediction_id = NULL")
        .await
        .expect("update");
    let done = run_job(&app, project, "push", json!({"run": run})).await;
    assert_eq!(done.status, LinkStatus::Idle, "{done:?}");
    assert_eq!(done.linked.predictions, 3, "recorded again");
    assert_eq!(ls_predictions().await.len(), 3);

    // Bad runs.
    let push = format!("{}/push", link_path(project));
    let (status, b) = app.post(&push, json!({})).await;
    assert_field_error(status, &b, "run");
    let (status, b) = app.post(&push, json!({"run": 999_999})).await;
    assert_field_error(status, &b, "run");
    let other = app.project(CLS).await;
    app.import(other, json!([{"text": "x"}])).await;
    let (status, b) = app
        .patch(
            &format!("/api/prompts/{prompt}/"),
            json!({"associated_projects": [project, other]}),
        )
        .await;
    assert_eq!(status, 200, "{b}");
    let elsewhere = id_of(
        &new_run(
            &app,
            prompt,
            version,
            json!({"project": other, "project_subset": "All"}),
        )
        .await,
    );
    let (status, b) = app.post(&push, json!({"run": elsewhere})).await;
    assert_field_error(status, &b, "run");
}

/// Runs `prompter` with `args` against `app`'s server, off the test runtime.
async fn prompter(app: &TestApp, args: Vec<String>) -> std::process::Output {
    let (address, token) = (app.address.clone(), app.token.clone());
    tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_prompter"))
            .args(&args)
            .args(["--url", &address])
            .env("PROMPTER_TOKEN", token)
            .env("RUST_LOG", "warn")
            .output()
            .expect("run prompter")
    })
    .await
    .expect("join")
}

#[tokio::test]
async fn prompter_ls_links_syncs_and_pushes_through_the_api() {
    let ls = ls_instance(&["good", "bad"]).await;
    annotate(&ls.app, ls.tasks[0], json!({"result": choice("Positive")})).await;
    let app = TestApp::spawn().await;
    let project = empty_project(&app).await;
    let words = |s: &str| s.split_whitespace().map(String::from).collect::<Vec<_>>();

    let out = prompter(
        &app,
        [
            words(&format!(
                "ls link --project {project} --ls-project {}",
                ls.project
            )),
            vec![
                "--ls-url".into(),
                ls.app.address.clone(),
                "--ls-token".into(),
                ls.token.clone(),
            ],
        ]
        .concat(),
    )
    .await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("linked to Label Studio project"),
        "{stdout}"
    );
    assert!(!stdout.contains(&ls.token));

    let out = prompter(&app, words(&format!("ls sync --project {project}"))).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("sync done: 2/2"), "{stdout}");
    assert!(
        stdout.contains("2 tasks, 1 annotations (1 ground truth)"),
        "{stdout}"
    );
    assert_eq!(project_of(&app, project).await.task_number, 2);

    // Linking again changes the link (PATCH) rather than failing.
    let out = prompter(
        &app,
        [
            words(&format!(
                "ls link --project {project} --ls-project {}",
                ls.project
            )),
            vec![
                "--ls-url".into(),
                format!("{}/", ls.app.address),
                "--ls-token".into(),
                ls.token.clone(),
            ],
        ]
        .concat(),
    )
    .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Push a run through the command line.
    let prompt = id_of(
        &new_prompt(
            &app,
            json!({"title": "Sentiment", "associated_projects": [project]}),
        )
        .await,
    );
    let conn = connection(&app).await;
    let version = id_of(&new_version(&app, prompt, conn, "v1").await);
    let run = id_of(
        &new_run(
            &app,
            prompt,
            version,
            json!({"project": project, "project_subset": "All"}),
        )
        .await,
    );
    let results: Vec<Value> = tasks_of(&app, project)
        .await
        .iter()
        .map(|t| item(t.id, json!({"sentiment": "Positive"})))
        .collect();
    batch(&app, run, Value::Array(results)).await;
    let out = prompter(
        &app,
        words(&format!("ls push --project {project} --run {run}")),
    )
    .await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("push done: 2/2"), "{stdout}");
    let (_, pushed) = ls
        .app
        .get(&format!("/api/predictions/?project={}", ls.project))
        .await;
    assert_eq!(pushed.as_array().map(Vec::len), Some(2), "{pushed}");

    // Failures exit non-zero with the server's reason.
    let out = prompter(&app, words("ls sync --project 999999")).await;
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("404"));
    let out = prompter(
        &app,
        [
            words(&format!(
                "ls link --project {project} --ls-project {}",
                ls.project
            )),
            vec![
                "--ls-url".into(),
                ls.app.address.clone(),
                "--ls-token".into(),
                "bad-token-000".into(),
            ],
        ]
        .concat(),
    )
    .await;
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("token: Label Studio refused this token"),
        "{stderr}"
    );
}

/// The one upsert behind a sync and the ML backend's webhook events, with the rules in which
/// the two differ.
#[tokio::test]
async fn the_mirror_upsert_keeps_each_sources_rules() {
    use entity::{annotation, project, task};
    use prompter::label_studio::client::{LsAnnotation, LsTask, parse_time};
    use prompter::label_studio::mirror::{Source, Written, upsert};
    use prompter::views::label_studio::GroundTruthMode;
    let app = TestApp::spawn().await;
    let caller = prompter::auth::authenticate(&app.db, &app.token)
        .await
        .expect("caller");
    let id = app.project(CLS).await;
    let project = project::Entity::find_by_id(id)
        .one(&app.db)
        .await
        .expect("query")
        .expect("project");
    let at = |t: &str| parse_time(&json!(t));
    let listed = |task: i64, data: Value, choice: &str, updated_at: Option<&str>| LsTask {
        id: task,
        data,
        meta: Some(json!({"from": "ls"})),
        annotations: vec![LsAnnotation {
            id: 101,
            result: Some(
                json!([{"from_name": "sentiment", "to_name": "text", "type": "choices",
                "value": {"choices": [choice]}}]),
            ),
            was_cancelled: false,
            ground_truth: false,
            lead_time: Some(2.5),
            created_at: at("2099-01-01T00:00:00Z"),
            updated_at: updated_at.and_then(at),
        }],
    };
    let stored = || async {
        annotation::Entity::find()
            .filter(annotation::Column::LsAnnotationId.eq(101))
            .one(&app.db)
            .await
            .expect("query")
            .expect("annotation")
    };
    let task_of = |ls: i64| {
        let db = app.db.clone();
        async move {
            task::Entity::find()
                .filter(task::Column::ProjectId.eq(id))
                .filter(task::Column::LsTaskId.eq(ls))
                .one(&db)
                .await
                .expect("query")
        }
    };
    let sync = Source::Sync(GroundTruthMode::All);
    let page = [listed(11, json!({"text": "a"}), "Positive", None)];

    // A sync stamps its own time, takes meta, and writes nothing the second time.
    let written = upsert(&app.db, &caller, &project, sync, &page)
        .await
        .expect("sync");
    let created = Written {
        tasks_created: 1,
        annotations_created: 1,
        ..Default::default()
    };
    assert_eq!(written, created);
    let first = stored().await;
    assert!(first.ground_truth);
    assert_ne!(first.created_at, at("2099-01-01T00:00:00Z").expect("time"));
    let task11 = task_of(11).await.expect("task 11");
    assert_eq!(task11.meta, json!({"from": "ls"}));
    assert_eq!(task11.total_annotations, 1);
    let again = upsert(&app.db, &caller, &project, sync, &page)
        .await
        .expect("resync");
    assert_eq!(again, Written::default());
    let flagged = Source::Sync(GroundTruthMode::Flagged);
    let written = upsert(&app.db, &caller, &project, flagged, &page)
        .await
        .expect("flagged");
    assert_eq!(written.annotations_updated, 1);
    assert!(!stored().await.ground_truth);

    // Events keep Label Studio's time (the sync stamped the row now: an event must be newer),
    // move an annotation to the task it is listed under, and skip an update older than the
    // stored row.
    let moved = [listed(
        12,
        json!({"text": "b"}),
        "Negative",
        Some("2099-01-03T00:00:00Z"),
    )];
    let written = upsert(&app.db, &caller, &project, Source::Events, &moved)
        .await
        .expect("event");
    assert_eq!((written.tasks_created, written.annotations_updated), (1, 1));
    let now = stored().await;
    let task12 = task_of(12).await.expect("task 12");
    assert_eq!(now.task_id, task12.id);
    assert!(now.ground_truth);
    assert_eq!(Some(now.updated_at), at("2099-01-03T00:00:00Z"));
    assert_eq!(now.result[0]["value"]["choices"], json!(["Negative"]));
    assert_eq!(task12.total_annotations, 1);
    assert_eq!(task_of(11).await.expect("task 11").total_annotations, 0);
    let stale = [listed(
        12,
        json!({"text": "b"}),
        "Positive",
        Some("2099-01-02T00:00:00Z"),
    )];
    let written = upsert(&app.db, &caller, &project, Source::Events, &stale)
        .await
        .expect("stale event");
    assert_eq!(written, Written::default());
    assert_eq!(
        stored().await.result[0]["value"]["choices"],
        json!(["Negative"])
    );
    // An event's meta never changes a stored task; a new task without data is not created.
    let mut meta = listed(12, json!({"text": "b"}), "Negative", None);
    meta.meta = Some(json!({"other": true}));
    meta.annotations.clear();
    let no_data = listed(13, Value::Null, "Negative", Some("2099-01-04T00:00:00Z"));
    let written = upsert(&app.db, &caller, &project, Source::Events, &[meta, no_data])
        .await
        .expect("events");
    assert_eq!(written, Written::default());
    assert_eq!(task12.meta, task_of(12).await.expect("task 12").meta);
    assert!(task_of(13).await.is_none());
}

/// A link adopts a label config Label Studio accepted even when it holds a tag Prompter does
/// not know yet (a newer Label Studio's): the tag is a warning, as in a stored config, not a
/// refusal; a config that does not parse at all is still refused.
#[tokio::test]
async fn a_link_adopts_a_config_with_a_tag_prompter_does_not_know_yet() {
    let app = TestApp::spawn().await;
    let ls = ls_instance(&["one"]).await;
    let newer = CLS.replace(
        "</View>",
        "  <FutureTag name=\"later\" toName=\"text\"/>\n</View>",
    );
    assert_ne!(newer, CLS);
    entity::project::Entity::update_many()
        .col_expr(
            entity::project::Column::LabelConfig,
            sea_orm::sea_query::Expr::value(newer.clone()),
        )
        .filter(entity::project::Column::Id.eq(ls.project))
        .exec(&ls.app.db)
        .await
        .expect("config set in the stand-in");
    let project = empty_project(&app).await;
    let made = link(&app, project, &ls).await;
    assert!(made.last_error.is_none());
    assert_eq!(project_of(&app, project).await.label_config, newer);
    // The adopted config reads as before: its known controls work.
    let parsed = project_of(&app, project).await.parsed_label_config;
    assert!(parsed.get("sentiment").is_some(), "{parsed}");

    // A config that does not parse is refused, and nothing is adopted.
    let other = ls_instance(&["two"]).await;
    entity::project::Entity::update_many()
        .col_expr(
            entity::project::Column::LabelConfig,
            sea_orm::sea_query::Expr::value("<View><Text name=\"text\""),
        )
        .filter(entity::project::Column::Id.eq(other.project))
        .exec(&other.app.db)
        .await
        .expect("config set in the stand-in");
    let second = empty_project(&app).await;
    let (status, body) = app
        .post(
            &link_path(second),
            json!({"url": other.app.address, "token": other.token, "ls_project": other.project}),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(project_of(&app, second).await.label_config, "<View></View>");
}
