//! The listener: accepts connections and serves HTTP/1.1 on each with hyper.
//!
//! axum's `serve` offers no bound on connections and no header timeout, so
//! this loop owns those choices:
//! - at most `HTTP_MAX_CONNECTIONS` open at once (default: below the file
//!   descriptor limit); one more is answered a fixed `503` and closed (its
//!   request read and dropped for up to half a second first, so that the
//!   close does not reset the reply away), counted in
//!   `tenk_http_requests_shed_total{bound="connections"}`,
//!   so a flood of idle sockets cannot take every descriptor;
//! - `HTTP_HEADER_TIMEOUT` to send a request's headers, also bounding how
//!   long a keep-alive connection may sit idle between requests (hyper
//!   starts that timer when it waits for the next request);
//! - `TCP_NODELAY` on every socket: replies are small and must not wait;
//! - on stop, no new connections; each open one finishes the request it is
//!   serving and closes (`Connection: close` on its last reply), within the
//!   caller's deadline.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tower::ServiceBuilder;

use crate::metrics::{Metrics, SHED_CONNECTIONS};

/// What a connection past the bound is told before it is closed.
const REFUSAL: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\n\
content-type: application/problem+json\r\nretry-after: 1\r\nconnection: close\r\n\
content-length: 101\r\n\r\n\
{\"type\":\"urn:tenk:problem:overloaded\",\"title\":\"Service Unavailable\",\"status\":503,\"code\":\"overloaded\"}";

/// How long a refused connection is read from before it is closed.
const LINGER: Duration = Duration::from_millis(500);
/// Refused connections that may linger at once.
const LINGERING: usize = 256;

/// How long to pause accepting after the process ran out of descriptors.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    pub max_connections: usize,
    pub header_timeout: Duration,
}

/// Open connections, and a guard per connection that counts it.
#[derive(Clone, Default)]
pub struct OpenConnections(Arc<AtomicUsize>);

struct Counted(Arc<AtomicUsize>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl OpenConnections {
    pub fn count(&self) -> usize {
        self.0.load(Ordering::Acquire)
    }

    fn open(&self, max: usize) -> Option<Counted> {
        let before = self.0.fetch_add(1, Ordering::AcqRel);
        if before >= max {
            self.0.fetch_sub(1, Ordering::AcqRel);
            return None;
        }
        Some(Counted(self.0.clone()))
    }
}

/// Serves `router` on `listener` until `stop` completes, then lets open
/// connections finish their current request. Returns when every connection
/// has closed or `drain` has passed after `stop`.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    open: OpenConnections,
    metrics: Arc<Metrics>,
    stop: impl Future<Output = ()>,
    drain: Duration,
) {
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .keep_alive(true);
    let graceful = GracefulShutdown::new();
    let lingering = Arc::new(tokio::sync::Semaphore::new(LINGERING));
    let mut stop = std::pin::pin!(stop);
    loop {
        let (stream, peer) = tokio::select! {
            biased;
            () = &mut stop => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    accept_failed(&error).await;
                    continue;
                }
            },
        };
        let Some(counted) = open.open(limits.max_connections) else {
            metrics
                .http_shed
                .with_label_values(&[SHED_CONNECTIONS])
                .inc();
            refuse(stream, &lingering);
            continue;
        };
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(error = %error, "cannot set TCP_NODELAY");
        }
        let connection = builder.serve_connection(TokioIo::new(stream), service(&router, peer));
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            let _counted = counted;
            if let Err(error) = connection.await {
                tracing::debug!(error = %error, "connection ended with an error");
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(drain, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("SHUTDOWN_TIMEOUT reached: closing the remaining connections");
    }
}

/// The router as a hyper service for one connection from `peer`.
fn service(
    router: &Router,
    peer: SocketAddr,
) -> TowerToHyperService<
    impl tower::Service<
        hyper::Request<Incoming>,
        Response = axum::response::Response,
        Error = std::convert::Infallible,
        Future: Send,
    > + Clone
    + Send
    + 'static,
> {
    let service = ServiceBuilder::new()
        .layer(axum::Extension(ConnectInfo(peer)))
        .map_request(|request: hyper::Request<Incoming>| request.map(axum::body::Body::new))
        .service(router.clone());
    TowerToHyperService::new(service)
}

/// Tells a connection past the bound to come back. The request it sent is
/// read and dropped for a moment before the close: closing a socket with
/// unread data makes the kernel send a reset, and the client would lose the
/// 503. At most [`LINGERING`] refusals wait like this; past that, a plain
/// close (the reply is best effort).
fn refuse(stream: TcpStream, lingering: &Arc<tokio::sync::Semaphore>) {
    let _ = stream.try_write(REFUSAL);
    let Ok(permit) = lingering.clone().try_acquire_owned() else {
        return;
    };
    tokio::spawn(async move {
        let _permit = permit;
        let mut stream = stream;
        let _ = stream.shutdown().await;
        let mut sink = [0u8; 1024];
        let drain = async { while matches!(stream.read(&mut sink).await, Ok(read) if read > 0) {} };
        let _ = tokio::time::timeout(LINGER, drain).await;
    });
}

/// Out of descriptors (or memory for sockets): pause instead of spinning;
/// anything else concerned one connection only.
async fn accept_failed(error: &std::io::Error) {
    let resource = matches!(error.raw_os_error(), Some(23 | 24 | 12 | 105));
    if resource {
        tracing::warn!(error = %error, "cannot accept connections: out of resources");
        tokio::time::sleep(ACCEPT_BACKOFF).await;
    } else {
        tracing::debug!(error = %error, "accept failed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_refusal_is_a_whole_http_response() {
        let text = std::str::from_utf8(REFUSAL).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        let length: usize = head
            .lines()
            .find_map(|line| line.strip_prefix("content-length: "))
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(body.len(), length);
        let problem: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(problem["status"], 503);
    }

    #[test]
    fn connections_past_the_bound_are_not_opened() {
        let open = OpenConnections::default();
        let first = open.open(1);
        assert!(first.is_some());
        assert!(open.open(1).is_none());
        drop(first);
        assert_eq!(open.count(), 0);
        assert!(open.open(1).is_some());
    }
}
