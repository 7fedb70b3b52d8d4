//! The redemption dashboard: a Leptos client-side app on Supabase PostgREST and Realtime.
//!
//! Start reading at [`app::App`]. The sans-IO policy lives in `dashboard-core`; the modules here
//! are the browser adapters around it and the views.

pub mod api;
pub mod app;
pub mod clock;
pub mod components;
pub mod config;
pub mod freshness;
mod logging;
pub mod page_events;
pub mod pages;
pub mod realtime;
pub mod session;

/// Installs the panic hook and the logger, then mounts the app on `<body>`.
pub fn boot() {
    console_error_panic_hook::set_once();
    init_logging();
    leptos::mount::mount_to_body(app::App);
}

/// Routes `tracing` to the browser console; `?log=debug` (or `trace`) raises the level.
fn init_logging() {
    let level = web_sys::window()
        .and_then(|window| window.location().search().ok())
        .and_then(|search| {
            search
                .trim_start_matches('?')
                .split('&')
                .find_map(|pair| pair.strip_prefix("log=").map(str::to_string))
        })
        .and_then(|level| level.parse::<tracing::Level>().ok())
        .unwrap_or(tracing::Level::INFO);
    logging::init(level);
}
