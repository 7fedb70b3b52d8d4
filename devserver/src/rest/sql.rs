//! SQL for reads: the row scope of an actor, filters, order and paging, all with bound values.
//!
//! Identifiers come only from [`crate::schema`]; every value is a `?` parameter.

use rusqlite::types::Value as SqlValue;

use super::query::{Filter, FilterValue, OrderTerm, ReadQuery};
use crate::auth::jwt::Actor;
use crate::schema::{Ownership, Table};

/// A WHERE clause and its parameters.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WhereClause {
    /// SQL text with `?` placeholders.
    pub sql: String,
    /// The values for the placeholders, in order.
    pub params: Vec<SqlValue>,
}

/// The row-level-security stand-in: which rows of `table` the actor may see.
pub fn scope(table: &Table, actor: &Actor) -> WhereClause {
    if actor.sees_all() {
        return WhereClause {
            sql: "1".into(),
            params: Vec::new(),
        };
    }
    let Some(owner) = actor.owner_id() else {
        return WhereClause {
            sql: "0".into(),
            params: Vec::new(),
        };
    };
    let sql = match table.ownership {
        Ownership::InvestorColumn => "investor_id = ?",
        Ownership::ParentRequest => {
            "redemption_id IN (SELECT id FROM redemption_requests WHERE investor_id = ?)"
        }
    };
    WhereClause {
        sql: sql.into(),
        params: vec![SqlValue::Text(owner.to_owned())],
    }
}

/// The SQL for one filter, appending its values to `params`.
pub fn filter_sql(filter: &Filter, params: &mut Vec<SqlValue>) -> String {
    let column = filter.column.name;
    let expression = match &filter.value {
        FilterValue::Null => format!("{column} IS NULL"),
        FilterValue::List(items) if items.is_empty() => "0".to_owned(),
        FilterValue::List(items) => {
            params.extend(items.iter().cloned());
            format!("{column} IN ({})", vec!["?"; items.len()].join(", "))
        }
        FilterValue::Single(value) => {
            params.push(value.clone());
            format!("{column} {} ?", filter.operator.sql())
        }
    };
    if filter.negated {
        format!("NOT ({expression})")
    } else {
        expression
    }
}

/// The scope of `actor` ANDed with the query's filters.
pub fn where_clause(query: &ReadQuery, actor: &Actor) -> WhereClause {
    let mut clause = scope(query.table, actor);
    let mut parts = vec![format!("({})", clause.sql)];
    for filter in &query.filters {
        parts.push(filter_sql(filter, &mut clause.params));
    }
    clause.sql = parts.join(" AND ");
    clause
}

/// `ORDER BY` text; rowid last so pages are stable without an explicit order.
pub fn order_sql(order: &[OrderTerm]) -> String {
    let mut terms: Vec<String> = order
        .iter()
        .map(|term| {
            format!(
                "{} {} NULLS {}",
                term.column.name,
                if term.descending { "DESC" } else { "ASC" },
                if term.effective_nulls_first() {
                    "FIRST"
                } else {
                    "LAST"
                }
            )
        })
        .collect();
    terms.push("rowid ASC".into());
    terms.join(", ")
}

/// The full SELECT for a read (all columns; projection happens on the JSON rows).
pub fn select_sql(query: &ReadQuery, actor: &Actor) -> (String, Vec<SqlValue>) {
    let mut clause = where_clause(query, actor);
    let limit = query
        .limit
        .map_or(-1, |limit| i64::try_from(limit).unwrap_or(i64::MAX));
    let offset = query
        .offset
        .map_or(0, |offset| i64::try_from(offset).unwrap_or(i64::MAX));
    clause.params.push(SqlValue::Integer(limit));
    clause.params.push(SqlValue::Integer(offset));
    let sql = format!(
        "SELECT {} FROM {} WHERE {} ORDER BY {} LIMIT ? OFFSET ?",
        query.table.select_list(),
        query.table.name,
        clause.sql,
        order_sql(&query.order)
    );
    (sql, clause.params)
}

/// The COUNT for `Prefer: count=exact`.
pub fn count_sql(query: &ReadQuery, actor: &Actor) -> (String, Vec<SqlValue>) {
    let clause = where_clause(query, actor);
    (
        format!(
            "SELECT COUNT(*) FROM {} WHERE {}",
            query.table.name, clause.sql
        ),
        clause.params,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::jwt::AppRole;
    use crate::rest::query::parse_read;
    use crate::schema::{REDEMPTION_APPROVALS, REDEMPTION_REQUESTS};

    fn investor() -> Actor {
        Actor::User {
            id: "u1".into(),
            email: "i@x".into(),
            app_role: AppRole::Investor,
        }
    }

    #[test]
    fn investor_scope_binds_the_owner() {
        let clause = scope(&REDEMPTION_REQUESTS, &investor());
        assert_eq!(clause.sql, "investor_id = ?");
        assert_eq!(clause.params, vec![SqlValue::Text("u1".into())]);
        assert!(scope(&REDEMPTION_APPROVALS, &investor())
            .sql
            .contains("SELECT id FROM redemption_requests"));
        assert_eq!(scope(&REDEMPTION_REQUESTS, &Actor::Anon).sql, "0");
        assert_eq!(scope(&REDEMPTION_REQUESTS, &Actor::Service).sql, "1");
    }

    #[test]
    fn select_binds_every_value() {
        let pairs = vec![
            ("status".to_owned(), "eq.x' OR 1=1 --".to_owned()),
            ("id".to_owned(), "not.in.()".to_owned()),
            ("order".to_owned(), "created_at.desc".to_owned()),
            ("limit".to_owned(), "5".to_owned()),
        ];
        let query = parse_read(&REDEMPTION_REQUESTS, &pairs).expect("parses");
        let (sql, params) = select_sql(&query, &investor());
        assert!(sql.ends_with(
            "WHERE (investor_id = ?) AND status = ? AND NOT (0) \
             ORDER BY created_at DESC NULLS FIRST, rowid ASC LIMIT ? OFFSET ?"
        ));
        assert!(!sql.contains("OR 1=1"));
        assert_eq!(params[1], SqlValue::Text("x' OR 1=1 --".into()));
        assert_eq!(params.len(), 4);
    }
}
