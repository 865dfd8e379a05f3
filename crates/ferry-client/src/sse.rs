//! Server-sent events: a parser of the `text/event-stream` format (pure, fed chunk by chunk)
//! and [`RecordEvents`], which reads stream records off such a reply.

use crate::client::error_reply;
use crate::error::Error;
use ferry_api::ReadRecord;
use std::collections::VecDeque;

/// Longest line (and so event) accepted; a longer one means the reply is not what we expect.
const MAX_LINE_BYTES: usize = 64 << 20;

/// One dispatched event.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct SseEvent {
    /// The `event:` field, `message` when absent.
    pub(crate) event: String,
    /// The `data:` lines joined by `\n`.
    pub(crate) data: String,
    /// The `id:` field of this event, if it had one.
    pub(crate) id: Option<String>,
}

/// Splits a byte stream into lines (`\n`, `\r\n` or `\r`) and lines into events, per the HTML
/// standard's event-stream interpretation.
#[derive(Debug, Default)]
pub(crate) struct SseParser {
    line: Vec<u8>,
    /// The previous byte was `\r`, so a `\n` right after it ends nothing.
    after_cr: bool,
    event: Option<String>,
    data: Option<String>,
    id: Option<String>,
}

impl SseParser {
    /// Feeds the next bytes; returns the events they complete.
    ///
    /// # Errors
    /// When a line grows past the size bound.
    pub(crate) fn push(&mut self, bytes: &[u8]) -> Result<Vec<SseEvent>, String> {
        let mut events = Vec::new();
        for &b in bytes {
            match b {
                b'\n' if self.after_cr => self.after_cr = false,
                b'\n' | b'\r' => {
                    self.after_cr = b == b'\r';
                    let line = std::mem::take(&mut self.line);
                    events.extend(self.on_line(&String::from_utf8_lossy(&line)));
                }
                _ => {
                    self.after_cr = false;
                    if self.line.len() >= MAX_LINE_BYTES {
                        return Err(format!(
                            "an event-stream line is longer than {MAX_LINE_BYTES} bytes"
                        ));
                    }
                    self.line.push(b);
                }
            }
        }
        Ok(events)
    }

    /// One complete line: a field, a comment, or the blank line that dispatches an event.
    fn on_line(&mut self, line: &str) -> Option<SseEvent> {
        if line.is_empty() {
            let event = self.event.take();
            let id = self.id.take();
            let mut data = self.data.take()?;
            data.pop(); // the '\n' after the last data line
            return Some(SseEvent {
                event: event.unwrap_or_else(|| "message".to_owned()),
                data,
                id,
            });
        }
        if line.starts_with(':') {
            return None;
        }
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        match field {
            "event" => self.event = Some(value.to_owned()),
            "data" => {
                let data = self.data.get_or_insert_with(String::new);
                data.push_str(value);
                data.push('\n');
            }
            "id" if !value.contains('\0') => self.id = Some(value.to_owned()),
            _ => {}
        }
        None
    }
}

/// Records arriving as server-sent events (`event: record`, one record as JSON per event),
/// from [`crate::Client::stream_events`] or [`crate::Client::group_events`]. Pull them with
/// [`RecordEvents::next`]; drop it to disconnect.
#[derive(Debug)]
pub struct RecordEvents {
    response: reqwest::Response,
    parser: SseParser,
    ready: VecDeque<SseEvent>,
    last_event_id: Option<String>,
    ended: bool,
}

impl RecordEvents {
    /// Wraps a reply, turning a failure status into the server's error.
    pub(crate) async fn open(response: reqwest::Response) -> Result<RecordEvents, Error> {
        let status = response.status();
        if !status.is_success() {
            let bytes = response.bytes().await?;
            return Err(error_reply(status, &bytes));
        }
        Ok(RecordEvents {
            response,
            parser: SseParser::default(),
            ready: VecDeque::new(),
            last_event_id: None,
            ended: false,
        })
    }

    /// The next record, waiting for it; `None` once the server has closed the stream. Events
    /// other than `record` (keep-alives, future kinds) are skipped.
    ///
    /// # Errors
    /// Transport errors, or [`Error::InvalidReply`] for an event that is not a record.
    pub async fn next(&mut self) -> Result<Option<ReadRecord>, Error> {
        loop {
            while let Some(event) = self.ready.pop_front() {
                if event.id.is_some() {
                    self.last_event_id.clone_from(&event.id);
                }
                if event.event == "record" {
                    return serde_json::from_str(&event.data)
                        .map(Some)
                        .map_err(|e| self.invalid(format!("record event: {e}")));
                }
            }
            if self.ended {
                return Ok(None);
            }
            match self.response.chunk().await? {
                Some(bytes) => {
                    let events = self.parser.push(&bytes).map_err(|e| self.invalid(e))?;
                    self.ready.extend(events);
                }
                None => self.ended = true,
            }
        }
    }

    /// The id of the last event received: a partition stream's last offset, or a group
    /// member's position vector (`0:15,1:22`). Give it back as `Last-Event-ID` to resume.
    pub fn last_event_id(&self) -> Option<&str> {
        self.last_event_id.as_deref()
    }

    fn invalid(&self, message: String) -> Error {
        Error::InvalidReply {
            status: self.response.status().as_u16(),
            message,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_all(chunks: &[&[u8]]) -> Vec<SseEvent> {
        let mut parser = SseParser::default();
        chunks
            .iter()
            .flat_map(|c| parser.push(c).unwrap_or_else(|e| panic!("{e}")))
            .collect()
    }

    fn event(event: &str, data: &str, id: Option<&str>) -> SseEvent {
        SseEvent {
            event: event.to_owned(),
            data: data.to_owned(),
            id: id.map(str::to_owned),
        }
    }

    #[test]
    fn events_are_split_on_blank_lines_whatever_the_chunks() {
        let text =
            b"event: record\nid: 7\ndata: {\"offset\":7}\n\n: keep-alive\n\ndata:a\ndata: b\n\n";
        let expected = vec![
            event("record", "{\"offset\":7}", Some("7")),
            event("message", "a\nb", None),
        ];
        assert_eq!(parse_all(&[text]), expected);
        let bytewise: Vec<&[u8]> = text.chunks(1).collect();
        assert_eq!(parse_all(&bytewise), expected);
    }

    #[test]
    fn every_line_ending_counts_and_crlf_split_across_chunks_is_one() {
        let expected = vec![event("record", "x", Some("0:1,1:2"))];
        assert_eq!(
            parse_all(&[b"event:record\r\nid:0:1,1:2\r\ndata:x\r\n\r\n"]),
            expected
        );
        assert_eq!(
            parse_all(&[
                b"event:record\r",
                b"\nid:0:1,1:2\r",
                b"\ndata:x\r",
                b"\n\r",
                b"\n"
            ]),
            expected
        );
        assert_eq!(
            parse_all(&[b"event:record\rid:0:1,1:2\rdata:x\r\r"]),
            expected
        );
    }

    /// Serves one canned HTTP reply on a loopback port; returns its URL and the request head.
    async fn serve_once(reply: &'static str) -> (String, tokio::task::JoinHandle<String>) {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
        let server = tokio::spawn(async move {
            let Ok((mut socket, _)) = listener.accept().await else {
                return String::new();
            };
            let mut head = Vec::new();
            let mut buf = [0u8; 1024];
            while !head.ends_with(b"\r\n\r\n") {
                match socket.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => head.extend_from_slice(buf.get(..n).unwrap_or_default()),
                }
            }
            let _ = socket.write_all(reply.as_bytes()).await;
            let _ = socket.shutdown().await;
            String::from_utf8_lossy(&head).to_lowercase()
        });
        (format!("http://{addr}"), server)
    }

    #[tokio::test]
    async fn group_events_resume_with_last_event_id_and_yield_records() {
        let (url, server) = serve_once(concat!(
            "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n",
            ": keep-alive\n\n",
            "event: record\nid: 0:6\ndata: {\"partition\":0,\"offset\":5,\"value\":\"a\",\"headers\":[],\"timestamp\":\"1970-01-01T00:00:00.000Z\"}\n\n",
            "event: record\nid: 0:6,1:1\ndata: {\"partition\":1,\"offset\":0,\"headers\":[],\"timestamp\":\"1970-01-01T00:00:00.000Z\"}\n\n",
        ))
        .await;
        let client = crate::Client::new(&url).unwrap_or_else(|e| panic!("{e}"));
        let query = ferry_api::GroupEventsQuery {
            session_timeout_ms: Some(10_000),
        };
        let mut events = client
            .group_events("s", "g", &query, Some("0:5"))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let first = events.next().await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            first.map(|r| (r.partition, r.offset, r.value)),
            Some((Some(0), 5, Some("a".to_owned())))
        );
        assert_eq!(events.last_event_id(), Some("0:6"));
        let second = events.next().await.unwrap_or_else(|e| panic!("{e}"));
        assert!(second.is_some_and(|r| r.is_tombstone()));
        assert_eq!(events.last_event_id(), Some("0:6,1:1"));
        assert_eq!(events.next().await.ok(), Some(None));
        let head = server.await.unwrap_or_default();
        assert!(
            head.starts_with("get /v1/streams/s/groups/g/events?session_timeout_ms=10000 "),
            "{head}"
        );
        assert!(head.contains("last-event-id: 0:5\r\n"), "{head}");
        assert!(head.contains("accept: text/event-stream\r\n"), "{head}");
    }

    #[tokio::test]
    async fn a_refused_event_stream_is_the_servers_error() {
        let (url, _server) = serve_once(concat!(
            "HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n",
            "{\"error\":{\"code\":\"offset_out_of_range\",\"message\":\"valid are 0..=3\"}}",
        ))
        .await;
        let client = crate::Client::new(&url).unwrap_or_else(|e| panic!("{e}"));
        let err = client
            .stream_events("s", 0, ferry_api::OffsetSpec::At(9))
            .await
            .err();
        assert_eq!(
            err.as_ref().map(|e| (e.code(), e.status())),
            Some(("offset_out_of_range", Some(400))),
            "{err:?}"
        );
    }

    #[test]
    fn events_without_data_and_unfinished_events_are_not_dispatched() {
        assert_eq!(parse_all(&[b"event: record\nid: 3\n\n"]), vec![]);
        assert_eq!(parse_all(&[b"data: half"]), vec![]);
        assert_eq!(
            parse_all(&[b"retry: 10\nfoo\ndata\n\n"]),
            vec![event("message", "", None)]
        );
    }
}
