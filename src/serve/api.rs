//! The `/v1` routes. Every handler checks its caller first ([`auth::require`]), then
//! does its blocking work (RocksDB, decoding) on tokio's blocking threads or in the job
//! queue, never on the async threads. JSON bodies are parsed here, not by axum's
//! extractor, so that a malformed one gets the same `{"error"}` answer as everything else.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRequest, Multipart, Path, Query, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::auth::{require, ApiError};
use super::jobs::{Counter, Job, JobState, Work};
use super::{upload, AppState};
use crate::audit::{self, AuditError};
use crate::bank::{Bank, BankError, Role, TokenError};
use crate::engine::hash::{self, FileHash, HashOptions, Place, VideoHashes};
use crate::fingerprint::Hash256;
use crate::model::{AssetId, Label};
use crate::search::Hit;

type Shared = State<Arc<AppState>>;
type ApiResult = Result<Response, ApiError>;

/// Largest radius a lookup may ask for: past it the index scans everything and the
/// answer is noise.
const MAX_RADIUS: u32 = 64;
/// Hashes in one `POST /v1/lookup`.
const MAX_LOOKUP_HASHES: usize = 100_000;

pub(crate) fn router(state: Arc<AppState>) -> Router {
    let limit = state.config.limits.max_request_bytes;
    Router::new()
        .route("/v1/status", get(status))
        .route("/v1/openapi.json", get(openapi))
        .route("/v1/hash", post(hash_upload))
        .route("/v1/lookup", get(lookup_one).post(lookup_many))
        .route("/v1/scans", post(start_scan))
        .route("/v1/scans/{id}", get(scan_status))
        .route("/v1/assets", get(list_assets).post(add_assets))
        .route("/v1/assets/{id}", delete(delete_asset))
        .route("/v1/runs", get(list_runs))
        .route("/v1/runs/{id}", get(show_run))
        .route("/v1/tokens", get(list_tokens).post(add_token))
        .route("/v1/tokens/{name}", delete(revoke_token))
        .merge(super::review::routes())
        .merge(super::pages::routes())
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            super::auth::csrf_guard,
        ))
        .layer(DefaultBodyLimit::max(limit))
        .with_state(state)
}

pub(crate) use crate::model::with_causes;

fn bank_error(e: BankError) -> ApiError {
    ApiError::internal(with_causes(&e))
}

/// Runs `f` on a blocking thread.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::internal(format!("the request's work failed: {e}")))?
}

pub(crate) fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::bad_request(format!("malformed JSON: {e}")))
}

fn is_multipart(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"))
}

async fn multipart(state: &Arc<AppState>, req: Request) -> Result<Multipart, ApiError> {
    Multipart::from_request(req, state)
        .await
        .map_err(|e| ApiError::bad_request(format!("expected a multipart/form-data upload: {e}")))
}

fn new_id() -> String {
    use std::io::Read;
    let mut bytes = [0u8; 12];
    let random = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut bytes));
    if random.is_err() {
        // Unique within the process is all a job id needs.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        bytes[..12].copy_from_slice(&nanos.to_le_bytes()[..12]);
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

async fn status(State(state): Shared) -> ApiResult {
    let s = state.clone();
    let stats = blocking(move || s.bank().stats().map_err(bank_error)).await?;
    let jobs = state.jobs.lock().unwrap_or_else(|e| e.into_inner());
    let queued = jobs
        .values()
        .filter(|j| j.state == JobState::Queued)
        .count();
    let running = jobs
        .values()
        .filter(|j| j.state == JobState::Running)
        .count();
    Ok(Json(json!({
        "service": "celprint",
        "celprint_version": env!("CARGO_PKG_VERSION"),
        "started_at": state.started_at,
        "bank": { "assets": stats.assets, "segments": stats.segments, "generation": stats.generation },
        "jobs": { "queued": queued, "running": running },
    }))
    .into_response())
}

async fn openapi() -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        include_str!("openapi.json"),
    )
        .into_response()
}

async fn hash_upload(State(state): Shared, headers: HeaderMap, req: Request) -> ApiResult {
    require(&state, &headers, Role::Scanner)?;
    let mp = multipart(&state, req).await?;
    let dir =
        tempfile::tempdir().map_err(|e| ApiError::internal(format!("no temporary folder: {e}")))?;
    let limits = crate::serve::UploadLimits {
        max_files: 1,
        ..state.config.limits
    };
    let saved = upload::save(mp, dir.path(), limits, &state.config.scan.archives).await?;
    let Some(file) = saved.files.first().cloned() else {
        return Err(ApiError::bad_request("no file part in the upload"));
    };
    let s = state.clone();
    let out = blocking(move || {
        let opts = HashOptions {
            algo: hash::HashAlgo::Pdq,
            video: VideoHashes::Segments,
            exact: false,
            params: s.bank().params().clone(),
            limits: s.config.scan.limits,
            sampling: s.config.scan.sampling,
        };
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .map_err(|e| ApiError::internal(e.to_string()))?;
        let ctx = crate::engine::Context {
            pool: &pool,
            progress: &crate::engine::NoProgress,
            cancel: &s.cancel,
        };
        let run = hash::hash_paths(std::slice::from_ref(&file), &opts, &ctx);
        let kind = run.walk.files.first().map(|f| f.kind);
        let Some(result) = run.files.into_iter().next() else {
            let why = run
                .walk
                .errors
                .first()
                .map(|(_, e)| e.to_string())
                .or_else(|| run.walk.skipped.first().map(|(_, w)| format!("not media: {w}")))
                .unwrap_or_else(|| "not a still or a video".into());
            return Err(ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, why));
        };
        let hashed = result.map_err(|(_, e)| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()))?;
        let segments: Vec<Value> = hashed
            .hashes
            .iter()
            .filter_map(|h| match h {
                FileHash::Pdq { hash, quality, at } => {
                    let (start, end) = match at {
                        Place::Span { start_s, end_s } => (Some(*start_s), Some(*end_s)),
                        _ => (None, None),
                    };
                    Some(json!({"pdq": hash.to_hex(), "quality": quality, "start_s": start, "end_s": end}))
                }
                _ => None,
            })
            .collect();
        Ok(json!({"kind": kind, "segments": segments, "partial": hashed.partial}))
    })
    .await?;
    drop(dir);
    Ok(Json(out).into_response())
}

#[derive(Deserialize)]
struct LookupQuery {
    pdq: String,
    radius: Option<u32>,
}

fn parse_hash(text: &str) -> Result<Hash256, ApiError> {
    text.parse()
        .map_err(|_| ApiError::bad_request(format!("not a PDQ hash (64 hex digits): {text:?}")))
}

fn check_radius(radius: Option<u32>) -> Result<u32, ApiError> {
    let r = radius.unwrap_or(31);
    if r > MAX_RADIUS {
        return Err(ApiError::bad_request(format!(
            "radius {r} is over {MAX_RADIUS}"
        )));
    }
    Ok(r)
}

/// Expected cache misses under which a lookup runs on the HTTP worker: 1M segments at
/// radius 31 cost about 2 600 (0.05 ms), 100M about 60 000 (0.7 ms).
const INLINE_LOOKUP_MISSES: f64 = 10_000.0;
/// Hits a lookup on the HTTP worker describes from the bank's records itself.
const INLINE_LOOKUP_HITS: usize = 8;

/// Each query's hits, with the asset and the banked segment's times.
fn lookup(bank: &Bank, queries: &[Hash256], radius: u32) -> Result<Vec<Vec<Value>>, BankError> {
    describe(bank, queries.len(), sorted_search(bank, queries, radius))
}

/// The hits of `queries`, by query, then nearest first, then in bank order.
fn sorted_search(bank: &Bank, queries: &[Hash256], radius: u32) -> Vec<Hit> {
    let mut hits = bank.search(queries, radius);
    hits.sort_by_key(|h| (h.query, h.distance, h.segment.asset, h.segment.index));
    hits
}

/// Sorted hits of `queries` queries, each with its asset and the banked segment's times.
fn describe(bank: &Bank, queries: usize, hits: Vec<Hit>) -> Result<Vec<Vec<Value>>, BankError> {
    let mut out = vec![Vec::new(); queries];
    let mut assets = HashMap::new();
    for hit in hits {
        let id = hit.segment.asset;
        if let std::collections::hash_map::Entry::Vacant(e) = assets.entry(id) {
            e.insert(bank.asset(id)?);
        }
        let Some(record) = &assets[&id] else {
            continue;
        };
        let seg = bank.segment(hit.segment)?;
        out[hit.query].push(json!({
            "asset": {"id": id.0, "path": record.paths.first(), "label": record.label},
            "distance": hit.distance,
            "start_s": seg.and_then(|s| s.start_s),
            "end_s": seg.and_then(|s| s.end_s),
        }));
    }
    Ok(out)
}

async fn lookup_one(
    State(state): Shared,
    headers: HeaderMap,
    query: Result<Query<LookupQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult {
    require(&state, &headers, Role::Scanner)?;
    let Query(q) = query.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let hash = parse_hash(&q.pdq)?;
    let radius = check_radius(q.radius)?;
    // A lookup the index answers in a few thousand cache misses (about 0.1 ms) runs on
    // the HTTP worker: handing it to a blocking thread and back cost the service about
    // a fifth of its CPU a lookup in the closed-loop bench, in futex waits and wakes.
    // Larger banks, wide radii and hits past a few segment records go to a blocking
    // thread, so that no worker waits on milliseconds of search or on the disk.
    let quick = state.bank().search_cost(radius) <= INLINE_LOOKUP_MISSES;
    let hits = if quick {
        let hits = sorted_search(&state.bank(), &[hash], radius);
        if hits.len() <= INLINE_LOOKUP_HITS {
            describe(&state.bank(), 1, hits).map_err(bank_error)?
        } else {
            blocking(move || describe(&state.bank(), 1, hits).map_err(bank_error)).await?
        }
    } else {
        blocking(move || lookup(&state.bank(), &[hash], radius).map_err(bank_error)).await?
    };
    Ok(Json(json!({"hits": hits.into_iter().next().unwrap_or_default()})).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LookupMany {
    #[serde(default)]
    hashes: Vec<String>,
    /// A vPDQ list (`frame,quality,hash,timestamp` lines), as text.
    vpdq: Option<String>,
    radius: Option<u32>,
}

async fn lookup_many(State(state): Shared, headers: HeaderMap, body: Bytes) -> ApiResult {
    require(&state, &headers, Role::Scanner)?;
    let req: LookupMany = parse_json(&body)?;
    let radius = check_radius(req.radius)?;
    let mut queries = req
        .hashes
        .iter()
        .map(|h| parse_hash(h))
        .collect::<Result<Vec<_>, _>>()?;
    let mut times = vec![None; queries.len()];
    if let Some(text) = &req.vpdq {
        let frames = crate::fingerprint::vpdq::parse(text)
            .map_err(|e| ApiError::bad_request(format!("vPDQ list: {}", with_causes(&e))))?;
        for f in frames {
            queries.push(f.hash);
            times.push(Some(f.time_s));
        }
    }
    if queries.len() > MAX_LOOKUP_HASHES {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("more than {MAX_LOOKUP_HASHES} hashes in one lookup"),
        ));
    }
    let q = queries.clone();
    let hits = blocking(move || lookup(&state.bank(), &q, radius).map_err(bank_error)).await?;
    let results: Vec<Value> = queries
        .iter()
        .zip(times)
        .zip(hits)
        .map(|((h, t), hits)| json!({"pdq": h.to_hex(), "time_s": t, "hits": hits}))
        .collect();
    Ok(Json(json!({"results": results})).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PathScan {
    path: PathBuf,
}

/// `path` itself, resolved, if it lies under one of the service's scan roots.
fn under_scan_root(state: &AppState, path: &std::path::Path) -> Result<PathBuf, ApiError> {
    if state.config.scan_roots.is_empty() {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "this service was started without --scan-root: upload the files instead",
        ));
    }
    let real = path
        .canonicalize()
        .map_err(|e| ApiError::bad_request(format!("{}: {e}", path.display())))?;
    let allowed = state
        .config
        .scan_roots
        .iter()
        .filter_map(|r| r.canonicalize().ok())
        .any(|root| real.starts_with(root));
    if !allowed {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            format!(
                "{} is not under a --scan-root of this service",
                path.display()
            ),
        ));
    }
    // The path as given, not as resolved: reports name what the caller asked for.
    Ok(path.to_path_buf())
}

fn enqueue(state: &AppState, work: Work) -> Result<(), ApiError> {
    let queue = state.queue.lock().unwrap_or_else(|e| e.into_inner());
    // A closed queue hands the work back in its error; the caller needs only the refusal.
    if queue.as_ref().is_some_and(|q| q.send(work).is_ok()) {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "the service is stopping",
        ))
    }
}

async fn start_scan(State(state): Shared, headers: HeaderMap, req: Request) -> ApiResult {
    let caller = require(&state, &headers, Role::Scanner)?;
    let id = new_id();
    let (inputs, args) = if is_multipart(&headers) {
        let mp = multipart(&state, req).await?;
        let dir = state.config.uploads.join(&id);
        let saved =
            upload::save(mp, &dir, state.config.limits, &state.config.scan.archives).await?;
        let args = vec![
            "serve".into(),
            "POST /v1/scans".into(),
            format!("upload of {} file(s)", saved.files.len()),
        ];
        (vec![dir], args)
    } else {
        let body = axum::body::to_bytes(req.into_body(), state.config.limits.max_request_bytes)
            .await
            .map_err(|e| ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, e.to_string()))?;
        let scan: PathScan = parse_json(&body)?;
        let path = under_scan_root(&state, &scan.path)?;
        let args = vec![
            "serve".into(),
            "POST /v1/scans".into(),
            path.display().to_string(),
        ];
        (vec![path], args)
    };
    let by = format!("token:{}", caller.name);
    state.jobs.lock().unwrap_or_else(|e| e.into_inner()).insert(
        id.clone(),
        Job {
            state: JobState::Queued,
            progress: Arc::new(Counter::default()),
            by,
            run_id: None,
            error: None,
            report: None,
        },
    );
    enqueue(
        &state,
        Work::Scan {
            id: id.clone(),
            inputs,
            args,
        },
    )?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({"id": id, "state": "queued"})),
    )
        .into_response())
}

async fn scan_status(
    State(state): Shared,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult {
    require(&state, &headers, Role::Scanner)?;
    let jobs = state.jobs.lock().unwrap_or_else(|e| e.into_inner());
    let job = jobs
        .get(&id)
        .ok_or_else(|| ApiError::not_found(format!("no scan {id:?}")))?;
    Ok(Json(job.view(&id)).into_response())
}

#[derive(Deserialize)]
struct Page {
    offset: Option<usize>,
    limit: Option<usize>,
}

async fn list_assets(
    State(state): Shared,
    headers: HeaderMap,
    Query(page): Query<Page>,
) -> ApiResult {
    require(&state, &headers, Role::Scanner)?;
    let offset = page.offset.unwrap_or(0);
    let limit = page.limit.unwrap_or(1000).min(10_000);
    let out = blocking(move || {
        let all = state.bank().assets().map_err(bank_error)?;
        let total = all.len();
        let assets: Vec<Value> = all
            .into_iter()
            .skip(offset)
            .take(limit)
            .map(|a| {
                json!({"id": a.id.0, "kind": a.kind, "label": a.label, "source": a.source, "note": a.note,
                       "paths": a.paths, "digest": a.digest, "segments": a.segments, "indexed_at": a.indexed_at})
            })
            .collect();
        Ok(json!({"total": total, "offset": offset, "assets": assets}))
    })
    .await?;
    Ok(Json(out).into_response())
}

async fn add_assets(State(state): Shared, headers: HeaderMap, req: Request) -> ApiResult {
    let caller = require(&state, &headers, Role::Admin)?;
    let mp = multipart(&state, req).await?;
    // Banked media must stay where the bank's path records say it is: the upload
    // folder is kept, under a name of its own.
    let dir = state.config.uploads.join(format!("assets-{}", new_id()));
    let saved = upload::save(mp, &dir, state.config.limits, &state.config.index.archives).await?;
    let mut opts = state.config.index.clone();
    opts.by = Some(format!("token:{}", caller.name));
    if let Some(label) = saved.fields.get("label") {
        opts.label =
            serde_json::from_value::<Label>(Value::String(label.clone())).map_err(|_| {
                ApiError::bad_request(format!(
                    "unknown label {label:?} (leaked, suspicious, own, licensed, ignore)"
                ))
            })?;
    }
    opts.source = saved.fields.get("source").cloned();
    opts.note = saved.fields.get("note").cloned();
    let (tx, rx) = tokio::sync::oneshot::channel();
    enqueue(
        &state,
        Work::Index {
            inputs: saved.files.clone(),
            opts,
            reply: tx,
        },
    )?;
    let summary = rx.await.map_err(|_| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "the service stopped before the upload was banked",
        )
    })?;
    let errors: Vec<Value> = summary
        .errors
        .iter()
        .map(|(p, e)| json!({"path": p, "error": with_causes(e)}))
        .collect();
    let status = if summary.complete() {
        StatusCode::CREATED
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    Ok((
        status,
        Json(json!({
            "files": summary.files, "added": summary.added, "segments_added": summary.segments_added,
            "unchanged": summary.unchanged + summary.new_paths,
            "errors": errors,
            "skipped": summary.skipped.iter().map(|(p, w)| json!({"path": p, "what": w})).collect::<Vec<_>>(),
            "bank_error": summary.bank_error.as_ref().map(|e| with_causes(e)),
        })),
    )
        .into_response())
}

async fn delete_asset(State(state): Shared, headers: HeaderMap, Path(id): Path<u64>) -> ApiResult {
    require(&state, &headers, Role::Admin)?;
    let removed = blocking(move || {
        state
            .bank_mut()
            .remove_asset(AssetId(id))
            .map_err(bank_error)
    })
    .await?;
    if !removed {
        return Err(ApiError::not_found(format!("no asset {id}")));
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

fn audit_error(e: AuditError) -> ApiError {
    match e {
        AuditError::NoSuchRun(id) => ApiError::not_found(format!("no recorded run {id:?}")),
        e => ApiError::internal(with_causes(&e)),
    }
}

async fn list_runs(State(state): Shared, headers: HeaderMap) -> ApiResult {
    require(&state, &headers, Role::Scanner)?;
    let runs = blocking(move || audit::list_runs(&state.bank_dir).map_err(audit_error)).await?;
    Ok(Json(json!({"runs": runs})).into_response())
}

async fn show_run(State(state): Shared, headers: HeaderMap, Path(id): Path<String>) -> ApiResult {
    require(&state, &headers, Role::Scanner)?;
    let (run, decisions) = blocking(move || {
        let run = audit::load_run(&state.bank_dir, &id).map_err(audit_error)?;
        let decisions = state.bank().decisions().map_err(bank_error)?;
        Ok((run, decisions))
    })
    .await?;
    let decisions: Vec<_> = decisions
        .into_iter()
        .filter(|d| d.run_id == run.run_id)
        .collect();
    let mut out = serde_json::to_value(&run).expect("run record serialises");
    out["decisions"] = serde_json::to_value(decisions).expect("decisions serialise");
    Ok(Json(out).into_response())
}

async fn list_tokens(State(state): Shared, headers: HeaderMap) -> ApiResult {
    require(&state, &headers, Role::Admin)?;
    let tokens = state
        .tokens
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    let tokens: Vec<Value> = tokens
        .iter()
        .map(|t| json!({"name": t.name, "role": t.role, "created_at": t.created_at, "created_by": t.created_by, "revoked_at": t.revoked_at}))
        .collect();
    Ok(Json(json!({"tokens": tokens})).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewToken {
    name: String,
    role: Role,
}

fn token_error(e: TokenError) -> ApiError {
    match e {
        TokenError::NameTaken(_) => ApiError::new(StatusCode::CONFLICT, e.to_string()),
        TokenError::BadName(_) => ApiError::bad_request(e.to_string()),
        TokenError::NoSuchToken(_) => ApiError::not_found(e.to_string()),
        e => ApiError::internal(with_causes(&e)),
    }
}

/// Reads the tokens back after a change, so that a revoke holds from the next request.
fn reload_tokens(state: &AppState, bank: &Bank) -> Result<(), ApiError> {
    let tokens = bank.tokens().map_err(bank_error)?;
    *state.tokens.write().unwrap_or_else(|e| e.into_inner()) = tokens;
    Ok(())
}

async fn add_token(State(state): Shared, headers: HeaderMap, body: Bytes) -> ApiResult {
    let caller = require(&state, &headers, Role::Admin)?;
    let req: NewToken = parse_json(&body)?;
    let token = blocking(move || {
        let mut bank = state.bank_mut();
        let token = bank
            .add_token(&req.name, req.role, &format!("token:{}", caller.name))
            .map_err(token_error)?;
        reload_tokens(&state, &bank)?;
        Ok(token)
    })
    .await?;
    Ok((StatusCode::CREATED, Json(json!({"token": token}))).into_response())
}

async fn revoke_token(
    State(state): Shared,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> ApiResult {
    require(&state, &headers, Role::Admin)?;
    blocking(move || {
        let mut bank = state.bank_mut();
        bank.revoke_token(&name).map_err(token_error)?;
        reload_tokens(&state, &bank)
    })
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
