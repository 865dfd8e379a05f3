//! Why a bench run could not produce a report.

/// A failed bench run. Lost or duplicated messages are *not* errors: they are in the report.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BenchError {
    /// The options cannot work together (checked before anything is sent).
    #[error("invalid option --{option}: {reason}")]
    InvalidOption {
        /// The flag, without its dashes.
        option: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The queue named by `--queue` exists already; the bench only uses queues it creates, so
    /// that it never reconfigures, consumes or deletes someone else's messages.
    #[error("queue {queue:?} already exists; choose another --queue or delete it first")]
    QueueExists {
        /// Its name.
        queue: String,
    },
    /// A call to the server failed; the run stops at the first such failure.
    #[error("{action} on queue {queue:?} failed: {source}")]
    Client {
        /// What the bench was doing: `create`, `send`, `receive`, `ack` …
        action: &'static str,
        /// The queue it was working on.
        queue: String,
        /// The client's error, with the server's code.
        #[source]
        source: ferry_client::Error,
    },
    /// The stream named by `--stream` exists already; like queues, the bench only uses streams
    /// it creates.
    #[error("stream {stream:?} already exists; choose another --stream or delete it first")]
    StreamExists {
        /// Its name.
        stream: String,
    },
    /// A call to the server about a stream failed; the run stops at the first such failure.
    #[error("{action} on stream {stream:?} failed: {source}")]
    StreamClient {
        /// What the bench was doing: `create`, `append`, `read` …
        action: &'static str,
        /// The stream it was working on.
        stream: String,
        /// The client's error, with the server's code.
        #[source]
        source: ferry_client::Error,
    },
    /// The client could not be built (a bad `--url`).
    #[error("cannot use --url: {0}")]
    Url(#[source] ferry_client::Error),
    /// A pacing thread could not be started.
    #[error("cannot start a pacing thread: {0}")]
    Thread(#[source] std::io::Error),
    /// Something that cannot happen did: a task panicked, a histogram could not be built (a
    /// bug in the bench).
    #[error("internal error: {0}")]
    Internal(String),
    /// The report could not be written as JSON.
    #[error("cannot write the report: {0}")]
    Output(#[source] serde_json::Error),
}
