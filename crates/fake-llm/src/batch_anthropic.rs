//! Anthropic's Message Batches API: create a batch of Messages requests, retrieve it, cancel
//! it, read its results (JSONL, in the order the items were done), in Anthropic's shapes. A
//! request's `params` are checked when it is processed: a refused one is `errored`.
use super::batch::{Batch, Outcome, Requests, State, guard, rfc3339};
use super::server::{Api, Failure, Inner};
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};
use std::collections::HashSet;

/// Requests a batch takes at most.
const MAX_REQUESTS: usize = 100_000;

/// The Message Batches routes.
pub(super) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/v1/messages/batches", web::post().to(create))
        .route("/v1/messages/batches/{id}", web::get().to(retrieve))
        .route("/v1/messages/batches/{id}/cancel", web::post().to(cancel))
        .route("/v1/messages/batches/{id}/results", web::get().to(results));
}

/// A 400 in Anthropic's shape.
fn bad(inner: &Inner, message: &str) -> HttpResponse {
    inner.fail(Api::Anthropic, Failure::BadRequest, message, None, None)
}

/// The 404 of an unknown batch.
fn not_found(inner: &Inner, id: &str) -> HttpResponse {
    let message = format!("No message batch found with id '{id}'.");
    inner.fail(Api::Anthropic, Failure::NotFound, &message, None, None)
}

/// Whether `id` matches `^[a-zA-Z0-9_-]{1,64}$`.
fn valid_custom_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// The requests of a create body, `(custom_id, params)`, or the 400's message.
fn requests(request: &Value) -> Result<Requests, String> {
    let list = match request.get("requests") {
        Some(Value::Array(list)) => list,
        Some(_) => return Err("requests: Input should be a valid list".into()),
        None => return Err("requests: Field required".into()),
    };
    if list.is_empty() {
        return Err("requests: List should have at least 1 item after validation, not 0".into());
    }
    if list.len() > MAX_REQUESTS {
        return Err(format!(
            "requests: List should have at most {MAX_REQUESTS} items after validation, not {}",
            list.len()
        ));
    }
    let mut seen = HashSet::new();
    let mut out = Vec::with_capacity(list.len());
    for (i, item) in list.iter().enumerate() {
        let Some(custom_id) = item.get("custom_id").and_then(Value::as_str) else {
            return Err(format!("requests.{i}.custom_id: Field required"));
        };
        if !valid_custom_id(custom_id) {
            return Err(format!(
                "requests.{i}.custom_id: String should match pattern '^[a-zA-Z0-9_-]{{1,64}}$'"
            ));
        }
        if !seen.insert(custom_id) {
            return Err(format!(
                "Duplicate custom_id '{custom_id}': each request in a batch must have a unique \
                 custom_id."
            ));
        }
        let Some(params) = item.get("params") else {
            return Err(format!("requests.{i}.params: Field required"));
        };
        out.push((custom_id.to_string(), params.clone()));
    }
    Ok(out)
}

/// `POST /v1/messages/batches`.
async fn create(req: HttpRequest, body: web::Bytes, inner: web::Data<Inner>) -> HttpResponse {
    if let Some(refusal) = guard(&inner, Api::Anthropic, &req) {
        return refusal;
    }
    let request: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return bad(&inner, &format!("The request body is not valid JSON: {e}")),
    };
    let requests = match requests(&request) {
        Ok(requests) => requests,
        Err(message) => return bad(&inner, &message),
    };
    let id = format!("msgbatch_{}", inner.store().next_batch());
    let batch = Batch::new(&inner, Api::Anthropic, id, None, requests);
    let object = batch_object(&batch, &req);
    inner.store().insert(&inner, batch);
    HttpResponse::Ok().json(object)
}

/// `GET /v1/messages/batches/{id}`.
async fn retrieve(
    req: HttpRequest,
    id: web::Path<String>,
    inner: web::Data<Inner>,
) -> HttpResponse {
    if let Some(refusal) = guard(&inner, Api::Anthropic, &req) {
        return refusal;
    }
    let mut store = inner.store();
    match store.look(&inner, Api::Anthropic, &id) {
        Some(batch) => HttpResponse::Ok().json(batch_object(batch, &req)),
        None => not_found(&inner, &id),
    }
}

/// `POST /v1/messages/batches/{id}/cancel`: a running batch is `canceling` (an ended one is
/// left as it is).
async fn cancel(req: HttpRequest, id: web::Path<String>, inner: web::Data<Inner>) -> HttpResponse {
    if let Some(refusal) = guard(&inner, Api::Anthropic, &req) {
        return refusal;
    }
    let mut store = inner.store();
    match store.look(&inner, Api::Anthropic, &id) {
        Some(batch) => {
            batch.cancel(&inner);
            HttpResponse::Ok().json(batch_object(batch, &req))
        }
        None => not_found(&inner, &id),
    }
}

/// `GET /v1/messages/batches/{id}/results`: one JSON line per item, in the order they were done.
async fn results(req: HttpRequest, id: web::Path<String>, inner: web::Data<Inner>) -> HttpResponse {
    if let Some(refusal) = guard(&inner, Api::Anthropic, &req) {
        return refusal;
    }
    let mut store = inner.store();
    let Some(batch) = store.look(&inner, Api::Anthropic, &id) else {
        return not_found(&inner, &id);
    };
    if !batch.ended() {
        return bad(&inner, "Batch is still processing");
    }
    let mut lines = String::new();
    for (item, outcome) in batch.done_items() {
        let error = |kind: &str, message: &str| {
            json!({"type": "errored", "error": {
                "type": "error",
                "error": {"type": kind, "message": message},
            }})
        };
        let result = match outcome {
            Outcome::Answered(message) => json!({"type": "succeeded", "message": message}),
            Outcome::Failed => error("api_error", "Internal server error"),
            Outcome::Refused(bad) => error("invalid_request_error", &bad.message),
            Outcome::Canceled => json!({"type": "canceled"}),
        };
        lines.push_str(&json!({"custom_id": item.custom_id, "result": result}).to_string());
        lines.push('\n');
    }
    HttpResponse::Ok()
        .content_type("application/x-jsonl")
        .body(lines)
}

/// A message batch object; `req` gives the scheme and host of its `results_url`.
fn batch_object(batch: &Batch, req: &HttpRequest) -> Value {
    let counts = batch.counts();
    let status = match batch.state {
        State::Running => "in_progress",
        State::Canceling => "canceling",
        State::Completed | State::Cancelled | State::Failed => "ended",
    };
    let results_url = batch.ended().then(|| {
        let info = req.connection_info();
        format!(
            "{}://{}/v1/messages/batches/{}/results",
            info.scheme(),
            info.host(),
            batch.id
        )
    });
    json!({
        "id": batch.id,
        "type": "message_batch",
        "processing_status": status,
        "request_counts": {
            "processing": counts.pending,
            "succeeded": counts.succeeded,
            "errored": counts.failed,
            "canceled": counts.canceled,
            "expired": 0,
        },
        "ended_at": batch.ended_at.map(rfc3339),
        "created_at": rfc3339(batch.created),
        "expires_at": rfc3339(batch.created + chrono::Duration::hours(24)),
        "archived_at": null,
        "cancel_initiated_at": batch.cancel_at.map(rfc3339),
        "results_url": results_url,
    })
}
