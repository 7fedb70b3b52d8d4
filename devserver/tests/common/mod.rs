//! Shared helpers for the devserver's integration tests: state, requests, sockets.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use devserver::auth::jwt::{unix_now, AppRole, JwtKeys, DEFAULT_JWT_SECRET};
use devserver::faults::{FaultSettings, Faults};
use devserver::store::{Store, DEMO_USERS};
use devserver::{app, AppState, ServerConfig};
use futures::{SinkExt, StreamExt};
use http_body_util::BodyExt;
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use tower::ServiceExt;

/// A state over the given store with a short socket idle timeout.
pub fn state_with(store: Store, idle: Duration) -> AppState {
    AppState::new(
        store,
        JwtKeys::new(DEFAULT_JWT_SECRET).expect("keys"),
        Faults::new(FaultSettings::default()),
        ServerConfig {
            socket_idle_timeout: idle,
            ..ServerConfig::default()
        },
    )
}

/// A state over the seeded demo data.
pub fn demo_state() -> AppState {
    state_with(
        Store::in_memory_demo().expect("store"),
        Duration::from_secs(60),
    )
}

/// A state with only the demo users.
pub fn empty_state() -> AppState {
    state_with(
        Store::in_memory_users_only().expect("store"),
        Duration::from_secs(60),
    )
}

/// An access token for a demo user named like `investor1` or `admin2`.
pub fn token_for(state: &AppState, name: &str) -> String {
    let user = DEMO_USERS
        .iter()
        .find(|u| u.email.starts_with(&format!("{name}@")))
        .expect("demo user");
    state
        .keys
        .sign_user_token(
            user.id,
            user.email,
            AppRole::parse(user.app_role),
            unix_now(),
        )
        .expect("sign")
}

/// The user id of a demo user.
pub fn id_of(name: &str) -> &'static str {
    devserver::store::demo_user_id(name).expect("demo user")
}

/// A response, read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub text: String,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|_| panic!("not JSON: {}", self.text))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// A request builder for oneshot calls, from a loopback peer.
pub struct Call {
    builder: axum::http::request::Builder,
    body: Body,
}

impl Call {
    pub fn new(method: Method, uri: &str) -> Self {
        Self {
            builder: Request::builder().method(method).uri(uri),
            body: Body::empty(),
        }
    }

    pub fn get(uri: &str) -> Self {
        Self::new(Method::GET, uri)
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.builder = self.builder.header(name, value);
        self
    }

    pub fn anon(self, state: &AppState) -> Self {
        let key = state.keys.anon_key().to_owned();
        self.header("apikey", &key)
    }

    pub fn signed_in_as(self, state: &AppState, name: &str) -> Self {
        let token = token_for(state, name);
        self.anon(state).bearer(&token)
    }

    pub fn bearer(self, token: &str) -> Self {
        self.header("authorization", &format!("Bearer {token}"))
    }

    pub fn json(mut self, body: &Value) -> Self {
        self.builder = self.builder.header("content-type", "application/json");
        self.body = Body::from(body.to_string());
        self
    }

    pub fn raw(mut self, body: &str) -> Self {
        self.body = Body::from(body.to_owned());
        self
    }

    pub async fn send(self, state: &AppState) -> Reply {
        self.send_from(state, SocketAddr::from(([127, 0, 0, 1], 40000)))
            .await
    }

    pub async fn send_from(self, state: &AppState, peer: SocketAddr) -> Reply {
        let mut request = self.builder.body(self.body).expect("request");
        request.extensions_mut().insert(ConnectInfo(peer));
        let response = app(state.clone())
            .oneshot(request)
            .await
            .expect("infallible");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        Reply {
            status,
            headers,
            text: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }
}

/// Serves the router on a free loopback port.
pub async fn spawn_server(state: AppState) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move {
        axum::serve(
            listener,
            app(state).into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .expect("serve");
    });
    address
}

pub type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Opens a Realtime socket with the given apikey.
pub async fn connect(address: SocketAddr, apikey: &str) -> Socket {
    let url = format!("ws://{address}/realtime/v1/websocket?apikey={apikey}&vsn=1.0.0");
    let (socket, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("upgrade");
    socket
}

pub async fn send(socket: &mut Socket, message: Value) {
    socket
        .send(Message::Text(message.to_string().into()))
        .await
        .expect("send");
}

/// The next text frame as JSON, failing the test after `wait`.
pub async fn next_json_within(socket: &mut Socket, wait: Duration) -> Option<Value> {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let frame = tokio::time::timeout_at(deadline, socket.next())
            .await
            .ok()??;
        match frame {
            Ok(Message::Text(text)) => return Some(serde_json::from_str(&text).expect("json")),
            Ok(Message::Close(_)) | Err(_) => return None,
            Ok(_) => continue,
        }
    }
}

pub async fn next_json(socket: &mut Socket) -> Value {
    next_json_within(socket, Duration::from_secs(5))
        .await
        .expect("a frame within 5 s")
}

/// Asserts that no text frame arrives within `wait`.
pub async fn assert_quiet(socket: &mut Socket, wait: Duration) {
    if let Some(frame) = next_json_within(socket, wait).await {
        panic!("expected silence, got {frame}");
    }
}

/// A join message for one postgres_changes binding.
pub fn join(topic: &str, reference: &str, token: Option<&str>, bindings: Value) -> Value {
    let mut payload = serde_json::json!({
        "config": {
            "broadcast": {"ack": false, "self": false},
            "presence": {"enabled": false, "key": ""},
            "postgres_changes": bindings,
            "private": false
        }
    });
    if let Some(token) = token {
        payload["access_token"] = Value::from(token);
    }
    serde_json::json!({
        "topic": topic, "event": "phx_join", "payload": payload,
        "ref": reference, "join_ref": reference
    })
}
