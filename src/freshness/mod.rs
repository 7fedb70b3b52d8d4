//! The freshness hooks: `use_redemptions`, `use_redemption_status` and
//! `use_redemption_approvals`, each combining a Realtime subscription with an interval refetch.
//!
//! A [`QueryCache`] in context holds one entry per query key. The entry owns the core
//! [`Scheduler`] (when to fetch) and [`RowSet`] (how to merge), one timer, one Realtime channel
//! and the signals the views read; every component mounted on the key shares it, so ten
//! components cost the same requests as one. This module only wires browser events, timers and
//! signals to that sans-IO core.

mod entry;
mod hooks;

use std::any::Any;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use dashboard_core::connection::ConnectionState;
use dashboard_core::Millis;
use leptos::prelude::*;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;

use crate::api::Api;
use crate::realtime::Realtime;

pub use entry::{DebugRow, Row};
pub use hooks::*;

/// True when the page is visible (or when visibility cannot be read).
pub fn page_visible() -> bool {
    web_sys::window()
        .and_then(|window| window.document())
        .map(|document| document.visibility_state() != web_sys::VisibilityState::Hidden)
        .unwrap_or(true)
}

struct CacheInner {
    api: Api,
    realtime: Option<Realtime>,
    owner: Owner,
    entries: RefCell<HashMap<String, Rc<dyn Any>>>,
    drivers: RefCell<HashMap<String, Rc<dyn entry::Drive>>>,
    _page_handlers: RefCell<Vec<Closure<dyn FnMut(web_sys::Event)>>>,
}

/// The shared store of query entries. Cheap to copy; provided in context by the app.
#[derive(Clone, Copy)]
pub struct QueryCache {
    inner: StoredValue<Rc<CacheInner>, LocalStorage>,
}

impl QueryCache {
    /// A cache fetching through `api` and, when given, listening through `realtime`. Signals of
    /// entries belong to the current owner, so they outlive the components that use them.
    pub fn new(api: Api, realtime: Option<Realtime>) -> Self {
        let inner = Rc::new(CacheInner {
            api,
            realtime,
            owner: Owner::current().unwrap_or_default(),
            entries: RefCell::new(HashMap::new()),
            drivers: RefCell::new(HashMap::new()),
            _page_handlers: RefCell::new(Vec::new()),
        });
        attach_page_events(&inner);
        let cache = Self {
            inner: StoredValue::new_local(inner),
        };
        if let Some(realtime) = cache.inner.get_value().realtime {
            // Talks to the schedulers (outside the reactive graph): the adaptive interval
            // follows the connection.
            Effect::new(move |_| {
                let live = realtime.state.get().is_live();
                cache.each_driver(|driver| driver.set_realtime_live(live));
            });
        }
        cache
    }

    fn each_driver(&self, mut apply: impl FnMut(&dyn entry::Drive)) {
        let Some(inner) = self.inner.try_get_value() else {
            return;
        };
        let drivers: Vec<Rc<dyn entry::Drive>> = inner.drivers.borrow().values().cloned().collect();
        for driver in drivers {
            apply(driver.as_ref());
        }
    }

    /// Fetch now on every key (after a write, say).
    pub fn refetch_all(&self) {
        self.each_driver(|driver| driver.refetch());
    }

    /// State of every key, for the debug panel.
    pub fn debug_rows(&self) -> Vec<DebugRow> {
        let mut rows = Vec::new();
        self.each_driver(|driver| rows.push(driver.debug_row()));
        rows.sort_by(|a, b| a.key.cmp(&b.key));
        rows
    }

    /// The Realtime state, or `Idle` when Realtime is off.
    pub fn connection_state(&self) -> Signal<ConnectionState> {
        match self.inner.try_get_value().and_then(|inner| inner.realtime) {
            Some(realtime) => realtime.state.into(),
            None => Signal::derive(|| ConnectionState::Idle),
        }
    }

    /// Forgets every entry (sign-out): aborts requests and leaves channels.
    pub fn clear(&self) {
        if let Some(inner) = self.inner.try_get_value() {
            let drivers: Vec<Rc<dyn entry::Drive>> =
                inner.drivers.borrow_mut().drain().map(|(_, d)| d).collect();
            inner.entries.borrow_mut().clear();
            for driver in drivers {
                driver.shutdown();
            }
        }
    }
}

fn attach_page_events(inner: &Rc<CacheInner>) {
    let Some(window) = web_sys::window() else {
        return;
    };
    let mut handlers = Vec::new();
    let weak = Rc::downgrade(inner);
    let on_visibility = Closure::<dyn FnMut(web_sys::Event)>::new(move |_: web_sys::Event| {
        if let Some(inner) = weak.upgrade() {
            let visible = page_visible();
            let drivers: Vec<_> = inner.drivers.borrow().values().cloned().collect();
            for driver in drivers {
                driver.set_visible(visible);
            }
        }
    });
    if let Some(document) = window.document() {
        let _ = document.add_event_listener_with_callback(
            "visibilitychange",
            on_visibility.as_ref().unchecked_ref(),
        );
    }
    handlers.push(on_visibility);
    for (event, online) in [("online", true), ("offline", false)] {
        let weak = Rc::downgrade(inner);
        let handler = Closure::<dyn FnMut(web_sys::Event)>::new(move |_: web_sys::Event| {
            if let Some(inner) = weak.upgrade() {
                tracing::info!(online, "network state changed");
                let drivers: Vec<_> = inner.drivers.borrow().values().cloned().collect();
                for driver in drivers {
                    driver.set_online(online);
                }
            }
        });
        let _ = window.add_event_listener_with_callback(event, handler.as_ref().unchecked_ref());
        handlers.push(handler);
    }
    *inner._page_handlers.borrow_mut() = handlers;
}

/// Milliseconds on the monotonic clock (re-exported for the hooks).
fn now() -> Millis {
    crate::clock::now()
}
