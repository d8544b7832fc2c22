//! Corpus replay: signs up users, opens one event stream per user, replays real multilingual
//! conversations through chats of every type over the REST API, and checks that every chat member
//! received every message exactly once, with its latency.
//!
//! The conversations come from the PyPI package `chatterbot-corpus` (see [`load_corpus`]). The
//! `demo` binary and `scripts/demo.sh` run this against a running system.

mod account;
mod corpus;
mod listener;
mod report;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::{Context, bail};
use reqwest::StatusCode;
use serde_json::json;
use tokio::sync::{Mutex, oneshot, watch};
use tokio::time::Instant;

use account::{Account, Api};
pub use corpus::{Conversation, load_corpus};
use listener::{DeliveryLog, Listener};
pub use report::{MessageRecord, Report};
use report::{SendTotals, SentMessage};

/// Limit on waiting for every listener's first `ready` frame.
const READY_TIMEOUT: Duration = Duration::from_secs(15);

/// Attempts per line on errors other than 429 (network errors, 5xx), with doubling waits.
const SEND_ATTEMPTS: u32 = 5;
const FIRST_SEND_RETRY_DELAY: Duration = Duration::from_millis(250);

/// Consecutive 429 replies after which a line counts as failed.
const MAX_RATE_LIMITED_RETRIES: u32 = 50;

/// Seconds to wait after a 429 reply without a valid `Retry-After` header.
const DEFAULT_RETRY_AFTER_SECS: u64 = 1;

/// Interval of the progress log line while sending.
const PROGRESS_INTERVAL: Duration = Duration::from_secs(10);

/// Settings of one replay run.
#[derive(Debug, Clone)]
pub struct Options {
    /// Base URL of fechatter_server, such as `http://127.0.0.1:6688`.
    pub api_base: String,
    /// Base URL of notify_server, such as `http://127.0.0.1:6687`.
    pub events_base: String,
    pub conversations: Vec<Conversation>,
    /// Users to sign up; at least 3, because a group needs its creator and two others.
    pub users: usize,
    /// Limit on waiting for outstanding deliveries after the last send.
    pub drain_timeout: Duration,
}

impl Options {
    pub fn new(api_base: &str, events_base: &str, conversations: Vec<Conversation>) -> Self {
        Self {
            api_base: api_base.to_owned(),
            events_base: events_base.to_owned(),
            conversations,
            users: 6,
            drain_timeout: Duration::from_secs(20),
        }
    }
}

/// A chat of the run and the users who receive its messages.
#[derive(Debug, Clone)]
struct ChatPlan {
    id: i64,
    kind: &'static str,
    /// Indexes into the run's accounts.
    members: Vec<usize>,
}

/// Shared state of the sender tasks.
struct Senders {
    api: Arc<Api>,
    accounts: Vec<Arc<Account>>,
    run_id: String,
    lines_sent: AtomicUsize,
}

/// Runs the replay described by `options` and reports what arrived.
///
/// Errors mean the run could not be set up (signup, chats or streams failed). Problems while
/// replaying are counted in the report instead, so one bad line does not hide the other figures.
pub async fn run(options: Options) -> anyhow::Result<Report> {
    if options.users < 3 {
        bail!(
            "users is {}, but the replay needs at least 3 users for a group chat",
            options.users
        );
    }
    if options.conversations.is_empty() {
        bail!("no conversations to replay; check the corpus folder and --languages");
    }
    let started = Instant::now();
    let run_id = uuid::Uuid::new_v4().simple().to_string()[..10].to_owned();
    let api = Arc::new(Api::new(&options.api_base)?);
    let accounts = sign_up(&api, &run_id, options.users).await?;
    tracing::info!(run_id, users = accounts.len(), "signed up replay users");

    let log = Arc::new(Mutex::new(DeliveryLog::default()));
    let (stop, stop_listening) = watch::channel(false);
    let http = listener::stream_client()?;
    let mut listeners = Vec::new();
    let mut ready = Vec::new();
    for account in &accounts {
        let (ready_sender, ready_receiver) = oneshot::channel();
        ready.push((account.user_id, ready_receiver));
        let listener = Listener {
            api: api.clone(),
            http: http.clone(),
            events_base: options.events_base.clone(),
            account: account.clone(),
            log: log.clone(),
            ready: ready_sender,
            stop: stop_listening.clone(),
        };
        listeners.push(listener.spawn());
    }
    for (user_id, receiver) in ready {
        match tokio::time::timeout(READY_TIMEOUT, receiver).await {
            Ok(Ok(())) => {}
            _ => {
                let _ = stop.send(true);
                bail!(
                    "the event stream of user {user_id} sent no ready frame within {READY_TIMEOUT:?}; check that notify_server runs at {}",
                    options.events_base
                );
            }
        }
    }

    let chats = create_chats(&api, &accounts, &run_id).await?;
    tracing::info!(chats = chats.len(), "created chats");

    let languages: BTreeSet<&str> = options
        .conversations
        .iter()
        .map(|conversation| conversation.language.as_str())
        .collect();
    let languages = languages.len();
    let total_lines: usize = options.conversations.iter().map(|c| c.lines.len()).sum();
    let senders = Arc::new(Senders {
        api: api.clone(),
        accounts,
        run_id,
        lines_sent: AtomicUsize::new(0),
    });
    let send_started = Instant::now();
    let (sent, totals) = send_all(&senders, &chats, options.conversations, total_lines).await;
    let sending = send_started.elapsed();
    tracing::info!(
        messages = sent.len(),
        ?sending,
        "finished sending; waiting for deliveries"
    );

    wait_for_deliveries(&log, &sent, options.drain_timeout).await;
    let _ = stop.send(true);
    for handle in listeners {
        if let Err(err) = handle.await {
            tracing::warn!(error = %err, "a listener task failed");
        }
    }

    let log = log.lock().await;
    let mut report = report::build(sent, &log, totals, languages);
    report.users = senders.accounts.len();
    report.chats = chats.len();
    report.token_refreshes = api.refreshes();
    report.sending = sending;
    report.duration = started.elapsed();
    Ok(report)
}

/// Signs up `count` users: the first creates the workspace, the others join by invite.
async fn sign_up(api: &Api, run_id: &str, count: usize) -> anyhow::Result<Vec<Arc<Account>>> {
    let owner = api
        .signup_owner(
            &format!("replay-{run_id}-0@example.com"),
            &format!("Corpus replay {run_id}"),
        )
        .await?;
    let owner = Arc::new(owner);
    let mut accounts = vec![owner.clone()];
    for index in 1..count {
        let email = format!("replay-{run_id}-{index}@example.com");
        accounts.push(Arc::new(api.signup_invited(&owner, &email).await?));
    }
    Ok(accounts)
}

/// Creates two single chats, a group, a private channel and a public channel that the other
/// users join. Needs at least 3 accounts.
async fn create_chats(
    api: &Api,
    accounts: &[Arc<Account>],
    run_id: &str,
) -> anyhow::Result<Vec<ChatPlan>> {
    let count = accounts.len();
    let everyone: Vec<usize> = (0..count).collect();
    let ids = |members: &[usize]| -> Vec<i64> {
        members
            .iter()
            .map(|index| accounts[*index].user_id)
            .collect()
    };
    let mut chats = Vec::new();

    // Two single chats between different pairs: with 3 users they share user 1.
    for (first, second) in [(0, 1), (count - 2, count - 1)] {
        let request = json!({"chat_type": "single", "members": [accounts[second].user_id]});
        let id = api.create_chat(&accounts[first], &request).await?;
        chats.push(ChatPlan {
            id,
            kind: "single",
            members: vec![first, second],
        });
    }

    let group: Vec<usize> = (0..count.min(4)).collect();
    let request = json!({"chat_type": "group", "members": ids(&group[1..])});
    let id = api.create_chat(&accounts[0], &request).await?;
    chats.push(ChatPlan {
        id,
        kind: "group",
        members: group,
    });

    let request = json!({
        "chat_type": "private_channel",
        "name": format!("replay-private-{run_id}"),
        "members": ids(&everyone[1..]),
    });
    let id = api.create_chat(&accounts[0], &request).await?;
    chats.push(ChatPlan {
        id,
        kind: "private_channel",
        members: everyone.clone(),
    });

    let request = json!({
        "chat_type": "public_channel",
        "name": format!("replay-public-{run_id}"),
        "members": [],
    });
    let id = api.create_chat(&accounts[0], &request).await?;
    for account in &accounts[1..] {
        api.join_chat(account, id).await?;
    }
    chats.push(ChatPlan {
        id,
        kind: "public_channel",
        members: everyone,
    });
    Ok(chats)
}

/// Replays the conversations, assigned to the chats in turn, with one sender task per chat.
async fn send_all(
    senders: &Arc<Senders>,
    chats: &[ChatPlan],
    conversations: Vec<Conversation>,
    total_lines: usize,
) -> (Vec<SentMessage>, SendTotals) {
    let mut assigned: Vec<Vec<(usize, Conversation)>> = vec![Vec::new(); chats.len()];
    for (index, conversation) in conversations.into_iter().enumerate() {
        assigned[index % chats.len()].push((index, conversation));
    }

    let progress = tokio::spawn(log_progress(senders.clone(), total_lines));
    let mut tasks = Vec::new();
    for (chat, conversations) in chats.iter().cloned().zip(assigned) {
        tasks.push(tokio::spawn(replay_chat(
            senders.clone(),
            chat,
            conversations,
        )));
    }
    let mut sent = Vec::new();
    let mut totals = SendTotals::default();
    for task in tasks {
        match task.await {
            Ok((messages, chat_totals)) => {
                sent.extend(messages);
                totals.lines_rejected += chat_totals.lines_rejected;
                totals.send_failures += chat_totals.send_failures;
                totals.rate_limited += chat_totals.rate_limited;
            }
            Err(err) => tracing::error!(error = %err, "a sender task failed"),
        }
    }
    progress.abort();
    (sent, totals)
}

async fn log_progress(senders: Arc<Senders>, total_lines: usize) {
    loop {
        tokio::time::sleep(PROGRESS_INTERVAL).await;
        let sent = senders.lines_sent.load(Ordering::Relaxed);
        tracing::info!(sent, total_lines, "sending");
    }
}

/// Sends the conversations of one chat in order. Speakers take turns over the chat's members,
/// continuing across conversations so every member sends a similar share.
async fn replay_chat(
    senders: Arc<Senders>,
    chat: ChatPlan,
    conversations: Vec<(usize, Conversation)>,
) -> (Vec<SentMessage>, SendTotals) {
    let mut sent = Vec::new();
    let mut totals = SendTotals::default();
    let recipients: Vec<i64> = chat
        .members
        .iter()
        .map(|index| senders.accounts[*index].user_id)
        .collect();
    let mut turn = 0;
    for (conversation_index, conversation) in conversations {
        for (line_index, line) in conversation.lines.iter().enumerate() {
            let speaker = &senders.accounts[chat.members[turn % chat.members.len()]];
            turn += 1;
            let key = format!("{}-{conversation_index}-{line_index}", senders.run_id);
            let outcome = send_line(&senders.api, speaker, chat.id, line, &key, &mut totals).await;
            senders.lines_sent.fetch_add(1, Ordering::Relaxed);
            match outcome {
                Ok(SendOutcome::Sent {
                    message_id,
                    content,
                    sent_at,
                }) => sent.push(SentMessage {
                    record: MessageRecord {
                        message_id,
                        chat_id: chat.id,
                        language: conversation.language.clone(),
                        line: line.clone(),
                        stored_content: content,
                        delivered_content: None,
                    },
                    recipients: recipients.clone(),
                    sent_at,
                }),
                Ok(SendOutcome::Rejected(reason)) => {
                    totals.lines_rejected += 1;
                    tracing::warn!(
                        chat_id = chat.id,
                        key,
                        reason,
                        "server rejected a corpus line"
                    );
                }
                Err(err) => {
                    totals.send_failures += 1;
                    tracing::error!(
                        chat_id = chat.id,
                        kind = chat.kind,
                        key,
                        error = format!("{err:#}"),
                        "failed to send a line"
                    );
                }
            }
        }
    }
    (sent, totals)
}

enum SendOutcome {
    Sent {
        message_id: i64,
        /// Content as stored by the server.
        content: String,
        sent_at: Instant,
    },
    /// 422: the line is not valid message content.
    Rejected(String),
}

/// Sends one line with an idempotency key, so every retry (after 429, an error or a timeout)
/// creates the message at most once.
///
/// The send instant is taken before the attempt that created the message. When a retry returns
/// the message with 200 because an earlier attempt already created it, the first attempt's instant
/// is used, which can only overstate the latency.
async fn send_line(
    api: &Api,
    speaker: &Account,
    chat_id: i64,
    line: &str,
    key: &str,
    totals: &mut SendTotals,
) -> anyhow::Result<SendOutcome> {
    let path = format!("/api/chats/{chat_id}/messages");
    let body = json!({"content": line, "idempotency_key": key});
    let first_attempt_at = Instant::now();
    let mut failed_attempts = 0;
    let mut rate_limited = 0;
    let mut retry_delay = FIRST_SEND_RETRY_DELAY;
    loop {
        let attempt_at = Instant::now();
        let error = match api.post(speaker, &path, &body).await {
            Ok(reply) if reply.status == StatusCode::CREATED || reply.status == StatusCode::OK => {
                let sent_at = if reply.status == StatusCode::CREATED {
                    attempt_at
                } else {
                    first_attempt_at
                };
                let message_id = reply.body["id"]
                    .as_i64()
                    .with_context(|| format!("send reply has no id: {}", reply.body))?;
                let content = reply.body["content"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                return Ok(SendOutcome::Sent {
                    message_id,
                    content,
                    sent_at,
                });
            }
            Ok(reply) if reply.status == StatusCode::UNPROCESSABLE_ENTITY => {
                return Ok(SendOutcome::Rejected(reply.body.to_string()));
            }
            Ok(reply) if reply.status == StatusCode::TOO_MANY_REQUESTS => {
                totals.rate_limited += 1;
                rate_limited += 1;
                if rate_limited > MAX_RATE_LIMITED_RETRIES {
                    bail!("still rate limited after {MAX_RATE_LIMITED_RETRIES} retries");
                }
                let wait = retry_after(&reply.headers);
                tracing::debug!(
                    chat_id,
                    user_id = speaker.user_id,
                    ?wait,
                    "rate limited; waiting"
                );
                tokio::time::sleep(wait).await;
                continue;
            }
            Ok(reply) => anyhow::anyhow!("POST {path} returned {}", reply.describe()),
            Err(err) => err,
        };
        failed_attempts += 1;
        if failed_attempts >= SEND_ATTEMPTS {
            return Err(error.context(format!("failed after {SEND_ATTEMPTS} attempts")));
        }
        tracing::warn!(
            chat_id,
            key,
            error = format!("{error:#}"),
            ?retry_delay,
            "send failed; retrying"
        );
        tokio::time::sleep(retry_delay).await;
        retry_delay *= 2;
    }
}

/// Parses the wait of a `Retry-After` header given in seconds, with a default when it is missing
/// or invalid.
fn retry_after(headers: &reqwest::header::HeaderMap) -> Duration {
    let seconds = headers
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().parse::<u64>().ok())
        .unwrap_or(DEFAULT_RETRY_AFTER_SECS);
    Duration::from_secs(seconds)
}

/// Waits until every recipient of every sent message has received it, or `timeout` passes.
async fn wait_for_deliveries(log: &Mutex<DeliveryLog>, sent: &[SentMessage], timeout: Duration) {
    let deadline = Instant::now() + timeout;
    let mut pending: Vec<(i64, i64)> = sent
        .iter()
        .flat_map(|message| {
            message
                .recipients
                .iter()
                .map(|user_id| (*user_id, message.record.message_id))
        })
        .collect();
    loop {
        {
            let log = log.lock().await;
            pending.retain(|(user_id, message_id)| !log.received(*user_id, *message_id));
        }
        if pending.is_empty() {
            return;
        }
        if Instant::now() >= deadline {
            tracing::warn!(
                missing = pending.len(),
                ?timeout,
                "deliveries still missing at the deadline"
            );
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
