//! The service's HTTP threads: one single-threaded tokio runtime a core, each serving the
//! connections it is handed, rather than one runtime whose threads share an I/O driver
//! and steal each other's tasks.
//!
//! Why: a lookup is tens of microseconds of work, so what the runtime does around it
//! counts. With a thread-per-core runtime a connection's requests are read, answered and
//! written on one thread, with no hand-over between threads; the multi-threaded
//! runtime moved tasks between its two threads and woke the parked one for them
//! (docs/serve.md § Speed has the A/B).
//!
//! One acceptor, on the first thread, hands connections out in turn, so the threads
//! get equal shares; a connection then stays on its thread for its life. Kept-alive
//! connections make accepting rare, so the hand-over costs nothing that counts.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};

use super::ServeError;

/// Serves `app` on `listener` with `threads` threads until `cancel` is set, then lets
/// each thread finish the requests in hand (as `axum::serve`'s graceful shutdown does)
/// for up to 5 s.
pub(super) fn serve(
    app: axum::Router,
    listener: std::net::TcpListener,
    threads: usize,
    cancel: Arc<AtomicBool>,
) -> Result<(), ServeError> {
    listener
        .set_nonblocking(true)
        .map_err(ServeError::Runtime)?;
    let addr = listener.local_addr().map_err(ServeError::Runtime)?;
    let (senders, receivers): (Vec<_>, Vec<_>) =
        (0..threads.max(1)).map(|_| unbounded_channel()).unzip();
    let mut acceptor = Some((listener, senders));
    let mut handles = Vec::new();
    for (i, handed) in receivers.into_iter().enumerate() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()
            .map_err(ServeError::Runtime)?;
        let app = app.clone();
        let stop = stopped(cancel.clone());
        let acceptor = acceptor.take();
        let thread = std::thread::Builder::new()
            .name(format!("celprint-http-{i}"))
            .spawn(move || {
                let served = runtime.block_on(async move {
                    if let Some((listener, to)) = acceptor {
                        let listener = tokio::net::TcpListener::from_std(listener)
                            .map_err(ServeError::Runtime)?;
                        tokio::spawn(hand_out(listener, to));
                    }
                    axum::serve(Handed { handed, addr }, app)
                        .with_graceful_shutdown(stop)
                        .await
                        .map_err(ServeError::Runtime)
                });
                // Connections still open (a browser's keep-alive) must not hold the bank
                // open. Shutting the first thread's runtime down also drops the acceptor,
                // which closes the listening socket.
                runtime.shutdown_timeout(Duration::from_secs(5));
                served
            })
            .map_err(ServeError::Runtime);
        match thread {
            Ok(t) => handles.push(t),
            Err(e) => {
                // The threads already started would serve forever: stop them first.
                cancel.store(true, Ordering::Relaxed);
                for t in handles {
                    let _ = t.join();
                }
                return Err(e);
            }
        }
    }
    let mut result = Ok(());
    for t in handles {
        let served = t.join().unwrap_or_else(|_| {
            Err(ServeError::Runtime(std::io::Error::other(
                "an HTTP thread panicked",
            )))
        });
        // The first thread to fail stops the others, which then end cleanly.
        if served.is_err() {
            cancel.store(true, Ordering::Relaxed);
            if result.is_ok() {
                result = served;
            }
        }
    }
    result
}

/// Resolves once `cancel` is set.
async fn stopped(cancel: Arc<AtomicBool>) {
    while !cancel.load(Ordering::Relaxed) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Accepts connections and hands them to the threads in turn. Runs until its runtime is
/// shut down.
async fn hand_out(
    listener: tokio::net::TcpListener,
    to: Vec<UnboundedSender<std::net::TcpStream>>,
) {
    let mut next = 0;
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                // A stream taken out of its runtime keeps its non-blocking mode, which is
                // what the receiving runtime needs.
                if let Ok(stream) = stream.into_std() {
                    // A thread that has stopped drops what it is handed: the connection
                    // closes, as on a service that is stopping.
                    let _ = to[next % to.len()].send(stream);
                    next += 1;
                }
            }
            // Out of file descriptors, or the like: wait a little instead of spinning
            // (axum's own accept loop does the same).
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

/// One thread's share of the connections, as `axum::serve` takes them.
struct Handed {
    handed: UnboundedReceiver<std::net::TcpStream>,
    addr: SocketAddr,
}

impl axum::serve::Listener for Handed {
    type Io = tokio::net::TcpStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Some(stream) = self.handed.recv().await else {
                // The acceptor is gone: the service is stopping, and graceful shutdown
                // ends this thread's serving without another connection.
                std::future::pending::<()>().await;
                continue;
            };
            let peer = stream.peer_addr();
            if let (Ok(peer), Ok(io)) = (peer, tokio::net::TcpStream::from_std(stream)) {
                return (io, peer);
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.addr)
    }
}
