//! Parsing PostgREST query strings (`select`, filters, `order`, `limit`, `offset`) against the schema.
//!
//! Parsing is pure: it turns request text into a [`ReadQuery`] whose identifiers are all
//! `&'static` names from [`crate::schema`] and whose values are typed for their columns.

use rusqlite::types::Value as SqlValue;

use crate::column_value::{parse_text, ValueError};
use crate::schema::{self, Column, ColumnKind, Table};

/// Query parameters that are not filters.
const RESERVED: [&str; 7] = [
    "select",
    "order",
    "limit",
    "offset",
    "columns",
    "on_conflict",
    "apikey",
];

/// Why a query string was refused; each maps to one PostgREST error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    /// Bad syntax in a filter, `select`, `order`, `limit` or `offset` (`PGRST100`).
    #[error("{message}")]
    Parse {
        /// What could not be parsed.
        message: String,
        /// The offending text.
        details: String,
    },
    /// A column that the table does not have (`42703`).
    #[error("column {table}.{column} does not exist")]
    UnknownColumn {
        /// The table.
        table: &'static str,
        /// The column name asked for.
        column: String,
    },
    /// An embed with no relationship to the table (`PGRST200`).
    #[error("Could not find a relationship between '{table}' and '{embed}' in the schema cache")]
    UnknownRelationship {
        /// The table.
        table: &'static str,
        /// The embed asked for.
        embed: String,
    },
    /// A value that does not fit its column (`22P02`, or `42804` for an unsupported operator).
    #[error(transparent)]
    Value(#[from] ValueError),
}

fn parse_error(message: impl Into<String>, details: impl Into<String>) -> QueryError {
    QueryError::Parse {
        message: message.into(),
        details: details.into(),
    }
}

/// One item of a `select` list.
#[derive(Debug, Clone, PartialEq)]
pub enum SelectItem {
    /// `*`: every column in table order.
    Star,
    /// One column, optionally renamed with `alias:column`.
    Column {
        /// The column.
        column: &'static Column,
        /// The output key, if renamed.
        alias: Option<String>,
    },
    /// A child table embedded as an array, e.g. `redemption_approvals(*)`.
    Embed(Box<Embed>),
}

/// An embedded child resource.
#[derive(Debug, Clone, PartialEq)]
pub struct Embed {
    /// The child table.
    pub table: &'static Table,
    /// The child's column that points at the parent's `id`.
    pub foreign_key: &'static str,
    /// The output key (the table name unless aliased).
    pub key: String,
    /// What to select of each child row.
    pub items: Vec<SelectItem>,
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
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
    /// `in`
    In,
    /// `is`
    Is,
}

impl Operator {
    /// Reads a PostgREST (and Realtime) operator name.
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "eq" => Self::Eq,
            "neq" => Self::Neq,
            "gt" => Self::Gt,
            "gte" => Self::Gte,
            "lt" => Self::Lt,
            "lte" => Self::Lte,
            "in" => Self::In,
            "is" => Self::Is,
            _ => return None,
        })
    }

    /// The SQL comparison for the scalar operators.
    pub fn sql(self) -> &'static str {
        match self {
            Self::Eq => "=",
            Self::Neq => "<>",
            Self::Gt => ">",
            Self::Gte => ">=",
            Self::Lt => "<",
            Self::Lte => "<=",
            Self::In => "IN",
            Self::Is => "IS",
        }
    }
}

/// The typed right-hand side of a filter.
#[derive(Debug, Clone, PartialEq)]
pub enum FilterValue {
    /// One value for a scalar comparison.
    Single(SqlValue),
    /// The list of `in.(...)`.
    List(Vec<SqlValue>),
    /// `is.null`.
    Null,
}

/// One `column=op.value` filter.
#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    /// The filtered column.
    pub column: &'static Column,
    /// Whether it was prefixed with `not.`.
    pub negated: bool,
    /// The operator.
    pub operator: Operator,
    /// The typed value.
    pub value: FilterValue,
}

/// One `order` term.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderTerm {
    /// The ordered column.
    pub column: &'static Column,
    /// Descending instead of ascending.
    pub descending: bool,
    /// Where nulls go; `None` keeps Postgres' default (last ascending, first descending).
    pub nulls_first: Option<bool>,
}

impl OrderTerm {
    /// Whether nulls sort first, with Postgres' default filled in.
    pub fn effective_nulls_first(&self) -> bool {
        self.nulls_first.unwrap_or(self.descending)
    }
}

/// A parsed read of one table.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadQuery {
    /// The table read.
    pub table: &'static Table,
    /// What to return of each row.
    pub select: Vec<SelectItem>,
    /// Filters, ANDed.
    pub filters: Vec<Filter>,
    /// Order terms, most significant first.
    pub order: Vec<OrderTerm>,
    /// `limit`, if given.
    pub limit: Option<u64>,
    /// `offset`, if given.
    pub offset: Option<u64>,
}

/// Parent-child relations that can be embedded: (parent, child, child column pointing at parent).
const RELATIONS: [(&str, &str, &str); 2] = [
    (
        "redemption_requests",
        "redemption_approvals",
        "redemption_id",
    ),
    ("distributions", "redemption_requests", "distribution_id"),
];

/// Parses decoded query pairs for a read of `table`.
pub fn parse_read(
    table: &'static Table,
    pairs: &[(String, String)],
) -> Result<ReadQuery, QueryError> {
    let mut query = ReadQuery {
        table,
        select: vec![SelectItem::Star],
        filters: Vec::new(),
        order: Vec::new(),
        limit: None,
        offset: None,
    };
    for (key, value) in pairs {
        match key.as_str() {
            "select" => query.select = parse_select(table, value)?,
            "order" => query.order = parse_order(table, value)?,
            "limit" => query.limit = Some(parse_count("limit", value)?),
            "offset" => query.offset = Some(parse_count("offset", value)?),
            "or" | "and" | "not.or" | "not.and" => {
                return Err(parse_error(
                    "logic trees (or/and) are not supported by the devserver",
                    value.clone(),
                ))
            }
            key if RESERVED.contains(&key) => {}
            key => query.filters.push(parse_filter(table, key, value)?),
        }
    }
    Ok(query)
}

/// Parses only the filters of decoded query pairs (for PATCH), ignoring `select` and friends.
pub fn parse_filters(
    table: &'static Table,
    pairs: &[(String, String)],
) -> Result<Vec<Filter>, QueryError> {
    pairs
        .iter()
        .filter(|(key, _)| !RESERVED.contains(&key.as_str()))
        .map(|(key, value)| parse_filter(table, key, value))
        .collect()
}

fn parse_count(name: &str, text: &str) -> Result<u64, QueryError> {
    text.trim()
        .parse::<u64>()
        .map_err(|_| parse_error(format!("\"{name}\" must be a non-negative integer"), text))
}

fn lookup_column(table: &'static Table, name: &str) -> Result<&'static Column, QueryError> {
    table.column(name).ok_or_else(|| QueryError::UnknownColumn {
        table: table.name,
        column: name.to_owned(),
    })
}

/// Parses one filter, `key` being the column and `text` the `op.value` part.
pub fn parse_filter(table: &'static Table, key: &str, text: &str) -> Result<Filter, QueryError> {
    let failed = || {
        parse_error(
            format!("failed to parse filter ({text})"),
            format!("{key}={text}"),
        )
    };
    if key.contains('.') {
        return Err(parse_error(
            "filters on embedded resources are not supported by the devserver",
            key,
        ));
    }
    let column = lookup_column(table, key)?;
    let (mut operator_name, mut rest) = text.split_once('.').ok_or_else(failed)?;
    let negated = operator_name == "not";
    if negated {
        (operator_name, rest) = rest.split_once('.').ok_or_else(failed)?;
    }
    let operator = Operator::parse(operator_name).ok_or_else(failed)?;
    let value = typed_value(column, operator, rest).map_err(|error| match error {
        ValueListError::Syntax => failed(),
        ValueListError::Value(error) => QueryError::Value(error),
    })?;
    Ok(Filter {
        column,
        negated,
        operator,
        value,
    })
}

/// Why a filter value did not parse.
pub enum ValueListError {
    /// The list or `is` syntax is wrong.
    Syntax,
    /// A value does not fit the column.
    Value(ValueError),
}

/// Types the value part of a filter for its column; shared with Realtime filters.
pub fn typed_value(
    column: &Column,
    operator: Operator,
    text: &str,
) -> Result<FilterValue, ValueListError> {
    match operator {
        Operator::Is => match text {
            "null" => Ok(FilterValue::Null),
            "true" | "false" | "unknown" => {
                Err(ValueListError::Value(ValueError::UnsupportedOperator {
                    pg_type: column.pg_type,
                    operator: "IS",
                }))
            }
            _ => Err(ValueListError::Syntax),
        },
        Operator::In => {
            let items = parse_list(text).ok_or(ValueListError::Syntax)?;
            items
                .iter()
                .map(|item| parse_text(column.kind, column.pg_type, item))
                .collect::<Result<Vec<_>, _>>()
                .map(FilterValue::List)
                .map_err(ValueListError::Value)
        }
        _ => {
            if column.kind == ColumnKind::Json {
                return Err(ValueListError::Value(ValueError::UnsupportedOperator {
                    pg_type: column.pg_type,
                    operator: operator.sql(),
                }));
            }
            parse_text(column.kind, column.pg_type, text)
                .map(FilterValue::Single)
                .map_err(ValueListError::Value)
        }
    }
}

/// Splits `(a,"b,c",d)` into its items; quoted items may contain `,()` and `\"` escapes.
pub fn parse_list(text: &str) -> Option<Vec<String>> {
    let inner = text.strip_prefix('(')?.strip_suffix(')')?;
    if inner.trim().is_empty() {
        return Some(Vec::new());
    }
    let mut items = Vec::new();
    let mut chars = inner.chars().peekable();
    loop {
        let mut item = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next()? {
                    '\\' => item.push(chars.next()?),
                    '"' => break,
                    c => item.push(c),
                }
            }
            match chars.next() {
                None => {
                    items.push(item);
                    return Some(items);
                }
                Some(',') => items.push(item),
                Some(_) => return None,
            }
        } else {
            loop {
                match chars.next() {
                    None => {
                        items.push(item);
                        return Some(items);
                    }
                    Some(',') => break,
                    Some('(' | ')' | '"') => return None,
                    Some(c) => item.push(c),
                }
            }
            items.push(item);
        }
    }
}

/// Parses a `select` list, with embeds of child tables.
pub fn parse_select(table: &'static Table, text: &str) -> Result<Vec<SelectItem>, QueryError> {
    // postgrest-js strips unquoted whitespace; do the same so both shapes parse.
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    if compact.is_empty() {
        return Ok(vec![SelectItem::Star]);
    }
    split_top_level(&compact)
        .ok_or_else(|| parse_error("unbalanced parentheses in select", text))?
        .into_iter()
        .map(|item| parse_select_item(table, item, text))
        .collect()
}

fn parse_select_item(
    table: &'static Table,
    item: &str,
    whole: &str,
) -> Result<SelectItem, QueryError> {
    if item == "*" {
        return Ok(SelectItem::Star);
    }
    let (alias, body) = match item.split_once(':') {
        Some((alias, body)) if !alias.contains('(') && !body.starts_with(':') => {
            (Some(alias.to_owned()), body)
        }
        _ => (None, item),
    };
    if body.contains("::") || body.contains("->") || body.contains('!') {
        return Err(parse_error(
            "casts, JSON paths and embed hints are not supported by the devserver",
            whole,
        ));
    }
    if let Some((name, rest)) = body.split_once('(') {
        let inner = rest
            .strip_suffix(')')
            .ok_or_else(|| parse_error("failed to parse select parameter", whole))?;
        let relation = RELATIONS
            .iter()
            .find(|(parent, child, _)| *parent == table.name && *child == name)
            .ok_or_else(|| QueryError::UnknownRelationship {
                table: table.name,
                embed: name.to_owned(),
            })?;
        let child = schema::table(relation.1).ok_or_else(|| QueryError::UnknownRelationship {
            table: table.name,
            embed: name.to_owned(),
        })?;
        let items = parse_select(child, inner)?;
        if items.iter().any(|i| matches!(i, SelectItem::Embed(_))) {
            return Err(parse_error(
                "nested embeds are not supported by the devserver",
                whole,
            ));
        }
        return Ok(SelectItem::Embed(Box::new(Embed {
            table: child,
            foreign_key: relation.2,
            key: alias.unwrap_or_else(|| name.to_owned()),
            items,
        })));
    }
    if body.is_empty() || !body.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(parse_error("failed to parse select parameter", whole));
    }
    Ok(SelectItem::Column {
        column: lookup_column(table, body)?,
        alias,
    })
}

fn split_top_level(text: &str) -> Option<Vec<&str>> {
    let mut items = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    for (index, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.checked_sub(1)?,
            ',' if depth == 0 => {
                items.push(&text[start..index]);
                start = index + 1;
            }
            _ => {}
        }
    }
    if depth != 0 {
        return None;
    }
    items.push(&text[start..]);
    Some(items)
}

/// Parses `order=col.desc.nullslast,other`.
pub fn parse_order(table: &'static Table, text: &str) -> Result<Vec<OrderTerm>, QueryError> {
    text.split(',')
        .map(|term| {
            let mut parts = term.trim().split('.');
            let name = parts.next().unwrap_or_default();
            let column = lookup_column(table, name)?;
            let mut order = OrderTerm {
                column,
                descending: false,
                nulls_first: None,
            };
            for modifier in parts {
                match modifier {
                    "asc" => order.descending = false,
                    "desc" => order.descending = true,
                    "nullsfirst" => order.nulls_first = Some(true),
                    "nullslast" => order.nulls_first = Some(false),
                    _ => return Err(parse_error(format!("failed to parse order ({text})"), term)),
                }
            }
            Ok(order)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{DISTRIBUTIONS, REDEMPTION_REQUESTS};

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn parses_a_typical_dashboard_query() {
        let query = parse_read(
            &REDEMPTION_REQUESTS,
            &pairs(&[
                ("select", "id, status,redemption_approvals(*)"),
                ("status", "in.(pending,\"approved\")"),
                ("token_amount", "gte.10.5"),
                ("rejection_reason", "not.is.null"),
                ("order", "created_at.desc.nullslast,id"),
                ("limit", "25"),
                ("offset", "50"),
            ]),
        )
        .expect("parses");
        assert_eq!(query.select.len(), 3);
        assert!(
            matches!(&query.select[2], SelectItem::Embed(e) if e.foreign_key == "redemption_id")
        );
        assert_eq!(query.filters.len(), 3);
        assert_eq!(
            query.filters[0].value,
            FilterValue::List(vec![
                SqlValue::Text("pending".into()),
                SqlValue::Text("approved".into())
            ])
        );
        assert_eq!(
            query.filters[1].value,
            FilterValue::Single(SqlValue::Integer(10_500_000))
        );
        assert!(query.filters[2].negated);
        assert_eq!(query.order.len(), 2);
        assert!(query.order[0].descending);
        assert_eq!(query.order[0].nulls_first, Some(false));
        assert_eq!((query.limit, query.offset), (Some(25), Some(50)));
    }

    #[test]
    fn refuses_unknown_columns_everywhere() {
        for (key, value) in [
            ("select", "id,password"),
            ("order", "id;drop table users"),
            ("nope", "eq.1"),
        ] {
            let error = parse_read(&DISTRIBUTIONS, &pairs(&[(key, value)])).unwrap_err();
            assert!(
                matches!(error, QueryError::UnknownColumn { .. }),
                "{key}={value}: {error:?}"
            );
        }
    }

    #[test]
    fn refuses_malformed_filters() {
        for value in ["eq", "like.*x*", "in.(a", "is.maybe", "not.eq", ""] {
            let error = parse_filter(&REDEMPTION_REQUESTS, "status", value).unwrap_err();
            assert!(
                matches!(error, QueryError::Parse { .. }),
                "{value}: {error:?}"
            );
        }
        let error = parse_filter(&REDEMPTION_REQUESTS, "token_amount", "eq.lots").unwrap_err();
        assert!(matches!(error, QueryError::Value(_)));
    }

    #[test]
    fn lists_handle_quotes_and_empties() {
        assert_eq!(parse_list("()"), Some(vec![]));
        assert_eq!(
            parse_list("(a,\"b,(c)\",\"d\\\"e\")"),
            Some(vec!["a".into(), "b,(c)".into(), "d\"e".into()])
        );
        assert_eq!(parse_list("(a,b"), None);
        assert_eq!(parse_list("(\"a\"b)"), None);
    }

    #[test]
    fn embeds_only_known_relations() {
        assert!(matches!(
            parse_select(&DISTRIBUTIONS, "*,redemption_approvals(*)"),
            Err(QueryError::UnknownRelationship { .. })
        ));
        assert!(parse_select(&DISTRIBUTIONS, "*,redemption_requests(id,status)").is_ok());
    }
}
