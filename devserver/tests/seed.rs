//! The demo seed: consistent with the data contract, and the same on every fresh database.

use std::collections::HashMap;

use devserver::schema::{DISTRIBUTIONS, REDEMPTION_APPROVALS, REDEMPTION_REQUESTS};
use devserver::store::{read_rows, Store};
use serde_json::Value;

fn all(
    store: &Store,
    table: &'static devserver::schema::Table,
) -> Vec<serde_json::Map<String, Value>> {
    store
        .read(|conn| read_rows(conn, table, "1 ORDER BY id", &[]))
        .expect("rows")
}

#[test]
fn seed_covers_every_status_and_type_consistently() {
    let store = Store::in_memory_demo().expect("store");
    let requests = all(&store, &REDEMPTION_REQUESTS);
    let approvals = all(&store, &REDEMPTION_APPROVALS);
    let holdings = all(&store, &DISTRIBUTIONS);
    assert_eq!(requests.len(), 40);
    for status in [
        "draft",
        "pending",
        "approved",
        "processing",
        "settled",
        "rejected",
        "cancelled",
        "failed",
    ] {
        assert!(requests.iter().any(|r| r["status"] == status), "{status}");
    }
    for kind in ["standard", "interval"] {
        assert!(
            requests.iter().any(|r| r["redemption_type"] == kind),
            "{kind}"
        );
    }
    let mut per_investor: HashMap<&str, usize> = HashMap::new();
    for holding in &holdings {
        *per_investor
            .entry(holding["investor_id"].as_str().expect("owner"))
            .or_default() += 1;
        assert!(holding["remaining_balance"].as_f64().expect("balance") >= 0.0);
    }
    assert_eq!(per_investor.len(), 3);
    assert!(per_investor.values().all(|n| (2..=3).contains(n)));

    for request in &requests {
        let id = &request["id"];
        let mine: Vec<_> = approvals
            .iter()
            .filter(|a| &a["redemption_id"] == id)
            .collect();
        let approves = mine.iter().filter(|a| a["decision"] == "approve").count() as i64;
        assert_eq!(request["approval_count"].as_i64(), Some(approves));
        let history = request["status_history"].as_array().expect("history");
        assert_eq!(history.last().expect("entry")["status"], request["status"]);
        let status = request["status"].as_str().expect("status");
        assert_eq!(
            request["settlement_tx_hash"].is_string(),
            status == "settled"
        );
        assert_eq!(
            request["rejection_reason"].is_string(),
            status == "rejected"
        );
        assert!(request["version"].as_i64().expect("version") >= 1);
        let holding = holdings
            .iter()
            .find(|h| h["id"] == request["distribution_id"])
            .expect("holding");
        assert_eq!(holding["investor_id"], request["investor_id"]);
        assert_eq!(holding["token_symbol"], request["token_symbol"]);
    }
}

#[test]
fn seed_is_deterministic() {
    let strip = |rows: Vec<serde_json::Map<String, Value>>| -> Vec<Value> {
        rows.into_iter()
            .map(|mut row| {
                for key in ["created_at", "updated_at", "status_history"] {
                    row.remove(key);
                }
                Value::Object(row)
            })
            .collect()
    };
    let a = Store::in_memory_demo().expect("store");
    let b = Store::in_memory_demo().expect("store");
    for table in [&DISTRIBUTIONS, &REDEMPTION_REQUESTS, &REDEMPTION_APPROVALS] {
        assert_eq!(
            strip(all(&a, table)),
            strip(all(&b, table)),
            "{}",
            table.name
        );
    }
}

#[test]
fn simulator_moves_approved_through_processing_to_settled() {
    let store = Store::in_memory_demo().expect("store");
    let mut changes = store.subscribe();
    let moved = devserver::simulator::step(&store).expect("step");
    assert_eq!(moved.len(), 2);
    assert_eq!(moved[0]["status"], "settled");
    let hash = moved[0]["settlement_tx_hash"].as_str().expect("hash");
    assert!(hash.starts_with("0x") && hash.len() == 66);
    assert_eq!(moved[1]["status"], "processing");
    let first = changes.try_recv().expect("a change went out");
    assert_eq!(first.kind, devserver::store::ChangeKind::Update);
}

#[test]
fn data_dir_survives_a_restart_without_reseeding() {
    let dir = std::env::temp_dir().join(format!("devserver-test-{}", uuid::Uuid::new_v4()));
    let location = devserver::store::StoreLocation::DataDir(dir.clone());
    let first = Store::open(&location, devserver::store::SeedMode::DemoData).expect("open");
    devserver::simulator::step(&first).expect("step");
    let before = all(&first, &REDEMPTION_REQUESTS);
    drop(first);
    let second = Store::open(&location, devserver::store::SeedMode::DemoData).expect("reopen");
    assert_eq!(all(&second, &REDEMPTION_REQUESTS), before);
    assert!(devserver::store::database_path(&dir).exists());
    let _ = std::fs::remove_dir_all(dir);
}
