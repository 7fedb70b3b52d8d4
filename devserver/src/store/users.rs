//! Users and refresh tokens for the auth endpoints.

use rand::distr::{Alphanumeric, SampleString};
use rusqlite::OptionalExtension;

use super::seed::hash_password;
use super::{Store, StoreError};
use crate::auth::jwt::AppRole;
use crate::column_value::now_timestamp;

/// A user as the auth endpoints show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// The user id (the `sub` of its tokens).
    pub id: String,
    /// The sign-in email.
    pub email: String,
    /// `app_metadata.app_role`.
    pub app_role: AppRole,
    /// When the account was created.
    pub created_at: String,
}

const USER_COLUMNS: &str = "id, email, app_role, created_at";

fn user_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<User> {
    let app_role: String = row.get(2)?;
    Ok(User {
        id: row.get(0)?,
        email: row.get(1)?,
        app_role: AppRole::parse(&app_role),
        created_at: row.get(3)?,
    })
}

impl Store {
    /// The user with this email and password, or `None` if either is wrong.
    pub fn check_password(&self, email: &str, password: &str) -> Result<Option<User>, StoreError> {
        self.read(|conn| {
            let found = conn
                .query_row(
                    &format!(
                        "SELECT {USER_COLUMNS}, password_salt, password_hash FROM users \
                         WHERE email = ?1 COLLATE NOCASE"
                    ),
                    [email.trim()],
                    |row| {
                        Ok((
                            user_from_row(row)?,
                            row.get::<_, String>(4)?,
                            row.get::<_, String>(5)?,
                        ))
                    },
                )
                .optional()?;
            Ok(found.and_then(|(user, salt, hash)| {
                (hash_password(&salt, password) == hash).then_some(user)
            }))
        })
    }

    /// Looks a user up by id.
    pub fn user(&self, id: &str) -> Result<Option<User>, StoreError> {
        self.read(|conn| {
            Ok(conn
                .query_row(
                    &format!("SELECT {USER_COLUMNS} FROM users WHERE id = ?1"),
                    [id],
                    user_from_row,
                )
                .optional()?)
        })
    }

    /// Creates a new refresh token for a user.
    pub fn issue_refresh_token(&self, user_id: &str) -> Result<String, StoreError> {
        let token = Alphanumeric.sample_string(&mut rand::rng(), 40);
        self.write(|tx| {
            tx.conn().execute(
                "INSERT INTO refresh_tokens (token, user_id, created_at) VALUES (?1, ?2, ?3)",
                rusqlite::params![token, user_id, now_timestamp()],
            )?;
            Ok(())
        })?;
        Ok(token)
    }

    /// Spends a refresh token: revokes it and returns its user and a fresh replacement.
    ///
    /// Returns `None` for an unknown or already used token.
    pub fn rotate_refresh_token(&self, token: &str) -> Result<Option<(User, String)>, StoreError> {
        let next = Alphanumeric.sample_string(&mut rand::rng(), 40);
        self.write(|tx| {
            let user_id: Option<String> = tx
                .conn()
                .query_row(
                    "SELECT user_id FROM refresh_tokens WHERE token = ?1 AND revoked = 0",
                    [token],
                    |row| row.get(0),
                )
                .optional()?;
            let Some(user_id) = user_id else {
                return Ok(None);
            };
            tx.conn().execute(
                "UPDATE refresh_tokens SET revoked = 1 WHERE token = ?1",
                [token],
            )?;
            tx.conn().execute(
                "INSERT INTO refresh_tokens (token, user_id, created_at) VALUES (?1, ?2, ?3)",
                rusqlite::params![next, user_id, now_timestamp()],
            )?;
            let user = tx
                .conn()
                .query_row(
                    &format!("SELECT {USER_COLUMNS} FROM users WHERE id = ?1"),
                    [&user_id],
                    user_from_row,
                )
                .optional()?;
            Ok(user.map(|user| (user, next.clone())))
        })
    }

    /// Revokes every refresh token of a user (sign-out everywhere).
    pub fn revoke_refresh_tokens(&self, user_id: &str) -> Result<(), StoreError> {
        self.write(|tx| {
            tx.conn().execute(
                "UPDATE refresh_tokens SET revoked = 1 WHERE user_id = ?1",
                [user_id],
            )?;
            Ok(())
        })
    }
}
