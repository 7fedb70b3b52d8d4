//! The `/rest/v1` handlers: table reads (GET/HEAD), request writes (POST/PATCH) and rpc.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use rusqlite::types::Value as SqlValue;
use serde_json::Value;

use super::error::ApiError;
use super::query::{parse_filters, parse_read, parse_select, ReadQuery, SelectItem};
use super::sql::{count_sql, scope, select_sql, where_clause};
use crate::column_value::{micros_from_f64, Row};
use crate::gateway::{require_apikey, Caller};
use crate::schema::{self, Table, REDEMPTION_REQUESTS};
use crate::state::AppState;
use crate::store::redemptions::{Decision, NewRequest};
use crate::store::{read_rows, row_to_json, StoreError};

const OBJECT_MEDIA_TYPE: &str = "application/vnd.pgrst.object+json";

/// The `/rest/v1` router, behind the apikey check and the REST fault switches.
pub fn router(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/rpc/{function}", post(call_rpc))
        .route(
            "/{table}",
            get(read_table)
                .head(read_table)
                .post(insert_rows)
                .patch(update_rows)
                .delete(delete_rows),
        )
        .layer(from_fn_with_state(
            state.clone(),
            crate::faults::rest_faults,
        ))
        .layer(from_fn_with_state(state, require_apikey))
}

/// The `Prefer` header tokens that matter here.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Preferences {
    count: bool,
    representation: bool,
}

fn preferences(headers: &HeaderMap) -> Preferences {
    let mut preferences = Preferences::default();
    for value in headers.get_all("prefer") {
        for token in value.to_str().unwrap_or_default().split(',') {
            match token.trim() {
                "count=exact" | "count=planned" | "count=estimated" => preferences.count = true,
                "return=representation" => preferences.representation = true,
                _ => {}
            }
        }
    }
    preferences
}

fn wants_object(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains(OBJECT_MEDIA_TYPE))
}

fn exposed_table(name: &str) -> Result<&'static Table, ApiError> {
    schema::table(name).ok_or_else(|| ApiError::unknown_table(name))
}

fn check_profile(headers: &HeaderMap) -> Result<(), ApiError> {
    for name in ["accept-profile", "content-profile"] {
        if let Some(profile) = headers.get(name).and_then(|v| v.to_str().ok()) {
            if profile != "public" {
                return Err(ApiError::new(
                    StatusCode::NOT_ACCEPTABLE,
                    "PGRST106",
                    "The schema must be one of the following: public",
                ));
            }
        }
    }
    Ok(())
}

/// `Range: 0-24` (or `10-`) as offset and limit, for clients that page with headers.
fn range_header(headers: &HeaderMap) -> Option<(u64, Option<u64>)> {
    let value = headers.get(header::RANGE)?.to_str().ok()?;
    let (first, last) = value.trim().split_once('-')?;
    let first: u64 = first.parse().ok()?;
    if last.is_empty() {
        return Some((first, None));
    }
    let last: u64 = last.parse().ok()?;
    (last >= first).then(|| (first, Some(last - first + 1)))
}

fn json_response(status: StatusCode, body: &Value, object: bool) -> Response {
    let content_type = if object {
        "application/vnd.pgrst.object+json; charset=utf-8"
    } else {
        "application/json; charset=utf-8"
    };
    (
        status,
        [(header::CONTENT_TYPE, content_type)],
        body.to_string(),
    )
        .into_response()
}

/// Projects a stored row onto a `select` list, in the list's order.
pub fn project(
    table: &Table,
    row: &Row,
    items: &[SelectItem],
    embedded: &HashMap<String, Vec<Row>>,
) -> Row {
    let mut out = Row::new();
    for item in items {
        match item {
            SelectItem::Star => {
                for column in table.columns {
                    if let Some(value) = row.get(column.name) {
                        out.insert(column.name.to_owned(), value.clone());
                    }
                }
            }
            SelectItem::Column { column, alias } => {
                let key = alias.clone().unwrap_or_else(|| column.name.to_owned());
                out.insert(key, row.get(column.name).cloned().unwrap_or(Value::Null));
            }
            SelectItem::Embed(embed) => {
                let children = embedded
                    .get(&embed.key)
                    .map(Vec::as_slice)
                    .unwrap_or_default();
                let id = row.get("id").and_then(Value::as_str).unwrap_or_default();
                let projected = children
                    .iter()
                    .filter(|child| {
                        child.get(embed.foreign_key).and_then(Value::as_str) == Some(id)
                    })
                    .map(|child| {
                        Value::Object(project(embed.table, child, &embed.items, &HashMap::new()))
                    })
                    .collect();
                out.insert(embed.key.clone(), Value::Array(projected));
            }
        }
    }
    out
}

/// Reads rows per the query and projects them, embeds included (all scoped to the caller).
fn run_read(
    state: &AppState,
    query: &ReadQuery,
    caller: &Caller,
    with_count: bool,
) -> Result<(Vec<Row>, Option<i64>), StoreError> {
    state.store.read(|conn| {
        let (sql, params) = select_sql(query, &caller.0);
        let mut statement = conn.prepare(&sql)?;
        let rows = statement
            .query_map(rusqlite::params_from_iter(params.iter()), |row| {
                row_to_json(query.table, row)
            })?
            .collect::<Result<Vec<_>, _>>()?;
        let count = if with_count {
            let (sql, params) = count_sql(query, &caller.0);
            Some(
                conn.query_row(&sql, rusqlite::params_from_iter(params.iter()), |row| {
                    row.get::<_, i64>(0)
                })?,
            )
        } else {
            None
        };
        let embedded = fetch_embeds(conn, &query.select, &rows, caller)?;
        let projected = rows
            .iter()
            .map(|row| project(query.table, row, &query.select, &embedded))
            .collect();
        Ok((projected, count))
    })
}

fn fetch_embeds(
    conn: &rusqlite::Connection,
    items: &[SelectItem],
    parents: &[Row],
    caller: &Caller,
) -> Result<HashMap<String, Vec<Row>>, StoreError> {
    let mut embedded = HashMap::new();
    let ids: Vec<SqlValue> = parents
        .iter()
        .filter_map(|row| row.get("id").and_then(Value::as_str))
        .map(|id| SqlValue::Text(id.to_owned()))
        .collect();
    for item in items {
        let SelectItem::Embed(embed) = item else {
            continue;
        };
        let children = if ids.is_empty() {
            Vec::new()
        } else {
            let mut clause = scope(embed.table, &caller.0);
            let placeholders = vec!["?"; ids.len()].join(", ");
            clause.params.extend(ids.iter().cloned());
            let sql = format!(
                "({}) AND {} IN ({placeholders}) ORDER BY rowid ASC",
                clause.sql, embed.foreign_key
            );
            read_rows(conn, embed.table, &sql, &clause.params)?
        };
        embedded.insert(embed.key.clone(), children);
    }
    Ok(embedded)
}

async fn read_table(
    State(state): State<AppState>,
    Path(table): Path<String>,
    method: Method,
    headers: HeaderMap,
    Query(pairs): Query<Vec<(String, String)>>,
    caller: Caller,
) -> Result<Response, ApiError> {
    let table = exposed_table(&table)?;
    check_profile(&headers)?;
    let mut query = parse_read(table, &pairs)?;
    if query.limit.is_none() && query.offset.is_none() {
        if let Some((offset, limit)) = range_header(&headers) {
            query.offset = Some(offset);
            query.limit = limit;
        }
    }
    let prefer = preferences(&headers);
    let (rows, total) = run_read(&state, &query, &caller, prefer.count)
        .map_err(|error| ApiError::from_store(error, caller.signed_in()))?;

    let offset = query.offset.unwrap_or(0);
    let shown = rows.len() as u64;
    if let Some(total) = total {
        let total = u64::try_from(total).unwrap_or(0);
        if shown == 0 && offset > 0 && offset >= total {
            return Err(ApiError::new(
                StatusCode::RANGE_NOT_SATISFIABLE,
                "PGRST103",
                "Requested range not satisfiable",
            )
            .with_details(format!(
                "An offset of {offset} was requested, but there are only {total} rows."
            )));
        }
    }
    let range = if shown == 0 {
        "*".to_owned()
    } else {
        format!("{offset}-{}", offset + shown - 1)
    };
    let content_range = match total {
        Some(total) => format!("{range}/{total}"),
        None => format!("{range}/*"),
    };
    let partial = total.is_some_and(|total| shown < u64::try_from(total).unwrap_or(0));
    let status = if partial {
        StatusCode::PARTIAL_CONTENT
    } else {
        StatusCode::OK
    };

    let object = wants_object(&headers);
    let body = if object {
        if rows.len() != 1 {
            return Err(ApiError::new(
                StatusCode::NOT_ACCEPTABLE,
                "PGRST116",
                "Cannot coerce the result to a single JSON object",
            )
            .with_details(format!("The result contains {} rows", rows.len())));
        }
        rows.into_iter()
            .next()
            .map(Value::Object)
            .unwrap_or(Value::Null)
    } else {
        Value::Array(rows.into_iter().map(Value::Object).collect())
    };
    let mut response = json_response(status, &body, object);
    if let Ok(value) = HeaderValue::from_str(&content_range) {
        response.headers_mut().insert(header::CONTENT_RANGE, value);
    }
    if method == Method::HEAD {
        *response.body_mut() = axum::body::Body::empty();
    }
    Ok(response)
}

fn parse_body(body: &Bytes) -> Result<Value, ApiError> {
    serde_json::from_slice(body).map_err(|error| {
        ApiError::bad_body("Empty or invalid json").with_details(error.to_string())
    })
}

fn permission_denied(table: &str, caller: &Caller) -> ApiError {
    ApiError::forbidden(
        format!("permission denied for table {table}"),
        caller.signed_in(),
    )
}

fn unknown_body_column(table: &str, column: &str) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "PGRST204",
        format!("Could not find the '{column}' column of '{table}' in the schema cache"),
    )
}

fn not_null(column: &str) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "23502",
        format!("null value in column \"{column}\" of relation \"redemption_requests\" violates not-null constraint"),
    )
}

/// Reads an investor's insert body into a [`NewRequest`], refusing server-owned columns.
fn new_request(
    object: &serde_json::Map<String, Value>,
    caller: &Caller,
) -> Result<NewRequest, ApiError> {
    let text = |key: &str| -> Result<Option<String>, ApiError> {
        match object.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(text)) => Ok(Some(text.clone())),
            Some(other) => Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "22P02",
                format!("invalid input syntax for column {key}: {other}"),
            )),
        }
    };
    for (key, value) in object {
        match key.as_str() {
            "id" | "distribution_id" | "token_amount" | "destination_wallet"
            | "redemption_type" | "notes" => {}
            "investor_id" => {
                let mine = caller.0.owner_id();
                if value.as_str() != mine {
                    return Err(ApiError::forbidden(
                        "new row violates row-level security policy for table \"redemption_requests\"",
                        caller.signed_in(),
                    ));
                }
            }
            "status" if value.as_str() == Some("pending") => {}
            other if REDEMPTION_REQUESTS.has_column(other) => {
                return Err(ApiError::forbidden(
                    format!("column {other} is set by the server and cannot be written"),
                    caller.signed_in(),
                ))
            }
            other => return Err(unknown_body_column("redemption_requests", other)),
        }
    }
    let token_amount_micros = match object.get("token_amount") {
        None | Some(Value::Null) => return Err(not_null("token_amount")),
        Some(Value::Number(n)) => n.as_f64().and_then(micros_from_f64),
        Some(Value::String(s)) => s.trim().parse::<f64>().ok().and_then(micros_from_f64),
        Some(_) => None,
    }
    .ok_or_else(|| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "22P02",
            "invalid input syntax for type numeric (token_amount)",
        )
    })?;
    Ok(NewRequest {
        id: text("id")?,
        distribution_id: text("distribution_id")?.ok_or_else(|| not_null("distribution_id"))?,
        token_amount_micros,
        destination_wallet: text("destination_wallet")?
            .ok_or_else(|| not_null("destination_wallet"))?,
        redemption_type: text("redemption_type")?.ok_or_else(|| not_null("redemption_type"))?,
        notes: text("notes")?,
    })
}

/// Shapes written rows per `Prefer: return=representation`, `select` and `Accept`.
fn write_response(
    status_with_body: StatusCode,
    status_without: StatusCode,
    rows: Vec<Row>,
    headers: &HeaderMap,
    pairs: &[(String, String)],
    table: &'static Table,
) -> Result<Response, ApiError> {
    if !preferences(headers).representation {
        return Ok(status_without.into_response());
    }
    let select = match pairs.iter().find(|(key, _)| key == "select") {
        Some((_, select)) => parse_select(table, select)?,
        None => vec![SelectItem::Star],
    };
    let rows: Vec<Value> = rows
        .iter()
        .map(|row| Value::Object(project(table, row, &select, &HashMap::new())))
        .collect();
    if wants_object(headers) {
        if rows.len() != 1 {
            return Err(ApiError::new(
                StatusCode::NOT_ACCEPTABLE,
                "PGRST116",
                "Cannot coerce the result to a single JSON object",
            )
            .with_details(format!("The result contains {} rows", rows.len())));
        }
        let row = rows.into_iter().next().unwrap_or(Value::Null);
        return Ok(json_response(status_with_body, &row, true));
    }
    Ok(json_response(status_with_body, &Value::Array(rows), false))
}

async fn insert_rows(
    State(state): State<AppState>,
    Path(table): Path<String>,
    headers: HeaderMap,
    Query(pairs): Query<Vec<(String, String)>>,
    caller: Caller,
    body: Bytes,
) -> Result<Response, ApiError> {
    let table = exposed_table(&table)?;
    check_profile(&headers)?;
    if table.name != REDEMPTION_REQUESTS.name || !caller.signed_in() {
        return Err(permission_denied(table.name, &caller));
    }
    let objects = match parse_body(&body)? {
        Value::Object(object) => vec![object],
        Value::Array(items) if items.len() == 1 => match items.into_iter().next() {
            Some(Value::Object(object)) => vec![object],
            _ => return Err(ApiError::bad_body("expected a JSON object")),
        },
        Value::Array(_) => {
            return Err(ApiError::bad_body(
                "the devserver inserts one request per call",
            ))
        }
        _ => return Err(ApiError::bad_body("expected a JSON object")),
    };
    let mut rows = Vec::new();
    for object in &objects {
        let new = new_request(object, &caller)?;
        let row = state
            .store
            .create_request(&caller.0, &new)
            .map_err(|error| ApiError::from_store(error, caller.signed_in()))?;
        let id = row.get("id").and_then(Value::as_str).unwrap_or_default();
        tracing::info!(id, "created a redemption request");
        rows.push(row);
    }
    write_response(
        StatusCode::CREATED,
        StatusCode::CREATED,
        rows,
        &headers,
        &pairs,
        table,
    )
}

async fn update_rows(
    State(state): State<AppState>,
    Path(table): Path<String>,
    headers: HeaderMap,
    Query(pairs): Query<Vec<(String, String)>>,
    caller: Caller,
    body: Bytes,
) -> Result<Response, ApiError> {
    let table = exposed_table(&table)?;
    check_profile(&headers)?;
    if table.name != REDEMPTION_REQUESTS.name || !caller.signed_in() {
        return Err(permission_denied(table.name, &caller));
    }
    let Value::Object(changes) = parse_body(&body)? else {
        return Err(ApiError::bad_body("expected a JSON object"));
    };
    for (key, value) in &changes {
        if !table.has_column(key) {
            return Err(unknown_body_column(table.name, key));
        }
        if key != "status" || value.as_str() != Some("cancelled") {
            return Err(ApiError::forbidden(
                "only {\"status\": \"cancelled\"} may be written to a redemption request",
                caller.signed_in(),
            ));
        }
    }
    if changes.is_empty() {
        return Err(ApiError::bad_body("nothing to update"));
    }
    let filters = parse_filters(table, &pairs)?;
    let query = ReadQuery {
        table,
        select: vec![SelectItem::Star],
        filters,
        order: Vec::new(),
        limit: None,
        offset: None,
    };
    let ids: Vec<String> = state
        .store
        .read(|conn| {
            let clause = where_clause(&query, &caller.0);
            let sql = format!("SELECT id FROM {} WHERE {}", table.name, clause.sql);
            let mut statement = conn.prepare(&sql)?;
            let ids = statement
                .query_map(rusqlite::params_from_iter(clause.params.iter()), |row| {
                    row.get(0)
                })?
                .collect::<Result<Vec<String>, _>>()?;
            Ok(ids)
        })
        .map_err(|error| ApiError::from_store(error, caller.signed_in()))?;
    let rows = state
        .store
        .cancel_requests(&caller.0, &ids)
        .map_err(|error| ApiError::from_store(error, caller.signed_in()))?;
    tracing::info!(
        matched = ids.len(),
        cancelled = rows.len(),
        "cancel requested"
    );
    write_response(
        StatusCode::OK,
        StatusCode::NO_CONTENT,
        rows,
        &headers,
        &pairs,
        table,
    )
}

async fn delete_rows(Path(table): Path<String>, caller: Caller) -> Result<Response, ApiError> {
    let table = exposed_table(&table)?;
    Err(permission_denied(table.name, &caller))
}

async fn call_rpc(
    State(state): State<AppState>,
    Path(function): Path<String>,
    caller: Caller,
    body: Bytes,
) -> Result<Response, ApiError> {
    if function != "decide_redemption" {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "PGRST202",
            format!("Could not find the function public.{function} in the schema cache"),
        ));
    }
    if !caller.signed_in() {
        return Err(ApiError::forbidden(
            "permission denied for function decide_redemption",
            false,
        ));
    }
    let Value::Object(args) = parse_body(&body)? else {
        return Err(ApiError::bad_body("expected a JSON object of arguments"));
    };
    let text = |key: &str| args.get(key).and_then(Value::as_str).map(str::to_owned);
    let decision = Decision {
        redemption_id: text("redemption_id").unwrap_or_default(),
        decision: text("decision").unwrap_or_default(),
        reason: text("reason"),
    };
    let row = state
        .store
        .decide(&caller.0, &decision)
        .map_err(|error| ApiError::from_store(error, caller.signed_in()))?;
    tracing::info!(redemption_id = %decision.redemption_id, decision = %decision.decision, "decision recorded");
    Ok(json_response(StatusCode::OK, &Value::Object(row), false))
}
