#!/usr/bin/env bash
# Benchmarks fechatter_gateway against a direct connection to fechatter_server, on this machine
# and in one run, and measures the gateway's memory per open event stream. The numbers in
# docs/benchmarks.md come from this script.
#
# It starts release builds of fechatter_server (127.0.0.1:16688), notify_server (:16687) and
# the gateway (:18080, admin :19180). They use a fresh database `fechatter_bench` on the local
# PostgreSQL, and the local Redis and NATS. One user signs up and creates 20 chats. Then wrk
# requests GET /api/chats directly and through the gateway, alternating and twice each, at two
# connection counts, first with the gateway's Redis rate limits on and then off. Finally the
# script opens event streams through the gateway and reports resident memory. Everything it
# starts is stopped at exit. Run it on an otherwise idle machine: concurrent builds or tests
# change the numbers.
#
# Environment (defaults in brackets):
#   BENCH_DURATION     wrk duration of each run [20s]
#   BENCH_CONNECTIONS  connection counts to measure, space-separated ["4 32"]
#   BENCH_STREAMS      event streams to open [2000]
#   CARGO_TARGET_DIR   [/var/tmp/fechatter-target]
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO_ROOT"

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/fechatter-target}"
DURATION="${BENCH_DURATION:-20s}"
CONNECTIONS="${BENCH_CONNECTIONS:-4 32}"
STREAMS="${BENCH_STREAMS:-2000}"

API_PORT=16688
EVENTS_PORT=16687
GATEWAY_PORT=18080
ADMIN_PORT=19180
DB_NAME=fechatter_bench
DB_ADMIN_URL="postgres://postgres@127.0.0.1:5432/postgres"
RUN_ID=$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')
BIN="$CARGO_TARGET_DIR/release"

log() {
    printf 'bench-gateway.sh: %s\n' "$*" >&2
}

fail() {
    log "error: $*"
    exit 1
}

port_open() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

wait_http_ok() {
    local url=$1 name=$2 deadline=$((SECONDS + 60))
    until curl -fsS -o /dev/null "$url"; do
        ((SECONDS < deadline)) || fail "$name did not answer $url within 60 s; see $WORK_DIR/$name.log"
        sleep 0.3
    done
}

PIDS=()
WORK_DIR=$(mktemp -d)

cleanup() {
    local status=$?
    trap - EXIT INT TERM
    set +e
    for pid in "${PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null
    done
    for pid in "${PIDS[@]}"; do
        wait "$pid" 2>/dev/null
    done
    psql "$DB_ADMIN_URL" -qc "DROP DATABASE IF EXISTS $DB_NAME WITH (FORCE)" >/dev/null 2>&1
    log "logs of this run are in $WORK_DIR"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

scripts/build-deps.sh
scripts/services.sh ensure
for tool in wrk curl; do
    if ! command -v "$tool" >/dev/null; then
        if [[ $(id -u) -eq 0 && -r /etc/debian_version ]]; then
            log "installing $tool with apt-get"
            DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$tool" >&2
        else
            fail "$tool not found; install it (Debian: apt-get install -y $tool)"
        fi
    fi
done
for port in "$API_PORT" "$EVENTS_PORT" "$GATEWAY_PORT" "$ADMIN_PORT"; do
    if port_open "$port"; then
        fail "127.0.0.1:$port is in use; stop what listens there first"
    fi
done

log "building release binaries"
cargo build --release --locked -p fechatter_server -p notify_server -p fechatter_gateway

psql "$DB_ADMIN_URL" -qc "DROP DATABASE IF EXISTS $DB_NAME WITH (FORCE)" >/dev/null
psql "$DB_ADMIN_URL" -qc "CREATE DATABASE $DB_NAME" >/dev/null

# The stream name starts with FECHATTER_TEST_ so the test harness deletes it an hour later.
export FECHATTER_SERVER__SERVER__PORT=$API_PORT
export FECHATTER_SERVER__DATABASE__URL="postgres://postgres@127.0.0.1:5432/$DB_NAME"
export FECHATTER_SERVER__REDIS__KEY_PREFIX="fechatter-bench:$RUN_ID:"
export FECHATTER_SERVER__NATS__STREAM="FECHATTER_TEST_BENCH_$RUN_ID"
export FECHATTER_SERVER__NATS__SUBJECT_PREFIX="fechatter_bench_$RUN_ID"
export FECHATTER_SERVER__RELAY__INSTANCE_ID="bench$RUN_ID"
export FECHATTER_SERVER__RELAY__STREAM_MAX_AGE_HOURS=1
export FECHATTER_SERVER__AUTH__PRIVATE_KEY_PATH="$WORK_DIR/keys/private.pem"
export FECHATTER_SERVER__AUTH__PUBLIC_KEY_PATH="$WORK_DIR/keys/public.pem"
export FECHATTER_SERVER__AUTH__ACCESS_TOKEN_TTL_SECS=7200
export FECHATTER_NOTIFY__SERVER__PORT=$EVENTS_PORT
export FECHATTER_NOTIFY__DATABASE__URL="$FECHATTER_SERVER__DATABASE__URL"
export FECHATTER_NOTIFY__REDIS__KEY_PREFIX="$FECHATTER_SERVER__REDIS__KEY_PREFIX"
export FECHATTER_NOTIFY__NATS__STREAM="$FECHATTER_SERVER__NATS__STREAM"
export FECHATTER_NOTIFY__NATS__SUBJECT_PREFIX="$FECHATTER_SERVER__NATS__SUBJECT_PREFIX"
export FECHATTER_NOTIFY__AUTH__PUBLIC_KEY_PATH="$FECHATTER_SERVER__AUTH__PUBLIC_KEY_PATH"
export RUST_LOG=warn

"$BIN/fechatter_server" >"$WORK_DIR/fechatter_server.log" 2>&1 &
PIDS+=($!)
wait_http_ok "http://127.0.0.1:$API_PORT/health/ready" fechatter_server
"$BIN/notify_server" >"$WORK_DIR/notify_server.log" 2>&1 &
NOTIFY_PID=$!
PIDS+=("$NOTIFY_PID")
wait_http_ok "http://127.0.0.1:$EVENTS_PORT/health/ready" notify_server

# Writes the gateway configuration with rate limits on (true) or off (false).
write_gateway_config() {
    cat >"$WORK_DIR/gateway.yaml" <<EOF
server:
  listen: 127.0.0.1:$GATEWAY_PORT
  admin_listen: 127.0.0.1:$ADMIN_PORT
upstreams:
  api: {addresses: 127.0.0.1:$API_PORT}
  events: {addresses: 127.0.0.1:$EVENTS_PORT}
auth:
  public_key_path: $WORK_DIR/keys/public.pem
redis:
  key_prefix: "fechatter-bench:$RUN_ID:gateway:"
rate_limits:
  enabled: $1
  read: {requests: 100000000, window_secs: 60}
  write: {requests: 100000000, window_secs: 60}
  events: {requests: 100000000, window_secs: 60}
EOF
}

GATEWAY_PID=
start_gateway() {
    write_gateway_config "$1"
    # The access log is part of the gateway's work, so it stays on (info) as in production.
    RUST_LOG=info "$BIN/fechatter_gateway" --config "$WORK_DIR/gateway.yaml" \
        >>"$WORK_DIR/fechatter_gateway.log" 2>&1 &
    GATEWAY_PID=$!
    PIDS+=("$GATEWAY_PID")
    wait_http_ok "http://127.0.0.1:$GATEWAY_PORT/health/ready" fechatter_gateway
}

stop_gateway() {
    kill -TERM "$GATEWAY_PID"
    wait "$GATEWAY_PID" || true
}

start_gateway true
TOKEN=$(python3 fechatter_gateway/benches/gateway_bench.py setup "http://127.0.0.1:$API_PORT")

# Prints the CPU time (user + system) that process PID has used, in clock ticks.
cpu_ticks() {
    awk '{ print $14 + $15 }' "/proc/$1/stat"
}

# Prints "requests/s p50 p99 requests gateway-cpu-ticks" of one wrk run against URL with
# CONNECTIONS connections.
run_wrk() {
    local url=$1 connections=$2 output cpu_before cpu_after
    cpu_before=$(cpu_ticks "$GATEWAY_PID")
    output=$(wrk -t2 -c"$connections" -d"$DURATION" --latency \
        -H "Authorization: Bearer $TOKEN" "$url")
    cpu_after=$(cpu_ticks "$GATEWAY_PID")
    printf '%s\n' "$output" >>"$WORK_DIR/wrk.log"
    if grep -q 'Non-2xx' <<<"$output"; then
        fail "wrk saw non-2xx responses from $url; see $WORK_DIR/wrk.log"
    fi
    awk -v cpu="$((cpu_after - cpu_before))" '/Requests\/sec/ { rps = $2 }
        $1 == "50%" { p50 = $2 } $1 == "99%" { p99 = $2 } / requests in / { requests = $1 }
        END { print rps, p50, p99, requests, cpu }' <<<"$output"
}

DIRECT="http://127.0.0.1:$API_PORT/api/chats"
THROUGH="http://127.0.0.1:$GATEWAY_PORT/api/chats"
log "warming up"
wrk -t2 -c8 -d5s -H "Authorization: Bearer $TOKEN" "$DIRECT" >/dev/null
wrk -t2 -c8 -d5s -H "Authorization: Bearer $TOKEN" "$THROUGH" >/dev/null

# Runs wrk against URL and prints one table row labelled LABEL, with the gateway's CPU time per
# request in microseconds (on direct rows it is the gateway's idle work, health checks).
measure() {
    local label=$1 url=$2 connections=$3 result rps p50 p99 requests cpu per_request
    result=$(run_wrk "$url" "$connections")
    read -r rps p50 p99 requests cpu <<<"$result"
    per_request=$(awk -v cpu="$cpu" -v hz="$CLOCK_TICKS" -v n="$requests" \
        'BEGIN { printf "%.0f", cpu / hz / n * 1e6 }')
    printf '%-30s %-12s %10s %10s %10s %14s\n' "$label" "$connections" "$rps" "$p50" "$p99" "$per_request"
}

CLOCK_TICKS=$(getconf CLK_TCK)

log "load average before the runs: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '\n%-30s %-12s %10s %10s %10s %14s\n' "target" "connections" "req/s" "p50" "p99" "gateway µs CPU"
for rate_limits in on off; do
    if [[ $rate_limits == off ]]; then
        stop_gateway
        start_gateway false
        wrk -t2 -c8 -d5s -H "Authorization: Bearer $TOKEN" "$THROUGH" >/dev/null
    fi
    for connections in $CONNECTIONS; do
        for round in 1 2; do
            measure "direct (round $round)" "$DIRECT" "$connections"
            measure "gateway, rate limits $rate_limits" "$THROUGH" "$connections"
        done
    done
done

log "load average after the runs: $(cut -d' ' -f1-3 /proc/loadavg)"
log "opening $STREAMS event streams through the gateway"
python3 fechatter_gateway/benches/gateway_bench.py streams "http://127.0.0.1:$GATEWAY_PORT" \
    "http://127.0.0.1:$API_PORT" "$STREAMS" --pid "gateway=$GATEWAY_PID" --pid "notify_server=$NOTIFY_PID"
