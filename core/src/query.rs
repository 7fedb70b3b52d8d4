//! Typed PostgREST queries: a table, a column list, filters, an order and a page, turned into the
//! query string postgrest-js would send, and into a stable key for sharing one poll loop.

use std::fmt::Write as _;

/// A PostgREST comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    /// `eq`
    Eq,
    /// `neq`
    Neq,
    /// `gt`
    Gt,
    /// `gte`
    Gte,
    /// `lt`
    Lt,
    /// `lte`
    Lte,
    /// `in` (value is a comma list, already quoted where needed)
    In,
    /// `is` (`null`, `true`, `false`)
    Is,
}

impl Op {
    /// The operator's name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Eq => "eq",
            Op::Neq => "neq",
            Op::Gt => "gt",
            Op::Gte => "gte",
            Op::Lt => "lt",
            Op::Lte => "lte",
            Op::In => "in",
            Op::Is => "is",
        }
    }
}

/// One `column=op.value` filter.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Filter {
    /// Column name.
    pub column: String,
    /// Operator.
    pub op: Op,
    /// Value, unencoded.
    pub value: String,
}

impl Filter {
    /// The filter as Realtime expects it (`column=op.value`), for the operators Realtime knows.
    pub fn to_realtime(&self) -> Option<String> {
        match self.op {
            Op::Is => None,
            Op::In => Some(format!("{}=in.({})", self.column, self.value)),
            op => Some(format!("{}={}.{}", self.column, op.as_str(), self.value)),
        }
    }
}

/// A read of one table.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Query {
    /// Table name.
    pub table: String,
    /// `select` list; `*` by default.
    pub select: String,
    /// ANDed filters.
    pub filters: Vec<Filter>,
    /// `(column, ascending)` pairs.
    pub order: Vec<(String, bool)>,
    /// Page size.
    pub limit: Option<u32>,
    /// Page start.
    pub offset: Option<u32>,
}

impl Query {
    /// Every column of every row of `table` the caller may see.
    pub fn table(table: &str) -> Self {
        Self {
            table: table.to_string(),
            select: "*".to_string(),
            filters: Vec::new(),
            order: Vec::new(),
            limit: None,
            offset: None,
        }
    }

    /// Sets the column list (`*,redemption_approvals(*)` embeds related rows).
    pub fn select(mut self, columns: &str) -> Self {
        self.select = columns.chars().filter(|c| !c.is_whitespace()).collect();
        self
    }

    /// Adds a filter.
    pub fn filter(mut self, column: &str, op: Op, value: impl Into<String>) -> Self {
        self.filters.push(Filter {
            column: column.to_string(),
            op,
            value: value.into(),
        });
        self
    }

    /// Adds `column=eq.value`.
    pub fn eq(self, column: &str, value: impl Into<String>) -> Self {
        self.filter(column, Op::Eq, value)
    }

    /// Adds `column=in.(a,b)`, quoting values that contain separators.
    pub fn is_in<I: IntoIterator<Item = S>, S: AsRef<str>>(self, column: &str, values: I) -> Self {
        let list: Vec<String> = values
            .into_iter()
            .map(|value| {
                let value = value.as_ref();
                if value.contains([',', '(', ')', '"']) {
                    format!("\"{}\"", value.replace('"', "\\\""))
                } else {
                    value.to_string()
                }
            })
            .collect();
        self.filter(column, Op::In, list.join(","))
    }

    /// Adds an ordering.
    pub fn order(mut self, column: &str, ascending: bool) -> Self {
        self.order.push((column.to_string(), ascending));
        self
    }

    /// Sets the page size.
    pub fn limit(mut self, limit: u32) -> Self {
        self.limit = Some(limit);
        self
    }

    /// The query string, without `?`, as postgrest-js builds it.
    pub fn to_query_string(&self) -> String {
        let mut out = String::new();
        let mut push = |key: &str, value: &str| {
            if !out.is_empty() {
                out.push('&');
            }
            out.push_str(&encode_component(key));
            out.push('=');
            out.push_str(&encode_component(value));
        };
        push("select", &self.select);
        for filter in &self.filters {
            let value = match filter.op {
                Op::In => format!("in.({})", filter.value),
                op => format!("{}.{}", op.as_str(), filter.value),
            };
            push(&filter.column, &value);
        }
        if !self.order.is_empty() {
            let order: Vec<String> = self
                .order
                .iter()
                .map(|(column, ascending)| {
                    format!("{column}.{}", if *ascending { "asc" } else { "desc" })
                })
                .collect();
            push("order", &order.join(","));
        }
        if let Some(limit) = self.limit {
            push("limit", &limit.to_string());
        }
        if let Some(offset) = self.offset {
            push("offset", &offset.to_string());
        }
        out
    }

    /// The stable key that identifies this query's shared cache entry and poll loop.
    pub fn key(&self) -> String {
        format!("{}?{}", self.table, self.to_query_string())
    }

    /// The Realtime filter for this query, if one of its filters can be expressed (Realtime takes
    /// one filter; the rest is checked locally by [`Query::matches`]).
    pub fn realtime_filter(&self) -> Option<String> {
        self.filters.iter().find_map(Filter::to_realtime)
    }

    /// Whether a row (as JSON) passes every filter; used to place Realtime changes. Filters on
    /// columns the row lacks pass, since the server already scoped the change.
    pub fn matches(&self, row: &serde_json::Value) -> bool {
        self.filters.iter().all(|filter| {
            let Some(value) = row.get(&filter.column) else {
                return true;
            };
            let text = match value {
                serde_json::Value::String(text) => text.clone(),
                serde_json::Value::Null => "null".to_string(),
                other => other.to_string(),
            };
            let number = |s: &str| s.parse::<f64>().ok();
            let compare = || match (number(&text), number(&filter.value)) {
                (Some(a), Some(b)) => a.partial_cmp(&b),
                _ => Some(text.as_str().cmp(filter.value.as_str())),
            };
            use std::cmp::Ordering::*;
            match filter.op {
                Op::Eq => compare() == Some(Equal),
                Op::Neq => compare() != Some(Equal),
                Op::Gt => compare() == Some(Greater),
                Op::Gte => matches!(compare(), Some(Greater | Equal)),
                Op::Lt => compare() == Some(Less),
                Op::Lte => matches!(compare(), Some(Less | Equal)),
                Op::In => filter
                    .value
                    .split(',')
                    .any(|item| item.trim_matches('"') == text),
                Op::Is => text == filter.value,
            }
        })
    }
}

/// Percent-encodes like `URLSearchParams` does for the characters that matter, keeping PostgREST's
/// punctuation (`.`, `,`, `(`, `)`, `*`, `:`) readable.
pub fn encode_component(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z'
            | b'a'..=b'z'
            | b'0'..=b'9'
            | b'-'
            | b'_'
            | b'.'
            | b'*'
            | b','
            | b'('
            | b')'
            | b':'
            | b'!' => out.push(byte as char),
            _ => {
                let _ = write!(out, "%{byte:02X}");
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn builds_what_postgrest_js_sends() {
        let query = Query::table("redemption_requests")
            .select("*, redemption_approvals(*)")
            .eq("status", "pending")
            .is_in("redemption_type", ["standard", "a,b"])
            .order("created_at", false)
            .limit(50);
        assert_eq!(
            query.to_query_string(),
            "select=*,redemption_approvals(*)&status=eq.pending&redemption_type=in.(standard,%22a,b%22)&order=created_at.desc&limit=50"
        );
        assert_eq!(
            query.realtime_filter().as_deref(),
            Some("status=eq.pending")
        );
    }

    #[test]
    fn values_are_encoded() {
        let query = Query::table("t").eq("note", "a&b=c d#");
        assert_eq!(query.to_query_string(), "select=*&note=eq.a%26b%3Dc%20d%23");
    }

    #[test]
    fn matches_places_realtime_rows() {
        let query = Query::table("t")
            .eq("status", "pending")
            .filter("amount", Op::Gt, "10");
        assert!(query.matches(&json!({"status": "pending", "amount": 11})));
        assert!(!query.matches(&json!({"status": "approved", "amount": 11})));
        assert!(!query.matches(&json!({"status": "pending", "amount": 9.5})));
        assert!(query.matches(&json!({"id": "x"})));
    }
}
