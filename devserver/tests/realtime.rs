//! Realtime over real sockets (tokio-tungstenite against a server on port 0), plus one run of the
//! socket loop over in-memory channels.

mod common;

use std::time::Duration;

use axum::http::Method;
use common::*;
use devserver::auth::jwt::unix_now;
use devserver::realtime::protocol::{Incoming, Outgoing};
use devserver::realtime::socket::serve_socket;
use devserver::store::redemptions::NewRequest;
use devserver::store::Store;
use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};

const WALLET: &str = "0xbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

fn requests_binding(filter: Option<&str>) -> Value {
    let mut binding = json!({"event": "*", "schema": "public", "table": "redemption_requests"});
    if let Some(filter) = filter {
        binding["filter"] = Value::from(filter);
    }
    json!([binding])
}

/// Joins and checks the reply and the "Subscribed to PostgreSQL" system message; returns the ids.
async fn join_ok(
    socket: &mut Socket,
    topic: &str,
    token: Option<&str>,
    bindings: Value,
) -> Vec<i64> {
    send(socket, join(topic, "1", token, bindings.clone())).await;
    let reply = next_json(socket).await;
    assert_eq!(reply["event"], "phx_reply", "{reply}");
    assert_eq!(reply["topic"], topic);
    assert_eq!(reply["ref"], "1");
    assert_eq!(reply["payload"]["status"], "ok", "{reply}");
    assert!(
        reply.get("join_ref").is_none(),
        "vsn 1.0.0 never sends join_ref"
    );
    let echoed = reply["payload"]["response"]["postgres_changes"]
        .as_array()
        .expect("echo")
        .clone();
    assert_eq!(echoed.len(), bindings.as_array().expect("array").len());
    for (echo, sent) in echoed.iter().zip(bindings.as_array().expect("array")) {
        for key in ["event", "schema", "table", "filter"] {
            assert_eq!(echo.get(key), sent.get(key), "binding echoed exactly");
        }
    }
    let system = next_json(socket).await;
    assert_eq!(system["event"], "system");
    assert_eq!(
        system["payload"],
        json!({"extension": "postgres_changes", "status": "ok",
               "message": "Subscribed to PostgreSQL",
               "channel": topic.trim_start_matches("realtime:")})
    );
    assert_eq!(system["ref"], Value::Null);
    echoed
        .iter()
        .map(|e| e["id"].as_i64().expect("integer id"))
        .collect()
}

fn new_request(store: &Store, investor: &str, amount: f64) -> Value {
    let actor = devserver::auth::jwt::Actor::User {
        id: id_of(investor).to_owned(),
        email: format!("{investor}@demo.local"),
        app_role: devserver::auth::jwt::AppRole::Investor,
    };
    let holding: String = store
        .read(|conn| {
            Ok(conn.query_row(
                "SELECT id FROM distributions WHERE investor_id = ?1 ORDER BY remaining_balance DESC",
                [id_of(investor)],
                |row| row.get(0),
            )?)
        })
        .expect("holding");
    let row = store
        .create_request(
            &actor,
            &NewRequest {
                id: None,
                distribution_id: holding,
                token_amount_micros: (amount * 1e6) as i64,
                destination_wallet: WALLET.into(),
                redemption_type: "standard".into(),
                notes: None,
            },
        )
        .expect("created");
    Value::Object(row)
}

/// Reads frames until a postgres_changes event arrives (distributions updates come too).
async fn next_change(socket: &mut Socket, table: &str) -> Value {
    loop {
        let frame = next_json(socket).await;
        if frame["event"] == "postgres_changes" && frame["payload"]["data"]["table"] == table {
            return frame;
        }
    }
}

#[tokio::test]
async fn join_heartbeat_events_and_leave() {
    let state = demo_state();
    let address = spawn_server(state.clone()).await;
    let token = token_for(&state, "investor1");
    let mut socket = connect(address, state.keys.anon_key()).await;
    let ids = join_ok(
        &mut socket,
        "realtime:mine",
        Some(&token),
        requests_binding(None),
    )
    .await;

    send(
        &mut socket,
        json!({"topic": "phoenix", "event": "heartbeat", "payload": {}, "ref": "2"}),
    )
    .await;
    assert_eq!(
        next_json(&mut socket).await,
        json!({"topic": "phoenix", "event": "phx_reply", "payload": {"status": "ok", "response": {}}, "ref": "2"})
    );

    let row = new_request(&state.store, "investor1", 7.0);
    let event = next_change(&mut socket, "redemption_requests").await;
    assert_eq!(event["topic"], "realtime:mine");
    assert_eq!(event["ref"], Value::Null);
    assert_eq!(event["payload"]["ids"], json!(ids));
    let data = &event["payload"]["data"];
    assert_eq!(data["type"], "INSERT");
    assert_eq!(data["schema"], "public");
    assert_eq!(data["record"], row);
    assert!(data.get("old_record").is_none());
    assert_eq!(data["errors"], Value::Null);
    let stamp = data["commit_timestamp"].as_str().expect("timestamp");
    assert!(stamp.ends_with('Z') && stamp.len() == 24, "{stamp}");
    assert!(data["columns"]
        .as_array()
        .expect("columns")
        .contains(&json!({"name": "version", "type": "int8"})));

    let id = row["id"].as_str().expect("id").to_owned();
    let actor = devserver::auth::jwt::Actor::User {
        id: id_of("investor1").into(),
        email: "investor1@demo.local".into(),
        app_role: devserver::auth::jwt::AppRole::Investor,
    };
    state
        .store
        .cancel_requests(&actor, std::slice::from_ref(&id))
        .expect("cancel");
    let update = next_change(&mut socket, "redemption_requests").await;
    assert_eq!(update["payload"]["data"]["type"], "UPDATE");
    assert_eq!(update["payload"]["data"]["record"]["status"], "cancelled");
    // Requests have REPLICA IDENTITY FULL in the migrations: UPDATE carries the whole old row.
    assert_eq!(update["payload"]["data"]["old_record"]["id"], json!(id));
    assert_eq!(update["payload"]["data"]["old_record"]["status"], "pending");

    state
        .store
        .delete_row(&devserver::schema::REDEMPTION_REQUESTS, &id)
        .expect("delete");
    let delete = next_change(&mut socket, "redemption_requests").await;
    assert_eq!(delete["payload"]["data"]["type"], "DELETE");
    assert_eq!(delete["payload"]["data"]["old_record"], json!({"id": id}));
    assert!(delete["payload"]["data"].get("record").is_none());

    send(&mut socket, json!({"topic": "realtime:mine", "event": "phx_leave", "payload": {}, "ref": "3", "join_ref": "1"})).await;
    let reply = next_json(&mut socket).await;
    assert_eq!(reply["event"], "phx_reply");
    assert_eq!(reply["ref"], "3");
    assert_eq!(
        next_json(&mut socket).await,
        json!({"topic": "realtime:mine", "event": "phx_close", "payload": {}, "ref": "1"})
    );
    new_request(&state.store, "investor1", 1.0);
    assert_quiet(&mut socket, Duration::from_millis(200)).await;
}

#[tokio::test]
async fn investors_get_only_their_rows_even_when_filters_ask_for_more() {
    let state = demo_state();
    let address = spawn_server(state.clone()).await;
    let mut investor = connect(address, state.keys.anon_key()).await;
    let mut admin = connect(address, state.keys.anon_key()).await;
    let other = format!("investor_id=eq.{}", id_of("investor2"));
    join_ok(
        &mut investor,
        "realtime:peek",
        Some(&token_for(&state, "investor1")),
        requests_binding(Some(&other)),
    )
    .await;
    join_ok(
        &mut admin,
        "realtime:all",
        Some(&token_for(&state, "admin1")),
        requests_binding(None),
    )
    .await;

    new_request(&state.store, "investor2", 2.0);
    let seen = next_change(&mut admin, "redemption_requests").await;
    assert_eq!(
        seen["payload"]["data"]["record"]["investor_id"],
        id_of("investor2")
    );
    assert_quiet(&mut investor, Duration::from_millis(300)).await;

    // With a filter on its own id, the investor does get its own rows.
    let own = format!("investor_id=eq.{}", id_of("investor1"));
    join_ok(
        &mut investor,
        "realtime:own",
        Some(&token_for(&state, "investor1")),
        requests_binding(Some(&own)),
    )
    .await;
    new_request(&state.store, "investor1", 2.0);
    let mine = next_change(&mut investor, "redemption_requests").await;
    assert_eq!(mine["topic"], "realtime:own");
}

#[tokio::test]
async fn anon_channels_receive_nothing() {
    let state = demo_state();
    let address = spawn_server(state.clone()).await;
    let mut socket = connect(address, state.keys.anon_key()).await;
    join_ok(&mut socket, "realtime:anon", None, requests_binding(None)).await;
    new_request(&state.store, "investor1", 1.0);
    assert_quiet(&mut socket, Duration::from_millis(300)).await;
}

#[tokio::test]
async fn filters_and_event_types_select_events() {
    let state = demo_state();
    let address = spawn_server(state.clone()).await;
    let mut socket = connect(address, state.keys.anon_key()).await;
    let bindings = json!([
        {"event": "INSERT", "schema": "public", "table": "redemption_requests", "filter": "token_amount=gt.100"},
        {"event": "UPDATE", "schema": "public", "table": "redemption_requests", "filter": "status=in.(approved,settled)"},
        {"event": "*", "schema": "public", "table": "redemption_approvals"}
    ]);
    let ids = join_ok(
        &mut socket,
        "realtime:admin",
        Some(&token_for(&state, "admin1")),
        bindings,
    )
    .await;
    assert_eq!(ids.len(), 3);

    new_request(&state.store, "investor1", 5.0);
    let big = new_request(&state.store, "investor1", 150.0);
    let event = next_change(&mut socket, "redemption_requests").await;
    assert_eq!(
        event["payload"]["data"]["record"]["id"], big["id"],
        "the small insert was filtered out"
    );
    assert_eq!(event["payload"]["ids"], json!([ids[0]]));

    let admin = devserver::auth::jwt::Actor::User {
        id: id_of("admin1").into(),
        email: "admin1@demo.local".into(),
        app_role: devserver::auth::jwt::AppRole::Admin,
    };
    let decision = devserver::store::redemptions::Decision {
        redemption_id: big["id"].as_str().expect("id").into(),
        decision: "approve".into(),
        reason: None,
    };
    state.store.decide(&admin, &decision).expect("decide");
    let approval = next_change(&mut socket, "redemption_approvals").await;
    assert_eq!(approval["payload"]["ids"], json!([ids[2]]));
    // The first approval leaves the request pending, so the UPDATE binding does not match.
    assert_quiet(&mut socket, Duration::from_millis(200)).await;
}

#[tokio::test]
async fn join_errors_use_the_reference_reasons() {
    let state = demo_state();
    let address = spawn_server(state.clone()).await;
    let mut socket = connect(address, state.keys.anon_key()).await;
    let other_keys =
        devserver::auth::jwt::JwtKeys::new("a-different-secret-of-enough-length!!").expect("keys");
    let expired = state
        .keys
        .sign(&json!({"role": "authenticated", "sub": id_of("investor1"), "exp": unix_now() - 30}))
        .expect("sign");
    let cases = [
        (
            "realtime:a",
            Some("not.a.jwt"),
            "MalformedJWT: The token provided is not a valid JWT",
        ),
        (
            "realtime:b",
            Some(other_keys.anon_key()),
            "JwtSignatureError: Failed to validate JWT signature",
        ),
        (
            "realtime:",
            None,
            "TopicNameRequired: You must provide a topic name",
        ),
        ("lobby", None, "unmatched topic"),
    ];
    for (topic, token, reason) in cases {
        send(&mut socket, join(topic, "9", token, requests_binding(None))).await;
        let reply = next_json(&mut socket).await;
        assert_eq!(reply["payload"]["status"], "error", "{topic}");
        assert_eq!(reply["payload"]["response"]["reason"], reason, "{topic}");
        assert_eq!(reply["ref"], "9");
    }
    send(
        &mut socket,
        join("realtime:c", "10", Some(&expired), requests_binding(None)),
    )
    .await;
    let reply = next_json(&mut socket).await;
    let reason = reply["payload"]["response"]["reason"]
        .as_str()
        .expect("reason");
    assert!(
        reason.starts_with("InvalidJWTToken: Token has expired ")
            && reason.ends_with(" seconds ago"),
        "{reason}"
    );

    send(
        &mut socket,
        json!({"topic": "realtime:never", "event": "phx_leave", "payload": {}, "ref": "11"}),
    )
    .await;
    assert_eq!(
        next_json(&mut socket).await["payload"]["response"]["reason"],
        "unmatched topic"
    );
}

#[tokio::test]
async fn bad_bindings_get_a_system_error_after_an_ok_reply() {
    let state = demo_state();
    let address = spawn_server(state.clone()).await;
    let mut socket = connect(address, state.keys.anon_key()).await;
    let bindings = json!([{"event": "*", "schema": "public", "table": "redemption_requests", "filter": "status=like.x"}]);
    send(
        &mut socket,
        join(
            "realtime:bad",
            "1",
            Some(&token_for(&state, "admin1")),
            bindings,
        ),
    )
    .await;
    assert_eq!(next_json(&mut socket).await["payload"]["status"], "ok");
    let system = next_json(&mut socket).await;
    assert_eq!(system["payload"]["status"], "error");
    assert!(system["payload"]["message"]
        .as_str()
        .expect("message")
        .starts_with("Error parsing `filter` params"));
}

#[tokio::test]
async fn duplicate_join_closes_the_old_channel_first() {
    let state = demo_state();
    let address = spawn_server(state.clone()).await;
    let mut socket = connect(address, state.keys.anon_key()).await;
    let token = token_for(&state, "admin1");
    join_ok(
        &mut socket,
        "realtime:dup",
        Some(&token),
        requests_binding(None),
    )
    .await;
    send(
        &mut socket,
        join("realtime:dup", "5", Some(&token), requests_binding(None)),
    )
    .await;
    assert_eq!(
        next_json(&mut socket).await,
        json!({"topic": "realtime:dup", "event": "phx_close", "payload": {}, "ref": "1"})
    );
    let reply = next_json(&mut socket).await;
    assert_eq!(reply["event"], "phx_reply");
    assert_eq!(reply["ref"], "5");
    assert_eq!(next_json(&mut socket).await["event"], "system");
    new_request(&state.store, "investor1", 1.0);
    let event = next_change(&mut socket, "redemption_requests").await;
    assert_eq!(event["topic"], "realtime:dup");
    // Exactly one copy: the old channel is gone.
    while let Some(frame) = next_json_within(&mut socket, Duration::from_millis(200)).await {
        assert_ne!(
            frame["payload"]["data"]["table"], "redemption_requests",
            "{frame}"
        );
    }
}

#[tokio::test]
async fn access_token_refresh_and_expiry_watchdog() {
    let state = demo_state();
    let address = spawn_server(state.clone()).await;
    let mut socket = connect(address, state.keys.anon_key()).await;
    let short = state
        .keys
        .sign(
            &json!({"role": "authenticated", "sub": id_of("admin1"), "exp": unix_now() + 2,
                      "app_metadata": {"app_role": "admin"}}),
        )
        .expect("sign");
    join_ok(
        &mut socket,
        "realtime:a",
        Some(&short),
        requests_binding(None),
    )
    .await;
    join_ok(
        &mut socket,
        "realtime:b",
        Some(&short),
        requests_binding(None),
    )
    .await;

    // A fresh token on channel a: no reply.
    let fresh = token_for(&state, "admin1");
    send(
        &mut socket,
        json!({"topic": "realtime:a", "event": "access_token",
                             "payload": {"access_token": fresh}, "ref": "7", "join_ref": "1"}),
    )
    .await;
    // Channel b keeps the short token and is closed by the watchdog when it expires.
    let system = next_json_within(&mut socket, Duration::from_secs(5))
        .await
        .expect("system error");
    assert_eq!(system["topic"], "realtime:b");
    assert_eq!(system["event"], "system");
    assert_eq!(system["payload"]["extension"], "system");
    assert_eq!(system["payload"]["status"], "error");
    assert!(system["payload"]["message"]
        .as_str()
        .expect("message")
        .starts_with("Token has expired"));
    assert_eq!(
        next_json(&mut socket).await,
        json!({"topic": "realtime:b", "event": "phx_close", "payload": {}, "ref": "1"})
    );

    // Channel a still delivers.
    new_request(&state.store, "investor1", 1.0);
    assert_eq!(
        next_change(&mut socket, "redemption_requests").await["topic"],
        "realtime:a"
    );

    // A bad refreshed token closes the channel with a system error.
    send(
        &mut socket,
        json!({"topic": "realtime:a", "event": "access_token",
                             "payload": {"access_token": "garbage"}, "ref": "8", "join_ref": "1"}),
    )
    .await;
    let system = loop {
        let frame = next_json(&mut socket).await;
        if frame["event"] == "system" {
            break frame;
        }
    };
    assert_eq!(
        system["payload"]["message"],
        "The token provided is not a valid JWT"
    );
    assert_eq!(next_json(&mut socket).await["event"], "phx_close");
}

#[tokio::test]
async fn upgrade_without_a_valid_apikey_is_401_json() {
    let state = demo_state();
    let address = spawn_server(state.clone()).await;
    for url in [
        format!("ws://{address}/realtime/v1/websocket?vsn=1.0.0"),
        format!("ws://{address}/socket/websocket?apikey=nope&vsn=1.0.0"),
    ] {
        match tokio_tungstenite::connect_async(url.clone()).await {
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                assert_eq!(response.status(), 401, "{url}");
                let body: Value =
                    serde_json::from_slice(response.body().as_deref().unwrap_or_default())
                        .expect("json body");
                assert!(body["error"].is_string());
            }
            other => panic!("expected a refused upgrade for {url}, got {other:?}"),
        }
    }
    let _ok = tokio_tungstenite::connect_async(format!(
        "ws://{address}/socket/websocket?apikey={}&vsn=1.0.0",
        state.keys.anon_key()
    ))
    .await
    .expect("the /socket path works too");
}

#[tokio::test]
async fn idle_sockets_are_closed() {
    let state = state_with(
        Store::in_memory_demo().expect("store"),
        Duration::from_millis(300),
    );
    let address = spawn_server(state.clone()).await;
    let mut socket = connect(address, state.keys.anon_key()).await;
    // Traffic keeps it open past the timeout...
    for n in 0..4 {
        tokio::time::sleep(Duration::from_millis(150)).await;
        send(
            &mut socket,
            json!({"topic": "phoenix", "event": "heartbeat", "payload": {}, "ref": n.to_string()}),
        )
        .await;
        assert_eq!(next_json(&mut socket).await["event"], "phx_reply");
    }
    // ...and silence closes it.
    let started = std::time::Instant::now();
    assert!(next_json_within(&mut socket, Duration::from_secs(3))
        .await
        .is_none());
    assert!(started.elapsed() >= Duration::from_millis(250));
}

#[tokio::test]
async fn refuse_fault_answers_upgrades_with_503() {
    let state = demo_state();
    let address = spawn_server(state.clone()).await;
    Call::new(Method::PUT, "/_dev/faults")
        .json(&json!({"realtime": "refuse"}))
        .send(&state)
        .await;
    let url = format!(
        "ws://{address}/realtime/v1/websocket?apikey={}&vsn=1.0.0",
        state.keys.anon_key()
    );
    match tokio_tungstenite::connect_async(url.clone()).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 503)
        }
        other => panic!("expected 503, got {other:?}"),
    }
    Call::new(Method::PUT, "/_dev/faults")
        .json(&json!({"realtime": "ok"}))
        .send(&state)
        .await;
    tokio_tungstenite::connect_async(url)
        .await
        .expect("cleared");
}

#[tokio::test]
async fn silent_fault_stops_replies_and_events_until_cleared() {
    let state = demo_state();
    let address = spawn_server(state.clone()).await;
    let mut socket = connect(address, state.keys.anon_key()).await;
    join_ok(
        &mut socket,
        "realtime:s",
        Some(&token_for(&state, "admin1")),
        requests_binding(None),
    )
    .await;
    Call::new(Method::PUT, "/_dev/faults")
        .json(&json!({"realtime": "silent"}))
        .send(&state)
        .await;
    send(
        &mut socket,
        json!({"topic": "phoenix", "event": "heartbeat", "payload": {}, "ref": "2"}),
    )
    .await;
    new_request(&state.store, "investor1", 1.0);
    assert_quiet(&mut socket, Duration::from_millis(300)).await;

    Call::new(Method::PUT, "/_dev/faults")
        .json(&json!({"realtime": "ok"}))
        .send(&state)
        .await;
    send(
        &mut socket,
        json!({"topic": "phoenix", "event": "heartbeat", "payload": {}, "ref": "3"}),
    )
    .await;
    assert_eq!(next_json(&mut socket).await["ref"], "3");
    new_request(&state.store, "investor1", 1.0);
    next_change(&mut socket, "redemption_requests").await;
}

#[tokio::test]
async fn drop_sockets_closes_every_open_socket_once() {
    let state = demo_state();
    let address = spawn_server(state.clone()).await;
    let mut first = connect(address, state.keys.anon_key()).await;
    let mut second = connect(address, state.keys.anon_key()).await;
    // Make sure both loops are running before the drop.
    for socket in [&mut first, &mut second] {
        send(
            socket,
            json!({"topic": "phoenix", "event": "heartbeat", "payload": {}, "ref": "1"}),
        )
        .await;
        next_json(socket).await;
    }
    let reply = Call::new(Method::POST, "/_dev/faults/drop-sockets")
        .send(&state)
        .await;
    assert_eq!(reply.status, 204);
    assert!(next_json_within(&mut first, Duration::from_secs(2))
        .await
        .is_none());
    assert!(next_json_within(&mut second, Duration::from_secs(2))
        .await
        .is_none());

    let mut fresh = connect(address, state.keys.anon_key()).await;
    send(
        &mut fresh,
        json!({"topic": "phoenix", "event": "heartbeat", "payload": {}, "ref": "1"}),
    )
    .await;
    assert_eq!(
        next_json(&mut fresh).await["event"],
        "phx_reply",
        "new sockets are not dropped"
    );
}

#[tokio::test]
async fn socket_loop_runs_over_in_memory_channels() {
    let state = demo_state();
    let (to_server, from_client) = futures::channel::mpsc::unbounded::<Incoming>();
    let (to_client, mut from_server) = futures::channel::mpsc::unbounded::<Outgoing>();
    let key = state.keys.anon_key().to_owned();
    let server = tokio::spawn(serve_socket(
        to_client.sink_map_err(|_| ()),
        from_client,
        state.clone(),
        key,
    ));
    let token = token_for(&state, "admin2");
    to_server
        .unbounded_send(Incoming::Text(
            join("realtime:mem", "1", Some(&token), requests_binding(None)).to_string(),
        ))
        .expect("send");
    let mut texts = Vec::new();
    while texts.len() < 2 {
        if let Some(Outgoing::Text(text)) = from_server.next().await {
            texts.push(serde_json::from_str::<Value>(&text).expect("json"));
        }
    }
    assert_eq!(texts[0]["payload"]["status"], "ok");
    assert_eq!(texts[1]["payload"]["message"], "Subscribed to PostgreSQL");
    to_server.unbounded_send(Incoming::Close).expect("send");
    tokio::time::timeout(Duration::from_secs(2), server)
        .await
        .expect("ends")
        .expect("no panic");
}
