//! SQS errors: every error the adapter answers, with its HTTP status, its legacy (query
//! protocol) code and its fault, written in either protocol's format.
//!
//! Broker errors reach SQS names only through the broker's table ([`ErrorKind::sqs_code`]);
//! this file knows, per SQS name, what the wire needs beside it.

use ferry_broker::{Error, ErrorKind};

/// Who is at fault, as the query protocol's `<Type>` and the `x-amzn-query-error` suffix say.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Fault {
    /// The request was wrong.
    Sender,
    /// The server failed.
    Receiver,
}

impl Fault {
    /// The word on the wire.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Fault::Sender => "Sender",
            Fault::Receiver => "Receiver",
        }
    }
}

/// One SQS error name: (JSON name, legacy query code, HTTP status, fault, JSON namespace).
struct Row {
    name: &'static str,
    legacy: &'static str,
    status: u16,
    fault: Fault,
    namespace: &'static str,
}

const SQS: &str = "com.amazonaws.sqs";
const CORAL: &str = "com.amazon.coral.service";

const fn row(name: &'static str, legacy: &'static str, status: u16) -> Row {
    Row {
        name,
        legacy,
        status,
        fault: Fault::Sender,
        namespace: SQS,
    }
}

/// What a name missing from the table is answered as (a bug: the debug build asserts).
const UNKNOWN: Row = Row {
    name: "InternalFailure",
    legacy: "InternalError",
    status: 500,
    fault: Fault::Receiver,
    namespace: SQS,
};

/// Every SQS error the adapter can answer.
const TABLE: &[Row] = &[
    row(
        "QueueDoesNotExist",
        "AWS.SimpleQueueService.NonExistentQueue",
        400,
    ),
    row("QueueNameExists", "QueueAlreadyExists", 400),
    row("InvalidParameterValue", "InvalidParameterValue", 400),
    row("MissingParameter", "MissingParameter", 400),
    row("ReceiptHandleIsInvalid", "ReceiptHandleIsInvalid", 400),
    row(
        "MessageNotInflight",
        "AWS.SimpleQueueService.MessageNotInflight",
        400,
    ),
    row(
        "TooManyEntriesInBatchRequest",
        "AWS.SimpleQueueService.TooManyEntriesInBatchRequest",
        400,
    ),
    row(
        "BatchEntryIdsNotDistinct",
        "AWS.SimpleQueueService.BatchEntryIdsNotDistinct",
        400,
    ),
    row(
        "EmptyBatchRequest",
        "AWS.SimpleQueueService.EmptyBatchRequest",
        400,
    ),
    row(
        "InvalidBatchEntryId",
        "AWS.SimpleQueueService.InvalidBatchEntryId",
        400,
    ),
    row(
        "BatchRequestTooLong",
        "AWS.SimpleQueueService.BatchRequestTooLong",
        400,
    ),
    row("InvalidMessageContents", "InvalidMessageContents", 400),
    row(
        "UnsupportedOperation",
        "AWS.SimpleQueueService.UnsupportedOperation",
        400,
    ),
    row("InvalidAttributeName", "InvalidAttributeName", 400),
    row("InvalidAttributeValue", "InvalidAttributeValue", 400),
    row("OverLimit", "OverLimit", 403),
    row(
        "ResourceNotFoundException",
        "ResourceNotFoundException",
        404,
    ),
    row("InvalidAddress", "InvalidAddress", 404),
    row("InvalidAction", "InvalidAction", 400),
    row("MissingAction", "MissingAction", 400),
    row("MalformedQueryString", "MalformedQueryString", 400),
    Row {
        name: "UnknownOperationException",
        legacy: "InvalidAction",
        status: 400,
        fault: Fault::Sender,
        namespace: CORAL,
    },
    Row {
        name: "SerializationException",
        legacy: "MalformedQueryString",
        status: 400,
        fault: Fault::Sender,
        namespace: CORAL,
    },
    Row {
        name: "InternalFailure",
        legacy: "InternalError",
        status: 500,
        fault: Fault::Receiver,
        namespace: SQS,
    },
    Row {
        name: "ServiceUnavailable",
        legacy: "ServiceUnavailable",
        status: 503,
        fault: Fault::Receiver,
        namespace: SQS,
    },
];

/// A failed SQS request: an SQS error name and a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SqsError {
    /// The JSON protocol's error name, e.g. `QueueDoesNotExist`; a key of the table.
    pub(crate) name: &'static str,
    /// For people.
    pub(crate) message: String,
}

impl SqsError {
    /// An error named `name` (one of the table's names).
    pub(crate) fn new(name: &'static str, message: impl Into<String>) -> SqsError {
        debug_assert!(TABLE.iter().any(|r| r.name == name), "{name}");
        SqsError {
            name,
            message: message.into(),
        }
    }

    /// `InvalidParameterValue`.
    pub(crate) fn invalid(message: impl Into<String>) -> SqsError {
        SqsError::new("InvalidParameterValue", message)
    }

    /// `MissingParameter` for `parameter`, worded as SQS words it.
    pub(crate) fn missing(parameter: &str) -> SqsError {
        SqsError::new(
            "MissingParameter",
            format!("The request must contain the parameter {parameter}."),
        )
    }

    /// `QueueDoesNotExist`, worded as SQS words it.
    pub(crate) fn no_queue() -> SqsError {
        SqsError::new(
            "QueueDoesNotExist",
            "The specified queue does not exist for this wsdl version.",
        )
    }

    fn row(&self) -> &'static Row {
        TABLE
            .iter()
            .find(|r| r.name == self.name)
            .unwrap_or(&UNKNOWN)
    }

    /// The HTTP status.
    pub(crate) fn status(&self) -> u16 {
        self.row().status
    }

    /// The legacy code (query protocol `<Code>`, first half of `x-amzn-query-error`).
    pub(crate) fn legacy_code(&self) -> &'static str {
        self.row().legacy
    }

    /// Who is at fault.
    pub(crate) fn fault(&self) -> Fault {
        self.row().fault
    }

    /// The JSON protocol's `__type`, e.g. `com.amazonaws.sqs#QueueDoesNotExist`.
    pub(crate) fn json_type(&self) -> String {
        format!("{}#{}", self.row().namespace, self.name)
    }

    /// The `x-amzn-query-error` header value, e.g. `QueueAlreadyExists;Sender`.
    pub(crate) fn query_error_header(&self) -> String {
        format!("{};{}", self.legacy_code(), self.fault().as_str())
    }
}

impl From<Error> for SqsError {
    fn from(e: Error) -> SqsError {
        if e.kind == ErrorKind::QueueNotFound {
            return SqsError::no_queue();
        }
        SqsError::new(e.kind.sqs_code(), e.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_broker_kind_maps_to_a_row() {
        for kind in ErrorKind::ALL {
            let e = SqsError::from(Error::new(kind, "x"));
            assert!(
                TABLE.iter().any(|r| r.name == e.name),
                "{kind:?} -> {}",
                e.name
            );
        }
    }

    #[test]
    fn names_are_unique_and_statuses_are_errors() {
        let mut names: Vec<&str> = TABLE.iter().map(|r| r.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), TABLE.len());
        assert!(TABLE.iter().all(|r| (400..600).contains(&r.status)));
    }

    #[test]
    fn wire_details_match_sqs() {
        let e = SqsError::from(Error::queue_not_found("q"));
        assert_eq!(e.json_type(), "com.amazonaws.sqs#QueueDoesNotExist");
        assert_eq!(
            e.query_error_header(),
            "AWS.SimpleQueueService.NonExistentQueue;Sender"
        );
        assert_eq!(e.status(), 400);
        let e = SqsError::new("QueueNameExists", "x");
        assert_eq!(e.legacy_code(), "QueueAlreadyExists");
        let e = SqsError::from(Error::new(ErrorKind::Internal, "boom"));
        assert_eq!((e.status(), e.fault()), (500, Fault::Receiver));
        let e = SqsError::from(Error::new(ErrorKind::QueueFull, "full"));
        assert_eq!((e.name, e.status()), ("OverLimit", 403));
        let e = SqsError::from(Error::new(ErrorKind::TaskNotFound, "t"));
        assert_eq!(e.status(), 404);
        assert_eq!(
            SqsError::missing("QueueUrl").message,
            "The request must contain the parameter QueueUrl."
        );
    }
}
