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

echo "-- boto3 and query protocol (pytest)"
suite_pytest compat/sqs 150 test_boto3.py test_query.py

echo "-- aws-sdk-js v3"
suite_counted compat/sqs/js 60 node sdk.mjs

suite_end
