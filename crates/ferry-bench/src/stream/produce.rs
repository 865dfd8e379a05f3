//! Phase 1: producers append numbered records, each keeping up to `--in-flight` append
//! requests under way, and book where every record went and how long every request took.
//!
//! The client side is kept cheap: each request body is an [`AppendRequest`] whose value
//! strings are rewritten in place for the next batch (no allocation once warm), serialised
//! once by the client, and requests go out on pooled keep-alive connections.

use super::Target;
use super::options::Settings;
use super::placement::Placements;
use super::value::ValueFormat;
use crate::error::BenchError;
use crate::run::join_all;
use crate::schedule::{Plan, Schedule};
use crate::shared::{latency_histogram, record_latency};
use ferry_client::api::{AppendRecord, AppendRequest, AppendedRecord};
use hdrhistogram::Histogram;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tokio::task::{JoinError, JoinSet};

/// What the producers did, together.
#[derive(Debug)]
pub(crate) struct Appended {
    /// Latency of every append request, microseconds.
    pub(crate) latency: Histogram<u64>,
    /// Records acknowledged.
    pub(crate) records: u64,
    /// Append requests answered.
    pub(crate) requests: u64,
    /// Where the acknowledged records went.
    pub(crate) placements: Placements,
}

/// Runs the producers until every record is appended, `stop` is set (Ctrl-C), or an append
/// fails.
///
/// # Errors
/// The first failed append ([`BenchError::StreamClient`]), or a reply that does not place
/// every record of its batch ([`BenchError::Internal`]).
pub(crate) async fn append_all(
    target: &Arc<Target>,
    settings: Settings,
    stop: &Arc<AtomicBool>,
) -> Result<Appended, BenchError> {
    let histogram = latency_histogram()?;
    let format = ValueFormat::new(settings.record_bytes);
    let handles = (0..settings.producers.get())
        .map(|producer| {
            let schedule = Schedule {
                batch: settings.batch,
                producers: settings.producers,
                producer,
                plan: Plan::Count {
                    messages: settings.records,
                },
                rate_per_s: None,
            };
            let producer = Producer {
                target: Arc::clone(target),
                schedule,
                in_flight: settings.in_flight,
                format: format.clone(),
                stop: Arc::clone(stop),
            };
            tokio::spawn(producer.run(histogram.clone()))
        })
        .collect();
    let mut total = Appended {
        latency: histogram,
        records: 0,
        requests: 0,
        placements: Placements::default(),
    };
    let mut failure = None;
    for outcome in join_all(handles).await? {
        match outcome {
            Ok(stats) => {
                total
                    .latency
                    .add(&stats.latency)
                    .map_err(|e| BenchError::Internal(format!("cannot merge histograms: {e}")))?;
                total.records += stats.records;
                total.requests += stats.requests;
                total.placements.extend(stats.placements);
            }
            Err(e) => {
                failure.get_or_insert(e);
            }
        }
    }
    failure.map_or(Ok(total), Err)
}

/// One producer: its share of the batches, its connection to the run.
struct Producer {
    target: Arc<Target>,
    schedule: Schedule,
    in_flight: usize,
    format: ValueFormat,
    /// Set on Ctrl-C, or when another producer failed.
    stop: Arc<AtomicBool>,
}

/// The reply to one append request, with the request (to be reused).
struct Reply {
    request: AppendRequest,
    /// The number of its first record.
    first: u64,
    /// From just before it was sent to its reply.
    latency: Duration,
    result: Result<Vec<AppendedRecord>, ferry_client::Error>,
}

impl Producer {
    /// Sends this producer's batches, at most `in_flight` at once. On a failure it stops the
    /// other producers too and abandons its own requests still under way.
    async fn run(self, histogram: Histogram<u64>) -> Result<Appended, BenchError> {
        let mut stats = Appended {
            latency: histogram,
            records: 0,
            requests: 0,
            placements: Placements::default(),
        };
        let mut requests: JoinSet<Reply> = JoinSet::new();
        let mut spare: Vec<AppendRequest> = Vec::with_capacity(self.in_flight);
        let outcome = self.send_all(&mut requests, &mut spare, &mut stats).await;
        let outcome = match outcome {
            Ok(()) => self.collect(&mut requests, &mut spare, &mut stats).await,
            Err(e) => Err(e),
        };
        if outcome.is_err() {
            self.stop.store(true, Ordering::Relaxed);
        }
        outcome.map(|()| stats)
    }

    async fn send_all(
        &self,
        requests: &mut JoinSet<Reply>,
        spare: &mut Vec<AppendRequest>,
        stats: &mut Appended,
    ) -> Result<(), BenchError> {
        for k in 0.. {
            if self.stop.load(Ordering::Relaxed) {
                break;
            }
            let (Some(slot), Some(first)) = (self.schedule.slot(k), self.schedule.first_message(k))
            else {
                break;
            };
            while requests.len() >= self.in_flight {
                let Some(reply) = requests.join_next().await else {
                    break;
                };
                self.on_reply(reply, spare, stats)?;
            }
            let mut request = spare.pop().unwrap_or_default();
            fill(&self.format, &mut request, first, slot.messages);
            requests.spawn(append(Arc::clone(&self.target), request, first));
        }
        Ok(())
    }

    async fn collect(
        &self,
        requests: &mut JoinSet<Reply>,
        spare: &mut Vec<AppendRequest>,
        stats: &mut Appended,
    ) -> Result<(), BenchError> {
        while let Some(reply) = requests.join_next().await {
            self.on_reply(reply, spare, stats)?;
        }
        Ok(())
    }

    /// Books one reply: placements, latency, counts; hands the request back for reuse.
    fn on_reply(
        &self,
        reply: Result<Reply, JoinError>,
        spare: &mut Vec<AppendRequest>,
        stats: &mut Appended,
    ) -> Result<(), BenchError> {
        let reply = reply
            .map_err(|e| BenchError::Internal(format!("an append task ended abnormally: {e}")))?;
        let placed = reply.result.map_err(|e| self.target.error("append", e))?;
        let sent = reply.request.records.len();
        if placed.len() != sent {
            return Err(BenchError::Internal(format!(
                "the reply to an append of {sent} records placed {}",
                placed.len()
            )));
        }
        stats.placements.book(reply.first, &placed);
        record_latency(&mut stats.latency, reply.latency);
        stats.records += placed.len() as u64;
        stats.requests += 1;
        spare.push(reply.request);
        Ok(())
    }
}

/// Makes `request` the batch of `count` records numbered from `first`, reusing its records and
/// their value strings.
fn fill(format: &ValueFormat, request: &mut AppendRequest, first: u64, count: u64) {
    let count = usize::try_from(count).unwrap_or(usize::MAX);
    request.records.truncate(count);
    request.records.resize_with(count, AppendRecord::default);
    for (number, record) in (first..).zip(&mut request.records) {
        format.write(number, record.value.get_or_insert_with(String::new));
    }
}

/// Sends one append request.
async fn append(target: Arc<Target>, request: AppendRequest, first: u64) -> Reply {
    let started = Instant::now();
    let result = target.client.append(&target.stream, &request).await;
    Reply {
        latency: started.elapsed(),
        request,
        first,
        result,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reused_request_carries_exactly_the_new_batch() {
        let format = ValueFormat::new(32);
        let mut request = AppendRequest::default();
        fill(&format, &mut request, 0, 3);
        fill(&format, &mut request, 10, 2);
        let numbers: Vec<_> = request
            .records
            .iter()
            .map(|r| format.read(r.value.as_deref()))
            .collect();
        assert_eq!(numbers, vec![Ok(10), Ok(11)]);
        assert!(
            request
                .records
                .iter()
                .all(|r| r.key.is_none() && r.partition.is_none() && r.value_base64.is_none())
        );
        fill(&format, &mut request, 20, 4);
        assert_eq!(request.records.len(), 4);
        assert_eq!(format.read(request.records[3].value.as_deref()), Ok(23));
    }
}
