//! A coloured badge for a redemption status.

use dashboard_core::model::RedemptionStatus;
use leptos::prelude::*;

/// The status as a badge; unknown statuses show their raw text in a neutral colour.
#[component]
pub fn StatusBadge(#[prop(into)] status: Signal<RedemptionStatus>) -> impl IntoView {
    let class = move || {
        let name = match status.get() {
            RedemptionStatus::Unknown(_) => "unknown".to_string(),
            known => known.as_str().to_string(),
        };
        format!("badge badge-{name}")
    };
    view! {
        <span class=class data-testid="status-badge">
            {move || status.get().label()}
        </span>
    }
}
