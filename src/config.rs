//! Runtime configuration read from `/config.json`, so one build can point at the local devserver
//! or at a real Supabase project without rebuilding.

use serde::Deserialize;

/// Where the backend is and how fresh to keep data.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default)]
pub struct AppConfig {
    /// Base URL of the Supabase project (or the devserver). Defaults to
    /// `http://127.0.0.1:54321`.
    pub supabase_url: String,
    /// The project's anon (publishable) key. Defaults to the devserver's fixed dev key.
    pub anon_key: String,
    /// Background refresh interval in ms; 0 turns it off. Defaults to 5 000.
    pub refresh_interval_ms: u64,
    /// Subscribe to Realtime. Defaults to `true`.
    pub enable_realtime: bool,
    /// Adaptive polling: while Realtime is live, poll only this often (ms). Defaults to `None`.
    pub live_refresh_interval_ms: Option<u64>,
}

/// The devserver's anon key: HS256 over `{"iss":"supabase-demo","role":"anon","exp":1983812996}`
/// with the documented local JWT secret.
pub const DEV_ANON_KEY: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJzdXBhYmFzZS1kZW1vIiwicm9sZSI6ImFub24iLCJleHAiOjE5ODM4MTI5OTZ9.CRXP1A7WOeoJeXxjNni43kdQwgnWNReilDMblYTn_I0";

impl Default for AppConfig {
    fn default() -> Self {
        Self {
            supabase_url: "http://127.0.0.1:54321".into(),
            anon_key: DEV_ANON_KEY.into(),
            refresh_interval_ms: 5_000,
            enable_realtime: true,
            live_refresh_interval_ms: None,
        }
    }
}

impl AppConfig {
    /// Parses the JSON text of `config.json`; unknown fields are ignored, missing ones default,
    /// and a trailing slash on the URL is removed.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut config: AppConfig =
            serde_json::from_str(text).map_err(|error| format!("config.json: {error}"))?;
        while config.supabase_url.ends_with('/') {
            config.supabase_url.pop();
        }
        if config.supabase_url.is_empty() {
            return Err("config.json: supabase_url is empty".into());
        }
        Ok(config)
    }

    /// Applies `?refresh=<ms>` and `?realtime=0` from the page URL, for trying things out.
    pub fn with_url_overrides(mut self, search: &str) -> Self {
        for pair in search.trim_start_matches('?').split('&') {
            match pair.split_once('=') {
                Some(("refresh", value)) => {
                    if let Ok(ms) = value.parse() {
                        self.refresh_interval_ms = ms;
                    }
                }
                Some(("realtime", value)) => self.enable_realtime = value != "0",
                Some(("adaptive", value)) => self.live_refresh_interval_ms = value.parse().ok(),
                _ => {}
            }
        }
        self
    }

    /// The Realtime WebSocket URL, with the key and protocol version.
    pub fn realtime_url(&self) -> String {
        let base = if let Some(rest) = self.supabase_url.strip_prefix("https://") {
            format!("wss://{rest}")
        } else if let Some(rest) = self.supabase_url.strip_prefix("http://") {
            format!("ws://{rest}")
        } else {
            self.supabase_url.clone()
        };
        format!(
            "{base}/realtime/v1/websocket?apikey={}&vsn=1.0.0",
            dashboard_core::query::encode_component(&self.anon_key)
        )
    }

    /// Loads `/config.json`; falls back to the defaults (with a warning) when it is missing.
    pub async fn load() -> Self {
        let search = web_sys::window()
            .and_then(|window| window.location().search().ok())
            .unwrap_or_default();
        let config = match gloo_net::http::Request::get("/config.json").send().await {
            Ok(response) if response.ok() => match response.text().await {
                Ok(text) => match Self::parse(&text) {
                    Ok(config) => config,
                    Err(error) => {
                        tracing::warn!("{error}; using the local devserver defaults");
                        Self::default()
                    }
                },
                Err(_) => Self::default(),
            },
            _ => {
                tracing::warn!("no config.json; using the local devserver defaults");
                Self::default()
            }
        };
        config.with_url_overrides(&search)
    }
}
