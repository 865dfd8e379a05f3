//! Startup, health, the OpenAPI document against the live router, restarts and shutdown.

mod common;

use common::{DataDir, Server, raw, runtime};
use ferry_client::api::{QueueConfig, ReceiveRequest, SendEntry};
use nix::sys::signal::Signal;
use reqwest::Method;
use std::process::Command;
use std::time::{Duration, Instant};

#[test]
fn sigterm_and_sigint_stop_gracefully_with_exit_code_zero() {
    let dir = DataDir::new();
    for signal in [Signal::SIGTERM, Signal::SIGINT] {
        let server = Server::start(&dir, &[]);
        let (status, log) = server.signal_and_wait(signal);
        assert_eq!(status.code(), Some(0), "{signal}: {log}");
        assert!(
            log.contains("ferry starting") && log.contains("ferry stopped"),
            "{log}"
        );
    }
}

#[test]
fn graceful_shutdown_answers_requests_in_flight_and_long_polls_at_once() {
    let dir = DataDir::new();
    let server = Server::start(&dir, &[]);
    let client = server.client();
    let rt = runtime();
    rt.block_on(client.put_queue("lp", &QueueConfig::default()))
        .unwrap_or_else(|e| panic!("{e}"));
    let pid = server.pid();
    // A client of its own: pooled connections belong to the runtime that opened them.
    let client = server.client();
    let poll = std::thread::spawn(move || {
        let started = Instant::now();
        let request = ReceiveRequest {
            wait_ms: Some(20_000),
            ..ReceiveRequest::default()
        };
        let result = runtime().block_on(client.receive("lp", &request));
        (
            result.map(|m| m.len()).map_err(|e| e.to_string()),
            started.elapsed(),
        )
    });
    std::thread::sleep(Duration::from_millis(300));
    let (status, log) = server.terminate();
    let (result, waited) = poll.join().unwrap_or_else(|_| panic!("poller panicked"));
    assert_eq!(
        result,
        Ok(0),
        "the long poll was answered (pid {pid}): {log}"
    );
    // Shutdown answers pending long polls at once instead of waiting out their 20 s.
    assert!(
        waited < Duration::from_secs(5),
        "the long poll held the shutdown: answered after {waited:?}"
    );
    assert_eq!(status.code(), Some(0), "{log}");
}

#[test]
fn messages_survive_a_restart_and_a_crash() {
    let dir = DataDir::new();
    let server = Server::start(&dir, &[]);
    let rt = runtime();
    rt.block_on(async {
        let client = server.client();
        client
            .put_queue("durable", &QueueConfig::default())
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        client
            .send("durable", vec![SendEntry::text("before restart")])
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    });

    let server = server.restart();
    rt.block_on(async {
        let client = server.client();
        let info = client
            .queue_info("durable")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(info.stats.visible, 1);
        client
            .send("durable", vec![SendEntry::text("before crash")])
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    });

    let server = server.crash_restart();
    rt.block_on(async {
        let client = server.client();
        let request = ReceiveRequest {
            max: Some(10),
            wait_ms: Some(200),
            ..ReceiveRequest::default()
        };
        let received = client
            .receive("durable", &request)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let mut bodies: Vec<String> = received.into_iter().filter_map(|m| m.body).collect();
        bodies.sort();
        assert_eq!(bodies, ["before crash", "before restart"]);
    });
}

#[test]
fn health_and_the_openapi_document_match_the_live_router() {
    let dir = DataDir::new();
    let server = Server::start(&dir, &[]);
    let client = server.client();
    runtime().block_on(async {
        assert_eq!(
            client.ready().await.map(|h| h.status).ok().as_deref(),
            Some("ready")
        );
        let live = raw()
            .get(format!("{}/health/live", server.url()))
            .send()
            .await
            .map(|r| r.status().as_u16());
        assert_eq!(live.ok(), Some(200));
        client
            .put_queue("probe", &QueueConfig::default())
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let doc = client.openapi().await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(doc["openapi"], "3.1.0");
        let paths = doc["paths"].as_object().cloned().unwrap_or_default();
        assert!(paths.len() >= 12, "{} paths", paths.len());
        for (path, item) in &paths {
            let concrete = path
                .replace("{q}", "probe")
                .replace("{id}", "00000000-0000-0000-0000-000000000001");
            for method in ["GET", "PUT", "POST", "DELETE", "PATCH"] {
                let documented = item.get(method.to_lowercase()).is_some();
                let body = if method == "PUT" && path.ends_with("{q}") {
                    "{}"
                } else {
                    ""
                };
                let m = Method::from_bytes(method.as_bytes()).unwrap_or(Method::GET);
                let response = raw()
                    .request(m, format!("{}{concrete}", server.url()))
                    .body(body)
                    .send()
                    .await;
                let response = response.unwrap_or_else(|e| panic!("{method} {path}: {e}"));
                let status = response.status().as_u16();
                let reply: serde_json::Value = response.json().await.unwrap_or_default();
                let route_missing = status == 404 && reply["error"]["code"] == "not_found";
                if documented {
                    assert!(
                        status != 405 && !route_missing,
                        "{method} {path} is documented but not served: {status} {reply}"
                    );
                } else {
                    assert_eq!(
                        status, 405,
                        "{method} {path} is served but not documented: {reply}"
                    );
                }
            }
        }
    });
}

#[test]
fn print_config_shows_env_and_flag_precedence() {
    let run = |envs: &[(&str, &str)], args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_ferry"))
            .args(["serve", "--print-config"])
            .args(args)
            .env_remove("FERRY_CONFIG")
            .envs(envs.iter().copied())
            .output()
            .unwrap_or_else(|e| panic!("{e}"));
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (ok, out, _) = run(&[], &[]);
    assert!(
        ok && out.contains("fsync = \"always\"") && out.contains("listen = \"127.0.0.1:7480\""),
        "{out}"
    );
    let (ok, out, _) = run(
        &[
            ("FERRY_FSYNC", "never"),
            ("FERRY_HTTP_LISTEN", "127.0.0.1:9999"),
        ],
        &[],
    );
    assert!(
        ok && out.contains("fsync = \"never\"") && out.contains("listen = \"127.0.0.1:9999\""),
        "{out}"
    );
    let (ok, out, _) = run(&[("FERRY_FSYNC", "never")], &["--fsync", "interval:7"]);
    assert!(ok && out.contains("fsync = \"interval:7\""), "{out}");
    let (ok, _, err) = run(&[("FERRY_FSYNC", "sometimes")], &[]);
    assert!(
        !ok && err.starts_with("error: invalid_config: FERRY_FSYNC"),
        "{err}"
    );
}
