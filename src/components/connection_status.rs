//! The connection indicator: a green "Live" dot while Realtime works, a yellow "Polling" dot
//! while only the background refresh keeps data fresh, and honest states for the rest.

use dashboard_core::connection::ConnectionState;
use leptos::prelude::*;

/// What the indicator says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freshness {
    /// Realtime connected.
    Live,
    /// Realtime down or off; the background refresh keeps data fresh.
    Polling,
    /// The browser is offline: nothing is fresh.
    Offline,
    /// Realtime down and background refresh off: data only changes on reload or refetch.
    Paused,
    /// The data reached a final state; nothing more will change, so nothing is watched.
    Final,
}

impl Freshness {
    /// Derives the word from the Realtime state and whether background refresh is on.
    pub fn from_state(state: &ConnectionState, polling: bool) -> Self {
        match state {
            ConnectionState::Live => Self::Live,
            ConnectionState::Offline => Self::Offline,
            _ if polling => Self::Polling,
            _ => Self::Paused,
        }
    }

    /// The exact word shown.
    pub fn word(self) -> &'static str {
        match self {
            Self::Live => "Live",
            Self::Polling => "Polling",
            Self::Offline => "Offline",
            Self::Paused => "Paused",
            Self::Final => "Final",
        }
    }

    /// The tooltip.
    pub fn explanation(self, state: &ConnectionState) -> String {
        match self {
            Self::Live => "Realtime connected: changes appear as they happen.".into(),
            Self::Polling => match state {
                ConnectionState::Reconnecting { attempt, .. } => format!(
                    "Realtime unavailable (reconnect attempt {attempt}); background polling keeps data fresh."
                ),
                ConnectionState::Failed(reason) => {
                    format!("Realtime stopped ({reason}); background polling keeps data fresh.")
                }
                ConnectionState::Connecting => {
                    "Connecting to Realtime; background polling keeps data fresh meanwhile.".into()
                }
                _ => "Realtime is off; background polling keeps data fresh.".into(),
            },
            Self::Offline => {
                "You are offline. Data will refresh as soon as the connection returns.".into()
            }
            Self::Paused => "Realtime unavailable and auto-refresh off: use Refresh.".into(),
            Self::Final => "Final status reached: live updates stopped.".into(),
        }
    }
}

/// The dot and word, with `role="status"` and a tooltip.
#[component]
pub fn ConnectionStatus(
    #[prop(into)] state: Signal<ConnectionState>,
    #[prop(into)] polling: Signal<bool>,
    /// True once the page's data is final and nothing is watched any more.
    #[prop(optional, into)]
    stopped: Signal<bool>,
) -> impl IntoView {
    let freshness = Memo::new(move |_| {
        if stopped.get() {
            Freshness::Final
        } else {
            Freshness::from_state(&state.get(), polling.get())
        }
    });
    let title = move || freshness.get().explanation(&state.get());
    view! {
        <span
            class="connection"
            class:connection-live=move || freshness.get() == Freshness::Live
            class:connection-polling=move || freshness.get() == Freshness::Polling
            class:connection-offline=move || freshness.get() == Freshness::Offline
            class:connection-paused=move || matches!(freshness.get(), Freshness::Paused | Freshness::Final)
        >
            <span class="dot" aria-hidden="true"></span>
            <span data-testid="connection-status" role="status" title=title aria-description=title>
                {move || freshness.get().word()}
            </span>
        </span>
    }
}
