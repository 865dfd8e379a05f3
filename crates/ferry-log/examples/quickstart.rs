//! Appends a few records to a log in a temporary directory, waits for them to be durable,
//! reopens the log and replays it. Measures nothing.
//!
//! Run with `cargo run -p ferry-log --example quickstart`.

use ferry_log::{Flusher, FsyncPolicy, Log, LogConfig};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let flusher = Flusher::start();
    let config = LogConfig {
        segment_bytes: 256,
        fsync: FsyncPolicy::Always,
        ..LogConfig::default()
    };

    let mut log = Log::open(dir.path(), config.clone(), &flusher)?;
    for i in 0..10u64 {
        let body = format!("message {i}");
        let appended = log.append(1_700_000_000_000 + i, 1, body.as_bytes())?;
        println!(
            "appended offset {} at {:?}",
            appended.offset, appended.location
        );
    }
    log.sync().wait()?;
    drop(log);

    let log = Log::open(dir.path(), config, &flusher)?;
    println!("reopened: {:?}", log.recovery());
    for segment in log.segments() {
        println!("segment {segment:?}");
    }
    for record in log.replay(log.start_offset())? {
        let record = record?;
        println!(
            "{} {}",
            record.offset,
            String::from_utf8_lossy(&record.payload)
        );
    }
    flusher.shutdown();
    Ok(())
}
