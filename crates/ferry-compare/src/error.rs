//! One error type for every system the comparison drives.

/// What can end a comparison run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CompareError {
    /// Ferry's native API answered with an error, or could not be reached.
    #[error("ferry: {0}")]
    Ferry(#[from] ferry_client::Error),
    /// Redis answered with an error, or could not be reached.
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    /// RabbitMQ (AMQP 0-9-1) answered with an error, or could not be reached.
    #[error("rabbitmq: {0}")]
    Rabbit(#[from] lapin::Error),
    /// NATS JetStream failed; its client has an error type per call, kept here as text.
    #[error("nats: {0}")]
    Nats(String),
    /// A run did not go as the workload requires (a reply of the wrong shape, a stall).
    #[error("{0}")]
    Run(String),
}

impl CompareError {
    /// Wraps any NATS client error.
    pub fn nats(error: impl std::fmt::Display) -> CompareError {
        CompareError::Nats(error.to_string())
    }
}

/// The result type of this crate.
pub type Result<T> = std::result::Result<T, CompareError>;
