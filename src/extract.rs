//! Request extractors whose failures are Label Studio error bodies: JSON bodies that name the
//! offending field, and query/path errors mapped to 400/404.
use crate::error::{ApiError, FieldErrors};
use actix_web::dev::Payload;
use actix_web::error::{PathError, QueryPayloadError};
use actix_web::web::{Bytes, PathConfig, QueryConfig};
use actix_web::{FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;
use serde::de::DeserializeOwned;

/// The largest body a JSON extractor reads; set once at start-up as app data.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit(pub usize);

/// A JSON request body. Wrong types and missing fields answer 400 naming the field; bodies over
/// the limit answer 413; a non-JSON content type answers 415.
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for ApiJson<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let limit = req.app_data::<BodyLimit>().map_or(1 << 20, |l| l.0);
        let content_type = req
            .headers()
            .get(actix_web::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase();
        let length = req
            .headers()
            .get(actix_web::http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        let body = Bytes::from_request(req, payload);
        Box::pin(async move {
            if !content_type.is_empty() && !content_type.contains("json") {
                return Err(ApiError::UnsupportedMediaType(content_type));
            }
            if length.is_some_and(|l| l > limit) {
                return Err(ApiError::PayloadTooLarge(limit));
            }
            let bytes = body.await.map_err(|_| ApiError::PayloadTooLarge(limit))?;
            if bytes.len() > limit {
                return Err(ApiError::PayloadTooLarge(limit));
            }
            parse_json(&bytes).map(ApiJson)
        })
    }
}

/// Parses `bytes` as `T`, turning serde's error into a 400 that names the field.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request(
            "parse_error",
            "JSON parse error - the request body is empty",
        ));
    }
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            return ApiError::bad_request("parse_error", format!("JSON parse error - {inner}"));
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
    })
}

fn strip_position(message: &str) -> String {
    match message.find(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

/// Query strings that do not parse answer 400 with the reason.
pub fn query_config() -> QueryConfig {
    QueryConfig::default().error_handler(|err: QueryPayloadError, _req| {
        ApiError::bad_request("invalid_query", format!("Invalid query parameters: {err}")).into()
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
}
