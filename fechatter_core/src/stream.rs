//! The JetStream stream that stores domain events.
//!
//! The stream uses file storage and keeps messages for a retention window (default 72 hours), so
//! clients can resume after a disconnect. Its 2-minute duplicate window absorbs a relay
//! re-publishing a row after a lost acknowledgement. It has one replica; clustered deployments
//! raise that in their NATS configuration.
//!
//! NATS acknowledges a JetStream write once it is in the server's memory and flushes to disk every
//! `sync_interval` (2 minutes by default), so a power loss can drop acknowledged events. The
//! product's own NATS configuration (`deploy/nats-server.conf`) sets `sync_interval: always`.
//! PostgreSQL stays the system of record either way: messages are never lost, only their
//! real-time delivery, and clients that miss a window reload state after a `resync`.

use std::time::Duration;

use async_nats::jetstream::{self, stream};

use crate::config::NatsConfig;
use crate::events::event_subjects;

/// Retention and dedup settings of the event stream.
#[derive(Debug, Clone, Copy)]
pub struct StreamSettings {
    pub max_age: Duration,
    pub duplicate_window: Duration,
}

impl Default for StreamSettings {
    fn default() -> Self {
        Self {
            max_age: Duration::from_secs(72 * 3600),
            duplicate_window: Duration::from_secs(120),
        }
    }
}

/// Returns the event stream, creating it when missing. An existing stream keeps its settings.
pub async fn ensure_event_stream(
    context: &jetstream::Context,
    nats: &NatsConfig,
    settings: StreamSettings,
) -> anyhow::Result<stream::Stream> {
    let config = stream::Config {
        name: nats.stream.clone(),
        subjects: vec![event_subjects(&nats.subject_prefix)],
        storage: stream::StorageType::File,
        retention: stream::RetentionPolicy::Limits,
        max_age: settings.max_age,
        duplicate_window: settings.duplicate_window.min(settings.max_age),
        num_replicas: 1,
        allow_direct: true,
        ..Default::default()
    };
    context
        .get_or_create_stream(config)
        .await
        .map_err(|err| anyhow::anyhow!("failed to open stream {}: {err}", nats.stream))
}
