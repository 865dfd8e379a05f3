"""The query protocol (form `Action=...` in, XML out), as older SDKs and the AWS CLI v1 speak
it, with raw requests checked against the documented XML shapes."""

import hashlib
import urllib.error
import urllib.parse
import urllib.request
import uuid
import xml.etree.ElementTree as ET

from conftest import ENDPOINT

NS = {"sqs": "http://queue.amazonaws.com/doc/2012-11-05/"}


def call(params, path="/"):
    body = urllib.parse.urlencode({**params, "Version": "2012-11-05"}).encode()
    request = urllib.request.Request(
        ENDPOINT + path,
        data=body,
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as r:
            return r.status, ET.fromstring(r.read())
    except urllib.error.HTTPError as e:
        return e.code, ET.fromstring(e.read())


def text(root, path):
    node = root.find(path, NS)
    return None if node is None else node.text


def new_queue(extra=None):
    name = "qp-" + uuid.uuid4().hex[:10]
    status, root = call({"Action": "CreateQueue", "QueueName": name, **(extra or {})})
    assert status == 200
    assert root.tag == "{%s}CreateQueueResponse" % NS["sqs"]
    assert text(root, "sqs:ResponseMetadata/sqs:RequestId")
    return name, text(root, "sqs:CreateQueueResult/sqs:QueueUrl")


def test_send_receive_delete_in_xml():
    name, url = new_queue({"Attribute.1.Name": "VisibilityTimeout", "Attribute.1.Value": "40"})
    assert url.endswith("/000000000000/" + name)
    status, root = call({
        "Action": "SendMessage", "QueueUrl": url, "MessageBody": "a & <b>",
        "MessageAttribute.1.Name": "n", "MessageAttribute.1.Value.DataType": "Number",
        "MessageAttribute.1.Value.StringValue": "7",
    })
    assert status == 200
    assert text(root, "sqs:SendMessageResult/sqs:MD5OfMessageBody") == hashlib.md5(b"a & <b>").hexdigest()
    assert len(text(root, "sqs:SendMessageResult/sqs:MD5OfMessageAttributes")) == 32
    # A request sent to the queue URL's path needs no QueueUrl parameter.
    path = urllib.parse.urlparse(url).path
    status, root = call({
        "Action": "ReceiveMessage", "AttributeName.1": "All", "MessageAttributeName.1": "All",
    }, path=path)
    assert status == 200
    m = root.find("sqs:ReceiveMessageResult/sqs:Message", NS)
    assert text(m, "sqs:Body") == "a & <b>"
    attrs = {text(a, "sqs:Name"): text(a, "sqs:Value") for a in m.findall("sqs:Attribute", NS)}
    assert attrs["ApproximateReceiveCount"] == "1"
    ma = m.find("sqs:MessageAttribute", NS)
    assert text(ma, "sqs:Name") == "n"
    assert text(ma, "sqs:Value/sqs:DataType") == "Number"
    assert text(ma, "sqs:Value/sqs:StringValue") == "7"
    status, root = call({"Action": "DeleteMessage", "QueueUrl": url, "ReceiptHandle": text(m, "sqs:ReceiptHandle")})
    assert status == 200 and root.tag.endswith("DeleteMessageResponse")


def test_attributes_tags_and_lists_in_xml():
    name, url = new_queue({"Tag.1.Key": "team", "Tag.1.Value": "ops"})
    status, root = call({"Action": "GetQueueAttributes", "QueueUrl": url, "AttributeName.1": "All"})
    attrs = {text(a, "sqs:Name"): text(a, "sqs:Value")
             for a in root.findall("sqs:GetQueueAttributesResult/sqs:Attribute", NS)}
    assert attrs["VisibilityTimeout"] == "30" and attrs["QueueArn"].endswith(":" + name)
    status, root = call({"Action": "ListQueueTags", "QueueUrl": url})
    tag = root.find("sqs:ListQueueTagsResult/sqs:Tag", NS)
    assert (text(tag, "sqs:Key"), text(tag, "sqs:Value")) == ("team", "ops")
    status, root = call({"Action": "ListQueues", "QueueNamePrefix": name})
    assert [u.text for u in root.findall("sqs:ListQueuesResult/sqs:QueueUrl", NS)] == [url]


def test_batches_in_xml():
    _, url = new_queue()
    status, root = call({
        "Action": "SendMessageBatch", "QueueUrl": url,
        "SendMessageBatchRequestEntry.1.Id": "a", "SendMessageBatchRequestEntry.1.MessageBody": "one",
        "SendMessageBatchRequestEntry.2.Id": "b", "SendMessageBatchRequestEntry.2.MessageBody": "two",
        "SendMessageBatchRequestEntry.2.DelaySeconds": "1000",
    })
    assert status == 200
    ok = root.findall("sqs:SendMessageBatchResult/sqs:SendMessageBatchResultEntry", NS)
    bad = root.findall("sqs:SendMessageBatchResult/sqs:BatchResultErrorEntry", NS)
    assert [text(e, "sqs:Id") for e in ok] == ["a"]
    assert [(text(e, "sqs:Id"), text(e, "sqs:Code"), text(e, "sqs:SenderFault")) for e in bad] == [
        ("b", "InvalidParameterValue", "true")
    ]


def test_errors_in_xml():
    status, root = call({"Action": "GetQueueUrl", "QueueName": "nope-" + uuid.uuid4().hex})
    assert status == 400
    assert root.tag == "{%s}ErrorResponse" % NS["sqs"]
    assert text(root, "sqs:Error/sqs:Type") == "Sender"
    assert text(root, "sqs:Error/sqs:Code") == "AWS.SimpleQueueService.NonExistentQueue"
    assert text(root, "sqs:RequestId")
    status, root = call({"Action": "NoSuchAction"})
    assert (status, text(root, "sqs:Error/sqs:Code")) == (400, "InvalidAction")
    _, url = new_queue()
    status, root = call({"Action": "SendMessageBatch", "QueueUrl": url})
    assert text(root, "sqs:Error/sqs:Code") == "AWS.SimpleQueueService.EmptyBatchRequest"
    status, root = call({"Action": "SendMessage", "QueueUrl": url})
    assert text(root, "sqs:Error/sqs:Code") == "MissingParameter"
    status, root = call({"Action": "ReceiveMessage", "QueueUrl": url, "MaxNumberOfMessages": "ten"})
    assert text(root, "sqs:Error/sqs:Code") == "InvalidParameterValue"
