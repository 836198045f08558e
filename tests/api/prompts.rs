//! Tests of the prompt endpoints: create (title only, with projects, fields and classes),
//! validation against the associated projects' label configs, the paginated list (search,
//! ordering, counts, best score), get/patch, delete with its cascade and task recount,
//! compatible-projects, roles and organization scoping.
use crate::helpers::fixtures::{
    PROMPTS, batch, batch_failed, fixture, ground_truth, hand_prediction, id_of, item, new_run,
    new_version, predictions_of, predictions_of_run, run_on, total_predictions,
};
use crate::helpers::reply::read;
use crate::helpers::{CLS, NER, Reply, TestApp, bad_field, choice, field_errors};
use entity::enums::Skill;
use prompter::views::Paginated;
use prompter::views::predictions::PredictionView;
use prompter::views::projects::ProjectView;
use prompter::views::prompts::{PromptDetailView, PromptView};
use prompter::views::users::WhoAmIView;
use reqwest::Method;
use serde_json::{Value, json};

// ---------------------------------------------------------------------------------------------
// Local helpers
// ---------------------------------------------------------------------------------------------

fn prompt_path(id: i64) -> String {
    format!("{PROMPTS}{id}/")
}

/// A page of the prompt list.
type PromptPage = Paginated<PromptDetailView>;

/// The ids of a page of the prompt list.
fn result_ids(page: &PromptPage) -> Vec<i64> {
    page.results.iter().map(|p| p.prompt.id).collect()
}

/// The ids of a page of compatible projects.
fn project_ids(page: &Paginated<ProjectView>) -> Vec<i64> {
    page.results.iter().map(|p| p.id).collect()
}

/// The compatible projects at `path` (asserts 200).
async fn compatible(app: &TestApp, path: &str) -> Paginated<ProjectView> {
    app.get(path).await.good()
}

/// A prompt's projects as `(id, title)`.
fn projects_of(prompt: &PromptDetailView) -> Vec<(i64, Option<&str>)> {
    prompt
        .associated_projects
        .iter()
        .map(|p| (p.id, p.title.as_deref()))
        .collect()
}

/// Creates a prompt as the admin and returns it (asserts 201).
async fn new_prompt(app: &TestApp, body: Value) -> PromptView {
    app.post(PROMPTS, body).await.created()
}

/// The prompt list at `path`, as the admin (asserts 200).
async fn list(app: &TestApp, path: &str) -> PromptPage {
    app.get(path).await.good()
}

/// Creates a project titled `title` with `config`.
async fn titled_project(app: &TestApp, title: &str, config: &str) -> i64 {
    let project: ProjectView = app
        .post(
            "/api/projects/",
            json!({"title": title, "label_config": config}),
        )
        .await
        .created();
    project.id
}

/// A project of the other organization.
async fn foreign_project(app: &TestApp) -> i64 {
    let project = app
        .send(
            Method::POST,
            "/api/projects/",
            Some(&app.other_token),
            Some(&json!({"title": "theirs", "label_config": CLS})),
        )
        .await
        .created::<ProjectView>();
    project.id
}

/// The prompt `id` as get returns it (asserts 200).
async fn get_prompt(app: &TestApp, id: i64) -> PromptDetailView {
    app.get(&prompt_path(id)).await.good()
}

// ---------------------------------------------------------------------------------------------
// Create
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn create_with_a_title_only() {
    let app = TestApp::spawn().await;
    let me: WhoAmIView = app.get("/api/current-user/whoami").await.good();
    // The typed read also checks `created_at` and `updated_at` are timestamps.
    let body = new_prompt(&app, json!({"title": "bare", "organization": 9999})).await;
    let p = &body.prompt;
    assert!(p.id > 0);
    assert_eq!(p.title, "bare");
    assert_eq!(p.description, None);
    assert_eq!(p.skill_name, Some(Skill::TextClassification));
    assert!(p.input_fields.is_empty());
    assert!(p.output_classes.is_empty());
    assert!(body.associated_projects.is_empty());
    assert_eq!(p.organization, me.active_organization);
    assert_eq!(
        p.created_by.as_ref().map(|u| u.email.as_str()),
        Some("admin@example.com")
    );

    let got = get_prompt(&app, p.id).await;
    assert_eq!(got.prompt.title, "bare");
    assert_eq!(got.versions_count, 0);
    assert_eq!(got.runs_count, 0);
    assert_eq!(got.best_score, None);
    assert!(got.associated_projects.is_empty());

    // Explicit nulls are accepted for optional fields.
    let body = new_prompt(
        &app,
        json!({"title": "nulls", "description": null, "input_fields": null, "output_classes": null}),
    )
    .await;
    assert!(body.prompt.input_fields.is_empty());
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
    assert_eq!(body.associated_projects, [project]);
    assert_eq!(body.prompt.input_fields, ["text"]);
    assert_eq!(body.prompt.output_classes, ["Negative", "Positive"]);
    assert_eq!(body.prompt.description.as_deref(), Some("d"));

    let got = get_prompt(&app, body.prompt.id).await;
    assert_eq!(projects_of(&got), [(project, Some("cls"))]);

    // NER, with a subset of the labels.
    let ner = titled_project(&app, "ner", NER).await;
    let body = new_prompt(
        &app,
        json!({"title": "Entities", "skill_name": "NamedEntityRecognition",
               "associated_projects": [ner], "input_fields": ["text"], "output_classes": ["PER"]}),
    )
    .await;
    assert_eq!(body.prompt.skill_name, Some(Skill::NamedEntityRecognition));
    assert_eq!(body.associated_projects, [ner]);
}

#[tokio::test]
async fn create_validates_title_and_skill() {
    let app = TestApp::spawn().await;
    bad_field(app.post(PROMPTS, json!({})).await, "title");
    bad_field(app.post(PROMPTS, json!({"title": "   "})).await, "title");
    bad_field(
        app.post(PROMPTS, json!({"title": "x".repeat(501)})).await,
        "title",
    );
    new_prompt(&app, json!({"title": "x".repeat(500)})).await;
    let error = bad_field(
        app.post(
            PROMPTS,
            json!({"title": "t", "skill_name": "Summarization"}),
        )
        .await,
        "skill_name",
    );
    // The message names the skills there are.
    assert_eq!(
        field_errors(&error, "skill_name"),
        [
            "\"Summarization\" is not a valid choice: one of TextClassification, NamedEntityRecognition."
        ],
        "{error:?}"
    );
    // Nothing but the 500-character prompt was created.
    assert_eq!(list(&app, PROMPTS).await.count, 1);
}

#[tokio::test]
async fn create_rejects_unknown_and_foreign_projects() {
    let app = TestApp::spawn().await;
    let mine = app.project(CLS).await;
    let theirs = foreign_project(&app).await;
    for ids in [json!([999_999]), json!([theirs]), json!([mine, theirs])] {
        bad_field(
            app.post(PROMPTS, json!({"title": "t", "associated_projects": ids}))
                .await,
            "associated_projects",
        );
    }
    assert_eq!(list(&app, PROMPTS).await.count, 0);
}

#[tokio::test]
async fn create_checks_fields_and_classes_against_the_config() {
    let app = TestApp::spawn().await;
    let project = app.project(CLS).await;
    // A field the config does not read.
    bad_field(
        app.post(
            PROMPTS,
            json!({"title": "t", "associated_projects": [project], "input_fields": ["body"]}),
        )
        .await,
        "input_fields",
    );
    // A class the config does not offer.
    bad_field(
        app.post(
            PROMPTS,
            json!({"title": "t", "associated_projects": [project], "output_classes": ["Neutral"]}),
        )
        .await,
        "output_classes",
    );
    // NER labels are not in the classification config.
    bad_field(
        app.post(
            PROMPTS,
            json!({"title": "t", "associated_projects": [project], "output_classes": ["PER"]}),
        )
        .await,
        "output_classes",
    );
    // Not a list.
    for bad in [json!("text"), json!({"text": 1}), json!(3)] {
        bad_field(
            app.post(PROMPTS, json!({"title": "t", "input_fields": bad}))
                .await,
            "input_fields",
        );
    }
    // A list with an item that is not a string: the error names the item.
    bad_field(
        app.post(PROMPTS, json!({"title": "t", "input_fields": ["text", 2]}))
            .await,
        "input_fields[1]",
    );
    bad_field(
        app.post(PROMPTS, json!({"title": "t", "output_classes": "Positive"}))
            .await,
        "output_classes",
    );
    assert_eq!(list(&app, PROMPTS).await.count, 0);
    // Without projects the lists are stored as given.
    let body = new_prompt(
        &app,
        json!({"title": "free", "input_fields": ["anything"], "output_classes": ["X"]}),
    )
    .await;
    assert_eq!(body.prompt.input_fields, ["anything"]);
}

// ---------------------------------------------------------------------------------------------
// List
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn list_paginates_with_count_and_links() {
    let app = TestApp::spawn().await;
    let mut ids = vec![];
    for title in ["a", "b", "c"] {
        ids.push(new_prompt(&app, json!({"title": title})).await.prompt.id);
    }
    let body = list(&app, &format!("{PROMPTS}?page_size=2")).await;
    assert_eq!(body.count, 3);
    assert_eq!(body.results.len(), 2);
    assert!(
        body.next.as_deref().is_some_and(|n| n.contains("page=2")),
        "{body:?}"
    );
    assert_eq!(body.previous, None);
    // Default order: newest first.
    assert_eq!(result_ids(&body), vec![ids[2], ids[1]]);
    let body = list(&app, &format!("{PROMPTS}?page_size=2&page=2")).await;
    assert_eq!(result_ids(&body), vec![ids[0]]);
    assert_eq!(body.next, None);
    assert!(body.previous.is_some());
    // The no-slash path works too.
    assert_eq!(list(&app, "/api/prompts").await.count, 3);
}

#[tokio::test]
async fn list_searches_title_and_description_and_orders() {
    let app = TestApp::spawn().await;
    let sentiment = new_prompt(&app, json!({"title": "Sentiment"}))
        .await
        .prompt
        .id;
    let other = new_prompt(
        &app,
        json!({"title": "Other", "description": "a SENTIMENT helper"}),
    )
    .await
    .prompt
    .id;
    let entities = new_prompt(&app, json!({"title": "Entities"}))
        .await
        .prompt
        .id;
    let body = list(&app, &format!("{PROMPTS}?search=sent")).await;
    assert_eq!(body.count, 2);
    let mut found = result_ids(&body);
    found.sort_unstable();
    assert_eq!(found, vec![sentiment, other]);
    let body = list(&app, &format!("{PROMPTS}?search=Sent&page=1&page_size=10")).await;
    assert_eq!(body.count, 2);
    let body = list(&app, &format!("{PROMPTS}?search=nothing")).await;
    assert_eq!(body.count, 0);
    assert!(body.results.is_empty());

    let body = list(&app, &format!("{PROMPTS}?ordering=title")).await;
    assert_eq!(result_ids(&body), vec![entities, other, sentiment]);
    let body = list(&app, &format!("{PROMPTS}?ordering=-title")).await;
    assert_eq!(result_ids(&body), vec![sentiment, other, entities]);
    let body = list(&app, &format!("{PROMPTS}?ordering=id")).await;
    assert_eq!(result_ids(&body), vec![sentiment, other, entities]);
    let body = list(&app, &format!("{PROMPTS}?ordering=-id")).await;
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
    let bare = new_prompt(&app, json!({"title": "bare"})).await.prompt.id;

    let body = list(&app, PROMPTS).await;
    let items = &body.results;
    let sentiment = items
        .iter()
        .find(|p| p.prompt.id == f.prompt)
        .expect("listed");
    assert_eq!(projects_of(sentiment), [(f.project, Some("test"))]);
    assert_eq!(sentiment.versions_count, 2);
    assert_eq!(sentiment.runs_count, 3);
    assert_eq!(sentiment.best_score, Some(1.0));
    let bare = items.iter().find(|p| p.prompt.id == bare).expect("listed");
    assert_eq!(bare.versions_count, 0);
    assert_eq!(bare.runs_count, 0);
    assert_eq!(bare.best_score, None);
    assert!(bare.associated_projects.is_empty());
    let got = get_prompt(&app, f.prompt).await;
    assert_eq!(got.best_score, Some(1.0));
    assert_eq!(got.runs_count, 3);
}

// ---------------------------------------------------------------------------------------------
// Get, patch
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn get_returns_the_detail_and_404_for_unknown() {
    let app = TestApp::spawn().await;
    let project = titled_project(&app, "P", CLS).await;
    let id = new_prompt(
        &app,
        json!({"title": "T", "associated_projects": [project], "output_classes": ["Positive"]}),
    )
    .await
    .prompt
    .id;
    let body = get_prompt(&app, id).await;
    assert_eq!(body.prompt.id, id);
    assert_eq!(body.prompt.title, "T");
    assert_eq!(body.prompt.skill_name, Some(Skill::TextClassification));
    assert_eq!(body.prompt.output_classes, ["Positive"]);
    assert_eq!(projects_of(&body), [(project, Some("P"))]);
    assert_eq!(body.versions_count, 0);
    assert_eq!(
        body.prompt.created_by.as_ref().map(|u| u.email.as_str()),
        Some("admin@example.com")
    );
    let (status, _) = app.get(&prompt_path(999_999)).await;
    assert_eq!(status, 404);
    // The no-slash variant.
    let got: PromptDetailView = app.get(&format!("{PROMPTS}{id}")).await.good();
    assert_eq!(got.prompt.id, id);
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
    let id = created.prompt.id;
    let body: PromptView = app
        .patch(&prompt_path(id), json!({"description": "d"}))
        .await
        .good();
    assert_eq!(body.prompt.description.as_deref(), Some("d"));
    assert_eq!(body.prompt.title, "T");
    assert_eq!(body.associated_projects, [first]);

    let body: PromptView = app
        .patch(
            &prompt_path(id),
            json!({"title": "New", "associated_projects": [second], "input_fields": ["text"],
                   "output_classes": ["Negative"]}),
        )
        .await
        .good();
    assert_eq!(body.prompt.title, "New");
    assert_eq!(body.associated_projects, [second]);
    assert_eq!(body.prompt.input_fields, ["text"]);
    assert_eq!(body.prompt.output_classes, ["Negative"]);
    let got = get_prompt(&app, id).await;
    assert_eq!(projects_of(&got), [(second, Some("second"))]);
    // Both, then none.
    let body: PromptView = app
        .patch(
            &prompt_path(id),
            json!({"associated_projects": [first, second]}),
        )
        .await
        .good();
    let mut projects = body.associated_projects;
    projects.sort_unstable();
    assert_eq!(projects, vec![first, second]);
    let body: PromptView = app
        .patch(&prompt_path(id), json!({"associated_projects": []}))
        .await
        .good();
    assert!(body.associated_projects.is_empty());
    // description null clears it.
    let body: PromptView = app
        .patch(&prompt_path(id), json!({"description": null}))
        .await
        .good();
    assert_eq!(body.prompt.description, None);
}

#[tokio::test]
async fn patch_reruns_the_checks() {
    let app = TestApp::spawn().await;
    let cls = app.project(CLS).await;
    let ner = app.project(NER).await;
    let theirs = foreign_project(&app).await;
    let id = new_prompt(
        &app,
        json!({"title": "T", "associated_projects": [cls], "input_fields": ["text"],
               "output_classes": ["Positive"]}),
    )
    .await
    .prompt
    .id;
    // The existing classes against a new project.
    bad_field(
        app.patch(&prompt_path(id), json!({"associated_projects": [ner]}))
            .await,
        "output_classes",
    );
    // New classes against the existing project.
    bad_field(
        app.patch(&prompt_path(id), json!({"output_classes": ["PER"]}))
            .await,
        "output_classes",
    );
    bad_field(
        app.patch(&prompt_path(id), json!({"input_fields": ["body"]}))
            .await,
        "input_fields",
    );
    bad_field(
        app.patch(&prompt_path(id), json!({"input_fields": "text"}))
            .await,
        "input_fields",
    );
    for ids in [json!([theirs]), json!([999_999])] {
        bad_field(
            app.patch(&prompt_path(id), json!({"associated_projects": ids}))
                .await,
            "associated_projects",
        );
    }
    for bad in [json!({"title": ""}), json!({"title": "y".repeat(501)})] {
        bad_field(app.patch(&prompt_path(id), bad).await, "title");
    }
    bad_field(
        app.patch(&prompt_path(id), json!({"skill_name": "Other"}))
            .await,
        "skill_name",
    );
    // Nothing changed.
    let got = get_prompt(&app, id).await;
    assert_eq!(got.prompt.title, "T");
    assert_eq!(got.prompt.output_classes, ["Positive"]);
    assert_eq!(got.associated_projects.first().map(|p| p.id), Some(cls));
    // Classes and projects changed together pass.
    let body: PromptView = app
        .patch(
            &prompt_path(id),
            json!({"associated_projects": [ner], "output_classes": ["PER", "ORG"],
                   "skill_name": "NamedEntityRecognition"}),
        )
        .await
        .good();
    assert_eq!(body.prompt.skill_name, Some(Skill::NamedEntityRecognition));
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
    let other = new_prompt(&app, json!({"title": "Other"})).await.prompt.id;
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
        .into_iter()
        .map(|p| read::<PredictionView>(p).id)
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

    let sorted = |page: &Paginated<ProjectView>| {
        let mut ids = project_ids(page);
        ids.sort_unstable();
        ids
    };
    let body = compatible(&app, "/api/prompts/compatible-projects").await;
    assert_eq!(body.count, 3, "{body:?}");
    // Image classification is a TextClassification skill too, as in LSE Prompts.
    assert_eq!(sorted(&body), vec![cls, image, html]);
    // The typed read checks each has a title and a label config (strings).
    assert!(!body.results.is_empty());
    let body = compatible(
        &app,
        "/api/prompts/compatible-projects?project_type=TextClassification",
    )
    .await;
    assert_eq!(sorted(&body), vec![cls, image, html]);
    let body = compatible(
        &app,
        "/api/prompts/compatible-projects?project_type=NamedEntityRecognition",
    )
    .await;
    assert_eq!(sorted(&body), vec![ner]);
    assert!(!sorted(&body).contains(&mixed) && !sorted(&body).contains(&image));
    // Annotations are not required; filters and pagination apply.
    let body: Paginated<ProjectView> = app
        .get(&format!("/api/prompts/compatible-projects?ids={cls},{ner}"))
        .await
        .good();
    assert_eq!(sorted(&body), vec![cls]);
    let body = compatible(&app, "/api/prompts/compatible-projects?title=HTM").await;
    assert_eq!(sorted(&body), vec![html]);
    let body = compatible(&app, "/api/prompts/compatible-projects?page_size=1").await;
    assert_eq!(body.count, 3);
    assert_eq!(body.results.len(), 1);
    assert!(body.next.is_some());
    // A bad project type.
    bad_field(
        app.get("/api/prompts/compatible-projects?project_type=Summarization")
            .await,
        "project_type",
    );
    // The other organization sees none of these.
    let body: Paginated<ProjectView> = app
        .send(
            Method::GET,
            "/api/prompts/compatible-projects",
            Some(&app.other_token),
            None,
        )
        .await
        .good();
    assert!(!sorted(&body).contains(&cls));
    assert_eq!(body.count, 1, "only their own project");
}

// ---------------------------------------------------------------------------------------------
// Roles and organizations
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn annotators_may_read_but_not_write() {
    let app = TestApp::spawn().await;
    let id = new_prompt(&app, json!({"title": "T"})).await.prompt.id;
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
    let body: PromptDetailView = app
        .send(Method::GET, &prompt_path(id), token, None)
        .await
        .good();
    assert_eq!(body.prompt.title, "T");
    let body: PromptPage = app.send(Method::GET, PROMPTS, token, None).await.good();
    assert_eq!(body.count, 1);
    // Without a token: 401.
    let (status, _) = app.send(Method::GET, PROMPTS, None, None).await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn another_organizations_prompts_are_404() {
    let app = TestApp::spawn().await;
    let id = new_prompt(&app, json!({"title": "T"})).await.prompt.id;
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
    let body: PromptPage = app.send(Method::GET, PROMPTS, token, None).await.good();
    assert_eq!(body.count, 0);
    // Still there, unchanged.
    assert_eq!(get_prompt(&app, id).await.prompt.title, "T");
}
