//! A harness that runs the real `ferry` binary on a free loopback port with a temporary data
//! directory, and stops it by its own PID.

#![allow(dead_code, unreachable_pub)]

use ferry_client::Client;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// How long the server gets to announce itself or to exit.
const PATIENCE: Duration = Duration::from_secs(30);

/// A running `ferry serve`; killed (SIGKILL) on drop if still running.
pub struct Server {
    child: Child,
    /// The address it listens on.
    pub addr: SocketAddr,
    /// The address its Kafka listener is on.
    pub kafka_addr: Option<SocketAddr>,
    /// Its data directory (owned by the [`DataDir`] it was started with).
    pub data_dir: PathBuf,
    /// The extra flags it was started with (kept for restarts).
    extra: Vec<String>,
    stderr: thread::JoinHandle<String>,
    _stdout: thread::JoinHandle<()>,
}

/// A temporary data directory that outlives restarts of the server using it.
pub struct DataDir(tempfile::TempDir);

impl DataDir {
    pub fn new() -> DataDir {
        DataDir(tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}")))
    }

    pub fn path(&self) -> &Path {
        self.0.path()
    }
}

impl Server {
    /// Starts `ferry serve` on `data_dir` with extra flags; waits for its announcement line.
    pub fn start(data_dir: &DataDir, extra: &[&str]) -> Server {
        let extra: Vec<String> = extra.iter().map(|s| (*s).to_owned()).collect();
        Server::start_in(data_dir.path(), extra)
    }

    /// Stops the server gracefully (SIGTERM, which must exit 0) and starts it again on the
    /// same data directory with the same flags (on a new port).
    pub fn restart(self) -> Server {
        let (data_dir, extra) = (self.data_dir.clone(), self.extra.clone());
        let (status, log) = self.terminate();
        assert_eq!(status.code(), Some(0), "graceful stop failed:\n{log}");
        Server::start_in(&data_dir, extra)
    }

    /// Kills the server with SIGKILL (a crash) and starts it again on the same data directory
    /// with the same flags.
    pub fn crash_restart(self) -> Server {
        let (data_dir, extra) = (self.data_dir.clone(), self.extra.clone());
        self.kill();
        Server::start_in(&data_dir, extra)
    }

    fn start_in(data_dir: &Path, extra: Vec<String>) -> Server {
        let mut command = Command::new(env!("CARGO_BIN_EXE_ferry"));
        command
            .args([
                "serve",
                "--http-listen",
                "127.0.0.1:0",
                "--kafka-listen",
                "127.0.0.1:0",
                "--data-dir",
            ])
            .arg(data_dir)
            .args(&extra)
            .env_remove("FERRY_CONFIG")
            .env("FERRY_LOG_FILTER", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("spawn ferry: {e}"));
        let stdout = child.stdout.take().unwrap_or_else(|| panic!("no stdout"));
        let stderr = child.stderr.take().unwrap_or_else(|| panic!("no stderr"));
        let stderr = thread::spawn(move || {
            let mut text = String::new();
            let _ = BufReader::new(stderr).read_to_string(&mut text);
            text
        });
        let (tx, rx) = mpsc::channel();
        let stdout = thread::spawn(move || read_announcement(stdout, tx));
        let (addr, kafka_addr) = match rx.recv_timeout(PATIENCE) {
            Ok(addrs) => addrs,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                let log = stderr.join().unwrap_or_default();
                panic!("ferry did not announce itself within {PATIENCE:?}; stderr:\n{log}");
            }
        };
        Server {
            child,
            addr,
            kafka_addr,
            data_dir: data_dir.to_owned(),
            extra,
            stderr,
            _stdout: stdout,
        }
    }

    /// The base URL, e.g. `http://127.0.0.1:40123`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A client of this server.
    pub fn client(&self) -> Client {
        Client::new(&self.url()).unwrap_or_else(|e| panic!("client: {e}"))
    }

    /// The PID of the process.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGTERM and waits for the exit; returns the status and everything it wrote to
    /// stderr.
    pub fn terminate(self) -> (ExitStatus, String) {
        self.signal_and_wait(Signal::SIGTERM)
    }

    /// Sends `signal` and waits for the exit.
    pub fn signal_and_wait(mut self, signal: Signal) -> (ExitStatus, String) {
        let pid = Pid::from_raw(i32::try_from(self.child.id()).unwrap_or(i32::MAX));
        kill(pid, signal).unwrap_or_else(|e| panic!("kill -{signal}: {e}"));
        let status = self.wait_exit();
        let log = std::mem::replace(&mut self.stderr, thread::spawn(String::new))
            .join()
            .unwrap_or_default();
        (status, log)
    }

    /// Kills the process with SIGKILL (a crash) and waits for it.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn wait_exit(&mut self) -> ExitStatus {
        let started = Instant::now();
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => return status,
                Ok(None) if started.elapsed() < PATIENCE => {
                    thread::sleep(Duration::from_millis(20))
                }
                Ok(None) => {
                    let _ = self.child.kill();
                    panic!("ferry did not exit within {PATIENCE:?}");
                }
                Err(e) => panic!("wait: {e}"),
            }
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Reads stdout until `ferry listening http=<addr> kafka=<addr>`, sends the addresses, then
/// drains the rest.
fn read_announcement(stdout: ChildStdout, tx: mpsc::Sender<(SocketAddr, Option<SocketAddr>)>) {
    let mut lines = BufReader::new(stdout).lines();
    for line in lines.by_ref() {
        let Ok(line) = line else { return };
        if let Some(rest) = line.strip_prefix("ferry listening ") {
            let field = |name: &str| {
                rest.split_whitespace()
                    .find_map(|f| f.strip_prefix(name))
                    .and_then(|a| a.parse::<SocketAddr>().ok())
            };
            if let Some(http) = field("http=") {
                let _ = tx.send((http, field("kafka=")));
            }
            break;
        }
    }
    for _ in lines {}
}

/// A tokio runtime for one test.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"))
}

/// A raw HTTP client for requests `ferry-client` would never send.
pub fn raw() -> reqwest::Client {
    reqwest::Client::new()
}

/// Runs `ferry queue …` against `server` and returns (exit success, stdout, stderr).
pub fn cli(server: &Server, args: &[&str], stdin: Option<&str>) -> (bool, String, String) {
    let mut full = vec!["queue"];
    full.extend_from_slice(args);
    ferry_cli(server, &full, stdin)
}

/// Runs `ferry bench WORKLOAD --json ARGS` against `server`; returns whether it exited 0, the
/// parsed report (Null if stdout is not JSON) and stderr.
pub fn bench(server: &Server, workload: &str, args: &[&str]) -> (bool, serde_json::Value, String) {
    let mut full = vec!["bench", workload, "--json"];
    full.extend_from_slice(args);
    let (ok, stdout, stderr) = ferry_cli(server, &full, None);
    let report = serde_json::from_str(&stdout).unwrap_or(serde_json::Value::Null);
    (ok, report, stderr)
}

/// Runs `ferry …` against `server` and returns (exit success, stdout, stderr).
pub fn ferry_cli(server: &Server, args: &[&str], stdin: Option<&str>) -> (bool, String, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ferry"));
    command
        .args(args)
        .env("FERRY_URL", server.url())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    });
    let mut child = command
        .spawn()
        .unwrap_or_else(|e| panic!("spawn ferry: {e}"));
    if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
        use std::io::Write as _;
        pipe.write_all(text.as_bytes())
            .unwrap_or_else(|e| panic!("stdin: {e}"));
    }
    let out = child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("wait: {e}"));
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Sends a raw JSON request to `server`; returns the status and the parsed JSON body (Null if
/// none).
pub async fn call_json(
    server: &Server,
    method: reqwest::Method,
    path: &str,
    body: Option<&str>,
) -> (u16, serde_json::Value) {
    let mut request = raw().request(method, format!("{}{path}", server.url()));
    if let Some(body) = body {
        request = request
            .header("content-type", "application/json")
            .body(body.to_owned());
    }
    let response = request
        .send()
        .await
        .unwrap_or_else(|e| panic!("{path}: {e}"));
    let status = response.status().as_u16();
    let bytes = response.bytes().await.unwrap_or_default();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
    )
}

/// One server-sent event as received.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event:` field (`message` if absent).
    pub event: String,
    /// The `id:` field, if the event had one.
    pub id: Option<String>,
    /// The `data:` lines, joined by `\n`.
    pub data: String,
}

/// A raw `text/event-stream` reply read event by event (`\n` line endings, as Ferry sends).
pub struct SseReader {
    response: reqwest::Response,
    buffer: String,
}

impl SseReader {
    /// Opens `path` on `server` with `Accept: text/event-stream` and the given extra headers;
    /// panics unless the reply is a 200 event stream.
    pub async fn open(server: &Server, path: &str, headers: &[(&str, &str)]) -> SseReader {
        let mut request = raw()
            .get(format!("{}{path}", server.url()))
            .header("accept", "text/event-stream");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("{path}: {e}"));
        let status = response.status().as_u16();
        let kind = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        if status != 200 || !kind.starts_with("text/event-stream") {
            let body = response.text().await.unwrap_or_default();
            panic!("{path}: {status} {kind}: {body}");
        }
        SseReader {
            response,
            buffer: String::new(),
        }
    }

    /// The next event (comments skipped), `None` once the server ended the reply. Panics if
    /// nothing arrives within `patience`.
    pub async fn next(&mut self, patience: Duration) -> Option<SseEvent> {
        let deadline = tokio::time::Instant::now() + patience;
        loop {
            if let Some(event) = self.take_event() {
                return Some(event);
            }
            let chunk = tokio::time::timeout_at(deadline, self.response.chunk())
                .await
                .unwrap_or_else(|_| panic!("no event within {patience:?}"));
            match chunk {
                Ok(Some(bytes)) => self.buffer.push_str(&String::from_utf8_lossy(&bytes)),
                Ok(None) | Err(_) => return None,
            }
        }
    }

    /// The next event of kind `event` (others skipped), as [`SseReader::next`].
    pub async fn next_of(&mut self, event: &str, patience: Duration) -> Option<SseEvent> {
        let deadline = tokio::time::Instant::now() + patience;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let got = self.next(left).await?;
            if got.event == event {
                return Some(got);
            }
        }
    }

    fn take_event(&mut self) -> Option<SseEvent> {
        loop {
            let end = self.buffer.find("\n\n")?;
            let block: String = self.buffer.drain(..end + 2).collect();
            let mut event = SseEvent {
                event: "message".to_owned(),
                ..SseEvent::default()
            };
            let mut data: Vec<&str> = Vec::new();
            for line in block.lines() {
                let (field, value) = line.split_once(':').unwrap_or((line, ""));
                let value = value.strip_prefix(' ').unwrap_or(value);
                match field {
                    "event" => event.event = value.to_owned(),
                    "id" => event.id = Some(value.to_owned()),
                    "data" => data.push(value),
                    _ => {}
                }
            }
            if !data.is_empty() {
                event.data = data.join("\n");
                return Some(event);
            }
        }
    }
}

/// Creates stream `name` with `partitions` partitions and appends `count` text records
/// `"{prefix}{i}"`, record `i` to partition `i % partitions`.
pub async fn seeded_stream(client: &Client, name: &str, partitions: u32, prefix: &str, count: u32) {
    let config = ferry_client::api::StreamConfig {
        partitions,
        ..ferry_client::api::StreamConfig::default()
    };
    client
        .put_stream(name, &config)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let records = (0..count)
        .map(|i| {
            ferry_client::api::AppendRecord::text(format!("{prefix}{i}"))
                .with_partition(i % partitions)
        })
        .collect();
    let request = ferry_client::api::AppendRequest {
        records,
        expected_offset: None,
    };
    client
        .append(name, &request)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
}
