//! `ferry txn`: acks leases and publishes messages and records in one transaction
//! (`POST /v1/transactions`), all or nothing.

use crate::cli::TxnArgs;
use crate::failure::Failure;
use ferry_api::{AppendRecord, PublishEntry, SendEntry, TransactionAckEntry, TransactionRequest};
use ferry_client::Client;

/// Runs one transaction and prints what it did.
///
/// # Errors
/// A malformed flag, or the server's refusal (then nothing was acked or published).
pub(crate) async fn run(args: TxnArgs) -> Result<(), Failure> {
    let request = request(&args)?;
    let client = Client::new(&args.url)?;
    let outcome = client.transact(&request).await?;
    println!("acked {}, published {}", outcome.acked, outcome.published);
    Ok(())
}

/// Splits `NAME=REST` at the first `=`.
fn split<'a>(flag: &str, text: &'a str) -> Result<(&'a str, &'a str), Failure> {
    text.split_once('=')
        .filter(|(name, _)| !name.is_empty())
        .ok_or_else(|| {
            Failure::new(
                "invalid_argument",
                format!("--{flag} {text:?}: expected NAME=VALUE"),
            )
        })
}

/// The request the flags describe: one publish entry per target, in first-mention order.
fn request(args: &TxnArgs) -> Result<TransactionRequest, Failure> {
    let mut ack = Vec::with_capacity(args.ack.len());
    for text in &args.ack {
        let (queue, receipt) = split("ack", text)?;
        ack.push(TransactionAckEntry {
            queue: queue.to_owned(),
            receipt: receipt.to_owned(),
        });
    }
    let mut publish: Vec<PublishEntry> = Vec::new();
    for text in &args.send {
        let (queue, body) = split("send", text)?;
        let entry = entry_for(
            &mut publish,
            |e| e.queue.as_deref() == Some(queue),
            || PublishEntry {
                queue: Some(queue.to_owned()),
                messages: Some(Vec::new()),
                ..PublishEntry::default()
            },
        );
        entry
            .messages
            .get_or_insert_with(Vec::new)
            .push(SendEntry::text(body));
    }
    for text in &args.append {
        let (stream, rest) = split("append", text)?;
        let record = if args.keyed {
            let (key, value) = split("append", rest)?;
            AppendRecord {
                key: Some(key.to_owned()),
                ..AppendRecord::text(value)
            }
        } else {
            AppendRecord::text(rest)
        };
        let entry = entry_for(
            &mut publish,
            |e| e.stream.as_deref() == Some(stream),
            || PublishEntry {
                stream: Some(stream.to_owned()),
                records: Some(Vec::new()),
                ..PublishEntry::default()
            },
        );
        entry.records.get_or_insert_with(Vec::new).push(record);
    }
    Ok(TransactionRequest { ack, publish })
}

/// The entry `is_it` finds, or a new one made by `make`.
fn entry_for(
    entries: &mut Vec<PublishEntry>,
    is_it: impl Fn(&PublishEntry) -> bool,
    make: impl FnOnce() -> PublishEntry,
) -> &mut PublishEntry {
    let index = match entries.iter().position(is_it) {
        Some(index) => index,
        None => {
            entries.push(make());
            entries.len() - 1
        }
    };
    &mut entries[index]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(ack: &[&str], send: &[&str], append: &[&str], keyed: bool) -> TxnArgs {
        let owned = |list: &[&str]| list.iter().map(|s| (*s).to_owned()).collect();
        TxnArgs {
            url: String::new(),
            ack: owned(ack),
            send: owned(send),
            append: owned(append),
            keyed,
        }
    }

    #[test]
    fn flags_group_by_target_in_order() {
        let request = request(&args(
            &["in=r1", "in=r2"],
            &["out=a", "other=b", "out=c=d"],
            &["log=k1=v1"],
            true,
        ))
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(request.ack.len(), 2);
        assert_eq!(request.ack[1].receipt, "r2");
        assert_eq!(request.publish.len(), 3);
        let out = &request.publish[0];
        assert_eq!(out.queue.as_deref(), Some("out"));
        let bodies: Vec<Option<String>> = out
            .messages
            .iter()
            .flatten()
            .map(|m| m.body.clone())
            .collect();
        assert_eq!(bodies, [Some("a".to_owned()), Some("c=d".to_owned())]);
        let log = &request.publish[2];
        let record = log
            .records
            .iter()
            .flatten()
            .next()
            .cloned()
            .unwrap_or_default();
        assert_eq!(
            (record.key.as_deref(), record.value.as_deref()),
            (Some("k1"), Some("v1"))
        );
    }

    #[test]
    fn malformed_flags_are_invalid_arguments() {
        for bad in [
            args(&["no-separator"], &[], &[], false),
            args(&["in=r"], &["=body"], &[], false),
            args(&["in=r"], &[], &["log=novalue"], true),
        ] {
            let code = request(&bad).err().map(|e| e.code);
            assert_eq!(code.as_deref(), Some("invalid_argument"));
        }
    }
}
