"""kafka-python (a pure-Python client with its own protocol code) against Ferry, and interop
with confluent-kafka: what one client produces the other consumes identically, and
kafka-python's consumer group commits and resumes."""

import time

from confluent_kafka import Consumer, Producer
from confluent_kafka import TopicPartition as CkTopicPartition
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from conftest import BOOTSTRAP, CONSUMER, PRODUCER, consume_n, create_stream, headers_of, produce_all

KP_COMMON = {"bootstrap_servers": BOOTSTRAP, "request_timeout_ms": 15000}
KP_CONSUMER = {
    **KP_COMMON,
    "enable_auto_commit": False,
    "auto_offset_reset": "earliest",
    "session_timeout_ms": 6000,
    "heartbeat_interval_ms": 1000,
    "max_poll_interval_ms": 10000,
    "fetch_max_wait_ms": 100,
}


def kp_poll_n(consumer, n, timeout=20.0):
    """Polls a kafka-python consumer until n records arrived."""
    out = []
    deadline = time.monotonic() + timeout
    while len(out) < n:
        if time.monotonic() > deadline:
            raise AssertionError(f"got {len(out)} of {n} records within {timeout}s")
        for records in consumer.poll(timeout_ms=200).values():
            out.extend(records)
    return out


def sample_records(partitions):
    records = []
    for i in range(40):
        records.append(
            {
                "key": f"key-{i}".encode() if i % 5 else None,
                "value": f"value-{i}-".encode() * (i % 7 + 1),
                "headers": [("h1", f"x{i}".encode()), ("dup", b"a"), ("dup", b"b")] if i % 3 else [],
                "partition": i % partitions,
                "timestamp": 1_700_000_000_000 + i,
            }
        )
    records.append({"key": bytes(range(200)), "value": b"\x00\xff" * 50, "headers": [("bin", b"\x00\x01")], "partition": 0, "timestamp": 1_700_000_001_000})
    records.append({"key": b"tombstone", "value": None, "headers": [], "partition": 1 % partitions, "timestamp": 1_700_000_001_001})
    return records


def test_confluent_to_kafka_python(topic):
    create_stream(topic, partitions=3)
    records = sample_records(3)
    delivered = produce_all(Producer(PRODUCER), topic, records)

    c = KafkaConsumer(**KP_CONSUMER)
    try:
        c.assign([TopicPartition(topic, p) for p in range(3)])
        c.seek_to_beginning()
        got = {(r.partition, r.offset): r for r in kp_poll_n(c, len(records))}
    finally:
        c.close()
    assert len(got) == len(records)
    for r, d in zip(records, delivered):
        m = got[(d.partition(), d.offset())]
        assert m.key == r["key"]
        assert m.value == r["value"]
        assert list(m.headers) == r["headers"]
        assert m.timestamp == r["timestamp"]
        assert m.timestamp_type == 0  # CreateTime


def test_kafka_python_to_confluent(topic):
    create_stream(topic, partitions=3)
    records = sample_records(3)
    p = KafkaProducer(**KP_COMMON, acks="all", linger_ms=5)
    futures = [
        p.send(topic, value=r["value"], key=r["key"], headers=r["headers"], partition=r["partition"], timestamp_ms=r["timestamp"])
        for r in records
    ]
    p.flush(timeout=20)
    metas = [f.get(timeout=20) for f in futures]
    p.close()
    for part in range(3):
        offsets = sorted(m.offset for m in metas if m.partition == part)
        assert offsets == list(range(len(offsets)))

    c = Consumer({**CONSUMER, "group.id": "unused-kp"})
    try:
        c.assign([CkTopicPartition(topic, p, 0) for p in range(3)])
        got = {(m.partition(), m.offset()): m for m in consume_n(c, len(records))}
    finally:
        c.close()
    for r, meta in zip(records, metas):
        m = got[(meta.partition, meta.offset)]
        assert m.key() == r["key"]
        assert m.value() == r["value"]
        assert headers_of(m) == r["headers"]
        assert m.timestamp()[1] == r["timestamp"]


def test_kafka_python_group_commit_resume(topic, group):
    create_stream(topic, partitions=2)
    produce_all(Producer(PRODUCER), topic, [{"value": f"v{i}".encode(), "partition": i % 2} for i in range(30)])

    c = KafkaConsumer(topic, group_id=group, **KP_CONSUMER)
    try:
        first = kp_poll_n(c, 30, timeout=30)
        assert sorted((r.partition, r.offset) for r in first) == sorted((i % 2, i // 2) for i in range(30))
        c.commit()
        for part in (0, 1):
            assert c.committed(TopicPartition(topic, part)) == 15
    finally:
        c.close()

    produce_all(Producer(PRODUCER), topic, [{"value": f"new{i}".encode(), "partition": i % 2} for i in range(6)])
    c = KafkaConsumer(topic, group_id=group, **KP_CONSUMER)
    try:
        again = kp_poll_n(c, 6, timeout=30)
        assert sorted((r.partition, r.offset) for r in again) == sorted((i % 2, 15 + i // 2) for i in range(6))
        assert sorted(r.value for r in again) == sorted(f"new{i}".encode() for i in range(6))
        # Explicit offsets with metadata, read back.
        from kafka.structs import OffsetAndMetadata

        c.commit({TopicPartition(topic, 0): OffsetAndMetadata(17, "kp-meta", -1)})
        assert c.committed(TopicPartition(topic, 0)) == 17
        assert c.committed(TopicPartition(topic, 0), metadata=True).metadata == "kp-meta"
    finally:
        c.close()


def test_kafka_python_admin(topic):
    from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient

    admin = KafkaAdminClient(**KP_COMMON)
    try:
        admin.create_topics({topic: {"num_partitions": 3, "replication_factor": 1, "configs": {"retention.ms": "5400000"}}})
        assert topic in admin.list_topics()
        described = admin.describe_topics([topic])
        assert len(described) == 1 and len(described[0]["partitions"]) == 3
        configs = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)], config_filter="all")
        flat = repr(configs)
        assert "retention.ms" in flat and "5400000" in flat, flat[:2000]
        admin.delete_topics([topic])
        assert topic not in admin.list_topics()
    finally:
        admin.close()


def test_kafka_python_gzip_both_ways(topic):
    create_stream(topic, partitions=1)
    p = KafkaProducer(**KP_COMMON, acks="all", linger_ms=20, compression_type="gzip")
    futures = [p.send(topic, key=f"k{i}".encode(), value=(f"gzip {i} " * 30).encode(), partition=0) for i in range(100)]
    p.flush(timeout=20)
    assert [f.get(timeout=20).offset for f in futures] == list(range(100))
    p.close()
    produce_all(Producer({**PRODUCER, "compression.type": "gzip"}), topic,
                [{"key": f"k{i}".encode(), "value": (f"gzip {i} " * 30).encode(), "partition": 0} for i in range(100, 200)])

    c = Consumer({**CONSUMER, "group.id": "unused-kp-gzip"})
    try:
        c.assign([CkTopicPartition(topic, 0, 0)])
        msgs = consume_n(c, 200)
    finally:
        c.close()
    kc = KafkaConsumer(**KP_CONSUMER)
    try:
        kc.assign([TopicPartition(topic, 0)])
        kc.seek_to_beginning()
        krecs = kp_poll_n(kc, 200)
    finally:
        kc.close()
    want = [(f"k{i}".encode(), (f"gzip {i} " * 30).encode()) for i in range(200)]
    assert [(m.key(), m.value()) for m in msgs] == want
    assert [(r.key, r.value) for r in krecs] == want
    assert [r.offset for r in krecs] == list(range(200))
