//! `ferry bench …`: runs a workload from `ferry-bench` and prints its report.

use crate::cli::{BenchArgs, BenchCommand};
use crate::failure::Failure;

/// Runs the chosen workload; fails when the run could not be made or did not verify clean.
pub(crate) async fn run(args: BenchArgs) -> Result<(), Failure> {
    match args.command {
        BenchCommand::Queue(options) => {
            let report = ferry_bench::run_queue(&options)
                .await
                .map_err(|e| Failure::new("bench_failed", e.to_string()))?;
            if options.json {
                report
                    .print_json()
                    .map_err(|e| Failure::new("bench_failed", e.to_string()))?;
            } else {
                report.print_table();
            }
            if report.is_clean() {
                Ok(())
            } else {
                Err(Failure::new(
                    "verification_failed",
                    "messages were lost, duplicated or malformed (see the report)",
                ))
            }
        }
    }
}
