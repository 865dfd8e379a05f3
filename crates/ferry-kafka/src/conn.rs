//! One client connection: frames requests, hands each to its handler, and writes the
//! responses in request order (Kafka clients pipeline requests and match responses by order
//! as much as by correlation id).
//!
//! A frame that cannot be a request (too short, larger than `max_request_bytes`, an unknown
//! API, an unsupported version, a body that does not decode) closes the connection after
//! logging why, as a Kafka broker does: there is no response schema to carry the error. The
//! one exception is ApiVersions at a version Ferry does not know: it is answered in v0 with
//! `UNSUPPORTED_VERSION` and Ferry's ranges, so the client can retry at a version both know.

use crate::errors::code;
use crate::request::{self, Refused};
use crate::{Context, handlers, metrics, versions};
use bytes::{Buf, BufMut, Bytes, BytesMut};
use futures_util::StreamExt;
use futures_util::stream::FuturesOrdered;
use kafka_protocol::messages::{ApiKey, ApiVersionsResponse, ResponseHeader, ResponseKind};
use kafka_protocol::protocol::Encodable;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

/// What became of one request.
pub(crate) enum Outcome {
    /// Send these bytes (a whole response frame).
    Reply(Bytes),
    /// Send nothing (a Produce with `acks=0`).
    Silent,
    /// Close the connection, for this reason.
    Close(String),
}

type Pending = Pin<Box<dyn Future<Output = Outcome> + Send>>;

/// Serves one connection until the client closes it, a frame is unacceptable, or the server
/// stops.
pub(crate) async fn run(socket: TcpStream, peer: SocketAddr, context: Arc<Context>) {
    let _open = context.config.metrics.connection();
    let mut stopping = context.stopping.clone();
    let (mut reader, mut writer) = socket.into_split();
    let mut input = BytesMut::with_capacity(64 * 1024);
    let mut in_flight: FuturesOrdered<Pending> = FuturesOrdered::new();
    let mut output = BytesMut::new();
    let max_in_flight = context.config.max_in_flight.max(1);
    let reason = loop {
        // Start the whole frames already read, up to the limit; the rest wait in `input`.
        while in_flight.len() < max_in_flight {
            match take_frame(&mut input, context.config.max_request_bytes) {
                Ok(Some(frame)) => {
                    in_flight.push_back(Box::pin(handle(Arc::clone(&context), peer, frame)));
                }
                Ok(None) => break,
                Err(reason) => {
                    // Answer what came before, then close.
                    while let Some(outcome) = in_flight.next().await {
                        if collect(outcome, &mut output).is_err() {
                            break;
                        }
                    }
                    let _ = writer.write_all(&output).await;
                    tracing::warn!(%peer, %reason, "kafka: closing connection");
                    return;
                }
            }
        }
        tokio::select! {
            done = in_flight.next(), if !in_flight.is_empty() => {
                let Some(outcome) = done else { continue };
                let mut closing = collect(outcome, &mut output).err();
                // Coalesce the responses that are already done into one write.
                while closing.is_none() {
                    match futures_util::FutureExt::now_or_never(in_flight.next()) {
                        Some(Some(outcome)) => closing = collect(outcome, &mut output).err(),
                        _ => break,
                    }
                }
                if let Err(e) = writer.write_all(&output).await {
                    break format!("write failed: {e}");
                }
                output.clear();
                if let Some(reason) = closing {
                    break reason;
                }
            }
            read = reader.read_buf(&mut input), if in_flight.len() < max_in_flight => {
                match read {
                    Ok(0) => break String::new(),
                    Ok(_) => {}
                    Err(e) => break format!("read failed: {e}"),
                }
            }
            () = crate::stopped(&mut stopping) => break String::new(),
        }
    };
    if !reason.is_empty() {
        tracing::warn!(%peer, %reason, "kafka: closing connection");
    }
}

/// Adds a reply to the output, or says why the connection must close.
fn collect(outcome: Outcome, output: &mut BytesMut) -> Result<(), String> {
    match outcome {
        Outcome::Reply(bytes) => {
            output.extend_from_slice(&bytes);
            Ok(())
        }
        Outcome::Silent => Ok(()),
        Outcome::Close(reason) => Err(reason),
    }
}

/// The most buffer room a frame still arriving is given at a time.
const RESERVE_STEP_BYTES: usize = 1 << 20;

/// Takes one whole frame (without its size prefix) off the front of `input`, if there is one.
///
/// # Errors
/// A negative size or one larger than `max_bytes`.
pub(crate) fn take_frame(input: &mut BytesMut, max_bytes: usize) -> Result<Option<Bytes>, String> {
    let Some(prefix) = input.get(..4) else {
        return Ok(None);
    };
    let size = i32::from_be_bytes([prefix[0], prefix[1], prefix[2], prefix[3]]);
    let size = usize::try_from(size).map_err(|_| format!("negative frame size {size}"))?;
    if size > max_bytes {
        return Err(format!(
            "a frame of {size} bytes is larger than the {max_bytes} bytes allowed (max_request_bytes)"
        ));
    }
    if input.len() < 4 + size {
        // Room for what is still to come, a megabyte at a time: a size prefix alone does not
        // get the whole frame's memory.
        input.reserve((4 + size - input.len()).min(RESERVE_STEP_BYTES));
        return Ok(None);
    }
    input.advance(4);
    Ok(Some(input.split_to(size).freeze()))
}

/// Decodes, handles and encodes one request, and counts it.
pub(crate) async fn handle(context: Arc<Context>, peer: SocketAddr, frame: Bytes) -> Outcome {
    let started = Instant::now();
    let (api, outcome) = match request::parse(frame) {
        Ok(request) => {
            let api = versions::name(request.key);
            let response = handlers::dispatch(&context, peer, &request.header, request.body).await;
            let outcome = match response {
                Some(response) => encode(
                    request.key,
                    request.version,
                    request.correlation_id,
                    &response,
                ),
                None => Outcome::Silent,
            };
            (api, outcome)
        }
        Err(Refused::ApiVersions { correlation_id }) => {
            ("ApiVersions", unsupported_api_versions(correlation_id))
        }
        Err(Refused::Close(reason)) => ("unknown", Outcome::Close(reason)),
    };
    let counted = match outcome {
        Outcome::Reply(_) => metrics::Outcome::Answered,
        Outcome::Silent => metrics::Outcome::Unanswered,
        Outcome::Close(_) => metrics::Outcome::Refused,
    };
    context
        .config
        .metrics
        .request(api, counted, started.elapsed());
    outcome
}

/// A whole response frame: size, header, body.
fn encode(key: ApiKey, version: i16, correlation_id: i32, response: &ResponseKind) -> Outcome {
    let mut out = BytesMut::with_capacity(256);
    out.put_i32(0);
    let mut header = ResponseHeader::default();
    header.correlation_id = correlation_id;
    let encoded = header
        .encode(&mut out, key.response_header_version(version))
        .and_then(|()| response.encode(&mut out, version));
    if let Err(e) = encoded {
        return Outcome::Close(format!(
            "cannot encode the {key:?} v{version} response: {e}"
        ));
    }
    let Ok(size) = i32::try_from(out.len() - 4) else {
        return Outcome::Close(format!("the {key:?} response is larger than 2 GiB"));
    };
    out[..4].copy_from_slice(&size.to_be_bytes());
    Outcome::Reply(out.freeze())
}

/// The v0 answer to an ApiVersions request at a version Ferry does not know.
fn unsupported_api_versions(correlation_id: i32) -> Outcome {
    let mut response = ApiVersionsResponse::default();
    response.error_code = code::UNSUPPORTED_VERSION;
    response.api_keys = handlers::api_versions::advertised();
    encode(
        ApiKey::ApiVersions,
        0,
        correlation_id,
        &ResponseKind::ApiVersions(response),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_size_prefix_alone_does_not_reserve_the_whole_frame() {
        let mut input = BytesMut::from(&(100i32 << 20).to_be_bytes()[..]);
        assert_eq!(take_frame(&mut input, 100 << 20), Ok(None));
        assert!(
            input.capacity() <= 2 * RESERVE_STEP_BYTES,
            "{}",
            input.capacity()
        );
        // A whole frame still comes out whole.
        let mut input = BytesMut::from(&3i32.to_be_bytes()[..]);
        assert_eq!(take_frame(&mut input, 10), Ok(None));
        input.extend_from_slice(b"abc");
        assert_eq!(
            take_frame(&mut input, 10),
            Ok(Some(Bytes::from_static(b"abc")))
        );
        assert!(input.is_empty());
    }
}
