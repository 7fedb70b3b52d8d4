//! The redemption writes: create, cancel, decide, the simulator's steps and the dev delete.
//!
//! Each is one transaction and enforces the access rules of ARCHITECTURE.md itself, the way
//! the production RLS policies and `decide_redemption` do.

use rand::Rng;
use rusqlite::types::Value as SqlValue;
use rusqlite::OptionalExtension;
use serde_json::Value;

use super::{Store, StoreError, WriteTx};
use crate::auth::jwt::{Actor, AppRole};
use crate::column_value::{multiply_micros, now_timestamp, Row};
use crate::schema::{Table, DISTRIBUTIONS, REDEMPTION_APPROVALS, REDEMPTION_REQUESTS};

/// The approvals a new request needs.
pub const DEFAULT_REQUIRED_APPROVALS: i64 = 2;

/// A request as an investor submits it.
#[derive(Debug, Clone, PartialEq)]
pub struct NewRequest {
    /// A client-chosen id, so a repeated submit is refused instead of doubled.
    pub id: Option<String>,
    /// The holding to redeem from.
    pub distribution_id: String,
    /// Tokens to redeem, in millionths.
    pub token_amount_micros: i64,
    /// `0x` + 40 hex digits.
    pub destination_wallet: String,
    /// `standard` or `interval`.
    pub redemption_type: String,
    /// The investor's free text.
    pub notes: Option<String>,
}

/// An admin's decision on a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// The request decided on.
    pub redemption_id: String,
    /// `approve` or `reject`.
    pub decision: String,
    /// Required for `reject`.
    pub reason: Option<String>,
}

/// Whether a wallet address has the `0x` + 40 hex digit shape.
pub fn is_wallet_address(wallet: &str) -> bool {
    wallet.len() == 42
        && wallet.starts_with("0x")
        && wallet[2..].chars().all(|c| c.is_ascii_hexdigit())
}

fn check_violation(column: &str) -> StoreError {
    StoreError::CheckViolation(format!(
        "new row for relation \"redemption_requests\" violates check constraint \
         \"redemption_requests_{column}_check\""
    ))
}

fn rls_violation(table: &str) -> StoreError {
    StoreError::Forbidden(format!(
        "new row violates row-level security policy for table \"{table}\""
    ))
}

fn micros_of(
    conn: &rusqlite::Connection,
    table: &Table,
    column: &str,
    id: &str,
) -> Result<i64, StoreError> {
    // `column` is always a literal from this module, never request text.
    let sql = format!("SELECT {column} FROM {} WHERE id = ?1", table.name);
    conn.query_row(&sql, [id], |row| row.get(0))
        .optional()?
        .ok_or_else(|| StoreError::Raised(format!("{} {id} not found", table.name)))
}

fn text_of<'r>(row: &'r Row, column: &str) -> &'r str {
    row.get(column).and_then(Value::as_str).unwrap_or_default()
}

/// Adds `delta` millionths to a holding's remaining balance.
fn adjust_balance(
    tx: &mut WriteTx<'_>,
    distribution_id: &str,
    delta: i64,
) -> Result<(), StoreError> {
    let balance = micros_of(
        tx.conn(),
        &DISTRIBUTIONS,
        "remaining_balance",
        distribution_id,
    )?;
    tx.update(
        &DISTRIBUTIONS,
        distribution_id,
        &[("remaining_balance", SqlValue::Integer(balance + delta))],
    )?;
    Ok(())
}

impl Store {
    /// Creates a pending request for the actor from its own holding, reserving the tokens.
    pub fn create_request(&self, actor: &Actor, new: &NewRequest) -> Result<Row, StoreError> {
        let Actor::User {
            id: investor_id,
            app_role: AppRole::Investor,
            ..
        } = actor
        else {
            return Err(rls_violation("redemption_requests"));
        };
        if new.token_amount_micros <= 0 {
            return Err(check_violation("token_amount"));
        }
        if !is_wallet_address(&new.destination_wallet) {
            return Err(check_violation("destination_wallet"));
        }
        if !matches!(new.redemption_type.as_str(), "standard" | "interval") {
            return Err(check_violation("redemption_type"));
        }
        let id = match &new.id {
            Some(id) => uuid::Uuid::parse_str(id).map_err(|_| {
                StoreError::InvalidText(format!("invalid input syntax for type uuid: \"{id}\""))
            })?,
            None => uuid::Uuid::new_v4(),
        }
        .hyphenated()
        .to_string();
        let distribution_id = uuid::Uuid::parse_str(&new.distribution_id)
            .map_err(|_| {
                StoreError::InvalidText(format!(
                    "invalid input syntax for type uuid: \"{}\"",
                    new.distribution_id
                ))
            })?
            .hyphenated()
            .to_string();

        self.write(|tx| {
            if tx.fetch(&REDEMPTION_REQUESTS, &id)?.is_some() {
                return Err(StoreError::UniqueViolation(
                    "duplicate key value violates unique constraint \"redemption_requests_pkey\""
                        .into(),
                ));
            }
            // A holding the actor does not own is invisible to it, as under RLS.
            let holding = tx
                .fetch(&DISTRIBUTIONS, &distribution_id)?
                .filter(|holding| text_of(holding, "investor_id") == investor_id)
                .ok_or_else(|| rls_violation("redemption_requests"))?;
            let remaining = micros_of(
                tx.conn(),
                &DISTRIBUTIONS,
                "remaining_balance",
                &distribution_id,
            )?;
            if new.token_amount_micros > remaining {
                return Err(StoreError::Raised(
                    "token_amount exceeds the holding's remaining balance".into(),
                ));
            }
            let rate = micros_of(
                tx.conn(),
                &DISTRIBUTIONS,
                "conversion_rate",
                &distribution_id,
            )?;
            let now = now_timestamp();
            let history = serde_json::json!([{"status": "pending", "at": now}]).to_string();
            let row = tx.insert(
                &REDEMPTION_REQUESTS,
                &[
                    ("id", SqlValue::Text(id.clone())),
                    ("investor_id", SqlValue::Text(investor_id.clone())),
                    ("distribution_id", SqlValue::Text(distribution_id.clone())),
                    (
                        "token_symbol",
                        SqlValue::Text(text_of(&holding, "token_symbol").to_owned()),
                    ),
                    ("token_amount", SqlValue::Integer(new.token_amount_micros)),
                    (
                        "usdc_value",
                        SqlValue::Integer(multiply_micros(new.token_amount_micros, rate)),
                    ),
                    (
                        "destination_wallet",
                        SqlValue::Text(new.destination_wallet.clone()),
                    ),
                    (
                        "redemption_type",
                        SqlValue::Text(new.redemption_type.clone()),
                    ),
                    ("status", SqlValue::Text("pending".into())),
                    (
                        "required_approvals",
                        SqlValue::Integer(DEFAULT_REQUIRED_APPROVALS),
                    ),
                    ("approval_count", SqlValue::Integer(0)),
                    (
                        "notes",
                        new.notes.clone().map_or(SqlValue::Null, SqlValue::Text),
                    ),
                    ("status_history", SqlValue::Text(history)),
                    ("version", SqlValue::Integer(1)),
                    ("created_at", SqlValue::Text(now.clone())),
                    ("updated_at", SqlValue::Text(now)),
                ],
            )?;
            adjust_balance(tx, &distribution_id, -new.token_amount_micros)?;
            Ok(row)
        })
    }

    /// Cancels those of `ids` that the actor owns and that are still pending.
    ///
    /// Others are skipped silently, as an UPDATE under RLS matches no row for them.
    pub fn cancel_requests(&self, actor: &Actor, ids: &[String]) -> Result<Vec<Row>, StoreError> {
        let Some(owner) = actor.owner_id().map(str::to_owned) else {
            return Ok(Vec::new());
        };
        self.write(|tx| {
            let mut cancelled = Vec::new();
            for id in ids {
                let Some(request) = tx.fetch(&REDEMPTION_REQUESTS, id)? else {
                    continue;
                };
                if text_of(&request, "investor_id") != owner
                    || text_of(&request, "status") != "pending"
                {
                    continue;
                }
                let amount = micros_of(tx.conn(), &REDEMPTION_REQUESTS, "token_amount", id)?;
                let distribution_id = text_of(&request, "distribution_id").to_owned();
                if let Some(row) = tx.update(
                    &REDEMPTION_REQUESTS,
                    id,
                    &[("status", SqlValue::Text("cancelled".into()))],
                )? {
                    cancelled.push(row);
                }
                adjust_balance(tx, &distribution_id, amount)?;
            }
            Ok(cancelled)
        })
    }

    /// Records an admin's decision, as `decide_redemption` does, and returns the request.
    pub fn decide(&self, actor: &Actor, decision: &Decision) -> Result<Row, StoreError> {
        let Actor::User {
            id: admin_id,
            email: admin_email,
            app_role: AppRole::Admin,
        } = actor
        else {
            return Err(StoreError::Forbidden(
                "only admins can decide redemptions".into(),
            ));
        };
        let approve = match decision.decision.as_str() {
            "approve" => true,
            "reject" => false,
            _ => {
                return Err(StoreError::Raised(
                    "decision must be approve or reject".into(),
                ))
            }
        };
        let reason = decision
            .reason
            .as_deref()
            .map(str::trim)
            .filter(|reason| !reason.is_empty());
        if !approve && reason.is_none() {
            return Err(StoreError::Raised("a rejection needs a reason".into()));
        }
        let request_id = uuid::Uuid::parse_str(&decision.redemption_id)
            .map_err(|_| {
                StoreError::InvalidText(format!(
                    "invalid input syntax for type uuid: \"{}\"",
                    decision.redemption_id
                ))
            })?
            .hyphenated()
            .to_string();

        self.write(|tx| {
            let request = tx
                .fetch(&REDEMPTION_REQUESTS, &request_id)?
                .ok_or_else(|| StoreError::Raised("redemption not found".into()))?;
            if text_of(&request, "status") != "pending" {
                return Err(StoreError::Raised("redemption is not pending".into()));
            }
            let already: bool = tx.conn().query_row(
                "SELECT EXISTS (SELECT 1 FROM redemption_approvals \
                 WHERE redemption_id = ?1 AND admin_id = ?2)",
                [&request_id, admin_id],
                |row| row.get(0),
            )?;
            if already {
                return Err(StoreError::UniqueViolation(
                    "duplicate key value violates unique constraint \
                     \"redemption_approvals_redemption_id_admin_id_key\""
                        .into(),
                ));
            }
            tx.insert(
                &REDEMPTION_APPROVALS,
                &[
                    ("id", SqlValue::Text(uuid::Uuid::new_v4().to_string())),
                    ("redemption_id", SqlValue::Text(request_id.clone())),
                    ("admin_id", SqlValue::Text(admin_id.clone())),
                    ("admin_email", SqlValue::Text(admin_email.clone())),
                    ("decision", SqlValue::Text(decision.decision.clone())),
                    (
                        "reason",
                        reason.map_or(SqlValue::Null, |r| SqlValue::Text(r.to_owned())),
                    ),
                    ("created_at", SqlValue::Text(now_timestamp())),
                ],
            )?;
            let updated = if approve {
                let count = request
                    .get("approval_count")
                    .and_then(Value::as_i64)
                    .unwrap_or(0)
                    + 1;
                let required = request
                    .get("required_approvals")
                    .and_then(Value::as_i64)
                    .unwrap_or(DEFAULT_REQUIRED_APPROVALS);
                let mut values = vec![("approval_count", SqlValue::Integer(count))];
                if count >= required {
                    values.push(("status", SqlValue::Text("approved".into())));
                }
                tx.update(&REDEMPTION_REQUESTS, &request_id, &values)?
            } else {
                let amount =
                    micros_of(tx.conn(), &REDEMPTION_REQUESTS, "token_amount", &request_id)?;
                let distribution_id = text_of(&request, "distribution_id").to_owned();
                let row = tx.update(
                    &REDEMPTION_REQUESTS,
                    &request_id,
                    &[
                        ("status", SqlValue::Text("rejected".into())),
                        (
                            "rejection_reason",
                            SqlValue::Text(reason.unwrap_or_default().to_owned()),
                        ),
                    ],
                )?;
                adjust_balance(tx, &distribution_id, amount)?;
                row
            };
            updated.ok_or_else(|| StoreError::Raised("redemption not found".into()))
        })
    }

    /// Moves the oldest request in `from` to `to` (the simulator's step); `None` if there is none.
    ///
    /// Settling also sets a `settlement_tx_hash` of `0x` + 64 hex digits.
    pub fn advance_oldest(&self, from: &str, to: &str) -> Result<Option<Row>, StoreError> {
        self.write(|tx| {
            let id: Option<String> = tx
                .conn()
                .query_row(
                    "SELECT id FROM redemption_requests WHERE status = ?1 \
                     ORDER BY updated_at ASC, id ASC LIMIT 1",
                    [from],
                    |row| row.get(0),
                )
                .optional()?;
            let Some(id) = id else {
                return Ok(None);
            };
            let mut values = vec![("status", SqlValue::Text(to.to_owned()))];
            if to == "settled" {
                values.push(("settlement_tx_hash", SqlValue::Text(random_tx_hash())));
            }
            tx.update(&REDEMPTION_REQUESTS, &id, &values)
        })
    }

    /// Deletes a row by id with service rights (a test hook); a request takes its approvals along.
    pub fn delete_row(&self, table: &'static Table, id: &str) -> Result<Option<Row>, StoreError> {
        self.write(|tx| {
            if table.name == REDEMPTION_REQUESTS.name {
                let approvals: Vec<String> = {
                    let mut statement = tx
                        .conn()
                        .prepare("SELECT id FROM redemption_approvals WHERE redemption_id = ?1")?;
                    let ids = statement.query_map([id], |row| row.get(0))?;
                    ids.collect::<Result<_, _>>()?
                };
                for approval in approvals {
                    tx.delete(&REDEMPTION_APPROVALS, &approval)?;
                }
            }
            tx.delete(table, id)
        })
    }
}

/// A random settlement transaction hash: `0x` + 64 hex digits.
pub fn random_tx_hash() -> String {
    let bytes: [u8; 32] = rand::rng().random();
    format!("0x{}", hex::encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wallet_shape() {
        assert!(is_wallet_address(&format!("0x{}", "aB".repeat(20))));
        assert!(!is_wallet_address(&format!("0x{}", "g".repeat(40))));
        assert!(!is_wallet_address("0x1234"));
        assert!(!is_wallet_address(&format!("1x{}", "a".repeat(40))));
    }

    #[test]
    fn tx_hash_shape() {
        let hash = random_tx_hash();
        assert_eq!(hash.len(), 66);
        assert!(hash[2..].chars().all(|c| c.is_ascii_hexdigit()));
    }
}
