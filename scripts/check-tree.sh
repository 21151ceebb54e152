#!/bin/sh
# scripts/check-tree.sh: the rules of the source tree, checked. Run it
# after a build (`make -f Makefile.apxs`); scripts/test.sh runs it as the
# "tree" check. POSIX sh; from anywhere.
#
#   a) the core is httpd-free: files under src/core/ and the httpd-free
#      public headers (include/mcp_api.h, mcp_tool.h, mcp_session_store.h)
#      include only APR/APR-util, jansson, C/POSIX headers and the core's
#      own or those public headers (and src/core/mcp_state.c OpenSSL's
#      <openssl/*.h>: libcrypto's HMAC-SHA256);
#   b) the core builds alone (`make -f Makefile.apxs core`) with no httpd
#      include directory (`apxs -q INCLUDEDIR`) on its compile lines;
#   c) one naming rule: every global symbol an object defines is its
#      file's base name or starts with "<base name>_" (and no file exports
#      a name that belongs to a file with a longer base name); the store
#      providers export only their registration and the memory store's
#      status accessors; mod_mcp_session.c only its module record. The
#      same for modules/redis/ (objects in modules/redis/.libs/): mcpr_X.c
#      exports mcpr_X and mcpr_X_* only, mod_mcp_session_redis.c only
#      mcp_session_redis_module;
#   d) the file map: every .c and .h under src/, include/ and modules/, and
#      mod_mcp_session.c, is named in the comment at the top of
#      mod_mcp_session.c and in README.md's "Where the code is", and both
#      name no file that does not exist;
#   e) one version: MCP_VERSION (src/core/mcp_version.h) is debian/changelog's
#      version and the one README.md states; no other C file states one;
#   f) one exit label: every goto in src/, modules/ and mod_mcp_session.c
#      goes to leave;
#   g) a module under modules/ is built from include/ alone, as any
#      third-party module is: its files include only include/'s headers,
#      their own directory's, APR/APR-util, httpd, hiredis
#      (<hiredis/*.h>), OpenSSL (<openssl/*.h>) and C/POSIX headers;
#      never a header of src/.
#
# Prints one line per violation and exits 1 when there is any.
# Environment: APXS, MAKE, NM.
# The tree's paths hold no blanks: word splitting of file lists is meant.
# shellcheck disable=SC2013,SC2016,SC2046
set -u

TOP=$(cd "$(dirname "$0")/.." && pwd)
cd "$TOP" || exit 2
APXS=${APXS:-$(command -v apxs || command -v apxs2 || echo apxs)}
MAKE=${MAKE:-make}
NM=${NM:-nm}

fails=0
bad() {
    printf 'check-tree: %s\n' "$*" >&2
    fails=$((fails + 1))
}
# done_with WHAT: what a part checked, "ok" when it found nothing wrong
mark=0
done_with() {
    if [ $fails -eq $mark ]; then
        printf 'check-tree: ok: %s\n' "$*"
    else
        printf 'check-tree: %s: %d violation(s)\n' "$*" $((fails - mark)) >&2
    fi
    mark=$fails
}

TMP=$(mktemp -d "${TMPDIR:-/tmp}/check-tree.XXXXXX") || exit 2
trap 'rm -rf "$TMP"' EXIT
trap 'exit 2' INT TERM

PUBLIC_FREE="include/mcp_api.h include/mcp_tool.h include/mcp_session_store.h"
# ISO C and POSIX headers, and glibc's malloc.h (malloc_trim); sys/*.h too
C_POSIX=" assert.h complex.h ctype.h errno.h fenv.h float.h inttypes.h iso646.h
 limits.h locale.h math.h setjmp.h signal.h stdalign.h stdarg.h stdatomic.h
 stdbool.h stddef.h stdint.h stdio.h stdlib.h stdnoreturn.h string.h tgmath.h
 threads.h time.h uchar.h wchar.h wctype.h aio.h arpa/inet.h cpio.h dirent.h
 dlfcn.h fcntl.h fnmatch.h glob.h grp.h iconv.h langinfo.h libgen.h monetary.h
 netdb.h net/if.h netinet/in.h netinet/tcp.h nl_types.h poll.h pthread.h pwd.h
 regex.h sched.h search.h semaphore.h spawn.h strings.h syslog.h termios.h
 unistd.h utime.h wordexp.h malloc.h "
C_POSIX=$(printf '%s' "$C_POSIX" | tr '\n' ' ')
HTTPD_INC=$("$APXS" -q INCLUDEDIR 2>/dev/null) || HTTPD_INC=""

# ---------------------------------------------------------------------------
# a) what the core and the httpd-free public headers include

# header_kind NAME -> ok | httpd | other
header_kind() {
    case "$1" in
        apr.h|apr_*.h|apu.h|apu_*.h|jansson.h|jansson_config.h|sys/*.h)
            echo ok; return ;;
    esac
    case "$C_POSIX" in
        *" $1 "*) echo ok; return ;;
    esac
    case "$1" in
        */*) ;;
        *)
            if [ -f "src/core/$1" ]; then echo ok; return; fi
            for _p in $PUBLIC_FREE; do
                [ "include/$1" = "$_p" ] && { echo ok; return; }
            done
            ;;
    esac
    case "$1" in
        httpd.h|http_*.h|ap_*.h|util_*.h|mod_*.h|mpm*.h|scoreboard.h|os.h|\
        unixd.h|apache_noprobes.h|heartbeat.h)
            echo httpd; return ;;
    esac
    if [ -n "$HTTPD_INC" ] && [ -f "$HTTPD_INC/$1" ]; then
        echo httpd; return
    fi
    echo other
}

n_a=0
for f in $(find src/core -type f \( -name '*.c' -o -name '*.h' \) | sort) $PUBLIC_FREE; do
    [ -f "$f" ] || { bad "a) $f is missing"; continue; }
    n_a=$((n_a + 1))
    grep -n '^[[:space:]]*#[[:space:]]*include' "$f" >"$TMP/inc" || true
    while IFS= read -r line; do
        num=${line%%:*}
        name=$(printf '%s\n' "$line" |
               sed -n 's/^[0-9]*:[[:space:]]*#[[:space:]]*include[[:space:]]*[<"]\([^>"]*\)[>"].*/\1/p')
        if [ -z "$name" ]; then
            bad "a) $f:$num: an #include without a literal header name"
            continue
        fi
        # OpenSSL's libcrypto (HMAC, SHA-256) in the file of sealed states only
        case "$f:$name" in
            src/core/mcp_state.c:openssl/*.h) continue ;;
        esac
        case $(header_kind "$name") in
            ok) ;;
            httpd) bad "a) $f:$num: includes httpd header $name: the core and" \
                       "include/mcp_*.h must build without httpd (only" \
                       "src/httpd/, src/stores/ and include/mod_mcp_session.h may)" ;;
            *) bad "a) $f:$num: includes $name, which is neither APR, jansson," \
                   "a C/POSIX header nor the core's own or an httpd-free public header" ;;
        esac
    done <"$TMP/inc"
done
done_with "a) includes of $n_a core files and httpd-free public headers looked at"

# ---------------------------------------------------------------------------
# b) the core alone, without httpd's include directory

core_built=0
if [ -z "$HTTPD_INC" ]; then
    bad "b) '$APXS -q INCLUDEDIR' gave nothing: cannot check the core's compile" \
        "lines (set APXS)"
fi
if "$MAKE" -f Makefile.apxs core CORE_DIR="$TMP/core" >"$TMP/core.log" 2>&1; then
    grep -F -- "-c -o $TMP/core/" "$TMP/core.log" >"$TMP/core.cc" || true
    ncc=$(wc -l <"$TMP/core.cc")
    nsrc=$(find src/core -name '*.c' | wc -l)
    if [ ! -f "$TMP/core/libmcpcore.a" ]; then
        bad "b) make core made no $TMP/core/libmcpcore.a"
    elif [ "$ncc" -ne "$nsrc" ]; then
        bad "b) make core compiled $ncc files, src/core/ has $nsrc .c files" \
            "(CORE_SRC in Makefile.apxs must list them all)"
        sed 's/^/    /' "$TMP/core.log" >&2
    elif [ -n "$HTTPD_INC" ] && grep -F -- "$HTTPD_INC" "$TMP/core.cc" >/dev/null; then
        bad "b) the core's compile lines name httpd's include directory $HTTPD_INC:"
        sed 's/^/    /' "$TMP/core.cc" >&2
    else
        core_built=1
    fi
else
    bad "b) make -f Makefile.apxs core failed:"
    sed 's/^/    /' "$TMP/core.log" >&2
fi
done_with "b) make core alone, without ${HTTPD_INC:-the httpd include directory}"

# ---------------------------------------------------------------------------
# c) exported names: a file's topic is its functions' prefix

# every base name under src/, for the "most specific file" rule
BASES=$(find src -name '*.c' | sed 's|.*/||; s|\.c$||' | sort -u)

# globals NM-OBJECT -> the global symbols it defines (not the compiler's
# or sanitizers' own, which start with "__" or hold a '.')
globals() {
    "$NM" --defined-only "$1" | awk '$2 ~ /^[TDBRCGSVW]$/ { print $3 }' |
        grep -v -e '^__' -e '\.' || true
}

# owner SYMBOL -> the base name with the longest match (name or name_*)
owner() {
    _best=""
    for _b in $BASES; do
        case "$1" in
            "$_b"|"$_b"_*) [ ${#_b} -gt ${#_best} ] && _best=$_b ;;
        esac
    done
    echo "$_best"
}

# the object of a glue source file: apxs (libtool) puts it in .libs/
object_of() {
    _d=$(dirname "$1")
    _b=$(basename "$1" .c)
    for _o in "$_d/.libs/$_b.o" "$_d/$_b.o"; do
        _o=${_o#./}
        [ -f "$_o" ] && { echo "$_o"; return; }
    done
}

# check_object SOURCE OBJECT [ALLOWED...]: with ALLOWED, the object may
# export exactly those names (any subset)
check_object() {
    _src=$1
    _obj=$2
    shift 2
    _base=$(basename "$_src" .c)
    globals "$_obj" >"$TMP/syms" || { bad "c) $NM failed on $_obj"; return; }
    while IFS= read -r s; do
        if [ $# -gt 0 ]; then
            _allowed=0
            for a in "$@"; do
                [ "$s" = "$a" ] && _allowed=1
            done
            [ $_allowed = 1 ] ||
                bad "c) $_src exports $s; it may export only: $*"
            continue
        fi
        case "$s" in
            "$_base"|"$_base"_*) ;;
            *) bad "c) $_src exports $s: a file exports only $_base and" \
                   "${_base}_* (rename it, move it to the file of its topic," \
                   "or make it static)"; continue ;;
        esac
        o=$(owner "$s")
        [ "$o" = "$_base" ] ||
            bad "c) $_src exports $s, a name of $o.c's topic"
    done <"$TMP/syms"
    n_c=$((n_c + 1))
}

n_c=0
if [ $core_built = 1 ]; then
    for src in $(find src/core -name '*.c' | sort); do
        check_object "$src" "$TMP/core/$(basename "$src" .c).o"
    done
fi
for src in $(find src -name '*.c' ! -path 'src/core/*' | sort) mod_mcp_session.c; do
    obj=$(object_of "$src")
    if [ -z "$obj" ]; then
        bad "c) no object for $src: build first (make -f Makefile.apxs); is it in GLUE_SRC?"
        continue
    fi
    if [ -n "$(find "$src" -newer "$obj")" ]; then
        bad "c) $obj is older than $src: build first (make -f Makefile.apxs)"
        continue
    fi
    case "$src" in
        mod_mcp_session.c)
            check_object "$src" "$obj" mcp_session_module ;;
        src/stores/mcp_store_redis.c)
            check_object "$src" "$obj" mcp_store_redis_register ;;
        src/stores/mcp_store_memory.c)
            check_object "$src" "$obj" mcp_store_memory_register \
                mcp_store_memory_used mcp_store_memory_pending \
                mcp_store_memory_capacity mcp_store_memory_slot_bytes ;;
        *)
            check_object "$src" "$obj" ;;
    esac
done
# modules/redis/: its own topics (mcpr_url, mcpr_conn, ...)
BASES=$(find modules -name '*.c' | sed 's|.*/||; s|\.c$||' | sort -u)
for src in $(find modules -name '*.c' | sort); do
    obj=$(object_of "$src")
    if [ -z "$obj" ]; then
        bad "c) no object for $src: build first (make -f Makefile.apxs); is it in REDIS_SRC?"
        continue
    fi
    if [ -n "$(find "$src" -newer "$obj")" ]; then
        bad "c) $obj is older than $src: build first (make -f Makefile.apxs)"
        continue
    fi
    case "$src" in
        */mod_*.c)
            check_object "$src" "$obj" "$(basename "$src" .c | sed 's/^mod_//')_module" ;;
        *)
            check_object "$src" "$obj" ;;
    esac
done
done_with "c) exported names of $n_c objects looked at"

# ---------------------------------------------------------------------------
# d) the file map, in mod_mcp_session.c and README.md

awk '{ print } /\*\// { exit }' mod_mcp_session.c >"$TMP/map.c"
awk '/^## Where the code is/ { f = 1; next } /^## / { f = 0 } f' README.md >"$TMP/map.md"
[ -s "$TMP/map.md" ] || bad "d) README.md has no section '## Where the code is'"

# named FILE MAP -> whether MAP names FILE (not as part of a longer name)
named() {
    _re=$(printf '%s\n' "$1" | sed 's/[.]/[.]/g')
    grep -E "(^|[^A-Za-z0-9_./])$_re([^A-Za-z0-9_]|$)" "$2" >/dev/null
}

files=$( { find src include modules -type f \( -name '*.c' -o -name '*.h' \); echo mod_mcp_session.c; } | sort)
n_d=0
for f in $files; do
    n_d=$((n_d + 1))
    named "$f" "$TMP/map.c" ||
        bad "d) $f is not in the file map at the top of mod_mcp_session.c"
    named "$f" "$TMP/map.md" ||
        bad "d) $f is not in README.md's 'Where the code is'"
done
for m in "$TMP/map.c" "$TMP/map.md"; do
    case "$m" in *.c) where="the file map of mod_mcp_session.c" ;;
                 *) where="README.md's 'Where the code is'" ;; esac
    for f in $(grep -oE '(src|include|modules)/[A-Za-z0-9_/]+[.][ch]' "$m" | sort -u); do
        [ -f "$f" ] || bad "d) $where names $f, which does not exist"
    done
done
done_with "d) $n_d files looked up in both file maps"

# ---------------------------------------------------------------------------
# e) one version

hv=$(sed -n 's/^#[[:space:]]*define[[:space:]][[:space:]]*MCP_VERSION[[:space:]][[:space:]]*"\([^"]*\)".*/\1/p' \
     src/core/mcp_version.h 2>/dev/null)
if [ -z "$hv" ]; then
    bad "e) src/core/mcp_version.h defines no MCP_VERSION \"...\""
else
    if command -v dpkg-parsechangelog >/dev/null 2>&1; then
        dv=$(dpkg-parsechangelog -l debian/changelog -S Version 2>/dev/null)
    else
        dv=$(sed -n '1s/^[^ ]* (\([^)]*\)).*/\1/p' debian/changelog)
    fi
    [ "$hv" = "$dv" ] ||
        bad "e) MCP_VERSION is $hv (src/core/mcp_version.h), debian/changelog says ${dv:-nothing}"
    for v in $(grep -o 'version `[0-9][0-9.]*`' README.md | sed 's/.*`\(.*\)`/\1/'); do
        [ "$v" = "$hv" ] || bad "e) README.md states version $v, MCP_VERSION is $hv"
    done
    grep -nE '"[0-9]+[.][0-9]+[.][0-9]+"' $(find src examples -name '*.c') \
        mod_mcp_session.c 2>/dev/null | sed 's/^/    /' >"$TMP/vers"
    if [ -s "$TMP/vers" ]; then
        bad "e) a version stated outside src/core/mcp_version.h (use MCP_VERSION):"
        cat "$TMP/vers" >&2
    fi
fi
done_with "e) one version (${hv:-none})"

# ---------------------------------------------------------------------------
# f) one exit label

grep -nE '(^|[^A-Za-z0-9_])goto[[:space:]]+[A-Za-z_][A-Za-z0-9_]*' \
    $(find src modules -name '*.c') mod_mcp_session.c 2>/dev/null |
    grep -vE '(^|[^A-Za-z0-9_])goto[[:space:]]+leave[[:space:]]*;' >"$TMP/goto" || true
while IFS= read -r line; do
    bad "f) ${line%%:*}: $(printf '%s\n' "$line" | cut -d: -f2): a goto to" \
        "another label than leave: $(printf '%s\n' "$line" | cut -d: -f3- | sed 's/^[[:space:]]*//')"
done <"$TMP/goto"
done_with "f) exit labels"

# ---------------------------------------------------------------------------
# g) modules/ see include/ only

n_g=0
for f in $(find modules -type f \( -name '*.c' -o -name '*.h' \) | sort); do
    n_g=$((n_g + 1))
    dir=$(dirname "$f")
    grep -n '^[[:space:]]*#[[:space:]]*include' "$f" >"$TMP/inc" || true
    while IFS= read -r line; do
        num=${line%%:*}
        name=$(printf '%s\n' "$line" |
               sed -n 's/^[0-9]*:[[:space:]]*#[[:space:]]*include[[:space:]]*[<"]\([^>"]*\)[>"].*/\1/p')
        if [ -z "$name" ]; then
            bad "g) $f:$num: an #include without a literal header name"
            continue
        fi
        case "$name" in
            */../*|../*|*/src/*|src/*)
                bad "g) $f:$num: includes $name: a module sees include/ only"
                continue ;;
            hiredis/*.h|openssl/*.h) continue ;;
            jansson*.h)
                bad "g) $f:$num: includes $name: a module uses APR, httpd," \
                    "hiredis, OpenSSL and libc only"
                continue ;;
        esac
        case "$name" in
            */*) ;;
            *)
                [ -f "$dir/$name" ] && continue
                [ -f "include/$name" ] && continue
                if [ -n "$(find src -name "$name")" ]; then
                    bad "g) $f:$num: includes $name, a header of src/: a" \
                        "module is built from include/ alone"
                    continue
                fi
                ;;
        esac
        case $(header_kind "$name") in
            ok|httpd) ;;
            *) bad "g) $f:$num: includes $name, which is neither include/'s," \
                   "its own directory's, APR, httpd, hiredis, OpenSSL nor a" \
                   "C/POSIX header" ;;
        esac
    done <"$TMP/inc"
done
done_with "g) includes of $n_g files under modules/ looked at"

if [ $fails -gt 0 ]; then
    echo "check-tree: $fails violation(s)" >&2
    exit 1
fi
echo "check-tree: the tree follows its rules"
