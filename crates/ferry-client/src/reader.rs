//! [`PartitionReader`]: reads a partition forward with the next read already on its way.

use crate::client::{Client, decode_reply};
use crate::error::Error;
use ferry_api::{NEXT_OFFSET_HEADER, OffsetSpec, ReadQuery, ReadResponse};
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::task::JoinHandle;

/// Reads one partition forward, keeping one read ahead, as Kafka consumers fetch ahead.
///
/// As soon as a reply's headers arrive, the read of what follows (at the reply's
/// `ferry-next-offset`) is sent, so the server gathers the next records while this reader
/// takes in the last ones. Each [`PartitionReader::next`] returns one reply, in order; after
/// an error the next call reads again from where the failed reply started, so no record is
/// skipped. Dropping the reader cancels the read ahead.
#[derive(Debug)]
pub struct PartitionReader {
    client: Client,
    stream: String,
    partition: u32,
    /// The options of every read; its offset is that of the first.
    query: ReadQuery,
    /// Where the reply in hand (or the next read, when none is ahead) starts.
    at: Option<OffsetSpec>,
    /// The read of what follows the reply in hand, sent when its headers came (aborted if
    /// dropped, with the reader or a cancelled call).
    ahead: Option<AbortOnDrop>,
}

impl Client {
    /// A reader of partition `partition` of `stream` with these read options, from
    /// `query.offset` (see [`PartitionReader`]). Sends nothing until the first
    /// [`PartitionReader::next`].
    pub fn partition_reader(
        &self,
        stream: &str,
        partition: u32,
        query: ReadQuery,
    ) -> PartitionReader {
        PartitionReader {
            client: self.clone(),
            stream: stream.to_owned(),
            partition,
            at: query.offset,
            query,
            ahead: None,
        }
    }
}

impl PartitionReader {
    /// The next reply: records from where the last one ended, or none if the long poll
    /// (`wait_ms`) ran out at the end of the partition.
    ///
    /// Cancel-safe: if the returned future is dropped before it completes, the reply it was
    /// taking in is read again by the next call.
    ///
    /// # Errors
    /// As [`Client::read`]; the next call then reads the same records again.
    pub async fn next(&mut self) -> Result<ReadResponse, Error> {
        // What is ahead is taken out, so that a cancelled call drops (and aborts) it; `at` and
        // `ahead` change together at the end, once the reply in hand is whole.
        let response = match self.ahead.take() {
            Some(ahead) => match ahead.await {
                Ok(response) => response?,
                Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                Err(e) => {
                    return Err(Error::InvalidReply {
                        status: 0,
                        message: format!("the read ahead was cancelled: {e}"),
                    });
                }
            },
            None => self.send(self.at)?.await?,
        };
        let status = response.status();
        let next = response
            .headers()
            .get(NEXT_OFFSET_HEADER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        let ahead = match (status.is_success(), next) {
            (true, Some(next)) => Some(AbortOnDrop(tokio::spawn(
                self.send(Some(OffsetSpec::At(next)))?,
            ))),
            _ => None,
        };
        let bytes = response.bytes().await?;
        let read: ReadResponse = decode_reply(status, &bytes)?;
        if next.is_some_and(|n| n != read.next_offset) {
            return Err(Error::InvalidReply {
                status: status.as_u16(),
                message: format!(
                    "header {NEXT_OFFSET_HEADER} {next:?} differs from next_offset {}",
                    read.next_offset
                ),
            });
        }
        self.at = Some(OffsetSpec::At(read.next_offset));
        self.ahead = ahead;
        Ok(read)
    }

    /// A read from `offset` with the reader's options, to await or spawn.
    fn send(
        &self,
        offset: Option<OffsetSpec>,
    ) -> Result<impl Future<Output = Result<reqwest::Response, Error>> + Send + 'static, Error>
    {
        let query = ReadQuery {
            offset,
            ..self.query
        };
        let request = self
            .client
            .partition_request(&self.stream, self.partition, "records")?
            .query(&query);
        Ok(async move { Ok(request.send().await?) })
    }
}

/// A spawned read, aborted when dropped (a no-op once it has finished).
#[derive(Debug)]
struct AbortOnDrop(JoinHandle<Result<reqwest::Response, Error>>);

impl Future for AbortOnDrop {
    type Output = Result<Result<reqwest::Response, Error>, tokio::task::JoinError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.0).poll(cx)
    }
}

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
