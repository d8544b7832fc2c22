//! Tracing setup: `RUST_LOG` filters (default `info`), `FECHATTER_LOG_FORMAT=json` switches to
//! JSON lines for log collectors.

use tracing_subscriber::EnvFilter;

pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let json = std::env::var("FECHATTER_LOG_FORMAT").is_ok_and(|value| value == "json");
    // Colour codes only help on a terminal; in files and log collectors they are noise.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi);
    // A second init (as in tests that start several services) keeps the first subscriber.
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}
