//! Router tests without a port: auth, PostgREST reads and writes, rpc, CORS, faults and `/_dev`.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::http::{Method, StatusCode};
use common::*;
use devserver::auth::jwt::unix_now;
use serde_json::{json, Value};

const WALLET: &str = "0xaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

async fn first_holding(state: &devserver::AppState, name: &str) -> Value {
    let reply = Call::get("/rest/v1/distributions?order=remaining_balance.desc&limit=1")
        .signed_in_as(state, name)
        .send(state)
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    reply.json()[0].clone()
}

async fn create(state: &devserver::AppState, name: &str, body: Value) -> Reply {
    Call::new(Method::POST, "/rest/v1/redemption_requests")
        .signed_in_as(state, name)
        .header("prefer", "return=representation")
        .json(&body)
        .send(state)
        .await
}

// --- auth -----------------------------------------------------------------------------------

#[tokio::test]
async fn password_sign_in_returns_a_gotrue_session() {
    let state = demo_state();
    let reply = Call::new(Method::POST, "/auth/v1/token?grant_type=password")
        .anon(&state)
        .json(&json!({"email": "admin1@demo.local", "password": "demo-password"}))
        .send(&state)
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    let session = reply.json();
    assert_eq!(session["token_type"], "bearer");
    assert_eq!(session["expires_in"], 3600);
    assert!(session["expires_at"].as_i64().expect("number") > unix_now());
    assert_eq!(session["user"]["id"], id_of("admin1"));
    assert_eq!(session["user"]["role"], "authenticated");
    assert_eq!(session["user"]["app_metadata"]["app_role"], "admin");
    let token = session["access_token"].as_str().expect("token");
    let verified = state.keys.verify(token, unix_now()).expect("valid token");
    assert!(verified.actor.sees_all());

    let user = Call::get("/auth/v1/user")
        .anon(&state)
        .bearer(token)
        .send(&state)
        .await;
    assert_eq!(user.status, StatusCode::OK);
    assert_eq!(user.json()["email"], "admin1@demo.local");
}

#[tokio::test]
async fn wrong_password_is_invalid_grant() {
    let state = demo_state();
    let reply = Call::new(Method::POST, "/auth/v1/token?grant_type=password")
        .anon(&state)
        .json(&json!({"email": "investor1@demo.local", "password": "nope"}))
        .send(&state)
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.json()["error"], "invalid_grant");
    assert_eq!(
        reply.json()["error_description"],
        "Invalid login credentials"
    );
}

#[tokio::test]
async fn refresh_tokens_rotate_and_logout_revokes() {
    let state = demo_state();
    let session = Call::new(Method::POST, "/auth/v1/token?grant_type=password")
        .anon(&state)
        .json(&json!({"email": "investor2@demo.local", "password": "demo-password"}))
        .send(&state)
        .await
        .json();
    let first = session["refresh_token"]
        .as_str()
        .expect("refresh")
        .to_owned();
    let refresh = |token: String| {
        let state = state.clone();
        async move {
            Call::new(Method::POST, "/auth/v1/token?grant_type=refresh_token")
                .anon(&state)
                .json(&json!({"refresh_token": token}))
                .send(&state)
                .await
        }
    };
    let renewed = refresh(first.clone()).await;
    assert_eq!(renewed.status, StatusCode::OK);
    let second = renewed.json()["refresh_token"]
        .as_str()
        .expect("rotated")
        .to_owned();
    assert_ne!(first, second);
    assert_eq!(
        refresh(first).await.status,
        StatusCode::BAD_REQUEST,
        "a spent token is refused"
    );

    let access = renewed.json()["access_token"]
        .as_str()
        .expect("access")
        .to_owned();
    let logout = Call::new(Method::POST, "/auth/v1/logout")
        .anon(&state)
        .bearer(&access)
        .send(&state)
        .await;
    assert_eq!(logout.status, StatusCode::NO_CONTENT);
    assert_eq!(refresh(second).await.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn apikey_is_required_on_auth_and_rest() {
    let state = demo_state();
    for uri in ["/rest/v1/distributions", "/auth/v1/user"] {
        let reply = Call::get(uri).send(&state).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{uri}");
    }
    let bad = Call::get("/rest/v1/distributions")
        .header("apikey", "not-a-key")
        .send(&state)
        .await;
    assert_eq!(bad.status, StatusCode::UNAUTHORIZED);
    let key = state.keys.anon_key().to_owned();
    let in_query = Call::get(&format!("/rest/v1/distributions?apikey={key}"))
        .send(&state)
        .await;
    assert_eq!(in_query.status, StatusCode::OK);
    assert_eq!(in_query.json(), json!([]), "anon reads nothing");
}

#[tokio::test]
async fn bad_and_expired_bearer_tokens_are_401() {
    let state = demo_state();
    let malformed = Call::get("/rest/v1/distributions")
        .anon(&state)
        .bearer("garbage")
        .send(&state)
        .await;
    assert_eq!(malformed.status, StatusCode::UNAUTHORIZED);
    assert_eq!(malformed.json()["code"], "PGRST301");

    let expired = state
        .keys
        .sign(&json!({"role": "authenticated", "sub": id_of("investor1"), "exp": unix_now() - 5}))
        .expect("sign");
    let reply = Call::get("/rest/v1/distributions")
        .anon(&state)
        .bearer(&expired)
        .send(&state)
        .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(reply.json()["code"], "PGRST303");
}

// --- reads ----------------------------------------------------------------------------------

#[tokio::test]
async fn investors_see_only_their_rows_and_admins_see_all() {
    let state = demo_state();
    let all = Call::get("/rest/v1/redemption_requests?select=investor_id")
        .signed_in_as(&state, "admin1")
        .send(&state)
        .await
        .json();
    assert_eq!(all.as_array().expect("array").len(), 40);
    let mine = Call::get("/rest/v1/redemption_requests?select=investor_id")
        .signed_in_as(&state, "investor1")
        .send(&state)
        .await
        .json();
    let mine = mine.as_array().expect("array");
    assert!(!mine.is_empty() && mine.len() < 40);
    assert!(mine
        .iter()
        .all(|row| row["investor_id"] == id_of("investor1")));

    let approvals = Call::get("/rest/v1/redemption_approvals?select=redemption_id")
        .signed_in_as(&state, "investor1")
        .send(&state)
        .await
        .json();
    let own_ids: Vec<Value> = Call::get("/rest/v1/redemption_requests?select=id")
        .signed_in_as(&state, "investor1")
        .send(&state)
        .await
        .json()
        .as_array()
        .expect("array")
        .iter()
        .map(|row| row["id"].clone())
        .collect();
    for approval in approvals.as_array().expect("array") {
        assert!(own_ids.contains(&approval["redemption_id"]));
    }
}

#[tokio::test]
async fn rows_are_typed_json() {
    let state = demo_state();
    let rows = Call::get("/rest/v1/redemption_requests?status=eq.settled&limit=1")
        .signed_in_as(&state, "admin1")
        .send(&state)
        .await
        .json();
    let row = &rows[0];
    assert!(row["token_amount"].is_number());
    assert!(row["usdc_value"].is_number());
    assert!(row["version"].is_i64());
    assert!(row["status_history"].is_array());
    assert_eq!(
        row["status_history"]
            .as_array()
            .expect("array")
            .last()
            .expect("entry")["status"],
        "settled"
    );
    assert!(row["rejection_reason"].is_null());
    let hash = row["settlement_tx_hash"].as_str().expect("hash");
    assert_eq!(hash.len(), 66);
    assert!(row["created_at"]
        .as_str()
        .expect("time")
        .ends_with("+00:00"));
    let keys: Vec<&String> = row.as_object().expect("object").keys().collect();
    assert_eq!(keys[0], "id", "columns come in table order");
}

#[tokio::test]
async fn select_list_order_and_embedding() {
    let state = demo_state();
    let rows = Call::get(
        "/rest/v1/redemption_requests?select=status,id,redemption_approvals(admin_email,decision)\
         &status=in.(approved,settled)&order=created_at.asc",
    )
    .signed_in_as(&state, "admin2")
    .send(&state)
    .await
    .json();
    let rows = rows.as_array().expect("array");
    assert!(!rows.is_empty());
    for row in rows {
        let keys: Vec<&String> = row.as_object().expect("object").keys().collect();
        assert_eq!(keys, ["status", "id", "redemption_approvals"]);
        let approvals = row["redemption_approvals"]
            .as_array()
            .expect("embedded array");
        assert_eq!(approvals.len(), 2);
        assert_eq!(approvals[0].as_object().expect("object").len(), 2);
    }
}

#[tokio::test]
async fn filters_order_limit_offset_and_counts() {
    let state = demo_state();
    let reply = Call::get(
        "/rest/v1/redemption_requests?select=token_amount&order=token_amount.desc&limit=5&offset=2",
    )
    .signed_in_as(&state, "admin1")
    .header("prefer", "count=exact")
    .send(&state)
    .await;
    assert_eq!(reply.header("content-range"), Some("2-6/40"));
    assert_eq!(reply.status, StatusCode::PARTIAL_CONTENT);
    let amounts: Vec<f64> = reply
        .json()
        .as_array()
        .expect("array")
        .iter()
        .map(|r| r["token_amount"].as_f64().expect("number"))
        .collect();
    assert!(amounts.windows(2).all(|w| w[0] >= w[1]));

    let no_count = Call::get("/rest/v1/redemption_requests?limit=3")
        .signed_in_as(&state, "admin1")
        .send(&state)
        .await;
    assert_eq!(no_count.header("content-range"), Some("0-2/*"));
    assert_eq!(no_count.status, StatusCode::OK);

    let empty = Call::get("/rest/v1/redemption_requests?status=eq.nothing")
        .signed_in_as(&state, "admin1")
        .header("prefer", "count=exact")
        .send(&state)
        .await;
    assert_eq!(empty.header("content-range"), Some("*/0"));
    assert_eq!(empty.json(), json!([]));

    let filtered = Call::get(
        "/rest/v1/redemption_requests?select=status,rejection_reason&rejection_reason=not.is.null",
    )
    .signed_in_as(&state, "admin1")
    .send(&state)
    .await
    .json();
    assert!(filtered
        .as_array()
        .expect("array")
        .iter()
        .all(|r| r["status"] == "rejected"));
    let neq = Call::get("/rest/v1/redemption_requests?select=status&status=neq.draft&status=not.in.(pending,settled)")
        .signed_in_as(&state, "admin1")
        .send(&state)
        .await
        .json();
    assert!(neq
        .as_array()
        .expect("array")
        .iter()
        .all(|r| !["draft", "pending", "settled"]
            .contains(&r["status"].as_str().unwrap_or_default())));
    let ranged =
        Call::get("/rest/v1/redemption_requests?select=version&version=gte.2&version=lt.4")
            .signed_in_as(&state, "admin1")
            .send(&state)
            .await
            .json();
    assert!(ranged
        .as_array()
        .expect("array")
        .iter()
        .all(|r| (2..4).contains(&r["version"].as_i64().unwrap_or(0))));

    let head = Call::new(Method::HEAD, "/rest/v1/redemption_requests")
        .signed_in_as(&state, "admin1")
        .header("prefer", "count=exact")
        .send(&state)
        .await;
    assert_eq!(head.header("content-range"), Some("0-39/40"));
    assert!(head.text.is_empty());

    let past_end = Call::get("/rest/v1/redemption_requests?offset=100")
        .signed_in_as(&state, "admin1")
        .header("prefer", "count=exact")
        .send(&state)
        .await;
    assert_eq!(past_end.status, StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(past_end.json()["code"], "PGRST103");
}

#[tokio::test]
async fn single_object_or_406() {
    let state = demo_state();
    let one = Call::get("/rest/v1/redemption_requests?limit=1")
        .signed_in_as(&state, "admin1")
        .header("accept", "application/vnd.pgrst.object+json")
        .send(&state)
        .await;
    assert_eq!(one.status, StatusCode::OK);
    assert!(one.json().is_object());
    let many = Call::get("/rest/v1/redemption_requests")
        .signed_in_as(&state, "admin1")
        .header("accept", "application/vnd.pgrst.object+json")
        .send(&state)
        .await;
    assert_eq!(many.status, StatusCode::NOT_ACCEPTABLE);
    assert_eq!(many.json()["code"], "PGRST116");
    let none = Call::get("/rest/v1/redemption_requests")
        .anon(&state)
        .header("accept", "application/vnd.pgrst.object+json")
        .send(&state)
        .await;
    assert_eq!(none.status, StatusCode::NOT_ACCEPTABLE);
    assert_eq!(none.json()["details"], "The result contains 0 rows");
}

#[tokio::test]
async fn errors_are_postgrest_shaped() {
    let state = demo_state();
    let cases = [
        ("/rest/v1/users", StatusCode::NOT_FOUND, "PGRST205"),
        (
            "/rest/v1/distributions?select=secret",
            StatusCode::BAD_REQUEST,
            "42703",
        ),
        (
            "/rest/v1/distributions?secret=eq.1",
            StatusCode::BAD_REQUEST,
            "42703",
        ),
        (
            "/rest/v1/distributions?fund_name=like.x",
            StatusCode::BAD_REQUEST,
            "PGRST100",
        ),
        (
            "/rest/v1/distributions?fund_name=eq",
            StatusCode::BAD_REQUEST,
            "PGRST100",
        ),
        (
            "/rest/v1/distributions?limit=ten",
            StatusCode::BAD_REQUEST,
            "PGRST100",
        ),
        (
            "/rest/v1/distributions?order=fund_name.sideways",
            StatusCode::BAD_REQUEST,
            "PGRST100",
        ),
        (
            "/rest/v1/distributions?token_amount=gt.many",
            StatusCode::BAD_REQUEST,
            "22P02",
        ),
        (
            "/rest/v1/distributions?id=eq.42",
            StatusCode::BAD_REQUEST,
            "22P02",
        ),
        (
            "/rest/v1/distributions?select=*,redemption_approvals(*)",
            StatusCode::BAD_REQUEST,
            "PGRST200",
        ),
    ];
    for (uri, status, code) in cases {
        let reply = Call::get(uri)
            .signed_in_as(&state, "admin1")
            .send(&state)
            .await;
        assert_eq!(reply.status, status, "{uri}: {}", reply.text);
        let body = reply.json();
        assert_eq!(body["code"], code, "{uri}");
        for key in ["message", "details", "hint"] {
            assert!(body.get(key).is_some(), "{uri} lacks {key}");
        }
    }
}

#[tokio::test]
async fn injection_through_values_columns_and_order_is_harmless() {
    let state = demo_state();
    let value = Call::get("/rest/v1/redemption_requests?status=eq.pending'%20OR%20'1'='1")
        .signed_in_as(&state, "admin1")
        .send(&state)
        .await;
    assert_eq!(value.status, StatusCode::OK);
    assert_eq!(
        value.json(),
        json!([]),
        "the value is compared as text, not run as SQL"
    );

    let in_list =
        Call::get("/rest/v1/redemption_requests?status=in.(pending);DROP%20TABLE%20users;--)")
            .signed_in_as(&state, "admin1")
            .send(&state)
            .await;
    assert_eq!(in_list.status, StatusCode::BAD_REQUEST);

    let column =
        Call::get("/rest/v1/redemption_requests?select=id,(SELECT%20password_hash%20FROM%20users)")
            .signed_in_as(&state, "admin1")
            .send(&state)
            .await;
    assert_eq!(column.status, StatusCode::BAD_REQUEST);
    let filter_column = Call::get("/rest/v1/redemption_requests?1=1%20OR%20id=eq.x")
        .signed_in_as(&state, "admin1")
        .send(&state)
        .await;
    assert_eq!(filter_column.status, StatusCode::BAD_REQUEST);

    let order =
        Call::get("/rest/v1/redemption_requests?order=(CASE%20WHEN%201=1%20THEN%20id%20END)")
            .signed_in_as(&state, "admin1")
            .send(&state)
            .await;
    assert_eq!(order.status, StatusCode::BAD_REQUEST);
    let order_suffix =
        Call::get("/rest/v1/redemption_requests?order=id;DELETE%20FROM%20redemption_requests")
            .signed_in_as(&state, "admin1")
            .send(&state)
            .await;
    assert_eq!(order_suffix.status, StatusCode::BAD_REQUEST);

    // Nothing was harmed and investors still see only their own rows.
    let all = Call::get("/rest/v1/redemption_requests?select=id")
        .signed_in_as(&state, "admin1")
        .send(&state)
        .await
        .json();
    assert_eq!(all.as_array().expect("array").len(), 40);
    let sneaky = Call::get(
        "/rest/v1/redemption_requests?investor_id=eq.00000000-0000-4000-8000-000000000002",
    )
    .signed_in_as(&state, "investor1")
    .send(&state)
    .await
    .json();
    assert_eq!(sneaky, json!([]));
}

#[tokio::test]
async fn cors_preflight_allows_supabase_headers() {
    let state = demo_state();
    let reply = Call::new(Method::OPTIONS, "/rest/v1/redemption_requests")
        .header("origin", "http://127.0.0.1:8080")
        .header("access-control-request-method", "PATCH")
        .header(
            "access-control-request-headers",
            "apikey,authorization,content-type,prefer,accept-profile,content-profile,x-client-info,range",
        )
        .send(&state)
        .await;
    assert!(reply.status.is_success());
    assert_eq!(
        reply.header("access-control-allow-origin"),
        Some("http://127.0.0.1:8080")
    );
    let allowed = reply
        .header("access-control-allow-headers")
        .expect("allowed headers");
    for name in [
        "apikey",
        "authorization",
        "prefer",
        "accept-profile",
        "x-client-info",
        "range",
    ] {
        assert!(allowed.contains(name), "{name} missing from {allowed}");
    }
    let get = Call::get("/rest/v1/distributions")
        .anon(&state)
        .header("origin", "http://localhost:8080")
        .send(&state)
        .await;
    assert!(get
        .header("access-control-expose-headers")
        .expect("exposed")
        .contains("content-range"));
}

// --- writes ---------------------------------------------------------------------------------

#[tokio::test]
async fn investor_creates_a_request_from_a_holding() {
    let state = demo_state();
    let holding = first_holding(&state, "investor1").await;
    let before = holding["remaining_balance"].as_f64().expect("balance");
    let reply = create(
        &state,
        "investor1",
        json!({"distribution_id": holding["id"], "token_amount": 12.5,
               "destination_wallet": WALLET, "redemption_type": "interval", "notes": "hi"}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    let row = &reply.json()[0];
    assert_eq!(row["status"], "pending");
    assert_eq!(row["investor_id"], id_of("investor1"));
    assert_eq!(row["token_symbol"], holding["token_symbol"]);
    assert_eq!(row["required_approvals"], 2);
    assert_eq!(row["approval_count"], 0);
    assert_eq!(row["version"], 1);
    let expected_usdc = 12.5 * holding["conversion_rate"].as_f64().expect("rate");
    assert!((row["usdc_value"].as_f64().expect("usdc") - expected_usdc).abs() < 1e-6);
    assert_eq!(row["status_history"].as_array().expect("history").len(), 1);

    let after = first_holding(&state, "investor1").await;
    assert!((before - after["remaining_balance"].as_f64().expect("balance") - 12.5).abs() < 1e-9);

    let minimal = Call::new(Method::POST, "/rest/v1/redemption_requests")
        .signed_in_as(&state, "investor1")
        .json(&json!({"distribution_id": holding["id"], "token_amount": 1,
                      "destination_wallet": WALLET, "redemption_type": "standard"}))
        .send(&state)
        .await;
    assert_eq!(minimal.status, StatusCode::CREATED);
    assert!(minimal.text.is_empty());
}

#[tokio::test]
async fn a_repeated_insert_with_the_same_id_creates_one_request() {
    let state = demo_state();
    let holding = first_holding(&state, "investor2").await;
    let body = json!({"id": "5d9f3c0e-1111-4222-8333-444455556666", "distribution_id": holding["id"],
                      "token_amount": 3, "destination_wallet": WALLET, "redemption_type": "standard"});
    assert_eq!(
        create(&state, "investor2", body.clone()).await.status,
        StatusCode::CREATED
    );
    let second = create(&state, "investor2", body).await;
    assert_eq!(second.status, StatusCode::CONFLICT);
    assert_eq!(second.json()["code"], "23505");
    let rows = Call::get("/rest/v1/redemption_requests?id=eq.5d9f3c0e-1111-4222-8333-444455556666")
        .signed_in_as(&state, "investor2")
        .send(&state)
        .await
        .json();
    assert_eq!(rows.as_array().expect("array").len(), 1);
    let after = first_holding(&state, "investor2").await;
    assert!(
        (holding["remaining_balance"].as_f64().unwrap_or(0.0)
            - after["remaining_balance"].as_f64().unwrap_or(0.0)
            - 3.0)
            .abs()
            < 1e-9
    );
}

#[tokio::test]
async fn invalid_inserts_are_refused() {
    let state = demo_state();
    let holding = first_holding(&state, "investor1").await;
    let base = json!({"distribution_id": holding["id"], "token_amount": 1,
                      "destination_wallet": WALLET, "redemption_type": "standard"});
    let with = |key: &str, value: Value| {
        let mut body = base.clone();
        body[key] = value;
        body
    };
    let cases = [
        (
            with("token_amount", json!(0)),
            StatusCode::BAD_REQUEST,
            "23514",
        ),
        (
            with("token_amount", json!(-5)),
            StatusCode::BAD_REQUEST,
            "23514",
        ),
        (
            with("token_amount", json!(1e12)),
            StatusCode::BAD_REQUEST,
            "P0001",
        ),
        (
            with("destination_wallet", json!("0x123")),
            StatusCode::BAD_REQUEST,
            "23514",
        ),
        (
            with("redemption_type", json!("express")),
            StatusCode::BAD_REQUEST,
            "23514",
        ),
        (
            with("status", json!("approved")),
            StatusCode::FORBIDDEN,
            "42501",
        ),
        (
            with("investor_id", json!(id_of("investor2"))),
            StatusCode::FORBIDDEN,
            "42501",
        ),
        (
            with("approval_count", json!(2)),
            StatusCode::FORBIDDEN,
            "42501",
        ),
        (
            with("favourite_colour", json!("blue")),
            StatusCode::BAD_REQUEST,
            "PGRST204",
        ),
    ];
    for (body, status, code) in cases {
        let reply = create(&state, "investor1", body.clone()).await;
        assert_eq!(reply.status, status, "{body}: {}", reply.text);
        assert_eq!(reply.json()["code"], code, "{body}");
    }
    let other = first_holding(&state, "investor2").await;
    let foreign = create(
        &state,
        "investor1",
        with("distribution_id", other["id"].clone()),
    )
    .await;
    assert_eq!(foreign.status, StatusCode::FORBIDDEN);
    let admin = create(&state, "admin1", base.clone()).await;
    assert_eq!(admin.status, StatusCode::FORBIDDEN);
    let anon = Call::new(Method::POST, "/rest/v1/redemption_requests")
        .anon(&state)
        .json(&base)
        .send(&state)
        .await;
    assert_eq!(anon.status, StatusCode::UNAUTHORIZED);
    let garbage = Call::new(Method::POST, "/rest/v1/redemption_requests")
        .signed_in_as(&state, "investor1")
        .raw("{not json")
        .send(&state)
        .await;
    assert_eq!(garbage.status, StatusCode::BAD_REQUEST);
    assert_eq!(garbage.json()["code"], "PGRST102");
    let after = first_holding(&state, "investor1").await;
    assert_eq!(after["remaining_balance"], holding["remaining_balance"]);
}

#[tokio::test]
async fn cancel_only_own_pending_requests() {
    let state = demo_state();
    let holding = first_holding(&state, "investor1").await;
    let created = create(
        &state,
        "investor1",
        json!({"distribution_id": holding["id"], "token_amount": 20,
               "destination_wallet": WALLET, "redemption_type": "standard"}),
    )
    .await
    .json();
    let id = created[0]["id"].as_str().expect("id").to_owned();
    let uri = format!("/rest/v1/redemption_requests?id=eq.{id}");

    let by_other = Call::new(Method::PATCH, &uri)
        .signed_in_as(&state, "investor2")
        .header("prefer", "return=representation")
        .json(&json!({"status": "cancelled"}))
        .send(&state)
        .await;
    assert_eq!(by_other.status, StatusCode::OK);
    assert_eq!(
        by_other.json(),
        json!([]),
        "another investor matches no row"
    );

    let other_change = Call::new(Method::PATCH, &uri)
        .signed_in_as(&state, "investor1")
        .json(&json!({"status": "approved"}))
        .send(&state)
        .await;
    assert_eq!(other_change.status, StatusCode::FORBIDDEN);
    let amount_change = Call::new(Method::PATCH, &uri)
        .signed_in_as(&state, "investor1")
        .json(&json!({"token_amount": 1}))
        .send(&state)
        .await;
    assert_eq!(amount_change.status, StatusCode::FORBIDDEN);

    let mine = Call::new(Method::PATCH, &uri)
        .signed_in_as(&state, "investor1")
        .header("prefer", "return=representation")
        .json(&json!({"status": "cancelled"}))
        .send(&state)
        .await;
    assert_eq!(mine.status, StatusCode::OK);
    let row = &mine.json()[0];
    assert_eq!(row["status"], "cancelled");
    assert_eq!(row["version"], 2);
    assert_eq!(row["status_history"].as_array().expect("history").len(), 2);
    assert_ne!(row["updated_at"], created[0]["updated_at"]);
    let after = first_holding(&state, "investor1").await;
    assert_eq!(
        after["remaining_balance"], holding["remaining_balance"],
        "tokens went back"
    );

    let again = Call::new(Method::PATCH, &uri)
        .signed_in_as(&state, "investor1")
        .json(&json!({"status": "cancelled"}))
        .send(&state)
        .await;
    assert_eq!(
        again.status,
        StatusCode::NO_CONTENT,
        "no longer pending: matches nothing"
    );
}

#[tokio::test]
async fn deletes_through_rest_are_refused() {
    let state = demo_state();
    let reply = Call::new(Method::DELETE, "/rest/v1/redemption_requests?id=eq.x")
        .signed_in_as(&state, "admin1")
        .send(&state)
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert_eq!(reply.json()["code"], "42501");
}

// --- rpc ------------------------------------------------------------------------------------

async fn pending_request(state: &devserver::AppState) -> String {
    let holding = first_holding(state, "investor3").await;
    create(
        state,
        "investor3",
        json!({"distribution_id": holding["id"], "token_amount": 5,
               "destination_wallet": WALLET, "redemption_type": "standard"}),
    )
    .await
    .json()[0]["id"]
        .as_str()
        .expect("id")
        .to_owned()
}

async fn decide(state: &devserver::AppState, who: &str, body: Value) -> Reply {
    Call::new(Method::POST, "/rest/v1/rpc/decide_redemption")
        .signed_in_as(state, who)
        .json(&body)
        .send(state)
        .await
}

#[tokio::test]
async fn decide_redemption_follows_the_contract() {
    let state = demo_state();
    let id = pending_request(&state).await;

    let investor = decide(
        &state,
        "investor3",
        json!({"redemption_id": id, "decision": "approve"}),
    )
    .await;
    assert_eq!(investor.status, StatusCode::FORBIDDEN);
    assert_eq!(investor.json()["code"], "42501");

    let first = decide(
        &state,
        "admin1",
        json!({"redemption_id": id, "decision": "approve", "reason": null}),
    )
    .await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    assert_eq!(first.json()["approval_count"], 1);
    assert_eq!(first.json()["status"], "pending");

    let twice = decide(
        &state,
        "admin1",
        json!({"redemption_id": id, "decision": "approve"}),
    )
    .await;
    assert_eq!(twice.status, StatusCode::CONFLICT);
    assert_eq!(twice.json()["code"], "23505");

    let no_reason = decide(
        &state,
        "admin2",
        json!({"redemption_id": id, "decision": "reject"}),
    )
    .await;
    assert_eq!(no_reason.status, StatusCode::BAD_REQUEST);
    assert_eq!(no_reason.json()["code"], "P0001");

    let second = decide(
        &state,
        "admin2",
        json!({"redemption_id": id, "decision": "approve"}),
    )
    .await;
    let row = second.json();
    assert_eq!(row["status"], "approved");
    assert_eq!(row["approval_count"], 2);

    let late = decide(
        &state,
        "admin2",
        json!({"redemption_id": id, "decision": "reject", "reason": "late"}),
    )
    .await;
    assert_eq!(late.status, StatusCode::BAD_REQUEST);
    assert_eq!(late.json()["message"], "redemption is not pending");

    let approvals = Call::get(&format!(
        "/rest/v1/redemption_approvals?redemption_id=eq.{id}"
    ))
    .signed_in_as(&state, "investor3")
    .send(&state)
    .await
    .json();
    assert_eq!(
        approvals.as_array().expect("array").len(),
        2,
        "the owner sees its approvals"
    );

    let unknown = Call::new(Method::POST, "/rest/v1/rpc/drop_everything")
        .signed_in_as(&state, "admin1")
        .json(&json!({}))
        .send(&state)
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_eq!(unknown.json()["code"], "PGRST202");
}

#[tokio::test]
async fn reject_returns_the_tokens() {
    let state = demo_state();
    let before = first_holding(&state, "investor3").await;
    let id = pending_request(&state).await;
    let reply = decide(
        &state,
        "admin1",
        json!({"redemption_id": id, "decision": "reject", "reason": "KYC"}),
    )
    .await;
    assert_eq!(reply.json()["status"], "rejected");
    assert_eq!(reply.json()["rejection_reason"], "KYC");
    let after = first_holding(&state, "investor3").await;
    assert_eq!(before["remaining_balance"], after["remaining_balance"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_decisions_approve_exactly_once() {
    for _ in 0..10 {
        let state = demo_state();
        let id = pending_request(&state).await;
        let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(3));
        let tasks: Vec<_> = ["admin1", "admin2", "admin1"]
            .into_iter()
            .map(|admin| {
                let state = state.clone();
                let id = id.clone();
                let barrier = barrier.clone();
                tokio::spawn(async move {
                    barrier.wait().await;
                    decide(
                        &state,
                        admin,
                        json!({"redemption_id": id, "decision": "approve"}),
                    )
                    .await
                    .status
                })
            })
            .collect();
        let mut statuses = Vec::new();
        for task in tasks {
            statuses.push(task.await.expect("task"));
        }
        assert_eq!(
            statuses.iter().filter(|s| **s == StatusCode::OK).count(),
            2,
            "{statuses:?}"
        );
        let row = Call::get(&format!("/rest/v1/redemption_requests?id=eq.{id}"))
            .signed_in_as(&state, "admin1")
            .send(&state)
            .await
            .json();
        assert_eq!(row[0]["status"], "approved");
        assert_eq!(row[0]["approval_count"], 2);
        let approved_entries = row[0]["status_history"]
            .as_array()
            .expect("history")
            .iter()
            .filter(|entry| entry["status"] == "approved")
            .count();
        assert_eq!(approved_entries, 1);
    }
}

// --- faults and /_dev -----------------------------------------------------------------------

#[tokio::test]
async fn faults_api_reads_replaces_and_validates() {
    let state = demo_state();
    let current = Call::get("/_dev/faults").send(&state).await;
    assert_eq!(
        current.json(),
        json!({"realtime": "ok", "rest_delay_ms": 0, "rest_fail_rate": 0.0})
    );
    let put = Call::new(Method::PUT, "/_dev/faults")
        .json(&json!({"realtime": "silent", "rest_delay_ms": 5, "rest_fail_rate": 0.25}))
        .send(&state)
        .await;
    assert_eq!(put.status, StatusCode::OK);
    assert_eq!(
        Call::get("/_dev/faults").send(&state).await.json()["realtime"],
        "silent"
    );
    for bad in [
        "{nope",
        r#"{"realtime":"loud"}"#,
        r#"{"rest_fail_rate":1.5}"#,
        r#"{"extra":1}"#,
    ] {
        let reply = Call::new(Method::PUT, "/_dev/faults")
            .raw(bad)
            .send(&state)
            .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{bad}");
    }
    let cleared = Call::new(Method::PUT, "/_dev/faults")
        .json(&json!({}))
        .send(&state)
        .await;
    assert_eq!(cleared.json()["realtime"], "ok");
    assert_eq!(Call::get("/_dev/health").send(&state).await.text, "ok");
    let drop = Call::new(Method::POST, "/_dev/faults/drop-sockets")
        .send(&state)
        .await;
    assert_eq!(drop.status, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn dev_routes_refuse_non_loopback_peers() {
    let state = demo_state();
    let remote = SocketAddr::from(([192, 168, 1, 20], 5000));
    let reply = Call::get("/_dev/faults").send_from(&state, remote).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    let put = Call::new(Method::PUT, "/_dev/faults")
        .json(&json!({"realtime": "refuse"}))
        .send_from(&state, remote)
        .await;
    assert_eq!(put.status, StatusCode::FORBIDDEN);
    assert_eq!(
        state.faults.current().realtime,
        devserver::faults::RealtimeFault::Ok
    );
}

#[tokio::test]
async fn rest_delay_and_failure_rate_apply_to_rest_only() {
    let state = demo_state();
    Call::new(Method::PUT, "/_dev/faults")
        .json(&json!({"rest_delay_ms": 150}))
        .send(&state)
        .await;
    let started = Instant::now();
    let reply = Call::get("/rest/v1/distributions")
        .signed_in_as(&state, "investor1")
        .send(&state)
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(started.elapsed() >= Duration::from_millis(150));

    Call::new(Method::PUT, "/_dev/faults")
        .json(&json!({"rest_fail_rate": 1.0}))
        .send(&state)
        .await;
    let failed = Call::get("/rest/v1/distributions")
        .signed_in_as(&state, "investor1")
        .send(&state)
        .await;
    assert_eq!(failed.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(failed.json()["code"]
        .as_str()
        .expect("code")
        .starts_with("PGRST"));
    let auth = Call::new(Method::POST, "/auth/v1/token?grant_type=password")
        .anon(&state)
        .json(&json!({"email": "investor1@demo.local", "password": "demo-password"}))
        .send(&state)
        .await;
    assert_eq!(auth.status, StatusCode::OK, "auth is not a REST route");

    Call::new(Method::PUT, "/_dev/faults")
        .json(&json!({"rest_fail_rate": 0.5}))
        .send(&state)
        .await;
    let mut failures = 0;
    for _ in 0..200 {
        let reply = Call::get("/rest/v1/distributions")
            .signed_in_as(&state, "investor1")
            .send(&state)
            .await;
        if reply.status == StatusCode::SERVICE_UNAVAILABLE {
            failures += 1;
        }
    }
    assert!((50..150).contains(&failures), "{failures} of 200 failed");
}

#[tokio::test]
async fn dev_delete_removes_a_request_and_its_approvals() {
    let state = demo_state();
    let id = pending_request(&state).await;
    decide(
        &state,
        "admin1",
        json!({"redemption_id": id, "decision": "approve"}),
    )
    .await;
    let reply = Call::new(
        Method::DELETE,
        &format!("/_dev/tables/redemption_requests/{id}"),
    )
    .send(&state)
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let left = Call::get(&format!(
        "/rest/v1/redemption_approvals?redemption_id=eq.{id}"
    ))
    .signed_in_as(&state, "admin1")
    .send(&state)
    .await
    .json();
    assert_eq!(left, json!([]));
    let missing = Call::new(
        Method::DELETE,
        &format!("/_dev/tables/redemption_requests/{id}"),
    )
    .send(&state)
    .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}
