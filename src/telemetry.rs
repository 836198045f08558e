//! Structured logging with `tracing`: text or JSON lines, level from `PROMPTER_LOG`.
use crate::config::LogFormat;
use tracing_subscriber::EnvFilter;

/// Installs the global subscriber once; later calls are no-ops (tests call it freely).
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_env("PROMPTER_LOG")
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,sea_orm=warn"));
    use std::io::IsTerminal;
    // Colours only for a person at a terminal, never in a file or a log collector.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}

/// The id of a request, in its log lines (the `request` span) and in the body of a 500 caused
/// by a panic.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// Logs one structured line per request: method, path (never the query or headers, which may
/// carry credentials), status, duration and the request's id, which every log line written
/// while serving it carries too. A handler that panics despite the rules answers a 500 with
/// Label Studio's error body (its `id` is the request id) instead of dropping the connection,
/// and the panic is logged with that id.
pub async fn log_request(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody + 'static>,
) -> Result<actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>, actix_web::Error> {
    use actix_web::HttpMessage;
    use futures_util::FutureExt;
    use tracing::Instrument;
    let started = std::time::Instant::now();
    let method = req.method().to_string();
    let path = req.path().to_string();
    let id = uuid::Uuid::new_v4().simple().to_string();
    req.extensions_mut().insert(RequestId(id.clone()));
    let span = tracing::info_span!("request", id = %id);
    let served = std::panic::AssertUnwindSafe(next.call(req).instrument(span))
        .catch_unwind()
        .await
        .unwrap_or_else(|panic| {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            tracing::error!(request_id = %id, %method, %path, panic = %message, "handler panicked");
            // Rendered by actix through `ApiError`'s `ResponseError`, as any handler error.
            Err(crate::error::ApiError::Panicked {
                request_id: id.clone(),
            }
            .into())
        });
    let served = served.map(|res| name_what_is_missing(res, &path));
    let status = match &served {
        Ok(response) => response.status(),
        Err(err) => err.as_response_error().status_code(),
    }
    .as_u16();
    let ms = started.elapsed().as_millis() as u64;
    if status >= 500 {
        tracing::error!(request_id = %id, %method, %path, status, ms, "request");
    } else {
        tracing::info!(request_id = %id, %method, %path, status, ms, "request");
    }
    served
}

/// A 404 of the API (`ApiError::NotFound`) says which objects its path named, e.g. "Not found:
/// prompt 3, version 9 (/api/prompts/3/versions/9) is not in your organization."; other
/// responses pass through unchanged.
fn name_what_is_missing(
    res: actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody + 'static>,
    path: &str,
) -> actix_web::dev::ServiceResponse {
    use crate::error::ApiError;
    use actix_web::ResponseError;
    let missing = res
        .response()
        .error()
        .and_then(|e| e.as_error::<ApiError>())
        .is_some_and(|e| matches!(e, ApiError::NotFound))
        // Only a route that exists names objects; an unknown path stays "Not found.".
        && res.request().match_pattern().is_some();
    match missing.then(|| missing_objects(path)).flatten() {
        Some(what) => {
            let (req, _) = res.into_parts();
            let detail = format!("Not found: {what} ({path}) is not in your organization.");
            actix_web::dev::ServiceResponse::new(req, ApiError::NotFoundAt(detail).error_response())
        }
        None => res.map_into_boxed_body(),
    }
}

/// The objects an API path names by id, in words: `/api/prompts/3/versions/9` → "prompt 3,
/// version 9". `None` for a path without ids.
fn missing_objects(path: &str) -> Option<String> {
    let segments: Vec<&str> = path
        .trim_start_matches("/api/")
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    let named: Vec<String> = segments
        .windows(2)
        .filter(|w| w[1].parse::<i64>().is_ok())
        .map(|w| {
            let kind = w[0].trim_end_matches('s').replace('-', " ");
            format!("{kind} {}", w[1])
        })
        .collect();
    (!named.is_empty()).then(|| named.join(", "))
}

/// For tests: log lines go through libtest's capture, so they show only for failing tests.
pub fn init_for_tests() {
    crate::util::install_tls();
    let filter = EnvFilter::try_from_env("PROMPTER_LOG")
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,sea_orm=warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_test_writer()
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::missing_objects;

    // `test` here is actix-web's module: the plain test attribute by its full path.
    #[::core::prelude::v1::test]
    fn a_missing_object_is_named_from_its_path() {
        assert_eq!(
            missing_objects("/api/projects/999/").as_deref(),
            Some("project 999")
        );
        assert_eq!(
            missing_objects("/api/prompts/3/versions/9/inference-runs").as_deref(),
            Some("prompt 3, version 9")
        );
        assert_eq!(
            missing_objects("/api/model-provider-connections/4/").as_deref(),
            Some("model provider connection 4")
        );
        assert_eq!(
            missing_objects("/api/inference-runs/5/indicators/accuracy").as_deref(),
            Some("inference run 5")
        );
        assert_eq!(missing_objects("/api/prompts/"), None);
    }

    use actix_web::middleware::from_fn;
    use actix_web::{App, HttpResponse, test, web};

    /// A handler that panics answers a 500 with Label Studio's error body whose `id` is the
    /// request's id, and the worker keeps serving.
    #[actix_web::test]
    async fn a_panicking_handler_answers_500_with_the_error_body() {
        let app = test::init_service(
            App::new()
                .wrap(from_fn(super::log_request))
                .route(
                    "/boom",
                    web::get().to(|| async {
                        let empty: Vec<u8> = vec![];
                        HttpResponse::Ok().body(format!("{}", empty[3]))
                    }),
                )
                .route(
                    "/ok",
                    web::get().to(|| async { HttpResponse::Ok().finish() }),
                ),
        )
        .await;
        // The middleware answers the panic with an error, which actix renders as it renders
        // every handler error.
        let err = test::try_call_service(&app, test::TestRequest::get().uri("/boom").to_request())
            .await
            .err()
            .expect("the panic is turned into an error");
        let response = err.error_response();
        assert_eq!(response.status().as_u16(), 500);
        let bytes = actix_web::body::to_bytes(response.into_body())
            .await
            .expect("body");
        let body: serde_json::Value = serde_json::from_slice(&bytes).expect("json");
        assert_eq!(body["code"], "internal_error");
        assert_eq!(body["status_code"], 500);
        assert_eq!(body["detail"], "Internal server error.");
        assert_eq!(body["id"].as_str().map(str::len), Some(32), "{body}");
        let response =
            test::call_service(&app, test::TestRequest::get().uri("/ok").to_request()).await;
        assert_eq!(response.status().as_u16(), 200);
    }
}
