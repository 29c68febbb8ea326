//! The review pages: server-rendered HTML, no build step; script only to scan from the
//! queue page.
//!
//! A reviewer logs in with a token (which opens a session cookie), sees the queue of
//! recorded runs with undecided matches, opens a match (the HTML report's side-by-side
//! frames with timecodes and outlined panels and insets, and for video small H.264
//! proxies of both clips at the matched range), and confirms or dismisses it with a
//! reason. Every form carries the session's CSRF token. The queue page also takes a
//! delivery to scan, through the API.

use std::collections::HashMap;
use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;

use axum::extract::{Form, Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;

use super::api::{blocking, with_causes};
use super::auth::{
    close_session, constant_eq, open_session, require, session_of, ApiError, Session,
};
use super::review::{record, DecisionRequest};
use super::AppState;
use crate::audit::{self, RunRecord};
use crate::bank::{find_token, DecisionKind, Role};
use crate::model::Label;
use crate::render::html::{esc, timecode, write_html};

type Shared = State<Arc<AppState>>;

pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/review", get(queue))
        .route("/review/login", get(login_form).post(login))
        .route("/review/logout", post(logout))
        .route(
            "/review/runs/{run}/matches/{n}",
            get(match_page).post(decide),
        )
        .route("/review/proxy/{run}/{n}/{side}", get(proxy))
}

const STYLE: &str = "body{font-family:sans-serif;margin:1.5em;max-width:80em}table{border-collapse:collapse}\
td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left}form.decide{border:2px solid #446;padding:1em;margin:1em 0}\
video{max-width:100%;background:#000}.clips{display:flex;gap:1em}.clips figure{flex:1;margin:0}";

fn page(title: &str, body: &str) -> Response {
    Html(format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>{} · celprint review</title><style>{STYLE}</style></head><body>\n{body}\n</body></html>\n",
        esc(title)
    ))
    .into_response()
}

fn login_page(status: StatusCode, message: &str) -> Response {
    let body = format!(
        "<h1>celprint review</h1><p>{}</p><form method=\"post\" action=\"/review/login\">\
         <label>Token <input type=\"password\" name=\"token\" id=\"token\" autocomplete=\"off\" required></label> \
         <button type=\"submit\" id=\"login\">Log in</button></form>",
        esc(message)
    );
    (status, page("Log in", &body)).into_response()
}

/// The session of a page request, or the way to the login form.
fn session(state: &AppState, headers: &HeaderMap) -> Result<Session, Response> {
    match (
        session_of(state, headers),
        require(state, headers, Role::Scanner),
    ) {
        (Some(s), Ok(_)) => Ok(s),
        _ => Err(Redirect::to("/review/login").into_response()),
    }
}

async fn login_form() -> Response {
    login_page(
        StatusCode::OK,
        "Log in with a token (`celprint token add --role reviewer`).",
    )
}

async fn login(State(state): Shared, Form(form): Form<HashMap<String, String>>) -> Response {
    let token = form.get("token").map(|t| t.trim()).unwrap_or_default();
    let name = {
        let tokens = state.tokens.read().unwrap_or_else(|e| e.into_inner());
        find_token(&tokens, token).map(|t| t.name.clone())
    };
    let Some(name) = name else {
        return login_page(StatusCode::UNAUTHORIZED, "Unknown or revoked token.");
    };
    match open_session(&state, &name) {
        Ok((_, cookie)) => {
            ([(header::SET_COOKIE, cookie)], Redirect::to("/review")).into_response()
        }
        Err(e) => e.into_response(),
    }
}

fn csrf_ok(session: &Session, form: &HashMap<String, String>) -> bool {
    form.get("csrf")
        .is_some_and(|t| constant_eq(t, &session.csrf))
}

async fn logout(
    State(state): Shared,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let session = match session(&state, &headers) {
        Ok(s) => s,
        Err(r) => return r,
    };
    if !csrf_ok(&session, &form) {
        return (StatusCode::FORBIDDEN, "missing or wrong CSRF token").into_response();
    }
    close_session(&state, &headers);
    let expired = format!(
        "{}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0",
        super::auth::COOKIE
    );
    (
        [(header::SET_COOKIE, expired)],
        Redirect::to("/review/login"),
    )
        .into_response()
}

/// Each recorded run with matches, and the indices of those not yet decided.
fn undecided(state: &AppState) -> Result<Vec<(RunRecord, Vec<usize>)>, ApiError> {
    let runs =
        audit::list_runs(&state.bank_dir).map_err(|e| ApiError::internal(with_causes(&e)))?;
    let decisions = state
        .bank()
        .decisions()
        .map_err(|e| ApiError::internal(with_causes(&e)))?;
    let mut out = Vec::new();
    for summary in runs.iter().rev().filter(|r| r.matches > 0) {
        let run = audit::load_run(&state.bank_dir, &summary.run_id)
            .map_err(|e| ApiError::internal(with_causes(&e)))?;
        let open: Vec<usize> = (0..run.report.matches.len())
            .filter(|i| {
                !decisions
                    .iter()
                    .any(|d| d.run_id == run.run_id && d.match_index == *i)
            })
            .collect();
        if !open.is_empty() {
            out.push((run, open));
        }
    }
    Ok(out)
}

fn logout_form(session: &Session) -> String {
    format!(
        "<form method=\"post\" action=\"/review/logout\" style=\"float:right\"><input type=\"hidden\" name=\"csrf\" value=\"{}\"><button>Log out</button></form>",
        esc(&session.csrf)
    )
}

/// Scanning from the page: the files go to `POST /v1/scans` with the session's CSRF
/// token, and the page follows the job until it is done, then shows the queue again.
/// The one place the pages use script: a plain form cannot follow a job.
const SCAN_SCRIPT: &str = r#"<script>
document.getElementById('scan').addEventListener('submit', async (e) => {
  e.preventDefault();
  const form = e.target, say = (t) => { document.getElementById('scan-state').textContent = t; };
  say('uploading…');
  let r = await fetch('/v1/scans', {method: 'POST', headers: {'X-CSRF-Token': form.dataset.csrf}, body: new FormData(form)});
  const job = await r.json();
  if (!r.ok) { say('refused: ' + job.error); return; }
  for (;;) {
    await new Promise((ok) => setTimeout(ok, 500));
    r = await fetch('/v1/scans/' + job.id);
    const s = await r.json();
    if (!r.ok || s.state === 'failed') { say('failed: ' + (s.error || '')); return; }
    if (s.state === 'done') {
      const n = s.report.summary.matches;
      say('done: ' + n + ' match(es), run ' + s.run_id);
      if (n > 0) location.reload();
      return;
    }
    say(s.state + ': ' + s.progress.files_done + ' of ' + s.progress.files + ' files');
  }
});
</script>"#;

fn scan_form(session: &Session) -> String {
    format!(
        "<form id=\"scan\" data-csrf=\"{}\"><label>Scan a delivery <input type=\"file\" name=\"file\" id=\"files\" multiple required></label> \
         <button type=\"submit\" id=\"scan-go\">Scan</button> <span id=\"scan-state\"></span></form>{SCAN_SCRIPT}",
        esc(&session.csrf)
    )
}

async fn queue(State(state): Shared, headers: HeaderMap) -> Response {
    let session = match session(&state, &headers) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let s = state.clone();
    let runs = match blocking(move || undecided(&s)).await {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    let mut body = format!(
        "{}<h1>Matches to review</h1>{}",
        logout_form(&session),
        scan_form(&session)
    );
    if runs.is_empty() {
        body.push_str(
            "<p id=\"empty\">Nothing to review: every match of every recorded run is decided.</p>",
        );
    } else {
        body.push_str("<table id=\"queue\"><tr><th>run</th><th>scanned</th><th>by</th><th>delivered</th><th>banked</th><th>label</th></tr>");
        for (run, open) in &runs {
            for &i in open {
                let m = &run.report.matches[i];
                body.push_str(&format!(
                    "<tr class=\"match\"><td>{}</td><td>{}</td><td>{}</td><td><a href=\"/review/runs/{}/matches/{i}\">{}</a></td><td>{}</td><td>{}</td></tr>",
                    esc(&run.run_id),
                    esc(&run.report.started_at),
                    esc(&run.custody.as_ref().map(|c| c.user.clone()).unwrap_or_default()),
                    esc(&run.run_id),
                    esc(&m.query.path),
                    esc(&m.bank_asset.path),
                    m.bank_asset.label,
                ));
            }
        }
        body.push_str("</table>");
    }
    page("Queue", &body)
}

fn load_match(state: &AppState, run: &str, n: usize) -> Result<RunRecord, ApiError> {
    let record = audit::load_run(&state.bank_dir, run).map_err(|e| match e {
        audit::AuditError::NoSuchRun(id) => ApiError::not_found(format!("no recorded run {id:?}")),
        e => ApiError::internal(with_causes(&e)),
    })?;
    if n >= record.report.matches.len() {
        return Err(ApiError::not_found(format!("run {run} has no match {n}")));
    }
    Ok(record)
}

fn span(start: Option<f64>, end: Option<f64>, fps: Option<f64>) -> String {
    match (start, end) {
        (Some(a), Some(b)) => format!("{} – {}", timecode(a, fps), timecode(b, fps)),
        _ => String::new(),
    }
}

async fn match_page(
    State(state): Shared,
    headers: HeaderMap,
    Path((run, n)): Path<(String, usize)>,
) -> Response {
    let session = match session(&state, &headers) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let may_decide = require(&state, &headers, Role::Reviewer).is_ok();
    let s = state.clone();
    let (record, report_html, decided) = match blocking(move || {
        let record = load_match(&s, &run, n)?;
        // The HTML report of this one match: both frames side by side with timecodes,
        // panels and insets outlined, from files whose digests still match.
        let mut one = record.report.clone();
        one.matches = vec![record.report.matches[n].clone()];
        one.dismissed.clear();
        let evidence = crate::engine::gather_evidence(&one, &s.bank(), s.config.scan.limits);
        let mut html = Vec::new();
        write_html(&one, &evidence, &mut html).map_err(|e| ApiError::internal(e.to_string()))?;
        let decided = s
            .bank()
            .decisions()
            .map_err(|e| ApiError::internal(with_causes(&e)))?
            .into_iter()
            .filter(|d| d.run_id == run && d.match_index == n)
            .collect::<Vec<_>>();
        Ok((record, String::from_utf8_lossy(&html).into_owned(), decided))
    })
    .await
    {
        Ok(x) => x,
        Err(e) => return e.into_response(),
    };
    let m = &record.report.matches[n];
    let run = &record.run_id;
    let mut top = format!(
        "<nav style=\"margin:1em\"><a href=\"/review\" id=\"back\">← queue</a> · run {} · match {n}</nav>",
        esc(run)
    );
    if m.query.start_s.is_some() || m.bank_asset.start_s.is_some() {
        top.push_str("<div class=\"clips\" style=\"margin:1em\">");
        for (side, label, s, e, fps) in [
            (
                "query",
                "delivered",
                m.query.start_s,
                m.query.end_s,
                m.query.frame_rate,
            ),
            (
                "bank",
                "banked",
                m.bank_asset.start_s,
                m.bank_asset.end_s,
                m.bank_asset.frame_rate,
            ),
        ] {
            if s.is_none() {
                continue;
            }
            top.push_str(&format!(
                "<figure><video controls preload=\"none\" src=\"/review/proxy/{}/{n}/{side}\"></video><figcaption>{label}, matched {}</figcaption></figure>",
                esc(run),
                span(s, e, fps)
            ));
        }
        top.push_str("</div>");
    }
    for d in &decided {
        top.push_str(&format!(
            "<p class=\"decided\">Decision {}: {} by {} at {}: {}</p>",
            d.id,
            if d.decision == DecisionKind::Dismiss {
                "dismissed"
            } else {
                "confirmed"
            },
            esc(&d.by),
            esc(&d.at),
            esc(&d.reason)
        ));
    }
    if may_decide {
        top.push_str(&format!(
            "<form class=\"decide\" method=\"post\" action=\"/review/runs/{}/matches/{n}\">\
             <input type=\"hidden\" name=\"csrf\" value=\"{}\">\
             <label>Reason <input name=\"reason\" id=\"reason\" size=\"60\" required></label><br>\
             <label><input type=\"checkbox\" name=\"relabel\" value=\"licensed\"> treat the banked asset as licensed</label><br>\
             <button name=\"decision\" value=\"confirm\" id=\"confirm\">Confirm</button> \
             <button name=\"decision\" value=\"dismiss\" id=\"dismiss\">Dismiss</button></form>",
            esc(run),
            esc(&session.csrf)
        ));
    } else {
        top.push_str("<p>Your token's role may look but not decide.</p>");
    }
    // Into the report page, right after its <body>.
    let at = report_html
        .find("<body")
        .and_then(|i| report_html[i..].find('>').map(|j| i + j + 1))
        .unwrap_or(0);
    let mut html = report_html;
    html.insert_str(at, &top);
    Html(html).into_response()
}

async fn decide(
    State(state): Shared,
    headers: HeaderMap,
    Path((run, n)): Path<(String, usize)>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let session = match session(&state, &headers) {
        Ok(s) => s,
        Err(r) => return r,
    };
    if !csrf_ok(&session, &form) {
        return (StatusCode::FORBIDDEN, "missing or wrong CSRF token").into_response();
    }
    let caller = match require(&state, &headers, Role::Reviewer) {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    let decision = match form.get("decision").map(String::as_str) {
        Some("confirm") => DecisionKind::Confirm,
        Some("dismiss") => DecisionKind::Dismiss,
        _ => return ApiError::bad_request("decision must be confirm or dismiss").into_response(),
    };
    let req = DecisionRequest {
        run_id: run,
        index: n,
        decision,
        reason: form.get("reason").cloned().unwrap_or_default(),
        relabel: (form.get("relabel").map(String::as_str) == Some("licensed"))
            .then_some(Label::Licensed),
    };
    let by = format!("token:{}", caller.name);
    match blocking(move || record(&state, &by, req)).await {
        Ok(_) => Redirect::to("/review").into_response(),
        Err(e) => e.into_response(),
    }
}

/// The file a side of a match was found in, if its bytes are still those the scan or
/// the bank recorded (a replaced file must not be shown as evidence).
fn verified(path: &str, digest: Option<&str>) -> Option<PathBuf> {
    // Archive entries (`a.zip!/x.mp4`) are not kept unpacked.
    if path.contains("!/") {
        return None;
    }
    let p = PathBuf::from(path);
    let file = std::fs::File::open(&p).ok()?;
    let mut hasher = blake3::Hasher::new();
    hasher.update_reader(file).ok()?;
    (Some(hasher.finalize().to_hex().as_str()) == digest).then_some(p)
}

/// A small H.264 proxy of `src` from `start` for `len` seconds, made once by FFmpeg and
/// cached by source, digest and range.
fn make_proxy(
    cache: &FsPath,
    src: &FsPath,
    digest: &str,
    start: f64,
    len: f64,
) -> Result<PathBuf, String> {
    std::fs::create_dir_all(cache).map_err(|e| format!("proxy cache {}: {e}", cache.display()))?;
    let name = blake3::hash(format!("{digest}:{start:.3}:{len:.3}").as_bytes()).to_hex();
    let out = cache.join(format!("{}.mp4", &name[..32]));
    if out.is_file() {
        return Ok(out);
    }
    let tmp = cache.join(format!(".{}.{}.mp4", &name[..32], std::process::id()));
    let status = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-ss", &format!("{start:.3}"), "-i"])
        .arg(src)
        .args([
            "-t",
            &format!("{len:.3}"),
            "-vf",
            "scale=-2:360",
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "-crf",
            "30",
        ])
        .args([
            "-pix_fmt",
            "yuv420p",
            "-an",
            "-movflags",
            "+faststart",
            "-f",
            "mp4",
        ])
        .arg(&tmp)
        .stdin(std::process::Stdio::null())
        .status()
        .map_err(|e| format!("cannot run ffmpeg: {e}"))?;
    if !status.success() {
        let _ = std::fs::remove_file(&tmp);
        return Err(format!("ffmpeg could not make the proxy ({status})"));
    }
    std::fs::rename(&tmp, &out).map_err(|e| e.to_string())?;
    Ok(out)
}

async fn proxy(
    State(state): Shared,
    headers: HeaderMap,
    Path((run, n, side)): Path<(String, usize, String)>,
) -> Response {
    if let Err(r) = session(&state, &headers) {
        if require(&state, &headers, Role::Scanner).is_err() {
            return r;
        }
    }
    let s = state.clone();
    let made = blocking(move || {
        let record = load_match(&s, &run, n)?;
        let m = &record.report.matches[n];
        let (path, digest, start, end) = match side.as_str() {
            "query" => {
                let digest =
                    crate::report::query_digest(m, &record.report.scanned).map(str::to_string);
                (m.query.path.clone(), digest, m.query.start_s, m.query.end_s)
            }
            "bank" => (
                m.bank_asset.path.clone(),
                Some(m.bank_asset.digest.clone()),
                m.bank_asset.start_s,
                m.bank_asset.end_s,
            ),
            _ => return Err(ApiError::not_found("side is query or bank")),
        };
        let (Some(start), Some(end)) = (start, end) else {
            return Err(ApiError::not_found(
                "this side of the match is a still: no clip",
            ));
        };
        let digest = digest
            .ok_or_else(|| ApiError::not_found("the run recorded no digest for this file"))?;
        let src = verified(&path, Some(&digest)).ok_or_else(|| {
            ApiError::not_found(format!("{path} is gone or changed since the scan"))
        })?;
        // A second of context either side of the matched range.
        let from = (start - 1.0).max(0.0);
        make_proxy(
            &s.bank_dir.join("proxies"),
            &src,
            &digest,
            from,
            end - from + 1.0,
        )
        .map_err(ApiError::internal)
    })
    .await;
    match made {
        Ok(path) => match std::fs::read(&path) {
            Ok(bytes) => ([(header::CONTENT_TYPE, "video/mp4")], bytes).into_response(),
            Err(e) => ApiError::internal(e.to_string()).into_response(),
        },
        Err(e) => e.into_response(),
    }
}
