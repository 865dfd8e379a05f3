"""A Kafka topic is a Ferry stream: records produced through Kafka read back identically
through the native HTTP API (keys, values, headers, timestamps, offsets), and records
appended through the native API are consumed identically by a Kafka client."""

import time

from confluent_kafka import TIMESTAMP_CREATE_TIME, Consumer, Producer, TopicPartition

from conftest import (
    CONSUMER,
    PRODUCER,
    b64,
    consume_n,
    create_stream,
    headers_of,
    http,
    parse_ms,
    produce_all,
    read_partition,
    rfc3339_ms,
    unb64,
)


def native_bytes(record, field):
    """A native read record's key or value as bytes (None when absent)."""
    if field in record:
        return record[field].encode()
    if field + "_base64" in record:
        return unb64(record[field + "_base64"])
    return None


def native_headers(record):
    return [(h["name"], native_bytes(h, "value")) for h in record["headers"]]


def test_kafka_to_native(topic):
    create_stream(topic, partitions=3)
    base = int(time.time() * 1000) - 86_400_000
    records = []
    for i in range(45):
        records.append(
            {
                "key": f"order-{i}".encode(),
                "value": f'{{"n": {i}, "text": "héllo"}}'.encode(),
                "headers": [("type", b"created"), ("seq", str(i).encode()), ("seq", b"again")],
                "partition": i % 3,
                "timestamp": base + i * 17,
            }
        )
    records.append({"key": b"\xff\xfe\x00bin", "value": bytes(range(256)), "headers": [("raw", b"\x80\x81"), ("null", None)], "partition": 0, "timestamp": base + 5000})
    records.append({"key": b"gone", "value": None, "headers": [], "partition": 1, "timestamp": base + 5001})
    records.append({"key": None, "value": b"", "headers": [], "partition": 2, "timestamp": base + 5002})
    delivered = produce_all(Producer({**PRODUCER, "compression.type": "lz4"}), topic, records)

    for encoding in (None, "base64"):
        native = {}
        for part in range(3):
            for r in read_partition(topic, part, encoding=encoding):
                native[(part, r["offset"])] = r
        assert len(native) == len(records)
        for r, d in zip(records, delivered):
            n = native[(d.partition(), d.offset())]
            assert native_bytes(n, "key") == r["key"]
            assert native_bytes(n, "value") == r["value"]
            assert native_headers(n) == r["headers"]
            assert parse_ms(n["timestamp"]) == r["timestamp"]
            if encoding == "base64":
                assert "key" not in n and "value" not in n
            elif r["key"] is not None and r["key"].startswith(b"order-"):
                # Valid UTF-8 comes back as text by default.
                assert n["key"] == r["key"].decode() and n["value"] == r["value"].decode()

    # The partition extents agree with Kafka's watermarks.
    c = Consumer({**CONSUMER, "group.id": "unused-native"})
    try:
        for part in range(3):
            status, body = http("GET", f"/v1/streams/{topic}/partitions/{part}/records?offset=earliest&max_records=1")
            assert status == 200, body
            lo, hi = c.get_watermark_offsets(TopicPartition(topic, part), timeout=10)
            assert (body["start_offset"], body["end_offset"]) == (lo, hi) == (0, 16)
    finally:
        c.close()


def test_native_to_kafka(topic):
    create_stream(topic, partitions=2)
    base = int(time.time() * 1000) - 7_200_000
    sent = []
    for i in range(20):
        sent.append(
            {
                "key": f"k{i}",
                "value": f"text value {i} ✓",
                "headers": [{"name": "h", "value": f"v{i}"}, {"name": "h", "value": "again"}],
                "timestamp": rfc3339_ms(base + i * 1000),
                "partition": i % 2,
            }
        )
    sent.append(
        {
            "key_base64": b64(b"\x00\xffkey"),
            "value_base64": b64(bytes(range(256))),
            "headers": [{"name": "bin", "value_base64": b64(b"\xc3\x28")}, {"name": "null"}],
            "timestamp": rfc3339_ms(base + 99_000),
            "partition": 0,
        }
    )
    sent.append({"key": "tomb", "headers": [], "timestamp": rfc3339_ms(base + 99_001), "partition": 1})
    status, body = http("POST", f"/v1/streams/{topic}/records", {"records": sent})
    assert status == 200, (status, body)
    positions = [(r["partition"], r["offset"]) for r in body["records"]]
    assert sorted(positions) == sorted((i % 2, i // 2) for i in range(22))

    c = Consumer({**CONSUMER, "group.id": "unused-native"})
    try:
        c.assign([TopicPartition(topic, p, 0) for p in range(2)])
        got = {(m.partition(), m.offset()): m for m in consume_n(c, len(sent))}
    finally:
        c.close()

    def expect(rec, field):
        if field in rec:
            return rec[field].encode()
        if field + "_base64" in rec:
            return unb64(rec[field + "_base64"])
        return None

    for rec, pos in zip(sent, positions):
        m = got[pos]
        assert m.key() == expect(rec, "key")
        assert m.value() == expect(rec, "value")
        assert headers_of(m) == [(h["name"], expect(h, "value")) for h in rec["headers"]]
        assert m.timestamp() == (TIMESTAMP_CREATE_TIME, parse_ms(rec["timestamp"]))
