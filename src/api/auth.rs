//! Password sign-in and token refresh against Supabase Auth (`/auth/v1`).

use gloo_net::http::Request;
use serde::Deserialize;

use super::error::{from_response, ApiError};
use crate::config::AppConfig;
use crate::session::{Role, Session, User};

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    refresh_token: String,
    #[serde(default)]
    expires_in: Option<i64>,
    #[serde(default)]
    expires_at: Option<i64>,
    user: UserResponse,
}

#[derive(Deserialize)]
struct UserResponse {
    id: String,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    app_metadata: AppMetadata,
}

#[derive(Deserialize, Default)]
struct AppMetadata {
    #[serde(default)]
    app_role: Option<String>,
}

impl TokenResponse {
    fn into_session(self) -> Session {
        let now = crate::clock::wall_ms();
        let expires_at_ms = match (self.expires_at, self.expires_in) {
            (Some(at), _) => at * 1000,
            (None, Some(seconds)) => now + seconds * 1000,
            (None, None) => now + 3_600_000,
        };
        let role = match self.user.app_metadata.app_role.as_deref() {
            Some("admin") => Role::Admin,
            Some("investor") => Role::Investor,
            _ => Role::Unknown,
        };
        Session {
            access_token: self.access_token,
            refresh_token: self.refresh_token,
            expires_at_ms,
            user: User {
                id: self.user.id,
                email: self.user.email.unwrap_or_default(),
                role,
            },
        }
    }
}

async fn token_request(
    config: &AppConfig,
    grant_type: &str,
    body: serde_json::Value,
) -> Result<Session, ApiError> {
    let url = format!(
        "{}/auth/v1/token?grant_type={grant_type}",
        config.supabase_url
    );
    let request = Request::post(&url)
        .header("apikey", &config.anon_key)
        .header("Content-Type", "application/json")
        .body(body.to_string())
        .map_err(|_| ApiError::BadResponse)?;
    let response = request.send().await.map_err(|error| {
        tracing::warn!("auth request failed: {error}");
        ApiError::Network
    })?;
    let status = response.status();
    let text = response.text().await.map_err(|_| ApiError::BadResponse)?;
    if !(200..300).contains(&status) {
        return Err(from_response(status, &text));
    }
    let parsed: TokenResponse = serde_json::from_str(&text).map_err(|_| ApiError::BadResponse)?;
    Ok(parsed.into_session())
}

/// Signs in with email and password.
pub async fn sign_in(config: &AppConfig, email: &str, password: &str) -> Result<Session, ApiError> {
    let session = token_request(
        config,
        "password",
        serde_json::json!({ "email": email, "password": password }),
    )
    .await?;
    tracing::info!(role = ?session.user.role, "signed in");
    Ok(session)
}

/// Exchanges the refresh token for a new session.
pub async fn refresh_session(config: &AppConfig, refresh_token: &str) -> Result<Session, ApiError> {
    let session = token_request(
        config,
        "refresh_token",
        serde_json::json!({ "refresh_token": refresh_token }),
    )
    .await?;
    tracing::info!("session refreshed");
    Ok(session)
}

/// Tells the server the session ended (best effort).
pub async fn sign_out(config: &AppConfig, access_token: &str) {
    let url = format!("{}/auth/v1/logout", config.supabase_url);
    let result = Request::post(&url)
        .header("apikey", &config.anon_key)
        .header("Authorization", &format!("Bearer {access_token}"))
        .send()
        .await;
    if result.is_err() {
        tracing::debug!("logout request failed; the session is forgotten locally anyway");
    }
}
