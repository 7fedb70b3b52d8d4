//! One module per page.

pub mod approvals;
pub mod dashboard;
pub mod detail;
pub mod login;
pub mod new_request;
pub mod not_found;

use leptos::prelude::*;
use leptos_router::components::Redirect;

use crate::api::Api;
use crate::session::Session;

/// Renders `view` with the session when signed in; redirects to `/login` otherwise.
pub fn signed_in<V: IntoView + 'static>(
    view: impl Fn(Session) -> V + Send + Sync + 'static,
) -> impl IntoView {
    let api = expect_context::<Api>();
    let session = api.session();
    move || match session.get() {
        Some(session) => view(session).into_any(),
        None => view! { <Redirect path="/login" /> }.into_any(),
    }
}
