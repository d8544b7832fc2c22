#!/usr/bin/env bash
# Runs the workspace tests against local PostgreSQL, Redis and NATS JetStream (`make test`).
# Services that this script starts keep running for the next run, until `scripts/services.sh
# stop-started` stops them.
#
# Usage: scripts/test.sh [CARGO TEST OPTIONS] [-- TEST BINARY OPTIONS]
#   for example: scripts/test.sh -p fechatter_core -- --nocapture
# Without -p/--package it tests the whole workspace.
#
# Environment (defaults in brackets):
#   FECHATTER_TEST_DATABASE_URL  Admin connection that tests use to create one fresh database
#                                each [postgres://postgres@127.0.0.1:5432/postgres].
#   FECHATTER_TEST_REDIS_URL     [redis://127.0.0.1:6379]
#   FECHATTER_TEST_NATS_URL      [nats://127.0.0.1:4222]
#   FECHATTER_TEST_NATS_SERVER   nats-server 2.10 or later for the tests that start their own
#                                server [installed by scripts/services.sh nats-binary].
#   FECHATTER_CORPUS_DIR         Data folder of chatterbot-corpus for the replay test
#                                [installed by scripts/corpus-dir.sh].
#   FECHATTER_TEST_THREADS       Tests run at once in each test binary [4].
#   FECHATTER_TEST_FRONTEND      0 skips the web client's tests (scripts/frontend.sh) [1].
#   CARGO_TARGET_DIR             Cargo target folder [/var/tmp/fechatter-target].
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO_ROOT"

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/fechatter-target}"

scripts/build-deps.sh
scripts/services.sh ensure

if [[ -z ${FECHATTER_TEST_NATS_SERVER:-} ]]; then
    FECHATTER_TEST_NATS_SERVER=$(scripts/services.sh nats-binary)
fi
export FECHATTER_TEST_NATS_SERVER
if [[ -z ${FECHATTER_CORPUS_DIR:-} ]]; then
    FECHATTER_CORPUS_DIR=$(scripts/corpus-dir.sh)
fi
export FECHATTER_CORPUS_DIR
export FECHATTER_TEST_DATABASE_URL="${FECHATTER_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
export FECHATTER_TEST_REDIS_URL="${FECHATTER_TEST_REDIS_URL:-redis://127.0.0.1:6379}"
export FECHATTER_TEST_NATS_URL="${FECHATTER_TEST_NATS_URL:-nats://127.0.0.1:4222}"

# Each test creates its own database; drop those of earlier runs so they do not pile up.
stale=$(psql "$FECHATTER_TEST_DATABASE_URL" -Atqc \
    "SELECT datname FROM pg_database WHERE datname LIKE 'fechatter\_test\_%'")
for database in $stale; do
    psql "$FECHATTER_TEST_DATABASE_URL" -qc "DROP DATABASE IF EXISTS \"$database\" WITH (FORCE)" >/dev/null
done

# Arguments before the first `--` go to cargo, the rest to every test binary after
# --test-threads, so a second `--` never turns --test-threads into a test name filter.
cargo_args=()
test_binary_args=()
while (($# > 0)); do
    if [[ $1 == -- ]]; then
        shift
        test_binary_args=("$@")
        break
    fi
    cargo_args+=("$1")
    shift
done

# With --workspace, cargo tests every member and only checks that the -p packages exist, so
# --workspace is added only when no package is selected.
package_args=(--workspace)
for arg in "${cargo_args[@]}"; do
    if [[ $arg == -p* || $arg == --package || $arg == --package=* ]]; then
        package_args=()
        break
    fi
done

# Cargo.lock is committed, so --locked makes the run fail instead of resolving newer dependency
# versions than the ones reviewed.
cargo test "${package_args[@]}" --locked "${cargo_args[@]}" \
    -- --test-threads="${FECHATTER_TEST_THREADS:-4}" "${test_binary_args[@]}"

# --- Web client (fechatter_frontend) ---------------------------------------------------------
# Runs only when the whole workspace is tested. It runs the Vitest unit tests, checks that the
# generated API types match the server's OpenAPI document, and runs the end-to-end suite in
# headless Chromium against servers that scripts/frontend.sh starts on free ports.
if ((${#package_args[@]} > 0)) && [[ ${FECHATTER_TEST_FRONTEND:-1} != 0 ]]; then
    scripts/frontend.sh unit
    scripts/frontend.sh check-api
    scripts/frontend.sh e2e
fi
