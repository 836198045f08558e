//! A small client of a Label Studio instance's REST API, for the connector (the rest of
//! `label_studio`): read a project, page through its tasks with their annotations,
//! list and create predictions. It authenticates with a legacy API token
//! (`Authorization: Token <token>`, Label Studio 1.23 with `LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN`).
//!
//! Every request goes through the outbound policy (`crate::outbound`), and what Label Studio
//! (or whatever answers at the URL) sends back never reaches a user as text: errors name the
//! instance's URL, the status and a fixed explanation; the detail is in the server log. The
//! token is never logged and never part of an error.
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};
use std::time::Duration;

/// Tasks asked for per page of the task list.
pub const PAGE_SIZE: u64 = 100;
/// Time limit of one request to Label Studio.
const TIMEOUT: Duration = Duration::from_secs(60);
/// Pages of a paginated prediction list read at most (a guard against a server that never ends).
const MAX_PREDICTION_PAGES: u64 = 100_000;

/// A failure to talk to Label Studio.
#[derive(Debug, Clone, thiserror::Error)]
pub enum LsError {
    /// No connection, a timeout, not an HTTP server, or an address the outbound policy
    /// refuses.
    #[error(
        "Could not reach Label Studio at {url}: {reason}. Check the address and that it is running."
    )]
    Unreachable {
        /// The instance's base URL.
        url: String,
        /// What went wrong, in Prompter's words.
        reason: crate::outbound::OutboundError,
    },
    /// 401 or 403: the token is refused or lacks the permission.
    #[error("Label Studio refused the token ({0})")]
    Unauthorized(u16),
    /// 404.
    #[error("not found on Label Studio")]
    NotFound,
    /// Any other non-success status.
    #[error("Label Studio answered HTTP {status} ({})", explain(*.status))]
    Status {
        /// The HTTP status.
        status: u16,
    },
    /// A success status with a body that is not what Label Studio sends.
    #[error("Label Studio's answer could not be read: {0}")]
    Invalid(&'static str),
}

/// A Label Studio project, as far as the connector reads it.
#[derive(Debug, Clone, Deserialize)]
pub struct LsProject {
    /// Project id.
    pub id: i64,
    /// Title.
    #[serde(default)]
    pub title: Option<String>,
    /// Label config (XML).
    #[serde(default)]
    pub label_config: Option<String>,
}

/// An annotation of a Label Studio task (from the task list with `fields=all`).
#[derive(Debug, Clone, Deserialize)]
pub struct LsAnnotation {
    /// Annotation id.
    pub id: i64,
    /// Regions (`null` reads as none).
    #[serde(default)]
    pub result: Option<Value>,
    /// Skipped.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub was_cancelled: bool,
    /// Label Studio's ground-truth flag.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub ground_truth: bool,
    /// Seconds spent.
    #[serde(default)]
    pub lead_time: Option<f64>,
    /// When it was created in Label Studio (absent when not RFC 3339).
    #[serde(default, deserialize_with = "lenient_time")]
    pub created_at: Option<DateTime<Utc>>,
    /// When it last changed in Label Studio (absent when not RFC 3339).
    #[serde(default, deserialize_with = "lenient_time")]
    pub updated_at: Option<DateTime<Utc>>,
}

/// A Label Studio task with its annotations.
#[derive(Debug, Clone, Deserialize)]
pub struct LsTask {
    /// Task id.
    pub id: i64,
    /// Task data.
    #[serde(default)]
    pub data: Value,
    /// Meta information (`null` reads as `{}`).
    #[serde(default)]
    pub meta: Option<Value>,
    /// Annotations, cancelled ones included.
    #[serde(default, deserialize_with = "lenient_list")]
    pub annotations: Vec<LsAnnotation>,
}

/// One page of the data-manager task list.
#[derive(Debug, Clone)]
pub struct LsTaskPage {
    /// The tasks of this page.
    pub tasks: Vec<LsTask>,
    /// Tasks of the project (over all pages), when Label Studio said.
    pub total: Option<u64>,
}

/// A prediction already in Label Studio, as far as idempotent pushes need it.
#[derive(Debug, Clone, Deserialize)]
pub struct LsPrediction {
    /// Prediction id.
    pub id: i64,
    /// Task id.
    pub task: i64,
    /// Model version label (`null` reads as "").
    #[serde(default)]
    pub model_version: Option<String>,
}

fn lenient_bool<'de, D: serde::Deserializer<'de>>(de: D) -> Result<bool, D::Error> {
    Ok(Option::<bool>::deserialize(de)?.unwrap_or(false))
}

fn lenient_time<'de, D: serde::Deserializer<'de>>(
    de: D,
) -> Result<Option<DateTime<Utc>>, D::Error> {
    Ok(Option::<Value>::deserialize(de)?
        .as_ref()
        .and_then(parse_time))
}

/// A Label Studio timestamp (RFC 3339, e.g. `2026-11-29T10:00:00.000000Z`); anything else
/// reads as none.
pub fn parse_time(value: &Value) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(value.as_str()?)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

fn lenient_list<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(
    de: D,
) -> Result<Vec<T>, D::Error> {
    Ok(Option::<Vec<T>>::deserialize(de)?.unwrap_or_default())
}

/// Checks that `raw` is an absolute `http(s)` URL with a host and no query or fragment, and
/// returns it without trailing slashes (the base the API paths are appended to).
pub fn normalize_base_url(raw: &str) -> Result<String, String> {
    let trimmed = raw.trim();
    let url = reqwest::Url::parse(trimmed).map_err(|e| format!("Enter a valid URL ({e})."))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err("The URL must start with http:// or https://.".into());
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("The URL must name a host.".into());
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err("The URL must not have a query or a fragment.".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("The URL must not hold credentials; give the token instead.".into());
    }
    Ok(trimmed.trim_end_matches('/').to_string())
}

/// A client of one Label Studio instance with one token. Its `Debug` never shows the token.
#[derive(Clone)]
pub struct LsClient {
    http: crate::outbound::Outbound,
    base: String,
    auth: String,
}

impl std::fmt::Debug for LsClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LsClient")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl LsClient {
    /// A client of the instance at `base` (as [`normalize_base_url`] returns it), sending
    /// through `http`.
    pub fn new(http: &crate::outbound::Outbound, base: &str, token: &str) -> Self {
        LsClient {
            http: http.clone(),
            base: base.trim_end_matches('/').to_string(),
            auth: format!("Token {}", token.trim()),
        }
    }

    /// The instance's base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    fn unreachable(&self, reason: crate::outbound::OutboundError) -> LsError {
        LsError::Unreachable {
            url: self.base.clone(),
            reason,
        }
    }

    /// A request to the API path `path` (after the base URL).
    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .client()
            .request(method, format!("{}{path}", self.base))
    }

    /// Sends a request and reads a JSON answer (up to the outbound size cap), mapping statuses
    /// to [`LsError`].
    async fn call(&self, request: reqwest::RequestBuilder) -> Result<Value, LsError> {
        let request = request
            .header("Authorization", &self.auth)
            .header("Accept", "application/json")
            .timeout(TIMEOUT);
        let response = self
            .http
            .send(request)
            .await
            .map_err(|e| self.unreachable(e))?;
        let status = response.status().as_u16();
        let body = self
            .http
            .read(response)
            .await
            .map_err(|e| self.unreachable(e))?;
        match status {
            200..=299 => {
                let mut value: Value = serde_json::from_slice(&body).map_err(|_| {
                    tracing::warn!(target: "outbound", url = %self.base, "Label Studio's answer is not JSON");
                    LsError::Invalid("it is not JSON (is this a Label Studio URL?)")
                })?;
                // Label Studio on SQLite may hold NULs that PostgreSQL cannot store, and
                // numbers a JSON column cannot give back.
                crate::util::make_storable(&mut value);
                Ok(value)
            }
            401 | 403 => Err(LsError::Unauthorized(status)),
            404 => Err(LsError::NotFound),
            _ => {
                let shown: String = String::from_utf8_lossy(&body).chars().take(300).collect();
                tracing::warn!(target: "outbound", url = %self.base, status, "Label Studio answered an error: {shown}");
                Err(LsError::Status { status })
            }
        }
    }

    /// `GET /api/projects/{id}/`.
    pub async fn project(&self, id: i64) -> Result<LsProject, LsError> {
        let body = self
            .call(self.request(reqwest::Method::GET, &format!("/api/projects/{id}/")))
            .await?;
        let project: LsProject = read(body, "it is not a project (is this a Label Studio URL?)")?;
        if project.label_config.is_none() {
            return Err(LsError::Invalid(
                "the project has no label_config (is this a Label Studio URL?)",
            ));
        }
        Ok(project)
    }

    /// One page (1-based) of a project's tasks with their annotations:
    /// `GET /api/tasks/?project=N&page=P&page_size=S&fields=all`, answered as
    /// `{"tasks": [...], "total": n, ...}`. `None` past the last page (Label Studio answers 404
    /// there).
    pub async fn tasks_page(
        &self,
        project: i64,
        page: u64,
        page_size: u64,
    ) -> Result<Option<LsTaskPage>, LsError> {
        let request = self.request(reqwest::Method::GET, "/api/tasks/").query(&[
            ("project", project.to_string()),
            ("page", page.to_string()),
            ("page_size", page_size.to_string()),
            ("fields", "all".to_string()),
        ]);
        let body = match self.call(request).await {
            Err(LsError::NotFound) if page > 1 => return Ok(None),
            other => other?,
        };
        let (tasks, total) = match body {
            Value::Array(items) => (Value::Array(items), None),
            Value::Object(mut map) => (
                map.remove("tasks").unwrap_or(Value::Array(vec![])),
                map.get("total").and_then(Value::as_u64),
            ),
            _ => {
                return Err(LsError::Invalid("the task list is not a JSON object"));
            }
        };
        let tasks: Vec<LsTask> = read(tasks, "a task could not be read")?;
        Ok(Some(LsTaskPage { tasks, total }))
    }

    /// The predictions of a project: `GET /api/predictions/?project=N` (a bare list in Label
    /// Studio 1.23; a DRF page `{"results", "next"}` is followed page by page too).
    pub async fn predictions(&self, project: i64) -> Result<Vec<LsPrediction>, LsError> {
        let mut out = vec![];
        for page in 1..=MAX_PREDICTION_PAGES {
            let mut query = vec![("project", project.to_string())];
            if page > 1 {
                query.push(("page", page.to_string()));
            }
            let request = self
                .request(reqwest::Method::GET, "/api/predictions/")
                .query(&query);
            let body = match self.call(request).await {
                Err(LsError::NotFound) if page > 1 => break,
                other => other?,
            };
            let (items, more) = match body {
                Value::Array(items) => (items, false),
                Value::Object(mut map) => {
                    let more = map.get("next").is_some_and(|n| !n.is_null());
                    match map.remove("results") {
                        Some(Value::Array(items)) => (items, more),
                        _ => {
                            return Err(LsError::Invalid("the prediction list is not a list"));
                        }
                    }
                }
                _ => return Err(LsError::Invalid("the prediction list is not a list")),
            };
            for item in items {
                out.push(read(item, "a prediction could not be read")?);
            }
            if !more {
                break;
            }
        }
        Ok(out)
    }

    /// `POST /api/predictions/` `{project, task, result, score, model_version}` (without
    /// `project` Label Studio logs a warning and looks it up per prediction); returns the new id.
    pub async fn create_prediction(
        &self,
        project: i64,
        task: i64,
        result: &Value,
        score: Option<f64>,
        model_version: &str,
    ) -> Result<i64, LsError> {
        let body = json!({
            "project": project,
            "task": task,
            "result": result,
            "score": score,
            "model_version": model_version,
        });
        let created = self
            .call(
                self.request(reqwest::Method::POST, "/api/predictions/")
                    .json(&body),
            )
            .await?;
        created["id"]
            .as_i64()
            .ok_or(LsError::Invalid("the created prediction has no id"))
    }
}

/// A Label Studio webhook, as far as Prompter reads it.
#[derive(Debug, Clone, Deserialize)]
pub struct LsWebhook {
    /// Label Studio's id.
    pub id: i64,
    /// Where it posts.
    #[serde(default)]
    pub url: String,
    /// The headers it sends (Label Studio stores any string map).
    #[serde(default)]
    pub headers: Option<serde_json::Map<String, Value>>,
}

impl LsClient {
    /// `GET /api/webhooks?project={id}`: the project's webhooks (a bare list, or one page).
    pub async fn webhooks(&self, project: i64) -> Result<Vec<LsWebhook>, LsError> {
        let body = self
            .call(
                self.request(reqwest::Method::GET, "/api/webhooks")
                    .query(&[("project", project)]),
            )
            .await?;
        let items = match body {
            Value::Array(items) => items,
            Value::Object(mut page) => match page.remove("results") {
                Some(Value::Array(items)) => items,
                _ => return Err(LsError::Invalid("not a list of webhooks")),
            },
            _ => return Err(LsError::Invalid("not a list of webhooks")),
        };
        items
            .into_iter()
            .map(|item| read(item, "not a webhook"))
            .collect()
    }

    /// `PATCH /api/webhooks/{id}` `{"headers": headers}`.
    pub async fn set_webhook_headers(
        &self,
        id: i64,
        headers: &serde_json::Map<String, Value>,
    ) -> Result<(), LsError> {
        self.call(
            self.request(reqwest::Method::PATCH, &format!("/api/webhooks/{id}"))
                .json(&json!({ "headers": headers })),
        )
        .await
        .map(|_| ())
    }
}

/// `value` read as a `T`; `what` is the error (the serde detail, which can quote the answer,
/// goes to the log only).
fn read<T: serde::de::DeserializeOwned>(value: Value, what: &'static str) -> Result<T, LsError> {
    serde_json::from_value(value).map_err(|e| {
        tracing::warn!(target: "outbound", "Label Studio's answer could not be read ({what}): {e}");
        LsError::Invalid(what)
    })
}

/// The fixed explanation of a status Label Studio answered with.
fn explain(status: u16) -> &'static str {
    match status {
        400..=499 => "it refused the request",
        500..=599 => "a server error on its side",
        _ => "an unexpected answer",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_are_http_without_trailing_slash() {
        assert_eq!(
            normalize_base_url(" http://ls.example:8080/ ").as_deref(),
            Ok("http://ls.example:8080")
        );
        assert_eq!(
            normalize_base_url("https://x.org/label-studio//").as_deref(),
            Ok("https://x.org/label-studio")
        );
        for bad in [
            "ftp://x.org",
            "x.org",
            "",
            "http://x.org/?a=1",
            "http://u:p@x.org",
        ] {
            assert!(normalize_base_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn debug_and_errors_never_show_the_token() {
        let http = crate::outbound::Outbound::new(Default::default(), 1024);
        let client = LsClient::new(&http, "http://127.0.0.1:1", "secret-token-123");
        assert!(!format!("{client:?}").contains("secret-token-123"));
        let status = LsError::Status { status: 500 }.to_string();
        assert_eq!(
            status,
            "Label Studio answered HTTP 500 (a server error on its side)"
        );
    }

    #[test]
    fn tasks_and_annotations_read_leniently() {
        let task: LsTask = serde_json::from_value(json!({
            "id": 3, "data": {"text": "hi"}, "meta": null,
            "annotations": [{"id": 9, "result": null, "was_cancelled": null, "completed_by": 1}]
        }))
        .expect("task");
        assert_eq!(task.annotations[0].id, 9);
        assert!(!task.annotations[0].was_cancelled);
        assert_eq!(task.annotations[0].updated_at, None);
        let stamped: LsAnnotation = serde_json::from_value(json!({
            "id": 1, "created_at": "not a time", "updated_at": "2026-11-29T10:00:00.000000Z"
        }))
        .expect("annotation");
        assert_eq!(stamped.created_at, None);
        assert_eq!(
            stamped.updated_at.map(|t| t.to_rfc3339()).as_deref(),
            Some("2026-11-29T10:00:00+00:00")
        );
        let bare: LsTask = serde_json::from_value(json!({"id": 4, "data": {}})).expect("task");
        assert!(bare.annotations.is_empty());
    }
}
