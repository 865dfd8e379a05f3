//! Redis Streams as a work queue and as a stream: `XADD` (pipelined), a consumer group read
//! with `XREADGROUP … >`, and `XACK` by entry id. Redis runs with `appendonly yes` and
//! `appendfsync always`, so a reply comes after the AOF write and its `fsync`.

use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::streams::StreamReadReply;
use redis::{Client, Value};

use crate::error::{CompareError, Result};
use crate::queue::{Consumer, PendingAck, Publisher, QueueSystem};
use crate::stream::{Appender, Reader, StreamSystem};

/// The consumer group every queue consumer joins.
const GROUP: &str = "compare";
/// The field each entry carries its body in.
const FIELD: &str = "b";

/// A Redis server at a URL (`redis://127.0.0.1:PORT/`).
#[derive(Clone, Debug)]
pub struct Redis {
    client: Client,
}

impl Redis {
    /// The server at `url`.
    ///
    /// # Errors
    /// A malformed URL.
    pub fn new(url: &str) -> Result<Redis> {
        Ok(Redis {
            client: Client::open(url)?,
        })
    }

    async fn connect(&self) -> Result<MultiplexedConnection> {
        Ok(self.client.get_multiplexed_async_connection().await?)
    }

    /// Removes the key (and with it a stream's entries and groups), if it exists.
    async fn del(&self, key: &str) -> Result<()> {
        let mut connection = self.connect().await?;
        let _: i64 = redis::cmd("DEL")
            .arg(key)
            .query_async(&mut connection)
            .await?;
        Ok(())
    }
}

/// Appends entries with one pipeline of `XADD`s per call.
#[derive(Clone)]
pub struct RedisPublisher {
    connection: MultiplexedConnection,
    key: String,
}

async fn xadd_all(
    connection: &MultiplexedConnection,
    key: &str,
    bodies: Vec<Vec<u8>>,
) -> Result<()> {
    let mut pipe = redis::pipe();
    for body in bodies {
        pipe.cmd("XADD").arg(key).arg("*").arg(FIELD).arg(body);
    }
    let mut connection = connection.clone();
    let _: Vec<Value> = pipe.query_async(&mut connection).await?;
    Ok(())
}

impl Publisher for RedisPublisher {
    async fn publish(&self, bodies: Vec<Vec<u8>>) -> Result<()> {
        xadd_all(&self.connection, &self.key, bodies).await
    }
}

/// A consumer of the group, by name; acks each batch with one `XACK` of its ids, sent while
/// the next read is under way (on a second connection, since a blocking read holds its own).
pub struct RedisConsumer {
    reads: MultiplexedConnection,
    acks: MultiplexedConnection,
    key: String,
    name: String,
    prefetch: u32,
    pending_ack: PendingAck,
}

fn bodies_of(reply: StreamReadReply) -> Result<(Vec<Vec<u8>>, Vec<String>)> {
    let mut bodies = Vec::new();
    let mut ids = Vec::new();
    for key in reply.keys {
        for entry in key.ids {
            match entry.map.get(FIELD) {
                Some(Value::BulkString(bytes)) => bodies.push(bytes.clone()),
                _ => return Err(CompareError::Run(format!("entry {} has no body", entry.id))),
            }
            ids.push(entry.id);
        }
    }
    Ok((bodies, ids))
}

impl Consumer for RedisConsumer {
    type Acks = Vec<String>;

    async fn receive(&mut self, wait: Duration) -> Result<(Vec<Vec<u8>>, Vec<String>)> {
        let reply: Option<StreamReadReply> = redis::cmd("XREADGROUP")
            .arg("GROUP")
            .arg(GROUP)
            .arg(&self.name)
            .arg("COUNT")
            .arg(self.prefetch)
            .arg("BLOCK")
            .arg(u64::try_from(wait.as_millis()).unwrap_or(u64::MAX).max(1))
            .arg("STREAMS")
            .arg(&self.key)
            .arg(">")
            .query_async(&mut self.reads)
            .await?;
        match reply {
            Some(reply) => bodies_of(reply),
            None => Ok((Vec::new(), Vec::new())),
        }
    }

    async fn ack(&mut self, ids: Vec<String>) -> Result<()> {
        let mut connection = self.acks.clone();
        let key = self.key.clone();
        self.pending_ack
            .start(async move {
                let n = ids.len();
                let acked: usize = redis::cmd("XACK")
                    .arg(&key)
                    .arg(GROUP)
                    .arg(&ids)
                    .query_async(&mut connection)
                    .await?;
                if acked != n {
                    return Err(CompareError::Run(format!("redis acked {acked} of {n}")));
                }
                Ok(())
            })
            .await
    }

    async fn finish(&mut self) -> Result<()> {
        self.pending_ack.settle().await
    }
}

impl QueueSystem for Redis {
    type Publisher = RedisPublisher;
    type Consumer = RedisConsumer;

    async fn create(&self, key: &str) -> Result<()> {
        let mut connection = self.connect().await?;
        let () = redis::cmd("XGROUP")
            .arg("CREATE")
            .arg(key)
            .arg(GROUP)
            .arg("$")
            .arg("MKSTREAM")
            .query_async(&mut connection)
            .await?;
        Ok(())
    }

    async fn publisher(&self, key: &str) -> Result<RedisPublisher> {
        Ok(RedisPublisher {
            connection: self.connect().await?,
            key: key.to_owned(),
        })
    }

    async fn consumer(&self, key: &str, prefetch: u32) -> Result<RedisConsumer> {
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(RedisConsumer {
            reads: self.connect().await?,
            acks: self.connect().await?,
            key: key.to_owned(),
            name: format!("c{n}"),
            prefetch,
            pending_ack: PendingAck::default(),
        })
    }

    async fn delete(&self, key: &str) -> Result<()> {
        self.del(key).await
    }
}

/// Appends with one pipeline of `XADD`s per batch.
#[derive(Clone)]
pub struct RedisAppender {
    connection: MultiplexedConnection,
    key: String,
}

impl Appender for RedisAppender {
    async fn append(&self, bodies: Vec<Vec<u8>>) -> Result<()> {
        xadd_all(&self.connection, &self.key, bodies).await
    }
}

/// Reads forward with `XREAD COUNT n STREAMS key <last id>`, from `0`.
pub struct RedisReader {
    connection: MultiplexedConnection,
    key: String,
    last_id: String,
    batch: u32,
}

impl Reader for RedisReader {
    async fn next(&mut self, _wait: Duration) -> Result<Vec<Vec<u8>>> {
        let reply: Option<StreamReadReply> = redis::cmd("XREAD")
            .arg("COUNT")
            .arg(self.batch)
            .arg("STREAMS")
            .arg(&self.key)
            .arg(&self.last_id)
            .query_async(&mut self.connection)
            .await?;
        let Some(reply) = reply else {
            return Ok(Vec::new());
        };
        let (bodies, ids) = bodies_of(reply)?;
        if let Some(last) = ids.last() {
            self.last_id.clone_from(last);
        }
        Ok(bodies)
    }
}

impl StreamSystem for Redis {
    type Appender = RedisAppender;
    type Reader = RedisReader;

    async fn create(&self, key: &str) -> Result<()> {
        self.del(key).await
    }

    async fn appender(&self, key: &str) -> Result<RedisAppender> {
        Ok(RedisAppender {
            connection: self.connect().await?,
            key: key.to_owned(),
        })
    }

    async fn reader(&self, key: &str, batch: u32) -> Result<RedisReader> {
        Ok(RedisReader {
            connection: self.connect().await?,
            key: key.to_owned(),
            last_id: "0".to_owned(),
            batch,
        })
    }

    async fn delete(&self, key: &str) -> Result<()> {
        self.del(key).await
    }
}
