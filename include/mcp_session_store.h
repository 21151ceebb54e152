/*
 * mod_mcp_session: the session store provider interface.
 *
 * A store keeps serialized session records (JSON text, opaque to the
 * store) under a key. mod_mcp_session ships two providers: "memory"
 * (shared memory of this server, MCPSessionStorageMode memory) and "redis"
 * (MCPSessionStorageMode external + MCPSessionStore redis://host:port).
 * Another module adds one by registering an mcp_store_provider_t in its
 * register_hooks:
 *
 *     ap_register_provider(p, MCP_STORE_PROVIDER_GROUP, "sql",
 *                          MCP_STORE_PROVIDER_VERSION, &my_provider);
 *
 * and users select it with "MCPSessionStore sql://...": the part before
 * "://" names the provider.
 *
 * Keys are lowercase hex SHA-256 digests of the session id (64 chars):
 * a store never sees a usable session id. Records are at most
 * MCP_STORE_MAX_RECORD bytes.
 *
 * Status contract, for every call:
 *   APR_SUCCESS    done
 *   APR_NOTFOUND   no such live session (a miss: the client gets 404)
 *   APR_ENOSPC     create only: the store is full (the client gets 503)
 *   anything else  the store failed or is unreachable (the client gets
 *                  503 with Retry-After; never 404, since a client drops a
 *                  session it was told is gone)
 * A call must return within the configured timeout.
 *
 * Threads: every call may run concurrently in all threads of all child
 * processes of all servers using the same backend.
 */
#ifndef MCP_SESSION_STORE_H
#define MCP_SESSION_STORE_H

#include "httpd.h"
#include "apr_pools.h"
#include "ap_provider.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MCP_STORE_PROVIDER_GROUP    "mcp_session_store"
#define MCP_STORE_PROVIDER_VERSION  "1"
#define MCP_STORE_KEY_LEN           64
#define MCP_STORE_MAX_RECORD        (16 * 1024)

/* What the configuration says about the store, handed to init(). */
typedef struct mcp_store_params_t {
    const char *key_prefix;         /* MCPSessionKeyPrefix, e.g. "mcp:session:" */
    apr_interval_time_t ttl;        /* MCPSessionTTL: idle lifetime */
    apr_interval_time_t refresh_after;  /* MCPSessionRefreshAfter: a store
                                     * that cannot extend a lifetime in
                                     * place rewrites a record this long
                                     * after its last write (default ttl/2) */
    apr_interval_time_t timeout;    /* MCPSessionStoreTimeout: per call */
    int capacity;                   /* MCPSessionCapacity (memory store) */
    int threads_per_child;          /* for sizing connection pools */
    apr_interval_time_t handshake_ttl;  /* MCPSessionHandshakeTTL: a session
                                     * made by create_session() lives this
                                     * long (sliding on fetch) until its first
                                     * update(), which gives it ttl; a full
                                     * store may reclaim such sessions first */
} mcp_store_params_t;

typedef struct mcp_store_provider_t {
    const char *name;

    /* Configuration time: check `spec` (the whole MCPSessionStore value,
     * e.g. "redis://127.0.0.1:6379") and allocate an instance from p.
     * Return NULL, or a message that says what is accepted. */
    const char *(*create)(void **instance, const char *spec, apr_pool_t *p,
                          apr_pool_t *ptemp);

    /* post_config, in the parent, before the MPM forks: no connections
     * may be left open. A failure stops the server from starting. */
    apr_status_t (*init)(void *instance, const mcp_store_params_t *params,
                         server_rec *s, apr_pool_t *pconf, apr_pool_t *ptemp);

    /* In every child process, after fork. */
    apr_status_t (*child_init)(void *instance, server_rec *s,
                               apr_pool_t *pchild);

    /* Store a new session. */
    apr_status_t (*create_session)(void *instance, const char *key,
                                   const char *record, apr_size_t len,
                                   apr_pool_t *p);

    /* Read a session and keep it alive: a session fetched at least once
     * every ttl/2 must never expire. How (rewrite on every fetch, or only
     * past half the TTL) is the store's business. The record is
     * NUL-terminated and allocated from p. */
    apr_status_t (*fetch)(void *instance, const char *key, apr_pool_t *p,
                          char **record, apr_size_t *len);

    /* Replace the record of a live session. Must return APR_NOTFOUND, and
     * must never bring the session back, when it was removed or expired
     * before or concurrently (on any node), however long ago the caller
     * fetched it. */
    apr_status_t (*update)(void *instance, const char *key,
                           const char *record, apr_size_t len, apr_pool_t *p);

    /* End a session everywhere, at once. APR_NOTFOUND if there was none. */
    apr_status_t (*remove)(void *instance, const char *key, apr_pool_t *p);

    /* Optional: one line for logs and mod_status, e.g. "redis 127.0.0.1:6379". */
    const char *(*describe)(void *instance, apr_pool_t *p);

    /* Optional: 1 when the backend answered its latest call, 0 when not.
     * A provider that has it logs its own outages and recoveries
     * (rate-limited); for one without it, mod_mcp_session does. */
    int (*healthy)(void *instance);

    /* Optional: extra mod_status lines (flags are mod_status's AP_STATUS_*). */
    void (*status)(void *instance, request_rec *r, int flags);
} mcp_store_provider_t;

#ifdef __cplusplus
}
#endif

#endif /* MCP_SESSION_STORE_H */
