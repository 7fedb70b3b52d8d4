//! The signed-in user's session: tokens, identity and role, kept in `localStorage` so a reload
//! stays signed in. Tokens are never logged.

use serde::{Deserialize, Serialize};

const STORAGE_KEY: &str = "redemption-dashboard.session";

/// What the user may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Requests and follows own redemptions.
    Investor,
    /// Works the approval queue.
    Admin,
    /// A role this build does not know: treated as the least privileged.
    #[serde(other)]
    Unknown,
}

/// The signed-in user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct User {
    /// The user's id (`sub`).
    pub id: String,
    /// Sign-in email.
    pub email: String,
    /// From `app_metadata.app_role`.
    pub role: Role,
}

/// Tokens and user after a sign-in or refresh.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct Session {
    /// The JWT sent as `Authorization: Bearer`.
    pub access_token: String,
    /// Exchanged for a new access token before it expires.
    pub refresh_token: String,
    /// When the access token expires, in ms since the Unix epoch.
    pub expires_at_ms: i64,
    /// Who is signed in.
    pub user: User,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Tokens stay out of logs and panic messages.
        f.debug_struct("Session")
            .field("user", &self.user)
            .field("expires_at_ms", &self.expires_at_ms)
            .finish_non_exhaustive()
    }
}

impl Session {
    /// True for admins.
    pub fn is_admin(&self) -> bool {
        self.user.role == Role::Admin
    }

    /// Reads the stored session, if any and still parseable.
    pub fn load() -> Option<Self> {
        let storage = web_sys::window()?.local_storage().ok()??;
        let text = storage.get_item(STORAGE_KEY).ok()??;
        serde_json::from_str(&text).ok()
    }

    /// Stores this session.
    pub fn store(&self) {
        let storage = web_sys::window().and_then(|window| window.local_storage().ok().flatten());
        if let (Some(storage), Ok(text)) = (storage, serde_json::to_string(self)) {
            if storage.set_item(STORAGE_KEY, &text).is_err() {
                tracing::warn!("could not store the session; a reload will ask to sign in again");
            }
        }
    }

    /// Forgets the stored session.
    pub fn clear() {
        if let Some(storage) =
            web_sys::window().and_then(|window| window.local_storage().ok().flatten())
        {
            let _ = storage.remove_item(STORAGE_KEY);
        }
    }
}
