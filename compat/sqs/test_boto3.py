"""boto3 against Ferry's SQS endpoint: every operation, FIFO, dead letters and move tasks,
long polling, visibility, batches with partial failures, and the error codes."""

import hashlib
import json
import struct
import time

import pytest
from botocore.exceptions import ClientError


def code(excinfo):
    return excinfo.value.response["Error"]["Code"]


def md5_attributes(attributes):
    """The SQS digest of message attributes, computed independently of the server."""
    out = b""
    for name in sorted(attributes):
        a = attributes[name]
        out += struct.pack(">I", len(name.encode())) + name.encode()
        out += struct.pack(">I", len(a["DataType"].encode())) + a["DataType"].encode()
        if "BinaryValue" in a:
            out += b"\x02" + struct.pack(">I", len(a["BinaryValue"])) + a["BinaryValue"]
        else:
            v = a["StringValue"].encode()
            out += b"\x01" + struct.pack(">I", len(v)) + v
    return hashlib.md5(out).hexdigest()


def arn_of(sqs, url):
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    return attrs["Attributes"]["QueueArn"]


def receive_all(sqs, url, want, **kw):
    got = []
    deadline = time.time() + 10
    while len(got) < want and time.time() < deadline:
        r = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1, **kw)
        got += r.get("Messages", [])
    return got


# --- queues -----------------------------------------------------------------------------


def test_create_get_url_list_delete(sqs, name):
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    assert url.endswith("/000000000000/" + name)
    assert url.startswith("http://127.0.0.1:")
    assert sqs.get_queue_url(QueueName=name)["QueueUrl"] == url
    assert url in sqs.list_queues(QueueNamePrefix=name)["QueueUrls"]
    # Same name, same attributes: the existing URL.
    assert sqs.create_queue(QueueName=name)["QueueUrl"] == url
    sqs.delete_queue(QueueUrl=url)
    with pytest.raises(ClientError) as e:
        sqs.get_queue_url(QueueName=name)
    assert code(e) == "AWS.SimpleQueueService.NonExistentQueue"


def test_create_with_all_attributes_and_read_them_back(sqs, name):
    dlq = sqs.create_queue(QueueName=name + "-dlq")["QueueUrl"]
    policy = json.dumps({"deadLetterTargetArn": arn_of(sqs, dlq), "maxReceiveCount": 4})
    allow = json.dumps({"redrivePermission": "allowAll"})
    url = sqs.create_queue(
        QueueName=name,
        Attributes={
            "VisibilityTimeout": "45",
            "DelaySeconds": "0",
            "MessageRetentionPeriod": "3600",
            "MaximumMessageSize": "2048",
            "ReceiveMessageWaitTimeSeconds": "1",
            "RedrivePolicy": policy,
            "RedriveAllowPolicy": allow,
        },
        tags={"team": "ops"},
    )["QueueUrl"]
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attrs["VisibilityTimeout"] == "45"
    assert attrs["MessageRetentionPeriod"] == "3600"
    assert attrs["MaximumMessageSize"] == "2048"
    assert attrs["ReceiveMessageWaitTimeSeconds"] == "1"
    assert json.loads(attrs["RedrivePolicy"]) == json.loads(policy)
    assert attrs["RedriveAllowPolicy"] == allow
    assert attrs["QueueArn"] == "arn:aws:sqs:us-east-1:000000000000:" + name
    for key in ("ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
                "ApproximateNumberOfMessagesDelayed", "CreatedTimestamp", "LastModifiedTimestamp"):
        assert attrs[key].isdigit(), key
    assert "FifoQueue" not in attrs
    assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"team": "ops"}
    assert sqs.list_dead_letter_source_queues(QueueUrl=dlq)["queueUrls"] == [url]
    # Same name, different attributes.
    with pytest.raises(ClientError) as e:
        sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "46"})
    assert code(e) == "QueueAlreadyExists"


def test_set_queue_attributes_and_counts(sqs, queue):
    sqs.set_queue_attributes(QueueUrl=queue, Attributes={"VisibilityTimeout": "7", "DelaySeconds": "0"})
    attrs = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["VisibilityTimeout"])["Attributes"]
    assert attrs == {"VisibilityTimeout": "7"}
    sqs.send_message(QueueUrl=queue, MessageBody="a")
    sqs.send_message(QueueUrl=queue, MessageBody="b", DelaySeconds=60)
    sqs.receive_message(QueueUrl=queue)
    sqs.send_message(QueueUrl=queue, MessageBody="c")
    attrs = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["All"])["Attributes"]
    assert attrs["ApproximateNumberOfMessages"] == "1"
    assert attrs["ApproximateNumberOfMessagesNotVisible"] == "1"
    assert attrs["ApproximateNumberOfMessagesDelayed"] == "1"
    with pytest.raises(ClientError) as e:
        sqs.set_queue_attributes(QueueUrl=queue, Attributes={"VisibilityTimeout": "99999"})
    assert code(e) == "InvalidAttributeValue"
    with pytest.raises(ClientError) as e:
        sqs.set_queue_attributes(QueueUrl=queue, Attributes={"Bogus": "1"})
    assert code(e) == "InvalidAttributeName"
    with pytest.raises(ClientError) as e:
        sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["Bogus"])
    assert code(e) == "InvalidAttributeName"


def test_list_queues_paginates(sqs, name):
    urls = [sqs.create_queue(QueueName=f"{name}-{i}")["QueueUrl"] for i in range(5)]
    first = sqs.list_queues(QueueNamePrefix=name, MaxResults=2)
    assert first["QueueUrls"] == urls[:2] and "NextToken" in first
    seen = list(first["QueueUrls"])
    token = first["NextToken"]
    while token:
        page = sqs.list_queues(QueueNamePrefix=name, MaxResults=2, NextToken=token)
        seen += page["QueueUrls"]
        token = page.get("NextToken")
    assert seen == urls
    paginator = sqs.get_paginator("list_queues")
    pages = paginator.paginate(QueueNamePrefix=name, PaginationConfig={"PageSize": 3})
    assert sum(len(p["QueueUrls"]) for p in pages) == 5


def test_purge(sqs, queue):
    sqs.send_message_batch(QueueUrl=queue, Entries=[{"Id": str(i), "MessageBody": "x"} for i in range(3)])
    sqs.purge_queue(QueueUrl=queue)
    assert sqs.receive_message(QueueUrl=queue).get("Messages", []) == []


def test_tags(sqs, queue):
    sqs.tag_queue(QueueUrl=queue, Tags={"a": "1", "b": "2"})
    sqs.untag_queue(QueueUrl=queue, TagKeys=["a"])
    assert sqs.list_queue_tags(QueueUrl=queue)["Tags"] == {"b": "2"}


def test_permissions_are_unsupported(sqs, queue):
    with pytest.raises(ClientError) as e:
        sqs.add_permission(QueueUrl=queue, Label="l", AWSAccountIds=["1"], Actions=["SendMessage"])
    assert code(e) == "AWS.SimpleQueueService.UnsupportedOperation"
    with pytest.raises(ClientError) as e:
        sqs.remove_permission(QueueUrl=queue, Label="l")
    assert code(e) == "AWS.SimpleQueueService.UnsupportedOperation"


# --- messages ---------------------------------------------------------------------------


def test_send_receive_delete_with_attributes_and_digests(sqs, queue):
    attributes = {
        "s": {"DataType": "String", "StringValue": "héllo"},
        "n": {"DataType": "Number.float", "StringValue": "3.25"},
        "b": {"DataType": "Binary.png", "BinaryValue": b"\x00\x01\xff"},
    }
    sent = sqs.send_message(
        QueueUrl=queue,
        MessageBody="body ✓",
        MessageAttributes=attributes,
        MessageSystemAttributes={"AWSTraceHeader": {"DataType": "String", "StringValue": "Root=1-abc"}},
    )
    assert sent["MD5OfMessageBody"] == hashlib.md5("body ✓".encode()).hexdigest()
    assert sent["MD5OfMessageAttributes"] == md5_attributes(attributes)
    assert len(sent["MD5OfMessageSystemAttributes"]) == 32
    got = sqs.receive_message(
        QueueUrl=queue, MessageAttributeNames=["All"], MessageSystemAttributeNames=["All"]
    )["Messages"]
    m = got[0]
    assert m["Body"] == "body ✓" and m["MessageId"] == sent["MessageId"]
    assert m["MD5OfBody"] == sent["MD5OfMessageBody"]
    assert m["MessageAttributes"] == attributes
    assert m["MD5OfMessageAttributes"] == md5_attributes(attributes)
    assert m["Attributes"]["ApproximateReceiveCount"] == "1"
    assert m["Attributes"]["AWSTraceHeader"] == "Root=1-abc"
    for key in ("SentTimestamp", "ApproximateFirstReceiveTimestamp", "SenderId"):
        assert key in m["Attributes"]
    sqs.delete_message(QueueUrl=queue, ReceiptHandle=m["ReceiptHandle"])
    assert sqs.receive_message(QueueUrl=queue).get("Messages", []) == []


def test_attribute_name_filters(sqs, queue):
    attributes = {
        "a.x": {"DataType": "String", "StringValue": "1"},
        "b": {"DataType": "String", "StringValue": "2"},
    }
    sqs.send_message(QueueUrl=queue, MessageBody="m", MessageAttributes=attributes)
    m = sqs.receive_message(QueueUrl=queue, MessageAttributeNames=["a.*"])["Messages"][0]
    assert list(m["MessageAttributes"]) == ["a.x"]
    assert m["MD5OfMessageAttributes"] == md5_attributes({"a.x": attributes["a.x"]})


def test_long_poll_waits_then_returns(sqs, queue):
    started = time.time()
    assert sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=1).get("Messages", []) == []
    assert time.time() - started >= 0.9
    sqs.send_message(QueueUrl=queue, MessageBody="late")
    started = time.time()
    got = sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=5)["Messages"]
    assert got[0]["Body"] == "late" and time.time() - started < 4


def test_visibility_changes(sqs, queue):
    sqs.send_message(QueueUrl=queue, MessageBody="v")
    m = sqs.receive_message(QueueUrl=queue, VisibilityTimeout=30)["Messages"][0]
    assert sqs.receive_message(QueueUrl=queue).get("Messages", []) == []
    sqs.change_message_visibility(QueueUrl=queue, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0)
    again = sqs.receive_message(QueueUrl=queue, VisibilityTimeout=1)["Messages"][0]
    assert again["MessageId"] == m["MessageId"]
    time.sleep(1.3)
    third = sqs.receive_message(QueueUrl=queue, AttributeNames=["ApproximateReceiveCount"])["Messages"][0]
    assert third["Attributes"]["ApproximateReceiveCount"] == "3"
    r = sqs.change_message_visibility_batch(
        QueueUrl=queue,
        Entries=[
            {"Id": "ok", "ReceiptHandle": third["ReceiptHandle"], "VisibilityTimeout": 0},
            {"Id": "bad", "ReceiptHandle": "garbage", "VisibilityTimeout": 0},
        ],
    )
    assert [s["Id"] for s in r["Successful"]] == ["ok"]
    assert r["Failed"][0]["Id"] == "bad" and r["Failed"][0]["Code"] == "ReceiptHandleIsInvalid"


def test_batches_with_partial_failures(sqs, queue):
    r = sqs.send_message_batch(
        QueueUrl=queue,
        Entries=[
            {"Id": "a", "MessageBody": "one"},
            {"Id": "b", "MessageBody": "two", "DelaySeconds": 901},
            {"Id": "c", "MessageBody": "three", "MessageAttributes": {"x": {"DataType": "Bogus", "StringValue": "1"}}},
            {"Id": "d", "MessageBody": "four"},
        ],
    )
    assert sorted(s["Id"] for s in r["Successful"]) == ["a", "d"]
    assert {f["Id"]: f["Code"] for f in r["Failed"]} == {"b": "InvalidParameterValue", "c": "InvalidParameterValue"}
    assert all(f["SenderFault"] for f in r["Failed"])
    got = receive_all(sqs, queue, 2)
    entries = [{"Id": f"e{i}", "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(got)]
    entries.append({"Id": "bad", "ReceiptHandle": "nope"})
    r = sqs.delete_message_batch(QueueUrl=queue, Entries=entries)
    assert len(r["Successful"]) == 2
    assert r["Failed"][0]["Id"] == "bad" and r["Failed"][0]["Code"] == "ReceiptHandleIsInvalid"


@pytest.mark.parametrize(
    "entries, expected",
    [
        ([], "AWS.SimpleQueueService.EmptyBatchRequest"),
        ([{"Id": str(i), "MessageBody": "x"} for i in range(11)], "AWS.SimpleQueueService.TooManyEntriesInBatchRequest"),
        ([{"Id": "a", "MessageBody": "x"}, {"Id": "a", "MessageBody": "y"}], "AWS.SimpleQueueService.BatchEntryIdsNotDistinct"),
        ([{"Id": "bad id!", "MessageBody": "x"}], "AWS.SimpleQueueService.InvalidBatchEntryId"),
    ],
)
def test_batch_errors(sqs, queue, entries, expected):
    with pytest.raises(ClientError) as e:
        sqs.send_message_batch(QueueUrl=queue, Entries=entries)
    assert code(e) == expected


def test_message_errors(sqs, name):
    url = sqs.create_queue(QueueName=name, Attributes={"MaximumMessageSize": "1024"})["QueueUrl"]
    with pytest.raises(ClientError) as e:
        sqs.send_message(QueueUrl=url, MessageBody="x" * 1025)
    assert code(e) == "InvalidParameterValue"
    with pytest.raises(ClientError) as e:
        sqs.send_message(QueueUrl=url, MessageBody="bad \u0001 char")
    assert code(e) == "InvalidMessageContents"
    with pytest.raises(ClientError) as e:
        sqs.delete_message(QueueUrl=url, ReceiptHandle="not-a-receipt")
    assert code(e) == "ReceiptHandleIsInvalid"
    with pytest.raises(ClientError) as e:
        sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=11)
    assert code(e) == "InvalidParameterValue"
    with pytest.raises(ClientError) as e:
        sqs.send_message(QueueUrl=url + "-missing", MessageBody="x")
    assert code(e) == "AWS.SimpleQueueService.NonExistentQueue"
    with pytest.raises(ClientError) as e:
        sqs.send_message(QueueUrl=url, MessageBody="x", MessageDeduplicationId="d")
    assert code(e) == "InvalidParameterValue"


def test_missing_parameter(sqs):
    # boto3 validates required members itself; send a raw request without one.
    import urllib.request
    from conftest import ENDPOINT

    request = urllib.request.Request(
        ENDPOINT + "/",
        data=b'{"QueueUrl": "http://x/000000000000/q"}',
        headers={"X-Amz-Target": "AmazonSQS.SendMessage", "Content-Type": "application/x-amz-json-1.0"},
    )
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(request, timeout=5)
    assert e.value.code == 400
    assert e.value.headers["x-amzn-query-error"] == "MissingParameter;Sender"
    assert json.loads(e.value.read())["__type"].endswith("#MissingParameter")


# --- FIFO -------------------------------------------------------------------------------


def test_fifo_order_groups_dedup_and_sequence_numbers(sqs, fifo):
    seqs = []
    for i in range(3):
        r = sqs.send_message(QueueUrl=fifo, MessageBody=f"a{i}", MessageGroupId="A", MessageDeduplicationId=f"a{i}")
        seqs.append(int(r["SequenceNumber"]))
    assert seqs == sorted(seqs)
    dup = sqs.send_message(QueueUrl=fifo, MessageBody="a0 again", MessageGroupId="A", MessageDeduplicationId="a0")
    sqs.send_message(QueueUrl=fifo, MessageBody="b0", MessageGroupId="B", MessageDeduplicationId="b0")
    assert dup["MessageId"]  # accepted, not stored twice
    first = sqs.receive_message(QueueUrl=fifo, MaxNumberOfMessages=1, AttributeNames=["All"])["Messages"][0]
    assert first["Body"] == "a0"
    assert first["Attributes"]["MessageGroupId"] == "A"
    assert first["Attributes"]["MessageDeduplicationId"] == "a0"
    assert int(first["Attributes"]["SequenceNumber"]) == seqs[0]
    # Group A is blocked while a0 is in flight; B is not.
    rest = sqs.receive_message(QueueUrl=fifo, MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in rest] == ["b0"]
    sqs.delete_message(QueueUrl=fifo, ReceiptHandle=first["ReceiptHandle"])
    sqs.delete_message(QueueUrl=fifo, ReceiptHandle=rest[0]["ReceiptHandle"])
    more = sqs.receive_message(QueueUrl=fifo, MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in more] == ["a1", "a2"]


def test_fifo_content_dedup_and_rules(sqs, name):
    url = sqs.create_queue(
        QueueName=name + ".fifo",
        Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"},
    )["QueueUrl"]
    a = sqs.send_message(QueueUrl=url, MessageBody="same", MessageGroupId="g")
    b = sqs.send_message(QueueUrl=url, MessageBody="same", MessageGroupId="g")
    assert a["MessageId"] == b["MessageId"]
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attrs["FifoQueue"] == "true" and attrs["ContentBasedDeduplication"] == "true"
    with pytest.raises(ClientError) as e:
        sqs.send_message(QueueUrl=url, MessageBody="x")
    assert code(e) == "MissingParameter"
    with pytest.raises(ClientError) as e:
        sqs.send_message(QueueUrl=url, MessageBody="x", MessageGroupId="g", DelaySeconds=5)
    assert code(e) == "InvalidParameterValue"
    plain = sqs.create_queue(QueueName=name + "-p.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    with pytest.raises(ClientError) as e:
        sqs.send_message(QueueUrl=plain, MessageBody="x", MessageGroupId="g")
    assert code(e) == "InvalidParameterValue"
    with pytest.raises(ClientError) as e:
        sqs.create_queue(QueueName=name + "-bad", Attributes={"FifoQueue": "true"})
    assert code(e) == "InvalidParameterValue"
    r = sqs.receive_message(QueueUrl=url, ReceiveRequestAttemptId="attempt-1")
    assert len(r["Messages"]) == 1
    # The reply was "lost": the same attempt id returns the same message and receipt handle.
    again = sqs.receive_message(QueueUrl=url, ReceiveRequestAttemptId="attempt-1")
    assert [(m["MessageId"], m["ReceiptHandle"]) for m in again["Messages"]] == [
        (m["MessageId"], m["ReceiptHandle"]) for m in r["Messages"]
    ]
    other = sqs.receive_message(QueueUrl=url, ReceiveRequestAttemptId="attempt-2", WaitTimeSeconds=0)
    assert other.get("Messages", []) == [], "the group is in flight: a new attempt gets nothing"


def test_fifo_deduplication_scope_message_group(sqs, name):
    url = sqs.create_queue(
        QueueName=name + ".fifo",
        Attributes={"FifoQueue": "true", "DeduplicationScope": "messageGroup"},
    )["QueueUrl"]
    send = lambda group: sqs.send_message(
        QueueUrl=url, MessageBody=group, MessageGroupId=group, MessageDeduplicationId="same"
    )["MessageId"]
    a, b, a_again = send("a"), send("b"), send("a")
    assert a != b, "the same dedup id in another group is another message"
    assert a_again == a, "within a group it is a duplicate"
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["DeduplicationScope"])["Attributes"]
    assert attrs["DeduplicationScope"] == "messageGroup"
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"DeduplicationScope": "queue"})
    c_again = sqs.send_message(QueueUrl=url, MessageBody="d", MessageGroupId="d", MessageDeduplicationId="other")["MessageId"]
    d_dup = sqs.send_message(QueueUrl=url, MessageBody="e", MessageGroupId="e", MessageDeduplicationId="other")["MessageId"]
    assert c_again == d_dup, "queue scope: one id, one message across groups"


# --- dead letters and move tasks --------------------------------------------------------


def make_dlq_pair(sqs, name):
    dlq = sqs.create_queue(QueueName=name + "-dlq")["QueueUrl"]
    policy = json.dumps({"deadLetterTargetArn": arn_of(sqs, dlq), "maxReceiveCount": "1"})
    src = sqs.create_queue(QueueName=name, Attributes={"RedrivePolicy": policy})["QueueUrl"]
    return src, dlq


def test_redrive_allow_policy_is_enforced(sqs, name):
    deny = sqs.create_queue(
        QueueName=name + "-deny",
        Attributes={"RedriveAllowPolicy": json.dumps({"redrivePermission": "denyAll"})},
    )["QueueUrl"]
    policy = json.dumps({"deadLetterTargetArn": arn_of(sqs, deny), "maxReceiveCount": "2"})
    with pytest.raises(ClientError) as e:
        sqs.create_queue(QueueName=name + "-src", Attributes={"RedrivePolicy": policy})
    assert code(e) == "InvalidParameterValue"
    prefix = arn_of(sqs, deny).rsplit(":", 1)[0]
    only = json.dumps({"redrivePermission": "byQueue", "sourceQueueArns": [f"{prefix}:{name}-ok"]})
    dlq = sqs.create_queue(QueueName=name + "-only", Attributes={"RedriveAllowPolicy": only})["QueueUrl"]
    policy = json.dumps({"deadLetterTargetArn": arn_of(sqs, dlq), "maxReceiveCount": "2"})
    sqs.create_queue(QueueName=name + "-ok", Attributes={"RedrivePolicy": policy})
    other = sqs.create_queue(QueueName=name + "-other")["QueueUrl"]
    with pytest.raises(ClientError) as e:
        sqs.set_queue_attributes(QueueUrl=other, Attributes={"RedrivePolicy": policy})
    assert code(e) == "InvalidParameterValue"
    with pytest.raises(ClientError) as e:
        sqs.set_queue_attributes(
            QueueUrl=dlq, Attributes={"RedriveAllowPolicy": json.dumps({"redrivePermission": "byQueue"})}
        )
    assert code(e) == "InvalidAttributeValue"


def fail_once(sqs, src, n):
    got = receive_all(sqs, src, n, VisibilityTimeout=5)
    sqs.change_message_visibility_batch(
        QueueUrl=src,
        Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0} for i, m in enumerate(got)],
    )
    # The next receive sees them past maxReceiveCount: they move to the dead-letter queue.
    sqs.receive_message(QueueUrl=src, WaitTimeSeconds=1)


def wait_count(sqs, url, n):
    deadline = time.time() + 10
    while time.time() < deadline:
        a = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
        if a["Attributes"]["ApproximateNumberOfMessages"] == str(n):
            # Counted once stored; deliverable once synced, a moment later.
            time.sleep(0.3)
            return
        time.sleep(0.1)
    raise AssertionError(f"{url} never had {n} messages")


def test_dead_letters_and_move_tasks(sqs, name):
    src, dlq = make_dlq_pair(sqs, name)
    sqs.send_message_batch(QueueUrl=src, Entries=[{"Id": str(i), "MessageBody": f"m{i}"} for i in range(3)])
    fail_once(sqs, src, 3)
    wait_count(sqs, dlq, 3)
    m = sqs.receive_message(QueueUrl=dlq, AttributeNames=["All"], VisibilityTimeout=0)["Messages"][0]
    assert m["Attributes"]["DeadLetterQueueSourceArn"] == arn_of(sqs, src)
    handle = sqs.start_message_move_task(SourceArn=arn_of(sqs, dlq))["TaskHandle"]
    assert handle
    deadline = time.time() + 10
    while time.time() < deadline:
        tasks = sqs.list_message_move_tasks(SourceArn=arn_of(sqs, dlq))["Results"]
        if tasks and tasks[0]["Status"] == "COMPLETED":
            break
        time.sleep(0.1)
    assert tasks[0]["Status"] == "COMPLETED"
    assert tasks[0]["ApproximateNumberOfMessagesMoved"] == 3
    assert tasks[0]["SourceArn"] == arn_of(sqs, dlq)
    wait_count(sqs, src, 3)
    with pytest.raises(ClientError) as e:
        sqs.cancel_message_move_task(TaskHandle=handle)
    assert code(e) in ("InvalidParameterValue", "ResourceNotFoundException")
    with pytest.raises(ClientError) as e:
        sqs.cancel_message_move_task(TaskHandle="no-such-task")
    assert code(e) == "ResourceNotFoundException"


def test_move_task_to_a_destination_and_cancel(sqs, name):
    src, dlq = make_dlq_pair(sqs, name)
    other = sqs.create_queue(QueueName=name + "-other")["QueueUrl"]
    sqs.send_message_batch(QueueUrl=src, Entries=[{"Id": str(i), "MessageBody": f"m{i}"} for i in range(10)])
    fail_once(sqs, src, 10)
    wait_count(sqs, dlq, 10)
    handle = sqs.start_message_move_task(
        SourceArn=arn_of(sqs, dlq), DestinationArn=arn_of(sqs, other), MaxNumberOfMessagesPerSecond=2
    )["TaskHandle"]
    with pytest.raises(ClientError):
        sqs.start_message_move_task(SourceArn=arn_of(sqs, dlq))
    moved = sqs.cancel_message_move_task(TaskHandle=handle)["ApproximateNumberOfMessagesMoved"]
    assert moved < 10
    deadline = time.time() + 10
    while time.time() < deadline:
        status = sqs.list_message_move_tasks(SourceArn=arn_of(sqs, dlq), MaxResults=10)["Results"][0]["Status"]
        if status == "CANCELLED":
            break
        time.sleep(0.1)
    assert status == "CANCELLED"
    with pytest.raises(ClientError) as e:
        sqs.start_message_move_task(SourceArn=arn_of(sqs, src))
    assert code(e) == "InvalidParameterValue"
