# shellcheck shell=bash
# Shared helpers for scripts/stack and scripts/test. Source it:
#
#   . "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
#
# It sets no shell options and prints nothing unless it has to act (install a package, start
# a private Postgres) or fails; such messages go to stderr. Functions return non-zero on
# failure (they never `exit`), so callers decide what to do.
#
# Provides:
#   ROOT, STACK_DIR                  repo root, its .stack/ folder (git-ignored state;
#                                    $STACK_STATE_DIR when set)
#   CARGO_TARGET_DIR (exported)      default $HOME/.cache/usermgmt-target
#   SERVICES, service_port NAME      the service table (short name -> port)
#   existing_services                short names whose crates/<short>-svc exists
#   stack_profile_dir, service_bin   where `cargo build` puts <short>-svc for STACK_PROFILE
#   ensure_postgres                  exports DATABASE_URL (see below)
#   ensure_nginx                     sets NGINX_BIN
#   ensure_curl, ensure_jq, apt_install, wait_http URL [SECONDS] [STATUS], port_in_use PORT
#   read_env_file FILE               sets ENV_FILE_PAIRS ("KEY=value" ...) from an env file in
#                                    compose's env-file syntax, never running it as shell code
#   export_env_file FILE             exports them (in the subshell that execs a service)
#   print_env_file FILE, env_file_value FILE KEY    the same, on stdout
#   wait_log_settled FILE            until nothing has been appended to FILE for a moment

ROOT="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P)"
# STACK_STATE_DIR moves the state folder, so a second, independent stack (other ports, see
# STACK_PORT_OFFSET in scripts/stack) can run beside the main one (scripts/e2e-replicas).
STACK_DIR="${STACK_STATE_DIR:-$ROOT/.stack}"
case "$STACK_DIR" in /*) ;; *) STACK_DIR="$PWD/$STACK_DIR" ;; esac

if [ -z "${HOME:-}" ]; then
    HOME="$(getent passwd "$(id -u)" | cut -d: -f6)"
    export HOME
fi
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/usermgmt-target}"
# rustup installs into ~/.cargo/bin, which non-login shells (sudo, cron, CI) often lack.
if ! command -v cargo >/dev/null 2>&1 && [ -x "$HOME/.cargo/bin/cargo" ]; then
    PATH="$HOME/.cargo/bin:$PATH"
fi

# ---------------------------------------------------------------------------------------
# Service table (contract: /work/shared/api/common.md).
SERVICES=(agency jive partner virtool)

service_port() {
    case "$1" in
        agency) echo 8081 ;;
        jive) echo 8082 ;;
        partner) echo 8083 ;;
        virtool) echo 8084 ;;
        *) echo "lib.sh: unknown service '$1'" >&2; return 1 ;;
    esac
}

# Short names of the services whose crate exists, one per line, in table order.
existing_services() {
    local s
    for s in "${SERVICES[@]}"; do
        if [ -f "$ROOT/crates/$s-svc/Cargo.toml" ]; then echo "$s"; fi
    done
}

# Target sub-folder for STACK_PROFILE (release by default; debug/dev; or a custom profile).
stack_profile_dir() {
    case "${STACK_PROFILE:-release}" in
        release) echo release ;;
        debug | dev) echo debug ;;
        *) echo "${STACK_PROFILE}" ;;
    esac
}

# cargo arguments selecting STACK_PROFILE.
stack_profile_args() {
    case "${STACK_PROFILE:-release}" in
        release) echo --release ;;
        debug | dev) ;;
        *) echo "--profile ${STACK_PROFILE}" ;;
    esac
}

service_bin() {
    echo "$CARGO_TARGET_DIR/$(stack_profile_dir)/$1-svc"
}

# ---------------------------------------------------------------------------------------
# Small utilities.

_lib_say() { printf '%s\n' "$*" >&2; }

_lib_is_root() { [ "$(id -u)" = 0 ]; }

# Something accepts TCP connections on 127.0.0.1:PORT (no external tools needed).
port_in_use() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") >/dev/null 2>&1
}

_lib_apt_updated=""
# apt_install PKG... — as root with apt only; output goes to .stack/logs/apt.log.
apt_install() {
    if ! _lib_is_root || ! command -v apt-get >/dev/null 2>&1; then
        _lib_say "cannot install $* (needs root and apt-get); install it and retry"
        return 1
    fi
    mkdir -p "$STACK_DIR/logs"
    local log="$STACK_DIR/logs/apt.log"
    _lib_say "installing $* with apt-get (log: ${log#"$ROOT"/})"
    if [ -z "$_lib_apt_updated" ]; then
        if ! DEBIAN_FRONTEND=noninteractive apt-get update -q >>"$log" 2>&1; then
            tail -n 20 "$log" >&2
            return 1
        fi
        _lib_apt_updated=1
    fi
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" >>"$log" 2>&1; then
        tail -n 20 "$log" >&2
        return 1
    fi
}

ensure_curl() {
    command -v curl >/dev/null 2>&1 && return 0
    apt_install curl ca-certificates
}

# ensure_jq: the migration filters (deploy/migration/*.jq) are tested with the real jq.
ensure_jq() {
    command -v jq >/dev/null 2>&1 && return 0
    apt_install jq
}

# wait_http URL [TIMEOUT_SECONDS=30] [STATUS=200]: poll until URL answers STATUS.
wait_http() {
    local url="$1" timeout="${2:-30}" want="${3:-200}" code
    local deadline=$((SECONDS + timeout))
    while :; do
        code="$(curl -s -o /dev/null -m 2 -w '%{http_code}' "$url" 2>/dev/null)" || true
        [ "$code" = "$want" ] && return 0
        [ "$SECONDS" -ge "$deadline" ] && return 1
        sleep 0.2
    done
}

# wait_log_settled FILE [MAX_SECONDS=3]: wait until nothing has been appended to FILE for
# 0.3 s (at most MAX_SECONDS), so that a tail of it includes a process's last words.
wait_log_settled() {
    local file="$1" max="${2:-3}" size last="" still=0
    local deadline=$((SECONDS + max))
    while [ "$SECONDS" -lt "$deadline" ]; do
        size="$(stat -c %s "$file" 2>/dev/null)" || size=""
        if [ "$size" = "$last" ]; then
            still=$((still + 1))
            [ "$still" -ge 3 ] && return 0
        else
            still=0
            last="$size"
        fi
        sleep 0.1
    done
}

# ---------------------------------------------------------------------------------------
# Env files: deploy/env/<short>.env (or $STACK_ENV_DIR/<short>.env) are in docker compose's
# env-file syntax, because compose reads the same files with `env_file`. They are parsed here
# and never evaluated as shell code (no `.`/`source`, no eval): a value with a space, a `$`,
# a quote or a `$(command)` means what it means to compose, and nothing in it runs.
#
#   read_env_file FILE         sets ENV_FILE_PAIRS to the file's "KEY=value" strings, in file
#                              order (a repeated KEY keeps its first place and its last value)
#   export_env_file FILE       read_env_file, then exports each pair into the current shell:
#                              call it in the subshell that then execs the service (the values
#                              reach it through the environment, never through a command line).
#                              Like `set -a; . FILE` it replaces shell variables of the same
#                              names, so the subshell must not need any after the call.
#   print_env_file FILE        the pairs on stdout, each followed by a NUL byte
#   env_file_value FILE KEY    KEY's value on stdout; status 1 when FILE has no KEY
#
# On a syntax error they print "FILE:LINE: what is wrong" to stderr and return 1.
#
# The rules are compose's (https://docs.docker.com/compose/env-file/):
#   - blank lines, and lines whose first non-blank character is `#`, are ignored;
#   - `KEY=value`, optionally preceded by `export `; blanks around KEY and after `=` are dropped;
#     KEY is letters, digits and `_`, not starting with a digit (compose also takes `.` and
#     `-`; a shell cannot export such names, so they are an error here);
#   - an unquoted value runs to the end of its line: blanks inside it are part of it, trailing
#     ones are not, and ` #` (a space, then `#`) starts a comment, so `A=b # c` is `b` but
#     `A=b#c` is `b#c`;
#   - a 'single-quoted' value is taken literally (`$`, `\n`, `#` included); only \' stands for
#     the quote itself;
#   - in a "double-quoted" value \" \\ \$ \n \r \t \a \b \f \v are escapes (any other
#     backslash stays as written) and `#` is part of the value;
#   - a quoted value may continue over several lines; after its closing quote only blanks and
#     a `# comment` may follow on that line;
#   - in an unquoted or double-quoted value `$$` is one literal `$`, and a `$` that is not
#     followed by a name or `{` is literal as well.
# Not supported, and reported as an error rather than read differently from compose:
#   - variable substitution (`$NAME`, `${NAME}`, `${NAME:-default}`, ...) in unquoted and
#     double-quoted values: write `$$`, or single-quote the value (the committed files use none);
#   - a line without `=` (compose would copy that variable from its own environment);
#   - compose's YAML-like `KEY: value` lines, octal escapes (`\0NNN`), and anything but a
#     comment after a closing quote (compose would read it as the next variable).
ENV_FILE_PAIRS=()
# shellcheck disable=SC2016 # the $ are meant literally
_lib_env_no_subst='variable substitution ($NAME, ${NAME}) is not supported here; write $$ for a literal $, or single-quote the value'

# _lib_env_dollars VALUE -> _lib_env_out: `$$` -> `$`, a lone `$` kept; `$NAME` and `${...}`
# fail (status 1, reason in _lib_env_why).
_lib_env_dollars() {
    local v="$1" out=""
    while [[ "$v" == *'$'* ]]; do
        out+="${v%%\$*}"
        v="${v#*\$}"
        case "$v" in
            '$'*)
                out+='$'
                v="${v:1}"
                ;;
            [A-Za-z_\{]*)
                _lib_env_why="$_lib_env_no_subst"
                return 1
                ;;
            *) out+='$' ;;
        esac
    done
    _lib_env_out="$out$v"
}

# _lib_env_dquoted TEXT -> _lib_env_out: the escapes and `$`s of a double-quoted value (TEXT is
# what the quotes held, \" already turned into ").
_lib_env_dquoted() {
    local s="$1" out="" c i=0 len="${#1}" plain special='[\\$]'
    while [ "$i" -lt "$len" ]; do
        # Characters up to the next backslash or `$` are taken as they are.
        plain="${s:i}"
        # shellcheck disable=SC2295 # $special is a pattern
        plain="${plain%%$special*}"
        out+="$plain"
        i=$((i + ${#plain}))
        [ "$i" -lt "$len" ] || break
        c="${s:i:1}"
        i=$((i + 1))
        case "$c" in
            \\)
                c="${s:i:1}"
                case "$c" in
                    n) out+=$'\n' ;;
                    r) out+=$'\r' ;;
                    t) out+=$'\t' ;;
                    a) out+=$'\a' ;;
                    b) out+=$'\b' ;;
                    f) out+=$'\f' ;;
                    v) out+=$'\v' ;;
                    \\ | '"' | '$') out+="$c" ;;
                    0)
                        _lib_env_why="octal escapes (\\0NNN) are not supported here"
                        return 1
                        ;;
                    *)
                        # Not an escape: the backslash stays; the next character is read as usual.
                        out+="\\"
                        continue
                        ;;
                esac
                i=$((i + 1))
                ;;
            '$')
                case "${s:i:1}" in
                    '$') i=$((i + 1)) ;;
                    [A-Za-z_\{])
                        _lib_env_why="$_lib_env_no_subst"
                        return 1
                        ;;
                esac
                out+='$'
                ;;
        esac
    done
    _lib_env_out="$out"
}

read_env_file() {
    local file="$1" n=0 total start line key rest q raw c i esc value plain special
    local name_re='^[A-Za-z_][A-Za-z0-9_]*$'
    local -a lines=()
    local -A at=()
    ENV_FILE_PAIRS=()
    if [ ! -f "$file" ] || [ ! -r "$file" ]; then
        _lib_say "$file: no such readable file"
        return 1
    fi
    mapfile -t lines <"$file" || return 1
    total="${#lines[@]}"
    while [ "$n" -lt "$total" ]; do
        line="${lines[n]}"
        n=$((n + 1))
        start="$n"
        line="${line#"${line%%[![:space:]]*}"}"
        case "$line" in '' | '#'*) continue ;; esac
        if [[ "$line" =~ ^export[[:space:]]+(.*)$ ]]; then
            line="${BASH_REMATCH[1]}"
        fi
        if [[ "$line" != *=* ]]; then
            _lib_say "$file:$n: no '=' in this line (expected KEY=value)"
            return 1
        fi
        key="${line%%=*}"
        key="${key%"${key##*[![:space:]]}"}"
        if ! [[ "$key" =~ $name_re ]]; then
            _lib_say "$file:$n: '$key' is not a variable name (letters, digits and _, not starting with a digit)"
            return 1
        fi
        rest="${line#*=}"
        rest="${rest#"${rest%%[![:space:]]*}"}"
        case "$rest" in
            \"* | \'*)
                q="${rest:0:1}" rest="${rest:1}" raw="" esc=0 i=0
                if [ "$q" = '"' ]; then special='[\\"]'; else special="[\\\\']"; fi
                while :; do
                    if [ "$i" -ge "${#rest}" ]; then
                        # The value goes on over the next line (compose allows that).
                        if [ "$n" -ge "$total" ]; then
                            _lib_say "$file:$start: the quoted value of $key has no closing $q"
                            return 1
                        fi
                        rest+=$'\n'"${lines[n]}"
                        n=$((n + 1))
                        continue
                    fi
                    if [ "$esc" = 0 ]; then
                        # Characters up to the next backslash or quote are part of the value.
                        plain="${rest:i}"
                        # shellcheck disable=SC2295 # $special is a pattern
                        plain="${plain%%$special*}"
                        raw+="$plain"
                        i=$((i + ${#plain}))
                        [ "$i" -lt "${#rest}" ] || continue
                    fi
                    c="${rest:i:1}"
                    i=$((i + 1))
                    if [ "$esc" = 1 ]; then
                        esc=0
                        if [ "$c" = "$q" ]; then raw+="$c"; else raw+="\\$c"; fi
                    elif [ "$c" = "\\" ]; then
                        esc=1
                    elif [ "$c" = "$q" ]; then
                        break
                    else
                        raw+="$c"
                    fi
                done
                rest="${rest:i}"
                rest="${rest#"${rest%%[![:space:]]*}"}"
                case "$rest" in
                    '' | '#'*) ;;
                    *)
                        _lib_say "$file:$n: unexpected text after the closing $q of $key's value: $rest"
                        return 1
                        ;;
                esac
                if [ "$q" = "'" ]; then
                    value="$raw"
                else
                    _lib_env_dquoted "$raw" || { _lib_say "$file:$start: $key: $_lib_env_why"; return 1; }
                    value="$_lib_env_out"
                fi
                ;;
            *)
                value="${rest%% #*}"
                value="${value%"${value##*[![:space:]]}"}"
                _lib_env_dollars "$value" || { _lib_say "$file:$start: $key: $_lib_env_why"; return 1; }
                value="$_lib_env_out"
                ;;
        esac
        if [ -n "${at[$key]+set}" ]; then
            i="${at[$key]}"
            ENV_FILE_PAIRS[i]="$key=$value"
        else
            at[$key]="${#ENV_FILE_PAIRS[@]}"
            ENV_FILE_PAIRS+=("$key=$value")
        fi
    done
}

# No local variables here: they could hide a KEY of the file from the export.
export_env_file() {
    read_env_file "$1" || return 1
    set -- "$1" "${ENV_FILE_PAIRS[@]}"
    while [ "$#" -gt 1 ]; do
        export "${2?}" 2>/dev/null || {
            _lib_say "$1: cannot export ${2%%=*} (a read-only shell variable)"
            return 1
        }
        set -- "$1" "${@:3}"
    done
}

print_env_file() {
    read_env_file "$1" || return 1
    if [ "${#ENV_FILE_PAIRS[@]}" -gt 0 ]; then printf '%s\0' "${ENV_FILE_PAIRS[@]}"; fi
}

env_file_value() {
    local pair
    read_env_file "$1" || return 1
    for pair in "${ENV_FILE_PAIRS[@]}"; do
        if [ "${pair%%=*}" = "$2" ]; then
            printf '%s\n' "${pair#*=}"
            return 0
        fi
    done
    return 1
}

# ---------------------------------------------------------------------------------------
# nginx

_lib_find_nginx() {
    if command -v nginx >/dev/null 2>&1; then
        command -v nginx
    elif [ -x /usr/sbin/nginx ]; then
        echo /usr/sbin/nginx
    else
        return 1
    fi
}

# Sets NGINX_BIN; installs nginx-light (or nginx, on releases without -light) when missing.
ensure_nginx() {
    NGINX_BIN="$(_lib_find_nginx)" && return 0
    apt_install nginx-light || apt_install nginx || return 1
    # shellcheck disable=SC2034 # for the scripts that source this file
    NGINX_BIN="$(_lib_find_nginx)" || { _lib_say "nginx installed but not found"; return 1; }
}

# ---------------------------------------------------------------------------------------
# PostgreSQL
#
# ensure_postgres: make sure a Postgres is reachable and export DATABASE_URL.
#   1. DATABASE_URL already set            -> used as is.
#   2. 127.0.0.1:5432 answers              -> postgres://postgres@127.0.0.1:5432/$STACK_DB_NAME
#                                             (database created when missing).
#   3. otherwise (or with STACK_PG_PRIVATE=1) a private cluster under .stack/pg on 127.0.0.1:${STACK_PG_PORT:-5433}
#      (trust auth, TCP only), initialised and started with initdb/pg_ctl as the postgres
#      user when root; `apt-get install postgresql` first when no server binaries exist.
# Also sets PG_ADMIN_URL (same server, database `postgres`; empty in case 1) and
# STACK_PG_STARTED_DIR (the data folder when this call started the private cluster).
STACK_DB_NAME="${STACK_DB_NAME:-usermgmt}"
STACK_PG_PORT="${STACK_PG_PORT:-5433}"

_lib_pg_bindir() {
    local d
    if command -v pg_ctl >/dev/null 2>&1 && command -v initdb >/dev/null 2>&1; then
        dirname "$(command -v pg_ctl)"
        return 0
    fi
    # shellcheck disable=SC2012 # version folders (/usr/lib/postgresql/16/bin), plain names
    d="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
    if [ -n "$d" ] && [ -x "$d/pg_ctl" ] && [ -x "$d/initdb" ]; then
        echo "$d"
        return 0
    fi
    return 1
}

_lib_psql() {
    local psql
    psql="$(command -v psql 2>/dev/null)" || psql="$(_lib_pg_bindir)/psql"
    [ -x "$psql" ] || { ensure_psql_client && psql="$(command -v psql)"; } || return 1
    PGCONNECT_TIMEOUT=5 "$psql" -X -q -v ON_ERROR_STOP=1 "$@"
}

ensure_psql_client() {
    command -v psql >/dev/null 2>&1 && return 0
    apt_install postgresql-client
}

_lib_pg_answers() {
    local port="$1" isready
    isready="$(command -v pg_isready 2>/dev/null)" || isready="$(_lib_pg_bindir 2>/dev/null)/pg_isready"
    if [ -x "$isready" ]; then
        "$isready" -q -h 127.0.0.1 -p "$port" -t 3
    else
        port_in_use "$port"
    fi
}

# _lib_pg_ensure_db ADMIN_URL NAME
_lib_pg_ensure_db() {
    local admin="$1" db="$2" have
    have="$(_lib_psql "$admin" -tAc "SELECT 1 FROM pg_database WHERE datname = '$db'")" || {
        _lib_say "cannot query Postgres at ${admin} (set DATABASE_URL to use another server)"
        return 1
    }
    [ "$have" = 1 ] && return 0
    # Another script may be creating it at the same moment: accept "already exists".
    _lib_psql "$admin" -c "CREATE DATABASE \"$db\"" >/dev/null 2>&1 \
        || [ "$(_lib_psql "$admin" -tAc "SELECT 1 FROM pg_database WHERE datname = '$db'")" = 1 ] \
        || { _lib_say "cannot create database $db at $admin"; return 1; }
}

_lib_as_pg() {
    if _lib_is_root; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

# Data folder of the private cluster. As root it must be reachable by the postgres user;
# when the checkout is not (e.g. under /root), fall back to postgres's home.
_lib_pg_datadir() {
    if [ -n "${STACK_PG_DIR:-}" ]; then
        echo "$STACK_PG_DIR"
    elif ! _lib_is_root || runuser -u postgres -- test -x "$STACK_DIR" 2>/dev/null; then
        echo "$STACK_DIR/pg"
    else
        echo "/var/lib/postgresql/usermgmt-stack"
    fi
}

_lib_pg_start_private() {
    local bindir="$1" data log
    mkdir -p "$STACK_DIR/logs"
    data="$(_lib_pg_datadir)"
    log="$STACK_DIR/logs/postgres.log"
    touch "$log"
    if _lib_is_root; then
        id postgres >/dev/null 2>&1 || { _lib_say "no 'postgres' user to run the private cluster"; return 1; }
        chown postgres: "$log"
        if ! runuser -u postgres -- test -w "$log" 2>/dev/null; then
            log="$data.log"
        fi
    fi
    if [ ! -s "$data/PG_VERSION" ]; then
        _lib_say "initialising a private Postgres cluster in $data"
        mkdir -p "$data"
        if _lib_is_root; then chown postgres: "$data"; fi
        chmod 700 "$data"
        # C.UTF-8, not --no-locale: with the C locale lower()/ILIKE leave non-ASCII letters alone
        # (partner search of "Åse" would miss "åse"). Debian's libc always has C.UTF-8.
        _lib_as_pg "$bindir/initdb" -D "$data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 \
            >>"$log" 2>&1 || { tail -n 20 "$log" >&2; return 1; }
        _lib_as_pg sh -c "cat >> '$data/postgresql.conf'" <<EOF
# scripts/lib.sh: private cluster for the usermgmt stack (TCP on loopback only)
listen_addresses = '127.0.0.1'
port = $STACK_PG_PORT
unix_socket_directories = ''
max_connections = 200
EOF
    fi
    if _lib_as_pg "$bindir/pg_ctl" -D "$data" status >/dev/null 2>&1; then
        return 0
    fi
    if port_in_use "$STACK_PG_PORT"; then
        _lib_say "port $STACK_PG_PORT is taken by something else; set STACK_PG_PORT or DATABASE_URL"
        return 1
    fi
    _lib_say "starting the private Postgres cluster on 127.0.0.1:$STACK_PG_PORT (log: $log)"
    _lib_as_pg "$bindir/pg_ctl" -D "$data" -l "$log" -w -t 60 start >/dev/null \
        || { tail -n 20 "$log" >&2; return 1; }
    STACK_PG_STARTED_DIR="$data"
}

ensure_postgres() {
    # shellcheck disable=SC2034 # for the scripts that source this file
    STACK_PG_STARTED_DIR=""
    PG_ADMIN_URL=""
    if [ -n "${DATABASE_URL:-}" ]; then
        export DATABASE_URL
        return 0
    fi
    if [ "${STACK_PG_PRIVATE:-0}" != 1 ] && _lib_pg_answers 5432; then
        PG_ADMIN_URL="postgres://postgres@127.0.0.1:5432/postgres"
        _lib_pg_ensure_db "$PG_ADMIN_URL" "$STACK_DB_NAME" || return 1
        export DATABASE_URL="postgres://postgres@127.0.0.1:5432/$STACK_DB_NAME"
        return 0
    fi
    local bindir
    if ! bindir="$(_lib_pg_bindir)"; then
        apt_install postgresql || return 1
        # Debian's package may have started its own cluster on 5432.
        if [ "${STACK_PG_PRIVATE:-0}" != 1 ] && _lib_pg_answers 5432; then
            ensure_postgres
            return $?
        fi
        bindir="$(_lib_pg_bindir)" || { _lib_say "PostgreSQL installed but initdb/pg_ctl not found"; return 1; }
    fi
    _lib_pg_start_private "$bindir" || return 1
    PG_ADMIN_URL="postgres://postgres@127.0.0.1:$STACK_PG_PORT/postgres"
    _lib_pg_ensure_db "$PG_ADMIN_URL" "$STACK_DB_NAME" || return 1
    export DATABASE_URL="postgres://postgres@127.0.0.1:$STACK_PG_PORT/$STACK_DB_NAME"
}

# Stop the private cluster (only the one under our data folder), keeping its data.
stop_private_postgres() {
    local bindir data="${1:-$(_lib_pg_datadir)}"
    bindir="$(_lib_pg_bindir)" || return 0
    [ -s "$data/PG_VERSION" ] || return 0
    if _lib_as_pg "$bindir/pg_ctl" -D "$data" status >/dev/null 2>&1; then
        _lib_as_pg "$bindir/pg_ctl" -D "$data" -m fast -w -t 60 stop >/dev/null
    fi
}
