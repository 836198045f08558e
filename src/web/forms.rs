//! Form and script bodies of the web app, each checked against the session's CSRF token: a
//! [`Form`] (URL-encoded, with a `csrf` field and a `nonce` field) and a [`ScriptBody`] (raw
//! bytes from the page script, with the token in the `X-CSRF-Token` header).
//!
//! Every form carries a nonce of its own, accepted once: a form sent again (a double click,
//! a resent page) does not do its work again but leads where the first sending led
//! ([`settle_sent_forms`] records that), or answers that it was already sent.
use super::guard::{NONCE_SECS, NonceError, check_nonce};
use super::page::PageError;
use super::session::{CSRF_HEADER, Visitor};
use crate::error::ApiError;
use crate::services::form_submissions::{self, Claim};
use crate::state::AppState;
use actix_web::dev::Payload;
use actix_web::web::Bytes;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use futures_util::future::LocalBoxFuture;
use sea_orm::DatabaseConnection;
use serde::de::DeserializeOwned;

/// The largest form body read.
const FORM_LIMIT: usize = 2 << 20;

/// The largest script body read (a task file upload).
const SCRIPT_LIMIT: usize = 200 << 20;

#[derive(serde::Deserialize)]
struct GuardFields {
    #[serde(default)]
    csrf: Option<String>,
    #[serde(default)]
    nonce: Option<String>,
}

/// How often, and how long apart, a second sending looks for the first one's outcome while
/// the first is still being handled (a double click: both arrive within milliseconds).
const WAIT_STEPS: u32 = 50;
const WAIT_STEP: std::time::Duration = std::time::Duration::from_millis(100);

/// The nonce of a form whose first sending this request is; [`settle_sent_forms`] records
/// its outcome.
#[derive(Debug, Clone)]
struct SentForm(String);

/// A URL-encoded form of a signed-in visitor whose `csrf` field matches the session (403
/// otherwise) and whose `nonce` was not sent before (a replay is answered as the first
/// sending was, without the handler); the visitor comes with it.
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
        let req = req.clone();
        Box::pin(async move {
            let visitor = visitor.await?;
            let bytes = body
                .await
                .map_err(|_| ApiError::PayloadTooLarge(FORM_LIMIT))?;
            if bytes.len() > FORM_LIMIT {
                return Err(ApiError::PayloadTooLarge(FORM_LIMIT).into());
            }
            let sent: GuardFields =
                serde_urlencoded::from_bytes(&bytes).map_err(|_| PageError::Csrf)?;
            visitor.check_csrf(sent.csrf.as_deref())?;
            let data = serde_urlencoded::from_bytes(&bytes).map_err(|e| {
                ApiError::bad_request(crate::error::ErrorCode::ParseError, e.to_string())
            })?;
            let now = chrono::Utc::now();
            let nonce = match check_nonce(sent.nonce.as_deref(), now.timestamp()) {
                Ok(nonce) => nonce.to_string(),
                Err(NonceError::Invalid) => return Err(PageError::Csrf),
                Err(NonceError::Expired) => return Err(PageError::FormExpired),
            };
            let state = req
                .app_data::<web::Data<AppState>>()
                .ok_or_else(|| ApiError::Internal("no application state".into()))?;
            first_sending(&state.db, &nonce, visitor.0.id, now).await?;
            req.extensions_mut().insert(SentForm(nonce));
            Ok(Form { visitor, data })
        })
    }
}

/// Claims `nonce` for this sending; a second sending of it waits (a few seconds at most) for
/// the first one's outcome and answers [`PageError::Resent`].
async fn first_sending(
    db: &DatabaseConnection,
    nonce: &str,
    session_id: i64,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), PageError> {
    // Rows are kept a little longer than a nonce is accepted, so none is forgotten early.
    let keep = chrono::Duration::seconds(NONCE_SECS + 3600);
    let (first_session, mut outcome) =
        match form_submissions::claim(db, nonce, session_id, now, keep).await? {
            Claim::First => return Ok(()),
            Claim::Again {
                session_id,
                outcome,
            } => (session_id, outcome),
        };
    tracing::info!(session = session_id, "a form was sent again");
    let mut steps = 0;
    while outcome.is_none() && steps < WAIT_STEPS {
        tokio::time::sleep(WAIT_STEP).await;
        steps += 1;
        match form_submissions::find(db, nonce).await? {
            Some(row) => outcome = row.outcome,
            // Released: the first sending failed and changed nothing.
            None => break,
        }
    }
    let to = outcome.filter(|o| !o.is_empty() && first_session == session_id);
    Err(PageError::Resent { to })
}

/// Request middleware that records where the first sending of a form led: a redirect's
/// target (a second sending is sent there too), "a page" for any other success, and forgets
/// the nonce when the handler failed (4xx/5xx: it changed nothing, so the form may be sent
/// again).
pub async fn settle_sent_forms(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody + 'static>,
) -> Result<actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>, actix_web::Error> {
    // The request must not be cloned before routing (actix needs it unshared).
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let served = next.call(req).await;
    let sent = served
        .as_ref()
        .ok()
        .and_then(|res| res.request().extensions_mut().remove::<SentForm>());
    let (Some(SentForm(nonce)), Some(state)) = (sent, state) else {
        return served;
    };
    let (status, location) = match &served {
        Ok(res) => (
            res.status(),
            res.headers()
                .get(actix_web::http::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string),
        ),
        Err(e) => (e.as_response_error().status_code(), None),
    };
    let recorded = if status.is_client_error() || status.is_server_error() {
        form_submissions::release(&state.db, &nonce).await
    } else {
        let outcome = location.filter(|_| status.is_redirection());
        form_submissions::settle(&state.db, &nonce, outcome.as_deref().unwrap_or_default()).await
    };
    if let Err(e) = recorded {
        tracing::warn!(error = %e, "could not record a form's outcome");
    }
    served
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
