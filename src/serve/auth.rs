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

/// The caller, if its token is live and its role is at least `need`.
pub fn require(state: &AppState, headers: &HeaderMap, need: Role) -> Result<TokenRecord, ApiError> {
    let Some(token) = bearer(headers) else {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "this call needs a token: send `Authorization: Bearer TOKEN` (see `celprint token add`)",
        ));
    };
    let tokens = state.tokens.read().unwrap_or_else(|e| e.into_inner());
    let Some(record) = find_token(&tokens, token) else {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unknown or revoked token",
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
