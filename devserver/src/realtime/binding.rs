//! `postgres_changes` bindings: parsing them from a join, their ids, and matching changes.

use std::cmp::Ordering;

use rusqlite::types::Value as SqlValue;
use serde_json::Value;

use crate::column_value::{json_to_sql, Row};
use crate::rest::query::{typed_value, FilterValue, Operator, ValueListError};
use crate::schema::{self, Column};
use crate::store::{Change, ChangeKind};

/// Which change types a binding wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventFilter {
    /// `*` (and, as on the server, anything unrecognised).
    All,
    /// `INSERT`.
    Insert,
    /// `UPDATE`.
    Update,
    /// `DELETE`.
    Delete,
}

impl EventFilter {
    fn parse(text: &str) -> Self {
        match text.to_ascii_uppercase().as_str() {
            "INSERT" => Self::Insert,
            "UPDATE" => Self::Update,
            "DELETE" => Self::Delete,
            _ => Self::All,
        }
    }

    fn accepts(self, kind: ChangeKind) -> bool {
        matches!(
            (self, kind),
            (Self::All, _)
                | (Self::Insert, ChangeKind::Insert)
                | (Self::Update, ChangeKind::Update)
                | (Self::Delete, ChangeKind::Delete)
        )
    }
}

/// A `column=op.value` Realtime filter, typed for its column.
#[derive(Debug, Clone, PartialEq)]
pub struct ChangeFilter {
    /// The filtered column.
    pub column: &'static Column,
    /// One of eq, neq, lt, lte, gt, gte, in.
    pub operator: Operator,
    /// The typed value or list.
    pub value: FilterValue,
}

/// One subscription of a channel.
#[derive(Debug, Clone, PartialEq)]
pub struct Binding {
    /// The id echoed in the join reply and carried in each event's `ids`.
    pub id: u32,
    /// The change types wanted.
    pub event: EventFilter,
    /// `None` means every exposed table (`*`).
    pub table: Option<&'static str>,
    /// The row filter, if any.
    pub filter: Option<ChangeFilter>,
}

/// Why a binding could not be subscribed; the text goes into a `system` error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BindingError {
    /// The filter string does not parse or uses an unsupported operator.
    #[error("Error parsing `filter` params: {0}")]
    Filter(String),
    /// Unknown schema or table, or neither given.
    #[error(
        "Unable to subscribe to changes with given parameters. Please check Realtime is enabled \
         for the given connect parameters: [{0}]"
    )]
    Target(String),
}

/// A deterministic integer id for a binding map, in the range of Erlang's `phash2`.
pub fn binding_id(binding: &Value) -> u32 {
    // Keys are sorted first so equal maps hash equally whatever order the client sent.
    let text = canonical_json(binding);
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in text.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    u32::try_from(hash % (1 << 27)).unwrap_or(0)
}

fn canonical_json(value: &Value) -> String {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            let body: Vec<String> = entries
                .into_iter()
                .map(|(key, value)| {
                    format!("{}:{}", Value::from(key.as_str()), canonical_json(value))
                })
                .collect();
            format!("{{{}}}", body.join(","))
        }
        Value::Array(items) => {
            let body: Vec<String> = items.iter().map(canonical_json).collect();
            format!("[{}]", body.join(","))
        }
        other => other.to_string(),
    }
}

/// Parses one element of `config.postgres_changes`.
pub fn parse_binding(raw: &Value) -> Result<Binding, BindingError> {
    let text = |key: &str| raw.get(key).and_then(Value::as_str);
    let target = || raw.to_string();
    let schema_name = text("schema");
    let table_name = text("table");
    if schema_name.is_none() && table_name.is_none() {
        return Err(BindingError::Target(target()));
    }
    if !matches!(schema_name, None | Some("public" | "*")) {
        return Err(BindingError::Target(target()));
    }
    let table = match table_name {
        None | Some("*") => None,
        Some(name) => Some(schema::table(name).ok_or_else(|| BindingError::Target(target()))?),
    };
    let filter = match text("filter").filter(|f| !f.is_empty()) {
        None => None,
        Some(filter) => {
            let table = table
                .ok_or_else(|| BindingError::Filter("a filter needs a single table".to_owned()))?;
            Some(parse_change_filter(table, filter)?)
        }
    };
    Ok(Binding {
        id: binding_id(raw),
        event: EventFilter::parse(text("event").unwrap_or("*")),
        table: table.map(|t| t.name),
        filter,
    })
}

fn parse_change_filter(
    table: &'static schema::Table,
    text: &str,
) -> Result<ChangeFilter, BindingError> {
    let bad = || BindingError::Filter(text.to_owned());
    let (column, rest) = text.split_once('=').ok_or_else(bad)?;
    let (operator, value) = rest.split_once('.').ok_or_else(bad)?;
    let column = table.column(column).ok_or_else(bad)?;
    let operator = match Operator::parse(operator) {
        Some(Operator::Is) | None => return Err(bad()),
        Some(operator) => operator,
    };
    let value = typed_value(column, operator, value).map_err(|error| match error {
        ValueListError::Syntax => bad(),
        ValueListError::Value(error) => BindingError::Filter(format!("{text}: {error}")),
    })?;
    Ok(ChangeFilter {
        column,
        operator,
        value,
    })
}

fn compare(left: &SqlValue, right: &SqlValue) -> Option<Ordering> {
    match (left, right) {
        (SqlValue::Integer(a), SqlValue::Integer(b)) => Some(a.cmp(b)),
        (SqlValue::Text(a), SqlValue::Text(b)) => Some(a.cmp(b)),
        _ => None,
    }
}

impl ChangeFilter {
    /// Whether a row passes the filter (a missing or null column never does).
    pub fn matches(&self, row: &Row) -> bool {
        let Some(value) = row.get(self.column.name) else {
            return false;
        };
        let Ok(value) = json_to_sql(self.column.kind, self.column.pg_type, value) else {
            return false;
        };
        if value == SqlValue::Null {
            return false;
        }
        match (&self.value, self.operator) {
            (FilterValue::List(items), Operator::In) => items
                .iter()
                .any(|item| compare(&value, item) == Some(Ordering::Equal)),
            (FilterValue::Single(expected), operator) => {
                let Some(ordering) = compare(&value, expected) else {
                    return false;
                };
                match operator {
                    Operator::Eq => ordering == Ordering::Equal,
                    Operator::Neq => ordering != Ordering::Equal,
                    Operator::Gt => ordering == Ordering::Greater,
                    Operator::Gte => ordering != Ordering::Less,
                    Operator::Lt => ordering == Ordering::Less,
                    Operator::Lte => ordering != Ordering::Greater,
                    Operator::In | Operator::Is => false,
                }
            }
            _ => false,
        }
    }
}

/// The primary-key-only view of a row, as Realtime sends `old_record` under RLS.
pub fn primary_key_only(row: &Row) -> Row {
    row.iter()
        .filter(|(key, _)| key.as_str() == "id")
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect()
}

impl Binding {
    /// Whether a change passes this binding's table, event and filter.
    ///
    /// A DELETE is filtered against its primary-key-only old row, as on Supabase, so a
    /// filter on any other column never matches a delete.
    pub fn matches(&self, change: &Change) -> bool {
        if self.table.is_some_and(|table| table != change.table.name) {
            return false;
        }
        if !self.event.accepts(change.kind) {
            return false;
        }
        let Some(filter) = &self.filter else {
            return true;
        };
        match change.kind {
            ChangeKind::Insert | ChangeKind::Update => change
                .record
                .as_ref()
                .is_some_and(|row| filter.matches(row)),
            ChangeKind::Delete => change
                .old_record
                .as_ref()
                .is_some_and(|row| filter.matches(&primary_key_only(row))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn change(kind: ChangeKind, record: Value) -> Change {
        let Value::Object(row) = record else {
            panic!("object expected")
        };
        Change {
            table: &schema::REDEMPTION_REQUESTS,
            kind,
            record: (kind != ChangeKind::Delete).then(|| row.clone()),
            old_record: (kind != ChangeKind::Insert).then_some(row),
            owner: None,
            commit_timestamp: String::new(),
        }
    }

    #[test]
    fn ids_are_deterministic_and_distinct() {
        let a = json!({"event": "*", "schema": "public", "table": "redemption_requests"});
        let b = json!({"event": "INSERT", "schema": "public", "table": "redemption_requests"});
        let reordered = json!({"table": "redemption_requests", "schema": "public", "event": "*"});
        assert_eq!(binding_id(&a), binding_id(&reordered));
        assert_ne!(binding_id(&a), binding_id(&b));
        assert!(binding_id(&a) < (1 << 27));
    }

    #[test]
    fn filters_match_typed_values() {
        let binding = parse_binding(&json!({
            "event": "*", "schema": "public", "table": "redemption_requests",
            "filter": "token_amount=gte.10"
        }))
        .expect("valid");
        assert!(binding.matches(&change(
            ChangeKind::Insert,
            json!({"id": "a", "token_amount": 10.0})
        )));
        assert!(!binding.matches(&change(
            ChangeKind::Insert,
            json!({"id": "a", "token_amount": 9.5})
        )));
        let status = parse_binding(&json!({
            "event": "UPDATE", "schema": "public", "table": "redemption_requests",
            "filter": "status=in.(pending,approved)"
        }))
        .expect("valid");
        assert!(status.matches(&change(
            ChangeKind::Update,
            json!({"id": "a", "status": "approved"})
        )));
        assert!(!status.matches(&change(
            ChangeKind::Insert,
            json!({"id": "a", "status": "approved"})
        )));
        assert!(!status.matches(&change(
            ChangeKind::Update,
            json!({"id": "a", "status": "settled"})
        )));
    }

    #[test]
    fn deletes_match_only_primary_key_filters() {
        let by_owner = parse_binding(&json!({
            "event": "DELETE", "schema": "public", "table": "redemption_requests",
            "filter": "investor_id=eq.00000000-0000-4000-8000-000000000001"
        }))
        .expect("valid");
        let row = json!({"id": "00000000-0000-4000-8000-0000000000ff",
                         "investor_id": "00000000-0000-4000-8000-000000000001"});
        assert!(!by_owner.matches(&change(ChangeKind::Delete, row.clone())));
        let by_id = parse_binding(&json!({
            "event": "DELETE", "schema": "public", "table": "redemption_requests",
            "filter": "id=eq.00000000-0000-4000-8000-0000000000ff"
        }))
        .expect("valid");
        assert!(by_id.matches(&change(ChangeKind::Delete, row)));
    }

    #[test]
    fn bad_bindings_are_refused() {
        for raw in [
            json!({"event": "*"}),
            json!({"event": "*", "schema": "private", "table": "x"}),
            json!({"event": "*", "schema": "public", "table": "users"}),
            json!({"event": "*", "schema": "public", "table": "redemption_requests", "filter": "status=like.x"}),
            json!({"event": "*", "schema": "public", "table": "redemption_requests", "filter": "nope=eq.1"}),
            json!({"event": "*", "schema": "public", "filter": "status=eq.x"}),
        ] {
            assert!(parse_binding(&raw).is_err(), "{raw}");
        }
    }
}
