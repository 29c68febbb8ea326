//! Who is calling: `Authorization: Bearer TOKEN`, checked against the bank's token
//! hashes. No token, or one the bank does not know (or has revoked): 401. A known
//! token whose role is below what the call needs: 403.

use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::AppState;
use crate::bank::{find_token, Role, TokenRecord};

/// An API error: a status and one line saying why, sent as `{"error": "..."}`.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
        }
    }
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, message)
    }
    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = axum::Json(serde_json::json!({ "error": self.message }));
        let mut response = (self.status, body).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer"),
            );
        }
        response
    }
}

/// The bearer token of a request, if it carries one.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// The caller, if its token (or its session's token) is live and its role is at least
/// `need`.
pub fn require(state: &AppState, headers: &HeaderMap, need: Role) -> Result<TokenRecord, ApiError> {
    let tokens = state.tokens.read().unwrap_or_else(|e| e.into_inner());
    let found = match bearer(headers) {
        Some(token) => find_token(&tokens, token),
        None => match session_of(state, headers) {
            // A session lives only as long as its token.
            Some(s) => tokens
                .iter()
                .find(|t| t.name == s.token_name && t.revoked_at.is_none()),
            None if session_cookie(headers).is_some() => None,
            None => {
                return Err(ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "this call needs a token: send `Authorization: Bearer TOKEN` (see `celprint token add`)",
                ))
            }
        },
    };
    let Some(record) = found else {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unknown or revoked token, or an unknown session",
        ));
    };
    if record.role < need {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            format!(
                "token {:?} has the role {}; this call needs {}",
                record.name,
                record.role.name(),
                need.name()
            ),
        ));
    }
    Ok(record.clone())
}

/// The session cookie's name. `HttpOnly` (no script reads it) and `SameSite=Strict` (no
/// other site's page sends it), and a CSRF token on every state-changing call besides.
pub const COOKIE: &str = "celprint_session";

/// How long a browser session lasts without being used.
const SESSION_IDLE: std::time::Duration = std::time::Duration::from_secs(8 * 3600);

/// A logged-in browser: whose token it was opened with, and its CSRF token.
#[derive(Debug, Clone)]
pub struct Session {
    pub token_name: String,
    pub csrf: String,
    pub last_used: std::time::Instant,
}

/// Random hex (`bytes` bytes), for session ids and CSRF tokens.
pub fn random_hex(bytes: usize) -> Result<String, ApiError> {
    use std::io::Read;
    let mut buf = vec![0u8; bytes];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut buf))
        .map_err(|e| ApiError::internal(format!("cannot read random bytes: {e}")))?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

/// Opens a session for `token_name`; returns its id and the `Set-Cookie` value.
pub fn open_session(state: &AppState, token_name: &str) -> Result<(String, String), ApiError> {
    let id = random_hex(32)?;
    let session = Session {
        token_name: token_name.to_string(),
        csrf: random_hex(32)?,
        last_used: std::time::Instant::now(),
    };
    let mut sessions = state.sessions.lock().unwrap_or_else(|e| e.into_inner());
    sessions.retain(|_, s| s.last_used.elapsed() < SESSION_IDLE);
    sessions.insert(id.clone(), session);
    let cookie = format!("{COOKIE}={id}; Path=/; HttpOnly; SameSite=Strict");
    Ok((id, cookie))
}

pub fn close_session(state: &AppState, headers: &HeaderMap) {
    if let Some(id) = session_cookie(headers) {
        let mut sessions = state.sessions.lock().unwrap_or_else(|e| e.into_inner());
        sessions.remove(id);
    }
}

fn session_cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v)
}

/// The live session the request's cookie names, if any (a forged or expired cookie
/// names none).
pub fn session_of(state: &AppState, headers: &HeaderMap) -> Option<Session> {
    let id = session_cookie(headers)?;
    let mut sessions = state.sessions.lock().unwrap_or_else(|e| e.into_inner());
    let session = sessions.get_mut(id)?;
    if session.last_used.elapsed() >= SESSION_IDLE {
        sessions.remove(id);
        return None;
    }
    session.last_used = std::time::Instant::now();
    Some(session.clone())
}

/// A state-changing API call made with the session cookie (not a bearer token) must
/// carry the session's CSRF token in `X-CSRF-Token`: a cookie alone proves only that
/// the browser sent it.
pub async fn csrf_guard(
    axum::extract::State(state): axum::extract::State<std::sync::Arc<AppState>>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let safe = matches!(
        *req.method(),
        axum::http::Method::GET | axum::http::Method::HEAD | axum::http::Method::OPTIONS
    );
    let headers = req.headers();
    // The review pages' forms carry the token in a field, checked by their handlers.
    let form = req.uri().path().starts_with("/review/");
    if safe || form || bearer(headers).is_some() || session_cookie(headers).is_none() {
        return next.run(req).await;
    }
    let sent = headers.get("x-csrf-token").and_then(|v| v.to_str().ok());
    match session_of(&state, headers) {
        Some(s) if sent.is_some_and(|t| constant_eq(t, &s.csrf)) => next.run(req).await,
        Some(_) => ApiError::new(
            StatusCode::FORBIDDEN,
            "missing or wrong CSRF token (X-CSRF-Token)",
        )
        .into_response(),
        None => {
            ApiError::new(StatusCode::UNAUTHORIZED, "unknown or expired session").into_response()
        }
    }
}

pub fn constant_eq(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}
