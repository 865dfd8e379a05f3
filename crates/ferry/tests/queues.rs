//! Queue CRUD against the real binary, through `ferry-client` and the CLI.

mod common;

use common::{DataDir, Server, cli, runtime};
use ferry_client::api::QueueConfig;

#[test]
fn create_list_info_update_delete() {
    let dir = DataDir::new();
    let server = Server::start(&dir, &[]);
    let client = server.client();
    runtime().block_on(async {
        let created = client
            .put_queue("orders", &QueueConfig::default())
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(created.created);
        assert_eq!(created.queue.config, QueueConfig::default());

        let changed = QueueConfig {
            visibility_timeout_ms: 5_000,
            ..QueueConfig::default()
        };
        let updated = client
            .put_queue("orders", &changed)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(!updated.created);

        let fifo = QueueConfig {
            fifo: true,
            ..QueueConfig::default()
        };
        client
            .put_queue("jobs.fifo", &fifo)
            .await
            .unwrap_or_else(|e| panic!("{e}"));

        let names: Vec<String> = client
            .list_queues()
            .await
            .unwrap_or_default()
            .into_iter()
            .map(|q| q.name)
            .collect();
        assert_eq!(names, ["jobs.fifo", "orders"]);

        let info = client
            .queue_info("orders")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(info.config.visibility_timeout_ms, 5_000);
        assert_eq!(info.stats.visible, 0);
        assert!(info.updated_at >= info.created_at);

        client
            .delete_queue("orders")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let gone = client.queue_info("orders").await.err();
        assert_eq!(
            gone.as_ref().map(|e| (e.code(), e.status())),
            Some(("queue_not_found", Some(404)))
        );
        let again = client.delete_queue("orders").await.err();
        assert_eq!(
            again.as_ref().map(ferry_client::Error::code),
            Some("queue_not_found")
        );
    });
}

#[test]
fn dead_letter_queues_are_related_both_ways() {
    let dir = DataDir::new();
    let server = Server::start(&dir, &[]);
    let client = server.client();
    runtime().block_on(async {
        client
            .put_queue("dlq", &QueueConfig::default())
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let config = QueueConfig {
            dead_letter_queue: Some("dlq".into()),
            max_receives: Some(2),
            ..QueueConfig::default()
        };
        client
            .put_queue("work", &config)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let info = client
            .queue_info("dlq")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(info.dead_letter_sources, ["work"]);
        let refused = client.delete_queue("dlq").await.err();
        assert_eq!(
            refused.as_ref().map(ferry_client::Error::code),
            Some("conflict")
        );
        let missing = QueueConfig {
            dead_letter_queue: Some("nope".into()),
            ..QueueConfig::default()
        };
        let err = client.put_queue("other", &missing).await.err();
        assert!(
            err.as_ref()
                .and_then(ferry_client::Error::status)
                .is_some_and(|s| (400..500).contains(&s)),
            "{err:?}"
        );
    });
}

#[test]
fn the_cli_manages_queues() {
    let dir = DataDir::new();
    let server = Server::start(&dir, &[]);
    let (ok, out, err) = cli(
        &server,
        &[
            "create",
            "cli-q",
            "--visibility-timeout-ms",
            "1234",
            "--config-json",
            r#"{"retention_ms": 60000}"#,
        ],
        None,
    );
    assert!(ok, "{out}{err}");
    assert_eq!(out.trim(), "created queue cli-q");
    let (ok, _, err) = cli(&server, &["create", "cli-q"], None);
    assert!(!ok && err.starts_with("error: conflict: "), "{err}");
    let (ok, out, err) = cli(&server, &["update", "cli-q", "--max-receives", "4"], None);
    assert!(ok, "{out}{err}");
    let (ok, out, _) = cli(&server, &["info", "cli-q", "--json"], None);
    assert!(ok);
    let info: serde_json::Value = serde_json::from_str(&out).unwrap_or_default();
    assert_eq!(
        info["config"]["visibility_timeout_ms"], 1234,
        "update keeps what it was not told to change"
    );
    assert_eq!(
        (
            info["config"]["retention_ms"].as_u64(),
            info["config"]["max_receives"].as_u64()
        ),
        (Some(60_000), Some(4))
    );
    let (ok, out, _) = cli(&server, &["list"], None);
    assert!(
        ok && out.lines().nth(1).is_some_and(|l| l.starts_with("cli-q ")),
        "{out}"
    );
    let (ok, out, _) = cli(&server, &["info", "cli-q"], None);
    assert!(ok && out.contains("stats.visible"), "{out}");
    let (ok, _, _) = cli(&server, &["delete", "cli-q"], None);
    assert!(ok);
    let (ok, _, err) = cli(&server, &["info", "cli-q"], None);
    assert!(!ok);
    assert!(err.starts_with("error: queue_not_found: "), "{err}");
    let (ok, _, err) = cli(&server, &["create", "bad name"], None);
    assert!(!ok && err.starts_with("error: invalid_name: "), "{err}");
}
