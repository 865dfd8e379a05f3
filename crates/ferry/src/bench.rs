//! `ferry bench …`: runs a workload from `ferry-bench` and prints its report.

use crate::cli::{BenchArgs, BenchCommand};
use crate::failure::Failure;
use ferry_bench::BenchError;

/// Runs the chosen workload; fails when the run could not be made or did not verify clean.
pub(crate) async fn run(args: BenchArgs) -> Result<(), Failure> {
    match args.command {
        BenchCommand::Queue(options) => {
            let report = ferry_bench::run_queue(&options).await.map_err(failed)?;
            let output = Output::of(options.json, || report.to_json(), || report.table());
            print(output)?;
            verdict(
                report.is_clean(),
                "messages were lost, duplicated or malformed (see the report)",
            )
        }
        BenchCommand::Stream(options) => {
            let report = ferry_bench::run_stream(&options).await.map_err(failed)?;
            let output = Output::of(options.json, || report.to_json(), || report.table());
            print(output)?;
            verdict(
                report.is_clean(),
                "records were lost, repeated, out of order or malformed (see the report)",
            )
        }
        BenchCommand::Resequence(options) => {
            let report = ferry_bench::run_resequence(&options)
                .await
                .map_err(failed)?;
            let output = Output::of(options.json, || report.to_json(), || report.table());
            print(output)?;
            verdict(
                report.is_clean(),
                "results were lost, repeated, out of order or mismatched (see the report)",
            )
        }
    }
}

/// A report, rendered.
enum Output {
    /// For scripts (`--json`).
    Json(Result<String, BenchError>),
    /// For people.
    Table(String),
}

impl Output {
    /// The JSON with `--json`, else the table.
    fn of(
        json: bool,
        to_json: impl FnOnce() -> Result<String, BenchError>,
        table: impl FnOnce() -> String,
    ) -> Output {
        if json {
            Output::Json(to_json())
        } else {
            Output::Table(table())
        }
    }
}

fn print(output: Output) -> Result<(), Failure> {
    match output {
        Output::Json(json) => println!("{}", json.map_err(failed)?),
        Output::Table(table) => print!("{table}"),
    }
    Ok(())
}

fn verdict(clean: bool, otherwise: &str) -> Result<(), Failure> {
    if clean {
        Ok(())
    } else {
        Err(Failure::new("verification_failed", otherwise))
    }
}

fn failed(e: BenchError) -> Failure {
    Failure::new("bench_failed", e.to_string())
}
