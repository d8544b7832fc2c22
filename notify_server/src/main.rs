use std::path::PathBuf;

use clap::Parser;
use notify_server::config::{Config, ENV_PREFIX};

#[derive(Parser)]
#[command(about = "Fechatter real-time delivery over Server-Sent Events")]
struct Args {
    /// YAML configuration file layered over the built-in defaults.
    #[arg(long, env = "FECHATTER_CONFIG")]
    config: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    fechatter_core::telemetry::init();
    let args = Args::parse();
    let config: Config = fechatter_core::config::load(args.config.as_deref(), ENV_PREFIX)?;
    fechatter_core::config::log_effective("notify_server", &config);
    let server = notify_server::spawn(config, async {
        fechatter_core::shutdown::signal().await;
        tracing::info!("shutting down");
    })
    .await?;
    tracing::info!(addr = %server.addr, "notify_server listening");
    server.task.await?;
    Ok(())
}
