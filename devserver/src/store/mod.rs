//! The SQLite store: one connection behind a mutex, transactional writes, and the change feed.
//!
//! Every write goes through [`Store::write`], which runs a closure inside a transaction and,
//! after the commit, publishes the rows it touched on a broadcast channel that Realtime reads.
//! The connection is shared by reads and writes; critical sections are short in-process SQLite
//! calls, so handlers call the store directly instead of hopping to a blocking thread.

mod change;
mod error;
pub mod redemptions;
mod seed;
pub mod users;
mod write;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use rusqlite::types::Value as SqlValue;
use rusqlite::Connection;
use tokio::sync::broadcast;

pub use change::{Change, ChangeKind};
pub use error::StoreError;
pub use seed::{demo_user_id, DemoUser, DEMO_PASSWORD, DEMO_USERS};
pub use write::WriteTx;

use crate::column_value::{sql_to_json, Row};
use crate::schema::{self, Table};

/// How many committed changes a slow Realtime socket may fall behind before it misses some.
const CHANGE_FEED_CAPACITY: usize = 4096;

/// Where the database lives.
#[derive(Debug, Clone)]
pub enum StoreLocation {
    /// A private in-memory database, gone when the process ends.
    Memory,
    /// `devserver.sqlite3` inside this folder, created if missing.
    DataDir(PathBuf),
}

/// What to put in an empty database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeedMode {
    /// The five demo users plus holdings, requests and approvals.
    DemoData,
    /// Only the five demo users (the access-case tests start from this).
    UsersOnly,
}

/// The database and its change feed.
pub struct Store {
    conn: Mutex<Connection>,
    changes: broadcast::Sender<Arc<Change>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Store { .. }")
    }
}

impl Store {
    /// Opens (or creates) the database, creates the schema and seeds it the first time.
    pub fn open(location: &StoreLocation, seed: SeedMode) -> Result<Self, StoreError> {
        let conn = match location {
            StoreLocation::Memory => Connection::open_in_memory()?,
            StoreLocation::DataDir(dir) => {
                std::fs::create_dir_all(dir).map_err(|e| StoreError::Io(e.to_string()))?;
                let conn = Connection::open(database_path(dir))?;
                conn.pragma_update(None, "journal_mode", "WAL")?;
                conn
            }
        };
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.execute_batch(schema::DDL)?;
        let (changes, _) = broadcast::channel(CHANGE_FEED_CAPACITY);
        let store = Self {
            conn: Mutex::new(conn),
            changes,
        };
        store.seed_if_empty(seed)?;
        Ok(store)
    }

    /// An in-memory store with only the demo users, for tests that bring their own rows.
    pub fn in_memory_users_only() -> Result<Self, StoreError> {
        Self::open(&StoreLocation::Memory, SeedMode::UsersOnly)
    }

    /// An in-memory store with the full demo data.
    pub fn in_memory_demo() -> Result<Self, StoreError> {
        Self::open(&StoreLocation::Memory, SeedMode::DemoData)
    }

    /// A receiver of every change committed from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Change>> {
        self.changes.subscribe()
    }

    /// Runs a read against the shared connection.
    pub fn read<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        f(&self.lock())
    }

    /// Runs `f` in one transaction; commits if it returns `Ok`, then publishes its changes.
    pub fn write<T>(
        &self,
        f: impl FnOnce(&mut WriteTx<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut conn = self.lock();
        let mut tx = WriteTx::begin(&mut conn)?;
        let value = f(&mut tx)?;
        let changes = tx.commit()?;
        // Publishing under the lock keeps the feed in commit order across writers.
        let stamp = crate::column_value::commit_timestamp();
        for mut change in changes {
            change.commit_timestamp.clone_from(&stamp);
            // An error only means nobody is listening right now.
            let _ = self.changes.send(Arc::new(change));
        }
        Ok(value)
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic mid-transaction rolls the transaction back on drop, so the connection is
        // still consistent and the poison can be ignored.
        self.conn
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    fn seed_if_empty(&self, mode: SeedMode) -> Result<(), StoreError> {
        let users: i64 = self
            .read(|conn| Ok(conn.query_row("SELECT COUNT(*) FROM users", [], |row| row.get(0))?))?;
        if users > 0 {
            return Ok(());
        }
        let anchor = chrono::Utc::now();
        self.write(|tx| {
            seed::insert_demo_users(tx)?;
            if mode == SeedMode::DemoData {
                seed::insert_demo_rows(tx, anchor)?;
            }
            Ok(())
        })?;
        tracing::info!(?mode, "seeded an empty database");
        Ok(())
    }
}

/// The SQLite file inside a data folder.
pub fn database_path(dir: &Path) -> PathBuf {
    dir.join("devserver.sqlite3")
}

/// Reads rows of `table` matching a WHERE clause built from static identifiers and `?` params.
pub fn read_rows(
    conn: &Connection,
    table: &Table,
    where_sql: &str,
    params: &[SqlValue],
) -> Result<Vec<Row>, StoreError> {
    let sql = format!(
        "SELECT {} FROM {} WHERE {}",
        table.select_list(),
        table.name,
        where_sql
    );
    let mut statement = conn.prepare_cached(&sql)?;
    let rows = statement.query_map(rusqlite::params_from_iter(params.iter()), |row| {
        row_to_json(table, row)
    })?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// Converts a SQLite row that selected `table.select_list()` into typed JSON.
pub fn row_to_json(table: &Table, row: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
    let mut out = Row::new();
    for (index, column) in table.columns.iter().enumerate() {
        out.insert(
            column.name.to_owned(),
            sql_to_json(column.kind, row.get_ref(index)?),
        );
    }
    Ok(out)
}

/// Reads one row by primary key.
pub fn fetch_row(conn: &Connection, table: &Table, id: &str) -> Result<Option<Row>, StoreError> {
    Ok(
        read_rows(conn, table, "id = ?", &[SqlValue::Text(id.to_owned())])?
            .into_iter()
            .next(),
    )
}
