//! What a failed command prints: `error: <code>: <message>`, then a non-zero exit.

use std::fmt;

/// A failed command: a stable code and a message for people.
#[derive(Debug)]
pub(crate) struct Failure {
    /// Stable snake_case code: the server's own, or one of the CLI's (`invalid_argument`,
    /// `invalid_config`, `io`, `connection_failed` …).
    pub(crate) code: String,
    /// What went wrong.
    pub(crate) message: String,
}

impl Failure {
    /// A failure with `code` and `message`.
    pub(crate) fn new(code: &str, message: impl Into<String>) -> Failure {
        Failure {
            code: code.to_owned(),
            message: message.into(),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for Failure {}

impl From<ferry_client::Error> for Failure {
    fn from(e: ferry_client::Error) -> Failure {
        Failure::new(e.code(), e.message())
    }
}

impl From<crate::config::ConfigError> for Failure {
    fn from(e: crate::config::ConfigError) -> Failure {
        Failure::new("invalid_config", e.to_string())
    }
}

impl From<ferry_broker::Error> for Failure {
    fn from(e: ferry_broker::Error) -> Failure {
        Failure::new(e.kind.code(), e.message)
    }
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Failure {
        Failure::new("io", e.to_string())
    }
}
