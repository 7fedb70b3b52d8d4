//! The state every handler shares: the store, the JWT keys, the fault switches and timings.

use std::sync::Arc;
use std::time::Duration;

use crate::auth::jwt::JwtKeys;
use crate::faults::Faults;
use crate::store::Store;

/// Timings and switches fixed at start.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// A Realtime socket with no client frame for this long is closed. Defaults to 60 s,
    /// Phoenix's default; tests shorten it.
    pub socket_idle_timeout: Duration,
    /// How often a joined channel re-checks its token, at most. Defaults to 5 minutes, as
    /// Supabase Realtime; the check also runs exactly at the token's `exp`.
    pub token_check_interval: Duration,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            socket_idle_timeout: Duration::from_secs(60),
            token_check_interval: Duration::from_secs(300),
        }
    }
}

/// Everything the router's handlers share; cheap to clone.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The database and its change feed.
    pub store: Arc<Store>,
    /// The JWT keys and the anon key.
    pub keys: Arc<JwtKeys>,
    /// The runtime fault switches.
    pub faults: Arc<Faults>,
    /// Timings fixed at start.
    pub config: Arc<ServerConfig>,
}

impl AppState {
    /// Builds the state from its parts.
    pub fn new(store: Store, keys: JwtKeys, faults: Faults, config: ServerConfig) -> Self {
        Self {
            store: Arc::new(store),
            keys: Arc::new(keys),
            faults: Arc::new(faults),
            config: Arc::new(config),
        }
    }
}
