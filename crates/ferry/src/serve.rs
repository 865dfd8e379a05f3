//! `ferry serve`: load the config, open the broker, serve HTTP, shut down gracefully.

use crate::cli::ServeArgs;
use crate::config::{LogFormat, LogSettings, Partial, Settings, ValidConfig};
use crate::failure::Failure;
use crate::shutdown::Signals;
use ferry_broker::Broker;
use ferry_http::Startup;
use std::io::{IsTerminal as _, Write as _};
use std::time::{Duration, Instant};
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
    // Listen before recovering, so that health checks see "live, not ready" during recovery.
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|e| Failure::new("io", format!("cannot listen on {}: {e}", config.listen)))?;
    let addr = listener.local_addr()?;
    let kafka_listener = match &config.kafka {
        Some(kafka) => Some(TcpListener::bind(kafka.listen).await.map_err(|e| {
            Failure::new(
                "io",
                format!("cannot listen for Kafka on {}: {e}", kafka.listen),
            )
        })?),
        None => None,
    };
    say(&format!("ferry recovering http={addr}"))?;
    let kafka_metrics = std::sync::Arc::new(ferry_kafka::KafkaMetrics::default());
    let mut http = config.http.clone();
    if config.kafka.is_some() {
        http = http.with_extra_metrics(kafka_metrics.registry());
    }
    let startup = Startup::new(http);
    let server = tokio::spawn(serve_until_signal(
        listener,
        startup.clone(),
        config.shutdown_timeout,
        signals,
    ));
    let started = Instant::now();
    let broker = match Broker::open(config.broker.clone()).await {
        Ok(broker) => broker,
        Err(e) => {
            server.abort();
            return Err(e.into());
        }
    };
    if let Some(path) = &args.hold_ready_while {
        while path.exists() && !server.is_finished() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    startup.open(broker.clone());
    tracing::info!(
        elapsed_ms = started.elapsed().as_millis() as u64,
        "recovery finished"
    );
    let (kafka_stop, kafka_stopping) = watch::channel(false);
    let mut announce = format!("ferry listening http={addr}");
    if let (Some(listener), Some(kafka)) = (kafka_listener, &config.kafka) {
        let bound = listener.local_addr()?;
        let mut kafka_config = ferry_kafka::KafkaConfig::new(bound);
        kafka_config.metrics = kafka_metrics;
        if let Some((host, port)) = &kafka.advertised {
            kafka_config.advertised_host.clone_from(host);
            kafka_config.advertised_port = *port;
        }
        kafka_config.auto_create_topics = kafka.auto_create_topics;
        kafka_config.default_partitions = kafka.default_partitions;
        tracing::info!(addr = %bound, advertised = %format!("{}:{}", kafka_config.advertised_host, kafka_config.advertised_port), "kafka listening");
        tokio::spawn(ferry_kafka::serve(
            listener,
            broker.clone(),
            kafka_config,
            kafka_stopping,
        ));
        announce.push_str(&format!(" kafka={bound}"));
    }
    say(&announce)?;
    tracing::info!(%addr, "listening");
    let served = match server.await {
        Ok(result) => result,
        Err(e) => Err(Failure::new("internal", format!("http server task: {e}"))),
    };
    kafka_stop.send_replace(true);
    broker.shutdown().await;
    served?;
    tracing::info!("ferry stopped");
    Ok(())
}

/// Prints one line on stdout: `ferry recovering http=<address>` once listening, then
/// `ferry listening http=<address> kafka=<address>` once ready (the line tests and scripts
/// wait for; `kafka=` only while the Kafka listener is on).
fn say(line: &str) -> Result<(), Failure> {
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{line}")?;
    stdout.flush()?;
    Ok(())
}

/// Serves until the first signal, then lets requests in flight finish for up to
/// `shutdown_timeout`. A second signal stops waiting at once.
async fn serve_until_signal(
    listener: TcpListener,
    startup: Startup,
    grace: Duration,
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
    let server =
        ferry_http::serve_startup(listener, startup.clone(), signalled(stop_rx.clone(), 1));
    let deadline = async move {
        let mut twice = stop_rx.clone();
        signalled(stop_rx, 1).await;
        // Long polls would hold the graceful shutdown for up to their wait: answer them now.
        if let Some(broker) = startup.broker() {
            broker.end_long_polls().await;
        }
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
