//! Corpus replay against an in-process stack: real multilingual lines from the PyPI package
//! chatterbot-corpus, under a tight rate limit and short-lived access tokens.

use std::path::PathBuf;
use std::time::Duration;

use fechatter_e2e::Stack;
use fechatter_e2e::demo::{self, MessageRecord, Options};
use unicode_normalization::UnicodeNormalization;

/// Two right-to-left and two CJK languages of the corpus.
const LANGUAGES: [&str; 4] = ["chinese", "hebrew", "japanese", "persian"];

fn corpus_dir() -> PathBuf {
    let Some(dir) = std::env::var_os("FECHATTER_CORPUS_DIR") else {
        panic!(
            "FECHATTER_CORPUS_DIR is not set. It names the data folder of the PyPI package \
             chatterbot-corpus; install the package and set it with \
             `export FECHATTER_CORPUS_DIR=$(scripts/corpus-dir.sh)`"
        );
    };
    PathBuf::from(dir)
}

fn is_right_to_left(c: char) -> bool {
    matches!(c, '\u{0590}'..='\u{08FF}' | '\u{FB1D}'..='\u{FDFF}' | '\u{FE70}'..='\u{FEFF}')
}

fn is_cjk(c: char) -> bool {
    matches!(c, '\u{3040}'..='\u{30FF}' | '\u{3400}'..='\u{4DBF}' | '\u{4E00}'..='\u{9FFF}')
}

/// Returns the content the server stores for `line`: trimmed, then NFC-normalised.
fn stored_form(line: &str) -> String {
    line.trim().nfc().collect()
}

fn delivered_intact(record: &MessageRecord) -> bool {
    record.delivered_content.as_deref() == Some(stored_form(&record.line).as_str())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corpus_replay_delivers_each_message_once() {
    let languages: Vec<String> = LANGUAGES.iter().map(|name| (*name).to_owned()).collect();
    let conversations = demo::load_corpus(&corpus_dir(), Some(&languages), Some(32))
        .expect("load corpus from FECHATTER_CORPUS_DIR");
    let lines: usize = conversations.iter().map(|c| c.lines.len()).sum();

    // Two messages per user per chat every 2 s force 429 replies and stretch the replay past the
    // access token lifetime of 1 s plus the verifier's 5 s leeway, which forces refreshes.
    let stack = Stack::spawn_with(|config| {
        config.limits.messages_per_chat = 2;
        config.limits.messages_window_secs = 2;
        config.auth.access_token_ttl_secs = 1;
    })
    .await;
    let options = Options::new(&stack.api.client.base, &stack.notify_base, conversations);
    let report = demo::run(options).await.expect("replay run");
    println!("{report}");

    assert_eq!(report.users, 6);
    assert_eq!(report.chats, 5);
    assert_eq!(report.languages, LANGUAGES.len());
    assert!(report.messages_sent > 0);
    assert_eq!(report.messages_sent, lines, "every corpus line is sent");
    assert_eq!(report.lines_rejected, 0);
    assert_eq!(report.send_failures, 0);
    assert!(report.rate_limited > 0, "the tight limit produced no 429");
    assert!(
        report.token_refreshes > 0,
        "no access token expired during the replay"
    );
    assert!(report.events_expected >= report.messages_sent * 2);
    assert_eq!(report.lost, 0);
    assert_eq!(report.duplicated, 0);
    assert_eq!(report.unexpected, 0);
    assert_eq!(report.content_mismatches, 0);
    assert_eq!(report.events_delivered, report.events_expected);
    assert!(report.p50_ms.is_some());
    assert!(report.is_clean());

    let altered: Vec<&MessageRecord> = report
        .messages
        .iter()
        .filter(|record| !delivered_intact(record))
        .collect();
    assert!(altered.is_empty(), "delivered content differs: {altered:?}");
    let right_to_left = report
        .messages
        .iter()
        .find(|record| record.line.chars().any(is_right_to_left));
    let right_to_left = right_to_left.expect("a right-to-left line was sent");
    assert!(delivered_intact(right_to_left), "{right_to_left:?}");
    let cjk = report
        .messages
        .iter()
        .find(|record| record.line.chars().any(is_cjk));
    let cjk = cjk.expect("a CJK line was sent");
    assert!(delivered_intact(cjk), "{cjk:?}");
    assert!(
        report.duration >= report.sending,
        "duration {:?} shorter than sending {:?}",
        report.duration,
        report.sending
    );
    assert!(report.duration < Duration::from_secs(120));
}
