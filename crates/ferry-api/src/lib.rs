//! The wire format of Ferry's native HTTP/JSON API (`/v1`): request and reply types shared by
//! the server (`ferry-http`) and the client (`ferry-client`), so the two cannot disagree.
//!
//! Conventions: durations are integer milliseconds in fields ending in `_ms`; times are RFC 3339
//! strings in UTC with milliseconds ([`time`]); a text body travels as `body` and a binary one as
//! `body_base64`, and comes back the way it went in ([`body`]); a stream record's key and value
//! travel likewise as `key`/`key_base64` and `value`/`value_base64` ([`streams`], and
//! [`groups`] for consumer groups); every error is
//! `{"error": {"code", "message"}}` ([`ErrorResponse`]). Request types refuse unknown fields;
//! reply types accept them, so that servers may add fields.
//!
//! This crate is *not* the server or the client, and holds no broker semantics: besides the
//! types it has only the body and time encoding helpers.
//!
//! ```
//! use ferry_api::{SendEntry, SendRequest};
//!
//! let req = SendRequest { messages: vec![SendEntry::text("hello"), SendEntry::binary(&[0, 255])] };
//! let json = serde_json::to_string(&req).unwrap();
//! assert_eq!(json, r#"{"messages":[{"body":"hello"},{"body_base64":"AP8="}]}"#);
//! ```

pub mod admin;
pub mod body;
pub mod browse;
pub mod error;
pub mod groups;
pub mod ids;
pub mod messages;
pub mod metrics;
pub mod queues;
pub mod receipts;
pub mod resequence;
pub mod streams;
mod text;
pub mod time;
pub mod transactions;

pub use admin::{Health, PurgeResponse, RedriveRequest, RedriveResponse};
pub use body::{BodyError, decode_body, encode_body};
pub use browse::{Lease, PeekQuery, PeekResponse, PeekedEntry};
pub use error::{ErrorDetail, ErrorResponse};
pub use groups::{
    CommitOffset, CommitRequest, CommitResponse, GroupDetails, GroupEventsQuery, GroupList,
    GroupMember, GroupPartition, GroupSummary, HeartbeatRequest, HeartbeatResponse, JoinRequest,
    JoinResponse, LeaveRequest, OffsetReset, PartitionOffset, PollRequest, PollResponse,
    ResetOffset, ResetRequest, ResetResponse,
};
pub use messages::{
    DeadLetter, ReceiveRequest, ReceiveResponse, ReceivedMessage, SendEntry, SendRequest,
    SendResponse, SentEntry,
};
pub use metrics::{MetricsHistory, QueueHistory, StreamHistory};
pub use queues::{QueueDetails, QueueEntry, QueueList};
pub use receipts::{AckRequest, BatchResponse, FailedReceipt, NackRequest, VisibilityRequest};
pub use resequence::{CompleteRequest, CompletionEntry, SkipGapsRequest, SkipGapsResponse};
pub use streams::{
    AppendHeader, AppendRecord, AppendRequest, AppendResponse, AppendedRecord, CompactResponse,
    DataError, NEXT_OFFSET_HEADER, OffsetForTime, OffsetForTimeQuery, OffsetSpec, OffsetSpecError,
    PartitionInfo, ReadEncoding, ReadQuery, ReadRecord, ReadResponse, RecordHeader, StreamDetails,
    StreamEntry, StreamList, decode_data, encode_data,
};
pub use transactions::{
    PublishEntry, TransactionAckEntry, TransactionRequest, TransactionResponse,
};

pub use ferry_core::queue::{
    Body, BodyEncoding, DeadLetterCause, ExpireAction, GapPolicy, MessageState, Output, Overflow,
    QueueConfig, QueueStats, ResequenceConfig, ResequenceStats,
};
pub use ferry_core::stream::{Cleanup, StreamConfig};
pub use ferry_core::{MessageId, Timestamp};
