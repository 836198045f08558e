//! Tests of the projects endpoints: CRUD, validation, list filters and pagination, counters,
//! import, label-config validation, roles, and routing (slashes, 404, 405).
use crate::helpers::{CLS, NER, Reply, TestApp, bad_field, choice, field_errors};
use prompter::error::{ErrorBody, ErrorCode};
use prompter::views::Paginated;
use prompter::views::annotations::AnnotationView;
use prompter::views::predictions::PredictionView;
use prompter::views::projects::{ImportView, LabelConfigView, ProjectView};
use prompter::views::tasks::{TaskListView, TaskView};
use prompter::views::users::WhoAmIView;
use reqwest::Method;
use serde_json::{Value, json};

/// A page of the project list.
type Page = Paginated<ProjectView>;

/// The project `id` as the admin sees it (asserts 200).
async fn project(app: &TestApp, id: i64) -> ProjectView {
    app.get(&format!("/api/projects/{id}/")).await.good()
}

/// The ids of a project list page's `results`.
fn result_ids(page: &Page) -> Vec<i64> {
    page.results.iter().map(|p| p.id).collect()
}

/// The project list at `path` (asserts 200).
async fn list(app: &TestApp, path: &str) -> Page {
    app.get(path).await.good()
}

/// Creates a project with `title` and `description` and returns its id.
async fn titled(app: &TestApp, title: &str, description: &str) -> i64 {
    app.post(
        "/api/projects/",
        json!({"title": title, "description": description, "label_config": CLS}),
    )
    .await
    .created::<ProjectView>()
    .id
}

/// The tasks of a project (fields=all), in id order.
async fn tasks_of(app: &TestApp, project: i64) -> Vec<TaskView> {
    app.get(&format!(
        "/api/tasks/?project={project}&fields=all&page_size=5000"
    ))
    .await
    .good::<TaskListView>()
    .tasks
}

/// The task `id` (asserts 200).
async fn task(app: &TestApp, id: i64) -> TaskView {
    app.get(&format!("/api/tasks/{id}/")).await.good()
}

/// Reads an error of `status` with `code`.
#[track_caller]
fn refused(reply: (u16, Value), status: u16, code: ErrorCode) -> ErrorBody {
    let error = reply.bad();
    assert_eq!(error.status_code, status, "{error:?}");
    assert_eq!(error.code, code, "{error:?}");
    error
}

#[tokio::test]
async fn create_returns_201_with_defaults_parsed_config_and_creator() {
    let app = TestApp::spawn().await;
    let me: WhoAmIView = app.get("/api/current-user/whoami").await.good();
    let reply = app
        .post(
            "/api/projects/",
            json!({"title": "Sentiment", "label_config": CLS}),
        )
        .await;
    // The creator's `avatar` is on the wire (null), not left out: a key-presence check.
    assert!(reply.1["created_by"].get("avatar").is_some(), "{}", reply.1);
    // Typed reading checks `created_at` and `updated_at` are timestamps.
    let body: ProjectView = reply.created();
    assert!(body.id > 0);
    assert_eq!(body.title, "Sentiment");
    assert_eq!(body.description, "");
    assert_eq!(body.label_config, CLS);
    assert_eq!(body.maximum_annotations, 1);
    assert_eq!(body.overlap_cohort_percentage, 100);
    assert!(body.show_skip_button);
    assert!(!body.show_instruction);
    assert!(body.enable_empty_annotation);
    assert!(body.show_collab_predictions);
    assert!(!body.is_published);
    assert!(!body.is_draft);
    assert_eq!(body.color, "#FFFFFF");
    assert_eq!(body.model_version, "");
    assert_eq!(body.sampling, "Sequential sampling");
    assert_eq!(body.skip_queue, "REQUEUE_FOR_OTHERS");
    assert_eq!(body.control_weights, json!({}));
    assert_eq!(body.organization, me.active_organization);
    assert_eq!(body.workspace, None);
    assert_eq!(body.pinned_at, None);
    assert!(body.config_has_control_tags);
    assert!(body.config_suitable_for_bulk_annotation);
    for (counter, value) in [
        ("task_number", body.task_number),
        ("total_annotations_number", body.total_annotations_number),
        ("total_predictions_number", body.total_predictions_number),
        (
            "num_tasks_with_annotations",
            body.num_tasks_with_annotations,
        ),
        ("finished_task_number", body.finished_task_number),
        ("useful_annotation_number", body.useful_annotation_number),
        ("ground_truth_number", body.ground_truth_number),
        (
            "skipped_annotations_number",
            body.skipped_annotations_number,
        ),
        ("queue_total", body.queue_total),
        ("queue_done", body.queue_done),
    ] {
        assert_eq!(value, 0, "{counter}");
    }
    // The parsed config is Label Studio's free-form object.
    let sentiment = &body.parsed_label_config["sentiment"];
    assert_eq!(sentiment["type"], "Choices");
    assert_eq!(sentiment["to_name"], json!(["text"]));
    assert_eq!(sentiment["labels"], json!(["Positive", "Negative"]));
    assert_eq!(sentiment["inputs"][0]["type"], "Text");
    assert_eq!(sentiment["inputs"][0]["value"], "text");
    assert_eq!(
        body.parsed_label_config.as_object().expect("object").len(),
        1
    );
    // Typed reading checks the creator's `username` is a string.
    let creator = body.created_by.expect("created_by is an object");
    assert_eq!(creator.id, me.id);
    assert_eq!(creator.email, "admin@example.com");
}

#[tokio::test]
async fn create_with_an_empty_body_object_uses_every_default() {
    let app = TestApp::spawn().await;
    let body: ProjectView = app.post("/api/projects/", json!({})).await.created();
    assert_eq!(body.title, "");
    assert_eq!(body.label_config, "<View></View>");
    assert_eq!(body.parsed_label_config, json!({}));
    assert!(!body.config_has_control_tags);
    // Unknown keys are ignored; explicit values are kept.
    let body: ProjectView = app
        .post(
            "/api/projects/",
            json!({"title": "t", "unknown_key": 1, "maximum_annotations": 3, "color": "#000000",
                   "sampling": "Uniform sampling", "skip_queue": "IGNORE_SKIPPED", "show_skip_button": false}),
        )
        .await
        .created();
    assert_eq!(body.maximum_annotations, 3);
    assert_eq!(body.color, "#000000");
    assert_eq!(body.sampling, "Uniform sampling");
    assert_eq!(body.skip_queue, "IGNORE_SKIPPED");
    assert!(!body.show_skip_button);
}

#[tokio::test]
async fn create_with_an_invalid_label_config_is_400_naming_the_line() {
    let app = TestApp::spawn().await;
    let configs = [
        // Malformed XML.
        "<View><Text name=\"text\" value=\"$text\"></View>",
        // A control whose toName names no object tag.
        "<View>\n<Text name=\"text\" value=\"$text\"/>\n<Choices name=\"c\" toName=\"nope\"><Choice value=\"A\"/></Choices>\n</View>",
        // Root is not <View>.
        "<Text name=\"text\" value=\"$text\"/>",
    ];
    for config in configs {
        let error = bad_field(
            app.post(
                "/api/projects/",
                json!({"title": "bad", "label_config": config}),
            )
            .await,
            "label_config",
        );
        assert_eq!(error.code, ErrorCode::ValidationError);
        let messages = field_errors(&error, "label_config");
        assert_eq!(messages.len(), 1, "{error:?}");
        assert!(messages[0].contains("line"), "{config}: {error:?}");
    }
    // The toName error points at line 3, where the <Choices> is.
    let error = app
        .post("/api/projects/", json!({"label_config": configs[1]}))
        .await
        .bad();
    let message = &field_errors(&error, "label_config")[0];
    assert!(message.contains("line 3"), "{message}");
    assert!(message.contains("nope"), "{message}");
    // Nothing was created.
    assert_eq!(list(&app, "/api/projects/").await.count, 0);
}

#[tokio::test]
async fn create_rejects_a_title_over_50_characters() {
    let app = TestApp::spawn().await;
    let error = bad_field(
        app.post("/api/projects/", json!({"title": "x".repeat(51)}))
            .await,
        "title",
    );
    assert_eq!(error.code, ErrorCode::ValidationError);
    assert!(field_errors(&error, "title")[0].contains("50"), "{error:?}");
    // 50 characters (multi-byte ones too) are fine.
    let body: ProjectView = app
        .post("/api/projects/", json!({"title": "é".repeat(50)}))
        .await
        .created();
    assert_eq!(body.title, "é".repeat(50));
}

#[tokio::test]
async fn create_rejects_wrong_types_and_invalid_choices_naming_the_field() {
    let app = TestApp::spawn().await;
    let error = bad_field(
        app.post("/api/projects/", json!({"title": 5})).await,
        "title",
    );
    assert_eq!(error.code, ErrorCode::ValidationError);
    bad_field(
        app.post(
            "/api/projects/",
            json!({"title": "t", "maximum_annotations": "many"}),
        )
        .await,
        "maximum_annotations",
    );
    bad_field(
        app.post(
            "/api/projects/",
            json!({"title": "t", "show_skip_button": "yes"}),
        )
        .await,
        "show_skip_button",
    );
    bad_field(
        app.post("/api/projects/", json!({"sampling": "Random"}))
            .await,
        "sampling",
    );
    bad_field(
        app.post("/api/projects/", json!({"skip_queue": "NEVER"}))
            .await,
        "skip_queue",
    );
    for value in [0, -1] {
        bad_field(
            app.post("/api/projects/", json!({"maximum_annotations": value}))
                .await,
            "maximum_annotations",
        );
    }
    bad_field(
        app.post("/api/projects/", json!({"overlap_cohort_percentage": -5}))
            .await,
        "overlap_cohort_percentage",
    );
    // A JSON array is not a project.
    refused(
        app.post("/api/projects/", json!([{"title": "t"}])).await,
        400,
        ErrorCode::ValidationError,
    );
    assert_eq!(list(&app, "/api/projects/").await.count, 0);
}

#[tokio::test]
async fn malformed_json_is_400_parse_error() {
    let app = TestApp::spawn().await;
    let error = refused(
        app.raw(
            Method::POST,
            "/api/projects/",
            "application/json",
            b"{\"title\": ".to_vec(),
        )
        .await,
        400,
        ErrorCode::ParseError,
    );
    assert!(error.detail.starts_with("JSON parse error"), "{error:?}");
    refused(
        app.raw(
            Method::POST,
            "/api/projects/",
            "application/json",
            b"{not json}".to_vec(),
        )
        .await,
        400,
        ErrorCode::ParseError,
    );
    refused(
        app.raw(
            Method::POST,
            "/api/projects/",
            "application/json",
            Vec::new(),
        )
        .await,
        400,
        ErrorCode::ParseError,
    );
}

#[tokio::test]
async fn a_non_json_content_type_is_415() {
    let app = TestApp::spawn().await;
    refused(
        app.raw(
            Method::POST,
            "/api/projects/",
            "text/plain",
            br#"{"title": "t"}"#.to_vec(),
        )
        .await,
        415,
        ErrorCode::UnsupportedMediaType,
    );
    let (status, body) = app
        .raw(
            Method::POST,
            "/api/projects/",
            "application/x-www-form-urlencoded",
            b"title=t".to_vec(),
        )
        .await;
    assert_eq!(status, 415, "{body}");
    // `application/json; charset=utf-8` is JSON.
    let (status, body) = app
        .raw(
            Method::POST,
            "/api/projects/",
            "application/json; charset=utf-8",
            br#"{"title": "t"}"#.to_vec(),
        )
        .await;
    assert_eq!(status, 201, "{body}");
}

#[tokio::test]
async fn a_body_over_the_limit_is_413() {
    let app = TestApp::spawn().await;
    let big = "a".repeat(4 * 1024 * 1024 + 1);
    refused(
        app.post("/api/projects/", json!({"title": "t", "description": big}))
            .await,
        413,
        ErrorCode::PayloadTooLarge,
    );
    assert_eq!(list(&app, "/api/projects/").await.count, 0);
    // Just under the limit is fine (three tasks of about a megabyte each: a description
    // has a limit of its own, see limits.rs).
    let project = app.project(crate::helpers::CLS).await;
    let text = "b".repeat(1_000_000);
    let body: ImportView = app
        .post(
            &format!("/api/projects/{project}/import"),
            json!([{"text": text}, {"text": text}, {"text": text}]),
        )
        .await
        .created();
    assert_eq!(body.task_count, 3);
}

#[tokio::test]
async fn list_paginates_newest_first_with_links() {
    let app = TestApp::spawn().await;
    let mut ids = vec![];
    for i in 0..5 {
        ids.push(titled(&app, &format!("p{i}"), "").await);
    }
    let body = list(&app, "/api/projects/").await;
    assert_eq!(body.count, 5);
    assert_eq!(body.next, None);
    assert_eq!(body.previous, None);
    let newest_first: Vec<i64> = ids.iter().rev().copied().collect();
    assert_eq!(result_ids(&body), newest_first);

    let page1 = list(&app, "/api/projects/?page_size=2").await;
    assert_eq!(page1.count, 5);
    assert_eq!(result_ids(&page1), newest_first[0..2]);
    assert_eq!(page1.previous, None);
    let next = page1.next.expect("next link");
    assert!(next.starts_with("http://127.0.0.1:"), "{next}");
    assert!(next.contains("/api/projects/?"), "{next}");
    assert!(
        next.contains("page=2") && next.contains("page_size=2"),
        "{next}"
    );

    // Following the link works.
    let path = &next[app.address.len()..];
    let page2 = list(&app, path).await;
    assert_eq!(result_ids(&page2), newest_first[2..4]);
    let previous = page2.previous.expect("previous link");
    assert!(
        previous.contains("page_size=2") && !previous.contains("page="),
        "{previous}"
    );
    assert!(page2.next.expect("next").contains("page=3"));

    let page3 = list(&app, "/api/projects/?page=3&page_size=2").await;
    assert_eq!(result_ids(&page3), newest_first[4..5]);
    assert_eq!(page3.next, None);
    assert!(page3.previous.expect("previous").contains("page=2"));

    // Past the end: 200 with an empty page.
    let past = list(&app, "/api/projects/?page=4&page_size=2").await;
    assert_eq!(past.count, 5);
    assert!(past.results.is_empty(), "{past:?}");
    assert_eq!(past.next, None);

    for bad in ["0", "abc", "-1"] {
        let error = refused(
            app.get(&format!("/api/projects/?page={bad}")).await,
            404,
            ErrorCode::InvalidPage,
        );
        assert_eq!(error.detail, "Invalid page.", "page={bad}");
    }
}

#[tokio::test]
async fn list_filters_by_search_title_and_ids() {
    let app = TestApp::spawn().await;
    let alpha = titled(&app, "Alpha project", "first").await;
    let beta = titled(&app, "Beta", "mentions ALPHA in the description").await;
    let gamma = titled(&app, "Gamma", "nothing").await;

    let body = list(&app, "/api/projects/?search=alpha").await;
    assert_eq!(body.count, 2);
    assert_eq!(result_ids(&body), vec![beta, alpha]);

    let body = list(&app, "/api/projects/?title=ALPHA").await;
    assert_eq!(body.count, 1);
    assert_eq!(result_ids(&body), vec![alpha]);

    let body = list(&app, "/api/projects/?title=zzz").await;
    assert_eq!(body.count, 0);
    assert!(body.results.is_empty(), "{body:?}");

    let body = list(&app, &format!("/api/projects/?ids={alpha},{gamma}")).await;
    assert_eq!(result_ids(&body), vec![gamma, alpha]);
    let body = list(&app, &format!("/api/projects/?ids={beta}%2C{gamma}")).await;
    assert_eq!(result_ids(&body), vec![gamma, beta]);
    bad_field(app.get("/api/projects/?ids=1,abc").await, "ids");

    // Filters combine, and pagination links keep them.
    let body = list(
        &app,
        &format!("/api/projects/?search=a&ids={alpha},{beta}&page_size=1"),
    )
    .await;
    assert_eq!(body.count, 2);
    let next = body.next.expect("next");
    assert!(
        next.contains("search=a") && next.contains("page=2"),
        "{next}"
    );
}

#[tokio::test]
async fn title_filter_treats_like_wildcards_literally() {
    let app = TestApp::spawn().await;
    let percent = titled(&app, "100% done", "").await;
    titled(&app, "1000 done", "").await;
    let underscore = titled(&app, "a_b", "").await;
    titled(&app, "axb", "").await;
    let body = list(&app, "/api/projects/?title=0%25").await;
    assert_eq!(result_ids(&body), vec![percent], "{body:?}");
    let body = list(&app, "/api/projects/?title=a_b").await;
    assert_eq!(result_ids(&body), vec![underscore], "{body:?}");
}

#[tokio::test]
async fn empty_filter_values_are_ignored() {
    let app = TestApp::spawn().await;
    let a = titled(&app, "a", "").await;
    let b = titled(&app, "b", "").await;
    for query in ["title=", "search=", "ordering=", "page=", "page_size="] {
        let body = list(&app, &format!("/api/projects/?{query}")).await;
        assert_eq!(result_ids(&body), vec![b, a], "{query}");
    }
}

#[tokio::test]
async fn an_empty_ids_filter_is_ignored() {
    let app = TestApp::spawn().await;
    let a = titled(&app, "a", "").await;
    let body = list(&app, "/api/projects/?ids=").await;
    assert_eq!(result_ids(&body), vec![a]);
}

#[tokio::test]
async fn page_last_is_the_last_page() {
    let app = TestApp::spawn().await;
    let mut ids = vec![];
    for i in 0..5 {
        ids.push(titled(&app, &format!("p{i}"), "").await);
    }
    let body = list(&app, "/api/projects/?page=last&page_size=2").await;
    assert_eq!(result_ids(&body), vec![ids[0]]);
    assert_eq!(body.next, None);
}

#[tokio::test]
async fn list_orders_by_the_given_fields() {
    let app = TestApp::spawn().await;
    let b = titled(&app, "b", "").await;
    let c = titled(&app, "c", "").await;
    let a = titled(&app, "a", "").await;
    let body = list(&app, "/api/projects/?ordering=title").await;
    assert_eq!(result_ids(&body), vec![a, b, c]);
    let body = list(&app, "/api/projects/?ordering=-title").await;
    assert_eq!(result_ids(&body), vec![c, b, a]);
    let body = list(&app, "/api/projects/?ordering=id").await;
    assert_eq!(result_ids(&body), vec![b, c, a]);
    let body = list(&app, "/api/projects/?ordering=-id").await;
    assert_eq!(result_ids(&body), vec![a, c, b]);
    // Unknown keys are ignored: the default order (newest first).
    let body = list(&app, "/api/projects/?ordering=bogus").await;
    assert_eq!(result_ids(&body), vec![a, c, b]);
}

#[tokio::test]
async fn list_shows_only_the_callers_organization() {
    let app = TestApp::spawn().await;
    let mine = titled(&app, "mine", "").await;
    let theirs: ProjectView = app
        .send(
            Method::POST,
            "/api/projects/",
            Some(&app.other_token),
            Some(&json!({"title": "theirs"})),
        )
        .await
        .created();
    let body = list(&app, "/api/projects/").await;
    assert_eq!(result_ids(&body), vec![mine]);
    let body: Page = app
        .send(Method::GET, "/api/projects/", Some(&app.other_token), None)
        .await
        .good();
    assert_eq!(result_ids(&body), vec![theirs.id]);
    // Annotators of the organization may list.
    let body: Page = app
        .send(
            Method::GET,
            "/api/projects/",
            Some(&app.annotator_token),
            None,
        )
        .await
        .good();
    assert_eq!(result_ids(&body), vec![mine]);
    // Without a token: 401.
    let (status, body) = app.send(Method::GET, "/api/projects/", None, None).await;
    assert_eq!(status, 401, "{body}");
}

#[tokio::test]
async fn get_patch_and_delete_a_project() {
    let app = TestApp::spawn().await;
    let id = app.project(CLS).await;
    let got = project(&app, id).await;
    assert_eq!(got.id, id);
    assert_eq!(got.title, "test");
    assert_eq!(got.label_config, CLS);

    let body: ProjectView = app
        .patch(
            &format!("/api/projects/{id}/"),
            json!({"title": "renamed", "description": "about", "expert_instruction": "<b>do</b>",
                   "show_instruction": true, "model_version": "v2", "color": "#FF0000"}),
        )
        .await
        .good();
    assert_eq!(body.title, "renamed");
    assert_eq!(body.description, "about");
    assert_eq!(body.expert_instruction, "<b>do</b>");
    assert!(body.show_instruction);
    assert_eq!(body.model_version, "v2");
    assert_eq!(body.color, "#FF0000");
    // Absent and null fields are left as they were.
    let body: ProjectView = app
        .patch(&format!("/api/projects/{id}/"), json!({"title": null}))
        .await
        .good();
    assert_eq!(body.title, "renamed");
    assert_eq!(body.label_config, CLS);
    let got = project(&app, id).await;
    assert_eq!(got.title, "renamed");
    assert_eq!(got.description, "about");
    assert!(got.created_by.is_some());

    // A new label config is parsed.
    let body: ProjectView = app
        .patch(
            &format!("/api/projects/{id}/"),
            json!({"label_config": NER}),
        )
        .await
        .good();
    assert_eq!(body.parsed_label_config["label"]["type"], "Labels");
    assert_eq!(
        body.parsed_label_config["label"]["labels"],
        json!(["PER", "ORG"])
    );
    assert!(body.parsed_label_config.get("sentiment").is_none());

    // Invalid patches change nothing.
    for (patch, field) in [
        (
            json!({"label_config": "<View><Choices name=\"c\" toName=\"x\"/></View>"}),
            "label_config",
        ),
        (json!({"title": "y".repeat(51)}), "title"),
        (json!({"maximum_annotations": 0}), "maximum_annotations"),
        (json!({"title": ["a"]}), "title"),
        (json!({"sampling": "nope"}), "sampling"),
    ] {
        bad_field(
            app.patch(&format!("/api/projects/{id}/"), patch.clone())
                .await,
            field,
        );
    }
    let got = project(&app, id).await;
    assert_eq!(got.title, "renamed");
    assert_eq!(got.label_config, NER);
    assert_eq!(got.maximum_annotations, 1);

    let (status, _) = app.delete(&format!("/api/projects/{id}/")).await;
    assert_eq!(status, 204);
    refused(
        app.get(&format!("/api/projects/{id}/")).await,
        404,
        ErrorCode::NotFound,
    );
    let (status, _) = app.delete(&format!("/api/projects/{id}/")).await;
    assert_eq!(status, 404);
    let (status, _) = app
        .patch(&format!("/api/projects/{id}/"), json!({"title": "x"}))
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn pin_a_project_and_order_by_pinned_at() {
    let app = TestApp::spawn().await;
    let a = titled(&app, "a", "").await;
    let b = titled(&app, "b", "").await;
    let (status, body) = app
        .patch(
            &format!("/api/projects/{a}/"),
            json!({"pinned_at": "2026-01-02T03:04:05Z"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    // The timestamp comes back in the form it was sent: a wire-form check.
    assert_eq!(body["pinned_at"], "2026-01-02T03:04:05Z");
    let (status, body) = app
        .patch(
            &format!("/api/projects/{b}/"),
            json!({"pinned_at": "2025-01-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let body = list(&app, "/api/projects/?ordering=pinned_at").await;
    assert_eq!(result_ids(&body), vec![b, a]);
    let body = list(&app, "/api/projects/?ordering=-pinned_at").await;
    assert_eq!(result_ids(&body), vec![a, b]);
    bad_field(
        app.patch(
            &format!("/api/projects/{a}/"),
            json!({"pinned_at": "yesterday"}),
        )
        .await,
        "pinned_at",
    );
}

#[tokio::test]
async fn unpin_a_project_with_null() {
    let app = TestApp::spawn().await;
    let a = titled(&app, "a", "").await;
    let (status, _) = app
        .patch(
            &format!("/api/projects/{a}/"),
            json!({"pinned_at": "2026-01-02T03:04:05Z"}),
        )
        .await;
    assert_eq!(status, 200);
    let body: ProjectView = app
        .patch(&format!("/api/projects/{a}/"), json!({"pinned_at": null}))
        .await
        .good();
    assert_eq!(body.pinned_at, None, "{body:?}");
}

#[tokio::test]
async fn another_organizations_project_is_404_everywhere() {
    let app = TestApp::spawn().await;
    let id = app.project(CLS).await;
    let other = Some(app.other_token.as_str());
    let tasks = json!([{"text": "a"}]);
    let config = json!({"label_config": CLS});
    for (method, path, body) in [
        (Method::GET, format!("/api/projects/{id}/"), None),
        (Method::PATCH, format!("/api/projects/{id}/"), Some(&config)),
        (Method::DELETE, format!("/api/projects/{id}/"), None),
        (
            Method::POST,
            format!("/api/projects/{id}/import"),
            Some(&tasks),
        ),
        (
            Method::POST,
            format!("/api/projects/{id}/validate/"),
            Some(&config),
        ),
        (Method::DELETE, format!("/api/projects/{id}/tasks/"), None),
    ] {
        let error = app.send(method.clone(), &path, other, body).await.bad();
        assert_eq!(error.status_code, 404, "{method} {path}: {error:?}");
        assert_eq!(error.code, ErrorCode::NotFound, "{method} {path}");
    }
    let got = project(&app, id).await;
    assert_eq!(got.label_config, CLS);
    assert_eq!(got.task_number, 0);
}

#[tokio::test]
async fn patching_maximum_annotations_updates_task_overlap_and_labeled_state() {
    let app = TestApp::spawn().await;
    let id = app.project(CLS).await;
    let tasks = app.import(id, json!([{"text": "a"}, {"text": "b"}])).await;
    let (status, _) = app
        .post(
            &format!("/api/tasks/{}/annotations/", tasks[0]),
            json!({"result": choice("Positive")}),
        )
        .await;
    assert_eq!(status, 201);
    let before = tasks_of(&app, id).await;
    assert_eq!(before[0].overlap, 1);
    assert!(before[0].is_labeled);
    assert!(!before[1].is_labeled);
    assert_eq!(project(&app, id).await.finished_task_number, 1);

    let body: ProjectView = app
        .patch(
            &format!("/api/projects/{id}/"),
            json!({"maximum_annotations": 2}),
        )
        .await
        .good();
    assert_eq!(body.maximum_annotations, 2);
    assert_eq!(body.finished_task_number, 0);
    let after = tasks_of(&app, id).await;
    assert!(after.iter().all(|t| t.overlap == 2), "{after:?}");
    assert!(after.iter().all(|t| !t.is_labeled), "{after:?}");

    // New tasks get the new overlap.
    let new = app.import(id, json!([{"text": "c"}])).await;
    assert_eq!(task(&app, new[0]).await.overlap, 2);

    // A second annotation completes the first task.
    let (status, _) = app
        .post(
            &format!("/api/tasks/{}/annotations/", tasks[0]),
            json!({"result": choice("Negative")}),
        )
        .await;
    assert_eq!(status, 201);
    assert!(task(&app, tasks[0]).await.is_labeled);

    let (status, _) = app
        .patch(
            &format!("/api/projects/{id}/"),
            json!({"maximum_annotations": 3}),
        )
        .await;
    assert_eq!(status, 200);
    let first = task(&app, tasks[0]).await;
    assert_eq!(first.overlap, 3);
    assert!(!first.is_labeled);

    let body: ProjectView = app
        .patch(
            &format!("/api/projects/{id}/"),
            json!({"maximum_annotations": 1}),
        )
        .await
        .good();
    assert_eq!(body.finished_task_number, 1);
    assert_eq!(body.useful_annotation_number, 2);
    let after = tasks_of(&app, id).await;
    assert!(after.iter().all(|t| t.overlap == 1));
    assert!(after[0].is_labeled);
    assert!(!after[1].is_labeled);
}

#[tokio::test]
async fn counters_follow_imports_annotations_and_predictions() {
    let app = TestApp::spawn().await;
    let id = app.project(CLS).await;
    let import: ImportView = app
        .post(
            &format!("/api/projects/{id}/import?return_task_ids=true"),
            json!([
                {"data": {"text": "a"},
                 "annotations": [
                     {"result": choice("Positive")},
                     {"result": [], "was_cancelled": true},
                     {"result": choice("Negative"), "ground_truth": true}
                 ],
                 "predictions": [{"result": choice("Positive"), "score": 0.5}, {"result": "Negative"}]},
                {"data": {"text": "b"}, "predictions": [{"result": {"choices": ["Positive"]}}]},
                {"text": "c"}
            ]),
        )
        .await
        .created();
    assert_eq!(import.task_count, 3);
    assert_eq!(import.annotation_count, 3);
    assert_eq!(import.prediction_count, 3);
    let tasks = import.task_ids.expect("ids");

    let p = project(&app, id).await;
    assert_eq!(p.task_number, 3);
    assert_eq!(p.total_annotations_number, 2);
    assert_eq!(p.skipped_annotations_number, 1);
    assert_eq!(p.ground_truth_number, 1);
    assert_eq!(p.total_predictions_number, 3);
    assert_eq!(p.num_tasks_with_annotations, 1);
    assert_eq!(p.finished_task_number, 1);
    assert_eq!(p.useful_annotation_number, 2);
    assert_eq!(p.queue_total, 3);
    assert_eq!(p.queue_done, 1);

    // Annotate task 2: one more annotated task, one more annotation.
    let ann: AnnotationView = app
        .post(
            &format!("/api/tasks/{}/annotations/", tasks[1]),
            json!({"result": choice("Positive"), "ground_truth": true}),
        )
        .await
        .created();
    let p = project(&app, id).await;
    assert_eq!(p.total_annotations_number, 3);
    assert_eq!(p.num_tasks_with_annotations, 2);
    assert_eq!(p.ground_truth_number, 2);
    assert_eq!(p.finished_task_number, 2);

    // A skip of task 3 counts as skipped, not as an annotation.
    let (status, skip) = app
        .post(
            &format!("/api/tasks/{}/annotations/", tasks[2]),
            json!({"result": [], "was_cancelled": true}),
        )
        .await;
    assert_eq!(status, 201, "{skip}");
    let p = project(&app, id).await;
    assert_eq!(p.skipped_annotations_number, 2);
    assert_eq!(p.total_annotations_number, 3);
    assert_eq!(p.num_tasks_with_annotations, 2);

    // A prediction, then its deletion.
    let pred: PredictionView = app
        .post(
            "/api/predictions/",
            json!({"task": tasks[2], "result": "Positive"}),
        )
        .await
        .created();
    assert_eq!(project(&app, id).await.total_predictions_number, 4);
    let (status, _) = app.delete(&format!("/api/predictions/{}/", pred.id)).await;
    assert_eq!(status, 204);
    assert_eq!(project(&app, id).await.total_predictions_number, 3);

    // Deleting the annotation of task 2 takes it back.
    let (status, _) = app.delete(&format!("/api/annotations/{}/", ann.id)).await;
    assert_eq!(status, 204);
    let p = project(&app, id).await;
    assert_eq!(p.total_annotations_number, 2);
    assert_eq!(p.num_tasks_with_annotations, 1);
    assert_eq!(p.ground_truth_number, 1);
    assert_eq!(p.finished_task_number, 1);

    // The list reports the same counters.
    let page = list(&app, "/api/projects/").await;
    let item = &page.results[0];
    assert_eq!(item.id, id);
    assert_eq!(item.task_number, 3);
    assert_eq!(item.total_annotations_number, 2);
    assert_eq!(item.skipped_annotations_number, 2);
    assert_eq!(item.total_predictions_number, 3);
}

#[tokio::test]
async fn import_bare_data_objects() {
    let app = TestApp::spawn().await;
    let id = app.project(CLS).await;
    let reply = app
        .post(
            &format!("/api/projects/{id}/import"),
            json!([{"text": "one", "extra": 1}, {"text": "two"}]),
        )
        .await;
    // `task_ids` is absent, not null, unless asked for: a key-presence check.
    assert!(
        reply.1.get("task_ids").is_none(),
        "task_ids only on request: {}",
        reply.1
    );
    // Typed reading checks `duration` is a number.
    let body: ImportView = reply.created();
    assert_eq!(body.task_count, 2);
    assert_eq!(body.annotation_count, 0);
    assert_eq!(body.prediction_count, 0);
    assert_eq!(body.predictions_count, 0);
    assert_eq!(body.data_columns, ["text", "extra"]);
    assert!(body.file_upload_ids.is_empty(), "{body:?}");
    assert!(body.found_formats.is_empty(), "{body:?}");
    assert!(!body.could_be_tasks_list);
    let tasks = tasks_of(&app, id).await;
    assert_eq!(tasks.len(), 2);
    assert_eq!(tasks[0].data, json!({"text": "one", "extra": 1}));
    assert_eq!(tasks[0].meta, json!({}));
    assert_eq!(tasks[1].data, json!({"text": "two"}));
    assert_eq!(tasks[0].inner_id, 1);
    assert_eq!(tasks[1].inner_id, 2);
    assert_eq!(project(&app, id).await.task_number, 2);
}

#[tokio::test]
async fn import_structured_items_with_annotations_and_predictions() {
    let app = TestApp::spawn().await;
    let me: WhoAmIView = app.get("/api/current-user/whoami").await.good();
    let id = app.project(CLS).await;
    let body: ImportView = app
        .post(
            &format!("/api/projects/{id}/import?return_task_ids=true"),
            json!([{
                "data": {"text": "great"},
                "meta": {"source": "unit"},
                "annotations": [{"result": choice("Positive"), "lead_time": 2.5}],
                "predictions": [{"result": choice("Negative"), "score": 0.25, "model_version": "m1"},
                                {"result": {"choices": ["Positive"]}, "model_version": 7}]
            }]),
        )
        .await
        .created();
    assert_eq!(body.task_count, 1);
    assert_eq!(body.annotation_count, 1);
    assert_eq!(body.prediction_count, 2);
    assert_eq!(body.predictions_count, 2);
    assert_eq!(body.data_columns, ["text"]);
    let task_id = body.task_ids.expect("task ids")[0];

    let task = task(&app, task_id).await;
    assert_eq!(task.data, json!({"text": "great"}));
    assert_eq!(task.meta, json!({"source": "unit"}));
    assert_eq!(task.total_annotations, 1);
    assert_eq!(task.total_predictions, 2);
    assert!(task.is_labeled);
    let annotation = &task.annotations.as_ref().expect("annotations")[0];
    assert_eq!(annotation.result, choice("Positive"));
    assert_eq!(annotation.lead_time, Some(2.5));
    assert_eq!(annotation.completed_by, Some(me.id));
    assert_eq!(annotation.last_action.as_deref(), Some("imported"));
    let predictions = task.predictions.as_ref().expect("predictions");
    assert_eq!(predictions.len(), 2);
    assert_eq!(predictions[0].result, choice("Negative"));
    assert_eq!(predictions[0].score, Some(0.25));
    assert_eq!(predictions[0].model_version, "m1");
    assert_eq!(predictions[1].model_version, "7");
    assert_eq!(predictions[1].result[0]["from_name"], "sentiment");
    assert_eq!(
        predictions[1].result[0]["value"],
        json!({"choices": ["Positive"]})
    );
}

#[tokio::test]
async fn import_two_thousand_tasks_in_one_request() {
    let app = TestApp::spawn().await;
    let id = app.project(CLS).await;
    let items: Vec<Value> = (0..2000)
        .map(|i| json!({"text": format!("task {i}")}))
        .collect();
    let body: ImportView = app
        .post(
            &format!("/api/projects/{id}/import?return_task_ids=true"),
            Value::Array(items),
        )
        .await
        .created();
    assert_eq!(body.task_count, 2000);
    let ids = body.task_ids.expect("task_ids");
    assert_eq!(ids.len(), 2000);
    let mut unique = ids.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), 2000);
    assert_eq!(project(&app, id).await.task_number, 2000);

    // Task ids come back in input order.
    let first = task(&app, ids[0]).await;
    assert_eq!(first.data["text"], "task 0");
    assert_eq!(first.inner_id, 1);
    let last = task(&app, ids[1999]).await;
    assert_eq!(last.data["text"], "task 1999");
    assert_eq!(last.inner_id, 2000);
    let list: TaskListView = app
        .get(&format!("/api/tasks/?project={id}&page_size=10"))
        .await
        .good();
    assert_eq!(list.total, 2000);
}

#[tokio::test]
async fn import_return_task_ids_and_the_no_slash_and_slash_paths() {
    let app = TestApp::spawn().await;
    let id = app.project(CLS).await;
    let body: ImportView = app
        .post(
            &format!("/api/projects/{id}/import?return_task_ids=true"),
            json!([{"text": "a"}]),
        )
        .await
        .created();
    let first = body.task_ids.expect("ids")[0];
    let body: ImportView = app
        .post(
            &format!("/api/projects/{id}/import/?return_task_ids=1"),
            json!([{"text": "b"}]),
        )
        .await
        .created();
    let second = body.task_ids.expect("ids")[0];
    assert!(second > first);
    let (status, body) = app
        .post(
            &format!("/api/projects/{id}/import?return_task_ids=false"),
            json!([{"text": "c"}]),
        )
        .await;
    assert_eq!(status, 201);
    // Absent, not null: a key-presence check.
    assert!(body.get("task_ids").is_none());
    // A single object is one task.
    let body: ImportView = app
        .post(&format!("/api/projects/{id}/import"), json!({"text": "d"}))
        .await
        .created();
    assert_eq!(body.task_count, 1);
    assert_eq!(project(&app, id).await.task_number, 4);
}

#[tokio::test]
async fn import_with_commit_to_project_false_creates_nothing() {
    let app = TestApp::spawn().await;
    let id = app.project(CLS).await;
    let body: ImportView = app
        .post(
            &format!("/api/projects/{id}/import?commit_to_project=false"),
            json!([{"text": "a"}, {"data": {"text": "b"}, "annotations": [{"result": choice("Positive")}]}]),
        )
        .await
        .created();
    assert_eq!(body.task_count, 2);
    assert_eq!(body.annotation_count, 1);
    let p = project(&app, id).await;
    assert_eq!(p.task_number, 0);
    assert_eq!(p.total_annotations_number, 0);
    let list: TaskListView = app.get(&format!("/api/tasks/?project={id}")).await.good();
    assert_eq!(list.total, 0);
    assert!(list.tasks.is_empty(), "{list:?}");
    // A committed import afterwards starts at inner_id 1.
    let ids = app.import(id, json!([{"text": "c"}])).await;
    assert_eq!(task(&app, ids[0]).await.inner_id, 1);
}

#[tokio::test]
async fn an_invalid_task_fails_the_whole_import() {
    let app = TestApp::spawn().await;
    let id = app.project(CLS).await;
    app.import(id, json!([{"text": "existing"}])).await;
    let error = refused(
        app.post(
            &format!("/api/projects/{id}/import"),
            json!([{"text": "ok"}, {"other": "no text"}, {"text": "ok too"}]),
        )
        .await,
        400,
        ErrorCode::InvalidImport,
    );
    let detail = &error.detail;
    assert!(
        detail.contains("Task #2") && detail.contains("text"),
        "{detail}"
    );
    assert_eq!(project(&app, id).await.task_number, 1);
    let list: TaskListView = app.get(&format!("/api/tasks/?project={id}")).await.good();
    assert_eq!(list.total, 1);

    // Other bad items are rejected the same way, and nothing is written.
    for bad in [
        json!([{"text": "a"}, 5]),
        json!([{"data": {"text": "a"}, "annotations": {"result": []}}]),
        json!([{"data": {"text": "a"}, "annotations": [{"result": "Positive"}]}]),
        json!([{"data": {"text": "a"}, "predictions": [{"result": {"rating": 3}}]}]),
        json!([{"data": {"no": "text"}, "predictions": []}]),
    ] {
        let error = app
            .post(&format!("/api/projects/{id}/import"), bad.clone())
            .await
            .bad();
        assert_eq!(error.status_code, 400, "{bad}: {error:?}");
        assert_eq!(error.code, ErrorCode::InvalidImport, "{bad}: {error:?}");
    }
    let p = project(&app, id).await;
    assert_eq!(p.task_number, 1);
    assert_eq!(p.total_annotations_number, 0);
    assert_eq!(p.total_predictions_number, 0);
}

#[tokio::test]
async fn import_rejects_an_empty_list_and_non_list_bodies() {
    let app = TestApp::spawn().await;
    let id = app.project(CLS).await;
    for body in [json!([]), json!("text"), json!(5), json!(null), json!(true)] {
        let error = app
            .post(&format!("/api/projects/{id}/import"), body.clone())
            .await
            .bad();
        assert_eq!(error.status_code, 400, "{body}: {error:?}");
        assert_eq!(error.code, ErrorCode::InvalidImport, "{body}: {error:?}");
    }
    refused(
        app.raw(
            Method::POST,
            &format!("/api/projects/{id}/import"),
            "application/json",
            b"[{".to_vec(),
        )
        .await,
        400,
        ErrorCode::ParseError,
    );
    assert_eq!(project(&app, id).await.task_number, 0);
    // Unknown project: 404.
    let (status, resp) = app
        .post("/api/projects/999999/import", json!([{"text": "a"}]))
        .await;
    assert_eq!(status, 404, "{resp}");
}

#[tokio::test]
async fn validate_a_label_config_for_a_project() {
    let app = TestApp::spawn().await;
    let id = app.project(CLS).await;
    let path = format!("/api/projects/{id}/validate/");
    let body: LabelConfigView = app.post(&path, json!({"label_config": CLS})).await.good();
    assert!(!body.config_essential_data_has_changed);
    assert_eq!(body.label_config, CLS);
    // Layout changes are not essential.
    let relaid = format!(
        "<View><Header value=\"Hi\"/>{}</View>",
        &CLS[6..CLS.len() - 7]
    );
    let body: LabelConfigView = app
        .post(&path, json!({"label_config": relaid}))
        .await
        .good();
    assert!(!body.config_essential_data_has_changed);
    // New labels or controls are.
    let more_labels = CLS.replace(
        "<Choice value=\"Negative\"/>",
        "<Choice value=\"Negative\"/><Choice value=\"Neutral\"/>",
    );
    let body: LabelConfigView = app
        .post(&path, json!({"label_config": more_labels}))
        .await
        .good();
    assert!(body.config_essential_data_has_changed);
    let body: LabelConfigView = app.post(&path, json!({"label_config": NER})).await.good();
    assert!(body.config_essential_data_has_changed);
    // The project itself is unchanged.
    assert_eq!(project(&app, id).await.label_config, CLS);

    let error = bad_field(
        app.post(&path, json!({"label_config": "<View><Text"}))
            .await,
        "label_config",
    );
    assert!(field_errors(&error, "label_config")[0].contains("line"));
    bad_field(
        app.post(&path, json!({"label_config": ""})).await,
        "label_config",
    );
    bad_field(app.post(&path, json!({})).await, "label_config");
    let (status, _) = app
        .post(
            "/api/projects/999999/validate/",
            json!({"label_config": CLS}),
        )
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn validate_a_label_config_on_its_own() {
    let app = TestApp::spawn().await;
    let body: LabelConfigView = app
        .post("/api/projects/validate/", json!({"label_config": NER}))
        .await
        .good();
    assert!(!body.config_essential_data_has_changed);
    assert_eq!(body.label_config, NER);
    let (status, body) = app
        .post("/api/projects/validate", json!({"label_config": CLS}))
        .await;
    assert_eq!(status, 200, "{body}");
    for bad in [
        "<Text name=\"t\" value=\"$t\"/>",
        "<View><Labels name=\"l\" toName=\"missing\"><Label value=\"A\"/></Labels></View>",
        "<View",
    ] {
        let error = bad_field(
            app.post("/api/projects/validate/", json!({"label_config": bad}))
                .await,
            "label_config",
        );
        assert!(
            field_errors(&error, "label_config")[0].contains("line"),
            "{bad}: {error:?}"
        );
    }
    let (status, _) = app
        .send(
            Method::POST,
            "/api/projects/validate/",
            None,
            Some(&json!({"label_config": CLS})),
        )
        .await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn delete_all_tasks_of_a_project() {
    let app = TestApp::spawn().await;
    let id = app.project(CLS).await;
    let keep = app.project(CLS).await;
    let tasks = app
        .import(
            id,
            json!([{"data": {"text": "a"}, "annotations": [{"result": choice("Positive")}],
                                       "predictions": [{"result": "Negative"}]}, {"text": "b"}]),
        )
        .await;
    let kept = app.import(keep, json!([{"text": "other"}])).await;
    let first = task(&app, tasks[0]).await;
    let annotation = first.annotations.as_ref().expect("annotations")[0].id;
    let prediction = first.predictions.as_ref().expect("predictions")[0].id;

    let (status, body) = app
        .send(
            Method::DELETE,
            &format!("/api/projects/{id}/tasks/"),
            Some(&app.annotator_token),
            None,
        )
        .await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(project(&app, id).await.task_number, 2);

    let (status, _) = app.delete(&format!("/api/projects/{id}/tasks/")).await;
    assert_eq!(status, 204);
    let p = project(&app, id).await;
    assert_eq!(p.task_number, 0);
    assert_eq!(p.total_annotations_number, 0);
    assert_eq!(p.total_predictions_number, 0);
    for t in &tasks {
        assert_eq!(app.get(&format!("/api/tasks/{t}/")).await.0, 404);
    }
    assert_eq!(
        app.get(&format!("/api/annotations/{annotation}/")).await.0,
        404
    );
    assert_eq!(
        app.get(&format!("/api/predictions/{prediction}/")).await.0,
        404
    );
    // Other projects keep their tasks.
    assert_eq!(app.get(&format!("/api/tasks/{}/", kept[0])).await.0, 200);
    // The no-slash variant works too, on an empty project.
    let (status, _) = app.delete(&format!("/api/projects/{id}/tasks")).await;
    assert_eq!(status, 204);
}

#[tokio::test]
async fn annotators_may_not_change_projects() {
    let app = TestApp::spawn().await;
    let id = app.project(CLS).await;
    let annotator = Some(app.annotator_token.as_str());
    refused(
        app.send(
            Method::POST,
            "/api/projects/",
            annotator,
            Some(&json!({"title": "mine", "label_config": CLS})),
        )
        .await,
        403,
        ErrorCode::PermissionDenied,
    );
    let (status, _) = app
        .send(
            Method::PATCH,
            &format!("/api/projects/{id}/"),
            annotator,
            Some(&json!({"title": "x"})),
        )
        .await;
    assert_eq!(status, 403);
    let (status, _) = app
        .send(
            Method::DELETE,
            &format!("/api/projects/{id}/"),
            annotator,
            None,
        )
        .await;
    assert_eq!(status, 403);
    let (status, _) = app
        .send(
            Method::POST,
            &format!("/api/projects/{id}/import"),
            annotator,
            Some(&json!([{"text": "a"}])),
        )
        .await;
    assert_eq!(status, 403);
    // Reads are allowed.
    let body: ProjectView = app
        .send(
            Method::GET,
            &format!("/api/projects/{id}/"),
            annotator,
            None,
        )
        .await
        .good();
    assert_eq!(body.title, "test");
    assert_eq!(body.task_number, 0);
    assert_eq!(list(&app, "/api/projects/").await.count, 1);
}

#[tokio::test]
async fn both_slash_variants_of_a_path_work() {
    let app = TestApp::spawn().await;
    let id = app
        .post(
            "/api/projects",
            json!({"title": "no slash", "label_config": CLS}),
        )
        .await
        .created::<ProjectView>()
        .id;
    let with = list(&app, "/api/projects/").await;
    let without = list(&app, "/api/projects").await;
    assert_eq!(result_ids(&with), vec![id]);
    assert_eq!(result_ids(&without), vec![id]);
    let body: ProjectView = app.get(&format!("/api/projects/{id}")).await.good();
    assert_eq!(body.title, "no slash");
    let body: ProjectView = app
        .patch(&format!("/api/projects/{id}"), json!({"title": "patched"}))
        .await
        .good();
    assert_eq!(body.title, "patched");
    let (status, body) = app
        .post(
            &format!("/api/projects/{id}/validate"),
            json!({"label_config": CLS}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, _) = app.delete(&format!("/api/projects/{id}")).await;
    assert_eq!(status, 204);
}

#[tokio::test]
async fn wrong_methods_are_405() {
    let app = TestApp::spawn().await;
    let id = app.project(CLS).await;
    for (method, path) in [
        (Method::PUT, "/api/projects/".to_string()),
        (Method::DELETE, "/api/projects/".to_string()),
        (Method::POST, format!("/api/projects/{id}/")),
        (Method::PUT, format!("/api/projects/{id}/")),
        (Method::GET, format!("/api/projects/{id}/import")),
        (Method::GET, format!("/api/projects/{id}/validate/")),
        (Method::GET, format!("/api/projects/{id}/tasks/")),
    ] {
        let error = app
            .send(method.clone(), &path, Some(&app.token), Some(&json!({})))
            .await
            .bad();
        assert_eq!(error.status_code, 405, "{method} {path}: {error:?}");
        assert_eq!(error.code, ErrorCode::MethodNotAllowed);
        assert!(error.detail.contains(method.as_str()), "{error:?}");
    }
    // The project is untouched.
    assert_eq!(project(&app, id).await.title, "test");
}

#[tokio::test]
async fn unknown_paths_and_non_integer_ids_are_404() {
    let app = TestApp::spawn().await;
    for path in [
        "/api/nope/",
        "/api/projects/1/unknown/",
        "/nothing",
        "/api/projects/abc/",
        "/api/projects/1.5/",
        "/api/projects/999999/",
    ] {
        // Typed reading checks `id` is a string and `exc_info` is null.
        let error = app.get(path).await.bad();
        assert_eq!(error.status_code, 404, "{path}: {error:?}");
        assert_eq!(error.code, ErrorCode::NotFound, "{path}: {error:?}");
        if path.ends_with("/999999/") {
            // A route that exists names what it did not find.
            assert_eq!(
                error.detail,
                "Not found: project 999999 (/api/projects/999999/) is not in your organization."
            );
        } else {
            assert_eq!(error.detail, "Not found.", "{path}");
        }
    }
    let (status, body) = app.patch("/api/projects/abc/", json!({"title": "x"})).await;
    assert_eq!(status, 404, "{body}");
    let (status, _) = app.delete("/api/projects/abc/").await;
    assert_eq!(status, 404);
    let (status, _) = app
        .post("/api/projects/abc/import", json!([{"text": "a"}]))
        .await;
    assert_eq!(status, 404);
}
