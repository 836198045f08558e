//! The trust page in a real headless Chromium (issue 22 item 6): over the seeded run of
//! `trust.rs` it shows the labeled accuracy beside the estimate over all tasks, the tasks to
//! label next and the reliability chart; the slider finds the threshold of a target, and
//! *Accept* turns the sure predictions into annotations and says how many; the run's results
//! show the scores, least sure first.
use crate::helpers::browser::Browser;
use crate::helpers::engine::engine_app;
use crate::helpers::web::set_password;
use crate::trust::{overconfident_run, seeded_run};

#[tokio::test]
async fn the_trust_page_estimates_finds_a_threshold_and_accepts() {
    let app = engine_app().await;
    set_password(&app, "admin@example.com").await;
    let (s, run, _) = seeded_run(&app).await;
    let Some(b) = Browser::start().await else {
        return;
    };
    let url = |path: &str| format!("{}{path}", app.address);
    b.sign_in(&app.address, "admin@example.com").await;

    b.open(&url(&format!("/runs/{run}"))).await;
    b.click("#trust-link").await;
    b.wait_url(|u| u.ends_with("/trust")).await;
    assert_eq!(
        b.text("#labeled-accuracy").await,
        "83.3% of 12 tasks with ground truth"
    );
    let all = b.text("#project-accuracy").await;
    assert!(all.contains("95% interval"), "{all}");
    assert!(b.has("#reliability-chart svg rect").await);
    // Twelve labels are too few to fit a calibration map: no button.
    assert!(!b.has("#calibrate-form").await);
    // Eighteen tasks without ground truth, all offered for labeling.
    let next = b
        .run("return document.querySelectorAll('#label-next li').length;")
        .await;
    assert_eq!(next, 18);

    // The slider: 75% with 80% confidence finds the 92% threshold (see trust.rs).
    b.run(
        "const r = document.querySelector('#target'); r.value = 75; \
         r.dispatchEvent(new Event('input')); return true;",
    )
    .await;
    assert_eq!(b.text("#target-value").await, "75%");
    b.select("#confidence", "80").await;
    b.click("#find-threshold").await;
    b.wait_url(|u| u.contains("target=75")).await;
    assert_eq!(b.text("#threshold").await, "92.0%");
    // Eight labeled and three unlabeled tasks score at least 0.92.
    assert_eq!(b.text("#accept-count").await, "11");
    b.run("window.confirm = () => true; return true;").await;
    b.click("#accept").await;
    let done = b.wait_text("#accept-done", |t| !t.is_empty()).await;
    // The labeled tasks have their ground truth: only the three unlabeled are accepted.
    assert!(
        done.starts_with("Accepted 3 predictions as annotations; 8 tasks were left alone"),
        "{done}"
    );
    assert_eq!(app.rows("annotations").await, 12 + 3);

    // The results, least sure first: the lowest score leads, shown as a percentage.
    b.open(&url(&format!("/runs/{run}?order=unsure"))).await;
    let first = b.text("#results tbody tr td.n a").await;
    assert_eq!(first, s.tasks[12].to_string());
    let score = b.text("#results tbody tr td.score").await;
    assert_eq!(score, "55.5%");
    b.open(&url(&format!("/runs/{run}?score=from-99"))).await;
    let rows = b
        .run("return document.querySelectorAll('#results tbody tr').length;")
        .await;
    // 0.99 (labeled) is the only score of 99% or more.
    assert_eq!(rows, 1);
}

#[tokio::test]
async fn a_run_with_enough_labels_calibrates_its_version_from_the_trust_page() {
    let app = engine_app().await;
    set_password(&app, "admin@example.com").await;
    let (s, run, _llm) = overconfident_run(&app).await;
    let Some(b) = Browser::start().await else {
        return;
    };
    let url = |path: &str| format!("{}{path}", app.address);
    b.sign_in(&app.address, "admin@example.com").await;
    b.open(&url(&format!("/runs/{run}/trust"))).await;
    assert!(!b.has("#version-map").await);
    b.select("#calibration-method", "isotonic").await;
    b.click("#calibrate").await;
    let note = b.wait_text("#version-map", |t| !t.is_empty()).await;
    assert!(
        note.contains(&format!(
            "isotonic map fitted on run #{run} (24 labeled predictions"
        )),
        "{note}"
    );
    assert_eq!(b.text("#calibrate").await, "Fit the map again");
    let (_, version) = app
        .get(&format!("/api/prompts/{}/versions/{}", s.prompt, s.version))
        .await;
    assert_eq!(version["calibration"]["map"]["method"], "isotonic");
}
