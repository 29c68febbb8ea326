//! Browser sessions without a browser: login, the cookie's attributes, a forged cookie,
//! a missing CSRF token (on a form and on the API), and the match page's video proxies.

use super::harness::{file_part, read, request, Body, Reply, Server};
use super::{fixture, Fixture};
use crate::common::{ffmpeg, s};

fn form(server: &Server, path: &str, cookie: Option<&str>, body: &str) -> Reply {
    let cookie = cookie.map(|c| format!("celprint_session={c}"));
    let headers: Vec<(&str, &str)> = cookie.iter().map(|c| ("Cookie", c.as_str())).collect();
    request(
        &server.addr,
        "POST",
        path,
        None,
        &headers,
        Body::Raw(
            "application/x-www-form-urlencoded",
            body.as_bytes().to_vec(),
        ),
    )
}

fn get(server: &Server, path: &str, cookie: &str) -> Reply {
    let cookie = format!("celprint_session={cookie}");
    request(
        &server.addr,
        "GET",
        path,
        None,
        &[("Cookie", &cookie)],
        Body::None,
    )
}

fn location(r: &Reply) -> String {
    r.headers
        .lines()
        .find_map(|l| l.strip_prefix("location: "))
        .unwrap_or_default()
        .to_string()
}

/// The session id a login's `Set-Cookie` gives.
fn cookie_of(r: &Reply) -> String {
    assert_eq!(r.status, 303, "{}", r.text());
    r.headers
        .split("celprint_session=")
        .nth(1)
        .and_then(|v| v.split(';').next())
        .expect("no session cookie")
        .to_string()
}

/// The CSRF token in a page's first form (the queue's is the logout form's).
fn csrf_of(page: &str) -> String {
    page.split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|v| v.split('"').next())
        .expect("no CSRF field")
        .to_string()
}

#[test]
fn sessions_need_a_live_token_and_every_change_a_csrf_token() {
    let Fixture {
        env,
        scanner,
        reviewer,
        admin,
        ..
    } = fixture();
    // A video match, for the proxies: the delivery is 4 s cut from the banked 8 s.
    let banked = env.path("clip.mp4");
    let delivered = env.path("cut.mp4");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=320x240:rate=25:duration=8",
        "-c:v",
        "libx264",
        "-pix_fmt",
        "yuv420p",
        s(&banked),
    ]);
    ffmpeg(&[
        "-ss",
        "2",
        "-i",
        s(&banked),
        "-t",
        "4",
        "-c:v",
        "libx264",
        "-pix_fmt",
        "yuv420p",
        s(&delivered),
    ]);
    let db = env.db();
    crate::common::expect_code(&env.run(&["index", "--db", s(&db), s(&banked)]), 0);
    let server = Server::start(&env, &[]);
    let r = server.request(
        "POST",
        "/v1/scans",
        Some(&scanner),
        Body::Multipart(vec![file_part("cut.mp4", read(&delivered))]),
    );
    let job = server.wait_scan(r.json()["id"].as_str().unwrap(), &scanner);
    assert_eq!(job["report"]["summary"]["matches"], 1, "{}", job["report"]);
    let run = job["run_id"].as_str().unwrap().to_string();

    // A wrong token gets no cookie; a right one gets an HttpOnly, SameSite=Strict one.
    let r = form(&server, "/review/login", None, "token=celp_nope");
    assert_eq!(r.status, 401);
    assert!(!r.headers.to_ascii_lowercase().contains("set-cookie"));
    let r = form(&server, "/review/login", None, &format!("token={reviewer}"));
    assert_eq!(r.status, 303);
    let set = r
        .headers
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("set-cookie:"))
        .unwrap()
        .to_string();
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Strict") && set.contains("Path=/"),
        "{set}"
    );
    let cookie = cookie_of(&r);

    // The queue and the match page, with the CSRF token in the form.
    let queue = get(&server, "/review", &cookie);
    assert_eq!(queue.status, 200);
    assert!(queue.text().contains("cut.mp4"));
    let page = get(&server, &format!("/review/runs/{run}/matches/0"), &cookie).text();
    let csrf = csrf_of(&page);
    assert!(
        page.contains("data:image/jpeg") && page.contains("/review/proxy/"),
        "no frames or clips"
    );

    // Both clips as small H.264 proxies, made once and cached.
    for side in ["query", "bank"] {
        let r = get(&server, &format!("/review/proxy/{run}/0/{side}"), &cookie);
        assert_eq!(r.status, 200, "{side}: {}", r.text());
        assert!(
            r.headers.contains("video/mp4") && &r.body[4..8] == b"ftyp",
            "{side}"
        );
    }
    assert_eq!(std::fs::read_dir(db.join("proxies")).unwrap().count(), 2);
    assert_eq!(
        get(&server, &format!("/review/proxy/{run}/0/other"), &cookie).status,
        404
    );

    // A forged cookie is no session: back to the login form, nothing decided.
    let path = format!("/review/runs/{run}/matches/0");
    let r = form(
        &server,
        &path,
        Some("0123456789abcdef"),
        &format!("csrf={csrf}&decision=dismiss&reason=x"),
    );
    assert_eq!((r.status, location(&r).as_str()), (303, "/review/login"));
    // ... and no session for the API either, with or without a CSRF header.
    for headers in [vec![], vec![("X-CSRF-Token", csrf.as_str())]] {
        let mut headers = headers;
        headers.push(("Cookie", "celprint_session=0123456789abcdef"));
        let r = request(&server.addr, "GET", "/v1/runs", None, &headers, Body::None);
        assert_eq!(r.status, 401, "{}", r.text());
    }
    // A form without the CSRF token, or with another: refused.
    assert_eq!(
        form(&server, &path, Some(&cookie), "decision=dismiss&reason=x").status,
        403
    );
    assert_eq!(
        form(
            &server,
            &path,
            Some(&cookie),
            "csrf=00&decision=dismiss&reason=x"
        )
        .status,
        403
    );
    // The API with the cookie alone: a read works, a change needs X-CSRF-Token.
    let c = format!("celprint_session={cookie}");
    assert_eq!(
        request(
            &server.addr,
            "GET",
            "/v1/runs",
            None,
            &[("Cookie", &c)],
            Body::None
        )
        .status,
        200
    );
    let decision =
        format!(r#"{{"run_id": "{run}", "match": 0, "decision": "confirm", "reason": "seen"}}"#);
    let r = request(
        &server.addr,
        "POST",
        "/v1/decisions",
        None,
        &[("Cookie", &c)],
        Body::Json(decision.clone().into_bytes()),
    );
    assert_eq!(r.status, 403, "{}", r.text());
    assert!(r.error().contains("CSRF"));
    let r = request(
        &server.addr,
        "GET",
        "/v1/decisions",
        Some(&scanner),
        &[],
        Body::None,
    );
    assert!(
        r.json()["decisions"].as_array().unwrap().is_empty(),
        "a refused call decided"
    );
    let r = request(
        &server.addr,
        "POST",
        "/v1/decisions",
        None,
        &[("Cookie", &c), ("X-CSRF-Token", &csrf)],
        Body::Json(decision.into_bytes()),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    // The form with its token works, and sends the reviewer back to the queue.
    let r = form(
        &server,
        &path,
        Some(&cookie),
        &format!("csrf={csrf}&decision=dismiss&reason=stock+shot"),
    );
    assert_eq!(
        (r.status, location(&r).as_str()),
        (303, "/review"),
        "{}",
        r.text()
    );

    // A scanner's session may look, with a valid CSRF token, but not decide.
    let r = form(&server, "/review/login", None, &format!("token={scanner}"));
    let looker = cookie_of(&r);
    let page = get(&server, &format!("/review/runs/{run}/matches/0"), &looker).text();
    assert!(
        !page.contains("id=\"dismiss\""),
        "a scanner is offered the decision"
    );
    let looker_csrf = csrf_of(&get(&server, "/review", &looker).text());
    let r = form(
        &server,
        &path,
        Some(&looker),
        &format!("csrf={looker_csrf}&decision=confirm&reason=x"),
    );
    assert_eq!(r.status, 403, "{}", r.text());
    // Logging out needs the CSRF token too, then ends the session.
    assert_eq!(
        form(&server, "/review/logout", Some(&looker), "").status,
        403
    );
    assert_eq!(get(&server, "/review", &looker).status, 200);
    let r = form(
        &server,
        "/review/logout",
        Some(&looker),
        &format!("csrf={looker_csrf}"),
    );
    assert_eq!(r.status, 303);
    assert!(r.headers.contains("Max-Age=0"), "{}", r.headers);
    assert_eq!(location(&get(&server, "/review", &looker)), "/review/login");

    // Revoking the token ends its sessions, for the pages and for the API.
    let r = server.request("DELETE", "/v1/tokens/alice", Some(&admin), Body::None);
    assert_eq!(r.status, 204);
    let r = get(&server, "/review", &cookie);
    assert_eq!((r.status, location(&r).as_str()), (303, "/review/login"));
    let r = request(
        &server.addr,
        "GET",
        "/v1/runs",
        None,
        &[("Cookie", &c)],
        Body::None,
    );
    assert_eq!(r.status, 401, "{}", r.text());
    // Nothing but the one dismissal (and the API's confirm) was decided.
    let r = server.get("/v1/decisions", Some(&scanner));
    assert_eq!(
        r.json()["decisions"].as_array().unwrap().len(),
        2,
        "{}",
        r.text()
    );
}
