//! Importing a task file in the web app (issue 20, item 6): the file is checked and summarized
//! before anything is written; a ground-truth column spelt in another case is matched and said;
//! values that are not classes are refused next to the column field with nothing written;
//! empty rows are left out and a column that looks like the ground truth is pointed out, both
//! for the person to confirm. The API's import is unchanged (Label Studio's).
use crate::helpers::web::{WebClient, make_reviewer, set_password};
use crate::helpers::{CLS, Reply, TestApp};
use prompter::views::projects::ProjectView;
use serde::Deserialize;

/// The import's answer to the page script, as far as these tests read it.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Answer {
    imported: bool,
    facts: Vec<String>,
    notes: Vec<String>,
    questions: Vec<String>,
    use_column: Option<String>,
    confirm: Option<String>,
    field: Option<String>,
    message: Option<String>,
    task_count: usize,
    annotation_count: usize,
}

/// The file: the ground truth in a column named `Label`.
const LABEL: &str = "text,Label
I love this phone,Positive
Terrible battery,Negative
Great camera,Positive
Awful case,Negative
Good value,Positive
Broke in a week,Negative
Works fine,Positive
Never again,Negative
";

/// A signed-in Owner of the main organization and a project of [`CLS`].
async fn setup() -> (TestApp, WebClient, i64) {
    let app = TestApp::spawn().await;
    let project = app.project(CLS).await;
    set_password(&app, "admin@example.com").await;
    let mut web = WebClient::new(&app);
    web.sign_in("admin@example.com").await;
    web.get(&format!("/projects/{project}")).await;
    (app, web, project)
}

/// Sends `csv` as `file` with the ground-truth `column`, checking only or importing.
async fn send(
    web: &mut WebClient,
    project: i64,
    file: &str,
    csv: &str,
    column: Option<&str>,
    commit: bool,
) -> (u16, Answer) {
    let mut path = format!(
        "/projects/{project}/import?filename={file}&commit={}",
        if commit { 1 } else { 0 }
    );
    if let Some(column) = column {
        path.push_str(&format!("&label_column={column}"));
    }
    let answer = web.script(&path, csv.as_bytes().to_vec(), true).await;
    let body: Answer = serde_json::from_str(&answer.body)
        .unwrap_or_else(|e| panic!("{e}: {} {}", answer.status, answer.body));
    (answer.status, body)
}

async fn counts(app: &TestApp, project: i64) -> (i64, i64) {
    let p: ProjectView = app.get(&format!("/api/projects/{project}/")).await.good();
    (p.task_number, p.ground_truth_number)
}

#[tokio::test]
async fn a_column_spelt_in_another_case_is_matched_summarized_then_imported() {
    let (app, mut web, project) = setup().await;
    // The check writes nothing and says what an import would do, and that `Label` stands in
    // for `label`.
    let (status, check) = send(
        &mut web,
        project,
        "reviews.csv",
        LABEL,
        Some("label"),
        false,
    )
    .await;
    assert_eq!(status, 200, "{check:?}");
    assert!(!check.imported);
    assert_eq!(
        check.facts[..2],
        [
            "8 rows in reviews.csv: 8 tasks to import.",
            "Ground truth from column \"Label\": 8 tasks.",
        ]
    );
    assert_eq!(check.notes.len(), 1, "{check:?}");
    assert!(check.notes[0].contains("no column \"label\"; its column \"Label\" is used"));
    assert!(check.questions.is_empty(), "{check:?}");
    assert_eq!(check.confirm.as_deref(), Some("Import 8 tasks"));
    assert_eq!(counts(&app, project).await, (0, 0));
    // Confirmed: 8 tasks with 8 ground-truth annotations.
    let (status, done) = send(&mut web, project, "reviews.csv", LABEL, Some("label"), true).await;
    assert_eq!(status, 200, "{done:?}");
    assert!(done.imported);
    assert_eq!((done.task_count, done.annotation_count), (8, 8));
    assert_eq!(counts(&app, project).await, (8, 8));
}

#[tokio::test]
async fn values_that_are_not_classes_are_refused_and_nothing_is_written() {
    let (app, mut web, project) = setup().await;
    let csv = "text,label\nGood,Positive\nMeh,positive\nHm,Mixed\nOk,Mixed\n";
    for commit in [false, true] {
        let (status, refused) = send(&mut web, project, "x.csv", csv, Some("label"), commit).await;
        assert_eq!(status, 400, "{refused:?}");
        assert_eq!(refused.field.as_deref(), Some("label_column"));
        let message = refused.message.clone().unwrap_or_default();
        assert!(
            message.starts_with(
                "3 rows have values of column \"label\" not among the classes of the label config (Positive, Negative)"
            ),
            "{message}"
        );
        assert!(
            message.contains("\"positive\" (row 2; did you mean \"Positive\"?)"),
            "{message}"
        );
        assert!(message.contains("\"Mixed\" (rows 3 and 4)"), "{message}");
        assert!(message.contains("nothing was imported"), "{message}");
        // What the check found is shown beside the error.
        assert!(
            refused.facts[0].starts_with("4 rows in x.csv"),
            "{refused:?}"
        );
    }
    assert_eq!(counts(&app, project).await, (0, 0));
    // A column that is not in the file is refused the same way.
    let (status, refused) = send(&mut web, project, "x.csv", csv, Some("class"), false).await;
    assert_eq!(status, 400);
    assert_eq!(refused.field.as_deref(), Some("label_column"));
    assert_eq!(
        refused.message.as_deref(),
        Some("The file has no column \"class\". Its columns are \"text\" and \"label\".")
    );
    // So is a file that is not a task file, on the file field.
    let (status, refused) = send(&mut web, project, "x.txt", csv, None, false).await;
    assert_eq!((status, refused.field.as_deref()), (400, Some("file")));
}

#[tokio::test]
async fn empty_rows_and_a_look_alike_column_are_asked_about() {
    let (app, mut web, project) = setup().await;
    let csv = "text,Label\nGood,Positive\n,\nBad,Negative\n , \n";
    // No ground-truth column named, though `Label` looks like one; two empty rows.
    let (status, check) = send(&mut web, project, "y.csv", csv, None, false).await;
    assert_eq!(status, 200, "{check:?}");
    assert_eq!(check.use_column.as_deref(), Some("Label"));
    assert_eq!(check.questions.len(), 2, "{check:?}");
    assert!(check.questions[0].contains("column \"Label\" looks like it"));
    assert_eq!(
        check.questions[1],
        "2 rows have no data and are left out (rows 2 and 4)."
    );
    assert!(
        check
            .facts
            .contains(&"No ground truth: no column is named as holding it.".to_string())
    );
    assert_eq!(check.confirm.as_deref(), Some("Import 2 tasks anyway"));
    assert_eq!(counts(&app, project).await, (0, 0));
    // Using the column it pointed at: ground truth for both tasks, the empty rows left out.
    let (_, check) = send(&mut web, project, "y.csv", csv, Some("Label"), false).await;
    assert_eq!(check.use_column, None);
    assert!(
        check
            .facts
            .contains(&"Ground truth from column \"Label\": 2 tasks.".to_string())
    );
    let (status, done) = send(&mut web, project, "y.csv", csv, Some("Label"), true).await;
    assert_eq!(status, 200, "{done:?}");
    assert_eq!((done.task_count, done.annotation_count), (2, 2));
    assert_eq!(counts(&app, project).await, (2, 2));
    // A file without the field the label config shows is refused on the file field.
    let (status, refused) = send(
        &mut web,
        project,
        "w.csv",
        "body,label\nHi,Positive\n",
        Some("label"),
        false,
    )
    .await;
    assert_eq!((status, refused.field.as_deref()), (400, Some("file")));
    assert_eq!(
        refused.message.as_deref(),
        Some(
            "No column holds \"text\", which the label config shows ($text): name a column so (the file's columns are \"body\" and \"label\")."
        )
    );
    // A file of empty rows only has nothing to import.
    let (status, refused) = send(&mut web, project, "z.csv", "text,label\n,\n", None, false).await;
    assert_eq!((status, refused.field.as_deref()), (400, Some("file")));
}

#[tokio::test]
async fn a_reviewer_cannot_import_and_the_api_import_is_unchanged() {
    let (app, _, project) = setup().await;
    make_reviewer(&app).await;
    let mut reviewer = WebClient::new(&app);
    reviewer.sign_in("reviewer@example.com").await;
    reviewer.get(&format!("/projects/{project}")).await;
    let answer = reviewer
        .script(
            &format!("/projects/{project}/import?filename=a.csv&commit=1"),
            LABEL.as_bytes().to_vec(),
            true,
        )
        .await;
    assert_eq!(answer.status, 403);
    // Label Studio's import takes what it is given: a choice that is not a class, an empty
    // data object (as Label Studio does).
    let (status, body) = app
        .post(
            &format!("/api/projects/{project}/import"),
            serde_json::json!([
                {"data": {"text": "x"}, "annotations": [{"result": crate::helpers::choice("Mixed"), "ground_truth": true}]},
                {"text": ""},
            ]),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(counts(&app, project).await, (2, 1));
}
