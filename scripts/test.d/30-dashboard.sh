#!/usr/bin/env bash
# The web dashboard in headless Chromium (Debian's chromium and chromium-driver, driven by
# selenium): starts ferry on 127.0.0.1:0 with a temp data dir, creates traffic, loads the
# overview, a queue page and a dead-letter queue page, checks that real numbers appear and
# that the redrive button works, and saves screenshots under target/dashboard-screenshots/.
# Stops the server by PID and ends with "N passed, N failed".
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
target="${CARGO_TARGET_DIR:-$root/target}"

echo "-- building ferry"
cargo build -p ferry --locked --quiet
ferry="$target/debug/ferry"

if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then
    echo "-- installing chromium and chromium-driver"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
fi

echo "-- installing selenium"
venv="$target/dashboard-venv"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check selenium

data=$(mktemp -d)
log="$data/ferry.log"
pid=""
cleanup() {
    if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
    rm -rf "$data"
}
trap cleanup EXIT

"$ferry" serve --http-listen 127.0.0.1:0 --data-dir "$data/store" \
    --metrics-sample-interval-ms 1000 >"$log" 2>"$data/stderr.log" &
pid=$!
addr=""
for _ in $(seq 1 300); do
    addr=$(sed -n 's/^ferry listening http=\([^ ]*\).*/\1/p' "$log" | head -n 1)
    [ -n "$addr" ] && break
    if ! kill -0 "$pid" 2>/dev/null; then
        cat "$data/stderr.log"
        echo "0 passed, 1 failed"
        exit 1
    fi
    sleep 0.1
done
if [ -z "$addr" ]; then
    echo "ferry did not start"
    echo "0 passed, 1 failed"
    exit 1
fi

shots="$root/target/dashboard-screenshots"
# The browser script prints the closing "N passed, N failed" line itself.
status=0
"$venv/bin/python" tests/browser/dashboard_test.py "http://$addr" "$shots" || status=$?
if [ "$status" -ne 0 ]; then
    echo "-- ferry stderr"
    tail -n 40 "$data/stderr.log"
fi
exit "$status"
