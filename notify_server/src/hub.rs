//! Fan-out of events to open SSE connections.
//!
//! The hub records the stream sequence of the last event it dispatched (`head`) and keeps a window
//! of recent events for reconnects. A new connection registers under the same lock that dispatch
//! takes, so its queue receives exactly the events after the `head` it was given. Events up to
//! `head` come from replay instead, so none arrives twice or not at all.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;
use tokio::sync::mpsc;

/// One stored event, rendered once and shared by every connection that receives it.
#[derive(Debug, Clone)]
pub struct StoredEvent {
    /// JetStream stream sequence; the SSE `id:`.
    pub seq: u64,
    pub kind: Arc<str>,
    pub data: Arc<str>,
    pub recipients: Arc<[i64]>,
}

/// A frame queued for one connection.
#[derive(Debug, Clone)]
pub enum Frame {
    Event(StoredEvent),
    /// Ephemeral frame without an `id:` (typing, presence).
    Signal {
        kind: &'static str,
        data: String,
    },
}

struct Connection {
    id: u64,
    sender: mpsc::Sender<Frame>,
}

struct Inner {
    head: u64,
    /// Every event with a sequence above this is in `recent`.
    floor: u64,
    recent: VecDeque<StoredEvent>,
    connections: HashMap<i64, Vec<Connection>>,
}

pub struct Hub {
    inner: Mutex<Inner>,
    capacity: usize,
    client_buffer: usize,
    next_id: AtomicU64,
}

/// Handle returned by [`Hub::register`].
pub struct Registration {
    pub connection_id: u64,
    pub receiver: mpsc::Receiver<Frame>,
    /// Sequence of the last event dispatched before the connection was registered.
    pub head: u64,
}

/// Outcome of looking up missed events in memory.
pub enum Replay {
    /// The missed events for the user, in order.
    Events(Vec<StoredEvent>),
    /// The window no longer reaches back to the position; read the stream instead.
    Older,
}

impl Hub {
    pub fn new(head: u64, capacity: usize, client_buffer: usize) -> Self {
        Self {
            inner: Mutex::new(Inner {
                head,
                floor: head,
                recent: VecDeque::with_capacity(capacity.min(65_536)),
                connections: HashMap::new(),
            }),
            capacity: capacity.max(1),
            client_buffer: client_buffer.max(1),
            next_id: AtomicU64::new(1),
        }
    }

    pub fn head(&self) -> u64 {
        self.inner.lock().head
    }

    pub fn register(&self, user_id: i64) -> Registration {
        let (sender, receiver) = mpsc::channel(self.client_buffer);
        let connection_id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut inner = self.inner.lock();
        inner
            .connections
            .entry(user_id)
            .or_default()
            .push(Connection {
                id: connection_id,
                sender,
            });
        metrics::gauge!("sse_connections").increment(1.0);
        Registration {
            connection_id,
            receiver,
            head: inner.head,
        }
    }

    pub fn unregister(&self, user_id: i64, connection_id: u64) {
        let mut inner = self.inner.lock();
        if let Some(list) = inner.connections.get_mut(&user_id) {
            let before = list.len();
            list.retain(|connection| connection.id != connection_id);
            if list.len() < before {
                metrics::gauge!("sse_connections").decrement(1.0);
            }
            if list.is_empty() {
                inner.connections.remove(&user_id);
            }
        }
    }

    /// Ends every open stream after its queued frames, so clients see a clean end of stream at
    /// shutdown and reconnect to another instance with their last id.
    pub fn close_all(&self) {
        let mut inner = self.inner.lock();
        let open: usize = inner.connections.values().map(Vec::len).sum();
        inner.connections.clear();
        metrics::gauge!("sse_connections").decrement(open as f64);
    }

    /// Starts over after the event stream was recreated (for example after NATS lost its data):
    /// sequence numbers restart, so the window is cleared, `head` becomes `new_head` and every
    /// open stream ends. Clients reconnect with positions the new stream does not have and get
    /// `resync`.
    pub fn reset(&self, new_head: u64) {
        let mut inner = self.inner.lock();
        let open: usize = inner.connections.values().map(Vec::len).sum();
        inner.connections.clear();
        inner.recent.clear();
        inner.head = new_head;
        inner.floor = new_head;
        metrics::gauge!("sse_connections").decrement(open as f64);
        tracing::warn!(
            new_head,
            closed_streams = open,
            "event stream was recreated; positions reset"
        );
    }

    /// Number of open connections of a user on this instance.
    pub fn connection_count(&self, user_id: i64) -> usize {
        self.inner
            .lock()
            .connections
            .get(&user_id)
            .map_or(0, Vec::len)
    }

    /// Sends a stored event to its recipients' connections and appends it to the window. A
    /// connection whose queue is full is dropped: its stream ends after the queued frames and the
    /// client resumes from its last id, so nothing is lost silently.
    pub fn dispatch(&self, event: StoredEvent) {
        let mut inner = self.inner.lock();
        if event.seq <= inner.head {
            return;
        }
        inner.head = event.seq;
        for user_id in event.recipients.iter() {
            if let Some(list) = inner.connections.get_mut(user_id) {
                list.retain(|connection| {
                    match connection.sender.try_send(Frame::Event(event.clone())) {
                        Ok(()) => true,
                        Err(mpsc::error::TrySendError::Full(_)) => {
                            tracing::warn!(
                                user_id,
                                connection_id = connection.id,
                                "client too slow; closing its stream so it resumes"
                            );
                            metrics::counter!("sse_slow_client_disconnects_total").increment(1);
                            metrics::gauge!("sse_connections").decrement(1.0);
                            false
                        }
                        Err(mpsc::error::TrySendError::Closed(_)) => {
                            metrics::gauge!("sse_connections").decrement(1.0);
                            false
                        }
                    }
                });
            }
        }
        inner.connections.retain(|_, list| !list.is_empty());
        metrics::counter!("events_dispatched_total").increment(1);
        inner.recent.push_back(event);
        while inner.recent.len() > self.capacity {
            if let Some(dropped) = inner.recent.pop_front() {
                inner.floor = dropped.seq;
            }
        }
    }

    /// Sends an ephemeral frame to the recipients' connections; a full queue drops the frame.
    pub fn signal(&self, recipients: &[i64], kind: &'static str, data: &str) {
        let inner = self.inner.lock();
        for user_id in recipients {
            if let Some(list) = inner.connections.get(user_id) {
                for connection in list {
                    let _ = connection.sender.try_send(Frame::Signal {
                        kind,
                        data: data.to_owned(),
                    });
                }
            }
        }
    }

    /// Events for `user_id` with `after < seq <= upto` from the in-memory window.
    pub fn replay(&self, user_id: i64, after: u64, upto: u64) -> Replay {
        let inner = self.inner.lock();
        if after < inner.floor {
            return Replay::Older;
        }
        Replay::Events(
            inner
                .recent
                .iter()
                .filter(|event| event.seq > after && event.seq <= upto)
                .filter(|event| event.recipients.contains(&user_id))
                .cloned()
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(seq: u64, recipients: &[i64]) -> StoredEvent {
        StoredEvent {
            seq,
            kind: "message.created".into(),
            data: "{}".into(),
            recipients: recipients.into(),
        }
    }

    fn seqs(replay: Replay) -> Option<Vec<u64>> {
        match replay {
            Replay::Events(events) => Some(events.iter().map(|e| e.seq).collect()),
            Replay::Older => None,
        }
    }

    #[test]
    fn dispatch_reaches_only_recipients() {
        let hub = Hub::new(0, 10, 10);
        let mut alice = hub.register(1);
        let mut bob = hub.register(2);
        hub.dispatch(event(1, &[1]));
        assert!(matches!(alice.receiver.try_recv(), Ok(Frame::Event(e)) if e.seq == 1));
        assert!(bob.receiver.try_recv().is_err());
    }

    #[test]
    fn register_reports_head() {
        let hub = Hub::new(5, 10, 10);
        hub.dispatch(event(6, &[1]));
        assert_eq!(hub.register(1).head, 6);
    }

    #[test]
    fn replay_filters_by_user_and_range() {
        let hub = Hub::new(0, 10, 10);
        for seq in 1..=5 {
            hub.dispatch(event(seq, if seq % 2 == 0 { &[1] } else { &[2] }));
        }
        assert_eq!(seqs(hub.replay(1, 1, 4)), Some(vec![2, 4]));
    }

    #[test]
    fn replay_past_window_is_older() {
        let hub = Hub::new(0, 3, 10);
        for seq in 1..=5 {
            hub.dispatch(event(seq, &[1]));
        }
        assert_eq!(seqs(hub.replay(1, 1, 5)), None);
        assert_eq!(seqs(hub.replay(1, 2, 5)), Some(vec![3, 4, 5]));
    }

    #[test]
    fn full_queue_drops_connection() {
        let hub = Hub::new(0, 10, 1);
        let mut slow = hub.register(1);
        hub.dispatch(event(1, &[1]));
        hub.dispatch(event(2, &[1]));
        assert_eq!(hub.connection_count(1), 0);
        assert!(matches!(slow.receiver.try_recv(), Ok(Frame::Event(e)) if e.seq == 1));
    }

    #[test]
    fn close_all_ends_streams() {
        let hub = Hub::new(0, 10, 10);
        let mut conn = hub.register(1);
        hub.close_all();
        assert_eq!(hub.connection_count(1), 0);
        assert!(matches!(
            conn.receiver.try_recv(),
            Err(mpsc::error::TryRecvError::Disconnected)
        ));
    }

    #[test]
    fn reset_accepts_lower_sequences() {
        let hub = Hub::new(500, 10, 10);
        hub.reset(0);
        let mut conn = hub.register(1);
        hub.dispatch(event(1, &[1]));
        assert_eq!(hub.head(), 1);
        assert!(matches!(conn.receiver.try_recv(), Ok(Frame::Event(e)) if e.seq == 1));
    }

    #[test]
    fn duplicate_sequence_ignored() {
        let hub = Hub::new(0, 10, 10);
        let mut conn = hub.register(1);
        hub.dispatch(event(1, &[1]));
        hub.dispatch(event(1, &[1]));
        assert!(conn.receiver.try_recv().is_ok());
        assert!(conn.receiver.try_recv().is_err());
    }
}
