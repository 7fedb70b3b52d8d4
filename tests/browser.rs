//! Browser tests (wasm-bindgen-test in headless Chromium): components and browser adapters.

#![cfg(target_arch = "wasm32")]

use std::collections::HashSet;
use std::time::Duration;

use dashboard_core::connection::{ConnectionConfig, ConnectionState};
use dashboard_core::model::{Redemption, RedemptionStatus, Timestamp};
use leptos::prelude::*;
use leptos_router::components::Router;
use redemption_dashboard::components::connection_status::ConnectionStatus;
use redemption_dashboard::components::redemptions_table::RedemptionsTable;
use redemption_dashboard::realtime::Realtime;
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn container() -> web_sys::HtmlElement {
    let document = document();
    let element = document.create_element("div").unwrap();
    document.body().unwrap().append_child(&element).unwrap();
    element.unchecked_into()
}

async fn settle() {
    gloo_timers::future::sleep(Duration::from_millis(30)).await;
}

fn text_of(root: &web_sys::HtmlElement, selector: &str) -> String {
    root.query_selector(selector)
        .unwrap()
        .map(|element| element.text_content().unwrap_or_default())
        .unwrap_or_default()
}

#[wasm_bindgen_test]
async fn indicator_says_live_polling_offline_and_paused() {
    let root = container();
    let state = RwSignal::new(ConnectionState::Live);
    let polling = RwSignal::new(true);
    let _handle = leptos::mount::mount_to(root.clone(), move || {
        view! { <ConnectionStatus state=state polling=polling /> }
    });
    settle().await;
    let selector = "[data-testid=connection-status]";
    assert_eq!(text_of(&root, selector), "Live");
    let element = root.query_selector(selector).unwrap().unwrap();
    assert_eq!(element.get_attribute("role").as_deref(), Some("status"));
    assert!(element
        .get_attribute("title")
        .unwrap()
        .contains("Realtime connected"));

    state.set(ConnectionState::Reconnecting {
        attempt: 3,
        retry_at: 0,
    });
    settle().await;
    assert_eq!(text_of(&root, selector), "Polling");
    assert!(root
        .query_selector(selector)
        .unwrap()
        .unwrap()
        .get_attribute("title")
        .unwrap()
        .contains("attempt 3"));

    state.set(ConnectionState::Offline);
    settle().await;
    assert_eq!(text_of(&root, selector), "Offline");

    state.set(ConnectionState::Failed("refused".into()));
    polling.set(false);
    settle().await;
    assert_eq!(text_of(&root, selector), "Paused");
}

fn rows(count: usize) -> Vec<Redemption> {
    (0..count)
        .map(|index| Redemption {
            id: format!("{index:08}-0000-4000-8000-000000000000"),
            token_symbol: "MTF".into(),
            token_amount: index as f64,
            usdc_value: index as f64 * 1.25,
            status: RedemptionStatus::ALL[index % 8].clone(),
            version: Some(1),
            created_at: Some(Timestamp(index as i64 * 1_000_000)),
            ..Redemption::default()
        })
        .collect()
}

fn now() -> f64 {
    window().performance().unwrap().now()
}

/// Yields to the microtask queue (where Leptos runs its effects) until `done` holds; returns the
/// milliseconds since `started`.
async fn time_until(started: f64, done: impl Fn() -> bool) -> f64 {
    for _ in 0..10_000 {
        if done() {
            return now() - started;
        }
        let promise = js_sys::Promise::resolve(&wasm_bindgen::JsValue::NULL);
        let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
    }
    panic!("the DOM never caught up");
}

/// 10,000 rows: the table shows one page, and changing one row replaces that row's element
/// only. The timings are printed for the closing note; they are not asserted.
#[wasm_bindgen_test]
async fn ten_thousand_rows_and_one_change_rerenders_one_row() {
    let root = container();
    let data = RwSignal::new(Vec::<Redemption>::new());
    let flashed = RwSignal::new(HashSet::<String>::new());
    let _handle = leptos::mount::mount_to(root.clone(), move || {
        view! { <Router><RedemptionsTable rows=data flashed=flashed loading=false /></Router> }
    });
    settle().await;

    let row_selector = "[data-testid=redemption-row]";
    let started = now();
    data.set(rows(10_000));
    let render_ms = time_until(started, || {
        root.query_selector_all(row_selector).unwrap().length() == 25
    })
    .await;
    settle().await;
    assert_eq!(root.query_selector_all(row_selector).unwrap().length(), 25);
    assert_eq!(text_of(&root, "[data-testid=row-count]"), "10000 requests");

    // Newest first: the first row is the last created.
    let first = root.query_selector(row_selector).unwrap().unwrap();
    let second = root
        .query_selector_all(row_selector)
        .unwrap()
        .item(1)
        .unwrap();
    let first_id = first.get_attribute("data-id").unwrap();
    let started = now();
    data.update(|rows| {
        let row = rows.iter_mut().find(|row| row.id == first_id).unwrap();
        row.status = RedemptionStatus::Settled;
        row.version = Some(2);
    });
    let change_ms = time_until(started, || {
        root.query_selector(row_selector)
            .unwrap()
            .and_then(|row| row.get_attribute("data-status"))
            .as_deref()
            == Some("settled")
    })
    .await;
    settle().await;
    let first_after = root.query_selector(row_selector).unwrap().unwrap();
    let second_after = root
        .query_selector_all(row_selector)
        .unwrap()
        .item(1)
        .unwrap();
    assert_eq!(
        first_after.get_attribute("data-status").as_deref(),
        Some("settled")
    );
    assert!(
        !first_after.is_same_node(Some(&first)),
        "the changed row is re-rendered"
    );
    assert!(
        second_after.is_same_node(Some(&second)),
        "other rows keep their elements"
    );
    web_sys::console::log_1(
        &format!(
            "BENCH table (debug build): 10000 rows to first page in DOM {render_ms:.1} ms; one row change to DOM {change_ms:.1} ms"
        )
        .into(),
    );
}

/// The Realtime adapter against a port nobody listens on: it reports the failure and schedules
/// a jittered reconnect instead of panicking or spinning.
#[wasm_bindgen_test]
async fn realtime_adapter_reports_reconnecting_when_refused() {
    let owner = Owner::new();
    owner.set();
    let realtime = Realtime::new(
        "ws://127.0.0.1:9/realtime/v1/websocket?apikey=x&vsn=1.0.0".into(),
        ConnectionConfig::default(),
    );
    realtime.set_access_token(Some("token".into()), None);
    let _topic = realtime.subscribe("redemption_requests", None, |_| {});
    let mut state = realtime.state.get_untracked();
    for _ in 0..100 {
        if matches!(state, ConnectionState::Reconnecting { .. }) {
            break;
        }
        gloo_timers::future::sleep(Duration::from_millis(20)).await;
        state = realtime.state.get_untracked();
    }
    let ConnectionState::Reconnecting { attempt, retry_at } = state else {
        panic!("expected Reconnecting, got {state:?}");
    };
    assert_eq!(attempt, 1);
    assert!(
        retry_at as f64 <= now() + 1_000.0,
        "first retry within about a second"
    );
    realtime.disconnect();
    assert_eq!(realtime.state.get_untracked(), ConnectionState::Idle);
}
