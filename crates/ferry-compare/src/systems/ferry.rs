//! Ferry through its native HTTP/JSON API ([`ferry_client`]): batch send, long-poll receive,
//! ack by receipt; streams by append and offset reads. The server's `fsync = always` makes a
//! send's reply durable.

use std::time::Duration;

use ferry_client::api::{
    AppendRecord, AppendRequest, OffsetSpec, QueueConfig, ReadQuery, ReceiveRequest, SendEntry,
    StreamConfig,
};
use ferry_client::{Client, PartitionReader};

use crate::error::{CompareError, Result};
use crate::queue::{Consumer, PendingAck, Publisher, QueueSystem};
use crate::stream::{Appender, Reader, StreamSystem};

/// A Ferry server at a base URL.
#[derive(Clone, Debug)]
pub struct Ferry {
    url: String,
}

impl Ferry {
    /// The server at `url` (e.g. `http://127.0.0.1:7480`).
    pub fn new(url: &str) -> Ferry {
        Ferry {
            url: url.to_owned(),
        }
    }

    fn client(&self) -> Result<Client> {
        Ok(Client::new(&self.url)?)
    }
}

fn text(body: Vec<u8>) -> Result<String> {
    String::from_utf8(body).map_err(|_| CompareError::Run("bodies must be UTF-8 text".into()))
}

/// A producer: one HTTP client (its own connection pool).
#[derive(Clone, Debug)]
pub struct FerryPublisher {
    client: Client,
    queue: String,
}

impl Publisher for FerryPublisher {
    async fn publish(&self, bodies: Vec<Vec<u8>>) -> Result<()> {
        let entries = bodies
            .into_iter()
            .map(|b| text(b).map(SendEntry::text))
            .collect::<Result<Vec<_>>>()?;
        let n = entries.len();
        let sent = self.client.send(&self.queue, entries).await?;
        if sent.len() != n {
            return Err(CompareError::Run(format!(
                "ferry answered {} of {n} sends",
                sent.len()
            )));
        }
        Ok(())
    }
}

/// A consumer: long-polls, then acks each batch by its receipts in one request, sent while the
/// next receive is under way.
#[derive(Debug)]
pub struct FerryConsumer {
    client: Client,
    queue: String,
    prefetch: u32,
    pending_ack: PendingAck,
}

impl Consumer for FerryConsumer {
    type Acks = Vec<String>;

    async fn receive(&mut self, wait: Duration) -> Result<(Vec<Vec<u8>>, Vec<String>)> {
        let request = ReceiveRequest {
            max: Some(self.prefetch),
            wait_ms: Some(u64::try_from(wait.as_millis()).unwrap_or(u64::MAX)),
            ..ReceiveRequest::default()
        };
        let messages = self.client.receive(&self.queue, &request).await?;
        let mut bodies = Vec::with_capacity(messages.len());
        let mut receipts = Vec::with_capacity(messages.len());
        for message in messages {
            bodies.push(message.body.unwrap_or_default().into_bytes());
            receipts.push(message.receipt);
        }
        Ok((bodies, receipts))
    }

    async fn ack(&mut self, receipts: Vec<String>) -> Result<()> {
        let client = self.client.clone();
        let queue = self.queue.clone();
        self.pending_ack
            .start(async move {
                let n = receipts.len();
                let reply = client.ack(&queue, receipts).await?;
                let failed = reply.failed.len();
                if failed > 0 {
                    return Err(CompareError::Run(format!(
                        "ferry: {failed} of {n} acks failed"
                    )));
                }
                Ok(())
            })
            .await
    }

    async fn finish(&mut self) -> Result<()> {
        self.pending_ack.settle().await
    }
}

impl QueueSystem for Ferry {
    type Publisher = FerryPublisher;
    type Consumer = FerryConsumer;

    async fn create(&self, queue: &str) -> Result<()> {
        self.client()?
            .put_queue(queue, &QueueConfig::default())
            .await?;
        Ok(())
    }

    async fn publisher(&self, queue: &str) -> Result<FerryPublisher> {
        Ok(FerryPublisher {
            client: self.client()?,
            queue: queue.to_owned(),
        })
    }

    async fn consumer(&self, queue: &str, prefetch: u32) -> Result<FerryConsumer> {
        Ok(FerryConsumer {
            client: self.client()?,
            queue: queue.to_owned(),
            prefetch,
            pending_ack: PendingAck::default(),
        })
    }

    async fn delete(&self, queue: &str) -> Result<()> {
        Ok(self.client()?.delete_queue(queue).await?)
    }
}

/// Appends to partition 0 of a one-partition stream.
#[derive(Clone, Debug)]
pub struct FerryAppender {
    client: Client,
    stream: String,
}

impl Appender for FerryAppender {
    async fn append(&self, bodies: Vec<Vec<u8>>) -> Result<()> {
        let records = bodies
            .into_iter()
            .map(|b| text(b).map(AppendRecord::text))
            .collect::<Result<Vec<_>>>()?;
        let n = records.len();
        let request = AppendRequest {
            records,
            expected_offset: None,
        };
        let placed = self.client.append(&self.stream, &request).await?;
        if placed.len() != n {
            return Err(CompareError::Run(format!(
                "ferry placed {} of {n} records",
                placed.len()
            )));
        }
        Ok(())
    }
}

/// Reads partition 0 forward from offset 0 with a [`PartitionReader`], which keeps the next
/// read on its way while a reply is taken in (as the NATS pull consumer and the RabbitMQ
/// stream consumer have the next messages on their way).
#[derive(Debug)]
pub struct FerryReader {
    client: Client,
    stream: String,
    batch: u32,
    /// Opened at the first read, with that read's long-poll wait.
    reader: Option<PartitionReader>,
}

impl Reader for FerryReader {
    async fn next(&mut self, wait: Duration) -> Result<Vec<Vec<u8>>> {
        let (client, stream, batch) = (&self.client, &self.stream, self.batch);
        let reader = self.reader.get_or_insert_with(|| {
            let query = ReadQuery {
                offset: Some(OffsetSpec::At(0)),
                max_records: Some(batch),
                max_bytes: Some(64 << 20),
                wait_ms: Some(u64::try_from(wait.as_millis()).unwrap_or(u64::MAX)),
                ..ReadQuery::default()
            };
            client.partition_reader(stream, 0, query)
        });
        let read = reader.next().await?;
        Ok(read
            .records
            .into_iter()
            .map(|r| r.value.unwrap_or_default().into_bytes())
            .collect())
    }
}

impl StreamSystem for Ferry {
    type Appender = FerryAppender;
    type Reader = FerryReader;

    async fn create(&self, stream: &str) -> Result<()> {
        let config = StreamConfig {
            partitions: 1,
            ..StreamConfig::default()
        };
        self.client()?.put_stream(stream, &config).await?;
        Ok(())
    }

    async fn appender(&self, stream: &str) -> Result<FerryAppender> {
        Ok(FerryAppender {
            client: self.client()?,
            stream: stream.to_owned(),
        })
    }

    async fn reader(&self, stream: &str, batch: u32) -> Result<FerryReader> {
        Ok(FerryReader {
            client: self.client()?,
            stream: stream.to_owned(),
            batch,
            reader: None,
        })
    }

    async fn delete(&self, stream: &str) -> Result<()> {
        Ok(self.client()?.delete_stream(stream).await?)
    }
}
