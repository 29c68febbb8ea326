//! `celprint serve` over loopback: the authentication matrix, uploads, jobs, lookups,
//! bad input, the bank's lock, and a clean stop on SIGTERM. The service runs as the
//! built binary on a port of its own choosing (`--listen 127.0.0.1:0`).

mod browser;
mod decisions;
mod harness;
mod session;

use std::io::Write;

use harness::{add_token, file_part, read, text_part, Body, Server};

use crate::common::{expect_code, picture, s, stderr, stdout, TestEnv};

/// A bank holding one picture (seed 1), tokens of each role and one revoked.
struct Fixture {
    pub env: TestEnv,
    pub scanner: String,
    pub reviewer: String,
    pub admin: String,
    pub revoked: String,
}

fn fixture() -> Fixture {
    let env = TestEnv::new();
    let admin = add_token(&env, "boss", "admin");
    let scanner = add_token(&env, "intake", "scanner");
    let reviewer = add_token(&env, "alice", "reviewer");
    let revoked = add_token(&env, "gone", "admin");
    let db = env.db();
    expect_code(
        &env.run(&["token", "revoke", "--db", s(&db), "--name", "gone"]),
        0,
    );
    let banked = env.path("banked/a.png");
    picture(&banked, 1);
    expect_code(&env.run(&["index", "--db", s(&db), s(&banked)]), 0);
    Fixture {
        env,
        scanner,
        reviewer,
        admin,
        revoked,
    }
}

#[test]
fn tokens_are_printed_once_and_only_their_hash_is_kept() {
    let f = fixture();
    assert!(
        f.admin.starts_with("celp_") && f.admin.len() == 5 + 64,
        "{}",
        f.admin
    );
    let db = f.env.db();
    let o = f.env.run(&["token", "list", "--db", s(&db), "--json"]);
    expect_code(&o, 0);
    let list: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["alice", "boss", "gone", "intake"]);
    assert!(list[2]["revoked_at"].is_string() && list[1]["revoked_at"].is_null());
    // Neither the listing nor any file of the bank holds a token itself.
    for token in [&f.admin, &f.scanner, &f.revoked] {
        assert!(!stdout(&o).contains(token.as_str()));
        let secret = &token.as_bytes()[5..];
        for entry in walkdir::WalkDir::new(&db) {
            let entry = entry.unwrap();
            if entry.file_type().is_file() {
                let bytes = read(entry.path());
                assert!(
                    !bytes.windows(secret.len()).any(|w| w == secret),
                    "{}",
                    entry.path().display()
                );
            }
        }
    }
    // A name is never reused.
    let o = f.env.run(&[
        "token",
        "add",
        "--db",
        s(&db),
        "--name",
        "gone",
        "--role",
        "scanner",
    ]);
    expect_code(&o, 2);
    assert!(stderr(&o).contains("exists"), "{}", stderr(&o));
}

#[test]
fn every_route_answers_401_or_403_by_token_and_role() {
    let f = fixture();
    let server = Server::start(&f.env, &[]);
    let pdq = "0".repeat(64);
    // (method, path, body, the least role that may call it; None: no token needed)
    let routes: Vec<(&str, String, Option<&str>, Option<usize>)> = vec![
        ("GET", "/v1/status".into(), None, None),
        ("GET", "/v1/openapi.json".into(), None, None),
        ("GET", format!("/v1/lookup?pdq={pdq}"), None, Some(0)),
        (
            "POST",
            "/v1/lookup".into(),
            Some(r#"{"hashes": []}"#),
            Some(0),
        ),
        ("GET", "/v1/assets".into(), None, Some(0)),
        ("GET", "/v1/runs".into(), None, Some(0)),
        ("GET", "/v1/scans/nosuchjob".into(), None, Some(0)),
        ("GET", "/v1/tokens".into(), None, Some(2)),
        ("DELETE", "/v1/assets/999".into(), None, Some(2)),
        ("DELETE", "/v1/tokens/nobody".into(), None, Some(2)),
    ];
    let callers: [(&str, Option<&str>, Option<usize>); 6] = [
        ("no token", None, None),
        ("unknown token", Some("celp_0000"), None),
        ("revoked token", Some(&f.revoked), None),
        ("scanner", Some(&f.scanner), Some(0)),
        ("reviewer", Some(&f.reviewer), Some(1)),
        ("admin", Some(&f.admin), Some(2)),
    ];
    for (method, path, body, need) in &routes {
        for (who, token, rank) in &callers {
            let body = body.map_or(Body::None, |b| Body::Json(b.as_bytes().to_vec()));
            let r = server.request(method, path, *token, body);
            let expected: &[u16] = match (need, rank) {
                (None, _) => &[200],
                (Some(_), None) => &[401],
                (Some(n), Some(r)) if r < n => &[403],
                // Allowed: what the call itself says (the job and asset do not exist).
                (Some(_), Some(_)) => &[200, 404],
            };
            assert!(
                expected.contains(&r.status),
                "{method} {path} as {who}: {} {}",
                r.status,
                r.text()
            );
            if r.status == 401 {
                assert!(
                    r.headers.contains("www-authenticate: Bearer"),
                    "{}",
                    r.headers
                );
            }
        }
    }
    // The OpenAPI document names every route.
    let doc = server.get("/v1/openapi.json", None).json();
    for p in [
        "/v1/hash",
        "/v1/lookup",
        "/v1/scans",
        "/v1/scans/{id}",
        "/v1/assets",
        "/v1/assets/{id}",
        "/v1/runs/{id}",
        "/v1/status",
    ] {
        assert!(doc["paths"][p].is_object(), "{p} missing from openapi.json");
    }
    // Revoked through the API, a token fails from the next request on.
    let r = server.request("DELETE", "/v1/tokens/intake", Some(&f.admin), Body::None);
    assert_eq!(r.status, 204, "{}", r.text());
    assert_eq!(server.get("/v1/assets", Some(&f.scanner)).status, 401);
    // Made through the API, it works at once and is shown once.
    let r = server.post_json(
        "/v1/tokens",
        Some(&f.admin),
        r#"{"name": "farm", "role": "scanner"}"#,
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let farm = r.json()["token"].as_str().unwrap().to_string();
    assert_eq!(server.get("/v1/assets", Some(&farm)).status, 200);
}

#[test]
fn an_uploaded_file_is_hashed_looked_up_and_scanned_and_the_scan_is_recorded() {
    let f = fixture();
    let server = Server::start(&f.env, &[]);
    let png = read(&f.env.path("banked/a.png"));
    // Hash: the banked picture's hash, found at distance 0.
    let r = server.request(
        "POST",
        "/v1/hash",
        Some(&f.scanner),
        Body::Multipart(vec![file_part("a.png", png.clone())]),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let hashed = r.json();
    assert_eq!(hashed["kind"], "still");
    let pdq = hashed["segments"][0]["pdq"].as_str().unwrap().to_string();
    let hits = server
        .get(&format!("/v1/lookup?pdq={pdq}&radius=10"), Some(&f.scanner))
        .json();
    assert_eq!(hits["hits"][0]["asset"]["id"], 1, "{hits}");
    assert_eq!(hits["hits"][0]["distance"], 0);
    assert!(hits["hits"][0]["asset"]["path"]
        .as_str()
        .unwrap()
        .ends_with("a.png"));
    // The complement of the hash is 256 bits away: nothing within any radius allowed.
    let far: String = pdq
        .chars()
        .map(|c| format!("{:x}", 15 - c.to_digit(16).unwrap()))
        .collect();
    let many = server.post_json(
        "/v1/lookup",
        Some(&f.scanner),
        &format!(r#"{{"hashes": ["{pdq}", "{far}"], "radius": 31}}"#),
    );
    let many = many.json();
    assert_eq!(many["results"][0]["hits"].as_array().unwrap().len(), 1);
    assert_eq!(many["results"][1]["hits"].as_array().unwrap().len(), 0);

    // Scan an upload whose name tries to climb out of the upload folder, with a second
    // file that matches nothing.
    let other = f.env.path("other.png");
    picture(&other, 2);
    let parts = vec![
        file_part("../../escaped.png", png),
        file_part("b.png", read(&other)),
    ];
    let r = server.request(
        "POST",
        "/v1/scans",
        Some(&f.scanner),
        Body::Multipart(parts),
    );
    assert_eq!(r.status, 202, "{}", r.text());
    let id = r.json()["id"].as_str().unwrap().to_string();
    let job = server.wait_scan(&id, &f.scanner);
    assert_eq!(job["state"], "done", "{job}");
    let report = &job["report"];
    assert_eq!(report["summary"]["files"], 2);
    assert_eq!(report["summary"]["matches"], 1, "{report}");
    assert_eq!(report["summary"]["verdict"], "matches");
    let matched = report["matches"][0]["query"]["path"].as_str().unwrap();
    let uploads = f.env.db().join("uploads").join(&id);
    assert_eq!(matched, uploads.join("0001-escaped.png").to_str().unwrap());
    assert!(!f.env.db().join("escaped.png").exists() && !f.env.path("escaped.png").exists());
    assert_eq!(job["by"], "token:intake");

    // Recorded like a CLI scan, readable by the CLI while the service holds the bank.
    let run_id = job["run_id"].as_str().unwrap();
    assert_eq!(report["run_id"], run_id);
    let db = f.env.db();
    let o = f.env.run(&["history", "--db", s(&db), "--json"]);
    expect_code(&o, 0);
    assert!(stdout(&o).contains(run_id), "{}", stdout(&o));
    let run = server
        .get(&format!("/v1/runs/{run_id}"), Some(&f.scanner))
        .json();
    assert_eq!(run["exit_status"], 1);
    assert_eq!(run["custody"]["user"], "token:intake");
    assert_eq!(server.get("/v1/runs/nosuch", Some(&f.scanner)).status, 404);
}

#[test]
fn a_path_scan_is_refused_outside_the_scan_roots() {
    let f = fixture();
    let root = f.env.path("deliveries");
    picture(&root.join("d1/x.png"), 1);
    picture(&f.env.path("private/y.png"), 1);
    let server = Server::start(&f.env, &["--scan-root", s(&root)]);
    let scan = |path: &str| {
        server.post_json(
            "/v1/scans",
            Some(&f.scanner),
            &serde_json::json!({ "path": path }).to_string(),
        )
    };
    let r = scan(s(&root.join("d1")));
    assert_eq!(r.status, 202, "{}", r.text());
    let job = server.wait_scan(r.json()["id"].as_str().unwrap(), &f.scanner);
    assert_eq!(job["report"]["summary"]["matches"], 1, "{job}");
    for outside in [f.env.path("private"), root.join("../private"), f.env.db()] {
        let r = scan(s(&outside));
        assert_eq!(r.status, 403, "{}: {}", outside.display(), r.text());
        assert!(r.error().contains("--scan-root"), "{}", r.error());
    }
    // A symlink inside a root that points out of it is outside too.
    std::os::unix::fs::symlink(f.env.path("private"), root.join("link")).unwrap();
    assert_eq!(scan(s(&root.join("link"))).status, 403);
    drop(server);
    let server = Server::start(&f.env, &[]);
    let r = server.post_json(
        "/v1/scans",
        Some(&f.scanner),
        &serde_json::json!({ "path": s(&root) }).to_string(),
    );
    assert_eq!(r.status, 403, "{}", r.text());
}

#[test]
fn bad_input_gets_a_clear_4xx_and_nothing_is_kept() {
    let f = fixture();
    let server = Server::start(&f.env, &["--max-upload-mib", "1", "--max-files", "2"]);
    let t = Some(f.scanner.as_str());
    let uploads = f.env.db().join("uploads");
    let kept = || std::fs::read_dir(&uploads).map(|d| d.count()).unwrap_or(0);

    let r = server.request(
        "POST",
        "/v1/scans",
        t,
        Body::Multipart(vec![file_part("big.bin", vec![7u8; 3 << 20])]),
    );
    assert_eq!(r.status, 413, "{}", r.text());
    let r = server.request(
        "POST",
        "/v1/scans",
        t,
        Body::Multipart(
            (0..3)
                .map(|i| file_part(&format!("{i}.png"), vec![1u8; 10]))
                .collect(),
        ),
    );
    assert_eq!(r.status, 413, "{}", r.text());
    assert!(r.error().contains("more than 2 files"), "{}", r.error());

    // A zip bomb: 20 MB of zeros deflates to about 20 kB, a ratio far over 100:1.
    let bomb = f.env.path("bomb.zip");
    let mut zip = zip::ZipWriter::new(std::fs::File::create(&bomb).unwrap());
    zip.start_file("zeros.png", zip::write::SimpleFileOptions::default())
        .unwrap();
    zip.write_all(&vec![0u8; 20 << 20]).unwrap();
    zip.finish().unwrap();
    let r = server.request(
        "POST",
        "/v1/scans",
        t,
        Body::Multipart(vec![file_part("bomb.zip", read(&bomb))]),
    );
    assert_eq!(r.status, 413, "{}", r.text());
    assert!(r.error().contains("zip bomb"), "{}", r.error());
    assert_eq!(kept(), 0, "a refused upload left files behind");

    for body in [
        "{\"path\": ",
        "[1, 2]",
        "{\"path\": 7}",
        "{\"paths\": \"/tmp\"}",
    ] {
        let r = server.post_json("/v1/scans", t, body);
        assert_eq!(r.status, 400, "{body}: {} {}", r.status, r.text());
        assert!(r.error().contains("malformed JSON"), "{}", r.error());
    }
    let r = server.post_json("/v1/lookup", t, "{\"hashes\": [\"xyz\"]}");
    assert_eq!(r.status, 400);
    assert!(r.error().contains("not a PDQ hash"), "{}", r.error());
    let pdq = "0".repeat(64);
    assert_eq!(
        server
            .get(&format!("/v1/lookup?pdq={pdq}&radius=200"), t)
            .status,
        400
    );
    assert_eq!(server.get("/v1/lookup", t).status, 400);
    let r = server.request(
        "POST",
        "/v1/hash",
        t,
        Body::Raw("text/plain", b"hello".to_vec()),
    );
    assert_eq!(r.status, 400, "{}", r.text());
    let r = server.request(
        "POST",
        "/v1/hash",
        t,
        Body::Multipart(vec![text_part("note", "no file")]),
    );
    assert_eq!(r.status, 400, "{}", r.text());
    let r = server.request(
        "POST",
        "/v1/hash",
        t,
        Body::Multipart(vec![file_part("x.png", b"not a picture".to_vec())]),
    );
    assert_eq!(r.status, 422, "{}", r.text());
    // Still serving, and the bank untouched.
    let status = server.get("/v1/status", None).json();
    assert_eq!(status["bank"]["assets"], 1);
}

#[test]
fn index_on_a_served_bank_names_the_service_and_sigterm_closes_the_bank() {
    let f = fixture();
    let mut server = Server::start(&f.env, &[]);
    let db = f.env.db();
    let more = f.env.path("more.png");
    picture(&more, 3);
    let o = f.env.run(&["index", "--db", s(&db), s(&more)]);
    expect_code(&o, 2);
    let pid = server.pid();
    assert!(
        stderr(&o).contains(&format!("held by a running `celprint serve` (pid {pid}")),
        "{}",
        stderr(&o)
    );
    // An admin banks it through the API instead; a scanner may not.
    let parts = || {
        vec![
            file_part("more.png", read(&more)),
            text_part("label", "licensed"),
            text_part("source", "vendor X"),
        ]
    };
    let r = server.request(
        "POST",
        "/v1/assets",
        Some(&f.scanner),
        Body::Multipart(parts()),
    );
    assert_eq!(r.status, 403);
    let r = server.request(
        "POST",
        "/v1/assets",
        Some(&f.admin),
        Body::Multipart(parts()),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.json()["added"], 1);
    let assets = server.get("/v1/assets", Some(&f.scanner)).json();
    assert_eq!(assets["total"], 2);
    assert_eq!(assets["assets"][1]["label"], "licensed");
    assert_eq!(assets["assets"][1]["source"], "vendor X");
    let r = server.request(
        "POST",
        "/v1/assets",
        Some(&f.admin),
        Body::Multipart(vec![
            text_part("label", "nonsense"),
            file_part("m.png", read(&more)),
        ]),
    );
    assert_eq!(r.status, 400, "{}", r.text());

    assert_eq!(server.stop(), Some(0));
    assert!(!db.join("serve.json").exists());
    // Nothing banked is lost, and the bank is free again.
    let o = f.env.run(&["info", "--db", s(&db), "--json"]);
    expect_code(&o, 0);
    let info: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(info["stats"]["assets"], 2, "{info}");
    let o = f.env.run(&["index", "--db", s(&db), s(&more)]);
    expect_code(&o, 0);
}

/// A bank whose index file is gone (or stale, or of an older format) rebuilds its
/// tables at every open until the file is saved again. The service saves it as it
/// starts, so that scans beside it map the file.
#[test]
fn the_service_saves_a_missing_index_file_so_that_readers_map_it() {
    let f = fixture();
    let db = f.env.db();
    let origin = || {
        let o = f.env.run(&["info", "--db", s(&db), "--json"]);
        expect_code(&o, 0);
        let info: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
        info["stats"]["index_origin"].as_str().unwrap().to_string()
    };
    assert_eq!(origin(), "mapped from the index file");
    std::fs::remove_dir_all(db.join("search-index")).unwrap();
    assert!(origin().starts_with("rebuilt at open"), "{}", origin());
    let mut server = Server::start(&f.env, &[]);
    assert_eq!(
        origin(),
        "mapped from the index file",
        "a reader beside the service"
    );
    assert_eq!(server.stop(), Some(0));
    assert_eq!(origin(), "mapped from the index file");
}

#[test]
fn a_lookup_with_more_hits_than_the_worker_describes_itself_returns_them_all() {
    let f = fixture();
    // Twelve more files with the banked picture's pixels: bytes after the PNG's end
    // make each a different file, so each is its own asset with the same hash.
    let png = read(&f.env.path("banked/a.png"));
    let copies = f.env.path("copies");
    std::fs::create_dir_all(&copies).unwrap();
    for i in 0..12u8 {
        let mut bytes = png.clone();
        bytes.extend_from_slice(&[i; 16]);
        std::fs::write(copies.join(format!("copy{i:02}.png")), bytes).unwrap();
    }
    let db = f.env.db();
    expect_code(&f.env.run(&["index", "--db", s(&db), s(&copies)]), 0);
    let server = Server::start(&f.env, &[]);
    let r = server.request(
        "POST",
        "/v1/hash",
        Some(&f.scanner),
        Body::Multipart(vec![file_part("a.png", png)]),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let pdq = r.json()["segments"][0]["pdq"].as_str().unwrap().to_string();
    let hits = server
        .get(&format!("/v1/lookup?pdq={pdq}&radius=0"), Some(&f.scanner))
        .json();
    let hits = hits["hits"].as_array().unwrap();
    assert_eq!(hits.len(), 13, "{hits:?}");
    let mut ids: Vec<u64> = hits
        .iter()
        .map(|h| h["asset"]["id"].as_u64().unwrap())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 13, "each asset once");
    assert!(hits
        .iter()
        .all(|h| h["distance"] == 0 && h["asset"]["path"].is_string()));
}
