//! A newcomer's mistakes over HTTP (issue 20, items 1, 10 and 11): every form sent with a
//! mistake comes back in its page (422, in the app's frame with the menu and sign-out), with
//! what was typed kept and the problem next to its input in people's words (never a field id,
//! never API wording); a browser asking for a missing page or a bad address gets an HTML page
//! in the frame with a way on, while programs keep Label Studio's JSON error body; and the
//! page after *Make a new token* can be reloaded without making another. The browser tests
//! (`browser_mistakes`) take the same path in Chromium.
use crate::helpers::fixtures::{Fixture, batch, fixture, item, run_on};
use crate::helpers::web::{Answer, WebClient, set_password};
use crate::helpers::{CLS, TestApp, choice};
use crate::web_pages::shows_errors;
use prompter::error::{ErrorBody, ErrorCode};

/// Undoes the HTML escapes of the templates.
fn unescape(html: &str) -> String {
    html.replace("&#x2f;", "/")
        .replace("&#x27;", "'")
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The text of the element with id `id` up to its closing tag (unescaped).
fn element(body: &str, id: &str) -> Option<String> {
    let at = body.find(&format!("id=\"{id}\""))?;
    let start = at + body[at..].find('>')? + 1;
    let end = start + body[start..].find("</")?;
    Some(unescape(&body[start..end]))
}

/// Asserts `answer` is the form's page again, in the app's frame, with a problem at input
/// `input` whose message contains `says`, linked from the summary, and no field id or API
/// wording anywhere in the problems.
#[track_caller]
fn refused_at(answer: &Answer, input: &str, says: &str) -> String {
    shows_errors(answer, input);
    let body = &answer.body;
    assert!(body.contains("id=\"sign-out\""), "not in the frame: {body}");
    assert!(
        body.contains("<nav aria-label=\"Main\">"),
        "no menu: {body}"
    );
    let message = element(body, &format!("{input}-error"))
        .unwrap_or_else(|| panic!("no problem next to {input}: {body}"));
    assert!(message.contains(says), "{input}: {message:?}");
    assert!(
        body.contains(&format!("<a href=\"#{input}\">")),
        "the summary does not link to {input}: {body}"
    );
    let summary = element(body, "form-problems").unwrap_or_default();
    let words = unescape(&summary);
    for api in [
        "That did not work",
        "Invalid pk",
        "This field",
        "non_field_errors",
        "tcp connect",
        "_id:",
    ] {
        assert!(!words.contains(api), "{api} in {words}");
    }
    for id in [
        "label_config:",
        "provider_model_id",
        "project_subset",
        "compare_to",
    ] {
        assert!(!words.contains(id), "{id} in {words}");
    }
    message
}

/// A project of two tasks, a prompt with a version `v1`, and an admin signed in.
async fn signed_in(app: &TestApp) -> (Fixture, WebClient) {
    let f = fixture(app, CLS, &["I love it", "awful"]).await;
    set_password(app, "admin@example.com").await;
    let mut web = WebClient::new(app);
    web.sign_in("admin@example.com").await;
    (f, web)
}

#[tokio::test]
async fn a_browser_gets_pages_in_the_frame_and_programs_keep_json() {
    let app = TestApp::spawn().await;
    let (f, mut web) = signed_in(&app).await;

    // A mistyped address: a page in the frame (menu, sign-out) with ways on.
    let missing = web.browse("/promts").await;
    assert_eq!(missing.status, 404, "{}", missing.body);
    assert!(
        missing.body.contains("<h1>Not found</h1>"),
        "{}",
        missing.body
    );
    assert!(missing.body.contains("id=\"sign-out\""), "{}", missing.body);
    assert!(
        missing.body.contains("href=\"/prompts\""),
        "{}",
        missing.body
    );
    assert!(!missing.body.contains("\"status_code\""));
    // A page of another id, and a path id that is not a number.
    for path in ["/prompts/999999", "/prompts/abc", "/runs/abc/tasks/1"] {
        let page = web.browse(path).await;
        assert_eq!(page.status, 404, "{path}: {}", page.body);
        assert!(
            page.body.contains("id=\"sign-out\""),
            "{path}: {}",
            page.body
        );
    }
    // A query that does not parse: a page saying so, in the frame, marking the section.
    let bad = web
        .browse(&format!("/prompts/{}?version=abc", f.prompt))
        .await;
    assert_eq!(bad.status, 400, "{}", bad.body);
    assert!(
        bad.body.contains("This address does not work"),
        "{}",
        bad.body
    );
    assert!(bad.body.contains("id=\"sign-out\""));
    assert!(
        bad.body
            .contains("<a href=\"/prompts\" aria-current=\"page\">"),
        "{}",
        bad.body
    );

    // Programs keep Label Studio's JSON body: without asking for HTML, and always under /api/.
    let json = web.get("/promts").await;
    assert_eq!(json.status, 404);
    let body: ErrorBody = serde_json::from_str(&json.body).expect("an error body");
    assert_eq!(body.code, ErrorCode::NotFound);
    let api = web.browse("/api/promts/").await;
    assert_eq!(api.status, 404);
    assert!(
        serde_json::from_str::<ErrorBody>(&api.body).is_ok(),
        "{}",
        api.body
    );

    // Signed out: the same page without the menu, with the way to sign in.
    let mut stranger = WebClient::new(&app);
    let page = stranger.browse("/promts").await;
    assert_eq!(page.status, 404);
    assert!(!page.body.contains("id=\"sign-out\""));
    assert!(page.body.contains("href=\"/login\""), "{}", page.body);
}

#[tokio::test]
async fn every_form_comes_back_in_its_page_with_the_problem_at_its_input() {
    let app = TestApp::spawn().await;
    let (f, mut web) = signed_in(&app).await;
    let (p, v) = (f.prompt, f.version);
    let project = f.project.to_string();

    // A project whose config is broken: the problem at the config, in words, the title kept.
    web.get("/projects").await;
    let bad = web
        .post(
            "/projects",
            &[("title", "Typo"), ("label_config", "<View>")],
        )
        .await;
    refused_at(&bad, "label_config", "");
    assert!(bad.body.contains("value=\"Typo\""));

    // A connection with a limit that is not a number, the key to type again.
    web.get("/connections").await;
    let bad = web
        .post(
            "/connections",
            &[
                ("provider", "OpenAI"),
                ("api_key", "sk-typed"),
                ("rpm_limit", "many"),
            ],
        )
        .await;
    refused_at(&bad, "rpm_limit", "Enter a number");
    assert!(bad.body.contains("value=\"many\""));
    assert!(!bad.body.contains("sk-typed"));
    refused_at(&bad, "api_key", "Enter the key again");

    // A version whose prompt reads a field the project does not have: the name typed stays.
    let page = web.get(&format!("/prompts/{p}?version={v}")).await;
    assert_eq!(page.status, 200);
    let (c, vs) = (f.connection.to_string(), v.to_string());
    let bad = web
        .post(
            &format!("/prompts/{p}/versions"),
            &[
                ("source", vs.as_str()),
                ("prompt", "Classify: {review}"),
                ("connection", c.as_str()),
                ("model", "gpt-4o-mini"),
                ("few_shot", "0"),
                ("title", "my second"),
            ],
        )
        .await;
    let said = refused_at(&bad, "version-prompt", "{review}");
    assert!(said.contains("text"), "{said}");
    assert!(bad.body.contains("value=\"my second\""), "{}", bad.body);
    assert!(bad.body.contains("Classify: {review}"));
    // A prompt's first version (its default name is v1): the name typed stays too.
    let first = crate::helpers::fixtures::new_prompt(
        &app,
        serde_json::json!({"title": "Fresh", "associated_projects": [f.project]}),
    )
    .await["id"]
        .as_i64()
        .expect("prompt id");
    web.get(&format!("/prompts/{first}?new=1")).await;
    let bad = web
        .post(
            &format!("/prompts/{first}/versions"),
            &[
                ("prompt", "Classify: {review}"),
                ("connection", c.as_str()),
                ("model", "gpt-4o-mini"),
                ("few_shot", "0"),
                ("title", "baseline"),
            ],
        )
        .await;
    refused_at(&bad, "version-prompt", "{review}");
    assert!(bad.body.contains("value=\"baseline\""), "{}", bad.body);
    assert!(!bad.body.contains("value=\"v1\""), "{}", bad.body);
    // A name taken already: at the name.
    let bad = web
        .post(
            &format!("/prompts/{p}/versions"),
            &[
                ("source", vs.as_str()),
                ("prompt", "Classify: {text}"),
                ("connection", c.as_str()),
                ("model", "gpt-4o-mini"),
                ("title", "v1"),
            ],
        )
        .await;
    refused_at(&bad, "version-title", "already exists");

    // A run on a sample whose size is not a number: the choices stay.
    let bad = web
        .post(
            &format!("/prompts/{p}/versions/{v}/runs"),
            &[
                ("project", &project),
                ("subset", "Sample"),
                ("sample_size", "ten"),
            ],
        )
        .await;
    refused_at(&bad, "run-sample", "whole number");
    assert!(bad.body.contains("value=\"ten\""));
    assert!(
        bad.body.contains("<option value=\"Sample\" selected>"),
        "{}",
        bad.body
    );

    // A schedule with a bad cron, then a bad time zone: the form open, what was typed kept.
    let schedule = |cron: &'static str, tz: &'static str| {
        [
            ("cron", cron),
            ("timezone", tz),
            ("project", project.as_str()),
            ("subset", "HasGT"),
            ("version", ""),
        ]
    };
    let path = format!("/prompts/{p}/schedules");
    let bad = web.post(&path, &schedule("61 * * * *", "UTC")).await;
    refused_at(&bad, "schedule-cron", "61");
    assert!(bad.body.contains("value=\"61 * * * *\""));
    assert!(bad.body.contains("<details open><summary>Add a schedule"));
    assert!(bad.body.contains("<option value=\"HasGT\" selected>"));
    let bad = web
        .post(&path, &schedule("0 2 * * *", "Mars/Olympus"))
        .await;
    refused_at(&bad, "schedule-tz", "is not an IANA time zone");
    assert!(unescape(&bad.body).contains("value=\"Mars/Olympus\""));

    // The registry with a tag too long, and an empty comment.
    let long = "x".repeat(70);
    let bad = web
        .post(
            &format!("/prompts/{p}/registry"),
            &[
                ("tags", long.as_str()),
                ("domain", "support"),
                ("status", "draft"),
                ("deployed_version", ""),
                ("reason", "trying"),
            ],
        )
        .await;
    refused_at(&bad, "registry-tags-input", "64 characters");
    assert!(bad.body.contains(&format!("value=\"{long}\"")));
    assert!(bad.body.contains(">trying</textarea>"));
    let bad = web
        .post(&format!("/prompts/{p}/comments"), &[("text", "  ")])
        .await;
    refused_at(&bad, "comment-text", "Fill in the comment.");

    // Refining with no teacher model.
    let bad = web
        .post(
            &format!("/prompts/{p}/versions/{v}/refine"),
            &[("project", &project), ("connection", &c), ("model", "")],
        )
        .await;
    refused_at(&bad, "teacher-model", "Fill in the teacher model.");

    // Linking a project to a Label Studio that does not answer.
    web.get("/label-studio").await;
    let bad = web
        .post(
            &format!("/projects/{}/label-studio", f.project),
            &[
                ("url", "http://127.0.0.1:1"),
                ("token", "abc123"),
                ("ls_project", "4"),
            ],
        )
        .await;
    let url = format!("ls-url-{}", f.project);
    let said = refused_at(
        &bad,
        &url,
        "Could not reach Label Studio at http://127.0.0.1:1",
    );
    assert!(said.contains("the host cannot be reached"), "{said}");
    assert!(
        said.contains("Check the address and that it is running."),
        "{said}"
    );
    assert!(unescape(&bad.body).contains("value=\"http://127.0.0.1:1\""));
    assert!(bad.body.contains("value=\"4\""));
    assert!(!bad.body.contains("abc123"));
    refused_at(
        &bad,
        &format!("ls-token-{}", f.project),
        "Enter the token again",
    );

    // Nothing was made by any of them.
    assert_eq!(app.rows("prompt_schedules").await, 0);
    assert_eq!(app.rows("label_studio_links").await, 0);
}

#[tokio::test]
async fn comparing_a_version_with_itself_or_a_bad_value_stays_on_the_evaluation() {
    let app = TestApp::spawn().await;
    let (f, mut web) = signed_in(&app).await;
    let (p, v) = (f.prompt, f.version);
    let run = run_on(&app, &f, v, "All").await;
    batch(
        &app,
        run,
        serde_json::json!([
            item(
                f.tasks[0],
                serde_json::json!({"sentiment": choice("Positive")})
            ),
            item(
                f.tasks[1],
                serde_json::json!({"sentiment": choice("Negative")})
            ),
        ]),
    )
    .await;
    let itself = web
        .browse(&format!("/prompts/{p}/compare?a={v}&b={v}"))
        .await;
    let said = refused_at(&itself, "compare-b", "Choose two different versions");
    assert!(said.contains("v1"), "{said}");
    assert!(itself.body.contains("<h1>Evaluation</h1>"));
    assert!(
        itself
            .body
            .contains(&format!("<option value=\"{v}\" selected>v1</option>")),
        "{}",
        itself.body
    );
    // The address: a value that is not a version's.
    let bad = web.browse(&format!("/prompts/{p}/compare?a=abc")).await;
    refused_at(&bad, "compare-a", "Choose version A");
    refused_at(&bad, "compare-b", "Choose version B");
    let other = web
        .browse(&format!("/prompts/{p}/compare?a=999999&b={v}"))
        .await;
    refused_at(&other, "compare-a", "this prompt's versions");
}

#[tokio::test]
async fn reloading_the_new_token_page_shows_it_once_and_revokes_nothing() {
    let app = TestApp::spawn().await;
    set_password(&app, "admin@example.com").await;
    let mut web = WebClient::new(&app);
    web.sign_in("admin@example.com").await;
    web.get("/profile").await;
    let posted = web.post("/profile/token", &[]).await;
    assert_eq!(posted.status, 303, "{}", posted.body);
    assert_eq!(posted.location.as_deref(), Some("/profile"));
    let shown = web.get("/profile").await;
    let token = element(&shown.body, "new-token").expect("the new token");
    assert_eq!(token.len(), 40, "{token}");
    // A reload is a GET: no new token, none shown, and the one shown still works.
    let reloaded = web.get("/profile").await;
    assert_eq!(reloaded.status, 200);
    assert!(
        !reloaded.body.contains("id=\"new-token\""),
        "{}",
        reloaded.body
    );
    assert!(!reloaded.body.contains(&token));
    let (status, _) = app
        .send(reqwest::Method::GET, "/api/projects/", Some(&token), None)
        .await;
    assert_eq!(status, 200, "the token shown was revoked");
    // Another session does not see it either.
    let mut other = WebClient::new(&app);
    other.sign_in("admin@example.com").await;
    assert!(
        !other
            .get("/profile")
            .await
            .body
            .contains("id=\"new-token\"")
    );
    // The flash is gone from the database once shown.
    assert_eq!(app.rows("web_flashes").await, 0);
}
