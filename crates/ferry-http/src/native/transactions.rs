//! `POST /v1/transactions`: ack and publish as one durable command.

use super::messages::send_decode;
use super::records::append_decode;
use crate::error::ApiError;
use crate::extract::JsonBody;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use ferry_api::{PublishEntry, TransactionRequest, TransactionResponse};
use ferry_broker::{Transaction, TransactionAck, TransactionPublish};

/// Acks every lease and publishes every message and record, or does nothing.
pub(crate) async fn transact(
    State(state): State<AppState>,
    JsonBody(request): JsonBody<TransactionRequest>,
) -> Result<Json<TransactionResponse>, ApiError> {
    let acks = request
        .ack
        .into_iter()
        .map(|a| TransactionAck {
            queue: a.queue,
            receipt: a.receipt,
        })
        .collect();
    let publish = request
        .publish
        .into_iter()
        .enumerate()
        .map(|(i, entry)| publish_decode(entry).map_err(|e| e.context(&format!("publish[{i}]"))))
        .collect::<Result<_, _>>()?;
    let outcome = state.broker.transact(Transaction { acks, publish }).await?;
    Ok(Json(TransactionResponse {
        acked: outcome.acked,
        published: outcome.published,
    }))
}

fn publish_decode(entry: PublishEntry) -> Result<TransactionPublish, ApiError> {
    match entry {
        PublishEntry {
            queue: Some(queue),
            messages: Some(messages),
            stream: None,
            records: None,
        } => Ok(TransactionPublish::Messages {
            queue,
            messages: send_decode(messages)?,
        }),
        PublishEntry {
            queue: None,
            messages: None,
            stream: Some(stream),
            records: Some(records),
        } => Ok(TransactionPublish::Records {
            stream,
            records: append_decode(records)?,
        }),
        _ => Err(ApiError::invalid_request(
            "give either queue with messages, or stream with records",
        )),
    }
}
