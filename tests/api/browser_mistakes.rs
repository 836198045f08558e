//! A newcomer's mistakes in a real headless Chromium (issue 20, items 1, 10 and 11): a
//! mistyped address and a bad compare address are pages in the app's frame with a way on;
//! comparing a version with itself, a prompt reading a field the project lacks, a bad cron,
//! a bad time zone, an unreachable Label Studio and a broken label config each come back in
//! their page with what was typed and the problem next to its input in words; the as-you-type
//! check says what is wrong with `{review}`; and reloading the page of a new API token shows
//! it no more and revokes nothing. `PROMPTER_SCREENSHOTS=<dir>` keeps a screenshot of each.
use crate::helpers::browser::Browser;
use crate::helpers::fixtures::{batch, fixture, item, run_on};
use crate::helpers::web::{PASSWORD, set_password};
use crate::helpers::{CLS, TestApp, choice};
use serde_json::json;

/// Saves a screenshot as `<dir>/mistake-<name>.png` when `PROMPTER_SCREENSHOTS` names a folder.
async fn snap(browser: &Browser, name: &str) {
    if let Ok(dir) = std::env::var("PROMPTER_SCREENSHOTS") {
        std::fs::create_dir_all(&dir).expect("screenshot folder");
        let path = format!("{dir}/mistake-{name}.png");
        std::fs::write(path, browser.screenshot().await).expect("write");
    }
}

/// The page is in the app's frame: the menu and the sign-out button.
async fn in_frame(b: &Browser) {
    assert!(
        b.has("nav[aria-label='Main']").await,
        "no menu on {}",
        b.url().await
    );
    assert!(b.has("#sign-out").await, "no sign-out on {}", b.url().await);
}

/// The value of the input `css`.
async fn value(b: &Browser, css: &str) -> String {
    b.run(&format!("return document.querySelector(\"{css}\").value;"))
        .await
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[tokio::test]
async fn a_newcomer_makes_mistakes_and_is_told_what_to_do_in_the_page() {
    let app = TestApp::spawn().await;
    let f = fixture(&app, CLS, &["I love it", "awful"]).await;
    let (p, v) = (f.prompt, f.version);
    let run = run_on(&app, &f, v, "All").await;
    batch(
        &app,
        run,
        json!([
            item(f.tasks[0], json!({"sentiment": choice("Positive")})),
            item(f.tasks[1], json!({"sentiment": choice("Negative")})),
        ]),
    )
    .await;
    set_password(&app, "admin@example.com").await;
    let Some(b) = Browser::start().await else {
        return;
    };
    let url = |path: &str| format!("{}{path}", app.address);
    b.open(&url("/login")).await;
    b.fill("#email", "admin@example.com").await;
    b.fill("#password", PASSWORD).await;
    b.click("#sign-in").await;
    b.wait_url(|u| u.ends_with("/prompts")).await;

    // A mistyped address: a page in the frame, and a way on.
    b.open(&url("/promts")).await;
    assert_eq!(b.text("h1").await, "Not found");
    in_frame(&b).await;
    snap(&b, "01-not-found").await;
    b.click("#ways-on a[href='/prompts']").await;
    b.wait_url(|u| u.ends_with("/prompts")).await;

    // The compare address with a value that is not a version: the evaluation page, saying so.
    b.open(&url(&format!("/prompts/{p}/compare?a=abc"))).await;
    let said = b.text("#compare-a-error").await;
    assert!(said.contains("Choose version A"), "{said}");
    in_frame(&b).await;
    // Comparing a version with itself, from the form.
    b.open(&url(&format!("/prompts/{p}/evaluation"))).await;
    b.select("#compare-a", &v.to_string()).await;
    b.select("#compare-b", &v.to_string()).await;
    b.click("#compare-button").await;
    let said = b.text("#compare-b-error").await;
    assert!(said.contains("Choose two different versions"), "{said}");
    assert!(b.text("#form-problems").await.contains("Version B"));
    in_frame(&b).await;
    snap(&b, "02-compare-itself").await;

    // A new version reading {review}: the check says what is wrong as it is typed, and the
    // save comes back with the prompt and the name typed.
    b.open(&url(&format!("/prompts/{p}?version={v}"))).await;
    b.fill("#version-title", "careful v2").await;
    b.fill("#version-prompt", "Review: {review}").await;
    let words = b
        .wait_text("#placeholder-check-words", |t| !t.is_empty())
        .await;
    assert!(
        words.starts_with("{review} is not an input of this project; its inputs are {text}"),
        "{words}"
    );
    b.click("#save-version").await;
    let said = b.text("#version-prompt-error").await;
    assert!(said.contains("{review}") && said.contains("text"), "{said}");
    assert_eq!(value(&b, "#version-title").await, "careful v2");
    assert_eq!(value(&b, "#version-prompt").await, "Review: {review}");
    let invalid = b
        .run("return document.getElementById('version-prompt').getAttribute('aria-invalid');")
        .await;
    assert_eq!(invalid, json!("true"));
    in_frame(&b).await;
    snap(&b, "03-version-field").await;

    // A schedule with a bad cron, then a bad time zone.
    b.run("document.getElementById('schedule-form').closest('details').open = true; return 1;")
        .await;
    b.fill("#schedule-cron", "61 * * * *").await;
    b.wait_text("#schedule-firings", |t| t.contains("61")).await;
    b.click("#add-schedule").await;
    let said = b.text("#schedule-cron-error").await;
    assert!(said.contains("61"), "{said}");
    assert_eq!(value(&b, "#schedule-cron").await, "61 * * * *");
    let open = b
        .run("return document.getElementById('schedule-form').closest('details').open;")
        .await;
    assert_eq!(open, json!(true));
    in_frame(&b).await;
    b.fill("#schedule-cron", "0 2 * * *").await;
    b.fill("#schedule-tz", "Mars/Olympus").await;
    b.click("#add-schedule").await;
    let said = b.text("#schedule-tz-error").await;
    assert!(said.contains("is not an IANA time zone"), "{said}");
    assert_eq!(value(&b, "#schedule-tz").await, "Mars/Olympus");
    snap(&b, "04-schedule").await;

    // Linking to a Label Studio that is not running.
    let project = f.project;
    b.open(&url("/label-studio")).await;
    b.fill(&format!("#ls-url-{project}"), "http://127.0.0.1:1")
        .await;
    b.fill(&format!("#ls-token-{project}"), "abc123").await;
    b.fill(&format!("#ls-project-{project}"), "3").await;
    b.click(&format!(
        "form[action='/projects/{project}/label-studio'] button"
    ))
    .await;
    let said = b.text(&format!("#ls-url-{project}-error")).await;
    assert_eq!(
        said,
        "Could not reach Label Studio at http://127.0.0.1:1: the host cannot be reached. Check \
         the address and that it is running."
    );
    assert_eq!(
        value(&b, &format!("#ls-url-{project}")).await,
        "http://127.0.0.1:1"
    );
    in_frame(&b).await;
    snap(&b, "05-label-studio").await;

    // A label config with a mistake: in words, at the config, never "label_config:".
    b.open(&url("/projects")).await;
    b.fill("#title", "Typo").await;
    b.fill("#label_config", "<View>").await;
    b.click("#create-project").await;
    let said = b.text("#label_config-error").await;
    assert!(!said.is_empty());
    let summary = b.text("#form-problems").await;
    assert!(!summary.contains("label_config"), "{summary}");
    assert_eq!(value(&b, "#title").await, "Typo");
    in_frame(&b).await;
    snap(&b, "06-label-config").await;

    // A new API token, then a reload: shown once, and the reload revokes nothing.
    b.open(&url("/profile")).await;
    b.click("#rotate-token").await;
    let token = b.wait_text("#new-token", |t| t.len() == 40).await;
    assert!(b.url().await.ends_with("/profile"));
    b.refresh().await;
    b.find("#rotate-token").await;
    assert!(!b.has("#new-token").await, "the token is shown again");
    let (status, _) = app
        .send(reqwest::Method::GET, "/api/projects/", Some(&token), None)
        .await;
    assert_eq!(status, 200, "the reload revoked the token shown");
    snap(&b, "07-token-reloaded").await;
}
