//! Queue attributes: SQS's names and units onto a Ferry [`QueueConfig`] and back, plus the
//! SQS-only settings the broker keeps for the adapter as queue attributes.

use super::errors::SqsError;
use ferry_broker::{DedupScope, QueueConfig, QueueInfo};
use serde_json::Value;
use std::collections::BTreeMap;

const SECOND_MS: u64 = 1_000;

/// Settings SQS has and Ferry's config does not: kept verbatim in the catalog.
pub(crate) const STORED: &[&str] = &[
    "ReceiveMessageWaitTimeSeconds",
    "RedriveAllowPolicy",
    "FifoThroughputLimit",
    "Policy",
    "KmsMasterKeyId",
    "KmsDataKeyReusePeriodSeconds",
    "SqsManagedSseEnabled",
];

/// Settings that map onto the queue's config.
const CONFIGURED: &[&str] = &[
    "VisibilityTimeout",
    "DelaySeconds",
    "MessageRetentionPeriod",
    "MaximumMessageSize",
    "RedrivePolicy",
    "FifoQueue",
    "ContentBasedDeduplication",
    "DeduplicationScope",
];

/// Numbers only `GetQueueAttributes` reports.
const READ_ONLY: &[&str] = &[
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
    "CreatedTimestamp",
    "LastModifiedTimestamp",
    "QueueArn",
];

/// Attributes only FIFO queues have.
const FIFO_ONLY: &[&str] = &[
    "FifoQueue",
    "ContentBasedDeduplication",
    "DeduplicationScope",
    "FifoThroughputLimit",
];

/// Where the adapter stands: the account and region in queue URLs and ARNs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Scope {
    /// The account id in URLs and ARNs.
    pub(crate) account: String,
    /// The region in ARNs (taken from the request's signature).
    pub(crate) region: String,
}

impl Scope {
    /// `arn:aws:sqs:<region>:<account>:<queue>`.
    pub(crate) fn arn(&self, queue: &str) -> String {
        format!("arn:aws:sqs:{}:{}:{queue}", self.region, self.account)
    }
}

/// The queue name at the end of an ARN (`arn:aws:sqs:region:account:name`).
///
/// # Errors
/// `InvalidParameterValue` for anything else.
pub(crate) fn queue_of_arn(arn: &str) -> Result<String, SqsError> {
    let parts: Vec<&str> = arn.split(':').collect();
    match parts.as_slice() {
        ["arn", _, "sqs", _, _, name] if !name.is_empty() => Ok((*name).to_owned()),
        _ => Err(SqsError::invalid(format!(
            "Value {arn} for parameter ARN is invalid."
        ))),
    }
}

fn bad_value(name: &str, reason: &str) -> SqsError {
    SqsError::new(
        "InvalidAttributeValue",
        format!("Invalid value for the parameter {name}. Reason: {reason}"),
    )
}

fn seconds(name: &str, value: &str, min: u64, max: u64) -> Result<u64, SqsError> {
    match value.trim().parse::<u64>() {
        Ok(v) if (min..=max).contains(&v) => Ok(v),
        _ => Err(bad_value(
            name,
            &format!("must be an integer from {min} to {max}"),
        )),
    }
}

fn boolean(name: &str, value: &str) -> Result<bool, SqsError> {
    match value.to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(bad_value(name, "must be true or false")),
    }
}

/// Splits requested attributes into config changes (applied to `config`) and stored ones.
///
/// # Errors
/// `InvalidAttributeName` for an unknown or read-only name, or a FIFO attribute on a standard
/// queue; `InvalidAttributeValue` for a value out of range.
pub(crate) fn apply(
    config: &mut QueueConfig,
    attributes: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>, SqsError> {
    let mut stored = BTreeMap::new();
    for (name, value) in attributes {
        let fifo_only = FIFO_ONLY.contains(&name.as_str()) && name != "FifoQueue";
        if fifo_only && !config.fifo {
            return Err(SqsError::new(
                "InvalidAttributeName",
                format!("Unknown Attribute {name}."),
            ));
        }
        match name.as_str() {
            "VisibilityTimeout" => {
                config.visibility_timeout_ms = seconds(name, value, 0, 43_200)? * SECOND_MS;
            }
            "DelaySeconds" => config.delay_ms = seconds(name, value, 0, 900)? * SECOND_MS,
            "MessageRetentionPeriod" => {
                config.retention_ms = seconds(name, value, 60, 1_209_600)? * SECOND_MS;
            }
            "MaximumMessageSize" => {
                let v = seconds(name, value, 1_024, 1_048_576)?;
                config.max_message_bytes = u32::try_from(v).unwrap_or(u32::MAX);
            }
            "RedrivePolicy" => redrive_policy(config, value)?,
            "FifoQueue" => {
                if boolean(name, value)? != config.fifo {
                    return Err(bad_value(
                        name,
                        "a FIFO queue's name ends in .fifo and FifoQueue cannot change",
                    ));
                }
            }
            "ContentBasedDeduplication" => config.content_dedup = boolean(name, value)?,
            "ReceiveMessageWaitTimeSeconds" => {
                seconds(name, value, 0, 20)?;
                stored.insert(name.clone(), value.trim().to_owned());
            }
            "DeduplicationScope" => {
                config.dedup_scope = match value.as_str() {
                    "messageGroup" => DedupScope::Group,
                    "queue" => DedupScope::Queue,
                    _ => return Err(bad_value(name, "must be messageGroup or queue")),
                };
            }
            "RedriveAllowPolicy" => {
                redrive_allow_policy_check(value)?;
                stored.insert(name.clone(), value.clone());
            }
            "FifoThroughputLimit"
                if !["perQueue", "perMessageGroupId"].contains(&value.as_str()) =>
            {
                return Err(bad_value(name, "must be perQueue or perMessageGroupId"));
            }
            n if STORED.contains(&n) => {
                stored.insert(name.clone(), value.clone());
            }
            _ => {
                return Err(SqsError::new(
                    "InvalidAttributeName",
                    format!("Unknown Attribute {name}."),
                ));
            }
        }
    }
    Ok(stored)
}

/// `{"redrivePermission": "allowAll" | "denyAll" | "byQueue", "sourceQueueArns": [...]}`, the
/// ARNs (1 to 10) only with `byQueue`.
fn redrive_allow_policy_check(value: &str) -> Result<(), SqsError> {
    const NAME: &str = "RedriveAllowPolicy";
    let policy: Value =
        serde_json::from_str(value).map_err(|_| bad_value(NAME, "must be a JSON object"))?;
    let arns = policy.get("sourceQueueArns");
    match policy.get("redrivePermission").and_then(Value::as_str) {
        Some("allowAll" | "denyAll") if arns.is_none() => Ok(()),
        Some("byQueue") => match arns.and_then(Value::as_array) {
            Some(list) if (1..=10).contains(&list.len()) && list.iter().all(Value::is_string) => {
                Ok(())
            }
            _ => Err(bad_value(
                NAME,
                "byQueue needs sourceQueueArns: 1 to 10 queue ARNs",
            )),
        },
        Some("allowAll" | "denyAll") => Err(bad_value(
            NAME,
            "sourceQueueArns goes only with redrivePermission byQueue",
        )),
        _ => Err(bad_value(
            NAME,
            "redrivePermission must be allowAll, denyAll or byQueue",
        )),
    }
}

/// Whether a dead-letter queue's `RedriveAllowPolicy` (as stored, so already checked) lets the
/// queue with ARN `source_arn` send it dead letters.
pub(crate) fn redrive_allowed(policy: &str, source_arn: &str) -> bool {
    let Ok(policy) = serde_json::from_str::<Value>(policy) else {
        return true;
    };
    match policy.get("redrivePermission").and_then(Value::as_str) {
        Some("denyAll") => false,
        Some("byQueue") => policy
            .get("sourceQueueArns")
            .and_then(Value::as_array)
            .is_some_and(|arns| arns.iter().any(|a| a.as_str() == Some(source_arn))),
        _ => true,
    }
}

/// `{"deadLetterTargetArn": "...", "maxReceiveCount": n}` (or empty, to remove it).
fn redrive_policy(config: &mut QueueConfig, value: &str) -> Result<(), SqsError> {
    const NAME: &str = "RedrivePolicy";
    if value.trim().is_empty() || value.trim() == "{}" {
        config.dead_letter_queue = None;
        config.max_receives = None;
        return Ok(());
    }
    let policy: Value =
        serde_json::from_str(value).map_err(|_| bad_value(NAME, "must be a JSON object"))?;
    let arn = policy
        .get("deadLetterTargetArn")
        .and_then(Value::as_str)
        .ok_or_else(|| bad_value(NAME, "deadLetterTargetArn is missing"))?;
    let count = match policy.get("maxReceiveCount") {
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    }
    .filter(|n| (1..=1000).contains(n))
    .ok_or_else(|| bad_value(NAME, "maxReceiveCount must be from 1 to 1000"))?;
    config.dead_letter_queue =
        Some(queue_of_arn(arn).map_err(|_| bad_value(NAME, "deadLetterTargetArn is invalid"))?);
    config.max_receives = u32::try_from(count).ok();
    Ok(())
}

/// Which attributes a `GetQueueAttributes` asked for.
///
/// # Errors
/// `InvalidAttributeName` for a name SQS does not have.
pub(crate) fn requested(names: &[String], fifo: bool) -> Result<Vec<&'static str>, SqsError> {
    let all = || {
        READ_ONLY
            .iter()
            .chain(CONFIGURED)
            .chain(STORED)
            .copied()
            .filter(move |n| fifo || !FIFO_ONLY.contains(n))
    };
    let mut out = Vec::new();
    for name in names {
        if name == "All" {
            return Ok(all().collect());
        }
        match all().find(|n| n == name) {
            Some(n) => out.push(n),
            None if FIFO_ONLY.contains(&name.as_str()) => {}
            None => {
                return Err(SqsError::new(
                    "InvalidAttributeName",
                    format!("Unknown Attribute {name}."),
                ));
            }
        }
    }
    Ok(out)
}

/// The value of one attribute of a queue, if it has one.
pub(crate) fn value(
    name: &str,
    info: &QueueInfo,
    stored: &BTreeMap<String, String>,
    scope: &Scope,
) -> Option<String> {
    let c = &info.config;
    let s = &info.stats;
    let secs = |ms: u64| (ms / SECOND_MS).to_string();
    Some(match name {
        "ApproximateNumberOfMessages" => s.visible.to_string(),
        "ApproximateNumberOfMessagesNotVisible" => s.in_flight.to_string(),
        "ApproximateNumberOfMessagesDelayed" => s.delayed.to_string(),
        "CreatedTimestamp" => secs(info.created_at.0),
        "LastModifiedTimestamp" => secs(info.updated_at.0),
        "QueueArn" => scope.arn(&info.name),
        "VisibilityTimeout" => secs(c.visibility_timeout_ms),
        "DelaySeconds" => secs(c.delay_ms),
        "MessageRetentionPeriod" => secs(c.retention_ms),
        "MaximumMessageSize" => c.max_message_bytes.to_string(),
        "RedrivePolicy" => {
            let dlq = c.dead_letter_queue.as_deref()?;
            serde_json::json!({
                "deadLetterTargetArn": scope.arn(dlq),
                "maxReceiveCount": c.max_receives.unwrap_or(1),
            })
            .to_string()
        }
        "FifoQueue" => c.fifo.to_string(),
        "ContentBasedDeduplication" => c.content_dedup.to_string(),
        "ReceiveMessageWaitTimeSeconds" => stored.get(name).cloned().unwrap_or_else(|| "0".into()),
        "DeduplicationScope" => match c.dedup_scope {
            DedupScope::Group => "messageGroup".to_owned(),
            _ => "queue".to_owned(),
        },
        "FifoThroughputLimit" => stored
            .get(name)
            .cloned()
            .unwrap_or_else(|| "perQueue".into()),
        "SqsManagedSseEnabled" => stored.get(name).cloned().unwrap_or_else(|| "false".into()),
        other => stored.get(other)?.clone(),
    })
}

/// A fresh queue's config: Ferry's defaults, but FIFO when the name says so.
pub(crate) fn new_config(name: &str) -> QueueConfig {
    QueueConfig {
        fifo: name.ends_with(".fifo"),
        ..QueueConfig::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn redrive_allow_policies_admit_whom_they_say() {
        let arn = "arn:aws:sqs:us-east-1:000000000000:src";
        assert!(redrive_allowed(r#"{"redrivePermission":"allowAll"}"#, arn));
        assert!(!redrive_allowed(r#"{"redrivePermission":"denyAll"}"#, arn));
        let by_queue = format!(r#"{{"redrivePermission":"byQueue","sourceQueueArns":["{arn}"]}}"#);
        assert!(redrive_allowed(&by_queue, arn));
        assert!(!redrive_allowed(
            &by_queue,
            "arn:aws:sqs:us-east-1:000000000000:other"
        ));
        assert!(redrive_allow_policy_check(&by_queue).is_ok());
        for bad in [
            r#"{"redrivePermission":"byQueue"}"#,
            r#"{"redrivePermission":"maybe"}"#,
            "nope",
            r#"{"redrivePermission":"denyAll","sourceQueueArns":["x"]}"#,
        ] {
            assert!(redrive_allow_policy_check(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn sqs_attributes_map_onto_the_config() {
        let mut config = new_config("q");
        let stored = apply(
            &mut config,
            &attrs(&[
                ("VisibilityTimeout", "45"),
                ("DelaySeconds", "2"),
                ("MessageRetentionPeriod", "120"),
                ("MaximumMessageSize", "2048"),
                (
                    "RedrivePolicy",
                    r#"{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:dlq","maxReceiveCount":"3"}"#,
                ),
                ("ReceiveMessageWaitTimeSeconds", "5"),
                ("Policy", "{}"),
            ]),
        )
        .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(config.visibility_timeout_ms, 45_000);
        assert_eq!(config.delay_ms, 2_000);
        assert_eq!(config.retention_ms, 120_000);
        assert_eq!(config.max_message_bytes, 2048);
        assert_eq!(config.dead_letter_queue.as_deref(), Some("dlq"));
        assert_eq!(config.max_receives, Some(3));
        assert_eq!(
            stored,
            attrs(&[("Policy", "{}"), ("ReceiveMessageWaitTimeSeconds", "5")])
        );
        apply(&mut config, &attrs(&[("RedrivePolicy", "")])).unwrap_or_default();
        assert_eq!(config.dead_letter_queue, None);
    }

    #[test]
    fn bad_attributes_get_sqs_errors() {
        let name = |q: &str, pairs: &[(&str, &str)]| {
            apply(&mut new_config(q), &attrs(pairs))
                .err()
                .map(|e| e.name)
        };
        assert_eq!(
            name("q", &[("VisibilityTimeout", "43201")]),
            Some("InvalidAttributeValue")
        );
        assert_eq!(
            name("q", &[("DelaySeconds", "x")]),
            Some("InvalidAttributeValue")
        );
        assert_eq!(name("q", &[("Nope", "1")]), Some("InvalidAttributeName"));
        assert_eq!(
            name("q", &[("QueueArn", "1")]),
            Some("InvalidAttributeName")
        );
        assert_eq!(
            name("q", &[("ContentBasedDeduplication", "true")]),
            Some("InvalidAttributeName")
        );
        assert_eq!(
            name("q", &[("FifoQueue", "true")]),
            Some("InvalidAttributeValue")
        );
        assert_eq!(name("q.fifo", &[("FifoQueue", "true")]), None);
        assert_eq!(
            name("q.fifo", &[("DeduplicationScope", "x")]),
            Some("InvalidAttributeValue")
        );
        assert_eq!(
            name(
                "q",
                &[(
                    "RedrivePolicy",
                    r#"{"deadLetterTargetArn":"x","maxReceiveCount":1}"#
                )]
            ),
            Some("InvalidAttributeValue")
        );
    }

    #[test]
    fn requested_names_expand_all_and_refuse_unknown() {
        let standard = requested(&["All".into()], false).unwrap_or_default();
        assert!(standard.contains(&"QueueArn") && !standard.contains(&"FifoQueue"));
        let fifo = requested(&["All".into()], true).unwrap_or_default();
        assert!(fifo.contains(&"FifoQueue"));
        assert!(requested(&["Bogus".into()], false).is_err());
        assert_eq!(requested(&[], false).ok(), Some(vec![]));
        assert_eq!(
            queue_of_arn("arn:aws:sqs:eu-west-1:1:q").ok().as_deref(),
            Some("q")
        );
        assert!(queue_of_arn("q").is_err());
    }
}
