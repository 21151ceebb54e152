/*
 * The MCP methods (httpd-free core): initialize, ping, tools, resources,
 * prompts, completion and logging, answered from a registry within the
 * context of one session. The transport (mcp_handler.c, or a unit test)
 * provides the session and a way to emit notifications.
 */
#ifndef MCP_PROTOCOL_H
#define MCP_PROTOCOL_H

#include "apr_pools.h"
#include <jansson.h>
#include "mcp_rpc.h"
#include "mcp_record.h"
#include "mcp_registry.h"
#include "mcp_state.h"

#define MCP_PROTOCOL_LATEST   "2025-11-25"
#define MCP_PROTOCOL_VERSIONS "2025-11-25, 2025-06-18, 2025-03-26"
/* The one version that allows JSON-RPC batches. */
#define MCP_PROTOCOL_BATCHING "2025-03-26"

struct request_rec;

typedef struct mcp_ctx_t {
    apr_pool_t *pool;
    const mcp_registry_t *reg;
    mcp_session_t *session;
    int session_dirty;              /* the record must be written back */
    apr_size_t max_record;          /* the store's record limit: a change
                                     * that does not fit is refused; 0:
                                     * no limit */
    struct request_rec *r;          /* NULL outside httpd */
    /* Send a notification related to the current request now (the
     * transport switches to SSE). NULL: notifications are dropped. Does
     * not steal msg. */
    apr_status_t (*emit)(void *baton, json_t *msg);
    void *emit_baton;
    /* 1 when the client went away (the work is cancelled); may send a
     * keep-alive comment on a quiet stream. Called with emit_baton.
     * NULL: never. */
    int (*gone)(void *baton);

    /* A 2026-07-28 request (mcp_protocol_modern_init): no session. */
    int modern;
    json_t *meta;                   /* the request's params._meta, borrowed */
    const char *principal;          /* r->user: states are bound to it */
    const char *endpoint;           /* the endpoint's identity, likewise */
    const mcp_state_ring_t *ring;   /* seals requestState; NULL: a state
                                     * cannot be made or opened (-32603) */
    apr_interval_time_t state_ttl;  /* a sealed state's lifetime */
    const char *cache_scope;        /* "public" or "private" */
    apr_interval_time_t list_ttl;   /* ttlMs of discover and the lists */
    /* The request's headers (tools/call checks Mcp-Param-* against the
     * tool's schema: mcp_era_check_params). NULL: no headers to check. */
    const char *(*header)(void *baton, const char *name);
    void *header_baton;
    /* Set by the protocol for an error that has an HTTP status of its
     * own on the 2026-07-28 wire (404 -32601, 400 -32021, 400 -32020 of
     * Mcp-Param-*); 0: the answer goes out with 200 (an invalid or
     * tampered requestState is -32602 in-band, as the TS SDK answers). */
    int http_status;
    /* Set by the protocol when it refused the request's requestState:
     * why (mcp_state_open's reason, or "no key ring"), for the log only;
     * the client is never told. */
    const char *state_refused;
} mcp_ctx_t;

/* Set up ctx for the messages of one request: the pool they allocate
 * from, what the server offers, the session (NULL before initialize
 * made one) and the store's record limit (0: none). The rest starts
 * zeroed; a transport then sets r and emit. */
void mcp_protocol_ctx_init(mcp_ctx_t *ctx, apr_pool_t *p,
                           const mcp_registry_t *reg, mcp_session_t *s,
                           apr_size_t max_record);

/* Make ctx (set up by mcp_protocol_ctx_init with no session) serve one
 * 2026-07-28 request whose envelope mcp_era_check() accepted: the
 * client's capabilities, info and log level come from `meta` (borrowed).
 * The transport then sets principal, endpoint, ring, state_ttl,
 * cache_scope, list_ttl, r, emit and gone. */
void mcp_protocol_modern_init(mcp_ctx_t *ctx, json_t *meta);

int mcp_protocol_supported(const char *version);

/* The version to answer an initialize that asked for `requested`. */
const char *mcp_protocol_negotiate(const char *requested);

/* At most this many completion values in one answer (the spec's cap). */
#define MCP_COMPLETIONS_MAX 100

/* Fill ctx->session from an initialize request (keeping a bounded part of
 * clientInfo and capabilities, see mcp_record.h) and return its response. */
json_t *mcp_protocol_initialize(mcp_ctx_t *ctx, const mcp_msg_t *msg);

/* Answer one request (never initialize); a new reference. For a modern
 * ctx: server/discover, subscriptions/listen, the lists and calls with
 * resultType, serverInfo in _meta, ttlMs/cacheScope where the revision
 * asks, input_required rounds; removed and unknown methods -32601 (404). */
json_t *mcp_protocol_request(mcp_ctx_t *ctx, const mcp_msg_t *msg);

/* Take one notification or response from the client. */
void mcp_protocol_notification(mcp_ctx_t *ctx, const mcp_msg_t *msg);

const char *mcp_protocol_log_level_name(int level);
int mcp_protocol_log_level_parse(const char *name);

#endif
