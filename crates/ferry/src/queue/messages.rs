//! `send`, `recv`, `ack`, `complete` and `nack`.

use crate::cli::{RecvArgs, SendArgs};
use crate::failure::Failure;
use crate::output::{Table, body_line};
use crate::queue::print_json;
use ferry_api::{
    BatchResponse, CompletionEntry, NackRequest, ReceiveRequest, ReceiveResponse, SendEntry,
};
use ferry_client::Client;
use indicatif::{ProgressBar, ProgressStyle};
use std::collections::BTreeMap;
use std::io::BufRead as _;

pub(super) async fn send(client: &Client, args: SendArgs) -> Result<(), Failure> {
    let attributes = send_attributes(&args.attributes)?;
    let bodies = if args.bodies.is_empty() {
        send_read_stdin()?
    } else {
        args.bodies.clone()
    };
    let total = bodies.len();
    let batch = usize::from(args.batch);
    let progress = if total > batch {
        ProgressBar::new(total as u64)
    } else {
        ProgressBar::hidden()
    };
    if let Ok(style) =
        ProgressStyle::with_template("{bar:40} {pos}/{len} messages, {per_sec} ({eta} left)")
    {
        progress.set_style(style);
    }
    let mut duplicates = 0usize;
    for chunk in bodies.chunks(batch) {
        let entries = chunk
            .iter()
            .map(|body| SendEntry {
                attributes: attributes.clone(),
                delay_ms: args.delay_ms,
                group: args.group.clone(),
                priority: args.priority,
                ..SendEntry::text(body.clone())
            })
            .collect();
        let sent = match client.send(&args.name, entries).await {
            Ok(sent) => sent,
            Err(e) => {
                progress.abandon();
                let done = progress.position();
                return Err(Failure::new(
                    e.code(),
                    format!(
                        "{} ({done} of {total} messages were sent before this)",
                        e.message()
                    ),
                ));
            }
        };
        for s in &sent {
            duplicates += usize::from(s.duplicate);
            progress
                .suspend(|| println!("{}{}", s.id, if s.duplicate { " (duplicate)" } else { "" }));
        }
        progress.inc(sent.len() as u64);
    }
    progress.finish_and_clear();
    eprintln!(
        "sent {total} message{} to {} ({duplicates} duplicate{})",
        plural(total),
        args.name,
        plural(duplicates)
    );
    Ok(())
}

fn send_attributes(pairs: &[String]) -> Result<BTreeMap<String, String>, Failure> {
    pairs
        .iter()
        .map(|pair| match pair.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
            _ => Err(Failure::new(
                "invalid_argument",
                format!("--attr {pair:?}: expected KEY=VALUE"),
            )),
        })
        .collect()
}

fn send_read_stdin() -> Result<Vec<String>, Failure> {
    let lines: Result<Vec<String>, _> = std::io::stdin().lock().lines().collect();
    let lines = lines.map_err(|e| Failure::new("io", format!("reading stdin: {e}")))?;
    if lines.is_empty() {
        return Err(Failure::new(
            "invalid_argument",
            "no BODY given and stdin is empty",
        ));
    }
    Ok(lines)
}

pub(super) async fn recv(client: &Client, args: RecvArgs) -> Result<(), Failure> {
    let request = ReceiveRequest {
        max: Some(args.max),
        wait_ms: Some(args.wait_ms),
        visibility_timeout_ms: args.visibility_timeout_ms,
        auto_ack: None,
        consumer: Some("ferry-cli".to_owned()),
        attempt_id: None,
    };
    let messages = client.receive(&args.name, &request).await?;
    if args.json {
        print_json(&ReceiveResponse {
            messages: messages.clone(),
        });
    } else if messages.is_empty() {
        eprintln!("no messages");
    } else {
        let mut table = Table::new(&["ID", "RECEIVES", "RECEIPT", "BODY"]);
        for m in &messages {
            let body = m
                .decode_body()
                .map(|b| body_line(&b))
                .unwrap_or_else(|e| format!("<{e}>"));
            table.row(vec![
                m.id.to_string(),
                m.receive_count.to_string(),
                m.receipt.clone(),
                body,
            ]);
        }
        print!("{}", table.render());
    }
    if args.ack && !messages.is_empty() {
        let receipts = messages.into_iter().map(|m| m.receipt).collect();
        report(client.ack(&args.name, receipts).await?, "acked")?;
    }
    Ok(())
}

pub(super) async fn ack(client: &Client, name: &str, receipts: Vec<String>) -> Result<(), Failure> {
    report(client.ack(name, receipts).await?, "acked")
}

pub(super) async fn complete(
    client: &Client,
    name: &str,
    receipt: String,
    result: String,
) -> Result<(), Failure> {
    let completion = CompletionEntry::text(receipt, result);
    report(client.complete(name, vec![completion]).await?, "completed")
}

pub(super) async fn nack(
    client: &Client,
    name: &str,
    receipts: Vec<String>,
    delay_ms: Option<u64>,
    reason: Option<String>,
) -> Result<(), Failure> {
    report(
        client
            .nack(
                name,
                &NackRequest {
                    receipts,
                    delay_ms,
                    reason,
                },
            )
            .await?,
        "nacked",
    )
}

/// Prints how many receipts succeeded and each failure; fails if any did.
fn report(outcome: BatchResponse, verb: &str) -> Result<(), Failure> {
    eprintln!("{verb} {}", outcome.ok);
    for f in &outcome.failed {
        eprintln!(
            "error: {}: {} (receipt {})",
            f.error.code, f.error.message, f.receipt
        );
    }
    match outcome.failed.first() {
        None => Ok(()),
        Some(first) => {
            let total = outcome.failed.len() + outcome.ok as usize;
            Err(Failure::new(
                &first.error.code,
                format!("{} of {total} receipts failed", outcome.failed.len()),
            ))
        }
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_need_a_key_and_an_equals_sign() {
        let ok = send_attributes(&["a=1".into(), "b=x=y".into(), "c=".into()]).unwrap_or_default();
        assert_eq!(ok.get("b").map(String::as_str), Some("x=y"));
        assert_eq!(ok.len(), 3);
        for bad in ["novalue", "=v"] {
            assert!(send_attributes(&[bad.to_owned()]).is_err(), "{bad}");
        }
    }
}
