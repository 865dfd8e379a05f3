//! Parcels: messages and records a transaction publishes, stored in the acking queue's log with
//! the transaction and handed to their targets through the queue's outbox.

use super::message::Body;
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Leading byte of a parcel blob, so that a later layout can be told apart.
const PARCEL_FORMAT: u8 = 1;

/// One message or record a transaction publishes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Parcel {
    /// A message for a queue.
    Message {
        /// The target queue.
        queue: String,
        /// The payload.
        body: Body,
        /// Its attributes.
        attributes: BTreeMap<String, String>,
        /// Delay before it becomes visible, in milliseconds.
        delay_ms: Option<u64>,
        /// Absolute time before which it is not delivered.
        deliver_at: Option<Timestamp>,
        /// Producer dedup id.
        dedup_id: Option<String>,
        /// Group (ordering key).
        group: Option<String>,
        /// Priority, 0 to 9.
        priority: u8,
        /// Time to live, in milliseconds.
        ttl_ms: Option<u64>,
    },
    /// A record for a stream.
    Record {
        /// The target stream.
        stream: String,
        /// The partition; by key (keyless: partition 0) if absent.
        partition: Option<u32>,
        /// The record's key.
        key: Option<Vec<u8>>,
        /// The record's value (`None`: a tombstone).
        value: Option<Vec<u8>>,
        /// Its headers.
        headers: Vec<(String, Option<Vec<u8>>)>,
        /// The producer's time.
        timestamp: Option<Timestamp>,
    },
}

/// Why bytes are not a parcel.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("undecodable parcel: {0}")]
pub struct ParcelError(pub String);

impl Parcel {
    /// The parcel as stored: a format byte, then postcard.
    ///
    /// # Errors
    /// [`ParcelError`] if it cannot be serialised (never for well-formed parcels).
    pub fn encode(&self) -> Result<Vec<u8>, ParcelError> {
        postcard::to_extend(self, vec![PARCEL_FORMAT]).map_err(|e| ParcelError(e.to_string()))
    }

    /// Reads a parcel written by [`Parcel::encode`].
    ///
    /// # Errors
    /// [`ParcelError`] on any malformed input; never panics.
    pub fn decode(bytes: &[u8]) -> Result<Parcel, ParcelError> {
        match bytes.split_first() {
            Some((&PARCEL_FORMAT, rest)) => {
                postcard::from_bytes(rest).map_err(|e| ParcelError(e.to_string()))
            }
            Some((format, _)) => Err(ParcelError(format!("unknown format {format}"))),
            None => Err(ParcelError("empty".into())),
        }
    }

    /// Bytes of payload it carries (body, or key and value).
    pub fn payload_len(&self) -> usize {
        match self {
            Parcel::Message { body, .. } => body.bytes.len(),
            Parcel::Record { key, value, .. } => {
                key.as_ref().map_or(0, Vec::len) + value.as_ref().map_or(0, Vec::len)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parcels_round_trip() {
        let parcels = [
            Parcel::Message {
                queue: "q".into(),
                body: Body::text("hi"),
                attributes: [("a".to_owned(), "b".to_owned())].into(),
                delay_ms: Some(5),
                deliver_at: None,
                dedup_id: Some("d".into()),
                group: Some("g".into()),
                priority: 3,
                ttl_ms: None,
            },
            Parcel::Record {
                stream: "s".into(),
                partition: Some(2),
                key: Some(b"k".to_vec()),
                value: None,
                headers: vec![("h".into(), Some(vec![1]))],
                timestamp: Some(Timestamp(9)),
            },
        ];
        for parcel in parcels {
            let bytes = parcel.encode().unwrap_or_default();
            assert_eq!(bytes.first(), Some(&PARCEL_FORMAT));
            assert_eq!(Parcel::decode(&bytes), Ok(parcel));
        }
        assert!(Parcel::decode(&[]).is_err());
        assert!(Parcel::decode(&[9, 0]).is_err());
    }

    proptest! {
        #[test]
        fn garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = Parcel::decode(&bytes);
        }
    }
}
