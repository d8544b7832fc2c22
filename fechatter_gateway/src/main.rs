use std::path::PathBuf;

use clap::Parser;

#[derive(Parser)]
#[command(about = "Fechatter gateway: the single HTTP entry point (default http://127.0.0.1:8080)")]
struct Args {
    /// YAML configuration file layered over the built-in defaults.
    #[arg(long, env = "FECHATTER_CONFIG")]
    config: Option<PathBuf>,
    /// Load and check the configuration, print it as JSON and exit.
    #[arg(long)]
    check_config: bool,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    fechatter_core::telemetry::init();
    let config = fechatter_gateway::config::load(args.config.as_deref())?;
    if args.check_config {
        println!("{}", serde_json::to_string_pretty(&config)?);
        return Ok(());
    }
    fechatter_core::config::log_effective("fechatter_gateway", &config);
    let listen = config.server.listen.join(", ");
    let admin = config.server.admin_listen.clone();
    let prepared = fechatter_gateway::server::prepare(config)?;
    tracing::info!(%listen, %admin, "fechatter_gateway starting");
    prepared.server.run(prepared.run_args);
    tracing::info!("fechatter_gateway stopped");
    Ok(())
}
