//! The registry's history of tag and domain changes, in the API and on the prompt's page, and
//! `export | import` as it comes (issue 19, item 8): the import takes the exported document
//! as it is, as well as wrapped in `{"document": …}`.
use crate::helpers::fixtures::{connection, id_of, new_prompt};
use crate::helpers::web::{WebClient, set_password};
use crate::helpers::{CLS, Reply, TestApp};
use prompter::views::registry::{CommentView, ImportedView};
use serde_json::json;

/// The history of `prompt`, newest first (a bare list; asserts 200).
async fn history(app: &TestApp, prompt: i64) -> Vec<CommentView> {
    app.get(&format!("/api/prompts/{prompt}/comments"))
        .await
        .good()
}

#[tokio::test]
async fn tag_and_domain_changes_are_kept_in_the_history_with_their_reason() {
    let app = TestApp::spawn().await;
    let project = app.project(CLS).await;
    let prompt = id_of(
        &new_prompt(
            &app,
            json!({"title": "Tagged", "associated_projects": [project], "input_fields": ["text"],
                "output_classes": ["Positive", "Negative"], "tags": ["support", "old"]}),
        )
        .await,
    );
    let path = format!("/api/prompts/{prompt}/");
    let (status, body) = app
        .patch(
            &path,
            json!({"tags": ["support", "email"], "domain": "Care", "reason": "moved to the care team"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    // The same values again, or the same tags in another order, record nothing.
    app.patch(
        &path,
        json!({"tags": ["email", "support"], "domain": "Care"}),
    )
    .await;
    let (status, _) = app.patch(&path, json!({"domain": null})).await;
    assert_eq!(status, 200);
    let list = history(&app, prompt).await;
    let said: Vec<(&str, &str)> = list
        .iter()
        .map(|c| (c.kind.as_str(), c.text.as_str()))
        .collect();
    assert_eq!(
        said,
        vec![
            ("domain", "Domain cleared (was Care). (no reason given)"),
            (
                "domain",
                "Domain Care (was not set). Reason: moved to the care team"
            ),
            (
                "tags",
                "Tags: added email; removed old. Reason: moved to the care team"
            ),
        ]
    );
    assert_eq!(
        list[1].author.as_ref().map(|a| a.email.as_str()),
        Some("admin@example.com")
    );

    // The web app's registry form records them too, and the page's history shows them.
    set_password(&app, "admin@example.com").await;
    let mut web = WebClient::new(&app);
    web.sign_in("admin@example.com").await;
    let saved = web
        .post(
            &format!("/prompts/{prompt}/registry"),
            &[
                ("tags", "support, email, billing"),
                ("domain", "Billing"),
                ("status", "draft"),
                ("deployed_version", ""),
                ("reason", "billing asks too"),
            ],
        )
        .await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    let page = web.get(&format!("/prompts/{prompt}")).await;
    for text in [
        "Tags: added billing. Reason: billing asks too",
        "Domain Billing (was not set). Reason: billing asks too",
        "Tags: added email; removed old. Reason: moved to the care team",
    ] {
        assert!(page.body.contains(text), "{text} is not on the page");
    }
}

#[tokio::test]
async fn an_exported_document_imports_as_it_comes_and_wrapped() {
    let app = TestApp::spawn().await;
    let c = connection(&app).await;
    let project = app.project(CLS).await;
    let prompt = id_of(
        &new_prompt(
            &app,
            json!({"title": "Portable", "associated_projects": [project], "input_fields": ["text"],
                "output_classes": ["Positive", "Negative"], "tags": ["exported"], "domain": "Reviews"}),
        )
        .await,
    );
    crate::helpers::fixtures::new_version(&app, prompt, c, "v1").await;
    let (status, body) = app
        .post(
            &format!("/api/prompts/{prompt}/schedules"),
            json!({"cron": "0 2 * * *", "timezone": "UTC", "project": project}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    // The document stays raw: it is sent back exactly as it came and compared whole.
    let (status, exported) = app.get(&format!("/api/prompts/{prompt}/export")).await;
    assert_eq!(status, 200, "{exported}");

    // The document as export returns it, placed by the query's project.
    let bare: ImportedView = app
        .post(
            &format!("/api/prompts/import?project={project}"),
            exported.clone(),
        )
        .await
        .created();
    assert_eq!(bare.versions.len(), 1, "{bare:?}");
    assert_eq!(bare.schedules.len(), 1, "{bare:?}");
    // The wrapped form, as before.
    let wrapped: ImportedView = app
        .post(
            "/api/prompts/import?copy=true",
            json!({"document": exported, "project": project, "title": "Portable"}),
        )
        .await
        .created();
    // Both round-trip: their exports are the source's.
    for imported in [&bare, &wrapped] {
        let id = imported.prompt;
        assert_ne!(id, prompt);
        let (_, again) = app.get(&format!("/api/prompts/{id}/export")).await;
        assert_eq!(again, exported, "the round trip changed the document");
    }
    // Without copy, the same document, bare or wrapped, answers the earlier import.
    let found: ImportedView = app
        .post("/api/prompts/import", exported.clone())
        .await
        .good();
    assert_eq!(found.prompt, bare.prompt);
    let found: ImportedView = app
        .post("/api/prompts/import", json!({"document": exported}))
        .await
        .good();
    assert_eq!(found.prompt, bare.prompt);
    // A bare body that is no document says what is wrong with it.
    let refused = app
        .post(
            "/api/prompts/import",
            json!({"format": "other", "format_version": 1}),
        )
        .await
        .bad();
    assert_eq!(refused.status_code, 400, "{refused:?}");
    // The wrapped form's own fields are still checked by name.
    let refused = app
        .post(
            "/api/prompts/import",
            json!({"document": exported, "project": "first"}),
        )
        .await
        .bad();
    assert_eq!(refused.status_code, 400, "{refused:?}");
}
