//! RabbitMQ over AMQP 0-9-1 ([`lapin`]): a durable **quorum queue** (each publish confirmed
//! once a majority — here the one node — has written it to its fsynced Raft log), publisher
//! confirms, persistent messages, consumers with a prefetch and one manual `basic.ack` per
//! delivery (`multiple = false`). Streams use a durable **stream queue** read from `first`
//! through AMQP (the stream protocol plugin is not needed for that).

use std::time::Duration;

use futures_util::{FutureExt, StreamExt};
use lapin::message::Delivery;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, BasicQosOptions,
    ConfirmSelectOptions, QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::{AMQPValue, FieldTable, LongString};
use lapin::{BasicProperties, Channel, Confirmation, Connection, ConnectionProperties};

use crate::error::{CompareError, Result};
use crate::queue::{Consumer, Publisher, QueueSystem};
use crate::stream::{Appender, Reader, StreamSystem};

/// A RabbitMQ node at an AMQP URL (`amqp://guest:guest@127.0.0.1:PORT/%2f`).
#[derive(Clone, Debug)]
pub struct Rabbit {
    url: String,
}

impl Rabbit {
    /// The node at `url`.
    pub fn new(url: &str) -> Rabbit {
        Rabbit {
            url: url.to_owned(),
        }
    }

    async fn open(&self) -> Result<(Connection, Channel)> {
        let connection = Connection::connect(&self.url, ConnectionProperties::default()).await?;
        let channel = connection.create_channel().await?;
        Ok((connection, channel))
    }

    async fn declare(&self, queue: &str, kind: &str) -> Result<()> {
        let (connection, channel) = self.open().await?;
        // A stale queue of the same name would spoil the count.
        let _ = channel
            .queue_delete(queue.into(), QueueDeleteOptions::default())
            .await;
        let channel = connection.create_channel().await?;
        let mut arguments = FieldTable::default();
        arguments.insert(
            "x-queue-type".into(),
            AMQPValue::LongString(LongString::from(kind)),
        );
        let options = QueueDeclareOptions {
            durable: true,
            ..QueueDeclareOptions::default()
        };
        channel
            .queue_declare(queue.into(), options, arguments)
            .await?;
        connection.close(200, "done".into()).await?;
        Ok(())
    }

    async fn publisher_on(&self, queue: &str) -> Result<RabbitPublisher> {
        let (connection, channel) = self.open().await?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        Ok(RabbitPublisher {
            _connection: std::sync::Arc::new(connection),
            channel,
            queue: queue.to_owned(),
        })
    }

    async fn consumer_on(
        &self,
        queue: &str,
        prefetch: u32,
        arguments: FieldTable,
    ) -> Result<RabbitConsumer> {
        let (connection, channel) = self.open().await?;
        let prefetch16 = u16::try_from(prefetch).unwrap_or(u16::MAX);
        channel
            .basic_qos(prefetch16, BasicQosOptions::default())
            .await?;
        let deliveries = channel
            .basic_consume(
                queue.into(),
                "".into(),
                BasicConsumeOptions::default(),
                arguments,
            )
            .await?;
        Ok(RabbitConsumer {
            _connection: connection,
            deliveries,
            prefetch: usize::from(prefetch16),
        })
    }
}

/// Publishes persistent messages on a confirm-mode channel; a call waits for every confirm.
#[derive(Clone)]
pub struct RabbitPublisher {
    _connection: std::sync::Arc<Connection>,
    channel: Channel,
    queue: String,
}

impl RabbitPublisher {
    async fn publish_all(&self, bodies: Vec<Vec<u8>>) -> Result<()> {
        let mut confirms = Vec::with_capacity(bodies.len());
        for body in bodies {
            let confirm = self
                .channel
                .basic_publish(
                    "".into(),
                    self.queue.as_str().into(),
                    BasicPublishOptions::default(),
                    &body,
                    BasicProperties::default().with_delivery_mode(2),
                )
                .await?;
            confirms.push(confirm);
        }
        for confirm in confirms {
            match confirm.await? {
                Confirmation::Ack(_) => {}
                other => {
                    return Err(CompareError::Run(format!(
                        "rabbitmq did not confirm a publish: {other:?}"
                    )));
                }
            }
        }
        Ok(())
    }
}

impl Publisher for RabbitPublisher {
    async fn publish(&self, bodies: Vec<Vec<u8>>) -> Result<()> {
        self.publish_all(bodies).await
    }
}

impl Appender for RabbitPublisher {
    async fn append(&self, bodies: Vec<Vec<u8>>) -> Result<()> {
        self.publish_all(bodies).await
    }
}

/// A consumer with a prefetch window.
pub struct RabbitConsumer {
    _connection: Connection,
    deliveries: lapin::Consumer,
    prefetch: usize,
}

impl RabbitConsumer {
    async fn take(&mut self, wait: Duration) -> Result<Vec<Delivery>> {
        let mut taken = Vec::new();
        match tokio::time::timeout(wait, self.deliveries.next()).await {
            Err(_) | Ok(None) => return Ok(taken),
            Ok(Some(delivery)) => taken.push(delivery?),
        }
        while taken.len() < self.prefetch {
            match self.deliveries.next().now_or_never() {
                Some(Some(delivery)) => taken.push(delivery?),
                _ => break,
            }
        }
        Ok(taken)
    }
}

impl Consumer for RabbitConsumer {
    type Acks = Vec<Delivery>;

    async fn receive(&mut self, wait: Duration) -> Result<(Vec<Vec<u8>>, Vec<Delivery>)> {
        let mut deliveries = self.take(wait).await?;
        let bodies = deliveries
            .iter_mut()
            .map(|d| std::mem::take(&mut d.data))
            .collect();
        Ok((bodies, deliveries))
    }

    async fn ack(&mut self, deliveries: Vec<Delivery>) -> Result<()> {
        for delivery in deliveries {
            delivery.acker.ack(BasicAckOptions::default()).await?;
        }
        Ok(())
    }

    async fn finish(&mut self) -> Result<()> {
        Ok(())
    }
}

impl Reader for RabbitConsumer {
    async fn next(&mut self, wait: Duration) -> Result<Vec<Vec<u8>>> {
        let mut deliveries = self.take(wait).await?;
        // A stream consumer's acks only return credit: ack the batch at once.
        if let Some(last) = deliveries.last() {
            last.acker.ack(BasicAckOptions { multiple: true }).await?;
        }
        Ok(deliveries
            .iter_mut()
            .map(|d| std::mem::take(&mut d.data))
            .collect())
    }
}

impl QueueSystem for Rabbit {
    type Publisher = RabbitPublisher;
    type Consumer = RabbitConsumer;

    async fn create(&self, queue: &str) -> Result<()> {
        self.declare(queue, "quorum").await
    }

    async fn publisher(&self, queue: &str) -> Result<RabbitPublisher> {
        self.publisher_on(queue).await
    }

    async fn consumer(&self, queue: &str, prefetch: u32) -> Result<RabbitConsumer> {
        self.consumer_on(queue, prefetch, FieldTable::default())
            .await
    }

    async fn delete(&self, queue: &str) -> Result<()> {
        let (connection, channel) = self.open().await?;
        channel
            .queue_delete(queue.into(), QueueDeleteOptions::default())
            .await?;
        connection.close(200, "done".into()).await?;
        Ok(())
    }
}

impl StreamSystem for Rabbit {
    type Appender = RabbitPublisher;
    type Reader = RabbitConsumer;

    async fn create(&self, stream: &str) -> Result<()> {
        self.declare(stream, "stream").await
    }

    async fn appender(&self, stream: &str) -> Result<RabbitPublisher> {
        self.publisher_on(stream).await
    }

    async fn reader(&self, stream: &str, batch: u32) -> Result<RabbitConsumer> {
        let mut arguments = FieldTable::default();
        arguments.insert(
            "x-stream-offset".into(),
            AMQPValue::LongString(LongString::from("first")),
        );
        self.consumer_on(stream, batch, arguments).await
    }

    async fn delete(&self, stream: &str) -> Result<()> {
        <Rabbit as QueueSystem>::delete(self, stream).await
    }
}
