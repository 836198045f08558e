//! The ML backend routes' errors: Prompter's one [`ApiError`], rendered in the envelope of the
//! Label Studio ML backend SDK (`{"status": <http status>, "detail": "<why>"}`, plus Prompter's
//! stable `code`) instead of Label Studio's API error body. Label Studio reads only the status;
//! the detail is for people reading its logs and the backend's "error" state.
use crate::error::ApiError;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The realm of the `WWW-Authenticate` challenge of a 401.
pub const REALM: &str = "Basic realm=\"prompter\"";

/// An [`ApiError`] answered in the ML backend envelope.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct MlError(#[from] pub ApiError);

impl From<sea_orm::DbErr> for MlError {
    fn from(e: sea_orm::DbErr) -> Self {
        MlError(ApiError::Database(e))
    }
}

/// The ML backend error envelope.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct MlErrorBody {
    /// The HTTP status, repeated.
    pub status: u16,
    /// What went wrong; a validation error names its field (`schema: ...`).
    pub detail: String,
    /// Prompter's stable machine-readable code, e.g. `validation_error`, `no_version`.
    pub code: crate::error::ErrorCode,
}

impl MlError {
    /// A 400 with a code and a message.
    pub fn bad_request(code: crate::error::ErrorCode, detail: impl Into<String>) -> Self {
        MlError(ApiError::bad_request(code, detail))
    }

    /// The envelope's `detail`.
    fn detail(&self) -> String {
        match &self.0 {
            ApiError::Validation { errors } => errors
                .iter()
                .map(|(field, messages)| format!("{field}: {}", messages.join(" ")))
                .collect::<Vec<_>>()
                .join("; "),
            ApiError::Database(_) if self.status_code().is_client_error() => {
                "The request conflicts with existing data.".into()
            }
            ApiError::NotAuthenticated => {
                "Authentication credentials were not provided: use HTTP Basic auth whose password is a Prompter API token, or `Authorization: Token <token>`.".into()
            }
            other => other.to_string(),
        }
    }
}

impl ResponseError for MlError {
    fn status_code(&self) -> StatusCode {
        self.0.status_code()
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        if status.is_server_error() {
            tracing::error!(error = ?self.0, "ML backend request failed");
        }
        let mut response = HttpResponse::build(status);
        if status == StatusCode::UNAUTHORIZED {
            response.insert_header(("WWW-Authenticate", REALM));
        }
        response.json(MlErrorBody {
            status: status.as_u16(),
            detail: self.detail(),
            code: self.0.code(),
        })
    }
}

/// Shorthand for ML backend handler results.
pub type MlResult<T> = Result<T, MlError>;
