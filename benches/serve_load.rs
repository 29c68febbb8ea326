//! Load generator for `scripts/eval bench serve`: CLIENTS keep-alive HTTP/1.1 connections
//! to a running `celprint serve`, each sending GETs for the paths in a file, one after
//! another, for RUN_SECONDS. Prints one line of figures (the request count, rate, latency
//! percentiles and errors) as `KEY=VALUE` pairs.
//!
//! Why not curl: one `curl --parallel` process spent about as much CPU per request as the
//! service did, so on a small machine the figures measured curl.
//!
//! Two ways to load the service:
//! - closed loop (`RATE` unset): each client sends its next request when the last is
//!   answered, so CLIENTS requests are always in flight and the latency includes the
//!   queue the service builds (p50 ≈ CLIENTS / throughput, by Little's law). All the
//!   connections are tasks on one thread, which wakes once for every answer that is in
//!   by then: with a thread a connection, each sleeping and waking for every answer, the
//!   service made 5–15 % fewer lookups a second on the two cores it shares with the
//!   clients (docs/serve.md, "Speed").
//! - open loop (`RATE=R`, requests a second over all clients): requests are due on a
//!   fixed schedule, and each latency is counted from when the request was due, not when
//!   it was sent, so a slow answer that delays the next request is charged to it
//!   (no coordinated omission). A blocking thread per connection, because each must wake
//!   at its due time to the microsecond, where the async timer's step is a millisecond.
//!
//! Environment: ADDR (host:port), TOKEN, PATHS (a file of request paths, one a line),
//! CLIENTS (default 50), RUN_SECONDS (default 10), RATE (open loop), LABEL (default lookups).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

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

impl Seen {
    fn record(&mut self, since: Instant, status: std::io::Result<u16>) {
        self.micros
            .push(since.elapsed().as_micros().min(u32::MAX as u128) as u32);
        self.errors += u64::from(!matches!(status, Ok(200)));
    }
}

/// The status and the whole length of the answer at the start of `buf`, once its head
/// is in; `None` while more must be read.
fn answer_in(buf: &[u8]) -> std::io::Result<Option<(u16, usize)>> {
    let Some(head) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
        return Ok(None);
    };
    let text = std::str::from_utf8(&buf[..head])
        .map_err(|_| std::io::Error::other("an answer head that is not UTF-8"))?;
    let mut lines = text.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status: u16 = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad status line {status_line:?}")))?;
    // Every answer of the service carries its length; one without it cannot be framed
    // on a kept-alive connection.
    let length = lines
        .filter_map(|l| l.split_once(':'))
        .find(|(name, _)| name.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse::<usize>().ok())
        .ok_or_else(|| std::io::Error::other("an answer without Content-Length"))?;
    Ok(Some((status, head + 4 + length)))
}

/// Whether `buf` holds a whole answer; if so, its status, with the answer taken out.
fn take_answer(buf: &mut Vec<u8>) -> std::io::Result<Option<u16>> {
    match answer_in(buf)? {
        Some((status, len)) if buf.len() >= len => {
            buf.drain(..len);
            Ok(Some(status))
        }
        _ => Ok(None),
    }
}

/// A blocking keep-alive connection, for the open loop.
struct Connection {
    addr: String,
    stream: Option<TcpStream>,
    buf: Vec<u8>,
}

impl Connection {
    /// Sends one GET and reads the whole answer; the status, or an error after which the
    /// connection is dropped and opened again on the next request.
    fn get(&mut self, request: &[u8]) -> std::io::Result<u16> {
        if self.stream.is_none() {
            let stream = TcpStream::connect(&self.addr)?;
            stream.set_nodelay(true)?;
            self.stream = Some(stream);
            self.buf.clear();
        }
        let result = self.exchange(request);
        if result.is_err() {
            self.stream = None;
        }
        result
    }

    fn exchange(&mut self, request: &[u8]) -> std::io::Result<u16> {
        let stream = self.stream.as_mut().expect("connected");
        stream.write_all(request)?;
        let mut chunk = [0u8; 8192];
        loop {
            if let Some(status) = take_answer(&mut self.buf)? {
                return Ok(status);
            }
            let n = stream.read(&mut chunk)?;
            if n == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}

/// One closed-loop client: a connection as a task, sending its next request when the
/// last is answered, until `end`.
async fn closed_client(
    addr: String,
    requests: Arc<Vec<Vec<u8>>>,
    first: usize,
    end: Instant,
) -> Seen {
    let mut seen = Seen::default();
    let mut stream: Option<tokio::net::TcpStream> = None;
    let mut buf = Vec::new();
    let mut i = first;
    while Instant::now() < end {
        let sent = Instant::now();
        let request = &requests[i % requests.len()];
        let status = exchange(&addr, &mut stream, &mut buf, request).await;
        if status.is_err() {
            stream = None;
        }
        seen.record(sent, status);
        i += 1;
    }
    seen
}

async fn exchange(
    addr: &str,
    stream: &mut Option<tokio::net::TcpStream>,
    buf: &mut Vec<u8>,
    request: &[u8],
) -> std::io::Result<u16> {
    if stream.is_none() {
        let s = tokio::net::TcpStream::connect(addr).await?;
        s.set_nodelay(true)?;
        *stream = Some(s);
        buf.clear();
    }
    let s = stream.as_mut().expect("connected");
    let mut sent = 0;
    while sent < request.len() {
        match std::future::poll_fn(|cx| Pin::new(&mut *s).poll_write(cx, &request[sent..])).await? {
            0 => return Err(std::io::ErrorKind::WriteZero.into()),
            n => sent += n,
        }
    }
    let mut chunk = [0u8; 8192];
    loop {
        if let Some(status) = take_answer(buf)? {
            return Ok(status);
        }
        // `poll_read` rather than `readable` and `try_read`: a read that does not fill
        // the buffer tells tokio the socket is drained, so the next request's read
        // waits for readiness instead of first failing with `WouldBlock`, a system
        // call saved a request.
        let mut read = ReadBuf::new(&mut chunk);
        std::future::poll_fn(|cx| Pin::new(&mut *s).poll_read(cx, &mut read)).await?;
        if read.filled().is_empty() {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(read.filled());
    }
}

fn closed_loop(
    addr: &str,
    requests: &Arc<Vec<Vec<u8>>>,
    clients: usize,
    end: Instant,
) -> Vec<Seen> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .expect("the clients' runtime");
    runtime.block_on(async {
        let tasks: Vec<_> = (0..clients)
            .map(|c| {
                tokio::spawn(closed_client(
                    addr.to_string(),
                    Arc::clone(requests),
                    c * 7919,
                    end,
                ))
            })
            .collect();
        let mut all = Vec::new();
        for t in tasks {
            all.push(t.await.expect("client task"));
        }
        all
    })
}

fn open_loop(
    addr: &str,
    requests: &Arc<Vec<Vec<u8>>>,
    clients: usize,
    rate: f64,
    start: Instant,
    end: Instant,
) -> Vec<Seen> {
    // Each client's own schedule: one request every `clients / rate` seconds, the
    // clients' schedules staggered so that the total is even.
    let step = Duration::from_secs_f64(clients as f64 / rate);
    let workers: Vec<_> = (0..clients)
        .map(|c| {
            let requests = Arc::clone(requests);
            let addr = addr.to_string();
            std::thread::spawn(move || {
                let mut conn = Connection {
                    addr,
                    stream: None,
                    buf: Vec::new(),
                };
                let mut seen = Seen::default();
                let mut due = start + step * c as u32 / clients as u32;
                let mut i = c * 7919;
                while due < end {
                    let now = Instant::now();
                    if due > now {
                        std::thread::sleep(due - now);
                    }
                    let status = conn.get(&requests[i % requests.len()]);
                    seen.record(due, status);
                    due += step;
                    i += 1;
                }
                seen
            })
        })
        .collect();
    workers
        .into_iter()
        .map(|w| w.join().expect("client thread"))
        .collect()
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
    let seen = match rate {
        Some(r) => open_loop(&addr, &requests, clients, r, start, end),
        None => closed_loop(&addr, &requests, clients, end),
    };
    let mut all = Seen::default();
    for s in seen {
        all.micros.extend(s.micros);
        all.errors += s.errors;
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
