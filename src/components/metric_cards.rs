//! Metric cards: requests per status, USDC waiting to settle, approvals waiting.

use dashboard_core::format;
use dashboard_core::model::{Redemption, RedemptionStatus};
use leptos::prelude::*;

/// Totals over a list of requests.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Totals {
    /// Count per known status, in lifecycle order.
    pub per_status: Vec<(RedemptionStatus, usize)>,
    /// USDC of approved and processing requests.
    pub usdc_to_settle: f64,
    /// Approvals still needed across pending requests.
    pub approvals_waiting: i64,
}

/// Computes [`Totals`].
pub fn totals(rows: &[Redemption]) -> Totals {
    let mut per_status: Vec<(RedemptionStatus, usize)> = RedemptionStatus::ALL
        .iter()
        .map(|s| (s.clone(), 0))
        .collect();
    let mut usdc_to_settle = 0.0;
    let mut approvals_waiting = 0;
    for row in rows {
        if let Some(slot) = per_status
            .iter_mut()
            .find(|(status, _)| *status == row.status)
        {
            slot.1 += 1;
        }
        if row.status.awaits_settlement() {
            usdc_to_settle += row.usdc_value;
        }
        if row.status == RedemptionStatus::Pending {
            approvals_waiting += (row.required_approvals - row.approval_count).max(0);
        }
    }
    Totals {
        per_status,
        usdc_to_settle,
        approvals_waiting,
    }
}

/// The cards.
#[component]
pub fn MetricCards(#[prop(into)] rows: Signal<Vec<Redemption>>) -> impl IntoView {
    let totals = Memo::new(move |_| rows.with(|rows| totals(rows)));
    view! {
        <section class="metrics" aria-label="Summary">
            <div class="metric">
                <span class="metric-label">"USDC waiting to settle"</span>
                <span class="metric-value" data-testid="metric-usdc">
                    {move || format::usdc(totals.with(|t| t.usdc_to_settle))}
                </span>
            </div>
            <div class="metric">
                <span class="metric-label">"Approvals waiting"</span>
                <span class="metric-value" data-testid="metric-approvals">
                    {move || totals.with(|t| t.approvals_waiting)}
                </span>
            </div>
            <div class="metric metric-wide">
                <span class="metric-label">"Requests by status"</span>
                <ul class="status-counts">
                    {move || totals.with(|t| t.per_status.iter().filter(|(_, n)| *n > 0).map(|(status, count)| {
                        let label = status.label();
                        let class = format!("count badge-{}", status.as_str());
                        view! { <li class=class>{label}": "<strong>{*count}</strong></li> }
                    }).collect_view())}
                </ul>
            </div>
        </section>
    }
}
