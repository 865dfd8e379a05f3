//! `ferry serve`: load the config, open the broker, serve HTTP, shut down gracefully.

use crate::cli::ServeArgs;
use crate::config::{LogFormat, LogSettings, Partial, Settings, ValidConfig};
use crate::failure::Failure;
use crate::shutdown::Signals;
use ferry_broker::Broker;
use std::io::{IsTerminal as _, Write as _};
use std::net::SocketAddr;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// Merges defaults, the config file, the environment (through `env`) and the flags.
///
/// # Errors
/// A [`crate::config::ConfigError`] naming the file, variable or key at fault.
pub(crate) fn settings_load(
    args: &ServeArgs,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Settings, Failure> {
    let mut settings = Settings::default();
    if let Some(path) = &args.config {
        settings = settings.overlay(Partial::from_file(path)?);
    }
    settings = settings.overlay(Partial::from_env(env)?);
    Ok(settings.overlay(args.layer()))
}

/// Runs the server until SIGINT or SIGTERM, then shuts down gracefully.
///
/// # Errors
/// An invalid config, a broker that cannot open, an address that cannot be bound.
pub(crate) async fn run(args: ServeArgs) -> Result<(), Failure> {
    let settings = settings_load(&args, &|name| std::env::var(name).ok())?;
    let config = settings.validate()?;
    if args.print_config {
        print!("{}", config.settings.to_toml());
        return Ok(());
    }
    logging_init(&config.settings.log)?;
    log_summary(&config);
    let signals = Signals::install()?;
    let broker = Broker::open(config.broker.clone()).await?;
    let listener = match TcpListener::bind(config.listen).await {
        Ok(listener) => listener,
        Err(e) => {
            broker.shutdown().await;
            return Err(Failure::new(
                "io",
                format!("cannot listen on {}: {e}", config.listen),
            ));
        }
    };
    let addr = listener.local_addr()?;
    announce(addr)?;
    serve_until_signal(listener, broker.clone(), &config, signals).await?;
    broker.shutdown().await;
    tracing::info!("ferry stopped");
    Ok(())
}

/// The one line integration tests and scripts wait for, on stdout.
fn announce(addr: SocketAddr) -> Result<(), Failure> {
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "ferry listening http={addr}")?;
    stdout.flush()?;
    tracing::info!(%addr, "listening");
    Ok(())
}

/// Serves until the first signal, then lets requests in flight finish for up to
/// `shutdown_timeout`. A second signal stops waiting at once.
async fn serve_until_signal(
    listener: TcpListener,
    broker: Broker,
    config: &ValidConfig,
    mut signals: Signals,
) -> Result<(), Failure> {
    let (stop_tx, stop_rx) = watch::channel(0u32);
    tokio::spawn(async move {
        loop {
            let name = signals.recv().await;
            tracing::info!(signal = name, "shutdown requested");
            stop_tx.send_modify(|n| *n += 1);
        }
    });
    let server = ferry_http::serve(
        listener,
        broker,
        config.http.clone(),
        signalled(stop_rx.clone(), 1),
    );
    let grace = config.shutdown_timeout;
    let deadline = async move {
        let mut twice = stop_rx.clone();
        signalled(stop_rx, 1).await;
        tokio::select! {
            () = tokio::time::sleep(grace) => tracing::warn!(?grace, "requests in flight did not finish in time; stopping anyway"),
            () = async move { let _ = twice.wait_for(|n| *n >= 2).await; } => tracing::warn!("second signal; stopping at once"),
        }
    };
    tokio::select! {
        result = server => result.map_err(|e| Failure::new("io", format!("http server: {e}"))),
        () = deadline => Ok(()),
    }
}

/// Completes once at least `count` signals have arrived (never, if the sender is gone).
async fn signalled(mut rx: watch::Receiver<u32>, count: u32) {
    if rx.wait_for(|n| *n >= count).await.is_err() {
        std::future::pending::<()>().await;
    }
}

fn logging_init(log: &LogSettings) -> Result<(), Failure> {
    let filter = tracing_subscriber::EnvFilter::try_new(&log.filter)
        .map_err(|e| Failure::new("invalid_config", format!("log.filter: {e}")))?;
    let ansi = std::io::stderr().is_terminal();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi);
    let installed = match log.format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
    installed.map_err(|e| Failure::new("internal", format!("cannot install the logger: {e}")))
}

fn log_summary(config: &ValidConfig) {
    let s = &config.settings;
    tracing::info!(
        data_dir = %s.data_dir.display(),
        http = %s.http.listen,
        fsync = %s.fsync,
        segment_bytes = s.segment_bytes,
        max_request_bytes = s.http.max_request_bytes,
        max_batch_messages = s.max_batch_messages,
        max_receive_messages = s.max_receive_messages,
        max_wait_ms = s.max_wait_ms,
        shutdown_timeout_ms = s.shutdown_timeout_ms,
        "ferry starting",
    );
}
