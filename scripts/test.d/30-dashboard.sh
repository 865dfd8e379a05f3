#!/usr/bin/env bash
# The web dashboard in headless Chromium (Debian's chromium and chromium-driver, driven by
# selenium): starts ferry on 127.0.0.1:0 with a temp data dir, creates traffic, loads the
# overview, a queue page and a dead-letter queue page, checks that real numbers appear and
# that the redrive button works, and saves screenshots under target/dashboard-screenshots/.
# Stops the server by PID and ends with "N passed, N failed".
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)

source scripts/lib/ferry-server.sh
ferry_build

if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then
    echo "-- installing chromium and chromium-driver"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
fi

ferry_venv dashboard-venv selenium
ferry_start --metrics-sample-interval-ms 1000

shots="$root/target/dashboard-screenshots"
# The browser script prints the closing "N passed, N failed" line itself.
status=0
"$venv/bin/python" tests/browser/dashboard_test.py "http://$addr" "$shots" || status=$?
if [ "$status" -ne 0 ]; then
    echo "-- ferry stderr"
    tail -n 40 "$data/stderr.log"
fi
exit "$status"
