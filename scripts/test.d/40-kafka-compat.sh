#!/usr/bin/env bash
# Kafka compatibility: real Kafka clients against the real `ferry` binary's Kafka listener.
#   - confluent-kafka (librdkafka, pytest): keys, headers, every compression codec, acks
#     0/1/all, the idempotent producer, long-poll fetches, compacted gaps, consumer groups
#     (range, roundrobin, cooperative-sticky, static members, a killed member's session
#     expiring) with commits and resumes, committed metadata, seek, offsets for times,
#     metadata, the admin API, the broker's refusals;
#   - kafka-python (pytest): interop with confluent-kafka both ways (gzip too), group commit
#     and resume, its admin client;
#   - the native HTTP API and Kafka on the same streams, both ways (pytest);
#   - kafkajs (non-flexible protocol versions): a consumer group of 2, exactly once across it,
#     then a fresh member resumes after the commits.
# Installs what it needs (a venv under the target dir, npm packages from the committed lock
# file), starts ferry on 127.0.0.1:0 with a temp data dir and a Kafka listener on
# 127.0.0.1:0, stops it by PID, and ends with "N passed, N failed".
# FERRY_KAFKA_DEBUG=protocol,broker turns on librdkafka's (and kafkajs's) debug logs.
set -euo pipefail
cd "$(dirname "$0")/../.."

source scripts/lib/ferry-server.sh
ferry_build
ferry_venv kafka-compat-venv confluent-kafka kafka-python pytest

echo "-- installing kafkajs"
(cd compat/kafka/js && npm ci --no-audit --no-fund --silent)

ferry_start --kafka-listen 127.0.0.1:0
if [ -z "$kafka_addr" ]; then
    echo "ferry did not announce a kafka= listener:"
    cat "$data/ferry.log"
    echo "0 passed, 1 failed"
    exit 1
fi
export FERRY_HTTP="http://$addr"
export FERRY_KAFKA_BOOTSTRAP="$kafka_addr"
echo "-- ferry on $FERRY_HTTP, kafka on $FERRY_KAFKA_BOOTSTRAP"

echo "-- confluent-kafka, kafka-python, native interop (pytest)"
suite_pytest compat/kafka 150 -o faulthandler_timeout=60 \
    test_confluent.py test_kafka_python.py test_native_interop.py

echo "-- kafkajs"
suite_counted compat/kafka/js 90 node group.mjs

suite_end
