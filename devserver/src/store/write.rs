//! The write transaction: the one place that stamps `version`, `updated_at` and `status_history`.

use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, Transaction};
use serde_json::{json, Value};

use super::{fetch_row, Change, ChangeKind, StoreError};
use crate::column_value::{now_timestamp, Row};
use crate::schema::{Ownership, Table, REDEMPTION_REQUESTS};

/// An open transaction that records every row it changes for the Realtime feed.
pub struct WriteTx<'c> {
    tx: Transaction<'c>,
    changes: Vec<Change>,
}

impl<'c> WriteTx<'c> {
    pub(super) fn begin(conn: &'c mut Connection) -> Result<Self, StoreError> {
        // IMMEDIATE takes the write lock up front, so a read-then-write cannot interleave.
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        Ok(Self {
            tx,
            changes: Vec::new(),
        })
    }

    pub(super) fn commit(self) -> Result<Vec<Change>, StoreError> {
        self.tx.commit()?;
        Ok(self.changes)
    }

    /// The connection, for reads inside the transaction.
    pub fn conn(&self) -> &Connection {
        &self.tx
    }

    /// Reads one row by primary key inside the transaction.
    pub fn fetch(&self, table: &Table, id: &str) -> Result<Option<Row>, StoreError> {
        fetch_row(&self.tx, table, id)
    }

    /// Inserts a row from `(column, value)` pairs and returns it as stored.
    ///
    /// Columns left out take their SQL defaults; the pairs must name columns of `table`.
    pub fn insert(
        &mut self,
        table: &'static Table,
        values: &[(&'static str, SqlValue)],
    ) -> Result<Row, StoreError> {
        let names = checked_names(table, values)?;
        let placeholders = vec!["?"; values.len()].join(", ");
        let sql = format!(
            "INSERT INTO {} ({}) VALUES ({})",
            table.name,
            names.join(", "),
            placeholders
        );
        self.tx.execute(
            &sql,
            rusqlite::params_from_iter(values.iter().map(|(_, value)| value)),
        )?;
        let id = values
            .iter()
            .find(|(name, _)| *name == "id")
            .and_then(|(_, value)| match value {
                SqlValue::Text(id) => Some(id.clone()),
                _ => None,
            })
            .ok_or_else(|| StoreError::Raised("an inserted row needs a text id".into()))?;
        let record = self.fetch_existing(table, &id)?;
        self.record_change(table, ChangeKind::Insert, Some(record.clone()), None)?;
        Ok(record)
    }

    /// Updates one row by id; returns the new row, or `None` if no row has that id.
    ///
    /// This is where the production triggers are mirrored: `version` goes up by one,
    /// `updated_at` is set, and a changed `status` is appended to `status_history`.
    pub fn update(
        &mut self,
        table: &'static Table,
        id: &str,
        values: &[(&'static str, SqlValue)],
    ) -> Result<Option<Row>, StoreError> {
        let Some(old) = self.fetch(table, id)? else {
            return Ok(None);
        };
        let mut names = checked_names(table, values)?;
        let mut params: Vec<SqlValue> = values.iter().map(|(_, value)| value.clone()).collect();

        let new_status = values.iter().find_map(|(name, value)| match value {
            SqlValue::Text(status) if *name == "status" => Some(status.clone()),
            _ => None,
        });
        let now = now_timestamp();
        if let Some(status) = new_status {
            if old.get("status").and_then(Value::as_str) != Some(status.as_str())
                && table.has_column("status_history")
            {
                let mut history = match old.get("status_history") {
                    Some(Value::Array(entries)) => entries.clone(),
                    _ => Vec::new(),
                };
                history.push(json!({"status": status, "at": now}));
                names.push("status_history");
                params.push(SqlValue::Text(Value::Array(history).to_string()));
            }
        }
        let mut assignments: Vec<String> = names.iter().map(|name| format!("{name} = ?")).collect();
        if table.has_column("updated_at") {
            assignments.push("updated_at = ?".into());
            params.push(SqlValue::Text(now));
        }
        if table.has_column("version") {
            assignments.push("version = version + 1".into());
        }
        if assignments.is_empty() {
            return Ok(Some(old));
        }
        params.push(SqlValue::Text(id.to_owned()));
        let sql = format!(
            "UPDATE {} SET {} WHERE id = ?",
            table.name,
            assignments.join(", ")
        );
        self.tx
            .execute(&sql, rusqlite::params_from_iter(params.iter()))?;
        let record = self.fetch_existing(table, id)?;
        self.record_change(table, ChangeKind::Update, Some(record.clone()), Some(old))?;
        Ok(Some(record))
    }

    /// Deletes one row by id; returns the old row, or `None` if no row has that id.
    pub fn delete(&mut self, table: &'static Table, id: &str) -> Result<Option<Row>, StoreError> {
        let Some(old) = self.fetch(table, id)? else {
            return Ok(None);
        };
        // The owner is looked up before the row (or its parent link) disappears.
        let owner = self.owner_of(table, &old)?;
        let sql = format!("DELETE FROM {} WHERE id = ?", table.name);
        self.tx.execute(&sql, [id])?;
        self.changes.push(Change {
            table,
            kind: ChangeKind::Delete,
            record: None,
            old_record: Some(old.clone()),
            owner,
            commit_timestamp: String::new(),
        });
        Ok(Some(old))
    }

    fn fetch_existing(&self, table: &Table, id: &str) -> Result<Row, StoreError> {
        self.fetch(table, id)?
            .ok_or_else(|| StoreError::Raised(format!("row {id} vanished from {}", table.name)))
    }

    fn record_change(
        &mut self,
        table: &'static Table,
        kind: ChangeKind,
        record: Option<Row>,
        old_record: Option<Row>,
    ) -> Result<(), StoreError> {
        let row = record.as_ref().or(old_record.as_ref());
        let owner = match row {
            Some(row) => self.owner_of(table, row)?,
            None => None,
        };
        self.changes.push(Change {
            table,
            kind,
            record,
            old_record,
            owner,
            commit_timestamp: String::new(),
        });
        Ok(())
    }

    fn owner_of(&self, table: &Table, row: &Row) -> Result<Option<String>, StoreError> {
        let text = |key: &str| row.get(key).and_then(Value::as_str).map(str::to_owned);
        match table.ownership {
            Ownership::InvestorColumn => Ok(text("investor_id")),
            Ownership::ParentRequest => {
                match text("redemption_id") {
                    Some(request_id) => Ok(self
                        .fetch(&REDEMPTION_REQUESTS, &request_id)?
                        .and_then(|request| {
                            request
                                .get("investor_id")
                                .and_then(Value::as_str)
                                .map(str::to_owned)
                        })),
                    None => Ok(None),
                }
            }
        }
    }
}

fn checked_names(
    table: &Table,
    values: &[(&'static str, SqlValue)],
) -> Result<Vec<&'static str>, StoreError> {
    values
        .iter()
        .map(|(name, _)| {
            if table.has_column(name) {
                Ok(*name)
            } else {
                Err(StoreError::Raised(format!(
                    "column {name} does not exist in {}",
                    table.name
                )))
            }
        })
        .collect()
}
