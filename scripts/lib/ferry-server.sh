# Shared by the suites in scripts/test.d/ (source it; it defines functions only).
#
#   ferry_build                  builds target/debug/ferry (reusing the workspace target dir) -> $ferry
#   ferry_venv NAME PACKAGE...   a Python venv under the target dir with PACKAGEs -> $venv
#   ferry_start [FLAG...]        starts `ferry serve` on 127.0.0.1:0 with a temp data dir and
#                                waits for its announcement -> $addr, $pid, $data, and
#                                $kafka_addr from its `kafka=` listener (on a free port unless
#                                a FLAG sets --kafka-listen or --no-kafka); a trap stops
#                                it by its PID and removes the data dir when the script exits.
#                                If it cannot start, prints its stderr and "0 passed, 1 failed"
#                                and exits 1.

ferry_build() {
    local root target
    root=$(pwd)
    target="${CARGO_TARGET_DIR:-$root/target}"
    echo "-- building ferry"
    cargo build -p ferry --locked --quiet
    ferry="$target/debug/ferry"
}

ferry_venv() {
    local name=$1
    shift
    local target="${CARGO_TARGET_DIR:-$(pwd)/target}"
    echo "-- installing $*"
    venv="$target/$name"
    [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "$@"
}

ferry_stop() {
    if [ -n "${pid:-}" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
    rm -rf "${data:-}"
}

ferry_start() {
    data=$(mktemp -d)
    pid=""
    addr=""
    kafka_addr=""
    trap ferry_stop EXIT
    # The Kafka listener is on by default on a fixed port: unless the caller picks its
    # address, take a free one so that suites never collide on it.
    local kafka_flag=(--kafka-listen 127.0.0.1:0)
    case " $* " in *" --kafka-listen "* | *" --kafka-listen="* | *" --no-kafka "*) kafka_flag=() ;; esac
    "$ferry" serve --http-listen 127.0.0.1:0 --data-dir "$data/store" "${kafka_flag[@]}" "$@" \
        >"$data/ferry.log" 2>"$data/stderr.log" &
    pid=$!
    for _ in $(seq 1 300); do
        addr=$(sed -n 's/^ferry listening http=\([^ ]*\).*/\1/p' "$data/ferry.log" | head -n 1)
        if [ -n "$addr" ]; then
            kafka_addr=$(sed -n 's/^ferry listening .* kafka=\([^ ]*\).*/\1/p' "$data/ferry.log" | head -n 1)
            return 0
        fi
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    cat "$data/stderr.log"
    echo "ferry did not start"
    echo "0 passed, 1 failed"
    exit 1
}

# Tallying a suite's results (both SDK suites use these):
#   suite_pytest DIR SECONDS ARG...   runs pytest in DIR, adds its passed/failed counts
#   suite_counted DIR SECONDS CMD...  runs CMD in DIR, which ends with "N passed, M failed"
#   suite_end                         prints ferry's stderr tail if anything failed, the
#                                     "N passed, M failed" line, and exits with the status
# A command that fails without reporting a failure counts as one failure.
passed=0
failed=0
status=0

suite_tally() {
    local ok=$1 p=$2 f=$3
    passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0}))
    if [ "$ok" -ne 0 ]; then
        status=1
        if [ "${f:-0}" -eq 0 ]; then failed=$((failed + 1)); fi
    fi
}

suite_pytest() {
    local dir=$1 seconds=$2 report ok=0 line
    shift 2
    report=$(mktemp)
    (cd "$dir" && timeout "$seconds" "$venv/bin/python" -m pytest -q -p no:cacheprovider "$@") \
        | tee "$report" || ok=1
    line=$(grep -E '[0-9]+ (passed|failed)' "$report" | tail -n 1 || true)
    count() { echo "$line" | grep -oE "[0-9]+ $1" | grep -oE '[0-9]+' | head -n 1 || true; }
    local f1 f2
    f1=$(count failed); f2=$(count 'errors?')
    suite_tally "$ok" "$(count passed)" "$(( ${f1:-0} + ${f2:-0} ))"
    rm -f "$report"
}

suite_counted() {
    local dir=$1 seconds=$2 report ok=0 line
    shift 2
    report=$(mktemp)
    (cd "$dir" && timeout "$seconds" "$@") | tee "$report" || ok=1
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$report" | tail -n 1 || true)
    suite_tally "$ok" "$(echo "$line" | sed -n 's/^\([0-9]*\) passed.*/\1/p')" \
        "$(echo "$line" | sed -n 's/.* \([0-9]*\) failed$/\1/p')"
    rm -f "$report"
}

suite_end() {
    if [ "$status" -ne 0 ]; then
        echo "-- ferry stderr (last lines)"; tail -n 30 "$data/stderr.log" || true
    fi
    echo "$passed passed, $failed failed"
    exit "$status"
}
