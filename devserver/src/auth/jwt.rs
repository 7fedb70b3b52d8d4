//! HS256 JWTs: the dev keys, signing user tokens, and verifying tokens into an [`Actor`].

use jsonwebtoken::{errors::ErrorKind, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde_json::{json, Value};

/// Supabase's local default JWT secret, used unless `--jwt-secret` overrides it.
pub const DEFAULT_JWT_SECRET: &str = "super-secret-jwt-token-with-at-least-32-characters-long";

/// The `exp` of the anon key, fixed so the key is the same on every machine.
const ANON_KEY_EXP: i64 = 1_983_812_996;

/// Lifetime of an access token in seconds, as GoTrue's default.
pub const ACCESS_TOKEN_TTL_SECONDS: i64 = 3600;

/// What a token says about its bearer's application role (`app_metadata.app_role`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppRole {
    /// An investor: sees and writes own rows.
    Investor,
    /// An admin: sees everything and decides requests.
    Admin,
    /// Any other or missing value: treated as an authenticated user without extra rights.
    Other,
}

impl AppRole {
    /// Reads the stored or claimed role name.
    pub fn parse(name: &str) -> Self {
        match name {
            "investor" => Self::Investor,
            "admin" => Self::Admin,
            _ => Self::Other,
        }
    }

    /// The name used in `app_metadata.app_role`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Investor => "investor",
            Self::Admin => "admin",
            Self::Other => "other",
        }
    }
}

/// Who is making a request, derived from a verified token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// The anon key, or no user token: reads nothing, writes nothing.
    Anon,
    /// A `service_role` token: sees everything (the devserver never hands one out).
    Service,
    /// A signed-in user.
    User {
        /// The user id (`sub`).
        id: String,
        /// The email claim, used for `admin_email` on decisions.
        email: String,
        /// The application role.
        app_role: AppRole,
    },
}

impl Actor {
    /// Whether row scoping lets this actor see every row.
    pub fn sees_all(&self) -> bool {
        matches!(
            self,
            Actor::Service
                | Actor::User {
                    app_role: AppRole::Admin,
                    ..
                }
        )
    }

    /// The user id whose rows this actor sees, when it sees only its own.
    pub fn owner_id(&self) -> Option<&str> {
        match self {
            Actor::User { id, .. } if !self.sees_all() => Some(id),
            _ => None,
        }
    }

    /// Whether this actor may see a row owned by `owner`.
    pub fn may_see(&self, owner: Option<&str>) -> bool {
        if self.sees_all() {
            return true;
        }
        matches!((self.owner_id(), owner), (Some(me), Some(owner)) if me == owner)
    }
}

/// A token that verified, with the parts the server needs.
#[derive(Debug, Clone)]
pub struct VerifiedToken {
    /// Who it stands for.
    pub actor: Actor,
    /// Its `exp`, in seconds since the epoch.
    pub exp: i64,
}

/// Why a token was refused; the messages are the Realtime join reasons from the reference.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not three base64url parts of JSON.
    #[error("MalformedJWT: The token provided is not a valid JWT")]
    Malformed,
    /// The signature does not match the secret (or the algorithm is not HS256).
    #[error("JwtSignatureError: Failed to validate JWT signature")]
    BadSignature,
    /// `exp` is in the past.
    #[error("InvalidJWTToken: Token has expired {seconds_ago} seconds ago")]
    Expired {
        /// How long ago it expired.
        seconds_ago: i64,
    },
    /// `role` or `exp` is missing.
    #[error("InvalidJWTToken: Fields `role` and `exp` are required in JWT")]
    MissingClaims,
}

impl TokenError {
    /// The text Realtime puts in a channel `system` error (the reason without its code).
    pub fn system_message(&self) -> String {
        let full = self.to_string();
        match full.split_once(": ") {
            Some((_, message)) => message.to_owned(),
            None => full,
        }
    }
}

/// The signing keys and the anon key derived from the JWT secret.
pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    anon_key: String,
}

impl std::fmt::Debug for JwtKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The secret and keys stay out of logs.
        f.write_str("JwtKeys { .. }")
    }
}

impl JwtKeys {
    /// Derives the keys and the deterministic anon key from a secret.
    pub fn new(secret: &str) -> Result<Self, jsonwebtoken::errors::Error> {
        let encoding = EncodingKey::from_secret(secret.as_bytes());
        let decoding = DecodingKey::from_secret(secret.as_bytes());
        let claims = json!({"iss": "supabase-demo", "role": "anon", "exp": ANON_KEY_EXP});
        let anon_key = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &encoding)?;
        Ok(Self {
            encoding,
            decoding,
            anon_key,
        })
    }

    /// The anon key: the HS256 JWT of `{"iss":"supabase-demo","role":"anon","exp":1983812996}`.
    pub fn anon_key(&self) -> &str {
        &self.anon_key
    }

    /// Signs arbitrary claims (tests use it for expired or odd tokens).
    pub fn sign(&self, claims: &Value) -> Result<String, jsonwebtoken::errors::Error> {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.encoding)
    }

    /// Signs a user access token valid for [`ACCESS_TOKEN_TTL_SECONDS`] from `now`.
    pub fn sign_user_token(
        &self,
        user_id: &str,
        email: &str,
        app_role: AppRole,
        now: i64,
    ) -> Result<String, jsonwebtoken::errors::Error> {
        self.sign(&json!({
            "aud": "authenticated",
            "sub": user_id,
            "role": "authenticated",
            "email": email,
            "iat": now,
            "exp": now + ACCESS_TOKEN_TTL_SECONDS,
            "app_metadata": {"app_role": app_role.as_str(), "provider": "email"},
            "user_metadata": {},
        }))
    }

    /// Verifies a token at time `now` (seconds since the epoch).
    pub fn verify(&self, token: &str, now: i64) -> Result<VerifiedToken, TokenError> {
        let mut validation = Validation::new(Algorithm::HS256);
        // Expiry and claims are checked below so the error can say how long ago it expired.
        validation.validate_exp = false;
        validation.validate_aud = false;
        validation.required_spec_claims.clear();
        let data =
            jsonwebtoken::decode::<Value>(token, &self.decoding, &validation).map_err(|error| {
                match error.kind() {
                    ErrorKind::InvalidSignature | ErrorKind::InvalidAlgorithm => {
                        TokenError::BadSignature
                    }
                    _ => TokenError::Malformed,
                }
            })?;
        let claims = data.claims;
        let role = claims.get("role").and_then(Value::as_str);
        let exp = claims.get("exp").and_then(Value::as_i64);
        let (Some(role), Some(exp)) = (role, exp) else {
            return Err(TokenError::MissingClaims);
        };
        if exp <= now {
            return Err(TokenError::Expired {
                seconds_ago: now - exp,
            });
        }
        let actor = match role {
            "service_role" => Actor::Service,
            "authenticated" => {
                let id = claims.get("sub").and_then(Value::as_str);
                match id {
                    Some(id) => Actor::User {
                        id: id.to_owned(),
                        email: claims
                            .get("email")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_owned(),
                        app_role: AppRole::parse(
                            claims
                                .pointer("/app_metadata/app_role")
                                .and_then(Value::as_str)
                                .unwrap_or_default(),
                        ),
                    },
                    None => Actor::Anon,
                }
            }
            // Any other role gets the anon role's rights, which are none.
            _ => Actor::Anon,
        };
        Ok(VerifiedToken { actor, exp })
    }
}

/// Seconds since the Unix epoch, now.
pub fn unix_now() -> i64 {
    chrono::Utc::now().timestamp()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> JwtKeys {
        JwtKeys::new(DEFAULT_JWT_SECRET).expect("keys")
    }

    #[test]
    fn anon_key_is_deterministic_and_verifies() {
        let a = keys();
        let b = keys();
        assert_eq!(a.anon_key(), b.anon_key());
        let verified = a.verify(a.anon_key(), unix_now()).expect("valid");
        assert_eq!(verified.actor, Actor::Anon);
        assert_eq!(verified.exp, ANON_KEY_EXP);
    }

    #[test]
    fn user_token_round_trips() {
        let keys = keys();
        let now = unix_now();
        let token = keys
            .sign_user_token("u1", "a@b", AppRole::Admin, now)
            .expect("sign");
        let verified = keys.verify(&token, now).expect("valid");
        assert!(verified.actor.sees_all());
        assert_eq!(verified.exp, now + ACCESS_TOKEN_TTL_SECONDS);
    }

    #[test]
    fn refusals_are_classified() {
        let keys = keys();
        let now = unix_now();
        assert_eq!(keys.verify("nope", now).unwrap_err(), TokenError::Malformed);
        let other = JwtKeys::new("another-secret-another-secret-another").expect("keys");
        assert_eq!(
            keys.verify(other.anon_key(), now).unwrap_err(),
            TokenError::BadSignature
        );
        let expired = keys
            .sign(&json!({"role": "authenticated", "sub": "x", "exp": now - 30}))
            .expect("sign");
        assert_eq!(
            keys.verify(&expired, now).unwrap_err(),
            TokenError::Expired { seconds_ago: 30 }
        );
        let claimless = keys.sign(&json!({"sub": "x"})).expect("sign");
        assert_eq!(
            keys.verify(&claimless, now).unwrap_err(),
            TokenError::MissingClaims
        );
        assert_eq!(
            TokenError::Expired { seconds_ago: 5 }.system_message(),
            "Token has expired 5 seconds ago"
        );
    }
}
