//! [`Client`]: one method per route of the native API.

use crate::error::Error;
use bytes::Bytes;
use ferry_api::{
    AckRequest, BatchResponse, CompleteRequest, CompletionEntry, ErrorResponse, Health, MessageId,
    NackRequest, PeekResponse, PeekedEntry, PurgeResponse, QueueConfig, QueueDetails, QueueEntry,
    QueueList, ReceiveRequest, ReceiveResponse, ReceivedMessage, RedriveRequest, RedriveResponse,
    SendEntry, SendRequest, SendResponse, SentEntry, SkipGapsRequest, SkipGapsResponse,
    TransactionRequest, TransactionResponse, VisibilityRequest,
};
use reqwest::{Method, RequestBuilder, StatusCode, Url};
use serde::de::DeserializeOwned;
use std::time::Duration;

/// How long to wait for a TCP connection before giving up.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A handle on one Ferry server; cheap to clone (connections are pooled and shared).
#[derive(Clone, Debug)]
pub struct Client {
    http: reqwest::Client,
    base: Url,
}

/// What `put_queue` did.
#[derive(Clone, Debug, PartialEq)]
pub struct PutOutcome {
    /// Whether the queue was new (201) rather than updated (200).
    pub created: bool,
    /// The queue's name and config as stored.
    pub queue: QueueEntry,
}

impl Client {
    /// A client of the server at `base_url`, e.g. `http://127.0.0.1:7480`.
    ///
    /// # Errors
    /// [`Error::InvalidUrl`] if it is not an absolute `http` URL.
    pub fn new(base_url: &str) -> Result<Client, Error> {
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .build()?;
        Client::with_http_client(base_url, http)
    }

    /// The same, with a `reqwest` client configured by the caller (timeouts, pool, proxy).
    ///
    /// # Errors
    /// [`Error::InvalidUrl`] if `base_url` is not an absolute `http` URL.
    pub fn with_http_client(base_url: &str, http: reqwest::Client) -> Result<Client, Error> {
        let refuse = |message: String| Error::InvalidUrl {
            url: base_url.to_owned(),
            message,
        };
        let base = Url::parse(base_url).map_err(|e| refuse(e.to_string()))?;
        if base.scheme() != "http" {
            return Err(refuse(format!(
                "scheme {:?} is not supported (only http)",
                base.scheme()
            )));
        }
        if base.cannot_be_a_base() {
            return Err(refuse("not a base URL".to_owned()));
        }
        Ok(Client { http, base })
    }

    /// The server's base URL.
    pub fn base_url(&self) -> &Url {
        &self.base
    }

    /// Creates the queue or replaces its whole config (`PUT /v1/queues/{q}`).
    ///
    /// # Errors
    /// [`Error::Api`] with e.g. `invalid_name` or `invalid_config`; transport errors.
    pub async fn put_queue(&self, name: &str, config: &QueueConfig) -> Result<PutOutcome, Error> {
        let request = self
            .request(Method::PUT, &["v1", "queues", name])?
            .json(config);
        let (status, queue) = self.call::<QueueEntry>(request).await?;
        Ok(PutOutcome {
            created: status == StatusCode::CREATED,
            queue,
        })
    }

    /// Every queue with its config (`GET /v1/queues`).
    ///
    /// # Errors
    /// Transport errors, or an invalid reply.
    pub async fn list_queues(&self) -> Result<Vec<QueueEntry>, Error> {
        let request = self.request(Method::GET, &["v1", "queues"])?;
        Ok(self.call::<QueueList>(request).await?.1.queues)
    }

    /// A queue's config, stats and dead-letter sources (`GET /v1/queues/{q}`).
    ///
    /// # Errors
    /// [`Error::Api`] with `queue_not_found`; transport errors.
    pub async fn queue_info(&self, name: &str) -> Result<QueueDetails, Error> {
        let request = self.request(Method::GET, &["v1", "queues", name])?;
        Ok(self.call(request).await?.1)
    }

    /// Deletes the queue and its messages (`DELETE /v1/queues/{q}`).
    ///
    /// # Errors
    /// [`Error::Api`] with `queue_not_found` or `conflict`; transport errors.
    pub async fn delete_queue(&self, name: &str) -> Result<(), Error> {
        let request = self.request(Method::DELETE, &["v1", "queues", name])?;
        self.call_no_content(request).await
    }

    /// Enqueues a batch, all or nothing; answers once durable (`POST /v1/queues/{q}/messages`).
    ///
    /// # Errors
    /// [`Error::Api`] with e.g. `invalid_request`, `message_too_large`, `queue_full`.
    pub async fn send(
        &self,
        name: &str,
        messages: Vec<SendEntry>,
    ) -> Result<Vec<SentEntry>, Error> {
        let request = self
            .request(Method::POST, &["v1", "queues", name, "messages"])?
            .json(&SendRequest { messages });
        Ok(self.call::<SendResponse>(request).await?.1.messages)
    }

    /// Receives messages, long-polling up to `wait_ms` (`POST /v1/queues/{q}/receive`).
    ///
    /// # Errors
    /// [`Error::Api`] with e.g. `queue_not_found`; transport errors.
    pub async fn receive(
        &self,
        name: &str,
        options: &ReceiveRequest,
    ) -> Result<Vec<ReceivedMessage>, Error> {
        let request = self
            .request(Method::POST, &["v1", "queues", name, "receive"])?
            .json(options);
        Ok(self.call::<ReceiveResponse>(request).await?.1.messages)
    }

    /// Acks (deletes) leased messages (`POST /v1/queues/{q}/ack`).
    ///
    /// # Errors
    /// [`Error::Api`] for the request as a whole; per-receipt failures are in the reply.
    pub async fn ack(&self, name: &str, receipts: Vec<String>) -> Result<BatchResponse, Error> {
        let request = self
            .request(Method::POST, &["v1", "queues", name, "ack"])?
            .json(&AckRequest { receipts });
        Ok(self.call(request).await?.1)
    }

    /// Completes messages of a resequencing queue with their results
    /// (`POST /v1/queues/{q}/complete`).
    ///
    /// # Errors
    /// [`Error::Api`] for the request as a whole; per-completion failures (such as
    /// `already_completed`) are in the reply.
    pub async fn complete(
        &self,
        name: &str,
        completions: Vec<CompletionEntry>,
    ) -> Result<BatchResponse, Error> {
        let request = self
            .request(Method::POST, &["v1", "queues", name, "complete"])?
            .json(&CompleteRequest { completions });
        Ok(self.call(request).await?.1)
    }

    /// Skips the blocked gaps of an order key (every key if `None`) of a resequencing queue;
    /// returns how many (`POST /v1/queues/{q}/gaps/skip`).
    ///
    /// # Errors
    /// [`Error::Api`] with `queue_not_found` or `invalid_request`.
    pub async fn skip_gaps(&self, name: &str, key: Option<String>) -> Result<u64, Error> {
        let request = self
            .request(Method::POST, &["v1", "queues", name, "gaps", "skip"])?
            .json(&SkipGapsRequest { key });
        Ok(self.call::<SkipGapsResponse>(request).await?.1.skipped)
    }

    /// Acks leases and publishes messages and records as one durable command, all or nothing
    /// (`POST /v1/transactions`).
    ///
    /// # Errors
    /// [`Error::Api`]: then nothing was acked or published.
    pub async fn transact(
        &self,
        transaction: &TransactionRequest,
    ) -> Result<TransactionResponse, Error> {
        let request = self
            .request(Method::POST, &["v1", "transactions"])?
            .json(transaction);
        Ok(self.call(request).await?.1)
    }

    /// Gives leased messages back (`POST /v1/queues/{q}/nack`).
    ///
    /// # Errors
    /// [`Error::Api`] for the request as a whole; per-receipt failures are in the reply.
    pub async fn nack(&self, name: &str, nack: &NackRequest) -> Result<BatchResponse, Error> {
        let request = self
            .request(Method::POST, &["v1", "queues", name, "nack"])?
            .json(nack);
        Ok(self.call(request).await?.1)
    }

    /// Sets the remaining lease of leased messages (`POST /v1/queues/{q}/visibility`).
    ///
    /// # Errors
    /// [`Error::Api`] for the request as a whole; per-receipt failures are in the reply.
    pub async fn change_visibility(
        &self,
        name: &str,
        receipts: Vec<String>,
        visibility_timeout_ms: u64,
    ) -> Result<BatchResponse, Error> {
        let body = VisibilityRequest {
            receipts,
            visibility_timeout_ms,
        };
        let request = self
            .request(Method::POST, &["v1", "queues", name, "visibility"])?
            .json(&body);
        Ok(self.call(request).await?.1)
    }

    /// Browses messages without leasing them (`GET /v1/queues/{q}/messages?limit=`).
    ///
    /// # Errors
    /// [`Error::Api`] with `queue_not_found` or `invalid_request` (limit out of range).
    pub async fn peek(&self, name: &str, limit: Option<usize>) -> Result<Vec<PeekedEntry>, Error> {
        let mut request = self.request(Method::GET, &["v1", "queues", name, "messages"])?;
        if let Some(limit) = limit {
            request = request.query(&[("limit", limit)]);
        }
        Ok(self.call::<PeekResponse>(request).await?.1.messages)
    }

    /// Removes one message that is not in flight (`DELETE /v1/queues/{q}/messages/{id}`).
    ///
    /// # Errors
    /// [`Error::Api`] with `message_not_found` or `conflict`.
    pub async fn cancel(&self, name: &str, id: MessageId) -> Result<(), Error> {
        let id = id.to_string();
        let request = self.request(Method::DELETE, &["v1", "queues", name, "messages", &id])?;
        self.call_no_content(request).await
    }

    /// Removes every message; returns how many (`POST /v1/queues/{q}/purge`).
    ///
    /// # Errors
    /// [`Error::Api`] with `queue_not_found`.
    pub async fn purge(&self, name: &str) -> Result<u64, Error> {
        let request = self.request(Method::POST, &["v1", "queues", name, "purge"])?;
        Ok(self.call::<PurgeResponse>(request).await?.1.purged)
    }

    /// Moves messages from a dead-letter queue back to their sources; returns how many
    /// (`POST /v1/queues/{q}/redrive`).
    ///
    /// # Errors
    /// [`Error::Api`] with `queue_not_found` or `conflict`.
    pub async fn redrive(&self, name: &str, options: &RedriveRequest) -> Result<u64, Error> {
        let request = self
            .request(Method::POST, &["v1", "queues", name, "redrive"])?
            .json(options);
        Ok(self.call::<RedriveResponse>(request).await?.1.moved)
    }

    /// Whether the server is ready (`GET /health/ready`).
    ///
    /// # Errors
    /// [`Error::Api`] (503) while it shuts down; transport errors while it is down.
    pub async fn ready(&self) -> Result<Health, Error> {
        let request = self.request(Method::GET, &["health", "ready"])?;
        Ok(self.call(request).await?.1)
    }

    /// The last minutes of every queue's depth, rates and latency (`GET /v1/metrics/history`).
    ///
    /// # Errors
    /// Transport errors, or an invalid reply.
    pub async fn metrics_history(&self) -> Result<ferry_api::MetricsHistory, Error> {
        let request = self.request(Method::GET, &["v1", "metrics", "history"])?;
        Ok(self.call(request).await?.1)
    }

    /// The server's Prometheus metrics as text (`GET /metrics`).
    ///
    /// # Errors
    /// Transport errors, or an error reply.
    pub async fn metrics_text(&self) -> Result<String, Error> {
        let (status, bytes) = self
            .execute(self.request(Method::GET, &["metrics"])?)
            .await?;
        String::from_utf8(bytes.into()).map_err(|e| Error::InvalidReply {
            status: status.as_u16(),
            message: e.to_string(),
        })
    }

    /// The server's OpenAPI document (`GET /v1/openapi.json`).
    ///
    /// # Errors
    /// Transport errors, or an invalid reply.
    pub async fn openapi(&self) -> Result<serde_json::Value, Error> {
        let request = self.request(Method::GET, &["v1", "openapi.json"])?;
        Ok(self.call(request).await?.1)
    }

    /// A request to the base URL plus `segments`, each percent-encoded as one path segment.
    pub(crate) fn request(
        &self,
        method: Method,
        segments: &[&str],
    ) -> Result<RequestBuilder, Error> {
        let mut url = self.base.clone();
        url.path_segments_mut()
            .map_err(|()| Error::InvalidUrl {
                url: self.base.to_string(),
                message: "not a base URL".to_owned(),
            })?
            .pop_if_empty()
            .extend(segments);
        Ok(self.http.request(method, url))
    }

    /// Sends the request and decodes a JSON success reply, or the error reply.
    pub(crate) async fn call<T: DeserializeOwned>(
        &self,
        request: RequestBuilder,
    ) -> Result<(StatusCode, T), Error> {
        let response = request.send().await?;
        let status = response.status();
        let bytes = response.bytes().await?;
        Ok((status, decode_reply(status, &bytes)?))
    }

    pub(crate) async fn call_no_content(&self, request: RequestBuilder) -> Result<(), Error> {
        self.execute(request).await.map(|_| ())
    }

    /// Sends `request`; the reply's status and body, or the error of a failure status.
    async fn execute(&self, request: RequestBuilder) -> Result<(StatusCode, Bytes), Error> {
        let response = request.send().await?;
        let status = response.status();
        let bytes = response.bytes().await?;
        if status.is_success() {
            return Ok((status, bytes));
        }
        Err(error_reply(status, &bytes))
    }
}

/// A reply's JSON body as `T` for a success status, else the error the reply carries.
pub(crate) fn decode_reply<T: DeserializeOwned>(
    status: StatusCode,
    bytes: &[u8],
) -> Result<T, Error> {
    if !status.is_success() {
        return Err(error_reply(status, bytes));
    }
    serde_json::from_slice(bytes).map_err(|e| Error::InvalidReply {
        status: status.as_u16(),
        message: e.to_string(),
    })
}

/// The error of a reply with a failure status: the server's own, or [`Error::InvalidReply`].
pub(crate) fn error_reply(status: StatusCode, bytes: &[u8]) -> Error {
    match serde_json::from_slice::<ErrorResponse>(bytes) {
        Ok(reply) => Error::Api {
            status: status.as_u16(),
            code: reply.error.code,
            message: reply.error.message,
            next_offset: reply.error.next_offset,
        },
        Err(_) => Error::InvalidReply {
            status: status.as_u16(),
            message: format!(
                "not an error reply: {}",
                String::from_utf8_lossy(bytes)
                    .chars()
                    .take(200)
                    .collect::<String>()
            ),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url_of(client: &Client, segments: &[&str]) -> String {
        client
            .request(Method::GET, segments)
            .ok()
            .and_then(|r| r.build().ok())
            .map(|r| r.url().to_string())
            .unwrap_or_default()
    }

    #[test]
    fn paths_are_joined_and_segments_escaped() {
        let client = Client::new("http://127.0.0.1:7480").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            url_of(&client, &["v1", "queues", "jobs.fifo"]),
            "http://127.0.0.1:7480/v1/queues/jobs.fifo"
        );
        assert_eq!(
            url_of(&client, &["v1", "queues", "a/b c?"]),
            "http://127.0.0.1:7480/v1/queues/a%2Fb%20c%3F"
        );
        let prefixed = Client::new("http://h:1/ferry/").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            url_of(&prefixed, &["v1", "queues"]),
            "http://h:1/ferry/v1/queues"
        );
    }

    #[test]
    fn bad_base_urls_are_refused() {
        for bad in ["", "127.0.0.1:7480", "https://h", "mailto:x@y"] {
            let err = Client::new(bad).err().map(|e| e.code().to_owned());
            assert_eq!(err.as_deref(), Some("invalid_url"), "{bad}");
        }
    }

    #[tokio::test]
    async fn an_unreachable_server_is_a_connection_error() {
        // Port 9 (discard) on loopback: nothing listens there in the test environment.
        let client = Client::new("http://127.0.0.1:9").unwrap_or_else(|e| panic!("{e}"));
        let err = client.list_queues().await.err();
        assert_eq!(
            err.as_ref().map(Error::code),
            Some("connection_failed"),
            "{err:?}"
        );
    }
}
