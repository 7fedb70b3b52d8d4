//! Runs every case of `tests/cases/access_cases.json` against the router, per
//! `tests/cases/README.md`: fixtures with service rights, the op over HTTP as the actor.

mod common;

use std::collections::HashMap;
use std::sync::Arc;

use axum::http::{Method, StatusCode};
use common::*;
use devserver::column_value::{micros_from_f64, now_timestamp};
use devserver::schema::{DISTRIBUTIONS, REDEMPTION_APPROVALS, REDEMPTION_REQUESTS};
use devserver::store::Store;
use devserver::AppState;
use rusqlite::types::Value as SqlValue;
use serde_json::{json, Value};

const CASES: &str = include_str!("../../tests/cases/access_cases.json");
const WALLET: &str = "0xaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

fn text(value: &str) -> SqlValue {
    SqlValue::Text(value.to_owned())
}

fn micros(amount: f64) -> SqlValue {
    SqlValue::Integer(micros_from_f64(amount).expect("amount"))
}

/// Fixture keys to row ids.
#[derive(Default)]
struct Fixtures {
    holdings: HashMap<String, String>,
    requests: HashMap<String, String>,
}

fn insert_holding(store: &Store, owner: &str, balance: f64) -> String {
    let id = uuid::Uuid::new_v4().to_string();
    let now = now_timestamp();
    store
        .write(|tx| {
            tx.insert(
                &DISTRIBUTIONS,
                &[
                    ("id", text(&id)),
                    ("investor_id", text(id_of(owner))),
                    ("fund_name", text("Meridian Treasury Fund")),
                    ("token_symbol", text("MTF")),
                    ("token_amount", micros(balance)),
                    ("remaining_balance", micros(balance)),
                    ("conversion_rate", micros(1.25)),
                    ("created_at", text(&now)),
                    ("updated_at", text(&now)),
                ],
            )
        })
        .expect("holding fixture");
    id
}

fn set_up(store: &Store, fixtures: &[Value]) -> Fixtures {
    let mut made = Fixtures::default();
    for fixture in fixtures {
        if let Some(holding) = fixture.get("holding") {
            let id = insert_holding(
                store,
                holding["owner"].as_str().expect("owner"),
                holding["remaining_balance"].as_f64().expect("balance"),
            );
            made.holdings
                .insert(holding["key"].as_str().expect("key").into(), id);
        } else if let Some(request) = fixture.get("request") {
            let owner = request["owner"].as_str().expect("owner");
            let status = request["status"].as_str().expect("status");
            let holding = insert_holding(store, owner, 1000.0);
            let id = uuid::Uuid::new_v4().to_string();
            let now = now_timestamp();
            let history = json!([{"status": status, "at": now}]).to_string();
            store
                .write(|tx| {
                    tx.insert(
                        &REDEMPTION_REQUESTS,
                        &[
                            ("id", text(&id)),
                            ("investor_id", text(id_of(owner))),
                            ("distribution_id", text(&holding)),
                            ("token_symbol", text("MTF")),
                            ("token_amount", micros(10.0)),
                            ("usdc_value", micros(12.5)),
                            ("destination_wallet", text(WALLET)),
                            ("redemption_type", text("standard")),
                            ("status", text(status)),
                            (
                                "required_approvals",
                                SqlValue::Integer(
                                    request["required_approvals"].as_i64().unwrap_or(2),
                                ),
                            ),
                            ("approval_count", SqlValue::Integer(0)),
                            ("status_history", SqlValue::Text(history)),
                            ("version", SqlValue::Integer(1)),
                            ("created_at", text(&now)),
                            ("updated_at", text(&now)),
                        ],
                    )
                })
                .expect("request fixture");
            let key = request["key"].as_str().expect("key").to_owned();
            made.holdings.insert(key.clone(), holding);
            made.requests.insert(key, id);
        } else if let Some(approval) = fixture.get("approval") {
            let request = made.requests[approval["request"].as_str().expect("request")].clone();
            let admin = approval["admin"].as_str().expect("admin");
            let decision = approval["decision"].as_str().expect("decision");
            store
                .write(|tx| {
                    tx.insert(
                        &REDEMPTION_APPROVALS,
                        &[
                            ("id", text(&uuid::Uuid::new_v4().to_string())),
                            ("redemption_id", text(&request)),
                            ("admin_id", text(id_of(admin))),
                            ("admin_email", text(&format!("{admin}@demo.local"))),
                            ("decision", text(decision)),
                            ("reason", if decision == "reject" { text("fixture") } else { SqlValue::Null }),
                            ("created_at", text(&now_timestamp())),
                        ],
                    )?;
                    if decision == "approve" {
                        tx.conn().execute(
                            "UPDATE redemption_requests SET approval_count = approval_count + 1 WHERE id = ?1",
                            [&request],
                        )?;
                    }
                    Ok(())
                })
                .expect("approval fixture");
        } else {
            panic!("unknown fixture {fixture}");
        }
    }
    made
}

fn as_actor(call: Call, state: &AppState, actor: &str) -> Call {
    if actor == "anon" {
        call.anon(state)
    } else {
        call.signed_in_as(state, actor)
    }
}

async fn decide(state: &AppState, actor: &str, request: &str, op: &Value) -> Reply {
    let mut body = json!({"redemption_id": request, "decision": op["decision"]});
    if let Some(reason) = op.get("reason") {
        body["reason"] = reason.clone();
    }
    as_actor(
        Call::new(Method::POST, "/rest/v1/rpc/decide_redemption"),
        state,
        actor,
    )
    .json(&body)
    .send(state)
    .await
}

/// What an op produced: every HTTP status and, for selects, the row count.
struct Outcome {
    statuses: Vec<StatusCode>,
    rows: Option<usize>,
}

async fn perform(state: &AppState, fixtures: &Fixtures, actor: &str, op: &Value) -> Outcome {
    let (name, args) = op
        .as_object()
        .and_then(|o| o.iter().next())
        .expect("one op");
    let request_id = |key: &str| fixtures.requests[args[key].as_str().expect("key")].clone();
    match name.as_str() {
        "select" => {
            let table = args["table"].as_str().expect("table");
            let filter = match (args.get("owner"), args.get("request")) {
                (Some(owner), _) => {
                    format!("investor_id=eq.{}", id_of(owner.as_str().expect("owner")))
                }
                (_, Some(_)) => format!("redemption_id=eq.{}", request_id("request")),
                _ => String::new(),
            };
            let reply = as_actor(
                Call::get(&format!("/rest/v1/{table}?{filter}")),
                state,
                actor,
            )
            .send(state)
            .await;
            let rows = reply
                .status
                .is_success()
                .then(|| reply.json().as_array().map_or(0, Vec::len));
            Outcome {
                statuses: vec![reply.status],
                rows,
            }
        }
        "insert_request" => {
            let holding = &fixtures.holdings[args["holding"].as_str().expect("holding")];
            let body = json!({"distribution_id": holding, "token_amount": args["amount"],
                              "destination_wallet": WALLET, "redemption_type": "standard"});
            let reply = as_actor(
                Call::new(Method::POST, "/rest/v1/redemption_requests"),
                state,
                actor,
            )
            .json(&body)
            .send(state)
            .await;
            Outcome {
                statuses: vec![reply.status],
                rows: None,
            }
        }
        "cancel_request" => {
            let uri = format!(
                "/rest/v1/redemption_requests?id=eq.{}",
                request_id("request")
            );
            let reply = as_actor(Call::new(Method::PATCH, &uri), state, actor)
                .json(&json!({"status": "cancelled"}))
                .send(state)
                .await;
            Outcome {
                statuses: vec![reply.status],
                rows: None,
            }
        }
        "decide" => {
            let reply = decide(state, actor, &request_id("request"), args).await;
            Outcome {
                statuses: vec![reply.status],
                rows: None,
            }
        }
        "decide_concurrently" => {
            let request = request_id("request");
            let admins: Vec<String> = args["admins"]
                .as_array()
                .expect("admins")
                .iter()
                .map(|a| a.as_str().expect("admin").to_owned())
                .collect();
            let barrier = Arc::new(tokio::sync::Barrier::new(admins.len()));
            let tasks: Vec<_> = admins
                .into_iter()
                .map(|admin| {
                    let (state, request, args, barrier) = (
                        state.clone(),
                        request.clone(),
                        args.clone(),
                        barrier.clone(),
                    );
                    tokio::spawn(async move {
                        barrier.wait().await;
                        decide(&state, &admin, &request, &args).await.status
                    })
                })
                .collect();
            let mut statuses = Vec::new();
            for task in tasks {
                statuses.push(task.await.expect("task"));
            }
            Outcome {
                statuses,
                rows: None,
            }
        }
        other => panic!("unknown op {other}"),
    }
}

fn error_class(status: StatusCode) -> &'static str {
    match status {
        StatusCode::FORBIDDEN | StatusCode::UNAUTHORIZED => "forbidden",
        StatusCode::BAD_REQUEST => "invalid",
        StatusCode::CONFLICT => "conflict",
        _ => "other",
    }
}

async fn run_case(case: &Value) -> Result<(), String> {
    let state = empty_state();
    let fixtures = set_up(&state.store, case["fixtures"].as_array().expect("fixtures"));
    let actor = case["actor"].as_str().expect("actor");
    let outcome = perform(&state, &fixtures, actor, &case["op"]).await;
    let expect = &case["expect"];
    let all_ok = outcome.statuses.iter().all(|s| s.is_success());
    let mut problems = Vec::new();

    if let Some(ok) = expect.get("ok").and_then(Value::as_bool) {
        if ok != all_ok {
            problems.push(format!(
                "ok: expected {ok}, statuses {:?}",
                outcome.statuses
            ));
        }
    }
    if let Some(class) = expect.get("error").and_then(Value::as_str) {
        let seen: Vec<&str> = outcome.statuses.iter().map(|s| error_class(*s)).collect();
        if !seen.contains(&class) {
            problems.push(format!(
                "error: expected {class}, statuses {:?}",
                outcome.statuses
            ));
        }
    }
    if let Some(rows) = expect.get("rows").and_then(Value::as_u64) {
        if outcome.rows != Some(rows as usize) {
            problems.push(format!("rows: expected {rows}, got {:?}", outcome.rows));
        }
    }
    if let Some(min) = expect.get("min_rows").and_then(Value::as_u64) {
        if outcome.rows.is_none_or(|rows| rows < min as usize) {
            problems.push(format!("min_rows: expected {min}, got {:?}", outcome.rows));
        }
    }
    let holding_key = case["op"]
        .as_object()
        .and_then(|o| o.values().next())
        .and_then(|a| a.get("holding"))
        .and_then(Value::as_str);
    if let Some(remaining) = expect.get("remaining_after").and_then(Value::as_f64) {
        let id = &fixtures.holdings[holding_key.expect("op names a holding")];
        let row = state
            .store
            .read(|conn| devserver::store::fetch_row(conn, &DISTRIBUTIONS, id))
            .expect("read");
        let actual = row.and_then(|r| r["remaining_balance"].as_f64());
        if actual != Some(remaining) {
            problems.push(format!(
                "remaining_after: expected {remaining}, got {actual:?}"
            ));
        }
    }
    let request_key = case["op"]
        .as_object()
        .and_then(|o| o.values().next())
        .and_then(|a| a.get("request"))
        .and_then(Value::as_str);
    if let Some(key) = request_key {
        let id = &fixtures.requests[key];
        let row = state
            .store
            .read(|conn| devserver::store::fetch_row(conn, &REDEMPTION_REQUESTS, id))
            .expect("read")
            .expect("request row");
        if let Some(status) = expect.get("status_after") {
            if &row["status"] != status {
                problems.push(format!(
                    "status_after: expected {status}, got {}",
                    row["status"]
                ));
            }
        }
        if let Some(count) = expect.get("approval_count_after") {
            if &row["approval_count"] != count {
                problems.push(format!(
                    "approval_count_after: expected {count}, got {}",
                    row["approval_count"]
                ));
            }
        }
        if let Some(entries) = expect
            .get("status_history_approved_entries")
            .and_then(Value::as_u64)
        {
            let seen = row["status_history"].as_array().map_or(0, |h| {
                h.iter().filter(|e| e["status"] == "approved").count()
            });
            if seen != entries as usize {
                problems.push(format!(
                    "status_history_approved_entries: expected {entries}, got {seen}"
                ));
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_access_case_holds() {
    let table: Value = serde_json::from_str(CASES).expect("case table is JSON");
    let cases = table["cases"].as_array().expect("cases");
    assert!(!cases.is_empty());
    let mut failures = Vec::new();
    for case in cases {
        let name = case["name"].as_str().unwrap_or("unnamed");
        if let Err(problem) = run_case(case).await {
            failures.push(format!("{name}: {problem}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
