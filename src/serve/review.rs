//! Review decisions over the API: `POST /v1/decisions` (reviewers) and
//! `GET /v1/decisions` (anyone with a token).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use super::api::{blocking, parse_json, with_causes};
use super::auth::{require, ApiError};
use super::AppState;
use crate::audit::{self, AuditError};
use crate::bank::{Bank, Decision, DecisionKind, Role};
use crate::model::{Label, Provenance, ProvenanceAction};
use crate::report::{match_key, query_digest};

pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new().route("/v1/decisions", post(decide).get(list))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DecisionRequest {
    pub run_id: String,
    /// The match's index in the run's `matches`.
    #[serde(rename = "match")]
    pub index: usize,
    pub decision: DecisionKind,
    pub reason: String,
    /// "Treat as licensed": also relabel the banked asset (`licensed` or `ignore`).
    #[serde(default)]
    pub relabel: Option<Label>,
}

fn now() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

fn digest_bytes(hex: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    if hex.len() != 64 {
        return None;
    }
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

/// Records one decision (and the relabel it asks for) for `by`; returns its number.
pub(crate) fn record(state: &AppState, by: &str, req: DecisionRequest) -> Result<u64, ApiError> {
    if req.reason.trim().is_empty() {
        return Err(ApiError::bad_request("a decision needs a reason"));
    }
    if matches!(req.relabel, Some(l) if l != Label::Licensed && l != Label::Ignore) {
        return Err(ApiError::bad_request(
            "relabel may only be licensed or ignore",
        ));
    }
    let run = audit::load_run(&state.bank_dir, &req.run_id).map_err(|e| match e {
        AuditError::NoSuchRun(id) => ApiError::not_found(format!("no recorded run {id:?}")),
        e => ApiError::internal(with_causes(&e)),
    })?;
    let report = &run.report;
    let m = report.matches.get(req.index).ok_or_else(|| {
        ApiError::not_found(format!(
            "run {} has {} match(es); there is no match {}",
            req.run_id,
            report.matches.len(),
            req.index
        ))
    })?;
    let digest = query_digest(m, &report.scanned).ok_or_else(|| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "the run does not say which bytes this match was found in (no digest); it cannot be decided",
        )
    })?;
    let decision = Decision {
        id: 0,
        run_id: req.run_id.clone(),
        match_index: req.index,
        decision: req.decision,
        reason: req.reason.clone(),
        by: by.to_string(),
        at: now(),
        key: match_key(m, digest),
        query_path: m.query.path.clone(),
        asset_path: m.bank_asset.path.clone(),
        previous: String::new(),
    };
    let internal = |e: crate::bank::BankError| ApiError::internal(with_causes(&e));
    let mut bank = state.bank_mut();
    let id = bank.add_decision(decision).map_err(internal)?;
    if let Some(label) = req.relabel {
        relabel(&mut bank, &m.bank_asset.digest, label, &req.reason, by).map_err(|e| match e {
            Some(e) => internal(e),
            None => ApiError::new(
                StatusCode::CONFLICT,
                format!("decision {id} recorded, but the banked asset is no longer in the bank; nothing relabelled"),
            ),
        })?;
    }
    Ok(id)
}

fn relabel(
    bank: &mut Bank,
    digest: &str,
    label: Label,
    reason: &str,
    by: &str,
) -> Result<(), Option<crate::bank::BankError>> {
    let bytes = digest_bytes(digest).ok_or(None)?;
    let id = bank.asset_by_digest(&bytes).map_err(Some)?.ok_or(None)?;
    let statement = Provenance {
        label,
        source: None,
        note: Some(format!("review: {reason}")),
        action: ProvenanceAction::Relabel,
        path: None,
        at: now(),
        by: Some(by.to_string()),
    };
    bank.add_provenance(id, statement).map_err(Some)?;
    Ok(())
}

async fn decide(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let caller = require(&state, &headers, Role::Reviewer)?;
    let req: DecisionRequest = parse_json(&body)?;
    let by = format!("token:{}", caller.name);
    let decision = req.decision;
    let id = blocking(move || record(&state, &by, req)).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"id": id, "decision": decision})),
    )
        .into_response())
}

#[derive(Deserialize)]
struct ListQuery {
    run_id: Option<String>,
}

async fn list(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(q): Query<ListQuery>,
) -> Result<Response, ApiError> {
    require(&state, &headers, Role::Scanner)?;
    let all = blocking(move || {
        state
            .bank()
            .decisions()
            .map_err(|e| ApiError::internal(with_causes(&e)))
    })
    .await?;
    let decisions: Vec<Decision> = all
        .into_iter()
        .filter(|d| q.run_id.as_ref().is_none_or(|r| *r == d.run_id))
        .collect();
    Ok(Json(json!({ "decisions": decisions })).into_response())
}
