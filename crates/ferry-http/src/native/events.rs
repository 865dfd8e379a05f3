//! Server-sent events: `GET /v1/streams/{s}/partitions/{p}/events` follows one partition, and
//! (in [`group_events`](super::group_events)) `GET /v1/streams/{s}/groups/{g}/events` consumes
//! as a group member. Both send each record as `event: record` with the record as JSON in
//! `data` and a resumable `id`, keep idle connections open with comments, and end when the
//! client goes away or the server shuts down (graceful shutdown waits for every reply, so an
//! endless one must end on its own).
//!
//! The partition feed is a plain reader: it holds no state in the broker, and a client resumes
//! exactly where it was by reconnecting with `Last-Event-ID` (a browser's `EventSource` does so
//! by itself).

use crate::error::ApiError;
use crate::extract::{PathParams, QueryParams};
use crate::native::records::{DEFAULT_MAX_BYTES, record_encode, start_offset};
use crate::native::streams::partition_param;
use crate::state::AppState;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use ferry_api::{ErrorDetail, OffsetSpec, ReadEncoding, ReadRecord};
use ferry_broker::{Broker, ErrorKind, ReadOptions, ReadOutcome, StartOffset};
use futures_util::Stream;
use serde::Deserialize;
use std::collections::VecDeque;
use std::convert::Infallible;
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;

/// How long one broker long poll of a feed lasts before the feed polls again.
pub(super) const FEED_WAIT: Duration = Duration::from_secs(15);
/// Idle time after which a keep-alive comment is sent; writing it is also how a vanished
/// client is noticed.
pub(super) const KEEP_ALIVE_INTERVAL: Duration = Duration::from_secs(15);
/// Pause after a poll that came back early and empty (the broker is stopping, or it refused
/// long polls and the feed falls back to polling), so a feed never spins.
pub(super) const EMPTY_POLL_PAUSE: Duration = Duration::from_millis(200);
/// Records fetched per broker read of a feed.
const FEED_MAX_RECORDS: u32 = 500;

/// The query of `GET …/partitions/{p}/events`.
#[derive(Clone, Copy, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PartitionEventsQuery {
    /// Where to start (default `latest`: only records appended from now on). Ignored when a
    /// `Last-Event-ID` header is present.
    offset: Option<OffsetSpec>,
}

/// Follows one partition as server-sent events, from `offset`, or from just after the
/// `Last-Event-ID` header's offset when a client reconnects.
///
/// Each record is an `event: record` whose `id` is its offset and whose `data` is the record
/// as a partition read returns it. The reply ends when the client disconnects or the server
/// shuts down; a read error after the reply started (e.g. the stream was deleted) is sent as
/// `event: error` with an error detail (`{"code", "message"}`) as data, and ends it. Errors
/// found before (unknown stream or partition, an offset past the end) are ordinary JSON error
/// replies.
pub(crate) async fn partition_events(
    State(state): State<AppState>,
    PathParams((stream, partition)): PathParams<(String, String)>,
    QueryParams(query): QueryParams<PartitionEventsQuery>,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let partition = partition_param(&partition)?;
    let from = match last_event_id(&headers)? {
        Some(id) => StartOffset::At(resume_offset(id)?),
        None => start_offset(query.offset.unwrap_or(OffsetSpec::Latest)),
    };
    // A first read without waiting, so that a bad request is an ordinary error reply.
    let first = state
        .broker
        .read(&stream, partition, feed_options(from, Duration::ZERO))
        .await?;
    let mut feed = PartitionFeed {
        broker: state.broker.clone(),
        stream,
        partition,
        next: from,
        wait: FEED_WAIT,
        pending: VecDeque::new(),
        draining: state.draining(),
        ended: false,
    };
    feed.on_read(first);
    Ok(sse(futures_util::stream::unfold(feed, |mut feed| async {
        let event = feed.next_event().await?;
        Some((Ok(event), feed))
    })))
}

/// The server-sent events reply of a feed, with keep-alive comments.
pub(super) fn sse<S>(events: S) -> Sse<impl Stream<Item = Result<Event, Infallible>>>
where
    S: Stream<Item = Result<Event, Infallible>> + Send + 'static,
{
    Sse::new(events).keep_alive(
        KeepAlive::new()
            .interval(KEEP_ALIVE_INTERVAL)
            .text("keep-alive"),
    )
}

/// The state of one partition feed between events.
struct PartitionFeed {
    broker: Broker,
    stream: String,
    partition: u32,
    /// Where the next read starts.
    next: StartOffset,
    /// The long-poll wait; zero if the broker refused long polls (its `max_wait_ms`).
    wait: Duration,
    /// Events read but not yet sent.
    pending: VecDeque<Event>,
    draining: watch::Receiver<bool>,
    /// No more reads: the server is draining or a read failed.
    ended: bool,
}

impl PartitionFeed {
    /// The next event to send, reading (and waiting) as needed; `None` ends the reply.
    async fn next_event(&mut self) -> Option<Event> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                return Some(event);
            }
            if self.ended {
                return None;
            }
            self.read().await;
        }
    }

    /// One long-poll read, cut short when the server starts draining.
    async fn read(&mut self) {
        let started = Instant::now();
        let options = feed_options(self.next, self.wait);
        let read = self.broker.read(&self.stream, self.partition, options);
        let outcome = tokio::select! {
            biased;
            _ = self.draining.wait_for(|d| *d) => {
                self.ended = true;
                return;
            }
            outcome = read => outcome,
        };
        match outcome {
            Ok(outcome) => {
                let empty = outcome.records.is_empty();
                self.on_read(outcome);
                if empty && started.elapsed() < self.wait {
                    self.pause().await;
                }
            }
            Err(e) if e.kind == ErrorKind::InvalidRequest && !self.wait.is_zero() => {
                tracing::debug!(error = %e, "partition events: the broker refused the long poll; polling instead");
                self.wait = Duration::ZERO;
            }
            Err(e) => {
                self.pending
                    .push_back(error_event(e.kind.code(), &e.message));
                self.ended = true;
            }
        }
        if self.wait.is_zero() && self.pending.is_empty() && !self.ended {
            self.pause().await;
        }
    }

    /// Queues the records of a read and moves past them.
    fn on_read(&mut self, outcome: ReadOutcome) {
        for stored in outcome.records {
            let offset = stored.offset;
            let record = record_encode(stored, None, ReadEncoding::Auto);
            self.pending
                .push_back(record_event(&record, &offset.to_string()));
        }
        self.next = StartOffset::At(outcome.next_offset);
    }

    async fn pause(&mut self) {
        if pause(&mut self.draining).await {
            self.ended = true;
        }
    }
}

/// Waits [`EMPTY_POLL_PAUSE`]; returns whether the server started draining meanwhile.
pub(super) async fn pause(draining: &mut watch::Receiver<bool>) -> bool {
    tokio::select! {
        _ = draining.wait_for(|d| *d) => true,
        () = tokio::time::sleep(EMPTY_POLL_PAUSE) => false,
    }
}

fn feed_options(from: StartOffset, wait: Duration) -> ReadOptions {
    ReadOptions {
        from,
        max_records: FEED_MAX_RECORDS,
        max_bytes: u32::try_from(DEFAULT_MAX_BYTES).unwrap_or(u32::MAX),
        wait,
    }
}

/// `event: record`, `id: <id>`, `data: <the record as JSON>`.
pub(super) fn record_event(record: &ReadRecord, id: &str) -> Event {
    match serde_json::to_string(record) {
        Ok(json) => Event::default().event("record").id(id).data(json),
        Err(e) => error_event("internal", &format!("cannot encode a record: {e}")),
    }
}

/// `event: error`, `data: {"code", "message"}`: why the reply ends.
pub(super) fn error_event(code: &str, message: &str) -> Event {
    let detail = ErrorDetail::new(code, message);
    let json = serde_json::to_string(&detail).unwrap_or_default();
    Event::default().event("error").data(json)
}

/// The `Last-Event-ID` header, if present and not blank.
pub(super) fn last_event_id(headers: &HeaderMap) -> Result<Option<&str>, ApiError> {
    let Some(value) = headers.get("last-event-id") else {
        return Ok(None);
    };
    let text = value.to_str().map_err(|_| {
        ApiError::invalid_request("the Last-Event-ID header is not visible ASCII text")
    })?;
    let text = text.trim();
    Ok((!text.is_empty()).then_some(text))
}

/// Where a partition feed resumes: just after the offset of the last record received.
fn resume_offset(id: &str) -> Result<u64, ApiError> {
    id.parse::<u64>()
        .ok()
        .and_then(|offset| offset.checked_add(1))
        .ok_or_else(|| {
            let shown: String = id.chars().take(64).collect();
            ApiError::invalid_request(format!(
                "invalid Last-Event-ID {shown:?}: expected the offset of the last record received"
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn last_event_id_resumes_after_the_offset() {
        let mut headers = HeaderMap::new();
        assert!(matches!(last_event_id(&headers), Ok(None)));
        headers.insert("Last-Event-ID", HeaderValue::from_static(" "));
        assert!(matches!(last_event_id(&headers), Ok(None)));
        headers.insert("Last-Event-ID", HeaderValue::from_static("41"));
        let id = last_event_id(&headers).ok().flatten().unwrap_or_default();
        assert!(matches!(resume_offset(id), Ok(42)));
        for bad in ["x", "-1", "18446744073709551615", "1,2"] {
            assert!(resume_offset(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn error_events_carry_an_error_detail() {
        let event = format!(
            "{:?}",
            error_event("stream_not_found", "stream \"s\" does not exist")
        );
        assert!(
            event.contains("error") && event.contains("stream_not_found"),
            "{event}"
        );
    }
}
