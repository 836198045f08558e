//! One error type for the whole API, rendered as Label Studio's error body plus a stable `code`:
//! `{"id", "status_code", "version", "detail", "exc_info": null, "validation_errors"?, "code"}`.
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use sea_orm::{DbErr, SqlErr};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// The Label Studio release whose API Prompter speaks; reported in error bodies and `/api/version/`.
pub const LS_API_VERSION: &str = "1.23.2";

/// Field name → messages, as DRF reports validation errors.
pub type FieldErrors = BTreeMap<String, Vec<String>>;

/// Every stable `code` of an error body, as the API documents them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// A field is invalid; `validation_errors` names it.
    ValidationError,
    /// No credentials were sent.
    NotAuthenticated,
    /// The token matches no active user.
    AuthenticationFailed,
    /// The caller's role may not do this.
    PermissionDenied,
    /// No such object in the caller's organization.
    NotFound,
    /// The page number is not valid.
    InvalidPage,
    /// The path does not serve this method.
    MethodNotAllowed,
    /// The body is larger than the server's limit.
    PayloadTooLarge,
    /// The body is not sent as JSON.
    UnsupportedMediaType,
    /// The request conflicts with an existing object.
    UniqueViolation,
    /// The request names an object that does not exist.
    InvalidReference,
    /// A server-side failure; its `id` is in the server log.
    InternalError,
    /// The project is already linked to a Label Studio project.
    AlreadyLinked,
    /// The import body is not a list of tasks, or a task is invalid.
    InvalidImport,
    /// A query parameter does not parse.
    InvalidQuery,
    /// A sync or push of the link is running.
    JobRunning,
    /// Label Studio answered with an error.
    LabelStudioError,
    /// Label Studio cannot be reached.
    LabelStudioUnreachable,
    /// The request names no prompt.
    MissingParentModel,
    /// The request names no project.
    MissingProject,
    /// The project has no ground-truth tasks for a HasGT run.
    NoGroundTruth,
    /// The prompt has no version to answer with.
    NoVersion,
    /// The body is not valid JSON.
    ParseError,
    /// A stored token cannot be decrypted.
    TokenUnreadable,
    /// The request asks for something Prompter does not support.
    Unsupported,
    /// The version cannot run (no connection, unsupported provider).
    VersionCannotRun,
}

impl ErrorCode {
    /// Every code.
    pub const ALL: [ErrorCode; 26] = [
        ErrorCode::ValidationError,
        ErrorCode::NotAuthenticated,
        ErrorCode::AuthenticationFailed,
        ErrorCode::PermissionDenied,
        ErrorCode::NotFound,
        ErrorCode::InvalidPage,
        ErrorCode::MethodNotAllowed,
        ErrorCode::PayloadTooLarge,
        ErrorCode::UnsupportedMediaType,
        ErrorCode::UniqueViolation,
        ErrorCode::InvalidReference,
        ErrorCode::InternalError,
        ErrorCode::AlreadyLinked,
        ErrorCode::InvalidImport,
        ErrorCode::InvalidQuery,
        ErrorCode::JobRunning,
        ErrorCode::LabelStudioError,
        ErrorCode::LabelStudioUnreachable,
        ErrorCode::MissingParentModel,
        ErrorCode::MissingProject,
        ErrorCode::NoGroundTruth,
        ErrorCode::NoVersion,
        ErrorCode::ParseError,
        ErrorCode::TokenUnreadable,
        ErrorCode::Unsupported,
        ErrorCode::VersionCannotRun,
    ];

    /// The wire name, e.g. `validation_error`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::ValidationError => "validation_error",
            ErrorCode::NotAuthenticated => "not_authenticated",
            ErrorCode::AuthenticationFailed => "authentication_failed",
            ErrorCode::PermissionDenied => "permission_denied",
            ErrorCode::NotFound => "not_found",
            ErrorCode::InvalidPage => "invalid_page",
            ErrorCode::MethodNotAllowed => "method_not_allowed",
            ErrorCode::PayloadTooLarge => "payload_too_large",
            ErrorCode::UnsupportedMediaType => "unsupported_media_type",
            ErrorCode::UniqueViolation => "unique_violation",
            ErrorCode::InvalidReference => "invalid_reference",
            ErrorCode::InternalError => "internal_error",
            ErrorCode::AlreadyLinked => "already_linked",
            ErrorCode::InvalidImport => "invalid_import",
            ErrorCode::InvalidQuery => "invalid_query",
            ErrorCode::JobRunning => "job_running",
            ErrorCode::LabelStudioError => "label_studio_error",
            ErrorCode::LabelStudioUnreachable => "label_studio_unreachable",
            ErrorCode::MissingParentModel => "missing_parent_model",
            ErrorCode::MissingProject => "missing_project",
            ErrorCode::NoGroundTruth => "no_ground_truth",
            ErrorCode::NoVersion => "no_version",
            ErrorCode::ParseError => "parse_error",
            ErrorCode::TokenUnreadable => "token_unreadable",
            ErrorCode::Unsupported => "unsupported",
            ErrorCode::VersionCannotRun => "version_cannot_run",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for ErrorCode {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// Every failure a handler can return.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Input failed validation (400); `errors` maps fields to messages.
    #[error("Validation error")]
    Validation {
        /// The messages per field (`non_field_errors` for the whole body).
        errors: FieldErrors,
    },
    /// A request that cannot be served as sent (400), with its own stable code.
    #[error("{detail}")]
    BadRequest {
        /// Stable machine-readable code.
        code: ErrorCode,
        /// Human-readable reason.
        detail: String,
    },
    /// No credentials (401).
    #[error("Authentication credentials were not provided.")]
    NotAuthenticated,
    /// Credentials that match no active token (401).
    #[error("Invalid token.")]
    InvalidToken,
    /// The caller's role may not do this (403).
    #[error("You do not have permission to perform this action.")]
    Forbidden,
    /// Missing, or belongs to another organization (404).
    #[error("Not found.")]
    NotFound,
    /// [`ApiError::NotFound`] as the request middleware words it, naming what the path asked
    /// for (404).
    #[error("{0}")]
    NotFoundAt(String),
    /// A page number that is not a positive integer, or whose offset no database can take
    /// (404, as DRF answers).
    #[error("Invalid page.")]
    InvalidPage,
    /// The method is not served on this path (405).
    #[error("Method \"{0}\" not allowed.")]
    MethodNotAllowed(String),
    /// The body is larger than the configured limit (413).
    #[error("Request body is larger than the limit of {0} bytes.")]
    PayloadTooLarge(usize),
    /// The body is not JSON (415).
    #[error("Unsupported media type \"{0}\" in request.")]
    UnsupportedMediaType(String),
    /// A database failure that is not the client's doing (500; details go to the log only).
    #[error("database error")]
    Database(#[from] DbErr),
    /// Any other server-side failure (500; details go to the log only).
    #[error("{0}")]
    Internal(String),
    /// A handler panicked (500); the body's `id` is the request's id, which the log line of the
    /// panic carries.
    #[error("Internal server error.")]
    Panicked {
        /// The request's id.
        request_id: String,
    },
}

impl ApiError {
    /// A 400 naming one field.
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        let mut errors = FieldErrors::new();
        errors.insert(field.to_string(), vec![message.into()]);
        ApiError::Validation { errors }
    }

    /// A 400 with a code and a message.
    pub fn bad_request(code: ErrorCode, detail: impl Into<String>) -> Self {
        ApiError::BadRequest {
            code,
            detail: detail.into(),
        }
    }

    /// Turns a 404 into a 400 on `field`, for ids given in a request body.
    pub fn not_found_as_field(self, field: &str, id: i64) -> Self {
        match self {
            ApiError::NotFound => ApiError::field(
                field,
                format!("Invalid pk \"{id}\" - object does not exist."),
            ),
            other => other,
        }
    }

    /// The stable code of this error.
    pub fn code(&self) -> ErrorCode {
        match self {
            ApiError::Validation { .. } => ErrorCode::ValidationError,
            ApiError::BadRequest { code, .. } => *code,
            ApiError::NotAuthenticated => ErrorCode::NotAuthenticated,
            ApiError::InvalidToken => ErrorCode::AuthenticationFailed,
            ApiError::Forbidden => ErrorCode::PermissionDenied,
            ApiError::NotFound | ApiError::NotFoundAt(_) => ErrorCode::NotFound,
            ApiError::InvalidPage => ErrorCode::InvalidPage,
            ApiError::MethodNotAllowed(_) => ErrorCode::MethodNotAllowed,
            ApiError::PayloadTooLarge(_) => ErrorCode::PayloadTooLarge,
            ApiError::UnsupportedMediaType(_) => ErrorCode::UnsupportedMediaType,
            ApiError::Database(err) => match err.sql_err() {
                Some(SqlErr::UniqueConstraintViolation(_)) => ErrorCode::UniqueViolation,
                Some(SqlErr::ForeignKeyConstraintViolation(_)) => ErrorCode::InvalidReference,
                _ => ErrorCode::InternalError,
            },
            ApiError::Internal(_) | ApiError::Panicked { .. } => ErrorCode::InternalError,
        }
    }
}

/// Label Studio's error body, with Prompter's stable `code`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    /// A fresh id for this error, to find it in the server log.
    pub id: String,
    /// The HTTP status, repeated.
    pub status_code: u16,
    /// The Label Studio API version Prompter speaks.
    pub version: String,
    /// What went wrong.
    pub detail: String,
    /// Always null.
    #[schema(value_type = Option<String>)]
    pub exc_info: Option<()>,
    /// Messages per field, for validation errors.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub validation_errors: Option<FieldErrors>,
    /// Stable machine-readable code, e.g. `validation_error`, `not_found`.
    pub code: ErrorCode,
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::Validation { .. } | ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::NotAuthenticated | ApiError::InvalidToken => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden => StatusCode::FORBIDDEN,
            ApiError::NotFound | ApiError::NotFoundAt(_) | ApiError::InvalidPage => {
                StatusCode::NOT_FOUND
            }
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            // A constraint the validation did not catch (a race) is still the client's input.
            ApiError::Database(err) => match err.sql_err() {
                Some(SqlErr::UniqueConstraintViolation(_))
                | Some(SqlErr::ForeignKeyConstraintViolation(_)) => StatusCode::BAD_REQUEST,
                _ => StatusCode::INTERNAL_SERVER_ERROR,
            },
            ApiError::Internal(_) | ApiError::Panicked { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        let id = match self {
            ApiError::Panicked { request_id } => request_id.clone(),
            _ => uuid::Uuid::new_v4().to_string(),
        };
        let detail = match self {
            ApiError::Database(_) if status.is_client_error() => {
                "The request conflicts with existing data.".to_string()
            }
            _ => self.to_string(),
        };
        if status.is_server_error() {
            tracing::error!(error_id = %id, error = ?self, "request failed");
        }
        let validation_errors = match self {
            ApiError::Validation { errors } => Some(errors.clone()),
            ApiError::BadRequest { detail, .. } => Some(FieldErrors::from([(
                "non_field_errors".into(),
                vec![detail.clone()],
            )])),
            _ => None,
        };
        let mut response = HttpResponse::build(status);
        if status == StatusCode::UNAUTHORIZED {
            response.insert_header(("WWW-Authenticate", "Token"));
        }
        response.json(ErrorBody {
            id,
            status_code: status.as_u16(),
            version: LS_API_VERSION.into(),
            detail,
            exc_info: None,
            validation_errors,
            code: self.code(),
        })
    }
}

/// Shorthand for handler and service results.
pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_serialize_as_their_names() {
        for code in ErrorCode::ALL {
            assert_eq!(serde_json::to_value(code).ok(), Some(code.as_str().into()));
        }
    }
}
