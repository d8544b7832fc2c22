#!/usr/bin/env bash
# Prints the data folder of the PyPI package chatterbot-corpus (one folder of YAML files per
# language), installing the package into the tools venv first if it is missing. The replay demo
# and its test read the corpus from there:
#
#   export FECHATTER_CORPUS_DIR=$(scripts/corpus-dir.sh)
#
# Environment:
#   FECHATTER_TOOLS_DIR  Folder of the Python venv (default /var/tmp/fechatter-tools), shared with
#                        scripts/services.sh.
set -euo pipefail

TOOLS_DIR="${FECHATTER_TOOLS_DIR:-/var/tmp/fechatter-tools}"
VENV="$TOOLS_DIR/venv"
CORPUS_PACKAGE_VERSION=1.3.3

log() {
    printf 'corpus-dir.sh: %s\n' "$*" >&2
}

fail() {
    log "error: $*"
    exit 1
}

installed_version() {
    "$VENV/bin/python" -c \
        'import importlib.metadata as m; print(m.version("chatterbot-corpus"))' 2>/dev/null
}

mkdir -p "$TOOLS_DIR"
# The lock keeps two runs (and scripts/services.sh) from installing into the same venv at once.
exec 9>"$TOOLS_DIR/.install.lock"
flock 9

if [[ ! -x $VENV/bin/pip ]]; then
    command -v python3 >/dev/null || fail "python3 not found; install python3 and python3-venv"
    log "creating Python venv $VENV"
    python3 -m venv "$VENV" >&2 || fail "creating the venv failed; install python3-venv"
fi

if [[ $(installed_version || true) != "$CORPUS_PACKAGE_VERSION" ]]; then
    log "installing chatterbot-corpus==$CORPUS_PACKAGE_VERSION from PyPI into $VENV"
    # --no-deps: the demo reads only the YAML data files. Version 1.3.3 declares PyYAML,
    # chatterbot and others for its `test` extra only, so this installs the same files.
    "$VENV/bin/pip" install --quiet --disable-pip-version-check --no-deps \
        "chatterbot-corpus==$CORPUS_PACKAGE_VERSION" >&2
fi

data_dir=$("$VENV/bin/python" -c \
    'import chatterbot_corpus, os; print(os.path.join(os.path.dirname(chatterbot_corpus.__file__), "data"))')
[[ -d $data_dir ]] || fail "chatterbot-corpus is installed, but its data folder $data_dir is missing"
printf '%s\n' "$data_dir"
