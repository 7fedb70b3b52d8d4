//! Domain types for redemptions, approvals and holdings, parsed leniently from server JSON.
//!
//! The server is outside our control: an unknown status or type maps to an `Unknown` variant, a
//! malformed timestamp becomes `None`, and missing optional fields take their defaults, so one
//! odd value never throws away a whole response.

use serde::{Deserialize, Deserializer, Serialize};

/// Where a redemption request is in its life.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RedemptionStatus {
    /// Saved but not submitted.
    Draft,
    /// Submitted, waiting for admin approvals.
    Pending,
    /// Enough approvals; waiting for settlement to start.
    Approved,
    /// Settlement is under way on chain.
    Processing,
    /// USDC paid out.
    Settled,
    /// An admin rejected it.
    Rejected,
    /// The investor cancelled it.
    Cancelled,
    /// Settlement failed.
    Failed,
    /// A status this build does not know; the original text is kept for display.
    Unknown(String),
}

impl RedemptionStatus {
    /// Every known status, in lifecycle order.
    pub const ALL: [RedemptionStatus; 8] = [
        RedemptionStatus::Draft,
        RedemptionStatus::Pending,
        RedemptionStatus::Approved,
        RedemptionStatus::Processing,
        RedemptionStatus::Settled,
        RedemptionStatus::Rejected,
        RedemptionStatus::Cancelled,
        RedemptionStatus::Failed,
    ];

    /// Parses the wire text; unknown text becomes [`RedemptionStatus::Unknown`].
    pub fn parse(text: &str) -> Self {
        match text {
            "draft" => Self::Draft,
            "pending" => Self::Pending,
            "approved" => Self::Approved,
            "processing" => Self::Processing,
            "settled" => Self::Settled,
            "rejected" => Self::Rejected,
            "cancelled" => Self::Cancelled,
            "failed" => Self::Failed,
            other => Self::Unknown(other.to_string()),
        }
    }

    /// The wire text.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Draft => "draft",
            Self::Pending => "pending",
            Self::Approved => "approved",
            Self::Processing => "processing",
            Self::Settled => "settled",
            Self::Rejected => "rejected",
            Self::Cancelled => "cancelled",
            Self::Failed => "failed",
            Self::Unknown(text) => text,
        }
    }

    /// A human label ("Processing").
    pub fn label(&self) -> String {
        match self {
            Self::Unknown(text) => format!("Unknown ({text})"),
            known => {
                let text = known.as_str();
                let mut chars = text.chars();
                match chars.next() {
                    Some(first) => first.to_uppercase().chain(chars).collect(),
                    None => String::new(),
                }
            }
        }
    }

    /// True once nothing more can happen to the request.
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            Self::Settled | Self::Rejected | Self::Cancelled | Self::Failed
        )
    }

    /// True while USDC is still to be paid out (approved or processing).
    pub fn awaits_settlement(&self) -> bool {
        matches!(self, Self::Approved | Self::Processing)
    }
}

impl Serialize for RedemptionStatus {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for RedemptionStatus {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(deserializer)?;
        Ok(match value {
            serde_json::Value::String(text) => Self::parse(&text),
            other => Self::Unknown(other.to_string()),
        })
    }
}

/// How a redemption is paid out.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RedemptionType {
    /// Paid out as soon as it settles.
    Standard,
    /// Batched into the fund's next redemption interval.
    Interval,
    /// A type this build does not know.
    Unknown(String),
}

impl RedemptionType {
    /// Parses the wire text; unknown text becomes [`RedemptionType::Unknown`].
    pub fn parse(text: &str) -> Self {
        match text {
            "standard" => Self::Standard,
            "interval" => Self::Interval,
            other => Self::Unknown(other.to_string()),
        }
    }

    /// The wire text.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Standard => "standard",
            Self::Interval => "interval",
            Self::Unknown(text) => text,
        }
    }
}

impl Serialize for RedemptionType {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for RedemptionType {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(deserializer)?;
        Ok(match value {
            serde_json::Value::String(text) => Self::parse(&text),
            other => Self::Unknown(other.to_string()),
        })
    }
}

impl Default for RedemptionType {
    fn default() -> Self {
        Self::Unknown(String::new())
    }
}

impl Default for RedemptionStatus {
    fn default() -> Self {
        Self::Unknown(String::new())
    }
}

/// A point in time in microseconds since the Unix epoch, parsed from RFC 3339 text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// Parses RFC 3339 / PostgREST timestamps such as `2026-12-03T18:00:00.123456+00:00`,
    /// `2026-12-03 18:00:00Z` or `2026-12-03T18:00:00.877Z`. Returns `None` for anything else.
    pub fn parse(text: &str) -> Option<Self> {
        let bytes = text.as_bytes();
        if bytes.len() < 19 {
            return None;
        }
        let num = |range: std::ops::Range<usize>| -> Option<i64> {
            let part = text.get(range)?;
            if !part.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            part.parse().ok()
        };
        let year = num(0..4)?;
        let month = num(5..7)?;
        let day = num(8..10)?;
        let hour = num(11..13)?;
        let minute = num(14..16)?;
        let second = num(17..19)?;
        let separators_ok = bytes[4] == b'-'
            && bytes[7] == b'-'
            && matches!(bytes[10], b'T' | b't' | b' ')
            && bytes[13] == b':'
            && bytes[16] == b':';
        if !separators_ok
            || !(1..=12).contains(&month)
            || !(1..=31).contains(&day)
            || hour > 23
            || minute > 59
            || second > 60
        {
            return None;
        }
        let mut rest = &text[19..];
        let mut micros = 0i64;
        if let Some(fraction) = rest.strip_prefix('.') {
            let digits = fraction.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 {
                return None;
            }
            let mut scaled = 0i64;
            for (index, byte) in fraction.bytes().take(digits).enumerate() {
                if index < 6 {
                    scaled = scaled * 10 + i64::from(byte - b'0');
                }
            }
            for _ in digits..6 {
                scaled *= 10;
            }
            micros = scaled;
            rest = &fraction[digits..];
        }
        let offset_seconds = match rest {
            "" | "Z" | "z" => 0,
            _ => {
                let sign = match rest.as_bytes()[0] {
                    b'+' => 1,
                    b'-' => -1,
                    _ => return None,
                };
                let body = &rest[1..];
                let (hours, minutes) = match body.len() {
                    2 => (body.parse::<i64>().ok()?, 0),
                    4 => (body[0..2].parse().ok()?, body[2..4].parse().ok()?),
                    5 if body.as_bytes()[2] == b':' => {
                        (body[0..2].parse().ok()?, body[3..5].parse().ok()?)
                    }
                    _ => return None,
                };
                sign * (hours * 3600 + minutes * 60)
            }
        };
        let days = days_from_civil(year, month, day);
        let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offset_seconds;
        Some(Timestamp(seconds * 1_000_000 + micros))
    }

    /// Milliseconds since the Unix epoch.
    pub fn as_millis(self) -> i64 {
        self.0.div_euclid(1000)
    }

    /// Formats as `YYYY-MM-DD HH:MM:SS` in UTC.
    pub fn to_utc_string(self) -> String {
        let seconds = self.0.div_euclid(1_000_000);
        let days = seconds.div_euclid(86_400);
        let of_day = seconds.rem_euclid(86_400);
        let (year, month, day) = civil_from_days(days);
        format!(
            "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}",
            of_day / 3600,
            (of_day / 60) % 60,
            of_day % 60
        )
    }
}

/// Days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_index = (month + 9) % 12;
    let day_of_year = (153 * month_index + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The inverse of [`days_from_civil`].
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let shifted = days + 719_468;
    let era = shifted.div_euclid(146_097);
    let day_of_era = shifted - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Deserializes an optional timestamp, turning anything unparsable into `None`.
fn lenient_timestamp<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Timestamp>, D::Error> {
    let value = Option::<serde_json::Value>::deserialize(deserializer)?;
    Ok(match value {
        Some(serde_json::Value::String(text)) => Timestamp::parse(&text),
        _ => None,
    })
}

impl Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_utc_string())
    }
}

/// Deserializes a number that may arrive as a JSON number or a numeric string; anything else
/// becomes 0 (the view shows it; it never kills the row).
fn lenient_number<'de, D: Deserializer<'de>>(deserializer: D) -> Result<f64, D::Error> {
    let value = Option::<serde_json::Value>::deserialize(deserializer)?;
    Ok(match value {
        Some(serde_json::Value::Number(number)) => number.as_f64().unwrap_or(0.0),
        Some(serde_json::Value::String(text)) => text.trim().parse().unwrap_or(0.0),
        _ => 0.0,
    })
}

fn lenient_count<'de, D: Deserializer<'de>>(deserializer: D) -> Result<i64, D::Error> {
    lenient_number(deserializer).map(|number| number as i64)
}

fn lenient_optional_count<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<i64>, D::Error> {
    let value = Option::<serde_json::Value>::deserialize(deserializer)?;
    Ok(match value {
        Some(serde_json::Value::Number(number)) => number.as_i64(),
        Some(serde_json::Value::String(text)) => text.trim().parse().ok(),
        _ => None,
    })
}

/// One entry of a request's status timeline.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct StatusChange {
    /// The status entered.
    #[serde(default)]
    pub status: RedemptionStatus,
    /// When it was entered.
    #[serde(default, deserialize_with = "lenient_timestamp")]
    pub at: Option<Timestamp>,
}

fn lenient_history<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<StatusChange>, D::Error> {
    let value = Option::<serde_json::Value>::deserialize(deserializer)?;
    let items = match value {
        Some(serde_json::Value::Array(items)) => items,
        // A jsonb column may arrive as text from a Realtime record.
        Some(serde_json::Value::String(text)) => match serde_json::from_str(&text) {
            Ok(serde_json::Value::Array(items)) => items,
            _ => Vec::new(),
        },
        _ => Vec::new(),
    };
    Ok(items
        .into_iter()
        .filter_map(|item| serde_json::from_value(item).ok())
        .collect())
}

fn lenient_approvals<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Vec<Approval>>, D::Error> {
    let value = Option::<serde_json::Value>::deserialize(deserializer)?;
    Ok(match value {
        Some(serde_json::Value::Array(items)) => Some(
            items
                .into_iter()
                .filter_map(|item| serde_json::from_value(item).ok())
                .collect(),
        ),
        _ => None,
    })
}

/// A request to turn fund tokens back into USDC.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, Default)]
pub struct Redemption {
    /// The request's id (a UUID).
    pub id: String,
    /// The investor who owns it.
    #[serde(default)]
    pub investor_id: String,
    /// The holding it draws from.
    #[serde(default)]
    pub distribution_id: String,
    /// Fund token symbol, e.g. `MTF`.
    #[serde(default)]
    pub token_symbol: String,
    /// Tokens to redeem.
    #[serde(default, deserialize_with = "lenient_number")]
    pub token_amount: f64,
    /// USDC value at request time.
    #[serde(default, deserialize_with = "lenient_number")]
    pub usdc_value: f64,
    /// Where the USDC goes.
    #[serde(default)]
    pub destination_wallet: String,
    /// Standard or interval.
    #[serde(default)]
    pub redemption_type: RedemptionType,
    /// Current status.
    #[serde(default)]
    pub status: RedemptionStatus,
    /// Approvals needed (multi-signature threshold).
    #[serde(default, deserialize_with = "lenient_count")]
    pub required_approvals: i64,
    /// Approvals recorded so far.
    #[serde(default, deserialize_with = "lenient_count")]
    pub approval_count: i64,
    /// Why it was rejected, when it was.
    #[serde(default)]
    pub rejection_reason: Option<String>,
    /// Settlement transaction hash, once settled.
    #[serde(default)]
    pub settlement_tx_hash: Option<String>,
    /// The investor's own note.
    #[serde(default)]
    pub notes: Option<String>,
    /// Status timeline, oldest first.
    #[serde(default, deserialize_with = "lenient_history")]
    pub status_history: Vec<StatusChange>,
    /// Row sequence, bumped on every update.
    #[serde(default, deserialize_with = "lenient_optional_count")]
    pub version: Option<i64>,
    /// When it was created.
    #[serde(default, deserialize_with = "lenient_timestamp")]
    pub created_at: Option<Timestamp>,
    /// When it last changed.
    #[serde(default, deserialize_with = "lenient_timestamp")]
    pub updated_at: Option<Timestamp>,
    /// Embedded approvals, when the query asked for them.
    #[serde(
        default,
        deserialize_with = "lenient_approvals",
        skip_serializing_if = "Option::is_none"
    )]
    pub redemption_approvals: Option<Vec<Approval>>,
}

impl Redemption {
    /// The first eight characters of the id, for tables.
    pub fn short_id(&self) -> &str {
        self.id.get(..8).unwrap_or(&self.id)
    }
}

/// An admin's decision on a request.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, Default)]
pub struct Approval {
    /// The approval's id.
    pub id: String,
    /// The request decided on.
    #[serde(default)]
    pub redemption_id: String,
    /// The deciding admin.
    #[serde(default)]
    pub admin_id: String,
    /// The admin's email, for display.
    #[serde(default)]
    pub admin_email: Option<String>,
    /// `approve` or `reject` (kept as text; unknown values are shown as they are).
    #[serde(default)]
    pub decision: String,
    /// The reason given, required for rejections.
    #[serde(default)]
    pub reason: Option<String>,
    /// When it was decided.
    #[serde(default, deserialize_with = "lenient_timestamp")]
    pub created_at: Option<Timestamp>,
}

/// A holding an investor can redeem from.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, Default)]
pub struct Distribution {
    /// The holding's id.
    pub id: String,
    /// Its owner.
    #[serde(default)]
    pub investor_id: String,
    /// The fund's display name.
    #[serde(default)]
    pub fund_name: String,
    /// Token symbol.
    #[serde(default)]
    pub token_symbol: String,
    /// Tokens distributed.
    #[serde(default, deserialize_with = "lenient_number")]
    pub token_amount: f64,
    /// Tokens not yet redeemed.
    #[serde(default, deserialize_with = "lenient_number")]
    pub remaining_balance: f64,
    /// USDC per token.
    #[serde(default, deserialize_with = "lenient_number")]
    pub conversion_rate: f64,
    /// When it last changed.
    #[serde(default, deserialize_with = "lenient_timestamp")]
    pub updated_at: Option<Timestamp>,
}

/// Parses a JSON array of rows, keeping every row that parses and counting the ones that do not.
pub fn parse_rows<T: serde::de::DeserializeOwned>(body: &str) -> Result<(Vec<T>, usize), String> {
    let value: serde_json::Value =
        serde_json::from_str(body).map_err(|error| format!("not JSON: {error}"))?;
    let serde_json::Value::Array(items) = value else {
        return Err("expected a JSON array of rows".to_string());
    };
    let total = items.len();
    let rows: Vec<T> = items
        .into_iter()
        .filter_map(|item| serde_json::from_value(item).ok())
        .collect();
    let skipped = total - rows.len();
    Ok((rows, skipped))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_status_maps_to_fallback() {
        let row: Redemption =
            serde_json::from_str(r#"{"id":"abc","status":"escrowed","redemption_type":7}"#)
                .unwrap();
        assert_eq!(row.status, RedemptionStatus::Unknown("escrowed".into()));
        assert_eq!(row.redemption_type, RedemptionType::Unknown("7".into()));
        assert!(!row.status.is_terminal());
    }

    #[test]
    fn timestamps_in_every_server_shape_agree() {
        let a = Timestamp::parse("2026-12-03T18:00:00.123456+00:00").unwrap();
        let b = Timestamp::parse("2026-12-03 18:00:00.123456Z").unwrap();
        let c = Timestamp::parse("2026-12-03T19:00:00.123456+01:00").unwrap();
        assert_eq!(a, b);
        assert_eq!(a, c);
        assert_eq!(a.to_utc_string(), "2026-12-03 18:00:00");
        assert_eq!(Timestamp::parse("1970-01-01T00:00:00Z"), Some(Timestamp(0)));
        assert_eq!(Timestamp::parse("2026-13-03T18:00:00Z"), None);
        assert_eq!(Timestamp::parse("yesterday"), None);
    }

    #[test]
    fn numbers_arrive_as_numbers_or_strings() {
        let row: Redemption = serde_json::from_str(
            r#"{"id":"x","token_amount":"12.5","usdc_value":15,"version":"3","approval_count":null}"#,
        )
        .unwrap();
        assert_eq!(row.token_amount, 12.5);
        assert_eq!(row.usdc_value, 15.0);
        assert_eq!(row.version, Some(3));
        assert_eq!(row.approval_count, 0);
    }

    #[test]
    fn parse_rows_keeps_good_rows() {
        let (rows, skipped) =
            parse_rows::<Redemption>(r#"[{"id":"a"},{"no_id":true},{"id":"b"}]"#).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(skipped, 1);
        assert!(parse_rows::<Redemption>("{}").is_err());
        assert!(parse_rows::<Redemption>("<html>").is_err());
    }

    proptest::proptest! {
        #[test]
        fn timestamp_parse_never_panics(text in ".{0,40}") {
            let _ = Timestamp::parse(&text);
        }

        #[test]
        fn timestamp_round_trips(seconds in 0i64..4_000_000_000, micros in 0i64..1_000_000) {
            let stamp = Timestamp(seconds * 1_000_000 + micros);
            let text = format!("{}.{:06}Z", stamp.to_utc_string().replace(' ', "T"), micros);
            proptest::prop_assert_eq!(Timestamp::parse(&text), Some(stamp));
        }
    }
}
