//! NATS JetStream: a file-storage stream per queue (work-queue retention) or per stream
//! (limits retention); publishes wait for the stream's `PubAck`; a durable pull consumer with
//! explicit acks, one `ack` per message, shared by every consumer of the queue.
//!
//! How durable a `PubAck` is depends on the server: by default JetStream syncs its files every
//! two minutes, so an acknowledged message can be lost in a power cut; `sync_interval: always`
//! (nats-server ≥ 2.10) syncs every write. The script labels the two runs.

use std::time::Duration;

use async_nats::jetstream::consumer::{AckPolicy, DeliverPolicy, PullConsumer, pull};
use async_nats::jetstream::stream::{Config, RetentionPolicy, StorageType};
use async_nats::jetstream::{self, Context, Message};
use futures_util::{FutureExt, StreamExt};

use crate::error::{CompareError, Result};
use crate::queue::{Consumer, Publisher, QueueSystem};
use crate::stream::{Appender, Reader, StreamSystem};

/// The durable pull consumer every queue consumer shares.
const DURABLE: &str = "compare";

/// A NATS server at a URL (`nats://127.0.0.1:PORT`).
#[derive(Clone, Debug)]
pub struct Nats {
    url: String,
}

impl Nats {
    /// The server at `url`.
    pub fn new(url: &str) -> Nats {
        Nats {
            url: url.to_owned(),
        }
    }

    async fn context(&self) -> Result<Context> {
        let client = async_nats::connect(&self.url)
            .await
            .map_err(CompareError::nats)?;
        Ok(jetstream::new(client))
    }

    async fn create_stream(&self, name: &str, retention: RetentionPolicy) -> Result<()> {
        let context = self.context().await?;
        // A stale stream of the same name would spoil the count.
        let _ = context.delete_stream(name).await;
        let config = Config {
            name: name.to_owned(),
            subjects: vec![subject(name)],
            storage: StorageType::File,
            retention,
            ..Config::default()
        };
        context
            .create_stream(config)
            .await
            .map_err(CompareError::nats)?;
        Ok(())
    }
}

fn subject(name: &str) -> String {
    format!("compare.{name}")
}

/// Publishes each body and waits for every `PubAck` of the call.
#[derive(Clone)]
pub struct NatsPublisher {
    context: Context,
    subject: String,
}

impl NatsPublisher {
    async fn publish_all(&self, bodies: Vec<Vec<u8>>) -> Result<()> {
        let mut acks = Vec::with_capacity(bodies.len());
        for body in bodies {
            let ack = self
                .context
                .publish(self.subject.clone(), body.into())
                .await
                .map_err(CompareError::nats)?;
            acks.push(ack);
        }
        for ack in acks {
            ack.await.map_err(CompareError::nats)?;
        }
        Ok(())
    }
}

impl Publisher for NatsPublisher {
    async fn publish(&self, bodies: Vec<Vec<u8>>) -> Result<()> {
        self.publish_all(bodies).await
    }
}

impl Appender for NatsPublisher {
    async fn append(&self, bodies: Vec<Vec<u8>>) -> Result<()> {
        self.publish_all(bodies).await
    }
}

/// A pull subscription (continuous fetches of up to the prefetch count).
pub struct NatsConsumer {
    messages: pull::Stream,
    prefetch: usize,
}

impl NatsConsumer {
    async fn take(&mut self, wait: Duration) -> Result<Vec<Message>> {
        let mut taken = Vec::new();
        let first = match tokio::time::timeout(wait, self.messages.next()).await {
            Err(_) | Ok(None) => return Ok(taken),
            Ok(Some(message)) => message.map_err(CompareError::nats)?,
        };
        taken.push(first);
        while taken.len() < self.prefetch {
            match self.messages.next().now_or_never() {
                Some(Some(message)) => taken.push(message.map_err(CompareError::nats)?),
                _ => break,
            }
        }
        Ok(taken)
    }
}

impl Consumer for NatsConsumer {
    type Acks = Vec<Message>;

    async fn receive(&mut self, wait: Duration) -> Result<(Vec<Vec<u8>>, Vec<Message>)> {
        let messages = self.take(wait).await?;
        let bodies = messages.iter().map(|m| m.payload.to_vec()).collect();
        Ok((bodies, messages))
    }

    async fn ack(&mut self, messages: Vec<Message>) -> Result<()> {
        for message in messages {
            message.ack().await.map_err(CompareError::nats)?;
        }
        Ok(())
    }

    async fn finish(&mut self) -> Result<()> {
        Ok(())
    }
}

impl Reader for NatsConsumer {
    async fn next(&mut self, wait: Duration) -> Result<Vec<Vec<u8>>> {
        let messages = self.take(wait).await?;
        Ok(messages.iter().map(|m| m.payload.to_vec()).collect())
    }
}

async fn pull_stream(consumer: &PullConsumer, prefetch: u32) -> Result<pull::Stream> {
    consumer
        .stream()
        .max_messages_per_batch(usize::try_from(prefetch).unwrap_or(usize::MAX))
        .messages()
        .await
        .map_err(CompareError::nats)
}

impl QueueSystem for Nats {
    type Publisher = NatsPublisher;
    type Consumer = NatsConsumer;

    async fn create(&self, queue: &str) -> Result<()> {
        self.create_stream(queue, RetentionPolicy::WorkQueue)
            .await?;
        let stream = self
            .context()
            .await?
            .get_stream(queue)
            .await
            .map_err(CompareError::nats)?;
        let config = pull::Config {
            durable_name: Some(DURABLE.to_owned()),
            ack_policy: AckPolicy::Explicit,
            max_ack_pending: 10_000,
            ..pull::Config::default()
        };
        stream
            .create_consumer(config)
            .await
            .map_err(CompareError::nats)?;
        Ok(())
    }

    async fn publisher(&self, queue: &str) -> Result<NatsPublisher> {
        Ok(NatsPublisher {
            context: self.context().await?,
            subject: subject(queue),
        })
    }

    async fn consumer(&self, queue: &str, prefetch: u32) -> Result<NatsConsumer> {
        let consumer: PullConsumer = self
            .context()
            .await?
            .get_stream(queue)
            .await
            .map_err(CompareError::nats)?
            .get_consumer(DURABLE)
            .await
            .map_err(CompareError::nats)?;
        Ok(NatsConsumer {
            messages: pull_stream(&consumer, prefetch).await?,
            prefetch: usize::try_from(prefetch).unwrap_or(usize::MAX),
        })
    }

    async fn delete(&self, queue: &str) -> Result<()> {
        self.context()
            .await?
            .delete_stream(queue)
            .await
            .map_err(CompareError::nats)?;
        Ok(())
    }
}

impl StreamSystem for Nats {
    type Appender = NatsPublisher;
    type Reader = NatsConsumer;

    async fn create(&self, stream: &str) -> Result<()> {
        self.create_stream(stream, RetentionPolicy::Limits).await
    }

    async fn appender(&self, stream: &str) -> Result<NatsPublisher> {
        <Nats as QueueSystem>::publisher(self, stream).await
    }

    async fn reader(&self, stream: &str, batch: u32) -> Result<NatsConsumer> {
        let stream_handle = self
            .context()
            .await?
            .get_stream(stream)
            .await
            .map_err(CompareError::nats)?;
        // An ephemeral consumer from the first message, without acks: a plain replay.
        let config = pull::Config {
            deliver_policy: DeliverPolicy::All,
            ack_policy: AckPolicy::None,
            ..pull::Config::default()
        };
        let consumer = stream_handle
            .create_consumer(config)
            .await
            .map_err(CompareError::nats)?;
        Ok(NatsConsumer {
            messages: pull_stream(&consumer, batch).await?,
            prefetch: usize::try_from(batch).unwrap_or(usize::MAX),
        })
    }

    async fn delete(&self, stream: &str) -> Result<()> {
        <Nats as QueueSystem>::delete(self, stream).await
    }
}
