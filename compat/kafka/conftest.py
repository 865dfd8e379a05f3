"""Shared fixtures and helpers for the Kafka compatibility suite.

The bootstrap address of Ferry's Kafka listener comes from $FERRY_KAFKA_BOOTSTRAP and the
base URL of its HTTP API from $FERRY_HTTP (scripts/test.d/40-kafka-compat.sh sets both).
Timeouts are short so that the suite stays fast; every wait polls a condition against a
deadline rather than sleeping a fixed time.
"""

import base64
import json
import os
import time
import urllib.error
import urllib.request
import uuid
from datetime import datetime, timezone

import pytest

BOOTSTRAP = os.environ.get("FERRY_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
HTTP = os.environ.get("FERRY_HTTP", "http://127.0.0.1:7480").rstrip("/")

# librdkafka settings shared by every client of the suite. `debug` can be turned on for a
# run with FERRY_KAFKA_DEBUG=protocol,broker (the log goes to stderr, which pytest shows
# for failing tests).
COMMON = {"bootstrap.servers": BOOTSTRAP, "socket.timeout.ms": 10000}
if os.environ.get("FERRY_KAFKA_DEBUG"):
    COMMON["debug"] = os.environ["FERRY_KAFKA_DEBUG"]

PRODUCER = {**COMMON, "linger.ms": 5, "message.timeout.ms": 15000, "retries": 2}

CONSUMER = {
    **COMMON,
    "session.timeout.ms": 6000,
    "heartbeat.interval.ms": 1000,
    "max.poll.interval.ms": 10000,
    "fetch.wait.max.ms": 100,
    "enable.auto.commit": False,
    "auto.offset.reset": "earliest",
    "topic.metadata.refresh.interval.ms": 2000,
}


@pytest.fixture(scope="session")
def bootstrap():
    return BOOTSTRAP


@pytest.fixture(scope="session")
def http_base():
    return HTTP


@pytest.fixture
def topic():
    """A fresh topic name per test (not created: tests create it as they need)."""
    return "kt-" + uuid.uuid4().hex[:12]


@pytest.fixture
def group():
    """A fresh consumer group name per test."""
    return "kg-" + uuid.uuid4().hex[:12]


# --- native HTTP API ---------------------------------------------------------------------


def http(method, path, body=None):
    """One request to Ferry's HTTP API; returns (status, parsed JSON or None)."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(HTTP + path, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=15) as resp:
            raw = resp.read()
            return resp.status, (json.loads(raw) if raw else None)
    except urllib.error.HTTPError as e:
        raw = e.read()
        try:
            return e.code, json.loads(raw)
        except ValueError:
            return e.code, raw.decode(errors="replace")


def create_stream(name, partitions=1, **config):
    """Creates the stream (= Kafka topic) natively: PUT /v1/streams/{name}."""
    status, body = http("PUT", f"/v1/streams/{name}", {"partitions": partitions, **config})
    assert status in (200, 201), (status, body)
    return body


def read_partition(name, partition, offset=0, max_records=1000, encoding=None):
    """Every record of a partition from `offset` to its end, through the native API."""
    records = []
    while True:
        q = f"offset={offset}&max_records={max_records}"
        if encoding:
            q += f"&encoding={encoding}"
        status, body = http("GET", f"/v1/streams/{name}/partitions/{partition}/records?{q}")
        assert status == 200, (status, body)
        records.extend(body["records"])
        if not body["records"] or body["next_offset"] >= body["end_offset"]:
            return records
        offset = body["next_offset"]


def b64(data):
    return base64.b64encode(data).decode()


def unb64(text):
    return base64.b64decode(text)


def rfc3339_ms(ms):
    """Milliseconds since the epoch as RFC 3339 UTC with milliseconds."""
    dt = datetime.fromtimestamp(ms / 1000, tz=timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def parse_ms(text):
    """An RFC 3339 time as milliseconds since the epoch."""
    dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return round(dt.timestamp() * 1000)


# --- waiting ----------------------------------------------------------------------------


def wait_until(cond, timeout=20.0, interval=0.05, what="condition"):
    """Calls cond() until it returns a truthy value (returned) or the deadline passes."""
    deadline = time.monotonic() + timeout
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


# --- confluent-kafka helpers --------------------------------------------------------------


def produce_all(producer, topic, records, timeout=20.0):
    """Produces dicts {key, value, headers?, partition?, timestamp?}; returns the delivered
    messages in the order given (each with partition() and offset()), raising on errors."""
    delivered = [None] * len(records)
    errors = []

    def on_delivery(i):
        def cb(err, msg):
            if err is not None:
                errors.append((i, err))
            delivered[i] = msg

        return cb

    for i, r in enumerate(records):
        kwargs = {"value": r.get("value"), "key": r.get("key"), "on_delivery": on_delivery(i)}
        if r.get("headers") is not None:
            kwargs["headers"] = r["headers"]
        if r.get("partition") is not None:
            kwargs["partition"] = r["partition"]
        if r.get("timestamp") is not None:
            kwargs["timestamp"] = r["timestamp"]
        while True:
            try:
                producer.produce(topic, **kwargs)
                break
            except BufferError:
                producer.poll(0.05)
    remaining = producer.flush(timeout)
    assert remaining == 0, f"{remaining} messages not delivered within {timeout}s"
    assert not errors, f"delivery errors: {errors[:5]}"
    return delivered


def consume_n(consumer, n, timeout=20.0):
    """Polls until n messages arrived (errors fail the test); returns them."""
    out = []
    deadline = time.monotonic() + timeout
    while len(out) < n:
        if time.monotonic() > deadline:
            raise AssertionError(f"got {len(out)} of {n} messages within {timeout}s")
        msgs = consumer.consume(num_messages=min(1000, n - len(out)), timeout=0.2)
        for m in msgs:
            if m.error():
                raise AssertionError(f"consumer error: {m.error()}")
            out.append(m)
    return out


def headers_of(msg):
    """A message's headers as a list of (name, bytes-or-None), [] when none."""
    return [(k, v) for k, v in (msg.headers() or [])]
