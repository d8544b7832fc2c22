//! Figures of a replay run, computed from what was sent and what the listeners received.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::time::Duration;

use tokio::time::Instant;

use super::listener::DeliveryLog;

/// One message the replay sent, with the first content delivered for it.
#[derive(Debug, Clone)]
pub struct MessageRecord {
    pub message_id: i64,
    pub chat_id: i64,
    pub language: String,
    /// Corpus line as sent.
    pub line: String,
    /// `content` of the send reply, as the server stored it (trimmed and NFC-normalised).
    pub stored_content: String,
    /// `message.content` of the first `message.created` frame received for this message.
    pub delivered_content: Option<String>,
}

/// A message as sent, with what the report needs to check its deliveries.
#[derive(Debug, Clone)]
pub struct SentMessage {
    pub record: MessageRecord,
    /// Members of the chat when the message was sent; each one expects a frame.
    pub recipients: Vec<i64>,
    /// Instant just before the POST that created the message.
    pub sent_at: Instant,
}

/// Outcome of a replay run. `Display` prints one figure per line.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub users: usize,
    pub chats: usize,
    /// Distinct languages among the replayed conversations.
    pub languages: usize,
    pub messages_sent: usize,
    /// Corpus lines the server rejected as invalid content (422), so never sent.
    pub lines_rejected: usize,
    /// Lines that still failed after every retry.
    pub send_failures: usize,
    /// 429 replies, each followed by a wait of `Retry-After` seconds and a retry.
    pub rate_limited: u64,
    /// Sent messages times the members of their chat.
    pub events_expected: usize,
    /// Expected (user, message) pairs that arrived at least once.
    pub events_delivered: usize,
    /// Expected (user, message) pairs that never arrived.
    pub lost: usize,
    /// (user, message) pairs that arrived more than once.
    pub duplicated: usize,
    /// Frames for messages this run did not send to that user.
    pub unexpected: usize,
    /// Frames whose content differs from the content in the send reply.
    pub content_mismatches: usize,
    pub reconnects: u64,
    /// Access tokens renewed through `POST /api/refresh` after a 401.
    pub token_refreshes: u64,
    /// Latency percentiles over the first frame of each expected pair: receive instant minus the
    /// instant just before the POST. `None` when nothing arrived.
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub max_ms: Option<f64>,
    /// From the first send to the last send reply.
    pub sending: Duration,
    /// Whole run: signup, chats, sending and waiting for deliveries.
    pub duration: Duration,
    /// Every sent message, for checks on content.
    pub messages: Vec<MessageRecord>,
}

impl Report {
    /// True when every expected frame arrived once with the stored content, and every line was
    /// either sent or rejected as invalid.
    pub fn is_clean(&self) -> bool {
        self.lost == 0
            && self.duplicated == 0
            && self.unexpected == 0
            && self.content_mismatches == 0
            && self.send_failures == 0
    }
}

/// Counters of the send phase.
#[derive(Debug, Clone, Default)]
pub struct SendTotals {
    pub lines_rejected: usize,
    pub send_failures: usize,
    pub rate_limited: u64,
}

/// Compares the sent messages with the frames received and fills in every figure except users,
/// chats, token refreshes and the durations, which the caller sets.
pub fn build(
    sent: Vec<SentMessage>,
    log: &DeliveryLog,
    totals: SendTotals,
    languages: usize,
) -> Report {
    let mut expected: HashMap<(i64, i64), Instant> = HashMap::new();
    let mut stored: HashMap<i64, &str> = HashMap::new();
    for message in &sent {
        stored.insert(message.record.message_id, &message.record.stored_content);
        for user_id in &message.recipients {
            expected.insert((*user_id, message.record.message_id), message.sent_at);
        }
    }

    let mut first_content: HashMap<i64, String> = HashMap::new();
    let mut latencies_ms = Vec::new();
    let mut seen = BTreeSet::new();
    let mut content_mismatches = 0;
    for delivery in &log.deliveries {
        let pair = (delivery.user_id, delivery.message_id);
        if stored
            .get(&delivery.message_id)
            .is_some_and(|content| delivery.content.as_deref() != Some(*content))
        {
            content_mismatches += 1;
        }
        if let Some(content) = &delivery.content {
            first_content
                .entry(delivery.message_id)
                .or_insert_with(|| content.clone());
        }
        if let Some(sent_at) = expected.get(&pair)
            && seen.insert(pair)
        {
            let latency = delivery.received_at.saturating_duration_since(*sent_at);
            latencies_ms.push(latency.as_secs_f64() * 1000.0);
        }
    }
    latencies_ms.sort_by(f64::total_cmp);

    let counts = log.counts();
    let lost = expected
        .keys()
        .filter(|pair| !counts.contains_key(pair))
        .count();
    let duplicated = counts.values().filter(|count| **count > 1).count();
    let unexpected = counts
        .iter()
        .filter(|(pair, _)| !expected.contains_key(pair))
        .map(|(_, count)| *count as usize)
        .sum();
    let messages = sent
        .into_iter()
        .map(|message| {
            let mut record = message.record;
            record.delivered_content = first_content.remove(&record.message_id);
            record
        })
        .collect::<Vec<_>>();

    Report {
        languages,
        messages_sent: messages.len(),
        lines_rejected: totals.lines_rejected,
        send_failures: totals.send_failures,
        rate_limited: totals.rate_limited,
        events_expected: expected.len(),
        events_delivered: expected.len() - lost,
        lost,
        duplicated,
        unexpected,
        content_mismatches,
        reconnects: log.reconnects,
        p50_ms: percentile(&latencies_ms, 50.0),
        p99_ms: percentile(&latencies_ms, 99.0),
        max_ms: latencies_ms.last().copied(),
        messages,
        ..Report::default()
    }
}

/// Returns the nearest-rank `percent` percentile of ascending `sorted` values.
fn percentile(sorted: &[f64], percent: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (percent / 100.0 * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

fn milliseconds(value: Option<f64>) -> String {
    value.map_or_else(|| "n/a".to_owned(), |ms| format!("{ms:.1} ms"))
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rows: [(&str, String); 20] = [
            ("users", self.users.to_string()),
            ("chats", self.chats.to_string()),
            ("languages", self.languages.to_string()),
            ("messages sent", self.messages_sent.to_string()),
            ("lines rejected (422)", self.lines_rejected.to_string()),
            ("send failures", self.send_failures.to_string()),
            ("rate limited (429)", self.rate_limited.to_string()),
            ("events expected", self.events_expected.to_string()),
            ("events delivered", self.events_delivered.to_string()),
            ("lost", self.lost.to_string()),
            ("duplicated", self.duplicated.to_string()),
            ("unexpected", self.unexpected.to_string()),
            ("content mismatches", self.content_mismatches.to_string()),
            ("reconnects", self.reconnects.to_string()),
            ("token refreshes", self.token_refreshes.to_string()),
            ("latency p50", milliseconds(self.p50_ms)),
            ("latency p99", milliseconds(self.p99_ms)),
            ("latency max", milliseconds(self.max_ms)),
            ("sending", format!("{:.1} s", self.sending.as_secs_f64())),
            ("duration", format!("{:.1} s", self.duration.as_secs_f64())),
        ];
        for (label, value) in rows {
            writeln!(f, "{label:<22}{value}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_nearest_rank() {
        let values: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&values, 50.0), Some(50.0));
        assert_eq!(percentile(&values, 99.0), Some(99.0));
        assert_eq!(percentile(&values, 100.0), Some(100.0));
        assert_eq!(percentile(&[7.0], 50.0), Some(7.0));
        assert_eq!(percentile(&[], 50.0), None);
    }
}
