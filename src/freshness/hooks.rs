//! The public hooks, in the leptos-use shape: `use_x(args)`, `use_x_with_options(args,
//! UseXOptions)`, and a `UseXReturn` of signals.

use std::collections::HashSet;
use std::rc::Rc;

use dashboard_core::connection::ConnectionState;
use dashboard_core::model::{Approval, Redemption, RedemptionStatus};
use dashboard_core::query::Query;
use dashboard_core::scheduler::PollOptions;
use leptos::prelude::*;

use super::entry::{Drive, Entry, EntrySettings, EntrySignals, Row};
use super::QueryCache;
use crate::api::{Api, ApiError};
use crate::config::AppConfig;

/// How a resource stays fresh. Entries are shared per query key, so the first component to
/// mount a key decides its options.
#[derive(Debug, Clone, PartialEq)]
pub struct UseRedemptionsOptions {
    /// Apply Realtime changes as they happen. Defaults to `true`.
    pub enable_realtime: bool,
    /// Refetch in the background. Defaults to `true`.
    pub background_refresh: bool,
    /// How often to refetch in the background, in ms. Defaults to 5 000.
    pub background_refresh_interval_ms: u64,
    /// Keep refetching while the page is hidden. Defaults to `false`.
    pub refresh_when_hidden: bool,
    /// Adaptive mode: while Realtime is live and healthy, refetch only this often (ms); back to
    /// the base interval the moment it is not. Defaults to `None` (off).
    pub adaptive_live_interval_ms: Option<u64>,
}

impl Default for UseRedemptionsOptions {
    fn default() -> Self {
        Self {
            enable_realtime: true,
            background_refresh: true,
            background_refresh_interval_ms: 5_000,
            refresh_when_hidden: false,
            adaptive_live_interval_ms: None,
        }
    }
}

impl UseRedemptionsOptions {
    /// The options the runtime configuration asks for.
    pub fn from_config(config: &AppConfig) -> Self {
        Self {
            enable_realtime: config.enable_realtime,
            background_refresh: config.refresh_interval_ms > 0,
            background_refresh_interval_ms: config.refresh_interval_ms.max(250),
            refresh_when_hidden: false,
            adaptive_live_interval_ms: config.live_refresh_interval_ms,
        }
    }

    fn poll(&self) -> PollOptions {
        PollOptions {
            interval_ms: self
                .background_refresh
                .then_some(self.background_refresh_interval_ms),
            refresh_when_hidden: self.refresh_when_hidden,
            live_interval_ms: self.adaptive_live_interval_ms,
            ..PollOptions::default()
        }
    }
}

/// Fetch now, whatever the timers say. Cheap to copy.
#[derive(Clone, Copy)]
pub struct Refetch(StoredValue<Option<Rc<dyn Drive>>, LocalStorage>);

impl Refetch {
    /// Starts a fetch now (or right after the one in flight).
    pub fn run(&self) {
        if let Some(driver) = self.0.try_get_value().flatten() {
            driver.refetch();
        }
    }
}

/// The signals every resource returns.
pub struct QuerySignals<T: Send + Sync + 'static> {
    /// The rows, in server order with Realtime inserts first.
    pub rows: Signal<Vec<T>>,
    /// True until the first fetch settles.
    pub is_loading: Signal<bool>,
    /// True while any fetch is in flight.
    pub is_refreshing: Signal<bool>,
    /// The last fetch error; cleared by the next success. Rows stay as they were.
    pub error: Signal<Option<ApiError>>,
    /// When data last changed or was confirmed (ms since the epoch).
    pub last_updated: Signal<Option<i64>>,
    /// True while Realtime is live.
    pub realtime_connected: Signal<bool>,
    /// The full Realtime connection state.
    pub connection: Signal<ConnectionState>,
    /// Ids changed by Realtime in the last two seconds (for highlighting).
    pub flashed: Signal<HashSet<String>>,
    /// True once polling stopped for good (final status reached).
    pub stopped: Signal<bool>,
    /// Fetch now.
    pub refetch: Refetch,
}

impl<T: Send + Sync + 'static> Clone for QuerySignals<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T: Send + Sync + 'static> Copy for QuerySignals<T> {}

/// Mounts the entry for `query` (creating it on first use) and follows key changes.
fn use_query<T: Row + Clone>(
    query: Signal<Query>,
    realtime: bool,
    poll: PollOptions,
    stop_when: Option<fn(&[T]) -> bool>,
) -> QuerySignals<T> {
    let cache = expect_context::<QueryCache>();
    let settings = EntrySettings {
        poll,
        realtime,
        stop_when,
    };
    let mount = {
        let settings = settings.clone();
        move |query: Query| -> Rc<Entry<T>> {
            let entry = cache.entry(query, settings.clone());
            entry.mount();
            entry
        }
    };
    let first = mount(query.get_untracked());
    let current_signals = RwSignal::new(first.signals);
    let current: StoredValue<Option<Rc<Entry<T>>>, LocalStorage> =
        StoredValue::new_local(Some(first.clone()));
    let driver: StoredValue<Option<Rc<dyn Drive>>, LocalStorage> =
        StoredValue::new_local(Some(first as Rc<dyn Drive>));

    // Talks to the shared entries (outside the reactive graph) when the key changes.
    Effect::new(move |previous: Option<String>| {
        let query = query.get();
        let key = query.key();
        if previous.is_some_and(|previous| previous != key) {
            let next = mount(query);
            let old = current.try_update_value(|slot| slot.replace(next.clone()));
            if let Some(Some(old)) = old {
                old.unmount();
            }
            driver.set_value(Some(next.clone() as Rc<dyn Drive>));
            current_signals.set(next.signals);
        }
        key
    });
    on_cleanup(move || {
        if let Some(Some(entry)) = current.try_update_value(Option::take) {
            entry.unmount();
        }
    });

    let connection = cache.connection_state();
    let pick = move |read: fn(&EntrySignals<T>) -> bool| {
        Signal::derive(move || read(&current_signals.get()))
    };
    QuerySignals {
        rows: Signal::derive(move || current_signals.get().rows.get()),
        is_loading: pick(|s| s.is_loading.get()),
        is_refreshing: pick(|s| s.is_refreshing.get()),
        error: Signal::derive(move || current_signals.get().error.get()),
        last_updated: Signal::derive(move || current_signals.get().last_updated.get()),
        realtime_connected: Signal::derive(move || realtime && connection.get().is_live()),
        connection,
        flashed: Signal::derive(move || current_signals.get().flashed.get()),
        stopped: pick(|s| s.stopped.get()),
        refetch: Refetch(driver),
    }
}

impl QueryCache {
    /// The entry for `query`, created with `settings` if new.
    fn entry<T: Row + Clone>(&self, query: Query, settings: EntrySettings<T>) -> Rc<Entry<T>> {
        let inner = self.inner.get_value();
        let key = format!("{}#{}", std::any::type_name::<T>(), query.key());
        let existing = inner
            .entries
            .borrow()
            .get(&key)
            .cloned()
            .and_then(|any| any.downcast::<Entry<T>>().ok());
        if let Some(entry) = existing {
            return entry;
        }
        let entry = Entry::new(&inner, query.key(), query, settings);
        inner
            .entries
            .borrow_mut()
            .insert(key.clone(), entry.clone() as Rc<dyn std::any::Any>);
        inner
            .drivers
            .borrow_mut()
            .insert(key, entry.clone() as Rc<dyn Drive>);
        entry
    }
}

/// What [`use_redemptions`] returns.
pub type UseRedemptionsReturn = QuerySignals<Redemption>;

/// The redemptions a query selects (the signed-in investor's own, or all for admins), kept fresh
/// by Realtime and a 5 s background refetch.
pub fn use_redemptions(query: impl Into<Signal<Query>>) -> UseRedemptionsReturn {
    use_redemptions_with_options(query, UseRedemptionsOptions::default())
}

/// [`use_redemptions`] with options.
pub fn use_redemptions_with_options(
    query: impl Into<Signal<Query>>,
    options: UseRedemptionsOptions,
) -> UseRedemptionsReturn {
    use_query(query.into(), options.enable_realtime, options.poll(), None)
}

/// Options of [`use_redemption_status`] (the same knobs).
pub type UseRedemptionStatusOptions = UseRedemptionsOptions;

/// What [`use_redemption_status`] returns.
#[derive(Clone, Copy)]
pub struct UseRedemptionStatusReturn {
    /// The request, with its approvals embedded; `None` until loaded or when not visible to you.
    pub redemption: Signal<Option<Redemption>>,
    /// Shared resource signals (loading, error, last updated, connection, refetch, ...).
    pub resource: QuerySignals<Redemption>,
    /// True once the status is final and live updates stopped.
    pub live_updates_stopped: Signal<bool>,
}

/// The query for one request with its approvals embedded.
pub fn redemption_by_id(id: &str) -> Query {
    Query::table("redemption_requests")
        .select("*,redemption_approvals(*)")
        .eq("id", id)
}

fn reached_final_status(rows: &[Redemption]) -> bool {
    rows.first().is_some_and(|row| row.status.is_terminal())
}

/// One request, followed until it reaches a final status (`settled`, `rejected`, `cancelled`,
/// `failed`); then polling stops and its channel is left.
pub fn use_redemption_status(id: impl Into<Signal<String>>) -> UseRedemptionStatusReturn {
    use_redemption_status_with_options(id, UseRedemptionStatusOptions::default())
}

/// [`use_redemption_status`] with options.
pub fn use_redemption_status_with_options(
    id: impl Into<Signal<String>>,
    options: UseRedemptionStatusOptions,
) -> UseRedemptionStatusReturn {
    let id = id.into();
    let query = Signal::derive(move || redemption_by_id(&id.get()));
    let resource = use_query(
        query,
        options.enable_realtime,
        options.poll(),
        Some(reached_final_status),
    );
    UseRedemptionStatusReturn {
        redemption: Signal::derive(move || resource.rows.with(|rows| rows.first().cloned())),
        resource,
        live_updates_stopped: resource.stopped,
    }
}

/// Totals for the approval queue.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ApprovalMetrics {
    /// Requests waiting for decisions.
    pub pending: usize,
    /// Approvals still needed across pending requests.
    pub approvals_waiting: i64,
    /// Pending requests the current admin has not decided on.
    pub awaiting_me: usize,
    /// Requests approved (not yet settled) or later.
    pub approved: usize,
    /// Requests rejected.
    pub rejected: usize,
}

/// Computes [`ApprovalMetrics`] for `admin_id`.
pub fn approval_metrics(rows: &[Redemption], admin_id: &str) -> ApprovalMetrics {
    let mut metrics = ApprovalMetrics::default();
    for row in rows {
        match row.status {
            RedemptionStatus::Pending => {
                metrics.pending += 1;
                metrics.approvals_waiting += (row.required_approvals - row.approval_count).max(0);
                let decided = row
                    .redemption_approvals
                    .as_ref()
                    .is_some_and(|list| list.iter().any(|a| a.admin_id == admin_id));
                if !decided {
                    metrics.awaiting_me += 1;
                }
            }
            RedemptionStatus::Approved
            | RedemptionStatus::Processing
            | RedemptionStatus::Settled => metrics.approved += 1,
            RedemptionStatus::Rejected => metrics.rejected += 1,
            _ => {}
        }
    }
    metrics
}

/// An admin's decision: `(redemption id, approve?, reason)`.
pub type Decision = (String, bool, Option<String>);

/// What [`use_redemption_approvals`] returns.
#[derive(Clone, Copy)]
pub struct UseRedemptionApprovalsReturn {
    /// Every request with its approvals embedded, newest first.
    pub requests: Signal<Vec<Redemption>>,
    /// Shared resource signals.
    pub resource: QuerySignals<Redemption>,
    /// Queue totals for the signed-in admin.
    pub metrics: Signal<ApprovalMetrics>,
    /// Approve or reject one request; refetches on success.
    pub decide: Action<Decision, Result<Redemption, ApiError>>,
}

/// The admin approval queue: requests with their approvals, kept fresh, plus decide actions.
pub fn use_redemption_approvals() -> UseRedemptionApprovalsReturn {
    use_redemption_approvals_with_options(UseRedemptionsOptions::default())
}

/// [`use_redemption_approvals`] with options.
pub fn use_redemption_approvals_with_options(
    options: UseRedemptionsOptions,
) -> UseRedemptionApprovalsReturn {
    let api = expect_context::<Api>();
    let query = Query::table("redemption_requests")
        .select("*,redemption_approvals(*)")
        .order("created_at", false);
    let resource = use_query(
        Signal::stored(query),
        options.enable_realtime,
        options.poll(),
        None,
    );
    let admin_id = Signal::derive(move || {
        api.session()
            .with(|session| session.as_ref().map(|s| s.user.id.clone()))
            .unwrap_or_default()
    });
    let metrics = Signal::derive(move || {
        resource
            .rows
            .with(|rows| approval_metrics(rows, &admin_id.get()))
    });
    let refetch = resource.refetch;
    let decide = Action::new_local(move |(id, approve, reason): &Decision| {
        let (id, approve, reason) = (id.clone(), *approve, reason.clone());
        async move {
            let result = api.decide(&id, approve, reason).await;
            refetch.run();
            result
        }
    });
    UseRedemptionApprovalsReturn {
        requests: resource.rows,
        resource,
        metrics,
        decide,
    }
}

/// The approvals of one request (standalone, for views that do not embed them).
pub fn use_approvals_of(redemption_id: impl Into<Signal<String>>) -> QuerySignals<Approval> {
    let id = redemption_id.into();
    let query = Signal::derive(move || {
        Query::table("redemption_approvals")
            .eq("redemption_id", id.get())
            .order("created_at", true)
    });
    let options = UseRedemptionsOptions::default();
    use_query(query, options.enable_realtime, options.poll(), None)
}
