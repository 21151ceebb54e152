/*
 * This node: its name, stored in the session records it creates, and the
 * counters shown by mod_status, shared by all children of this server in
 * a small shared segment of their own, kept across restarts whatever the
 * storage mode.
 */
#ifndef MCP_NODE_H
#define MCP_NODE_H

#include "httpd.h"
#include "apr_atomic.h"

typedef struct mcp_node_stats_t {
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
    /* gateway (MCPBackend), all endpoints */
    volatile apr_uint32_t forwarded;    /* client requests handed to a backend */
    volatile apr_uint32_t replayed;     /* backend sessions re-initialized */
    volatile apr_uint32_t failed;       /* answered 502/503/504 for a backend */
    /* 2026-07-28 (no session) */
    volatile apr_uint32_t modern;       /* requests of that era */
    volatile apr_uint32_t modern_refused;   /* refused by its header and
                                             * envelope checks (4xx) */
    volatile apr_uint32_t input_required;   /* input_required answers */
    volatile apr_uint32_t state_refused;    /* requestStates refused */
    /* OAuth (MCPAuthorizationServers, MCPRequireScope) */
    volatile apr_uint32_t metadata_served;  /* RFC 9728 documents (200/304) */
    volatile apr_uint32_t challenges;       /* 401/403 answers whose
                                             * WWW-Authenticate we completed */
    volatile apr_uint32_t scope_refused;    /* 403 insufficient_scope of
                                             * MCPRequireScope */
} mcp_node_stats_t;

/* The gateway's counters of one endpoint (its identity, cut to fit). */
#define MCP_NODE_ENDPOINTS      32
#define MCP_NODE_ENDPOINT_NAME  256
typedef struct mcp_node_endpoint_t {
    volatile apr_uint32_t state;        /* 0 free, 1 being named, 2 named */
    char name[MCP_NODE_ENDPOINT_NAME];
    volatile apr_uint32_t forwarded;
    volatile apr_uint32_t replayed;
    volatile apr_uint32_t failed;
} mcp_node_endpoint_t;

#define MCP_STAT_INC(f) apr_atomic_inc32(&mcp_node_stats()->f)

/* The counters (a process-local set before post_config, e.g. in
 * `apachectl -t`). */
mcp_node_stats_t *mcp_node_stats(void);

/* The gateway counters of an endpoint, found or claimed (shared by all
 * children); NULL when every slot holds another endpoint. */
mcp_node_endpoint_t *mcp_node_endpoint(const char *identity);

/* Slot i (0 to MCP_NODE_ENDPOINTS - 1) when it is named, else NULL. */
mcp_node_endpoint_t *mcp_node_endpoint_at(int i);

/* This node's name: "HOST/8 hex digits", made once and kept across
 * restarts; "unknown" before post_config. */
const char *mcp_node_id(void);

/* post_config, on every pass and in every mode: attach the segment kept
 * from the previous generation, or make it. */
apr_status_t mcp_node_post_config(server_rec *s);

#endif
