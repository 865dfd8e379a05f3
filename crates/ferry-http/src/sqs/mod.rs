//! The SQS-compatible API: AWS SDKs work against Ferry queues by changing only the endpoint.
//!
//! An SQS queue *is* a Ferry queue. This module maps names, shapes and errors and holds no
//! queue semantics: both protocols (AWS JSON 1.0 with `X-Amz-Target: AmazonSQS.<Action>`, and
//! the query protocol with `Action=` form parameters and XML replies) decode into one input
//! type per action, the action calls [`ferry_broker::Broker`], and the output is encoded in the
//! request's protocol. Signatures (SigV4) are accepted without being checked.
//!
//! Files: `decode` (protocols in), `xml` (query replies), `errors` (the SQS error table),
//! `md5` (digests), `attributes` (queue attributes), `message_attributes` (typed message
//! attributes), `queues` and `messages` (the actions), `batch` (batch entry rules).

mod attributes;
mod batch;
mod decode;
mod errors;
mod md5;
mod message_attributes;
mod messages;
mod queues;
mod xml;

use crate::state::AppState;
use attributes::Scope;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{OriginalUri, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use decode::{Payload, Protocol};
use errors::SqsError;
use serde::Serialize;
use serde_json::Value;
use std::sync::atomic::{AtomicU64, Ordering};

/// The account id in every queue URL and ARN (one broker is one account).
pub const ACCOUNT_ID: &str = "000000000000";
/// The region in ARNs when the request's signature names none.
pub const DEFAULT_REGION: &str = "us-east-1";
/// The JSON protocol's content type.
const JSON_CONTENT_TYPE: &str = "application/x-amz-json-1.0";

/// The SQS endpoint's routes: `POST /` (every action; `GET /` is the dashboard's) and
/// `/{account}/{queue}` (query protocol requests sent to a queue URL, `GET` or `POST`). Not
/// part of the native API or its OpenAPI document.
pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/", post(handle))
        .route("/{account}/{queue}", get(handle).post(handle))
}

/// What an action needs besides its input.
pub(crate) struct Context {
    /// The broker and server state.
    pub(crate) state: AppState,
    /// `host[:port]` as the client addressed us, for queue URLs.
    pub(crate) host: String,
    /// Account and region, for URLs and ARNs.
    pub(crate) scope: Scope,
    /// The queue named by the request path (query requests sent to a queue URL).
    pub(crate) path_queue: Option<String>,
}

impl Context {
    /// The queue URL of `queue`, on the host the client used.
    pub(crate) fn queue_url(&self, queue: &str) -> String {
        format!("http://{}/{}/{queue}", self.host, self.scope.account)
    }

    /// The queue a request's `QueueUrl` names (or its path, for the query protocol).
    ///
    /// # Errors
    /// `MissingParameter` without either; `QueueDoesNotExist` for a URL without a queue name.
    pub(crate) fn queue_name(&self, queue_url: Option<&str>) -> Result<String, SqsError> {
        let Some(url) = queue_url.filter(|u| !u.is_empty()) else {
            return self
                .path_queue
                .clone()
                .ok_or_else(|| SqsError::missing("QueueUrl"));
        };
        let path = url.split(['?', '#']).next().unwrap_or_default();
        let name = path.rsplit('/').find(|s| !s.is_empty()).unwrap_or_default();
        if name.is_empty() || name.contains(':') {
            return Err(SqsError::no_queue());
        }
        Ok(name.to_owned())
    }
}

static REQUEST_COUNTER: AtomicU64 = AtomicU64::new(0);

fn request_id() -> String {
    let n = REQUEST_COUNTER.fetch_add(1, Ordering::Relaxed);
    let pid = std::process::id();
    format!(
        "{pid:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        (n >> 48) & 0xffff,
        (n >> 32) & 0xffff,
        (n >> 16) & 0xffff,
        n & 0xffff_ffff_ffff
    )
}

/// The region named by a SigV4 `Authorization` header's credential scope, if any.
fn region_of(headers: &HeaderMap) -> Option<String> {
    let auth = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let credential = auth.split("Credential=").nth(1)?;
    let scope = credential.split([',', ' ']).next()?;
    let region = scope.split('/').nth(2)?;
    (!region.is_empty()).then(|| region.to_owned())
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Every SQS request enters here.
async fn handle(
    State(state): State<AppState>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request_id = request_id();
    let target = header_str(&headers, "x-amz-target").map(str::to_owned);
    let is_form = header_str(&headers, header::CONTENT_TYPE.as_str())
        .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"));
    let query = uri.query().unwrap_or_default();
    if target.is_none() && !is_form && !query.contains("Action=") {
        return crate::error::not_found().await.into_response();
    }
    let mut segments = uri.path().split('/').filter(|s| !s.is_empty());
    let path_queue = segments.nth(1).map(str::to_owned);
    let context = Context {
        state,
        host: header_str(&headers, header::HOST.as_str())
            .unwrap_or("localhost")
            .to_owned(),
        scope: Scope {
            account: ACCOUNT_ID.to_owned(),
            region: region_of(&headers).unwrap_or_else(|| DEFAULT_REGION.to_owned()),
        },
        path_queue,
    };
    let (protocol, decoded) = match target {
        Some(target) => (
            Protocol::Json,
            decode::json_action(&target).map(|a| (a, Payload::Json(body))),
        ),
        None => (
            Protocol::Query,
            decode::query_pairs(query.as_bytes(), &body)
                .and_then(|pairs| decode::query_request(&pairs))
                .map(|(a, v)| (a, Payload::Query(v))),
        ),
    };
    let (action, payload) = match decoded {
        Ok(d) => d,
        Err(e) => return error_reply(protocol, &e, &request_id),
    };
    match dispatch(&context, &action, &payload).await {
        Ok(output) => success_reply(protocol, &action, output, &request_id),
        Err(e) => {
            if e.status() >= 500 {
                tracing::warn!(action, code = e.name, message = %e.message, "sqs request failed");
            }
            error_reply(protocol, &e, &request_id)
        }
    }
}

/// An action's output, already in the JSON protocol's shape.
pub(crate) enum Output {
    /// No members (e.g. `DeleteMessage`).
    Empty,
    /// Members, serialised.
    Json(Value),
}

/// Serialises an action's output.
pub(crate) fn output<T: Serialize>(value: &T) -> Result<Output, SqsError> {
    serde_json::to_value(value)
        .map(Output::Json)
        .map_err(|e| SqsError::new("InternalFailure", e.to_string()))
}

async fn dispatch(cx: &Context, action: &str, payload: &Payload) -> Result<Output, SqsError> {
    match action {
        "CreateQueue" => queues::create_queue(cx, payload.parse()?).await,
        "GetQueueUrl" => queues::get_queue_url(cx, payload.parse()?).await,
        "ListQueues" => queues::list_queues(cx, payload.parse()?).await,
        "DeleteQueue" => queues::delete_queue(cx, payload.parse()?).await,
        "GetQueueAttributes" => queues::get_queue_attributes(cx, payload.parse()?).await,
        "SetQueueAttributes" => queues::set_queue_attributes(cx, payload.parse()?).await,
        "PurgeQueue" => queues::purge_queue(cx, payload.parse()?).await,
        "ListDeadLetterSourceQueues" => {
            queues::list_dead_letter_source_queues(cx, payload.parse()?).await
        }
        "TagQueue" => queues::tag_queue(cx, payload.parse()?).await,
        "UntagQueue" => queues::untag_queue(cx, payload.parse()?).await,
        "ListQueueTags" => queues::list_queue_tags(cx, payload.parse()?).await,
        "StartMessageMoveTask" => queues::start_message_move_task(cx, payload.parse()?).await,
        "ListMessageMoveTasks" => queues::list_message_move_tasks(cx, payload.parse()?).await,
        "CancelMessageMoveTask" => queues::cancel_message_move_task(cx, payload.parse()?).await,
        "SendMessage" => messages::send_message(cx, payload.parse()?).await,
        "SendMessageBatch" => messages::send_message_batch(cx, payload.parse()?).await,
        "ReceiveMessage" => messages::receive_message(cx, payload.parse()?).await,
        "DeleteMessage" => messages::delete_message(cx, payload.parse()?).await,
        "DeleteMessageBatch" => messages::delete_message_batch(cx, payload.parse()?).await,
        "ChangeMessageVisibility" => {
            messages::change_message_visibility(cx, payload.parse()?).await
        }
        "ChangeMessageVisibilityBatch" => {
            messages::change_message_visibility_batch(cx, payload.parse()?).await
        }
        "AddPermission" | "RemovePermission" => Err(SqsError::new(
            "UnsupportedOperation",
            format!("{action} is not supported: Ferry has no access policies yet"),
        )),
        _ => Err(match payload {
            Payload::Json(_) => SqsError::new(
                "UnknownOperationException",
                format!("unknown operation {action:?}"),
            ),
            Payload::Query(_) => SqsError::new(
                "InvalidAction",
                format!("The action {action} is not valid for this endpoint."),
            ),
        }),
    }
}

fn with_headers(mut response: Response, content_type: &'static str, request_id: &str) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(id) = HeaderValue::from_str(request_id) {
        headers.insert("x-amzn-requestid", id);
    }
    response
}

fn success_reply(protocol: Protocol, action: &str, output: Output, request_id: &str) -> Response {
    match protocol {
        Protocol::Json => {
            let body = match output {
                Output::Empty => b"{}".to_vec(),
                Output::Json(v) => serde_json::to_vec(&v).unwrap_or_else(|_| b"{}".to_vec()),
            };
            with_headers(
                (StatusCode::OK, body).into_response(),
                JSON_CONTENT_TYPE,
                request_id,
            )
        }
        Protocol::Query => {
            let value = match output {
                Output::Empty => Value::Null,
                Output::Json(v) => v,
            };
            let body = xml::response(action, &value, request_id);
            with_headers(
                (StatusCode::OK, body).into_response(),
                "text/xml",
                request_id,
            )
        }
    }
}

fn error_reply(protocol: Protocol, e: &SqsError, request_id: &str) -> Response {
    let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST);
    match protocol {
        Protocol::Json => {
            let body = serde_json::json!({"__type": e.json_type(), "message": e.message});
            let mut response = with_headers(
                (status, body.to_string()).into_response(),
                JSON_CONTENT_TYPE,
                request_id,
            );
            if let Ok(v) = HeaderValue::from_str(&e.query_error_header()) {
                response.headers_mut().insert("x-amzn-query-error", v);
            }
            response
        }
        Protocol::Query => with_headers(
            (status, xml::error(e, request_id)).into_response(),
            "text/xml",
            request_id,
        ),
    }
}

#[cfg(test)]
mod tests;
