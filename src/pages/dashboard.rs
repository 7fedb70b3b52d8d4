//! The redemption dashboard: header with the live indicator, metric cards and the requests table.

use dashboard_core::query::Query;
use leptos::prelude::*;

use super::signed_in;
use crate::api::Api;
use crate::components::debug_panel::{debug_requested, DebugPanel};
use crate::components::header::Header;
use crate::components::metric_cards::MetricCards;
use crate::components::redemptions_table::RedemptionsTable;
use crate::freshness::{use_redemptions_with_options, UseRedemptionsOptions};

/// The query behind the dashboard: every request the user may see (row-level security scopes an
/// investor to their own), newest first.
pub fn dashboard_query() -> Query {
    Query::table("redemption_requests").order("created_at", false)
}

/// `/`: the user's redemption requests (all of them for admins).
#[component]
pub fn DashboardPage() -> impl IntoView {
    signed_in(|session| view! { <RedemptionDashboard is_admin=session.is_admin() /> })
}

/// The dashboard body.
#[component]
pub fn RedemptionDashboard(is_admin: bool) -> impl IntoView {
    let api = expect_context::<Api>();
    let options = UseRedemptionsOptions::from_config(&api.config());
    let resource = use_redemptions_with_options(dashboard_query(), options);
    let refetch = resource.refetch;
    let title = if is_admin {
        "All redemption requests"
    } else {
        "My redemptions"
    };

    view! {
        <Header
            title=title
            connection=resource.connection
            last_updated=resource.last_updated
            refreshing=resource.is_refreshing
            on_refresh=Callback::new(move |_| refetch.run())
        />
        <Show when=move || resource.error.with(Option::is_some)>
            <div class="banner banner-error" role="alert" data-testid="resource-error">
                {move || resource.error.get().map(|e| e.to_string()).unwrap_or_default()}
                " Showing the last data we received."
            </div>
        </Show>
        <MetricCards rows=resource.rows />
        <RedemptionsTable rows=resource.rows flashed=resource.flashed loading=resource.is_loading />
        {debug_requested().then(|| view! { <DebugPanel /> })}
    }
}
