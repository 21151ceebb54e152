/*
 * 2026-07-28 requests (no session) in httpd: the era checks of
 * mcp_era.c over the request's headers, answers with their own HTTP
 * status and the request's id, the methods of mcp_protocol.c without a
 * session, GET and DELETE refused, and the stateless hand-off to
 * MCPBackend. Never a store operation, never an Mcp-Session-Id.
 */
#ifndef MCP_MODERN_H
#define MCP_MODERN_H

#include "httpd.h"
#include "mcp_config.h"
#include "mcp_registry.h"
#include "mcp_rpc.h"
#include "mcp_store.h"

/* ttlMs of server/discover and the lists. */
#define MCP_MODERN_LIST_TTL  apr_time_from_sec(300)

/* One POST the handler found modern (mcp_era_classify), after its
 * Accept, Content-Type, size and JSON-RPC checks. */
typedef struct mcp_modern_req_t {
    request_rec *r;
    const mcp_registry_t *reg;
    const mcp_dir_conf_t *dc;
    mcp_store_t *st;                /* the host's store: never called */
    const char *endpoint;           /* the endpoint's identity */
    const char *principal;          /* who asks (mcp_resource_principal) */
    const char *body;               /* the body as read (MCPBackend) */
    apr_size_t len;
} mcp_modern_req_t;

/* Check, then answer locally or through MCPBackend. Returns the
 * handler's status. */
int mcp_modern_post(const mcp_modern_req_t *m, const mcp_batch_t *b);

/* GET or DELETE whose MCP-Protocol-Version names a 2026-era revision:
 * 405 with Allow: POST (there is no session to stream or end). */
int mcp_modern_not_allowed(request_rec *r);

#endif
