//! Task files as people have them: JSON (a list of tasks or data objects), JSON Lines and CSV
//! (a header row; each column becomes a field of the task's data), read into Label Studio's
//! import items. A `label_column` moves a class out of the data into a ground-truth annotation
//! of the label config's first Choices control, so that a spreadsheet of texts and their
//! classes becomes tasks with ground truth in one upload.
//!
//! [`plan`] says what an import would do before it is done ([`ImportSummary`]): columns matched
//! in another case, empty rows left out, ground-truth values that are not classes, and a
//! column that looks like the ground truth though none was named. The web app shows it and
//! refuses or asks; the API's import (Label Studio's) does not use it.
use crate::label_config::{ControlKind, LabelConfig};
use serde_json::{Map, Value, json};

/// The formats read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskFileFormat {
    /// A JSON list (or one object).
    Json,
    /// One JSON object a line.
    JsonLines,
    /// Comma-separated values with a header row.
    Csv,
}

impl TaskFileFormat {
    /// The format of a file name, by its extension (`.json`, `.jsonl`/`.ndjson`, `.csv`,
    /// `.tsv` is not read).
    pub fn of_name(name: &str) -> Option<TaskFileFormat> {
        let lower = name.to_ascii_lowercase();
        let ext = lower.rsplit('.').next()?;
        match ext {
            "json" => Some(TaskFileFormat::Json),
            "jsonl" | "ndjson" => Some(TaskFileFormat::JsonLines),
            "csv" => Some(TaskFileFormat::Csv),
            _ => None,
        }
    }
}

/// Reads `bytes` of `format` into the file's rows: data objects, or Label Studio's task objects
/// (`{"data": ..., "annotations": ...}`). Errors name the line or row.
pub fn rows(format: TaskFileFormat, bytes: &[u8]) -> Result<Vec<Value>, String> {
    let text = std::str::from_utf8(bytes)
        .map_err(|e| format!("The file is not UTF-8 text (at byte {}).", e.valid_up_to()))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let items = match format {
        TaskFileFormat::Json => match serde_json::from_str::<Value>(text) {
            Ok(Value::Array(items)) => items,
            Ok(object @ Value::Object(_)) => vec![object],
            Ok(_) => return Err("The JSON file must hold a list of tasks.".into()),
            Err(e) => return Err(format!("The JSON file does not parse: {e}.")),
        },
        TaskFileFormat::JsonLines => text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .map(|(i, l)| {
                serde_json::from_str::<Value>(l).map_err(|e| format!("Line {}: {e}.", i + 1))
            })
            .collect::<Result<_, _>>()?,
        TaskFileFormat::Csv => csv_rows(text)?,
    };
    if items.is_empty() {
        return Err("The file holds no task.".into());
    }
    Ok(items)
}

/// What importing a file would do, as the web app tells it before importing: every count and
/// every surprise (a column matched in another case, empty rows, ground-truth values that are
/// not classes, a column that looks like the ground truth but was not named).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct ImportSummary {
    /// Rows (items) in the file.
    pub rows: usize,
    /// Tasks the import creates: the rows less the empty ones.
    pub tasks: usize,
    /// Tasks given a ground-truth annotation from the ground-truth column.
    pub ground_truth: usize,
    /// Tasks that already carry annotations (Label Studio's task format).
    pub with_annotations: usize,
    /// The file's columns (its rows' data keys), in the order first seen.
    pub columns: Vec<String>,
    /// The ground-truth column read, spelt as in the file.
    pub label_column: Option<String>,
    /// The ground-truth column as it was asked for, when the file spells it in another case.
    pub label_column_asked: Option<String>,
    /// The classes ground truth must be one of (empty when the Choices take their options from
    /// the task data).
    pub classes: Vec<String>,
    /// Ground-truth values that are not classes, in the order first seen.
    pub unknown_values: Vec<UnknownValue>,
    /// Rows (1-based, as a person counts the file's records) left out for holding no data.
    pub empty_rows: Vec<usize>,
    /// Columns read as the label config's field they match in another case: (column, field).
    pub renamed: Vec<(String, String)>,
    /// Fields the label config shows that no column holds.
    pub missing_fields: Vec<String>,
    /// With no ground-truth column named: a column that looks like one (named `label`,
    /// `class`, …, or after the Choices control, or holding only classes).
    pub looks_like_truth: Option<String>,
}

/// A ground-truth value that is not one of the classes.
#[derive(Debug, Clone, PartialEq)]
pub struct UnknownValue {
    /// The value as written.
    pub value: String,
    /// The rows holding it (the first five).
    pub rows: Vec<usize>,
    /// How many rows hold it.
    pub count: usize,
    /// The class it matches in another case or with surrounding spaces, if any.
    pub near: Option<String>,
}

/// A file the web app imports: the items for the import and what it tells first.
#[derive(Debug)]
pub struct ImportPlan {
    /// Label Studio import items: the non-empty rows, the ground-truth column moved into a
    /// ground-truth annotation, columns renamed to the fields they match.
    pub items: Vec<Value>,
    /// What the import does.
    pub summary: ImportSummary,
}

/// Why a file cannot be imported, and which field of the form it is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlanError {
    /// The file itself: its format, encoding or shape.
    File(String),
    /// The ground-truth column: missing from the file, ambiguous, or no Choices to hold it.
    Column(String),
}

/// Column names that say "this is the class", compared without regard to case.
const TRUTH_NAMES: &[&str] = &[
    "label",
    "labels",
    "class",
    "category",
    "ground_truth",
    "ground truth",
    "groundtruth",
    "gt",
    "target",
    "answer",
];

/// Rows shown per unknown value.
const ROWS_SHOWN: usize = 5;

/// Plans the import of `bytes` of `format` into a project of `config`, with `label_column`
/// (matched without regard to case when the file spells it otherwise and only one column
/// matches) holding each row's class. Nothing is refused here that the summary can tell:
/// values that are not classes are in [`ImportSummary::unknown_values`] for the caller to
/// refuse.
pub fn plan(
    format: TaskFileFormat,
    bytes: &[u8],
    config: &LabelConfig,
    label_column: Option<&str>,
) -> Result<ImportPlan, PlanError> {
    let mut items = rows(format, bytes).map_err(PlanError::File)?;
    let mut summary = ImportSummary {
        rows: items.len(),
        columns: columns_of(&items),
        ..Default::default()
    };
    // The label config's fields, found in another case where only one column matches.
    let fields = config.input_fields();
    for field in &fields {
        if summary.columns.contains(field) {
            continue;
        }
        let matches: Vec<&String> = summary
            .columns
            .iter()
            .filter(|c| c.eq_ignore_ascii_case(field) && !fields.contains(c))
            .collect();
        match matches.as_slice() {
            [column] => summary.renamed.push(((*column).clone(), field.clone())),
            _ => summary.missing_fields.push(field.clone()),
        }
    }
    for (column, field) in &summary.renamed {
        for item in &mut items {
            if let Some(data) = data_of(item)
                && let Some(value) = data.remove(column)
            {
                data.insert(field.clone(), value);
            }
        }
    }
    let choices = config.controls_of_kind(ControlKind::Choices).next();
    summary.classes = choices
        .filter(|c| !c.is_dynamic())
        .map(|c| c.labels.clone())
        .unwrap_or_default();
    let asked = label_column.map(str::trim).filter(|c| !c.is_empty());
    let column = match asked {
        None => None,
        Some(asked) => {
            let found = resolve_column(&summary.columns, asked)?;
            if found != asked {
                summary.label_column_asked = Some(asked.to_string());
            }
            let choices = choices.ok_or_else(|| {
                PlanError::Column(
                    "The label config has no Choices control to put the ground truth in.".into(),
                )
            })?;
            Some((found, choices))
        }
    };
    summary.label_column = column.as_ref().map(|(c, _)| c.clone());
    let mut kept = Vec::with_capacity(items.len());
    for (i, mut item) in items.into_iter().enumerate() {
        let row = i + 1;
        let label = match (&column, data_of(&mut item)) {
            (Some((name, _)), Some(data)) => match data.remove(name) {
                Some(Value::String(s)) => s.trim().to_string(),
                Some(Value::Null) | None => String::new(),
                Some(other) => other.to_string(),
            },
            _ => String::new(),
        };
        if data_in(&item).is_some_and(is_empty) {
            summary.empty_rows.push(row);
            continue;
        }
        if item
            .get("annotations")
            .and_then(Value::as_array)
            .is_some_and(|a| !a.is_empty())
        {
            summary.with_annotations += 1;
        }
        if let (Some((_, choices)), false) = (&column, label.is_empty()) {
            if !summary.classes.is_empty() && !summary.classes.contains(&label) {
                note_unknown(&mut summary, &label, row);
            } else {
                let target = choices.first_to_name().unwrap_or_default();
                item = with_truth(item, &label, &choices.name, target);
                summary.ground_truth += 1;
            }
        }
        kept.push(item);
    }
    summary.tasks = kept.len();
    if column.is_none() && summary.with_annotations == 0 {
        summary.looks_like_truth = looks_like_truth(&kept, &summary, &fields, choices);
    }
    Ok(ImportPlan {
        items: kept,
        summary,
    })
}

/// The column of `columns` that `asked` names: itself, or the one column that matches it in
/// another case.
fn resolve_column(columns: &[String], asked: &str) -> Result<String, PlanError> {
    if columns.iter().any(|c| c == asked) {
        return Ok(asked.to_string());
    }
    let matches: Vec<&String> = columns
        .iter()
        .filter(|c| c.eq_ignore_ascii_case(asked))
        .collect();
    match matches.as_slice() {
        [one] => Ok((*one).clone()),
        [] => Err(PlanError::Column(format!(
            "The file has no column \"{asked}\". Its columns are {}.",
            quoted(columns)
        ))),
        many => Err(PlanError::Column(format!(
            "The file has no column \"{asked}\", and {} differ only in case: write the one you mean exactly.",
            quoted(&many.iter().map(|c| (*c).clone()).collect::<Vec<_>>())
        ))),
    }
}

/// `"a", "b" and "c"`.
pub fn quoted(names: &[String]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("\"{n}\"")).collect();
    match quoted.split_last() {
        None => "none".into(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
    }
}

/// Adds `value` at `row` to the summary's values that are not classes.
fn note_unknown(summary: &mut ImportSummary, value: &str, row: usize) {
    if let Some(known) = summary.unknown_values.iter_mut().find(|u| u.value == value) {
        known.count += 1;
        if known.rows.len() < ROWS_SHOWN {
            known.rows.push(row);
        }
        return;
    }
    let near = summary
        .classes
        .iter()
        .find(|c| c.trim().eq_ignore_ascii_case(value.trim()))
        .cloned();
    summary.unknown_values.push(UnknownValue {
        value: value.to_string(),
        rows: vec![row],
        count: 1,
        near,
    });
}

/// A column (not one of the label config's fields) that looks like it holds the ground truth:
/// named like a class column or like the Choices control, else the first whose values are all
/// classes.
fn looks_like_truth(
    items: &[Value],
    summary: &ImportSummary,
    fields: &[String],
    choices: Option<&crate::label_config::ControlTag>,
) -> Option<String> {
    let choices = choices?;
    let candidates: Vec<&String> = summary
        .columns
        .iter()
        .filter(|c| !fields.contains(*c) && !summary.renamed.iter().any(|(from, _)| from == *c))
        .collect();
    let named = candidates.iter().find(|c| {
        TRUTH_NAMES.iter().any(|n| c.eq_ignore_ascii_case(n))
            || c.eq_ignore_ascii_case(&choices.name)
    });
    if let Some(c) = named {
        return Some(c.to_string());
    }
    if summary.classes.is_empty() {
        return None;
    }
    candidates
        .into_iter()
        .find(|c| {
            let mut values = items
                .iter()
                .filter_map(|item| data_in(item).and_then(|d| d.get(c.as_str())))
                .filter_map(Value::as_str)
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .peekable();
            values.peek().is_some() && values.all(|v| summary.classes.iter().any(|k| k == v))
        })
        .cloned()
}

/// The data object of an item: `data` of Label Studio's task format, else the item itself.
fn data_of(item: &mut Value) -> Option<&mut Map<String, Value>> {
    let object = item.as_object_mut()?;
    if matches!(object.get("data"), Some(Value::Object(_))) {
        object.get_mut("data").and_then(Value::as_object_mut)
    } else {
        Some(object)
    }
}

/// [`data_of`], read only.
fn data_in(item: &Value) -> Option<&Map<String, Value>> {
    match item.get("data") {
        Some(Value::Object(data)) => Some(data),
        _ => item.as_object(),
    }
}

/// The data keys of the items, in the order first seen.
fn columns_of(items: &[Value]) -> Vec<String> {
    let mut columns: Vec<String> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for data in items.iter().filter_map(data_in) {
        for key in data.keys() {
            if seen.insert(key.as_str()) {
                columns.push(key.clone());
            }
        }
    }
    columns
}

/// A row with nothing in it: every value null or blank text.
fn is_empty(data: &Map<String, Value>) -> bool {
    data.values().all(|v| match v {
        Value::Null => true,
        Value::String(s) => s.trim().is_empty(),
        _ => false,
    })
}

/// The rows of a CSV text as data objects (every value a string, as Label Studio reads them).
fn csv_rows(text: &str) -> Result<Vec<Value>, String> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(false)
        .from_reader(text.as_bytes());
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| format!("The CSV header does not parse: {e}."))?
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    if headers.iter().any(String::is_empty) {
        return Err("Every CSV column needs a name in the header row.".into());
    }
    reader
        .records()
        .enumerate()
        .map(|(i, record)| {
            let record = record.map_err(|e| format!("Row {}: {e}.", i + 2))?;
            let data: Map<String, Value> = headers
                .iter()
                .zip(record.iter())
                .map(|(h, v)| (h.clone(), Value::String(v.to_string())))
                .collect();
            Ok(Value::Object(data))
        })
        .collect()
}

/// An item (its ground-truth column already taken out) with a ground-truth annotation of
/// `control` choosing `label`.
fn with_truth(item: Value, label: &str, control: &str, target: &str) -> Value {
    let annotation = json!({
        "ground_truth": true,
        "result": [{
            "from_name": control, "to_name": target, "type": "choices",
            "value": {"choices": [label]},
        }],
    });
    let mut task = match item {
        Value::Object(object) if matches!(object.get("data"), Some(Value::Object(_))) => object,
        other => {
            let mut t = Map::new();
            t.insert("data".into(), other);
            t
        }
    };
    match task.entry("annotations").or_insert_with(|| json!([])) {
        Value::Array(list) => list.push(annotation),
        other => *other = json!([annotation]),
    }
    Value::Object(task)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> LabelConfig {
        crate::label_config::parse(
            r#"<View><Text name="text" value="$text"/><Choices name="sentiment" toName="text"><Choice value="Positive"/><Choice value="Negative"/></Choices></View>"#,
        )
        .unwrap()
    }

    fn plan_of(format: TaskFileFormat, text: &str, column: Option<&str>) -> ImportPlan {
        plan(format, text.as_bytes(), &config(), column).unwrap()
    }

    #[test]
    fn reads_csv_with_a_label_column() {
        let csv = "text,label\n\"Great, really\",Positive\nAwful,Negative\nNo label,\n";
        let ImportPlan { items, summary } = plan_of(TaskFileFormat::Csv, csv, Some("label"));
        assert_eq!(items.len(), 3);
        assert_eq!(items[0]["data"], json!({"text": "Great, really"}));
        assert_eq!(
            items[0]["annotations"][0]["result"][0]["value"]["choices"],
            json!(["Positive"])
        );
        assert_eq!(
            items[0]["annotations"][0]["result"][0]["from_name"],
            "sentiment"
        );
        assert_eq!(items[2], json!({"text": "No label"}));
        assert_eq!(
            (summary.rows, summary.tasks, summary.ground_truth),
            (3, 3, 2)
        );
        assert_eq!(summary.label_column.as_deref(), Some("label"));
        assert_eq!(summary.label_column_asked, None);
        assert_eq!(summary.columns, vec!["text", "label"]);
    }

    #[test]
    fn a_column_in_another_case_is_matched_and_said() {
        let csv = "Text,Label\nGood,Positive\nBad,Negative\n";
        let ImportPlan { items, summary } = plan_of(TaskFileFormat::Csv, csv, Some("label"));
        assert_eq!(summary.ground_truth, 2);
        assert_eq!(summary.label_column.as_deref(), Some("Label"));
        assert_eq!(summary.label_column_asked.as_deref(), Some("label"));
        // The label config's field `text` is read from `Text`.
        assert_eq!(
            summary.renamed,
            vec![("Text".to_string(), "text".to_string())]
        );
        assert_eq!(items[0]["data"], json!({"text": "Good"}));
        // Two columns that differ only in case: which one is meant is not guessed.
        let csv = "text,Label,LABEL\na,Positive,Negative\n";
        let err = plan(
            TaskFileFormat::Csv,
            csv.as_bytes(),
            &config(),
            Some("label"),
        )
        .unwrap_err();
        assert!(
            matches!(&err, PlanError::Column(m) if m.contains("differ only in case")),
            "{err:?}"
        );
        // A column that is not there at all.
        let err = plan(
            TaskFileFormat::Csv,
            b"text,y\na,b\n",
            &config(),
            Some("label"),
        )
        .unwrap_err();
        assert_eq!(
            err,
            PlanError::Column(
                "The file has no column \"label\". Its columns are \"text\" and \"y\".".into()
            )
        );
    }

    #[test]
    fn values_that_are_not_classes_and_empty_rows_are_counted() {
        let csv = "text,label\na,Positive\n,\nb,positive\nc,Mixed\n , \nd,Mixed\n";
        let ImportPlan { items, summary } = plan_of(TaskFileFormat::Csv, csv, Some("label"));
        assert_eq!(summary.empty_rows, vec![2, 5]);
        assert_eq!(
            (summary.rows, summary.tasks, summary.ground_truth),
            (6, 4, 1)
        );
        assert_eq!(items.len(), 4);
        let unknown: Vec<(&str, &[usize], usize, Option<&str>)> = summary
            .unknown_values
            .iter()
            .map(|u| {
                (
                    u.value.as_str(),
                    u.rows.as_slice(),
                    u.count,
                    u.near.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            unknown,
            vec![
                ("positive", &[3][..], 1, Some("Positive")),
                ("Mixed", &[4, 6][..], 2, None)
            ]
        );
    }

    #[test]
    fn a_column_that_looks_like_the_ground_truth() {
        // Named like a class column, in any case.
        let summary = plan_of(TaskFileFormat::Csv, "text,Label\na,Positive\n", None).summary;
        assert_eq!(summary.looks_like_truth.as_deref(), Some("Label"));
        assert_eq!(summary.ground_truth, 0);
        // Named after the Choices control.
        let summary = plan_of(TaskFileFormat::Csv, "text,Sentiment\na,x\n", None).summary;
        assert_eq!(summary.looks_like_truth.as_deref(), Some("Sentiment"));
        // Holding nothing but classes.
        let summary = plan_of(
            TaskFileFormat::Csv,
            "text,y\na,Positive\nb,\nc,Negative\n",
            None,
        )
        .summary;
        assert_eq!(summary.looks_like_truth.as_deref(), Some("y"));
        // Nothing like it.
        let summary = plan_of(TaskFileFormat::Csv, "text,y\na,1\n", None).summary;
        assert_eq!(summary.looks_like_truth, None);
        // A field the label config is missing from the file.
        let summary = plan_of(TaskFileFormat::Csv, "body\na\n", None).summary;
        assert_eq!(summary.missing_fields, vec!["text"]);
    }

    #[test]
    fn reads_json_lines_and_json() {
        let jsonl = "{\"text\": \"a\"}\n\n{\"text\": \"b\"}\n";
        let items = plan_of(TaskFileFormat::JsonLines, jsonl, None).items;
        assert_eq!(items, vec![json!({"text": "a"}), json!({"text": "b"})]);
        let bad = plan(
            TaskFileFormat::JsonLines,
            b"{\"text\": 1}\n{oops",
            &config(),
            None,
        );
        assert!(matches!(bad, Err(PlanError::File(m)) if m.starts_with("Line 2")));
        let json = r#"[{"data": {"text": "a", "y": "Negative"}, "annotations": []}]"#;
        let ImportPlan { items, summary } = plan_of(TaskFileFormat::Json, json, Some("y"));
        assert_eq!(items[0]["data"], json!({"text": "a"}));
        assert_eq!(items[0]["annotations"][0]["ground_truth"], true);
        assert_eq!(summary.columns, vec!["text", "y"]);
    }

    #[test]
    fn refuses_what_it_cannot_read() {
        let read = |format, bytes: &[u8]| rows(format, bytes);
        assert!(read(TaskFileFormat::Json, b"42").is_err());
        assert!(read(TaskFileFormat::Csv, b"text\n").is_err());
        assert!(read(TaskFileFormat::Csv, b",x\n1,2\n").is_err());
        assert!(read(TaskFileFormat::Csv, &[0xff, 0xfe]).is_err());
        assert_eq!(
            TaskFileFormat::of_name("Tasks.CSV"),
            Some(TaskFileFormat::Csv)
        );
        assert_eq!(
            TaskFileFormat::of_name("x.ndjson"),
            Some(TaskFileFormat::JsonLines)
        );
        assert_eq!(TaskFileFormat::of_name("x.txt"), None);
        assert_eq!(quoted(&[]), "none");
        assert_eq!(
            quoted(&["a".into(), "b".into(), "c".into()]),
            "\"a\", \"b\" and \"c\""
        );
    }
}
