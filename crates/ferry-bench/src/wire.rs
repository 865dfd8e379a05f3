//! How the queue bench talks to the server: Ferry's native API, or its Amazon SQS endpoint in
//! the AWS JSON protocol (the one boto3 and the AWS SDKs speak), under the same workload.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ferry_client::Client;
use ferry_client::Error;
use ferry_client::api::{ReceiveRequest, SendEntry};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use std::time::Duration;

/// The most messages one SQS batch call (send, receive, delete) may carry.
pub const SQS_MAX_BATCH: u32 = 10;

/// The longest long poll SQS allows, in seconds.
const SQS_MAX_WAIT_S: u64 = 20;

/// Which API the producers and consumers use.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// Ferry's HTTP/JSON API: `POST …/messages`, `…/receive`, `…/ack`.
    #[default]
    Native,
    /// The SQS endpoint: `SendMessageBatch`, `ReceiveMessage`, `DeleteMessageBatch`, with
    /// bodies in base64 (SQS bodies are text).
    Sqs,
}

/// A delivery, whatever the protocol.
#[derive(Debug)]
pub(crate) struct Delivery {
    /// The body as sent, or `None` if it could not be decoded.
    pub(crate) body: Option<Vec<u8>>,
    /// What acks it.
    pub(crate) receipt: String,
}

/// The answer to an ack of a batch.
#[derive(Debug)]
pub(crate) struct Acked {
    /// How many were acked.
    pub(crate) ok: u64,
    /// The receipts the server refused.
    pub(crate) failed: Vec<String>,
}

/// The calls of a run, on one protocol.
#[derive(Clone, Debug)]
pub(crate) enum Wire {
    /// The native API.
    Native(Client),
    /// The SQS endpoint, for one queue.
    Sqs(Sqs),
}

impl Wire {
    /// The calls for `queue` (which exists) on `protocol`, at the server `url`.
    ///
    /// # Errors
    /// For SQS, a failed `GetQueueUrl`.
    pub(crate) async fn open(
        protocol: Protocol,
        client: &Client,
        url: &str,
        queue: &str,
    ) -> Result<Wire, Error> {
        match protocol {
            Protocol::Native => Ok(Wire::Native(client.clone())),
            Protocol::Sqs => Sqs::open(url, queue).await.map(Wire::Sqs),
        }
    }

    /// Sends `bodies` in one call; answers how many the server took.
    pub(crate) async fn send(&self, queue: &str, bodies: Vec<Vec<u8>>) -> Result<usize, Error> {
        match self {
            Wire::Native(client) => {
                let entries = bodies.iter().map(|b| SendEntry::binary(b)).collect();
                Ok(client.send(queue, entries).await?.len())
            }
            Wire::Sqs(sqs) => sqs.send(bodies).await,
        }
    }

    /// Receives up to `max` messages, waiting up to `wait` for the first.
    pub(crate) async fn receive(
        &self,
        queue: &str,
        max: u32,
        wait: Duration,
        consumer: &str,
    ) -> Result<Vec<Delivery>, Error> {
        match self {
            Wire::Native(client) => {
                let request = ReceiveRequest {
                    max: Some(max),
                    wait_ms: Some(u64::try_from(wait.as_millis()).unwrap_or(u64::MAX)),
                    consumer: Some(consumer.to_owned()),
                    ..ReceiveRequest::default()
                };
                let messages = client.receive(queue, &request).await?;
                Ok(messages
                    .into_iter()
                    .map(|m| Delivery {
                        body: m.decode_body().ok().map(|b| b.bytes),
                        receipt: m.receipt,
                    })
                    .collect())
            }
            Wire::Sqs(sqs) => sqs.receive(max, wait).await,
        }
    }

    /// Acks a batch by its receipts in one call.
    pub(crate) async fn ack(&self, queue: &str, receipts: Vec<String>) -> Result<Acked, Error> {
        match self {
            Wire::Native(client) => {
                let reply = client.ack(queue, receipts).await?;
                Ok(Acked {
                    ok: u64::from(reply.ok),
                    failed: reply.failed.into_iter().map(|f| f.receipt).collect(),
                })
            }
            Wire::Sqs(sqs) => sqs.delete(receipts).await,
        }
    }
}

/// An SQS client for one queue, in the AWS JSON 1.0 protocol.
#[derive(Clone, Debug)]
pub(crate) struct Sqs {
    http: reqwest::Client,
    endpoint: String,
    queue_url: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct QueueUrlReply {
    queue_url: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct BatchReply {
    #[serde(default)]
    successful: Vec<Value>,
    #[serde(default)]
    failed: Vec<BatchFailure>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct BatchFailure {
    id: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    message: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ReceiveReply {
    #[serde(default)]
    messages: Vec<SqsMessage>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SqsMessage {
    receipt_handle: String,
    body: String,
}

impl Sqs {
    /// Looks up `queue`'s URL at the server `url`.
    async fn open(url: &str, queue: &str) -> Result<Sqs, Error> {
        let mut sqs = Sqs {
            http: reqwest::Client::builder().tcp_nodelay(true).build()?,
            endpoint: format!("{}/", url.trim_end_matches('/')),
            queue_url: String::new(),
        };
        let reply: QueueUrlReply = sqs
            .call("GetQueueUrl", json!({ "QueueName": queue }))
            .await?;
        sqs.queue_url = reply.queue_url;
        Ok(sqs)
    }

    async fn send(&self, bodies: Vec<Vec<u8>>) -> Result<usize, Error> {
        let entries: Vec<Value> = bodies
            .iter()
            .enumerate()
            .map(|(i, body)| json!({ "Id": i.to_string(), "MessageBody": STANDARD.encode(body) }))
            .collect();
        let input = json!({ "QueueUrl": self.queue_url, "Entries": entries });
        let reply: BatchReply = self.call("SendMessageBatch", input).await?;
        if let Some(failure) = reply.failed.into_iter().next() {
            return Err(Error::Api {
                status: 200,
                code: failure.code,
                message: format!("entry {}: {}", failure.id, failure.message),
                next_offset: None,
            });
        }
        Ok(reply.successful.len())
    }

    async fn receive(&self, max: u32, wait: Duration) -> Result<Vec<Delivery>, Error> {
        let wait_s = wait.as_millis().div_ceil(1000);
        let input = json!({
            "QueueUrl": self.queue_url,
            "MaxNumberOfMessages": max.min(SQS_MAX_BATCH),
            "WaitTimeSeconds": u64::try_from(wait_s).unwrap_or(SQS_MAX_WAIT_S).min(SQS_MAX_WAIT_S),
        });
        let reply: ReceiveReply = self.call("ReceiveMessage", input).await?;
        Ok(reply
            .messages
            .into_iter()
            .map(|m| Delivery {
                body: STANDARD.decode(m.body).ok(),
                receipt: m.receipt_handle,
            })
            .collect())
    }

    async fn delete(&self, receipts: Vec<String>) -> Result<Acked, Error> {
        let entries: Vec<Value> = receipts
            .iter()
            .enumerate()
            .map(|(i, r)| json!({ "Id": i.to_string(), "ReceiptHandle": r }))
            .collect();
        let input = json!({ "QueueUrl": self.queue_url, "Entries": entries });
        let reply: BatchReply = self.call("DeleteMessageBatch", input).await?;
        let failed: Vec<String> = reply
            .failed
            .iter()
            .filter_map(|f| f.id.parse::<usize>().ok())
            .filter_map(|i| receipts.get(i).cloned())
            .collect();
        Ok(Acked {
            ok: reply.successful.len() as u64,
            failed,
        })
    }

    /// Calls `action` with `input`; an error reply becomes [`Error::Api`] with the SQS error
    /// name as its code.
    async fn call<T: DeserializeOwned>(&self, action: &str, input: Value) -> Result<T, Error> {
        let response = self
            .http
            .post(&self.endpoint)
            .header("x-amz-target", format!("AmazonSQS.{action}"))
            .header("content-type", "application/x-amz-json-1.0")
            .body(input.to_string())
            .send()
            .await?;
        let status = response.status().as_u16();
        let bytes = response.bytes().await?;
        if !(200..300).contains(&status) {
            let reply: Value = serde_json::from_slice(&bytes).unwrap_or_default();
            let name = reply["__type"].as_str().unwrap_or("unknown");
            return Err(Error::Api {
                status,
                code: name.rsplit('#').next().unwrap_or(name).to_owned(),
                message: reply["message"].as_str().unwrap_or_default().to_owned(),
                next_offset: None,
            });
        }
        serde_json::from_slice(&bytes).map_err(|e| Error::InvalidReply {
            status,
            message: format!("{action}: {e}"),
        })
    }
}
