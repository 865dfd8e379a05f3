use super::*;
use crate::cli::{Cli, Command, ServeArgs};
use crate::serve::settings_load;
use clap::{CommandFactory as _, Parser as _};
use std::collections::HashMap;
use std::io::Write as _;

fn serve_args(args: &[&str]) -> ServeArgs {
    let argv = ["ferry", "serve"].iter().chain(args.iter());
    match Cli::try_parse_from(argv).map(|cli| cli.command) {
        Ok(Command::Serve(args)) => args,
        other => panic!("not a serve command: {other:?}"),
    }
}

fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    move |name: &str| map.get(name).cloned()
}

fn load(args: &[&str], env: &[(&str, &str)]) -> Result<Settings, String> {
    settings_load(&serve_args(args), &env_of(env)).map_err(|f| f.to_string())
}

fn config_file(text: &str) -> tempfile::NamedTempFile {
    let mut file = tempfile::NamedTempFile::new().unwrap_or_else(|e| panic!("{e}"));
    file.write_all(text.as_bytes())
        .unwrap_or_else(|e| panic!("{e}"));
    file
}

#[test]
fn defaults_are_safe_and_documented() {
    let s = load(&[], &[]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s, Settings::default());
    assert_eq!(s.data_dir, PathBuf::from("./ferry-data"));
    assert_eq!(s.http.listen.to_string(), "127.0.0.1:7480");
    assert_eq!(s.fsync, FsyncPolicy::Always);
    assert_eq!(s.http.max_request_bytes, 32 * 1024 * 1024);
    assert_eq!(s.log.format, LogFormat::Text);
    assert!(s.validate().is_ok());
}

#[test]
fn file_then_env_then_flags() {
    let file = config_file(
        "data_dir = \"/from/file\"\nfsync = \"never\"\nsegment_bytes = 8192\n\
         [http]\nlisten = \"127.0.0.1:1111\"\nmax_request_bytes = 4096\n[log]\nformat = \"json\"\n",
    );
    let path = file.path().to_string_lossy().into_owned();
    let only_file = load(&["--config", &path], &[]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(only_file.data_dir, PathBuf::from("/from/file"));
    assert_eq!(
        (only_file.fsync, only_file.segment_bytes),
        (FsyncPolicy::Never, 8192)
    );
    assert_eq!(
        (
            only_file.http.listen.port(),
            only_file.http.max_request_bytes
        ),
        (1111, 4096)
    );
    assert_eq!(only_file.log.format, LogFormat::Json);

    let env = [
        ("FERRY_DATA_DIR", "/from/env"),
        ("FERRY_FSYNC", "interval:50"),
        ("FERRY_HTTP_LISTEN", "127.0.0.1:2222"),
    ];
    let with_env = load(&["--config", &path], &env).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(with_env.data_dir, PathBuf::from("/from/env"));
    assert_eq!(
        with_env.fsync,
        FsyncPolicy::Interval(Duration::from_millis(50))
    );
    assert_eq!(with_env.http.listen.port(), 2222);
    assert_eq!(
        with_env.segment_bytes, 8192,
        "keys the environment does not set stay as the file has them"
    );

    let flags = [
        "--config",
        &path,
        "--data-dir",
        "/from/flag",
        "--http-listen",
        "127.0.0.1:0",
        "--log-format",
        "text",
    ];
    let with_flags = load(&flags, &env).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(with_flags.data_dir, PathBuf::from("/from/flag"));
    assert_eq!(with_flags.http.listen.port(), 0);
    assert_eq!(with_flags.log.format, LogFormat::Text);
    assert_eq!(
        with_flags.fsync,
        FsyncPolicy::Interval(Duration::from_millis(50)),
        "flags not given leave env values"
    );
}

#[test]
fn every_env_variable_is_read() {
    let env = [
        ("FERRY_SEGMENT_BYTES", "65536"),
        ("FERRY_MAX_BATCH_MESSAGES", "7"),
        ("FERRY_MAX_RECEIVE_MESSAGES", "8"),
        ("FERRY_MAX_WAIT_MS", "9000"),
        ("FERRY_SHUTDOWN_TIMEOUT_MS", "10"),
        ("FERRY_HTTP_MAX_REQUEST_BYTES", "2048"),
        ("FERRY_HTTP_METRICS_SAMPLE_INTERVAL_MS", "250"),
        ("FERRY_LOG_FORMAT", "json"),
        ("FERRY_LOG_FILTER", "debug"),
    ];
    let s = load(&[], &env).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        (
            s.segment_bytes,
            s.max_batch_messages,
            s.max_receive_messages
        ),
        (65_536, 7, 8)
    );
    assert_eq!(
        (
            s.max_wait_ms,
            s.shutdown_timeout_ms,
            s.http.max_request_bytes
        ),
        (9000, 10, 2048)
    );
    assert_eq!(s.http.metrics_sample_interval_ms, 250);
    assert_eq!(
        (s.log.format, s.log.filter.as_str()),
        (LogFormat::Json, "debug")
    );
}

#[test]
fn bad_values_name_their_source() {
    let err = load(&[], &[("FERRY_FSYNC", "sometimes")])
        .err()
        .unwrap_or_default();
    assert!(
        err.starts_with("invalid_config: FERRY_FSYNC: \"sometimes\""),
        "{err}"
    );
    let err = load(&[], &[("FERRY_SEGMENT_BYTES", "lots")])
        .err()
        .unwrap_or_default();
    assert!(
        err.contains("FERRY_SEGMENT_BYTES: \"lots\": invalid digit"),
        "{err}"
    );
    let err = load(&[], &[("FERRY_HTTP_LISTEN", "localhost")])
        .err()
        .unwrap_or_default();
    assert!(err.contains("FERRY_HTTP_LISTEN"), "{err}");

    let file = config_file("[http]\nlisten = \"127.0.0.1:1\"\nport = 3\n");
    let path = file.path().to_string_lossy().into_owned();
    let err = load(&["--config", &path], &[]).err().unwrap_or_default();
    assert!(
        err.contains(&path) && err.contains("unknown field `port`"),
        "{err}"
    );

    let err = load(&["--config", "/no/such/ferry.toml"], &[])
        .err()
        .unwrap_or_default();
    assert!(err.contains("/no/such/ferry.toml"), "{err}");

    assert!(Cli::try_parse_from(["ferry", "serve", "--fsync", "interval:0"]).is_err());
    assert!(Cli::try_parse_from(["ferry", "serve", "--log-format", "xml"]).is_err());
}

#[test]
fn validate_names_the_key() {
    let cases: Vec<(Settings, &str)> = vec![
        (
            Settings {
                segment_bytes: 10,
                ..Settings::default()
            },
            "segment_bytes",
        ),
        (
            Settings {
                max_batch_messages: 0,
                ..Settings::default()
            },
            "max_batch_messages",
        ),
        (
            Settings {
                max_receive_messages: 0,
                ..Settings::default()
            },
            "max_receive_messages",
        ),
        (
            Settings {
                max_wait_ms: u64::MAX,
                ..Settings::default()
            },
            "max_wait_ms",
        ),
        (
            Settings {
                data_dir: PathBuf::new(),
                ..Settings::default()
            },
            "data_dir",
        ),
        (
            Settings {
                http: HttpSettings {
                    max_request_bytes: 10,
                    ..Settings::default().http
                },
                ..Settings::default()
            },
            "http.max_request_bytes",
        ),
        (
            Settings {
                log: LogSettings {
                    filter: "=[".into(),
                    ..Settings::default().log
                },
                ..Settings::default()
            },
            "log.filter",
        ),
    ];
    for (settings, key) in cases {
        assert_eq!(
            settings.validate().err().map(|e| e.place),
            Some(key.to_owned())
        );
    }
}

#[test]
fn validated_config_reaches_the_broker_and_http() {
    let s = load(
        &[
            "--data-dir",
            "/d",
            "--fsync",
            "never",
            "--segment-bytes",
            "65536",
            "--max-request-bytes",
            "4096",
        ],
        &[],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let valid = s.validate().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(valid.broker.data_dir, PathBuf::from("/d"));
    assert_eq!(
        (valid.broker.fsync, valid.broker.segment_bytes),
        (FsyncPolicy::Never, 65_536)
    );
    assert_eq!(valid.http.max_request_bytes, 4096);
    assert_eq!(valid.shutdown_timeout, Duration::from_secs(30));
}

#[test]
fn printed_config_reads_back_as_the_same_settings() {
    let s = Settings {
        fsync: FsyncPolicy::Interval(Duration::from_millis(5)),
        ..Settings::default()
    };
    let text = s.to_toml();
    assert!(
        text.contains("fsync = \"interval:5\"")
            && text.contains("[http]")
            && text.contains("listen = \"127.0.0.1:7480\""),
        "{text}"
    );
    let back = Partial::from_toml(&text).map(|p| Settings::default().overlay(p));
    assert_eq!(back, Ok(s));
}

#[test]
fn help_shows_the_defaults() {
    let mut cmd = Cli::command();
    let help = cmd
        .find_subcommand_mut("serve")
        .map(|c| c.render_help().to_string())
        .unwrap_or_default();
    for default in [
        DEFAULT_DATA_DIR,
        &DEFAULT_HTTP_LISTEN.to_string(),
        "[default: always]",
    ] {
        assert!(help.contains(default), "{default} missing from:\n{help}");
    }
}

#[test]
fn the_metrics_sample_interval_layers_like_every_key() {
    let file = config_file("[http]\nmetrics_sample_interval_ms = 700\n");
    let path = file.path().to_string_lossy().into_owned();
    let from_file = load(&["--config", &path], &[]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(from_file.http.metrics_sample_interval_ms, 700);
    let from_flag = load(
        &["--config", &path, "--metrics-sample-interval-ms", "300"],
        &[],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(from_flag.http.metrics_sample_interval_ms, 300);
    let valid = from_flag.validate().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        valid.http.history_interval,
        std::time::Duration::from_millis(300)
    );
}
