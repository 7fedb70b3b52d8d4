//! Boots the devserver: options, logging, store, router, listener.

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use devserver::auth::jwt::JwtKeys;
use devserver::cli::Cli;
use devserver::faults::Faults;
use devserver::store::{SeedMode, Store, StoreLocation};
use devserver::{app, simulator, AppState, ServerConfig};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| EnvFilter::new("devserver=info,tower_http=warn")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            tracing::error!("{message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<(), String> {
    let location = if cli.memory {
        StoreLocation::Memory
    } else {
        StoreLocation::DataDir(cli.data_dir.clone())
    };
    let store = Store::open(&location, SeedMode::DemoData)
        .map_err(|e| format!("cannot open the database: {e}"))?;
    let keys = JwtKeys::new(&cli.jwt_secret).map_err(|e| format!("unusable JWT secret: {e}"))?;
    let faults = Faults::new(cli.fault_settings());
    faults
        .replace(cli.fault_settings())
        .map_err(|e| format!("bad fault flags: {e}"))?;
    let anon_key = keys.anon_key().to_owned();
    let state = AppState::new(store, keys, faults, ServerConfig::default());

    if cli.simulator_enabled() {
        simulator::spawn(
            state.store.clone(),
            Duration::from_millis(cli.simulate_every_ms.max(1)),
        );
        tracing::info!(every_ms = cli.simulate_every_ms, "status simulator running");
    }

    let listener = tokio::net::TcpListener::bind((cli.host, cli.port))
        .await
        .map_err(|e| format!("cannot listen on {}:{}: {e}", cli.host, cli.port))?;
    let address = listener
        .local_addr()
        .map_err(|e| format!("cannot read the bound address: {e}"))?;
    // Scripts and tests parse this exact line; it is the one thing written to stdout.
    println!("devserver listening on http://{address} anon_key={anon_key}");
    tracing::info!(%address, memory = cli.memory, "devserver started");

    axum::serve(
        listener,
        app(state).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async {
        // If the signal handler cannot be installed, run until killed.
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
        tracing::info!("shutting down");
    })
    .await
    .map_err(|e| format!("server failed: {e}"))
}
