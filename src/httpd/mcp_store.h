/*
 * The session store as the handler sees it: one provider instance per
 * virtual host, chosen at startup.
 */
#ifndef MCP_STORE_H
#define MCP_STORE_H

#include "httpd.h"
#include "apr_atomic.h"
#include "apr_thread_mutex.h"
#include "mcp_session_store.h"
#include "mcp_config.h"
/* the counters store results are counted in (MCP_STAT_INC) */
#include "mcp_node.h"

/* A store call in progress (on the caller's stack), see mcp_store_fetch. */
typedef struct mcp_store_call_t mcp_store_call_t;

typedef struct mcp_store_t {
    const mcp_store_provider_t *provider;
    int provider_minor;             /* the API minor it was built for: a
                                     * field a later minor added is read
                                     * only when this is at least that */
    void *instance;
    mcp_store_params_t params;
    const char *description;        /* for logs and mod_status */
    apr_size_t max_record;          /* largest record the store takes */
    apr_interval_time_t breaker;    /* MCPSessionStoreBreaker; 0: off */
    volatile apr_uint32_t failing;  /* 1 while the backend fails (per child) */
    volatile apr_uint32_t next_log; /* rate limit of outage logs, seconds */

    /* The breaker, per child process (child_init): the calls in progress,
     * oldest first, and what it did. */
    apr_thread_mutex_t *calls_lock;
    mcp_store_call_t *oldest, *newest;
    int open;                       /* failing calls fast now */
    apr_time_t open_since;
    apr_time_t next_open_log;
    apr_uint32_t open_refused;      /* calls refused while open */
    apr_uint32_t trips;             /* times it opened */
    apr_uint32_t refused;           /* calls it failed fast */
} mcp_store_t;

/* The providers built into this module (register_hooks). */
void mcp_store_memory_register(apr_pool_t *p);
void mcp_store_redis_register(apr_pool_t *p);

/* The memory store's table, for mod_status and logs: bytes of shared
 * memory per session slot, slots, slots in use, and sessions in memory
 * that have not completed their handshake (0 when there is no table). */
apr_size_t mcp_store_memory_slot_bytes(void);
int mcp_store_memory_capacity(void);
int mcp_store_memory_used(void);
int mcp_store_memory_pending(void);

/* post_config: give every server_rec its store; child_init likewise. */
apr_status_t mcp_store_post_config(apr_pool_t *pconf, apr_pool_t *ptemp,
                                   server_rec *s);
void mcp_store_child_init(apr_pool_t *pchild, server_rec *s);

/* Note a result of a store call: counts failures, logs the first one and
 * then at most every 30 s, and logs the recovery. */
void mcp_store_note(mcp_store_t *st, request_rec *r, const char *op,
                    apr_status_t rv);

/* The store calls of the handler. Each runs the provider's call behind the
 * breaker (once a call of this process has been in progress longer than
 * st->breaker, further calls fail at once with APR_EAGAIN until it
 * returns) and notes the result (mcp_store_note). Statuses are the
 * provider contract's; APR_ENOSPC (create) is not noted as a failure. */
apr_status_t mcp_store_fetch(mcp_store_t *st, request_rec *r, const char *key,
                             char **record, apr_size_t *len);
apr_status_t mcp_store_create(mcp_store_t *st, request_rec *r, const char *key,
                              const char *record, apr_size_t len);
apr_status_t mcp_store_update(mcp_store_t *st, request_rec *r, const char *key,
                              const char *record, apr_size_t len);
apr_status_t mcp_store_remove(mcp_store_t *st, request_rec *r, const char *key);

#endif
