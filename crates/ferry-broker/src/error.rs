//! The broker's one error type, and the single table that maps its kinds onto every protocol.

use std::fmt;

/// What went wrong, in terms a client can act on. Front ends map a kind onto their protocol
/// through [`ErrorKind::http_status`], [`ErrorKind::code`] and [`ErrorKind::sqs_code`] only.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The request is malformed or contradicts itself.
    InvalidRequest,
    /// A queue or stream name breaks the naming rules.
    InvalidName,
    /// A configuration value is out of range or inconsistent.
    InvalidConfig,
    /// No such queue.
    QueueNotFound,
    /// No such message (or it is already gone).
    MessageNotFound,
    /// A receipt that Ferry never issued, or for another queue.
    InvalidReceipt,
    /// A receipt whose lease has ended and whose message was delivered again (or removed).
    StaleReceipt,
    /// A body larger than the queue's `max_message_bytes`.
    MessageTooLarge,
    /// A batch with more entries or bytes than allowed.
    BatchTooLarge,
    /// The queue is at `max_length`/`max_bytes` and its overflow policy is `reject`.
    QueueFull,
    /// The request conflicts with the object's state (e.g. deleting a queue that is another's
    /// dead-letter queue, or cancelling a message in flight).
    Conflict,
    /// The broker cannot take the request now (shutting down, storage failed).
    Unavailable,
    /// A bug or an unexpected storage error.
    Internal,
    /// No such background task (e.g. a message move task).
    TaskNotFound,
    /// No such stream.
    StreamNotFound,
    /// The stream has no such partition.
    PartitionNotFound,
    /// A read asked for an offset past the end of a partition.
    OffsetOutOfRange,
    /// A conditional append's `expected_offset` is not the partition's next offset; nothing
    /// was written ([`Error::next_offset`] carries the actual one).
    OffsetMismatch,
    /// No consumer group of that name on the stream.
    GroupNotFound,
    /// The group has no such member (never joined, left, or its session expired): join again.
    UnknownMember,
    /// A member acted with an old generation: the group rebalanced since (it is fenced).
    StaleGeneration,
    /// A record batch that fails its checks (CRC, lengths, offsets, compression).
    CorruptBatch,
    /// A well-formed record the stream refuses (e.g. keyless on a compacted stream, or a
    /// transactional batch).
    InvalidRecord,
    /// An idempotent producer's batch whose sequence number is not the next one expected.
    OutOfOrderSequence,
    /// An idempotent producer with an older epoch than the partition has seen (it was
    /// replaced by a newer instance).
    ProducerFenced,
    /// The consumer group is rebalancing: rejoin.
    RebalanceInProgress,
    /// A completion for a message already completed (the first completion wins) or gone.
    AlreadyCompleted,
}

impl ErrorKind {
    /// Every kind, for documentation and tests.
    pub const ALL: [ErrorKind; 27] = [
        ErrorKind::InvalidRequest,
        ErrorKind::InvalidName,
        ErrorKind::InvalidConfig,
        ErrorKind::QueueNotFound,
        ErrorKind::MessageNotFound,
        ErrorKind::InvalidReceipt,
        ErrorKind::StaleReceipt,
        ErrorKind::MessageTooLarge,
        ErrorKind::BatchTooLarge,
        ErrorKind::QueueFull,
        ErrorKind::Conflict,
        ErrorKind::Unavailable,
        ErrorKind::Internal,
        ErrorKind::TaskNotFound,
        ErrorKind::StreamNotFound,
        ErrorKind::PartitionNotFound,
        ErrorKind::OffsetOutOfRange,
        ErrorKind::OffsetMismatch,
        ErrorKind::GroupNotFound,
        ErrorKind::UnknownMember,
        ErrorKind::StaleGeneration,
        ErrorKind::CorruptBatch,
        ErrorKind::InvalidRecord,
        ErrorKind::OutOfOrderSequence,
        ErrorKind::ProducerFenced,
        ErrorKind::RebalanceInProgress,
        ErrorKind::AlreadyCompleted,
    ];

    /// The stable snake_case code, the HTTP status and the SQS error of this kind: the one
    /// mapping table.
    fn row(self) -> (&'static str, u16, &'static str) {
        match self {
            ErrorKind::InvalidRequest => ("invalid_request", 400, "InvalidParameterValue"),
            ErrorKind::InvalidName => ("invalid_name", 400, "InvalidParameterValue"),
            ErrorKind::InvalidConfig => ("invalid_config", 400, "InvalidAttributeValue"),
            ErrorKind::QueueNotFound => ("queue_not_found", 404, "QueueDoesNotExist"),
            ErrorKind::MessageNotFound => ("message_not_found", 404, "ReceiptHandleIsInvalid"),
            ErrorKind::InvalidReceipt => ("invalid_receipt", 400, "ReceiptHandleIsInvalid"),
            ErrorKind::StaleReceipt => ("stale_receipt", 409, "MessageNotInflight"),
            ErrorKind::MessageTooLarge => ("message_too_large", 413, "InvalidParameterValue"),
            ErrorKind::BatchTooLarge => ("batch_too_large", 413, "TooManyEntriesInBatchRequest"),
            ErrorKind::QueueFull => ("queue_full", 429, "OverLimit"),
            ErrorKind::Conflict => ("conflict", 409, "InvalidParameterValue"),
            ErrorKind::Unavailable => ("unavailable", 503, "ServiceUnavailable"),
            ErrorKind::Internal => ("internal", 500, "InternalFailure"),
            ErrorKind::TaskNotFound => ("task_not_found", 404, "ResourceNotFoundException"),
            ErrorKind::StreamNotFound => ("stream_not_found", 404, "ResourceNotFoundException"),
            ErrorKind::PartitionNotFound => {
                ("partition_not_found", 404, "ResourceNotFoundException")
            }
            ErrorKind::OffsetOutOfRange => ("offset_out_of_range", 400, "InvalidParameterValue"),
            ErrorKind::OffsetMismatch => ("offset_mismatch", 409, "InvalidParameterValue"),
            ErrorKind::GroupNotFound => ("group_not_found", 404, "ResourceNotFoundException"),
            ErrorKind::UnknownMember => ("unknown_member", 404, "InvalidParameterValue"),
            ErrorKind::StaleGeneration => ("stale_generation", 409, "InvalidParameterValue"),
            ErrorKind::CorruptBatch => ("corrupt_batch", 400, "InvalidParameterValue"),
            ErrorKind::InvalidRecord => ("invalid_record", 400, "InvalidParameterValue"),
            ErrorKind::OutOfOrderSequence => {
                ("out_of_order_sequence", 409, "InvalidParameterValue")
            }
            ErrorKind::ProducerFenced => ("producer_fenced", 409, "InvalidParameterValue"),
            ErrorKind::RebalanceInProgress => {
                ("rebalance_in_progress", 409, "InvalidParameterValue")
            }
            ErrorKind::AlreadyCompleted => ("already_completed", 409, "MessageNotInflight"),
        }
    }

    /// The stable code clients match on, e.g. `queue_not_found`.
    pub fn code(self) -> &'static str {
        self.row().0
    }

    /// The HTTP status of a reply carrying this error.
    pub fn http_status(self) -> u16 {
        self.row().1
    }

    /// The SQS error this kind is reported as by the SQS-compatible API (its JSON protocol
    /// name, e.g. `QueueDoesNotExist`; the adapter knows each name's status and legacy code).
    pub fn sqs_code(self) -> &'static str {
        self.row().2
    }
}

/// A failed broker call: a kind to act on and a message for people.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct Error {
    /// What went wrong.
    pub kind: ErrorKind,
    /// Lowercase, names the object involved, e.g. `queue "orders" does not exist`.
    pub message: String,
    /// For [`ErrorKind::OffsetMismatch`]: the partition's actual next offset, so an
    /// event-sourcing writer can catch up and retry.
    pub next_offset: Option<u64>,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind.code(), self.message)
    }
}

impl Error {
    /// An error of `kind` with `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error {
            kind,
            message: message.into(),
            next_offset: None,
        }
    }

    /// `stream "<name>" does not exist`.
    pub fn stream_not_found(name: &str) -> Error {
        Error::new(
            ErrorKind::StreamNotFound,
            format!("stream {name:?} does not exist"),
        )
    }

    /// `queue "<name>" does not exist`.
    pub fn queue_not_found(name: &str) -> Error {
        Error::new(
            ErrorKind::QueueNotFound,
            format!("queue {name:?} does not exist"),
        )
    }
}

impl From<ferry_core::InvalidName> for Error {
    fn from(e: ferry_core::InvalidName) -> Error {
        Error::new(ErrorKind::InvalidName, e.to_string())
    }
}

impl From<ferry_core::queue::ConfigError> for Error {
    fn from(e: ferry_core::queue::ConfigError) -> Error {
        Error::new(ErrorKind::InvalidConfig, e.to_string())
    }
}

impl From<ferry_log::LogError> for Error {
    fn from(e: ferry_log::LogError) -> Error {
        let kind = match e {
            ferry_log::LogError::Poisoned => ErrorKind::Unavailable,
            _ => ErrorKind::Internal,
        };
        Error::new(kind, format!("storage: {e}"))
    }
}

/// Shorthand for broker results.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_snake_case_and_statuses_are_errors() {
        let mut codes: Vec<&str> = ErrorKind::ALL.iter().map(|k| k.code()).collect();
        assert!(
            codes
                .iter()
                .all(|c| c.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'))
        );
        assert!(
            ErrorKind::ALL
                .iter()
                .all(|k| (400..600).contains(&k.http_status()))
        );
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), ErrorKind::ALL.len());
    }

    #[test]
    fn sqs_codes_are_aws_names() {
        for kind in ErrorKind::ALL {
            let code = kind.sqs_code();
            assert!(
                code.starts_with(|c: char| c.is_ascii_uppercase())
                    && code.chars().all(|c| c.is_ascii_alphanumeric()),
                "{kind:?}: {code}"
            );
        }
        assert_eq!(ErrorKind::QueueNotFound.sqs_code(), "QueueDoesNotExist");
        assert_eq!(
            ErrorKind::InvalidReceipt.sqs_code(),
            "ReceiptHandleIsInvalid"
        );
    }
}
