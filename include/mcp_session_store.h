/*
 * mod_mcp_session: the session store provider interface, API 2.0
 * (mcp_api.h). httpd-free: server_rec and request_rec are only named, so a
 * provider and its tests can be built without httpd's headers.
 *
 * A store keeps serialized session records (JSON text, opaque to the
 * store) under a key. mod_mcp_session ships two providers: "memory"
 * (shared memory of this server, MCPSessionStorageMode memory) and "redis"
 * (MCPSessionStorageMode external + MCPSessionStore redis://host:port).
 * Another module adds one in its register_hooks (mod_mcp_session.h):
 *
 *     mcp_register_store(p, &my_provider);     my_provider.name = "sql"
 *
 * and users select it with "MCPSessionStore sql://...": the part before
 * "://" names the provider.
 *
 * Keys are lowercase hex SHA-256 digests of the session id (64 chars):
 * a store never sees a usable session id. Records are at most
 * max_record() bytes (MCP_STORE_MAX_RECORD when the provider has none);
 * mod_mcp_session never hands a store a larger one.
 *
 * Life cycle, and where each function runs:
 *   register_hooks  the module registers the provider (any LoadModule
 *                   order: providers are looked up after the whole
 *                   configuration is read).
 *   create()        in the parent, after the configuration is read: once
 *                   per virtual host using the store in check_config (also
 *                   for `apachectl -t`; that instance is thrown away) and
 *                   again in post_config for the instance that is used.
 *                   So it may run several times per configuration pass and
 *                   must only parse and allocate: no connection, no thread,
 *                   no shared memory. Virtual hosts with the same store
 *                   settings share one instance.
 *   init()          post_config, in the parent, before the MPM forks. httpd
 *                   reads its configuration twice at start-up (two passes,
 *                   two fresh pconf) and once per restart: init() runs on
 *                   each pass. No connection may be left open (children
 *                   would share it). A failure stops the server.
 *   child_init()    in every child process, after fork.
 *   data calls      create_session, fetch, update, remove, update_if,
 *                   publish, wait: in children, from any thread, at the
 *                   same time in all threads of all children of all
 *                   servers sharing the backend.
 *   status()        in a child, for mod_status.
 * Pools: an instance lives in pconf, which dies at every restart; what
 * must outlive one belongs in ap_retained_data. Nothing a data call may
 * hold at the moment the child exits may live in pchild: prefork destroys
 * pchild from a signal handler while a request may be inside a call.
 *
 * Provider-specific settings (a capacity, a database, credentials) are
 * not generic parameters: a provider reads its own directives (create()
 * and init() get the server_rec) or its MCPSessionStore address (e.g.
 * query parameters, which are the provider's business).
 *
 * Status contract, for every data call:
 *   APR_SUCCESS         done
 *   APR_NOTFOUND        no such live session (a miss: the client gets 404)
 *   APR_ENOSPC          create_session only: the store is full (503)
 *   APR_EAGAIN          busy, not down: no connection free in time (503,
 *                       not counted as an outage)
 *   MCP_STORE_ECHANGED  update_if only: the record changed meanwhile
 *   APR_TIMEUP          wait only: no message within the timeout
 *   APR_INCOMPLETE      wait only: messages were dropped (see wait)
 *   anything else       the store failed or is unreachable (the client
 *                       gets 503 with Retry-After; never 404, since a
 *                       client drops a session it was told is gone)
 * A call must return within params->timeout (wait: within its timeout
 * plus params->timeout).
 *
 * Versions: see mcp_api.h. Fields are only ever added at the end of
 * mcp_store_provider_t, in a new minor version.
 */
#ifndef MCP_SESSION_STORE_H
#define MCP_SESSION_STORE_H

#include "apr_pools.h"
#include "apr_time.h"
#include "apr_errno.h"
#include "mcp_api.h"

#ifdef __cplusplus
extern "C" {
#endif

struct server_rec;
struct request_rec;

#define MCP_STORE_KEY_LEN           64
#define MCP_STORE_MAX_RECORD        (16 * 1024)
/* publish/wait: channel names are 1..MCP_STORE_CHANNEL_MAX bytes of
 * visible ASCII (0x21-0x7e); both calls answer APR_EINVAL at once for any
 * other. A provider with publish() takes messages of at least
 * MCP_STORE_MAX_MESSAGE bytes (any bytes, NUL included). */
#define MCP_STORE_CHANNEL_MAX       128
#define MCP_STORE_MAX_MESSAGE       4096

/* update_if(): another write came between the caller's fetch and its
 * update; nothing was written. */
#define MCP_STORE_ECHANGED          (APR_OS_START_USERERR + 4201)

/* What the configuration says about the store, handed to init(). */
typedef struct mcp_store_params_t {
    const char *key_prefix;         /* MCPSessionKeyPrefix, e.g. "mcp:session:" */
    apr_interval_time_t ttl;        /* MCPSessionTTL: idle lifetime */
    apr_interval_time_t refresh_after;  /* MCPSessionRefreshAfter: a store
                                     * that cannot extend a lifetime in
                                     * place rewrites a record this long
                                     * after its last write (default ttl/2) */
    apr_interval_time_t timeout;    /* MCPSessionStoreTimeout: per call */
    int threads_per_child;          /* for sizing connection pools */
    apr_interval_time_t handshake_ttl;  /* MCPSessionHandshakeTTL: a session
                                     * made by create_session() lives this
                                     * long (sliding on fetch) until its first
                                     * update(), which gives it ttl; a full
                                     * store may reclaim such sessions first */
} mcp_store_params_t;

/* Who is calling, handed to every data call: what a provider needs to
 * allocate and to log (ap_log_rerror when r is set, else ap_log_error). */
typedef struct mcp_store_ctx_t {
    apr_pool_t *pool;               /* results and scratch; lives until the
                                     * caller is done with the result */
    struct server_rec *s;           /* the virtual host; NULL only outside
                                     * httpd (unit tests) */
    struct request_rec *r;          /* the request, or NULL */
} mcp_store_ctx_t;

typedef struct mcp_store_provider_t {
    const char *name;               /* the MCPSessionStore scheme */

    /* Check `spec` (the whole MCPSessionStore value, e.g.
     * "redis://127.0.0.1:6379") and allocate an instance from p. Return
     * NULL, or a message that says what is accepted. See the life cycle
     * above: may run several times, must not start anything. */
    const char *(*create)(void **instance, const char *spec,
                          struct server_rec *s, apr_pool_t *p,
                          apr_pool_t *ptemp);

    /* post_config, in the parent, on every configuration pass. */
    apr_status_t (*init)(void *instance, const mcp_store_params_t *params,
                         struct server_rec *s, apr_pool_t *pconf,
                         apr_pool_t *ptemp);

    /* Optional: in every child process, after fork. */
    apr_status_t (*child_init)(void *instance, struct server_rec *s,
                               apr_pool_t *pchild);

    /* Optional: the largest record this instance takes, after init();
     * NULL means MCP_STORE_MAX_RECORD. */
    apr_size_t (*max_record)(void *instance);

    /* Store a new session. */
    apr_status_t (*create_session)(void *instance, const mcp_store_ctx_t *c,
                                   const char *key, const char *record,
                                   apr_size_t len);

    /* Read a session and keep it alive: a session fetched at least once
     * every ttl/2 must never expire. How (rewrite on every fetch, or only
     * past refresh_after) is the store's business. The record is
     * NUL-terminated and allocated from c->pool. */
    apr_status_t (*fetch)(void *instance, const mcp_store_ctx_t *c,
                          const char *key, char **record, apr_size_t *len);

    /* Replace the record of a live session. Must return APR_NOTFOUND, and
     * must never bring the session back, when it was removed or expired
     * before or concurrently (on any node), however long ago the caller
     * fetched it. */
    apr_status_t (*update)(void *instance, const mcp_store_ctx_t *c,
                           const char *key, const char *record,
                           apr_size_t len);

    /* End a session everywhere, at once. APR_NOTFOUND if there was none. */
    apr_status_t (*remove)(void *instance, const mcp_store_ctx_t *c,
                           const char *key);

    /* Optional: one line for logs and mod_status, e.g. "redis 127.0.0.1:6379". */
    const char *(*describe)(void *instance, apr_pool_t *p);

    /* Optional: 1 when the backend answered its latest call, 0 when not.
     * A provider that has it logs its own outages and recoveries
     * (rate-limited); for one without it, mod_mcp_session does. */
    int (*healthy)(void *instance);

    /* Optional: extra mod_status lines (flags are mod_status's AP_STATUS_*). */
    void (*status)(void *instance, struct request_rec *r, int flags);

    /* ---- Optional capabilities (NULL when the provider has none) ---- */

    /* Conditional write: update() only if the stored record is still
     * `expected` (the bytes a fetch() returned, compared in full). Returns
     * MCP_STORE_ECHANGED when another write came in between (nothing is
     * written), else as update(). Atomic with respect to every other
     * data call on any node. */
    apr_status_t (*update_if)(void *instance, const mcp_store_ctx_t *c,
                              const char *key, const char *expected,
                              apr_size_t expected_len, const char *record,
                              apr_size_t len);

    /* Messages between children and nodes. publish() hands `msg` (opaque
     * bytes) to every wait() on `channel` in any process sharing the
     * backend; it returns once a wait() anywhere can see it. */
    apr_status_t (*publish)(void *instance, const mcp_store_ctx_t *c,
                            const char *channel, const char *msg,
                            apr_size_t len);

    /* The next message on `channel` after position *cursor, waiting up to
     * `timeout` for one. *cursor is opaque; 0 means "from now". On every
     * return *cursor is moved past what was looked at, so a loop of wait()
     * calls misses nothing. Returns APR_SUCCESS with the message
     * (NUL-terminated, from c->pool), APR_TIMEUP when none came, or
     * APR_INCOMPLETE when messages after *cursor were dropped (a provider
     * keeps a bounded backlog): *cursor is then past the gap, and the
     * caller decides what a gap means (e.g. end a stream so that the
     * client resumes). Messages on one channel arrive in publish order. */
    apr_status_t (*wait)(void *instance, const mcp_store_ctx_t *c,
                         const char *channel, apr_uint64_t *cursor,
                         apr_interval_time_t timeout, char **msg,
                         apr_size_t *len);
} mcp_store_provider_t;

#ifdef __cplusplus
}
#endif

#endif /* MCP_SESSION_STORE_H */
