//! A sent form's problems as its page shows them: each message in people's words, next to the
//! input it is about and in the summary above the page. Errors from below name fields by their
//! wire names (`label_config`, `provider_model_id`) and speak DRF's phrases ("This field may
//! not be blank."); a form says which of its inputs each name is ([`Input`]), and the messages
//! are worded here ([`in_words`]), so no field id reaches a person.
use super::page::PageError;
use crate::error::ApiError;
use serde::Serialize;

/// One problem of a sent form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// The id of the input it is about, which the summary links to (none: the whole form).
    pub input: Option<String>,
    /// What is wrong and what to do, shown next to the input.
    pub message: String,
    /// The same for the summary above the page: the input's label first, unless the message
    /// names it already.
    pub summary: String,
}

impl Problem {
    /// A problem of the whole form.
    pub fn general(message: impl Into<String>) -> Problem {
        let message = sentence(&message.into());
        Problem {
            input: None,
            summary: message.clone(),
            message,
        }
    }

    /// A problem of the input `input` labelled `label`.
    pub fn at(input: impl Into<String>, label: &str, message: impl Into<String>) -> Problem {
        Problem::labelled(Some(input.into()), label, message.into())
    }

    /// A problem of `input` (or of the form) about what `label` names.
    fn labelled(input: Option<String>, label: &str, message: String) -> Problem {
        let message = sentence(&message);
        let summary = if label.is_empty() || names(&message, label) {
            message.clone()
        } else {
            format!("{label}: {message}")
        };
        Problem {
            input,
            message,
            summary,
        }
    }
}

/// Whether `message` names `label` (in any case).
fn names(message: &str, label: &str) -> bool {
    message.to_lowercase().contains(&label.to_lowercase())
}

/// An input of a form: the names an error may give it (the API's field names, or an error
/// code such as `label_studio_unreachable`), its id in the page and its label there.
#[derive(Debug, Clone)]
pub struct Input {
    names: Vec<&'static str>,
    id: String,
    label: &'static str,
    choice: bool,
}

impl Input {
    /// A field typed in, known to errors as `names`, with the id `id` and the label `label`.
    pub fn text(names: &[&'static str], id: impl Into<String>, label: &'static str) -> Input {
        Input {
            names: names.to_vec(),
            id: id.into(),
            label,
            choice: false,
        }
    }

    /// A field chosen from a list (a select): "Choose ..." rather than "Fill in ...".
    pub fn choice(names: &[&'static str], id: impl Into<String>, label: &'static str) -> Input {
        Input {
            choice: true,
            ..Input::text(names, id, label)
        }
    }

    fn answers_to(&self, name: &str) -> bool {
        self.names.iter().any(|n| n.eq_ignore_ascii_case(name))
    }
}

/// Whether `e` is about what the form sent (it stays, showing the problems) rather than about
/// the page (which fails as a whole: not found, not allowed, a server error).
pub fn is_form_error(e: &PageError) -> bool {
    match e {
        PageError::Api(ApiError::Validation { .. } | ApiError::BadRequest { .. }) => true,
        // A unique key or a reference the checks did not catch (a race): still the input.
        PageError::Api(db @ ApiError::Database(_)) => {
            actix_web::ResponseError::status_code(db).is_client_error()
        }
        _ => false,
    }
}

/// The problems of a form error, each placed at the input of `inputs` it names; any other
/// error is given back to fail the page.
pub fn problems(e: PageError, inputs: &[Input]) -> Result<Vec<Problem>, PageError> {
    if !is_form_error(&e) {
        return Err(e);
    }
    let api = match e {
        PageError::Api(api) => api,
        other => return Err(other),
    };
    let place = |name: &str, message: &str| -> Problem {
        match inputs.iter().find(|i| i.answers_to(name)) {
            Some(i) => Problem::at(i.id.clone(), i.label, in_words(i.label, i.choice, message)),
            None if name == "non_field_errors" => Problem::general(message),
            // A field the form has no input for: the form's problem, led by its label.
            None => {
                let label = field_label(name);
                Problem::labelled(None, &label, in_words(&label, false, message))
            }
        }
    };
    Ok(match &api {
        ApiError::Validation { errors } => errors
            .iter()
            .flat_map(|(field, messages)| messages.iter().map(|m| place(field, m)))
            .collect(),
        ApiError::BadRequest { code, detail } => {
            match inputs.iter().find(|i| i.answers_to(code.as_str())) {
                Some(i) => vec![Problem::at(i.id.clone(), i.label, detail.clone())],
                None => vec![Problem::general(detail.clone())],
            }
        }
        other => vec![Problem::general(conflict_words(other))],
    })
}

/// What a database error the input caused means to a person.
fn conflict_words(e: &ApiError) -> String {
    match e.code() {
        crate::error::ErrorCode::UniqueViolation => {
            "Something with the same name exists already: choose another name.".into()
        }
        crate::error::ErrorCode::InvalidReference => {
            "Something this refers to no longer exists: reload the page and choose again.".into()
        }
        _ => e.to_string(),
    }
}

/// The messages of an error in people's words, each led by the label of the field it is about
/// (never its wire name): for a script, a preview or a page that lists them without inputs.
pub fn messages(e: &ApiError) -> Vec<String> {
    match problems(PageError::Api(clone_form_error(e)), &[]) {
        Ok(found) => found.into_iter().map(|p| p.summary).collect(),
        Err(_) => vec![sentence(&e.to_string())],
    }
}

/// A copy of a form error (`ApiError` is not `Clone`: it can hold a database error).
fn clone_form_error(e: &ApiError) -> ApiError {
    match e {
        ApiError::Validation { errors } => ApiError::Validation {
            errors: errors.clone(),
        },
        ApiError::BadRequest { code, detail } => ApiError::BadRequest {
            code: *code,
            detail: detail.clone(),
        },
        other => ApiError::Internal(other.to_string()),
    }
}

/// The label a person knows a wire field by, for errors of a field no input of the form
/// claims: the app's words for the API's names, else the name with spaces.
pub fn field_label(name: &str) -> String {
    let known = match name {
        "title" => "Name",
        "label_config" => "Label config",
        "provider_model_id" | "teacher_model_name" => "Model",
        "model_provider_connection" | "teacher_model_provider_connection_id" => "Connection",
        "max_few_shot_examples" => "Few-shot examples",
        "samples" => "Answers per task",
        "jury" => "Other models that answer",
        "model_params" => "Parameters",
        "project_subset" => "Tasks",
        "sample_subset_size" => "Sample size",
        "task_ids" => "Task ids",
        "associated_projects" | "project" | "project_id" => "Project",
        "parent_model" => "Prompt",
        "compare_to" => "Run to compare with",
        "ls_project" => "Label Studio project",
        "url" => "Label Studio URL",
        "api_key" => "API key",
        "rpm_limit" => "Requests per minute",
        "tpm_limit" => "Tokens per minute",
        "budget_limit" => "Budget",
        "deployment_name" => "Deployment",
        "cron" => "Cron",
        "timezone" => "Time zone",
        "deployed_version" => "Deployed version",
        "input_fields" => "Input fields",
        "output_classes" => "Classes",
        "steps" => "Steps",
        "text" => "Comment",
        _ => "",
    };
    if !known.is_empty() {
        return known.to_string();
    }
    // Labels the app already gives in words ("Temperature", "Step 1 (x): Seed") stay.
    let spaced = name.replace('_', " ");
    sentence_case(spaced.trim())
}

/// `text` with its first letter in capitals.
fn sentence_case(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// `text` as a sentence: a capital first and a full stop last.
fn sentence(text: &str) -> String {
    let text = sentence_case(text.trim());
    if text.is_empty() || text.ends_with(['.', '!', '?', ')']) {
        text
    } else {
        format!("{text}.")
    }
}

/// `label` inside a sentence: "the title", "the API key".
fn the(label: &str) -> String {
    let mut chars = label.chars();
    let lowered = match (chars.next(), chars.next()) {
        // An initialism ("API key", "URL") keeps its capitals.
        (Some(_), Some(second)) if second.is_uppercase() => label.to_string(),
        (Some(first), _) => first.to_lowercase().chain(label.chars().skip(1)).collect(),
        (None, _) => String::new(),
    };
    format!("the {lowered}")
}

/// A validation message in people's words: DRF's phrases said plainly for the input labelled
/// `label` (a list to choose from when `choice`), anything else as a sentence.
pub fn in_words(label: &str, choice: bool, message: &str) -> String {
    let m = message.trim();
    let what = the(label);
    match m {
        "This field is required."
        | "This field may not be blank."
        | "This field may not be null."
        | "This list may not be empty." => {
            return if choice {
                format!("Choose {what}.")
            } else {
                format!("Fill in {what}.")
            };
        }
        "A valid integer is required." => return "Enter a whole number.".into(),
        "A valid number is required." => return "Enter a number.".into(),
        _ => {}
    }
    if m.starts_with("Invalid pk ") {
        return format!(
            "The {} chosen no longer exists (or is not one you may use): choose another.",
            the(label).trim_start_matches("the ")
        );
    }
    if let Some(n) = between(m, "Ensure this field has no more than ", " characters.") {
        return format!("Shorten it to {n} characters at most.");
    }
    if let Some(n) = between(m, "Ensure this value is greater than or equal to ", ".") {
        return format!("Enter {n} or more.");
    }
    if let Some(n) = between(m, "Ensure this value is less than or equal to ", ".") {
        return format!("Enter {n} or less.");
    }
    if m.ends_with("is not a valid choice.") {
        return format!("Choose {what} from the list.");
    }
    sentence(m)
}

/// The text of `m` between `start` and `end`, when `m` is exactly that.
fn between<'a>(m: &'a str, start: &str, end: &str) -> Option<&'a str> {
    m.strip_prefix(start)?.strip_suffix(end)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{ErrorCode, FieldErrors};

    #[test]
    fn phrases_are_said_plainly() {
        assert_eq!(
            in_words("Title", false, "This field may not be blank."),
            "Fill in the title."
        );
        assert_eq!(
            in_words("Project", true, "This field is required."),
            "Choose the project."
        );
        assert_eq!(
            in_words("API key", false, "This field is required."),
            "Fill in the API key."
        );
        assert_eq!(
            in_words(
                "Connection",
                true,
                "Invalid pk \"2\" - object does not exist."
            ),
            "The connection chosen no longer exists (or is not one you may use): choose another."
        );
        assert_eq!(
            in_words(
                "Name",
                false,
                "Ensure this field has no more than 50 characters."
            ),
            "Shorten it to 50 characters at most."
        );
        assert_eq!(
            in_words(
                "Few-shot examples",
                false,
                "Ensure this value is greater than or equal to 0."
            ),
            "Enter 0 or more."
        );
        assert_eq!(
            in_words("Cron", false, "\"61 * * * *\": minute 61 is out of range"),
            "\"61 * * * *\": minute 61 is out of range."
        );
    }

    #[test]
    fn problems_sit_at_their_inputs_and_never_name_a_field_id() {
        let mut errors = FieldErrors::new();
        errors.insert("label_config".into(), vec!["line 2: no <View>".into()]);
        errors.insert("title".into(), vec!["This field may not be blank.".into()]);
        errors.insert("non_field_errors".into(), vec!["the whole form".into()]);
        errors.insert(
            "tpm_limit".into(),
            vec!["A valid integer is required.".into()],
        );
        let inputs = [
            Input::text(&["title"], "title", "Title"),
            Input::text(&["label_config"], "label_config", "Label config"),
        ];
        let found = problems(PageError::Api(ApiError::Validation { errors }), &inputs)
            .expect("a form error");
        let at = |id: &str| {
            found
                .iter()
                .find(|p| p.input.as_deref() == Some(id))
                .cloned()
        };
        let config = at("label_config").expect("at the config");
        assert_eq!(config.message, "Line 2: no <View>.");
        assert_eq!(config.summary, "Label config: Line 2: no <View>.");
        assert_eq!(
            at("title").expect("at the title").summary,
            "Fill in the title."
        );
        let general: Vec<&str> = found
            .iter()
            .filter(|p| p.input.is_none())
            .map(|p| p.summary.as_str())
            .collect();
        assert_eq!(
            general,
            [
                "The whole form.",
                "Tokens per minute: Enter a whole number."
            ]
        );
        for p in &found {
            assert!(!p.summary.contains('_'), "{p:?}");
        }
        // An error code can be an input's name too.
        let unreachable = ApiError::bad_request(
            ErrorCode::LabelStudioUnreachable,
            "Could not reach Label Studio at http://localhost:1: the host cannot be reached.",
        );
        let found = problems(
            PageError::Api(unreachable),
            &[Input::text(
                &["url", "label_studio_unreachable"],
                "ls-url-3",
                "Label Studio URL",
            )],
        )
        .expect("a form error");
        assert_eq!(found[0].input.as_deref(), Some("ls-url-3"));
        // Not a form error: the page fails.
        assert!(problems(PageError::Api(ApiError::NotFound), &inputs).is_err());
        assert_eq!(
            messages(&ApiError::field(
                "provider_model_id",
                "This field is required."
            )),
            ["Fill in the model."]
        );
    }
}
