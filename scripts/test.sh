#!/bin/sh
# scripts/test.sh: THE test command. On a fresh Debian 12, as root:
#
#     sh scripts/test.sh
#
# 1. installs what is missing (apt-get update only then);
# 2. npm install in t/node (if t/node/package.json exists);
# 3. builds the modules (make -f Makefile.apxs) and runs the unit tests
#    (make -f Makefile.apxs unit, if t/unit/unit_tests.c exists), then
#    checks counted as one test each: only the module records are exported
#    (make -f Makefile.apxs symbols), the tree follows its rules
#    (scripts/check-tree.sh), `make install DESTDIR=...` installs
#    exactly the expected files, and the Debian packages build and pass
#    lintian (make -f Makefile.apxs deb, skipped with MCP_TEST_DEB=0);
# 4. runs the Apache::Test suite (t/*.t) twice, from copies of the tree owned
#    by `nobody` (Apache::Test refuses root): once with the prefork MPM
#    (4+ children), once with the event MPM (2+ children); a test file
#    also fails when it leaves an error-log line at warn level or worse
#    that it does not declare with "# expect-log: TAG" (t/lib/MCPTest.pm);
# 5. prints "N passed, M failed" (last line) and exits non-zero if anything
#    failed or nothing ran.
#
# Environment:
#   MCP_TEST_MPMS="prefork event"  the MPM runs (default both)
#   MCP_TEST_KEEP=1                keep the work directory (logs) on success
#   MCP_TEST_DEB=0                 skip the Debian package build and lintian
#   MCP_TEST_LOG_CHECK=0           do not fail test files on error-log lines
#   ASAN=1                         build a private copy with AddressSanitizer,
#                                  run httpd with libasan preloaded, fail on
#                                  any AddressSanitizer report
#   APACHE_TEST_PORT               base port (default: select a free one)
#   MCP_*, APACHE_TEST_*, TEST_*, HARNESS_* are passed to the tests.
# Arguments go to t/TEST, e.g. `sh scripts/test.sh t/03-rpc.t`.
set -eu

TOP=$(cd "$(dirname "$0")/.." && pwd)
cd "$TOP"

say() { printf '==> %s\n' "$*"; }

# ---------------------------------------------------------------------------
# 1. Dependencies. The two OAuth modules (t/77, t/79) are enabled in
#    /etc/apache2 by their postinst; harmless here: the suite never reads
#    /etc/apache2 (t/TEST.PL writes its own base config, every extra node
#    its own httpd.conf, and the install check its own). postgresql may
#    create and start Debian's own cluster on 5432: the SQL tests never use
#    it (t/lib/MCPPostgres.pm runs initdb into its own directory on a free
#    port in 20000-32767, TCP on 127.0.0.1 only, and names host and port
#    in every connection).
PKGS="apache2 apache2-dev apache2-utils libjansson-dev libaprutil1-dev libssl-dev libhiredis-dev
      libapache2-mod-perl2 libwww-perl libjson-perl redis-server redis-tools
      make gcc libc6-dev locales libfaketime libapache2-mod-auth-openidc libapache2-mod-oauth2
      postgresql libaprutil1-dbd-pgsql libaprutil1-dbd-sqlite3 sqlite3"
missing=""
for p in $PKGS; do
    if ! dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
        missing="$missing $p"
    fi
done
# node/npm may come from elsewhere (e.g. NodeSource): check the commands
command -v node >/dev/null 2>&1 || missing="$missing nodejs"
command -v npm >/dev/null 2>&1 || missing="$missing npm"
command -v setpriv >/dev/null 2>&1 || missing="$missing util-linux"
MCP_TEST_DEB=${MCP_TEST_DEB:-1}
if [ "$MCP_TEST_DEB" != 0 ]; then
    for p in dpkg-dev debhelper lintian pkgconf; do
        dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' ||
            missing="$missing $p"
    done
fi
if [ -n "$missing" ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "missing packages:$missing (run as root to install them)" >&2
        exit 1
    fi
    say "installing:$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update
    # shellcheck disable=SC2086
    apt-get install -y $missing
else
    say "all packages present"
fi

APXS=$(command -v apxs || command -v apxs2 || echo /usr/bin/apxs)
HTTPD=$("$APXS" -q SBINDIR 2>/dev/null)/$("$APXS" -q TARGET 2>/dev/null)
[ -x "$HTTPD" ] || HTTPD=/usr/sbin/apache2

WORK=$(mktemp -d /tmp/mcp-test.XXXXXX)
chmod 755 "$WORK"

# ---------------------------------------------------------------------------
# 2. Node dependencies (t/node holds the Node scripts)
if [ -f t/node/package.json ]; then
    say "npm install in t/node"
    (cd t/node && npm install --no-audit --no-fund)
fi

# ---------------------------------------------------------------------------
# 3. Build and unit tests. With ASAN=1 in a private copy, so that the
#    source tree keeps its normal build.
ASAN=${ASAN:-0}
SRC=$TOP
if [ "$ASAN" = 1 ]; then
    SRC="$WORK/asan-src"
    mkdir -p "$SRC"
    tar -C "$TOP" --exclude=./.git --exclude=./.libs -cf - . | tar -C "$SRC" -xf -
    cd "$SRC"
    make -f Makefile.apxs clean >/dev/null
    say "building with AddressSanitizer in $SRC"
    EXTRA_CFLAGS="-fsanitize=address -fno-omit-frame-pointer -g -O1"
    EXTRA_LDFLAGS="-fsanitize=address"
    export EXTRA_CFLAGS EXTRA_LDFLAGS
    make -f Makefile.apxs EXTRA_CFLAGS="$EXTRA_CFLAGS" EXTRA_LDFLAGS="$EXTRA_LDFLAGS"
    LIBASAN=$(gcc -print-file-name=libasan.so)
    # httpd (and only httpd) runs with libasan preloaded
    mkdir -p "$WORK/bin"
    cat >"$WORK/bin/apache2" <<EOF
#!/bin/sh
LD_PRELOAD=$LIBASAN
ASAN_OPTIONS=\${ASAN_OPTIONS:-detect_leaks=0:log_path=$WORK/asan/asan}
export LD_PRELOAD ASAN_OPTIONS
exec $HTTPD "\$@"
EOF
    chmod 755 "$WORK/bin/apache2"
    mkdir -p "$WORK/asan"
    HTTPD="$WORK/bin/apache2"
else
    say "building"
    make -f Makefile.apxs
fi
for so in .libs/mod_mcp_session.so .libs/mod_mcp_example.so; do
    [ -f "$so" ] || { echo "build did not produce $so" >&2; exit 1; }
done

TOTAL_PASS=0
TOTAL_FAIL=0
FAILED_RUNS=""

if [ -f t/unit/unit_tests.c ]; then
    say "unit tests"
    ulog="$WORK/unit.log"
    if make -f Makefile.apxs unit >"$ulog" 2>&1; then urc=0; else urc=$?; fi
    cat "$ulog"
    # count TAP lines when the unit tests print TAP; else 1 test per run
    up=$(grep -c '^ok ' "$ulog" || true)
    uf=$(grep -c '^not ok ' "$ulog" || true)
    if [ "$up" -eq 0 ] && [ "$uf" -eq 0 ]; then
        if [ "$urc" -eq 0 ]; then up=1; else uf=1; fi
    elif [ "$urc" -ne 0 ] && [ "$uf" -eq 0 ]; then
        uf=1
    fi
    TOTAL_PASS=$((TOTAL_PASS + up))
    TOTAL_FAIL=$((TOTAL_FAIL + uf))
    [ "$urc" -eq 0 ] || FAILED_RUNS="$FAILED_RUNS unit"
    say "unit: $up passed, $uf failed (exit $urc)"
fi

# run_check NAME COMMAND...: one test, passed when COMMAND exits 0
run_check() {
    _name=$1
    shift
    _log="$WORK/check-$_name.log"
    _t0=$(date +%s)
    if "$@" >"$_log" 2>&1; then
        TOTAL_PASS=$((TOTAL_PASS + 1))
        say "$_name: passed ($(( $(date +%s) - _t0 )) s)"
    else
        cat "$_log"
        TOTAL_FAIL=$((TOTAL_FAIL + 1))
        FAILED_RUNS="$FAILED_RUNS $_name"
        say "$_name: FAILED (log: $_log)"
    fi
}

# make install DESTDIR=...: exactly the modules, their conf files and the
# headers, mode 644, where apxs says; the staged .load/.conf files pass
# httpd -t with the staged modules.
check_install() {
    _dest="$WORK/install-root"
    rm -rf "$_dest"
    make -f Makefile.apxs install DESTDIR="$_dest" || return 1
    _mods=$("$APXS" -q LIBEXECDIR)
    _conf=$("$APXS" -q SYSCONFDIR)/mods-available
    _inc=$("$APXS" -q INCLUDEDIR)
    printf '%s\n' "$_mods/mod_mcp_session.so" "$_mods/mod_mcp_example.so" \
        "$_mods/mod_mcp_session_redis.so" "$_mods/mod_mcp_session_sql.so" \
        "$_conf/mcp_session.load" "$_conf/mcp_session.conf" "$_conf/mcp_example.load" \
        "$_conf/mcp_session_redis.load" "$_conf/mcp_session_redis.conf" \
        "$_conf/mcp_session_sql.load" "$_conf/mcp_session_sql.conf" \
        "$_inc/mod_mcp_session.h" "$_inc/mcp_api.h" "$_inc/mcp_tool.h" \
        "$_inc/mcp_session_store.h" | sort >"$WORK/install-want"
    (cd "$_dest" && find . ! -type d | sed 's|^\.||' | sort) >"$WORK/install-got"
    diff -u "$WORK/install-want" "$WORK/install-got" || { echo "installed files differ"; return 1; }
    _modes=$(find "$_dest" -type f ! -perm 644)
    [ -z "$_modes" ] || { echo "not mode 644: $_modes"; return 1; }
    cmp .libs/mod_mcp_session.so "$_dest$_mods/mod_mcp_session.so" || return 1
    grep -qx "LoadModule mcp_session_module $_mods/mod_mcp_session.so" \
        "$_dest$_conf/mcp_session.load" || { echo "bad mcp_session.load"; return 1; }
    grep -qx "LoadModule mcp_example_module $_mods/mod_mcp_example.so" \
        "$_dest$_conf/mcp_example.load" || { echo "bad mcp_example.load"; return 1; }
    grep -qx "LoadModule mcp_session_redis_module $_mods/mod_mcp_session_redis.so" \
        "$_dest$_conf/mcp_session_redis.load" || { echo "bad mcp_session_redis.load"; return 1; }
    grep -qx "LoadModule mcp_session_sql_module $_mods/mod_mcp_session_sql.so" \
        "$_dest$_conf/mcp_session_sql.load" || { echo "bad mcp_session_sql.load"; return 1; }
    # a2enmod mcp_session_sql enables mod_dbd too
    grep -qx "# Depends: mcp_session dbd" "$_dest$_conf/mcp_session_sql.load" ||
        { echo "mcp_session_sql.load: no '# Depends: mcp_session dbd'"; return 1; }
    {
        echo "ServerRoot $WORK"
        echo "LoadModule mpm_prefork_module $_mods/mod_mpm_prefork.so"
        echo "LoadModule authz_core_module $_mods/mod_authz_core.so"
        echo "ServerName 127.0.0.1"
        echo "Listen 127.0.0.1:9"
        echo "ErrorLog $WORK/install-error_log"
        echo "LoadModule dbd_module $_mods/mod_dbd.so"
        for f in mcp_session.load mcp_example.load mcp_session.conf \
                 mcp_session_redis.load mcp_session_redis.conf \
                 mcp_session_sql.load mcp_session_sql.conf; do
            sed "s|$_mods/|$_dest$_mods/|" "$_dest$_conf/$f"
        done
        printf '<Location /mcp>\n    SetHandler mcp-session\n</Location>\n'
    } >"$WORK/install-httpd.conf"
    "$HTTPD" -t -f "$WORK/install-httpd.conf"
}

# The SQL store's package: its module and conf files, mod_dbd enabled with
# it, the pgsql driver recommended, nothing enabled on install.
check_deb_sql() {
    _deb=$(ls "$1"/libapache2-mod-mcp-session-sql_*.deb 2>/dev/null | head -1)
    [ -n "$_deb" ] || { echo "no libapache2-mod-mcp-session-sql package in $1"; return 1; }
    dpkg-deb -c "$_deb" >"$WORK/deb-sql-files" || return 1
    for f in ./usr/lib/apache2/modules/mod_mcp_session_sql.so \
             ./etc/apache2/mods-available/mcp_session_sql.load \
             ./etc/apache2/mods-available/mcp_session_sql.conf; do
        grep -q " $f\$" "$WORK/deb-sql-files" || { echo "$_deb lacks $f"; return 1; }
    done
    _x="$WORK/deb-sql-x"
    rm -rf "$_x"
    dpkg-deb -x "$_deb" "$_x" && dpkg-deb -e "$_deb" "$_x/DEBIAN" || return 1
    grep -qx "# Depends: mcp_session dbd" "$_x/etc/apache2/mods-available/mcp_session_sql.load" ||
        { echo "the packaged mcp_session_sql.load does not depend on dbd"; return 1; }
    dpkg-deb -f "$_deb" Recommends | grep -q "libaprutil1-dbd-pgsql" ||
        { echo "$_deb does not recommend libaprutil1-dbd-pgsql"; return 1; }
    dpkg-deb -f "$_deb" Depends | grep -q "libapache2-mod-mcp-session (= " ||
        { echo "$_deb does not depend on its libapache2-mod-mcp-session"; return 1; }
    if grep -q "enmod\|apache2_invoke enmod" "$_x/DEBIAN/postinst" 2>/dev/null; then
        echo "$_deb enables the module on install"; return 1
    fi
}

say "checks: exported symbols, tree rules, make install, Debian packages"
run_check symbols make -f Makefile.apxs symbols
run_check tree sh scripts/check-tree.sh
run_check install check_install
if [ "$MCP_TEST_DEB" != 0 ]; then
    # from the source tree (tracked files), outside it
    run_check deb make -C "$TOP" -f Makefile.apxs deb DEB_DIR="$WORK/deb"
    run_check deb-sql check_deb_sql "$WORK/deb"
fi
cd "$TOP"

# ---------------------------------------------------------------------------
# 4. Apache::Test, once per MPM, as nobody
RUN_USER=nobody
RUN_GROUP=$(id -gn nobody 2>/dev/null || echo nogroup)

# names of the variables handed through to the tests
pass_env() {
    env | sed -n 's/^\(\(MCP\|APACHE_TEST\|TEST\|HARNESS\|ASAN\|LSAN\|UBSAN\)_[A-Za-z0-9_]*\)=.*/\1/p' |
        while read -r name; do
            case "$name" in
                MCP_TEST_MPM|MCP_TEST_MPMS|APACHE_TEST_PORT|APACHE_TEST_HTTPD) continue ;;
            esac
            printf '%s\n' "$name"
        done
}

# kill what a run left behind: processes whose command line names its dir
reap() {
    for p in $(ls /proc | grep '^[0-9][0-9]*$'); do
        [ "$p" = "$$" ] && continue
        if { tr "\\0" " " <"/proc/$p/cmdline"; } 2>/dev/null | grep -q "$1/"; then
            kill -9 "$p" 2>/dev/null || true
        fi
    done
}

# count LOG -> "tests subtests_failed other_failures ran" from the summary
# of Test::Harness (a file that died or ran fewer tests than planned counts
# its missing tests, or 1, as failures)
count() {
    perl -ne '
        if (/^Files=\d+, Tests=(\d+)/) { $t += $1; $seen = 1 }
        if (/^(\S+)\s+\(Wstat: (\d+).*Tests: (\d+) Failed: (\d+)\)/) {
            $cur = $1; $f += $4; $bad{$cur} = 1 if $4 == 0 && $2 != 0;
        }
        if (/You planned (\d+) tests? but ran (\d+)/) {
            if ($1 > $2) { $miss += $1 - $2; delete $bad{$cur} }
        }
        END { printf "%d %d %d %d\n", $t, $f, $miss + keys %bad, $seen }' "$1"
}

MPMS=${MCP_TEST_MPMS:-prefork event}
for mpm in $MPMS; do
    dir="$WORK/$mpm"
    mkdir -p "$dir"
    say "Apache::Test with the $mpm MPM in $dir"
    tar -C "$SRC" --exclude=./.git -cf - . | tar -C "$dir" -xf -
    # never reuse a configuration generated in the source tree
    rm -rf "$dir/t/logs" "$dir/t/TEST" "$dir/t/conf/apache_test_config.pm" \
           "$dir/t/conf/httpd.conf" "$dir/t/conf/base-httpd.conf"
    for f in "$dir"/t/conf/*.in; do
        [ -e "$f" ] && rm -f "${f%.in}"
    done
    # one "NAME=value" per line: the arguments of env -i
    envs="PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
HOME=$dir
LANG=C.UTF-8
MCP_TEST_MPM=$mpm
APACHE_TEST_PORT=${APACHE_TEST_PORT:-select}
APACHE_TEST_HTTPD=$HTTPD"
    for name in $(pass_env); do
        envs="$envs
$name=$(printenv "$name")"
    done
    log="$WORK/$mpm.log"
    rcfile="$WORK/$mpm.rc"
    echo 1 >"$rcfile"
    # t/TEST options, one per line
    httpd_args="-apxs
$APXS"
    if [ "$ASAN" = 1 ]; then
        httpd_args="$httpd_args
-httpd
$HTTPD"
    fi
    runner=""
    if [ "$(id -u)" -eq 0 ]; then
        chown -R "$RUN_USER:$RUN_GROUP" "$WORK"
        runner="setpriv
--reuid=$RUN_USER
--regid=$RUN_GROUP
--clear-groups"
    fi
    (
        IFS='
'
        # shellcheck disable=SC2086
        timeout --kill-after=30 1200 $runner env -i $envs sh -c '
            cd "$1" || exit 1
            rcfile=$2
            shift 2
            perl -MApache::TestMM -e "Apache::TestMM::generate_script(q(t/TEST))" || exit 1
            perl t/TEST "$@"
            echo $? >"$rcfile"
        ' sh "$dir" "$rcfile" $httpd_args "$@"
    ) 2>&1 | tee "$log"
    reap "$dir"
    rc=$(cat "$rcfile" 2>/dev/null || echo 1)
    read -r total subfailed extra seen <<EOF
$(count "$log")
EOF
    failed=$((subfailed + extra))
    passed=$((total - subfailed))
    why=""
    [ "$rc" -eq 0 ] || why="$why exit=$rc"
    grep -q 'must be run as a non-privileged user' "$log" && why="$why ran-as-root"
    { [ "$seen" -eq 1 ] && [ "$total" -gt 0 ]; } || why="$why no-test-summary(harness died or no test ran)"
    [ "$failed" -eq 0 ] || why="$why failures"
    # a run that failed without a failed test (exit status, log check of
    # the server's startup/shutdown, no summary) still counts one failure
    if [ -n "$why" ] && [ "$failed" -eq 0 ]; then failed=1; fi
    if [ "$ASAN" = 1 ] && grep -qs 'ERROR: AddressSanitizer' "$WORK"/asan/*; then
        why="$why asan"
        failed=$((failed + 1))
        cat "$WORK"/asan/* || true
        mkdir -p "$WORK/asan-$mpm"
        mv "$WORK"/asan/* "$WORK/asan-$mpm/" 2>/dev/null || true
    fi
    if [ -n "$why" ]; then
        FAILED_RUNS="$FAILED_RUNS $mpm($why )"
        say "$mpm: FAILED:$why; logs in $dir/t/logs"
        if [ -f "$dir/t/logs/error_log" ]; then
            echo "--- last lines of $dir/t/logs/error_log"
            tail -n 40 "$dir/t/logs/error_log"
        fi
    fi
    say "$mpm: $passed passed, $failed failed"
    TOTAL_PASS=$((TOTAL_PASS + passed))
    TOTAL_FAIL=$((TOTAL_FAIL + failed))
done

echo
if [ -n "$FAILED_RUNS" ]; then
    say "FAILED:$FAILED_RUNS (work directory kept: $WORK)"
    echo "$TOTAL_PASS passed, $TOTAL_FAIL failed"
    exit 1
fi
if [ "${MCP_TEST_KEEP:-0}" = 1 ]; then
    say "work directory kept: $WORK"
else
    rm -rf "$WORK"
fi
say "all test runs passed"
echo "$TOTAL_PASS passed, $TOTAL_FAIL failed"
