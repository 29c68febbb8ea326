//! API tokens for `celprint serve`, kept in the `meta` family under `token/NAME`.
//!
//! Only a BLAKE3 hash of each token is stored: a copy of the bank (a backup, a disk
//! handed on) must not let anyone call the service. The token itself is shown once,
//! when it is made. A revoked token keeps its record, so that the audit trail's
//! "decided by NAME" still names someone the bank knows, and a name is never reused.

use serde::{Deserialize, Serialize};

use super::{Bank, BankError, CF_META};

const PREFIX: &[u8] = b"token/";

/// What a token may do; each role may do everything the roles before it may.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Hash, look up, scan, read reports and the audit trail.
    Scanner,
    /// Also confirm or dismiss matches.
    Reviewer,
    /// Also add and remove assets, and make or revoke tokens.
    Admin,
}

impl Role {
    pub fn name(self) -> &'static str {
        match self {
            Role::Scanner => "scanner",
            Role::Reviewer => "reviewer",
            Role::Admin => "admin",
        }
    }
}

/// One token as the bank keeps it: never the token itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRecord {
    pub name: String,
    pub role: Role,
    /// BLAKE3 of the token, hex.
    pub hash: String,
    pub created_at: String,
    /// Who made it (`user@host`, or the admin token's name when made through the API).
    pub created_by: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error(transparent)]
    Bank(#[from] BankError),
    #[error("a token named {0:?} exists (names are never reused, even once revoked)")]
    NameTaken(String),
    #[error("token name {0:?}: use 1 to 64 letters, digits, '-', '_' or '.'")]
    BadName(String),
    #[error("no token named {0:?}")]
    NoSuchToken(String),
    #[error("cannot read random bytes for a new token")]
    Random(#[source] std::io::Error),
}

/// The hash a token is kept and looked up by.
pub fn token_hash(token: &str) -> String {
    blake3::hash(token.as_bytes()).to_hex().to_string()
}

fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
}

/// 32 bytes from the kernel's generator, hex, behind a prefix that says what it is
/// (and lets secret scanners find one pasted somewhere it should not be).
fn fresh_token() -> Result<String, TokenError> {
    use std::io::Read;
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(TokenError::Random)?;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    Ok(format!("celp_{hex}"))
}

fn key(name: &str) -> Vec<u8> {
    [PREFIX, name.as_bytes()].concat()
}

impl Bank {
    /// Makes a token named `name` and returns it: the only time it is ever seen.
    pub fn add_token(&mut self, name: &str, role: Role, by: &str) -> Result<String, TokenError> {
        if !valid_name(name) {
            return Err(TokenError::BadName(name.to_string()));
        }
        if self.get(CF_META, &key(name))?.is_some() {
            return Err(TokenError::NameTaken(name.to_string()));
        }
        let token = fresh_token()?;
        let record = TokenRecord {
            name: name.to_string(),
            role,
            hash: token_hash(&token),
            created_at: super::now_rfc3339(),
            created_by: by.to_string(),
            revoked_at: None,
        };
        self.put_token(&record)?;
        Ok(token)
    }

    fn put_token(&self, record: &TokenRecord) -> Result<(), BankError> {
        let value = serde_json::to_vec(record).expect("token record serialises");
        self.db
            .put_cf(self.cf(CF_META)?, key(&record.name), value)
            .map_err(|e| self.rocks(e))?;
        // A token made or revoked must hold after a crash, at once.
        self.sync()
    }

    /// Every token, revoked ones included, by name.
    pub fn tokens(&self) -> Result<Vec<TokenRecord>, BankError> {
        self.meta_records(PREFIX, "token")
    }

    /// Revokes the token named `name`; revoking one already revoked changes nothing.
    pub fn revoke_token(&mut self, name: &str) -> Result<TokenRecord, TokenError> {
        let bytes = self
            .get(CF_META, &key(name))?
            .ok_or_else(|| TokenError::NoSuchToken(name.to_string()))?;
        let mut record: TokenRecord = serde_json::from_slice(&bytes)
            .map_err(|e| self.corrupt(format!("unreadable token record: {e}")))?;
        if record.revoked_at.is_none() {
            record.revoked_at = Some(super::now_rfc3339());
            self.put_token(&record)?;
        }
        Ok(record)
    }
}

/// The live (not revoked) token whose hash is `token`'s, among `records`.
pub fn find_token<'a>(records: &'a [TokenRecord], token: &str) -> Option<&'a TokenRecord> {
    let hash = token_hash(token);
    records
        .iter()
        .find(|r| r.revoked_at.is_none() && constant_time_eq(r.hash.as_bytes(), hash.as_bytes()))
}

/// Equal or not, in a time that does not tell how many leading bytes matched.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        assert!(valid_name("render-farm_1.a"));
        assert!(!valid_name(""));
        assert!(!valid_name("a/b"));
        assert!(!valid_name(&"x".repeat(65)));
    }

    #[test]
    fn a_revoked_token_is_not_found() {
        let record = |revoked: bool| TokenRecord {
            name: "a".into(),
            role: Role::Scanner,
            hash: token_hash("celp_x"),
            created_at: String::new(),
            created_by: String::new(),
            revoked_at: revoked.then(String::new),
        };
        assert!(find_token(&[record(false)], "celp_x").is_some());
        assert!(find_token(&[record(false)], "celp_y").is_none());
        assert!(find_token(&[record(true)], "celp_x").is_none());
    }

    #[test]
    fn roles_are_ordered_by_power() {
        assert!(Role::Scanner < Role::Reviewer && Role::Reviewer < Role::Admin);
    }
}
