#!/usr/bin/env bash
# Replays the chatterbot-corpus conversations (28 languages) through a running Fechatter and
# prints how many event-stream deliveries arrived, were lost or duplicated, and their latency.
# Start the system first with `make dev`; the demo signs up new users in a new workspace, so it
# can run again against the same database.
#
# Usage: scripts/demo.sh [DEMO OPTIONS]
#   for example: scripts/demo.sh --languages english,hebrew,chinese --max-conversations 200
#   scripts/demo.sh --help lists the options.
#
# Environment:
#   FECHATTER_API_PORT     Port of fechatter_server on 127.0.0.1 (default 6688).
#   FECHATTER_EVENTS_PORT  Port of notify_server on 127.0.0.1 (default 6687).
#   CARGO_TARGET_DIR       Cargo target folder (default /var/tmp/fechatter-target).
#
# Exits with the demo's status: 1 when a delivery was lost, duplicated, unexpected or altered, or a
# line failed to send.
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO_ROOT"

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/fechatter-target}"
API_PORT="${FECHATTER_API_PORT:-6688}"
EVENTS_PORT="${FECHATTER_EVENTS_PORT:-6687}"

log() {
    printf 'demo.sh: %s\n' "$*" >&2
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

corpus_dir=$(scripts/corpus-dir.sh)
log "corpus: $corpus_dir"

if ! http_get_ok "$API_PORT" /health/ready; then
    log "error: fechatter_server does not answer GET http://127.0.0.1:$API_PORT/health/ready"
    log "start the system with make dev first"
    exit 1
fi
if ! http_get_ok "$EVENTS_PORT" /health/ready; then
    log "error: notify_server does not answer GET http://127.0.0.1:$EVENTS_PORT/health/ready"
    log "start the system with make dev first"
    exit 1
fi

# A debug build: the demo spends its time waiting on the servers and on the rate limit, and the
# debug profile reuses what `make dev` already built instead of compiling everything again.
exec cargo run -p fechatter_e2e --bin demo -- \
    --api "http://127.0.0.1:$API_PORT" --events "http://127.0.0.1:$EVENTS_PORT" \
    --corpus "$corpus_dir" "$@"
