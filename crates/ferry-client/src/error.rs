//! The client's error: the server's own code and message when it answered with an error, or
//! what kept the request from getting an answer.

use std::error::Error as _;

/// A failed client call.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The server refused the request: its status, stable code (e.g. `queue_not_found`) and
    /// message, as sent.
    #[error("{code}: {message}")]
    Api {
        /// HTTP status of the reply.
        status: u16,
        /// Stable code to branch on.
        code: String,
        /// The server's explanation.
        message: String,
        /// With `offset_mismatch`: the partition's actual next offset (see
        /// [`Error::next_offset`]).
        next_offset: Option<u64>,
    },
    /// No answer: the server could not be reached, or the connection broke.
    #[error("connection_failed: {}", chain(.0))]
    Transport(#[from] reqwest::Error),
    /// An answer that is not what the API promises (not JSON, wrong shape).
    #[error("invalid_reply: status {status}: {message}")]
    InvalidReply {
        /// HTTP status of the reply.
        status: u16,
        /// What was wrong with it.
        message: String,
    },
    /// The base URL given to [`crate::Client::new`] is unusable.
    #[error("invalid_url: {url:?}: {message}")]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// Why it cannot be used.
        message: String,
    },
}

impl Error {
    /// The server's code for [`Error::Api`], else `connection_failed`, `invalid_reply` or
    /// `invalid_url`.
    pub fn code(&self) -> &str {
        match self {
            Error::Api { code, .. } => code,
            Error::Transport(_) => "connection_failed",
            Error::InvalidReply { .. } => "invalid_reply",
            Error::InvalidUrl { .. } => "invalid_url",
        }
    }

    /// The HTTP status, when the server answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Api { status, .. } | Error::InvalidReply { status, .. } => Some(*status),
            Error::Transport(e) => e.status().map(|s| s.as_u16()),
            Error::InvalidUrl { .. } => None,
        }
    }

    /// With an `offset_mismatch` reply to an append with `expected_offset`: the offset the
    /// partition will give its next record.
    pub fn next_offset(&self) -> Option<u64> {
        match self {
            Error::Api { next_offset, .. } => *next_offset,
            _ => None,
        }
    }

    /// The message without the code.
    pub fn message(&self) -> String {
        match self {
            Error::Api { message, .. }
            | Error::InvalidReply { message, .. }
            | Error::InvalidUrl { message, .. } => message.clone(),
            Error::Transport(e) => chain(e),
        }
    }
}

/// A reqwest error and its causes on one line ("error sending request: connection refused").
fn chain(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
