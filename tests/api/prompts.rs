//! Tests of the prompt endpoints: create (title only, with projects, fields and classes),
//! validation against the associated projects' label configs, the paginated list (search,
//! ordering, counts, best score), get/patch, delete with its cascade and task recount,
//! compatible-projects, roles and organization scoping.
use crate::helpers::fixtures::{
    PROMPTS, assert_field_error, batch, batch_failed, fixture, ground_truth, hand_prediction,
    id_of, item, new_prompt, new_run, new_version, predictions_of, predictions_of_run, run_on,
    total_predictions,
};
use crate::helpers::{CLS, NER, TestApp, choice};
use reqwest::Method;
use serde_json::{Value, json};

// ---------------------------------------------------------------------------------------------
// Local helpers
// ---------------------------------------------------------------------------------------------

fn prompt_path(id: i64) -> String {
    format!("{PROMPTS}{id}/")
}

/// The ids of a paginated list's `results`.
fn result_ids(body: &Value) -> Vec<i64> {
    body["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(id_of)
        .collect()
}

/// Creates a project titled `title` with `config`.
async fn titled_project(app: &TestApp, title: &str, config: &str) -> i64 {
    let (status, body) = app
        .post(
            "/api/projects/",
            json!({"title": title, "label_config": config}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    id_of(&body)
}

/// A project of the other organization.
async fn foreign_project(app: &TestApp) -> i64 {
    let (status, body) = app
        .send(
            Method::POST,
            "/api/projects/",
            Some(&app.other_token),
            Some(&json!({"title": "theirs", "label_config": CLS})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    id_of(&body)
}

/// The prompt `id` as get returns it (asserts 200).
async fn get_prompt(app: &TestApp, id: i64) -> Value {
    let (status, body) = app.get(&prompt_path(id)).await;
    assert_eq!(status, 200, "{body}");
    body
}

// ---------------------------------------------------------------------------------------------
// Create
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn create_with_a_title_only() {
    let app = TestApp::spawn().await;
    let (_, me) = app.get("/api/current-user/whoami").await;
    let body = new_prompt(&app, json!({"title": "bare", "organization": 9999})).await;
    assert!(id_of(&body) > 0);
    assert_eq!(body["title"], "bare");
    assert_eq!(body["description"], Value::Null);
    assert_eq!(body["skill_name"], "TextClassification");
    assert_eq!(body["input_fields"], json!([]));
    assert_eq!(body["output_classes"], json!([]));
    assert_eq!(body["associated_projects"], json!([]));
    assert_eq!(body["organization"], me["active_organization"]);
    assert_eq!(body["created_by"]["email"], "admin@example.com");
    assert!(body["created_at"].is_string() && body["updated_at"].is_string());

    let got = get_prompt(&app, id_of(&body)).await;
    assert_eq!(got["title"], "bare");
    assert_eq!(got["versions_count"], 0);
    assert_eq!(got["runs_count"], 0);
    assert_eq!(got["best_score"], Value::Null);
    assert_eq!(got["associated_projects"], json!([]));

    // Explicit nulls are accepted for optional fields.
    let body = new_prompt(
        &app,
        json!({"title": "nulls", "description": null, "input_fields": null, "output_classes": null}),
    )
    .await;
    assert_eq!(body["input_fields"], json!([]));
}

#[tokio::test]
async fn create_with_projects_fields_and_classes() {
    let app = TestApp::spawn().await;
    let project = titled_project(&app, "cls", CLS).await;
    let body = new_prompt(
        &app,
        json!({"title": "Sentiment", "description": "d", "skill_name": "TextClassification",
               "associated_projects": [project], "input_fields": ["text"],
               "output_classes": ["Negative", "Positive"]}),
    )
    .await;
    assert_eq!(body["associated_projects"], json!([project]));
    assert_eq!(body["input_fields"], json!(["text"]));
    assert_eq!(body["output_classes"], json!(["Negative", "Positive"]));
    assert_eq!(body["description"], "d");

    let got = get_prompt(&app, id_of(&body)).await;
    assert_eq!(
        got["associated_projects"],
        json!([{"id": project, "title": "cls"}])
    );

    // NER, with a subset of the labels.
    let ner = titled_project(&app, "ner", NER).await;
    let body = new_prompt(
        &app,
        json!({"title": "Entities", "skill_name": "NamedEntityRecognition",
               "associated_projects": [ner], "input_fields": ["text"], "output_classes": ["PER"]}),
    )
    .await;
    assert_eq!(body["skill_name"], "NamedEntityRecognition");
    assert_eq!(body["associated_projects"], json!([ner]));
}

#[tokio::test]
async fn create_validates_title_and_skill() {
    let app = TestApp::spawn().await;
    let (status, body) = app.post(PROMPTS, json!({})).await;
    assert_field_error(status, &body, "title");
    let (status, body) = app.post(PROMPTS, json!({"title": "   "})).await;
    assert_field_error(status, &body, "title");
    let (status, body) = app.post(PROMPTS, json!({"title": "x".repeat(501)})).await;
    assert_field_error(status, &body, "title");
    new_prompt(&app, json!({"title": "x".repeat(500)})).await;
    let (status, body) = app
        .post(
            PROMPTS,
            json!({"title": "t", "skill_name": "Summarization"}),
        )
        .await;
    assert_field_error(status, &body, "skill_name");
    // The message names the skills there are.
    assert_eq!(
        body["validation_errors"]["skill_name"],
        json!([
            "\"Summarization\" is not a valid choice: one of TextClassification, NamedEntityRecognition."
        ]),
        "{body}"
    );
    // Nothing but the 500-character prompt was created.
    let (_, list) = app.get(PROMPTS).await;
    assert_eq!(list["count"], 1);
}

#[tokio::test]
async fn create_rejects_unknown_and_foreign_projects() {
    let app = TestApp::spawn().await;
    let mine = app.project(CLS).await;
    let theirs = foreign_project(&app).await;
    for ids in [json!([999_999]), json!([theirs]), json!([mine, theirs])] {
        let (status, body) = app
            .post(PROMPTS, json!({"title": "t", "associated_projects": ids}))
            .await;
        assert_field_error(status, &body, "associated_projects");
    }
    let (_, list) = app.get(PROMPTS).await;
    assert_eq!(list["count"], 0);
}

#[tokio::test]
async fn create_checks_fields_and_classes_against_the_config() {
    let app = TestApp::spawn().await;
    let project = app.project(CLS).await;
    // A field the config does not read.
    let (status, body) = app
        .post(
            PROMPTS,
            json!({"title": "t", "associated_projects": [project], "input_fields": ["body"]}),
        )
        .await;
    assert_field_error(status, &body, "input_fields");
    // A class the config does not offer.
    let (status, body) = app
        .post(
            PROMPTS,
            json!({"title": "t", "associated_projects": [project], "output_classes": ["Neutral"]}),
        )
        .await;
    assert_field_error(status, &body, "output_classes");
    // NER labels are not in the classification config.
    let (status, body) = app
        .post(
            PROMPTS,
            json!({"title": "t", "associated_projects": [project], "output_classes": ["PER"]}),
        )
        .await;
    assert_field_error(status, &body, "output_classes");
    // Not a list.
    for bad in [json!("text"), json!({"text": 1}), json!(3)] {
        let (status, body) = app
            .post(PROMPTS, json!({"title": "t", "input_fields": bad}))
            .await;
        assert_field_error(status, &body, "input_fields");
    }
    // A list with an item that is not a string: the error names the item.
    let (status, body) = app
        .post(PROMPTS, json!({"title": "t", "input_fields": ["text", 2]}))
        .await;
    assert_field_error(status, &body, "input_fields[1]");
    let (status, body) = app
        .post(PROMPTS, json!({"title": "t", "output_classes": "Positive"}))
        .await;
    assert_field_error(status, &body, "output_classes");
    let (_, list) = app.get(PROMPTS).await;
    assert_eq!(list["count"], 0);
    // Without projects the lists are stored as given.
    let body = new_prompt(
        &app,
        json!({"title": "free", "input_fields": ["anything"], "output_classes": ["X"]}),
    )
    .await;
    assert_eq!(body["input_fields"], json!(["anything"]));
}

// ---------------------------------------------------------------------------------------------
// List
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn list_paginates_with_count_and_links() {
    let app = TestApp::spawn().await;
    let mut ids = vec![];
    for title in ["a", "b", "c"] {
        ids.push(id_of(&new_prompt(&app, json!({"title": title})).await));
    }
    let (status, body) = app.get(&format!("{PROMPTS}?page_size=2")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["count"], 3);
    assert_eq!(body["results"].as_array().expect("results").len(), 2);
    assert!(
        body["next"].as_str().is_some_and(|n| n.contains("page=2")),
        "{body}"
    );
    assert_eq!(body["previous"], Value::Null);
    // Default order: newest first.
    assert_eq!(result_ids(&body), vec![ids[2], ids[1]]);
    let (status, body) = app.get(&format!("{PROMPTS}?page_size=2&page=2")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(result_ids(&body), vec![ids[0]]);
    assert_eq!(body["next"], Value::Null);
    assert!(body["previous"].is_string());
    // The no-slash path works too.
    let (status, body) = app.get("/api/prompts").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["count"], 3);
}

#[tokio::test]
async fn list_searches_title_and_description_and_orders() {
    let app = TestApp::spawn().await;
    let sentiment = id_of(&new_prompt(&app, json!({"title": "Sentiment"})).await);
    let other = id_of(
        &new_prompt(
            &app,
            json!({"title": "Other", "description": "a SENTIMENT helper"}),
        )
        .await,
    );
    let entities = id_of(&new_prompt(&app, json!({"title": "Entities"})).await);
    let (_, body) = app.get(&format!("{PROMPTS}?search=sent")).await;
    assert_eq!(body["count"], 2);
    let mut found = result_ids(&body);
    found.sort_unstable();
    assert_eq!(found, vec![sentiment, other]);
    let (_, body) = app
        .get(&format!("{PROMPTS}?search=Sent&page=1&page_size=10"))
        .await;
    assert_eq!(body["count"], 2);
    let (_, body) = app.get(&format!("{PROMPTS}?search=nothing")).await;
    assert_eq!(body["count"], 0);
    assert_eq!(body["results"], json!([]));

    let (_, body) = app.get(&format!("{PROMPTS}?ordering=title")).await;
    assert_eq!(result_ids(&body), vec![entities, other, sentiment]);
    let (_, body) = app.get(&format!("{PROMPTS}?ordering=-title")).await;
    assert_eq!(result_ids(&body), vec![sentiment, other, entities]);
    let (_, body) = app.get(&format!("{PROMPTS}?ordering=id")).await;
    assert_eq!(result_ids(&body), vec![sentiment, other, entities]);
    let (_, body) = app.get(&format!("{PROMPTS}?ordering=-id")).await;
    assert_eq!(result_ids(&body), vec![entities, other, sentiment]);
}

#[tokio::test]
async fn list_shows_projects_counts_and_best_score() {
    let app = TestApp::spawn().await;
    let f = fixture(&app, CLS, &["good", "bad"]).await;
    ground_truth(&app, f.tasks[0], choice("Positive")).await;
    ground_truth(&app, f.tasks[1], choice("Negative")).await;
    let v2 = id_of(&new_version(&app, f.prompt, f.connection, "v2").await);
    // v1 gets both right, v2 one of two.
    let run1 = run_on(&app, &f, f.version, "HasGT").await;
    batch(
        &app,
        run1,
        json!([
            item(f.tasks[0], json!({"sentiment": "Positive"})),
            item(f.tasks[1], json!({"sentiment": "Negative"}))
        ]),
    )
    .await;
    let run2 = run_on(&app, &f, v2, "HasGT").await;
    batch(
        &app,
        run2,
        json!([
            item(f.tasks[0], json!({"sentiment": "Positive"})),
            item(f.tasks[1], json!({"sentiment": "Positive"}))
        ]),
    )
    .await;
    new_run(
        &app,
        f.prompt,
        v2,
        json!({"project": f.project, "project_subset": "All"}),
    )
    .await;
    let bare = id_of(&new_prompt(&app, json!({"title": "bare"})).await);

    let (status, body) = app.get(PROMPTS).await;
    assert_eq!(status, 200, "{body}");
    let items = body["results"].as_array().expect("results");
    let sentiment = items.iter().find(|p| p["id"] == f.prompt).expect("listed");
    assert_eq!(
        sentiment["associated_projects"],
        json!([{"id": f.project, "title": "test"}])
    );
    assert_eq!(sentiment["versions_count"], 2);
    assert_eq!(sentiment["runs_count"], 3);
    assert_eq!(sentiment["best_score"], 1.0);
    let bare = items.iter().find(|p| p["id"] == bare).expect("listed");
    assert_eq!(bare["versions_count"], 0);
    assert_eq!(bare["runs_count"], 0);
    assert_eq!(bare["best_score"], Value::Null);
    assert_eq!(bare["associated_projects"], json!([]));
    let got = get_prompt(&app, f.prompt).await;
    assert_eq!(got["best_score"], 1.0);
    assert_eq!(got["runs_count"], 3);
}

// ---------------------------------------------------------------------------------------------
// Get, patch
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn get_returns_the_detail_and_404_for_unknown() {
    let app = TestApp::spawn().await;
    let project = titled_project(&app, "P", CLS).await;
    let id = id_of(
        &new_prompt(
            &app,
            json!({"title": "T", "associated_projects": [project], "output_classes": ["Positive"]}),
        )
        .await,
    );
    let body = get_prompt(&app, id).await;
    assert_eq!(body["id"], id);
    assert_eq!(body["title"], "T");
    assert_eq!(body["skill_name"], "TextClassification");
    assert_eq!(body["output_classes"], json!(["Positive"]));
    assert_eq!(
        body["associated_projects"],
        json!([{"id": project, "title": "P"}])
    );
    assert_eq!(body["versions_count"], 0);
    assert_eq!(body["created_by"]["email"], "admin@example.com");
    let (status, _) = app.get(&prompt_path(999_999)).await;
    assert_eq!(status, 404);
    // The no-slash variant.
    let (status, _) = app.get(&format!("{PROMPTS}{id}")).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn patch_updates_fields_and_replaces_projects() {
    let app = TestApp::spawn().await;
    let first = titled_project(&app, "first", CLS).await;
    let second = titled_project(&app, "second", CLS).await;
    let created = new_prompt(
        &app,
        json!({"title": "T", "description": "old", "associated_projects": [first]}),
    )
    .await;
    let id = id_of(&created);
    let (status, body) = app
        .patch(&prompt_path(id), json!({"description": "d"}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["description"], "d");
    assert_eq!(body["title"], "T");
    assert_eq!(body["associated_projects"], json!([first]));

    let (status, body) = app
        .patch(
            &prompt_path(id),
            json!({"title": "New", "associated_projects": [second], "input_fields": ["text"],
                   "output_classes": ["Negative"]}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["title"], "New");
    assert_eq!(body["associated_projects"], json!([second]));
    assert_eq!(body["input_fields"], json!(["text"]));
    assert_eq!(body["output_classes"], json!(["Negative"]));
    let got = get_prompt(&app, id).await;
    assert_eq!(
        got["associated_projects"],
        json!([{"id": second, "title": "second"}])
    );
    // Both, then none.
    let (status, body) = app
        .patch(
            &prompt_path(id),
            json!({"associated_projects": [first, second]}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let mut projects: Vec<i64> = body["associated_projects"]
        .as_array()
        .expect("ids")
        .iter()
        .filter_map(Value::as_i64)
        .collect();
    projects.sort_unstable();
    assert_eq!(projects, vec![first, second]);
    let (status, body) = app
        .patch(&prompt_path(id), json!({"associated_projects": []}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["associated_projects"], json!([]));
    // description null clears it.
    let (status, body) = app
        .patch(&prompt_path(id), json!({"description": null}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["description"], Value::Null);
}

#[tokio::test]
async fn patch_reruns_the_checks() {
    let app = TestApp::spawn().await;
    let cls = app.project(CLS).await;
    let ner = app.project(NER).await;
    let theirs = foreign_project(&app).await;
    let id = id_of(
        &new_prompt(
            &app,
            json!({"title": "T", "associated_projects": [cls], "input_fields": ["text"],
                   "output_classes": ["Positive"]}),
        )
        .await,
    );
    // The existing classes against a new project.
    let (status, body) = app
        .patch(&prompt_path(id), json!({"associated_projects": [ner]}))
        .await;
    assert_field_error(status, &body, "output_classes");
    // New classes against the existing project.
    let (status, body) = app
        .patch(&prompt_path(id), json!({"output_classes": ["PER"]}))
        .await;
    assert_field_error(status, &body, "output_classes");
    let (status, body) = app
        .patch(&prompt_path(id), json!({"input_fields": ["body"]}))
        .await;
    assert_field_error(status, &body, "input_fields");
    let (status, body) = app
        .patch(&prompt_path(id), json!({"input_fields": "text"}))
        .await;
    assert_field_error(status, &body, "input_fields");
    for ids in [json!([theirs]), json!([999_999])] {
        let (status, body) = app
            .patch(&prompt_path(id), json!({"associated_projects": ids}))
            .await;
        assert_field_error(status, &body, "associated_projects");
    }
    for bad in [json!({"title": ""}), json!({"title": "y".repeat(501)})] {
        let (status, body) = app.patch(&prompt_path(id), bad).await;
        assert_field_error(status, &body, "title");
    }
    let (status, body) = app
        .patch(&prompt_path(id), json!({"skill_name": "Other"}))
        .await;
    assert_field_error(status, &body, "skill_name");
    // Nothing changed.
    let got = get_prompt(&app, id).await;
    assert_eq!(got["title"], "T");
    assert_eq!(got["output_classes"], json!(["Positive"]));
    assert_eq!(got["associated_projects"][0]["id"], cls);
    // Classes and projects changed together pass.
    let (status, body) = app
        .patch(
            &prompt_path(id),
            json!({"associated_projects": [ner], "output_classes": ["PER", "ORG"],
                   "skill_name": "NamedEntityRecognition"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["skill_name"], "NamedEntityRecognition");
    let (status, _) = app
        .patch(&prompt_path(999_999), json!({"title": "x"}))
        .await;
    assert_eq!(status, 404);
}

// ---------------------------------------------------------------------------------------------
// Delete
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn delete_cascades_to_versions_runs_and_their_predictions() {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let app = TestApp::spawn().await;
    let f = fixture(&app, CLS, &["one", "two"]).await;
    let run = run_on(&app, &f, f.version, "All").await;
    batch(
        &app,
        run,
        json!([item(f.tasks[0], json!({"sentiment": "Positive"}))]),
    )
    .await;
    batch_failed(
        &app,
        run,
        json!([{"task_id": f.tasks[1], "message": "boom", "error_type": "Timeout"}]),
    )
    .await;
    let by_hand = hand_prediction(&app, f.tasks[0], choice("Negative")).await;
    assert_eq!(total_predictions(&app, f.tasks[0]).await, 2);
    // A second prompt's run on the same project is untouched.
    let other = id_of(&new_prompt(&app, json!({"title": "Other"})).await);
    let other_version = id_of(&new_version(&app, other, f.connection, "v1").await);
    let other_run = id_of(
        &new_run(
            &app,
            other,
            other_version,
            json!({"project": f.project, "project_subset": "All"}),
        )
        .await,
    );
    batch(
        &app,
        other_run,
        json!([item(f.tasks[1], json!({"sentiment": "Negative"}))]),
    )
    .await;

    let (status, body) = app.delete(&prompt_path(f.prompt)).await;
    assert_eq!(status, 204, "{body}");
    let (status, _) = app.get(&prompt_path(f.prompt)).await;
    assert_eq!(status, 404);
    let (status, _) = app
        .get(&format!("/api/prompts/{}/versions", f.prompt))
        .await;
    assert_eq!(status, 404);
    let versions = entity::model_version::Entity::find()
        .filter(entity::model_version::Column::ParentModelId.eq(f.prompt))
        .all(&app.db)
        .await
        .expect("query");
    assert!(versions.is_empty());
    assert!(
        entity::model_run::Entity::find_by_id(run)
            .one(&app.db)
            .await
            .expect("query")
            .is_none()
    );
    let failures = entity::failed_prediction::Entity::find()
        .filter(entity::failed_prediction::Column::ModelRunId.eq(run))
        .all(&app.db)
        .await
        .expect("query");
    assert!(failures.is_empty());
    let left: Vec<i64> = predictions_of(&app, f.project)
        .await
        .iter()
        .map(id_of)
        .collect();
    assert_eq!(left.len(), 2, "the hand-made and the other prompt's");
    assert!(left.contains(&by_hand));
    assert_eq!(
        predictions_of_run(&app, f.project, other_run).await.len(),
        1
    );
    assert_eq!(total_predictions(&app, f.tasks[0]).await, 1);
    assert_eq!(total_predictions(&app, f.tasks[1]).await, 1);
    // The project stays.
    let (status, _) = app.get(&format!("/api/projects/{}/", f.project)).await;
    assert_eq!(status, 200);
    let (status, _) = app.delete(&prompt_path(f.prompt)).await;
    assert_eq!(status, 404);
}

// ---------------------------------------------------------------------------------------------
// Compatible projects
// ---------------------------------------------------------------------------------------------

const MIXED: &str = r#"<View><Text name="text" value="$text"/><Choices name="sentiment" toName="text"><Choice value="Positive"/></Choices><Labels name="label" toName="text"><Label value="PER"/></Labels></View>"#;
const IMAGE_CHOICES: &str = r#"<View><Image name="image" value="$image"/><Choices name="kind" toName="image"><Choice value="Cat"/><Choice value="Dog"/></Choices></View>"#;
const HYPERTEXT_CHOICES: &str = r#"<View><HyperText name="html" value="$html"/><Choices name="kind" toName="html"><Choice value="Spam"/><Choice value="Ham"/></Choices></View>"#;

#[tokio::test]
async fn compatible_projects_follow_the_control_type() {
    let app = TestApp::spawn().await;
    let cls = titled_project(&app, "cls", CLS).await;
    let ner = titled_project(&app, "ner", NER).await;
    let mixed = titled_project(&app, "mixed", MIXED).await;
    let image = titled_project(&app, "image", IMAGE_CHOICES).await;
    let html = titled_project(&app, "html", HYPERTEXT_CHOICES).await;
    let _theirs = foreign_project(&app).await;

    let sorted = |body: &Value| {
        let mut ids = result_ids(body);
        ids.sort_unstable();
        ids
    };
    let (status, body) = app.get("/api/prompts/compatible-projects").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["count"], 3, "{body}");
    // Image classification is a TextClassification skill too, as in LSE Prompts.
    assert_eq!(sorted(&body), vec![cls, image, html]);
    let listed = &body["results"].as_array().expect("results")[0];
    assert!(listed["title"].is_string() && listed["label_config"].is_string());
    let (_, body) = app
        .get("/api/prompts/compatible-projects?project_type=TextClassification")
        .await;
    assert_eq!(sorted(&body), vec![cls, image, html]);
    let (status, body) = app
        .get("/api/prompts/compatible-projects?project_type=NamedEntityRecognition")
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(sorted(&body), vec![ner]);
    assert!(!sorted(&body).contains(&mixed) && !sorted(&body).contains(&image));
    // Annotations are not required; filters and pagination apply.
    let (_, body) = app
        .get(&format!("/api/prompts/compatible-projects?ids={cls},{ner}"))
        .await;
    assert_eq!(sorted(&body), vec![cls]);
    let (_, body) = app.get("/api/prompts/compatible-projects?title=HTM").await;
    assert_eq!(sorted(&body), vec![html]);
    let (_, body) = app
        .get("/api/prompts/compatible-projects?page_size=1")
        .await;
    assert_eq!(body["count"], 3);
    assert_eq!(body["results"].as_array().expect("results").len(), 1);
    assert!(body["next"].is_string());
    // A bad project type.
    let (status, body) = app
        .get("/api/prompts/compatible-projects?project_type=Summarization")
        .await;
    assert_field_error(status, &body, "project_type");
    // The other organization sees none of these.
    let (status, body) = app
        .send(
            Method::GET,
            "/api/prompts/compatible-projects",
            Some(&app.other_token),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(!sorted(&body).contains(&cls));
    assert_eq!(body["count"], 1, "only their own project");
}

// ---------------------------------------------------------------------------------------------
// Roles and organizations
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn annotators_may_read_but_not_write() {
    let app = TestApp::spawn().await;
    let id = id_of(&new_prompt(&app, json!({"title": "T"})).await);
    let token = Some(app.annotator_token.as_str());
    let (status, body) = app
        .send(
            Method::POST,
            PROMPTS,
            token,
            Some(&json!({"title": "mine"})),
        )
        .await;
    assert_eq!(status, 403, "{body}");
    let (status, _) = app
        .send(
            Method::PATCH,
            &prompt_path(id),
            token,
            Some(&json!({"title": "changed"})),
        )
        .await;
    assert_eq!(status, 403);
    let (status, _) = app
        .send(Method::DELETE, &prompt_path(id), token, None)
        .await;
    assert_eq!(status, 403);
    let (status, body) = app.send(Method::GET, &prompt_path(id), token, None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["title"], "T");
    let (status, body) = app.send(Method::GET, PROMPTS, token, None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["count"], 1);
    // Without a token: 401.
    let (status, _) = app.send(Method::GET, PROMPTS, None, None).await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn another_organizations_prompts_are_404() {
    let app = TestApp::spawn().await;
    let id = id_of(&new_prompt(&app, json!({"title": "T"})).await);
    let token = Some(app.other_token.as_str());
    let path = prompt_path(id);
    let (status, _) = app.send(Method::GET, &path, token, None).await;
    assert_eq!(status, 404);
    let (status, _) = app
        .send(
            Method::PATCH,
            &path,
            token,
            Some(&json!({"title": "theirs"})),
        )
        .await;
    assert_eq!(status, 404);
    let (status, _) = app.send(Method::DELETE, &path, token, None).await;
    assert_eq!(status, 404);
    let (status, body) = app.send(Method::GET, PROMPTS, token, None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["count"], 0);
    // Still there, unchanged.
    assert_eq!(get_prompt(&app, id).await["title"], "T");
}
