//! The `ferry` binary: `ferry serve` runs the broker with its HTTP API; `ferry queue …` and
//! `ferry stream …` drive a running server through the native API. See `ferry --help`.

mod bench;
mod cli;
mod config;
mod failure;
mod output;
mod queue;
mod serve;
mod shutdown;
mod stats;
mod stream;
mod top;
mod txn;

use clap::Parser as _;
use cli::{Cli, Command};
use failure::Failure;
use std::process::ExitCode;
use std::time::Duration;

/// Server threads allocate and free across each other under load (a request's buffers are
/// made on one worker, dropped on another); glibc's malloc spent a quarter of the server's
/// CPU on that, mimalloc a fraction of it (docs/benchmarks.md, "Allocator").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match cli.command {
        Command::Serve(_) | Command::Bench(_) => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build(),
        Command::Queue(_)
        | Command::Stream(_)
        | Command::Txn(_)
        | Command::Stats(_)
        | Command::Top(_) => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build(),
    };
    let runtime = match runtime {
        Ok(runtime) => runtime,
        Err(e) => {
            return fail(&Failure::new(
                "internal",
                format!("cannot start the runtime: {e}"),
            ));
        }
    };
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Serve(args) => serve::run(args).await,
            Command::Queue(args) => queue::run(args).await,
            Command::Stream(args) => stream::run(args).await,
            Command::Bench(args) => bench::run(args).await,
            Command::Txn(args) => txn::run(args).await,
            Command::Stats(args) => stats::run(args).await,
            Command::Top(args) => top::run(args).await,
        }
    });
    runtime.shutdown_timeout(Duration::from_secs(5));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => fail(&failure),
    }
}

fn fail(failure: &Failure) -> ExitCode {
    eprintln!("error: {failure}");
    ExitCode::FAILURE
}
