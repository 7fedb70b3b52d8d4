//! Conversions between request text, JSON and SQLite values for each [`ColumnKind`].

use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::types::{Value as SqlValue, ValueRef};
use serde_json::{Number, Value};

use crate::schema::ColumnKind;

/// A row as the API shows it: column name to typed JSON value.
pub type Row = serde_json::Map<String, Value>;

/// Millionths per whole unit of a `numeric(20,6)` column.
pub const MICROS: i64 = 1_000_000;

/// The largest magnitude accepted for a numeric value, in whole units (fits `numeric(20,6)`).
const MAX_NUMERIC: f64 = 99_999_999_999_999.0;

/// Why a value does not fit its column's type; the message follows Postgres' wording.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    /// The text is not valid input for the column's type.
    #[error("invalid input syntax for type {pg_type}: \"{text}\"")]
    InvalidSyntax {
        /// The Postgres type name.
        pg_type: &'static str,
        /// The offending text.
        text: String,
    },
    /// The column's type does not support this comparison.
    #[error("operator does not exist: {pg_type} {operator} unknown")]
    UnsupportedOperator {
        /// The Postgres type name.
        pg_type: &'static str,
        /// The SQL operator that was asked for.
        operator: &'static str,
    },
}

/// Converts a decimal amount to millionths, rounding like `numeric(20,6)` does on storage.
pub fn micros_from_f64(amount: f64) -> Option<i64> {
    if !amount.is_finite() || amount.abs() > MAX_NUMERIC {
        return None;
    }
    // The bound above keeps the product well inside i64 and f64's exact integer range.
    Some((amount * MICROS as f64).round() as i64)
}

/// Converts millionths to a JSON number; the nearest double prints as the short decimal.
pub fn micros_to_json(micros: i64) -> Value {
    Number::from_f64(micros as f64 / MICROS as f64)
        .map(Value::Number)
        .unwrap_or(Value::Null)
}

/// Multiplies two millionth amounts (e.g. tokens by a rate), rounding half away from zero.
pub fn multiply_micros(a: i64, b: i64) -> i64 {
    let product = i128::from(a) * i128::from(b);
    let half = i128::from(MICROS / 2);
    let rounded = if product >= 0 {
        (product + half) / i128::from(MICROS)
    } else {
        (product - half) / i128::from(MICROS)
    };
    i64::try_from(rounded).unwrap_or(i64::MAX)
}

/// Formats a time the way PostgREST shows `timestamptz`: microseconds and `+00:00`.
pub fn format_timestamp(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S%.6f+00:00").to_string()
}

/// The current time as a stored timestamp.
pub fn now_timestamp() -> String {
    format_timestamp(Utc::now())
}

/// The current time as Realtime's `commit_timestamp` (milliseconds and `Z`).
pub fn commit_timestamp() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Reads one stored value as typed JSON.
pub fn sql_to_json(kind: ColumnKind, value: ValueRef<'_>) -> Value {
    match (kind, value) {
        (_, ValueRef::Null) => Value::Null,
        (ColumnKind::Numeric, ValueRef::Integer(micros)) => micros_to_json(micros),
        (ColumnKind::Int | ColumnKind::BigInt, ValueRef::Integer(n)) => Value::from(n),
        (ColumnKind::Json, ValueRef::Text(text)) => {
            serde_json::from_slice(text).unwrap_or(Value::Null)
        }
        (_, ValueRef::Text(text)) => Value::String(String::from_utf8_lossy(text).into_owned()),
        (_, ValueRef::Integer(n)) => Value::from(n),
        (_, ValueRef::Real(x)) => Number::from_f64(x).map_or(Value::Null, Value::Number),
        (_, ValueRef::Blob(_)) => Value::Null,
    }
}

/// Parses filter text (from a query string or a Realtime filter) into a bindable value.
pub fn parse_text(
    kind: ColumnKind,
    pg_type: &'static str,
    text: &str,
) -> Result<SqlValue, ValueError> {
    let invalid = || ValueError::InvalidSyntax {
        pg_type,
        text: text.to_owned(),
    };
    match kind {
        ColumnKind::Text => Ok(SqlValue::Text(text.to_owned())),
        ColumnKind::Uuid => uuid::Uuid::parse_str(text)
            .map(|id| SqlValue::Text(id.hyphenated().to_string()))
            .map_err(|_| invalid()),
        ColumnKind::Numeric => text
            .trim()
            .parse::<f64>()
            .ok()
            .and_then(micros_from_f64)
            .map(SqlValue::Integer)
            .ok_or_else(invalid),
        ColumnKind::Int | ColumnKind::BigInt => text
            .trim()
            .parse::<i64>()
            .map(SqlValue::Integer)
            .map_err(|_| invalid()),
        ColumnKind::Timestamp => parse_timestamp(text)
            .map(|at| SqlValue::Text(format_timestamp(at)))
            .ok_or_else(invalid),
        ColumnKind::Json => Err(ValueError::UnsupportedOperator {
            pg_type,
            operator: "=",
        }),
    }
}

/// Converts a JSON value (from a request body or a Realtime record) into a bindable value.
pub fn json_to_sql(
    kind: ColumnKind,
    pg_type: &'static str,
    value: &Value,
) -> Result<SqlValue, ValueError> {
    match (kind, value) {
        (_, Value::Null) => Ok(SqlValue::Null),
        (ColumnKind::Json, other) => Ok(SqlValue::Text(other.to_string())),
        (ColumnKind::Numeric, Value::Number(n)) => n
            .as_f64()
            .and_then(micros_from_f64)
            .map(SqlValue::Integer)
            .ok_or_else(|| ValueError::InvalidSyntax {
                pg_type,
                text: n.to_string(),
            }),
        (ColumnKind::Int | ColumnKind::BigInt, Value::Number(n)) => n
            .as_i64()
            .map(SqlValue::Integer)
            .ok_or_else(|| ValueError::InvalidSyntax {
                pg_type,
                text: n.to_string(),
            }),
        (_, Value::String(text)) => parse_text(kind, pg_type, text),
        (_, other) => Err(ValueError::InvalidSyntax {
            pg_type,
            text: other.to_string(),
        }),
    }
}

/// Parses an RFC 3339 time, also accepting Postgres' space separator.
pub fn parse_timestamp(text: &str) -> Option<DateTime<Utc>> {
    let normalised = text.trim().replacen(' ', "T", 1);
    DateTime::parse_from_rfc3339(&normalised)
        .ok()
        .map(|at| at.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_round_trips_through_micros() {
        for amount in [0.0, 0.1, 1.25, 100.5, 123456.789012, 1e9] {
            let micros = micros_from_f64(amount).expect("finite");
            assert_eq!(micros_to_json(micros), serde_json::json!(amount));
        }
        assert_eq!(micros_from_f64(f64::NAN), None);
        assert_eq!(micros_from_f64(1e20), None);
    }

    #[test]
    fn multiply_rounds_half_away_from_zero() {
        assert_eq!(multiply_micros(40 * MICROS, 1_250_000), 50 * MICROS);
        assert_eq!(multiply_micros(1, 500_000), 1);
    }

    #[test]
    fn timestamps_are_canonical() {
        let at = parse_timestamp("2026-12-03T18:00:00.123456Z").expect("valid");
        assert_eq!(format_timestamp(at), "2026-12-03T18:00:00.123456+00:00");
        let parsed = parse_text(
            ColumnKind::Timestamp,
            "timestamptz",
            "2026-12-03 19:00:00+01:00",
        );
        assert_eq!(
            parsed,
            Ok(SqlValue::Text("2026-12-03T18:00:00.000000+00:00".into()))
        );
    }

    #[test]
    fn typed_parsing_rejects_bad_input() {
        assert!(parse_text(ColumnKind::Uuid, "uuid", "1; DROP TABLE x").is_err());
        assert!(parse_text(ColumnKind::Numeric, "numeric", "abc").is_err());
        assert!(parse_text(ColumnKind::Int, "int4", "1.5").is_err());
        assert_eq!(
            parse_text(ColumnKind::Numeric, "numeric", "2.5"),
            Ok(SqlValue::Integer(2_500_000))
        );
    }
}
