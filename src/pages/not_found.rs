//! The page for unknown addresses.

use leptos::prelude::*;
use leptos_router::components::A;

/// "Not found" with a way back.
#[component]
pub fn NotFound() -> impl IntoView {
    view! {
        <section class="card narrow">
            <h1>"Page not found"</h1>
            <p>"There is nothing at this address."</p>
            <A href="/">"Back to your requests"</A>
        </section>
    }
}
