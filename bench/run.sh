#!/bin/sh
# mod_mcp_session benchmark: `make -f Makefile.apxs bench` (= sh bench/run.sh).
#
# Run as root on Debian 12. Installs what is missing (wrk and friends from
# Debian, the Node packages of bench/node via `npm ci`), builds the module and
# bench/mod_mcp_floor.c, starts every target on 127.0.0.1 with generated
# configs in a temporary directory, checks that each answers correctly,
# measures with wrk (targets interleaved round by round; medians), prints a
# markdown report and writes it with the raw data to bench/results/. Every
# process it starts is stopped on exit.
#
#   sh bench/run.sh [--quick] [--rounds N] [--duration S] [--init-duration S]
#                   [--sessions N] [--connections N] [--threads N]
#                   [--skip-install] [--skip-build] [--only T1,T2,...]
#                   [--sql-pool N]
#
# --only: measure these targets only (e.g. --only mem,ext,extmod,sql): the
# tools/call and initialize slots of the targets named, the gateway latency
# phase only with proxy or gw, the live-session phase only with "scale".
# --sql-pool: DBDMin = DBDKeep = DBDMax of the sql target (default 4 per
# child: a store call holds a connection ~0.3 ms, and more backends than
# cores only queue in the scheduler)
#
# Targets (tools/call echo on an existing session):
#   floor     bench/mod_mcp_floor.c: a bare handler returning the same bytes
#   mem       mod_mcp_session, MCPSessionStorageMode memory
#   ext       mod_mcp_session, MCPSessionStorageMode external (loopback Redis)
#             through the built-in apr_redis provider
#   extmod    the same with mod_mcp_session_redis loaded (hiredis + our
#             sockets: one round trip per store call), same Redis, own prefix
#   sql       mod_mcp_session_sql: MCPSessionStore sql://mcp_session on a
#             PostgreSQL the bench starts (initdb in the work dir, loopback,
#             fsync off, a logged table), mod_dbd's pool (DBDMax per child
#             = connections / 2)
#   modern    the same external-mode instance, a 2026-07-28 tools/call (no
#             session: the envelope in _meta, MCP-Protocol-Version, Mcp-Method
#             and Mcp-Name headers): no store operation (Redis commands per
#             request are counted), so it should come close to the floor
#   sdkmem    official TypeScript SDK, sessions in memory (1 Node process)
#   sdkredis  TypeScript SDK + Redis session records like the SDK
#             "SessionStore" fork (2 Node cluster workers)
#   proxy     plain mod_proxy (ProxyPass, keep-alive worker) to the floor
#   gw        mod_mcp_session's gateway (MCPBackend, memory mode, a
#             keep-alive worker) to the same floor: what the gateway adds
#             (throughput under load, and latency with one connection)
# plus initialize requests/s (mem ext sdkmem sdkredis), memory-mode lookups
# with N live sessions vs 10, and bytes per session in shm and in Redis.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -u -o pipefail

BENCH=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$BENCH/.." && pwd)

ROUNDS=3
DURATION=10
INIT_DURATION=5
WARMUP=3
CONN=32
THREADS=2
SESSIONS=100000
SCALE_CAPACITY=120000    # the N-vs-10 instances
QUICK=0
SKIP_INSTALL=0
SKIP_BUILD=0
ONLY=""
SQL_POOL=4

usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit "${1:-0}"; }
while [ $# -gt 0 ]; do
    case "$1" in
        --quick) QUICK=1 ;;
        --rounds) ROUNDS=$2; shift ;;
        --duration) DURATION=$2; shift ;;
        --init-duration) INIT_DURATION=$2; shift ;;
        --sessions) SESSIONS=$2; shift ;;
        --connections) CONN=$2; shift ;;
        --threads) THREADS=$2; shift ;;
        --skip-install) SKIP_INSTALL=1 ;;
        --skip-build) SKIP_BUILD=1 ;;
        --sql-pool) SQL_POOL=$2; shift ;;
        --only) ONLY=" $(printf '%s' "$2" | tr ',' ' ') "; shift ;;
        -h|--help) usage 0 ;;
        *) echo "unknown option: $1" >&2; usage 2 ;;
    esac
    shift
done
if [ "$QUICK" = 1 ]; then
    ROUNDS=1; DURATION=2; INIT_DURATION=1; WARMUP=1; SESSIONS=10000
fi
# Target 2 is restarted (empty) before each initialize slot; its capacity
# leaves room for 60,000 initialize/s (twice the fastest seen on 2 cores), so
# the store never fills during a slot.
MEM_CAPACITY=$(( INIT_DURATION * 60000 > 100000 ? INIT_DURATION * 60000 : 100000 ))
if [ "$SESSIONS" -gt $((SCALE_CAPACITY - 1000)) ]; then
    SCALE_CAPACITY=$((SESSIONS + SESSIONS / 5 + 1000))
fi

# selected TARGET: measured in this run (every target without --only)
selected() { [ -z "$ONLY" ] || case "$ONLY" in *" $1 "*) return 0 ;; *) return 1 ;; esac; }

say() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { say "ERROR: $*"; exit 1; }

STAMP=$(date +%Y%m%d-%H%M%S)
RESULTS="$BENCH/results/$STAMP$([ "$QUICK" = 1 ] && echo -quick)"
mkdir -p "$RESULTS/raw" "$RESULTS/logs" || die "cannot create $RESULTS"
WORK=$(mktemp -d /tmp/mcp-bench.XXXXXX) || die "mktemp failed"
chmod 755 "$WORK"

IS_ROOT=0
[ "$(id -u)" = 0 ] && IS_ROOT=1
RUN_USER=nobody
RUN_GROUP=$(id -gn nobody 2>/dev/null || echo nogroup)

# ---------------------------------------------------------------- cleanup
HTTPD_DIRS=()
BG_PIDS=()
PG_PID=""

stop_httpd() {
    local d=$1 pid i
    [ -f "$d/httpd.pid" ] || return 0
    pid=$(cat "$d/httpd.pid" 2>/dev/null)
    [ -n "$pid" ] || return 0
    kill -TERM "$pid" 2>/dev/null || return 0
    for i in $(seq 1 100); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null
}

cleanup() {
    local rc=$? d pid i stoppers
    trap - EXIT INT TERM
    say "stopping everything"
    for pid in "${BG_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
    # PostgreSQL: fast shutdown (SIGINT; SIGTERM would wait for the clients)
    [ -n "$PG_PID" ] && kill -INT "$PG_PID" 2>/dev/null
    stoppers=()
    for d in "${HTTPD_DIRS[@]}"; do stop_httpd "$d" & stoppers+=($!); done
    for pid in "${stoppers[@]}"; do wait "$pid"; done
    for pid in "${BG_PIDS[@]}" $PG_PID; do
        for i in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null
    done
    [ -f "$WORK/pg/server.log" ] && cp "$WORK/pg/server.log" "$RESULTS/logs/postgresql.log"
    for d in "$WORK"/*/; do
        d=${d%/}
        [ -f "$d/error.log" ] && cp "$d/error.log" "$RESULTS/logs/$(basename "$d")-error.log"
        [ -f "$d/httpd.conf" ] && cp "$d/httpd.conf" "$RESULTS/logs/$(basename "$d")-httpd.conf"
    done
    cp "$WORK"/*.log "$RESULTS/logs/" 2>/dev/null
    rm -rf "$WORK"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- helpers
jstr() { node -e 'process.stdout.write(JSON.stringify(process.argv[1]))' -- "$1"; }
meta() { printf '%s\n' "$1" >> "$RESULTS/meta.jsonl"; }
info() { meta "{\"kind\":\"info\",\"key\":\"$1\",\"value\":$(jstr "$2")}"; }
note() { say "note: $1"; meta "{\"kind\":\"note\",\"text\":$(jstr "$1")}"; }
load1() { cut -d' ' -f1-3 /proc/loadavg; }

NEXT_PORT=$((20000 + RANDOM % 20000))
# pick_port VAR: a free loopback port.
pick_port() {
    local p=$NEXT_PORT
    while (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; do p=$((p + 1)); done
    NEXT_PORT=$((p + 1))
    printf -v "$1" '%s' "$p"
}

wait_port() { # port seconds
    local i
    for i in $(seq 1 $(($2 * 10))); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

# Prefix that runs a command unprivileged when we are root. An array, not a
# function: `"${AS_USER[@]}" node ... &` must leave the server's own pid in $!.
AS_USER=()
if [ "$IS_ROOT" = 1 ] && command -v setpriv >/dev/null; then
    AS_USER=(setpriv --reuid="$RUN_USER" --regid="$RUN_GROUP" --clear-groups --)
fi

# ---------------------------------------------------------------- install
install_deps() {
    local pkgs=()
    command -v wrk >/dev/null || pkgs+=(wrk)
    command -v apxs >/dev/null || pkgs+=(apache2-dev)
    [ -x /usr/sbin/apache2 ] || pkgs+=(apache2)
    command -v redis-server >/dev/null || pkgs+=(redis-server)
    command -v redis-cli >/dev/null || pkgs+=(redis-tools)
    command -v node >/dev/null || pkgs+=(nodejs)
    command -v npm >/dev/null || pkgs+=(npm)
    command -v curl >/dev/null || pkgs+=(curl)
    command -v make >/dev/null || pkgs+=(make)
    [ -f /usr/include/jansson.h ] || pkgs+=(libjansson-dev)
    [ -f /usr/include/apr-1.0/apr_redis.h ] || pkgs+=(libaprutil1-dev)
    [ -f /usr/include/openssl/hmac.h ] || pkgs+=(libssl-dev)
    if [ ${#pkgs[@]} -gt 0 ]; then
        [ "$IS_ROOT" = 1 ] || die "missing packages (${pkgs[*]}); run as root or install them"
        say "installing from Debian: ${pkgs[*]}"
        DEBIAN_FRONTEND=noninteractive apt-get update -qq >"$RESULTS/logs/apt.log" 2>&1 &&
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${pkgs[@]}" \
            >>"$RESULTS/logs/apt.log" 2>&1 || die "apt-get install failed (see $RESULTS/logs/apt.log)"
    fi
    if [ ! -f "$BENCH/node/node_modules/@modelcontextprotocol/sdk/package.json" ] ||
       [ "$BENCH/node/package-lock.json" -nt "$BENCH/node/node_modules/.package-lock.json" ]; then
        say "npm ci in bench/node"
        (cd "$BENCH/node" && npm ci --no-audit --no-fund) >"$RESULTS/logs/npm.log" 2>&1 ||
            die "npm ci failed (see $RESULTS/logs/npm.log)"
    fi
}
[ "$SKIP_INSTALL" = 1 ] || install_deps
for c in wrk apxs redis-server redis-cli node curl; do
    command -v "$c" >/dev/null || die "$c not found"
done

# Threads per child: enough for every connection to land on one child. With
# fewer (e.g. 25 for 32 connections) a child whose workers are all busy makes
# the event MPM close its kept-alive connections, and a request already sent
# on one is lost (wrk counts a read error): an httpd tuning artefact that hits
# slower handlers more, so it would skew the comparison.
TPC=$(( CONN + 16 > 50 ? CONN + 16 : 50 ))

HTTPD=${HTTPD:-$(apxs -q SBINDIR)/$(apxs -q TARGET)}
MODDIR=$(apxs -q LIBEXECDIR)
[ -x "$HTTPD" ] || die "httpd binary $HTTPD not found"

# ---------------------------------------------------------------- machine
info date "$(date -u '+%Y-%m-%d %H:%M UTC')"
info cpu "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
info cores "$(nproc)"
info mem "$(awk '/MemTotal/ {printf "%.1f GiB RAM", $2/1048576}' /proc/meminfo)"
info os "Debian $(cat /etc/debian_version 2>/dev/null), kernel $(uname -r)"
info httpd "$("$HTTPD" -v 2>/dev/null | sed -n 's/^Server version: //p')"
info node "$(node -v)"
info sdk "@modelcontextprotocol/sdk $(node -p 'require(process.argv[1]).version' "$BENCH/node/node_modules/@modelcontextprotocol/sdk/package.json" 2>/dev/null)"
info redis "$(redis-server --version | sed -n 's/.* v=\([^ ]*\).*/\1/p')"
info wrk_args "-t$THREADS -c$CONN -d${DURATION}s --latency"
info connections "$CONN"
info rounds "$ROUNDS"
info init_duration "$INIT_DURATION"
info sessions "$SESSIONS"
info scale_capacity "$SCALE_CAPACITY"
[ -n "$ONLY" ] && info only "${ONLY# }"
info mode "$([ "$QUICK" = 1 ] && echo 'QUICK smoke test (short slots, 1 round): numbers are not meaningful' || echo full)"
info mpm "StartServers 2, ServerLimit 2, ThreadsPerChild $TPC, MaxRequestWorkers $((2 * TPC)), KeepAlive On, MaxKeepAliveRequests 0, mod_status loaded (ExtendedStatus On), no access log, User $RUN_USER"
LOAD_BEFORE=$(load1)
info load_before "$LOAD_BEFORE"
uptime > "$RESULTS/uptime-before.txt"
# The load average counts runnable threads (a saturated httpd makes it high
# by itself); the idle CPU share just before the start says whether
# something else was running.
cpu_idle() { # percent of CPU time idle over the next 2 seconds
    local a b
    a=($(sed -n 's/^cpu  //p' /proc/stat)); sleep 2; b=($(sed -n 's/^cpu  //p' /proc/stat))
    awk -v t1="$(( ${a[0]} + ${a[1]} + ${a[2]} + ${a[3]} + ${a[4]} + ${a[5]} + ${a[6]} + ${a[7]} ))" \
        -v t2="$(( ${b[0]} + ${b[1]} + ${b[2]} + ${b[3]} + ${b[4]} + ${b[5]} + ${b[6]} + ${b[7]} ))" \
        -v i1="$(( ${a[3]} + ${a[4]} ))" -v i2="$(( ${b[3]} + ${b[4]} ))" \
        'BEGIN { printf "%.0f%%", (t2 > t1) ? 100 * (i2 - i1) / (t2 - t1) : 0 }'
}
info cpu_idle_before "$(cpu_idle)"
top -b -n 2 -d 1 -w 200 2>/dev/null | awk '/^top -/ { n++ } n == 2' | head -25 > "$RESULTS/top-before.txt"
say "results: $RESULTS  (load $LOAD_BEFORE)"

# ---------------------------------------------------------------- build
MODULE_OK=0
MODULE_WHY=""
if [ "$SKIP_BUILD" = 1 ] || make -C "$ROOT" -f Makefile.apxs >"$RESULTS/logs/build-module.log" 2>&1; then
    if [ -f "$ROOT/.libs/mod_mcp_session.so" ] && [ -f "$ROOT/.libs/mod_mcp_example.so" ]; then
        # Private copies: a rebuild in the tree during the run changes nothing.
        mkdir -p "$WORK/modules"
        cp "$ROOT/.libs/mod_mcp_session.so" "$ROOT/.libs/mod_mcp_example.so" "$WORK/modules/"
        cp "$ROOT/.libs/mod_mcp_session_redis.so" "$WORK/modules/" 2>/dev/null || true
        cp "$ROOT/.libs/mod_mcp_session_sql.so" "$WORK/modules/" 2>/dev/null || true
        MODULE_OK=1
    else
        MODULE_WHY="build produced no .libs/mod_mcp_session.so / mod_mcp_example.so"
    fi
else
    MODULE_WHY="module build failed: $(grep -m1 -E "error|\*\*\*" "$RESULTS/logs/build-module.log" | cut -c1-200)"
fi
[ "$MODULE_OK" = 1 ] || say "module not available: $MODULE_WHY"

mkdir -p "$WORK/build"
cp "$BENCH/mod_mcp_floor.c" "$WORK/build/"
FLOOR_SO="$WORK/build/.libs/mod_mcp_floor.so"
(cd "$WORK/build" && apxs -c -Wc,"-Wall -Wextra -Werror -Wno-unused-parameter -Wno-missing-field-initializers" \
    mod_mcp_floor.c) >"$RESULTS/logs/build-floor.log" 2>&1 && [ -f "$FLOOR_SO" ] ||
    die "building bench/mod_mcp_floor.c failed (see $RESULTS/logs/build-floor.log)"

# ---------------------------------------------------------------- servers
declare -A PORT URL SIDS CHECK_OK
for t in floor mem ext extmod sql sdkmem sdkredis s10 sN redis pg proxy gw; do pick_port "PORT[$t]"; done
for t in floor mem ext extmod sql sdkmem sdkredis s10 sN proxy gw; do URL[$t]="http://127.0.0.1:${PORT[$t]}/mcp"; done

# httpd_conf NAME EXTRA: write $WORK/NAME/httpd.conf (same MPM settings for all)
httpd_conf() {
    local name=$1 extra=$2 d="$WORK/$1" user=""
    mkdir -p "$d"
    [ "$IS_ROOT" = 1 ] && user="User $RUN_USER
Group $RUN_GROUP"
    cat >"$d/httpd.conf" <<EOF
# generated by bench/run.sh
ServerRoot "$d"
ServerName 127.0.0.1
Listen 127.0.0.1:${PORT[$name]}
PidFile "$d/httpd.pid"
ErrorLog "$d/error.log"
DefaultRuntimeDir "$d"
DocumentRoot "$d"
$user
LoadModule mpm_event_module $MODDIR/mod_mpm_event.so
LoadModule authz_core_module $MODDIR/mod_authz_core.so
LoadModule status_module $MODDIR/mod_status.so
StartServers 2
ServerLimit 2
ThreadLimit $TPC
ThreadsPerChild $TPC
MinSpareThreads $TPC
MaxSpareThreads $((2 * TPC))
MaxRequestWorkers $((2 * TPC))
MaxConnectionsPerChild 0
KeepAlive On
MaxKeepAliveRequests 0
KeepAliveTimeout 30
Timeout 30
ExtendedStatus On
# As in Debian's apache2.conf: no .htaccess lookups on every request.
<Directory />
    AllowOverride None
</Directory>
<Location /server-status>
    SetHandler server-status
    Require all granted
</Location>
$extra
EOF
}

start_httpd() { # NAME
    local d="$WORK/$1" old
    if ! "$HTTPD" -f "$d/httpd.conf" -k start >"$d/start.log" 2>&1; then
        # the port was free when picked, but other processes on this
        # machine may have taken it since: once more on another one
        if grep -q 'Address already in use' "$d/start.log"; then
            old=${PORT[$1]}
            pick_port "PORT[$1]"
            URL[$1]="http://127.0.0.1:${PORT[$1]}/mcp"
            sed -i "s/^Listen 127.0.0.1:$old\$/Listen 127.0.0.1:${PORT[$1]}/" "$d/httpd.conf"
            say "$1: port $old taken meanwhile, now ${PORT[$1]}"
            "$HTTPD" -f "$d/httpd.conf" -k start >"$d/start.log" 2>&1 && old=""
        fi
        if [ -n "$old" ] || [ ! -f "$d/httpd.pid" ]; then
            say "$1: httpd did not start: $(head -c 300 "$d/start.log")"
            return 1
        fi
    fi
    HTTPD_DIRS+=("$d")
    wait_port "${PORT[$1]}" 15 || { say "$1: httpd not listening: $(tail -3 "$d/error.log" 2>/dev/null)"; return 1; }
}

mcp_conf() { # MODE-LINES CAPACITY
    cat <<EOF
LogLevel warn mcp_session:notice
LoadModule mcp_session_module $WORK/modules/mod_mcp_session.so
LoadModule mcp_example_module $WORK/modules/mod_mcp_example.so
$1
<Location /mcp>
    SetHandler mcp-session
</Location>
EOF
}

# Redis (for target 3 and target 5).
mkdir -p "$WORK/redis"
redis-server --port "${PORT[redis]}" --bind 127.0.0.1 --save '' --appendonly no \
    --dir "$WORK/redis" --logfile "$WORK/redis/redis.log" >/dev/null 2>&1 &
BG_PIDS+=($!)
wait_port "${PORT[redis]}" 10 || die "redis-server did not start"
REDIS="127.0.0.1:${PORT[redis]}"
rcli() { redis-cli -h 127.0.0.1 -p "${PORT[redis]}" "$@"; }

# PostgreSQL (target sql), as t/lib/MCPPostgres.pm starts it: initdb in the
# work dir (as postgres when root: initdb refuses root), every setting in
# postgresql.conf, TCP on 127.0.0.1 only, a database mcp owned by role mcp.
PG_WHY=""
PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k5 -n | tail -1)
PSQL() { PGCONNECT_TIMEOUT=5 "$PG_BIN/psql" -X -q -A -t -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "${PORT[pg]}" "$@"; }
start_pg() {
    local run=() d="$WORK/pg"
    [ -n "$PG_BIN" ] && [ -x "$PG_BIN/initdb" ] || { PG_WHY="PostgreSQL is not installed (apt-get install postgresql)"; return 1; }
    ls /usr/lib/*/apr-util-1/apr_dbd_pgsql*.so >/dev/null 2>&1 ||
        { PG_WHY="the apr_dbd pgsql driver is not installed (apt-get install libaprutil1-dbd-pgsql)"; return 1; }
    [ -f "$WORK/modules/mod_mcp_session_sql.so" ] || { PG_WHY="no .libs/mod_mcp_session_sql.so"; return 1; }
    mkdir -p "$d"
    if [ "$IS_ROOT" = 1 ]; then run=(runuser -u postgres --); chown postgres "$d"; fi
    chmod 700 "$d"
    "${run[@]}" "$PG_BIN/initdb" -D "$d/data" -U postgres --auth=trust --encoding=UTF8 --locale=C \
        --no-sync >"$WORK/pg-initdb.log" 2>&1 || { PG_WHY="initdb failed: $(tail -1 "$WORK/pg-initdb.log")"; return 1; }
    cat >>"$d/data/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = ${PORT[pg]}
unix_socket_directories = ''
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 200
# in logs/postgresql.log: what could make a store call slow
log_min_duration_statement = 100
log_autovacuum_min_duration = 0
log_lock_waits = on
EOF
    "${run[@]}" "$PG_BIN/pg_ctl" -D "$d/data" -l "$d/server.log" -w -t 30 start >"$WORK/pg-start.log" 2>&1 ||
        { PG_WHY="pg_ctl start failed: $(tail -2 "$d/server.log" | tr '\n' ' ')"; return 1; }
    PG_PID=$(head -1 "$d/data/postmaster.pid")
    PSQL -U postgres -d postgres -c 'CREATE ROLE mcp LOGIN' -c 'CREATE DATABASE mcp OWNER mcp' \
        >"$WORK/pg-setup.log" 2>&1 || { PG_WHY="creating role/database failed: $(head -c 200 "$WORK/pg-setup.log")"; return 1; }
    info postgresql "$("$PG_BIN/postgres" --version | sed 's/.*) //'), fsync off, synchronous_commit off, logged table"
}
PG_OK=0
if [ "$MODULE_OK" = 1 ] && selected sql; then
    if start_pg; then PG_OK=1; else say "sql: $PG_WHY"; fi
fi

# Node targets.
"${AS_USER[@]}" node "$BENCH/node/sdk-server.mjs" --port "${PORT[sdkmem]}" --mode memory \
    >"$WORK/sdkmem.log" 2>&1 &
BG_PIDS+=($!)
"${AS_USER[@]}" node "$BENCH/node/sdk-server.mjs" --port "${PORT[sdkredis]}" --mode redis \
    --redis "$REDIS" --workers 2 >"$WORK/sdkredis.log" 2>&1 &
BG_PIDS+=($!)

START_FAIL=()
if [ "$MODULE_OK" = 1 ]; then
    httpd_conf mem "$(mcp_conf "MCPSessionStorageMode memory
MCPSessionCapacity $MEM_CAPACITY")"
    httpd_conf ext "$(mcp_conf "MCPSessionStorageMode external
MCPSessionStore redis://$REDIS")"
    httpd_conf extmod "$(mcp_conf "LoadModule mcp_session_redis_module $WORK/modules/mod_mcp_session_redis.so
MCPSessionStorageMode external
MCPSessionStore redis://$REDIS
MCPSessionKeyPrefix mcp:extmod:")"
    # mksessions.mjs only initializes (no notifications/initialized): the
    # handshake TTL as long as the TTL, or the sessions of phase 3 expire
    # after 60 s, in the middle of its rounds
    httpd_conf s10 "$(mcp_conf "MCPSessionStorageMode memory
MCPSessionCapacity $SCALE_CAPACITY
MCPSessionHandshakeTTL 3600")"
    httpd_conf sN "$(mcp_conf "MCPSessionStorageMode memory
MCPSessionCapacity $SCALE_CAPACITY
MCPSessionHandshakeTTL 3600")"
    for t in mem ext extmod s10 sN; do
        start_httpd "$t" || START_FAIL+=("$t")
    done
    # all opened when the child starts (DBDMin = DBDMax): mod_dbd opens
    # connections one at a time under its pool lock (~20 ms each here), so
    # many opened on demand under load keep calls waiting long enough to
    # trip the breaker
    SQL_DBDMAX=$SQL_POOL
    if [ "$PG_OK" = 1 ]; then
        httpd_conf sql "$(mcp_conf "LoadModule dbd_module $MODDIR/mod_dbd.so
LoadModule mcp_session_sql_module $WORK/modules/mod_mcp_session_sql.so
DBDriver pgsql
DBDParams \"host=127.0.0.1 port=${PORT[pg]} dbname=mcp user=mcp connect_timeout=2 application_name=mcp_bench\"
DBDMin $SQL_DBDMAX
DBDKeep $SQL_DBDMAX
DBDMax $SQL_DBDMAX
MCPSessionStorageMode external
MCPSessionStore sql://mcp_session")"
        start_httpd sql || START_FAIL+=(sql)
        info sql "DBDMin = DBDKeep = DBDMax = $SQL_DBDMAX per child (2 children), MCPSessionSQLPrepared on (default), MCPSessionRefreshAfter default (TTL/2)"
    fi
fi
for t in sdkmem sdkredis; do
    wait_port "${PORT[$t]}" 20 || START_FAIL+=("$t")
done

# ---------------------------------------------------------------- checks
INIT_BODY='{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"mcp-bench","version":"1.0.0"}}}'
INITIALIZED_BODY='{"jsonrpc":"2.0","method":"notifications/initialized"}'
ECHO_TEXT=hello
CALL_BODY='{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","arguments":{"text":"'$ECHO_TEXT'"}}}'
# The same call on the 2026-07-28 wire: what a v2 SDK client sends.
MODERN_BODY='{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","arguments":{"text":"'$ECHO_TEXT'"},"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientInfo":{"name":"mcp-bench","version":"1.0.0"},"io.modelcontextprotocol/clientCapabilities":{}}}}'
MODERN_HEADERS='MCP-Protocol-Version: 2026-07-28|Mcp-Method: tools/call|Mcp-Name: echo'
FLOOR_SID=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA

post() { # URL BODY OUTPREFIX [SID] -> HTTP_STATUS, OUTPREFIX.h, OUTPREFIX.b
    local args=(-s -S -m 10 -o "$3.b" -D "$3.h" -w '%{http_code}' -X POST
                -H 'Content-Type: application/json'
                -H 'Accept: application/json, text/event-stream' --data-binary "$2")
    [ -n "${4:-}" ] && args+=(-H "Mcp-Session-Id: $4" -H 'MCP-Protocol-Version: 2025-11-25')
    HTTP_STATUS=$(curl "${args[@]}" "$1" 2>"$3.err") || HTTP_STATUS=000
}
hdr() { grep -i -m1 "^$2:" "$1" 2>/dev/null | cut -d: -f2- | tr -d '\r' | sed 's/^ *//'; }
check_result() { # TARGET OK MSG
    CHECK_OK[$1]=$2
    meta "{\"kind\":\"check\",\"target\":\"$1\",\"ok\":$([ "$2" = 1 ] && echo true || echo false),\"msg\":$(jstr "$3")}"
    if [ "$2" = 1 ]; then say "check $1: ok ($3)"; else say "check $1: FAILED: $3"; fi
}
short() { head -c 200 "$1" 2>/dev/null | tr -d '\r\n'; }

check_mcp() { # TARGET
    local t=$1 p="$WORK/check-$1" sid ct v
    post "${URL[$t]}" "$INIT_BODY" "$p-init"
    [ "$HTTP_STATUS" = 200 ] || { check_result "$t" 0 "initialize: HTTP $HTTP_STATUS $(short "$p-init.b")$(short "$p-init.err")"; return 1; }
    ct=$(hdr "$p-init.h" content-type)
    case "$ct" in application/json*) ;; *) check_result "$t" 0 "initialize: Content-Type '$ct'"; return 1 ;; esac
    v=$(node "$BENCH/node/validate.mjs" init "$p-init.b") || { check_result "$t" 0 "initialize: $v"; return 1; }
    sid=$(hdr "$p-init.h" mcp-session-id)
    [ -n "$sid" ] || { check_result "$t" 0 "initialize: no Mcp-Session-Id header"; return 1; }
    post "${URL[$t]}" "$INITIALIZED_BODY" "$p-notif" "$sid"
    [ "$HTTP_STATUS" = 202 ] || { check_result "$t" 0 "notifications/initialized: HTTP $HTTP_STATUS (want 202) $(short "$p-notif.b")"; return 1; }
    post "${URL[$t]}" "$CALL_BODY" "$p-call" "$sid"
    [ "$HTTP_STATUS" = 200 ] || { check_result "$t" 0 "tools/call: HTTP $HTTP_STATUS $(short "$p-call.b")"; return 1; }
    ct=$(hdr "$p-call.h" content-type)
    case "$ct" in application/json*) ;; *) check_result "$t" 0 "tools/call: Content-Type '$ct'"; return 1 ;; esac
    v=$(node "$BENCH/node/validate.mjs" echo "$p-call.b" "$ECHO_TEXT") || { check_result "$t" 0 "tools/call: $v"; return 1; }
    SIDS[$t]=$sid
    check_result "$t" 1 "echo answered, $(wc -c <"$p-call.b") bytes"
}

for t in mem ext extmod sql s10 sN sdkmem sdkredis; do
    case "$t" in mem|ext|extmod|sql|s10|sN) [ "$MODULE_OK" = 1 ] || { check_result "$t" 0 "$MODULE_WHY"; continue; } ;; esac
    if [ "$t" = sql ]; then
        selected sql || continue
        [ "$PG_OK" = 1 ] || { check_result sql 0 "$PG_WHY"; continue; }
    fi
    if printf '%s\n' "${START_FAIL[@]}" | grep -qx "$t"; then
        check_result "$t" 0 "did not start (see logs/$t-error.log or logs/$t.log)"
        continue
    fi
    check_mcp "$t"
done
# extmod must really run on mod_mcp_session_redis (its mod_status lines),
# not on the built-in provider.
if [ "${CHECK_OK[extmod]:-0}" = 1 ] &&
   ! curl -s -m 10 "http://127.0.0.1:${PORT[extmod]}/server-status?auto" | grep -q '^MCPRedisMode:'; then
    check_result extmod 0 "no MCPRedisMode line in mod_status: mod_mcp_session_redis is not serving redis://"
fi

# sql must really keep its sessions in PostgreSQL: the session of the check
# is a row of mcp_session.
if [ "${CHECK_OK[sql]:-0}" = 1 ]; then
    n=$(PSQL -U mcp -d mcp -c 'SELECT count(*) FROM mcp_session' 2>&1)
    [ "$n" = 1 ] || check_result sql 0 "PostgreSQL holds '$n' rows in mcp_session after one initialize (want 1)"
fi

# modern: a 2026-07-28 echo on the external-mode instance, no session.
URL[modern]=${URL[ext]}
if [ "${CHECK_OK[ext]:-0}" = 1 ]; then
    margs=(-s -S -m 10 -o "$WORK/check-modern.b" -D "$WORK/check-modern.h" -w '%{http_code}' -X POST
           -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream'
           --data-binary "$MODERN_BODY")
    IFS='|' read -r -a mh <<<"$MODERN_HEADERS"
    for h in "${mh[@]}"; do margs+=(-H "$h"); done
    HTTP_STATUS=$(curl "${margs[@]}" "${URL[modern]}" 2>"$WORK/check-modern.err") || HTTP_STATUS=000
    if [ "$HTTP_STATUS" != 200 ]; then
        check_result modern 0 "2026-07-28 tools/call: HTTP $HTTP_STATUS $(short "$WORK/check-modern.b")$(short "$WORK/check-modern.err")"
    elif [ -n "$(hdr "$WORK/check-modern.h" mcp-session-id)" ]; then
        check_result modern 0 "2026-07-28 tools/call: answered with an Mcp-Session-Id"
    elif ! v=$(node "$BENCH/node/validate.mjs" echo "$WORK/check-modern.b" "$ECHO_TEXT"); then
        check_result modern 0 "2026-07-28 tools/call: $v"
    else
        check_result modern 1 "echo answered without a session, $(wc -c <"$WORK/check-modern.b") bytes"
    fi
else
    check_result modern 0 "the external-mode instance failed its check"
fi

# The floor answers with the exact bytes mod_mcp_session sent for the echo
# (or a hand-written equivalent when the module is not available).
if [ "${CHECK_OK[mem]:-0}" = 1 ]; then
    cp "$WORK/check-mem-call.b" "$WORK/floor-body.json"
    FLOOR_BODY_FROM="the exact body mod_mcp_session sent"
else
    printf '%s' '{"jsonrpc":"2.0","id":2,"result":{"content":[{"type":"text","text":"hello"}]}}' >"$WORK/floor-body.json"
    FLOOR_BODY_FROM="a hand-written echo result (module not available)"
fi
httpd_conf floor "LogLevel warn
LoadModule mcp_floor_module $FLOOR_SO
MCPFloorResponseFile $WORK/floor-body.json
<Location /mcp>
    SetHandler mcp-floor
</Location>"
if start_httpd floor; then
    post "${URL[floor]}" "$CALL_BODY" "$WORK/check-floor" "$FLOOR_SID"
    if [ "$HTTP_STATUS" = 200 ] && cmp -s "$WORK/check-floor.b" "$WORK/floor-body.json"; then
        check_result floor 1 "$(wc -c <"$WORK/floor-body.json") bytes: $FLOOR_BODY_FROM"
    else
        check_result floor 0 "HTTP $HTTP_STATUS $(short "$WORK/check-floor.b")"
    fi
else
    check_result floor 0 "did not start (see logs/floor-error.log)"
fi

# The gateway rows: plain mod_proxy and MCPBackend in front of the floor
# (a backend that costs next to nothing, so it does not hide the gateway),
# both with a keep-alive worker for the floor.
PROXY_LOAD="LoadModule proxy_module $MODDIR/mod_proxy.so
LoadModule proxy_http_module $MODDIR/mod_proxy_http.so"
FLOOR_BACKEND="http://127.0.0.1:${PORT[floor]}/mcp"
if [ "${CHECK_OK[floor]:-0}" = 1 ]; then
    httpd_conf proxy "LogLevel warn
$PROXY_LOAD
ProxyPass /mcp $FLOOR_BACKEND keepalive=On"
    if start_httpd proxy; then
        post "${URL[proxy]}" "$CALL_BODY" "$WORK/check-proxy" "$FLOOR_SID"
        if [ "$HTTP_STATUS" = 200 ] && cmp -s "$WORK/check-proxy.b" "$WORK/floor-body.json"; then
            check_result proxy 1 "the floor's echo through ProxyPass"
        else
            check_result proxy 0 "HTTP $HTTP_STATUS $(short "$WORK/check-proxy.b")"
        fi
    else
        check_result proxy 0 "did not start (see logs/proxy-error.log)"
    fi
else
    check_result proxy 0 "the floor did not start"
fi
if [ "$MODULE_OK" = 1 ] && [ "${CHECK_OK[floor]:-0}" = 1 ]; then
    httpd_conf gw "LogLevel warn mcp_session:notice
$PROXY_LOAD
<Proxy \"http://127.0.0.1:${PORT[floor]}/\">
    ProxySet keepalive=On
</Proxy>
LoadModule mcp_session_module $WORK/modules/mod_mcp_session.so
MCPSessionStorageMode memory
MCPSessionCapacity 1000
<Location /mcp>
    SetHandler mcp-session
    MCPBackend $FLOOR_BACKEND
</Location>"
    if start_httpd gw; then
        post "${URL[gw]}" "$INIT_BODY" "$WORK/check-gw-init"
        sid=$(hdr "$WORK/check-gw-init.h" mcp-session-id)
        if [ "$HTTP_STATUS" != 200 ] || [ -z "$sid" ] || [ "$sid" = "$FLOOR_SID" ]; then
            check_result gw 0 "initialize through the gateway: HTTP $HTTP_STATUS, session '$sid' $(short "$WORK/check-gw-init.b")"
        elif post "${URL[gw]}" "$INITIALIZED_BODY" "$WORK/check-gw-notif" "$sid" && [ "${HTTP_STATUS#2}" = "$HTTP_STATUS" ]; then
            # without it the session would live only MCPSessionHandshakeTTL
            # (60 s), less than the run takes to reach the gateway's slots
            check_result gw 0 "notifications/initialized through the gateway: HTTP $HTTP_STATUS $(short "$WORK/check-gw-notif.b")"
        else
            post "${URL[gw]}" "$CALL_BODY" "$WORK/check-gw" "$sid"
            if [ "$HTTP_STATUS" = 200 ] && cmp -s "$WORK/check-gw.b" "$WORK/floor-body.json"; then
                SIDS[gw]=$sid
                check_result gw 1 "a gateway session of its own; the floor's echo through MCPBackend"
            else
                check_result gw 0 "tools/call through the gateway: HTTP $HTTP_STATUS $(short "$WORK/check-gw.b")"
            fi
        fi
    else
        check_result gw 0 "did not start (see logs/gw-error.log)"
    fi
else
    check_result gw 0 "${MODULE_WHY:-the floor did not start}"
fi

# ---------------------------------------------------------------- measure
LOAD_MAX=$(load1 | cut -d' ' -f1)
# run_slot PHASE TARGET ROUND SECONDS URL [VAR=value...]; ROUND "warmup" is not recorded
run_slot() {
    local phase=$1 target=$2 round=$3 dur=$4 url=$5 raw lb la j l1
    shift 5
    raw="$RESULTS/raw/$phase-$target-$round.txt"
    lb=$(load1)
    local c=$CONN t=$THREADS
    [ "$phase" = lat ] && c=1 && t=1     # one request at a time: latency, no queueing
    env "$@" timeout $((dur + 60)) wrk -t"$t" -c"$c" -d"${dur}s" --timeout 10s --latency \
        -s "$BENCH/wrk/mcp.lua" "$url" >"$raw" 2>&1
    la=$(load1)
    l1=${la%% *}
    LOAD_MAX=$(awk -v a="$LOAD_MAX" -v b="$l1" 'BEGIN { print (b > a) ? b : a }')
    j=$(sed -n 's/^BENCHJSON //p' "$raw" | tail -1)
    [ "$round" = warmup ] && return 0
    if [ -z "$j" ]; then
        printf '{"phase":"%s","target":"%s","round":"%s","skipped":%s}\n' "$phase" "$target" "$round" \
            "$(jstr "wrk failed: $(tail -c 200 "$raw" | tr -d '\n')")" >>"$RESULTS/runs.jsonl"
        say "$phase $target r$round: wrk failed"
        return 1
    fi
    printf '{"phase":"%s","target":"%s","round":%s,"seconds":%s,"load_before":"%s","load_after":"%s","wrk":%s}\n' \
        "$phase" "$target" "$round" "$dur" "$lb" "$la" "$j" >>"$RESULTS/runs.jsonl"
    say "$phase $target r$round: $(node -e 'const w=JSON.parse(process.argv[1]); console.log(`${w.rps} req/s, p50 ${(w.p50_us/1000).toFixed(2)} ms, p99 ${(w.p99_us/1000).toFixed(2)} ms, non-2xx ${w.non2xx}, socket errors ${w.err_connect+w.err_read+w.err_write+w.err_timeout}`)' "$j") (load $la)"
}
skip_slot() { # PHASE TARGET REASON
    printf '{"phase":"%s","target":"%s","round":1,"skipped":%s}\n' "$1" "$2" "$(jstr "$3")" >>"$RESULTS/runs.jsonl"
}

# Redis commands per request: INFO commandstats before and after a slot.
redis_calls() { rcli INFO commandstats 2>/dev/null | tr -d '\r' | sed -n 's/^cmdstat_\([a-z|]*\):calls=\([0-9]*\),.*/\1 \2/p'; }
redis_slot() { # PHASE TARGET ROUND SECONDS URL VARS... (run_slot, plus Redis commands per request)
    local before after n
    before=$(redis_calls)
    run_slot "$@" || return 1
    [ "$3" = 1 ] || return 0
    after=$(redis_calls)
    n=$(tail -1 "$RESULTS/runs.jsonl" | sed -n 's/.*"requests":\([0-9]*\).*/\1/p')
    [ -n "$n" ] && [ "$n" -gt 0 ] || return 0
    note "$1 $2: Redis commands per request: $(printf '%s\n--\n%s\n' "$before" "$after" | awk -v n="$n" '
        /^--$/ { second = 1; next }
        !second { b[$1] = $2; next }
        { d = $2 - b[$1]; if (d / n >= 0.005) printf "%s%s %.2f", (out++ ? ", " : ""), toupper($1), d / n }
        END { if (!out) printf "none" }')"
}

# 1. tools/call echo, targets interleaved.
CALL_TARGETS=()
for t in floor mem ext extmod sql modern sdkmem sdkredis proxy gw; do selected "$t" && CALL_TARGETS+=("$t"); done
call_env() { # TARGET
    case "$1" in
        floor|proxy) echo "BENCH_SID=$FLOOR_SID" ;;
        modern) echo "BENCH_HEADERS=$MODERN_HEADERS" ;;
        *) echo "BENCH_SID=${SIDS[$1]}" ;;
    esac
}
call_body() { # TARGET
    if [ "$1" = modern ]; then echo "$MODERN_BODY"; else echo "$CALL_BODY"; fi
}
say "phase 1: tools/call echo, ${ROUNDS} round(s) x ${DURATION}s (warm-up ${WARMUP}s each)"
for t in "${CALL_TARGETS[@]}"; do
    [ "${CHECK_OK[$t]:-0}" = 1 ] || { skip_slot call "$t" "check failed"; continue; }
    run_slot call "$t" warmup "$WARMUP" "${URL[$t]}" BENCH_BODY="$(call_body "$t")" "$(call_env "$t")"
done
for r in $(seq 1 "$ROUNDS"); do
    for t in "${CALL_TARGETS[@]}"; do
        [ "${CHECK_OK[$t]:-0}" = 1 ] || continue
        case "$t" in
            ext|extmod|modern|sdkredis) redis_slot call "$t" "$r" "$DURATION" "${URL[$t]}" BENCH_BODY="$(call_body "$t")" "$(call_env "$t")" ;;
            *) run_slot call "$t" "$r" "$DURATION" "${URL[$t]}" BENCH_BODY="$(call_body "$t")" "$(call_env "$t")" ;;
        esac
    done
done

# 1b. What the gateway adds to one request: one connection, one request at
# a time, plain mod_proxy and the gateway in front of the same floor.
say "phase 1b: gateway latency, one connection, ${ROUNDS} round(s) x ${DURATION}s"
for r in $(seq 1 "$ROUNDS"); do
    for t in proxy gw; do
        selected "$t" || continue
        [ "${CHECK_OK[$t]:-0}" = 1 ] || { [ "$r" = 1 ] && skip_slot lat "$t" "check failed"; continue; }
        run_slot lat "$t" "$r" "$DURATION" "${URL[$t]}" BENCH_BODY="$CALL_BODY" "$(call_env "$t")"
    done
done

# 2. Session creation: initialize requests/s.
INIT_TARGETS=()
for t in mem ext extmod sql sdkmem sdkredis; do selected "$t" && INIT_TARGETS+=("$t"); done
say "phase 2: initialize, ${ROUNDS} round(s) x ${INIT_DURATION}s"
# The memory store has a fixed capacity (by design, unlike the others): give
# every slot an empty one.
fresh() { # TARGET
    [ "$1" = mem ] || return 0
    stop_httpd "$WORK/mem"
    start_httpd mem || { say "mem: restart failed"; return 1; }
}
note "initialize: target 2 is restarted (empty store, MCPSessionCapacity $MEM_CAPACITY) before each initialize slot; the others keep the sessions of earlier slots"
for t in "${INIT_TARGETS[@]}"; do
    [ "${CHECK_OK[$t]:-0}" = 1 ] || { skip_slot init "$t" "check failed"; continue; }
    fresh "$t" && run_slot init "$t" warmup 1 "${URL[$t]}" BENCH_BODY="$INIT_BODY"
done
for r in $(seq 1 "$ROUNDS"); do
    for t in "${INIT_TARGETS[@]}"; do
        [ "${CHECK_OK[$t]:-0}" = 1 ] || continue
        if fresh "$t"; then
            case "$t" in
                ext|extmod|sdkredis) redis_slot init "$t" "$r" "$INIT_DURATION" "${URL[$t]}" BENCH_BODY="$INIT_BODY" ;;
                *) run_slot init "$t" "$r" "$INIT_DURATION" "${URL[$t]}" BENCH_BODY="$INIT_BODY" ;;
            esac
        else
            skip_slot init "$t" "restart failed"
        fi
    done
done

# 3. Memory mode with N live sessions vs 10.
SCALE_OK=0
if ! selected scale; then
    note "phase 3 skipped: not selected (--only)"
elif [ "${CHECK_OK[s10]:-0}" = 1 ] && [ "${CHECK_OK[sN]:-0}" = 1 ]; then
    say "phase 3: creating 10 + $SESSIONS sessions"
    if timeout 60 node "$BENCH/node/mksessions.mjs" "${URL[s10]}" 10 "$WORK/ids-s10" 8 >"$WORK/mksessions-s10.log" 2>&1 &&
       timeout 540 node "$BENCH/node/mksessions.mjs" "${URL[sN]}" "$SESSIONS" "$WORK/ids-sN" "$CONN" >"$WORK/mksessions-sN.log" 2>&1; then
        say "$(cat "$WORK/mksessions-sN.log")"
        info scale_created "$(cat "$WORK/mksessions-sN.log")"
        head -1 "$WORK/ids-s10" >"$WORK/one-s10"
        sed -n "$((SESSIONS / 2))p" "$WORK/ids-sN" >"$WORK/one-sN"
        # A created-but-never-used session must answer the echo too.
        post "${URL[sN]}" "$CALL_BODY" "$WORK/check-sN-one" "$(cat "$WORK/one-sN")"
        if [ "$HTTP_STATUS" = 200 ] && node "$BENCH/node/validate.mjs" echo "$WORK/check-sN-one.b" "$ECHO_TEXT" >/dev/null; then
            SCALE_OK=1
        else
            note "phase 3 skipped: a session made by mksessions does not answer the echo: HTTP $HTTP_STATUS $(short "$WORK/check-sN-one.b")"
        fi
    else
        note "phase 3 skipped: creating sessions failed: $(cat "$WORK/mksessions-s10.log" "$WORK/mksessions-sN.log" 2>/dev/null | tr '\n' ' ')"
    fi
else
    note "phase 3 skipped: the memory-mode instances did not pass their checks"
fi
if [ "$SCALE_OK" = 1 ]; then
    say "phase 3: lookups, ${ROUNDS} round(s) x ${DURATION}s"
    scale_slot() { # CASE ROUND SECONDS
        case "$1" in
            s10one) run_slot scale "$1" "$2" "$3" "${URL[s10]}" BENCH_BODY="$CALL_BODY" BENCH_IDS="$WORK/one-s10" ;;
            s10rand) run_slot scale "$1" "$2" "$3" "${URL[s10]}" BENCH_BODY="$CALL_BODY" BENCH_IDS="$WORK/ids-s10" ;;
            sNone) run_slot scale "$1" "$2" "$3" "${URL[sN]}" BENCH_BODY="$CALL_BODY" BENCH_IDS="$WORK/one-sN" ;;
            sNrand) run_slot scale "$1" "$2" "$3" "${URL[sN]}" BENCH_BODY="$CALL_BODY" BENCH_IDS="$WORK/ids-sN" ;;
        esac
    }
    for c in s10one s10rand sNone sNrand; do scale_slot "$c" warmup 1; done
    for r in $(seq 1 "$ROUNDS"); do
        for c in s10one s10rand sNone sNrand; do scale_slot "$c" "$r" "$DURATION"; done
    done
else
    for c in s10one s10rand sNone sNrand; do skip_slot scale "$c" "see notes"; done
fi

LOAD_AFTER=$(load1)
info load_after "$LOAD_AFTER"
info load_max "$LOAD_MAX"
uptime >"$RESULTS/uptime-after.txt"
top -b -n 2 -d 1 -w 200 2>/dev/null | awk '/^top -/ { n++ } n == 2' | head -25 > "$RESULTS/top-after.txt"

# ---------------------------------------------------------------- memory per session
status_auto() { curl -s -m 10 "http://127.0.0.1:${PORT[$1]}/server-status?auto" >"$RESULTS/status-$1.txt"; }
mem_row() { # STORE BYTES HOW
    meta "{\"kind\":\"mem\",\"store\":$(jstr "$1"),\"bytes\":$(jstr "$2"),\"how\":$(jstr "$3")}"
}
# Shared mappings of an httpd parent, in bytes.
shm_bytes() { # NAME
    local pid
    pid=$(cat "$WORK/$1/httpd.pid" 2>/dev/null) || return 1
    local range perms rest lo hi s=0
    while read -r range perms rest; do
        case "$perms" in *s*) lo=${range%-*}; hi=${range#*-}; s=$((s + 16#$hi - 16#$lo)) ;; esac
    done <"/proc/$pid/maps"
    echo "$s"
}
for t in mem ext extmod sql s10 sN; do [ "${CHECK_OK[$t]:-0}" = 1 ] && status_auto "$t"; done
if [ "${CHECK_OK[sN]:-0}" = 1 ]; then
    grep '^MCPSession' "$RESULTS/status-sN.txt" >"$RESULTS/status-sN-mcp.txt"
    PER_LINE=$(grep -i -m1 '^MCPSession[A-Za-z]*PerSession:' "$RESULTS/status-sN.txt")
    SHM=$(grep -i -m1 '^MCPSession[A-Za-z]*Shm[A-Za-z]*:' "$RESULTS/status-sN.txt" | sed 's/.*: *//; s/[^0-9].*//')
    CAP=$(grep -i -m1 '^MCPSession[A-Za-z]*Capacity:' "$RESULTS/status-sN.txt" | sed 's/.*: *//; s/[^0-9].*//')
    if [ -n "$PER_LINE" ]; then
        mem_row "memory mode (shm, reserved per capacity slot)" "$(printf '%s' "$PER_LINE" | sed 's/.*: *//; s/[^0-9].*//')" \
            "mod_status ?auto: $PER_LINE"
    elif [ -n "$SHM" ] && [ -n "$CAP" ] && [ "$CAP" -gt 0 ]; then
        mem_row "memory mode (shm, reserved per capacity slot)" "$((SHM / CAP))" \
            "mod_status ?auto: $(grep -i -m1 '^MCPSession[A-Za-z]*Shm' "$RESULTS/status-sN.txt") / $(grep -i -m1 '^MCPSession[A-Za-z]*Capacity:' "$RESULTS/status-sN.txt")"
    else
        mem_row "memory mode (shm, from mod_status)" "-" \
            "no MCPSession*Shm* / MCPSession*Capacity lines in mod_status ?auto (see status-sN.txt)"
    fi
    U=$(grep -i -m1 '^MCPSessionMemoryUsed:' "$RESULTS/status-sN.txt")
    [ -n "$U" ] && note "live sessions in the ${SESSIONS}-session instance after phase 3 (mod_status): $U"
    A=$(shm_bytes sN); B=$(shm_bytes floor)
    if [ -n "$A" ] && [ -n "$B" ]; then
        mem_row "memory mode (shm, shared mappings)" "$(( (A - B) / SCALE_CAPACITY ))" \
            "(shared mappings of the httpd parent with MCPSessionCapacity $SCALE_CAPACITY: $A B, minus the floor's $B B) / $SCALE_CAPACITY"
    fi
fi
redis_avg() { # STORE PATTERN
    local keys n=0 sum=0 vsum=0 k u v
    keys=$(rcli --scan --pattern "$2" 2>/dev/null | head -200)
    for k in $keys; do
        u=$(rcli MEMORY USAGE "$k" 2>/dev/null)
        v=$(rcli STRLEN "$k" 2>/dev/null)
        case "$u" in ''|*[!0-9]*) continue ;; esac
        n=$((n + 1)); sum=$((sum + u)); vsum=$((vsum + ${v:-0}))
    done
    if [ "$n" -gt 0 ]; then
        mem_row "$1" "$((sum / n))" "redis MEMORY USAGE averaged over $n keys '$2' (value $((vsum / n)) B, key $(printf '%s' "$k" | wc -c) B)"
    else
        mem_row "$1" "-" "no keys matching '$2' in Redis"
    fi
}
[ "${CHECK_OK[ext]:-0}" = 1 ] && redis_avg "external mode (Redis)" 'mcp:session:*'
[ "${CHECK_OK[extmod]:-0}" = 1 ] && redis_avg "external mode (Redis, mod_mcp_session_redis)" 'mcp:extmod:*'
[ "${CHECK_OK[sdkredis]:-0}" = 1 ] && redis_avg "TS SDK + Redis SessionStore" 'mcp-sdk:session:*'
if [ "${CHECK_OK[sql]:-0}" = 1 ]; then
    # the row alone (pg_column_size of the tuple), and the table with its
    # primary key index per live row
    b=$(PSQL -U mcp -d mcp -c "SELECT round(avg(pg_column_size(t.*))), count(*),
        pg_total_relation_size('mcp_session') FROM mcp_session t" 2>/dev/null)
    IFS='|' read -r row rows total <<<"$b"
    if [ -n "$rows" ] && [ "$rows" -gt 0 ] 2>/dev/null; then
        mem_row "external mode (PostgreSQL, mod_mcp_session_sql)" "$row" \
            "avg(pg_column_size(row)) over $rows rows; table + index $((total / rows)) B per row (pg_total_relation_size, dead tuples included)"
    fi
    PSQL -U postgres -d mcp -c "SELECT * FROM pg_stat_user_tables WHERE relname = 'mcp_session'" \
        >"$RESULTS/pg-stat-mcp_session.txt" 2>&1
fi
rcli INFO memory >"$RESULTS/redis-info-memory.txt" 2>/dev/null
rcli DBSIZE >"$RESULTS/redis-dbsize.txt" 2>/dev/null

for t in mem ext extmod sql sN; do
    [ -f "$RESULTS/status-$t.txt" ] || continue
    e=$(grep -i '^MCPSession' "$RESULTS/status-$t.txt" | grep -i -E 'error|notfound|not_found|expired|refused' | tr '\n' ' ')
    [ -n "$e" ] && note "mod_status of $t after the run: $e"
done
[ "$QUICK" = 1 ] && note "quick mode: 1 round of ${DURATION}s slots; use the full run for numbers"

# ---------------------------------------------------------------- report
node "$BENCH/node/summarize.mjs" "$RESULTS" >"$RESULTS/summary.md" || die "summarize failed"
cp "$RESULTS/summary.md" "$BENCH/results/latest.md"
cat "$RESULTS/summary.md"
say "raw data and logs: $RESULTS"
