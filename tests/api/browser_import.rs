//! A newcomer's mistakes with label configs and task files (issue 20, items 6 and 7) in a real
//! headless Chromium: a `<Choise>` typo is named as it is typed and refused on create with the
//! form kept; an unknown attribute is a warning under a valid config; a file whose ground
//! truth sits in a column spelt `Label` is summarized before it is imported; values that are
//! not classes are refused next to the column field with nothing imported; empty rows and a
//! column that looks like the ground truth are asked about, and *Use column* takes it. (Item 9,
//! a Reviewer reading a version as text, is in `browser.rs`.)
use crate::browser::snap;
use crate::helpers::TestApp;
use crate::helpers::browser::Browser;
use crate::helpers::web::{PASSWORD, set_password};
use prompter::views::Paginated;
use prompter::views::projects::ProjectView;

const TYPO: &str = r#"<View>
  <Text name="text" value="$text"/>
  <Choices name="sentiment" toName="text">
    <Choice value="Positive"/>
    <Choice value="Negative"/>
    <Choise value="Neutral"/>
  </Choices>
</View>"#;

const ODD_ATTRIBUTE: &str = r#"<View>
  <Text name="text" value="$text"/>
  <Choices name="sentiment" toName="text" choise="multiple">
    <Choice value="Positive"/>
    <Choice value="Negative"/>
    <Choice value="Neutral"/>
  </Choices>
</View>"#;

const LABEL: &str = "text,Label
I love this phone,Positive
Terrible battery,Negative
Great camera,Positive
Awful case,Negative
So so,Neutral
Broke in a week,Negative
Works fine,Positive
Never again,Negative
";

const NOT_CLASSES: &str = "text,label
Fine,Positive
Meh,positive
Hm,Mixed
";

const EMPTY_ROWS: &str = "text,Label
Nice,Positive
,
Bad,Negative
";

async fn projects(app: &TestApp) -> Vec<ProjectView> {
    let (_, body) = app.get("/api/projects/").await;
    serde_json::from_value::<Paginated<ProjectView>>(body)
        .expect("projects")
        .results
}

#[tokio::test]
async fn a_newcomers_typo_and_messy_files_are_told_before_anything_is_saved() {
    let app = TestApp::spawn().await;
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

    // Item 7: the typo is named as it is typed, with the tag meant.
    b.open(&url("/projects")).await;
    b.fill("#title", "Reviews").await;
    b.fill("#label_config", TYPO).await;
    let check = b
        .wait_text("#config-check", |t| t.contains("did you mean"))
        .await;
    assert_eq!(
        check,
        "Line 6, column 5: unknown tag <Choise>: did you mean Choice?"
    );
    snap(&b, "20-7-config-typo").await;
    // Sent anyway, the form comes back with the error, the title and the config as typed.
    b.click("#create-project").await;
    let page = b
        .wait_text("main", |t| t.contains("did you mean Choice?"))
        .await;
    assert!(page.contains("unknown tag <Choise>"), "{page}");
    let kept = b
        .run("return [document.getElementById('title').value, document.getElementById('label_config').value];")
        .await;
    assert_eq!(kept[0], "Reviews");
    assert!(
        kept[1]
            .as_str()
            .unwrap_or_default()
            .contains("<Choise value=\"Neutral\"/>"),
        "{kept}"
    );
    assert!(projects(&app).await.is_empty());
    // An unknown attribute: valid, with a warning to read.
    b.fill("#label_config", ODD_ATTRIBUTE).await;
    let check = b
        .wait_text("#config-check", |t| t.starts_with("Valid"))
        .await;
    assert!(
        check.contains(r#"Line 3, column 43: <Choices name="sentiment">: unknown attribute "choise": did you mean "choice"?"#),
        "{check}"
    );
    snap(&b, "20-7-config-warning").await;
    b.click("#create-project").await;
    b.wait_url(|u| u.contains("/projects/")).await;
    b.find("#config-warnings").await;

    // Item 6: the ground truth in a column spelt `Label`, matched, summarized, then imported.
    let dir = tempfile::tempdir().unwrap();
    let file = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.display().to_string()
    };
    b.fill("#task-file", &file("reviews.csv", LABEL)).await;
    b.fill("#label-column", "label").await;
    b.click("#import-button").await;
    let facts = b.wait_text("#import-facts", |t| !t.is_empty()).await;
    assert!(
        facts.contains("8 rows in reviews.csv: 8 tasks to import."),
        "{facts}"
    );
    assert!(
        facts.contains("Ground truth from column \"Label\": 8 tasks."),
        "{facts}"
    );
    let notes = b.text("#import-notes").await;
    assert!(notes.contains("its column \"Label\" is used"), "{notes}");
    assert_eq!(b.text("#import-confirm").await, "Import 8 tasks");
    snap(&b, "20-6-import-summary").await;
    assert_eq!(
        b.text("#task-count").await,
        "0",
        "nothing imported before confirming"
    );
    b.click("#import-confirm").await;
    b.wait_text("#import-result", |t| t.starts_with("Imported 8 tasks"))
        .await;
    b.wait_text("#gt-count", |t| t == "8").await;

    // Values that are not classes: refused next to the column field; nothing imported.
    b.fill("#task-file", &file("classes.csv", NOT_CLASSES))
        .await;
    b.fill("#label-column", "label").await;
    b.click("#import-button").await;
    let error = b.wait_text("#label-column-error", |t| !t.is_empty()).await;
    assert!(
        error.contains("\"positive\" (row 2; did you mean \"Positive\"?)")
            && error.contains("\"Mixed\" (row 3)"),
        "{error}"
    );
    let invalid = b
        .run("return document.getElementById('label-column').getAttribute('aria-invalid');")
        .await;
    assert_eq!(invalid, "true");
    snap(&b, "20-6-import-refused").await;
    assert!(!b.has("#import-summary:not([hidden])").await);
    assert_eq!(b.text("#task-count").await, "8");

    // Empty rows and a column that looks like the ground truth: asked, and the column taken
    // with one click.
    b.fill("#task-file", &file("more.csv", EMPTY_ROWS)).await;
    b.run("document.getElementById('label-column').value = ''; return true;")
        .await;
    b.click("#import-button").await;
    let questions = b.wait_text("#import-questions", |t| !t.is_empty()).await;
    assert!(
        questions.contains("column \"Label\" looks like it"),
        "{questions}"
    );
    assert!(
        questions.contains("1 row has no data and is left out (row 2)."),
        "{questions}"
    );
    assert_eq!(b.text("#import-confirm").await, "Import 2 tasks anyway");
    snap(&b, "20-6-import-questions").await;
    b.click("#import-use-column").await;
    b.wait_text("#import-facts", |t| {
        t.contains("Ground truth from column \"Label\": 2 tasks.")
    })
    .await;
    let column = b
        .run("return document.getElementById('label-column').value;")
        .await;
    assert_eq!(column, "Label");
    b.click("#import-confirm").await;
    b.wait_text("#import-result", |t| t.starts_with("Imported 2 tasks"))
        .await;
    b.wait_text("#task-count", |t| t == "10").await;
    b.wait_text("#gt-count", |t| t == "10").await;
}
