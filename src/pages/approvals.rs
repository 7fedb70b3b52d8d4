//! `/approvals`: the admin approval queue with threshold progress, approve, reject with a
//! reason, bulk approve and history. Investors never reach it: the route is guarded here and the
//! server refuses their decisions anyway.

use std::collections::HashSet;

use dashboard_core::format;
use dashboard_core::model::{Redemption, RedemptionStatus};
use leptos::prelude::*;
use leptos_router::components::A;

use super::signed_in;
use crate::api::Api;
use crate::components::debug_panel::{debug_requested, DebugPanel};
use crate::components::header::Header;
use crate::components::status_badge::StatusBadge;
use crate::components::toast::Toasts;
use crate::freshness::{use_redemption_approvals_with_options, UseRedemptionsOptions};

/// The route; admins only.
#[component]
pub fn ApprovalsPage() -> impl IntoView {
    signed_in(|session| {
        if session.is_admin() {
            view! { <ApprovalQueue admin_id=session.user.id.clone() /> }.into_any()
        } else {
            view! {
                <section class="card narrow" data-testid="forbidden">
                    <h1>"Admins only"</h1>
                    <p>"The approval queue is for administrators."</p>
                    <A href="/">"Back to your requests"</A>
                </section>
            }
            .into_any()
        }
    })
}

/// Re-renders a row when its version or its embedded approvals change.
fn row_key(row: &Redemption) -> (String, Option<i64>, usize) {
    let approvals = row.redemption_approvals.as_ref().map_or(0, Vec::len);
    (row.id.clone(), row.version, approvals)
}

fn decided_by(row: &Redemption, admin_id: &str) -> bool {
    row.redemption_approvals
        .as_ref()
        .is_some_and(|list| list.iter().any(|a| a.admin_id == admin_id))
}

#[component]
fn ApprovalQueue(admin_id: String) -> impl IntoView {
    let api = expect_context::<Api>();
    let toasts = expect_context::<Toasts>();
    let options = UseRedemptionsOptions::from_config(&api.config());
    let queue = use_redemption_approvals_with_options(options);
    let resource = queue.resource;
    let refetch = resource.refetch;
    let admin_id = StoredValue::new(admin_id);
    let selected = RwSignal::new(HashSet::<String>::new());
    let rejecting = RwSignal::new(None::<String>);
    let reason = RwSignal::new(String::new());
    let reason_error = RwSignal::new(None::<String>);

    let pending = Memo::new(move |_| {
        queue.requests.with(|rows| {
            rows.iter()
                .filter(|r| r.status == RedemptionStatus::Pending)
                .cloned()
                .collect::<Vec<_>>()
        })
    });
    let history = Memo::new(move |_| {
        queue.requests.with(|rows| {
            rows.iter()
                .filter(|r| {
                    r.redemption_approvals
                        .as_ref()
                        .is_some_and(|a| !a.is_empty())
                })
                .filter(|r| r.status != RedemptionStatus::Pending)
                .take(25)
                .cloned()
                .collect::<Vec<_>>()
        })
    });

    // Reports each decision's outcome as a toast.
    let decide = queue.decide;
    Effect::new(move |_| {
        if let Some(result) = decide.value().get() {
            match result {
                Ok(row) => toasts.success(format!(
                    "Request {} is now {}.",
                    row.short_id(),
                    row.status.label().to_lowercase()
                )),
                Err(error) => toasts.error(error.to_string()),
            }
        }
    });

    let approve = move |id: String| {
        decide.dispatch((id, true, None));
    };
    let bulk_approve = move |_| {
        let ids: Vec<String> = selected.get_untracked().into_iter().collect();
        selected.set(HashSet::new());
        for id in ids {
            decide.dispatch((id, true, None));
        }
    };
    let confirm_reject = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let text = reason.get_untracked();
        if text.trim().is_empty() {
            reason_error.set(Some("A reason is required to reject.".into()));
            return;
        }
        if let Some(id) = rejecting.get_untracked() {
            decide.dispatch((id, false, Some(text.trim().to_string())));
        }
        rejecting.set(None);
        reason.set(String::new());
        reason_error.set(None);
    };

    view! {
        <Header
            title="Approval queue"
            connection=resource.connection
            last_updated=resource.last_updated
            refreshing=resource.is_refreshing
            on_refresh=Callback::new(move |_| refetch.run())
        />
        <section class="metrics" aria-label="Queue summary">
            <div class="metric"><span class="metric-label">"Pending"</span>
                <span class="metric-value" data-testid="queue-pending">{move || queue.metrics.get().pending}</span></div>
            <div class="metric"><span class="metric-label">"Approvals waiting"</span>
                <span class="metric-value">{move || queue.metrics.get().approvals_waiting}</span></div>
            <div class="metric"><span class="metric-label">"Awaiting you"</span>
                <span class="metric-value" data-testid="queue-awaiting-me">{move || queue.metrics.get().awaiting_me}</span></div>
        </section>
        <Show when=move || resource.error.with(Option::is_some)>
            <div class="banner banner-error" role="alert">
                {move || resource.error.get().map(|e| e.to_string()).unwrap_or_default()}
            </div>
        </Show>
        <section class="card" aria-label="Pending requests">
            <div class="toolbar">
                <h2>"Pending"</h2>
                <button class="button primary" data-testid="bulk-approve"
                    disabled=move || selected.with(HashSet::is_empty) || decide.pending().get()
                    on:click=bulk_approve>
                    {move || format!("Approve selected ({})", selected.with(HashSet::len))}
                </button>
            </div>
            <div class="table-wrap">
            <table class="requests" data-testid="approval-queue">
                <thead><tr>
                    <th scope="col"><span class="sr-only">"Select"</span></th>
                    <th scope="col">"Request"</th><th scope="col">"Tokens"</th><th scope="col">"USDC"</th>
                    <th scope="col">"Approvals"</th><th scope="col">"Actions"</th>
                </tr></thead>
                <tbody>
                    <Show when=move || !resource.is_loading.get() && pending.with(Vec::is_empty)>
                        <tr><td colspan="6" class="empty">"Nothing waiting for approval."</td></tr>
                    </Show>
                    <For each=move || pending.get() key=row_key let:row>
                        {
                            let id = row.id.clone();
                            let mine = decided_by(&row, &admin_id.get_value());
                            let (id_select, id_approve, id_reject) = (id.clone(), id.clone(), id.clone());
                            let progress = format!("{} of {}", row.approval_count, row.required_approvals);
                            let short_id = row.short_id().to_string();
                            view! {
                                <tr data-testid="queue-row" data-id=id.clone()>
                                    <td><input type="checkbox" aria-label=format!("Select {}", row.short_id())
                                        disabled=mine
                                        prop:checked=move || selected.with(|s| s.contains(&id_select))
                                        on:change={let id = id.clone(); move |_| selected.update(|s| {
                                            if !s.remove(&id) { s.insert(id.clone()); }
                                        })} /></td>
                                    <td class="mono"><A href=format!("/redemptions/{id}")>{short_id.clone()}</A></td>
                                    <td class="num" data-label="Tokens">{format::grouped(row.token_amount, 2)}" "{row.token_symbol.clone()}</td>
                                    <td class="num" data-label="USDC">{format::usdc(row.usdc_value)}</td>
                                    <td data-testid="queue-progress" data-label="Approvals">{progress}</td>
                                    <td class="actions">
                                        {if mine {
                                            view! { <span class="muted" data-testid="already-decided">"You approved"</span> }.into_any()
                                        } else {
                                            view! {
                                                <button class="button primary small" data-testid="approve"
                                                    disabled=move || decide.pending().get()
                                                    on:click=move |_| approve(id_approve.clone())>"Approve"</button>
                                                <button class="button danger small" data-testid="reject"
                                                    on:click=move |_| { rejecting.set(Some(id_reject.clone())); reason_error.set(None); }>"Reject"</button>
                                            }.into_any()
                                        }}
                                    </td>
                                </tr>
                            }
                        }
                    </For>
                </tbody>
            </table>
            </div>
        </section>
        <Show when=move || rejecting.with(Option::is_some)>
            <div class="dialog-backdrop">
                <form class="card dialog" role="dialog" aria-modal="true" aria-labelledby="reject-title"
                    on:submit=confirm_reject data-testid="reject-dialog">
                    <h2 id="reject-title">"Reject request"</h2>
                    <label for="reason">"Reason (shown to the investor)"</label>
                    <textarea id="reason" rows="3" data-testid="reject-reason" prop:value=reason
                        on:input=move |e| reason.set(event_target_value(&e))></textarea>
                    <p class="field-error" role="alert">{move || reason_error.get()}</p>
                    <div class="dialog-actions">
                        <button type="button" class="button secondary" on:click=move |_| rejecting.set(None)>"Keep"</button>
                        <button type="submit" class="button danger" data-testid="confirm-reject">"Reject"</button>
                    </div>
                </form>
            </div>
        </Show>
        <section class="card" aria-label="Decision history">
            <h2>"History"</h2>
            <ul class="history" data-testid="history">
                <For each=move || history.get() key=|row| (row.id.clone(), row.version) let:row>
                    <HistoryItem row=row />
                </For>
            </ul>
        </section>
        {debug_requested().then(|| view! { <DebugPanel /> })}
    }
}

/// One decided request in the history list.
#[component]
fn HistoryItem(row: Redemption) -> impl IntoView {
    let href = format!("/redemptions/{}", row.id);
    let short_id = row.short_id().to_string();
    let decisions = row
        .redemption_approvals
        .clone()
        .unwrap_or_default()
        .iter()
        .map(|a| {
            format!(
                "{} {}{}",
                a.admin_email.clone().unwrap_or_default(),
                a.decision,
                a.reason
                    .as_ref()
                    .map(|r| format!(" ({r})"))
                    .unwrap_or_default()
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    view! {
        <li>
            <A href=href>{short_id}</A>
            " "
            <StatusBadge status=row.status.clone() />
            " "
            {decisions}
        </li>
    }
}
