/*
 * mod_mcp_session: the "redis" session store provider
 * (MCPSessionStorageMode external, MCPSessionStore redis://HOST[:PORT]).
 *
 * It talks to Redis through APR-util's apr_redis, which knows GET, SETEX,
 * DEL and PING but not AUTH, SELECT, EXPIRE, SET NX, MULTI or scripts,
 * connects over IPv4 only, and has traps this file works around:
 *
 * - After a failure apr_redis marks its server DEAD and, for the next 5 s,
 *   answers every call with APR_NOTFOUND without talking to Redis: the
 *   same status as a real miss. We install our own server_func that always
 *   hands out the one server, so APR_NOTFOUND can only come from a Redis
 *   reply ("$-1" for GET, ":0" for DEL), and we keep our own "down" state
 *   instead: while Redis refuses connections every call tries it (that
 *   costs nothing, and recovery is seen at once); after a timeout only one
 *   call per REDIS_RETRY_INTERVAL does.
 * - When Redis restarts, every pooled connection is stale; apr_redis
 *   returns a stale connection to its pool after the first failure and
 *   drops it only after the second. We therefore replace the whole client
 *   (apr_redis_t, server and connection pool) after the first failure of a
 *   client that had worked, and run that command again on the new one, so
 *   a restart Redis is already back from is not seen by any request.
 * - Commands: a session read that needs no refresh is one GET.
 *
 * Keys:    <MCPSessionKeyPrefix><64 hex>            the session record
 *          <MCPSessionKeyPrefix><64 hex>:deleted    tombstone of remove()
 * Value:   "<write time, unix microseconds> <record>" so fetch() knows how
 *          old the key is: apr_redis has no TTL/EXPIRE, so the sliding
 *          lifetime is kept by rewriting the whole value with SETEX once it
 *          is MCPSessionRefreshAfter old.
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
 * the session TTL and at least REDIS_TOMBSTONE_MIN_TTL, far longer than a
 * call may take. If the writer cannot read the tombstone or cannot delete
 * the record (Redis failed between two commands), the key is remembered
 * and checked again when Redis answers (recheck list, per child).
 *
 * Known limit: there is no compare-and-set, so a refresh that rewrites the
 * record it just read can overwrite an update() made on another node in
 * between (last writer wins).
 */

#include "apr_strings.h"
#include "apr_lib.h"
#include "apr_atomic.h"
#include "apr_network_io.h"
#include "apr_reslist.h"
#include "apr_redis.h"
#include "apr_thread_mutex.h"

#include "httpd.h"
#include "http_config.h"
#include "http_core.h"
#include "http_log.h"
#include "http_protocol.h"
#include "ap_provider.h"
#include "mod_status.h"

#include "mcp_private.h"
#include "mcp_session_store.h"

#if !APR_HAS_THREADS
#error "mcp_store_redis.c needs APR with threads"
#endif

#define REDIS_DEFAULT_PORT       6379
#define REDIS_TOMBSTONE_SUFFIX   ":deleted"
#define REDIS_TOMBSTONE_MIN_TTL  60
/* While Redis is down, one call at a time tries it and the others fail at
 * once; after a slow failure (a timeout) nobody tries for an interval. */
#define REDIS_RETRY_INTERVAL     apr_time_from_sec(5)
#define REDIS_SLOW_FAILURE       apr_time_from_msec(100)
/* Outage log lines: the first, then at most one per interval. */
#define REDIS_LOG_INTERVAL       apr_time_from_sec(30)
/* Idle pooled connections are closed after this (microseconds, uint32). */
#define REDIS_CONN_IDLE_TTL      ((apr_uint32_t)(60 * APR_USEC_PER_SEC))
/* Keys whose tombstone check failed, rechecked when Redis answers. */
#define REDIS_RECHECK_MAX        32
#define REDIS_PROBE_REPLY_MAX    200

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
    apr_uint32_t tombstone_ttl; /* seconds */
    apr_interval_time_t refresh_after;
    apr_uint32_t rwto;          /* seconds, >= 1 */
    int threads;

    /* child_init(): per child process */
    server_rec *s;
    apr_pool_t *pool;           /* own allocator with a mutex */
    apr_thread_mutex_t *lock;   /* guards the fields below */
    redis_client_t *client;
    int down;                   /* the latest call failed */
    int outage_logged;          /* this outage was logged */
    apr_time_t retry_at;        /* while down: fail fast until then */
    apr_time_t logged_at;       /* latest outage log line */
    apr_status_t last_error;
    int nrecheck;
    int recheck_dropped;
    char recheck[REDIS_RECHECK_MAX][MCP_STORE_KEY_LEN + 1];

    /* counters of this child, for mod_status */
    volatile apr_uint32_t n_calls;
    volatile apr_uint32_t n_failed;
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
                                apr_pool_t *p, apr_pool_t *ptemp)
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
        return apr_psprintf(p, "'%s' is not a valid Redis "
                            "address: %s", spec, why);
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

/* Ask Redis for PING over a plain socket that is closed before returning,
 * and say clearly what is wrong if the answer is not +PONG. */
static void redis_probe(redis_store_t *st, server_rec *s, apr_pool_t *ptemp)
{
    static const char ping[] = "*1\r\n$4\r\nPING\r\n";
    char reply[REDIS_PROBE_REPLY_MAX + 1];
    apr_size_t got = 0, n;
    apr_sockaddr_t *sa;
    apr_socket_t *sock = NULL;
    apr_pool_t *p;
    apr_status_t rv;

    rv = apr_pool_create(&p, ptemp);
    if (rv != APR_SUCCESS) {
        return;
    }
    rv = apr_sockaddr_info_get(&sa, st->host, APR_INET, st->port, 0, p);
    if (rv == APR_SUCCESS) {
        rv = apr_socket_create(&sock, APR_INET, SOCK_STREAM, APR_PROTO_TCP, p);
    }
    if (rv == APR_SUCCESS) {
        /* apr_redis' own connect timeout is a hard-coded 1 s */
        rv = apr_socket_timeout_set(sock, apr_time_from_sec(1));
    }
    if (rv == APR_SUCCESS) {
        rv = apr_socket_connect(sock, sa);
    }
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, rv, s, MCPLOG(00401)
                     "MCPSessionStore %s: Redis is not reachable now; the "
                     "server starts anyway and answers session requests "
                     "with 503 until Redis is up", st->spec);
        goto done;
    }

    n = sizeof(ping) - 1;
    apr_socket_timeout_set(sock, apr_time_from_sec(st->rwto));
    rv = apr_socket_send(sock, ping, &n);
    while (rv == APR_SUCCESS && got < REDIS_PROBE_REPLY_MAX
           && !memchr(reply, '\n', got)) {
        n = REDIS_PROBE_REPLY_MAX - got;
        rv = apr_socket_recv(sock, reply + got, &n);
        got += n;
    }
    reply[got] = '\0';
    reply[strcspn(reply, "\r\n")] = '\0';

    if (strncmp(reply, "+PONG", 5) == 0) {
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
                     st->spec, ap_escape_logitem(p, reply));
    }
    else if (got > 0) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, MCPLOG(00404)
                     "MCPSessionStore %s: PING was answered with \"%s\"; "
                     "session calls will fail with 503 until Redis accepts "
                     "GET/SETEX/DEL from this server", st->spec,
                     ap_escape_logitem(p, reply));
    }
    else {
        ap_log_error(APLOG_MARK, APLOG_WARNING, rv, s, MCPLOG(00405)
                     "MCPSessionStore %s: no answer to PING; the server "
                     "starts anyway and answers session requests with 503 "
                     "until Redis is up", st->spec);
    }

done:
    if (sock) {
        apr_socket_close(sock);
    }
    apr_pool_destroy(p);
}

static apr_status_t redis_init(void *instance, const mcp_store_params_t *params,
                               server_rec *s, apr_pool_t *pconf,
                               apr_pool_t *ptemp)
{
    redis_store_t *st = instance;
    apr_time_t ttl = apr_time_sec(params->ttl);
    apr_time_t rwto = apr_time_sec(params->timeout);

    st->prefix = params->key_prefix ? params->key_prefix : "";
    st->ttl = (apr_uint32_t)(ttl < 1 ? 1 : ttl > APR_INT32_MAX ? APR_INT32_MAX
                                                            : ttl);
    st->tombstone_ttl = st->ttl < REDIS_TOMBSTONE_MIN_TTL
                        ? REDIS_TOMBSTONE_MIN_TTL : st->ttl;
    st->refresh_after = params->refresh_after < 0 ? 0 : params->refresh_after;
    st->rwto = (apr_uint32_t)(rwto < 1 ? 1 : rwto > 3600 ? 3600 : rwto);
    st->threads = params->threads_per_child < 1 ? 1
                                                : params->threads_per_child;
    st->s = s;

    if (st->refresh_after >= params->ttl) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, MCPLOG(00406)
                     "MCPSessionRefreshAfter (%" APR_TIME_T_FMT " s) is not "
                     "below MCPSessionTTL (%u s): sessions in use will expire",
                     apr_time_sec(st->refresh_after), st->ttl);
    }
    ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s, MCPLOG(00407)
                 "MCPSessionStore %s: prefix '%s', ttl %u s, refresh after "
                 "%" APR_TIME_T_FMT " ms, timeout %u s, %d connections per "
                 "child", st->spec, st->prefix, st->ttl,
                 apr_time_as_msec(st->refresh_after), st->rwto, st->threads);

    /* httpd runs post_config twice at startup; probe on the real pass
     * (and again after each restart). */
    if (ap_state_query(AP_SQ_MAIN_STATE) != AP_SQ_MS_CREATE_PRE_CONFIG) {
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
         * per worker thread, so a call never waits for a connection. */
        rv = apr_redis_server_create(p, st->host, st->port, 0, st->threads,
                                     st->threads, REDIS_CONN_IDLE_TTL,
                                     st->rwto, &c->rs);
    }
    if (rv == APR_SUCCESS) {
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

    /* Clients are created and destroyed by worker threads: give them an
     * allocator of their own that is safe to share between threads. */
    rv = apr_allocator_create(&alloc);
    if (rv == APR_SUCCESS) {
        rv = apr_pool_create_ex(&st->pool, pchild, NULL, alloc);
        if (rv != APR_SUCCESS) {
            apr_allocator_destroy(alloc);
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

/* Take the client for one Redis command. While Redis is down this fails
 * at once, except for the one call that tries it (see retry_at). */
static apr_status_t client_get(redis_store_t *st, redis_client_t **pc,
                               apr_time_t *started)
{
    apr_status_t rv = APR_SUCCESS;

    if (!st->lock || !st->client) {
        return APR_EINIT;
    }
    apr_atomic_inc32(&st->n_calls);
    *started = apr_time_now();
    apr_thread_mutex_lock(st->lock);
    if (st->down) {
        if (*started < st->retry_at) {
            rv = st->last_error;
        }
        else {
            /* this call tries; the others fail fast while it may wait for
             * the connect (1 s) and read timeouts */
            st->retry_at = *started + apr_time_from_sec(st->rwto + 1);
        }
    }
    if (rv == APR_SUCCESS) {
        *pc = st->client;
        st->client->users++;
    }
    apr_thread_mutex_unlock(st->lock);
    if (rv != APR_SUCCESS) {
        apr_atomic_inc32(&st->n_failed);
    }
    return rv;
}

/* Give the client back with the outcome of its command. When a client
 * that had worked fails, its pooled connections are most likely stale
 * (Redis restarted): it is replaced, and unless it timed out *retry says
 * to run the command once more on the fresh client, so that a restart
 * Redis is already back from is not seen by any request. */
static apr_status_t client_put(redis_store_t *st, redis_client_t *c,
                               apr_status_t rv, apr_time_t started,
                               int *retry)
{
    int answered = (rv == APR_SUCCESS || rv == APR_NOTFOUND);
    int log_down = 0, log_up = 0;
    apr_time_t now = 0;

    *retry = 0;
    if (!answered) {
        now = apr_time_now();
        /* never let a failure look like a miss */
        if (rv == APR_EEXIST) {
            rv = APR_EGENERAL;
        }
    }

    apr_thread_mutex_lock(st->lock);
    c->users--;
    if (answered) {
        c->answered = 1;
        if (st->down) {
            st->down = 0;
            log_up = st->outage_logged;
            st->outage_logged = 0;
        }
    }
    else if (c->answered) {
        /* its pooled connections are likely all stale: start afresh */
        redis_client_t *fresh;

        if (c == st->client && client_create(st, &fresh) == APR_SUCCESS) {
            c->retired = 1;
            st->client = fresh;
        }
        *retry = st->client != c && !APR_STATUS_IS_TIMEUP(rv);
    }
    if (!answered && !*retry) {
        if (st->logged_at == 0 || now - st->logged_at >= REDIS_LOG_INTERVAL) {
            st->logged_at = now;
            st->outage_logged = 1;
            log_down = 1;
        }
        st->down = 1;
        /* a quick failure (refused, reset) costs the next call nothing:
         * let it try, so recovery is seen at once */
        st->retry_at = now - started >= REDIS_SLOW_FAILURE
                       ? now + REDIS_RETRY_INTERVAL : now;
        st->last_error = rv;
    }
    if (c->retired && c->users == 0) {
        apr_pool_destroy(c->pool);
    }
    apr_thread_mutex_unlock(st->lock);

    if (!answered && !*retry) {
        apr_atomic_inc32(&st->n_failed);
    }
    if (log_down) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, st->s, MCPLOG(00411)
                     "MCPSessionStore %s: Redis call failed; session "
                     "requests get 503 until it answers (logged at most "
                     "every %d s per process)", st->spec,
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

typedef struct cmd_t {
    cmd_e op;
    const char *rkey;
    apr_pool_t *p;          /* GET: where the value goes */
    char *val;              /* GET: out; SETEX: in */
    apr_size_t len;
    apr_uint32_t ttl;       /* SETEX */
    int sent;               /* the command reached a connection */
} cmd_t;

static apr_status_t cmd_run(redis_store_t *st, cmd_t *cmd)
{
    redis_client_t *c;
    apr_time_t started;
    apr_status_t rv;
    int retry, tries = 0;

    cmd->sent = 0;
    do {
        rv = client_get(st, &c, &started);
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
        rv = client_put(st, c, rv, started, &retry);
    } while (retry && ++tries < 2);
    return rv;
}

static apr_status_t cmd_get(redis_store_t *st, const char *rkey,
                            apr_pool_t *p, char **val, apr_size_t *len)
{
    cmd_t cmd = { CMD_GET, rkey, p, NULL, 0, 0, 0 };
    apr_status_t rv = cmd_run(st, &cmd);

    *val = cmd.val;
    *len = cmd.len;
    return rv;
}

static apr_status_t cmd_setex(redis_store_t *st, const char *rkey,
                              char *val, apr_size_t len, apr_uint32_t ttl,
                              int *sent)
{
    cmd_t cmd = { CMD_SETEX, rkey, NULL, val, len, ttl, 0 };
    apr_status_t rv = cmd_run(st, &cmd);

    *sent = cmd.sent;
    return rv;
}

static apr_status_t cmd_del(redis_store_t *st, const char *rkey)
{
    cmd_t cmd = { CMD_DEL, rkey, NULL, NULL, 0, 0, 0 };
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

/* "<write time> <record>" */
static char *envelope(const char *record, apr_size_t len, apr_pool_t *p,
                      apr_size_t *elen)
{
    char head[32];
    apr_size_t hlen;
    char *e;

    hlen = apr_snprintf(head, sizeof(head), "%" APR_TIME_T_FMT " ",
                        apr_time_now());
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
        rv = cmd_del(st, record_key(st, key, p));
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

/* Write the record with a fresh TTL, then check for a tombstone. */
static apr_status_t write_checked(redis_store_t *st, const char *key,
                                  const char *record, apr_size_t len,
                                  apr_pool_t *p)
{
    apr_size_t elen;
    char *e = envelope(record, len, p, &elen);
    apr_status_t rv;
    int sent;

    rv = cmd_setex(st, record_key(st, key, p), e, elen, st->ttl, &sent);
    if (rv == APR_SUCCESS) {
        rv = tombstone_check(st, key, p);
    }
    else if (sent && !APR_STATUS_IS_ECONNREFUSED(rv)) {
        /* Redis may have executed it all the same (e.g. a timeout) */
        recheck_add(st, key);
    }
    return rv;
}

/* --------------------------------------------------------------------- */
/* The provider                                                          */

static apr_status_t redis_create_session(void *instance, const char *key,
                                         const char *record, apr_size_t len,
                                         apr_pool_t *p)
{
    redis_store_t *st = instance;
    apr_size_t elen;
    char *e;
    apr_status_t rv;
    int sent;

    e = envelope(record, len, p, &elen);
    rv = cmd_setex(st, record_key(st, key, p), e, elen, st->ttl, &sent);
    ap_log_error(APLOG_MARK, APLOG_DEBUG, rv, st->s, MCPLOG(00430)
                 "redis: create session %.8s...: %s", key,
                 rv == APR_SUCCESS ? "stored" : "failed");
    recheck_run(st, p);
    return rv;
}

static apr_status_t redis_fetch(void *instance, const char *key,
                                apr_pool_t *p, char **record,
                                apr_size_t *len)
{
    redis_store_t *st = instance;
    char *val = NULL, *body = NULL;
    apr_size_t vlen = 0;
    apr_int64_t written = 0;
    apr_interval_time_t age;
    apr_status_t rv;

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
        if (age < 0 || age >= st->refresh_after) {
            apr_status_t wrv;

            apr_atomic_inc32(&st->n_refreshes);
            wrv = write_checked(st, key, body, *len, p);
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

static apr_status_t redis_update(void *instance, const char *key,
                                 const char *record, apr_size_t len,
                                 apr_pool_t *p)
{
    redis_store_t *st = instance;
    apr_status_t rv;

    rv = write_checked(st, key, record, len, p);
    ap_log_error(APLOG_MARK, APLOG_DEBUG, rv, st->s, MCPLOG(00435)
                 "redis: update session %.8s...: %s", key,
                 rv == APR_SUCCESS ? "stored"
                 : rv == APR_NOTFOUND ? "removed meanwhile" : "failed");
    recheck_run(st, p);
    return rv;
}

static apr_status_t redis_remove(void *instance, const char *key,
                                 apr_pool_t *p)
{
    redis_store_t *st = instance;
    const char *rkey = record_key(st, key, p);
    char one[] = "1";
    apr_status_t rv, existed;
    int sent;

    /* The first DEL tells whether the session existed: the second one
     * cannot, since a refresh that meets our tombstone deletes the record
     * itself. Then the tombstone, then the record again: see the top of
     * this file. */
    rv = existed = cmd_del(st, rkey);
    if (rv == APR_SUCCESS || rv == APR_NOTFOUND) {
        rv = cmd_setex(st, tombstone_key(st, key, p), one, 1,
                       st->tombstone_ttl, &sent);
    }
    if (rv == APR_SUCCESS) {
        rv = cmd_del(st, rkey);
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
                   "MCPSessionRedisMisses: %u\n"
                   "MCPSessionRedisRefreshes: %u\n"
                   "MCPSessionRedisTombstoneHits: %u\n",
                   ap_escape_html(r->pool, st->host), (unsigned)st->port,
                   healthy, apr_atomic_read32(&st->n_calls),
                   apr_atomic_read32(&st->n_failed),
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
                   "<tr><td>misses</td><td>%u</td></tr>\n"
                   "<tr><td>refreshes</td><td>%u</td></tr>\n"
                   "<tr><td>tombstone hits</td><td>%u</td></tr>\n"
                   "</table>\n",
                   ap_escape_html(r->pool, st->host), (unsigned)st->port,
                   ap_escape_html(r->pool, st->prefix),
                   healthy ? "yes" : "no", apr_atomic_read32(&st->n_calls),
                   apr_atomic_read32(&st->n_failed),
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
    redis_create_session,
    redis_fetch,
    redis_update,
    redis_remove,
    redis_describe,
    redis_healthy,
    redis_status
};

void mcp_store_redis_register(apr_pool_t *p)
{
    ap_register_provider(p, MCP_STORE_PROVIDER_GROUP, "redis",
                         MCP_STORE_PROVIDER_VERSION, &redis_provider);
}
