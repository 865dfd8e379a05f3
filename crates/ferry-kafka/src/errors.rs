//! Kafka's error codes, and how Ferry's broker errors map onto them.

use ferry_broker::{Error, ErrorKind};

/// Kafka's numeric error codes (the ones Ferry sends).
#[allow(missing_docs)]
pub(crate) mod code {
    pub(crate) const UNKNOWN_SERVER_ERROR: i16 = -1;
    pub(crate) const NONE: i16 = 0;
    pub(crate) const OFFSET_OUT_OF_RANGE: i16 = 1;
    pub(crate) const CORRUPT_MESSAGE: i16 = 2;
    pub(crate) const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;
    pub(crate) const MESSAGE_TOO_LARGE: i16 = 10;
    pub(crate) const OFFSET_METADATA_TOO_LARGE: i16 = 12;
    pub(crate) const COORDINATOR_NOT_AVAILABLE: i16 = 15;
    pub(crate) const INVALID_TOPIC_EXCEPTION: i16 = 17;
    pub(crate) const INVALID_REQUIRED_ACKS: i16 = 21;
    pub(crate) const ILLEGAL_GENERATION: i16 = 22;
    pub(crate) const INCONSISTENT_GROUP_PROTOCOL: i16 = 23;
    pub(crate) const INVALID_GROUP_ID: i16 = 24;
    pub(crate) const UNKNOWN_MEMBER_ID: i16 = 25;
    pub(crate) const INVALID_SESSION_TIMEOUT: i16 = 26;
    pub(crate) const REBALANCE_IN_PROGRESS: i16 = 27;
    pub(crate) const UNSUPPORTED_VERSION: i16 = 35;
    pub(crate) const TOPIC_ALREADY_EXISTS: i16 = 36;
    pub(crate) const INVALID_PARTITIONS: i16 = 37;
    pub(crate) const INVALID_REPLICATION_FACTOR: i16 = 38;
    pub(crate) const INVALID_REPLICA_ASSIGNMENT: i16 = 39;
    pub(crate) const INVALID_CONFIG: i16 = 40;
    pub(crate) const INVALID_REQUEST: i16 = 42;
    pub(crate) const OUT_OF_ORDER_SEQUENCE_NUMBER: i16 = 45;
    pub(crate) const INVALID_PRODUCER_EPOCH: i16 = 47;
    pub(crate) const TRANSACTIONAL_ID_AUTHORIZATION_FAILED: i16 = 53;
    pub(crate) const KAFKA_STORAGE_ERROR: i16 = 56;
    pub(crate) const NON_EMPTY_GROUP: i16 = 68;
    pub(crate) const GROUP_ID_NOT_FOUND: i16 = 69;
    pub(crate) const MEMBER_ID_REQUIRED: i16 = 79;
    pub(crate) const GROUP_MAX_SIZE_REACHED: i16 = 81;
    pub(crate) const INVALID_RECORD: i16 = 87;
}

/// The Kafka error code for a broker error, in a context where records are written or read.
pub(crate) fn of(e: &Error) -> i16 {
    match e.kind {
        ErrorKind::StreamNotFound | ErrorKind::PartitionNotFound => {
            code::UNKNOWN_TOPIC_OR_PARTITION
        }
        ErrorKind::InvalidName => code::INVALID_TOPIC_EXCEPTION,
        ErrorKind::InvalidConfig => code::INVALID_CONFIG,
        ErrorKind::OffsetOutOfRange => code::OFFSET_OUT_OF_RANGE,
        ErrorKind::MessageTooLarge | ErrorKind::BatchTooLarge => code::MESSAGE_TOO_LARGE,
        ErrorKind::CorruptBatch => code::CORRUPT_MESSAGE,
        ErrorKind::InvalidRecord => code::INVALID_RECORD,
        ErrorKind::OutOfOrderSequence => code::OUT_OF_ORDER_SEQUENCE_NUMBER,
        ErrorKind::ProducerFenced => code::INVALID_PRODUCER_EPOCH,
        ErrorKind::UnknownMember => code::UNKNOWN_MEMBER_ID,
        ErrorKind::StaleGeneration => code::ILLEGAL_GENERATION,
        ErrorKind::RebalanceInProgress => code::REBALANCE_IN_PROGRESS,
        ErrorKind::GroupNotFound => code::GROUP_ID_NOT_FOUND,
        ErrorKind::InvalidRequest => code::INVALID_REQUEST,
        ErrorKind::Unavailable => code::KAFKA_STORAGE_ERROR,
        _ => code::UNKNOWN_SERVER_ERROR,
    }
}
