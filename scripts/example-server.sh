#!/bin/sh
# Build mod_mcp_session and start the example MCP server on localhost.
#
#   sh scripts/example-server.sh            memory mode, http://127.0.0.1:8080/mcp
#   sh scripts/example-server.sh --fleet    two nodes (8080, 8081) sharing a
#                                           loopback redis-server (external mode)
#   sh scripts/example-server.sh --stop     stop what it started
#
# Run as root on Debian 12: it installs the packages it needs. The servers
# run as www-data, bind 127.0.0.1 only and keep their files in build/example/.
set -eu

cd "$(dirname "$0")/.."
TOP=$(pwd)
RUN="$TOP/build/example"
PORT=${MCP_PORT:-8080}
MODE=memory
case "${1:-}" in
    --fleet) MODE=fleet ;;
    --stop) MODE=stop ;;
    "") ;;
    *) echo "usage: $0 [--fleet|--stop]" >&2; exit 2 ;;
esac

stop_all() {
    for pid in "$RUN"/node*/httpd.pid; do
        [ -f "$pid" ] && kill "$(cat "$pid")" 2>/dev/null || true
    done
    [ -f "$RUN/redis/redis.pid" ] && kill "$(cat "$RUN/redis/redis.pid")" 2>/dev/null || true
    sleep 1
}

if [ "$MODE" = stop ]; then
    stop_all
    echo "stopped"
    exit 0
fi

need=""
for p in apache2 apache2-dev libjansson-dev libaprutil1-dev libssl-dev libhiredis-dev make gcc libc6-dev curl; do
    dpkg -s "$p" >/dev/null 2>&1 || need="$need $p"
done
if [ "$MODE" = fleet ]; then
    dpkg -s redis-server >/dev/null 2>&1 || need="$need redis-server"
fi
if [ -n "$need" ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "missing packages:$need (run as root, or install them)" >&2
        exit 1
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $need >/dev/null
fi

make -f Makefile.apxs >/dev/null
stop_all
mkdir -p "$RUN"
MODDIR=$(apxs -q LIBEXECDIR)
RUNUSER=www-data
id "$RUNUSER" >/dev/null 2>&1 || RUNUSER=nobody
RUNGROUP=$(id -gn "$RUNUSER")

# node_conf DIR PORT EXTRA: a minimal, self-contained httpd.conf
node_conf() {
    dir=$1; port=$2; extra=$3
    mkdir -p "$dir"
    chown "$RUNUSER" "$dir" 2>/dev/null || true
    cat > "$dir/httpd.conf" <<EOF
ServerRoot "$dir"
ServerName localhost
Listen 127.0.0.1:$port
PidFile "$dir/httpd.pid"
ErrorLog "$dir/error.log"
LogLevel warn mcp_session:info
LoadModule mpm_event_module $MODDIR/mod_mpm_event.so
LoadModule authz_core_module $MODDIR/mod_authz_core.so
LoadModule authz_host_module $MODDIR/mod_authz_host.so
LoadModule status_module $MODDIR/mod_status.so
LoadModule mcp_session_module "$TOP/.libs/mod_mcp_session.so"
LoadModule mcp_example_module "$TOP/.libs/mod_mcp_example.so"
# the conformance suite's tools too (the MCP Inspector shows them all)
MCPExampleTestTools on
<IfModule unixd_module>
    User $RUNUSER
    Group $RUNGROUP
</IfModule>
StartServers 2
ThreadsPerChild 25
ExtendedStatus On
$extra
<Location /mcp>
    SetHandler mcp-session
</Location>
<Location /server-status>
    SetHandler server-status
    Require ip 127.0.0.1
</Location>
EOF
    /usr/sbin/apache2 -f "$dir/httpd.conf" -k start
}

if [ "$MODE" = fleet ]; then
    mkdir -p "$RUN/redis"
    chown "$RUNUSER" "$RUN/redis" 2>/dev/null || true
    RPORT=$((PORT + 100))
    redis-server --bind 127.0.0.1 --port "$RPORT" --dir "$RUN/redis" \
        --appendonly yes --daemonize yes --pidfile "$RUN/redis/redis.pid" \
        --logfile "$RUN/redis/redis.log" >/dev/null
    STORE="MCPSessionStorageMode external
MCPSessionStore redis://127.0.0.1:$RPORT"
    node_conf "$RUN/node1" "$PORT" "$STORE"
    node_conf "$RUN/node2" "$((PORT + 1))" "$STORE"
    URLS="http://127.0.0.1:$PORT/mcp http://127.0.0.1:$((PORT + 1))/mcp"
else
    node_conf "$RUN/node1" "$PORT" ""
    URLS="http://127.0.0.1:$PORT/mcp"
fi

# wait until the endpoint answers an initialize
for url in $URLS; do
    i=0
    until curl -s -o /dev/null -H 'Content-Type: application/json' \
            -H 'Accept: application/json, text/event-stream' \
            -d '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"probe","version":"1"}}}' \
            "$url"; do
        i=$((i + 1))
        [ $i -lt 50 ] || { echo "the server at $url did not come up; see $RUN/node*/error.log" >&2; exit 1; }
        sleep 0.2
    done
done

FIRST=$(echo "$URLS" | cut -d' ' -f1)
cat <<EOF

mod_mcp_session is serving the example MCP server (tools echo, add, and the
conformance test_* tools, resources and prompts):

    $(echo "$URLS" | sed 's/ /\n    /g')

Connect an MCP client to that URL with the Streamable HTTP transport, e.g.
  MCP Inspector:  npx @modelcontextprotocol/inspector --cli $FIRST --transport http --method tools/list
  Claude Code:    claude mcp add --transport http apache-example $FIRST
  curl:           curl -si $FIRST -H 'Content-Type: application/json' \\
                    -H 'Accept: application/json, text/event-stream' \\
                    -d '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"curl","version":"1"}}}'

Status (counters, store health): http://127.0.0.1:$PORT/server-status
Logs: $RUN/node*/error.log      Stop: sh scripts/example-server.sh --stop
EOF
