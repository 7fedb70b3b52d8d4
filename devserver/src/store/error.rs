//! Store errors, each carrying the Postgres SQLSTATE the production database would raise.

use rusqlite::ErrorCode;

/// A failed store operation; the message is what PostgREST would show as `message`.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Row-level security or a role check refused it (`42501`).
    #[error("{0}")]
    Forbidden(String),
    /// A business rule refused it, as `RAISE EXCEPTION` would (`P0001`).
    #[error("{0}")]
    Raised(String),
    /// A check constraint refused the row (`23514`).
    #[error("{0}")]
    CheckViolation(String),
    /// A unique or primary key already exists (`23505`).
    #[error("{0}")]
    UniqueViolation(String),
    /// A foreign key does not hold (`23503`).
    #[error("{0}")]
    ForeignKeyViolation(String),
    /// Text that does not parse as the column's type (`22P02`).
    #[error("{0}")]
    InvalidText(String),
    /// The data folder could not be created.
    #[error("cannot create the data folder: {0}")]
    Io(String),
    /// Anything else SQLite reported.
    #[error("database error: {0}")]
    Sqlite(rusqlite::Error),
}

impl StoreError {
    /// The SQLSTATE PostgREST would put in `code`.
    pub fn sqlstate(&self) -> &'static str {
        match self {
            Self::Forbidden(_) => "42501",
            Self::Raised(_) => "P0001",
            Self::CheckViolation(_) => "23514",
            Self::UniqueViolation(_) => "23505",
            Self::ForeignKeyViolation(_) => "23503",
            Self::InvalidText(_) => "22P02",
            Self::Io(_) | Self::Sqlite(_) => "XX000",
        }
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(error: rusqlite::Error) -> Self {
        let constraint = match &error {
            rusqlite::Error::SqliteFailure(failure, message)
                if failure.code == ErrorCode::ConstraintViolation =>
            {
                Some((failure.extended_code, message.clone().unwrap_or_default()))
            }
            _ => None,
        };
        match constraint {
            Some((code, message))
                if code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                    || code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY =>
            {
                Self::UniqueViolation(format!(
                    "duplicate key value violates unique constraint ({message})"
                ))
            }
            Some((code, message)) if code == rusqlite::ffi::SQLITE_CONSTRAINT_CHECK => {
                Self::CheckViolation(format!("new row violates check constraint ({message})"))
            }
            Some((code, message)) if code == rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY => {
                Self::ForeignKeyViolation(format!("foreign key violation ({message})"))
            }
            _ => Self::Sqlite(error),
        }
    }
}
