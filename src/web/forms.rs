//! Form and script bodies of the web app, each checked against the session's CSRF token: a
//! [`Form`] (URL-encoded, with a `csrf` field) and a [`ScriptBody`] (raw bytes from the page
//! script, with the token in the `X-CSRF-Token` header).
use super::page::PageError;
use super::session::{CSRF_HEADER, Visitor};
use crate::error::ApiError;
use actix_web::dev::Payload;
use actix_web::web::Bytes;
use actix_web::{FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;
use serde::de::DeserializeOwned;

/// The largest form body read.
const FORM_LIMIT: usize = 2 << 20;

/// The largest script body read (a task file upload).
const SCRIPT_LIMIT: usize = 200 << 20;

#[derive(serde::Deserialize)]
struct CsrfField {
    #[serde(default)]
    csrf: Option<String>,
}

/// A URL-encoded form of a signed-in visitor whose `csrf` field matches the session (403
/// otherwise); the visitor comes with it.
#[derive(Debug)]
pub struct Form<T> {
    /// Who sent it.
    pub visitor: Visitor,
    /// The fields.
    pub data: T,
}

impl<T: DeserializeOwned + 'static> FromRequest for Form<T> {
    type Error = PageError;
    type Future = LocalBoxFuture<'static, Result<Self, PageError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let visitor = Visitor::from_request(req, payload);
        let body = Bytes::from_request(req, payload);
        Box::pin(async move {
            let visitor = visitor.await?;
            let bytes = body
                .await
                .map_err(|_| ApiError::PayloadTooLarge(FORM_LIMIT))?;
            if bytes.len() > FORM_LIMIT {
                return Err(ApiError::PayloadTooLarge(FORM_LIMIT).into());
            }
            let sent: CsrfField =
                serde_urlencoded::from_bytes(&bytes).map_err(|_| PageError::Csrf)?;
            visitor.check_csrf(sent.csrf.as_deref())?;
            let data = serde_urlencoded::from_bytes(&bytes).map_err(|e| {
                ApiError::bad_request(crate::error::ErrorCode::ParseError, e.to_string())
            })?;
            Ok(Form { visitor, data })
        })
    }
}

/// A body sent by the page script (`fetch`), whose `X-CSRF-Token` header matches the session.
#[derive(Debug)]
pub struct ScriptBody {
    /// Who sent it.
    pub visitor: Visitor,
    /// The body as sent.
    pub bytes: Bytes,
}

impl FromRequest for ScriptBody {
    type Error = PageError;
    type Future = LocalBoxFuture<'static, Result<Self, PageError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let visitor = Visitor::from_request(req, payload);
        let token = req
            .headers()
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = Bytes::from_request(req, payload);
        Box::pin(async move {
            let visitor = visitor.await?;
            visitor.check_csrf(token.as_deref())?;
            let bytes = body
                .await
                .map_err(|_| ApiError::PayloadTooLarge(SCRIPT_LIMIT))?;
            Ok(ScriptBody { visitor, bytes })
        })
    }
}

/// A form that carries nothing but its CSRF token (sign out, cancel, delete, a button).
#[derive(Debug, serde::Deserialize)]
pub struct NoFields {}

/// A checkbox or optional text field: empty text is absent.
pub fn non_empty(v: Option<String>) -> Option<String> {
    v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}
