//! The whole HTTP surface in one router, so tests can drive it without binding a port.

use std::time::Duration;

use axum::http::{header, HeaderName, Method};
use axum::routing::get;
use axum::Router;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::trace::TraceLayer;

use crate::state::AppState;
use crate::{auth, faults, realtime, rest};

/// Builds the router: `/auth/v1`, `/rest/v1`, Realtime, and `/_dev`, with CORS and tracing.
pub fn app(state: AppState) -> Router {
    Router::new()
        .nest("/auth/v1", auth::routes::router(state.clone()))
        .nest("/rest/v1", rest::routes::router(state.clone()))
        .route("/realtime/v1/websocket", get(realtime::routes::upgrade))
        .route("/socket/websocket", get(realtime::routes::upgrade))
        .nest("/_dev", faults::router())
        .layer(cors())
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// CORS for an app served from another localhost port (e.g. `trunk serve`).
fn cors() -> CorsLayer {
    CorsLayer::new()
        .allow_origin(AllowOrigin::mirror_request())
        .allow_methods([
            Method::GET,
            Method::HEAD,
            Method::POST,
            Method::PATCH,
            Method::PUT,
            Method::DELETE,
            Method::OPTIONS,
        ])
        .allow_headers([
            HeaderName::from_static("apikey"),
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::ACCEPT,
            header::RANGE,
            HeaderName::from_static("prefer"),
            HeaderName::from_static("accept-profile"),
            HeaderName::from_static("content-profile"),
            HeaderName::from_static("x-client-info"),
            HeaderName::from_static("x-supabase-api-version"),
            HeaderName::from_static("x-retry-count"),
            HeaderName::from_static("range-unit"),
        ])
        .expose_headers([
            header::CONTENT_RANGE,
            HeaderName::from_static("x-supabase-api-version"),
        ])
        .max_age(Duration::from_secs(3600))
}
