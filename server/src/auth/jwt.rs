//! Access tokens: HS256 JWTs with `sub`, `sid`, `role`, `iat`, `nbf`, `exp`,
//! `iss`, `aud`, `jti` and `typ=access`.
//!
//! Validation pins the algorithm (so `alg: none` and RS/EC headers fail),
//! requires `exp`, `nbf`, `iss`, `aud` and `sub`, checks `nbf` (off by
//! default in jsonwebtoken), refuses an `iat` in the future (jsonwebtoken
//! does not look at it), and allows at most 5 s of clock skew on each. Header
//! fields such as `kid`, `jku` or `jwk` are never used to pick a key. During a
//! key rotation, tokens signed with `JWT_SECRET_PREVIOUS` still verify.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::config::AuthSettings;
use crate::domain::role::Role;

/// Clock skew tolerated on `exp`, `nbf` and `iat`.
pub const LEEWAY_SECONDS: u64 = 5;
pub const ACCESS_TYPE: &str = "access";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub sub: Uuid,
    pub sid: String,
    pub role: Role,
    pub iat: u64,
    pub nbf: u64,
    pub exp: u64,
    pub iss: String,
    pub aud: String,
    pub jti: Uuid,
    pub typ: String,
}

/// Signing and verification keys, decoded once from the settings.
pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: Vec<DecodingKey>,
    validation: Validation,
    issuer: String,
    audience: String,
    ttl: Duration,
}

impl JwtKeys {
    /// # Errors
    /// A secret jsonwebtoken cannot use.
    pub fn new(settings: &AuthSettings) -> anyhow::Result<Self> {
        let current = settings.jwt_secret.expose_secret().as_bytes();
        let mut decoding = vec![DecodingKey::from_secret(current)?];
        if let Some(previous) = &settings.jwt_secret_previous {
            decoding.push(DecodingKey::from_secret(
                previous.expose_secret().as_bytes(),
            )?);
        }
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = LEEWAY_SECONDS;
        validation.validate_nbf = true;
        validation.validate_exp = true;
        validation.set_issuer(&[&settings.jwt_issuer]);
        validation.set_audience(&[&settings.jwt_audience]);
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
        Ok(Self {
            encoding: EncodingKey::from_secret(current)?,
            decoding,
            validation,
            issuer: settings.jwt_issuer.clone(),
            audience: settings.jwt_audience.clone(),
            ttl: settings.access_token_ttl,
        })
    }

    /// Issues an access token for a session, expiring no later than `not_after`.
    ///
    /// # Errors
    /// Signing failed.
    pub fn issue(
        &self,
        user: Uuid,
        session: &str,
        role: Role,
        not_after: u64,
    ) -> anyhow::Result<(String, u64)> {
        let now = unix_now();
        let exp = (now + self.ttl.as_secs()).min(not_after);
        let claims = Claims {
            sub: user,
            sid: session.to_string(),
            role,
            iat: now,
            nbf: now,
            exp,
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            jti: Uuid::new_v4(),
            typ: ACCESS_TYPE.to_string(),
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)?;
        Ok((token, exp.saturating_sub(now)))
    }

    /// Verifies an access token; every failure is the same `None`.
    pub fn verify(&self, token: &str) -> Option<Claims> {
        for key in &self.decoding {
            match jsonwebtoken::decode::<Claims>(token, key, &self.validation) {
                Ok(data)
                    if data.claims.typ == ACCESS_TYPE
                        && data.claims.iat <= unix_now() + LEEWAY_SECONDS =>
                {
                    return Some(data.claims);
                }
                Ok(_) => return None,
                // Only a signature mismatch is worth trying the previous key for.
                Err(error) if matches!(error.kind(), ErrorKind::InvalidSignature) => {}
                Err(_) => return None,
            }
        }
        None
    }
}

pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Settings;

    fn keys(vars: &[(&str, &str)]) -> JwtKeys {
        let vars: std::collections::HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect();
        let settings = Settings::from_lookup(|name| vars.get(name).cloned()).unwrap();
        JwtKeys::new(&settings.auth).unwrap()
    }

    #[test]
    fn an_issued_token_verifies_and_carries_its_claims() {
        let keys = keys(&[]);
        let user = Uuid::new_v4();
        let (token, expires_in) = keys.issue(user, "sid-1", Role::User, u64::MAX).unwrap();
        assert_eq!(expires_in, 900);
        let claims = keys.verify(&token).unwrap();
        assert_eq!(
            (claims.sub, claims.sid.as_str(), claims.typ.as_str()),
            (user, "sid-1", "access")
        );
    }

    #[test]
    fn tokens_signed_with_the_previous_secret_verify_during_rotation() {
        let old = "old-secret-0123456789-0123456789-0123";
        let new = "new-secret-0123456789-0123456789-0123";
        let (token, _) = keys(&[("JWT_SECRET", old)])
            .issue(Uuid::new_v4(), "s", Role::User, u64::MAX)
            .unwrap();
        assert!(keys(&[("JWT_SECRET", new)]).verify(&token).is_none());
        assert!(
            keys(&[("JWT_SECRET", new), ("JWT_SECRET_PREVIOUS", old)])
                .verify(&token)
                .is_some()
        );
    }

    #[test]
    fn a_token_issued_in_the_future_is_refused() {
        let keys = keys(&[]);
        let now = unix_now();
        let claims = |iat: u64| Claims {
            sub: Uuid::new_v4(),
            sid: "s".into(),
            role: Role::User,
            iat,
            nbf: now,
            exp: now + 600,
            iss: "tenk".into(),
            aud: "tenk-api".into(),
            jti: Uuid::new_v4(),
            typ: ACCESS_TYPE.into(),
        };
        let sign = |claims: &Claims| {
            jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &keys.encoding).unwrap()
        };
        assert!(keys.verify(&sign(&claims(now))).is_some());
        assert!(keys.verify(&sign(&claims(now + LEEWAY_SECONDS))).is_some());
        assert!(keys.verify(&sign(&claims(now + 3600))).is_none());
    }

    #[test]
    fn the_token_never_outlives_its_session() {
        let keys = keys(&[]);
        let (_, expires_in) = keys
            .issue(Uuid::new_v4(), "s", Role::User, unix_now() + 60)
            .unwrap();
        assert!(expires_in <= 60);
    }
}
