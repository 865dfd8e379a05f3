#!/usr/bin/env python3
"""Kafka produce/consume throughput against Ferry (or any Kafka broker) with confluent-kafka.

1. Creates a fresh topic (AdminClient; --partitions, default 1).
2. Produces --messages (default 1,000,000) values of --size bytes (default 100) with
   linger.ms 5, batch.size ~1 MB, acks=all, no compression; flushes; reports msgs/s.
3. Consumes them all with a Consumer that assigns every partition from the beginning (no
   group commits) and reports msgs/s; verifies the count and that offsets are dense.

Python's per-message produce() call is often the limit, not the broker, so the report also
gives (a) the main thread's CPU time during the produce loop, (b) the whole process's CPU
time (librdkafka's threads included), and (c) unless --no-baseline, a client-only baseline:
the same produce() loop into a producer whose broker is unreachable (messages only queued,
then purged). If the produce rate is close to the baseline rate, the client is the limit.

    python produce_consume.py --bootstrap 127.0.0.1:9092 [--partitions 4] [--json]
"""

import argparse
import json
import os
import resource
import sys
import time
import uuid

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic


def thread_cpu():
    r = resource.getrusage(resource.RUSAGE_THREAD)
    return r.ru_utime + r.ru_stime


def process_cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def producer_config(args, bootstrap):
    return {
        "bootstrap.servers": bootstrap,
        "linger.ms": args.linger_ms,
        "batch.size": args.batch_size,
        "acks": "all",
        "compression.type": args.compression,
        "queue.buffering.max.messages": 2_000_000,
        "queue.buffering.max.kbytes": 2_000_000,
        "message.timeout.ms": int(args.timeout * 1000),
        "delivery.report.only.error": True,
    }


def produce_loop(producer, topic, n, payload, partitions):
    """n produce() calls (round-robin over partitions when there are several); returns
    (loop wall seconds, main-thread CPU seconds)."""
    produce = producer.produce
    poll = producer.poll
    t0, c0 = time.perf_counter(), thread_cpu()
    if partitions == 1:
        for _ in range(n):
            try:
                produce(topic, payload, partition=0)
            except BufferError:
                poll(0.01)
                produce(topic, payload, partition=0)
    else:
        for i in range(n):
            p = i % partitions
            try:
                produce(topic, payload, partition=p)
            except BufferError:
                poll(0.01)
                produce(topic, payload, partition=p)
            if i & 0xFFFF == 0:
                poll(0)
    return time.perf_counter() - t0, thread_cpu() - c0


def client_baseline(args, payload):
    """The produce() loop alone: a producer whose broker does not exist queues everything."""
    quiet = {"log_level": 0, "error_cb": lambda err: None}
    p = Producer({**producer_config(args, "127.0.0.1:1"), **quiet})
    wall, cpu = produce_loop(p, "baseline", args.messages, payload, args.partitions)
    p.purge(in_queue=True, in_flight=True)
    p.flush(0)
    return {"produce_loop_s": round(wall, 3), "msgs_per_s": round(args.messages / wall), "main_thread_cpu_s": round(cpu, 3)}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bootstrap", default=os.environ.get("FERRY_KAFKA_BOOTSTRAP", "127.0.0.1:9092"))
    ap.add_argument("--topic", default=None, help="default: a fresh bench-<random> topic")
    ap.add_argument("--partitions", type=int, default=1)
    ap.add_argument("--messages", type=int, default=1_000_000)
    ap.add_argument("--size", type=int, default=100, help="value bytes")
    ap.add_argument("--linger-ms", type=int, default=5)
    ap.add_argument("--batch-size", type=int, default=1_000_000)
    ap.add_argument("--compression", default="none")
    ap.add_argument("--timeout", type=float, default=300.0, help="give up after this many seconds per phase")
    ap.add_argument("--no-baseline", action="store_true", help="skip the client-only produce() baseline")
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    args = ap.parse_args()

    topic = args.topic or "bench-" + uuid.uuid4().hex[:10]
    payload = os.urandom(args.size)
    n = args.messages
    mb = n * args.size / 1e6
    result = {
        "bootstrap": args.bootstrap,
        "topic": topic,
        "partitions": args.partitions,
        "messages": n,
        "value_bytes": args.size,
        "linger_ms": args.linger_ms,
        "batch_size": args.batch_size,
        "compression": args.compression,
        "acks": "all",
    }
    say = (lambda *a: None) if args.json else (lambda *a: print(*a, flush=True))

    admin = AdminClient({"bootstrap.servers": args.bootstrap})
    fs = admin.create_topics([NewTopic(topic, num_partitions=args.partitions, replication_factor=1)], request_timeout=30)
    try:
        fs[topic].result(timeout=30)
    except KafkaException as e:
        if args.topic is None or "already exists" not in str(e).lower():
            raise
    say(f"topic {topic}: {args.partitions} partition(s); {n} x {args.size} B = {mb:.0f} MB")

    # --- produce -------------------------------------------------------------------------
    errors = []
    p = Producer({**producer_config(args, args.bootstrap), "on_delivery": lambda err, msg: errors.append(err) if err else None})
    p.list_topics(topic, timeout=30)  # connect and learn the leader before timing
    cpu0 = process_cpu()
    t0 = time.perf_counter()
    loop_wall, loop_cpu = produce_loop(p, topic, n, payload, args.partitions)
    remaining = p.flush(args.timeout)
    wall = time.perf_counter() - t0
    proc_cpu = process_cpu() - cpu0
    if remaining or errors:
        sys.exit(f"produce failed: {remaining} undelivered, {len(errors)} errors (first: {errors[:1]})")
    result["produce"] = {
        "seconds": round(wall, 3),
        "msgs_per_s": round(n / wall),
        "mb_per_s": round(mb / wall, 1),
        "produce_loop_s": round(loop_wall, 3),
        "main_thread_cpu_s": round(loop_cpu, 3),
        "process_cpu_s": round(proc_cpu, 3),
    }
    say(
        f"produce: {n / wall:,.0f} msgs/s, {mb / wall:.1f} MB/s ({wall:.2f} s; produce() loop "
        f"{loop_wall:.2f} s, main thread CPU {loop_cpu:.2f} s, process CPU {proc_cpu:.2f} s)"
    )

    # --- consume -------------------------------------------------------------------------
    c = Consumer(
        {
            "bootstrap.servers": args.bootstrap,
            "group.id": "bench-unused",
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "fetch.wait.max.ms": 100,
            "max.partition.fetch.bytes": 8 * 1024 * 1024,
            "fetch.max.bytes": 64 * 1024 * 1024,
            "queued.max.messages.kbytes": 512 * 1024,
            # librdkafka stops fetching for fetch.queue.backoff.ms (1 s) whenever its local
            # queue holds more than queued.min.messages (100k): a fast broker then idles.
            "queued.min.messages": 2 * n,
            "fetch.queue.backoff.ms": 1,
        }
    )
    highs = [c.get_watermark_offsets(TopicPartition(topic, i), timeout=30)[1] for i in range(args.partitions)]
    if sum(highs) != n:
        sys.exit(f"high watermarks {highs} sum to {sum(highs)}, not {n}")
    c.assign([TopicPartition(topic, i, OFFSET_BEGINNING) for i in range(args.partitions)])
    count = 0
    counts = [0] * args.partitions
    last = [-1] * args.partitions
    bad = 0
    cpu0 = process_cpu()
    t0 = time.perf_counter()
    deadline = t0 + args.timeout
    while count < n:
        if time.perf_counter() > deadline:
            sys.exit(f"consume timed out: {count} of {n}")
        for m in c.consume(num_messages=10_000, timeout=1.0):
            if m.error():
                sys.exit(f"consume error: {m.error()}")
            part = m.partition()
            if m.offset() != last[part] + 1 or len(m.value()) != args.size:
                bad += 1
            last[part] = m.offset()
            counts[part] += 1
            count += 1
    wall = time.perf_counter() - t0
    proc_cpu = process_cpu() - cpu0
    c.close()
    if count != n or bad:
        sys.exit(f"consumed {count} of {n}; {bad} with a gap or a wrong size")
    result["consume"] = {
        "seconds": round(wall, 3),
        "msgs_per_s": round(n / wall),
        "mb_per_s": round(mb / wall, 1),
        "process_cpu_s": round(proc_cpu, 3),
        "per_partition": counts,
        "verified": True,
    }
    say(f"consume: {n / wall:,.0f} msgs/s, {mb / wall:.1f} MB/s ({wall:.2f} s, process CPU {proc_cpu:.2f} s); {count} verified, offsets dense")

    # --- client-only baseline --------------------------------------------------------------
    if not args.no_baseline:
        result["client_baseline"] = client_baseline(args, payload)
        b = result["client_baseline"]
        say(
            f"client-only produce() loop (no broker): {b['msgs_per_s']:,} msgs/s "
            f"(main thread CPU {b['main_thread_cpu_s']:.2f} s) - the ceiling this client can reach"
        )

    if args.topic is None:
        try:
            admin.delete_topics([topic], request_timeout=30)[topic].result(timeout=30)
        except KafkaException as e:
            say(f"(could not delete {topic}: {e})")
    if args.json:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
