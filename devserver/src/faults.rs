//! Fault injection: the runtime switches, the REST middleware that applies them, and `/_dev`.
//!
//! `/_dev` answers only to loopback peers; it is how the end-to-end tests make the network
//! misbehave on command.

use std::net::SocketAddr;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, Request, State};
use axum::http::StatusCode;
use axum::middleware::{from_fn, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::sync::watch;

use crate::rest::error::ApiError;
use crate::schema;
use crate::state::AppState;

/// What Realtime does to sockets.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum RealtimeFault {
    /// Normal service.
    #[default]
    Ok,
    /// WebSocket upgrades are answered with 503.
    Refuse,
    /// Sockets stay open but nothing is sent: no replies, no heartbeats, no events.
    Silent,
}

/// The switchable faults, as `GET`/`PUT /_dev/faults` show them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FaultSettings {
    /// Realtime's behaviour. Defaults to `ok`.
    pub realtime: RealtimeFault,
    /// Added delay before every `/rest/v1` response, in milliseconds. Defaults to 0.
    pub rest_delay_ms: u64,
    /// Fraction of `/rest/v1` requests failed with 503, from 0.0 to 1.0. Defaults to 0.0.
    pub rest_fail_rate: f64,
}

/// Why fault settings were refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FaultSettingsError {
    /// The failure rate is outside 0.0..=1.0.
    #[error("rest_fail_rate must be between 0.0 and 1.0")]
    FailRate,
    /// The delay is longer than ten minutes.
    #[error("rest_delay_ms must be at most 600000")]
    Delay,
}

impl FaultSettings {
    /// Checks the values are in range.
    pub fn validate(&self) -> Result<(), FaultSettingsError> {
        if !(0.0..=1.0).contains(&self.rest_fail_rate) {
            return Err(FaultSettingsError::FailRate);
        }
        if self.rest_delay_ms > 600_000 {
            return Err(FaultSettingsError::Delay);
        }
        Ok(())
    }
}

/// The live fault switches, watched by sockets and the REST middleware.
#[derive(Debug)]
pub struct Faults {
    settings: watch::Sender<FaultSettings>,
    drops: watch::Sender<u64>,
}

impl Faults {
    /// Starts with the given settings.
    pub fn new(settings: FaultSettings) -> Self {
        Self {
            settings: watch::Sender::new(settings),
            drops: watch::Sender::new(0),
        }
    }

    /// The settings in force.
    pub fn current(&self) -> FaultSettings {
        *self.settings.borrow()
    }

    /// Whether Realtime is to stay silent.
    pub fn realtime_silent(&self) -> bool {
        self.settings.borrow().realtime == RealtimeFault::Silent
    }

    /// Replaces every setting at once.
    pub fn replace(&self, settings: FaultSettings) -> Result<(), FaultSettingsError> {
        settings.validate()?;
        self.settings.send_replace(settings);
        Ok(())
    }

    /// Asks every open socket to drop now.
    pub fn drop_sockets(&self) {
        self.drops.send_modify(|generation| *generation += 1);
    }

    /// A receiver that changes whenever sockets are asked to drop.
    pub fn drop_signal(&self) -> watch::Receiver<u64> {
        self.drops.subscribe()
    }
}

/// Middleware for `/rest/v1`: the configured delay, then the configured failure rate.
pub async fn rest_faults(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let settings = state.faults.current();
    if settings.rest_delay_ms > 0 {
        tokio::time::sleep(Duration::from_millis(settings.rest_delay_ms)).await;
    }
    if settings.rest_fail_rate > 0.0 && rand::rng().random_bool(settings.rest_fail_rate) {
        tracing::debug!(path = %request.uri().path(), "failing a REST request on purpose");
        return ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "PGRST001",
            "Database client error. Retrying the connection.",
        )
        .with_hint("Injected by the devserver's rest_fail_rate fault.")
        .into_response();
    }
    next.run(request).await
}

/// The `/_dev` router: faults, dropping sockets, a test delete hook and health.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/health", get(|| async { "ok" }))
        .route("/faults", get(get_faults).put(put_faults))
        .route("/faults/drop-sockets", post(drop_sockets))
        .route("/tables/{table}/{id}", delete(delete_row))
        .layer(from_fn(loopback_only))
}

async fn loopback_only(request: Request, next: Next) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0.ip());
    match peer {
        Some(ip) if ip.is_loopback() => next.run(request).await,
        _ => {
            tracing::warn!(?peer, "refused a /_dev request from a non-loopback peer");
            (
                StatusCode::FORBIDDEN,
                Json(json!({"error": "/_dev answers only on loopback"})),
            )
                .into_response()
        }
    }
}

async fn get_faults(State(state): State<AppState>) -> Json<FaultSettings> {
    Json(state.faults.current())
}

async fn put_faults(State(state): State<AppState>, body: Bytes) -> Response {
    let settings = match serde_json::from_slice::<FaultSettings>(&body) {
        Ok(settings) => settings,
        Err(error) => {
            return (
                StatusCode::BAD_REQUEST,
                Json(json!({"error": error.to_string()})),
            )
                .into_response()
        }
    };
    if let Err(error) = state.faults.replace(settings) {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": error.to_string()})),
        )
            .into_response();
    }
    tracing::info!(?settings, "fault settings replaced");
    Json(settings).into_response()
}

async fn drop_sockets(State(state): State<AppState>) -> StatusCode {
    tracing::info!("dropping every open socket on request");
    state.faults.drop_sockets();
    StatusCode::NO_CONTENT
}

/// Deletes one row with service rights so tests can produce Realtime DELETE events.
async fn delete_row(
    State(state): State<AppState>,
    Path((table, id)): Path<(String, String)>,
) -> Response {
    let Some(table) = schema::table(&table) else {
        return ApiError::unknown_table(&table).into_response();
    };
    match state.store.delete_row(table, &id) {
        Ok(Some(row)) => Json(row).into_response(),
        Ok(None) => StatusCode::NOT_FOUND.into_response(),
        Err(error) => ApiError::from_store(error, true).into_response(),
    }
}
