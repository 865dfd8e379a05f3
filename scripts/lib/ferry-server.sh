# Shared by the suites in scripts/test.d/ (source it; it defines functions only).
#
#   ferry_build                  builds target/debug/ferry (reusing the workspace target dir) -> $ferry
#   ferry_venv NAME PACKAGE...   a Python venv under the target dir with PACKAGEs -> $venv
#   ferry_start [FLAG...]        starts `ferry serve` on 127.0.0.1:0 with a temp data dir and
#                                waits for its announcement -> $addr, $pid, $data; a trap stops
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
    trap ferry_stop EXIT
    "$ferry" serve --http-listen 127.0.0.1:0 --data-dir "$data/store" "$@" \
        >"$data/ferry.log" 2>"$data/stderr.log" &
    pid=$!
    for _ in $(seq 1 300); do
        addr=$(sed -n 's/^ferry listening http=\([^ ]*\).*/\1/p' "$data/ferry.log" | head -n 1)
        [ -n "$addr" ] && return 0
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    cat "$data/stderr.log"
    echo "ferry did not start"
    echo "0 passed, 1 failed"
    exit 1
}
