/*
 * 2026-07-28 requests: no session. The handler has checked Origin,
 * Accept, Content-Type and size and parsed the body; mcp_era_classify()
 * found it modern. Here:
 *
 *   mcp_modern_post      mcp_era_check() over the request's headers
 *                        (refused: its status, code and data, the
 *                        request's id), then
 *     forward              MCPBackend: to the backend as it came, no
 *                          session on either side (mcp_gateway.c)
 *     answer               the methods (mcp_protocol.c) with a context
 *                          of its own: the user, the endpoint, the key
 *                          ring, cancellation and keep-alive
 *   mcp_modern_not_allowed GET and DELETE: 405, Allow: POST
 *
 * Nothing here reads or writes the session store or sets Mcp-Session-Id
 * (a client's is ignored), so any child of any node serves any request.
 */
#include <string.h>
#include "httpd.h"
#include "apr_strings.h"
#include "http_config.h"
#include "http_log.h"
#include "http_protocol.h"
#include "mcp_private.h"
#include "mcp_era.h"
#include "mcp_gateway.h"
#include "mcp_json.h"
#include "mcp_keyring.h"
#include "mcp_modern.h"
#include "mcp_node.h"
#include "mcp_protocol.h"
#include "mcp_response.h"
#include "mcp_state.h"

/* What the log quotes of a header a client sent. */
#define LOG_HEADER_MAX  80

static const char *header(void *baton, const char *name)
{
    return apr_table_get((apr_table_t *)baton, name);
}

/* A header for the log: escaped, cut, or "-". */
static const char *log_header(request_rec *r, const char *name)
{
    const char *v = apr_table_get(r->headers_in, name);
    if (!v) {
        return "-";
    }
    if (strlen(v) > LOG_HEADER_MAX) {
        v = apr_pstrcat(r->pool, apr_pstrmemdup(r->pool, v, LOG_HEADER_MAX),
                        "...", NULL);
    }
    return ap_escape_logitem(r->pool, v);
}

static int refuse(request_rec *r, const mcp_msg_t *msg, json_t *id,
                  mcp_era_error_t *err)
{
    json_t *j;

    MCP_STAT_INC(modern_refused);
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, MCPLOG(00700)
                  "2026-07-28 %s refused: %d %d %s (MCP-Protocol-Version %s, "
                  "Mcp-Method %s, Mcp-Name %s)",
                  msg->method ? ap_escape_logitem(r->pool, msg->method)
                              : "message",
                  err->status, err->code,
                  ap_escape_logitem(r->pool, err->message),
                  log_header(r, "MCP-Protocol-Version"),
                  log_header(r, "Mcp-Method"), log_header(r, "Mcp-Name"));
    /* steals data */
    j = mcp_json_pool_own(r->pool, mcp_rpc_error(id, err->code, err->message,
                                                 err->data));
    return mcp_response_message(r, err->status, j);
}

static int forward(const mcp_modern_req_t *m, json_t *id)
{
    mcp_gateway_req_t g;

    memset(&g, 0, sizeof(g));
    g.r = m->r;
    g.st = m->st;
    g.dc = m->dc;
    g.endpoint = m->endpoint;
    g.principal = m->principal;
    g.body = m->body;
    g.len = m->len;
    g.id = id;
    g.modern = 1;
    return mcp_gateway_stateless(&g);
}

/* The name a request is about: the tool or prompt, or the URI. */
static const char *subject(const mcp_msg_t *msg)
{
    json_t *v = json_object_get(msg->params, "name");
    if (!json_is_string(v)) {
        v = json_object_get(msg->params, "uri");
    }
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* The protocol refused the request's requestState: count and say why
 * (the client's answer never does). */
static void state_refused(request_rec *r, const mcp_ctx_t *ctx,
                          const mcp_msg_t *msg)
{
    const char *name = subject(msg);

    MCP_STAT_INC(state_refused);
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, MCPLOG(00701)
                  "2026-07-28 %s %s: requestState refused (%s): -32602",
                  msg->method, name ? ap_escape_logitem(r->pool, name) : "-",
                  ctx->state_refused);
}

static void input_required(request_rec *r, const mcp_msg_t *msg,
                           json_t *result)
{
    json_t *asks = json_object_get(result, "inputRequests");
    json_t *state = json_object_get(result, "requestState");
    const char *name = subject(msg);

    MCP_STAT_INC(input_required);
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, MCPLOG(00702)
                  "2026-07-28 %s %s: input_required, %d input request(s)%s%s",
                  msg->method, name ? ap_escape_logitem(r->pool, name) : "-",
                  (int)json_object_size(asks),
                  state ? ", requestState of " : "",
                  state ? apr_psprintf(r->pool, "%d bytes",
                                       (int)json_string_length(state)) : "");
}

static int answer(const mcp_modern_req_t *m, const mcp_msg_t *msg)
{
    request_rec *r = m->r;
    mcp_responder_t rs;
    mcp_ctx_t ctx;
    json_t *reply, *result, *error;
    const char *type;

    /* no session id: a 2026-07-28 answer never carries one */
    mcp_response_init(&rs, r, NULL);
    mcp_protocol_ctx_init(&ctx, r->pool, m->reg, NULL, 0);
    mcp_protocol_modern_init(&ctx, json_object_get(msg->params, "_meta"));
    ctx.r = r;
    ctx.principal = m->principal;
    ctx.endpoint = m->endpoint;
    ctx.ring = mcp_keyring_ring(r->server);
    ctx.state_ttl = MCP_STATE_TTL;
    /* answers may depend on who asks */
    ctx.cache_scope = m->principal ? "private" : "public";
    ctx.list_ttl = MCP_MODERN_LIST_TTL;
    ctx.header = header;
    ctx.header_baton = r->headers_in;
    ctx.emit = mcp_response_event;
    ctx.emit_baton = &rs;
    ctx.gone = mcp_response_gone;

    reply = mcp_json_pool_own(r->pool, mcp_protocol_request(&ctx, msg));
    if (!reply) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    ap_log_rerror(APLOG_MARK, APLOG_TRACE1, 0, r, MCPLOG(00703)
                  "2026-07-28: answered %s", msg->method);
    if ((error = json_object_get(reply, "error")) != NULL) {
        if (ctx.state_refused) {
            state_refused(r, &ctx, msg);
        }
        /* the status is still ours to choose until an event went out */
        if (!rs.sse && ctx.http_status) {
            return mcp_response_message(r, ctx.http_status, reply);
        }
    }
    else if ((result = json_object_get(reply, "result")) != NULL
             && (type = json_string_value(json_object_get(result,
                                                          "resultType")))
             && !strcmp(type, "input_required")) {
        input_required(r, msg, result);
    }
    return mcp_response_finish(&rs, reply);
}

int mcp_modern_post(const mcp_modern_req_t *m, const mcp_batch_t *b)
{
    request_rec *r = m->r;
    const mcp_msg_t *msg = &APR_ARRAY_IDX(b->msgs, 0, mcp_msg_t);
    json_t *id = !b->is_array && msg->kind == MCP_MSG_REQUEST ? msg->id : NULL;
    mcp_era_error_t *err;

    MCP_STAT_INC(modern);
    if ((err = mcp_era_check(r->pool, b, header, r->headers_in)) != NULL) {
        return refuse(r, msg, id, err);
    }
    if (m->dc->backend) {
        return forward(m, id);
    }
    if (msg->kind != MCP_MSG_REQUEST) {
        /* the revision defines no client notification over HTTP */
        return mcp_response_accepted(r);
    }
    return answer(m, msg);
}

int mcp_modern_not_allowed(request_rec *r)
{
    MCP_STAT_INC(modern);
    MCP_STAT_INC(modern_refused);
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, MCPLOG(00704)
                  "2026-07-28 %s (MCP-Protocol-Version %s): 405, that "
                  "revision has no session to stream or end", r->method,
                  log_header(r, "MCP-Protocol-Version"));
    apr_table_setn(r->headers_out, "Allow", "POST");
    r->allowed = AP_METHOD_BIT << M_POST;
    return mcp_response_error(r, HTTP_METHOD_NOT_ALLOWED, MCP_ERR_SERVER,
                              "Method not allowed.");
}
