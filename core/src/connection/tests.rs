//! Virtual-clock tests of the Realtime connection state machine.

use super::*;
use proptest::prelude::*;
use serde_json::json;

const TOPIC: &str = "realtime:redemptions";

/// Drives a [`Connection`] with a virtual clock and a scripted server.
struct Harness {
    connection: Connection,
    now: Millis,
    socket: Option<u64>,
    sent: Vec<Value>,
    states: Vec<ConnectionState>,
    subscribed: usize,
    changes: usize,
    refreshes: usize,
    closes: usize,
    opens: usize,
}

impl Harness {
    fn new(config: ConnectionConfig) -> Self {
        Self {
            connection: Connection::new(config, 42),
            now: 0,
            socket: None,
            sent: Vec::new(),
            states: Vec::new(),
            subscribed: 0,
            changes: 0,
            refreshes: 0,
            closes: 0,
            opens: 0,
        }
    }

    fn drain(&mut self) {
        while let Some(action) = self.connection.poll_action() {
            match action {
                Action::OpenSocket { socket_id } => {
                    assert!(self.socket.is_none(), "a second socket while one is open");
                    self.socket = Some(socket_id);
                    self.opens += 1;
                }
                Action::CloseSocket { .. } => {
                    self.socket = None;
                    self.closes += 1;
                }
                Action::Send(text) => self.sent.push(serde_json::from_str(&text).unwrap()),
                Action::State(state) => self.states.push(state),
                Action::Subscribed { .. } => self.subscribed += 1,
                Action::Change { .. } => self.changes += 1,
                Action::ChannelFailed { .. } => {}
                Action::RefreshToken => self.refreshes += 1,
            }
        }
    }

    fn advance_to(&mut self, until: Millis) {
        while let Some(deadline) = self.connection.next_deadline() {
            if deadline > until {
                break;
            }
            self.now = self.now.max(deadline);
            self.connection.tick(self.now);
            self.drain();
        }
        self.now = until;
        self.connection.tick(self.now);
        self.drain();
    }

    fn open(&mut self) {
        let id = self.socket.expect("a socket was requested");
        self.connection.socket_opened(self.now, id);
        self.drain();
    }

    fn close(&mut self) {
        let id = self.socket.take().expect("a socket is open");
        self.connection.socket_closed(self.now, id);
        self.drain();
    }

    fn receive(&mut self, frame: Value) {
        let id = self.socket.expect("a socket is open");
        self.connection
            .frame_received(self.now, id, &frame.to_string());
        self.drain();
    }

    fn last_sent(&self, event: &str) -> Value {
        self.sent
            .iter()
            .rev()
            .find(|frame| frame["event"] == event)
            .cloned()
            .unwrap_or_else(|| panic!("no {event} sent"))
    }

    /// Answers the last join with ok and the system message.
    fn accept_join(&mut self) {
        let join = self.last_sent("phx_join");
        let mut bindings = join["payload"]["config"]["postgres_changes"].clone();
        for binding in bindings.as_array_mut().unwrap() {
            binding["id"] = json!(7);
        }
        self.receive(
            json!({"topic": join["topic"], "event": "phx_reply", "ref": join["ref"],
            "payload": {"status": "ok", "response": {"postgres_changes": bindings}}}),
        );
        self.receive(
            json!({"topic": join["topic"], "event": "system", "ref": null,
            "payload": {"extension": "postgres_changes", "status": "ok",
                        "message": "Subscribed to PostgreSQL", "channel": "redemptions"}}),
        );
    }

    /// Subscribed and connecting: the socket is requested, not yet open.
    fn connecting(config: ConnectionConfig, token: Option<&str>) -> Self {
        let mut harness = Harness::new(config);
        harness
            .connection
            .set_access_token(0, token.map(str::to_string), None);
        harness.connection.subscribe(
            0,
            TOPIC,
            vec![ChangeFilter::table("redemption_requests", None)],
        );
        harness.connection.connect(0);
        harness.drain();
        harness
    }

    /// Socket open, join sent and not yet answered; no token.
    fn joining() -> Self {
        let mut harness = Self::connecting(ConnectionConfig::default(), None);
        harness.open();
        harness
    }

    fn live() -> Self {
        Self::live_with(ConnectionConfig::default())
    }

    fn live_with(config: ConnectionConfig) -> Self {
        let mut harness = Self::connecting(config, Some("token-1"));
        harness.open();
        harness.accept_join();
        assert_eq!(harness.connection.state(), &ConnectionState::Live);
        harness
    }
}

#[test]
fn live_only_after_subscribed_to_postgres() {
    let mut harness = Harness::connecting(ConnectionConfig::default(), None);
    assert_eq!(harness.states, vec![ConnectionState::Connecting]);
    harness.open();
    let join = harness.last_sent("phx_join");
    assert_eq!(join["ref"], join["join_ref"]);
    let bindings =
        json!([{"id": 9, "event": "*", "schema": "public", "table": "redemption_requests"}]);
    harness.receive(
        json!({"topic": TOPIC, "event": "phx_reply", "ref": join["ref"],
        "payload": {"status": "ok", "response": {"postgres_changes": bindings}}}),
    );
    assert_eq!(harness.connection.state(), &ConnectionState::Connecting);
    assert_eq!(harness.subscribed, 0);
    harness.receive(json!({"topic": TOPIC, "event": "system", "ref": null,
        "payload": {"extension": "postgres_changes", "status": "ok", "message": "Subscribed to PostgreSQL"}}));
    assert_eq!(harness.connection.state(), &ConnectionState::Live);
    assert_eq!(harness.subscribed, 1);
}

#[test]
fn changes_are_delivered_only_for_our_bindings() {
    let mut harness = Harness::live();
    let change = |ids: Value| {
        json!({"topic": TOPIC, "event": "postgres_changes", "ref": null,
            "payload": {"ids": ids, "data": {"schema": "public", "table": "redemption_requests",
            "type": "INSERT", "commit_timestamp": "2026-12-03T18:00:00Z", "columns": [],
            "record": {"id": "a"}, "errors": null}}})
    };
    harness.receive(change(json!([7])));
    harness.receive(change(json!([8])));
    harness.receive(
        json!({"topic": "realtime:other", "event": "postgres_changes", "ref": null,
        "payload": {"ids": [7], "data": {"type": "INSERT", "record": {}}}}),
    );
    assert_eq!(harness.changes, 1);
}

#[test]
fn heartbeat_timeout_detects_a_half_open_socket() {
    let mut harness = Harness::live();
    harness.advance_to(25_000);
    let beat = harness.last_sent("heartbeat");
    assert_eq!(beat["topic"], "phoenix");
    assert!(beat.get("join_ref").is_none());
    // Answered: nothing happens.
    harness.receive(
        json!({"topic": "phoenix", "event": "phx_reply", "ref": beat["ref"],
        "payload": {"status": "ok", "response": {}}}),
    );
    harness.advance_to(49_999);
    assert_eq!(harness.closes, 0);
    // The next beat goes unanswered: the socket is replaced after the reply timeout.
    harness.advance_to(50_000 + 9_999);
    assert_eq!(harness.closes, 0);
    harness.advance_to(60_000);
    assert_eq!(harness.closes, 1);
    assert!(matches!(
        harness.connection.state(),
        ConnectionState::Reconnecting { attempt: 1, .. }
    ));
}

#[test]
fn reconnect_rejoins_with_the_current_token_and_backs_off() {
    let mut harness = Harness::live();
    harness.now = 1_000;
    harness.close();
    let ConnectionState::Reconnecting { attempt, retry_at } = harness.connection.state().clone()
    else {
        panic!("not reconnecting")
    };
    assert_eq!(attempt, 1);
    assert!(
        retry_at <= 1_000 + 1_000,
        "first retry within about a second"
    );
    harness
        .connection
        .set_access_token(1_100, Some("token-2".into()), None);
    harness.advance_to(retry_at);
    assert_eq!(harness.opens, 2);
    harness.open();
    let join = harness.last_sent("phx_join");
    assert_eq!(join["payload"]["access_token"], "token-2");
    harness.accept_join();
    assert_eq!(
        harness.subscribed, 2,
        "a resubscription is reported for catch-up"
    );

    // Repeated failures grow the delay up to the cap.
    let mut last_ceiling = 0;
    for attempt in 1..12u32 {
        let started = harness.now;
        harness.close();
        let ConnectionState::Reconnecting { retry_at, .. } = harness.connection.state().clone()
        else {
            panic!("not reconnecting")
        };
        let ceiling = BackoffPolicy::default().ceiling(attempt);
        assert!(retry_at - started <= ceiling.max(last_ceiling));
        assert!(retry_at - started <= 15_000);
        last_ceiling = ceiling;
        harness.advance_to(retry_at);
        harness.open();
    }
}

#[test]
fn a_stable_connection_resets_the_backoff() {
    let mut harness = Harness::live();
    for _ in 0..6 {
        harness.close();
        let ConnectionState::Reconnecting { retry_at, .. } = harness.connection.state().clone()
        else {
            panic!()
        };
        harness.advance_to(retry_at);
        harness.open();
    }
    harness.accept_join();
    harness.advance_to(harness.now + 11_000);
    harness.close();
    let ConnectionState::Reconnecting { attempt, retry_at } = harness.connection.state().clone()
    else {
        panic!()
    };
    assert_eq!(attempt, 1);
    assert!(retry_at - harness.now <= 1_000);
}

#[test]
fn hidden_page_holds_the_reconnect_until_visible() {
    let mut harness = Harness::live();
    harness.connection.set_visible(harness.now, false);
    harness.close();
    harness.advance_to(120_000);
    assert_eq!(harness.opens, 1, "no reconnect while hidden");
    harness.connection.set_visible(120_000, true);
    harness.drain();
    assert_eq!(harness.opens, 2, "reconnects at once on visible");
}

#[test]
fn offline_waits_and_online_reconnects_at_once() {
    let mut harness = Harness::live();
    harness.connection.set_online(5, false);
    harness.drain();
    assert_eq!(harness.connection.state(), &ConnectionState::Offline);
    assert_eq!(harness.closes, 1);
    harness.advance_to(300_000);
    assert_eq!(harness.opens, 1);
    harness.connection.set_online(300_000, true);
    harness.drain();
    assert_eq!(harness.opens, 2);
}

#[test]
fn expired_token_join_error_asks_for_a_refresh_then_rejoins() {
    let mut harness = Harness::new(ConnectionConfig::default());
    harness
        .connection
        .set_access_token(0, Some("old".into()), None);
    harness.connection.subscribe(
        0,
        TOPIC,
        vec![ChangeFilter::table("redemption_requests", None)],
    );
    harness.connection.connect(0);
    harness.drain();
    harness.open();
    let join = harness.last_sent("phx_join");
    harness.receive(json!({"topic": TOPIC, "event": "phx_reply", "ref": join["ref"],
        "payload": {"status": "error", "response": {"reason": "InvalidJWTToken: Token has expired 5 seconds ago"}}}));
    assert_eq!(harness.refreshes, 1);
    let joins_before = harness
        .sent
        .iter()
        .filter(|f| f["event"] == "phx_join")
        .count();
    harness
        .connection
        .set_access_token(10, Some("new".into()), None);
    harness.drain();
    let join = harness.last_sent("phx_join");
    assert_eq!(join["payload"]["access_token"], "new");
    assert_eq!(
        harness
            .sent
            .iter()
            .filter(|f| f["event"] == "phx_join")
            .count(),
        joins_before + 1
    );
}

#[test]
fn fatal_join_errors_give_up() {
    let mut harness = Harness::joining();
    let join = harness.last_sent("phx_join");
    harness.receive(json!({"topic": TOPIC, "event": "phx_reply", "ref": join["ref"],
        "payload": {"status": "error", "response": {"reason": "JwtSignatureError: Failed to validate JWT signature"}}}));
    assert!(matches!(
        harness.connection.state(),
        ConnectionState::Failed(_)
    ));
    harness.advance_to(600_000);
    assert_eq!(
        harness
            .sent
            .iter()
            .filter(|f| f["event"] == "phx_join")
            .count(),
        1,
        "no retry of a fatal error"
    );
}

#[test]
fn transient_join_errors_retry_with_backoff() {
    assert_eq!(
        classify_join_error("ChannelRateLimitReached: Too many channels"),
        JoinErrorClass::Retry
    );
    assert_eq!(
        classify_join_error("MalformedJWT: The token provided is not a valid JWT"),
        JoinErrorClass::GiveUp
    );
    assert_eq!(
        classify_join_error("Unknown Error on Channel"),
        JoinErrorClass::Retry
    );
}

#[test]
fn token_is_refreshed_before_expiry_and_pushed_to_joined_channels() {
    // No heartbeats in this hour of virtual time: the scripted server does not answer them.
    let mut harness = Harness::live_with(ConnectionConfig {
        heartbeat_interval_ms: 100_000_000,
        ..ConnectionConfig::default()
    });
    harness
        .connection
        .set_access_token(0, Some("token-1b".into()), Some(3_600_000));
    harness.drain();
    harness.advance_to(3_540_000 - 1);
    assert_eq!(harness.refreshes, 0);
    harness.advance_to(3_540_000);
    assert_eq!(harness.refreshes, 1);
    harness
        .connection
        .set_access_token(harness.now, Some("token-2".into()), Some(7_200_000));
    harness.drain();
    let push = harness.last_sent("access_token");
    assert_eq!(push["payload"]["access_token"], "token-2");
    assert_eq!(push["topic"], TOPIC);
}

#[test]
fn a_token_that_changes_during_the_join_is_pushed_after_it() {
    let mut harness = Harness::joining();
    assert!(harness.last_sent("phx_join")["payload"]
        .get("access_token")
        .is_none());
    harness
        .connection
        .set_access_token(5, Some("user-token".into()), None);
    harness.drain();
    assert!(harness.sent.iter().all(|f| f["event"] != "access_token"));
    harness.accept_join();
    let push = harness.last_sent("access_token");
    assert_eq!(push["payload"]["access_token"], "user-token");
}

#[test]
fn max_attempts_ends_in_failed() {
    let config = ConnectionConfig {
        max_attempts: Some(3),
        ..ConnectionConfig::default()
    };
    let mut harness = Harness::new(config);
    harness
        .connection
        .subscribe(0, TOPIC, vec![ChangeFilter::table("t", None)]);
    harness.connection.connect(0);
    harness.drain();
    for _ in 0..4 {
        harness.close();
        if let ConnectionState::Reconnecting { retry_at, .. } = harness.connection.state().clone() {
            harness.advance_to(retry_at);
        }
    }
    assert!(matches!(
        harness.connection.state(),
        ConnectionState::Failed(_)
    ));
}

#[test]
fn events_from_a_replaced_socket_are_ignored() {
    let mut harness = Harness::live();
    let old = harness.socket.unwrap();
    harness.close();
    harness.connection.frame_received(harness.now, old, r#"{"topic":"realtime:redemptions","event":"postgres_changes","payload":{"ids":[7],"data":{"type":"INSERT","record":{}}},"ref":null}"#);
    harness.connection.socket_closed(harness.now, old);
    harness.drain();
    assert_eq!(harness.changes, 0);
    assert!(matches!(
        harness.connection.state(),
        ConnectionState::Reconnecting { attempt: 1, .. }
    ));
}

#[test]
fn a_stale_close_is_ignored_and_a_current_one_rejoins() {
    let mut harness = Harness::live();
    harness.receive(json!({"topic": TOPIC, "event": "phx_close", "ref": "999", "payload": {}}));
    assert_eq!(harness.connection.state(), &ConnectionState::Live);
    let join = harness.last_sent("phx_join");
    harness
        .receive(json!({"topic": TOPIC, "event": "phx_close", "ref": join["ref"], "payload": {}}));
    assert_eq!(harness.connection.state(), &ConnectionState::Connecting);
    harness.advance_to(harness.now + 1_000);
    assert_eq!(
        harness
            .sent
            .iter()
            .filter(|f| f["event"] == "phx_join")
            .count(),
        2
    );
}

#[test]
fn unsubscribe_leaves_with_the_join_ref() {
    let mut harness = Harness::live();
    let join = harness.last_sent("phx_join");
    harness.connection.unsubscribe(TOPIC);
    harness.drain();
    let leave = harness.last_sent("phx_leave");
    assert_eq!(leave["join_ref"], join["ref"]);
    assert_eq!(harness.connection.topics().count(), 0);
}

#[derive(Debug, Clone)]
enum Event {
    Advance(u32),
    Open,
    Close,
    AcceptJoin,
    Garbage(String),
    Visible(bool),
    Online(bool),
    Token,
    Subscribe(u8),
    Unsubscribe(u8),
}

fn event() -> impl Strategy<Value = Event> {
    prop_oneof![
        (0u32..40_000).prop_map(Event::Advance),
        Just(Event::Open),
        Just(Event::Close),
        Just(Event::AcceptJoin),
        ".{0,40}".prop_map(Event::Garbage),
        any::<bool>().prop_map(Event::Visible),
        any::<bool>().prop_map(Event::Online),
        Just(Event::Token),
        (0u8..3).prop_map(Event::Subscribe),
        (0u8..3).prop_map(Event::Unsubscribe),
    ]
}

proptest! {
    /// Whatever happens, the machine never panics, never asks for a second socket while one is
    /// open, and never stalls: unless idle, offline, failed or hidden, it either has a socket
    /// or a deadline to make one.
    #[test]
    fn never_stalls_and_never_doubles_sockets(events in prop::collection::vec(event(), 1..80)) {
        let mut harness = Harness::new(ConnectionConfig::default());
        harness.connection.subscribe(0, TOPIC, vec![ChangeFilter::table("t", None)]);
        harness.connection.connect(0);
        harness.drain();
        let mut visible = true;
        for event in events {
            match event {
                Event::Advance(ms) => { let until = harness.now + u64::from(ms); harness.advance_to(until); }
                Event::Open => if harness.socket.is_some() { harness.open() },
                Event::Close => if harness.socket.is_some() { harness.close() },
                Event::AcceptJoin => if harness.socket.is_some() && harness.sent.iter().any(|f| f["event"] == "phx_join") { harness.accept_join() },
                Event::Garbage(text) => if let Some(id) = harness.socket { harness.connection.frame_received(harness.now, id, &text); harness.drain(); },
                Event::Visible(v) => { visible = v; harness.connection.set_visible(harness.now, v); harness.drain(); },
                Event::Online(online) => { harness.connection.set_online(harness.now, online); harness.drain(); },
                Event::Token => { harness.connection.set_access_token(harness.now, Some(format!("t{}", harness.now)), Some(harness.now + 120_000)); harness.drain(); },
                Event::Subscribe(n) => { harness.connection.subscribe(harness.now, &format!("realtime:c{n}"), vec![ChangeFilter::table("t", None)]); harness.drain(); },
                Event::Unsubscribe(n) => { harness.connection.unsubscribe(&format!("realtime:c{n}")); harness.drain(); },
            }
            match harness.connection.state() {
                ConnectionState::Reconnecting { .. } if visible => {
                    prop_assert!(harness.socket.is_some() || harness.connection.next_deadline().is_some());
                }
                ConnectionState::Live => prop_assert!(harness.socket.is_some()),
                _ => {}
            }
        }
    }
}
