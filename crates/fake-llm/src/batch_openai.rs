//! The batch API of OpenAI and Azure OpenAI: the files API (upload a JSONL file, read a file's
//! content, delete a file) and the batches (create from an uploaded file, retrieve, cancel),
//! in OpenAI's shapes. Azure's routes are under `/openai/` and need `?api-version=`.
//!
//! The input file's lines are checked when the batch is created, as OpenAI checks them; a file
//! that breaks a rule makes the batch end `failed` with `errors`, not a 400. An ended batch has
//! an output file (the items answered 200) and an error file (the others), their lines in the
//! order the items were done (not the input's).
use super::batch::{Batch, File, Outcome, Requests, State, guard};
use super::call::BadRequest;
use super::multipart;
use super::server::{Api, Failure, Inner};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use std::collections::HashSet;

/// Lines an OpenAI batch takes at most.
const MAX_LINES: usize = 50_000;

/// Lines an Azure OpenAI batch takes at most.
const MAX_LINES_AZURE: usize = 100_000;

/// The batch routes of OpenAI (also without `/v1`) and Azure.
pub(super) fn routes(cfg: &mut web::ServiceConfig) {
    for prefix in ["/v1", "", "/openai"] {
        cfg.route(&format!("{prefix}/files"), web::post().to(upload))
            .route(&format!("{prefix}/files/{{id}}"), web::get().to(file))
            .route(&format!("{prefix}/files/{{id}}"), web::delete().to(delete))
            .route(
                &format!("{prefix}/files/{{id}}/content"),
                web::get().to(content),
            )
            .route(&format!("{prefix}/batches"), web::post().to(create))
            .route(&format!("{prefix}/batches/{{id}}"), web::get().to(retrieve))
            .route(
                &format!("{prefix}/batches/{{id}}/cancel"),
                web::post().to(cancel),
            );
    }
}

/// The dialect of a request: Azure under `/openai/`.
fn api_of(req: &HttpRequest) -> Api {
    if req.path().starts_with("/openai/") {
        Api::Azure
    } else {
        Api::OpenAi
    }
}

/// An OpenAI error answer.
fn error(
    status: StatusCode,
    message: &str,
    param: Option<&str>,
    code: Option<&str>,
) -> HttpResponse {
    HttpResponse::build(status).json(json!({"error": {
        "message": message,
        "type": "invalid_request_error",
        "param": param,
        "code": code,
    }}))
}

/// A 400 naming `param`.
fn bad(message: &str, param: &str) -> HttpResponse {
    error(StatusCode::BAD_REQUEST, message, Some(param), None)
}

/// The 404 of an unknown file.
fn no_file(id: &str) -> HttpResponse {
    error(
        StatusCode::NOT_FOUND,
        &format!("No such File object: {id}"),
        Some("id"),
        None,
    )
}

/// A file object.
fn file_object(file: &File) -> Value {
    json!({
        "id": file.id,
        "object": "file",
        "bytes": file.bytes.len(),
        "created_at": file.created_at,
        "filename": file.filename,
        "purpose": file.purpose,
        "status": "processed",
    })
}

/// `POST /v1/files`: a multipart upload of a JSONL file (`purpose` must be `batch`).
async fn upload(req: HttpRequest, body: web::Bytes, inner: web::Data<Inner>) -> HttpResponse {
    if let Some(refusal) = guard(&inner, api_of(&req), &req) {
        return refusal;
    }
    let content_type = req
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let parts = match multipart::parse(content_type, &body) {
        Ok(parts) => parts,
        Err(message) => return error(StatusCode::BAD_REQUEST, &message, None, None),
    };
    let purpose = parts
        .iter()
        .find(|p| p.name == "purpose")
        .map(|p| String::from_utf8_lossy(&p.data).trim().to_string());
    match purpose.as_deref() {
        None => return bad("Missing required parameter: 'purpose'.", "purpose"),
        Some("batch") => {}
        Some(other) => {
            return bad(
                &format!(
                    "'{other}' is not one of ['fine-tune', 'assistants', 'batch', 'user_data', \
                     'vision', 'evals'] - 'purpose'"
                ),
                "purpose",
            );
        }
    }
    let Some((filename, data)) = parts
        .into_iter()
        .find(|p| p.name == "file")
        .and_then(|p| p.filename.map(|name| (name, p.data)))
    else {
        return bad("Missing required parameter: 'file'.", "file");
    };
    let file = inner.store().add_file(filename, "batch", data);
    HttpResponse::Ok().json(file_object(&file))
}

/// `GET /v1/files/{id}`.
async fn file(req: HttpRequest, id: web::Path<String>, inner: web::Data<Inner>) -> HttpResponse {
    if let Some(refusal) = guard(&inner, api_of(&req), &req) {
        return refusal;
    }
    match inner.store().files.get(id.as_str()) {
        Some(file) => HttpResponse::Ok().json(file_object(file)),
        None => no_file(&id),
    }
}

/// `GET /v1/files/{id}/content`: the file's bytes.
async fn content(req: HttpRequest, id: web::Path<String>, inner: web::Data<Inner>) -> HttpResponse {
    if let Some(refusal) = guard(&inner, api_of(&req), &req) {
        return refusal;
    }
    match inner.store().files.get(id.as_str()) {
        Some(file) => HttpResponse::Ok()
            .content_type("application/octet-stream")
            .body(file.bytes.clone()),
        None => no_file(&id),
    }
}

/// `DELETE /v1/files/{id}`.
async fn delete(req: HttpRequest, id: web::Path<String>, inner: web::Data<Inner>) -> HttpResponse {
    if let Some(refusal) = guard(&inner, api_of(&req), &req) {
        return refusal;
    }
    match inner.store().files.remove(id.as_str()) {
        Some(file) => {
            HttpResponse::Ok().json(json!({"id": file.id, "object": "file", "deleted": true}))
        }
        None => no_file(&id),
    }
}

/// One entry of a failed batch's `errors`.
fn line_error(code: &str, message: String, line: Option<usize>) -> Value {
    json!({"code": code, "message": message, "param": null, "line": line})
}

/// The requests of an input file, `(custom_id, body)`, and their model; or the errors that make
/// the batch fail, as OpenAI checks a file.
fn validate(bytes: &[u8], endpoint: &str, api: Api) -> Result<(Requests, String), Vec<Value>> {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return Err(vec![line_error(
            "invalid_request",
            "The input file is not valid UTF-8.".into(),
            None,
        )]);
    };
    let lines: Vec<(usize, &str)> = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| (i + 1, l))
        .collect();
    let max = if api == Api::Azure {
        MAX_LINES_AZURE
    } else {
        MAX_LINES
    };
    if lines.is_empty() {
        return Err(vec![line_error(
            "invalid_request",
            "The input file is empty.".into(),
            None,
        )]);
    }
    if lines.len() > max {
        let message = format!(
            "The batch input file has {} requests; a batch takes at most {max}.",
            lines.len()
        );
        return Err(vec![line_error("too_many_requests", message, None)]);
    }
    // Azure names the endpoint with or without `/v1`.
    let same_url = |url: &str| match api {
        Api::Azure => url.trim_start_matches("/v1") == endpoint.trim_start_matches("/v1"),
        _ => url == endpoint,
    };
    let mut errors = Vec::new();
    let mut requests = Vec::new();
    let mut seen = HashSet::new();
    let mut model: Option<String> = None;
    for (n, line) in lines {
        let invalid = |message: String| line_error("invalid_request", message, Some(n));
        let Ok(Value::Object(mut object)) = serde_json::from_str::<Value>(line) else {
            errors.push(invalid(format!("Line {n} is not a valid JSON object.")));
            continue;
        };
        let Some(custom_id) = object
            .get("custom_id")
            .and_then(Value::as_str)
            .map(str::to_string)
        else {
            errors.push(invalid(format!("Line {n} has no string 'custom_id'.")));
            continue;
        };
        if object.get("method").and_then(Value::as_str) != Some("POST") {
            errors.push(invalid(format!("Line {n}: 'method' must be 'POST'.")));
            continue;
        }
        if !object
            .get("url")
            .and_then(Value::as_str)
            .is_some_and(same_url)
        {
            errors.push(invalid(format!(
                "Line {n}: 'url' must be the batch's endpoint, '{endpoint}'."
            )));
            continue;
        }
        let Some(Value::Object(body)) = object.remove("body") else {
            errors.push(invalid(format!("Line {n} has no object 'body'.")));
            continue;
        };
        if !seen.insert(custom_id.clone()) {
            let message = format!("The custom_id '{custom_id}' is used by more than one request.");
            errors.push(line_error("duplicate_custom_id", message, Some(n)));
            continue;
        }
        let line_model = body.get("model").and_then(Value::as_str).unwrap_or("");
        match &model {
            None => model = Some(line_model.to_string()),
            Some(m) if m != line_model => {
                let message = format!(
                    "The model '{line_model}' of line {n} is not the batch's model '{m}': a batch \
                     takes one model."
                );
                errors.push(line_error("mismatched_model", message, Some(n)));
                continue;
            }
            Some(_) => {}
        }
        requests.push((custom_id, Value::Object(body)));
    }
    if errors.is_empty() {
        Ok((requests, model.unwrap_or_default()))
    } else {
        Err(errors)
    }
}

/// `POST /v1/batches`: a batch of the requests of an uploaded file.
async fn create(req: HttpRequest, body: web::Bytes, inner: web::Data<Inner>) -> HttpResponse {
    let api = api_of(&req);
    if let Some(refusal) = guard(&inner, api, &req) {
        return refusal;
    }
    let request: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            let message = format!("We could not parse the JSON body of your request: {e}");
            return error(StatusCode::BAD_REQUEST, &message, None, None);
        }
    };
    let Some(input) = request.get("input_file_id").and_then(Value::as_str) else {
        return bad(
            "Missing required parameter: 'input_file_id'.",
            "input_file_id",
        );
    };
    let endpoint = request
        .get("endpoint")
        .and_then(Value::as_str)
        .unwrap_or("");
    let endpoints: &[&str] = match api {
        Api::Azure => &["/chat/completions", "/v1/chat/completions"],
        _ => &["/v1/chat/completions"],
    };
    if !endpoints.contains(&endpoint) {
        let message = format!(
            "Invalid value: '{endpoint}'. Supported values are: '{}'.",
            endpoints[0]
        );
        return error(
            StatusCode::BAD_REQUEST,
            &message,
            Some("endpoint"),
            Some("invalid_value"),
        );
    }
    let window = request
        .get("completion_window")
        .and_then(Value::as_str)
        .unwrap_or("");
    if window != "24h" {
        let message = format!("Invalid value: '{window}'. Supported values are: '24h'.");
        return error(
            StatusCode::BAD_REQUEST,
            &message,
            Some("completion_window"),
            Some("invalid_value"),
        );
    }
    let Some(bytes) = inner.store().files.get(input).map(|f| f.bytes.clone()) else {
        return bad(&format!("Invalid file id '{input}'."), "input_file_id");
    };
    let (requests, model, errors) = match validate(&bytes, endpoint, api) {
        Ok((requests, model)) => (requests, model, None),
        Err(errors) => (Vec::new(), String::new(), Some(errors)),
    };
    let id = format!("batch_{}", inner.store().next_batch());
    let target = (api == Api::Azure).then_some(model.as_str());
    let mut batch = Batch::new(&inner, api, id, target, requests);
    batch.endpoint = endpoint.to_string();
    batch.input = input.to_string();
    batch.metadata = request.get("metadata").cloned().unwrap_or(Value::Null);
    batch.errors = errors.map(|data| json!({"object": "list", "data": data}));
    let object = batch_object(&batch);
    inner.store().insert(&inner, batch);
    HttpResponse::Ok().json(object)
}

/// `GET /v1/batches/{id}`.
async fn retrieve(
    req: HttpRequest,
    id: web::Path<String>,
    inner: web::Data<Inner>,
) -> HttpResponse {
    let api = api_of(&req);
    if let Some(refusal) = guard(&inner, api, &req) {
        return refusal;
    }
    let mut store = inner.store();
    match store.look(&inner, api, &id) {
        Some(batch) => HttpResponse::Ok().json(batch_object(batch)),
        None => no_batch(&inner, api, &id),
    }
}

/// `POST /v1/batches/{id}/cancel`.
async fn cancel(req: HttpRequest, id: web::Path<String>, inner: web::Data<Inner>) -> HttpResponse {
    let api = api_of(&req);
    if let Some(refusal) = guard(&inner, api, &req) {
        return refusal;
    }
    let mut store = inner.store();
    let Some(batch) = store.look(&inner, api, &id) else {
        return no_batch(&inner, api, &id);
    };
    if batch.ended() {
        let message = format!("Cannot cancel a batch with status {}.", status(batch));
        return error(StatusCode::BAD_REQUEST, &message, None, None);
    }
    batch.cancel(&inner);
    HttpResponse::Ok().json(batch_object(batch))
}

/// The 404 of an unknown batch.
fn no_batch(inner: &Inner, api: Api, id: &str) -> HttpResponse {
    inner.fail(
        api,
        Failure::NotFound,
        &format!("No batch found with id '{id}'."),
        None,
        None,
    )
}

/// A batch's `status`.
fn status(batch: &Batch) -> &'static str {
    match batch.state {
        State::Running if !batch.seen => "validating",
        State::Running => "in_progress",
        State::Canceling => "cancelling",
        State::Completed => "completed",
        State::Cancelled => "cancelled",
        State::Failed => "failed",
    }
}

/// A batch object.
fn batch_object(batch: &Batch) -> Value {
    let created = batch.created.timestamp();
    let at = |t: Option<DateTime<Utc>>| t.map(|t| t.timestamp());
    let ended = |state: State| at(batch.ended_at.filter(|_| batch.state == state));
    let counts = batch.counts();
    json!({
        "id": batch.id,
        "object": "batch",
        "endpoint": batch.endpoint,
        "errors": batch.errors,
        "input_file_id": batch.input,
        "completion_window": "24h",
        "status": status(batch),
        "output_file_id": batch.output_file,
        "error_file_id": batch.error_file,
        "created_at": created,
        "in_progress_at": (batch.seen && batch.errors.is_none()).then_some(created),
        "expires_at": created + 24 * 3600,
        "finalizing_at": ended(State::Completed),
        "completed_at": ended(State::Completed),
        "failed_at": ended(State::Failed),
        "expired_at": null,
        "cancelling_at": at(batch.cancel_at),
        "cancelled_at": ended(State::Cancelled),
        "request_counts": {
            "total": counts.total,
            "completed": counts.succeeded,
            "failed": counts.failed + counts.canceled,
        },
        "metadata": batch.metadata,
    })
}

/// The output file (items answered 200) and error file (the others) of an ended batch, each
/// `None` when it would be empty.
pub(super) fn result_files(batch: &Batch) -> (Option<Vec<u8>>, Option<Vec<u8>>) {
    let mut output = Vec::new();
    let mut errors = Vec::new();
    for (item, outcome) in batch.done_items() {
        let id = format!("batch_req_{}", item.seq);
        let request_id = format!("req_{}", item.seq);
        let response = |status: u16, body: Value| json!({"status_code": status, "request_id": request_id, "body": body});
        let (line, ok) = match outcome {
            Outcome::Answered(body) => (response(200, body.clone()), true),
            Outcome::Failed => (
                response(
                    500,
                    json!({"error": {
                        "message": "The server had an error processing your request.",
                        "type": "server_error",
                        "param": null,
                        "code": null,
                    }}),
                ),
                false,
            ),
            Outcome::Refused(bad) => (response(400, refusal_body(bad)), false),
            Outcome::Canceled => {
                let line = json!({
                    "id": id,
                    "custom_id": item.custom_id,
                    "response": null,
                    "error": {
                        "code": "batch_cancelled",
                        "message": "This request was not executed because the batch was cancelled.",
                    },
                });
                errors.push(line.to_string());
                continue;
            }
        };
        let line = json!({"id": id, "custom_id": item.custom_id, "response": line, "error": null});
        if ok { &mut output } else { &mut errors }.push(line.to_string());
    }
    let file = |lines: Vec<String>| {
        (!lines.is_empty()).then(|| format!("{}\n", lines.join("\n")).into_bytes())
    };
    (file(output), file(errors))
}

/// The body of a refused item: the live 400's.
fn refusal_body(bad: &BadRequest) -> Value {
    super::openai::bad_request_body(bad)
}
