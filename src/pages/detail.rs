//! `/redemptions/:id`: one request's timeline, approval progress and settlement, live until its
//! status is final.

use dashboard_core::format;
use dashboard_core::model::{Redemption, RedemptionStatus};
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::hooks::use_params_map;

use super::signed_in;
use crate::api::Api;
use crate::components::header::Header;
use crate::components::status_badge::StatusBadge;
use crate::components::toast::Toasts;
use crate::freshness::{use_redemption_status_with_options, QueryCache, UseRedemptionsOptions};

/// The detail page.
#[component]
pub fn DetailPage() -> impl IntoView {
    signed_in(|_| view! { <RedemptionDetail /> })
}

#[component]
fn RedemptionDetail() -> impl IntoView {
    let api = expect_context::<Api>();
    let params = use_params_map();
    let id = Signal::derive(move || params.with(|p| p.get("id").unwrap_or_default()));
    let options = UseRedemptionsOptions::from_config(&api.config());
    let status = use_redemption_status_with_options(id, options);
    let resource = status.resource;
    let refetch = resource.refetch;

    view! {
        <Header
            title="Redemption request"
            connection=resource.connection
            last_updated=resource.last_updated
            refreshing=resource.is_refreshing
            on_refresh=Callback::new(move |_| refetch.run())
            stopped=status.live_updates_stopped
        />
        <Show when=move || resource.error.with(Option::is_some)>
            <div class="banner banner-error" role="alert">
                {move || resource.error.get().map(|e| e.to_string()).unwrap_or_default()}
            </div>
        </Show>
        {move || match (status.redemption.get(), resource.is_loading.get()) {
            (Some(redemption), _) => view! {
                <RequestCard redemption=redemption stopped=status.live_updates_stopped />
            }.into_any(),
            (None, true) => view! {
                <section class="card" aria-busy="true"><span class="skeleton tall"></span></section>
            }.into_any(),
            (None, false) => view! {
                <section class="card"><p>"This request does not exist, or you do not have access to it."</p></section>
            }.into_any(),
        }}
    }
}

#[component]
fn RequestCard(redemption: Redemption, #[prop(into)] stopped: Signal<bool>) -> impl IntoView {
    let api = expect_context::<Api>();
    let toasts = expect_context::<Toasts>();
    let cache = expect_context::<QueryCache>();
    let can_cancel = redemption.status == RedemptionStatus::Pending
        && api.session().with_untracked(|s| {
            s.as_ref()
                .is_some_and(|s| s.user.id == redemption.investor_id)
        });
    let cancelling = RwSignal::new(false);
    let cancel = {
        let id = redemption.id.clone();
        move |_| {
            if cancelling.get_untracked() {
                return;
            }
            cancelling.set(true);
            let id = id.clone();
            spawn_local(async move {
                match api.cancel_redemption(&id).await {
                    Ok(_) => {
                        toasts.success("Request cancelled; the tokens are back in your holding.")
                    }
                    Err(error) => toasts.error(error.to_string()),
                }
                cancelling.set(false);
                cache.refetch_all();
            });
        }
    };
    let approvals = redemption.redemption_approvals.clone().unwrap_or_default();
    let progress = format!(
        "{} of {} approvals",
        redemption.approval_count, redemption.required_approvals
    );
    let percent = if redemption.required_approvals > 0 {
        (redemption.approval_count as f64 / redemption.required_approvals as f64 * 100.0).min(100.0)
    } else {
        0.0
    };
    let status = redemption.status.clone();

    view! {
        <section class="card detail" data-testid="redemption-detail" data-status=redemption.status.as_str().to_string()>
            <div class="detail-head">
                <h2 class="mono">{redemption.short_id().to_string()}</h2>
                <StatusBadge status=status />
                <span class="live-note" data-testid="live-note">
                    {move || if stopped.get() {
                        "Final status: live updates stopped."
                    } else {
                        "Following live."
                    }}
                </span>
            </div>
            <dl class="facts">
                <dt>"Tokens"</dt><dd>{format::grouped(redemption.token_amount, 2)}" "{redemption.token_symbol.clone()}</dd>
                <dt>"USDC value"</dt><dd>{format::usdc(redemption.usdc_value)}</dd>
                <dt>"Type"</dt><dd>{redemption.redemption_type.as_str().to_string()}</dd>
                <dt>"Destination"</dt><dd class="mono wrap">{redemption.destination_wallet.clone()}</dd>
                {redemption.notes.clone().map(|notes| view! { <dt>"Note"</dt><dd>{notes}</dd> })}
                {redemption.rejection_reason.clone().map(|reason| view! { <dt>"Rejection reason"</dt><dd data-testid="rejection-reason">{reason}</dd> })}
                {redemption.settlement_tx_hash.clone().map(|hash| view! {
                    <dt>"Settlement transaction"</dt><dd class="mono wrap" data-testid="settlement-hash">{hash}</dd>
                })}
            </dl>
            <h3>"Approvals"</h3>
            <p data-testid="approval-progress">{progress}</p>
            <div class="progress" role="progressbar" aria-valuemin="0" aria-valuemax="100"
                aria-valuenow=percent.round().to_string()>
                <span style=format!("width: {percent:.0}%")></span>
            </div>
            <ul class="approvals">
                {approvals.into_iter().map(|approval| view! {
                    <li>
                        <strong>{approval.admin_email.clone().unwrap_or_else(|| approval.admin_id.clone())}</strong>
                        " " {approval.decision.clone()}
                        {approval.reason.clone().map(|r| view! { <span>": "{r}</span> })}
                        <span class="muted">" · "{approval.created_at.map(|t| t.to_utc_string()).unwrap_or_default()}</span>
                    </li>
                }).collect_view()}
            </ul>
            <h3>"Timeline"</h3>
            <ol class="timeline" data-testid="timeline">
                {redemption.status_history.iter().map(|change| view! {
                    <li>
                        <span class=format!("dot badge-{}", change.status.as_str())></span>
                        <strong>{change.status.label()}</strong>
                        <span class="muted">" "{change.at.map(|t| format!("{} UTC", t.to_utc_string())).unwrap_or_default()}</span>
                    </li>
                }).collect_view()}
            </ol>
            {can_cancel.then(|| view! {
                <button class="button danger" data-testid="cancel-request" on:click=cancel
                    disabled=move || cancelling.get()>"Cancel request"</button>
            })}
        </section>
    }
}
