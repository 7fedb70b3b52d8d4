//! The static description of the exposed tables: every identifier that reaches SQL comes from here.
//!
//! Table and column names in a request are looked up in [`TABLES`]; SQL is only ever built from
//! the `&'static str` names found there, never from request text.

/// How a column's values are stored in SQLite and typed in JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnKind {
    /// A UUID stored as lower-case hyphenated text.
    Uuid,
    /// Free text.
    Text,
    /// `numeric(20,6)`, stored as an integer count of millionths so sums and comparisons are exact.
    Numeric,
    /// A 32-bit integer.
    Int,
    /// A 64-bit integer.
    BigInt,
    /// A `timestamptz`, stored as canonical RFC 3339 text (`...123456+00:00`) that sorts in time order.
    Timestamp,
    /// A `jsonb` document stored as JSON text.
    Json,
}

/// One column of an exposed table.
#[derive(Debug, PartialEq, Eq)]
pub struct Column {
    /// The column name, as in ARCHITECTURE.md.
    pub name: &'static str,
    /// How values are stored and typed.
    pub kind: ColumnKind,
    /// The Postgres type name Realtime reports in `columns`.
    pub pg_type: &'static str,
}

/// Who may see a table's rows, the devserver's stand-in for row-level security.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ownership {
    /// The row's `investor_id` is its owner.
    InvestorColumn,
    /// The row belongs to whoever owns the redemption request named by `redemption_id`.
    ParentRequest,
}

/// One exposed table.
#[derive(Debug, PartialEq, Eq)]
pub struct Table {
    /// The table name, as in ARCHITECTURE.md.
    pub name: &'static str,
    /// The columns in their canonical order.
    pub columns: &'static [Column],
    /// How ownership is decided for row scoping.
    pub ownership: Ownership,
    /// `REPLICA IDENTITY FULL` in the migrations: Realtime UPDATE events carry the whole old row
    /// (DELETE events stay primary-key-only under row-level security).
    pub replica_identity_full: bool,
}

impl Table {
    /// Finds a column by its exact name.
    pub fn column(&self, name: &str) -> Option<&'static Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// Whether the table has a column of that name.
    pub fn has_column(&self, name: &str) -> bool {
        self.column(name).is_some()
    }

    /// The comma-separated column list for a `SELECT`, built from static names only.
    pub fn select_list(&self) -> String {
        self.columns
            .iter()
            .map(|c| c.name)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

const fn col(name: &'static str, kind: ColumnKind, pg_type: &'static str) -> Column {
    Column {
        name,
        kind,
        pg_type,
    }
}

use ColumnKind::{BigInt, Int, Json, Numeric, Text, Timestamp, Uuid};

/// The `distributions` table: holdings an investor can redeem from.
pub static DISTRIBUTIONS: Table = Table {
    name: "distributions",
    columns: &[
        col("id", Uuid, "uuid"),
        col("investor_id", Uuid, "uuid"),
        col("fund_name", Text, "text"),
        col("token_symbol", Text, "text"),
        col("token_amount", Numeric, "numeric"),
        col("remaining_balance", Numeric, "numeric"),
        col("conversion_rate", Numeric, "numeric"),
        col("created_at", Timestamp, "timestamptz"),
        col("updated_at", Timestamp, "timestamptz"),
    ],
    ownership: Ownership::InvestorColumn,
    replica_identity_full: false,
};

/// The `redemption_requests` table.
pub static REDEMPTION_REQUESTS: Table = Table {
    name: "redemption_requests",
    columns: &[
        col("id", Uuid, "uuid"),
        col("investor_id", Uuid, "uuid"),
        col("distribution_id", Uuid, "uuid"),
        col("token_symbol", Text, "text"),
        col("token_amount", Numeric, "numeric"),
        col("usdc_value", Numeric, "numeric"),
        col("destination_wallet", Text, "text"),
        col("redemption_type", Text, "text"),
        col("status", Text, "text"),
        col("required_approvals", Int, "int4"),
        col("approval_count", Int, "int4"),
        col("rejection_reason", Text, "text"),
        col("settlement_tx_hash", Text, "text"),
        col("notes", Text, "text"),
        col("status_history", Json, "jsonb"),
        col("version", BigInt, "int8"),
        col("created_at", Timestamp, "timestamptz"),
        col("updated_at", Timestamp, "timestamptz"),
    ],
    ownership: Ownership::InvestorColumn,
    replica_identity_full: true,
};

/// The `redemption_approvals` table: one row per admin decision.
pub static REDEMPTION_APPROVALS: Table = Table {
    name: "redemption_approvals",
    columns: &[
        col("id", Uuid, "uuid"),
        col("redemption_id", Uuid, "uuid"),
        col("admin_id", Uuid, "uuid"),
        col("admin_email", Text, "text"),
        col("decision", Text, "text"),
        col("reason", Text, "text"),
        col("created_at", Timestamp, "timestamptz"),
    ],
    ownership: Ownership::ParentRequest,
    replica_identity_full: false,
};

/// Every table exposed over REST and Realtime.
pub static TABLES: [&Table; 3] = [&DISTRIBUTIONS, &REDEMPTION_REQUESTS, &REDEMPTION_APPROVALS];

/// Finds an exposed table by its exact name.
pub fn table(name: &str) -> Option<&'static Table> {
    TABLES.iter().copied().find(|t| t.name == name)
}

/// The DDL run at start; `IF NOT EXISTS` keeps it idempotent for a data directory reused across runs.
pub const DDL: &str = r#"
CREATE TABLE IF NOT EXISTS users (
    id TEXT PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    password_salt TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    app_role TEXT NOT NULL CHECK (app_role IN ('investor', 'admin')),
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS refresh_tokens (
    token TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id),
    revoked INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS distributions (
    id TEXT PRIMARY KEY,
    investor_id TEXT NOT NULL REFERENCES users(id),
    fund_name TEXT NOT NULL,
    token_symbol TEXT NOT NULL,
    token_amount INTEGER NOT NULL,
    remaining_balance INTEGER NOT NULL CHECK (remaining_balance >= 0),
    conversion_rate INTEGER NOT NULL CHECK (conversion_rate > 0),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS redemption_requests (
    id TEXT PRIMARY KEY,
    investor_id TEXT NOT NULL REFERENCES users(id),
    distribution_id TEXT NOT NULL REFERENCES distributions(id),
    token_symbol TEXT NOT NULL,
    token_amount INTEGER NOT NULL CHECK (token_amount > 0),
    usdc_value INTEGER NOT NULL,
    destination_wallet TEXT NOT NULL,
    redemption_type TEXT NOT NULL CHECK (redemption_type IN ('standard', 'interval')),
    status TEXT NOT NULL CHECK (status IN ('draft', 'pending', 'approved', 'processing',
        'settled', 'rejected', 'cancelled', 'failed')),
    required_approvals INTEGER NOT NULL CHECK (required_approvals BETWEEN 1 AND 3),
    approval_count INTEGER NOT NULL DEFAULT 0,
    rejection_reason TEXT,
    settlement_tx_hash TEXT,
    notes TEXT,
    status_history TEXT NOT NULL DEFAULT '[]',
    version INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS redemption_requests_investor ON redemption_requests (investor_id);
CREATE TABLE IF NOT EXISTS redemption_approvals (
    id TEXT PRIMARY KEY,
    redemption_id TEXT NOT NULL REFERENCES redemption_requests(id),
    admin_id TEXT NOT NULL REFERENCES users(id),
    admin_email TEXT NOT NULL,
    decision TEXT NOT NULL CHECK (decision IN ('approve', 'reject')),
    reason TEXT,
    created_at TEXT NOT NULL,
    UNIQUE (redemption_id, admin_id)
);
"#;
