//! The web app in a real headless Chromium over WebDriver (issue 13): a new user signs in,
//! adds a connection to the fake LLM, creates a project by uploading a CSV, creates a prompt
//! and a version, estimates the cost, runs it on HasGT and watches it reach Completed, reads the
//! accuracy, opens a failed task, edits the prompt into a second version, compares the two,
//! refines, and signs out; the pages fit a phone's width. `PROMPTER_SCREENSHOTS=<dir>` keeps a
//! screenshot of each step.
use crate::helpers::browser::Browser;
use crate::helpers::engine::{engine_app, fake};
use crate::helpers::web::{PASSWORD, make_reviewer, set_password};
use prompter::fake_llm::FakeLlmConfig;

/// Saves a screenshot as `<dir>/<name>.png` when `PROMPTER_SCREENSHOTS` names a folder.
pub(crate) async fn snap(browser: &Browser, name: &str) {
    if let Ok(dir) = std::env::var("PROMPTER_SCREENSHOTS") {
        std::fs::create_dir_all(&dir).expect("screenshot folder");
        std::fs::write(format!("{dir}/{name}.png"), browser.screenshot().await).expect("write");
    }
}

/// The page is no wider than the window (nothing sticks out sideways).
async fn fits(browser: &Browser) -> bool {
    browser
        .run("return document.documentElement.scrollWidth <= window.innerWidth + 1;")
        .await
        .as_bool()
        .unwrap_or(false)
}

const CSV: &str = "text,label
I love this phone,Positive
Terrible battery and bad screen,Negative
Great camera and excellent sound,Positive
I hate the awful case,Negative
Good value for the price,Positive
This forbidden review trips the filter,Negative
A review without ground truth,
";

#[tokio::test]
async fn a_new_user_goes_from_sign_in_to_a_compared_and_refined_prompt() {
    let app = engine_app().await;
    let llm = fake(FakeLlmConfig {
        content_filter: vec!["forbidden".into()],
        ..Default::default()
    })
    .await;
    // The teacher of the refinement, a provider whose filter lets everything through.
    let teacher = fake(FakeLlmConfig::default()).await;
    set_password(&app, "admin@example.com").await;
    let Some(b) = Browser::start().await else {
        return;
    };
    let url = |path: &str| format!("{}{path}", app.address);

    // Sign in.
    b.open(&url("/")).await;
    b.wait_url(|u| u.contains("/login")).await;
    b.fill("#email", "admin@example.com").await;
    b.fill("#password", PASSWORD).await;
    snap(&b, "01-sign-in").await;
    b.click("#sign-in").await;
    b.wait_url(|u| u.ends_with("/prompts")).await;

    // A connection to the fake LLM, tested.
    b.open(&url("/connections")).await;
    b.select("#provider", "Custom").await;
    b.fill("#api_key", "sk-fake-key").await;
    b.fill("#endpoint", &llm.base_url()).await;
    b.click("#save-connection").await;
    b.find("#connections .test-connection").await;
    b.click("#connections .test-connection").await;
    let probe = b.wait_text("#probe-result", |t| !t.is_empty()).await;
    assert!(probe.contains("Connected"), "{probe}");
    assert!(!b.source().await.contains("sk-fake-key"));
    snap(&b, "02-connection").await;
    b.select("#provider", "Custom").await;
    b.fill("#api_key", "sk-teacher-key").await;
    b.fill("#endpoint", &teacher.base_url()).await;
    b.click("#save-connection").await;
    b.find("#connection-2").await;

    // A project from a CSV upload, its label column as ground truth.
    b.open(&url("/projects")).await;
    b.fill("#title", "Phone reviews").await;
    let check = b.wait_text("#config-check", |t| !t.is_empty()).await;
    assert!(check.starts_with("Valid"), "{check}");
    b.click("#create-project").await;
    b.wait_url(|u| u.contains("/projects/")).await;
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("reviews.csv");
    std::fs::write(&csv, CSV).unwrap();
    let input = b.find("#task-file").await;
    let _ = input;
    b.fill("#task-file", &csv.display().to_string()).await;
    b.fill("#label-column", "label").await;
    b.click("#import-button").await;
    // The file is checked first and its summary shown; it is imported on confirmation.
    let facts = b.wait_text("#import-facts", |t| !t.is_empty()).await;
    assert!(facts.contains("7 tasks to import"), "{facts}");
    assert!(facts.contains("6 tasks"), "{facts}");
    b.click("#import-confirm").await;
    b.wait_text("#import-result", |t| t.starts_with("Imported 7 tasks"))
        .await;
    b.wait_text("#gt-count", |t| t == "6").await;
    snap(&b, "03-project").await;

    // A prompt and its first version.
    b.open(&url("/prompts")).await;
    b.fill("#prompt-title", "Review sentiment").await;
    b.click("#create-prompt").await;
    b.wait_url(|u| u.contains("new=1")).await;
    let starter = b
        .run("return document.getElementById('version-prompt').value;")
        .await;
    assert!(
        starter.as_str().unwrap_or_default().contains("{text}"),
        "{starter}"
    );
    b.fill(
        "#version-prompt",
        "Classify the sentiment of this review: {text}",
    )
    .await;
    b.fill("#version-model", "gpt-4o-mini").await;
    b.click("#save-version").await;
    b.wait_url(|u| u.contains("version=")).await;
    let marked = b.text("#placeholder-check").await;
    assert!(marked.contains("{text}"));
    b.click("#estimate-cost").await;
    let estimate = b.wait_text("#estimate", |t| !t.is_empty()).await;
    assert!(
        estimate.contains('$') && estimate.contains("7 tasks"),
        "{estimate}"
    );

    // Run on HasGT and watch it finish.
    b.select("#run-subset", "HasGT").await;
    b.click("#start-run").await;
    b.wait_url(|u| u.contains("/runs/")).await;
    b.wait_text("#run-progress", |t| t.contains("Completed"))
        .await;
    let accuracy = b.wait_text("#run-accuracy", |t| t.contains('%')).await;
    assert!(accuracy.starts_with("83.3%"), "{accuracy}");
    assert!(b.text("#run-failed").await.contains("1"));
    snap(&b, "04-run").await;

    // The failed task, with its prompt.
    b.select("#outcome", "failed").await;
    b.click("#apply-filter").await;
    b.wait_url(|u| u.contains("outcome=failed")).await;
    b.click("#results tbody tr a").await;
    let error = b.wait_text("#task-error", |t| !t.is_empty()).await;
    // The provider's own words stay in the server log; its code is explained.
    assert!(
        error.contains("content filter flagged the prompt"),
        "{error}"
    );
    assert!(b.text("#prompt-user").await.contains("forbidden review"));

    // A second version from the editor.
    let run_page = b.url().await;
    let prompt_path = b
        .run("return document.querySelector('.crumbs a').getAttribute('href');")
        .await;
    let prompt_path = prompt_path.as_str().unwrap_or_default().to_string();
    assert!(
        prompt_path.starts_with("/prompts/"),
        "{prompt_path} from {run_page}"
    );
    b.open(&url(&prompt_path)).await;
    b.fill(
        "#version-prompt",
        "Is this review Positive or Negative? Review: {text}",
    )
    .await;
    b.fill("#version-title", "v2").await;
    b.click("#save-version").await;
    b.wait_text("#editor-title", |t| t == "Version v2").await;
    b.select("#run-subset", "HasGT").await;
    b.click("#start-run").await;
    b.wait_url(|u| u.contains("/runs/")).await;
    b.wait_text("#run-progress", |t| t.contains("Completed"))
        .await;

    // Evaluation and the comparison of the two versions.
    b.open(&url(&format!("{prompt_path}/evaluation"))).await;
    assert!(b.has("#versions-chart svg rect").await);
    assert!(b.has("#confusion").await);
    b.wait_text("#eval-accuracy", |t| t.contains("95% CI"))
        .await;
    snap(&b, "05-evaluation").await;
    b.click("#compare-button").await;
    let significance = b.wait_text("#significance", |t| !t.is_empty()).await;
    assert!(significance.contains("McNemar"), "{significance}");
    snap(&b, "06-compare").await;

    // Refine v2 with a teacher: through the filtered connection the job fails and says why
    // (the teacher reads the filtered review); through the other it proposes a prompt.
    b.open(&url(&prompt_path)).await;
    b.click("nav.tabs a[href*='/refine']").await;
    b.select("#teacher-connection", "1").await;
    b.click("#start-refine").await;
    let failed = b.wait_text("#refinement", |t| t.contains("Failed")).await;
    assert!(
        failed.contains("content filter flagged the prompt"),
        "{failed}"
    );
    b.select("#teacher-connection", "2").await;
    b.click("#start-refine").await;
    b.find("#prompt-diff").await;
    assert!(
        b.text("#prompt-diff")
            .await
            .contains("+ Read the text carefully")
    );
    snap(&b, "07-refine").await;
    b.click("#accept-refined").await;
    b.wait_text("#editor-title", |t| t.contains("refined"))
        .await;

    // Narrow screens: nothing sticks out sideways.
    b.resize(390, 844).await;
    b.open(&url(&prompt_path)).await;
    assert!(fits(&b).await, "the prompt page is wider than a phone");
    b.resize(1280, 900).await;

    // Sign out.
    b.click("#sign-out").await;
    b.wait_url(|u| u.contains("/login")).await;
    b.open(&url("/prompts")).await;
    b.wait_url(|u| u.contains("/login?next=")).await;
}

#[tokio::test]
async fn a_reviewer_sees_no_edit_controls_and_forged_forms_are_refused() {
    use crate::helpers::fixtures::{connection, id_of, new_prompt, new_version};
    use serde_json::json;
    let app = crate::helpers::TestApp::spawn().await;
    let project = app.project(crate::helpers::CLS).await;
    let c = connection(&app).await;
    let prompt = id_of(
        &new_prompt(
            &app,
            json!({"title": "Read only", "associated_projects": [project], "input_fields": ["text"],
                "output_classes": ["Positive", "Negative"]}),
        )
        .await,
    );
    new_version(&app, prompt, c, "v1").await;
    make_reviewer(&app).await;
    set_password(&app, "other@example.com").await;
    set_password(&app, "admin@example.com").await;
    let Some(b) = Browser::start().await else {
        return;
    };
    let url = |path: &str| format!("{}{path}", app.address);
    let sign_in = |email: &'static str| {
        let b = &b;
        let login = url("/login");
        async move {
            b.open(&login).await;
            b.fill("#email", email).await;
            b.fill("#password", PASSWORD).await;
            b.click("#sign-in").await;
            b.wait_url(|u| u.ends_with("/prompts")).await;
        }
    };

    // A Reviewer reads the prompt and is offered nothing to change.
    sign_in("reviewer@example.com").await;
    assert!(!b.has("#new-prompt").await);
    assert!(!b.has("a[href='/members']").await);
    b.open(&url(&format!("/prompts/{prompt}"))).await;
    b.find("#version-view").await;
    for control in [
        "#save-version",
        "#start-run",
        "#new-version-tab",
        "#registry-form",
        "#version-form",
        "#version-prompt",
        "nav.tabs a[href*='/refine']",
    ] {
        assert!(!b.has(control).await, "{control} offered to a Reviewer");
    }
    // The prompt, the model and the name read as text, not as fields to type in.
    assert!(!b.text("#view-prompt").await.is_empty());
    assert_eq!(b.text("#view-title").await, "v1");
    let fields = b
        .run("return document.querySelectorAll('#version-view input, #version-view textarea, #version-view select').length;")
        .await;
    assert_eq!(fields, json!(0));
    snap(&b, "20-9-reviewer-version").await;
    b.open(&url(&format!("/projects/{project}"))).await;
    b.find("#tasks").await;
    assert!(!b.has("#import-form").await);
    b.click("#sign-out").await;
    b.wait_url(|u| u.contains("/login")).await;

    // Another organization's prompt is not found.
    sign_in("other@example.com").await;
    b.open(&url(&format!("/prompts/{prompt}"))).await;
    let title = b.text("h1").await;
    assert_eq!(title, "Not found");
    assert!(!b.source().await.contains("Read only"));
    b.open(&url("/prompts")).await;
    b.click("#sign-out").await;
    b.wait_url(|u| u.contains("/login")).await;

    // A form whose CSRF token was taken out is refused, and nothing is made.
    sign_in("admin@example.com").await;
    b.open(&url("/projects")).await;
    b.fill("#title", "Forged").await;
    b.run("document.querySelector('#new-project input[name=csrf]').remove(); return true;")
        .await;
    b.click("#create-project").await;
    let refused = b.wait_text("main", |t| t.contains("security token")).await;
    assert!(refused.contains("Reload the page"), "{refused}");
    let (_, projects) = app.get("/api/projects/").await;
    assert_eq!(projects["count"], 1, "{projects}");
}
