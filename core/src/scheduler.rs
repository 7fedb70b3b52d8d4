//! The freshness policy for one query key: when to fetch, and when not to.
//!
//! One [`Scheduler`] serves every component mounted on a key. It keeps at most one request in
//! flight, arms the next poll only after the previous one settles, pauses while the page is hidden
//! or the browser is offline, catches up after every Realtime (re)subscription, retries failures
//! with jittered backoff up to 30 s without ever stopping for good, and can slow down to a safety
//! net interval while Realtime is healthy. It is driven by explicit events and a caller's clock.

use std::collections::VecDeque;

use crate::backoff::{Backoff, BackoffPolicy, Jitter};
use crate::Millis;

/// How a key is kept fresh.
#[derive(Debug, Clone, PartialEq)]
pub struct PollOptions {
    /// Background refetch interval; `None` turns background refresh off. Defaults to 5 000 ms.
    pub interval_ms: Option<Millis>,
    /// Keep polling while the page is hidden. Defaults to `false`.
    pub refresh_when_hidden: bool,
    /// Adaptive mode: while Realtime is live, poll only at this slower safety-net interval.
    /// Defaults to `None` (off).
    pub live_interval_ms: Option<Millis>,
    /// After a (re)subscription, fetch at once and again after this delay, because "subscribed"
    /// can arrive before changes flow. Defaults to 3 000 ms.
    pub catch_up_delay_ms: Millis,
    /// Retry backoff after a failed fetch. Defaults to full jitter from 1 s, capped at 30 s.
    pub retry: BackoffPolicy,
}

impl Default for PollOptions {
    fn default() -> Self {
        Self {
            interval_ms: Some(5_000),
            refresh_when_hidden: false,
            live_interval_ms: None,
            catch_up_delay_ms: 3_000,
            retry: BackoffPolicy {
                base_ms: 1_000,
                cap_ms: 30_000,
                floor_ms: 250,
            },
        }
    }
}

/// Why a fetch was started (shown in the debug panel and logs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FetchReason {
    /// First mount of the key.
    Initial,
    /// The interval elapsed.
    Poll,
    /// The page became visible with stale data.
    Visible,
    /// The browser came back online.
    Online,
    /// Realtime (re)subscribed: catch up on what was missed.
    CatchUp,
    /// The second, delayed catch-up fetch.
    CatchUpFollowUp,
    /// Someone asked (`refetch()`), or a write needs fresh data.
    Manual,
    /// The previous fetch failed.
    Retry,
}

/// Something for the adapter to do.
#[derive(Debug, Clone, PartialEq)]
pub enum SchedulerAction {
    /// Start a fetch; report its end with this id.
    StartFetch {
        /// Identifies the fetch.
        fetch_id: u64,
        /// Why.
        reason: FetchReason,
    },
    /// Abort this in-flight fetch (its last user left).
    AbortFetch {
        /// The fetch to abort.
        fetch_id: u64,
    },
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct InFlight {
    id: u64,
    started_at: Millis,
}

/// A read-only view of the scheduler for the debug panel.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct SchedulerSnapshot {
    /// Components using the key.
    pub subscribers: usize,
    /// When the in-flight fetch started, if one is.
    pub in_flight_since: Option<Millis>,
    /// When the next fetch is due, if one is armed.
    pub next_fetch_at: Option<Millis>,
    /// Last successful fetch.
    pub last_success_at: Option<Millis>,
    /// Failures in a row.
    pub failures: u32,
    /// Fetches started in total.
    pub fetches_started: u64,
    /// True once polling stopped for good.
    pub stopped: bool,
}

/// The freshness policy for one query key.
#[derive(Debug, Clone)]
pub struct Scheduler {
    options: PollOptions,
    subscribers: usize,
    in_flight: Option<InFlight>,
    /// A trigger arrived while a fetch was in flight: fetch again once it settles.
    again_after_flight: Option<FetchReason>,
    next_poll_at: Option<Millis>,
    retry_at: Option<Millis>,
    catch_up_at: Option<Millis>,
    last_success_at: Option<Millis>,
    /// Last time a fetch settled, successfully or not: polls are measured from here.
    last_settled_at: Option<Millis>,
    retry: Backoff,
    visible: bool,
    online: bool,
    realtime_live: bool,
    stopped: bool,
    next_fetch_id: u64,
    fetches_started: u64,
    jitter: Jitter,
    actions: VecDeque<SchedulerAction>,
}

impl Scheduler {
    /// A scheduler with no users yet; `seed` feeds the retry jitter.
    pub fn new(options: PollOptions, seed: u64) -> Self {
        let retry = Backoff::new(options.retry);
        Self {
            options,
            subscribers: 0,
            in_flight: None,
            again_after_flight: None,
            next_poll_at: None,
            retry_at: None,
            catch_up_at: None,
            last_success_at: None,
            last_settled_at: None,
            retry,
            visible: true,
            online: true,
            realtime_live: false,
            stopped: false,
            next_fetch_id: 1,
            fetches_started: 0,
            jitter: Jitter::new(seed),
            actions: VecDeque::new(),
        }
    }

    /// The options in force.
    pub fn options(&self) -> &PollOptions {
        &self.options
    }

    /// Takes the next action to carry out.
    pub fn poll_action(&mut self) -> Option<SchedulerAction> {
        self.actions.pop_front()
    }

    /// State for the debug panel.
    pub fn snapshot(&self) -> SchedulerSnapshot {
        SchedulerSnapshot {
            subscribers: self.subscribers,
            in_flight_since: self.in_flight.map(|flight| flight.started_at),
            next_fetch_at: self.next_deadline(),
            last_success_at: self.last_success_at,
            failures: self.retry.attempt(),
            fetches_started: self.fetches_started,
            stopped: self.stopped,
        }
    }

    /// True while a fetch is in flight.
    pub fn is_fetching(&self) -> bool {
        self.in_flight.is_some()
    }

    /// The interval in force now (the adaptive one while Realtime is live).
    pub fn effective_interval(&self) -> Option<Millis> {
        match (self.realtime_live, self.options.live_interval_ms) {
            (true, Some(live)) => Some(live),
            _ => self.options.interval_ms,
        }
    }

    /// A component started using the key.
    pub fn mount(&mut self, now: Millis) {
        self.subscribers += 1;
        if self.subscribers == 1 && !self.stopped {
            let fresh = self.is_fresh(now);
            if !fresh {
                let reason = if self.last_success_at.is_none() {
                    FetchReason::Initial
                } else {
                    FetchReason::Visible
                };
                self.trigger(now, reason);
            } else {
                self.ensure_armed();
            }
        }
    }

    /// A component stopped using the key; the last one out aborts the in-flight fetch.
    pub fn unmount(&mut self) {
        self.subscribers = self.subscribers.saturating_sub(1);
        if self.subscribers == 0 {
            if let Some(flight) = self.in_flight.take() {
                self.actions.push_back(SchedulerAction::AbortFetch {
                    fetch_id: flight.id,
                });
            }
            self.again_after_flight = None;
            self.next_poll_at = None;
            self.retry_at = None;
            self.catch_up_at = None;
        }
    }

    /// The page became visible or hidden.
    pub fn set_visible(&mut self, now: Millis, visible: bool) {
        let was = self.visible;
        self.visible = visible;
        if visible && !was {
            if self.is_fresh(now) {
                self.ensure_armed();
            } else {
                self.trigger(now, FetchReason::Visible);
            }
        }
    }

    /// The browser went online or offline.
    pub fn set_online(&mut self, now: Millis, online: bool) {
        let was = self.online;
        self.online = online;
        if online && !was {
            self.retry.reset();
            self.retry_at = None;
            self.trigger(now, FetchReason::Online);
            self.ensure_armed();
        }
    }

    /// Realtime became live or stopped being live (affects the adaptive interval).
    pub fn set_realtime_live(&mut self, now: Millis, live: bool) {
        if self.realtime_live == live {
            return;
        }
        self.realtime_live = live;
        if self.next_poll_at.is_some() {
            self.arm_poll_from_last_success();
            if !live && self.next_poll_at.is_some_and(|at| at <= now) {
                self.tick(now);
            }
        }
    }

    /// Realtime (re)subscribed for this key: fetch now and once more a little later.
    pub fn subscribed(&mut self, now: Millis) {
        self.catch_up_at = Some(now + self.options.catch_up_delay_ms);
        self.trigger(now, FetchReason::CatchUp);
    }

    /// `refetch()`: fetch now, whatever the timers say.
    pub fn refetch(&mut self, now: Millis) {
        self.trigger_even_if_paused(now, FetchReason::Manual);
    }

    /// The data reached a final state: stop polling for good.
    pub fn stop(&mut self) {
        self.stopped = true;
        self.next_poll_at = None;
        self.retry_at = None;
        self.catch_up_at = None;
        self.again_after_flight = None;
    }

    /// The fetch with this id succeeded.
    pub fn fetch_succeeded(&mut self, now: Millis, fetch_id: u64) {
        if !self.settle(now, fetch_id) {
            return;
        }
        self.last_success_at = Some(now);
        self.retry.reset();
        self.retry_at = None;
        self.arm_poll_from_last_success();
        self.after_flight(now);
    }

    /// The fetch with this id failed (network, server or parse error).
    pub fn fetch_failed(&mut self, now: Millis, fetch_id: u64) {
        if !self.settle(now, fetch_id) {
            return;
        }
        let unit = self.jitter.unit();
        let delay = self.retry.next_delay(unit);
        self.retry_at = Some(now + delay);
        self.next_poll_at = None;
        self.after_flight(now);
    }

    /// The clock reached (or passed) [`Scheduler::next_deadline`].
    pub fn tick(&mut self, now: Millis) {
        if self.in_flight.is_some() || !self.may_fetch() {
            return;
        }
        if self.retry_at.is_some_and(|at| now >= at) {
            self.retry_at = None;
            self.start(now, FetchReason::Retry);
        } else if self.catch_up_at.is_some_and(|at| now >= at) {
            self.catch_up_at = None;
            self.start(now, FetchReason::CatchUpFollowUp);
        } else if self.next_poll_at.is_some_and(|at| now >= at) {
            self.next_poll_at = None;
            self.start(now, FetchReason::Poll);
        }
    }

    /// The earliest time [`Scheduler::tick`] may start a fetch; `None` while nothing is due or
    /// fetching is paused.
    pub fn next_deadline(&self) -> Option<Millis> {
        if self.in_flight.is_some() || !self.may_fetch() {
            return None;
        }
        [self.retry_at, self.catch_up_at, self.next_poll_at]
            .into_iter()
            .flatten()
            .min()
    }

    fn may_fetch(&self) -> bool {
        self.subscribers > 0
            && !self.stopped
            && self.online
            && (self.visible || self.options.refresh_when_hidden)
    }

    fn is_fresh(&self, now: Millis) -> bool {
        match (self.last_success_at, self.effective_interval()) {
            (Some(at), Some(interval)) => now.saturating_sub(at) < interval,
            // With background refresh off, data once loaded counts as fresh.
            (Some(_), None) => true,
            (None, _) => false,
        }
    }

    /// Makes sure a poll is armed when nothing else is pending, so the loop cannot die.
    fn ensure_armed(&mut self) {
        if self.in_flight.is_none() && self.retry_at.is_none() && self.next_poll_at.is_none() {
            self.arm_poll_from_last_success();
        }
    }

    fn arm_poll_from_last_success(&mut self) {
        if self.stopped {
            return;
        }
        // Measured from the last settle, so a poll never follows any fetch by less than the
        // interval; data is only ever considered loaded after a success.
        let since = self
            .last_success_at
            .map(|success| success.max(self.last_settled_at.unwrap_or(success)));
        self.next_poll_at = match (since, self.effective_interval()) {
            (Some(at), Some(interval)) => Some(at + interval),
            _ => None,
        };
    }

    fn trigger(&mut self, now: Millis, reason: FetchReason) {
        if self.stopped || self.subscribers == 0 {
            return;
        }
        if self.in_flight.is_some() {
            self.again_after_flight.get_or_insert(reason);
            return;
        }
        if self.may_fetch() {
            self.start(now, reason);
        }
    }

    fn trigger_even_if_paused(&mut self, now: Millis, reason: FetchReason) {
        if self.stopped || self.subscribers == 0 {
            return;
        }
        if self.in_flight.is_some() {
            self.again_after_flight.get_or_insert(reason);
        } else {
            self.start(now, reason);
        }
    }

    fn start(&mut self, now: Millis, reason: FetchReason) {
        let id = self.next_fetch_id;
        self.next_fetch_id += 1;
        self.fetches_started += 1;
        self.in_flight = Some(InFlight {
            id,
            started_at: now,
        });
        self.next_poll_at = None;
        self.actions.push_back(SchedulerAction::StartFetch {
            fetch_id: id,
            reason,
        });
    }

    fn settle(&mut self, now: Millis, fetch_id: u64) -> bool {
        match self.in_flight {
            Some(flight) if flight.id == fetch_id => {
                self.in_flight = None;
                self.last_settled_at = Some(now);
                true
            }
            _ => false,
        }
    }

    fn after_flight(&mut self, now: Millis) {
        if let Some(reason) = self.again_after_flight.take() {
            if self.retry_at.is_none() {
                self.trigger(now, reason);
            }
        }
    }
}

#[cfg(test)]
mod tests;
