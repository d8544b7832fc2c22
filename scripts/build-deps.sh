#!/usr/bin/env bash
# Installs the programs that building the workspace needs beyond the Rust toolchain:
# cmake, which libz-ng-sys (zlib-ng, pulled in by Pingora in fechatter_gateway) runs from its
# build script, and a C compiler for it. scripts/test.sh and scripts/dev.sh call this first.
#
# Usage: scripts/build-deps.sh
#
# Missing programs are installed with apt-get when running as root on Debian or Ubuntu.
# Elsewhere the script prints the packages to install and exits with status 1.
set -euo pipefail

log() {
    printf 'build-deps.sh: %s\n' "$*" >&2
}

missing_commands=()
packages=()
if ! command -v cmake >/dev/null; then
    missing_commands+=(cmake)
    packages+=(cmake)
fi
if ! command -v cc >/dev/null; then
    missing_commands+=(cc)
    packages+=(build-essential)
fi

if ((${#packages[@]} == 0)); then
    exit 0
fi

if [[ $(id -u) -eq 0 && -r /etc/debian_version ]] && command -v apt-get >/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    log "installing Debian packages for the build: ${packages[*]}"
    apt-get update -q >&2
    apt-get install -y -q "${packages[@]}" >&2
    exit 0
fi

log "error: commands not found: ${missing_commands[*]}"
log "the build of fechatter_gateway (Pingora's zlib-ng) needs them. On Debian or Ubuntu, as root:"
log "  apt-get update && apt-get install -y ${packages[*]}"
log "Elsewhere, install cmake 3.14 or later (zlib-ng requires it) and a C compiler from your system's packages."
exit 1
