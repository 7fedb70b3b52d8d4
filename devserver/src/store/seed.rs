//! Demo users and demo data, generated from a fixed-seed RNG so every fresh database matches.
//!
//! Ids, amounts, statuses and approvals are fixed by the seed; timestamps are offsets back
//! from the moment of seeding so the dashboard shows recent activity.

use chrono::{DateTime, Duration, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rusqlite::types::Value as SqlValue;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::{StoreError, WriteTx};
use crate::column_value::{format_timestamp, micros_from_f64, multiply_micros, MICROS};
use crate::schema::{DISTRIBUTIONS, REDEMPTION_APPROVALS, REDEMPTION_REQUESTS};

/// The password of every demo account.
pub const DEMO_PASSWORD: &str = "demo-password";

const SEED: u64 = 0x5EED_2026;

/// One demo account.
#[derive(Debug, Clone, Copy)]
pub struct DemoUser {
    /// The fixed user id from ARCHITECTURE.md.
    pub id: &'static str,
    /// The sign-in email.
    pub email: &'static str,
    /// `investor` or `admin`.
    pub app_role: &'static str,
}

/// The five demo accounts.
pub const DEMO_USERS: [DemoUser; 5] = [
    DemoUser {
        id: "00000000-0000-4000-8000-000000000001",
        email: "investor1@demo.local",
        app_role: "investor",
    },
    DemoUser {
        id: "00000000-0000-4000-8000-000000000002",
        email: "investor2@demo.local",
        app_role: "investor",
    },
    DemoUser {
        id: "00000000-0000-4000-8000-000000000003",
        email: "investor3@demo.local",
        app_role: "investor",
    },
    DemoUser {
        id: "00000000-0000-4000-8000-0000000000a1",
        email: "admin1@demo.local",
        app_role: "admin",
    },
    DemoUser {
        id: "00000000-0000-4000-8000-0000000000a2",
        email: "admin2@demo.local",
        app_role: "admin",
    },
];

/// The id of a demo actor named as in the case table (`investor1`, `admin2`, ...).
pub fn demo_user_id(name: &str) -> Option<&'static str> {
    DEMO_USERS
        .iter()
        .find(|user| user.email.split('@').next() == Some(name))
        .map(|user| user.id)
}

/// Hashes a password with its salt (sha256 over salt then password, hex).
pub fn hash_password(salt: &str, password: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(salt.as_bytes());
    hasher.update(password.as_bytes());
    hex::encode(hasher.finalize())
}

pub(super) fn insert_demo_users(tx: &mut WriteTx<'_>) -> Result<(), StoreError> {
    let now = format_timestamp(Utc::now());
    for user in DEMO_USERS {
        let salt = hex::encode(&Sha256::digest(user.id.as_bytes())[..8]);
        tx.conn().execute(
            "INSERT INTO users (id, email, password_salt, password_hash, app_role, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            rusqlite::params![
                user.id,
                user.email,
                salt,
                hash_password(&salt, DEMO_PASSWORD),
                user.app_role,
                now
            ],
        )?;
    }
    Ok(())
}

struct Fund {
    name: &'static str,
    symbol: &'static str,
    rate: f64,
}

const FUNDS: [Fund; 5] = [
    Fund {
        name: "Meridian Treasury Fund",
        symbol: "MTF",
        rate: 1.25,
    },
    Fund {
        name: "Harbor Private Credit Fund",
        symbol: "HPC",
        rate: 0.982_5,
    },
    Fund {
        name: "Atlas Real Estate Income",
        symbol: "AREI",
        rate: 10.4,
    },
    Fund {
        name: "Northwind Money Market",
        symbol: "NMM",
        rate: 1.0,
    },
    Fund {
        name: "Cedar Infrastructure Notes",
        symbol: "CIN",
        rate: 52.75,
    },
];

/// The path of statuses a seeded request went through, ending in its current status.
fn status_path(status: &str) -> &'static [&'static str] {
    match status {
        "draft" => &["draft"],
        "pending" => &["pending"],
        "approved" => &["pending", "approved"],
        "processing" => &["pending", "approved", "processing"],
        "settled" => &["pending", "approved", "processing", "settled"],
        "rejected" => &["pending", "rejected"],
        "cancelled" => &["pending", "cancelled"],
        _ => &["pending", "approved", "processing", "failed"],
    }
}

const STATUSES: [&str; 8] = [
    "draft",
    "pending",
    "approved",
    "processing",
    "settled",
    "rejected",
    "cancelled",
    "failed",
];

const REJECTION_REASONS: [&str; 3] = [
    "Wallet not whitelisted",
    "KYC documents expired",
    "Requested amount exceeds the interval window",
];

type Values = Vec<(&'static str, SqlValue)>;

struct Holding {
    id: String,
    investor: &'static str,
    symbol: &'static str,
    rate_micros: i64,
    token_micros: i64,
    reserved_micros: i64,
    created_at: DateTime<Utc>,
}

fn random_uuid(rng: &mut StdRng) -> String {
    uuid::Builder::from_random_bytes(rng.random())
        .into_uuid()
        .hyphenated()
        .to_string()
}

fn random_hex(rng: &mut StdRng, digits: usize) -> String {
    (0..digits)
        .map(|_| char::from_digit(rng.random_range(0..16), 16).unwrap_or('0'))
        .collect()
}

fn text(value: impl Into<String>) -> SqlValue {
    SqlValue::Text(value.into())
}

pub(super) fn insert_demo_rows(
    tx: &mut WriteTx<'_>,
    anchor: DateTime<Utc>,
) -> Result<(), StoreError> {
    let mut rng = StdRng::seed_from_u64(SEED);
    let investors: Vec<&DemoUser> = DEMO_USERS
        .iter()
        .filter(|u| u.app_role == "investor")
        .collect();
    let admins: Vec<&DemoUser> = DEMO_USERS
        .iter()
        .filter(|u| u.app_role == "admin")
        .collect();

    let mut holdings: Vec<Holding> = Vec::new();
    for (index, investor) in investors.iter().enumerate() {
        let count = 2 + (index % 2);
        for offset in 0..count {
            let fund = &FUNDS[(index * 2 + offset) % FUNDS.len()];
            let tokens = f64::from(rng.random_range(20..200u32)) * 250.0;
            holdings.push(Holding {
                id: random_uuid(&mut rng),
                investor: investor.id,
                symbol: fund.symbol,
                rate_micros: micros_from_f64(fund.rate).unwrap_or(MICROS),
                token_micros: micros_from_f64(tokens).unwrap_or(MICROS),
                reserved_micros: 0,
                created_at: anchor - Duration::days(90 + rng.random_range(0..30)),
            });
        }
    }

    let request_count = 40;
    let mut queued: Vec<(Values, Vec<Values>)> = Vec::new();
    for index in 0..request_count {
        let status = STATUSES[index % STATUSES.len()];
        let investor = investors[(index / STATUSES.len() + index) % investors.len()];
        let owned: Vec<usize> = (0..holdings.len())
            .filter(|&h| holdings[h].investor == investor.id)
            .collect();
        let holding_index = owned[rng.random_range(0..owned.len())];
        let amount_micros = i64::from(rng.random_range(1000..50_000u32)) * MICROS / 100;
        let redemption_type = if rng.random_bool(0.6) {
            "standard"
        } else {
            "interval"
        };
        let path = status_path(status);
        let created = anchor
            - Duration::hours(i64::try_from(request_count - index).unwrap_or(0) * 7)
            - Duration::minutes(rng.random_range(0..60));
        let step = Duration::minutes(rng.random_range(20..180));
        let at = |n: usize| created + step * i32::try_from(n).unwrap_or(0);
        let history: Vec<_> = path
            .iter()
            .enumerate()
            .map(|(n, s)| json!({"status": s, "at": format_timestamp(at(n))}))
            .collect();
        let updated_at = at(path.len().saturating_sub(1));

        // Approvals that explain the current status: two approvals once approved, one
        // approval or none while pending, a reject (sometimes after an approval) when rejected.
        let mut decisions: Vec<(&DemoUser, &str, Option<&str>)> = Vec::new();
        if path.contains(&"approved") {
            decisions.push((admins[0], "approve", None));
            decisions.push((admins[1], "approve", None));
        } else if status == "pending" && index % 2 == 1 {
            decisions.push((admins[index % 2], "approve", None));
        } else if status == "rejected" {
            let reason = REJECTION_REASONS[index % REJECTION_REASONS.len()];
            if rng.random_bool(0.5) {
                decisions.push((admins[1], "approve", None));
            }
            decisions.push((admins[0], "reject", Some(reason)));
        }
        let approval_count = decisions.iter().filter(|d| d.1 == "approve").count();
        let later_steps = path
            .iter()
            .filter(|s| matches!(**s, "processing" | "settled" | "failed" | "cancelled"))
            .count();
        let version = 1 + decisions.len() + later_steps;

        let holding = &mut holdings[holding_index];
        if matches!(
            status,
            "pending" | "approved" | "processing" | "settled" | "failed"
        ) {
            holding.reserved_micros += amount_micros;
        }
        let request_id = random_uuid(&mut rng);
        let settlement = (status == "settled").then(|| format!("0x{}", random_hex(&mut rng, 64)));
        let rejection = decisions.iter().find_map(|d| d.2).map(text);
        let notes = (index % 5 == 0).then(|| text(format!("Quarter-end rebalancing #{index}")));
        let wallet = format!("0x{}", random_hex(&mut rng, 40));

        // Holdings are inserted after all requests are drawn (their balances depend on the
        // requests), and foreign keys need them first, so the request rows wait in a queue.
        let holding = &holdings[holding_index];
        queued.push((
            vec![
                ("id", text(request_id.clone())),
                ("investor_id", text(investor.id)),
                ("distribution_id", text(holding.id.clone())),
                ("token_symbol", text(holding.symbol)),
                ("token_amount", SqlValue::Integer(amount_micros)),
                (
                    "usdc_value",
                    SqlValue::Integer(multiply_micros(amount_micros, holding.rate_micros)),
                ),
                ("destination_wallet", text(wallet)),
                ("redemption_type", text(redemption_type)),
                ("status", text(status)),
                ("required_approvals", SqlValue::Integer(2)),
                (
                    "approval_count",
                    SqlValue::Integer(i64::try_from(approval_count).unwrap_or(0)),
                ),
                ("rejection_reason", rejection.unwrap_or(SqlValue::Null)),
                (
                    "settlement_tx_hash",
                    settlement.map_or(SqlValue::Null, text),
                ),
                ("notes", notes.unwrap_or(SqlValue::Null)),
                (
                    "status_history",
                    text(serde_json::Value::Array(history).to_string()),
                ),
                (
                    "version",
                    SqlValue::Integer(i64::try_from(version).unwrap_or(1)),
                ),
                ("created_at", text(format_timestamp(created))),
                ("updated_at", text(format_timestamp(updated_at))),
            ],
            decisions
                .iter()
                .enumerate()
                .map(|(n, (admin, decision, reason))| {
                    vec![
                        ("id", text(random_uuid(&mut rng))),
                        ("redemption_id", text(request_id.clone())),
                        ("admin_id", text(admin.id)),
                        ("admin_email", text(admin.email)),
                        ("decision", text(*decision)),
                        ("reason", reason.map_or(SqlValue::Null, text)),
                        (
                            "created_at",
                            text(format_timestamp(
                                created
                                    + step / 2
                                    + Duration::minutes(i64::try_from(n).unwrap_or(0) * 5),
                            )),
                        ),
                    ]
                })
                .collect(),
        ));
    }

    for holding in &holdings {
        let created = format_timestamp(holding.created_at);
        let fund = FUNDS
            .iter()
            .find(|f| f.symbol == holding.symbol)
            .map_or("Meridian Treasury Fund", |f| f.name);
        tx.insert(
            &DISTRIBUTIONS,
            &[
                ("id", text(holding.id.clone())),
                ("investor_id", text(holding.investor)),
                ("fund_name", text(fund)),
                ("token_symbol", text(holding.symbol)),
                ("token_amount", SqlValue::Integer(holding.token_micros)),
                (
                    "remaining_balance",
                    SqlValue::Integer(holding.token_micros - holding.reserved_micros),
                ),
                ("conversion_rate", SqlValue::Integer(holding.rate_micros)),
                ("created_at", text(created.clone())),
                ("updated_at", text(created)),
            ],
        )?;
    }
    for (request, approvals) in queued {
        tx.insert(&REDEMPTION_REQUESTS, &request)?;
        for approval in approvals {
            tx.insert(&REDEMPTION_APPROVALS, &approval)?;
        }
    }
    Ok(())
}
