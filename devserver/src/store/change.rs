//! A committed row change, as published to Realtime.

use crate::column_value::Row;
use crate::schema::Table;

/// What happened to the row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    /// A new row.
    Insert,
    /// A changed row.
    Update,
    /// A removed row.
    Delete,
}

impl ChangeKind {
    /// The Realtime `type` name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Insert => "INSERT",
            Self::Update => "UPDATE",
            Self::Delete => "DELETE",
        }
    }
}

/// One committed change of one row.
#[derive(Debug, Clone)]
pub struct Change {
    /// The table it happened in.
    pub table: &'static Table,
    /// Insert, update or delete.
    pub kind: ChangeKind,
    /// The row after the change; `None` for a delete.
    pub record: Option<Row>,
    /// The row before the change; `None` for an insert.
    pub old_record: Option<Row>,
    /// The investor who owns the row (for approvals: the owner of the request).
    pub owner: Option<String>,
    /// When the transaction committed, Realtime style (`...123Z`).
    pub commit_timestamp: String,
}
