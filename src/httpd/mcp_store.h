/*
 * The session store as the handler sees it: one provider instance per
 * virtual host, chosen at startup, plus the counters shared by all
 * children (they live in the shared segment of the memory store).
 */
#ifndef MCP_STORE_H
#define MCP_STORE_H

#include "httpd.h"
#include "apr_atomic.h"
#include "apr_thread_mutex.h"
#include "mcp_session_store.h"
#include "mcp_config.h"

/* A store call in progress (on the caller's stack), see mcp_store_fetch. */
typedef struct mcp_store_call_t mcp_store_call_t;

typedef struct mcp_store_t {
    const mcp_store_provider_t *provider;
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

/* Counters for mod_status, shared by all children of this server and
 * kept across graceful restarts. */
typedef struct mcp_stats_t {
    volatile apr_uint32_t created;
    volatile apr_uint32_t resumed;      /* served a session another node made */
    volatile apr_uint32_t not_found;
    volatile apr_uint32_t expired;
    volatile apr_uint32_t deleted;
    volatile apr_uint32_t store_errors;
    volatile apr_uint32_t refused_full;
    volatile apr_uint32_t requests;
    volatile apr_uint32_t reclaimed;    /* memory: expired slots swept for reuse */
    volatile apr_uint32_t evicted;      /* memory: pending sessions dropped
                                         * for a new one when full */
} mcp_stats_t;

#define MCP_STAT_INC(f) apr_atomic_inc32(&mcp_stats()->f)

mcp_stats_t *mcp_stats(void);

/* Provider registration (register_hooks). */
void mcp_store_memory_register(apr_pool_t *p);
void mcp_store_redis_register(apr_pool_t *p);

/* The shared segment: counters, and the session table when any server
 * uses memory mode. Kept across restarts with ap_retained_data. */
apr_status_t mcp_store_memory_segment(server_rec *s, int capacity,
                                      int with_table);
apr_size_t mcp_store_memory_max_record(void);
/* Bytes of shared memory the table uses per session slot, and slots. */
apr_size_t mcp_store_memory_slot_bytes(void);
int mcp_store_memory_capacity(void);
int mcp_store_memory_used(void);
/* Sessions in memory that have not completed their handshake. */
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

/* This node's name, stored in records it creates. */
const char *mcp_node_id(void);

#endif
