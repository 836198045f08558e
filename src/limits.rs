//! Every limit on what a client writes, in one place (the README's limits table lists them).
//!
//! A value over its limit is refused with a 400 that names the field, before anything is
//! written; checks are linear and run outside write transactions.

use crate::error::ApiError;

/// Tags of one prompt, after duplicates are dropped.
pub const MAX_TAGS: usize = 50;

/// The most answers a version may ask per task: its `samples` times the models that answer
/// (its own and its jury's).
pub const MAX_SAMPLES: i32 = 9;

/// The most other models a version's jury lists.
pub const MAX_JURORS: usize = 8;

/// Deployment labels of one prompt.
pub const MAX_LABELS_PER_PROMPT: usize = 20;

/// Characters of one tag.
pub const MAX_TAG_CHARS: usize = 64;

/// Characters of a prompt's or a version's title.
pub const MAX_PROMPT_TITLE_CHARS: usize = 500;

/// Characters of a project's title (Label Studio's limit).
pub const MAX_PROJECT_TITLE_CHARS: usize = 50;

/// Characters of a prompt's domain.
pub const MAX_DOMAIN_CHARS: usize = 255;

/// Characters of a prompt's or a project's description.
pub const MAX_DESCRIPTION_CHARS: usize = 10_000;

/// Bytes of a prompt's `parameters` as JSON.
pub const MAX_PARAMETERS_BYTES: usize = 64 * 1024;

/// Bytes of a version's or a connection's `model_params` as JSON.
pub const MAX_MODEL_PARAMS_BYTES: usize = 64 * 1024;

/// Characters of a comment's text (and of the `reason` given with a change).
pub const MAX_COMMENT_CHARS: usize = 10_000;

/// Characters of a version's prompt text (and of each step's prompt).
pub const MAX_PROMPT_TEXT_CHARS: usize = 200_000;

/// An optimization's ground-truth tasks at most (`max_tasks`).
pub const MAX_OPTIMIZATION_TASKS: i64 = 2_000;

/// An optimization's search rounds at most (`rounds`).
pub const MAX_OPTIMIZATION_ROUNDS: i64 = 5;

/// Teacher rewrites in an optimization's first round at most (`candidates`).
pub const MAX_OPTIMIZATION_CANDIDATES: i64 = 8;

/// Train tasks of an optimization's first rung at most (`minibatch`).
pub const MAX_OPTIMIZATION_MINIBATCH: i64 = 200;

/// Candidates tested on held-out tasks at most (`finalists`).
pub const MAX_OPTIMIZATION_FINALISTS: i64 = 4;

/// Worked examples in a few-shot candidate at most (`few_shot`).
pub const MAX_FEW_SHOT_EXAMPLES: i64 = 10;

/// Optimizations a prompt's list shows (the newest).
pub const MAX_OPTIMIZATIONS_LISTED: u64 = 100;

/// Schedules of one prompt.
pub const MAX_SCHEDULES_PER_PROMPT: u64 = 100;

/// Characters of a schedule's cron expression.
pub const MAX_CRON_CHARS: usize = 200;

/// Characters of a schedule's time zone name.
pub const MAX_TIMEZONE_CHARS: usize = 64;

/// A cron expression must fire within this many days from now (about five years), else it is
/// refused as one that never fires (`0 0 30 2 *`).
pub const CRON_HORIZON_DAYS: i64 = 5 * 366;

/// Upcoming firings of a cron expression checked against the minimum interval between
/// firings (`PROMPTER_SCHEDULE_MIN_INTERVAL`).
pub const CRON_FIRINGS_CHECKED: usize = 1_000;

/// Default of `PROMPTER_SCHEDULE_MIN_INTERVAL`: seconds between two firings of a schedule, at
/// least.
pub const DEFAULT_SCHEDULE_MIN_INTERVAL_SECS: u64 = 60;

/// Bytes of one task's `data` as JSON (its `meta` has the same limit).
pub const MAX_TASK_DATA_BYTES: usize = 1024 * 1024;

/// Tasks in one import request (`POST /api/projects/{id}/import`, a task file upload).
pub const MAX_IMPORT_TASKS: usize = 50_000;

/// Default of `PROMPTER_MAX_BODY_BYTES`: bytes of a request body (413 above).
pub const DEFAULT_MAX_BODY_BYTES: usize = 100 * 1024 * 1024;

/// Items per page of the lists answered as bare arrays and paginated by `page`/`page_size`
/// (a prompt's comments and versions, a task's annotations) when the request gives no
/// `page_size`.
pub const DEFAULT_PAGE_SIZE: u64 = 1_000;

/// Items per page of those lists, at most (a larger `page_size` is clamped).
pub const MAX_PAGE_SIZE: u64 = 1_000;

/// Characters of a request id a client sends in `X-Request-Id` (a longer one, or one with other
/// characters than letters, digits, `-`, `_`, `.` and `:`, is replaced by a new id).
pub const MAX_REQUEST_ID_CHARS: usize = 64;

/// `text` has at most `max` characters, else a 400 on `field` in Django's words.
pub fn check_chars(field: &str, text: &str, max: usize) -> Result<(), ApiError> {
    // Bytes bound characters from above: most texts pass without counting.
    if text.len() > max && text.chars().count() > max {
        return Err(ApiError::field(
            field,
            format!("Ensure this field has no more than {max} characters."),
        ));
    }
    Ok(())
}

/// `value` serializes to at most `max` bytes of JSON, else a 400 on `field`. Counts without
/// building the text.
pub fn check_json_bytes<T: serde::Serialize + ?Sized>(
    field: &str,
    value: &T,
    max: usize,
) -> Result<(), ApiError> {
    if crate::util::json_len(value) > max {
        return Err(ApiError::field(
            field,
            format!("Ensure this value has no more than {max} bytes as JSON."),
        ));
    }
    Ok(())
}

/// The longest form nonce (the `nonce` field every web form sends) accepted; a longer one is
/// refused like a missing one (403, reload the page).
pub const FORM_NONCE_MAX_LEN: usize = 64;

/// Steps of one version's pipeline (a version's `steps`, also in an import document).
pub const MAX_PIPELINE_STEPS: usize = 10;

/// Versions an import document carries (`versions`).
pub const MAX_IMPORT_VERSIONS: usize = 500;

/// Few-shot examples an import document carries (`examples`).
pub const MAX_IMPORT_EXAMPLES: usize = 1_000;

/// Schedules an import document carries (`schedules`).
pub const MAX_IMPORT_SCHEDULES: usize = 100;

/// Characters of an email address (a member added by email).
pub const MAX_EMAIL_CHARS: usize = 254;

/// Characters of a user's first or last name (Django's limit).
pub const MAX_PERSON_NAME_CHARS: usize = 150;

/// Members of one organization, active or not.
pub const MAX_MEMBERS_PER_ORGANIZATION: u64 = 10_000;

/// Bytes of an import document, as compact JSON (`document`).
pub const MAX_IMPORT_DOCUMENT_BYTES: usize = 5 * 1024 * 1024;

/// Bytes of an import request's body (the document, with room for indentation): a larger body
/// is a 413 before any of it is parsed, so a huge document never takes memory.
pub const MAX_IMPORT_BODY_BYTES: usize = 2 * MAX_IMPORT_DOCUMENT_BYTES;

/// The largest `max_tokens` a version's or a connection's model parameters may ask for (no
/// provider's model writes more output tokens in one answer).
pub const MAX_OUTPUT_TOKENS: u32 = 1_000_000;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_counted_in_characters_and_json_bytes() {
        assert!(check_chars("t", &"é".repeat(10), 10).is_ok());
        assert!(check_chars("t", &"é".repeat(11), 10).is_err());
        let value = serde_json::json!({"a": "x".repeat(100)});
        assert!(check_json_bytes("p", &value, 200).is_ok());
        assert!(check_json_bytes("p", &value, 100).is_err());
    }
}
