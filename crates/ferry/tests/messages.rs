//! Publishing and consuming against the real binary.

mod common;

use common::{DataDir, Server, cli, runtime};
use ferry_client::api::{Body, MessageState, NackRequest, QueueConfig, ReceiveRequest, SendEntry};
use std::collections::BTreeMap;

fn receive(max: u32) -> ReceiveRequest {
    ReceiveRequest {
        max: Some(max),
        wait_ms: Some(200),
        ..ReceiveRequest::default()
    }
}

#[test]
fn send_receive_ack_round_trip() {
    let dir = DataDir::new();
    let server = Server::start(&dir, &[]);
    let client = server.client();
    runtime().block_on(async {
        client
            .put_queue("rt", &QueueConfig::default())
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let text = SendEntry {
            attributes: BTreeMap::from([("k".into(), "v".into())]),
            ..SendEntry::text("héllo")
        };
        let sent = client
            .send("rt", vec![text, SendEntry::binary(&[0, 159, 255])])
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(sent.len(), 2);
        assert!(sent.iter().all(|s| !s.duplicate) && sent[0].seq < sent[1].seq);

        let got = client
            .receive("rt", &receive(10))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(got.len(), 2);
        let text = got
            .iter()
            .find(|m| m.id == sent[0].id)
            .unwrap_or_else(|| panic!("text message missing"));
        assert_eq!(
            (text.body.as_deref(), text.body_base64.as_deref()),
            (Some("héllo"), None)
        );
        assert_eq!(text.attributes.get("k").map(String::as_str), Some("v"));
        assert_eq!(text.receive_count, 1);
        let binary = got
            .iter()
            .find(|m| m.id == sent[1].id)
            .unwrap_or_else(|| panic!("binary message missing"));
        assert_eq!(binary.body, None);
        assert_eq!(binary.decode_body(), Ok(Body::binary(vec![0, 159, 255])));

        let info = client
            .queue_info("rt")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((info.stats.in_flight, info.stats.visible), (2, 0));

        let receipts: Vec<String> = got.iter().map(|m| m.receipt.clone()).collect();
        let acked = client
            .ack("rt", receipts.clone())
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((acked.ok, acked.failed.len()), (2, 0));
        let again = client
            .ack("rt", receipts)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(again.ok, 0);
        assert_eq!(again.failed.len(), 2);
        assert!(
            again
                .failed
                .iter()
                .all(|f| !f.error.code.is_empty() && !f.error.message.is_empty())
        );

        let info = client
            .queue_info("rt")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (
                info.stats.in_flight,
                info.stats.visible,
                info.stats.acked_total
            ),
            (0, 0, 2)
        );
        assert!(
            client
                .receive("rt", &ReceiveRequest::default())
                .await
                .unwrap_or_default()
                .is_empty()
        );
    });
}

#[test]
fn nack_peek_cancel_purge_and_dedup() {
    let dir = DataDir::new();
    let server = Server::start(&dir, &[]);
    let client = server.client();
    runtime().block_on(async {
        client
            .put_queue("ops", &QueueConfig::default())
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let first = SendEntry {
            dedup_id: Some("d1".into()),
            ..SendEntry::text("a")
        };
        let sent = client
            .send("ops", vec![first.clone()])
            .await
            .unwrap_or_default();
        let dup = client.send("ops", vec![first]).await.unwrap_or_default();
        assert_eq!(
            dup.first().map(|s| (s.id, s.duplicate)),
            sent.first().map(|s| (s.id, true))
        );

        let got = client
            .receive(
                "ops",
                &ReceiveRequest {
                    consumer: Some("worker-1".into()),
                    ..receive(1)
                },
            )
            .await
            .unwrap_or_default();
        let peeked = client
            .peek("ops", None)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(peeked.len(), 1);
        assert_eq!(peeked[0].state, MessageState::InFlight);
        assert_eq!(
            peeked[0].lease.as_ref().map(|l| l.consumer.as_str()),
            Some("worker-1")
        );

        let nack = NackRequest {
            receipts: got.iter().map(|m| m.receipt.clone()).collect(),
            delay_ms: Some(0),
            reason: Some("boom".into()),
        };
        let nacked = client
            .nack("ops", &nack)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(nacked.ok, 1);
        let again = client.receive("ops", &receive(1)).await.unwrap_or_default();
        assert_eq!(again.first().map(|m| m.receive_count), Some(2));
        let extended = client
            .change_visibility("ops", vec![again[0].receipt.clone()], 60_000)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(extended.ok, 1);

        let scheduled = SendEntry {
            delay_ms: Some(3_600_000),
            ..SendEntry::text("later")
        };
        let later = client
            .send("ops", vec![scheduled])
            .await
            .unwrap_or_default();
        let later_id = later
            .first()
            .map(|s| s.id)
            .unwrap_or_else(|| panic!("no id"));
        let delayed = client.peek("ops", Some(10)).await.unwrap_or_default();
        assert!(
            delayed
                .iter()
                .any(|m| m.id == later_id && m.state == MessageState::Delayed)
        );
        client
            .cancel("ops", later_id)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let err = client.cancel("ops", later_id).await.err();
        assert_eq!(
            err.as_ref().map(ferry_client::Error::code),
            Some("message_not_found")
        );

        client
            .send("ops", vec![SendEntry::text("x"), SendEntry::text("y")])
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let purged = client.purge("ops").await.unwrap_or_else(|e| panic!("{e}"));
        assert!(purged >= 2, "purged {purged}");
        assert!(
            client
                .peek("ops", None)
                .await
                .unwrap_or_default()
                .is_empty()
        );
    });
}

#[test]
fn the_cli_sends_receives_and_acks() {
    let dir = DataDir::new();
    let server = Server::start(&dir, &[]);
    let (ok, _, err) = cli(&server, &["create", "cli-msgs"], None);
    assert!(ok, "{err}");
    let (ok, out, err) = cli(&server, &["send", "cli-msgs", "one", "two"], None);
    assert!(ok, "{err}");
    assert_eq!(out.lines().count(), 2);
    let lines: String = (0..250).map(|i| format!("line {i}\n")).collect();
    let (ok, out, err) = cli(
        &server,
        &["send", "cli-msgs", "--batch", "100"],
        Some(&lines),
    );
    assert!(ok, "{err}");
    assert_eq!(out.lines().count(), 250);
    assert!(err.contains("sent 250 messages"), "{err}");

    let (ok, out, err) = cli(&server, &["recv", "cli-msgs", "--max", "2", "--json"], None);
    assert!(ok, "{err}");
    let reply: serde_json::Value = serde_json::from_str(&out).unwrap_or_default();
    let receipts: Vec<&str> = reply["messages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m["receipt"].as_str())
        .collect();
    assert_eq!(receipts.len(), 2);
    let mut ack = vec!["ack", "cli-msgs"];
    ack.extend(&receipts);
    let (ok, _, err) = cli(&server, &ack, None);
    assert!(ok && err.contains("acked 2"), "{err}");
    let (ok, _, err) = cli(&server, &ack, None);
    assert!(!ok && err.contains("error: "), "acking twice fails: {err}");

    let (ok, out, err) = cli(&server, &["recv", "cli-msgs", "--max", "10", "--ack"], None);
    assert!(ok, "{err}");
    assert!(out.contains("line 0") && out.starts_with("ID"), "{out}");
    let (ok, out, _) = cli(&server, &["peek", "cli-msgs", "--limit", "5"], None);
    assert!(ok && out.lines().count() == 6, "{out}");
    let (ok, out, _) = cli(&server, &["purge", "cli-msgs"], None);
    assert!(ok && out.starts_with("purged "), "{out}");
}

#[test]
fn dead_letters_carry_their_history_and_redrive_back() {
    let dir = DataDir::new();
    let server = Server::start(&dir, &[]);
    let client = server.client();
    runtime().block_on(async {
        client
            .put_queue("src-dlq", &QueueConfig::default())
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let config = QueueConfig {
            dead_letter_queue: Some("src-dlq".into()),
            max_receives: Some(1),
            ..QueueConfig::default()
        };
        client
            .put_queue("src", &config)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let sent = client
            .send("src", vec![SendEntry::text("poison")])
            .await
            .unwrap_or_default();
        let got = client.receive("src", &receive(1)).await.unwrap_or_default();
        let nack = NackRequest {
            receipts: got.iter().map(|m| m.receipt.clone()).collect(),
            delay_ms: Some(0),
            reason: Some("bad input".into()),
        };
        client
            .nack("src", &nack)
            .await
            .unwrap_or_else(|e| panic!("{e}"));

        let dead = client
            .receive(
                "src-dlq",
                &ReceiveRequest {
                    wait_ms: Some(3000),
                    ..receive(1)
                },
            )
            .await
            .unwrap_or_default();
        let history = dead
            .first()
            .and_then(|m| m.dead_letter.clone())
            .unwrap_or_else(|| panic!("no dead letter: {dead:?}"));
        assert_eq!(history.source_queue, "src");
        assert_eq!(Some(history.original_id), sent.first().map(|s| s.id));
        assert_eq!(history.reasons, ["bad input"]);
        assert_eq!(dead[0].body.as_deref(), Some("poison"));
        let receipts = dead.iter().map(|m| m.receipt.clone()).collect();
        client
            .nack(
                "src-dlq",
                &NackRequest {
                    receipts,
                    delay_ms: Some(0),
                    reason: None,
                },
            )
            .await
            .unwrap_or_else(|e| panic!("{e}"));

        let moved = client
            .redrive("src-dlq", &ferry_client::api::RedriveRequest::default())
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(moved, 1);
        let back = client
            .receive(
                "src",
                &ReceiveRequest {
                    wait_ms: Some(3000),
                    ..receive(1)
                },
            )
            .await
            .unwrap_or_default();
        assert_eq!(back.first().and_then(|m| m.body.as_deref()), Some("poison"));
    });
}
