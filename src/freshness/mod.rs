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

use crate::api::Api;
use crate::page_events::PageEvents;
use crate::realtime::Realtime;

pub use entry::{DebugRow, Row};
pub use hooks::*;

pub use crate::page_events::page_visible;

struct CacheInner {
    api: Api,
    realtime: Option<Realtime>,
    owner: Owner,
    entries: RefCell<HashMap<String, Rc<dyn Any>>>,
    drivers: RefCell<HashMap<String, Rc<dyn entry::Drive>>>,
    page_events: RefCell<Option<PageEvents>>,
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
            page_events: RefCell::new(None),
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
    let drivers_of = |weak: std::rc::Weak<CacheInner>| {
        move || -> Vec<Rc<dyn entry::Drive>> {
            weak.upgrade()
                .map(|inner| inner.drivers.borrow().values().cloned().collect())
                .unwrap_or_default()
        }
    };
    let visible_drivers = drivers_of(Rc::downgrade(inner));
    let online_drivers = drivers_of(Rc::downgrade(inner));
    let events = PageEvents::listen(
        move |visible| {
            for driver in visible_drivers() {
                driver.set_visible(visible);
            }
        },
        move |online| {
            tracing::info!(online, "network state changed");
            for driver in online_drivers() {
                driver.set_online(online);
            }
        },
    );
    *inner.page_events.borrow_mut() = Some(events);
}

/// Milliseconds on the monotonic clock (re-exported for the hooks).
fn now() -> Millis {
    crate::clock::now()
}
