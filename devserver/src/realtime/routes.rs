//! The WebSocket upgrade: apikey and fault checks, then hand-off to [`super::socket`].

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures::{SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::json;

use super::protocol::{Incoming, Outgoing};
use super::socket::serve_socket;
use crate::auth::jwt::unix_now;
use crate::faults::RealtimeFault;
use crate::state::AppState;

/// Read and write buffer size per socket.
const SOCKET_BUFFER_BYTES: usize = 8 * 1024;

/// The upgrade's query string.
#[derive(Debug, Deserialize)]
pub struct SocketParams {
    apikey: Option<String>,
    vsn: Option<String>,
}

fn refuse(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({"error": message}))).into_response()
}

/// `GET /realtime/v1/websocket` and `/socket/websocket`.
pub async fn upgrade(
    State(state): State<AppState>,
    Query(params): Query<SocketParams>,
    headers: HeaderMap,
    upgrade: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Response {
    if state.faults.current().realtime == RealtimeFault::Refuse {
        tracing::debug!("refuse fault: answered an upgrade with 503");
        return refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            "Realtime is refusing connections (devserver fault injection)",
        );
    }
    let key = headers
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or(params.apikey);
    let Some(key) = key else {
        return refuse(StatusCode::UNAUTHORIZED, "You must provide an apikey");
    };
    if let Err(error) = state.keys.verify(&key, unix_now()) {
        tracing::info!(%error, "refused a socket with a bad apikey");
        return refuse(StatusCode::UNAUTHORIZED, &error.to_string());
    }
    if let Some(vsn) = params.vsn.as_deref() {
        if !vsn.starts_with("1.") {
            return refuse(
                StatusCode::BAD_REQUEST,
                "the devserver speaks Phoenix vsn 1.0.0 only",
            );
        }
    }
    let upgrade = match upgrade {
        Ok(upgrade) => upgrade,
        Err(rejection) => return rejection.into_response(),
    };
    // Realtime frames are small; tungstenite's 128 KiB default buffers would dominate memory
    // with many idle sockets.
    upgrade
        .read_buffer_size(SOCKET_BUFFER_BYTES)
        .write_buffer_size(SOCKET_BUFFER_BYTES)
        .on_upgrade(move |socket| run(socket, state, key))
}

async fn run(socket: WebSocket, state: AppState, key: String) {
    tracing::debug!("realtime socket opened");
    let (sink, stream) = socket.split();
    let sink = sink.with(|frame: Outgoing| async move {
        Ok::<_, axum::Error>(match frame {
            Outgoing::Text(text) => Message::Text(text.into()),
            Outgoing::Close => Message::Close(None),
        })
    });
    let stream = stream.map(|message| match message {
        Ok(Message::Text(text)) => Incoming::Text(text.to_string()),
        Ok(Message::Close(_)) | Err(_) => Incoming::Close,
        Ok(_) => Incoming::Other,
    });
    serve_socket(Box::pin(sink), stream, state, key).await;
}
