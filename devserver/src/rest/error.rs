//! PostgREST-shaped errors: `{code, message, details, hint}` with the matching HTTP status.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use super::query::QueryError;
use crate::auth::jwt::TokenError;
use crate::column_value::ValueError;
use crate::store::StoreError;

/// An error response in PostgREST's shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// A SQLSTATE or `PGRSTxxx` code.
    pub code: &'static str,
    /// The message a client shows.
    pub message: String,
    /// Extra detail, if any.
    pub details: Option<String>,
    /// A hint, if any.
    pub hint: Option<String>,
}

impl ApiError {
    /// An error with no details or hint.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            details: None,
            hint: None,
        }
    }

    /// Adds details.
    pub fn with_details(mut self, details: impl Into<String>) -> Self {
        self.details = Some(details.into());
        self
    }

    /// Adds a hint.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// `PGRST205`: the table is not exposed.
    pub fn unknown_table(name: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "PGRST205",
            format!("Could not find the table 'public.{name}' in the schema cache"),
        )
    }

    /// `PGRST100`: the request could not be parsed.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "PGRST100", message)
    }

    /// `PGRST102`: the body is not the JSON expected.
    pub fn bad_body(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "PGRST102", message)
    }

    /// `42501`: the role may not do this (403 when signed in, 401 for anon).
    pub fn forbidden(message: impl Into<String>, signed_in: bool) -> Self {
        let status = if signed_in {
            StatusCode::FORBIDDEN
        } else {
            StatusCode::UNAUTHORIZED
        };
        Self::new(status, "42501", message)
    }

    /// Maps a store error, as PostgREST maps SQLSTATEs to statuses.
    pub fn from_store(error: StoreError, signed_in: bool) -> Self {
        let code = error.sqlstate();
        match error {
            StoreError::Forbidden(message) => Self::forbidden(message, signed_in),
            StoreError::UniqueViolation(message) | StoreError::ForeignKeyViolation(message) => {
                Self::new(StatusCode::CONFLICT, code, message)
            }
            StoreError::Raised(message)
            | StoreError::CheckViolation(message)
            | StoreError::InvalidText(message) => Self::new(StatusCode::BAD_REQUEST, code, message),
            StoreError::Io(_) | StoreError::Sqlite(_) => {
                // Detail goes to the log; the client gets a generic message.
                tracing::error!(%error, "store failure while serving a request");
                Self::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    code,
                    "internal database error",
                )
            }
        }
    }
}

impl From<QueryError> for ApiError {
    fn from(error: QueryError) -> Self {
        let message = error.to_string();
        match error {
            QueryError::Parse { details, .. } => Self::bad_request(message).with_details(details),
            QueryError::UnknownColumn { .. } => {
                Self::new(StatusCode::BAD_REQUEST, "42703", message)
            }
            QueryError::UnknownRelationship { .. } => {
                Self::new(StatusCode::BAD_REQUEST, "PGRST200", message)
            }
            QueryError::Value(ValueError::InvalidSyntax { .. }) => {
                Self::new(StatusCode::BAD_REQUEST, "22P02", message)
            }
            QueryError::Value(ValueError::UnsupportedOperator { .. }) => {
                Self::new(StatusCode::BAD_REQUEST, "42804", message)
            }
        }
    }
}

impl From<TokenError> for ApiError {
    fn from(error: TokenError) -> Self {
        match error {
            TokenError::Expired { .. } => {
                Self::new(StatusCode::UNAUTHORIZED, "PGRST303", "JWT expired")
            }
            TokenError::MissingClaims => Self::new(
                StatusCode::UNAUTHORIZED,
                "PGRST303",
                "JWT claims validation failed",
            ),
            TokenError::Malformed => Self::new(
                StatusCode::UNAUTHORIZED,
                "PGRST301",
                "JWSError (CompactDecodeError Invalid number of parts)",
            ),
            TokenError::BadSignature => Self::new(
                StatusCode::UNAUTHORIZED,
                "PGRST301",
                "JWSError JWSInvalidSignature",
            ),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({
            "code": self.code,
            "message": self.message,
            "details": self.details,
            "hint": self.hint,
        });
        (self.status, Json(body)).into_response()
    }
}
