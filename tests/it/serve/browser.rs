//! The review page in a real headless Chromium (Debian's `chromium` and
//! `chromium-driver`, installed by scripts/setup.sh), driven over WebDriver.
//!
//! The WebDriver client is the few calls below, over the harness's HTTP client (WebDriver
//! is plain JSON over HTTP). Both client crates were checked against the build's
//! dependency rule: fantoccini, with or without its default features, turns on `syn`'s
//! `fold` and `visit` features, which rebuilds RocksDB's bindings; thirtyfour leaves
//! `syn` alone but adds 109 crates (an HTTP and TLS stack) to the lock file.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::harness::{file_part, read, request, Body, Server};
use super::{fixture, Fixture};

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// chromedriver on a free port, killed when dropped.
struct Driver {
    child: Child,
    addr: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Driver {
    fn start() -> Driver {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver (scripts/setup.sh installs chromium-driver)");
        let driver = Driver {
            child,
            addr: format!("127.0.0.1:{port}"),
        };
        let until = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(&driver.addr).is_err() {
            assert!(Instant::now() < until, "chromedriver did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        driver
    }

    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let body = body.map_or(Body::None, |b| Body::Json(b.to_string().into_bytes()));
        let r = request(&self.addr, method, path, None, &[], body);
        let v = r.json();
        assert_eq!(r.status, 200, "WebDriver {method} {path}: {v}");
        v["value"].clone()
    }
}

/// One browser session.
struct Browser<'a> {
    driver: &'a Driver,
    id: String,
}

impl Drop for Browser<'_> {
    fn drop(&mut self) {
        let _ = request(
            &self.driver.addr,
            "DELETE",
            &format!("/session/{}", self.id),
            None,
            &[],
            Body::None,
        );
    }
}

impl Browser<'_> {
    fn open<'a>(driver: &'a Driver, profile: &std::path::Path) -> Browser<'a> {
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=1400,1000",
        ];
        let mut args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        args.push(format!("--user-data-dir={}", profile.display()));
        let caps = json!({"capabilities": {"alwaysMatch": {"browserName": "chrome",
            "goog:chromeOptions": {"binary": "/usr/bin/chromium", "args": args}}}});
        let v = driver.call("POST", "/session", Some(caps));
        Browser {
            driver,
            id: v["sessionId"].as_str().expect("session id").to_string(),
        }
    }

    fn s(&self, rest: &str) -> String {
        format!("/session/{}{rest}", self.id)
    }

    fn go(&self, url: &str) {
        self.driver
            .call("POST", &self.s("/url"), Some(json!({ "url": url })));
    }

    fn url(&self) -> String {
        self.driver
            .call("GET", &self.s("/url"), None)
            .as_str()
            .unwrap()
            .to_string()
    }

    /// The page's address once it satisfies `ok`: a click on a form's button returns
    /// before the browser has followed the answer's redirect, at times.
    fn url_when(&self, ok: impl Fn(&str) -> bool) -> String {
        let until = Instant::now() + Duration::from_secs(10);
        loop {
            let url = self.url();
            if ok(&url) || Instant::now() > until {
                return url;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn source(&self) -> String {
        self.driver
            .call("GET", &self.s("/source"), None)
            .as_str()
            .unwrap()
            .to_string()
    }

    fn find(&self, css: &str) -> String {
        let v = self.driver.call(
            "POST",
            &self.s("/element"),
            Some(json!({"using": "css selector", "value": css})),
        );
        v[ELEMENT]
            .as_str()
            .unwrap_or_else(|| panic!("no element {css}"))
            .to_string()
    }

    fn click(&self, css: &str) {
        let e = self.find(css);
        self.driver.call(
            "POST",
            &self.s(&format!("/element/{e}/click")),
            Some(json!({})),
        );
    }

    fn type_into(&self, css: &str, text: &str) {
        let e = self.find(css);
        self.driver.call(
            "POST",
            &self.s(&format!("/element/{e}/value")),
            Some(json!({ "text": text })),
        );
    }

    fn screenshot(&self) -> Vec<u8> {
        let v = self.driver.call("GET", &self.s("/screenshot"), None);
        unbase64(v.as_str().unwrap())
    }
}

fn unbase64(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => panic!("not base64: {c}"),
    };
    let clean: Vec<u8> = text
        .bytes()
        .filter(|c| !c.is_ascii_whitespace() && *c != b'=')
        .collect();
    let mut out = Vec::with_capacity(clean.len() * 3 / 4);
    for chunk in clean.chunks(4) {
        let mut n = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            n |= u32::from(value(c)) << (18 - 6 * i);
        }
        let bytes = n.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    out
}

#[test]
fn a_reviewer_dismisses_a_match_in_the_browser_and_a_rescan_lists_it_as_dismissed() {
    let Fixture {
        env,
        scanner,
        reviewer,
        ..
    } = fixture();
    let server = Server::start(&env, &[]);
    let png = read(&env.path("banked/a.png"));
    let delivery = env.path("delivery.png");
    std::fs::write(&delivery, &png).unwrap();

    let driver = Driver::start();
    let browser = Browser::open(&driver, &env.path("chromium-profile"));
    let base = format!("http://{}", server.addr);
    // Not logged in: sent to the login form.
    browser.go(&format!("{base}/review"));
    assert!(
        browser.url().ends_with("/review/login"),
        "{}",
        browser.url()
    );
    browser.type_into("#token", &reviewer);
    browser.click("#login");
    let url = browser.url_when(|u| u.ends_with("/review"));
    assert!(url.ends_with("/review"), "{url}");
    assert!(
        browser.source().contains("id=\"empty\""),
        "nothing scanned yet"
    );

    // Scan from the page: the page uploads the file, follows the job, and shows the
    // queue again with the match.
    browser.type_into("#files", &delivery.display().to_string());
    browser.click("#scan-go");
    let until = Instant::now() + Duration::from_secs(60);
    while !browser.source().contains("delivery.png") {
        assert!(
            Instant::now() < until,
            "the scanned match never reached the queue: {}",
            browser.source()
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    browser.click("#queue tr.match a");
    let url = browser.url_when(|u| u.contains("/matches/0"));
    assert!(url.contains("/matches/0"), "{url}");
    let page = browser.source();
    assert!(
        page.contains("data:image/jpeg"),
        "no frames on the match page"
    );
    let shot = browser.screenshot();
    assert!(shot.starts_with(b"\x89PNG"), "screenshot is not a PNG");
    let saved = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("review-match.png");
    std::fs::write(&saved, &shot).unwrap();

    browser.type_into("#reason", "stock footage, licensed");
    browser.click("#dismiss");
    let url = browser.url_when(|u| u.ends_with("/review"));
    assert!(url.ends_with("/review"), "{url}");
    let queue = browser.source();
    assert!(
        queue.contains("id=\"empty\""),
        "the match is still in the queue"
    );

    // A rescan of the same bytes lists it under dismissed, with who and why.
    let r = server.request(
        "POST",
        "/v1/scans",
        Some(&scanner),
        Body::Multipart(vec![file_part("again.png", png)]),
    );
    let job = server.wait_scan(r.json()["id"].as_str().unwrap(), &scanner);
    let report = &job["report"];
    assert_eq!(report["summary"]["matches"], 0, "{report}");
    assert_eq!(report["dismissed"][0]["dismissed_by"], "token:alice");
    assert_eq!(report["dismissed"][0]["reason"], "stock footage, licensed");
}
