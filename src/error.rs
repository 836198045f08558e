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

/// Defines [`ErrorCode`] from one table: each row is a code's doc, its variant, its wire
/// string and its HTTP status (as meilisearch's `make_error_codes!`), generating the enum,
/// `ALL`, `as_str` and `status`.
macro_rules! error_codes {
    ($($(#[$doc:meta])* $variant:ident = $wire:tt, $status:ident;)+) => {
        /// Every stable `code` of an error body, as the API documents them.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
        pub enum ErrorCode {
            $(
                $(#[$doc])*
                #[serde(rename = $wire)]
                $variant,
            )+
        }

        impl ErrorCode {
            /// Every code, in the table's order.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant),+];

            /// The wire name, e.g. `validation_error`.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $wire,)+
                }
            }

            /// The HTTP status an error with this code is answered with.
            pub const fn status(self) -> StatusCode {
                match self {
                    $(ErrorCode::$variant => StatusCode::$status,)+
                }
            }
        }
    };
}

error_codes! {
    /// A field is invalid; `validation_errors` names it.
    ValidationError = "validation_error", BAD_REQUEST;
    /// No credentials were sent.
    NotAuthenticated = "not_authenticated", UNAUTHORIZED;
    /// The token matches no active user.
    AuthenticationFailed = "authentication_failed", UNAUTHORIZED;
    /// The caller's role may not do this.
    PermissionDenied = "permission_denied", FORBIDDEN;
    /// No such object in the caller's organization.
    NotFound = "not_found", NOT_FOUND;
    /// The page number is not valid.
    InvalidPage = "invalid_page", NOT_FOUND;
    /// The path does not serve this method.
    MethodNotAllowed = "method_not_allowed", METHOD_NOT_ALLOWED;
    /// The body is larger than the server's limit.
    PayloadTooLarge = "payload_too_large", PAYLOAD_TOO_LARGE;
    /// The body is not sent as JSON.
    UnsupportedMediaType = "unsupported_media_type", UNSUPPORTED_MEDIA_TYPE;
    /// The request conflicts with an existing object.
    UniqueViolation = "unique_violation", BAD_REQUEST;
    /// The request names an object that does not exist.
    InvalidReference = "invalid_reference", BAD_REQUEST;
    /// A server-side failure; its `id` is in the server log.
    InternalError = "internal_error", INTERNAL_SERVER_ERROR;
    /// The project is already linked to a Label Studio project.
    AlreadyLinked = "already_linked", BAD_REQUEST;
    /// The import body is not a list of tasks, or a task is invalid.
    InvalidImport = "invalid_import", BAD_REQUEST;
    /// A query parameter does not parse.
    InvalidQuery = "invalid_query", BAD_REQUEST;
    /// A sync or push of the link is running.
    JobRunning = "job_running", BAD_REQUEST;
    /// Label Studio answered with an error.
    LabelStudioError = "label_studio_error", BAD_REQUEST;
    /// Label Studio cannot be reached.
    LabelStudioUnreachable = "label_studio_unreachable", BAD_REQUEST;
    /// The request names no prompt.
    MissingParentModel = "missing_parent_model", BAD_REQUEST;
    /// The request names no project.
    MissingProject = "missing_project", BAD_REQUEST;
    /// The project has no ground-truth tasks for a HasGT run.
    NoGroundTruth = "no_ground_truth", BAD_REQUEST;
    /// The prompt has no version to answer with.
    NoVersion = "no_version", BAD_REQUEST;
    /// The body is not valid JSON.
    ParseError = "parse_error", BAD_REQUEST;
    /// A stored token cannot be decrypted.
    TokenUnreadable = "token_unreadable", BAD_REQUEST;
    /// The request asks for something Prompter does not support.
    Unsupported = "unsupported", BAD_REQUEST;
    /// The version cannot run (no connection, unsupported provider).
    VersionCannotRun = "version_cannot_run", BAD_REQUEST;
    /// The version cannot run through its provider's batch API (a pipeline, samples, a jury,
    /// or a provider without one): run it online.
    BatchNotSupported = "batch_not_supported", BAD_REQUEST;
    /// The change would leave the organization without an active Owner.
    LastOwner = "last_owner", BAD_REQUEST;
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
    /// The id of the request (the `X-Request-Id` it sent, if valid, else one made up and
    /// echoed in the answer's `X-Request-Id`), which every log line of the request carries.
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
    /// The status of the error's code: a constraint the validation did not catch (a race) is
    /// still the client's input, so it answers as its code does (400).
    fn status_code(&self) -> StatusCode {
        self.code().status()
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        // The id of the request being served (its `X-Request-Id`); a fresh one outside a request.
        let id = match self {
            ApiError::Panicked { request_id } => request_id.clone(),
            _ => crate::request_id::current().unwrap_or_else(crate::request_id::new_id),
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

    /// Every code's wire string and status, pinned: a row of the table that changes either
    /// changes the wire.
    #[test]
    fn every_code_has_its_wire_string_and_status() {
        let pinned: &[(ErrorCode, &str, u16)] = &[
            (ErrorCode::ValidationError, "validation_error", 400),
            (ErrorCode::NotAuthenticated, "not_authenticated", 401),
            (
                ErrorCode::AuthenticationFailed,
                "authentication_failed",
                401,
            ),
            (ErrorCode::PermissionDenied, "permission_denied", 403),
            (ErrorCode::NotFound, "not_found", 404),
            (ErrorCode::InvalidPage, "invalid_page", 404),
            (ErrorCode::MethodNotAllowed, "method_not_allowed", 405),
            (ErrorCode::PayloadTooLarge, "payload_too_large", 413),
            (
                ErrorCode::UnsupportedMediaType,
                "unsupported_media_type",
                415,
            ),
            (ErrorCode::UniqueViolation, "unique_violation", 400),
            (ErrorCode::InvalidReference, "invalid_reference", 400),
            (ErrorCode::InternalError, "internal_error", 500),
            (ErrorCode::AlreadyLinked, "already_linked", 400),
            (ErrorCode::InvalidImport, "invalid_import", 400),
            (ErrorCode::InvalidQuery, "invalid_query", 400),
            (ErrorCode::JobRunning, "job_running", 400),
            (ErrorCode::LabelStudioError, "label_studio_error", 400),
            (
                ErrorCode::LabelStudioUnreachable,
                "label_studio_unreachable",
                400,
            ),
            (ErrorCode::MissingParentModel, "missing_parent_model", 400),
            (ErrorCode::MissingProject, "missing_project", 400),
            (ErrorCode::NoGroundTruth, "no_ground_truth", 400),
            (ErrorCode::NoVersion, "no_version", 400),
            (ErrorCode::ParseError, "parse_error", 400),
            (ErrorCode::TokenUnreadable, "token_unreadable", 400),
            (ErrorCode::Unsupported, "unsupported", 400),
            (ErrorCode::VersionCannotRun, "version_cannot_run", 400),
            (ErrorCode::BatchNotSupported, "batch_not_supported", 400),
            (ErrorCode::LastOwner, "last_owner", 400),
        ];
        assert_eq!(pinned.len(), ErrorCode::ALL.len());
        for &(code, wire, status) in pinned {
            assert_eq!(code.as_str(), wire);
            assert_eq!(code.status().as_u16(), status, "{wire}");
        }
    }

    /// Each error answers with the status of its code.
    #[test]
    fn errors_answer_with_their_codes_status() {
        let errors = [
            ApiError::field("title", "bad"),
            ApiError::bad_request(ErrorCode::JobRunning, "busy"),
            ApiError::NotAuthenticated,
            ApiError::InvalidToken,
            ApiError::Forbidden,
            ApiError::NotFound,
            ApiError::InvalidPage,
            ApiError::MethodNotAllowed("PUT".into()),
            ApiError::PayloadTooLarge(1),
            ApiError::UnsupportedMediaType("text/plain".into()),
            ApiError::Internal("boom".into()),
        ];
        let statuses: Vec<u16> = errors.iter().map(|e| e.status_code().as_u16()).collect();
        assert_eq!(
            statuses,
            [400, 400, 401, 401, 403, 404, 404, 405, 413, 415, 500]
        );
    }
}
