//! The page header: title, connection indicator, refresh subtitle, navigation and sign-out.

use dashboard_core::connection::ConnectionState;
use dashboard_core::format;
use leptos::prelude::*;
use leptos_router::components::A;

use super::connection_status::{ConnectionStatus, Freshness};
use crate::api::Api;
use crate::config::AppConfig;

/// The subtitle's freshness part: "Auto-refresh: 5s • Realtime connected".
pub fn refresh_subtitle(config: &AppConfig, state: &ConnectionState, stopped: bool) -> String {
    if stopped {
        return "Final status reached • Live updates stopped".to_string();
    }
    let polling = config.refresh_interval_ms > 0;
    let refresh = if polling {
        let ms = config.refresh_interval_ms;
        if ms % 1000 == 0 {
            format!("Auto-refresh: {}s", ms / 1000)
        } else {
            format!("Auto-refresh: {:.1}s", ms as f64 / 1000.0)
        }
    } else {
        "Auto-refresh: off".to_string()
    };
    let realtime = match Freshness::from_state(state, polling) {
        Freshness::Live => "Realtime connected",
        Freshness::Polling => "Background polling active",
        Freshness::Offline => "Offline: waiting for the network",
        Freshness::Paused => "Realtime unavailable",
        Freshness::Final => "Live updates stopped",
    };
    format!("{refresh} • {realtime}")
}

/// Header with the indicator and a ticking "Updated 3 s ago".
#[component]
pub fn Header(
    #[prop(into)] title: String,
    #[prop(into)] connection: Signal<ConnectionState>,
    #[prop(into)] last_updated: Signal<Option<i64>>,
    #[prop(into)] refreshing: Signal<bool>,
    #[prop(optional, into)] on_refresh: Option<Callback<()>>,
    /// True once the page's data is final (polling and Realtime stopped).
    #[prop(optional, into)]
    stopped: Signal<bool>,
) -> impl IntoView {
    let api = expect_context::<Api>();
    let config = api.config();
    let polling = config.refresh_interval_ms > 0;
    let now = RwSignal::new(crate::clock::wall_ms());
    let ticker = gloo_timers::callback::Interval::new(1_000, move || {
        let _ = now.try_set(crate::clock::wall_ms());
    });
    // Owned by the component: dropped (and stopped) when it unmounts.
    StoredValue::new_local(ticker);
    let subtitle = {
        let config = config.clone();
        move || refresh_subtitle(&config, &connection.get(), stopped.get())
    };
    let updated = move || match last_updated.get() {
        Some(at) => format!(
            "Updated {}",
            format::ago(now.get().max(0) as u64, at.max(0) as u64)
        ),
        None => "Not loaded yet".to_string(),
    };
    let session = api.session();
    let is_admin = move || session.with(|s| s.as_ref().is_some_and(|s| s.is_admin()));
    let email =
        move || session.with(|s| s.as_ref().map(|s| s.user.email.clone()).unwrap_or_default());

    view! {
        <header class="page-header">
            <div class="title-row">
                <h1>{title}</h1>
                <ConnectionStatus state=connection polling=polling stopped=stopped />
            </div>
            <p class="subtitle" data-testid="refresh-subtitle">
                <span>"Manage token redemptions and track settlement status"</span>
                <span class="sep" aria-hidden="true">" · "</span>
                <span>{subtitle}</span>
                <span class="sep" aria-hidden="true">" · "</span>
                <span class="updated" data-testid="last-updated">{updated}</span>
                <span class="refreshing" class:visible=move || refreshing.get() aria-hidden="true">
                    " ⟳"
                </span>
            </p>
            <nav class="nav" aria-label="Main">
                <A href="/">"Requests"</A>
                <Show when=move || !is_admin()>
                    <A href="/redemptions/new">"New request"</A>
                </Show>
                <Show when=is_admin>
                    <A href="/approvals">"Approvals"</A>
                </Show>
                {on_refresh.map(|on_refresh| view! {
                    <button class="button secondary" on:click=move |_| on_refresh.run(())>"Refresh"</button>
                })}
                <span class="who">{email}</span>
                <button class="button secondary" data-testid="sign-out" on:click=move |_| {
                    let token = session.with_untracked(|s| s.as_ref().map(|s| s.access_token.clone()));
                    let config = api.config();
                    if let Some(token) = token {
                        leptos::task::spawn_local(async move { crate::api::sign_out(&config, &token).await });
                    }
                    crate::app::sign_out_locally(api, None);
                }>"Sign out"</button>
            </nav>
        </header>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subtitle_tells_the_truth() {
        let config = AppConfig::default();
        assert_eq!(
            refresh_subtitle(&config, &ConnectionState::Live, false),
            "Auto-refresh: 5s • Realtime connected"
        );
        assert_eq!(
            refresh_subtitle(
                &config,
                &ConnectionState::Reconnecting {
                    attempt: 2,
                    retry_at: 0
                },
                false
            ),
            "Auto-refresh: 5s • Background polling active"
        );
        let off = AppConfig {
            refresh_interval_ms: 0,
            ..AppConfig::default()
        };
        assert_eq!(
            refresh_subtitle(&off, &ConnectionState::Failed("x".into()), false),
            "Auto-refresh: off • Realtime unavailable"
        );
    }
}
