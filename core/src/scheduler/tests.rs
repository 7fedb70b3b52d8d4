//! Virtual-clock tests of the freshness scheduler, with property tests for its invariants.

use super::*;
use proptest::prelude::*;

/// Runs a scheduler against a fake backend whose requests take `latency` ms and succeed unless
/// `failing` is set.
struct Harness {
    scheduler: Scheduler,
    now: Millis,
    latency: Millis,
    failing: bool,
    in_flight: Option<(u64, Millis)>,
    started: Vec<(Millis, FetchReason)>,
    /// For each start, the last settle before it.
    settled_before_start: Vec<Option<Millis>>,
    settled: Vec<Millis>,
    aborted: usize,
}

impl Harness {
    fn new(options: PollOptions) -> Self {
        Self {
            scheduler: Scheduler::new(options, 7),
            now: 0,
            latency: 100,
            failing: false,
            in_flight: None,
            started: Vec::new(),
            settled_before_start: Vec::new(),
            settled: Vec::new(),
            aborted: 0,
        }
    }

    fn drain(&mut self) {
        while let Some(action) = self.scheduler.poll_action() {
            match action {
                SchedulerAction::StartFetch { fetch_id, reason } => {
                    assert!(self.in_flight.is_none(), "two fetches in flight");
                    self.in_flight = Some((fetch_id, self.now + self.latency));
                    self.started.push((self.now, reason));
                    self.settled_before_start.push(self.settled.last().copied());
                }
                SchedulerAction::AbortFetch { fetch_id } => {
                    assert_eq!(self.in_flight.map(|(id, _)| id), Some(fetch_id));
                    self.in_flight = None;
                    self.aborted += 1;
                }
            }
        }
    }

    /// Runs the virtual clock to `until`, landing responses and firing timers in time order.
    fn run_until(&mut self, until: Millis) {
        self.drain();
        loop {
            let response = self.in_flight.map(|(_, at)| at);
            let timer = self.scheduler.next_deadline();
            let next = [response, timer].into_iter().flatten().min();
            match next {
                Some(at) if at <= until => {
                    self.now = self.now.max(at);
                    if response == Some(at) {
                        let (id, _) = self.in_flight.take().unwrap();
                        self.settled.push(self.now);
                        if self.failing {
                            self.scheduler.fetch_failed(self.now, id);
                        } else {
                            self.scheduler.fetch_succeeded(self.now, id);
                        }
                    } else {
                        self.scheduler.tick(self.now);
                    }
                    self.drain();
                }
                _ => break,
            }
        }
        self.now = until;
    }

    fn count(&self, reason: FetchReason) -> usize {
        self.started.iter().filter(|(_, r)| *r == reason).count()
    }
}

#[test]
fn polls_every_interval_measured_from_settle() {
    let mut harness = Harness::new(PollOptions::default());
    harness.scheduler.mount(0);
    harness.run_until(60_000);
    // Initial fetch at 0, then one every 5 s + 100 ms latency.
    assert_eq!(harness.count(FetchReason::Initial), 1);
    let polls: Vec<Millis> = harness.started.iter().skip(1).map(|(at, _)| *at).collect();
    assert_eq!(polls[0], 5_100);
    for pair in polls.windows(2) {
        assert_eq!(pair[1] - pair[0], 5_100);
    }
    assert_eq!(harness.started.len(), 12);
}

#[test]
fn ten_mounts_cost_the_same_requests_as_one() {
    let mut one = Harness::new(PollOptions::default());
    one.scheduler.mount(0);
    one.run_until(60_000);
    let mut ten = Harness::new(PollOptions::default());
    for _ in 0..10 {
        ten.scheduler.mount(0);
    }
    ten.run_until(60_000);
    assert_eq!(one.started.len(), ten.started.len());
}

#[test]
fn slow_responses_never_overlap() {
    let mut harness = Harness::new(PollOptions::default());
    harness.latency = 12_000;
    harness.scheduler.mount(0);
    harness.scheduler.subscribed(1_000);
    harness.scheduler.refetch(2_000);
    harness.run_until(100_000);
    // The Harness asserts no overlap; the next poll starts 5 s after each settle.
    for (index, settled) in harness.settled.iter().enumerate() {
        if let Some((next_start, _)) = harness.started.get(index + 1) {
            assert!(next_start >= settled);
        }
    }
}

#[test]
fn no_requests_while_hidden_and_a_refetch_on_visible_when_stale() {
    let mut harness = Harness::new(PollOptions::default());
    harness.scheduler.mount(0);
    harness.run_until(1_000);
    harness.scheduler.set_visible(1_000, false);
    let before = harness.started.len();
    harness.run_until(61_000);
    assert_eq!(
        harness.started.len(),
        before,
        "zero requests over 60 s hidden"
    );
    harness.scheduler.set_visible(61_000, true);
    harness.drain();
    assert_eq!(
        harness.started.last(),
        Some(&(61_000, FetchReason::Visible))
    );
}

#[test]
fn visible_with_fresh_data_does_not_refetch() {
    let mut harness = Harness::new(PollOptions::default());
    harness.scheduler.mount(0);
    harness.run_until(1_000);
    harness.scheduler.set_visible(1_000, false);
    harness.scheduler.set_visible(2_000, true);
    harness.drain();
    assert_eq!(harness.started.len(), 1);
}

#[test]
fn refresh_when_hidden_keeps_polling() {
    let mut harness = Harness::new(PollOptions {
        refresh_when_hidden: true,
        ..PollOptions::default()
    });
    harness.scheduler.mount(0);
    harness.scheduler.set_visible(0, false);
    harness.run_until(30_000);
    assert!(harness.started.len() >= 5);
}

#[test]
fn offline_pauses_and_online_refetches_at_once() {
    let mut harness = Harness::new(PollOptions::default());
    harness.scheduler.mount(0);
    harness.run_until(1_000);
    harness.scheduler.set_online(1_000, false);
    harness.run_until(40_000);
    assert_eq!(harness.started.len(), 1);
    harness.scheduler.set_online(40_000, true);
    harness.drain();
    assert_eq!(harness.started.last(), Some(&(40_000, FetchReason::Online)));
}

#[test]
fn subscribe_catches_up_twice() {
    let mut harness = Harness::new(PollOptions::default());
    harness.scheduler.mount(0);
    harness.run_until(1_000);
    harness.scheduler.subscribed(1_000);
    harness.run_until(4_500);
    assert_eq!(harness.count(FetchReason::CatchUp), 1);
    assert_eq!(harness.count(FetchReason::CatchUpFollowUp), 1);
    assert_eq!(harness.started[2].0, 4_000);
}

#[test]
fn a_trigger_during_a_flight_runs_once_after_it() {
    let mut harness = Harness::new(PollOptions::default());
    harness.latency = 1_000;
    harness.scheduler.mount(0);
    harness.drain();
    harness.scheduler.refetch(10);
    harness.scheduler.refetch(20);
    harness.scheduler.subscribed(30);
    harness.run_until(1_000);
    assert_eq!(harness.started.len(), 2);
    assert_eq!(harness.started[1], (1_000, FetchReason::Manual));
}

#[test]
fn failures_back_off_to_thirty_seconds_and_the_loop_never_dies() {
    let mut harness = Harness::new(PollOptions::default());
    harness.failing = true;
    harness.scheduler.mount(0);
    harness.run_until(600_000);
    let gaps: Vec<Millis> = harness
        .started
        .windows(2)
        .map(|pair| pair[1].0 - pair[0].0)
        .collect();
    assert!(gaps.iter().all(|gap| *gap <= 30_000 + harness.latency));
    assert!(
        harness.started.len() > 20,
        "still retrying after ten minutes"
    );
    // Recovery: the next success returns to the normal interval.
    harness.failing = false;
    let last = harness.started.len();
    harness.run_until(700_000);
    let polls: Vec<Millis> = harness.started[last..].iter().map(|(at, _)| *at).collect();
    assert!(polls
        .windows(2)
        .skip(1)
        .all(|pair| pair[1] - pair[0] == 5_100));
}

#[test]
fn last_unmount_aborts_and_stops() {
    let mut harness = Harness::new(PollOptions::default());
    harness.latency = 2_000;
    harness.scheduler.mount(0);
    harness.scheduler.mount(0);
    harness.drain();
    harness.scheduler.unmount();
    harness.drain();
    assert_eq!(harness.aborted, 0);
    harness.scheduler.unmount();
    harness.drain();
    assert_eq!(harness.aborted, 1);
    harness.run_until(60_000);
    assert_eq!(harness.started.len(), 1);
}

#[test]
fn stop_ends_polling_for_good() {
    let mut harness = Harness::new(PollOptions::default());
    harness.scheduler.mount(0);
    harness.run_until(1_000);
    harness.scheduler.stop();
    harness.scheduler.subscribed(2_000);
    harness.run_until(60_000);
    assert_eq!(harness.started.len(), 1);
}

#[test]
fn adaptive_mode_slows_down_while_live_and_returns_at_once() {
    let mut harness = Harness::new(PollOptions {
        live_interval_ms: Some(30_000),
        ..PollOptions::default()
    });
    harness.scheduler.mount(0);
    harness.run_until(1_000);
    harness.scheduler.set_realtime_live(1_000, true);
    harness.run_until(29_000);
    assert_eq!(
        harness.started.len(),
        1,
        "no base-interval polls while live"
    );
    harness.scheduler.set_realtime_live(29_000, false);
    harness.drain();
    assert_eq!(
        harness.started.len(),
        2,
        "overdue at the base interval: polls at once"
    );
    harness.run_until(40_000);
    assert_eq!(harness.started.len(), 4);
}

#[test]
fn background_refresh_off_fetches_once_but_still_retries() {
    let mut harness = Harness::new(PollOptions {
        interval_ms: None,
        ..PollOptions::default()
    });
    harness.failing = true;
    harness.scheduler.mount(0);
    harness.run_until(5_000);
    assert!(harness.count(FetchReason::Retry) >= 1);
    harness.failing = false;
    harness.run_until(60_000);
    let after_success = harness.started.len();
    harness.run_until(600_000);
    assert_eq!(harness.started.len(), after_success);
}

#[derive(Debug, Clone)]
enum Event {
    Advance(u32),
    Mount,
    Unmount,
    Visible(bool),
    Online(bool),
    Live(bool),
    Subscribed,
    Refetch,
    Failing(bool),
    Latency(u16),
}

fn event() -> impl Strategy<Value = Event> {
    prop_oneof![
        4 => (0u32..20_000).prop_map(Event::Advance),
        1 => Just(Event::Mount),
        1 => Just(Event::Unmount),
        1 => any::<bool>().prop_map(Event::Visible),
        1 => any::<bool>().prop_map(Event::Online),
        1 => any::<bool>().prop_map(Event::Live),
        1 => Just(Event::Subscribed),
        1 => Just(Event::Refetch),
        1 => any::<bool>().prop_map(Event::Failing),
        1 => (0u16..8_000).prop_map(Event::Latency),
    ]
}

proptest! {
    /// Over any sequence of events: never two fetches at once (the harness asserts it); no
    /// automatic fetch while hidden, offline or unmounted; polls never come sooner than the
    /// interval after the previous settle; and the loop never dies while it may fetch.
    #[test]
    fn invariants_hold(events in prop::collection::vec(event(), 1..120), adaptive in any::<bool>()) {
        let options = PollOptions {
            live_interval_ms: adaptive.then_some(30_000),
            ..PollOptions::default()
        };
        let mut harness = Harness::new(options);
        let (mut mounted, mut visible, mut online) = (0usize, true, true);
        for event in events {
            let before = harness.started.len();
            let mut manual = false;
            match event {
                Event::Advance(ms) => { let until = harness.now + u64::from(ms); harness.run_until(until); }
                Event::Mount => { mounted += 1; harness.scheduler.mount(harness.now); }
                Event::Unmount => { mounted = mounted.saturating_sub(1); harness.scheduler.unmount(); }
                Event::Visible(v) => { visible = v; harness.scheduler.set_visible(harness.now, v); }
                Event::Online(o) => { online = o; harness.scheduler.set_online(harness.now, o); }
                Event::Live(live) => harness.scheduler.set_realtime_live(harness.now, live),
                Event::Subscribed => harness.scheduler.subscribed(harness.now),
                Event::Refetch => { manual = true; harness.scheduler.refetch(harness.now); }
                Event::Failing(f) => harness.failing = f,
                Event::Latency(l) => harness.latency = u64::from(l),
            }
            harness.drain();
            let new: Vec<(Millis, FetchReason)> = harness.started[before..].to_vec();
            let settles = harness.settled_before_start[before..].to_vec();
            for ((at, reason), last_settle) in new.iter().zip(settles) {
                prop_assert!(mounted > 0, "fetch with no users");
                if *reason != FetchReason::Manual && !manual {
                    prop_assert!(visible && online, "automatic fetch while hidden or offline at {}", at);
                }
                if *reason == FetchReason::Poll {
                    let last_settle = last_settle.unwrap_or(0);
                    prop_assert!(*at >= last_settle + 5_000, "poll at {} too soon after settle {}", at, last_settle);
                }
            }
            if mounted > 0 && visible && online && harness.in_flight.is_none() {
                prop_assert!(harness.scheduler.next_deadline().is_some() || harness.scheduler.snapshot().last_success_at.is_none() && harness.started.is_empty(),
                    "the loop died");
            }
        }
    }
}
