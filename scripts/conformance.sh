#!/bin/sh
# Run the official MCP conformance suite (@modelcontextprotocol/conformance)
# against mod_mcp_session + mod_mcp_example, in both storage modes:
#
#   memory    one httpd on loopback, sessions in its shared memory;
#   external  two httpd nodes sharing a loopback redis-server, behind a
#             round-robin front (t/node/rr-proxy.mjs) that sends each HTTP
#             request to the other node, so every conversation alternates.
#
# For each mode it runs, with the baselines in t/conformance/:
#   0.1.16  all active and pending server scenarios (--suite all) at
#           --spec-version 2025-06-18 and 2025-11-25;
#   0.2.0   the pre-release's server-session-lifecycle scenario at both
#           (with --next-all: the pre-release's whole server suite, which
#           also validates every message against the spec's JSON schema);
#   0.2.0   --requirements 2026-07-28: every scenario the 2026-07-28
#           revision requires, at its stateless wire (no session: every
#           request carries its own _meta), on the same URL, plus the ones
#           it runs without scoring (pending: http-header-validation,
#           http-custom-header-server-validation, json-schema-2020-12;
#           extension: the tasks-* scenarios); baseline server-2026.yml.
#           Every node gets the same MCPRequestStateKeyFile (32 random
#           bytes, hex, made in the work directory), so in external mode
#           each round of a multi-round call lands on the other node and
#           its requestState still opens there;
# and in external mode also the SDK client (t/node/sdk-client.mjs) and the
# SDK v2 client with the v1 client (t/node/sdk2-client.mjs: 2026-07-28 with
# multi-round calls, and a session) with the two node URLs alternating.
# It prints a markdown table (scenario, spec version, mode, result, reason),
# saves it (--out FILE; default ${TMPDIR:-/tmp}/mcp-conformance-report-<uid>.md)
# and exits non-zero on any unexpected result (FAIL, STALE baseline entry,
# ERROR). --keep keeps the work directory (httpd logs, CLI output).
# --no-2026 leaves out the 2026-07-28 run (and the SDK v2 client);
# --only-2026 runs nothing else (no 0.1.16 run, no session-era SDK client).
#
# usage: sh scripts/conformance.sh [--modes memory,external] [--specs V,V]
#            [--out FILE] [--keep] [--no-next] [--next-all] [--no-sdk]
#            [--no-2026] [--only-2026]
# also:  make -f Makefile.apxs conformance
#
# Needs: the built modules (.libs/mod_mcp_session.so, .libs/mod_mcp_example.so;
# built here if missing and the tree is writable), node with t/node/node_modules
# installed (npm ci in t/node; no network is used here), redis-server for
# external mode. Runs as root (httpd children then run as nobody) or as an
# unprivileged user; everything it writes goes to a fresh temp directory.
# Environment: MCP_SESSION_SO, MCP_EXAMPLE_SO, MCP_TEST_MPM (event|worker|
# prefork, default event), APACHE_HTTPD, MCP_SHARED_DIR (default ../shared
# beside the repo), TMPDIR.
set -u

ROOT=$(cd "$(dirname "$0")/.." && pwd)
NODE_DIR="$ROOT/t/node"
BASE_DIR="$ROOT/t/conformance"
SHARED=${MCP_SHARED_DIR:-"$ROOT/../shared"}
MODES="memory,external"
SPECS="2025-06-18,2025-11-25"
OUT=""
KEEP=0
NEXT=1
NEXT_ALL=0
SDK=1
MODERN=1
LEGACY=1

while [ $# -gt 0 ]; do
    case "$1" in
        --modes|--mode) MODES="$2"; shift 2 ;;
        --specs|--spec) SPECS="$2"; shift 2 ;;
        --out) OUT="$2"; shift 2 ;;
        --keep) KEEP=1; shift ;;
        --no-next) NEXT=0; shift ;;
        --next-all) NEXT_ALL=1; shift ;;
        --no-sdk) SDK=0; shift ;;
        --no-2026) MODERN=0; shift ;;
        --only-2026) LEGACY=0; SDK=0; shift ;;
        -h|--help) sed -n '2,/^set -u$/{/^set -u$/!p}' "$0"; exit 0 ;;
        *) echo "conformance.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
MODES=$(echo "$MODES" | tr ',' ' ')
SPECS=$(echo "$SPECS" | tr ',' ' ')
if [ "$MODES" = "all" ]; then MODES="memory external"; fi

say() { printf '%s\n' "conformance: $*" >&2; }
die() { say "ERROR: $*"; exit 2; }

# ---------------------------------------------------------------- checks
command -v node >/dev/null 2>&1 || die "node is not installed"
CLI="$NODE_DIR/node_modules/@modelcontextprotocol/conformance/dist/index.js"
CLI_NEXT="$NODE_DIR/node_modules/conformance-next/dist/index.js"
[ -f "$CLI" ] || die "$CLI missing: run 'npm ci' in t/node first (scripts/test.sh does)"
[ "$NEXT" = 1 ] || MODERN=0
if [ "$NEXT" = 1 ] && [ ! -f "$CLI_NEXT" ]; then
    die "$CLI_NEXT missing: run 'npm ci' in t/node first"
fi

SO=${MCP_SESSION_SO:-"$ROOT/.libs/mod_mcp_session.so"}
EX_SO=${MCP_EXAMPLE_SO:-"$ROOT/.libs/mod_mcp_example.so"}
if [ ! -f "$SO" ] || [ ! -f "$EX_SO" ]; then
    if [ -w "$ROOT" ]; then
        say "building the modules (make -f Makefile.apxs)"
        (cd "$ROOT" && make -f Makefile.apxs >/dev/null) || die "build failed"
    fi
fi
[ -f "$SO" ] || die "$SO missing: build with 'make -f Makefile.apxs'"
[ -f "$EX_SO" ] || die "$EX_SO missing: build with 'make -f Makefile.apxs'"

APXS=$(command -v apxs || command -v apxs2 || echo /usr/bin/apxs)
HTTPD=${APACHE_HTTPD:-}
if [ -z "$HTTPD" ]; then
    HTTPD="$("$APXS" -q SBINDIR 2>/dev/null)/$("$APXS" -q TARGET 2>/dev/null)"
    [ -x "$HTTPD" ] || HTTPD=/usr/sbin/apache2
fi
[ -x "$HTTPD" ] || die "httpd binary not found (set APACHE_HTTPD)"
MODDIR=$("$APXS" -q LIBEXECDIR 2>/dev/null)
[ -d "$MODDIR" ] || MODDIR=/usr/lib/apache2/modules
MPM=${MCP_TEST_MPM:-event}
case "$MPM" in prefork|event|worker) ;; *) die "MCP_TEST_MPM must be prefork, event or worker" ;; esac

# The conformance CLI wants Node >= 22 (fs.globSync); on older Node load a
# resolve hook that hands it an fs with a stub globSync. The shared shim
# covers the 0.1.16 bundle; t/node/node20 also covers the npm alias of the
# pre-release (its path has no /@modelcontextprotocol/conformance/).
NODE_MAJOR=$(node -p 'process.versions.node.split(".")[0]')
SHIM=""
SHIM_NEXT=""
if [ "$NODE_MAJOR" -lt 22 ]; then
    if [ -f "$SHARED/tools/node20-shim/register.mjs" ]; then
        SHIM="--import $(cd "$SHARED/tools/node20-shim" && pwd)/register.mjs"
    else
        SHIM="--import $NODE_DIR/node20/register.mjs"
    fi
    SHIM_NEXT="--import $NODE_DIR/node20/register.mjs"
fi

# ---------------------------------------------------------------- work dir
WORK=$(mktemp -d "${TMPDIR:-/tmp}/mcp-conformance.XXXXXX") || die "mktemp failed"
chmod 755 "$WORK"
[ -n "$OUT" ] || OUT="${TMPDIR:-/tmp}/mcp-conformance-report-$(id -u).md"
MANIFEST="$WORK/manifest.tsv"
: > "$MANIFEST"
IS_ROOT=0
[ "$(id -u)" = 0 ] && IS_ROOT=1
# the requestState key every node shares: 32 random bytes in hex
KEYFILE="$WORK/request-state.key"
node -e 'process.stdout.write(require("crypto").randomBytes(32).toString("hex")+"\n")' \
    > "$KEYFILE" || die "could not write $KEYFILE"
chmod 600 "$KEYFILE"
PIDS_HTTPD=""
PID_REDIS=""
PID_PROXY=""

stop_pid() {   # pid: TERM, wait up to 10 s, then KILL
    _p=$1
    [ -n "$_p" ] || return 0
    kill -TERM "$_p" 2>/dev/null || return 0
    _i=0
    while kill -0 "$_p" 2>/dev/null && [ $_i -lt 100 ]; do sleep 0.1; _i=$((_i + 1)); done
    kill -KILL "$_p" 2>/dev/null || true
}

stop_all() {
    for _f in $PIDS_HTTPD; do
        [ -f "$_f" ] && stop_pid "$(cat "$_f")"
    done
    PIDS_HTTPD=""
    stop_pid "$PID_PROXY"; PID_PROXY=""
    stop_pid "$PID_REDIS"; PID_REDIS=""
}

# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() {
    stop_all
    if [ "$KEEP" = 1 ]; then
        say "kept $WORK"
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
    node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

wait_http() {   # url: wait up to 15 s for any HTTP answer
    _i=0
    while [ $_i -lt 150 ]; do
        if node -e 'fetch(process.argv[1]).then(()=>process.exit(0),()=>process.exit(1))' "$1" 2>/dev/null; then
            return 0
        fi
        sleep 0.1
        _i=$((_i + 1))
    done
    return 1
}

# start_httpd NAME PORT MODE REDIS_PORT ORIGIN...
start_httpd() {
    _name=$1 _port=$2 _mode=$3 _rport=$4
    shift 4
    _dir="$WORK/$_name"
    mkdir -p "$_dir/run" "$_dir/htdocs" "$_dir/logs"
    [ "$IS_ROOT" = 1 ] && chown nobody:nogroup "$_dir/run" && chmod 755 "$_dir"
    {
        echo "# generated by scripts/conformance.sh"
        echo "ServerRoot \"$_dir\""
        echo "DefaultRuntimeDir \"$_dir/run\""
        echo "PidFile \"$_dir/run/httpd.pid\""
        echo "Mutex file:$_dir/run default"
        echo "Listen 127.0.0.1:$_port"
        echo "ServerName 127.0.0.1"
        echo "LoadModule mpm_${MPM}_module \"$MODDIR/mod_mpm_${MPM}.so\""
        echo "LoadModule authz_core_module \"$MODDIR/mod_authz_core.so\""
        echo "LoadModule mcp_session_module \"$SO\""
        echo "LoadModule mcp_example_module \"$EX_SO\""
        echo "MCPExampleTestTools on"
        echo "MCPRequestStateKeyFile \"$KEYFILE\""
        if [ "$IS_ROOT" = 1 ]; then
            echo "User nobody"
            echo "Group nogroup"
        fi
        echo "ErrorLog \"$_dir/logs/error.log\""
        echo "LogLevel notice mcp_session:info"
        echo "LogFormat \"%h %t \\\"%r\\\" %>s %b %D \\\"%{Mcp-Session-Id}i\\\"\" mcp"
        echo "CustomLog \"$_dir/logs/access.log\" mcp"
        echo "DocumentRoot \"$_dir/htdocs\""
        echo "Timeout 60"
        echo "KeepAlive On"
        for _m in mpm_event_module mpm_worker_module; do
            echo "<IfModule $_m>"
            echo "    StartServers 2"
            echo "    ServerLimit 4"
            echo "    ThreadsPerChild 16"
            echo "    MinSpareThreads 16"
            echo "    MaxSpareThreads 48"
            echo "    MaxRequestWorkers 64"
            echo "</IfModule>"
        done
        echo "<IfModule mpm_prefork_module>"
        echo "    StartServers 4"
        echo "    MaxRequestWorkers 32"
        echo "</IfModule>"
        if [ "$_mode" = external ]; then
            echo "MCPSessionStorageMode external"
            echo "MCPSessionStore redis://127.0.0.1:$_rport"
            echo "MCPSessionKeyPrefix \"mcp:conformance:$$:\""
        else
            echo "MCPSessionStorageMode memory"
        fi
        echo "<Location /mcp>"
        echo "    SetHandler mcp-session"
        echo "    Require all granted"
        echo "    MCPAllowedOrigins $*"
        echo "</Location>"
    } > "$_dir/httpd.conf"
    if ! "$HTTPD" -d "$_dir" -f "$_dir/httpd.conf" -k start > "$_dir/logs/start.log" 2>&1; then
        cat "$_dir/logs/start.log" >&2
        tail -n 20 "$_dir/logs/error.log" >&2 2>/dev/null
        die "httpd $_name did not start"
    fi
    PIDS_HTTPD="$PIDS_HTTPD $_dir/run/httpd.pid"
    if ! wait_http "http://127.0.0.1:$_port/"; then
        tail -n 20 "$_dir/logs/error.log" >&2 2>/dev/null
        die "httpd $_name is not answering on 127.0.0.1:$_port"
    fi
    say "httpd $_name ($_mode, mpm $MPM) on 127.0.0.1:$_port"
}

start_redis() {
    _rport=$1
    command -v redis-server >/dev/null 2>&1 || die "redis-server is not installed (needed for external mode)"
    mkdir -p "$WORK/redis"
    redis-server --port "$_rport" --bind 127.0.0.1 --save "" --appendonly no \
        --dir "$WORK/redis" --logfile "$WORK/redis/redis.log" --daemonize no \
        > /dev/null 2>&1 &
    PID_REDIS=$!
    _i=0
    while [ $_i -lt 100 ]; do
        if command -v redis-cli >/dev/null 2>&1; then
            redis-cli -h 127.0.0.1 -p "$_rport" ping 2>/dev/null | grep -q PONG && break
        else
            node -e 'const s=require("net").connect(+process.argv[1],"127.0.0.1",()=>process.exit(0));s.on("error",()=>process.exit(1))' "$_rport" && break
        fi
        sleep 0.1
        _i=$((_i + 1))
    done
    [ $_i -lt 100 ] || die "redis-server did not start on 127.0.0.1:$_rport"
    say "redis-server on 127.0.0.1:$_rport"
}

start_proxy() {   # front_port backend_url...
    _fport=$1
    shift
    _args=""
    for _b in "$@"; do _args="$_args --backend $_b"; done
    # shellcheck disable=SC2086
    node "$NODE_DIR/rr-proxy.mjs" --listen "127.0.0.1:$_fport" $_args \
        > "$WORK/rr-proxy.log" 2>&1 &
    PID_PROXY=$!
    wait_http "http://127.0.0.1:$_fport/__rr_stats" || die "rr-proxy did not start"
    say "rr-proxy on 127.0.0.1:$_fport -> $*"
}

# run_cli MODE SPEC SUITE URL BASELINE ARGS...
run_cli() {
    _mode=$1 _spec=$2 _suite=$3 _url=$4 _base=$5
    shift 5
    _out="$WORK/results/$_mode-$_spec-$_suite"
    _log="$WORK/results/$_mode-$_spec-$_suite.log"
    mkdir -p "$_out"
    if [ "$_suite" = "0.1.16" ]; then
        _cli=$CLI _shim=$SHIM
    else
        _cli=$CLI_NEXT _shim=$SHIM_NEXT
    fi
    # --requirements fixes the wire version itself
    _specarg="--spec-version $_spec"
    [ "${1:-}" = "--requirements" ] && _specarg=""
    say "running $_suite at $_spec against $_url ($_mode)"
    # shellcheck disable=SC2086
    timeout 540 node $_shim "$_cli" server --url "$_url" $_specarg \
        --expected-failures "$_base" -o "$_out" "$@" > "$_log" 2>&1
    _rc=$?
    printf 'run\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$_mode" "$_spec" "$_suite" "$_out" \
        "$_base" "$_rc" "$_log" >> "$MANIFEST"
}

extra() {   # MODE SPEC SUITE NAME pass|fail REASON
    printf 'extra\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" "$(echo "$6" | tr '\t\n' '  ')" >> "$MANIFEST"
}

run_suites() {   # MODE URL
    if [ "$MODERN" = 1 ]; then
        run_cli "$1" 2026-07-28 0.2.0 "$2" "$BASE_DIR/server-2026.yml" \
            --requirements 2026-07-28
    fi
    [ "$LEGACY" = 1 ] || return 0
    for _s in $SPECS; do
        run_cli "$1" "$_s" 0.1.16 "$2" "$BASE_DIR/server-0.1.16.yml" --suite all
        if [ "$NEXT" = 1 ] && [ "$NEXT_ALL" = 1 ]; then
            run_cli "$1" "$_s" 0.2.0 "$2" "$BASE_DIR/server-0.2.0.yml" --suite all
        elif [ "$NEXT" = 1 ]; then
            run_cli "$1" "$_s" 0.2.0 "$2" "$BASE_DIR/server-0.2.0.yml" \
                --scenario server-session-lifecycle
        fi
    done
}

check_logs() {   # MODE NODE...: crashes and module errors in the error logs
    _m=$1
    shift
    for _n in "$@"; do
        _f="$WORK/$_n/logs/error.log"
        [ -f "$_f" ] || continue
        if grep -Eq 'exit signal|Segmentation fault|AH00052|AH02818|double free|stack smashing' "$_f"; then
            extra "$_m" "-" check "httpd $_n error log" fail \
                "child crash: $(grep -E 'exit signal|Segmentation|AH00052|double free|stack smashing' "$_f" | head -n 2 | tr '\n' ' ')"
        else
            _e=$(grep -Ec '\[(mcp_session|mcp_example):(error|crit|alert|emerg)\]' "$_f")
            extra "$_m" "-" check "httpd $_n error log" pass "no crash; $_e module error line(s)"
        fi
    done
}

# ---------------------------------------------------------------- runs
for MODE in $MODES; do
    case "$MODE" in
    memory)
        P=$(free_port)
        start_httpd memory "$P" memory 0 "http://127.0.0.1:$P" "http://localhost:$P"
        run_suites memory "http://127.0.0.1:$P/mcp"
        check_logs memory memory
        stop_all
        ;;
    external)
        RP=$(free_port)
        start_redis "$RP"
        FP=$(free_port)
        P1=$(free_port)
        P2=$(free_port)
        ORIGINS="http://127.0.0.1:$FP http://localhost:$FP http://127.0.0.1:$P1 http://localhost:$P1 http://127.0.0.1:$P2 http://localhost:$P2"
        # shellcheck disable=SC2086
        start_httpd node1 "$P1" external "$RP" $ORIGINS
        # shellcheck disable=SC2086
        start_httpd node2 "$P2" external "$RP" $ORIGINS
        start_proxy "$FP" "http://127.0.0.1:$P1" "http://127.0.0.1:$P2"
        run_suites external "http://127.0.0.1:$FP/mcp"
        STATS=$(node -e 'fetch(process.argv[1]).then(r=>r.json()).then(j=>console.log(j.counts.join(" ")))' \
            "http://127.0.0.1:$FP/__rr_stats" 2>/dev/null)
        # shellcheck disable=SC2086  # split the two counts
        set -- $STATS
        if [ $# -eq 2 ] && [ "$1" -gt 0 ] && [ "$2" -gt 0 ]; then
            extra external "-" check "rr-proxy spread over 2 nodes" pass "requests per node: $1 / $2"
        else
            extra external "-" check "rr-proxy spread over 2 nodes" fail "requests per node: ${STATS:-unknown}"
        fi
        if [ "$SDK" = 1 ]; then
            say "running the SDK client alternating node1/node2"
            if node "$NODE_DIR/sdk-client.mjs" --quiet "http://127.0.0.1:$P1/mcp" "http://127.0.0.1:$P2/mcp" \
                > "$WORK/sdk-client.json" 2> "$WORK/sdk-client.log"; then
                # shellcheck disable=SC2016  # JavaScript template literal
                extra external 2025-11-25 sdk "sdk-client (2 nodes alternating)" pass \
                    "$(node -e 'const j=JSON.parse(require("fs").readFileSync(process.argv[1]));console.log(`${j.requests} requests, per node ${j.perNode.join("/")}, tools ${j.tools.length}`)' "$WORK/sdk-client.json")"
            else
                extra external 2025-11-25 sdk "sdk-client (2 nodes alternating)" fail \
                    "$(node -e 'try{const j=JSON.parse(require("fs").readFileSync(process.argv[1]));console.log(j.failures.join("; "))}catch(e){console.log("no summary: "+e.message)}' "$WORK/sdk-client.json") $(tail -n 2 "$WORK/sdk-client.log" | tr '\n' ' ')"
            fi
        fi
        if [ "$MODERN" = 1 ]; then
            say "running the SDK v2 client alternating node1/node2"
            if node "$NODE_DIR/sdk2-client.mjs" --quiet "http://127.0.0.1:$P1/mcp" "http://127.0.0.1:$P2/mcp" \
                > "$WORK/sdk2-client.json" 2> "$WORK/sdk2-client.log"; then
                # shellcheck disable=SC2016  # JavaScript template literal
                extra external 2026-07-28 sdk "sdk2-client (2 nodes alternating)" pass \
                    "$(node -e 'const j=JSON.parse(require("fs").readFileSync(process.argv[1]));const m=j.v2.results.multiRound;console.log(`v2 ${j.v2.era}: ${j.v2.requests} requests, per node ${j.v2.perNode.join("/")}, multi-round on nodes ${m.nodes.join(",")}; v1 session: ${j.v1.requests} requests`)' "$WORK/sdk2-client.json")"
            else
                extra external 2026-07-28 sdk "sdk2-client (2 nodes alternating)" fail \
                    "$(node -e 'try{const j=JSON.parse(require("fs").readFileSync(process.argv[1]));console.log(j.failures.join("; "))}catch(e){console.log("no summary: "+e.message)}' "$WORK/sdk2-client.json") $(tail -n 2 "$WORK/sdk2-client.log" | tr '\n' ' ')"
            fi
        fi
        check_logs external node1 node2
        stop_all
        ;;
    *)
        die "unknown mode $MODE (memory or external)"
        ;;
    esac
done

# ---------------------------------------------------------------- report
node "$NODE_DIR/conformance-report.mjs" "$MANIFEST" --out "$OUT"
RC=$?
say "report: $OUT"
exit $RC
