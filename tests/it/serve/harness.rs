//! A `celprint serve` started as the built binary on a free loopback port, stopped by
//! SIGTERM when dropped, and a minimal HTTP/1.1 client (one request per connection),
//! so the tests need no HTTP client crate.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::{expect_code, s, stdout, TestEnv};

pub struct Server {
    child: Option<Child>,
    pub addr: String,
}

impl Server {
    /// Starts `celprint serve --db BANK --listen 127.0.0.1:0 EXTRA...` and waits for its
    /// "listening on" line.
    pub fn start(env: &TestEnv, extra: &[&str]) -> Server {
        let db = env.db();
        let mut child = Command::new(env!("CARGO_BIN_EXE_celprint"))
            .args([
                "serve",
                "--db",
                s(&db),
                "--listen",
                "127.0.0.1:0",
                "-j",
                "2",
            ])
            .args(extra)
            .env_remove("CELPRINT_DB")
            .current_dir(env.dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start celprint serve");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = line
            .trim()
            .strip_prefix("listening on http://")
            .unwrap_or_else(|| panic!("serve said {line:?}"))
            .to_string();
        Server {
            child: Some(child),
            addr,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    /// Sends SIGTERM and waits (up to 20 s) for the exit status.
    pub fn stop(&mut self) -> Option<i32> {
        let mut child = self.child.take()?;
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
        let until = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status.code();
            }
            if Instant::now() > until {
                let _ = child.kill();
                let _ = child.wait();
                panic!("celprint serve did not stop within 20 s of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn request(&self, method: &str, path: &str, token: Option<&str>, body: Body) -> Reply {
        request(&self.addr, method, path, token, &[], body)
    }

    pub fn get(&self, path: &str, token: Option<&str>) -> Reply {
        self.request("GET", path, token, Body::None)
    }

    pub fn post_json(&self, path: &str, token: Option<&str>, json: &str) -> Reply {
        self.request("POST", path, token, Body::Json(json.as_bytes().to_vec()))
    }

    /// Polls a scan until it is done or failed (60 s at most).
    pub fn wait_scan(&self, id: &str, token: &str) -> Value {
        let until = Instant::now() + Duration::from_secs(60);
        loop {
            let r = self.get(&format!("/v1/scans/{id}"), Some(token));
            assert_eq!(r.status, 200, "{}", r.text());
            let v = r.json();
            if v["state"] == "done" || v["state"] == "failed" {
                return v;
            }
            assert!(Instant::now() < until, "scan {id} still {}", v["state"]);
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

pub enum Body {
    None,
    Json(Vec<u8>),
    /// Parts: (field name, file name if a file, bytes).
    Multipart(Vec<(String, Option<String>, Vec<u8>)>),
    /// Any bytes with a content type.
    Raw(&'static str, Vec<u8>),
}

pub fn file_part(name: &str, bytes: Vec<u8>) -> (String, Option<String>, Vec<u8>) {
    ("file".into(), Some(name.into()), bytes)
}

pub fn text_part(field: &str, value: &str) -> (String, Option<String>, Vec<u8>) {
    (field.into(), None, value.as_bytes().to_vec())
}

#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: String,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {} {}", self.status, self.text()))
    }
    /// The `{"error"}` message of a 4xx or 5xx.
    pub fn error(&self) -> String {
        self.json()["error"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
}

const BOUNDARY: &str = "celprint-test-boundary-7f3a";

/// One request on its own connection. The body is written from another thread while
/// the reply is read, so that a server refusing an oversized body early is heard.
pub fn request(
    addr: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    extra_headers: &[(&str, &str)],
    body: Body,
) -> Reply {
    let (content_type, bytes) = match body {
        Body::None => (None, Vec::new()),
        Body::Json(b) => (Some("application/json".to_string()), b),
        Body::Raw(t, b) => (Some(t.to_string()), b),
        Body::Multipart(parts) => {
            let mut b = Vec::new();
            for (field, file, bytes) in parts {
                write!(
                    b,
                    "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{field}\""
                )
                .unwrap();
                if let Some(f) = file {
                    write!(
                        b,
                        "; filename=\"{f}\"\r\nContent-Type: application/octet-stream"
                    )
                    .unwrap();
                }
                b.extend_from_slice(b"\r\n\r\n");
                b.extend_from_slice(&bytes);
                b.extend_from_slice(b"\r\n");
            }
            write!(b, "--{BOUNDARY}--\r\n").unwrap();
            (Some(format!("multipart/form-data; boundary={BOUNDARY}")), b)
        }
    };
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if let Some(t) = token {
        head.push_str(&format!("Authorization: Bearer {t}\r\n"));
    }
    for (k, v) in extra_headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    if let Some(ct) = content_type {
        head.push_str(&format!("Content-Type: {ct}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", bytes.len()));
    let mut stream = TcpStream::connect(addr).expect("connect to celprint serve");
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let mut writer = stream.try_clone().unwrap();
    let sender = std::thread::spawn(move || {
        let _ = writer.write_all(head.as_bytes());
        let _ = writer.write_all(&bytes);
    });
    let mut raw = Vec::new();
    let mut buf = [0u8; 65536];
    loop {
        // chromedriver keeps the connection open whatever the request says: stop at the
        // end of a body whose length was given.
        if reply_complete(&raw) {
            break;
        }
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
            // A reset after the reply (a refused body): keep what came.
            Err(_) if !raw.is_empty() => break,
            Err(e) => panic!("{method} {path}: {e}"),
        }
    }
    let _ = sender.join();
    parse_reply(&raw)
}

fn reply_complete(raw: &[u8]) -> bool {
    let Some(split) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
        return false;
    };
    let head = String::from_utf8_lossy(&raw[..split]).to_ascii_lowercase();
    head.lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|n| n.trim().parse::<usize>().ok())
        .is_some_and(|n| raw.len() >= split + 4 + n)
}

fn parse_reply(raw: &[u8]) -> Reply {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no HTTP reply: {:?}", String::from_utf8_lossy(raw)));
    let headers = String::from_utf8_lossy(&raw[..split]).into_owned();
    let status = headers
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status code");
    let mut body = raw[split + 4..].to_vec();
    if headers
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        body = dechunk(&body);
    }
    Reply {
        status,
        headers,
        body,
    }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = data.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(std::str::from_utf8(&data[..eol]).unwrap().trim(), 16)
            .unwrap_or(0);
        if size == 0 {
            break;
        }
        out.extend_from_slice(&data[eol + 2..eol + 2 + size]);
        data = &data[eol + 2 + size + 2..];
    }
    out
}

/// `celprint token add`: the token, which must be stdout's one line.
pub fn add_token(env: &TestEnv, name: &str, role: &str) -> String {
    let db = env.db();
    let o = env.run(&[
        "token",
        "add",
        "--db",
        s(&db),
        "--name",
        name,
        "--role",
        role,
    ]);
    expect_code(&o, 0);
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 1, "token add printed {out:?}");
    lines[0].to_string()
}

pub fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap()
}
