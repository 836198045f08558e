//! Gemini's batch mode with inline requests: `models/{model}:batchGenerateContent` creates a
//! batch (a long-running Operation), `batches/{id}` retrieves it, `batches/{id}:cancel`
//! cancels it, in Google's shapes. An ended batch's responses are in the input's order and
//! carry no request `metadata` (the real API has been seen to leave it out: a client maps them
//! by position).
use super::batch::{Batch, Outcome, Requests, State, guard, rfc3339};
use super::gemini::{error_body, field};
use super::server::{Api, Failure, Inner};
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Map, Value, json};

/// The largest body of inline requests, in bytes.
const MAX_BODY: usize = 20 * 1024 * 1024;

/// The `@type` of a batch's metadata.
const BATCH_TYPE: &str =
    "type.googleapis.com/google.ai.generativelanguage.v1beta.GenerateContentBatch";

/// The `@type` of an ended batch's response.
const OUTPUT_TYPE: &str =
    "type.googleapis.com/google.ai.generativelanguage.v1beta.GenerateContentBatchOutput";

/// The routes of `batches/{id}` and `batches/{id}:cancel` (the creation is on the models'
/// route, see `server`).
pub(super) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/v1beta/batches/{tail}", web::get().to(retrieve))
        .route("/v1beta/batches/{tail}", web::post().to(cancel));
}

/// A 400 in Google's shape.
fn bad(inner: &Inner, message: &str) -> HttpResponse {
    inner.fail(Api::Gemini, Failure::BadRequest, message, None, None)
}

/// The 404 of an unknown batch (or method).
fn not_found(inner: &Inner, what: &str) -> HttpResponse {
    let message = format!("Requested entity was not found: batches/{what}.");
    inner.fail(Api::Gemini, Failure::NotFound, &message, None, None)
}

/// The inline requests of a create body, or the 400's message; and the display name.
fn requests(request: &Value) -> Result<(Requests, String), String> {
    let object = |v: Option<&Value>| v.and_then(Value::as_object).cloned().unwrap_or_default();
    let batch = object(request.as_object().and_then(|r| field(r, "batch")));
    let name = field(&batch, "display_name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let input = object(field(&batch, "input_config"));
    let outer = object(field(&input, "requests"));
    let list = field(&outer, "requests")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if list.is_empty() {
        return Err(
            "* BatchGenerateContentRequest.batch.input_config.requests: at least one request is \
             required"
                .into(),
        );
    }
    let items = list
        .into_iter()
        .map(|item| {
            let request = item
                .as_object()
                .and_then(|o| field(o, "request"))
                .cloned()
                .unwrap_or(Value::Null);
            (String::new(), request)
        })
        .collect();
    Ok((items, name))
}

/// `POST /v1beta/models/{model}:batchGenerateContent`.
pub(super) async fn create(
    req: HttpRequest,
    model: String,
    body: web::Bytes,
    inner: web::Data<Inner>,
) -> HttpResponse {
    if let Some(refusal) = guard(&inner, Api::Gemini, &req) {
        return refusal;
    }
    if body.len() > MAX_BODY {
        return bad(
            &inner,
            &format!(
                "Request payload size exceeds the limit: {MAX_BODY} bytes. Use a file of \
                 requests for larger batches."
            ),
        );
    }
    let request: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return bad(&inner, &format!("Invalid JSON payload received. {e}")),
    };
    let (requests, name) = match requests(&request) {
        Ok(found) => found,
        Err(message) => return bad(&inner, &message),
    };
    let id = format!("batches/{}", inner.store().next_batch());
    let mut batch = Batch::new(&inner, Api::Gemini, id, Some(&model), requests);
    batch.endpoint = model;
    batch.input = name;
    let operation = operation(&batch);
    inner.store().insert(&inner, batch);
    HttpResponse::Ok().json(operation)
}

/// `GET /v1beta/batches/{id}`.
async fn retrieve(
    req: HttpRequest,
    tail: web::Path<String>,
    inner: web::Data<Inner>,
) -> HttpResponse {
    if let Some(refusal) = guard(&inner, Api::Gemini, &req) {
        return refusal;
    }
    let mut store = inner.store();
    match store.look(&inner, Api::Gemini, &format!("batches/{tail}")) {
        Some(batch) => HttpResponse::Ok().json(operation(batch)),
        None => not_found(&inner, &tail),
    }
}

/// `POST /v1beta/batches/{id}:cancel`: `{}`; the batch is cancelled at the next look (an
/// ended one is left as it is).
async fn cancel(
    req: HttpRequest,
    tail: web::Path<String>,
    inner: web::Data<Inner>,
) -> HttpResponse {
    if let Some(refusal) = guard(&inner, Api::Gemini, &req) {
        return refusal;
    }
    let Some(id) = tail.strip_suffix(":cancel") else {
        return not_found(&inner, &tail);
    };
    let mut store = inner.store();
    match store.look(&inner, Api::Gemini, &format!("batches/{id}")) {
        Some(batch) => {
            batch.cancel(&inner);
            HttpResponse::Ok().json(json!({}))
        }
        None => not_found(&inner, id),
    }
}

/// A batch as its Operation.
fn operation(batch: &Batch) -> Value {
    let counts = batch.counts();
    let state = match batch.state {
        State::Running if !batch.seen => "BATCH_STATE_PENDING",
        State::Running | State::Canceling => "BATCH_STATE_RUNNING",
        State::Completed => "BATCH_STATE_SUCCEEDED",
        State::Cancelled => "BATCH_STATE_CANCELLED",
        State::Failed => "BATCH_STATE_FAILED",
    };
    let mut stats = Map::new();
    stats.insert("requestCount".into(), json!(counts.total.to_string()));
    if batch.seen {
        stats.insert(
            "successfulRequestCount".into(),
            json!(counts.succeeded.to_string()),
        );
        stats.insert(
            "failedRequestCount".into(),
            json!(counts.failed.to_string()),
        );
    }
    stats.insert(
        "pendingRequestCount".into(),
        json!(counts.pending.to_string()),
    );
    let mut metadata = json!({
        "@type": BATCH_TYPE,
        "model": format!("models/{}", batch.endpoint),
        "displayName": batch.input,
        "name": batch.id,
        "createTime": rfc3339(batch.created),
        "state": state,
        "batchStats": stats,
    });
    if let Some(end) = batch.ended_at {
        metadata["endTime"] = json!(rfc3339(end));
        metadata["updateTime"] = json!(rfc3339(end));
    }
    let mut operation = json!({"name": batch.id, "metadata": metadata});
    if batch.ended() {
        operation["done"] = json!(true);
    }
    if batch.state == State::Completed {
        let responses: Vec<Value> = batch
            .items
            .iter()
            .map(|item| match &item.outcome {
                Some(Outcome::Answered(body)) => json!({"response": body}),
                Some(Outcome::Refused(bad)) => {
                    json!({"error": error_body(Failure::BadRequest, &bad.message, None)["error"]})
                }
                _ => json!({"error": error_body(Failure::ServerError, "Internal error encountered.", None)["error"]}),
            })
            .collect();
        operation["response"] = json!({
            "@type": OUTPUT_TYPE,
            "inlinedResponses": {"inlinedResponses": responses},
        });
    }
    operation
}
