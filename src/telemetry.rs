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

/// The id of a request, in its log lines (the `request` span), its answer's `X-Request-Id` and
/// its error bodies (see [`crate::request_id`]).
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// Serves one request as the request `id` ([`crate::request_id`]): reads a valid
/// `X-Request-Id` or makes one, echoes it in the answer, and runs the rest of the chain in the
/// `request` span (every line logged while serving carries `request_id`) and in the request
/// id's scope (every error body's `id` is it). Logs one structured line per request, in the
/// span: method, path (never the query or headers, which may carry credentials), status and
/// duration; and counts it in [`crate::metrics`] by its route's pattern, never its raw path.
/// A handler that panics despite the rules answers a 500 with Label Studio's error body (its
/// `id` is the request id) instead of dropping the connection, and the panic is logged with
/// that id.
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
    // The route's pattern (`/api/prompts/{id}/`), found before routing: `None` when no route
    // matches (the metrics' `unmatched`).
    let route = route_pattern(&req);
    let incoming = req
        .headers()
        .get(crate::request_id::HEADER)
        .and_then(|v| v.to_str().ok());
    let id = crate::request_id::accept_or_new(incoming);
    req.extensions_mut().insert(RequestId(id.clone()));
    let echoed = actix_web::http::header::HeaderValue::from_str(&id).ok();
    let header = actix_web::http::header::HeaderName::from_static(crate::request_id::HEADER);
    let span = tracing::info_span!("request", request_id = %id);
    let chain = async {
        let served = std::panic::AssertUnwindSafe(next.call(req))
            .catch_unwind()
            .await
            .unwrap_or_else(|panic| {
                let message = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "unknown panic".into());
                tracing::error!(%method, %path, panic = %message, "handler panicked");
                Err(crate::error::ApiError::Panicked {
                    request_id: id.clone(),
                }
                .into())
            });
        match served {
            Ok(res) => Ok(name_what_is_missing(res, &path)),
            // An error no inner service answered (a panic) is rendered here, in the request's
            // scope, as actix renders any handler error, with the id's header.
            Err(err) => {
                let mut response = err.error_response();
                if let Some(value) = echoed.clone() {
                    response.headers_mut().insert(header.clone(), value);
                }
                Err(
                    actix_web::error::InternalError::from_response(err.to_string(), response)
                        .into(),
                )
            }
        }
    };
    let mut served: Result<actix_web::dev::ServiceResponse, actix_web::Error> =
        crate::request_id::scope(id.clone(), chain.instrument(span.clone())).await;
    let status = match &mut served {
        Ok(res) => {
            if let Some(value) = echoed {
                res.headers_mut().insert(header, value);
            }
            res.status()
        }
        Err(err) => err.as_response_error().status_code(),
    }
    .as_u16();
    let elapsed = started.elapsed();
    let ms = elapsed.as_millis() as u64;
    span.in_scope(|| {
        if status >= 500 {
            tracing::error!(%method, %path, status, ms, "request");
        } else {
            tracing::info!(%method, %path, status, ms, "request");
        }
    });
    crate::metrics::observe_http(&method, route.as_deref(), status, elapsed.as_secs_f64());
    served
}

/// Route patterns remembered at most; past it they are forgotten and found again.
const PATTERNS_KEPT: usize = 4096;

/// The route pattern `req`'s path matches (`None`: no route), remembered by the path's shape
/// (its all-digit segments as `0`: `/api/prompts/7/` and `/api/prompts/8/` are one shape).
/// Finding it tries every route's pattern in turn, which took about 5% of the CPU of B3's
/// requests.
fn route_pattern(req: &actix_web::dev::ServiceRequest) -> Option<String> {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};
    static KNOWN: OnceLock<Mutex<HashMap<String, Option<String>>>> = OnceLock::new();
    let known = KNOWN.get_or_init(Default::default);
    let shape = path_shape(req.path());
    if let Some(found) = known.lock().ok().and_then(|k| k.get(&shape).cloned()) {
        return found;
    }
    let found = req.match_pattern();
    if let Ok(mut k) = known.lock() {
        if k.len() >= PATTERNS_KEPT {
            k.clear();
        }
        k.insert(shape, found.clone());
    }
    found
}

/// `path` with each segment made only of digits written `0`.
fn path_shape(path: &str) -> String {
    path.split('/')
        .map(|s| {
            if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
                "0"
            } else {
                s
            }
        })
        .collect::<Vec<_>>()
        .join("/")
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

    #[::core::prelude::v1::test]
    fn paths_of_one_route_have_one_shape() {
        use super::path_shape;
        assert_eq!(
            path_shape("/api/prompts/7/versions/12"),
            "/api/prompts/0/versions/0"
        );
        assert_eq!(path_shape("/api/prompts/"), "/api/prompts/");
        assert_eq!(path_shape("/api/tasks/7a/"), "/api/tasks/7a/");
        assert_eq!(path_shape("/"), "/");
    }

    use actix_web::middleware::from_fn;
    use actix_web::{App, HttpResponse, test, web};

    /// A handler that panics answers a 500 with Label Studio's error body whose `id` is the
    /// request's id (here the client's `X-Request-Id`), and the worker keeps serving.
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
        // The middleware answers the panic with an error rendered in the request's scope.
        let err = test::try_call_service(
            &app,
            test::TestRequest::get()
                .uri("/boom")
                .insert_header(("X-Request-Id", "client-id-1"))
                .to_request(),
        )
        .await
        .err()
        .expect("the panic is turned into an error");
        let response = err.error_response();
        assert_eq!(response.status().as_u16(), 500);
        assert_eq!(
            response
                .headers()
                .get("x-request-id")
                .and_then(|v| v.to_str().ok()),
            Some("client-id-1")
        );
        let bytes = actix_web::body::to_bytes(response.into_body())
            .await
            .expect("body");
        let body: serde_json::Value = serde_json::from_slice(&bytes).expect("json");
        assert_eq!(body["code"], "internal_error");
        assert_eq!(body["status_code"], 500);
        assert_eq!(body["detail"], "Internal server error.");
        assert_eq!(body["id"], "client-id-1", "{body}");
        let response =
            test::call_service(&app, test::TestRequest::get().uri("/ok").to_request()).await;
        assert_eq!(response.status().as_u16(), 200);
    }
}
