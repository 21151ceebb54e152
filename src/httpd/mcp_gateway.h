/*
 * The gateway (MCPBackend): a request the handler has validated goes to
 * the MCP server behind, through mod_proxy, as a sub-request; the answer
 * streams back. Apache owns the session: it creates it when the backend
 * answers initialize, keeps the backend's own session id in it, and
 * re-initializes the backend when that id is no longer known there.
 */
#ifndef MCP_GATEWAY_H
#define MCP_GATEWAY_H

#include "httpd.h"
#include <jansson.h>
#include "mcp_config.h"
#include "mcp_record.h"
#include "mcp_store.h"

/* One client request to forward, filled by the handler once every check
 * of its own has passed. */
typedef struct mcp_gateway_req_t {
    request_rec *r;
    mcp_store_t *st;
    const mcp_dir_conf_t *dc;
    const char *endpoint;           /* the endpoint's identity */
    const char *principal;          /* who sessions are bound to, or NULL */
    mcp_session_t *session;         /* the client's session; NULL for
                                     * initialize and 2026-07-28 */
    int modern;                     /* a 2026-07-28 request: no session */
    const char *body;               /* the POST body as read, or NULL */
    apr_size_t len;
    json_t *id;                     /* the id of a lone request (echoed in
                                     * our own error answers), or NULL */
    json_t *init_params;            /* initialize: the client's params */
    /* initialize: answers a failed store create (503, or full) */
    int (*store_error)(request_rec *r, apr_status_t rv);
} mcp_gateway_req_t;

/* register_hooks: the fixups that turn our sub-requests into proxy
 * requests, and the filters. */
void mcp_gateway_register_hooks(apr_pool_t *p);

/* initialize: forwarded; the session is created once the backend has
 * answered with an InitializeResult. Returns the handler's status. */
int mcp_gateway_initialize(mcp_gateway_req_t *g);

/* A POST or GET in g->session: forwarded with the backend's session id;
 * a backend that no longer knows it is re-initialized (replay) and the
 * request sent once more. Returns the handler's status. */
int mcp_gateway_forward(mcp_gateway_req_t *g);

/* A 2026-07-28 request (g->modern, no session): forwarded as it came,
 * with its headers and without any Mcp-Session-Id; the backend's answer
 * is the client's whatever its status (a 404 -32601 included), less any
 * Mcp-Session-Id. Returns the handler's status. */
int mcp_gateway_stateless(mcp_gateway_req_t *g);

/* After the client's DELETE ended g->session: end the backend's session
 * too (best effort; its answer is dropped). */
void mcp_gateway_delete(mcp_gateway_req_t *g);

#endif
