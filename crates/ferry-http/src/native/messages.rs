//! `POST /v1/queues/{q}/messages` (send) and `POST /v1/queues/{q}/receive`.

use crate::error::ApiError;
use crate::extract::{JsonBody, OptionalJsonBody, PathParams};
use crate::native::dead_letter;
use crate::reply::{self, SizedJson};
use crate::state::AppState;
use axum::extract::State;
use ferry_api::{
    ReceiveRequest, ReceiveResponse, ReceivedMessage, SendEntry, SendRequest, SendResponse,
    SentEntry,
};
use ferry_broker::{AckMode, Delivery, NewMessage, ReceiveOptions};
use std::time::Duration;

/// Bytes a send reply takes per message: `{"id":"…36…","seq":…,"duplicate":false},`.
const SENT_ENTRY_BYTES: usize = 80;

/// Enqueues a batch, all or nothing; answers once it is durable.
pub(crate) async fn send(
    State(state): State<AppState>,
    PathParams(name): PathParams<String>,
    JsonBody(request): JsonBody<SendRequest>,
) -> Result<SizedJson<SendResponse>, ApiError> {
    let messages = send_decode(request.messages)?;
    let sent = state.broker.send(&name, messages).await?;
    let size = sent.len() * SENT_ENTRY_BYTES + 32;
    let messages = sent
        .into_iter()
        .map(|s| SentEntry {
            id: s.id,
            seq: s.seq,
            duplicate: s.duplicate,
        })
        .collect();
    Ok(SizedJson(SendResponse { messages }, size))
}

/// Checks the whole batch before anything is sent, naming the first bad entry.
pub(super) fn send_decode(messages: Vec<SendEntry>) -> Result<Vec<NewMessage>, ApiError> {
    if messages.is_empty() {
        return Err(ApiError::invalid_request("messages must not be empty"));
    }
    messages
        .into_iter()
        .enumerate()
        .map(|(i, entry)| {
            send_decode_entry(entry)
                .map_err(|e| ApiError::invalid_request(format!("messages[{i}]: {e}")))
        })
        .collect()
}

fn send_decode_entry(entry: SendEntry) -> Result<NewMessage, ferry_api::BodyError> {
    let body = ferry_api::decode_body(entry.body, entry.body_base64)?;
    Ok(NewMessage {
        body,
        attributes: entry.attributes,
        typed_attributes: ferry_broker::TypedAttributes::default(),
        delay: entry.delay_ms.map(Duration::from_millis),
        deliver_at: entry.deliver_at,
        dedup_id: entry.dedup_id,
        group: entry.group,
        priority: entry.priority.unwrap_or(0),
        ttl: entry.ttl_ms.map(Duration::from_millis),
    })
}

/// Receives (and by default leases) up to `max` messages, long-polling up to `wait_ms`.
pub(crate) async fn receive(
    State(state): State<AppState>,
    PathParams(name): PathParams<String>,
    OptionalJsonBody(request): OptionalJsonBody<ReceiveRequest>,
) -> Result<SizedJson<ReceiveResponse>, ApiError> {
    let defaults = ReceiveOptions::default();
    let options = ReceiveOptions {
        max: request.max.unwrap_or(defaults.max),
        wait: request.wait_ms.map_or(defaults.wait, Duration::from_millis),
        visibility_timeout: request.visibility_timeout_ms.map(Duration::from_millis),
        ack_mode: if request.auto_ack.unwrap_or(false) {
            AckMode::Auto
        } else {
            AckMode::Manual
        },
        consumer: request.consumer,
        attempt_id: request.attempt_id,
    };
    let deliveries = state.broker.receive(&name, options).await?;
    let payload: usize = deliveries.iter().map(|d| d.body.bytes.len()).sum();
    let size = reply::estimate(deliveries.len(), payload);
    let messages = deliveries.into_iter().map(receive_encode).collect();
    Ok(SizedJson(ReceiveResponse { messages }, size))
}

fn receive_encode(d: Delivery) -> ReceivedMessage {
    let (body, body_base64) = ferry_api::encode_body(d.body);
    ReceivedMessage {
        id: d.id,
        seq: d.seq,
        body,
        body_base64,
        attributes: d.attributes,
        receipt: d.receipt,
        receive_count: d.receive_count,
        enqueued_at: d.enqueued_at,
        first_received_at: d.first_received_at,
        group: d.group,
        dedup_id: d.dedup_id,
        priority: d.priority,
        dead_letter: d.dead_letter.map(dead_letter),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferry_api::Body;

    fn error_of(request: SendRequest) -> String {
        send_decode(request.messages)
            .err()
            .map(|e| format!("{e:?}"))
            .unwrap_or_default()
    }

    #[test]
    fn batches_must_be_non_empty_with_one_body_each() {
        assert!(error_of(SendRequest::default()).contains("messages must not be empty"));
        let both = SendEntry {
            body: Some("a".into()),
            body_base64: Some("YQ==".into()),
            ..SendEntry::default()
        };
        let request = SendRequest {
            messages: vec![SendEntry::text("ok"), both],
        };
        assert!(
            error_of(request).contains("messages[1]: give either body or body_base64, not both")
        );
        let request = SendRequest {
            messages: vec![SendEntry::default()],
        };
        assert!(error_of(request).contains("messages[0]: one of body or body_base64 is required"));
        let request = SendRequest {
            messages: vec![SendEntry {
                body_base64: Some("%%".into()),
                ..SendEntry::default()
            }],
        };
        assert!(error_of(request).contains("messages[0]: body_base64 is not valid base64"));
    }

    #[test]
    fn entries_map_onto_new_messages() {
        let entry = SendEntry {
            delay_ms: Some(1500),
            ttl_ms: Some(60_000),
            priority: Some(7),
            ..SendEntry::binary(&[1])
        };
        let messages = send_decode(vec![entry]).unwrap_or_default();
        let m = messages.first().cloned().unwrap_or_default();
        assert_eq!(m.body, Body::binary(vec![1]));
        assert_eq!(
            (m.delay, m.ttl, m.priority),
            (
                Some(Duration::from_millis(1500)),
                Some(Duration::from_secs(60)),
                7
            )
        );
    }
}
