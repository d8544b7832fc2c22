use std::io::Write;
use std::path::PathBuf;

use clap::Parser;
use fechatter_server::config::{Config, ENV_PREFIX};

#[derive(Parser)]
#[command(about = "Fechatter REST API server")]
struct Args {
    /// YAML configuration file layered over the built-in defaults.
    #[arg(long, env = "FECHATTER_CONFIG")]
    config: Option<PathBuf>,
    /// Print the OpenAPI document as JSON and exit, without connecting to anything.
    #[arg(long)]
    print_openapi: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.print_openapi {
        let document = serde_json::to_string_pretty(&fechatter_server::openapi::document())?;
        writeln!(std::io::stdout().lock(), "{document}")?;
        return Ok(());
    }
    fechatter_core::telemetry::init();
    let config: Config = fechatter_core::config::load(args.config.as_deref(), ENV_PREFIX)?;
    fechatter_core::config::log_effective("fechatter_server", &config);
    let server = fechatter_server::spawn(config, async {
        fechatter_core::shutdown::signal().await;
        tracing::info!("shutting down");
    })
    .await?;
    tracing::info!(addr = %server.addr, "fechatter_server listening");
    server.task.await?;
    Ok(())
}
