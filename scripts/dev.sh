#!/usr/bin/env bash
# Builds and runs fechatter_server, notify_server and fechatter_gateway against local
# PostgreSQL, Redis and NATS (`make dev`). The gateway at http://localhost:8080 is the address to
# use: it serves the API under /api, the event stream at /events and the built web client.
# Runs until Ctrl-C, SIGTERM or any server exits, then stops the servers and every service that
# scripts/services.sh started.
#
# Environment:
#   FECHATTER_DEV_DB    PostgreSQL database to use (default fechatter); created if missing.
#   CARGO_TARGET_DIR    Cargo target folder (default /var/tmp/fechatter-target).

# ShellCheck 0.9 reports the functions that run only from traps or wait_until_ready as unreachable.
# shellcheck disable=SC2317
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO_ROOT"

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/fechatter-target}"

API_PORT=6688
EVENTS_PORT=6687
GATEWAY_PORT=8080
GATEWAY_ADMIN_PORT=9180
API_URL="http://127.0.0.1:$API_PORT"
EVENTS_URL="http://127.0.0.1:$EVENTS_PORT"
GATEWAY_URL="http://localhost:$GATEWAY_PORT"
# The API server runs migrations and generates the development keys before it responds, so the
# first start takes longer than later ones.
START_TIMEOUT_SECONDS=60
KEYS_DIR="$REPO_ROOT/.dev/keys"

log() {
    printf 'dev.sh: %s\n' "$*" >&2
}

fail() {
    log "error: $*"
    exit 1
}

# Succeeds when something accepts TCP connections on 127.0.0.1:PORT.
port_open() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# Succeeds when GET http://127.0.0.1:PORT/PATH returns a 2xx status. Uses bash's /dev/tcp, so a
# bare machine needs no curl.
http_get_ok() {
    local port=$1 path=$2
    (
        exec 3<>"/dev/tcp/127.0.0.1/$port"
        printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1:%s\r\n\r\n' "$path" "$port" >&3
        IFS=' ' read -r -t 5 _ status _ <&3
        [[ $status == 2?? ]]
    ) 2>/dev/null
}

SERVER_PID=
NOTIFY_PID=
GATEWAY_PID=
STARTED_PID=

# Starts BINARY in the background with every output line prefixed by NAME, and stores its
# process id in STARTED_PID. The process substitution keeps $! pointing at the binary, not at
# sed, and the binary stays a child of this shell, so `wait` can report its exit status.
start_service() {
    local name=$1 binary=$2
    local prefix
    prefix=$(printf '%-16s | ' "$name")
    "$binary" > >(sed -u "s/^/$prefix/") 2>&1 &
    STARTED_PID=$!
}

# Waits until the command after NAME and PID succeeds, failing if process PID exits first or
# START_TIMEOUT_SECONDS pass.
wait_until_ready() {
    local name=$1 pid=$2
    shift 2
    local deadline=$((SECONDS + START_TIMEOUT_SECONDS))
    until "$@"; do
        if ! kill -0 "$pid" 2>/dev/null; then
            fail "$name exited before it was ready; see its output above"
        fi
        if ((SECONDS >= deadline)); then
            fail "$name was not ready within $START_TIMEOUT_SECONDS s"
        fi
        sleep 0.5
    done
}

stop_process() {
    local name=$1 pid=$2
    if [[ -z $pid ]] || ! kill -0 "$pid" 2>/dev/null; then
        return 0
    fi
    log "stopping $name (process $pid)"
    kill -TERM "$pid" 2>/dev/null || return 0
    local deadline=$((SECONDS + 10))
    while kill -0 "$pid" 2>/dev/null; do
        if ((SECONDS >= deadline)); then
            log "$name (process $pid) did not stop within 10 s after SIGTERM; sending SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
            return 0
        fi
        sleep 0.2
    done
}

# Runs on every exit. A bare `return` inside a trap returns the status from before the trap,
# so the helpers it calls return 0 explicitly, and errexit is off here so that one failed step
# does not skip the rest.
cleanup() {
    local status=$?
    trap - EXIT INT TERM
    set +e
    stop_process fechatter_gateway "$GATEWAY_PID"
    stop_process notify_server "$NOTIFY_PID"
    stop_process fechatter_server "$SERVER_PID"
    if ! scripts/services.sh stop-started; then
        log "failed to stop the services recorded in .dev/started-services; run scripts/services.sh stop-started again"
    fi
    exit "$status"
}

# Set before anything starts, so a failed build still stops the services started for it.
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

scripts/build-deps.sh
scripts/services.sh ensure

DB_NAME="${FECHATTER_DEV_DB:-fechatter}"
scripts/services.sh ensure-db "$DB_NAME"
if [[ -n ${FECHATTER_DEV_DB:-} ]]; then
    export FECHATTER_SERVER__DATABASE__URL="postgres://postgres@127.0.0.1:5432/$DB_NAME"
    export FECHATTER_NOTIFY__DATABASE__URL="postgres://postgres@127.0.0.1:5432/$DB_NAME"
fi

mkdir -p "$KEYS_DIR"
export FECHATTER_SERVER__AUTH__PRIVATE_KEY_PATH="$KEYS_DIR/private.pem"
export FECHATTER_SERVER__AUTH__PUBLIC_KEY_PATH="$KEYS_DIR/public.pem"
export FECHATTER_NOTIFY__AUTH__PUBLIC_KEY_PATH="$KEYS_DIR/public.pem"
export FECHATTER_GATEWAY__AUTH__PUBLIC_KEY_PATH="$KEYS_DIR/public.pem"

log "building the workspace binaries (target folder $CARGO_TARGET_DIR)"
cargo build --workspace --bins

# --- Web client (fechatter_frontend) ---------------------------------------------------------
# Installs the npm packages from package-lock.json and builds fechatter_frontend/dist before the
# servers start. For live reloading, run `npm run dev` in fechatter_frontend (port 5173).
log "building the web client into fechatter_frontend/dist"
scripts/frontend.sh build

for port in "$API_PORT" "$EVENTS_PORT" "$GATEWAY_PORT" "$GATEWAY_ADMIN_PORT"; do
    if port_open "$port"; then
        fail "127.0.0.1:$port is already in use; stop the other fechatter_server, notify_server or fechatter_gateway first"
    fi
done

# notify_server reads the public key that fechatter_server writes at its first start, so it
# starts only after the API server passes its liveness check.
start_service fechatter_server "$CARGO_TARGET_DIR/debug/fechatter_server"
SERVER_PID=$STARTED_PID
wait_until_ready fechatter_server "$SERVER_PID" http_get_ok "$API_PORT" /health/live

start_service notify_server "$CARGO_TARGET_DIR/debug/notify_server"
NOTIFY_PID=$STARTED_PID
wait_until_ready notify_server "$NOTIFY_PID" http_get_ok "$EVENTS_PORT" /health/live

# The gateway reads the public key and resolves its upstreams at start, so it comes last.
# It serves the web client from fechatter_frontend/dist once that folder is built.
start_service fechatter_gateway "$CARGO_TARGET_DIR/debug/fechatter_gateway"
GATEWAY_PID=$STARTED_PID
wait_until_ready fechatter_gateway "$GATEWAY_PID" http_get_ok "$GATEWAY_PORT" /health/live

cat >&2 <<EOF

  Fechatter is running (database $DB_NAME). Press Ctrl-C to stop.

    Open  $GATEWAY_URL

  That one address serves everything: the web client (from fechatter_frontend/dist once it is
  built), the API under $GATEWAY_URL/api and the event stream at $GATEWAY_URL/events.

  Direct service ports, for debugging only (no gateway checks, limits or CORS):
    API      $API_URL   (OpenAPI document at /api/openapi.json)
    Events   $EVENTS_URL/events
    Metrics  http://127.0.0.1:$GATEWAY_ADMIN_PORT/metrics (the gateway's)

EOF

status=0
wait -n "$SERVER_PID" "$NOTIFY_PID" "$GATEWAY_PID" || status=$?
if ! kill -0 "$SERVER_PID" 2>/dev/null; then
    log "fechatter_server exited with status $status"
elif ! kill -0 "$NOTIFY_PID" 2>/dev/null; then
    log "notify_server exited with status $status"
else
    log "fechatter_gateway exited with status $status"
fi
# A server that stops on its own is a failure of the session, even when it exits with status 0.
if ((status == 0)); then
    status=1
fi
exit "$status"
