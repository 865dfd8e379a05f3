//! `ferry queue …`: the native API from a terminal, through `ferry-client`.

mod admin;
mod messages;

use crate::cli::{ConfigArgs, GapPolicyArg, QueueArgs, QueueCommand};
use crate::failure::Failure;
use crate::output::{Table, or_dash, time};
use ferry_api::{GapPolicy, Output, QueueConfig, ResequenceConfig};
use ferry_client::Client;
use serde_json::Value;

/// Runs one queue subcommand.
pub(crate) async fn run(args: QueueArgs) -> Result<(), Failure> {
    let client = Client::new(&args.url)?;
    match args.command {
        QueueCommand::Create(config) => create(&client, config).await,
        QueueCommand::Update(config) => update(&client, config).await,
        QueueCommand::List { json } => list(&client, json).await,
        QueueCommand::Info { name, json } => info(&client, &name, json).await,
        QueueCommand::Delete { name } => {
            client.delete_queue(&name).await?;
            println!("deleted queue {name}");
            Ok(())
        }
        QueueCommand::Send(send) => messages::send(&client, send).await,
        QueueCommand::Recv(recv) => messages::recv(&client, recv).await,
        QueueCommand::Ack { name, receipts } => messages::ack(&client, &name, receipts).await,
        QueueCommand::Complete {
            name,
            receipt,
            result,
        } => messages::complete(&client, &name, receipt, result).await,
        QueueCommand::SkipGaps { name, key } => {
            let skipped = client.skip_gaps(&name, key).await?;
            println!("skipped {skipped} gaps");
            Ok(())
        }
        QueueCommand::Nack {
            name,
            receipts,
            delay_ms,
            reason,
        } => messages::nack(&client, &name, receipts, delay_ms, reason).await,
        QueueCommand::Peek { name, limit, json } => admin::peek(&client, &name, limit, json).await,
        QueueCommand::Cancel { name, id } => admin::cancel(&client, &name, &id).await,
        QueueCommand::Purge { name } => admin::purge(&client, &name).await,
        QueueCommand::Redrive {
            name,
            max,
            rate_per_s,
        } => admin::redrive(&client, &name, max, rate_per_s).await,
    }
}

async fn create(client: &Client, args: ConfigArgs) -> Result<(), Failure> {
    match client.queue_info(&args.name).await {
        Ok(_) => {
            let message = format!(
                "queue {:?} already exists (use `ferry queue update` to change it)",
                args.name
            );
            return Err(Failure::new("conflict", message));
        }
        Err(e) if e.code() == "queue_not_found" => {}
        Err(e) => return Err(e.into()),
    }
    let config = config_apply(QueueConfig::default(), &args)?;
    put_and_report(client, &args.name, &config).await
}

async fn update(client: &Client, args: ConfigArgs) -> Result<(), Failure> {
    let current = client.queue_info(&args.name).await?.config;
    let config = config_apply(current, &args)?;
    put_and_report(client, &args.name, &config).await
}

/// Puts the queue's config and says whether it was created or updated.
async fn put_and_report(client: &Client, name: &str, config: &QueueConfig) -> Result<(), Failure> {
    let outcome = client.put_queue(name, config).await?;
    let verb = if outcome.created {
        "created"
    } else {
        "updated"
    };
    println!("{verb} queue {}", outcome.queue.name);
    Ok(())
}

/// `base` with the keys of `--config-json` and then the flags laid over it.
fn config_apply(base: QueueConfig, args: &ConfigArgs) -> Result<QueueConfig, Failure> {
    let invalid = |message: String| Failure::new("invalid_argument", message);
    let mut json = serde_json::to_value(&base).map_err(|e| invalid(e.to_string()))?;
    if let Some(text) = &args.config_json {
        let overlay: Value =
            serde_json::from_str(text).map_err(|e| invalid(format!("--config-json: {e}")))?;
        let Value::Object(overlay) = overlay else {
            return Err(invalid("--config-json: expected a JSON object".to_owned()));
        };
        if let Value::Object(map) = &mut json {
            map.extend(overlay);
        }
    }
    let mut config: QueueConfig =
        serde_json::from_value(json).map_err(|e| invalid(format!("--config-json: {e}")))?;
    if args.fifo {
        config.fifo = true;
    }
    if let Some(ms) = args.visibility_timeout_ms {
        config.visibility_timeout_ms = ms;
    }
    if let Some(dlq) = &args.dead_letter_queue {
        config.dead_letter_queue = Some(dlq.clone());
    }
    if let Some(n) = args.max_receives {
        config.max_receives = Some(n);
    }
    if let Some(ms) = args.delay_ms {
        config.delay_ms = ms;
    }
    let output = match (&args.resequence_stream, &args.resequence_queue) {
        (Some(stream), _) => Some(Output::Stream(stream.clone())),
        (None, Some(queue)) => Some(Output::Queue(queue.clone())),
        (None, None) => None,
    };
    if let Some(output) = output {
        let resequence = config.resequence.get_or_insert(ResequenceConfig {
            output: output.clone(),
            gap_policy: GapPolicy::Skip,
            gap_markers: false,
        });
        resequence.output = output;
    }
    if args.gap_policy.is_some() || args.gap_markers {
        let Some(resequence) = config.resequence.as_mut() else {
            return Err(invalid(
                "--gap-policy and --gap-markers need --resequence-stream or --resequence-queue"
                    .to_owned(),
            ));
        };
        if let Some(policy) = args.gap_policy {
            resequence.gap_policy = match policy {
                GapPolicyArg::Skip => GapPolicy::Skip,
                GapPolicyArg::Block => GapPolicy::Block,
            };
        }
        resequence.gap_markers |= args.gap_markers;
    }
    Ok(config)
}

async fn list(client: &Client, json: bool) -> Result<(), Failure> {
    let queues = client.list_queues().await?;
    if json {
        print_json(&serde_json::json!({ "queues": queues }));
        return Ok(());
    }
    let mut table = Table::new(&[
        "NAME",
        "FIFO",
        "VISIBILITY_MS",
        "MAX_RECEIVES",
        "DEAD_LETTER_QUEUE",
    ]);
    for q in queues {
        table.row(vec![
            q.name,
            yes_no(q.config.fifo),
            q.config.visibility_timeout_ms.to_string(),
            or_dash(q.config.max_receives),
            or_dash(q.config.dead_letter_queue),
        ]);
    }
    print!("{}", table.render());
    Ok(())
}

async fn info(client: &Client, name: &str, json: bool) -> Result<(), Failure> {
    let details = client.queue_info(name).await?;
    if json {
        print_json(&details);
        return Ok(());
    }
    let mut table = Table::new(&["KEY", "VALUE"]);
    table.row(vec!["name".into(), details.name.clone()]);
    table.row(vec!["created_at".into(), time(details.created_at)]);
    table.row(vec!["updated_at".into(), time(details.updated_at)]);
    let sources = if details.dead_letter_sources.is_empty() {
        "-".to_owned()
    } else {
        details.dead_letter_sources.join(", ")
    };
    table.row(vec!["dead_letter_sources".into(), sources]);
    for (prefix, value) in [
        ("config", serde_json::to_value(&details.config)),
        ("stats", serde_json::to_value(&details.stats)),
    ] {
        if let Ok(Value::Object(map)) = value {
            for (key, v) in map {
                let shown = match v {
                    Value::Null => "-".to_owned(),
                    Value::String(s) => s,
                    other => other.to_string(),
                };
                table.row(vec![format!("{prefix}.{key}"), shown]);
            }
        }
    }
    print!("{}", table.render());
    Ok(())
}

fn yes_no(b: bool) -> String {
    if b { "yes" } else { "no" }.to_owned()
}

/// Prints a value as pretty JSON on stdout.
pub(crate) fn print_json<T: serde::Serialize>(value: &T) {
    match serde_json::to_string_pretty(value) {
        Ok(text) => println!("{text}"),
        Err(e) => eprintln!("error: cannot print JSON: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(config_json: Option<&str>) -> ConfigArgs {
        ConfigArgs {
            name: "q".into(),
            fifo: false,
            visibility_timeout_ms: Some(5000),
            dead_letter_queue: None,
            max_receives: Some(3),
            delay_ms: None,
            resequence_stream: None,
            resequence_queue: Some("out".into()),
            gap_policy: Some(GapPolicyArg::Block),
            gap_markers: true,
            config_json: config_json.map(str::to_owned),
        }
    }

    #[test]
    fn flags_win_over_config_json_which_wins_over_the_base() {
        let base = QueueConfig {
            delay_ms: 7,
            ..QueueConfig::default()
        };
        let json = r#"{"visibility_timeout_ms": 1, "retention_ms": 60000}"#;
        let config = config_apply(base, &args(Some(json))).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (
                config.visibility_timeout_ms,
                config.retention_ms,
                config.delay_ms
            ),
            (5000, 60_000, 7)
        );
        assert_eq!(config.max_receives, Some(3));
        let resequence = config.resequence.unwrap_or_else(|| panic!("no resequence"));
        assert_eq!(
            (
                resequence.output,
                resequence.gap_policy,
                resequence.gap_markers
            ),
            (Output::Queue("out".into()), GapPolicy::Block, true)
        );
    }

    #[test]
    fn bad_config_json_is_an_invalid_argument() {
        for bad in ["[1]", "{", r#"{"colour": 1}"#, r#"{"delay_ms": "soon"}"#] {
            let err = config_apply(QueueConfig::default(), &args(Some(bad)))
                .err()
                .map(|e| e.code);
            assert_eq!(err.as_deref(), Some("invalid_argument"), "{bad}");
        }
    }
}
