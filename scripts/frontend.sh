#!/usr/bin/env bash
# Installs, builds and tests the web client in fechatter_frontend/.
#
# Usage:
#   scripts/frontend.sh install    Check Node.js and npm, then `npm ci` when node_modules is missing
#                                  or older than package-lock.json.
#   scripts/frontend.sh build      Type-check and build the client into fechatter_frontend/dist.
#   scripts/frontend.sh unit       Run the Vitest unit and component tests.
#   scripts/frontend.sh check-api  Fail when src/api/schema.d.ts differs from the OpenAPI document
#                                  that `fechatter_server --print-openapi` prints.
#   scripts/frontend.sh e2e [FILE...]
#                                  Build the client and start fechatter_server and notify_server on
#                                  free ports against a fresh database, with fechatter_gateway in
#                                  front serving dist/, /api and /events. Run the end-to-end
#                                  suite (or the given e2e/*.e2e.ts files) in headless Chromium,
#                                  and stop everything it started.
#   scripts/frontend.sh notify-stop STATE_DIR, notify-start STATE_DIR
#                                  Stop or start the notify_server of a running `e2e`; the suite
#                                  calls them to cut the event stream.
#
# Environment:
#   CARGO_TARGET_DIR        Cargo target folder [/var/tmp/fechatter-target].
#   FECHATTER_CHROMIUM      Chromium binary for the e2e suite [/usr/bin/chromium]; installed with
#                           apt-get when missing and running as root on Debian.
#   FECHATTER_E2E_KEEP      Set to 1 to keep the e2e database and logs after the run.

# ShellCheck 0.9 reports the functions that run only from traps as unreachable.
# shellcheck disable=SC2317
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
FRONTEND_DIR="$REPO_ROOT/fechatter_frontend"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/fechatter-target}"
CHROMIUM="${FECHATTER_CHROMIUM:-/usr/bin/chromium}"
NODE_MIN_MAJOR=20
START_TIMEOUT_SECONDS=60
# Access token lifetime of the e2e stack; the client refreshes 60 s before expiry, so every 15 s.
E2E_ACCESS_TOKEN_TTL_SECONDS=75

log() {
    printf 'frontend.sh: %s\n' "$*" >&2
}

fail() {
    log "error: $*"
    exit 1
}

usage() {
    sed -n '/^# Usage:/,/^#$/p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
}

can_apt_install() {
    [[ $(id -u) -eq 0 && -r /etc/debian_version ]] && command -v apt-get >/dev/null
}

# Succeeds when GET http://127.0.0.1:PORT/PATH returns a 2xx status.
http_get_ok() {
    local port=$1 path=$2
    (
        exec 3<>"/dev/tcp/127.0.0.1/$port"
        printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1:%s\r\n\r\n' "$path" "$port" >&3
        IFS=' ' read -r -t 5 _ status _ <&3
        [[ $status == 2?? ]]
    ) 2>/dev/null
}

# Prints a TCP port on 127.0.0.1 that is free now.
free_port() {
    node -e "const s = require('net').createServer(); s.listen(0, '127.0.0.1', () => { console.log(s.address().port); s.close(); });"
}

# Waits until `http_get_ok PORT PATH` succeeds, failing if process PID exits first or
# START_TIMEOUT_SECONDS pass. LOG_FILE is printed on failure.
wait_until_ready() {
    local name=$1 pid=$2 port=$3 path=$4 log_file=$5
    local deadline=$((SECONDS + START_TIMEOUT_SECONDS))
    until http_get_ok "$port" "$path"; do
        if ! kill -0 "$pid" 2>/dev/null; then
            tail -n 40 "$log_file" >&2 || true
            fail "$name exited before it was ready; its log is above ($log_file)"
        fi
        if ((SECONDS >= deadline)); then
            tail -n 40 "$log_file" >&2 || true
            fail "$name was not ready on 127.0.0.1:$port within $START_TIMEOUT_SECONDS s; its log is above"
        fi
        sleep 0.3
    done
}

stop_pid() {
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

# --- install, build, unit, check-api -------------------------------------------------------

cmd_install() {
    if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
        if can_apt_install; then
            log "installing Node.js and npm with apt-get"
            apt-get update -qq && apt-get install -y -qq nodejs npm >&2
        else
            fail "node and npm are missing; install Node.js $NODE_MIN_MAJOR or later with npm (Debian: apt-get install nodejs npm)"
        fi
    fi
    local major
    major=$(node -p 'process.versions.node.split(".")[0]')
    ((major >= NODE_MIN_MAJOR)) || fail "Node.js $(node --version) is too old; the client needs $NODE_MIN_MAJOR or later"

    cd "$FRONTEND_DIR"
    if [[ -d node_modules && node_modules/.package-lock.json -nt package-lock.json ]]; then
        log "node_modules is up to date with package-lock.json"
        return 0
    fi
    log "installing npm packages from package-lock.json (npm ci)"
    npm ci --no-audit --no-fund >&2
}

cmd_build() {
    cmd_install
    cd "$FRONTEND_DIR"
    log "building the client into fechatter_frontend/dist"
    npm run --silent build
}

cmd_unit() {
    cmd_install
    cd "$FRONTEND_DIR"
    npm run --silent typecheck
    npx vitest run
}

build_servers() {
    log "building fechatter_server, notify_server and fechatter_gateway (target folder $CARGO_TARGET_DIR)"
    # The same build as make dev, so the two share compiled artifacts.
    (cd "$REPO_ROOT" && cargo build --locked --workspace --bins)
}

cmd_check_api() {
    cmd_install
    build_servers
    cd "$FRONTEND_DIR"
    FECHATTER_SERVER_BIN="$CARGO_TARGET_DIR/debug/fechatter_server" npm run --silent check:api
}

# --- e2e -------------------------------------------------------------------------------------

ensure_chromium() {
    if [[ -x $CHROMIUM ]]; then
        return 0
    fi
    if [[ $CHROMIUM == /usr/bin/chromium ]] && can_apt_install; then
        log "installing Debian's chromium package with apt-get"
        apt-get update -qq && apt-get install -y -qq chromium >&2
        return 0
    fi
    fail "$CHROMIUM not found; install Chromium (Debian: apt-get install chromium) or set FECHATTER_CHROMIUM"
}

# Starts notify_server of the e2e run in STATE_DIR with the environment saved there.
notify_start() {
    local state_dir=$1
    # shellcheck disable=SC1091
    source "$state_dir/notify.env"
    setsid "$CARGO_TARGET_DIR/debug/notify_server" >>"$state_dir/notify_server.log" 2>&1 </dev/null &
    local pid=$!
    echo "$pid" >"$state_dir/notify.pid"
    wait_until_ready notify_server "$pid" "$FECHATTER_NOTIFY__SERVER__PORT" /health/live "$state_dir/notify_server.log"
    log "notify_server is ready on 127.0.0.1:$FECHATTER_NOTIFY__SERVER__PORT (process $pid)"
}

notify_stop() {
    local state_dir=$1
    stop_pid notify_server "$(cat "$state_dir/notify.pid" 2>/dev/null || true)"
    rm -f "$state_dir/notify.pid"
}

E2E_STATE_DIR=
E2E_DB=
SERVER_PID=
GATEWAY_PID=
STARTED_SERVICES=0

e2e_cleanup() {
    local status=$?
    trap - EXIT INT TERM
    set +e
    if [[ -n $E2E_STATE_DIR ]]; then
        if ((status != 0)); then
            for file in "$E2E_STATE_DIR"/*.log; do
                [[ -s $file ]] || continue
                log "last lines of $file:"
                tail -n 25 "$file" >&2
            done
        fi
        stop_pid fechatter_gateway "$GATEWAY_PID"
        notify_stop "$E2E_STATE_DIR"
        stop_pid fechatter_server "$SERVER_PID"
    fi
    if [[ -n $E2E_DB && ${FECHATTER_E2E_KEEP:-0} != 1 ]]; then
        psql -h 127.0.0.1 -U postgres -d postgres -qc "DROP DATABASE IF EXISTS \"$E2E_DB\" WITH (FORCE)" >/dev/null
    fi
    if [[ -n $E2E_STATE_DIR && ${FECHATTER_E2E_KEEP:-0} != 1 ]]; then
        rm -rf "$E2E_STATE_DIR"
    elif [[ -n $E2E_STATE_DIR ]]; then
        log "kept database $E2E_DB and logs in $E2E_STATE_DIR"
    fi
    if ((STARTED_SERVICES)); then
        "$REPO_ROOT/scripts/services.sh" stop-started
    fi
    exit "$status"
}

# Starts fechatter_gateway in front of the two servers, serving the built client, the way
# `make dev` does, and sets E2E_BASE_URL to its address.
start_gateway() {
    local port
    port=$(free_port)
    (
        export FECHATTER_GATEWAY__SERVER__LISTEN="127.0.0.1:$port"
        export FECHATTER_GATEWAY__SERVER__ADMIN_LISTEN=""
        export FECHATTER_GATEWAY__UPSTREAMS__API__ADDRESSES="127.0.0.1:$API_PORT"
        export FECHATTER_GATEWAY__UPSTREAMS__EVENTS__ADDRESSES="127.0.0.1:$EVENTS_PORT"
        export FECHATTER_GATEWAY__AUTH__PUBLIC_KEY_PATH="$E2E_STATE_DIR/keys/public.pem"
        export FECHATTER_GATEWAY__STATIC_FILES__DIR="$FRONTEND_DIR/dist"
        export FECHATTER_GATEWAY__REDIS__KEY_PREFIX="fechatter-test:frontend-gateway-$port:"
        # Every request of the suite comes from one address; the gateway's own tests cover limits.
        export FECHATTER_GATEWAY__RATE_LIMITS__ENABLED=false
        exec setsid "$CARGO_TARGET_DIR/debug/fechatter_gateway"
    ) >>"$E2E_STATE_DIR/fechatter_gateway.log" 2>&1 </dev/null &
    GATEWAY_PID=$!
    wait_until_ready fechatter_gateway "$GATEWAY_PID" "$port" /health/live "$E2E_STATE_DIR/fechatter_gateway.log"
    E2E_BASE_URL="http://127.0.0.1:$port"
}

cmd_e2e() {
    command -v psql >/dev/null || fail "psql is missing; run scripts/services.sh ensure first"
    cmd_build
    ensure_chromium
    trap e2e_cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM

    local had_started_file=0
    [[ -s $REPO_ROOT/.dev/started-services ]] && had_started_file=1
    "$REPO_ROOT/scripts/services.sh" ensure
    if ((!had_started_file)) && [[ -s $REPO_ROOT/.dev/started-services ]]; then
        STARTED_SERVICES=1
    fi
    build_servers

    E2E_STATE_DIR=$(mktemp -d /tmp/fechatter-frontend-e2e.XXXXXX)
    local id
    id=$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
    E2E_DB="fechatter_frontend_e2e_$id"
    "$REPO_ROOT/scripts/services.sh" ensure-db "$E2E_DB"
    local database_url="postgres://postgres@127.0.0.1:5432/$E2E_DB"

    API_PORT=$(free_port)
    EVENTS_PORT=$(free_port)
    mkdir -p "$E2E_STATE_DIR/keys"
    # The FECHATTER_TEST_ stream prefix lets the Rust suite delete streams left by crashed runs.
    local stream="FECHATTER_TEST_FRONTEND_$id" subjects="fechatter_test_frontend_$id"
    local redis_prefix="fechatter-test:frontend-$id:"

    log "starting fechatter_server on 127.0.0.1:$API_PORT (database $E2E_DB)"
    (
        export FECHATTER_SERVER__SERVER__PORT="$API_PORT"
        export FECHATTER_SERVER__DATABASE__URL="$database_url"
        export FECHATTER_SERVER__AUTH__PRIVATE_KEY_PATH="$E2E_STATE_DIR/keys/private.pem"
        export FECHATTER_SERVER__AUTH__PUBLIC_KEY_PATH="$E2E_STATE_DIR/keys/public.pem"
        export FECHATTER_SERVER__NATS__STREAM="$stream"
        export FECHATTER_SERVER__NATS__SUBJECT_PREFIX="$subjects"
        export FECHATTER_SERVER__REDIS__KEY_PREFIX="$redis_prefix"
        export FECHATTER_SERVER__RELAY__STREAM_MAX_AGE_HOURS=1
        # Every request of the suite comes from one address and a few accounts.
        export FECHATTER_SERVER__LIMITS__MESSAGES_PER_CHAT=100000
        export FECHATTER_SERVER__LIMITS__SIGNIN_ATTEMPTS=100000
        # Short-lived access tokens, so the client refreshes them across tabs during the suite.
        export FECHATTER_SERVER__AUTH__ACCESS_TOKEN_TTL_SECS="$E2E_ACCESS_TOKEN_TTL_SECONDS"
        exec setsid "$CARGO_TARGET_DIR/debug/fechatter_server"
    ) >>"$E2E_STATE_DIR/fechatter_server.log" 2>&1 </dev/null &
    SERVER_PID=$!
    wait_until_ready fechatter_server "$SERVER_PID" "$API_PORT" /health/live "$E2E_STATE_DIR/fechatter_server.log"

    cat >"$E2E_STATE_DIR/notify.env" <<EOF
export FECHATTER_NOTIFY__SERVER__PORT=$EVENTS_PORT
export FECHATTER_NOTIFY__DATABASE__URL=$database_url
export FECHATTER_NOTIFY__AUTH__PUBLIC_KEY_PATH=$E2E_STATE_DIR/keys/public.pem
export FECHATTER_NOTIFY__NATS__STREAM=$stream
export FECHATTER_NOTIFY__NATS__SUBJECT_PREFIX=$subjects
export FECHATTER_NOTIFY__REDIS__KEY_PREFIX=$redis_prefix
export FECHATTER_NOTIFY__DELIVERY__STREAM_MAX_AGE_HOURS=1
EOF
    log "starting notify_server on 127.0.0.1:$EVENTS_PORT"
    notify_start "$E2E_STATE_DIR"

    # The suite reaches the client, /api and /events through the gateway, as people do.
    start_gateway
    log "client served at $E2E_BASE_URL"

    cd "$FRONTEND_DIR"
    FECHATTER_E2E_BASE_URL="$E2E_BASE_URL" \
        FECHATTER_E2E_DATABASE_URL="$database_url" \
        FECHATTER_E2E_ACCESS_TOKEN_TTL="$E2E_ACCESS_TOKEN_TTL_SECONDS" \
        FECHATTER_E2E_NOTIFY_STOP="$REPO_ROOT/scripts/frontend.sh notify-stop $E2E_STATE_DIR" \
        FECHATTER_E2E_NOTIFY_START="$REPO_ROOT/scripts/frontend.sh notify-start $E2E_STATE_DIR" \
        FECHATTER_E2E_SCREENSHOT_DIR="$REPO_ROOT/docs/screenshots" \
        FECHATTER_CHROMIUM="$CHROMIUM" \
        npx vitest run --config vitest.e2e.config.ts "$@"
}

main() {
    local subcommand=${1:-}
    [[ $# -gt 0 ]] && shift
    case $subcommand in
        install) cmd_install ;;
        build) cmd_build ;;
        unit) cmd_unit ;;
        check-api) cmd_check_api ;;
        e2e) cmd_e2e "$@" ;;
        notify-stop) notify_stop "${1:?missing STATE_DIR}" ;;
        notify-start) notify_start "${1:?missing STATE_DIR}" ;;
        -h | --help | help) usage ;;
        "")
            usage
            exit 2
            ;;
        *)
            log "error: unknown subcommand '$subcommand'"
            usage
            exit 2
            ;;
    esac
}

main "$@"
