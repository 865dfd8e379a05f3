#!/usr/bin/env bash
# SQS compatibility: the real AWS SDKs against the real `ferry` binary.
#   - boto3 (pytest): every operation, FIFO, dead letters and move tasks, long polling,
#     visibility, batches with partial failures, error codes;
#   - the query protocol with raw form requests, checked against the documented XML;
#   - aws-sdk-js v3 with its MD5 checks on.
# Installs what it needs (a venv under target/, npm packages from the committed lock file),
# starts ferry on 127.0.0.1:0 with a temp data dir, stops it by PID, and ends with
# "N passed, N failed".
set -euo pipefail
cd "$(dirname "$0")/../.."

source scripts/lib/ferry-server.sh
ferry_build
ferry_venv sqs-compat-venv boto3 pytest

echo "-- installing @aws-sdk/client-sqs"
(cd compat/sqs/js && npm ci --no-audit --no-fund --silent)

ferry_start
export FERRY_SQS_ENDPOINT="http://$addr"
echo "-- ferry on $FERRY_SQS_ENDPOINT"

passed=0
failed=0
status=0

echo "-- boto3 and query protocol (pytest)"
report="$data/pytest.txt"
if (cd compat/sqs && timeout 150 "$venv/bin/python" -m pytest -q -p no:cacheprovider \
        test_boto3.py test_query.py) | tee "$report"; then :; else status=1; fi
line=$(grep -E '[0-9]+ (passed|failed)' "$report" | tail -n 1 || true)
count() { echo "$line" | grep -oE "[0-9]+ $1" | grep -oE '[0-9]+' | head -n 1 || true; }
p=$(count passed); f1=$(count failed); f2=$(count 'errors?')
f=$(( ${f1:-0} + ${f2:-0} ))
passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0}))
if [ "$status" -ne 0 ] && [ "${f:-0}" -eq 0 ]; then failed=$((failed + 1)); fi

echo "-- aws-sdk-js v3"
report="$data/js.txt"
js_status=0
if (cd compat/sqs/js && timeout 60 node sdk.mjs) | tee "$report"; then :; else js_status=1; status=1; fi
line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$report" | tail -n 1 || true)
p=$(echo "$line" | sed -n 's/^\([0-9]*\) passed.*/\1/p'); f=$(echo "$line" | sed -n 's/.* \([0-9]*\) failed$/\1/p')
passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0}))
if [ "$js_status" -ne 0 ] && [ "${f:-0}" -eq 0 ]; then failed=$((failed + 1)); fi

if [ "$status" -ne 0 ]; then
    echo "-- ferry stderr (last lines)"; tail -n 30 "$data/stderr.log" || true
fi
echo "$passed passed, $failed failed"
exit "$status"
