//! Request extractors whose failures are Label Studio error bodies: the caller ([`AuthUser`],
//! a [`Manager`] for routes that change data, an [`Admin`] for keys and members), JSON bodies that name the offending field,
//! and query/path errors mapped to 400/404.
use crate::auth::{Admin, AuthUser, Manager, authenticate_cached, token_of};
use crate::error::{ApiError, ErrorCode, FieldErrors};
use crate::state::AppState;
use actix_web::dev::Payload;
use actix_web::error::{PathError, QueryPayloadError};
use actix_web::web::{Bytes, PathConfig, QueryConfig};
use actix_web::{FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;
use serde::de::DeserializeOwned;

mod objects;

/// The caller of `req`, whose `Authorization` header carries a token that `read_token` finds
/// (401 without the header, or with one that carries no known token). The one authentication
/// of the API's and the ML backend's extractors.
pub fn authenticate_request(
    req: &HttpRequest,
    read_token: fn(&str) -> Option<String>,
) -> LocalBoxFuture<'static, Result<AuthUser, ApiError>> {
    let state = req.app_data::<actix_web::web::Data<AppState>>().cloned();
    let header = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .map(|v| v.to_str().map(str::to_owned));
    Box::pin(async move {
        let state = state.ok_or_else(|| ApiError::Internal("application state missing".into()))?;
        let token = match header {
            None => return Err(ApiError::NotAuthenticated),
            Some(Err(_)) => return Err(ApiError::InvalidToken),
            Some(Ok(h)) => read_token(&h).ok_or(ApiError::InvalidToken)?,
        };
        authenticate_cached(&state.auth_cache, &state.db, &token).await
    })
}

impl FromRequest for AuthUser {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        authenticate_request(req, |h| token_of(h).map(str::to_owned))
    }
}

/// The caller of a route that changes data: authenticated (401 otherwise), then an Owner,
/// Administrator or Manager (403 otherwise).
impl FromRequest for Manager {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let caller = AuthUser::from_request(req, payload);
        Box::pin(async move { caller.await?.manager() })
    }
}

/// The caller of a route that sets provider keys or manages members: authenticated (401
/// otherwise), then an Owner or Administrator (403 otherwise).
impl FromRequest for Admin {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let caller = AuthUser::from_request(req, payload);
        Box::pin(async move { caller.await?.admin() })
    }
}

/// The largest body a JSON extractor reads; set once at start-up as app data.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit(pub usize);

/// Bodies larger than this are parsed on the blocking pool, not on the async worker that
/// serves other requests meanwhile.
const INLINE_PARSE_BYTES: usize = 256 * 1024;

/// A JSON request body: `Content-Type` must be JSON (else 415), the body at most the limit (else
/// 413) and one JSON value with nothing after it, whose strings hold no NUL character (else 400
/// naming the field); wrong types and missing fields answer 400 naming the field.
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned + Send + 'static> FromRequest for ApiJson<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let body = JsonBytes::from_request(req, payload);
        Box::pin(async move { parse_json_off_thread(body.await?.0).await.map(ApiJson) })
    }
}

/// The raw bytes of a JSON request body, after the content-type and size checks of
/// [`ApiJson`]; for handlers that parse the body themselves (an optional body, another error
/// envelope). An empty body passes; [`parse_json`] refuses it where one is required.
#[derive(Debug)]
pub struct JsonBytes(pub Bytes);

impl FromRequest for JsonBytes {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let limit = req.app_data::<BodyLimit>().map_or(1 << 20, |l| l.0);
        let content_type = req
            .headers()
            .get(actix_web::http::header::CONTENT_TYPE)
            .map(|v| v.to_str().unwrap_or("?").to_ascii_lowercase());
        let length = req
            .headers()
            .get(actix_web::http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        let body = Bytes::from_request(req, payload);
        Box::pin(async move {
            if length.is_some_and(|l| l > limit) {
                return Err(ApiError::PayloadTooLarge(limit));
            }
            let bytes = body.await.map_err(|_| ApiError::PayloadTooLarge(limit))?;
            if bytes.len() > limit {
                return Err(ApiError::PayloadTooLarge(limit));
            }
            let empty = bytes.iter().all(u8::is_ascii_whitespace);
            match content_type {
                Some(ct) if is_json(&ct) => Ok(JsonBytes(bytes)),
                None if empty => Ok(JsonBytes(bytes)),
                other => Err(ApiError::UnsupportedMediaType(other.unwrap_or_default())),
            }
        })
    }
}

/// `application/json`, `application/*+json`, with or without parameters.
fn is_json(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or("").trim();
    essence == "application/json"
        || essence
            .strip_prefix("application/")
            .is_some_and(|sub| sub.ends_with("+json"))
}

/// [`parse_json`], on the blocking pool when the body is large.
pub async fn parse_json_off_thread<T: DeserializeOwned + Send + 'static>(
    bytes: Bytes,
) -> Result<T, ApiError> {
    if bytes.len() <= INLINE_PARSE_BYTES {
        return parse_json(&bytes);
    }
    actix_web::web::block(move || parse_json(&bytes))
        .await
        .map_err(|e| ApiError::Internal(format!("JSON parse task: {e}")))?
}

/// Parses `bytes` as exactly one JSON value of type `T`, turning serde's error into a 400 that
/// names the field. A struct reads only from a JSON object, never from an array of its fields
/// in order (see [`objects`]). Text anywhere in the body (values and keys) must not contain NUL,
/// which PostgreSQL cannot store, and numbers must be ones a JSON column gives back (see
/// [`crate::util::number_storable`]): one rule for both databases, applied before anything
/// is read, so nothing a body carries can make a row unreadable.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request(
            ErrorCode::ParseError,
            "JSON parse error - the request body is empty",
        ));
    }
    if has_escaped_nul(bytes) || has_unstorable_number(bytes) {
        return Err(unstorable_error(bytes));
    }
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(objects::Objects(&mut *de)).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            return ApiError::bad_request(
                ErrorCode::ParseError,
                format!("JSON parse error - {inner}"),
            );
        }
        let message = strip_position(&inner.to_string());
        let field = if path == "." || path.is_empty() {
            "non_field_errors".to_string()
        } else {
            path
        };
        let mut errors = FieldErrors::new();
        // serde reports a missing field at the parent; name the field itself.
        if let Some(name) = message
            .strip_prefix("missing field `")
            .and_then(|m| m.split('`').next())
        {
            let key = if field == "non_field_errors" {
                name.to_string()
            } else {
                format!("{field}.{name}")
            };
            errors.insert(key, vec!["This field is required.".into()]);
        } else {
            errors.insert(field, vec![message]);
        }
        ApiError::Validation { errors }
    })?;
    de.end().map_err(|e| {
        ApiError::bad_request(ErrorCode::ParseError, format!("JSON parse error - {e}"))
    })?;
    Ok(value)
}

/// The body spells a NUL character (`\u0000`) inside a string. Raw NULs are not valid JSON and
/// fail the parse anyway; escaped backslashes (`\\u0000`) are skipped in pairs.
fn has_escaped_nul(bytes: &[u8]) -> bool {
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' {
            if bytes.get(i + 1) == Some(&b'u') && bytes.get(i + 2..i + 6) == Some(&b"0000"[..]) {
                return true;
            }
            i += 2;
        } else {
            i += 1;
        }
    }
    false
}

/// The 400 for a body that holds something a JSON column cannot store (a NUL character, a
/// number out of range), naming the first field (or key) that holds it.
fn unstorable_error(bytes: &[u8]) -> ApiError {
    let found = serde_json::from_slice::<serde_json::Value>(bytes)
        .ok()
        .and_then(|v| crate::util::unstorable_json(&v, ""));
    match found {
        Some((field, message)) => {
            let field = if field.is_empty() {
                "non_field_errors".into()
            } else {
                field
            };
            ApiError::field(&field, message)
        }
        None => ApiError::field("non_field_errors", NUL_MESSAGE),
    }
}

/// The body holds a number (outside strings) that [`crate::util::number_storable`] refuses.
/// One linear pass; only long numbers or ones with an exponent are parsed.
fn has_unstorable_number(bytes: &[u8]) -> bool {
    let mut i = 0;
    let mut in_string = false;
    while i < bytes.len() {
        let b = bytes[i];
        if in_string {
            match b {
                b'\\' => i += 2,
                b'"' => {
                    in_string = false;
                    i += 1;
                }
                _ => i += 1,
            }
            continue;
        }
        if b == b'"' {
            in_string = true;
            i += 1;
            continue;
        }
        if b == b'-' || b.is_ascii_digit() {
            let start = i;
            while i < bytes.len()
                && matches!(bytes[i], b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E')
            {
                i += 1;
            }
            let token = &bytes[start..i];
            if (token.len() > 15 || token.iter().any(|c| matches!(c, b'e' | b'E')))
                && let Ok(serde_json::Value::Number(n)) = serde_json::from_slice(token)
                && !crate::util::number_storable(&n)
            {
                return true;
            }
            continue;
        }
        i += 1;
    }
    false
}

/// The message of every refusal of a NUL character.
pub use crate::util::NUL_MESSAGE;

fn strip_position(message: &str) -> String {
    match message.find(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

/// Middleware: a query string whose decoded keys or values hold a NUL character answers 400
/// naming the parameter, the same rule as for JSON bodies (see [`parse_json`]).
pub async fn reject_nul_in_query(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody>,
) -> Result<actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>, actix_web::Error> {
    let query = req.query_string();
    if query.contains("%00") {
        let pairs = actix_web::web::Query::<Vec<(String, String)>>::from_query(query)
            .map(|q| q.into_inner())
            .unwrap_or_default();
        if let Some((key, _)) = pairs
            .iter()
            .find(|(k, v)| k.contains('\0') || v.contains('\0'))
        {
            let field = key.replace('\0', "\\u0000");
            return Err(ApiError::field(&field, NUL_MESSAGE).into());
        }
    }
    next.call(req).await
}

/// Query strings that do not parse answer 400 with the reason.
pub fn query_config() -> QueryConfig {
    QueryConfig::default().error_handler(|err: QueryPayloadError, _req| {
        ApiError::bad_request(
            ErrorCode::InvalidQuery,
            format!("Invalid query parameters: {err}"),
        )
        .into()
    })
}

/// Path parameters that do not parse (e.g. a non-integer id) match no object: 404.
pub fn path_config() -> PathConfig {
    PathConfig::default().error_handler(|_err: PathError, _req| ApiError::NotFound.into())
}

/// Accepts a boolean query value the way Django does (`true/false/1/0`, any case).
pub fn parse_bool(value: &str) -> Option<bool> {
    match value.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Some(true),
        "false" | "0" | "no" | "off" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Body {
        title: String,
        count: Option<i64>,
    }

    fn fields(err: ApiError) -> FieldErrors {
        match err {
            ApiError::Validation { errors } => errors,
            other => panic!("expected validation error, got {other:?}"),
        }
    }

    #[test]
    fn json_errors_name_the_field() {
        let err = parse_json::<Body>(br#"{"title": "x", "count": "many"}"#).expect_err("type");
        assert!(fields(err).contains_key("count"));
        let err = parse_json::<Body>(br#"{"count": 1}"#).expect_err("missing");
        assert_eq!(
            fields(err)["title"],
            vec!["This field is required.".to_string()]
        );
        let err = parse_json::<Body>(b"{not json").expect_err("syntax");
        assert_eq!(err.code(), "parse_error");
        let err = parse_json::<Body>(b"  ").expect_err("empty");
        assert_eq!(err.code(), "parse_error");
    }

    #[test]
    fn numbers_a_column_cannot_give_back_name_the_field() {
        let body =
            br#"{"title": "1.7976931348623157e308", "extra": {"x": [1, -1.7976931348623157e308]}}"#;
        let err = parse_json::<serde_json::Value>(body).expect_err("out of range");
        assert!(fields(err).contains_key("extra.x[1]"));
        // In a string, or a long number that reads back, it is fine.
        parse_json::<serde_json::Value>(
            br#"{"t": "1.7976931348623157e308", "n": 1e300, "m": 12345678901234567890}"#,
        )
        .expect("storable");
    }

    #[test]
    fn a_struct_is_not_read_from_an_array_of_its_fields() {
        let err = parse_json::<Body>(br#"["text", null]"#).expect_err("positional");
        let errors = fields(err);
        assert!(
            errors["non_field_errors"][0].contains("invalid type: sequence, expected struct Body"),
            "{errors:?}"
        );
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Outer {
            body: Body,
        }
        let err = parse_json::<Outer>(br#"{"body": ["x", 1]}"#).expect_err("nested");
        assert!(fields(err).contains_key("body"));
        // Array-typed bodies (task import, batch predictions) stay arrays of objects.
        let list = parse_json::<Vec<Body>>(br#"[{"title": "a"}, {"title": "b", "count": 2}]"#)
            .expect("a list of objects");
        assert_eq!(list.len(), 2);
        let err = parse_json::<Vec<Body>>(br#"[["a", 1]]"#).expect_err("a list of arrays");
        assert!(fields(err).contains_key("[0]"), "the element is named");
    }
}
