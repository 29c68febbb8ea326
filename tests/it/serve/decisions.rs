//! Review decisions: a dismissed match leaves later scans' `matches` (from the service
//! and from the command line) for their `dismissed` list and the exit status, and only
//! that match: other bytes, or a later confirmation, raise it again.

use super::harness::{file_part, read, Body, Server};
use super::{fixture, Fixture};
use crate::common::{expect_code, picture, s, stdout};

/// Scans `files` (name, bytes) through the API and returns the finished job.
fn scan(server: &Server, token: &str, files: Vec<(&str, Vec<u8>)>) -> serde_json::Value {
    let parts = files.into_iter().map(|(n, b)| file_part(n, b)).collect();
    let r = server.request("POST", "/v1/scans", Some(token), Body::Multipart(parts));
    assert_eq!(r.status, 202, "{}", r.text());
    let job = server.wait_scan(r.json()["id"].as_str().unwrap(), token);
    assert_eq!(job["state"], "done", "{job}");
    job
}

fn decide(
    server: &Server,
    token: &str,
    run: &str,
    index: usize,
    decision: &str,
    extra: &str,
) -> super::harness::Reply {
    let body = format!(
        r#"{{"run_id": "{run}", "match": {index}, "decision": "{decision}", "reason": "stock shot, licensed 2024"{extra}}}"#
    );
    server.post_json("/v1/decisions", Some(token), &body)
}

#[test]
fn a_dismissed_match_is_not_raised_again_by_the_service_or_the_cli() {
    let Fixture {
        env,
        scanner,
        reviewer,
        ..
    } = fixture();
    let server = Server::start(&env, &[]);
    let png = read(&env.path("banked/a.png"));
    let first = scan(&server, &scanner, vec![("delivery.png", png.clone())]);
    assert_eq!(first["report"]["summary"]["matches"], 1);
    let run = first["run_id"].as_str().unwrap().to_string();

    // Who may decide, and on what.
    assert_eq!(
        decide(&server, &scanner, &run, 0, "dismiss", "").status,
        403
    );
    assert_eq!(
        decide(&server, &reviewer, "20990101T000000Z-1", 0, "dismiss", "").status,
        404
    );
    assert_eq!(
        decide(&server, &reviewer, &run, 5, "dismiss", "").status,
        404
    );
    let r = server.post_json(
        "/v1/decisions",
        Some(&reviewer),
        &format!(r#"{{"run_id": "{run}", "match": 0, "decision": "dismiss", "reason": " "}}"#),
    );
    assert_eq!(r.status, 400, "{}", r.text());
    let r = server.post_json("/v1/decisions", Some(&reviewer), r#"{"run_id": 1"#);
    assert_eq!(r.status, 400);
    assert!(r.error().contains("malformed JSON"));
    assert_eq!(decide(&server, &reviewer, &run, 0, "shrug", "").status, 400);

    let r = decide(&server, &reviewer, &run, 0, "dismiss", "");
    assert_eq!(r.status, 201, "{}", r.text());

    // The same bytes under another name, from the service: dismissed, not a match.
    let again = scan(&server, &scanner, vec![("renamed.png", png.clone())]);
    let report = &again["report"];
    assert_eq!(report["summary"]["matches"], 0, "{report}");
    assert_eq!(report["summary"]["dismissed"], 1);
    assert_eq!(report["summary"]["verdict"], "clean");
    let d = &report["dismissed"][0];
    assert_eq!(d["dismissed_by"], "token:alice");
    assert_eq!(d["reason"], "stock shot, licensed 2024");
    assert_eq!(d["decided_in_run"], run.as_str());
    assert!(d["match"]["bank_asset"]["path"]
        .as_str()
        .unwrap()
        .ends_with("a.png"));

    // From the command line, while the service holds the bank: the same, exit 0.
    let copy = env.write("cli/copy.png", &png);
    let json = env.path("cli.json");
    let db = env.db();
    let o = env.run(&["scan", "--db", s(&db), "--json", s(&json), s(&copy)]);
    expect_code(&o, 0);
    assert!(stdout(&o).contains("DISMISSED"), "{}", stdout(&o));
    let cli: serde_json::Value = serde_json::from_slice(&read(&json)).unwrap();
    assert_eq!(cli["summary"]["dismissed"], 1);
    assert!(cli["matches"].as_array().unwrap().is_empty());

    // Other bytes of the same picture (a JPEG) were not reviewed: still raised.
    let jpeg = env.path("a.jpg");
    picture(&jpeg, 1);
    let other = scan(&server, &scanner, vec![("a.jpg", read(&jpeg))]);
    assert_eq!(
        other["report"]["summary"]["matches"], 1,
        "{}",
        other["report"]
    );

    // The audit trail shows the decision, by the API and by `celprint history`.
    let shown = server
        .get(&format!("/v1/runs/{run}"), Some(&scanner))
        .json();
    assert_eq!(shown["decisions"][0]["decision"], "dismiss");
    assert_eq!(shown["decisions"][0]["by"], "token:alice");
    let o = env.run(&["history", "--db", s(&db), &run]);
    expect_code(&o, 0);
    assert!(
        stdout(&o).contains("DISMISSED by token:alice"),
        "{}",
        stdout(&o)
    );

    // A later confirmation of the same match undoes the dismissal.
    assert_eq!(
        decide(&server, &reviewer, &run, 0, "confirm", "").status,
        201
    );
    let third = scan(&server, &scanner, vec![("third.png", png)]);
    assert_eq!(third["report"]["summary"]["matches"], 1);
    assert!(third["report"].get("dismissed").is_none());
}

#[test]
fn treat_as_licensed_relabels_the_banked_asset() {
    let Fixture {
        env,
        scanner,
        reviewer,
        ..
    } = fixture();
    let server = Server::start(&env, &[]);
    let png = read(&env.path("banked/a.png"));
    let job = scan(&server, &scanner, vec![("d.png", png)]);
    let run = job["run_id"].as_str().unwrap();
    let r = decide(
        &server,
        &reviewer,
        run,
        0,
        "dismiss",
        r#", "relabel": "leaked""#,
    );
    assert_eq!(r.status, 400, "{}", r.text());
    let r = decide(
        &server,
        &reviewer,
        run,
        0,
        "dismiss",
        r#", "relabel": "licensed""#,
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let assets = server.get("/v1/assets", Some(&scanner)).json();
    assert_eq!(assets["assets"][0]["label"], "licensed", "{assets}");
}
