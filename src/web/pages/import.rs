//! Importing a task file into a project from its page, in two steps: the page script sends the
//! file to be checked and shows what importing it would do (tasks, ground truth found, empty
//! rows left out, columns matched in another case, a column that looks like the ground truth);
//! it is imported only when the person confirms. Ground-truth values that are not classes of
//! the label config are refused, next to the ground-truth column field, with nothing written.
use crate::error::ApiError;
use crate::services::projects as service;
use crate::services::task_files::{self, ImportPlan, ImportSummary, PlanError, TaskFileFormat};
use crate::state::AppState;
use crate::web::forms::ScriptBody;
use crate::web::page::PageResult;
use crate::web::problems::messages;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};

/// Registers `/projects/{id}/import`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/projects/{id}/import", web::post().to(import));
}

#[derive(Deserialize)]
struct ImportQuery {
    filename: Option<String>,
    label_column: Option<String>,
    ground_truth: Option<String>,
    /// `1` imports; anything else only checks.
    commit: Option<String>,
}

/// The form fields an answer can be about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
enum Field {
    /// The file input.
    File,
    /// The ground-truth column input.
    LabelColumn,
}

/// Why the file is not imported, for the field it is about; nothing was written.
#[derive(Debug, Serialize)]
struct Refusal {
    field: Field,
    message: String,
    /// What the check found, when it got that far.
    facts: Vec<String>,
}

/// What importing the file would do, in sentences for the page: facts, notes (what was
/// matched in another case) and questions the person answers by importing anyway.
#[derive(Debug, Default, Serialize, PartialEq)]
struct Check {
    imported: bool,
    facts: Vec<String>,
    notes: Vec<String>,
    questions: Vec<String>,
    /// A column that looks like the ground truth, for a *Use it* button.
    use_column: Option<String>,
    /// The words of the button that imports.
    confirm: String,
}

/// What an import did.
#[derive(Debug, Serialize)]
struct Imported {
    imported: bool,
    task_count: usize,
    annotation_count: usize,
}

fn refuse(field: Field, message: impl Into<String>, facts: Vec<String>) -> HttpResponse {
    HttpResponse::build(StatusCode::BAD_REQUEST).json(Refusal {
        field,
        message: message.into(),
        facts,
    })
}

async fn import(
    state: web::Data<AppState>,
    id: web::Path<i64>,
    q: web::Query<ImportQuery>,
    body: ScriptBody,
) -> PageResult {
    let caller = body.visitor.manager()?;
    let project = service::get(&state.db, &caller, *id).await?;
    let name = q.filename.clone().unwrap_or_default();
    let Some(format) = TaskFileFormat::of_name(&name) else {
        return Ok(refuse(
            Field::File,
            format!("\"{name}\" is not a .json, .jsonl or .csv file."),
            vec![],
        ));
    };
    let config = service::config_of(&project);
    let column = q.label_column.clone();
    let bytes = body.bytes;
    let planned = tokio::task::spawn_blocking(move || {
        task_files::plan(format, &bytes, &config, column.as_deref())
    })
    .await
    .map_err(|e| ApiError::Internal(format!("task file reader: {e}")))?;
    let ImportPlan { items, summary } = match planned {
        Ok(plan) => plan,
        Err(PlanError::File(message)) => return Ok(refuse(Field::File, message, vec![])),
        Err(PlanError::Column(message)) => {
            return Ok(refuse(Field::LabelColumn, message, vec![]));
        }
    };
    let facts = facts(&summary, &name, q.ground_truth.as_deref() == Some("true"));
    if let Some((field, message)) = refusal(&summary) {
        return Ok(refuse(field, message, facts));
    }
    let ground_truth = summary.label_column.is_some() || q.ground_truth.as_deref() == Some("true");
    let commit = q.commit.as_deref() == Some("1");
    // The check runs the very import, rolled back: whatever the import would refuse is
    // refused now, before the person confirms.
    match service::import(
        &state.db,
        &caller,
        project.id,
        serde_json::Value::Array(items),
        commit,
        ground_truth,
    )
    .await
    {
        Ok(outcome) if commit => {
            tracing::info!(project = project.id, tasks = outcome.task_ids.len(), file = %name, "imported a task file from the web app");
            Ok(HttpResponse::Ok().json(Imported {
                imported: true,
                task_count: outcome.task_ids.len(),
                annotation_count: outcome.annotation_count,
            }))
        }
        Ok(_) => Ok(HttpResponse::Ok().json(check(&summary, facts))),
        Err(e @ (ApiError::Validation { .. } | ApiError::BadRequest { .. })) => {
            Ok(refuse(Field::File, messages(&e).join(" "), facts))
        }
        Err(e) => Err(e.into()),
    }
}

/// `n` and the noun, singular or plural: `1 task`, `3 tasks`.
fn count(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

/// Row numbers as a person reads them: `row 4`, `rows 4, 9 and 12`, with `…` past five.
fn rows(list: &[usize], total: usize) -> String {
    let shown: Vec<String> = list.iter().take(5).map(ToString::to_string).collect();
    let more = if total > shown.len() { ", …" } else { "" };
    match shown.split_last() {
        None => String::new(),
        Some((only, [])) if more.is_empty() => format!("row {only}"),
        Some((last, rest)) if more.is_empty() => format!("rows {} and {last}", rest.join(", ")),
        Some(_) => format!("rows {}{more}", shown.join(", ")),
    }
}

/// What the check found, in sentences.
fn facts(summary: &ImportSummary, file: &str, mark_ground_truth: bool) -> Vec<String> {
    let mut facts = vec![format!(
        "{} in {file}: {} to import.",
        count(summary.rows, "row", "rows"),
        count(summary.tasks, "task", "tasks")
    )];
    if let Some(column) = &summary.label_column {
        facts.push(format!(
            "Ground truth from column \"{column}\": {}.",
            count(summary.ground_truth, "task", "tasks")
        ));
    } else if summary.with_annotations > 0 {
        facts.push(format!(
            "{} already {} annotations{}.",
            count(summary.with_annotations, "task", "tasks"),
            if summary.with_annotations == 1 {
                "has"
            } else {
                "have"
            },
            if mark_ground_truth {
                ", marked as ground truth"
            } else {
                " (not marked as ground truth)"
            }
        ));
    } else {
        facts.push("No ground truth: no column is named as holding it.".into());
    }
    // Empty rows left out are a question of their own (see [`check`]).
    if !summary.columns.is_empty() {
        facts.push(format!(
            "Columns: {}.",
            task_files::quoted(&summary.columns)
        ));
    }
    facts
}

/// Why the file must not be imported as it is, and the field that says so.
fn refusal(summary: &ImportSummary) -> Option<(Field, String)> {
    if !summary.unknown_values.is_empty() {
        let rows_with: usize = summary.unknown_values.iter().map(|u| u.count).sum();
        let values: Vec<String> = summary
            .unknown_values
            .iter()
            .take(5)
            .map(|u| {
                let near = u
                    .near
                    .as_ref()
                    .map(|n| format!("; did you mean \"{n}\"?"))
                    .unwrap_or_default();
                format!("\"{}\" ({}{near})", u.value, rows(&u.rows, u.count))
            })
            .collect();
        let more = if summary.unknown_values.len() > 5 {
            ", …"
        } else {
            ""
        };
        return Some((
            Field::LabelColumn,
            format!(
                "{} of column \"{}\" not among the classes of the label config ({}): {}{more}. \
                 Correct the file (or the label config) and import it again; nothing was imported.",
                count(rows_with, "row has a value", "rows have values"),
                summary.label_column.as_deref().unwrap_or_default(),
                summary.classes.join(", "),
                values.join(", ")
            ),
        ));
    }
    if summary.tasks == 0 {
        return Some((
            Field::File,
            "Every row of the file is empty: there is nothing to import.".into(),
        ));
    }
    if !summary.missing_fields.is_empty() {
        let fields: Vec<String> = summary
            .missing_fields
            .iter()
            .map(|f| format!("${f}"))
            .collect();
        return Some((
            Field::File,
            format!(
                "No column holds {}, which the label config shows ({}): name a column so (the \
                 file's columns are {}).",
                task_files::quoted(&summary.missing_fields),
                fields.join(", "),
                task_files::quoted(&summary.columns)
            ),
        ));
    }
    None
}

/// The check's answer: notes, the questions to confirm, and the button's words.
fn check(summary: &ImportSummary, facts: Vec<String>) -> Check {
    let mut notes = Vec::new();
    if let (Some(asked), Some(used)) = (&summary.label_column_asked, &summary.label_column) {
        notes.push(format!(
            "The file has no column \"{asked}\"; its column \"{used}\" is used (column names \
             are matched regardless of case when only one matches)."
        ));
    }
    for (column, field) in &summary.renamed {
        notes.push(format!(
            "Column \"{column}\" is read as the field \"{field}\" that the label config shows."
        ));
    }
    let mut questions = Vec::new();
    if let Some(column) = &summary.looks_like_truth {
        questions.push(format!(
            "No ground truth was named, but column \"{column}\" looks like it. Use it as the \
             ground truth, or import without ground truth (accuracy needs it)?"
        ));
    }
    if summary.label_column.is_some() && summary.ground_truth == 0 {
        questions.push(
            "The ground-truth column is empty in every row: no task gets ground truth.".into(),
        );
    }
    if !summary.empty_rows.is_empty() {
        questions.push(format!(
            "{} no data and {} left out ({}).",
            count(summary.empty_rows.len(), "row has", "rows have"),
            if summary.empty_rows.len() == 1 {
                "is"
            } else {
                "are"
            },
            rows(&summary.empty_rows, summary.empty_rows.len())
        ));
    }
    let tasks = count(summary.tasks, "task", "tasks");
    let confirm = if questions.is_empty() {
        format!("Import {tasks}")
    } else {
        format!("Import {tasks} anyway")
    };
    Check {
        imported: false,
        facts,
        notes,
        questions,
        use_column: summary.looks_like_truth.clone(),
        confirm,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::services::task_files::UnknownValue;

    #[test]
    fn row_lists_read_as_sentences() {
        assert_eq!(rows(&[4], 1), "row 4");
        assert_eq!(rows(&[4, 9], 2), "rows 4 and 9");
        assert_eq!(rows(&[1, 2, 3, 4, 5], 7), "rows 1, 2, 3, 4, 5, …");
        assert_eq!(count(1, "task", "tasks"), "1 task");
        assert_eq!(count(0, "task", "tasks"), "0 tasks");
    }

    #[test]
    fn values_that_are_not_classes_are_refused_next_to_the_column() {
        let summary = ImportSummary {
            rows: 3,
            tasks: 3,
            label_column: Some("label".into()),
            classes: vec!["Positive".into(), "Negative".into()],
            unknown_values: vec![
                UnknownValue {
                    value: "positive".into(),
                    rows: vec![2],
                    count: 1,
                    near: Some("Positive".into()),
                },
                UnknownValue {
                    value: "Mixed".into(),
                    rows: vec![3],
                    count: 1,
                    near: None,
                },
            ],
            ..Default::default()
        };
        let (field, message) = refusal(&summary).expect("refused");
        assert_eq!(field, Field::LabelColumn);
        assert_eq!(
            message,
            "2 rows have values of column \"label\" not among the classes of the label config \
             (Positive, Negative): \"positive\" (row 2; did you mean \"Positive\"?), \"Mixed\" \
             (row 3). Correct the file (or the label config) and import it again; nothing was \
             imported."
        );
    }

    #[test]
    fn a_clean_file_asks_nothing() {
        let summary = ImportSummary {
            rows: 2,
            tasks: 2,
            ground_truth: 2,
            label_column: Some("label".into()),
            columns: vec!["text".into(), "label".into()],
            ..Default::default()
        };
        let facts = facts(&summary, "a.csv", false);
        assert_eq!(
            facts,
            vec![
                "2 rows in a.csv: 2 tasks to import.",
                "Ground truth from column \"label\": 2 tasks.",
                "Columns: \"text\" and \"label\".",
            ]
        );
        let answer = check(&summary, facts);
        assert!(answer.questions.is_empty() && answer.notes.is_empty());
        assert_eq!(answer.confirm, "Import 2 tasks");
        assert_eq!(refusal(&summary), None);
    }
}
