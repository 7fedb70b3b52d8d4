//! A small PostgREST client: typed reads from a [`Query`], and the writes the dashboard makes.

use dashboard_core::model::{parse_rows, Redemption};
use dashboard_core::query::Query;
use gloo_net::http::{Request, RequestBuilder};
use leptos::prelude::*;
use serde::de::DeserializeOwned;
use serde::Serialize;
use web_sys::AbortSignal;

use super::error::{from_response, ApiError};
use crate::config::AppConfig;
use crate::session::Session;

/// The backend as the views see it: configuration plus the current session. Cheap to copy.
#[derive(Clone, Copy)]
pub struct Api {
    config: StoredValue<AppConfig>,
    session: RwSignal<Option<Session>>,
}

/// The body of a new redemption request.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NewRedemption {
    /// Generated once per form so a double submit creates one request.
    pub id: String,
    /// The holding to redeem from.
    pub distribution_id: String,
    /// Tokens to redeem.
    pub token_amount: f64,
    /// Where the USDC goes.
    pub destination_wallet: String,
    /// `standard` or `interval`.
    pub redemption_type: String,
    /// Optional note.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
}

impl Api {
    /// Wraps the configuration and the session signal.
    pub fn new(config: AppConfig, session: RwSignal<Option<Session>>) -> Self {
        Self {
            config: StoredValue::new(config),
            session,
        }
    }

    /// The configuration.
    pub fn config(&self) -> AppConfig {
        self.config.get_value()
    }

    /// The session signal.
    pub fn session(&self) -> RwSignal<Option<Session>> {
        self.session
    }

    fn authorized(&self, builder: RequestBuilder) -> RequestBuilder {
        let config = self.config.get_value();
        let token = self
            .session
            .with_untracked(|session| session.as_ref().map(|s| s.access_token.clone()))
            .unwrap_or_else(|| config.anon_key.clone());
        builder
            .header("apikey", &config.anon_key)
            .header("Authorization", &format!("Bearer {token}"))
    }

    fn url(&self, path: &str) -> String {
        format!(
            "{}/rest/v1/{path}",
            self.config.with_value(|c| c.supabase_url.clone())
        )
    }

    async fn send(request: Result<Request, gloo_net::Error>) -> Result<String, ApiError> {
        let request = request.map_err(|_| ApiError::BadResponse)?;
        let response = request.send().await.map_err(|error| {
            let text = error.to_string();
            if text.contains("AbortError") || text.contains("aborted") {
                ApiError::Aborted
            } else {
                tracing::debug!("request failed: {text}");
                ApiError::Network
            }
        })?;
        let status = response.status();
        let body = response.text().await.map_err(|_| ApiError::BadResponse)?;
        if (200..300).contains(&status) {
            Ok(body)
        } else {
            Err(from_response(status, &body))
        }
    }

    /// Reads rows; rows that fail to parse are skipped and logged, never fatal.
    pub async fn select<T: DeserializeOwned>(
        &self,
        query: &Query,
        abort: Option<&AbortSignal>,
    ) -> Result<Vec<T>, ApiError> {
        let url = format!("{}?{}", self.url(&query.table), query.to_query_string());
        let builder = self
            .authorized(Request::get(&url))
            .header("Accept-Profile", "public")
            .abort_signal(abort);
        let body = Self::send(builder.build()).await?;
        let (rows, skipped) = parse_rows::<T>(&body).map_err(|error| {
            tracing::warn!(table = %query.table, "unreadable response: {error}");
            ApiError::BadResponse
        })?;
        if skipped > 0 {
            tracing::warn!(table = %query.table, skipped, "skipped rows that did not parse");
        }
        Ok(rows)
    }

    /// Creates a redemption request and returns it.
    pub async fn create_redemption(&self, body: &NewRedemption) -> Result<Redemption, ApiError> {
        let request = self
            .authorized(Request::post(&self.url("redemption_requests")))
            .header("Content-Type", "application/json")
            .header("Content-Profile", "public")
            .header("Prefer", "return=representation")
            .json(body);
        let text = Self::send(request).await?;
        first_row(&text)
    }

    /// Cancels an own pending request. Returns `NotFound` when nothing was cancelled (not
    /// pending any more, or not yours).
    pub async fn cancel_redemption(&self, id: &str) -> Result<Redemption, ApiError> {
        let url = format!(
            "{}?id=eq.{}",
            self.url("redemption_requests"),
            dashboard_core::query::encode_component(id)
        );
        let request = self
            .authorized(Request::patch(&url))
            .header("Content-Type", "application/json")
            .header("Content-Profile", "public")
            .header("Prefer", "return=representation")
            .body(r#"{"status":"cancelled"}"#);
        let text = Self::send(request).await?;
        first_row(&text)
    }

    /// Records an admin's decision; returns the updated request.
    pub async fn decide(
        &self,
        redemption_id: &str,
        approve: bool,
        reason: Option<String>,
    ) -> Result<Redemption, ApiError> {
        let body = serde_json::json!({
            "redemption_id": redemption_id,
            "decision": if approve { "approve" } else { "reject" },
            "reason": reason,
        });
        let request = self
            .authorized(Request::post(&self.url("rpc/decide_redemption")))
            .header("Content-Type", "application/json")
            .header("Content-Profile", "public")
            .body(body.to_string());
        let text = Self::send(request).await?;
        let value: serde_json::Value =
            serde_json::from_str(&text).map_err(|_| ApiError::BadResponse)?;
        let row = match value {
            serde_json::Value::Array(mut rows) if !rows.is_empty() => rows.remove(0),
            other => other,
        };
        serde_json::from_value(row).map_err(|_| ApiError::BadResponse)
    }
}

fn first_row<T: DeserializeOwned>(text: &str) -> Result<T, ApiError> {
    let (mut rows, _) = parse_rows::<T>(text).map_err(|_| ApiError::BadResponse)?;
    if rows.is_empty() {
        Err(ApiError::NotFound)
    } else {
        Ok(rows.remove(0))
    }
}
