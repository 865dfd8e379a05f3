//! `create`, `list`, `info` and `compact`.

use crate::failure::Failure;
use crate::output::{Table, time};
use crate::stream::args::{CreateArgs, Limit};
use crate::stream::format::{out, out_json};
use ferry_api::StreamConfig;
use ferry_client::Client;
use serde_json::{Map, Value};

/// Creates the stream, or lays the flags over its current config if it exists.
pub(super) async fn create(client: &Client, args: CreateArgs) -> Result<(), Failure> {
    let base = match client.stream_info(&args.name).await {
        Ok(details) => details.config,
        Err(e) if e.code() == "stream_not_found" => StreamConfig::default(),
        Err(e) => return Err(e.into()),
    };
    let config = config_apply(&base, &args)?;
    let outcome = client.put_stream(&args.name, &config).await?;
    let verb = if outcome.created {
        "created"
    } else {
        "updated"
    };
    out(&format!(
        "{verb} stream {} ({} partition{})\n",
        outcome.stream.name,
        outcome.stream.config.partitions,
        if outcome.stream.config.partitions == 1 {
            ""
        } else {
            "s"
        }
    ));
    Ok(())
}

/// `base` with the keys of `--config-json` and then the flags laid over it. Settings go
/// through their JSON names, so the server's validation of `StreamConfig` applies as is.
pub(super) fn config_apply(
    base: &StreamConfig,
    args: &CreateArgs,
) -> Result<StreamConfig, Failure> {
    let invalid = |message: String| Failure::new("invalid_argument", message);
    let mut map = match serde_json::to_value(base) {
        Ok(Value::Object(map)) => map,
        Ok(other) => return Err(invalid(format!("stream config is not an object: {other}"))),
        Err(e) => return Err(invalid(e.to_string())),
    };
    if let Some(text) = &args.config_json {
        let overlay: Value =
            serde_json::from_str(text).map_err(|e| invalid(format!("--config-json: {e}")))?;
        let Value::Object(overlay) = overlay else {
            return Err(invalid("--config-json: expected a JSON object".to_owned()));
        };
        map.extend(overlay);
    }
    config_apply_flags(&mut map, args);
    serde_json::from_value(Value::Object(map))
        .map_err(|e| invalid(format!("invalid stream config: {e}")))
}

fn config_apply_flags(map: &mut Map<String, Value>, args: &CreateArgs) {
    let limit = |limit: Limit| match limit {
        Limit::At(n) => Value::from(n),
        Limit::Unlimited => Value::Null,
    };
    let flags = [
        ("partitions", args.partitions.map(Value::from)),
        ("retention_ms", args.retention_ms.map(Value::from)),
        ("retention_ms", args.retention.as_ref().map(|_| Value::Null)),
        ("retention_bytes", args.retention_bytes.map(limit)),
        ("cleanup", args.cleanup.clone().map(Value::from)),
        ("max_record_bytes", args.max_record_bytes.map(Value::from)),
        ("segment_bytes", args.segment_bytes.map(Value::from)),
    ];
    for (key, value) in flags {
        if let Some(value) = value {
            map.insert(key.to_owned(), value);
        }
    }
}

pub(super) async fn list(client: &Client, json: bool) -> Result<(), Failure> {
    let streams = client.list_streams().await?;
    if json {
        out_json(&serde_json::json!({ "streams": streams }));
        return Ok(());
    }
    let mut table = Table::new(&[
        "NAME",
        "PARTITIONS",
        "RETENTION_MS",
        "RETENTION_BYTES",
        "CLEANUP",
    ]);
    for s in streams {
        let config = config_fields(&s.config);
        let field = |key: &str| {
            config
                .iter()
                .find(|(k, _)| k == key)
                .map_or_else(|| "-".to_owned(), |(_, v)| v.clone())
        };
        table.row(vec![
            s.name.clone(),
            field("partitions"),
            field("retention_ms"),
            field("retention_bytes"),
            field("cleanup"),
        ]);
    }
    out(&table.render());
    Ok(())
}

pub(super) async fn info(client: &Client, name: &str, json: bool) -> Result<(), Failure> {
    let details = client.stream_info(name).await?;
    if json {
        out_json(&details);
        return Ok(());
    }
    let mut table = Table::new(&["KEY", "VALUE"]);
    table.row(vec!["name".into(), details.name.clone()]);
    table.row(vec!["created_at".into(), time(details.created_at)]);
    table.row(vec!["updated_at".into(), time(details.updated_at)]);
    let groups = if details.groups.is_empty() {
        "-".to_owned()
    } else {
        details.groups.join(", ")
    };
    table.row(vec!["groups".into(), groups]);
    for (key, value) in config_fields(&details.config) {
        table.row(vec![format!("config.{key}"), value]);
    }
    out(&table.render());
    out("\n");
    let mut partitions = Table::new(&[
        "PARTITION",
        "START_OFFSET",
        "END_OFFSET",
        "BYTES",
        "SEGMENTS",
    ]);
    for p in &details.partitions {
        partitions.row(vec![
            p.partition.to_string(),
            p.start_offset.to_string(),
            p.end_offset.to_string(),
            p.bytes.to_string(),
            p.segments.to_string(),
        ]);
    }
    out(&partitions.render());
    Ok(())
}

pub(super) async fn compact(client: &Client, name: &str) -> Result<(), Failure> {
    let outcome = client.compact_stream(name).await?;
    out(&format!(
        "compacted stream {name}: {} segments rewritten, {} records removed\n",
        outcome.segments_rewritten, outcome.records_removed
    ));
    Ok(())
}

/// A config's settings as `(key, value)` text, `-` for none.
fn config_fields(config: &StreamConfig) -> Vec<(String, String)> {
    let Ok(Value::Object(map)) = serde_json::to_value(config) else {
        return Vec::new();
    };
    map.into_iter()
        .map(|(key, v)| {
            let shown = match v {
                Value::Null => "-".to_owned(),
                Value::String(s) => s,
                other => other.to_string(),
            };
            (key, shown)
        })
        .collect()
}
