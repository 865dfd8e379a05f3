//! `ferry-compare`: runs one workload against one system and prints a JSON [`RunRecord`]
//! line (`run`), or turns a file of such lines into the results JSON, a Markdown table and an
//! SVG chart (`report`). `bench/compare/run` drives it.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use ferry_compare::report::{self, RunRecord};
use ferry_compare::systems::{ferry::Ferry, nats::Nats, rabbit::Rabbit, redis::Redis};
use ferry_compare::{Result, Scale, Workload, queue, stream};

#[derive(Parser)]
#[command(about = "Same workloads against Ferry, Redis, NATS JetStream and RabbitMQ")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum System {
    Ferry,
    Redis,
    Nats,
    Rabbitmq,
}

#[derive(Subcommand)]
enum Command {
    /// Runs one workload against one running server; prints one JSON line.
    Run {
        /// Which client to use.
        #[arg(long, value_enum, ignore_case = true)]
        system: System,
        /// The server: http://…, redis://…, nats://…, amqp://….
        #[arg(long)]
        url: String,
        /// The workload.
        #[arg(long, value_enum, ignore_case = true)]
        workload: Workload,
        /// The name in results (default: the system's).
        #[arg(long)]
        label: Option<String>,
        /// Whether a confirmed publish is fsynced on this server.
        #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
        durable_per_publish: bool,
        /// Repetition number, for the record.
        #[arg(long, default_value_t = 1)]
        repetition: u32,
        /// Override the message (W1, W2) or record (W4) count.
        #[arg(long)]
        messages: Option<u64>,
        /// Override W3's rate (msgs/s).
        #[arg(long)]
        rate: Option<u64>,
        /// Override W3's length (s).
        #[arg(long)]
        duration_s: Option<u64>,
    },
    /// Aggregates run lines into medians, JSON, Markdown and SVG.
    Report {
        /// The file of JSON run lines.
        #[arg(long)]
        runs: PathBuf,
        /// A JSON object describing the machine and versions, copied into the results.
        #[arg(long)]
        meta: PathBuf,
        /// Where to write the results JSON.
        #[arg(long)]
        json: PathBuf,
        /// Where to write the Markdown table.
        #[arg(long)]
        markdown: PathBuf,
        /// Where to write the SVG chart.
        #[arg(long)]
        svg: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Run {
            system,
            url,
            workload,
            label,
            durable_per_publish,
            repetition,
            messages,
            rate,
            duration_s,
        } => {
            let scale = Scale {
                messages,
                rate,
                duration_s,
            };
            let label = label.unwrap_or_else(|| {
                System::to_possible_value(&system)
                    .map(|v| v.get_name().to_owned())
                    .unwrap_or_default()
            });
            run_one(
                system,
                &url,
                workload,
                scale,
                label,
                durable_per_publish,
                repetition,
            )
        }
        Command::Report {
            runs,
            meta,
            json,
            markdown,
            svg,
        } => write_report(&runs, &meta, &json, &markdown, &svg),
    };
    match outcome {
        Ok(clean) if clean => ExitCode::SUCCESS,
        Ok(_) => ExitCode::from(1),
        Err(error) => {
            eprintln!("ferry-compare: {error:#}");
            ExitCode::from(2)
        }
    }
}

/// Runs and prints one record; `Ok(false)` when the run failed or lost messages.
fn run_one(
    system: System,
    url: &str,
    workload: Workload,
    scale: Scale,
    label: String,
    durable_per_publish: bool,
    repetition: u32,
) -> anyhow::Result<bool> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let name = format!(
        "cmp-{}-{}",
        workload.name().to_lowercase(),
        std::process::id()
    );
    let mut record = RunRecord {
        system: label,
        durable_per_publish,
        workload: workload.name().to_owned(),
        repetition,
        queue: None,
        stream: None,
        error: None,
    };
    let result = runtime.block_on(async {
        match (workload.queue_spec(scale), workload.stream_spec(scale)) {
            (Some(spec), _) => {
                record.queue = Some(match system {
                    System::Ferry => queue::run_queue(&Ferry::new(url), &name, &spec).await?,
                    System::Redis => queue::run_queue(&Redis::new(url)?, &name, &spec).await?,
                    System::Nats => queue::run_queue(&Nats::new(url), &name, &spec).await?,
                    System::Rabbitmq => queue::run_queue(&Rabbit::new(url), &name, &spec).await?,
                });
            }
            (None, Some(spec)) => {
                record.stream = Some(match system {
                    System::Ferry => stream::run_stream(&Ferry::new(url), &name, &spec).await?,
                    System::Redis => stream::run_stream(&Redis::new(url)?, &name, &spec).await?,
                    System::Nats => stream::run_stream(&Nats::new(url), &name, &spec).await?,
                    System::Rabbitmq => stream::run_stream(&Rabbit::new(url), &name, &spec).await?,
                });
            }
            (None, None) => {}
        }
        Result::Ok(())
    });
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    if let Err(error) = result {
        record.error = Some(error.to_string());
    }
    let clean = record.error.is_none()
        && record
            .queue
            .as_ref()
            .is_none_or(|q| q.verification.is_clean())
        && record
            .stream
            .as_ref()
            .is_none_or(|s| s.verification.is_clean());
    println!("{}", serde_json::to_string(&record)?);
    Ok(clean)
}

fn write_report(
    runs: &std::path::Path,
    meta: &std::path::Path,
    json: &std::path::Path,
    markdown: &std::path::Path,
    svg: &std::path::Path,
) -> anyhow::Result<bool> {
    let records: Vec<RunRecord> = std::fs::read_to_string(runs)?
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(serde_json::from_str)
        .collect::<std::result::Result<_, _>>()?;
    let meta: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(meta)?)?;
    let medians = report::medians(&records);
    let durable: BTreeMap<String, bool> = records
        .iter()
        .map(|r| (r.system.clone(), r.durable_per_publish))
        .collect();
    let results = serde_json::json!({ "meta": meta, "medians": medians, "runs": records });
    std::fs::write(json, serde_json::to_string_pretty(&results)? + "\n")?;
    std::fs::write(markdown, report::markdown(&medians, &durable))?;
    let subtitle = meta
        .get("date")
        .and_then(|d| d.as_str())
        .unwrap_or("")
        .to_owned();
    std::fs::write(svg, report::svg(&medians, &durable, &subtitle))?;
    let clean = records.iter().all(|r| {
        r.error.is_none()
            && r.queue.as_ref().is_none_or(|q| q.verification.is_clean())
            && r.stream.as_ref().is_none_or(|s| s.verification.is_clean())
    });
    Ok(clean)
}
