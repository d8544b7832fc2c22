//! Replays the chatterbot-corpus conversations through a running Fechatter and prints what
//! arrived over the event streams. Exits with status 1 unless every delivery arrived exactly once
//! (see `Report::is_clean`).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use fechatter_e2e::demo::{self, Options};
use tracing_subscriber::EnvFilter;

#[derive(Parser)]
#[command(
    about = "Replays real multilingual conversations through Fechatter and checks every SSE delivery"
)]
struct Args {
    /// Base URL of fechatter_server.
    #[arg(long, default_value = "http://127.0.0.1:6688")]
    api: String,
    /// Base URL of notify_server.
    #[arg(long, default_value = "http://127.0.0.1:6687")]
    events: String,
    /// Data folder of the PyPI package chatterbot-corpus, with one folder per language
    /// (scripts/corpus-dir.sh installs the package and prints it).
    #[arg(long, env = "FECHATTER_CORPUS_DIR")]
    corpus: PathBuf,
    /// Comma-separated language folders to replay, such as `english,hebrew`; default all.
    #[arg(long, value_delimiter = ',')]
    languages: Vec<String>,
    /// Maximum number of conversations, taken from the languages in turn; default all.
    #[arg(long)]
    max_conversations: Option<usize>,
    /// Users to sign up, at least 3.
    #[arg(long, default_value_t = 6)]
    users: usize,
    /// Seconds to wait for outstanding deliveries after the last send.
    #[arg(long, default_value_t = 20)]
    drain_secs: u64,
}

#[tokio::main]
async fn main() -> anyhow::Result<ExitCode> {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // Logs go to stderr, so stdout carries only the report.
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();

    let languages = (!args.languages.is_empty()).then_some(args.languages.as_slice());
    let conversations = demo::load_corpus(&args.corpus, languages, args.max_conversations)
        .with_context(|| format!("failed to load the corpus from {}", args.corpus.display()))?;
    let lines: usize = conversations.iter().map(|c| c.lines.len()).sum();
    tracing::info!(conversations = conversations.len(), lines, "loaded corpus");

    let mut options = Options::new(&args.api, &args.events, conversations);
    options.users = args.users;
    options.drain_timeout = Duration::from_secs(args.drain_secs);
    let report = demo::run(options).await?;
    print!("{report}");
    if report.is_clean() {
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!(
            "demo: some deliveries were lost, duplicated, unexpected or altered, or lines failed to send"
        );
        Ok(ExitCode::FAILURE)
    }
}
