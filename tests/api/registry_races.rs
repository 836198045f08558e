//! The registry under concurrency (issue 18): concurrent changes of a prompt's deployed version
//! and status record a true history, and imports are bounded and idempotent per document.
use crate::helpers::fixtures::{connection, id_of, new_prompt, new_version};
use crate::helpers::reply::read;
use crate::helpers::{CLS, Reply, TestApp};
use futures_util::future::join_all;
use prompter::views::Paginated;
use prompter::views::prompts::PromptDetailView;
use prompter::views::registry::{CommentView, ImportedView};
use serde_json::{Value, json};

/// The (before, after) of each history entry of `kind`, oldest first, read from texts like
/// `Deployed v2 (was v1). Reason: …` or `Status paused (was draft). Reason: …`.
async fn history(app: &TestApp, prompt: i64, kind: &str) -> Vec<(String, String)> {
    let items: Vec<CommentView> = app
        .get(&format!("/api/prompts/{prompt}/comments"))
        .await
        .good();
    let prefix = if kind == "deployment" {
        "Deployed "
    } else {
        "Status "
    };
    let mut entries: Vec<(i64, String, String)> = items
        .iter()
        .filter(|c| c.kind.as_str() == kind)
        .map(|c| {
            let rest = c.text.strip_prefix(prefix).expect("entry text");
            let (after, rest) = rest.split_once(" (was ").expect("(was");
            let (before, _) = rest.split_once(").").expect(").");
            (c.id, before.to_string(), after.to_string())
        })
        .collect();
    entries.sort_by_key(|e| e.0);
    entries.into_iter().map(|(_, b, a)| (b, a)).collect()
}

/// Asserts that `entries` form a chain from `first` to `last`: each entry's "was" is the
/// previous entry's new value.
fn assert_chain(entries: &[(String, String)], first: &str, last: &str) {
    assert!(!entries.is_empty(), "no history recorded");
    let mut current = first.to_string();
    for (n, (before, after)) in entries.iter().enumerate() {
        assert_eq!(
            before, &current,
            "entry {n} says \"was {before}\", but the state then was {current}: {entries:?}"
        );
        current = after.clone();
    }
    assert_eq!(
        current, last,
        "the newest entry disagrees with the final state: {entries:?}"
    );
}

#[tokio::test]
async fn concurrent_registry_changes_record_a_true_history() {
    let app = TestApp::spawn().await;
    let project = app.project(CLS).await;
    let prompt = id_of(
        &new_prompt(
            &app,
            json!({"title": "Raced", "associated_projects": [project]}),
        )
        .await,
    );
    let connection = connection(&app).await;
    let mut versions = vec![];
    for title in ["a", "b", "c"] {
        versions.push(id_of(&new_version(&app, prompt, connection, title).await));
    }
    let statuses = ["deployed", "paused", "draft", "archived"];
    let path = format!("/api/prompts/{prompt}/");
    let changes = (0..10).map(|i| {
        let body = json!({
            "deployed_version": versions[i % 3],
            "status": statuses[i % 4],
            "reason": format!("change {i}"),
        });
        let (app, path) = (&app, &path);
        async move { app.patch(path, body).await }
    });
    for (status, body) in join_all(changes).await {
        assert_eq!(status, 200, "{body}");
    }
    let last: PromptDetailView = app.get(&path).await.good();
    let deployed = last.prompt.deployed_version.expect("deployed_version");
    let title = ["a", "b", "c"][versions
        .iter()
        .position(|v| *v == deployed)
        .expect("a version")];
    assert_chain(
        &history(&app, prompt, "deployment").await,
        "the newest version",
        title,
    );
    let final_status = last.prompt.status.as_str();
    assert_chain(
        &history(&app, prompt, "status").await,
        "draft",
        final_status,
    );
}

/// An exported document of a prompt with two versions and `examples` ground-truth examples.
fn document(examples: usize) -> Value {
    let version = |title: &str| {
        json!({"title": title, "prompt": "Classify: {text}", "provider": "OpenAI",
               "provider_model_id": "gpt-4o-mini", "model_params": null,
               "max_few_shot_examples": null, "steps": null})
    };
    let examples: Vec<Value> = (0..examples)
        .map(|i| {
            json!({"data": {"text": format!("review {i}")},
                   "result": [{"from_name": "sentiment", "to_name": "text", "type": "choices",
                               "value": {"choices": ["Positive"]}}]})
        })
        .collect();
    json!({
        "format": "prompter.prompt",
        "format_version": 1,
        "prompt": {"title": "Imported", "description": null, "skill_name": "TextClassification",
                   "input_fields": ["text"], "output_classes": ["Positive", "Negative"],
                   "tags": ["a"], "domain": null, "status": "draft", "parameters": null,
                   "deployed_version": "v2"},
        "versions": [version("v1"), version("v2")],
        "schedules": [],
        "examples": examples,
    })
}

/// The number of prompts of the admin's organization.
async fn prompt_count(app: &TestApp) -> usize {
    app.get("/api/prompts/?page_size=100")
        .await
        .good::<Paginated<PromptDetailView>>()
        .results
        .len()
}

/// The tasks of `project` whose text is `text`, and the ground-truth annotations they have.
async fn ground_truths_of(app: &TestApp, project: i64, text: &str) -> (usize, usize) {
    use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
    let tasks: Vec<i64> = entity::task::Entity::find()
        .filter(entity::task::Column::ProjectId.eq(project))
        .all(&app.db)
        .await
        .expect("tasks")
        .into_iter()
        .filter(|t| t.data["text"] == text)
        .map(|t| t.id)
        .collect();
    let truths = entity::annotation::Entity::find()
        .filter(entity::annotation::Column::TaskId.is_in(tasks.clone()))
        .filter(entity::annotation::Column::GroundTruth.eq(true))
        .count(&app.db)
        .await
        .expect("annotations");
    (tasks.len(), truths as usize)
}

#[tokio::test]
async fn concurrent_identical_imports_make_one_prompt_and_one_set_of_examples() {
    let app = TestApp::spawn().await;
    let project = app.project(CLS).await;
    connection(&app).await;
    let before = prompt_count(&app).await;
    let body = json!({"document": document(20), "project": project});
    let imports = (0..10).map(|_| {
        let (app, body) = (&app, body.clone());
        async move { app.post("/api/prompts/import", body).await }
    });
    let answers = join_all(imports).await;
    let mut created = 0;
    let mut prompts = std::collections::BTreeSet::new();
    for (status, body) in &answers {
        assert!(*status == 201 || *status == 200, "{status}: {body}");
        if *status == 201 {
            created += 1;
        }
        prompts.insert(read::<ImportedView>(body.clone()).prompt);
    }
    assert_eq!(
        created, 1,
        "one import creates, the others find it: {answers:?}"
    );
    assert_eq!(prompts.len(), 1, "{answers:?}");
    assert_eq!(prompt_count(&app).await, before + 1);
    for i in [0, 7, 19] {
        assert_eq!(
            ground_truths_of(&app, project, &format!("review {i}")).await,
            (1, 1),
            "example {i} is ground truth once"
        );
    }
    // The same document again answers with the first prompt; a copy is a new prompt whose
    // examples are still not added twice.
    let first = read::<ImportedView>(answers[0].1.clone()).prompt;
    let again: ImportedView = app.post("/api/prompts/import", body.clone()).await.good();
    assert_eq!(again.prompt, first);
    let copy: ImportedView = app
        .post("/api/prompts/import?copy=true", body.clone())
        .await
        .created();
    assert_ne!(copy.prompt, first);
    assert_eq!(prompt_count(&app).await, before + 2);
    assert_eq!(ground_truths_of(&app, project, "review 3").await, (1, 1));
    // Concurrent copies with new examples: each a prompt, each new example added once.
    let mut more = body.clone();
    more["document"]["examples"] = document(25)["examples"].clone();
    let copies = (0..4).map(|_| {
        let (app, more) = (&app, more.clone());
        async move { app.post("/api/prompts/import?copy=true", more).await }
    });
    for (status, answer) in join_all(copies).await {
        assert_eq!(status, 201, "{answer}");
    }
    assert_eq!(prompt_count(&app).await, before + 6);
    for i in [3, 20, 24] {
        assert_eq!(
            ground_truths_of(&app, project, &format!("review {i}")).await,
            (1, 1),
            "example {i} is ground truth once"
        );
    }
}

#[tokio::test]
async fn import_documents_over_a_bound_are_refused_naming_the_field() {
    let app = TestApp::spawn_with(|c| {
        c.engine.workers = 0;
        c.max_body_bytes = 16 * 1024 * 1024;
    })
    .await;
    let project = app.project(CLS).await;
    connection(&app).await;
    let before = prompt_count(&app).await;
    let with = |key: &str, value: Value| {
        let mut d = document(0);
        d[key] = value;
        json!({"document": d, "project": project})
    };
    let version = document(0)["versions"][0].clone();
    let step = json!({"name": "s", "prompt": "Classify: {text}", "output": "label"});
    let mut stepped = version.clone();
    stepped["steps"] = Value::Array(vec![step; 11]);
    let schedule = json!({"cron": "0 2 * * *", "timezone": "UTC", "version": null,
        "project_subset": "All", "only_missing_predictions": true, "status": "active"});
    let example = document(1)["examples"][0].clone();
    let mut big = version.clone();
    big["prompt"] = json!("x".repeat(6 * 1024 * 1024));
    for (field, body) in [
        (
            "versions",
            with("versions", Value::Array(vec![version.clone(); 501])),
        ),
        (
            "examples",
            with("examples", Value::Array(vec![example; 1001])),
        ),
        (
            "schedules",
            with("schedules", Value::Array(vec![schedule; 101])),
        ),
        ("steps", with("versions", json!([stepped]))),
        ("document", with("versions", json!([big]))),
    ] {
        let (status, answer) = app.post("/api/prompts/import", body).await;
        crate::helpers::fixtures::assert_field_error(status, &answer, field);
    }
    assert_eq!(prompt_count(&app).await, before, "nothing was written");
    // At the bounds, an import goes through.
    let answer: ImportedView = app
        .post(
            "/api/prompts/import",
            with("versions", {
                let mut v = vec![];
                for i in 0..500 {
                    let mut one = version.clone();
                    one["title"] = json!(format!("v{i}"));
                    v.push(one);
                }
                Value::Array(v)
            }),
        )
        .await
        .created();
    assert_eq!(answer.versions.len(), 500);
}
