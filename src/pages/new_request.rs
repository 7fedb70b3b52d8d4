//! The new-request form: pick a holding, enter an amount and a wallet, see the USDC estimate.

use dashboard_core::format;
use dashboard_core::model::Distribution;
use dashboard_core::query::Query;
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::hooks::use_navigate;

use super::signed_in;
use crate::api::{Api, NewRedemption};
use crate::components::toast::Toasts;
use crate::freshness::QueryCache;

/// What is wrong with the form, field by field.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FormErrors {
    /// Holding not chosen.
    pub holding: Option<String>,
    /// Amount missing, not positive, or over the balance.
    pub amount: Option<String>,
    /// Wallet not an address.
    pub wallet: Option<String>,
}

impl FormErrors {
    /// True when there is nothing to fix.
    pub fn is_empty(&self) -> bool {
        self.holding.is_none() && self.amount.is_none() && self.wallet.is_none()
    }
}

/// Validates the form against the chosen holding.
pub fn validate(holding: Option<&Distribution>, amount: &str, wallet: &str) -> FormErrors {
    let mut errors = FormErrors::default();
    match holding {
        None => errors.holding = Some("Choose a holding to redeem from.".into()),
        Some(holding) => match amount.trim().parse::<f64>() {
            Err(_) => errors.amount = Some("Enter an amount of tokens.".into()),
            Ok(value) if !value.is_finite() || value <= 0.0 => {
                errors.amount = Some("The amount must be more than zero.".into())
            }
            Ok(value) if value > holding.remaining_balance + 1e-9 => {
                errors.amount = Some(format!(
                    "At most {} {} remain in this holding.",
                    format::grouped(holding.remaining_balance, 2),
                    holding.token_symbol
                ))
            }
            Ok(_) => {}
        },
    }
    if !format::is_wallet_address(wallet.trim()) {
        errors.wallet = Some("Enter a wallet address: 0x followed by 40 hex digits.".into());
    }
    errors
}

fn new_id() -> String {
    let mut bytes = [0u8; 16];
    for byte in &mut bytes {
        *byte = (js_sys::Math::random() * 256.0) as u8;
    }
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// `/redemptions/new`.
#[component]
pub fn NewRequestPage() -> impl IntoView {
    signed_in(|_| view! { <NewRequestForm /> })
}

#[component]
fn NewRequestForm() -> impl IntoView {
    let api = expect_context::<Api>();
    let toasts = expect_context::<Toasts>();
    let cache = expect_context::<QueryCache>();
    let navigate = use_navigate();

    let holdings = LocalResource::new(move || async move {
        let query = Query::table("distributions").order("fund_name", true);
        api.select::<Distribution>(&query, None).await
    });
    let holding_id = RwSignal::new(String::new());
    let amount = RwSignal::new(String::new());
    let wallet = RwSignal::new(String::new());
    let kind = RwSignal::new("standard".to_string());
    let notes = RwSignal::new(String::new());
    let touched = RwSignal::new(false);
    let submitting = RwSignal::new(false);
    // One id per form: a double submit (or a retry after a lost response) creates one request.
    let request_id = StoredValue::new(new_id());

    let selected = Memo::new(move |_| {
        let id = holding_id.get();
        holdings
            .get()
            .and_then(|result| result.ok())
            .and_then(|list| list.into_iter().find(|h| h.id == id))
    });
    let errors =
        Memo::new(move |_| validate(selected.get().as_ref(), &amount.get(), &wallet.get()));
    let estimate = move || {
        let rate = selected.get().map(|h| h.conversion_rate).unwrap_or(0.0);
        let tokens = amount.get().trim().parse::<f64>().unwrap_or(0.0);
        format::usdc((tokens * rate).max(0.0))
    };
    let show = move |pick: fn(&FormErrors) -> Option<String>| {
        move || touched.get().then(|| errors.with(pick)).flatten()
    };

    let submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        touched.set(true);
        if !errors.with_untracked(FormErrors::is_empty) || submitting.get_untracked() {
            return;
        }
        submitting.set(true);
        let body = NewRedemption {
            id: request_id.get_value(),
            distribution_id: holding_id.get_untracked(),
            token_amount: amount.get_untracked().trim().parse().unwrap_or(0.0),
            destination_wallet: wallet.get_untracked().trim().to_string(),
            redemption_type: kind.get_untracked(),
            notes: Some(notes.get_untracked()).filter(|n| !n.trim().is_empty()),
        };
        let navigate = navigate.clone();
        spawn_local(async move {
            match api.create_redemption(&body).await {
                Ok(created) => {
                    toasts.success("Redemption requested.");
                    cache.refetch_all();
                    navigate(&format!("/redemptions/{}", created.id), Default::default());
                }
                Err(crate::api::ApiError::Conflict(_)) => {
                    // The same id again: the first submit went through.
                    toasts.success("Redemption requested.");
                    cache.refetch_all();
                    navigate(&format!("/redemptions/{}", body.id), Default::default());
                }
                Err(error) => {
                    toasts.error(error.to_string());
                    submitting.set(false);
                }
            }
        });
    };

    view! {
        <header class="page-header">
            <div class="title-row"><h1>"New redemption request"</h1></div>
            <nav class="nav"><leptos_router::components::A href="/">"Back to requests"</leptos_router::components::A></nav>
        </header>
        <section class="card narrow">
            <form on:submit=submit novalidate data-testid="new-request-form">
                <label for="holding">"Holding"</label>
                <select id="holding" data-testid="holding" on:change=move |e| holding_id.set(event_target_value(&e))
                    aria-invalid=move || show(|e| e.holding.clone())().is_some().to_string()>
                    <option value="">"Choose a holding"</option>
                    <Suspense fallback=|| view! { <option disabled=true>"Loading…"</option> }>
                        {move || holdings.get().map(|result| match result {
                            Ok(list) => list.into_iter().filter(|h| h.remaining_balance > 0.0).map(|h| {
                                let label = format!("{} ({}): {} remaining @ {}", h.fund_name, h.token_symbol,
                                    format::grouped(h.remaining_balance, 2), format::usdc(h.conversion_rate));
                                view! { <option value=h.id.clone()>{label}</option> }
                            }).collect_view().into_any(),
                            Err(error) => view! { <option disabled=true>{error.to_string()}</option> }.into_any(),
                        })}
                    </Suspense>
                </select>
                <p class="field-error" role="alert" data-testid="holding-error">{show(|e| e.holding.clone())}</p>

                <label for="amount">"Token amount"</label>
                <input id="amount" inputmode="decimal" data-testid="amount" prop:value=amount
                    on:input=move |e| amount.set(event_target_value(&e))
                    aria-invalid=move || show(|e| e.amount.clone())().is_some().to_string() />
                <p class="field-error" role="alert" data-testid="amount-error">{show(|e| e.amount.clone())}</p>
                <p class="estimate">"Estimated USDC: "<strong data-testid="usdc-estimate">{estimate}</strong></p>

                <label for="wallet">"Destination wallet"</label>
                <input id="wallet" class="mono" placeholder="0x…" data-testid="wallet" prop:value=wallet
                    on:input=move |e| wallet.set(event_target_value(&e))
                    aria-invalid=move || show(|e| e.wallet.clone())().is_some().to_string() />
                <p class="field-error" role="alert" data-testid="wallet-error">{show(|e| e.wallet.clone())}</p>

                <label for="kind">"Type"</label>
                <select id="kind" data-testid="type" on:change=move |e| kind.set(event_target_value(&e))>
                    <option value="standard">"Standard"</option>
                    <option value="interval">"Interval (next redemption window)"</option>
                </select>

                <label for="notes">"Note (optional)"</label>
                <textarea id="notes" rows="2" prop:value=notes on:input=move |e| notes.set(event_target_value(&e))></textarea>

                <button class="button primary" type="submit" data-testid="submit-request"
                    disabled=move || submitting.get()>
                    {move || if submitting.get() { "Submitting…" } else { "Request redemption" }}
                </button>
            </form>
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_messages() {
        let holding = Distribution {
            id: "h".into(),
            remaining_balance: 100.0,
            token_symbol: "MTF".into(),
            conversion_rate: 1.25,
            ..Distribution::default()
        };
        let wallet = "0x52908400098527886E0F7030069857D2E4169EE7";
        assert!(validate(Some(&holding), "40", wallet).is_empty());
        assert!(validate(Some(&holding), "100.5", wallet).amount.is_some());
        assert!(validate(Some(&holding), "0", wallet).amount.is_some());
        assert!(validate(Some(&holding), "abc", wallet).amount.is_some());
        assert!(validate(Some(&holding), "1", "0x12").wallet.is_some());
        assert!(validate(None, "1", wallet).holding.is_some());
    }
}
