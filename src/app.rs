//! The root component: loads the runtime configuration, provides the session, the API, the
//! Realtime client and the query cache through context, and routes to the pages.

use dashboard_core::connection::ConnectionConfig;
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::components::{Route, Router, Routes};
use leptos_router::path;

use crate::api::{self, Api};
use crate::components::toast::{ToastHost, Toasts};
use crate::config::AppConfig;
use crate::freshness::QueryCache;
use crate::pages::{
    approvals::ApprovalsPage, dashboard::DashboardPage, detail::DetailPage, login::LoginPage,
    new_request::NewRequestPage, not_found::NotFound,
};
use crate::realtime::Realtime;
use crate::session::Session;

/// The app: waits for `config.json`, then renders the shell.
#[component]
pub fn App() -> impl IntoView {
    let config = LocalResource::new(AppConfig::load);

    view! {
        <Suspense fallback=|| view! { <div class="boot" aria-busy="true">"Loading…"</div> }>
            {move || config.get().map(|config| view! { <Shell config=config /> })}
        </Suspense>
    }
}

/// Everything below the configuration: contexts, session upkeep and routes.
#[component]
fn Shell(config: AppConfig) -> impl IntoView {
    let session = RwSignal::new(Session::load());
    let api = Api::new(config.clone(), session);
    let realtime = config
        .enable_realtime
        .then(|| Realtime::new(config.realtime_url(), ConnectionConfig::default()));
    let cache = QueryCache::new(api, realtime);
    let toasts = Toasts::new();
    provide_context(api);
    provide_context(cache);
    provide_context(toasts);
    if let Some(realtime) = realtime {
        provide_context(realtime);
        realtime.on_refresh_token(move || refresh_now(api));
        // Before any page subscribes, so the first joins already carry the user's token.
        if let Some(session) = session.get_untracked() {
            realtime.set_access_token(Some(session.access_token), Some(session.expires_at_ms));
        }
    }

    // Keeps the Realtime token and the stored session in step with the session signal.
    Effect::new(move |_| {
        let current = session.get();
        match &current {
            Some(session) => session.store(),
            None => Session::clear(),
        }
        if let Some(realtime) = realtime {
            match current {
                Some(session) => realtime
                    .set_access_token(Some(session.access_token), Some(session.expires_at_ms)),
                None => realtime.disconnect(),
            }
        }
    });
    // Refreshes the session a minute before it expires, also without Realtime.
    Effect::new(move |_| {
        let Some(expires_at) = session.with(|s| s.as_ref().map(|s| s.expires_at_ms)) else {
            return;
        };
        let delay = (expires_at - 60_000 - crate::clock::wall_ms()).max(0);
        gloo_timers::callback::Timeout::new(delay.min(i64::from(i32::MAX)) as u32, move || {
            refresh_now(api)
        })
        .forget();
    });

    view! {
        <Router>
            <ToastHost />
            <main class="app">
                <Routes fallback=NotFound>
                    <Route path=path!("/") view=DashboardPage />
                    <Route path=path!("/login") view=LoginPage />
                    <Route path=path!("/redemptions/new") view=NewRequestPage />
                    <Route path=path!("/redemptions/:id") view=DetailPage />
                    <Route path=path!("/approvals") view=ApprovalsPage />
                </Routes>
            </main>
        </Router>
    }
}

/// Exchanges the refresh token now; on failure the user is signed out with a message.
pub fn refresh_now(api: Api) {
    let session = api.session();
    let Some(refresh_token) =
        session.with_untracked(|s| s.as_ref().map(|s| s.refresh_token.clone()))
    else {
        return;
    };
    spawn_local(async move {
        match api::refresh_session(&api.config(), &refresh_token).await {
            Ok(fresh) => session.set(Some(fresh)),
            Err(error) if error.is_transient() => {
                tracing::warn!("session refresh failed, will retry: {error}");
            }
            Err(error) => {
                tracing::error!("session refresh refused: {error}");
                sign_out_locally(api, Some(error.to_string()));
            }
        }
    });
}

/// A request was refused as unauthorized: refresh the session once; sign out if that fails.
pub fn session_expired(api: Api) {
    refresh_now(api);
}

/// Forgets the session, stops every resource and shows the sign-in page.
pub fn sign_out_locally(api: Api, message: Option<String>) {
    if let Some(cache) = use_context::<QueryCache>() {
        cache.clear();
    }
    if let (Some(message), Some(toasts)) = (message, use_context::<Toasts>()) {
        toasts.error(message);
    }
    api.session().set(None);
}
