//! Task files as people have them: JSON (a list of tasks or data objects), JSON Lines and CSV
//! (a header row; each column becomes a field of the task's data), read into Label Studio's
//! import items. A `label_column` moves a class out of the data into a ground-truth annotation
//! of the label config's first Choices control, so that a spreadsheet of texts and their
//! classes becomes tasks with ground truth in one upload.
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

/// Reads `bytes` of `format` into import items. Errors name the line or row.
pub fn read(
    format: TaskFileFormat,
    bytes: &[u8],
    config: &LabelConfig,
    label_column: Option<&str>,
) -> Result<Vec<Value>, String> {
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
    match label_column.map(str::trim).filter(|c| !c.is_empty()) {
        None => Ok(items),
        Some(column) => {
            let choices = config
                .controls_of_kind(ControlKind::Choices)
                .next()
                .ok_or("The label config has no Choices control to put the ground truth in.")?;
            let target = choices.first_to_name().unwrap_or_default().to_string();
            let control = choices.name.clone();
            items
                .into_iter()
                .enumerate()
                .map(|(i, item)| with_truth(item, column, &control, &target, i + 1))
                .collect()
        }
    }
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

/// An item with `column` moved from its data into a ground-truth annotation choosing it.
fn with_truth(
    item: Value,
    column: &str,
    control: &str,
    target: &str,
    row: usize,
) -> Result<Value, String> {
    let Value::Object(mut object) = item else {
        return Err(format!("Task {row} is not an object."));
    };
    // A bare data object, or Label Studio's `{"data": ...}` form.
    let wrapped = object.contains_key("data");
    let data = if wrapped {
        match object.get_mut("data") {
            Some(Value::Object(d)) => d,
            _ => return Err(format!("Task {row}: \"data\" is not an object.")),
        }
    } else {
        &mut object
    };
    let label = match data.remove(column) {
        Some(Value::String(s)) => s.trim().to_string(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    };
    let annotations = (!label.is_empty()).then(|| {
        json!([{
            "ground_truth": true,
            "result": [{
                "from_name": control, "to_name": target, "type": "choices",
                "value": {"choices": [label]},
            }],
        }])
    });
    let mut task = if wrapped {
        object
    } else {
        let mut t = Map::new();
        t.insert("data".into(), Value::Object(object));
        t
    };
    if let Some(annotations) = annotations {
        let existing = task.entry("annotations").or_insert_with(|| json!([]));
        if let (Value::Array(list), Value::Array(new)) = (existing, annotations) {
            list.extend(new);
        }
    }
    Ok(Value::Object(task))
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

    #[test]
    fn reads_csv_with_a_label_column() {
        let csv = "text,label\n\"Great, really\",Positive\nAwful,Negative\nNo label,\n";
        let items = read(
            TaskFileFormat::Csv,
            csv.as_bytes(),
            &config(),
            Some("label"),
        )
        .unwrap();
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
        assert!(items[2].get("annotations").is_none());
    }

    #[test]
    fn reads_json_lines_and_json() {
        let jsonl = "{\"text\": \"a\"}\n\n{\"text\": \"b\"}\n";
        let items = read(TaskFileFormat::JsonLines, jsonl.as_bytes(), &config(), None).unwrap();
        assert_eq!(items, vec![json!({"text": "a"}), json!({"text": "b"})]);
        let bad = read(
            TaskFileFormat::JsonLines,
            b"{\"text\": 1}\n{oops",
            &config(),
            None,
        );
        assert!(bad.unwrap_err().starts_with("Line 2"));
        let json = r#"[{"data": {"text": "a", "y": "Negative"}}]"#;
        let items = read(TaskFileFormat::Json, json.as_bytes(), &config(), Some("y")).unwrap();
        assert_eq!(items[0]["data"], json!({"text": "a"}));
        assert_eq!(items[0]["annotations"][0]["ground_truth"], true);
    }

    #[test]
    fn refuses_what_it_cannot_read() {
        assert!(read(TaskFileFormat::Json, b"42", &config(), None).is_err());
        assert!(read(TaskFileFormat::Csv, b"text\n", &config(), None).is_err());
        assert!(read(TaskFileFormat::Csv, b",x\n1,2\n", &config(), None).is_err());
        assert!(read(TaskFileFormat::Csv, &[0xff, 0xfe], &config(), None).is_err());
        assert_eq!(
            TaskFileFormat::of_name("Tasks.CSV"),
            Some(TaskFileFormat::Csv)
        );
        assert_eq!(
            TaskFileFormat::of_name("x.ndjson"),
            Some(TaskFileFormat::JsonLines)
        );
        assert_eq!(TaskFileFormat::of_name("x.txt"), None);
    }
}
