//! The web app's connections, model choice, estimate, run page and reruns over plain HTTP
//! (issue 20, items 2, 3, 4, 5 and 8): the connection form starts blank and stores a blank
//! field as not set; a connection's test keeps the models it found and the version editor
//! offers them; an estimate without a price still counts tokens and says how to give one;
//! every counter of a run's page says what its live progress says; a rerun's old page leads to
//! the new run; a version whose connection was deleted offers no Run; an empty organization's
//! editor links to where connections are added. The browser tests (`browser_runs.rs`) walk
//! the same path in Chromium.
use crate::helpers::engine::{custom_connection, engine_app, fake, setup, start};
use crate::helpers::fixtures::{
    batch, batch_failed, fixture, ground_truth, id_of, item, new_prompt, run_on, runs_of,
};
use crate::helpers::web::{WebClient, set_password};
use crate::helpers::{CLS, Reply, TestApp, choice};
use prompter::fake_llm::FakeLlmConfig;
use prompter::views::model_providers::ModelProviderConnectionView;
use prompter::views::versions::CostEstimateView;
use serde_json::{Value, json};

/// The text of an HTML page's fragment as a person reads it: the entities minijinja writes
/// turned back into characters.
fn unescape(html: &str) -> String {
    html.replace("&#x2f;", "/")
        .replace("&#x27;", "'")
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The `value` attribute of the element whose id is `id` (empty when it has none).
fn value_of(html: &str, id: &str) -> String {
    let at = html
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no #{id} on the page:\n{html}"));
    let open = html[..at].rfind('<').expect("a tag");
    let tag = &html[open..at + html[at..].find('>').expect("the tag's end")];
    match tag.find(" value=\"") {
        Some(v) => {
            let rest = &tag[v + " value=\"".len()..];
            unescape(&rest[..rest.find('"').expect("the value's end")])
        }
        None => String::new(),
    }
}

/// The text of the first element with `data-field="name"` (its content up to the next tag).
fn field_text(html: &str, name: &str) -> String {
    let at = html
        .find(&format!("data-field=\"{name}\""))
        .unwrap_or_else(|| panic!("no data-field {name} on the page"));
    let rest = &html[at..];
    let text = &rest[rest.find('>').expect("the tag's end") + 1..];
    unescape(text[..text.find('<').unwrap_or(text.len())].trim())
}

/// A signed-in web client of `email` (given the test password).
async fn signed_in(app: &TestApp, email: &str) -> WebClient {
    set_password(app, email).await;
    let mut web = WebClient::new(app);
    web.sign_in(email).await;
    web
}

#[tokio::test]
async fn the_connection_form_starts_blank_and_blank_fields_are_not_set() {
    let app = TestApp::spawn().await;
    let mut web = signed_in(&app, "admin@example.com").await;
    let page = web.get("/connections").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(!page.body.contains("\"None\""), "{}", page.body);
    for field in [
        "endpoint",
        "deployment_name",
        "rpm_limit",
        "tpm_limit",
        "budget_limit",
    ] {
        assert_eq!(value_of(&page.body, field), "", "#{field} starts blank");
    }
    // What a browser sends from the form as shown, for OpenAI (no endpoint) and for Custom
    // (an endpoint, no deployment).
    for (provider, endpoint) in [("OpenAI", ""), ("Custom", "http://127.0.0.1:9/v1")] {
        let sent = web
            .post(
                "/connections",
                &[
                    ("provider", provider),
                    ("api_key", "sk-form"),
                    ("endpoint", endpoint),
                    ("deployment_name", ""),
                    ("rpm_limit", ""),
                    ("tpm_limit", ""),
                    ("budget_limit", ""),
                ],
            )
            .await;
        assert_eq!(sent.status, 303, "{provider}: {}", sent.body);
    }
    let listed: Vec<ModelProviderConnectionView> =
        app.get("/api/model-provider-connections/").await.good();
    assert_eq!(listed.len(), 2);
    let openai = &listed[0];
    assert_eq!(
        (
            openai.endpoint.as_deref(),
            openai.deployment_name.as_deref()
        ),
        (None, None),
        "{openai:?}"
    );
    let custom = &listed[1];
    assert_eq!(
        (
            custom.endpoint.as_deref(),
            custom.deployment_name.as_deref()
        ),
        (Some("http://127.0.0.1:9/v1"), None),
        "{custom:?}"
    );
    // A word typed into a field is kept as typed, "None" included (nothing is made of it).
    let sent = web
        .post(
            "/connections",
            &[
                ("provider", "Custom"),
                ("endpoint", "http://127.0.0.1:9/v1"),
                ("deployment_name", "None"),
            ],
        )
        .await;
    assert_eq!(sent.status, 303, "{}", sent.body);
    let listed: Vec<ModelProviderConnectionView> =
        app.get("/api/model-provider-connections/").await.good();
    assert_eq!(listed[2].deployment_name.as_deref(), Some("None"));
    // A form sent back with an error keeps what was typed, and a blank field stays blank.
    let refused = web
        .post(
            "/connections",
            &[
                ("provider", "Custom"),
                ("endpoint", "http://127.0.0.1:9/v1"),
                ("rpm_limit", "many"),
            ],
        )
        .await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert_eq!(value_of(&refused.body, "endpoint"), "http://127.0.0.1:9/v1");
    assert_eq!(value_of(&refused.body, "rpm_limit"), "many");
    assert_eq!(value_of(&refused.body, "deployment_name"), "");
    assert_eq!(value_of(&refused.body, "budget_limit"), "");
}

#[tokio::test]
async fn a_connection_test_keeps_its_models_and_the_editor_offers_them() {
    let app = TestApp::spawn().await;
    let llm = fake(FakeLlmConfig::default()).await;
    let project = app.project(CLS).await;
    app.import(project, json!([{"text": "I love it"}])).await;
    let custom = custom_connection(&app, &llm, "fake-key").await;
    let mut web = signed_in(&app, "admin@example.com").await;
    let tested = web
        .post(&format!("/connections/{custom}/test"), &[("model", "")])
        .await;
    assert_eq!(tested.status, 200, "{}", tested.body);
    assert!(tested.body.contains("Connected"), "{}", tested.body);
    let found: ModelProviderConnectionView = app
        .get(&format!("/api/model-provider-connections/{custom}/"))
        .await
        .good();
    assert_eq!(found.cached_available_models.as_deref(), Some("fake-model"));
    // An OpenAI connection, never tested: its provider's known models.
    let (status, body) = app
        .post(
            "/api/model-provider-connections/",
            json!({"provider": "OpenAI", "api_key": "sk-test"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let openai = id_of(&body);
    let prompt = id_of(
        &new_prompt(
            &app,
            json!({"title": "Models", "associated_projects": [project]}),
        )
        .await,
    );
    // A first version starts on the tested connection with the model its test found, and
    // the field suggests each connection's models.
    let page = web.get(&format!("/prompts/{prompt}")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(value_of(&page.body, "version-model"), "fake-model");
    assert!(
        page.body.contains(&format!("list=\"models-{custom}\"")),
        "{}",
        page.body
    );
    let custom_list = between(
        &page.body,
        &format!("id=\"models-{custom}\""),
        "</datalist>",
    );
    assert!(
        custom_list.contains("data-default=\"fake-model\""),
        "{custom_list}"
    );
    assert!(
        custom_list.contains("<option value=\"fake-model\">"),
        "{custom_list}"
    );
    let openai_list = between(
        &page.body,
        &format!("id=\"models-{openai}\""),
        "</datalist>",
    );
    assert!(
        openai_list.contains("data-default=\"gpt-4o-mini\""),
        "{openai_list}"
    );
    assert!(
        openai_list.contains("<option value=\"gpt-4.1-mini\">"),
        "{openai_list}"
    );
    // The model is free text all the same.
    let saved = web
        .post(
            &format!("/prompts/{prompt}/versions"),
            &[
                ("prompt", "Classify: {text}"),
                ("connection", &custom.to_string()),
                ("model", "my-own-model"),
                ("few_shot", "0"),
                ("title", ""),
            ],
        )
        .await;
    assert_eq!(saved.status, 303, "{}", saved.body);
}

/// The part of `html` after `start` up to `end`.
fn between<'a>(html: &'a str, start: &str, end: &str) -> &'a str {
    let at = html
        .find(start)
        .unwrap_or_else(|| panic!("{start} not on the page:\n{html}"))
        + start.len();
    let rest = &html[at..];
    &rest[..rest.find(end).unwrap_or(rest.len())]
}

#[tokio::test]
async fn an_estimate_without_a_price_counts_tokens_and_says_how_to_give_one() {
    let app = TestApp::spawn().await;
    let f = fixture(&app, CLS, &["I love it", "awful", "fine"]).await;
    let (status, body) = app
        .post(
            &format!("/api/prompts/{}/versions", f.prompt),
            json!({"title": "local", "prompt": "Classify: {text}", "provider": "Custom",
                   "provider_model_id": "my-local-llama", "model_provider_connection": f.connection}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let version = id_of(&body);
    let estimate: CostEstimateView = app
        .get(&format!(
            "/api/prompts/{}/versions/{version}/cost-estimate",
            f.prompt
        ))
        .await
        .good();
    assert!(estimate.is_error, "{estimate:?}");
    assert_eq!(estimate.error_type.as_deref(), Some("UnknownModel"));
    assert_eq!(estimate.total_cost_usd, None);
    assert_eq!(estimate.tasks, 3);
    assert!(
        estimate.prompt_tokens > 0 && estimate.completion_tokens > 0,
        "{estimate:?}"
    );
    let mut web = signed_in(&app, "admin@example.com").await;
    let page = web
        .get(&format!(
            "/prompts/{}?version={version}&estimate=1",
            f.prompt
        ))
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    let shown = unescape(between(&page.body, "id=\"estimate\"", "</div>"));
    assert!(
        shown.contains(&format!(
            "About {} prompt and {} completion tokens for 3 tasks",
            estimate.prompt_tokens, estimate.completion_tokens
        )),
        "{shown}"
    );
    assert!(shown.contains("my-local-llama") && shown.contains("PROMPTER_PRICES_FILE"));
    assert!(shown.contains("id=\"price-hint\""), "{shown}");
}

/// The run page's counters and what its live progress sends, field by field.
async fn assert_page_says_what_progress_says(web: &mut WebClient, run: i64) -> Value {
    let page = web.get(&format!("/runs/{run}")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let progress = web.get(&format!("/app/runs/{run}/progress")).await;
    assert_eq!(progress.status, 200, "{}", progress.body);
    // The page script's own JSON (a private web type, no view): raw.
    let sent: Value = serde_json::from_str(&progress.body).expect("json");
    // The pace moves with the clock between the two reads; nothing else may.
    for name in [
        "status",
        "progress",
        "cost_label",
        "cost",
        "tokens",
        "accuracy_detail",
        "failed_detail",
        "last_error",
    ] {
        assert_eq!(
            field_text(&page.body, name),
            sent[name].as_str().unwrap_or_default(),
            "{name}"
        );
    }
    let main = between(&page.body, "<main", "</main>");
    assert!(!main.contains("null"), "{main}");
    sent
}

#[tokio::test]
async fn every_counter_of_a_run_page_says_what_its_progress_says() {
    // No workers: the results come through the API, a few at a time, as a run's would.
    let app = TestApp::spawn().await;
    let texts: Vec<String> = (0..6).map(|i| format!("review {i}")).collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let f = fixture(&app, CLS, &refs).await;
    for task in &f.tasks {
        ground_truth(&app, *task, choice("Positive")).await;
    }
    let run = run_on(&app, &f, f.version, "HasGT").await;
    let mut web = signed_in(&app, "admin@example.com").await;
    let sent = assert_page_says_what_progress_says(&mut web, run).await;
    assert_eq!(sent["progress"], "0 / 6 tasks");
    assert_eq!(sent["failed_detail"], "0");
    assert_eq!(sent["accuracy_detail"], "— (no result yet)");
    // Two answered (one right), one failed: every counter moves together.
    batch(
        &app,
        run,
        json!([
            item(f.tasks[0], json!({"sentiment": "Positive"})),
            item(f.tasks[1], json!({"sentiment": "Negative"}))
        ]),
    )
    .await;
    batch_failed(
        &app,
        run,
        json!([{"task_id": f.tasks[2], "message": "no answer in time", "error_type": "Timeout"}]),
    )
    .await;
    let sent = assert_page_says_what_progress_says(&mut web, run).await;
    assert_eq!(sent["progress"], "3 / 6 tasks (1 failed)");
    assert_eq!(sent["failed_detail"], "1 · Timeout 1");
    assert_eq!(sent["accuracy"], "33.3% · 1 failed");
    assert!(
        sent["accuracy_detail"]
            .as_str()
            .unwrap_or_default()
            .starts_with("33.3% · 1 failed (1 correct of 3 tasks with ground truth done"),
        "{sent}"
    );
    assert_eq!(sent["tokens"], "24 tokens (20 prompt, 4 completion)");
    assert_eq!(
        sent["last_error"],
        "Last error: Timeout — no answer in time"
    );
    // The prompt page's row of the run words its progress the same way.
    let page = web
        .get(&format!("/prompts/{}?version={}", f.prompt, f.version))
        .await;
    assert_eq!(field_text(&page.body, "progress"), "3 / 6 tasks (1 failed)");
    assert_eq!(field_text(&page.body, "accuracy"), "33.3% · 1 failed");
}

#[tokio::test]
async fn a_finished_run_without_a_price_says_its_cost_is_not_known() {
    let app = engine_app().await;
    let llm = fake(FakeLlmConfig::default()).await;
    let mut s = setup(&app, &llm, CLS, &["I love it", "awful"], "Text: {text}").await;
    let (status, body) = app
        .post(
            &format!("/api/prompts/{}/versions", s.prompt),
            json!({"title": "local", "prompt": "Text: {text}", "provider": "Custom",
                   "provider_model_id": "my-local-llama", "model_provider_connection": s.connection}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    s.version = id_of(&body);
    let run = start(&app, &s, json!({"project_subset": "All"})).await;
    crate::helpers::engine::finished(&app, &s, run).await;
    let mut web = signed_in(&app, "admin@example.com").await;
    let sent = assert_page_says_what_progress_says(&mut web, run).await;
    assert_eq!(sent["cost_label"], "Cost");
    assert_eq!(sent["cost"], "not known (no price for my-local-llama)");
    assert_eq!(sent["progress"], "2 / 2 tasks");
    assert!(
        sent["tokens"]
            .as_str()
            .unwrap_or_default()
            .ends_with("completion)"),
        "{sent}"
    );
    let page = web.get(&format!("/runs/{run}")).await;
    let note = between(&page.body, "<p class=\"note\">", "</p>");
    assert!(
        note.contains("my-local-llama") && note.contains("PROMPTER_PRICES_FILE"),
        "{note}"
    );
}

#[tokio::test]
async fn a_replaced_runs_page_leads_to_the_run_that_replaced_it() {
    let app = TestApp::spawn().await;
    let f = fixture(&app, CLS, &["I love it", "awful"]).await;
    let first = run_on(&app, &f, f.version, "All").await;
    let mut web = signed_in(&app, "admin@example.com").await;
    // The run form says what a run on the same tasks replaces.
    let page = web
        .get(&format!("/prompts/{}?version={}", f.prompt, f.version))
        .await;
    let hint = unescape(between(&page.body, "id=\"run-replaces\"", "</div>"));
    assert!(
        hint.contains("replaces its previous run") && hint.contains(&format!("run #{first}")),
        "{hint}"
    );
    assert!(
        hint.contains(&format!("data-replaces=\"{}:All\"", f.project)),
        "{hint}"
    );
    let again = web
        .post(
            &format!("/prompts/{}/versions/{}/runs", f.prompt, f.version),
            &[("project", &f.project.to_string()), ("subset", "All")],
        )
        .await;
    assert_eq!(again.status, 303, "{}", again.body);
    let second: i64 = again
        .location
        .as_deref()
        .and_then(|l| l.strip_prefix("/runs/"))
        .and_then(|id| id.parse().ok())
        .expect("the new run's page");
    assert_ne!(first, second);
    // The old run's pages say it was replaced and link the new run, in the app's frame.
    for path in [
        format!("/runs/{first}"),
        format!("/runs/{first}/tasks/{}", f.tasks[0]),
    ] {
        let gone = web.get(&path).await;
        assert_eq!(gone.status, 404, "{path}");
        assert!(gone.body.contains("was replaced"), "{}", gone.body);
        assert!(
            gone.body.contains(&format!("href=\"/runs/{second}\"")),
            "{}",
            gone.body
        );
        assert!(gone.body.contains("id=\"sign-out\""), "in the frame");
    }
    // Its live progress is gone too (the page script then reloads into that page).
    let progress = web.get(&format!("/app/runs/{first}/progress")).await;
    assert_eq!(progress.status, 404);
    // Replaced again: the first run's page leads to the newest.
    let third = id_of(
        &crate::helpers::fixtures::new_run(
            &app,
            f.prompt,
            f.version,
            json!({"project": f.project, "project_subset": "All"}),
        )
        .await,
    );
    let gone = web.get(&format!("/runs/{first}")).await;
    assert!(
        gone.body.contains(&format!("href=\"/runs/{third}\"")),
        "{}",
        gone.body
    );
    // A run that never was: a page in the frame that leads back to the prompts.
    let none = web.get("/runs/999999").await;
    assert_eq!(none.status, 404);
    assert!(none.body.contains("no longer exists"), "{}", none.body);
    assert!(none.body.contains("href=\"/prompts\""), "{}", none.body);
    // Another organization learns nothing of the replaced run.
    let mut other = signed_in(&app, "other@example.com").await;
    let foreign = other.get(&format!("/runs/{first}")).await;
    assert_eq!(foreign.status, 404);
    assert!(!foreign.body.contains("was replaced"), "{}", foreign.body);
    assert_eq!(runs_of(&app, f.prompt, f.version).await.len(), 1);
}

#[tokio::test]
async fn a_version_whose_connection_was_deleted_offers_no_run() {
    let app = TestApp::spawn().await;
    let f = fixture(&app, CLS, &["I love it"]).await;
    let (status, body) = app
        .delete(&format!(
            "/api/model-provider-connections/{}/",
            f.connection
        ))
        .await;
    assert!(status == 204 || status == 200, "{status} {body}");
    let mut web = signed_in(&app, "admin@example.com").await;
    let page = web
        .get(&format!("/prompts/{}?version={}", f.prompt, f.version))
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(!page.body.contains("id=\"start-run\""), "{}", page.body);
    let why = unescape(between(&page.body, "id=\"no-run\"", "</p>"));
    assert!(
        why.contains("connection was deleted") && why.contains("href=\"/connections\""),
        "{why}"
    );
    // A run form from an older page is refused with the same reason, and nothing runs.
    let sent = web
        .post(
            &format!("/prompts/{}/versions/{}/runs", f.prompt, f.version),
            &[("project", &f.project.to_string()), ("subset", "All")],
        )
        .await;
    assert_eq!(sent.status, 422, "{}", sent.body);
    assert!(
        unescape(&sent.body).contains("its connection was deleted"),
        "{}",
        sent.body
    );
    assert!(runs_of(&app, f.prompt, f.version).await.is_empty());
}

#[tokio::test]
async fn a_new_organizations_editor_links_to_where_connections_are_added() {
    let app = TestApp::spawn().await;
    // The other organization has nothing yet: a project and a prompt, no connection.
    let (status, project) = app
        .send(
            reqwest::Method::POST,
            "/api/projects/",
            Some(&app.other_token),
            Some(&json!({"title": "Mine", "label_config": CLS})),
        )
        .await;
    assert_eq!(status, 201, "{project}");
    let (status, prompt) = app
        .send(
            reqwest::Method::POST,
            "/api/prompts/",
            Some(&app.other_token),
            Some(&json!({"title": "First", "associated_projects": [id_of(&project)]})),
        )
        .await;
    assert_eq!(status, 201, "{prompt}");
    let prompt = id_of(&prompt);
    let mut web = signed_in(&app, "other@example.com").await;
    let page = web.get(&format!("/prompts/{prompt}?new=1")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let hint = between(&page.body, "id=\"no-connection\"", "</p>");
    assert!(hint.contains("href=\"/connections\""), "{hint}");
    // Saving anyway says the same, next to the form kept as typed.
    let sent = web
        .post(
            &format!("/prompts/{prompt}/versions"),
            &[("prompt", "Classify: {text}"), ("model", "gpt-4o-mini")],
        )
        .await;
    assert_eq!(sent.status, 422, "{}", sent.body);
    assert!(
        unescape(&sent.body).contains("Add a connection first (on the Connections page)"),
        "{}",
        sent.body
    );
    let hint = between(&sent.body, "id=\"no-connection\"", "</p>");
    assert!(hint.contains("href=\"/connections\""), "{hint}");
}
