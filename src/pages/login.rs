//! Sign-in with email and password.

use leptos::prelude::*;
use leptos_router::components::Redirect;

use crate::api::{self, Api};

/// The sign-in form; signed-in users go straight to the dashboard.
#[component]
pub fn LoginPage() -> impl IntoView {
    let api = expect_context::<Api>();
    let session = api.session();
    let email = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);

    let sign_in = Action::new_local(move |(email, password): &(String, String)| {
        let (email, password) = (email.clone(), password.clone());
        async move {
            match api::sign_in(&api.config(), email.trim(), &password).await {
                Ok(fresh) => {
                    error.set(None);
                    session.set(Some(fresh));
                }
                Err(failure) => error.set(Some(failure.to_string())),
            }
        }
    });
    let pending = sign_in.pending();
    let submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        if email.with(|e| e.trim().is_empty()) || password.with(String::is_empty) {
            error.set(Some("Enter your email and password.".into()));
            return;
        }
        if !pending.get_untracked() {
            sign_in.dispatch((email.get_untracked(), password.get_untracked()));
        }
    };

    view! {
        <Show when=move || session.with(Option::is_some)>
            <Redirect path="/" />
        </Show>
        <section class="card narrow login">
            <h1>"Token redemptions"</h1>
            <p class="muted">"Sign in to follow your redemption requests."</p>
            <form on:submit=submit novalidate>
                <label for="email">"Email"</label>
                <input id="email" name="email" type="email" autocomplete="username" required
                    data-testid="email"
                    prop:value=email on:input=move |e| email.set(event_target_value(&e)) />
                <label for="password">"Password"</label>
                <input id="password" name="password" type="password" autocomplete="current-password"
                    required data-testid="password"
                    prop:value=password on:input=move |e| password.set(event_target_value(&e)) />
                <Show when=move || error.with(Option::is_some)>
                    <p class="form-error" role="alert" data-testid="login-error">
                        {move || error.get().unwrap_or_default()}
                    </p>
                </Show>
                <button class="button primary" type="submit" data-testid="sign-in"
                    disabled=move || pending.get()>
                    {move || if pending.get() { "Signing in…" } else { "Sign in" }}
                </button>
            </form>
            <details class="demo-accounts">
                <summary>"Demo accounts"</summary>
                <p>"investor1@demo.local, investor2@demo.local, investor3@demo.local, admin1@demo.local, admin2@demo.local — password "<code>"demo-password"</code></p>
            </details>
        </section>
    }
}
