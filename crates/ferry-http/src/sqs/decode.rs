//! Reading an SQS request in either protocol into an action name and a payload that decodes
//! into the action's input type.
//!
//! - The AWS JSON 1.0 protocol: `X-Amz-Target: AmazonSQS.<Action>`, the input as a JSON object.
//! - The query protocol: `Action=<Action>` and flattened parameters (`Attribute.1.Name`,
//!   `SendMessageBatchRequestEntry.2.MessageAttribute.1.Value.StringValue`, …) in a form body
//!   or the query string. They are rebuilt into the JSON protocol's shape, so one input type
//!   per action serves both protocols.
//!
//! Nothing here panics on any input: every failure is an [`SqsError`].

use super::errors::SqsError;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// The prefix of `X-Amz-Target` for SQS.
pub(crate) const TARGET_PREFIX: &str = "AmazonSQS.";

/// Which protocol a request used (its reply uses the same).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Protocol {
    /// AWS JSON 1.0.
    Json,
    /// The query protocol (form parameters in, XML out).
    Query,
}

/// A request's input, not yet decoded into the action's type.
#[derive(Debug)]
pub(crate) enum Payload {
    /// A JSON body (decoded straight into the input type: the fast path).
    Json(axum::body::Bytes),
    /// Query parameters rebuilt into the JSON shape.
    Query(Value),
}

impl Payload {
    /// Decodes the input of an action.
    ///
    /// # Errors
    /// `MissingParameter` naming a missing required member, `InvalidParameterValue` for a
    /// member of the wrong type, `SerializationException` for a body that is not JSON.
    pub(crate) fn parse<T: DeserializeOwned>(&self) -> Result<T, SqsError> {
        let result = match self {
            Payload::Json(bytes) if bytes.iter().all(u8::is_ascii_whitespace) => {
                serde_json::from_slice(b"{}")
            }
            Payload::Json(bytes) => {
                crate::extract::check_containers(bytes).map_err(SqsError::invalid)?;
                serde_json::from_slice(bytes)
            }
            Payload::Query(value) => T::deserialize(value),
        };
        result.map_err(parse_error)
    }
}

fn parse_error(e: serde_json::Error) -> SqsError {
    let text = e.to_string();
    if let Some(rest) = text.strip_prefix("missing field `")
        && let Some((field, _)) = rest.split_once('`')
    {
        return SqsError::missing(field);
    }
    if e.is_syntax() || e.is_eof() {
        return SqsError::new(
            "SerializationException",
            format!("the request body is not valid JSON: {text}"),
        );
    }
    SqsError::invalid(format!("invalid request: {text}"))
}

/// The action named by an `X-Amz-Target` header value.
///
/// # Errors
/// `UnknownOperationException` for a target of another service.
pub(crate) fn json_action(target: &str) -> Result<String, SqsError> {
    target
        .strip_prefix(TARGET_PREFIX)
        .filter(|a| !a.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| {
            SqsError::new(
                "UnknownOperationException",
                format!("unknown operation {target:?}"),
            )
        })
}

/// Most parameters one query-protocol request may have: a `SendMessageBatch` of ten messages
/// with ten attributes each has about 450.
const MAX_QUERY_PARAMETERS: usize = 2_000;

/// The parameters of a query-protocol request: those of its query string, then its form body.
///
/// # Errors
/// `MalformedQueryString` for more than [`MAX_QUERY_PARAMETERS`], before any more are decoded.
pub(crate) fn query_pairs(query: &[u8], body: &[u8]) -> Result<Vec<(String, String)>, SqsError> {
    let pairs: Vec<(String, String)> = form_urlencoded::parse(query)
        .chain(form_urlencoded::parse(body))
        .take(MAX_QUERY_PARAMETERS + 1)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    if pairs.len() > MAX_QUERY_PARAMETERS {
        return Err(SqsError::new(
            "MalformedQueryString",
            format!("the request has more than {MAX_QUERY_PARAMETERS} parameters"),
        ));
    }
    Ok(pairs)
}

/// Rebuilds query parameters into the JSON shape: the action, and its input.
///
/// # Errors
/// `MissingAction` without an `Action` parameter, `MalformedQueryString` for parameters whose
/// numbered parts cannot be rebuilt.
pub(crate) fn query_request(pairs: &[(String, String)]) -> Result<(String, Value), SqsError> {
    let mut action = None;
    let mut tree = Node::default();
    for (key, value) in pairs {
        match key.as_str() {
            "Action" => action = Some(value.clone()),
            "Version" | "AWSAccessKeyId" | "Signature" | "SignatureMethod" | "SignatureVersion"
            | "Timestamp" | "Expires" | "SecurityToken" => {}
            k if k.starts_with("X-Amz-") => {}
            _ => tree.insert(key.split('.'), value)?,
        }
    }
    let action = action
        .filter(|a| !a.is_empty())
        .ok_or_else(|| SqsError::new("MissingAction", "the request has no Action parameter"))?;
    Ok((action, tree.into_input()))
}

/// A parameter tree: a key's dotted parts as levels.
#[derive(Debug, Default)]
struct Node {
    value: Option<String>,
    children: BTreeMap<String, Node>,
}

/// Most levels a parameter name may have (the deepest SQS name has six).
const MAX_DEPTH: usize = 8;

impl Node {
    fn insert<'a>(
        &mut self,
        parts: impl Iterator<Item = &'a str>,
        value: &str,
    ) -> Result<(), SqsError> {
        let mut node = self;
        for (depth, part) in parts.enumerate() {
            if part.is_empty() || depth >= MAX_DEPTH {
                return Err(SqsError::new(
                    "MalformedQueryString",
                    "a parameter name has an empty or too deep part",
                ));
            }
            node = node.children.entry(part.to_owned()).or_default();
        }
        node.value = Some(value.to_owned());
        Ok(())
    }

    /// The children numbered 1, 2, … in numeric order (other children are ignored).
    fn numbered(self) -> Vec<Node> {
        let mut items: Vec<(u64, Node)> = self
            .children
            .into_iter()
            .filter_map(|(k, v)| Some((k.parse::<u64>().ok()?, v)))
            .collect();
        items.sort_by_key(|(i, _)| *i);
        items.into_iter().map(|(_, v)| v).collect()
    }

    fn take(&mut self, name: &str) -> Option<Node> {
        self.children.remove(name)
    }

    fn text(self) -> Value {
        self.value.map_or(Value::Null, Value::String)
    }

    /// A structure: every child by name, rebuilt by the SQS rules.
    fn into_input(self) -> Value {
        let mut out = Map::new();
        for (name, child) in self.children {
            let (key, value) = rebuild(&name, child);
            out.insert(key, value);
        }
        Value::Object(out)
    }
}

/// Applies the query protocol's flattening rules for one member.
fn rebuild(name: &str, node: Node) -> (String, Value) {
    match name {
        "Attribute" => (
            "Attributes".into(),
            pairs(node, "Name", "Value", Node::text),
        ),
        "Tag" | "Tags" => ("Tags".into(), pairs(node, "Key", "Value", Node::text)),
        "MessageAttribute" | "MessageSystemAttribute" => (
            format!("{name}s"),
            pairs(node, "Name", "Value", Node::into_input),
        ),
        "AttributeName" | "MessageAttributeName" | "MessageSystemAttributeName" | "TagKey" => (
            format!("{name}s"),
            Value::Array(node.numbered().into_iter().map(Node::text).collect()),
        ),
        "AWSAccountId" => (
            "AWSAccountIds".into(),
            Value::Array(node.numbered().into_iter().map(Node::text).collect()),
        ),
        "ActionName" => (
            "Actions".into(),
            Value::Array(node.numbered().into_iter().map(Node::text).collect()),
        ),
        n if n.ends_with("BatchRequestEntry") => (
            "Entries".into(),
            Value::Array(node.numbered().into_iter().map(Node::into_input).collect()),
        ),
        _ => (name.to_owned(), scalar(name, node)),
    }
}

/// Members the JSON shape has as numbers.
const NUMBERS: &[&str] = &[
    "MaxNumberOfMessages",
    "VisibilityTimeout",
    "WaitTimeSeconds",
    "DelaySeconds",
    "MaxResults",
    "MaxNumberOfMessagesPerSecond",
];

fn scalar(name: &str, node: Node) -> Value {
    if !node.children.is_empty() {
        return node.into_input();
    }
    match node.value {
        Some(v) if NUMBERS.contains(&name) => v
            .parse::<i64>()
            .map(Value::from)
            .unwrap_or(Value::String(v)),
        Some(v) => Value::String(v),
        None => Value::Null,
    }
}

/// `X.1.Name=a&X.1.Value=b` → `{"a": "b"}`.
fn pairs(node: Node, key: &str, value: &str, convert: fn(Node) -> Value) -> Value {
    let mut out = Map::new();
    for mut entry in node.numbered() {
        let Some(k) = entry.take(key).and_then(|n| n.value) else {
            continue;
        };
        let v = entry.take(value).map_or(Value::Null, convert);
        out.insert(k, v);
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn form(s: &str) -> Vec<(String, String)> {
        form_urlencoded::parse(s.as_bytes()).into_owned().collect()
    }

    #[test]
    fn query_parameters_rebuild_into_the_json_shape() {
        let (action, input) = query_request(&form(
            "Action=SendMessageBatch&Version=2012-11-05&QueueUrl=http%3A%2F%2Fh%2F0%2Fq\
             &SendMessageBatchRequestEntry.2.Id=b&SendMessageBatchRequestEntry.2.MessageBody=two\
             &SendMessageBatchRequestEntry.1.Id=a&SendMessageBatchRequestEntry.1.MessageBody=one\
             &SendMessageBatchRequestEntry.1.DelaySeconds=5\
             &SendMessageBatchRequestEntry.1.MessageAttribute.1.Name=n\
             &SendMessageBatchRequestEntry.1.MessageAttribute.1.Value.DataType=Number\
             &SendMessageBatchRequestEntry.1.MessageAttribute.1.Value.StringValue=7",
        ))
        .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(action, "SendMessageBatch");
        assert_eq!(
            input,
            json!({
                "QueueUrl": "http://h/0/q",
                "Entries": [
                    {"Id": "a", "MessageBody": "one", "DelaySeconds": 5,
                     "MessageAttributes": {"n": {"DataType": "Number", "StringValue": "7"}}},
                    {"Id": "b", "MessageBody": "two"}
                ]
            })
        );
    }

    #[test]
    fn maps_and_lists_rebuild() {
        let (_, input) = query_request(&form(
            "Action=CreateQueue&QueueName=q&Attribute.1.Name=DelaySeconds&Attribute.1.Value=3\
             &Tag.1.Key=team&Tag.1.Value=ops&AttributeName.2=B&AttributeName.1=A\
             &MaxResults=x",
        ))
        .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(
            input,
            json!({
                "QueueName": "q",
                "Attributes": {"DelaySeconds": "3"},
                "Tags": {"team": "ops"},
                "AttributeNames": ["A", "B"],
                "MaxResults": "x"
            })
        );
    }

    #[test]
    fn bad_queries_are_errors_not_panics() {
        let name = |s: &str| query_request(&form(s)).err().map(|e| e.name);
        assert_eq!(name("QueueName=q"), Some("MissingAction"));
        assert_eq!(
            name("Action=ListQueues&a..b=1"),
            Some("MalformedQueryString")
        );
        assert_eq!(
            name("Action=ListQueues&a.b.c.d.e.f.g.h.i=1"),
            Some("MalformedQueryString")
        );
        assert_eq!(name("Action=ListQueues&Attribute.x.Name=1&Tag=3"), None);
    }

    #[test]
    fn a_query_of_countless_parameters_is_refused() {
        let many = |n: usize| {
            (0..n)
                .map(|i| format!("p{i}="))
                .collect::<Vec<_>>()
                .join("&")
        };
        let fits = many(MAX_QUERY_PARAMETERS - 1);
        let pairs = query_pairs(b"Action=ListQueues", fits.as_bytes()).expect("within the limit");
        assert_eq!(pairs.len(), MAX_QUERY_PARAMETERS);
        let refused = query_pairs(b"Action=ListQueues", many(MAX_QUERY_PARAMETERS).as_bytes());
        assert_eq!(refused.err().map(|e| e.name), Some("MalformedQueryString"));
    }

    #[derive(serde::Deserialize, Debug)]
    #[serde(rename_all = "PascalCase")]
    #[allow(dead_code)]
    struct Input {
        queue_url: String,
        max_results: Option<i32>,
    }

    #[test]
    fn payload_errors_map_to_sqs_errors() {
        let json = |s: &'static str| Payload::Json(axum::body::Bytes::from_static(s.as_bytes()));
        let name = |p: Payload| p.parse::<Input>().err().map(|e| e.name);
        assert_eq!(name(json("{")), Some("SerializationException"));
        assert_eq!(name(json("{}")), Some("MissingParameter"));
        assert_eq!(name(json("")), Some("MissingParameter"));
        assert_eq!(
            name(json(r#"{"QueueUrl": "u", "MaxResults": "ten"}"#)),
            Some("InvalidParameterValue")
        );
        assert_eq!(name(json(r#"{"QueueUrl": "u"}"#)), None);
        assert_eq!(
            json_action("AmazonSQS.SendMessage").ok().as_deref(),
            Some("SendMessage")
        );
        assert!(json_action("DynamoDB_20120810.GetItem").is_err());
        assert!(json_action("AmazonSQS.").is_err());
    }
}
