"""confluent-kafka (librdkafka) against Ferry's Kafka listener: produce and fetch with keys,
headers, every compression codec and acks level, the idempotent producer, long-poll fetches,
compacted gaps, consumer groups (eager and cooperative rebalances, static members, a killed
member's session expiring) with committed offsets, seeks, offsets for times, metadata, the
admin API and the broker's refusals."""

import json
import queue
import signal
import subprocess
import sys
import threading
import time

import pytest
from confluent_kafka import (
    OFFSET_BEGINNING,
    OFFSET_END,
    TIMESTAMP_CREATE_TIME,
    Consumer,
    KafkaError,
    KafkaException,
    Producer,
    TopicPartition,
)
from confluent_kafka import ConsumerGroupTopicPartitions
from confluent_kafka.admin import (
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    NewPartitions,
    NewTopic,
)

from conftest import (
    BOOTSTRAP,
    COMMON,
    CONSUMER,
    PRODUCER,
    consume_n,
    create_stream,
    headers_of,
    http,
    produce_all,
    read_partition,
    wait_until,
)


@pytest.fixture
def admin():
    return AdminClient({**COMMON})


def assign_from(topic, partitions, group="unused-assign", offset=OFFSET_BEGINNING, **extra):
    c = Consumer({**CONSUMER, "group.id": group, **extra})
    c.assign([TopicPartition(topic, p, offset) for p in partitions])
    return c


def create_topic(admin, topic, partitions=1, config=None):
    fs = admin.create_topics(
        [NewTopic(topic, num_partitions=partitions, replication_factor=1, config=config or {})],
        operation_timeout=10,
        request_timeout=15,
    )
    fs[topic].result(timeout=20)


def read_partition_all(topic, partition=0):
    return read_partition(topic, partition, encoding="base64")


def by_position(msgs):
    return {(m.partition(), m.offset()): m for m in msgs}


# --- produce and consume ------------------------------------------------------------------


def test_keys_headers_values_round_trip(topic):
    create_stream(topic, partitions=2)
    records = []
    for i in range(30):
        records.append(
            {
                "key": f"key-{i}".encode(),
                "value": f"value-{i}".encode() * (i + 1),
                "headers": [("trace", f"t{i}".encode()), ("dup", b"1"), ("dup", b"2")],
                "partition": i % 2,
            }
        )
    # Binary keys and values, an empty value, a tombstone, a null header value, no headers.
    records.append({"key": bytes(range(256)), "value": bytes(reversed(range(256))), "partition": 0})
    records.append({"key": b"empty", "value": b"", "headers": [("n", None)], "partition": 1})
    records.append({"key": b"tombstone", "value": None, "partition": 0})
    records.append({"key": None, "value": b"no key", "partition": 1})

    p = Producer(PRODUCER)
    delivered = produce_all(p, topic, records)
    assert sorted(m.offset() for m in delivered if m.partition() == 0) == list(range(17))
    assert sorted(m.offset() for m in delivered if m.partition() == 1) == list(range(17))

    c = assign_from(topic, [0, 1])
    try:
        got = by_position(consume_n(c, len(records)))
    finally:
        c.close()
    for r, d in zip(records, delivered):
        m = got[(d.partition(), d.offset())]
        assert m.key() == r["key"]
        assert m.value() == r["value"]
        assert headers_of(m) == list(r.get("headers") or [])
        ts_type, ts = m.timestamp()
        assert ts_type == TIMESTAMP_CREATE_TIME and ts == d.timestamp()[1]


@pytest.mark.parametrize("codec", ["none", "gzip", "snappy", "lz4", "zstd"])
def test_compression_round_trip(topic, codec):
    create_stream(topic, partitions=1)
    records = [
        {
            "key": f"k{i % 7}".encode(),
            "value": (f"{codec} record {i} " * 20).encode(),
            "headers": [("i", str(i).encode())],
        }
        for i in range(200)
    ]
    p = Producer({**PRODUCER, "compression.type": codec, "linger.ms": 20})
    delivered = produce_all(p, topic, records)
    assert [m.offset() for m in delivered] == list(range(200))

    c = assign_from(topic, [0])
    try:
        msgs = consume_n(c, 200)
    finally:
        c.close()
    assert [m.offset() for m in msgs] == list(range(200))
    for r, m in zip(records, msgs):
        assert (m.key(), m.value(), headers_of(m)) == (r["key"], r["value"], r["headers"])


def test_idempotent_producer_dense_offsets(topic):
    create_stream(topic, partitions=2)
    n = 5000
    p = Producer({**PRODUCER, "enable.idempotence": True, "acks": "all", "linger.ms": 2})
    records = [{"key": str(i).encode(), "value": f"v{i}".encode(), "partition": i % 2} for i in range(n)]
    delivered = produce_all(p, topic, records, timeout=60)
    for part in (0, 1):
        offsets = [m.offset() for m in delivered if m.partition() == part]
        assert offsets == list(range(n // 2)), f"partition {part}: offsets not dense/in order"

    c = assign_from(topic, [0, 1])
    try:
        msgs = consume_n(c, n, timeout=40)
        for part in (0, 1):
            lo, hi = c.get_watermark_offsets(TopicPartition(topic, part), timeout=10)
            assert (lo, hi) == (0, n // 2)
    finally:
        c.close()
    for part in (0, 1):
        got = [m for m in msgs if m.partition() == part]
        assert [m.offset() for m in got] == list(range(n // 2))
        assert [m.value() for m in got] == [f"v{i}".encode() for i in range(part, n, 2)]


@pytest.mark.parametrize("acks", ["0", "1", "all"])
def test_acks_levels(topic, acks):
    create_stream(topic, partitions=1)
    # acks=0 gets no response at all: the broker must not answer (or the client would read
    # the answer as the reply to its next request).
    p = Producer({**PRODUCER, "acks": acks})
    produce_all(p, topic, [{"value": f"{acks}-{i}".encode()} for i in range(50)])
    produce_all(p, topic, [{"value": f"{acks}-{i}".encode()} for i in range(50, 100)])
    c = assign_from(topic, [0])
    try:
        msgs = consume_n(c, 100)
    finally:
        c.close()
    assert [m.offset() for m in msgs] == list(range(100))
    assert [m.value() for m in msgs] == [f"{acks}-{i}".encode() for i in range(100)]


def test_large_records_and_small_fetch_limits(topic):
    create_stream(topic, partitions=1)
    values = [bytes([i]) * (600_000 + i) for i in range(3)] + [b"small"]
    p = Producer({**PRODUCER, "message.max.bytes": 1_000_000})
    produce_all(p, topic, [{"value": v} for v in values])
    # Fetch limits below one record: Kafka still returns the first batch whole.
    c = assign_from(topic, [0], **{"max.partition.fetch.bytes": 65536})
    try:
        msgs = consume_n(c, 4)
    finally:
        c.close()
    assert [m.value() for m in msgs] == values


def test_out_of_range_position_resets(topic):
    create_stream(topic, partitions=1)
    produce_all(Producer(PRODUCER), topic, [{"value": f"v{i}".encode()} for i in range(5)])
    # A position past the end gets OFFSET_OUT_OF_RANGE; auto.offset.reset=earliest restarts at 0.
    c = assign_from(topic, [0], offset=1000)
    try:
        msgs = consume_n(c, 5)
    finally:
        c.close()
    assert [m.offset() for m in msgs] == [0, 1, 2, 3, 4]


def test_fetch_long_poll_wakes_on_produce(topic):
    create_stream(topic, partitions=1)
    # A fetch waiting at the end (up to 5 s) must answer as soon as a record arrives.
    c = assign_from(topic, [0], **{"fetch.wait.max.ms": 5000})
    try:
        assert c.poll(1.0) is None  # now parked at the end
        sent = time.monotonic()
        produce_all(Producer(PRODUCER), topic, [{"value": b"wake"}])
        m = consume_n(c, 1, timeout=10)[0]
        latency = time.monotonic() - sent
    finally:
        c.close()
    assert m.value() == b"wake"
    assert latency < 2.5, f"the waiting fetch answered {latency:.2f}s after the produce"


def test_fetch_min_bytes_honours_max_wait(topic):
    create_stream(topic, partitions=1)
    produce_all(Producer(PRODUCER), topic, [{"value": b"tiny"}])
    # fetch.min.bytes far above what exists: the broker answers when fetch.wait.max.ms ends.
    c = assign_from(topic, [0], **{"fetch.min.bytes": 1_000_000, "fetch.wait.max.ms": 300})
    try:
        started = time.monotonic()
        m = consume_n(c, 1, timeout=10)[0]
        took = time.monotonic() - started
    finally:
        c.close()
    assert m.value() == b"tiny"
    assert took < 3, f"{took:.2f}s"


def test_compacted_topic_fetch_across_gaps(topic):
    # 1 MiB segments; enough keyed records to close a few; compaction leaves offset gaps
    # that a Kafka consumer must read across.
    create_stream(topic, partitions=1, cleanup="compact", segment_bytes=1_048_576)
    value = b"v" * 4000
    records = [{"key": f"key-{i % 10}".encode(), "value": value + str(i).encode()} for i in range(800)]
    produce_all(Producer({**PRODUCER, "linger.ms": 0, "batch.num.messages": 20}), topic, records)
    status, body = http("POST", f"/v1/streams/{topic}/compact")
    assert status == 200, (status, body)
    assert body["records_removed"] > 0, body
    c = assign_from(topic, [0])
    try:
        lo, hi = c.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)
        assert hi == 800
        expected = [r["offset"] for r in read_partition_all(topic)]
        msgs = consume_n(c, len(expected), timeout=30)
    finally:
        c.close()
    assert [m.offset() for m in msgs] == expected
    assert len(expected) < 800
    # The latest record of every key is there, with its value.
    latest = {m.key(): m.value() for m in msgs}
    assert latest == {f"key-{k}".encode(): value + str(790 + k).encode() for k in range(10)}


# --- consumer groups ------------------------------------------------------------------------


@pytest.mark.parametrize("strategy", ["range", "roundrobin", "cooperative-sticky"])
def test_group_rebalance_commit_resume(topic, group, strategy):
    create_stream(topic, partitions=4)
    cooperative = strategy == "cooperative-sticky"
    owned = {"c1": set(), "c2": set()}
    assigns = {"c1": 0, "c2": 0}

    def tracker(name):
        # Eager strategies hand over the full assignment; cooperative ones only the change.
        def on_assign(consumer, partitions):
            assigns[name] += 1
            parts = {tp.partition for tp in partitions}
            owned[name] = owned[name] | parts if cooperative else parts

        def on_revoke(consumer, partitions):
            owned[name] = owned[name] - {tp.partition for tp in partitions} if cooperative else set()

        return {"on_assign": on_assign, "on_revoke": on_revoke}

    cfg = {**CONSUMER, "group.id": group, "partition.assignment.strategy": strategy}
    c1 = Consumer(cfg)
    c2 = Consumer(cfg)
    received = {"c1": [], "c2": []}
    try:
        c1.subscribe([topic], **tracker("c1"))

        def poll(name, c):
            m = c.poll(0.1)
            if m is not None:
                assert m.error() is None, m.error()
                received[name].append(m)

        def c1_has_all():
            poll("c1", c1)
            return len(c1.assignment()) == 4

        wait_until(c1_has_all, timeout=20, interval=0, what="first member to own all 4 partitions")
        assert owned["c1"] == {0, 1, 2, 3}
        first_assigns = assigns["c1"]

        c2.subscribe([topic], **tracker("c2"))

        def split():
            poll("c1", c1)
            poll("c2", c2)
            a1 = {tp.partition for tp in c1.assignment()}
            a2 = {tp.partition for tp in c2.assignment()}
            return len(a1) == 2 and len(a2) == 2 and a1 | a2 == {0, 1, 2, 3}

        wait_until(split, timeout=30, interval=0, what="rebalance to 2+2")
        a1 = {tp.partition for tp in c1.assignment()}
        a2 = {tp.partition for tp in c2.assignment()}
        assert assigns["c1"] > first_assigns or cooperative, "c1 was not reassigned"
        assert owned["c1"] == a1 and owned["c2"] == a2, (owned, a1, a2)
        assert not received["c1"] and not received["c2"], "records on an empty topic"

        p = Producer(PRODUCER)
        records = [{"key": f"k{i}".encode(), "value": f"v{i}".encode(), "partition": i % 4} for i in range(80)]
        produce_all(p, topic, records)

        def all_in():
            poll("c1", c1)
            poll("c2", c2)
            return len(received["c1"]) + len(received["c2"]) >= 80

        wait_until(all_in, timeout=30, interval=0, what="80 records across the group")
        pos1 = {(m.partition(), m.offset()) for m in received["c1"]}
        pos2 = {(m.partition(), m.offset()) for m in received["c2"]}
        assert len(pos1) == len(received["c1"]) and len(pos2) == len(received["c2"]), "duplicates"
        assert not pos1 & pos2, "both members consumed the same records"
        assert pos1 | pos2 == {(i % 4, i // 4) for i in range(80)}
        assert {p for p, _ in pos1} == a1 and {p for p, _ in pos2} == a2

        for c in (c1, c2):
            committed = c.commit(asynchronous=False)
            assert all(tp.error is None for tp in committed), committed
        for c, parts in ((c1, a1), (c2, a2)):
            got = c.committed([TopicPartition(topic, p) for p in sorted(parts)], timeout=10)
            assert [(tp.partition, tp.offset) for tp in got] == [(p, 20) for p in sorted(parts)]
    finally:
        c1.close()
        c2.close()

    # Newly produced records after the commit; a fresh member resumes after the commits.
    produce_all(Producer(PRODUCER), topic, [{"value": f"new{i}".encode(), "partition": i % 4} for i in range(8)])
    c3 = Consumer({**cfg})
    try:
        c3.subscribe([topic])
        msgs = consume_n(c3, 8, timeout=30)
        assert sorted((m.partition(), m.offset()) for m in msgs) == sorted((i % 4, 20 + i // 4) for i in range(8))
        assert sorted(m.value() for m in msgs) == sorted(f"new{i}".encode() for i in range(8))
        assert len(c3.assignment()) == 4
    finally:
        c3.close()


# A group member in a child process, killed with SIGKILL (no LeaveGroup): it prints its
# assignment, consumes its partition, commits offset 6 there, prints "committed" and idles.
CRASHING_MEMBER = """
import json, sys
from confluent_kafka import Consumer, TopicPartition
cfg, topic = json.loads(sys.argv[1]), sys.argv[2]
c = Consumer(cfg)
c.subscribe([topic], on_assign=lambda c, ps: print("assigned", json.dumps(sorted(p.partition for p in ps)), flush=True))
seen, committed = 0, False
while True:
    m = c.poll(0.1)
    if m is None or m.error():
        continue
    seen += 1
    if m.offset() == 5 and not committed:
        c.commit(offsets=[TopicPartition(topic, m.partition(), 6)], asynchronous=False)
        committed = True
        print("committed", m.partition(), flush=True)
"""


def test_group_member_crash_session_expiry(topic, group):
    """A member that dies without leaving is dropped after session.timeout.ms; the survivor
    takes its partition over from the dead member's committed offset."""
    create_stream(topic, partitions=2)
    cfg = {**CONSUMER, "group.id": group, "partition.assignment.strategy": "range"}
    live = Consumer(cfg)
    got = []

    def poll():
        m = live.poll(0.1)
        if m is not None:
            assert m.error() is None, m.error()
            got.append(m)

    child = None
    try:
        live.subscribe([topic])
        wait_until(lambda: poll() or len(live.assignment()) == 2, timeout=20, interval=0, what="the first member to own both")
        child = subprocess.Popen(
            [sys.executable, "-c", CRASHING_MEMBER, json.dumps(cfg), topic],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        lines = queue.Queue()
        threading.Thread(target=lambda: [lines.put(x.split()) for x in child.stdout], daemon=True).start()
        wait_until(lambda: poll() or len(live.assignment()) == 1, timeout=20, interval=0, what="a 1+1 split")
        (mine,) = [tp.partition for tp in live.assignment()]
        theirs = 1 - mine
        produce_all(Producer(PRODUCER), topic, [{"value": f"v{i}".encode(), "partition": i % 2} for i in range(20)])

        def child_committed():
            poll()
            while not lines.empty():
                line = lines.get()
                if line[0] == "committed":
                    return [int(line[1])]
            return None

        try:
            who = wait_until(child_committed, timeout=20, interval=0, what="the child's commit")
        except AssertionError:
            child.kill()
            raise AssertionError(f"the child member did not commit; its stderr: {child.stderr.read()[-2000:]}")
        assert who == [theirs]
        # The survivor commits what it consumed of its own partition too.
        wait_until(lambda: poll() or len(got) >= 10, timeout=20, interval=0, what="the survivor's 10 records")
        live.commit(asynchronous=False)
        child.send_signal(signal.SIGKILL)
        child.wait(10)
        started = time.monotonic()
        wait_until(
            lambda: poll() or len([m for m in got if m.partition() == theirs]) >= 4,
            timeout=30,
            interval=0,
            what="the dead member's partition to move to the survivor",
        )
        took = time.monotonic() - started
        assert len(live.assignment()) == 2
        assert [m.offset() for m in got if m.partition() == mine] == list(range(10))
        # From the committed offset: nothing before it again, everything after it.
        assert [m.offset() for m in got if m.partition() == theirs] == [6, 7, 8, 9]
        assert took < 20, f"takeover took {took:.1f}s with session.timeout.ms 6000"
    finally:
        if child is not None and child.poll() is None:
            child.kill()
            child.wait(10)
        live.close()


def test_static_member_restart(topic, group):
    """group.instance.id (JoinGroup v5+) is accepted. Ferry treats static members as dynamic
    (docs/kafka-compatibility.md), so a restarted static member, which sends no LeaveGroup,
    gets its share back once the old incarnation's session expires (Kafka's KIP-345 would
    skip that rebalance)."""
    create_stream(topic, partitions=4)

    def member(instance):
        c = Consumer({**CONSUMER, "group.id": group, "group.instance.id": instance,
                      "partition.assignment.strategy": "range"})
        c.subscribe([topic])
        return c

    a, b = member("inst-a"), member("inst-b")
    a2 = None
    try:
        wait_until(lambda: a.poll(0.05) or b.poll(0.05) or (len(a.assignment()) == 2 and len(b.assignment()) == 2),
                   timeout=30, interval=0, what="2+2")
        a.close()  # a static member does not send LeaveGroup
        a = None
        a2 = member("inst-a")

        def split():
            a2.poll(0.05)
            b.poll(0.05)
            p2 = {tp.partition for tp in a2.assignment()}
            pb = {tp.partition for tp in b.assignment()}
            return len(p2) == 2 and len(pb) == 2 and p2 | pb == {0, 1, 2, 3}

        wait_until(split, timeout=20, interval=0, what="2+2 with the restarted static member")
        produce_all(Producer(PRODUCER), topic, [{"value": b"x", "partition": i} for i in range(4)])
        got = []

        def four():
            for m in (a2.poll(0.05), b.poll(0.05)):
                if m is not None and not m.error():
                    got.append(m)
            return len(got) >= 4

        wait_until(four, timeout=15, interval=0, what="records to both members")
        assert sorted(m.partition() for m in got) == [0, 1, 2, 3]
    finally:
        for c in (a, a2, b):
            if c is not None:
                c.close()


def test_committed_offset_metadata(topic, group):
    create_stream(topic, partitions=2)
    produce_all(Producer(PRODUCER), topic, [{"value": b"x", "partition": i % 2} for i in range(10)])
    c = assign_from(topic, [0, 1], group=group)
    try:
        res = c.commit(
            offsets=[
                TopicPartition(topic, 0, 3, metadata="checkpoint three"),
                TopicPartition(topic, 1, 5, metadata=""),
            ],
            asynchronous=False,
        )
        assert all(tp.error is None for tp in res), res
        got = c.committed([TopicPartition(topic, 0), TopicPartition(topic, 1)], timeout=10)
        assert [(tp.partition, tp.offset) for tp in got] == [(0, 3), (1, 5)]
        assert got[0].metadata == "checkpoint three"
        assert got[1].metadata in ("", None)
    finally:
        c.close()
    # A group that never committed a partition has no committed offset there.
    other = Consumer({**CONSUMER, "group.id": group + "-none"})
    try:
        got = other.committed([TopicPartition(topic, 0)], timeout=10)
        assert got[0].offset < 0  # OFFSET_INVALID
    finally:
        other.close()


# --- positions ------------------------------------------------------------------------------


def test_seek(topic):
    create_stream(topic, partitions=1)
    produce_all(Producer(PRODUCER), topic, [{"value": f"v{i}".encode()} for i in range(20)])
    c = assign_from(topic, [0])
    try:
        first = consume_n(c, 1)[0]
        assert first.offset() == 0
        c.seek(TopicPartition(topic, 0, 13))
        m = consume_n(c, 1)[0]
        assert (m.offset(), m.value()) == (13, b"v13")
        c.seek(TopicPartition(topic, 0, 2))
        ms = consume_n(c, 3)
        assert [x.offset() for x in ms] == [2, 3, 4]
        assert c.position([TopicPartition(topic, 0)])[0].offset == 5
    finally:
        c.close()
    # Assigning at an explicit offset starts there, too.
    c = assign_from(topic, [0], offset=17)
    try:
        assert [m.offset() for m in consume_n(c, 3)] == [17, 18, 19]
    finally:
        c.close()


def test_offsets_for_times_and_watermarks(topic):
    create_stream(topic, partitions=1)
    base = int(time.time() * 1000) - 3_600_000
    produce_all(
        Producer(PRODUCER),
        topic,
        [{"value": f"v{i}".encode(), "timestamp": base + i * 1000} for i in range(10)],
    )
    c = Consumer({**CONSUMER, "group.id": "unused-oft"})
    try:
        q = [TopicPartition(topic, 0, base + 2500)]
        assert c.offsets_for_times(q, timeout=10)[0].offset == 3
        q = [TopicPartition(topic, 0, base)]
        assert c.offsets_for_times(q, timeout=10)[0].offset == 0
        q = [TopicPartition(topic, 0, base - 10_000)]
        assert c.offsets_for_times(q, timeout=10)[0].offset == 0
        q = [TopicPartition(topic, 0, base + 9000)]
        assert c.offsets_for_times(q, timeout=10)[0].offset == 9
        # Past every record: no offset (-1, the end), as Kafka answers.
        q = [TopicPartition(topic, 0, base + 60_000)]
        assert c.offsets_for_times(q, timeout=10)[0].offset == OFFSET_END
        assert c.get_watermark_offsets(TopicPartition(topic, 0), timeout=10) == (0, 10)
        # The record found carries its timestamp.
        c.assign([TopicPartition(topic, 0, 3)])
        m = consume_n(c, 1)[0]
        assert m.timestamp() == (TIMESTAMP_CREATE_TIME, base + 3000)
    finally:
        c.close()


# --- metadata and admin ---------------------------------------------------------------------


def test_list_topics_metadata(topic):
    create_stream(topic, partitions=3)
    p = Producer(PRODUCER)
    md = p.list_topics(topic, timeout=10)
    assert topic in md.topics
    t = md.topics[topic]
    assert t.error is None
    assert sorted(t.partitions) == [0, 1, 2]
    assert len(md.brokers) == 1
    (broker,) = md.brokers.values()
    host, port = BOOTSTRAP.rsplit(":", 1)
    assert (broker.host, broker.port) == (host, int(port)), "advertised address != bound address"
    for part in t.partitions.values():
        assert part.leader == broker.id
        assert part.replicas == [broker.id]
        assert part.isrs == [broker.id]
        assert part.error is None
    assert md.controller_id == broker.id
    # Listing every topic includes it (and does not need a topic name).
    assert topic in p.list_topics(timeout=10).topics


def test_metadata_auto_creates_topic(topic):
    p = Producer(PRODUCER)
    # Producing to an unknown topic: the Metadata request creates it (1 partition).
    delivered = produce_all(p, topic, [{"value": b"auto"}])
    assert (delivered[0].partition(), delivered[0].offset()) == (0, 0)
    status, body = http("GET", f"/v1/streams/{topic}")
    assert status == 200, (status, body)


def test_admin_create_partitions_configs_delete(admin, topic):
    create_topic(admin, topic, partitions=2, config={"retention.ms": "3600000"})
    md = admin.list_topics(timeout=10)
    assert sorted(md.topics[topic].partitions) == [0, 1]

    # Creating it again is TOPIC_ALREADY_EXISTS.
    with pytest.raises(KafkaException) as exc:
        create_topic(admin, topic, partitions=2)
    assert exc.value.args[0].code() == KafkaError.TOPIC_ALREADY_EXISTS

    # The native API sees the same stream with the same settings.
    status, body = http("GET", f"/v1/streams/{topic}")
    assert status == 200, (status, body)
    assert body["config"]["partitions"] == 2
    assert body["config"]["retention_ms"] == 3600000

    admin.create_partitions([NewPartitions(topic, 5)], request_timeout=15)[topic].result(timeout=20)
    wait_until(
        lambda: len(admin.list_topics(timeout=10).topics[topic].partitions) == 5,
        timeout=10,
        what="5 partitions in metadata",
    )

    res = ConfigResource(ConfigResource.Type.TOPIC, topic)
    configs = admin.describe_configs([res], request_timeout=15)[res].result(timeout=20)
    assert configs["retention.ms"].value == "3600000"
    assert configs["cleanup.policy"].value == "delete"
    assert "max.message.bytes" in configs

    admin.delete_topics([topic], operation_timeout=10, request_timeout=15)[topic].result(timeout=20)
    wait_until(
        lambda: topic not in admin.list_topics(timeout=10).topics,
        timeout=10,
        what="the topic to disappear from metadata",
    )
    status, _ = http("GET", f"/v1/streams/{topic}")
    assert status == 404


def test_describe_configs_values_parse(admin, topic):
    """Tools (kafka-configs, UIs) parse numeric configs: each must be a number, defaults too."""
    create_stream(topic, partitions=1)
    res = ConfigResource(ConfigResource.Type.TOPIC, topic)
    configs = admin.describe_configs([res], request_timeout=15)[res].result(timeout=20)
    numeric = ["retention.ms", "retention.bytes", "max.message.bytes", "segment.bytes",
               "delete.retention.ms", "min.compaction.lag.ms"]
    bad = {n: configs[n].value for n in numeric if n in configs and not (configs[n].value or "").lstrip("-").isdigit()}
    assert not bad, f"configs that are not numbers: {bad}"
    assert configs["max.message.bytes"].value == "1048576"
    assert configs["retention.ms"].value == "604800000"


def test_incremental_alter_configs(admin, topic):
    create_topic(admin, topic, partitions=1)
    res = ConfigResource(
        ConfigResource.Type.TOPIC,
        topic,
        incremental_configs=[
            ConfigEntry("retention.ms", "7200000", incremental_operation=AlterConfigOpType.SET)
        ],
    )
    admin.incremental_alter_configs([res], request_timeout=15)[res].result(timeout=20)
    got = ConfigResource(ConfigResource.Type.TOPIC, topic)
    configs = admin.describe_configs([got], request_timeout=15)[got].result(timeout=20)
    assert configs["retention.ms"].value == "7200000"
    status, body = http("GET", f"/v1/streams/{topic}")
    assert body["config"]["retention_ms"] == 7200000


def test_delete_records(admin, topic):
    create_stream(topic, partitions=1)
    produce_all(Producer(PRODUCER), topic, [{"value": f"v{i}".encode()} for i in range(10)])
    tp = TopicPartition(topic, 0, 4)
    deleted = admin.delete_records([tp], request_timeout=15)[tp].result(timeout=20)
    assert deleted.low_watermark == 4
    c = Consumer({**CONSUMER, "group.id": "unused-delrec"})
    try:
        assert c.get_watermark_offsets(TopicPartition(topic, 0), timeout=10) == (4, 10)
        c.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
        assert [m.offset() for m in consume_n(c, 6)] == list(range(4, 10))
    finally:
        c.close()


def test_admin_group_tools(admin, topic, group):
    create_stream(topic, partitions=2)
    produce_all(Producer(PRODUCER), topic, [{"value": b"x", "partition": i % 2} for i in range(6)])
    c = Consumer({**CONSUMER, "group.id": group})
    try:
        c.subscribe([topic])
        consume_n(c, 6)
        c.commit(asynchronous=False)
        desc = admin.describe_consumer_groups([group], request_timeout=15)[group].result(timeout=20)
        assert len(desc.members) == 1
        assert sorted(tp.partition for tp in desc.members[0].assignment.topic_partitions) == [0, 1]
        req = ConsumerGroupTopicPartitions(group, [TopicPartition(topic, 0), TopicPartition(topic, 1)])
        got = admin.list_consumer_group_offsets([req], request_timeout=15)[group].result(timeout=20)
        assert sorted((tp.partition, tp.offset) for tp in got.topic_partitions) == [(0, 3), (1, 3)]
        listed = admin.list_consumer_groups(request_timeout=15).result(timeout=20)
        assert group in [g.group_id for g in listed.valid]
    finally:
        c.close()


def test_compacted_topic_refuses_keyless(admin, topic):
    create_topic(admin, topic, partitions=1, config={"cleanup.policy": "compact"})
    res = ConfigResource(ConfigResource.Type.TOPIC, topic)
    configs = admin.describe_configs([res], request_timeout=15)[res].result(timeout=20)
    assert configs["cleanup.policy"].value == "compact"

    p = Producer({**PRODUCER, "retries": 0})
    produce_all(p, topic, [{"key": b"k", "value": b"keyed"}])
    errors = []
    p.produce(topic, value=b"no key", on_delivery=lambda err, msg: errors.append(err))
    assert p.flush(20) == 0
    assert len(errors) == 1 and errors[0] is not None, "a keyless record was accepted"
    assert errors[0].code() in (KafkaError.INVALID_RECORD, KafkaError.INVALID_MSG), errors[0]
    # Nothing of the refused batch was written.
    c = Consumer({**CONSUMER, "group.id": "unused-compact"})
    try:
        assert c.get_watermark_offsets(TopicPartition(topic, 0), timeout=10) == (0, 1)
    finally:
        c.close()


def test_message_too_large(admin, topic):
    create_topic(admin, topic, partitions=1, config={"max.message.bytes": "10240"})
    p = Producer({**PRODUCER, "retries": 0})
    errors = []
    p.produce(topic, value=b"x" * 20000, on_delivery=lambda err, msg: errors.append(err))
    assert p.flush(20) == 0
    assert len(errors) == 1 and errors[0] is not None, "an oversized record was accepted"
    assert errors[0].code() == KafkaError.MSG_SIZE_TOO_LARGE, errors[0]
    # A record under the limit still goes in.
    delivered = produce_all(p, topic, [{"value": b"y" * 5000}])
    assert delivered[0].offset() == 0
