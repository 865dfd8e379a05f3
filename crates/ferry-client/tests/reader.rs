//! `PartitionReader` against a stand-in server that can hold a reply's body back after its
//! headers: a call cancelled while the body is on its way must not lose that reply.

use ferry_client::Client;
use ferry_client::api::{OffsetSpec, ReadQuery};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Answers every read at offset `n` with one record (value `r<n>`) and `next_offset` `n + 1`,
/// holding the body back for `stall` after the headers when `n == stall_at`.
async fn serve(listener: TcpListener, stall_at: u64, stall: Duration) {
    while let Ok((socket, _)) = listener.accept().await {
        tokio::spawn(answer(socket, stall_at, stall));
    }
}

async fn answer(mut socket: TcpStream, stall_at: u64, stall: Duration) {
    let mut request = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        while !request.windows(4).any(|w| w == b"\r\n\r\n") {
            match socket.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => request.extend_from_slice(buf.get(..n).unwrap_or_default()),
            }
        }
        let head_end = request
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map_or(request.len(), |p| p + 4);
        let head =
            String::from_utf8_lossy(request.get(..head_end).unwrap_or_default()).into_owned();
        request.drain(..head_end);
        let offset: u64 = head
            .split("offset=")
            .nth(1)
            .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
            .and_then(|digits| digits.parse().ok())
            .unwrap_or(0);
        let next = offset + 1;
        let body = format!(
            r#"{{"records":[{{"offset":{offset},"value":"r{offset}","headers":[],"timestamp":"2026-11-23T00:00:00.000Z"}}],"next_offset":{next},"start_offset":0,"end_offset":1000}}"#
        );
        let headers = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nferry-next-offset: {next}\r\ncontent-length: {}\r\n\r\n",
            body.len()
        );
        if socket.write_all(headers.as_bytes()).await.is_err() {
            return;
        }
        if offset == stall_at {
            tokio::time::sleep(stall).await;
        }
        if socket.write_all(body.as_bytes()).await.is_err() {
            return;
        }
    }
}

async fn reader_on_stand_in(stall_at: u64) -> ferry_client::PartitionReader {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(serve(listener, stall_at, Duration::from_millis(400)));
    let client = Client::new(&format!("http://{address}")).expect("client");
    let query = ReadQuery {
        offset: Some(OffsetSpec::At(0)),
        ..ReadQuery::default()
    };
    client.partition_reader("s", 0, query)
}

fn values(read: &ferry_client::api::ReadResponse) -> Vec<String> {
    read.records
        .iter()
        .filter_map(|r| r.value.clone())
        .collect()
}

#[tokio::test]
async fn a_call_cancelled_while_its_body_arrives_leaves_that_reply_for_the_next() {
    let mut reader = reader_on_stand_in(0).await;
    let cut = tokio::time::timeout(Duration::from_millis(100), reader.next()).await;
    assert!(
        cut.is_err(),
        "the body of offset 0 is held back past the timeout"
    );
    let mut seen = Vec::new();
    for _ in 0..4 {
        let read = reader.next().await.expect("read");
        seen.extend(values(&read));
    }
    assert_eq!(seen, ["r0", "r1", "r2", "r3"]);
}

#[tokio::test]
async fn a_call_cancelled_while_waiting_for_the_read_ahead_loses_nothing() {
    let mut reader = reader_on_stand_in(2).await;
    let first = reader.next().await.expect("read");
    assert_eq!(values(&first), ["r0"]);
    // Now the read of offset 1 is ahead; the one after it (2) stalls.
    let second = reader.next().await.expect("read");
    assert_eq!(values(&second), ["r1"]);
    let cut = tokio::time::timeout(Duration::from_millis(100), reader.next()).await;
    assert!(
        cut.is_err(),
        "the body of offset 2 is held back past the timeout"
    );
    let mut seen = Vec::new();
    for _ in 0..2 {
        seen.extend(values(&reader.next().await.expect("read")));
    }
    assert_eq!(seen, ["r2", "r3"]);
}
