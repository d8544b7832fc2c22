//! Draining on shutdown: after SIGTERM, `/health/ready` returns 503 and the gateway waits
//! for requests in progress to finish before its listeners close. Event streams are not
//! waited for, because they only end when the client leaves.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use pingora::server::{ShutdownSignal, ShutdownSignalWatch};
use tokio::signal::unix::{SignalKind, signal};

#[derive(Default)]
pub struct Lifecycle {
    draining: AtomicBool,
    /// Requests in progress, event streams excluded.
    active: AtomicUsize,
}

/// Counts one request as active until dropped.
pub struct ActiveRequest {
    lifecycle: Arc<Lifecycle>,
}

impl Drop for ActiveRequest {
    fn drop(&mut self) {
        self.lifecycle.active.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Lifecycle {
    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::Relaxed)
    }

    pub fn active_requests(&self) -> usize {
        self.active.load(Ordering::Relaxed)
    }

    pub fn begin_request(self: &Arc<Self>) -> ActiveRequest {
        self.active.fetch_add(1, Ordering::Relaxed);
        ActiveRequest {
            lifecycle: Arc::clone(self),
        }
    }

    /// Marks the gateway as draining and waits until no request is active or `timeout` passes.
    pub async fn drain(&self, timeout: Duration) {
        self.draining.store(true, Ordering::Relaxed);
        let started = Instant::now();
        tracing::info!(
            active_requests = self.active_requests(),
            timeout_secs = timeout.as_secs(),
            "draining: /health/ready returns 503, waiting for requests in progress"
        );
        while self.active_requests() > 0 && started.elapsed() < timeout {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let left = self.active_requests();
        if left > 0 {
            tracing::warn!(
                active_requests = left,
                "drain timeout passed with requests still in progress; they are cut at shutdown"
            );
        } else {
            tracing::info!(
                elapsed_ms = started.elapsed().as_millis() as u64,
                "drained: no request in progress"
            );
        }
    }
}

/// Pingora's shutdown trigger: SIGTERM drains first and then shuts down gracefully, SIGINT
/// shuts down at once. Pingora's own SIGQUIT handling (handing the listening sockets to a new
/// process) is not installed, because the command line has no upgrade mode.
pub struct DrainingShutdown {
    pub lifecycle: Arc<Lifecycle>,
    pub drain_timeout: Duration,
}

#[async_trait]
impl ShutdownSignalWatch for DrainingShutdown {
    async fn recv(&self) -> ShutdownSignal {
        let (Ok(mut terminate), Ok(mut interrupt)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) else {
            tracing::error!("failed to install signal handlers; shutting down");
            return ShutdownSignal::FastShutdown;
        };
        tokio::select! {
            _ = terminate.recv() => {
                tracing::info!("SIGTERM received; shutting down gracefully");
                self.lifecycle.drain(self.drain_timeout).await;
                ShutdownSignal::GracefulTerminate
            }
            _ = interrupt.recv() => {
                tracing::info!("SIGINT received; shutting down now");
                ShutdownSignal::FastShutdown
            }
        }
    }
}
