//! Load generator for `scripts/eval bench serve`: CLIENTS keep-alive HTTP/1.1 connections
//! to a running `celprint serve`, each sending GETs for the paths in a file, one after
//! another, for RUN_SECONDS. Prints one line of figures (the request count, rate, latency
//! percentiles and errors) as `KEY=VALUE` pairs.
//!
//! Why not curl: one `curl --parallel` process spent about as much CPU per request as the
//! service did, so on a small machine the figures measured curl. This client is a blocking
//! thread per connection and a few syscalls per request.
//!
//! Two ways to load the service:
//! - closed loop (`RATE` unset): each client sends its next request when the last is
//!   answered, so CLIENTS requests are always in flight and the latency includes the
//!   queue the service builds (p50 ≈ CLIENTS / throughput, by Little's law);
//! - open loop (`RATE=R`, requests a second over all clients): requests are due on a
//!   fixed schedule, and each latency is counted from when the request was due, not when
//!   it was sent, so a slow answer that delays the next request is charged to it
//!   (no coordinated omission).
//!
//! Environment: ADDR (host:port), TOKEN, PATHS (a file of request paths, one a line),
//! CLIENTS (default 50), RUN_SECONDS (default 10), RATE (open loop), LABEL (default lookups).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn env_num<T: std::str::FromStr>(name: &str, default: T) -> T {
    env(name).and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// What one client saw: each request's latency in microseconds, and the failures.
#[derive(Default)]
struct Seen {
    micros: Vec<u32>,
    errors: u64,
}

struct Connection {
    addr: String,
    reader: Option<BufReader<TcpStream>>,
}

impl Connection {
    /// Sends one GET and reads the whole answer; the status, or an error after which the
    /// connection is dropped and opened again on the next request.
    fn get(&mut self, request: &[u8]) -> std::io::Result<u16> {
        if self.reader.is_none() {
            let stream = TcpStream::connect(&self.addr)?;
            stream.set_nodelay(true)?;
            self.reader = Some(BufReader::new(stream));
        }
        let result = Self::exchange(self.reader.as_mut().expect("connected"), request);
        if result.is_err() {
            self.reader = None;
        }
        result
    }

    fn exchange(reader: &mut BufReader<TcpStream>, request: &[u8]) -> std::io::Result<u16> {
        reader.get_mut().write_all(request)?;
        let mut line = String::new();
        reader.read_line(&mut line)?;
        let status: u16 = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| std::io::Error::other(format!("bad status line {line:?}")))?;
        let mut length = None;
        loop {
            line.clear();
            if reader.read_line(&mut line)? == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse::<u64>().ok();
                }
            }
        }
        // Every answer of the service carries its length; one without it cannot be
        // framed on a kept-alive connection.
        let length =
            length.ok_or_else(|| std::io::Error::other("an answer without Content-Length"))?;
        std::io::copy(&mut reader.by_ref().take(length), &mut std::io::sink())?;
        Ok(status)
    }
}

fn main() {
    let addr = env("ADDR").expect("ADDR=host:port");
    let token = env("TOKEN").expect("TOKEN");
    let paths_file = env("PATHS").expect("PATHS=file of request paths");
    let clients: usize = env_num("CLIENTS", 50);
    let seconds: f64 = env_num("RUN_SECONDS", 10.0);
    let rate: Option<f64> = env("RATE").and_then(|v| v.parse().ok());
    let label = env("LABEL").unwrap_or_else(|| "lookups".into());

    let requests: Vec<Vec<u8>> = std::fs::read_to_string(&paths_file)
        .expect("read PATHS")
        .lines()
        .filter(|l| !l.is_empty())
        .map(|path| {
            format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\r\n")
                .into_bytes()
        })
        .collect();
    assert!(!requests.is_empty(), "no request paths in {paths_file}");
    let requests = Arc::new(requests);

    let start = Instant::now();
    let end = start + Duration::from_secs_f64(seconds);
    // Each client's own schedule in open loop: one request every `clients / rate`
    // seconds, the clients' schedules staggered so that the total is even.
    let interval = rate.map(|r| Duration::from_secs_f64(clients as f64 / r));
    let workers: Vec<_> = (0..clients)
        .map(|c| {
            let requests = Arc::clone(&requests);
            let addr = addr.clone();
            std::thread::spawn(move || {
                let mut conn = Connection { addr, reader: None };
                let mut seen = Seen::default();
                let mut next =
                    start + interval.map_or(Duration::ZERO, |i| i * c as u32 / clients as u32);
                let mut i = c * 7919;
                loop {
                    let due = match interval {
                        Some(step) => {
                            let now = Instant::now();
                            if next > now {
                                std::thread::sleep(next - now);
                            }
                            let due = next;
                            next += step;
                            due
                        }
                        None => Instant::now(),
                    };
                    if due >= end {
                        break;
                    }
                    let ok = matches!(conn.get(&requests[i % requests.len()]), Ok(200));
                    seen.micros
                        .push(due.elapsed().as_micros().min(u32::MAX as u128) as u32);
                    seen.errors += u64::from(!ok);
                    i += 1;
                }
                seen
            })
        })
        .collect();
    let mut all = Seen::default();
    for w in workers {
        let seen = w.join().expect("client thread");
        all.micros.extend(seen.micros);
        all.errors += seen.errors;
    }
    let elapsed = start.elapsed().as_secs_f64().min(seconds);
    all.micros.sort_unstable();
    let n = all.micros.len();
    if n == 0 {
        println!("{label} clients={clients} requests=0 errors={}", all.errors);
        return;
    }
    let pct = |p: f64| {
        let i = ((p / 100.0) * n as f64) as usize;
        f64::from(all.micros[i.min(n.saturating_sub(1))]) / 1000.0
    };
    let mode = match rate {
        Some(r) => format!("open_rate={r:.0}"),
        None => "closed".to_string(),
    };
    println!(
        "{label} clients={clients} mode={mode} requests={n} per_s={:.0} p50_ms={:.2} p90_ms={:.2} p99_ms={:.2} max_ms={:.1} errors={}",
        n as f64 / elapsed,
        pct(50.0),
        pct(90.0),
        pct(99.0),
        all.micros.last().map_or(0.0, |&m| f64::from(m) / 1000.0),
        all.errors
    );
}
