use super::admin::config_apply;
use super::args::{CreateArgs, Limit, StreamCommand, parse_partition_offset};
use crate::cli::{Cli, Command};
use clap::Parser as _;
use ferry_api::{OffsetSpec, ResetOffset, StreamConfig};

fn parse(argv: &[&str]) -> Result<StreamCommand, String> {
    let mut full = vec!["ferry", "stream"];
    full.extend_from_slice(argv);
    match Cli::try_parse_from(full) {
        Ok(Cli {
            command: Command::Stream(args),
        }) => Ok(args.command),
        Ok(other) => Err(format!("{other:?}")),
        Err(e) => Err(e.to_string()),
    }
}

fn create(argv: &[&str]) -> CreateArgs {
    let mut full = vec!["create", "s"];
    full.extend_from_slice(argv);
    match parse(&full) {
        Ok(StreamCommand::Create(args)) => args,
        other => panic!("{other:?}"),
    }
}

#[test]
fn create_flags_parse() {
    let args = create(&[
        "--partitions",
        "4",
        "--retention-ms",
        "60000",
        "--retention-bytes",
        "unlimited",
        "--cleanup",
        "compact,delete",
        "--max-record-bytes",
        "1024",
        "--segment-bytes",
        "1048576",
    ]);
    assert_eq!(args.partitions, Some(4));
    assert_eq!(args.retention_ms, Some(60_000));
    assert_eq!(args.retention_bytes, Some(Limit::Unlimited));
    assert_eq!(args.cleanup.as_deref(), Some("compact,delete"));
    assert_eq!(
        (args.max_record_bytes, args.segment_bytes),
        (Some(1024), Some(1_048_576))
    );
    assert_eq!(
        create(&["--retention", "forever"]).retention.as_deref(),
        Some("forever")
    );
    assert_eq!(
        create(&["--retention-bytes", "500"]).retention_bytes,
        Some(Limit::At(500))
    );
    for bad in [
        &["create", "s", "--retention", "never"][..],
        &[
            "create",
            "s",
            "--retention",
            "forever",
            "--retention-ms",
            "5",
        ],
        &["create", "s", "--cleanup", "shred"],
        &["create", "s", "--partitions", "-1"],
        &["create", "s", "--retention-bytes", "lots"],
        &["create"],
    ] {
        assert!(parse(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn create_lays_flags_over_config_json_over_the_current_config() {
    let base = StreamConfig {
        partitions: 3,
        ..StreamConfig::default()
    };
    let args = CreateArgs {
        config_json: Some(r#"{"min_compaction_lag_ms": 5, "max_record_bytes": 7}"#.into()),
        ..create(&["--max-record-bytes", "9", "--retention", "forever"])
    };
    let config = config_apply(&base, &args).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(config.partitions, 3, "unset flags keep the current value");
    assert_eq!(config.max_record_bytes, 9, "flags win over --config-json");
    assert_eq!(config.min_compaction_lag_ms, 5);
    assert_eq!(config.retention_ms, None, "--retention forever clears it");
    let limited = config_apply(
        &config,
        &create(&["--retention-ms", "1000", "--retention-bytes", "10"]),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        (limited.retention_ms, limited.retention_bytes),
        (Some(1000), Some(10))
    );
    let unlimited = config_apply(&limited, &create(&["--retention-bytes", "unlimited"]))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(unlimited.retention_bytes, None);
}

#[test]
fn bad_config_json_is_an_invalid_argument() {
    for bad in ["[1]", "{", r#"{"colour": 1}"#, r#"{"partitions": "many"}"#] {
        let args = CreateArgs {
            config_json: Some(bad.into()),
            ..create(&[])
        };
        let err = config_apply(&StreamConfig::default(), &args)
            .err()
            .map(|e| e.code);
        assert_eq!(err.as_deref(), Some("invalid_argument"), "{bad}");
    }
}

#[test]
fn produce_flags_parse() {
    let Ok(StreamCommand::Produce(args)) = parse(&[
        "produce",
        "s",
        "--key",
        "k",
        "--partition",
        "2",
        "--header",
        "a=1",
        "--header",
        "b=2",
        "--expected-offset",
        "10",
        "--json",
        "v1",
        "v2",
    ]) else {
        panic!("not produce");
    };
    assert_eq!(args.values, vec!["v1", "v2"]);
    assert_eq!(
        (args.key.as_deref(), args.partition, args.expected_offset),
        (Some("k"), Some(2), Some(10))
    );
    assert_eq!(args.headers, vec!["a=1", "b=2"]);
    assert_eq!(args.batch, 1000);
    assert!(args.json && !args.tombstone);
    let Ok(StreamCommand::Produce(stdin)) =
        parse(&["produce", "s", "--key-separator", "\t", "--batch", "50"])
    else {
        panic!("not produce");
    };
    assert_eq!(
        (
            stdin.key_separator.as_deref(),
            stdin.batch,
            stdin.values.len()
        ),
        (Some("\t"), 50, 0)
    );
    assert!(parse(&["produce", "s", "--key", "k", "--tombstone"]).is_ok());
    for bad in [
        &["produce", "s", "--tombstone"][..],
        &["produce", "s", "--key", "k", "--tombstone", "v"],
        &["produce", "s", "--key", "k", "--key-separator", ":"],
        &["produce", "s", "--key-separator", ""],
        &["produce", "s", "--batch", "0"],
    ] {
        assert!(parse(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn consume_and_tail_flags_parse() {
    let Ok(StreamCommand::Consume(args)) = parse(&[
        "consume",
        "s",
        "--partition",
        "0",
        "--partition",
        "3",
        "--from",
        "42",
        "--max",
        "5",
        "--follow",
    ]) else {
        panic!("not consume");
    };
    assert_eq!(args.partitions, vec![0, 3]);
    assert_eq!((args.from, args.max), (OffsetSpec::At(42), Some(5)));
    assert!(args.follow && !args.json && args.group.is_none());
    let Ok(StreamCommand::Consume(group)) = parse(&["consume", "s", "--group", "g", "--json"])
    else {
        panic!("not consume");
    };
    assert_eq!(
        (group.group.as_deref(), group.from, group.json),
        (Some("g"), OffsetSpec::Earliest, true)
    );
    assert!(parse(&["consume", "s", "--group", "g", "--partition", "1"]).is_err());
    assert!(parse(&["consume", "s", "--from", "first"]).is_err());
    let Ok(StreamCommand::Tail(tail)) = parse(&["tail", "s", "--partition", "1", "--json"]) else {
        panic!("not tail");
    };
    assert_eq!((tail.partitions, tail.json), (vec![1], true));
}

#[test]
fn groups_and_the_url_flag_parse() {
    assert!(matches!(
        parse(&["groups", "s"]),
        Ok(StreamCommand::Groups { group: None, .. })
    ));
    assert!(matches!(
        parse(&["groups", "s", "g", "--json"]),
        Ok(StreamCommand::Groups {
            group: Some(_),
            json: true,
            ..
        })
    ));
    let url = Cli::try_parse_from(["ferry", "stream", "list", "--url", "http://h:1"]);
    match url.map(|c| c.command) {
        Ok(Command::Stream(args)) => assert_eq!(args.url, "http://h:1"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn partition_offsets_parse() {
    assert_eq!(
        parse_partition_offset("3:17"),
        Ok(ResetOffset {
            partition: 3,
            offset: 17
        })
    );
    for bad in ["3", ":1", "1:", "a:1", "1:-1", "1:2:3"] {
        assert!(parse_partition_offset(bad).is_err(), "{bad}");
    }
}
