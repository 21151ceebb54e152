/*
 * mod_mcp_session: the "redis" session store provider
 * (MCPSessionStorageMode external, MCPSessionStore redis://HOST[:PORT]).
 *
 * It talks to Redis through APR-util's apr_redis, which knows GET, SETEX,
 * DEL, INCR/DECR, PING and INFO but not AUTH, SELECT, EXPIRE, SET NX/XX,
 * MULTI or scripts, connects over IPv4 only, and behaves as follows
 * (apr-util 1.6.3, redis/apr_redis.c); this file is built around it:
 *
 * - A send or receive error, a timeout included, closes the connection
 *   (apr_reslist_invalidate) before the call returns, so a late reply can
 *   never be read by a later call. Anything else Redis answers that the
 *   command does not expect (an error reply such as "-OOM ...",
 *   "-READONLY ...", "-MISCONF ...", "-NOAUTH ...", and also an empty read
 *   when Redis closed the connection) is APR_EGENERAL with the connection
 *   put back into the pool, and the reply text is not exposed. So after
 *   APR_EGENERAL we send PING on the pool (its list of idle connections is
 *   LIFO: that is the same connection): +PONG means Redis refused the
 *   command and the connection is healthy ("refused": 503 for this
 *   request, nothing is torn down); otherwise the connection is broken.
 * - After a failure apr_redis marks its server DEAD and, for the next 5 s,
 *   answers every call with APR_NOTFOUND without talking to Redis: the
 *   same status as a real miss. We install our own server_func that always
 *   hands out the one server, so APR_NOTFOUND can only come from a Redis
 *   reply ("$-1" for GET, ":0" for DEL), and we keep our own "down" state.
 * - apr_reslist (the connection pool) waits for a free connection with the
 *   same status as a socket timeout; we never let it wait: a call first
 *   waits for one of the pool's connections here, and a call that cannot
 *   get one in time is "busy" (503 for that request, not an outage).
 * - With a connection checked out, destroying the pool that owns the
 *   connection pool aborts the process (apr_reslist's cleanup asserts
 *   that none is): prefork's just_die destroys pchild from a signal
 *   handler while a call may be in progress, so the clients live in a root
 *   pool of their own that nothing destroys (process exit closes the
 *   sockets).
 * - apr_redis' read timeout is in whole seconds and its connect timeout a
 *   hard-coded second.
 *
 * Down state, per child. When a call cannot reach Redis, calls fail at
 * once (503) and one call at a time, at most every REDIS_PROBE_INTERVAL
 * (at once after a quick failure such as a refused connection), first
 * sends PING over a socket of its own with a REDIS_PROBE_TIMEOUT deadline.
 * When Redis answers, the client (apr_redis_t, server and connection pool)
 * is replaced, so no connection from before the outage is used again, and
 * the call goes on. So a child sees Redis back within about
 * REDIS_PROBE_INTERVAL of its first request after Redis answers again,
 * whatever happened before, and a hung Redis costs a probing request at
 * most REDIS_PROBE_TIMEOUT. When a client that had worked fails otherwise
 * than by a timeout (Redis restarted: its pooled connections are all
 * stale), it is replaced and the command runs once more on the fresh one,
 * so a restart Redis is already back from is not seen by any request.
 *
 * Commands: a session read that needs no refresh is one GET.
 *
 * Keys:    <MCPSessionKeyPrefix><64 hex>            the session record
 *          <MCPSessionKeyPrefix><64 hex>:deleted    tombstone of remove()
 * Value:   "<write time, unix microseconds> <record>" so fetch() knows how
 *          old the key is: apr_redis has no TTL/EXPIRE, so the sliding
 *          lifetime is kept by rewriting the whole value with SETEX once it
 *          is MCPSessionRefreshAfter old. A session that has not had its
 *          first update() yet (no notifications/initialized) is written as
 *          "+<write time> <record>" with MCPSessionHandshakeTTL, refreshed
 *          after half of that; update() writes it without the "+" and with
 *          the full TTL. (A reader that does not know the "+" still parses
 *          the time: it is strtoll's sign.)
 *
 * Why no deleted session comes back (the DELETE/refresh race).
 * A refresh and update() write the record with SETEX and THEN read the
 * tombstone; if there is one they delete the record again and report
 * APR_NOTFOUND. remove() writes the tombstone and THEN deletes the record
 * (it also deletes it once before, only to learn whether it existed).
 * Redis executes commands one at a time, so take any interleaving of a
 * writer (W1 = SETEX record, W2 = GET tombstone) with a remover
 * (R1 = SETEX tombstone, R2 = DEL record):
 *   - W1 before R2: R2 deletes what W1 wrote.
 *   - W1 after R2: then W1 is also after R1, so W2 (after W1) sees the
 *     tombstone and the writer deletes the record itself.
 * Either way the record is gone once both are done. The tombstone must
 * outlive any writer that read the record before R1; it lives at least
 * the session TTL and at least REDIS_TOMBSTONE_MIN_TTL. If the writer
 * cannot read the tombstone or cannot delete the record (Redis failed
 * between two commands), the key is remembered and checked again when
 * Redis answers (recheck list, per child).
 *
 * Why no expired session comes back. update() may run long after the
 * request read the session (a slow tool): the session may have expired,
 * or been deleted so long ago that its tombstone expired too. update()
 * therefore GETs the record right before its SETEX and writes nothing
 * when it is gone. Without SET XX (apr_redis cannot send it) this leaves a
 * window of one round trip: a record that expires between that GET and
 * the SETEX is written again and lives one more TTL (a DELETE in that
 * window is still caught by the tombstone). The refresh in fetch() has the
 * same window, right after its own GET.
 *
 * Known limit: there is no compare-and-set, so a refresh that rewrites the
 * record it just read can overwrite an update() made on another node in
 * between (last writer wins).
 */

#include "apr_strings.h"
#include "apr_lib.h"
#include "apr_atomic.h"
#include "apr_file_io.h"
#include "apr_network_io.h"
#include "apr_reslist.h"
#include "apr_redis.h"
#include "apr_thread_cond.h"
#include "apr_thread_mutex.h"
#include "apu_version.h"

#include <stdlib.h>

#include "httpd.h"
#include "http_config.h"
#include "http_core.h"
#include "http_log.h"
#include "http_protocol.h"
#include "ap_provider.h"
#include "mod_status.h"

#include "mcp_private.h"
#include "mod_mcp_session.h"

#if !APR_HAS_THREADS
#error "mcp_store_redis.c needs APR with threads"
#endif

#define REDIS_DEFAULT_PORT       6379
#define REDIS_TOMBSTONE_SUFFIX   ":deleted"
#define REDIS_TOMBSTONE_MIN_TTL  60
/* While Redis is down: how often one call may probe it, and how long a
 * probe (connect, PING, +PONG) may take. */
#define REDIS_PROBE_INTERVAL     apr_time_from_msec(500)
#define REDIS_PROBE_TIMEOUT      apr_time_from_msec(200)
/* A failure quicker than this (refused connection) lets the next call
 * probe at once. */
#define REDIS_SLOW_FAILURE       apr_time_from_msec(100)
/* A refusal a probe saw (e.g. "-NOAUTH ...") explains, for this long,
 * calls that fail with APR_EGENERAL on a connection that refuses PING. */
#define REDIS_REFUSAL_TTL        apr_time_from_sec(10)
/* Outage, refusal and busy log lines: the first, then at most one per
 * interval and process. */
#define REDIS_LOG_INTERVAL       apr_time_from_sec(30)
/* Idle pooled connections are closed after this (microseconds, uint32). */
#define REDIS_CONN_IDLE_TTL      ((apr_uint32_t)(60 * APR_USEC_PER_SEC))
/* Keys whose tombstone check failed, rechecked when Redis answers. */
#define REDIS_RECHECK_MAX        32
#define REDIS_REPLY_MAX          200
/* The first apr-util whose apr_redis does not use freed memory when a
 * GET reply is cut short (CVE-2026-34501): Debian's build of 1.6.3. */
#define REDIS_APU_FIXED_DEBIAN   "1.6.3-1+deb12u1"
#define REDIS_DPKG_STATUS        "/var/lib/dpkg/status"

/* One apr_redis client with its one server and connection pool. It is
 * replaced after an outage; the old one is destroyed by the last call
 * still using it. */
typedef struct redis_client_t {
    apr_pool_t *pool;
    apr_redis_t *rc;
    apr_redis_server_t *rs;
    int users;                  /* calls using it now (under st->lock) */
    int answered;               /* Redis answered through it at least once */
    int retired;                /* replaced: destroy when users drops to 0 */
} redis_client_t;

typedef struct redis_store_t {
    /* create() */
    const char *spec;
    const char *host;
    apr_port_t port;

    /* init() */
    const char *prefix;
    apr_uint32_t ttl;           /* seconds, >= 1 */
    apr_uint32_t hs_ttl;        /* MCPSessionHandshakeTTL, seconds, >= 1 */
    apr_uint32_t tombstone_ttl; /* seconds */
    apr_interval_time_t refresh_after;
    apr_interval_time_t hs_refresh_after;
    apr_uint32_t rwto;          /* seconds, >= 1 */
    int threads;                /* connections per child */

    /* child_init(): per child process */
    server_rec *s;
    apr_pool_t *pool;           /* root pool with its own allocator */
    apr_thread_mutex_t *lock;   /* guards the fields below */
    apr_thread_cond_t *conn_free;   /* a client's users dropped */
    int conn_waiters;
    redis_client_t *client;
    int down;                   /* not reachable: fail fast, probe */
    int probing;                /* a probe is running */
    apr_time_t probe_at;        /* while down: no probe before then */
    int outage_logged;          /* this outage was logged */
    apr_time_t logged_at;       /* latest outage log line */
    apr_time_t refused_logged_at;
    apr_time_t busy_logged_at;
    apr_status_t last_error;
    apr_time_t refusal_at;      /* when a probe saw a refusal */
    char refusal[REDIS_REPLY_MAX + 1];
    int nrecheck;
    int recheck_dropped;
    char recheck[REDIS_RECHECK_MAX][MCP_STORE_KEY_LEN + 1];

    /* counters of this child, for mod_status */
    volatile apr_uint32_t n_calls;
    volatile apr_uint32_t n_failed;
    volatile apr_uint32_t n_refused;
    volatile apr_uint32_t n_busy;
    volatile apr_uint32_t n_probes;
    volatile apr_uint32_t n_misses;
    volatile apr_uint32_t n_refreshes;
    volatile apr_uint32_t n_tombstones;
} redis_store_t;

/* --------------------------------------------------------------------- */
/* Configuration                                                         */

static int valid_host_name(const char *h, apr_size_t len)
{
    apr_size_t i;

    if (len == 0 || len > 253 || h[0] == '-' || h[0] == '.') {
        return 0;
    }
    for (i = 0; i < len; i++) {
        if (!apr_isalnum(h[i]) && h[i] != '-' && h[i] != '.' && h[i] != '_') {
            return 0;
        }
    }
    return 1;
}

static const char *redis_create(void **instance, const char *spec,
                                server_rec *s, apr_pool_t *p, apr_pool_t *ptemp)
{
    const char *hint = "expected redis://HOST[:PORT] with HOST a host name "
                       "or IPv4 address and PORT 1-65535 (default 6379)";
    const char *rest, *colon, *why = NULL;
    apr_size_t hlen;
    apr_int64_t port = REDIS_DEFAULT_PORT;
    redis_store_t *st;

    if (strncasecmp(spec, "redis://", 8) != 0) {
        return apr_psprintf(p, "'%s' is not a valid Redis "
                            "address; %s", spec, hint);
    }
    rest = spec + 8;

    if (ap_strchr_c(rest, '@')) {
        why = "apr_redis cannot authenticate (no AUTH command); use a Redis "
              "without a password on a trusted address, or a local proxy";
    }
    else if (ap_strchr_c(rest, '/') || ap_strchr_c(rest, '?')) {
        why = "a path, database number or option is not supported "
              "(apr_redis cannot SELECT a database); use a key prefix "
              "(MCPSessionKeyPrefix) to share a Redis";
    }
    else if (rest[0] == '[') {
        why = "apr_redis connects over IPv4 only; use an IPv4 address or a "
              "host name that resolves to one";
    }
    if (why) {
        /* the address without its user and password: they must not
         * reach the error log */
        const char *at = ap_strrchr_c(rest, '@');
        return apr_psprintf(p, "'redis://%s%s' is not a valid Redis "
                            "address for the built-in provider: %s; or "
                            "load mod_mcp_session_redis (a2enmod "
                            "mcp_session_redis), whose redis:// takes a "
                            "password, a database and IPv6", at ? "***@" : "",
                            at ? at + 1 : rest, why);
    }

    colon = ap_strchr_c(rest, ':');
    hlen = colon ? (apr_size_t)(colon - rest) : strlen(rest);
    if (colon) {
        const char *c;
        char *end = NULL;

        for (c = colon + 1; *c; c++) {
            if (!apr_isdigit(*c)) {
                break;
            }
        }
        if (*c || c == colon + 1 || c - colon > 6) {
            port = 0;
        }
        else {
            port = apr_strtoi64(colon + 1, &end, 10);
        }
    }
    if (!valid_host_name(rest, hlen) || port < 1 || port > 65535) {
        return apr_psprintf(p, "'%s' is not a valid Redis "
                            "address; %s", spec, hint);
    }

    st = apr_pcalloc(p, sizeof(*st));
    st->spec = apr_pstrdup(p, spec);
    st->host = apr_pstrmemdup(p, rest, hlen);
    st->port = (apr_port_t)port;
    st->prefix = "";
    st->ttl = 1;
    st->tombstone_ttl = REDIS_TOMBSTONE_MIN_TTL;
    st->rwto = 1;
    st->threads = 1;
    *instance = st;
    return NULL;
}

/* PING over a socket of its own, closed before returning, everything
 * (connect included) within timeout. APR_SUCCESS with the reply's first
 * line in reply (possibly an error reply such as "-NOAUTH ..."), else why
 * not; *connected says whether the TCP connection was made. */
static apr_status_t ping_raw(redis_store_t *st, apr_interval_time_t timeout,
                             apr_pool_t *pool, char *reply, apr_size_t size,
                             int *connected)
{
    static const char ping[] = "*1\r\n$4\r\nPING\r\n";
    apr_time_t deadline = apr_time_now() + timeout;
    apr_size_t got = 0, n;
    apr_sockaddr_t *sa;
    apr_socket_t *sock = NULL;
    apr_pool_t *p;
    apr_status_t rv;

    reply[0] = '\0';
    *connected = 0;
    rv = apr_pool_create(&p, pool);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    rv = apr_sockaddr_info_get(&sa, st->host, APR_INET, st->port, 0, p);
    if (rv == APR_SUCCESS) {
        rv = apr_socket_create(&sock, APR_INET, SOCK_STREAM, APR_PROTO_TCP, p);
    }
    if (rv == APR_SUCCESS) {
        rv = apr_socket_timeout_set(sock, timeout);
    }
    if (rv == APR_SUCCESS) {
        rv = apr_socket_connect(sock, sa);
    }
    if (rv == APR_SUCCESS) {
        *connected = 1;
        n = sizeof(ping) - 1;
        rv = apr_socket_send(sock, ping, &n);
    }
    while (rv == APR_SUCCESS && got < size - 1 && !memchr(reply, '\n', got)) {
        apr_interval_time_t left = deadline - apr_time_now();

        if (left <= 0) {
            rv = APR_TIMEUP;
            break;
        }
        apr_socket_timeout_set(sock, left);
        n = size - 1 - got;
        rv = apr_socket_recv(sock, reply + got, &n);
        got += n;
        reply[got] = '\0';
    }
    if (got > 0 && memchr(reply, '\n', got)) {
        rv = APR_SUCCESS;
    }
    else if (rv == APR_SUCCESS) {
        rv = APR_EGENERAL;      /* a line too long or cut: not Redis */
    }
    reply[strcspn(reply, "\r\n")] = '\0';
    if (sock) {
        apr_socket_close(sock);
    }
    apr_pool_destroy(p);
    return rv;
}

/* Ask Redis for PING at startup and say clearly what is wrong if the
 * answer is not +PONG. */
static void redis_probe(redis_store_t *st, server_rec *s, apr_pool_t *ptemp)
{
    char reply[REDIS_REPLY_MAX + 1];
    apr_status_t rv;
    int connected;

    /* apr_redis' own connect timeout is a hard-coded 1 s */
    rv = ping_raw(st, apr_time_from_sec(1 + st->rwto), ptemp, reply,
                  sizeof(reply), &connected);
    if (!connected) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, rv, s, MCPLOG(00401)
                     "MCPSessionStore %s: Redis is not reachable now; the "
                     "server starts anyway and answers session requests "
                     "with 503 until Redis is up", st->spec);
    }
    else if (strncmp(reply, "+PONG", 5) == 0) {
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s, MCPLOG(00402)
                     "MCPSessionStore %s: Redis answers PING", st->spec);
    }
    else if (ap_strcasestr(reply, "auth") || ap_strstr_c(reply, "WRONGPASS")) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, MCPLOG(00403)
                     "MCPSessionStore %s: Redis requires a password "
                     "(it answered \"%s\"), but apr_redis has no AUTH "
                     "command, so every session call will fail with 503. "
                     "Point MCPSessionStore at a Redis without requirepass "
                     "that listens on loopback or a private network only, "
                     "or at a local unauthenticated proxy (e.g. stunnel or "
                     "a proxy that authenticates to the real Redis)",
                     st->spec, ap_escape_logitem(ptemp, reply));
    }
    else if (reply[0]) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, MCPLOG(00404)
                     "MCPSessionStore %s: PING was answered with \"%s\"; "
                     "session calls will fail with 503 until Redis accepts "
                     "GET/SETEX/DEL from this server", st->spec,
                     ap_escape_logitem(ptemp, reply));
    }
    else {
        ap_log_error(APLOG_MARK, APLOG_WARNING, rv, s, MCPLOG(00405)
                     "MCPSessionStore %s: no answer to PING; the server "
                     "starts anyway and answers session requests with 503 "
                     "until Redis is up", st->spec);
    }
}

/* Debian's version order (dpkg's verrevcmp) of two upstream or revision
 * parts. */
static int deb_order(int c)
{
    if (apr_isdigit(c)) {
        return 0;
    }
    if (apr_isalpha(c)) {
        return c;
    }
    if (c == '~') {
        return -1;
    }
    return c ? c + 256 : 0;
}

static int deb_verrevcmp(const char *a, const char *b)
{
    while (*a || *b) {
        int first_diff = 0;

        while ((*a && !apr_isdigit(*a)) || (*b && !apr_isdigit(*b))) {
            int ac = deb_order(*a), bc = deb_order(*b);

            if (ac != bc) {
                return ac - bc;
            }
            a++;
            b++;
        }
        while (*a == '0') {
            a++;
        }
        while (*b == '0') {
            b++;
        }
        while (apr_isdigit(*a) && apr_isdigit(*b)) {
            if (!first_diff) {
                first_diff = *a - *b;
            }
            a++;
            b++;
        }
        if (apr_isdigit(*a)) {
            return 1;
        }
        if (apr_isdigit(*b)) {
            return -1;
        }
        if (first_diff) {
            return first_diff;
        }
    }
    return 0;
}

/* [epoch:]upstream[-revision], compared as dpkg does. */
static int deb_version_cmp(apr_pool_t *p, const char *a, const char *b)
{
    const char *v[2] = { a, b }, *up[2], *rev[2];
    long epoch[2];
    int i, c;

    for (i = 0; i < 2; i++) {
        const char *colon = ap_strchr_c(v[i], ':');
        char *u, *dash;

        epoch[i] = colon ? strtol(v[i], NULL, 10) : 0;
        u = apr_pstrdup(p, colon ? colon + 1 : v[i]);
        dash = strrchr(u, '-');
        if (dash) {
            *dash = '\0';
        }
        up[i] = u;
        rev[i] = dash ? dash + 1 : "";
    }
    if (epoch[0] != epoch[1]) {
        return epoch[0] < epoch[1] ? -1 : 1;
    }
    c = deb_verrevcmp(up[0], up[1]);
    return c ? c : deb_verrevcmp(rev[0], rev[1]);
}

/* The lowest installed version of a Debian package, from dpkg's status
 * file; NULL where there is none (not Debian, not readable). */
static const char *dpkg_version(apr_pool_t *p, const char *package)
{
    /* the environment may name another file: for tests */
    const char *path = getenv("MCP_DPKG_STATUS");
    const char *lowest = NULL, *version = NULL;
    int ours = 0, installed = 0, done = 0;
    char line[512];
    apr_file_t *f;

    if (apr_file_open(&f, path ? path : REDIS_DPKG_STATUS, APR_FOPEN_READ
                      | APR_FOPEN_BUFFERED, APR_OS_DEFAULT, p) != APR_SUCCESS) {
        return NULL;
    }
    while (!done) {
        done = apr_file_gets(line, sizeof(line), f) != APR_SUCCESS;
        line[strcspn(line, "\r\n")] = '\0';
        if (done || !line[0]) {     /* end of a stanza */
            if (ours && installed && version
                && (!lowest || deb_version_cmp(p, version, lowest) < 0)) {
                lowest = version;
            }
            ours = installed = 0;
            version = NULL;
        }
        else if (!strncmp(line, "Package: ", 9)) {
            ours = !strcmp(line + 9, package);
        }
        else if (!strncmp(line, "Status: ", 8)) {
            installed = ap_strstr_c(line, " installed") != NULL;
        }
        else if (ours && !strncmp(line, "Version: ", 9)) {
            version = apr_pstrdup(p, line + 9);
        }
    }
    apr_file_close(f);
    return lowest;
}

/* apr_redis uses freed memory when a GET reply is cut short (Redis killed
 * mid-reply) in apr-util up to 1.6.3 as released; Debian fixed it in
 * 1.6.3-1+deb12u1 (CVE-2026-34501). Warn once where that can be told. */
static void check_apr_util(server_rec *s, apr_pool_t *ptemp)
{
    static int checked;
    apr_version_t v;
    const char *deb;

    if (checked) {
        return;
    }
    checked = 1;
    apu_version(&v);
    if (v.major > 1 || (v.major == 1 && (v.minor > 6
                                         || (v.minor == 6 && v.patch > 3)))) {
        return;
    }
    if (v.major == 1 && v.minor == 6 && v.patch == 3) {
        deb = dpkg_version(ptemp, "libaprutil1");
        if (!deb) {
            ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s, MCPLOG(00444)
                         "apr-util %s: no Debian package version to tell "
                         "whether its apr_redis has the fix for "
                         "CVE-2026-34501", apu_version_string());
            return;
        }
        if (deb_version_cmp(ptemp, deb, REDIS_APU_FIXED_DEBIAN) >= 0) {
            return;
        }
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, MCPLOG(00442)
                     "apr-util %s (Debian package libaprutil1 %s): its "
                     "apr_redis uses freed memory when Redis dies in the "
                     "middle of a reply (CVE-2026-34501), which can crash "
                     "httpd or mix up connections; upgrade to %s or later",
                     apu_version_string(), deb, REDIS_APU_FIXED_DEBIAN);
        return;
    }
    ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, MCPLOG(00442)
                 "apr-util %s: its apr_redis uses freed memory when Redis "
                 "dies in the middle of a reply (CVE-2026-34501), which can "
                 "crash httpd or mix up connections; use an apr-util with "
                 "that fix (on Debian 12: libaprutil1 %s or later)",
                 apu_version_string(), REDIS_APU_FIXED_DEBIAN);
}

static apr_uint32_t clamp_sec(apr_interval_time_t t, apr_uint32_t max)
{
    apr_time_t sec = apr_time_sec(t);

    return (apr_uint32_t)(sec < 1 ? 1 : sec > max ? max : sec);
}

static apr_status_t redis_init(void *instance, const mcp_store_params_t *params,
                               server_rec *s, apr_pool_t *pconf,
                               apr_pool_t *ptemp)
{
    redis_store_t *st = instance;
    apr_interval_time_t hs;

    st->prefix = params->key_prefix ? params->key_prefix : "";
    st->ttl = clamp_sec(params->ttl, APR_INT32_MAX);
    hs = params->handshake_ttl > 0 && params->handshake_ttl < params->ttl
         ? params->handshake_ttl : params->ttl;
    st->hs_ttl = clamp_sec(hs, st->ttl);
    st->hs_refresh_after = apr_time_from_sec(st->hs_ttl) / 2;
    st->tombstone_ttl = st->ttl < REDIS_TOMBSTONE_MIN_TTL
                        ? REDIS_TOMBSTONE_MIN_TTL : st->ttl;
    st->refresh_after = params->refresh_after < 0 ? 0 : params->refresh_after;
    st->rwto = clamp_sec(params->timeout, 3600);
    st->threads = params->threads_per_child < 1 ? 1
                                                : params->threads_per_child;
    st->s = s;

    /* A key is rewritten once it is refresh_after old and lives ttl from
     * its latest write: a session is sure to stay only when it is used at
     * least every ttl - refresh_after. */
    if (st->refresh_after >= params->ttl) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, MCPLOG(00406)
                     "MCPSessionRefreshAfter (%" APR_TIME_T_FMT " s) is not "
                     "below MCPSessionTTL (%u s): sessions in use will expire",
                     apr_time_sec(st->refresh_after), st->ttl);
    }
    else if (st->refresh_after > params->ttl / 2) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, MCPLOG(00443)
                     "MCPSessionRefreshAfter (%" APR_TIME_T_FMT " ms) is more "
                     "than half of MCPSessionTTL (%u s): a session stays "
                     "alive only when it is used at least every %"
                     APR_TIME_T_FMT " ms (TTL - RefreshAfter), less than the "
                     "TTL/2 the default guarantees",
                     apr_time_as_msec(st->refresh_after), st->ttl,
                     apr_time_as_msec(params->ttl - st->refresh_after));
    }
    ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s, MCPLOG(00407)
                 "MCPSessionStore %s: prefix '%s', ttl %u s, handshake ttl "
                 "%u s, refresh after %" APR_TIME_T_FMT " ms, timeout %u s, "
                 "%d connections per child", st->spec, st->prefix, st->ttl,
                 st->hs_ttl, apr_time_as_msec(st->refresh_after), st->rwto,
                 st->threads);

    /* httpd runs post_config twice at startup; probe on the real pass
     * (and again after each restart). */
    if (ap_state_query(AP_SQ_MAIN_STATE) != AP_SQ_MS_CREATE_PRE_CONFIG) {
        check_apr_util(s, ptemp);
        redis_probe(st, s, ptemp);
    }
    return APR_SUCCESS;
}

/* --------------------------------------------------------------------- */
/* Clients and the down state                                            */

/* There is one server; hand it out even when apr_redis marked it DEAD, so
 * that a call never gets APR_NOTFOUND without asking Redis. */
static apr_redis_server_t *redis_pick_server(void *baton, apr_redis_t *rc,
                                             const apr_uint32_t hash)
{
    return rc->live_servers[0];
}

static apr_uint32_t redis_no_hash(void *baton, const char *data,
                                  const apr_size_t data_len)
{
    return 0;
}

/* Called with st->lock held (or before threads exist). */
static apr_status_t client_create(redis_store_t *st, redis_client_t **pc)
{
    redis_client_t *c;
    apr_pool_t *p;
    apr_status_t rv;

    rv = apr_pool_create(&p, st->pool);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    apr_pool_tag(p, "mcp_redis_client");
    c = apr_pcalloc(p, sizeof(*c));
    c->pool = p;
    rv = apr_redis_create(p, 1, 0, &c->rc);
    if (rv == APR_SUCCESS) {
        /* min 0: no connection until a call needs one; smax = max = one
         * per worker thread (client_get never lets more calls use it) */
        rv = apr_redis_server_create(p, st->host, st->port, 0, st->threads,
                                     st->threads, REDIS_CONN_IDLE_TTL,
                                     st->rwto, &c->rs);
    }
    if (rv == APR_SUCCESS) {
        /* a backstop only: see client_get */
        apr_reslist_timeout_set(c->rs->conns, apr_time_from_sec(st->rwto));
        rv = apr_redis_add_server(c->rc, c->rs);
    }
    if (rv == APR_SUCCESS) {
        c->rc->server_func = redis_pick_server;
        c->rc->hash_func = redis_no_hash;
        *pc = c;
    }
    else {
        apr_pool_destroy(p);
    }
    return rv;
}

/* Put a fresh client in place of the current one, which the last call
 * using it destroys (client_put; the caller when that is none). With
 * st->lock held. */
static void client_replace(redis_store_t *st)
{
    redis_client_t *fresh, *old = st->client;

    if (client_create(st, &fresh) != APR_SUCCESS) {
        return;                 /* keep the old one */
    }
    old->retired = 1;
    st->client = fresh;
    if (st->conn_waiters) {
        apr_thread_cond_broadcast(st->conn_free);
    }
}

static apr_status_t redis_child_init(void *instance, server_rec *s,
                                     apr_pool_t *pchild)
{
    redis_store_t *st = instance;
    apr_allocator_t *alloc = NULL;
    apr_thread_mutex_t *amutex;
    apr_status_t rv;

    if (st->pool) {
        return APR_SUCCESS;     /* shared by several servers: done once */
    }
    st->s = s;

    /* A root pool that nothing destroys: prefork destroys pchild from a
     * signal handler (stop, restart) while a call may hold a connection,
     * and apr_reslist aborts the process when it is destroyed with one
     * checked out. Process exit closes the sockets. Clients are created
     * and destroyed by worker threads: the allocator has a mutex. */
    rv = apr_allocator_create(&alloc);
    if (rv == APR_SUCCESS) {
        rv = apr_pool_create_unmanaged_ex(&st->pool, NULL, alloc);
        if (rv != APR_SUCCESS) {
            apr_allocator_destroy(alloc);
            st->pool = NULL;
        }
    }
    if (rv == APR_SUCCESS) {
        apr_allocator_owner_set(alloc, st->pool);
        apr_pool_tag(st->pool, "mcp_redis");
        rv = apr_thread_mutex_create(&amutex, APR_THREAD_MUTEX_DEFAULT,
                                     st->pool);
    }
    if (rv == APR_SUCCESS) {
        apr_allocator_mutex_set(alloc, amutex);
        rv = apr_thread_mutex_create(&st->lock, APR_THREAD_MUTEX_DEFAULT,
                                     st->pool);
    }
    if (rv == APR_SUCCESS) {
        rv = apr_thread_cond_create(&st->conn_free, st->pool);
    }
    if (rv == APR_SUCCESS) {
        rv = client_create(st, &st->client);
    }
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, MCPLOG(00410)
                     "MCPSessionStore %s: cannot create the Redis client",
                     st->spec);
        st->client = NULL;
    }
    return rv;
}

/* While down: PING Redis over a socket of its own with a short deadline.
 * Called with st->lock held, which it releases meanwhile. APR_SUCCESS
 * when Redis answers (it may answer with a refusal, e.g. -NOAUTH: it is
 * reachable); *log_up when this ended a logged outage. */
static apr_status_t probe(redis_store_t *st, apr_pool_t *p, int *log_up)
{
    char reply[REDIS_REPLY_MAX + 1];
    apr_time_t start = apr_time_now(), end;
    apr_status_t rv;
    int connected;

    st->probing = 1;
    apr_thread_mutex_unlock(st->lock);
    apr_atomic_inc32(&st->n_probes);
    rv = ping_raw(st, REDIS_PROBE_TIMEOUT, p, reply, sizeof(reply),
                  &connected);
    end = apr_time_now();
    apr_thread_mutex_lock(st->lock);
    st->probing = 0;
    if (rv == APR_SUCCESS && reply[0] == '-') {
        apr_cpystrn(st->refusal, reply, sizeof(st->refusal));
        st->refusal_at = end;
    }
    else if (rv == APR_SUCCESS && strcmp(reply, "+PONG") != 0) {
        rv = APR_EGENERAL;      /* not Redis */
    }
    if (rv == APR_SUCCESS) {
        if (st->down) {
            redis_client_t *old = st->client;

            st->down = 0;
            *log_up = st->outage_logged;
            st->outage_logged = 0;
            /* no connection from before the outage is used again */
            client_replace(st);
            if (old->retired && old->users == 0) {
                apr_pool_destroy(old->pool);
            }
        }
        return APR_SUCCESS;
    }
    st->last_error = rv;
    st->probe_at = end - start >= REDIS_SLOW_FAILURE
                   ? start + REDIS_PROBE_INTERVAL : end;
    return rv;
}

/* Take the client for one Redis command. While Redis is down this fails
 * at once, except for a call that probes it (see probe). A call never
 * waits in apr_reslist: with every connection in use it waits here for
 * one, up to the store timeout, and then fails as busy (APR_EAGAIN). */
static apr_status_t client_get(redis_store_t *st, apr_pool_t *p,
                               redis_client_t **pc, apr_time_t *started)
{
    apr_status_t rv = APR_SUCCESS;
    apr_time_t now;
    int log_up = 0, log_busy = 0;

    if (!st->lock || !st->client) {
        return APR_EINIT;
    }
    apr_atomic_inc32(&st->n_calls);
    now = *started = apr_time_now();
    apr_thread_mutex_lock(st->lock);
    if (st->down) {
        rv = (st->probing || now < st->probe_at) ? st->last_error
                                                 : probe(st, p, &log_up);
    }
    while (rv == APR_SUCCESS && st->client->users >= st->threads) {
        apr_interval_time_t left = *started + apr_time_from_sec(st->rwto)
                                   - now;

        if (left <= 0) {
            rv = APR_EAGAIN;
            if (now - st->busy_logged_at >= REDIS_LOG_INTERVAL) {
                st->busy_logged_at = now;
                log_busy = 1;
            }
            break;
        }
        st->conn_waiters++;
        apr_thread_cond_timedwait(st->conn_free, st->lock, left);
        st->conn_waiters--;
        now = apr_time_now();
    }
    if (rv == APR_SUCCESS) {
        *pc = st->client;
        st->client->users++;
    }
    apr_thread_mutex_unlock(st->lock);

    if (log_up) {
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, st->s, MCPLOG(00412)
                     "MCPSessionStore %s: Redis answers again", st->spec);
    }
    if (rv == APR_EAGAIN) {
        apr_atomic_inc32(&st->n_busy);
        ap_log_error(APLOG_MARK, log_busy ? APLOG_WARNING : APLOG_DEBUG, 0,
                     st->s, MCPLOG(00441) "MCPSessionStore %s: all %d Redis "
                     "connections of this process stayed in use for %u s; "
                     "answering this session request 503 (busy, not an "
                     "outage: more session requests at once than "
                     "ThreadsPerChild, e.g. HTTP/2 streams; logged at most "
                     "every %d s)", st->spec, st->threads, st->rwto,
                     (int)apr_time_sec(REDIS_LOG_INTERVAL));
    }
    else if (rv != APR_SUCCESS) {
        apr_atomic_inc32(&st->n_failed);
    }
    return rv;
}

/* After APR_EGENERAL (Redis answered something the command does not
 * expect, or the connection ended): 1 when Redis refused the command, 0
 * when the connection is broken. */
static int refused_command(redis_store_t *st, redis_client_t *c,
                           apr_pool_t *p)
{
    char reply[REDIS_REPLY_MAX + 1];
    apr_time_t seen;
    int connected;

    /* the pool is LIFO: the connection the command just gave back */
    if (apr_redis_ping(c->rs) == APR_SUCCESS) {
        return 1;
    }
    /* it refuses PING too (-NOAUTH), as a probe saw recently */
    apr_thread_mutex_lock(st->lock);
    seen = st->refusal_at;
    apr_thread_mutex_unlock(st->lock);
    if (seen && apr_time_now() - seen < REDIS_REFUSAL_TTL) {
        return 1;
    }
    /* a connection of our own tells a refusal from a broken connection */
    if (ping_raw(st, REDIS_PROBE_TIMEOUT, p, reply, sizeof(reply),
                 &connected) == APR_SUCCESS && reply[0] == '-') {
        apr_thread_mutex_lock(st->lock);
        apr_cpystrn(st->refusal, reply, sizeof(st->refusal));
        st->refusal_at = apr_time_now();
        apr_thread_mutex_unlock(st->lock);
        return 1;
    }
    return 0;
}

/* Give the client back with the outcome of its command. When a client
 * that had worked fails otherwise than by a timeout, its pooled
 * connections are most likely stale (Redis restarted): it is replaced and
 * *retry says to run the command once more on the fresh client, so that a
 * restart Redis is already back from is not seen by any request. */
static apr_status_t client_put(redis_store_t *st, redis_client_t *c,
                               apr_status_t rv, const char *cmd,
                               apr_time_t started, apr_pool_t *p,
                               int *retry, int *refused_out)
{
    int answered = (rv == APR_SUCCESS || rv == APR_NOTFOUND);
    int refused = 0, log_down = 0, log_up = 0, log_refused = 0;
    apr_time_t now = 0;
    char refusal[REDIS_REPLY_MAX + 1];

    *retry = 0;
    *refused_out = 0;
    refusal[0] = '\0';
    if (!answered) {
        /* never let a failure look like a miss */
        if (rv == APR_EEXIST) {
            rv = APR_EGENERAL;
        }
        if (rv == APR_EGENERAL) {
            refused = refused_command(st, c, p);
        }
        now = apr_time_now();
    }

    apr_thread_mutex_lock(st->lock);
    c->users--;
    if (st->conn_waiters && c == st->client) {
        apr_thread_cond_signal(st->conn_free);
    }
    if (answered || refused) {
        c->answered = 1;
        if (st->down) {
            st->down = 0;
            log_up = st->outage_logged;
            st->outage_logged = 0;
        }
        if (refused) {
            if (now - st->refused_logged_at >= REDIS_LOG_INTERVAL) {
                st->refused_logged_at = now;
                log_refused = 1;
            }
            if (st->refusal_at && now - st->refusal_at < REDIS_REFUSAL_TTL) {
                apr_cpystrn(refusal, st->refusal, sizeof(refusal));
            }
        }
    }
    else {
        if (c->answered && !APR_STATUS_IS_TIMEUP(rv)) {
            /* its pooled connections are likely all stale: start afresh */
            if (c == st->client) {
                client_replace(st);
            }
            *retry = st->client != c;
        }
        if (!*retry) {
            if (!st->down && now - st->logged_at >= REDIS_LOG_INTERVAL) {
                st->logged_at = now;
                st->outage_logged = 1;
                log_down = 1;
            }
            st->down = 1;
            /* a quick failure (refused, reset) lets the next call probe */
            st->probe_at = now - started >= REDIS_SLOW_FAILURE
                           ? now + REDIS_PROBE_INTERVAL : now;
            st->last_error = rv;
        }
    }
    if (c->retired && c->users == 0) {
        apr_pool_destroy(c->pool);
    }
    apr_thread_mutex_unlock(st->lock);

    if (refused) {
        *refused_out = 1;
        apr_atomic_inc32(&st->n_refused);
        ap_log_error(APLOG_MARK, log_refused ? APLOG_ERR : APLOG_DEBUG, 0,
                     st->s, MCPLOG(00440) "MCPSessionStore %s: Redis refused "
                     "%s%s%s%s; the session request gets 503. Redis is "
                     "reachable, not down: it refuses such commands e.g. "
                     "when it is full "
                     "(maxmemory with noeviction: OOM), a read-only replica "
                     "(READONLY), cannot save (MISCONF) or wants a password "
                     "(NOAUTH): see its log (logged at most every %d s per "
                     "process)", st->spec, cmd,
                     refusal[0] ? " (it answered \"" : "",
                     refusal[0] ? ap_escape_logitem(p, refusal) : "",
                     refusal[0] ? "\")" : "",
                     (int)apr_time_sec(REDIS_LOG_INTERVAL));
    }
    else if (!answered && !*retry) {
        apr_atomic_inc32(&st->n_failed);
        ap_log_error(APLOG_MARK, log_down ? APLOG_ERR : APLOG_DEBUG, rv,
                     st->s, MCPLOG(00411) "MCPSessionStore %s: Redis is not "
                     "reachable (%s %s after %" APR_TIME_T_FMT " ms); session "
                     "requests get 503 until it answers (logged at most "
                     "every %d s per process)", st->spec, cmd,
                     APR_STATUS_IS_TIMEUP(rv) ? "got no answer in time"
                                              : "failed",
                     apr_time_as_msec(now - started),
                     (int)apr_time_sec(REDIS_LOG_INTERVAL));
    }
    if (log_up) {
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, st->s, MCPLOG(00412)
                     "MCPSessionStore %s: Redis answers again", st->spec);
    }
    return rv;
}

/* The three commands this store uses, each retried at most once (see
 * client_put). A failure is never APR_NOTFOUND: with our server_func,
 * apr_redis only says NOTFOUND when Redis answered "$-1" or ":0". */
typedef enum { CMD_GET, CMD_SETEX, CMD_DEL } cmd_e;

static const char *const cmd_names[] = { "GET", "SETEX", "DEL" };

typedef struct cmd_t {
    cmd_e op;
    const char *rkey;
    apr_pool_t *p;          /* GET: where the value goes; probes */
    char *val;              /* GET: out; SETEX: in */
    apr_size_t len;
    apr_uint32_t ttl;       /* SETEX */
    int sent;               /* the command reached a connection */
    int refused;            /* Redis refused it (error reply) */
} cmd_t;

static apr_status_t cmd_run(redis_store_t *st, cmd_t *cmd)
{
    redis_client_t *c = NULL;
    apr_time_t started = 0;
    apr_status_t rv;
    int retry, tries = 0;

    cmd->sent = cmd->refused = 0;
    do {
        rv = client_get(st, cmd->p, &c, &started);
        if (rv != APR_SUCCESS) {
            break;
        }
        cmd->sent = 1;
        switch (cmd->op) {
        case CMD_GET:
            cmd->val = NULL;
            cmd->len = 0;
            rv = apr_redis_getp(c->rc, cmd->p, cmd->rkey, &cmd->val,
                                &cmd->len, NULL);
            break;
        case CMD_SETEX:
            rv = apr_redis_setex(c->rc, cmd->rkey, cmd->val, cmd->len,
                                 cmd->ttl, 0);
            /* SETEX never answers "$-1"; anything but +OK is a failure */
            if (rv == APR_NOTFOUND) {
                rv = APR_EGENERAL;
            }
            break;
        default:
            rv = apr_redis_delete(c->rc, cmd->rkey, 0);
            break;
        }
        rv = client_put(st, c, rv, cmd_names[cmd->op], started, cmd->p,
                        &retry, &cmd->refused);
    } while (retry && ++tries < 2);
    return rv;
}

static apr_status_t cmd_get(redis_store_t *st, const char *rkey,
                            apr_pool_t *p, char **val, apr_size_t *len)
{
    cmd_t cmd = { CMD_GET, rkey, p, NULL, 0, 0, 0, 0 };
    apr_status_t rv = cmd_run(st, &cmd);

    *val = cmd.val;
    *len = cmd.len;
    return rv;
}

static apr_status_t cmd_setex(redis_store_t *st, const char *rkey,
                              char *val, apr_size_t len, apr_uint32_t ttl,
                              apr_pool_t *p, int *unsure)
{
    cmd_t cmd = { CMD_SETEX, rkey, p, val, len, ttl, 0, 0 };
    apr_status_t rv = cmd_run(st, &cmd);

    /* Redis may have executed a command whose answer did not come */
    *unsure = rv != APR_SUCCESS && cmd.sent && !cmd.refused
              && !APR_STATUS_IS_ECONNREFUSED(rv);
    return rv;
}

static apr_status_t cmd_del(redis_store_t *st, const char *rkey,
                            apr_pool_t *p)
{
    cmd_t cmd = { CMD_DEL, rkey, p, NULL, 0, 0, 0, 0 };
    return cmd_run(st, &cmd);
}

/* --------------------------------------------------------------------- */
/* Records and tombstones                                                */

static const char *record_key(redis_store_t *st, const char *key,
                              apr_pool_t *p)
{
    return apr_pstrcat(p, st->prefix, key, NULL);
}

static const char *tombstone_key(redis_store_t *st, const char *key,
                                 apr_pool_t *p)
{
    return apr_pstrcat(p, st->prefix, key, REDIS_TOMBSTONE_SUFFIX, NULL);
}

/* "<write time> <record>", or "+<write time> <record>" for a session in
 * its handshake (see the top of this file) */
static char *envelope(const char *record, apr_size_t len, int handshake,
                      apr_pool_t *p, apr_size_t *elen)
{
    char head[32];
    apr_size_t hlen;
    char *e;

    hlen = apr_snprintf(head, sizeof(head), "%s%" APR_TIME_T_FMT " ",
                        handshake ? "+" : "", apr_time_now());
    e = apr_palloc(p, hlen + len + 1);
    memcpy(e, head, hlen);
    memcpy(e + hlen, record, len);
    e[hlen + len] = '\0';
    *elen = hlen + len;
    return e;
}

static void recheck_add(redis_store_t *st, const char *key)
{
    int log_full = 0, i;

    if (strlen(key) > MCP_STORE_KEY_LEN) {
        return;
    }
    apr_thread_mutex_lock(st->lock);
    for (i = 0; i < st->nrecheck; i++) {
        if (strcmp(st->recheck[i], key) == 0) {
            break;              /* already queued */
        }
    }
    if (i == st->nrecheck) {
        if (st->nrecheck < REDIS_RECHECK_MAX) {
            apr_cpystrn(st->recheck[st->nrecheck++], key,
                        MCP_STORE_KEY_LEN + 1);
        }
        else {
            log_full = (st->recheck_dropped++ == 0);
        }
    }
    apr_thread_mutex_unlock(st->lock);
    if (log_full) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, st->s, MCPLOG(00420)
                     "MCPSessionStore %s: session %.8s... may have been "
                     "deleted while Redis failed; too many such sessions "
                     "to recheck (further ones are not logged), it may "
                     "live until its TTL", st->spec, key);
    }
}

/* After a write of the record: if the session was removed meanwhile,
 * delete the record again. APR_SUCCESS: not removed; APR_NOTFOUND:
 * removed (record deleted); else unknown, remembered for a recheck. */
static apr_status_t tombstone_check(redis_store_t *st, const char *key,
                                    apr_pool_t *p)
{
    char *val;
    apr_size_t len;
    apr_status_t rv;

    rv = cmd_get(st, tombstone_key(st, key, p), p, &val, &len);
    if (rv == APR_NOTFOUND) {
        rv = APR_SUCCESS;
    }
    else if (rv == APR_SUCCESS) {
        apr_atomic_inc32(&st->n_tombstones);
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, st->s, MCPLOG(00421)
                     "redis: session %.8s... was removed concurrently; "
                     "deleting the record just written", key);
        rv = cmd_del(st, record_key(st, key, p), p);
        if (rv == APR_SUCCESS || rv == APR_NOTFOUND) {
            rv = APR_NOTFOUND;
        }
        else {
            recheck_add(st, key);
            rv = APR_NOTFOUND;      /* it is removed, whatever Redis holds */
        }
    }
    else {
        recheck_add(st, key);
    }
    return rv;
}

/* Recheck the keys whose tombstone check failed, once Redis answers. */
static void recheck_run(redis_store_t *st, apr_pool_t *p)
{
    char keys[REDIS_RECHECK_MAX][MCP_STORE_KEY_LEN + 1];
    int n, i;

    if (st->nrecheck == 0 || st->down) {    /* unlocked peek: a hint */
        return;
    }
    apr_thread_mutex_lock(st->lock);
    n = st->nrecheck;
    memcpy(keys, st->recheck, sizeof(keys[0]) * n);
    st->nrecheck = 0;
    st->recheck_dropped = 0;
    apr_thread_mutex_unlock(st->lock);

    for (i = 0; i < n; i++) {
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, st->s, MCPLOG(00422)
                     "redis: rechecking session %.8s... for a tombstone",
                     keys[i]);
        tombstone_check(st, keys[i], p);    /* re-adds on failure */
    }
}

/* Write the record with a fresh TTL (the handshake TTL while handshake),
 * then check for a tombstone. */
static apr_status_t write_checked(redis_store_t *st, const char *key,
                                  const char *record, apr_size_t len,
                                  int handshake, apr_pool_t *p)
{
    apr_size_t elen;
    char *e = envelope(record, len, handshake, p, &elen);
    apr_status_t rv;
    int unsure;

    rv = cmd_setex(st, record_key(st, key, p), e, elen,
                   handshake ? st->hs_ttl : st->ttl, p, &unsure);
    if (rv == APR_SUCCESS) {
        rv = tombstone_check(st, key, p);
    }
    else if (unsure) {
        /* Redis may have executed it all the same (e.g. a timeout) */
        recheck_add(st, key);
    }
    return rv;
}

/* --------------------------------------------------------------------- */
/* The provider                                                          */

static apr_status_t redis_create_session(void *instance,
                                         const mcp_store_ctx_t *c,
                                         const char *key, const char *record,
                                         apr_size_t len)
{
    redis_store_t *st = instance;
    apr_pool_t *p = c->pool;
    apr_size_t elen;
    char *e;
    apr_status_t rv;
    int unsure;

    /* it lives the handshake TTL until its first update() */
    e = envelope(record, len, 1, p, &elen);
    rv = cmd_setex(st, record_key(st, key, p), e, elen, st->hs_ttl, p,
                   &unsure);
    ap_log_error(APLOG_MARK, APLOG_DEBUG, rv, st->s, MCPLOG(00430)
                 "redis: create session %.8s... (handshake ttl %u s): %s",
                 key, st->hs_ttl, rv == APR_SUCCESS ? "stored" : "failed");
    recheck_run(st, p);
    return rv;
}

static apr_status_t redis_fetch(void *instance, const mcp_store_ctx_t *c,
                                const char *key, char **record,
                                apr_size_t *len)
{
    redis_store_t *st = instance;
    apr_pool_t *p = c->pool;
    char *val = NULL, *body = NULL;
    apr_size_t vlen = 0;
    apr_int64_t written = 0;
    apr_interval_time_t age;
    apr_status_t rv;
    int handshake = 0;

    rv = cmd_get(st, record_key(st, key, p), p, &val, &vlen);
    if (rv == APR_NOTFOUND) {
        apr_atomic_inc32(&st->n_misses);
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, st->s, MCPLOG(00431)
                     "redis: session %.8s...: miss (Redis has no record)",
                     key);
    }
    else if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_DEBUG, rv, st->s, MCPLOG(00432)
                     "redis: session %.8s...: Redis unavailable, not a miss",
                     key);
    }
    else {
        if (val && vlen > 0) {
            handshake = val[0] == '+';
            written = apr_strtoi64(val, &body, 10);
        }
        if (!body || body == val || *body != ' ' || written <= 0) {
            /* not written by this store: unusable, so no such session */
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, st->s, MCPLOG(00433)
                         "redis: session %.8s...: the value under %s%.8s... "
                         "is not a session record; treating it as missing",
                         key, st->prefix, key);
            rv = APR_NOTFOUND;
        }
    }

    if (rv == APR_SUCCESS) {
        body++;
        *len = vlen - (apr_size_t)(body - val);
        *record = body;
        age = apr_time_now() - (apr_time_t)written;
        /* a write time in our future means skewed clocks: refresh too */
        if (age < 0 || age >= (handshake ? st->hs_refresh_after
                                         : st->refresh_after)) {
            apr_status_t wrv;

            apr_atomic_inc32(&st->n_refreshes);
            wrv = write_checked(st, key, body, *len, handshake, p);
            ap_log_error(APLOG_MARK, APLOG_DEBUG, wrv, st->s, MCPLOG(00434)
                         "redis: session %.8s...: refreshed after %"
                         APR_TIME_T_FMT " ms: %s", key,
                         apr_time_as_msec(age),
                         wrv == APR_SUCCESS ? "ok"
                         : wrv == APR_NOTFOUND ? "removed meanwhile"
                         : "failed, record served as read");
            if (wrv == APR_NOTFOUND) {
                rv = APR_NOTFOUND;
                *record = NULL;
                *len = 0;
            }
        }
    }
    recheck_run(st, p);
    return rv;
}

/* Conditional: write only while the record is there (see the top of this
 * file), and give a session in its handshake the full TTL. */
static apr_status_t redis_update(void *instance, const mcp_store_ctx_t *c,
                                 const char *key, const char *record,
                                 apr_size_t len)
{
    redis_store_t *st = instance;
    apr_pool_t *p = c->pool;
    char *val;
    apr_size_t vlen;
    apr_status_t rv;

    rv = cmd_get(st, record_key(st, key, p), p, &val, &vlen);
    if (rv == APR_SUCCESS) {
        rv = write_checked(st, key, record, len, 0, p);
    }
    ap_log_error(APLOG_MARK, APLOG_DEBUG, rv, st->s, MCPLOG(00435)
                 "redis: update session %.8s...: %s", key,
                 rv == APR_SUCCESS ? "stored"
                 : rv == APR_NOTFOUND ? "it ended meanwhile (expired or "
                                        "removed): not revived"
                 : "failed");
    recheck_run(st, p);
    return rv;
}

static apr_status_t redis_remove(void *instance, const mcp_store_ctx_t *c,
                                 const char *key)
{
    redis_store_t *st = instance;
    apr_pool_t *p = c->pool;
    const char *rkey = record_key(st, key, p);
    char one[] = "1";
    apr_status_t rv, existed;
    int unsure;

    /* The first DEL tells whether the session existed: the second one
     * cannot, since a refresh that meets our tombstone deletes the record
     * itself. Then the tombstone, then the record again: see the top of
     * this file. */
    rv = existed = cmd_del(st, rkey, p);
    if (rv == APR_SUCCESS || rv == APR_NOTFOUND) {
        rv = cmd_setex(st, tombstone_key(st, key, p), one, 1,
                       st->tombstone_ttl, p, &unsure);
    }
    if (rv == APR_SUCCESS) {
        rv = cmd_del(st, rkey, p);
    }
    if (rv == APR_SUCCESS || rv == APR_NOTFOUND) {
        rv = existed;
    }
    ap_log_error(APLOG_MARK, APLOG_DEBUG, rv, st->s, MCPLOG(00436)
                 "redis: remove session %.8s...: %s", key,
                 rv == APR_SUCCESS ? "deleted"
                 : rv == APR_NOTFOUND ? "no such record" : "failed");
    recheck_run(st, p);
    return rv;
}

static const char *redis_describe(void *instance, apr_pool_t *p)
{
    redis_store_t *st = instance;

    return apr_psprintf(p, "redis %s:%u, prefix %s", st->host,
                        (unsigned)st->port, st->prefix);
}

static int redis_healthy(void *instance)
{
    redis_store_t *st = instance;

    return st->client != NULL && !st->down;
}

static void redis_status(void *instance, request_rec *r, int flags)
{
    redis_store_t *st = instance;
    int healthy = redis_healthy(st);

    if (flags & AP_STATUS_SHORT) {
        ap_rprintf(r, "MCPSessionRedisServer: %s:%u\n"
                   "MCPSessionRedisHealthy: %d\n"
                   "MCPSessionRedisCalls: %u\n"
                   "MCPSessionRedisFailures: %u\n"
                   "MCPSessionRedisRefused: %u\n"
                   "MCPSessionRedisBusy: %u\n"
                   "MCPSessionRedisProbes: %u\n"
                   "MCPSessionRedisMisses: %u\n"
                   "MCPSessionRedisRefreshes: %u\n"
                   "MCPSessionRedisTombstoneHits: %u\n",
                   ap_escape_html(r->pool, st->host), (unsigned)st->port,
                   healthy, apr_atomic_read32(&st->n_calls),
                   apr_atomic_read32(&st->n_failed),
                   apr_atomic_read32(&st->n_refused),
                   apr_atomic_read32(&st->n_busy),
                   apr_atomic_read32(&st->n_probes),
                   apr_atomic_read32(&st->n_misses),
                   apr_atomic_read32(&st->n_refreshes),
                   apr_atomic_read32(&st->n_tombstones));
    }
    else {
        ap_rprintf(r, "<table><tr><th colspan=\"2\">Redis %s:%u, prefix "
                   "%s (this process)</th></tr>\n"
                   "<tr><td>healthy</td><td>%s</td></tr>\n"
                   "<tr><td>calls</td><td>%u</td></tr>\n"
                   "<tr><td>failures</td><td>%u</td></tr>\n"
                   "<tr><td>refused by Redis</td><td>%u</td></tr>\n"
                   "<tr><td>busy (no free connection)</td><td>%u</td></tr>\n"
                   "<tr><td>probes while down</td><td>%u</td></tr>\n"
                   "<tr><td>misses</td><td>%u</td></tr>\n"
                   "<tr><td>refreshes</td><td>%u</td></tr>\n"
                   "<tr><td>tombstone hits</td><td>%u</td></tr>\n"
                   "</table>\n",
                   ap_escape_html(r->pool, st->host), (unsigned)st->port,
                   ap_escape_html(r->pool, st->prefix),
                   healthy ? "yes" : "no", apr_atomic_read32(&st->n_calls),
                   apr_atomic_read32(&st->n_failed),
                   apr_atomic_read32(&st->n_refused),
                   apr_atomic_read32(&st->n_busy),
                   apr_atomic_read32(&st->n_probes),
                   apr_atomic_read32(&st->n_misses),
                   apr_atomic_read32(&st->n_refreshes),
                   apr_atomic_read32(&st->n_tombstones));
    }
}

static const mcp_store_provider_t redis_provider = {
    "redis",
    redis_create,
    redis_init,
    redis_child_init,
    NULL,                       /* max_record: MCP_STORE_MAX_RECORD */
    redis_create_session,
    redis_fetch,
    redis_update,
    redis_remove,
    redis_describe,
    redis_healthy,
    redis_status,
    NULL,                       /* update_if: issue 12 (no WATCH/scripts
                                 * in apr_redis) */
    NULL,                       /* publish, wait: no pub/sub in apr_redis */
    NULL
};

/* mod_mcp_session_redis serves "redis" when it is loaded, whatever the
 * LoadModule order: loaded after us it replaces this registration
 * (ap_register_provider overwrites); loaded before, we leave its own. */
void mcp_store_redis_register(apr_pool_t *p)
{
    if (!ap_lookup_provider(MCP_STORE_PROVIDER_GROUP, redis_provider.name,
                            MCP_API_VERSION)) {
        mcp_register_store(p, &redis_provider);
    }
}
