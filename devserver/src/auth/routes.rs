//! The `/auth/v1` handlers: `token` (password and refresh_token grants), `user`, `logout`.

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::jwt::{unix_now, Actor, ACCESS_TOKEN_TTL_SECONDS};
use crate::gateway::{bearer_token, require_apikey};
use crate::state::AppState;
use crate::store::users::User;

/// The `/auth/v1` router, behind the apikey check.
pub fn router(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/token", post(token))
        .route("/user", get(user))
        .route("/logout", post(logout))
        .layer(from_fn_with_state(state, require_apikey))
}

/// A GoTrue-style error: `{error, error_description}` plus the newer `code`/`msg` keys.
fn auth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        Json(json!({
            "error": error,
            "error_description": description,
            "code": status.as_u16(),
            "msg": description,
        })),
    )
        .into_response()
}

/// The user object GoTrue returns.
pub fn user_json(user: &User) -> Value {
    json!({
        "id": user.id,
        "aud": "authenticated",
        "role": "authenticated",
        "email": user.email,
        "email_confirmed_at": user.created_at,
        "app_metadata": {"provider": "email", "providers": ["email"], "app_role": user.app_role.as_str()},
        "user_metadata": {},
        "identities": [],
        "created_at": user.created_at,
        "updated_at": user.created_at,
    })
}

#[derive(Debug, Deserialize)]
struct GrantQuery {
    grant_type: Option<String>,
}

#[derive(Debug, Deserialize)]
struct PasswordGrant {
    email: Option<String>,
    password: Option<String>,
}

#[derive(Debug, Deserialize)]
struct RefreshGrant {
    refresh_token: Option<String>,
}

fn session(state: &AppState, user: &User, refresh_token: String) -> Response {
    let now = unix_now();
    match state
        .keys
        .sign_user_token(&user.id, &user.email, user.app_role, now)
    {
        Ok(access_token) => Json(json!({
            "access_token": access_token,
            "token_type": "bearer",
            "expires_in": ACCESS_TOKEN_TTL_SECONDS,
            "expires_at": now + ACCESS_TOKEN_TTL_SECONDS,
            "refresh_token": refresh_token,
            "user": user_json(user),
        }))
        .into_response(),
        Err(error) => {
            tracing::error!(%error, "could not sign an access token");
            auth_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                "Could not sign the token",
            )
        }
    }
}

fn store_failure(error: crate::store::StoreError) -> Response {
    tracing::error!(%error, "auth store failure");
    auth_error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "server_error",
        "Database error",
    )
}

async fn token(
    State(state): State<AppState>,
    Query(query): Query<GrantQuery>,
    body: Bytes,
) -> Response {
    match query.grant_type.as_deref() {
        Some("password") => {
            let Ok(grant) = serde_json::from_slice::<PasswordGrant>(&body) else {
                return auth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "Could not read the body",
                );
            };
            let (Some(email), Some(password)) = (grant.email, grant.password) else {
                return auth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "Email and password are required",
                );
            };
            let user = match state.store.check_password(&email, &password) {
                Ok(Some(user)) => user,
                Ok(None) => {
                    tracing::info!("refused a sign-in with wrong credentials");
                    return auth_error(
                        StatusCode::BAD_REQUEST,
                        "invalid_grant",
                        "Invalid login credentials",
                    );
                }
                Err(error) => return store_failure(error),
            };
            match state.store.issue_refresh_token(&user.id) {
                Ok(refresh) => {
                    tracing::info!(user = %user.id, "signed in");
                    session(&state, &user, refresh)
                }
                Err(error) => store_failure(error),
            }
        }
        Some("refresh_token") => {
            let Some(refresh) = serde_json::from_slice::<RefreshGrant>(&body)
                .ok()
                .and_then(|grant| grant.refresh_token)
            else {
                return auth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "refresh_token is required",
                );
            };
            match state.store.rotate_refresh_token(&refresh) {
                Ok(Some((user, next))) => {
                    tracing::debug!(user = %user.id, "refreshed a session");
                    session(&state, &user, next)
                }
                Ok(None) => auth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "Invalid Refresh Token: Refresh Token Not Found",
                ),
                Err(error) => store_failure(error),
            }
        }
        _ => auth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "grant_type must be password or refresh_token",
        ),
    }
}

/// The signed-in user's id from the bearer token, or the error response to send.
fn signed_in_user(state: &AppState, headers: &HeaderMap) -> Result<String, Box<Response>> {
    let Some(token) = bearer_token(headers) else {
        return Err(Box::new(auth_error(
            StatusCode::UNAUTHORIZED,
            "no_authorization",
            "This endpoint requires a Bearer token",
        )));
    };
    match state.keys.verify(token, unix_now()) {
        Ok(verified) => match verified.actor {
            Actor::User { id, .. } => Ok(id),
            _ => Err(Box::new(auth_error(
                StatusCode::FORBIDDEN,
                "bad_jwt",
                "invalid claim: missing sub claim",
            ))),
        },
        Err(error) => Err(Box::new(auth_error(
            StatusCode::UNAUTHORIZED,
            "bad_jwt",
            &format!("invalid JWT: {}", error.system_message()),
        ))),
    }
}

async fn user(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let id = match signed_in_user(&state, &headers) {
        Ok(id) => id,
        Err(response) => return *response,
    };
    match state.store.user(&id) {
        Ok(Some(user)) => Json(user_json(&user)).into_response(),
        Ok(None) => auth_error(StatusCode::NOT_FOUND, "user_not_found", "User not found"),
        Err(error) => store_failure(error),
    }
}

async fn logout(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let id = match signed_in_user(&state, &headers) {
        Ok(id) => id,
        Err(response) => return *response,
    };
    match state.store.revoke_refresh_tokens(&id) {
        Ok(()) => {
            tracing::info!(user = %id, "signed out");
            StatusCode::NO_CONTENT.into_response()
        }
        Err(error) => store_failure(error),
    }
}
