//! Query protocol replies: the JSON protocol's output rebuilt as SQS's XML
//! (`<{Action}Response><{Action}Result>…</{Action}Result><ResponseMetadata>…`), and XML errors.

use super::errors::SqsError;
use serde_json::Value;
use std::fmt::Write;

/// The namespace of every SQS query reply.
pub(crate) const NAMESPACE: &str = "http://queue.amazonaws.com/doc/2012-11-05/";

/// Appends `text` with XML's special characters escaped (and `\r` kept as a reference, since
/// XML parsers turn a raw one into `\n`).
pub(crate) fn escape_into(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\r' => out.push_str("&#xD;"),
            c => out.push(c),
        }
    }
}

fn element(out: &mut String, name: &str, text: &str) {
    let _ = write!(out, "<{name}>");
    escape_into(out, text);
    let _ = write!(out, "</{name}>");
}

fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The element name of each item of a list member.
fn list_item(action: &str, member: &str) -> String {
    match member {
        "QueueUrls" | "queueUrls" => "QueueUrl".into(),
        "Messages" => "Message".into(),
        "Successful" => format!("{action}ResultEntry"),
        "Failed" => "BatchResultErrorEntry".into(),
        "Results" => format!("{action}ResultEntry"),
        other => other.trim_end_matches('s').into(),
    }
}

/// Writes the members of one output structure.
fn members(out: &mut String, action: &str, object: &serde_json::Map<String, Value>) {
    for (name, value) in object {
        match (name.as_str(), value) {
            (_, Value::Null) => {}
            ("Attributes", Value::Object(map)) => map_entries(out, "Attribute", "Name", map),
            ("Tags", Value::Object(map)) => map_entries(out, "Tag", "Key", map),
            ("MessageAttributes", Value::Object(map)) => {
                for (key, attribute) in map {
                    out.push_str("<MessageAttribute>");
                    element(out, "Name", key);
                    out.push_str("<Value>");
                    if let Value::Object(fields) = attribute {
                        members(out, action, fields);
                    }
                    out.push_str("</Value></MessageAttribute>");
                }
            }
            (_, Value::Array(items)) => {
                let item = list_item(action, name);
                for v in items {
                    match v {
                        Value::Object(fields) => {
                            let _ = write!(out, "<{item}>");
                            members(out, action, fields);
                            let _ = write!(out, "</{item}>");
                        }
                        other => element(out, &item, &scalar_text(other).unwrap_or_default()),
                    }
                }
            }
            (_, Value::Object(fields)) => {
                let _ = write!(out, "<{name}>");
                members(out, action, fields);
                let _ = write!(out, "</{name}>");
            }
            (_, scalar) => element(out, name, &scalar_text(scalar).unwrap_or_default()),
        }
    }
}

fn map_entries(out: &mut String, item: &str, key: &str, map: &serde_json::Map<String, Value>) {
    for (k, v) in map {
        let _ = write!(out, "<{item}>");
        element(out, key, k);
        element(out, "Value", &scalar_text(v).unwrap_or_default());
        let _ = write!(out, "</{item}>");
    }
}

/// The XML reply of `action` whose JSON-shaped output is `output` (`Null` for none).
pub(crate) fn response(action: &str, output: &Value, request_id: &str) -> String {
    let mut out = String::with_capacity(512);
    let _ = write!(
        out,
        r#"<?xml version="1.0" encoding="UTF-8"?><{action}Response xmlns="{NAMESPACE}">"#
    );
    if let Value::Object(fields) = output {
        let _ = write!(out, "<{action}Result>");
        members(&mut out, action, fields);
        let _ = write!(out, "</{action}Result>");
    }
    out.push_str("<ResponseMetadata>");
    element(&mut out, "RequestId", request_id);
    let _ = write!(out, "</ResponseMetadata></{action}Response>");
    out
}

/// The XML body of an error reply.
pub(crate) fn error(e: &SqsError, request_id: &str) -> String {
    let mut out = String::with_capacity(256);
    let _ = write!(
        out,
        r#"<?xml version="1.0" encoding="UTF-8"?><ErrorResponse xmlns="{NAMESPACE}"><Error>"#
    );
    element(&mut out, "Type", e.fault().as_str());
    element(&mut out, "Code", e.legacy_code());
    element(&mut out, "Message", &e.message);
    out.push_str("<Detail/></Error>");
    element(&mut out, "RequestId", request_id);
    out.push_str("</ErrorResponse>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn outputs_become_sqs_xml() {
        let output = json!({
            "Messages": [{
                "MessageId": "m1",
                "Body": "a<b & \"c\"\r\n",
                "Attributes": {"SentTimestamp": "5"},
                "MessageAttributes": {"n": {"DataType": "Number", "StringValue": "1"}}
            }]
        });
        let xml = response("ReceiveMessage", &output, "r-1");
        assert_eq!(
            xml,
            format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?><ReceiveMessageResponse xmlns=\"{NAMESPACE}\">\
                 <ReceiveMessageResult><Message><Attributes_placeholder/></Message></ReceiveMessageResult>\
                 <ResponseMetadata><RequestId>r-1</RequestId></ResponseMetadata></ReceiveMessageResponse>"
            )
            .replace(
                "<Attributes_placeholder/>",
                "<Attribute><Name>SentTimestamp</Name><Value>5</Value></Attribute>\
                 <Body>a&lt;b &amp; &quot;c&quot;&#xD;\n</Body>\
                 <MessageAttribute><Name>n</Name><Value><DataType>Number</DataType>\
                 <StringValue>1</StringValue></Value></MessageAttribute><MessageId>m1</MessageId>"
            )
        );
    }

    #[test]
    fn lists_batches_and_empty_outputs() {
        let xml = response(
            "DeleteMessageBatch",
            &json!({"Successful": [{"Id": "a"}], "Failed": [{"Id": "b", "SenderFault": true, "Code": "X"}]}),
            "r",
        );
        assert!(
            xml.contains(
                "<DeleteMessageBatchResultEntry><Id>a</Id></DeleteMessageBatchResultEntry>"
            )
        );
        assert!(xml.contains("<BatchResultErrorEntry><Code>X</Code><Id>b</Id><SenderFault>true</SenderFault></BatchResultErrorEntry>"));
        let xml = response("ListQueues", &json!({"QueueUrls": ["u1", "u2"]}), "r");
        assert!(xml.contains(
            "<ListQueuesResult><QueueUrl>u1</QueueUrl><QueueUrl>u2</QueueUrl></ListQueuesResult>"
        ));
        let xml = response("DeleteQueue", &Value::Null, "r");
        assert!(!xml.contains("DeleteQueueResult"));
        let xml = response("ListQueueTags", &json!({"Tags": {"k": "v"}}), "r");
        assert!(xml.contains("<Tag><Key>k</Key><Value>v</Value></Tag>"));
    }

    #[test]
    fn errors_carry_type_code_and_message() {
        let xml = error(&SqsError::no_queue(), "r");
        assert!(
            xml.contains("<Type>Sender</Type><Code>AWS.SimpleQueueService.NonExistentQueue</Code>")
        );
        assert!(xml.contains("<RequestId>r</RequestId>"));
    }
}
