//! One query key's shared state: its scheduler, rows, timer, channel and signals.

use std::cell::{Cell, RefCell};
use std::collections::HashSet;
use std::rc::{Rc, Weak};

use dashboard_core::codec::{Change, ChangeKind};
use dashboard_core::connection::ConnectionState;
use dashboard_core::merge::{RowSet, Versioned};
use dashboard_core::model::Redemption;
use dashboard_core::query::Query;
use dashboard_core::scheduler::{FetchReason, PollOptions, Scheduler, SchedulerAction};
use dashboard_core::Millis;
use gloo_timers::callback::Timeout;
use leptos::prelude::*;
use leptos::task::spawn_local;
use serde::de::DeserializeOwned;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;
use web_sys::AbortController;

use super::{now, CacheInner};
use crate::api::{Api, ApiError};
use crate::realtime::{ChannelEvent, Realtime};

/// A row type the hooks can keep fresh.
pub trait Row: Versioned + DeserializeOwned + Send + Sync + 'static {
    /// Keeps data a Realtime record lacks (embedded relations) from the version it replaces.
    /// Returns true when it did, so the caller can refresh the embedded data.
    fn carry_over(&mut self, _previous: &Self) -> bool {
        false
    }
}

impl Row for Redemption {
    fn carry_over(&mut self, previous: &Self) -> bool {
        if self.redemption_approvals.is_some() || previous.redemption_approvals.is_none() {
            return false;
        }
        self.redemption_approvals = previous.redemption_approvals.clone();
        // Approval rows come and go only with a decision: an approval moves the count, a
        // rejection moves the status to rejected. Settlement steps leave them alone.
        self.approval_count != previous.approval_count
            || (self.status != previous.status
                && self.status == dashboard_core::model::RedemptionStatus::Rejected)
    }
}

impl Row for dashboard_core::model::Approval {}
impl Row for dashboard_core::model::Distribution {}

/// One line of the debug panel.
#[derive(Debug, Clone, PartialEq)]
pub struct DebugRow {
    /// The query key.
    pub key: String,
    /// Components mounted on it.
    pub subscribers: usize,
    /// Last successful fetch (ms ago).
    pub last_fetch_ago_ms: Option<Millis>,
    /// A fetch is in flight.
    pub in_flight: bool,
    /// Next fetch due in (ms), if armed.
    pub next_fetch_in_ms: Option<Millis>,
    /// Requests started.
    pub requests: u64,
    /// Realtime events applied.
    pub events: u64,
    /// Realtime subscribed for this key.
    pub subscribed: bool,
    /// Polling stopped for good (final status).
    pub stopped: bool,
}

/// What the cache needs from an entry without knowing its row type.
pub trait Drive {
    fn set_visible(&self, visible: bool);
    fn set_online(&self, online: bool);
    fn set_realtime_live(&self, live: bool);
    fn refetch(&self);
    fn debug_row(&self) -> DebugRow;
    fn shutdown(&self);
}

/// The signals of one key; `Copy`, so hooks hand them out freely.
pub struct EntrySignals<T: Send + Sync + 'static> {
    pub rows: RwSignal<Vec<T>>,
    pub is_loading: RwSignal<bool>,
    pub is_refreshing: RwSignal<bool>,
    pub error: RwSignal<Option<ApiError>>,
    pub last_updated: RwSignal<Option<i64>>,
    pub flashed: RwSignal<HashSet<String>>,
    pub stopped: RwSignal<bool>,
}

impl<T: Send + Sync + 'static> Clone for EntrySignals<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T: Send + Sync + 'static> Copy for EntrySignals<T> {}

/// Settings an entry is created with (from the first hook that mounts the key).
#[derive(Clone)]
pub struct EntrySettings<T> {
    pub poll: PollOptions,
    pub realtime: bool,
    /// Stop polling and leave the channel once this holds (final status).
    pub stop_when: Option<fn(&[T]) -> bool>,
}

pub struct Entry<T: Row> {
    key: String,
    query: Query,
    api: Api,
    realtime: Option<Realtime>,
    settings: EntrySettings<T>,
    scheduler: RefCell<Scheduler>,
    rows: RefCell<RowSet<T>>,
    pub signals: EntrySignals<T>,
    timer: RefCell<Option<Timeout>>,
    in_flight: RefCell<Option<(u64, AbortController)>>,
    topic: RefCell<Option<String>>,
    pending_changes: RefCell<Vec<Change>>,
    frame_requested: Cell<bool>,
    requests: Cell<u64>,
    events: Cell<u64>,
    subscribed: Cell<bool>,
    me: RefCell<Weak<Entry<T>>>,
    cache: Weak<CacheInner>,
}

impl<T: Row + Clone> Entry<T> {
    pub(super) fn new(
        cache: &Rc<CacheInner>,
        key: String,
        query: Query,
        settings: EntrySettings<T>,
    ) -> Rc<Self> {
        let signals = cache.owner.with(|| EntrySignals {
            rows: RwSignal::new(Vec::new()),
            is_loading: RwSignal::new(true),
            is_refreshing: RwSignal::new(false),
            error: RwSignal::new(None),
            last_updated: RwSignal::new(None),
            flashed: RwSignal::new(HashSet::new()),
            stopped: RwSignal::new(false),
        });
        let mut scheduler = Scheduler::new(settings.poll.clone(), crate::clock::seed());
        scheduler.set_visible(now(), super::page_visible());
        let entry = Rc::new(Self {
            key,
            query,
            api: cache.api,
            realtime: if settings.realtime {
                cache.realtime
            } else {
                None
            },
            settings,
            scheduler: RefCell::new(scheduler),
            rows: RefCell::new(RowSet::new()),
            signals,
            timer: RefCell::new(None),
            in_flight: RefCell::new(None),
            topic: RefCell::new(None),
            pending_changes: RefCell::new(Vec::new()),
            frame_requested: Cell::new(false),
            requests: Cell::new(0),
            events: Cell::new(0),
            subscribed: Cell::new(false),
            me: RefCell::new(Weak::new()),
            cache: Rc::downgrade(cache),
        });
        *entry.me.borrow_mut() = Rc::downgrade(&entry);
        if let Some(realtime) = entry.realtime {
            let live = realtime.state.get_untracked().is_live();
            entry.scheduler.borrow_mut().set_realtime_live(now(), live);
        }
        entry
    }

    fn weak(&self) -> Weak<Self> {
        self.me.borrow().clone()
    }

    /// A component started using the key.
    pub fn mount(&self) {
        let first = self.scheduler.borrow().snapshot().subscribers == 0;
        self.scheduler.borrow_mut().mount(now());
        if first && !self.signals.stopped.get_untracked() {
            self.join_channel();
        }
        self.drive();
    }

    /// A component stopped using the key.
    pub fn unmount(&self) {
        self.scheduler.borrow_mut().unmount();
        if self.scheduler.borrow().snapshot().subscribers == 0 {
            self.leave_channel();
        }
        self.drive();
    }

    fn join_channel(&self) {
        let Some(realtime) = self.realtime else {
            return;
        };
        if self.topic.borrow().is_some() {
            return;
        }
        let weak = self.weak();
        let topic = realtime.subscribe(
            &self.query.table,
            self.query.realtime_filter(),
            move |event| {
                if let Some(entry) = weak.upgrade() {
                    entry.on_channel_event(event);
                }
            },
        );
        *self.topic.borrow_mut() = Some(topic);
    }

    fn leave_channel(&self) {
        if let (Some(realtime), Some(topic)) = (self.realtime, self.topic.borrow_mut().take()) {
            realtime.unsubscribe(&topic);
        }
        self.subscribed.set(false);
    }

    fn on_channel_event(&self, event: ChannelEvent) {
        match event {
            ChannelEvent::Subscribed => {
                tracing::debug!(key = %self.key, "subscribed; catching up");
                self.subscribed.set(true);
                self.scheduler.borrow_mut().subscribed(now());
                self.drive();
            }
            ChannelEvent::Change(change) => {
                tracing::trace!(key = %self.key, "change received");
                self.pending_changes.borrow_mut().push(change);
                self.schedule_flush();
            }
        }
    }

    /// Changes that arrive within one animation frame are applied as one update. A hidden page
    /// gets no frames, so there the batch is flushed on a zero timeout instead.
    fn schedule_flush(&self) {
        if self.frame_requested.replace(true) {
            return;
        }
        let weak = self.weak();
        let flush = move || {
            if let Some(entry) = weak.upgrade() {
                entry.frame_requested.set(false);
                entry.flush_changes();
            }
        };
        let window = web_sys::window();
        let requested = match (&window, super::page_visible()) {
            (Some(window), true) => {
                let callback = Closure::once_into_js(flush.clone());
                window
                    .request_animation_frame(callback.unchecked_ref())
                    .is_ok()
            }
            _ => false,
        };
        if !requested {
            Timeout::new(0, flush).forget();
        }
    }

    fn flush_changes(&self) {
        let changes: Vec<Change> = std::mem::take(&mut *self.pending_changes.borrow_mut());
        if changes.is_empty() {
            return;
        }
        let mut changed = Vec::new();
        let mut refresh_embedded = false;
        {
            let mut rows = self.rows.borrow_mut();
            for change in changes {
                self.events.set(self.events.get() + 1);
                if !change.errors.is_empty() {
                    // The record is incomplete (e.g. too large): fetch it instead.
                    refresh_embedded = true;
                    continue;
                }
                match change.kind {
                    ChangeKind::Insert | ChangeKind::Update => {
                        let Some(record) = change.record else {
                            continue;
                        };
                        let belongs = self.query.matches(&record);
                        let Ok(mut row) = serde_json::from_value::<T>(record) else {
                            tracing::warn!(key = %self.key, "a change record did not parse; refetching");
                            refresh_embedded = true;
                            continue;
                        };
                        if let Some(previous) = rows.get(row.id()) {
                            refresh_embedded |= row.carry_over(previous);
                        } else if self.query.select.contains('(') {
                            refresh_embedded = true;
                        }
                        changed.extend(rows.apply_upsert(row, belongs).changed);
                    }
                    ChangeKind::Delete => {
                        let id = change
                            .old_record
                            .as_ref()
                            .and_then(|old| old.get("id"))
                            .and_then(|id| id.as_str())
                            .map(str::to_string);
                        if let Some(id) = id {
                            changed.extend(rows.apply_delete(&id).changed);
                        }
                    }
                    ChangeKind::Unknown(_) => {}
                }
            }
        }
        if !changed.is_empty() {
            self.publish_rows();
            self.signals.last_updated.set(Some(crate::clock::wall_ms()));
            self.flash(changed);
        }
        if refresh_embedded {
            self.scheduler.borrow_mut().refetch(now());
        }
        self.check_stop();
        self.drive();
    }

    fn flash(&self, ids: Vec<String>) {
        let ids: Vec<String> = ids.into_iter().filter(|id| !id.is_empty()).collect();
        if ids.is_empty() {
            return;
        }
        let flashed = self.signals.flashed;
        flashed.update(|set| set.extend(ids.iter().cloned()));
        Timeout::new(2_000, move || {
            let _ = flashed.try_update(|set| {
                for id in &ids {
                    set.remove(id);
                }
            });
        })
        .forget();
    }

    fn publish_rows(&self) {
        let rows = self.rows.borrow().rows();
        // Compare before set: unchanged data causes no re-render.
        if self.signals.rows.with_untracked(|current| current != &rows) {
            self.signals.rows.set(rows);
        }
    }

    fn check_stop(&self) {
        let Some(stop_when) = self.settings.stop_when else {
            return;
        };
        if self.signals.stopped.get_untracked() {
            return;
        }
        let done = self.signals.rows.with_untracked(|rows| stop_when(rows));
        if done {
            tracing::info!(key = %self.key, "final status reached; live updates stopped");
            self.scheduler.borrow_mut().stop();
            self.leave_channel();
            self.signals.stopped.set(true);
        }
    }

    /// Carries out the scheduler's actions and re-arms the timer.
    fn drive(&self) {
        loop {
            let action = self.scheduler.borrow_mut().poll_action();
            match action {
                Some(SchedulerAction::StartFetch { fetch_id, reason }) => {
                    self.start_fetch(fetch_id, reason)
                }
                Some(SchedulerAction::AbortFetch { fetch_id }) => {
                    let mut in_flight = self.in_flight.borrow_mut();
                    if in_flight.as_ref().is_some_and(|(id, _)| *id == fetch_id) {
                        if let Some((_, controller)) = in_flight.take() {
                            tracing::debug!(key = %self.key, "aborting the in-flight fetch");
                            controller.abort();
                        }
                    }
                    drop(in_flight);
                    self.signals.is_refreshing.set(false);
                }
                None => break,
            }
        }
        let deadline = self.scheduler.borrow().next_deadline();
        let timer = deadline.map(|at| {
            let delay = at.saturating_sub(now()).min(u64::from(u32::MAX)) as u32;
            let weak = self.weak();
            Timeout::new(delay, move || {
                if let Some(entry) = weak.upgrade() {
                    entry.scheduler.borrow_mut().tick(now());
                    entry.drive();
                }
            })
        });
        *self.timer.borrow_mut() = timer;
    }

    fn start_fetch(&self, fetch_id: u64, reason: FetchReason) {
        tracing::debug!(key = %self.key, ?reason, "fetching");
        self.requests.set(self.requests.get() + 1);
        let mark = self.rows.borrow_mut().mark();
        let controller = AbortController::new().ok();
        let signal = controller.as_ref().map(AbortController::signal);
        if let Some(controller) = controller {
            *self.in_flight.borrow_mut() = Some((fetch_id, controller));
        }
        if !self.signals.is_refreshing.get_untracked() {
            self.signals.is_refreshing.set(true);
        }
        let api = self.api;
        let query = self.query.clone();
        let weak = self.weak();
        spawn_local(async move {
            let result = api.select::<T>(&query, signal.as_ref()).await;
            if let Some(entry) = weak.upgrade() {
                entry.finish_fetch(fetch_id, mark, result);
            }
        });
    }

    fn finish_fetch(&self, fetch_id: u64, mark: u64, result: Result<Vec<T>, ApiError>) {
        let current = self
            .in_flight
            .borrow()
            .as_ref()
            .is_some_and(|(id, _)| *id == fetch_id);
        if current {
            self.in_flight.borrow_mut().take();
        }
        match result {
            Err(ApiError::Aborted) => {}
            Ok(rows) => {
                let outcome = self.rows.borrow_mut().apply_snapshot(mark, rows);
                if outcome.is_changed() {
                    self.publish_rows();
                }
                if !outcome.discarded {
                    self.signals.last_updated.set(Some(crate::clock::wall_ms()));
                }
                if self.signals.error.with_untracked(Option::is_some) {
                    self.signals.error.set(None);
                }
                self.scheduler.borrow_mut().fetch_succeeded(now(), fetch_id);
                self.check_stop();
            }
            Err(error) => {
                // The last good rows stay on screen; the error shows beside them.
                tracing::warn!(key = %self.key, "fetch failed: {error}");
                if error == ApiError::Unauthorized {
                    if let Some(cache) = self.cache.upgrade() {
                        crate::app::session_expired(cache.api);
                    }
                }
                if self
                    .signals
                    .error
                    .with_untracked(|current| current.as_ref() != Some(&error))
                {
                    self.signals.error.set(Some(error));
                }
                self.scheduler.borrow_mut().fetch_failed(now(), fetch_id);
            }
        }
        if self.signals.is_loading.get_untracked() {
            self.signals.is_loading.set(false);
        }
        let fetching = self.scheduler.borrow().is_fetching();
        if self.signals.is_refreshing.get_untracked() != fetching {
            self.signals.is_refreshing.set(fetching);
        }
        self.drive();
    }
}

impl<T: Row + Clone> Drive for Entry<T> {
    fn set_visible(&self, visible: bool) {
        self.scheduler.borrow_mut().set_visible(now(), visible);
        self.drive();
    }

    fn set_online(&self, online: bool) {
        self.scheduler.borrow_mut().set_online(now(), online);
        self.drive();
    }

    fn set_realtime_live(&self, live: bool) {
        self.scheduler.borrow_mut().set_realtime_live(now(), live);
        self.drive();
    }

    fn refetch(&self) {
        self.scheduler.borrow_mut().refetch(now());
        self.drive();
    }

    fn debug_row(&self) -> DebugRow {
        let snapshot = self.scheduler.borrow().snapshot();
        let at = now();
        DebugRow {
            key: self.key.clone(),
            subscribers: snapshot.subscribers,
            last_fetch_ago_ms: snapshot.last_success_at.map(|t| at.saturating_sub(t)),
            in_flight: snapshot.in_flight_since.is_some(),
            next_fetch_in_ms: snapshot.next_fetch_at.map(|t| t.saturating_sub(at)),
            requests: self.requests.get(),
            events: self.events.get(),
            subscribed: self.subscribed.get()
                && self
                    .realtime
                    .is_some_and(|r| r.state.get_untracked() == ConnectionState::Live),
            stopped: snapshot.stopped,
        }
    }

    fn shutdown(&self) {
        self.scheduler.borrow_mut().stop();
        if let Some((_, controller)) = self.in_flight.borrow_mut().take() {
            controller.abort();
        }
        self.leave_channel();
        self.timer.borrow_mut().take();
    }
}
