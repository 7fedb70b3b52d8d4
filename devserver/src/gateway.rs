//! The API gateway's part: the `apikey` check on `/auth/v1` and `/rest/v1`, and who the caller is.

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::auth::jwt::{unix_now, Actor, TokenError};
use crate::rest::error::ApiError;
use crate::state::AppState;

/// The `apikey` header, or else the `apikey` query parameter.
pub fn find_apikey(headers: &HeaderMap, uri: &Uri) -> Option<String> {
    if let Some(value) = headers.get("apikey").and_then(|v| v.to_str().ok()) {
        return Some(value.to_owned());
    }
    let query = uri.query()?;
    query.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        (key == "apikey").then(|| {
            percent_encoding::percent_decode_str(value)
                .decode_utf8_lossy()
                .into_owned()
        })
    })
}

/// The bearer token of an `Authorization` header, if there is one.
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get("authorization")?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Middleware: refuses a request without a valid `apikey` with 401.
pub async fn require_apikey(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let Some(key) = find_apikey(request.headers(), request.uri()) else {
        return ApiError::new(
            StatusCode::UNAUTHORIZED,
            "PGRST301",
            "No API key found in request",
        )
        .with_hint("No `apikey` request header or url param was found.")
        .into_response();
    };
    if let Err(error) = state.keys.verify(&key, unix_now()) {
        tracing::debug!(%error, "refused an invalid apikey");
        return ApiError::new(StatusCode::UNAUTHORIZED, "PGRST301", "Invalid API key")
            .with_hint("Double check your Supabase `anon` or `service_role` API key.")
            .into_response();
    }
    next.run(request).await
}

/// The caller of a REST request: the bearer token's actor, or the apikey's when there is none.
#[derive(Debug, Clone)]
pub struct Caller(pub Actor);

impl Caller {
    /// Whether the caller is a signed-in user (decides 401 versus 403).
    pub fn signed_in(&self) -> bool {
        !matches!(self.0, Actor::Anon)
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = match bearer_token(&parts.headers) {
            Some(token) => token.to_owned(),
            None => find_apikey(&parts.headers, &parts.uri).unwrap_or_default(),
        };
        state
            .keys
            .verify(&token, unix_now())
            .map(|verified| Caller(verified.actor))
            .map_err(|error: TokenError| {
                tracing::debug!(%error, "refused a bearer token");
                ApiError::from(error)
            })
    }
}
