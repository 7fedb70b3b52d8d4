//! The one error type of the HTTP boundary. Its messages are what the user reads; transport
//! detail goes to the log.

use serde::Deserialize;

/// Why a call to the backend failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ApiError {
    /// No answer at all (offline, server down, CORS).
    #[error("Cannot reach the server. Check your connection; we keep retrying.")]
    Network,
    /// Wrong email or password.
    #[error("Email or password is incorrect.")]
    InvalidCredentials,
    /// The session is missing, expired or refused.
    #[error("Your session has expired. Please sign in again.")]
    Unauthorized,
    /// Signed in, but not allowed.
    #[error("You do not have permission to do that.")]
    Forbidden,
    /// The thing asked for does not exist (or is not visible to you).
    #[error("Not found. It may have been removed, or you may not have access to it.")]
    NotFound,
    /// The server refused the input; its message says why.
    #[error("{0}")]
    Rejected(String),
    /// It was already done (a duplicate decision or request).
    #[error("{0}")]
    Conflict(String),
    /// The server is overloaded or failing; retrying later may work.
    #[error("The server is unavailable right now (HTTP {0}). We keep retrying.")]
    Unavailable(u16),
    /// The answer could not be read.
    #[error("The server sent a response we could not read. We keep retrying.")]
    BadResponse,
    /// The request was cancelled because nobody needs its answer any more.
    #[error("The request was cancelled.")]
    Aborted,
}

impl ApiError {
    /// True when retrying the same request later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::Network | Self::Unavailable(_) | Self::BadResponse
        )
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct PostgrestBody {
    code: Option<String>,
    message: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
    msg: Option<String>,
}

/// Maps an HTTP status and body (PostgREST or GoTrue shaped) to an [`ApiError`].
pub fn from_response(status: u16, body: &str) -> ApiError {
    let parsed: PostgrestBody = serde_json::from_str(body).unwrap_or_default();
    let message = parsed
        .message
        .or(parsed.error_description)
        .or(parsed.msg)
        .or(parsed.error.clone())
        .unwrap_or_default();
    let code = parsed.code.unwrap_or_default();
    tracing::debug!(status, code = %code, "request failed: {message}");
    match status {
        400 if parsed.error.as_deref() == Some("invalid_grant") => ApiError::InvalidCredentials,
        401 => ApiError::Unauthorized,
        403 => ApiError::Forbidden,
        404 | 406 => ApiError::NotFound,
        409 => ApiError::Conflict(if message.is_empty() {
            "That was already done.".into()
        } else {
            friendly(&message)
        }),
        400 | 422 => ApiError::Rejected(if message.is_empty() {
            "The server refused the request.".into()
        } else {
            friendly(&message)
        }),
        500..=599 => ApiError::Unavailable(status),
        _ => ApiError::Rejected(format!(
            "Unexpected answer from the server (HTTP {status})."
        )),
    }
}

/// Turns database wording into a sentence a user can act on.
fn friendly(message: &str) -> String {
    let lower = message.to_ascii_lowercase();
    if lower.contains("duplicate key") || lower.contains("already decided") {
        "You have already decided on this request.".into()
    } else if lower.contains("remaining") || lower.contains("balance") {
        "The amount is more than the holding's remaining balance.".into()
    } else {
        let mut text = message.trim().to_string();
        if let Some(first) = text.get(..1) {
            text = first.to_uppercase() + &text[1..];
        }
        if !text.ends_with('.') {
            text.push('.');
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_postgrest_and_gotrue_errors() {
        assert_eq!(
            from_response(
                400,
                r#"{"error":"invalid_grant","error_description":"Invalid login credentials"}"#
            ),
            ApiError::InvalidCredentials
        );
        assert_eq!(from_response(401, "{}"), ApiError::Unauthorized);
        assert_eq!(from_response(503, "<html>"), ApiError::Unavailable(503));
        assert_eq!(
            from_response(409, r#"{"code":"23505","message":"duplicate key value"}"#),
            ApiError::Conflict("You have already decided on this request.".into())
        );
        assert_eq!(
            from_response(
                400,
                r#"{"code":"P0001","message":"redemption is not pending"}"#
            ),
            ApiError::Rejected("Redemption is not pending.".into())
        );
    }
}
