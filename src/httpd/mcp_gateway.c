/*
 * The gateway (MCPBackend). The handler validates a request completely
 * (Origin, Accept, Content-Type, size, JSON-RPC, session, user, protocol
 * version), then hands it to mod_proxy as a sub-request and gets control
 * back, for replay-on-miss and for its own error answers:
 *
 *   run_sub          ap_sub_req_method_uri(method, r->uri) + ap_run_sub_req;
 *                    the sub_t in r's request_config names it for:
 *   gateway_fixups   (FIRST, before mod_proxy's) makes it a proxy request:
 *                    filename "proxy:" + MCPBackend, the headers the
 *                    backend gets, and the two filters below
 *   body_in          input: hands mod_proxy the body the handler read
 *   answer_out       output: the backend's answer. PASS copies its status
 *                    and headers to the client's request and streams it
 *                    (flushed); INIT holds it until the InitializeResult
 *                    (JSON, or the SSE event with the request's id) has
 *                    created the session; CAPTURE drops it after reading
 *                    what the gateway needs (replay, the backend DELETE).
 *                    Nothing mod_proxy sends before a backend answered (an
 *                    error bucket, the EOS of a failed sub-request) reaches
 *                    the client: the handler answers 502/503/504 itself.
 *
 * A sub-request, not an internal redirect: the handler must see the
 * outcome (a 404 to replay, a failure to map). mod_proxy_http sends no
 * body for a sub-request without r->kept_body, and mod_request (when
 * loaded) replays a non-NULL kept_body on its own: so kept_body stays
 * NULL until the insert_filter phase is over and is then set to an empty
 * brigade by body_in's init, and body_in alone gives the body.
 */
#include "httpd.h"
#include <string.h>
#include "apr_strings.h"
#include "apr_buckets.h"
#include "http_config.h"
#include "http_connection.h"
#include "http_core.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"
#include "util_filter.h"
#include "mcp_private.h"
#include "mcp_gateway.h"
#include "mcp_json.h"
#include "mcp_node.h"
#include "mcp_protocol.h"
#include "mcp_resource.h"
#include "mcp_response.h"
#include "mcp_rpc.h"
#include "mcp_sse.h"

/* What an initialize answer may hold back, and what a captured answer may
 * be read of, before the InitializeResult: beyond it the backend failed. */
#define HOLD_MAX            (64 * 1024)
#define FAIL_LOG_INTERVAL   30
#define RETRY_AFTER         "5"
/* The balancer's sticky name: `ProxySet stickysession=MCPBackendRoute`. */
#define ROUTE_COOKIE        "MCPBackendRoute"
#define ROUTE_MAX           96
#define REPLAY_ID           "mod_mcp_session-replay"
#define INITIALIZED_BODY    "{\"jsonrpc\":\"2.0\",\"method\":" \
                            "\"notifications/initialized\"}"

static ap_filter_rec_t *body_filter;
static ap_filter_rec_t *answer_filter;
static volatile apr_uint32_t next_fail_log;
static volatile apr_uint32_t next_replay_log;

typedef enum {
    SUB_PASS,           /* stream the answer to the client */
    SUB_INIT,           /* the client's initialize: hold, then decide */
    SUB_CAPTURE         /* the gateway's own request: read, never send */
} sub_mode_e;

/* One sub-request to the backend. */
typedef struct sub_t {
    mcp_gateway_req_t *g;
    sub_mode_e mode;
    const char *method;
    const char *body;               /* sent as is; NULL: none */
    apr_size_t len;
    const char *backend_id;         /* Mcp-Session-Id sent, or none */
    const char *route;              /* balancer route asked for, or none */
    const char *version;            /* MCP-Protocol-Version (see fixups) */
    const json_t *want;             /* the id of the response to find */
    int catch_404;                  /* PASS: a 404 is not passed on */

    request_rec *rr;
    int claimed;                    /* our fixups made rr a proxy request */
    int body_given;
    /* what came back */
    int response;                   /* the backend answered: status known */
    int status;
    int committed;                  /* status and headers are the client's */
    int lone_eos;                   /* the first brigade was a lone EOS */
    int swallow;                    /* drop everything from now on */
    int missed;                     /* PASS: the 404 that was caught */
    const char *failed;             /* why the backend failed, or NULL */
    apr_status_t store_rv;          /* INIT: the store create failed */
    const char *new_id;             /* the backend's Mcp-Session-Id */
    const char *new_route;          /* the balancer member that answered */
    json_t *answer;                 /* the response with `want` */
    const char *sid;                /* INIT: the session created */
    /* reading an answer (INIT, CAPTURE) */
    int is_json, is_sse, eos;
    mcp_sse_scanner_t *scan;
    char *json;
    apr_size_t json_len, seen;
    apr_bucket_brigade *hold;       /* INIT: held until decided */
} sub_t;

/* ------------------------------------------------------------------ */
/* Counting and logging                                                */

#define GW_COUNT(g, field) do {                                         \
        mcp_node_endpoint_t *e_ = mcp_node_endpoint((g)->endpoint);     \
        MCP_STAT_INC(field);                                            \
        if (e_) {                                                       \
            apr_atomic_inc32(&e_->field);                               \
        }                                                               \
    } while (0)

/* Once per interval per process at `level`, else at debug. Into a
 * variable first: ap_log_rerror is a macro that evaluates its level twice. */
static int rate_limited(volatile apr_uint32_t *next, int level)
{
    apr_uint32_t now = (apr_uint32_t)apr_time_sec(apr_time_now());
    if (now >= *next) {
        *next = now + FAIL_LOG_INTERVAL;
        return level;
    }
    return APLOG_DEBUG;
}

static const char *short_key(request_rec *r, const mcp_session_t *s)
{
    return s ? apr_pstrmemdup(r->pool, s->key, 8) : "(new)";
}

/* Which session a log line is about. */
static const char *session_of(mcp_gateway_req_t *g)
{
    return g->modern ? "none, 2026-07-28" : short_key(g->r, g->session);
}

/* ------------------------------------------------------------------ */
/* The sub-request: fixups and the body                                */

/* A user name goes to the backend only as visible ASCII, spaces or
 * non-ASCII bytes: a control character could end the header. */
static int user_sendable(const char *user)
{
    const unsigned char *c;
    for (c = (const unsigned char *)user; *c; c++) {
        if ((*c < 0x20 && *c != '\t') || *c == 0x7f) {
            return 0;
        }
    }
    return 1;
}

static const char *valid_route(apr_pool_t *p, const char *route)
{
    const char *c;

    if (!route || !*route || strlen(route) > ROUTE_MAX) {
        return NULL;
    }
    for (c = route; *c; c++) {
        if (*c <= ' ' || *c > '~' || *c == ';' || *c == ',') {
            return NULL;
        }
    }
    return apr_pstrdup(p, route);
}

static int gateway_fixups(request_rec *rr)
{
    sub_t *sub;
    mcp_gateway_req_t *g;
    apr_table_t *h;
    const char *user_header, *cookie;

    if (!rr->main) {
        return DECLINED;
    }
    sub = ap_get_module_config(rr->main->request_config, &mcp_session_module);
    if (!sub || sub->claimed) {
        return DECLINED;
    }
    g = sub->g;
    sub->claimed = 1;
    sub->rr = rr;
    rr->filename = apr_pstrcat(rr->pool, "proxy:", g->dc->backend, NULL);
    rr->proxyreq = PROXYREQ_REVERSE;
    rr->handler = "proxy-server";
    /* set again by body_in's init, after mod_request's insert_filter */
    rr->kept_body = NULL;

    h = rr->headers_in;
    apr_table_unset(h, "Transfer-Encoding");
    apr_table_unset(h, "Content-Length");
    apr_table_unset(h, "Content-Encoding");
    /* the client's id is Apache's: never the backend's business */
    apr_table_unset(h, "Mcp-Session-Id");
    if (sub->body) {
        apr_table_setn(h, "Content-Length",
                       apr_off_t_toa(rr->pool, (apr_off_t)sub->len));
        apr_table_setn(h, "Content-Type", "application/json");
    }
    if (sub->backend_id) {
        apr_table_setn(h, "Mcp-Session-Id", sub->backend_id);
    }
    if (sub->mode == SUB_CAPTURE) {
        /* the gateway's own request, whatever the client's was */
        apr_table_setn(h, "Accept", "application/json, text/event-stream");
        apr_table_unset(h, "Last-Event-ID");
        apr_table_unset(h, "MCP-Protocol-Version");
    }
    if (sub->version && !apr_table_get(h, "MCP-Protocol-Version")) {
        apr_table_setn(h, "MCP-Protocol-Version", sub->version);
    }
    if ((user_header = mcp_config_user_header(g->dc))) {
        apr_table_unset(h, user_header);
        /* (user_refused() answered 403 to a client whose name is not) */
        if (g->r->user && user_sendable(g->r->user)) {
            apr_table_setn(h, user_header, g->r->user);
        }
    }
    /* mod_proxy_balancer's sticky look-up reads the first cookie of its
     * stickysession name, and takes what follows the first '.' */
    if (g->dc->backend_balancer && sub->route) {
        cookie = apr_table_get(h, "Cookie");
        apr_table_setn(h, "Cookie", apr_pstrcat(rr->pool, ROUTE_COOKIE "=mcp.",
                                                sub->route, cookie ? "; " : "",
                                                cookie, NULL));
    }
    /* the client's token is not the backend's (MCPBackendPassToken):
     * neither in the headers nor in rr's environment (fcgi://) */
    mcp_resource_strip_token(rr, h);
    ap_add_input_filter_handle(body_filter, sub, rr, rr->connection);
    ap_add_output_filter_handle(answer_filter, sub, rr, rr->connection);
    return OK;
}

static int body_init(ap_filter_t *f)
{
    /* non-NULL, or mod_proxy_http sends no body for a sub-request; empty,
     * since body_in gives the body */
    f->r->kept_body = apr_brigade_create(f->r->pool,
                                         f->r->connection->bucket_alloc);
    return OK;
}

/* The whole body and EOS in one read, whatever readbytes asks: mod_proxy
 * (http, fcgi) starts with ap_proxy_prefetch_input, which keeps what it
 * gets, so it then sends a Content-Length without spooling to a file. */
static apr_status_t body_in(ap_filter_t *f, apr_bucket_brigade *bb,
                            ap_input_mode_t mode, apr_read_type_e block,
                            apr_off_t readbytes)
{
    sub_t *sub = f->ctx;
    apr_bucket_alloc_t *ba = f->r->connection->bucket_alloc;

    if (mode != AP_MODE_READBYTES && mode != AP_MODE_SPECULATIVE
        && mode != AP_MODE_EXHAUSTIVE) {
        return ap_get_brigade(f->next, bb, mode, block, readbytes);
    }
    if (!sub->body_given && sub->len) {
        /* the handler's buffer lives in the client's request pool */
        APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_immortal_create(sub->body,
                                                               sub->len, ba));
    }
    APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_eos_create(ba));
    if (mode != AP_MODE_SPECULATIVE) {
        sub->body_given = 1;
    }
    return APR_SUCCESS;
}

/* ------------------------------------------------------------------ */
/* The answer                                                          */

/* Copy the entries of a table, less the backend's session id. */
static void copy_headers(apr_table_t *to, const apr_table_t *from)
{
    const apr_array_header_t *arr = apr_table_elts(from);
    const apr_table_entry_t *e = (const apr_table_entry_t *)arr->elts;
    int i;

    for (i = 0; i < arr->nelts; i++) {
        if (e[i].key && strcasecmp(e[i].key, "Mcp-Session-Id")) {
            /* copies: the sub-request's pool goes first */
            apr_table_add(to, e[i].key, e[i].val);
        }
    }
}

/* The backend's status and headers become the client's (less its session
 * id: the client has Apache's), before anything is passed on. A CGI-style
 * answer (mod_proxy_fcgi) has its headers in err_headers_out. */
static void commit(sub_t *sub)
{
    request_rec *r = sub->g->r, *rr = sub->rr;

    r->status = rr->status;
    r->status_line = NULL;
    apr_table_clear(r->headers_out);
    copy_headers(r->headers_out, rr->headers_out);
    copy_headers(r->headers_out, rr->err_headers_out);
    if (rr->content_type) {
        ap_set_content_type(r, apr_pstrdup(r->pool, rr->content_type));
    }
    /* the backend's 401/403 is the endpoint's: our Bearer parameters */
    mcp_resource_challenge(r, r->status);
    /* Apache's own id, as on its local answers: on initialize once the
     * session exists, and on every answer in a session */
    if (sub->sid) {
        apr_table_setn(r->headers_out, "Mcp-Session-Id", sub->sid);
    }
    else if (sub->mode == SUB_PASS && sub->g->session) {
        apr_table_setn(r->headers_out, "Mcp-Session-Id", sub->g->session->id);
    }
    sub->committed = 1;
}

/* On, flushed: an SSE event must not wait in the core output filter. */
static apr_status_t pass_on(ap_filter_t *f, apr_bucket_brigade *bb)
{
    apr_bucket *last = APR_BRIGADE_LAST(bb);

    if (!APR_BRIGADE_EMPTY(bb) && !APR_BUCKET_IS_FLUSH(last)
        && !APR_BUCKET_IS_EOS(last)) {
        APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_flush_create(
                                    f->c->bucket_alloc));
    }
    return ap_pass_brigade(f->next, bb);
}

static void fail(sub_t *sub, const char *why)
{
    if (!sub->failed) {
        sub->failed = why;
    }
    sub->swallow = 1;
}

static int content_type_is(const char *ct, const char *type)
{
    apr_size_t n = strlen(type);
    return ct && !strncasecmp(ct, type, n)
           && (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

/* The backend answered: its status, session id and member are known. */
static void answered(sub_t *sub, request_rec *rr)
{
    mcp_gateway_req_t *g = sub->g;
    const char *v;

    sub->response = 1;
    sub->status = rr->status;
    if ((v = apr_table_get(rr->headers_out, "Mcp-Session-Id"))
        || (v = apr_table_get(rr->err_headers_out, "Mcp-Session-Id"))) {
        sub->new_id = apr_pstrdup(g->r->pool, v);
    }
    sub->new_route = valid_route(g->r->pool, apr_table_get(
                                     rr->subprocess_env, "BALANCER_WORKER_ROUTE"));
    v = rr->content_type;
    switch (sub->mode) {
    case SUB_PASS:
        if (sub->catch_404 && sub->status == HTTP_NOT_FOUND) {
            sub->missed = 1;
            sub->swallow = 1;
        }
        else {
            commit(sub);
        }
        break;
    case SUB_INIT:
        sub->is_json = content_type_is(v, "application/json");
        sub->is_sse = content_type_is(v, "text/event-stream");
        /* only a 2xx JSON or SSE answer can hold an InitializeResult */
        if (!ap_is_HTTP_SUCCESS(sub->status) || !(sub->is_json || sub->is_sse)) {
            commit(sub);
        }
        break;
    case SUB_CAPTURE:
        sub->is_json = content_type_is(v, "application/json");
        sub->is_sse = content_type_is(v, "text/event-stream");
        break;
    }
    if (sub->is_sse && sub->want) {
        sub->scan = mcp_sse_scanner_create(g->r->pool, sub->want, HOLD_MAX);
    }
}

/* The first brigade: is it the backend's answer? Not when the backend
 * broke before answering (an error bucket before any data). A lone EOS
 * is either the end of a sub-request mod_proxy failed (no status line
 * from the backend) or a bodiless answer of mod_proxy_fcgi, which unlike
 * mod_proxy_http does not set sent_bodyct as it starts an answer: which
 * one, run_sub tells from the handler's status. */
static int first_answer(sub_t *sub, request_rec *rr, apr_bucket_brigade *bb)
{
    apr_bucket *e = APR_BRIGADE_FIRST(bb);

    if (e != APR_BRIGADE_SENTINEL(bb) && APR_BUCKET_IS_EOS(e)
        && APR_BUCKET_NEXT(e) == APR_BRIGADE_SENTINEL(bb) && !rr->sent_bodyct) {
        sub->lone_eos = 1;
        return 0;
    }
    for (; e != APR_BRIGADE_SENTINEL(bb); e = APR_BUCKET_NEXT(e)) {
        if (AP_BUCKET_IS_ERROR(e) || AP_BUCKET_IS_EOC(e)) {
            fail(sub, "the connection to the backend broke before it answered");
            return 0;
        }
        if (!APR_BUCKET_IS_METADATA(e)) {
            break;
        }
    }
    answered(sub, rr);
    return 1;
}

/* Read what a brigade holds of an answer the gateway looks into. */
static void read_answer(sub_t *sub, apr_bucket_brigade *bb)
{
    apr_bucket *e;

    for (e = APR_BRIGADE_FIRST(bb); e != APR_BRIGADE_SENTINEL(bb)
         && !sub->swallow; e = APR_BUCKET_NEXT(e)) {
        const char *data;
        apr_size_t len;
        apr_status_t rv;

        if (APR_BUCKET_IS_EOS(e)) {
            sub->eos = 1;
            break;
        }
        if (AP_BUCKET_IS_ERROR(e) || AP_BUCKET_IS_EOC(e)) {
            fail(sub, "the connection to the backend broke in its answer");
            break;
        }
        if (APR_BUCKET_IS_METADATA(e) || sub->answer || !sub->want) {
            continue;
        }
        if (apr_bucket_read(e, &data, &len, APR_BLOCK_READ) != APR_SUCCESS) {
            fail(sub, "the backend's answer could not be read");
            break;
        }
        sub->seen += len;
        if (sub->seen > HOLD_MAX) {
            fail(sub, apr_psprintf(sub->g->r->pool, "its answer held no "
                                   "response to the request in its first %d "
                                   "bytes", HOLD_MAX));
            break;
        }
        if (sub->scan) {
            rv = mcp_sse_scan(sub->scan, data, len, &sub->answer);
            if (rv == APR_ENOSPC) {
                fail(sub, "its answer has an event larger than the gateway "
                          "reads");
            }
        }
        else if (sub->is_json && sub->want) {
            if (!sub->json) {
                sub->json = apr_palloc(sub->g->r->pool, HOLD_MAX);
            }
            memcpy(sub->json + sub->json_len, data, len);
            sub->json_len += len;
        }
    }
    if (sub->eos && sub->json && !sub->answer) {
        sub->answer = mcp_sse_find_response(sub->g->r->pool, sub->json,
                                            sub->json_len, sub->want);
    }
}

/* The backend answered initialize (held): create the session when it is
 * an InitializeResult, exactly as a local initialize does. */
static void decide_init(sub_t *sub)
{
    mcp_gateway_req_t *g = sub->g;
    request_rec *r = g->r;
    mcp_session_t *s = g->session;
    json_t *result = json_object_get(sub->answer, "result");
    const char *version = json_string_value(json_object_get(result,
                                                            "protocolVersion"));
    apr_size_t len;
    char *rec;

    if (!json_is_object(result)) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, MCPLOG(00606)
                      "initialize at %s: the backend answered %d without an "
                      "InitializeResult; passed on, no session", g->endpoint,
                      sub->status);
        return;
    }
    if (!version || !mcp_protocol_supported(version)) {
        fail(sub, apr_psprintf(r->pool, "it negotiated protocol version %s, "
                               "which mod_mcp_session does not serve (%s)",
                               version ? version : "(none)",
                               MCP_PROTOCOL_VERSIONS));
        return;
    }
    if (sub->new_id && !mcp_record_id_plausible(sub->new_id)) {
        fail(sub, "its Mcp-Session-Id is not 1 to 256 visible ASCII "
                  "characters");
        return;
    }
    s->protocol_version = mcp_protocol_negotiate(version);
    s->backend_id = sub->new_id;
    s->backend_route = sub->new_id ? sub->new_route : NULL;
    rec = mcp_record_serialize(r->pool, s, g->st->max_record, &len);
    if (!rec) {
        fail(sub, "its session id does not fit the session store's record");
        return;
    }
    sub->store_rv = mcp_store_create(g->st, r, s->key, rec, len);
    if (sub->store_rv != APR_SUCCESS) {
        sub->swallow = 1;
        return;
    }
    MCP_STAT_INC(created);
    sub->sid = s->id;
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, MCPLOG(00605)
                  "session %s created at %s for %s, protocol %s, in %s; "
                  "backend %s (%s%s%s)", short_key(r, s), g->endpoint,
                  s->user ? ap_escape_logitem(r->pool, s->user) : "anonymous",
                  s->protocol_version,
                  g->st->description, g->dc->backend,
                  s->backend_id ? "stateful" : "stateless",
                  s->backend_route ? ", route " : "",
                  s->backend_route ? s->backend_route : "");
}

static apr_status_t answer_out(ap_filter_t *f, apr_bucket_brigade *bb)
{
    sub_t *sub = f->ctx;
    apr_bucket *e;
    apr_status_t rv = APR_SUCCESS;

    if (!sub->response && !sub->swallow && !first_answer(sub, f->r, bb)) {
        apr_brigade_cleanup(bb);
        goto leave;
    }
    if (sub->committed && !sub->hold) {
        rv = pass_on(f, bb);
        goto leave;
    }
    if (!sub->swallow) {
        read_answer(sub, bb);
    }
    if (sub->swallow || sub->mode == SUB_CAPTURE) {
        apr_brigade_cleanup(bb);
        if (sub->hold) {
            apr_brigade_cleanup(sub->hold);
        }
        goto leave;
    }
    /* SUB_INIT, not yet decided: hold, until the result or the end */
    rv = ap_save_brigade(f, &sub->hold, &bb, sub->g->r->pool);
    apr_brigade_cleanup(bb);
    if (rv != APR_SUCCESS) {
        fail(sub, "its answer could not be held");
        apr_brigade_cleanup(sub->hold);
        goto leave;
    }
    if (!sub->answer && !sub->eos) {
        goto leave;
    }
    if (sub->answer) {
        decide_init(sub);
    }
    else {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, sub->g->r, MCPLOG(00606)
                      "initialize at %s: the backend's answer (%d) ended "
                      "without a response to it; passed on, no session",
                      sub->g->endpoint, sub->status);
    }
    if (sub->swallow) {
        apr_brigade_cleanup(sub->hold);
        goto leave;
    }
    commit(sub);
    e = APR_BRIGADE_LAST(sub->hold);
    if (!APR_BRIGADE_EMPTY(sub->hold) && !APR_BUCKET_IS_EOS(e)) {
        APR_BRIGADE_INSERT_TAIL(sub->hold, apr_bucket_flush_create(
                                    f->c->bucket_alloc));
    }
    rv = ap_pass_brigade(f->next, sub->hold);
    apr_brigade_cleanup(sub->hold);
    sub->hold = NULL;
leave:
    return rv;
}

/* ------------------------------------------------------------------ */
/* Running sub-requests                                                */

static sub_t *new_sub(mcp_gateway_req_t *g, sub_mode_e mode,
                      const char *method, const char *body, apr_size_t len)
{
    sub_t *sub = apr_pcalloc(g->r->pool, sizeof(*sub));
    sub->g = g;
    sub->mode = mode;
    sub->method = method;
    sub->body = body;
    sub->len = len;
    return sub;
}

/* The sub-request's URI maps to the client's <Location>, so it has the
 * same per-directory configuration: access checks are not run again. The
 * query string goes along (mod_proxy appends it to the backend URL). */
static const char *sub_uri(request_rec *r)
{
    const char *uri = ap_escape_uri(r->pool, r->uri);
    return r->args ? apr_pstrcat(r->pool, uri, "?", r->args, NULL) : uri;
}

/* Run one sub-request to the backend; ap_run_sub_req's status. */
static int run_sub(sub_t *sub)
{
    request_rec *r = sub->g->r, *rr;
    int rc;

    ap_set_module_config(r->request_config, &mcp_session_module, sub);
    rr = ap_sub_req_method_uri(sub->method, sub_uri(r), r, r->output_filters);
    ap_set_module_config(r->request_config, &mcp_session_module, NULL);
    if (!sub->claimed || rr->status != HTTP_OK) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, MCPLOG(00604)
                      "the request to backend %s could not be made a proxy "
                      "request (status %d%s): is another module handling the "
                      "sub-request?", sub->g->dc->backend, rr->status,
                      sub->claimed ? "" : ", fixups not reached");
        rc = rr->status != HTTP_OK ? rr->status : HTTP_INTERNAL_SERVER_ERROR;
        fail(sub, "the proxy request could not be set up");
        goto leave;
    }
    rc = ap_run_sub_req(rr);
    if (sub->lone_eos && !sub->response && !sub->failed
        && (rc == OK || rc == DONE)) {
        /* mod_proxy succeeded: a bodiless answer (fcgi) */
        answered(sub, rr);
        if (sub->mode == SUB_INIT && !sub->committed) {
            commit(sub);
        }
    }
leave:
    ap_destroy_sub_req(rr);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Answers of the gateway's own                                        */

static int gateway_error(mcp_gateway_req_t *g, int status, const char *message)
{
    request_rec *r = g->r;
    json_t *j = mcp_json_pool_own(r->pool, mcp_rpc_error(g->id, MCP_ERR_SERVER,
                                                         message, NULL));
    apr_size_t len = 0;
    const char *body = mcp_json_dump(r->pool, j, &len);

    if (!body) {
        body = mcp_rpc_error_body(r->pool, MCP_ERR_SERVER, message);
        len = strlen(body);
    }
    mcp_resource_challenge(r, status);
    r->status = status;
    r->status_line = NULL;
    apr_table_clear(r->headers_out);
    ap_set_content_type(r, "application/json");
    ap_set_content_length(r, len);
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    ap_rwrite(body, (int)len, r);
    return DONE;
}

/* The backend did not answer (or not usably): 503 when mod_proxy could not
 * reach it, 504 when it timed out (fcgi), else 502; the session stays. */
static int backend_failed(mcp_gateway_req_t *g, sub_t *sub, int rc,
                          const char *what)
{
    request_rec *r = g->r;
    int status = sub->failed ? HTTP_BAD_GATEWAY
                 : rc == HTTP_SERVICE_UNAVAILABLE ? HTTP_SERVICE_UNAVAILABLE
                 : rc == HTTP_GATEWAY_TIME_OUT ? HTTP_GATEWAY_TIME_OUT
                 : HTTP_BAD_GATEWAY;
    const char *why = sub->failed ? sub->failed
                      : sub->response ? apr_psprintf(r->pool, "it answered %d",
                                                     sub->status)
                      : apr_psprintf(r->pool, "mod_proxy gave %d (see its "
                                     "error log line)", rc);
    int level;

    GW_COUNT(g, failed);
    level = rate_limited(&next_fail_log, APLOG_WARNING);
    ap_log_rerror(APLOG_MARK, level, 0, r, MCPLOG(00601)
                  "backend %s of %s failed %s: %s; answered %d, %s%s (logged "
                  "at most every %ds per process)",
                  g->dc->backend, g->endpoint, what, why, status,
                  g->session ? "kept session " : g->modern
                  ? "no session (2026-07-28)" : "no session made",
                  g->session ? short_key(r, g->session) : "",
                  FAIL_LOG_INTERVAL);
    if (status == HTTP_SERVICE_UNAVAILABLE) {
        apr_table_setn(r->err_headers_out, "Retry-After", RETRY_AFTER);
        return gateway_error(g, status, "Service Unavailable: the MCP server "
                             "behind this endpoint is not reachable; retry "
                             "later");
    }
    if (status == HTTP_GATEWAY_TIME_OUT) {
        return gateway_error(g, status, "Gateway Timeout: the MCP server "
                             "behind this endpoint did not answer in time");
    }
    return gateway_error(g, status, "Bad Gateway: the MCP server behind this "
                         "endpoint failed to answer");
}

static int user_refused(mcp_gateway_req_t *g)
{
    request_rec *r = g->r;

    if (!mcp_config_user_header(g->dc) || !r->user || user_sendable(r->user)) {
        return OK;
    }
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, MCPLOG(00609)
                  "user name with a control character cannot go to backend "
                  "%s in %s: 403", g->dc->backend, mcp_config_user_header(g->dc));
    return gateway_error(g, HTTP_FORBIDDEN, "Forbidden: the user name cannot "
                         "be passed to the MCP server behind this endpoint");
}

static void log_forward(mcp_gateway_req_t *g, sub_t *sub, const char *what,
                        const char *outcome)
{
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, g->r, MCPLOG(00600)
                  "%s %s (session %s) to backend %s: it answered %d%s%s; %s",
                  sub->method, what, session_of(g),
                  g->dc->backend, sub->status, sub->new_route ? ", route " : "",
                  sub->new_route ? sub->new_route : "", outcome);
}

/* Best effort: end a backend session the gateway no longer uses. */
static void backend_delete(mcp_gateway_req_t *g, const char *id,
                           const char *route, const char *why)
{
    sub_t *sub = new_sub(g, SUB_CAPTURE, "DELETE", NULL, 0);
    int rc;

    sub->backend_id = id;
    sub->route = route;
    rc = run_sub(sub);
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, g->r, MCPLOG(00608)
                  "DELETE of the backend's session (%s) at %s: %s",
                  why, g->dc->backend, sub->response
                  ? apr_psprintf(g->r->pool, "it answered %d", sub->status)
                  : apr_psprintf(g->r->pool, "no answer (%d)", rc));
}

/* ------------------------------------------------------------------ */
/* initialize                                                          */

int mcp_gateway_initialize(mcp_gateway_req_t *g)
{
    request_rec *r = g->r;
    mcp_session_t *s;
    json_t *info = json_object_get(g->init_params, "clientInfo");
    json_t *caps = json_object_get(g->init_params, "capabilities");
    apr_status_t rv;
    apr_size_t len;
    sub_t *sub;
    int rc;

    if ((rc = user_refused(g)) != OK) {
        return rc;
    }
    /* The session as a local initialize makes it, known before the
     * backend is asked, so that one that cannot be kept costs no backend
     * session. */
    if ((rv = mcp_record_new(r->pool, &s)) != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r, MCPLOG(00610)
                      "no random bytes for a session id");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    s->endpoint = g->endpoint;
    s->user = g->principal;
    s->node = mcp_node_id();
    s->protocol_version = mcp_protocol_negotiate(json_string_value(
                              json_object_get(g->init_params, "protocolVersion")));
    if (json_is_object(info)) {
        mcp_record_lazy_set(r->pool, &s->client_info,
                            mcp_record_client_info(info));
    }
    if (json_is_object(caps)) {
        mcp_record_lazy_set(r->pool, &s->client_caps,
                            mcp_record_client_caps(caps));
    }
    if (!mcp_record_serialize(r->pool, s, g->st->max_record, &len)) {
        return mcp_response_error(r, HTTP_BAD_REQUEST, MCP_ERR_INVALID_REQUEST,
                                  "Invalid Request: the initialize parameters "
                                  "are too large to keep");
    }
    g->session = s;

    sub = new_sub(g, SUB_INIT, "POST", g->body, g->len);
    sub->want = g->id;
    GW_COUNT(g, forwarded);
    rc = run_sub(sub);
    if (sub->committed) {
        log_forward(g, sub, "initialize", sub->sid ? "session created"
                                                  : "passed on, no session");
        return OK;
    }
    if (sub->new_id && (sub->failed || sub->store_rv != APR_SUCCESS)) {
        /* the backend made a session nobody will use */
        backend_delete(g, sub->new_id, sub->new_route, "orphaned");
    }
    if (sub->store_rv != APR_SUCCESS) {
        log_forward(g, sub, "initialize", "the store refused the session");
        return g->store_error(r, sub->store_rv);
    }
    if (sub->failed && sub->response) {
        int level = rate_limited(&next_fail_log, APLOG_WARNING);
        ap_log_rerror(APLOG_MARK, level, 0, r, MCPLOG(00607)
                      "backend %s answered initialize at %s unusably: %s",
                      g->dc->backend, g->endpoint, sub->failed);
    }
    g->session = NULL;
    return backend_failed(g, sub, rc, "on initialize");
}

/* ------------------------------------------------------------------ */
/* Requests in a session                                               */

/* The backend no longer knows the session's backend id: start a new
 * backend session from what the record kept, and store its id. */
static const char *replay(mcp_gateway_req_t *g)
{
    request_rec *r = g->r;
    mcp_session_t *s = g->session;
    json_t *id = mcp_json_pool_own(r->pool, json_string(REPLAY_ID));
    const char *old = s->backend_route;
    json_t *result;
    apr_size_t len;
    apr_status_t rv;
    sub_t *init, *note;
    char *rec;
    int level;

    GW_COUNT(g, replayed);
    init = new_sub(g, SUB_CAPTURE, "POST", NULL, 0);
    init->body = mcp_record_initialize_request(r->pool, s, REPLAY_ID,
                                               &init->len);
    init->want = id;
    init->route = s->backend_route;
    run_sub(init);
    result = json_object_get(init->answer, "result");
    if (!init->response || !ap_is_HTTP_SUCCESS(init->status)
        || !json_is_object(result)) {
        return init->failed ? init->failed
               : !init->response ? "the backend did not answer initialize"
               : apr_psprintf(r->pool, "it answered initialize with %d%s",
                              init->status, init->answer ? ", an error"
                              : " and no response");
    }
    if (init->new_id && !mcp_record_id_plausible(init->new_id)) {
        return "its new Mcp-Session-Id is not 1 to 256 visible ASCII characters";
    }
    if (init->new_id && s->initialized) {
        note = new_sub(g, SUB_CAPTURE, "POST", INITIALIZED_BODY,
                       sizeof(INITIALIZED_BODY) - 1);
        note->backend_id = init->new_id;
        note->route = init->new_route;
        note->version = s->protocol_version;
        run_sub(note);
        if (!note->response || !ap_is_HTTP_SUCCESS(note->status)) {
            return note->response
                   ? apr_psprintf(r->pool, "it answered "
                                  "notifications/initialized with %d",
                                  note->status)
                   : "it did not answer notifications/initialized";
        }
    }
    s->backend_id = init->new_id;
    s->backend_route = init->new_id ? init->new_route : NULL;
    level = rate_limited(&next_replay_log, APLOG_INFO);
    ap_log_rerror(APLOG_MARK, level, 0, r, MCPLOG(00602)
                  "session %s at %s: backend %s no longer knew its session "
                  "(404%s%s): re-initialized it, %s%s%s (logged at most every "
                  "%ds per process)", short_key(r, s),
                  g->endpoint, g->dc->backend, old ? ", route " : "",
                  old ? old : "", s->backend_id ? "stateful" : "now stateless",
                  s->backend_route ? ", route " : "",
                  s->backend_route ? s->backend_route : "", FAIL_LOG_INTERVAL);
    s->last = apr_time_now();
    rec = mcp_record_serialize(r->pool, s, g->st->max_record, &len);
    rv = rec ? mcp_store_update(g->st, r, s->key, rec, len) : APR_ENOSPC;
    if (rv != APR_SUCCESS) {
        /* the request still goes through with the new id; the next one
         * replays again */
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, rv, r, MCPLOG(00611)
                      "session %s: the backend's new session id could not be "
                      "stored", short_key(r, s));
    }
    return NULL;
}

int mcp_gateway_forward(mcp_gateway_req_t *g)
{
    request_rec *r = g->r;
    mcp_session_t *s = g->session;
    const char *what = g->id ? "a request" : g->body ? "messages"
                       : "the stream", *why;
    sub_t *sub;
    int rc;

    if ((rc = user_refused(g)) != OK) {
        return rc;
    }
    sub = new_sub(g, SUB_PASS, r->method, g->body, g->len);
    sub->backend_id = s->backend_id;
    sub->route = s->backend_route;
    sub->version = s->protocol_version;
    sub->catch_404 = 1;
    GW_COUNT(g, forwarded);
    rc = run_sub(sub);
    if (sub->committed) {
        log_forward(g, sub, what, "passed on");
        return OK;
    }
    if (!sub->missed) {
        return backend_failed(g, sub, rc, apr_pstrcat(r->pool, "on ", what,
                                                     NULL));
    }
    if (!s->backend_id) {
        fail(sub, "it answered 404 although it keeps no sessions (stateless): "
                  "is MCPBackend's path right?");
        return backend_failed(g, sub, rc, apr_pstrcat(r->pool, "on ", what,
                                                     NULL));
    }
    log_forward(g, sub, what, "the backend no longer knows the session: "
                "replaying it");
    if ((why = replay(g)) != NULL) {
        sub->failed = apr_pstrcat(r->pool, "re-initializing it after a 404 "
                                  "failed: ", why, NULL);
        int level = rate_limited(&next_fail_log, APLOG_WARNING);
        ap_log_rerror(APLOG_MARK, level, 0, r, MCPLOG(00603)
                      "session %s at %s: backend %s: %s", short_key(r, s),
                      g->endpoint, g->dc->backend, sub->failed);
        return backend_failed(g, sub, rc, apr_pstrcat(r->pool, "on ", what,
                                                     NULL));
    }
    /* once more, with the new backend session; a 404 now is a failure */
    sub = new_sub(g, SUB_PASS, r->method, g->body, g->len);
    sub->backend_id = s->backend_id;
    sub->route = s->backend_route;
    sub->version = s->protocol_version;
    sub->catch_404 = 1;
    rc = run_sub(sub);
    if (sub->committed) {
        log_forward(g, sub, what, "passed on after the replay");
        return OK;
    }
    if (sub->missed) {
        fail(sub, "it answered 404 again right after the replay");
    }
    return backend_failed(g, sub, rc, apr_pstrcat(r->pool, "on ", what,
                                                 " after a replay", NULL));
}

int mcp_gateway_stateless(mcp_gateway_req_t *g)
{
    request_rec *r = g->r;
    const char *what = g->id ? "a 2026-07-28 request"
                             : "a 2026-07-28 notification";
    sub_t *sub;
    int rc;

    if ((rc = user_refused(g)) != OK) {
        return rc;
    }
    /* no backend_id, no version of ours: the client's headers go as
     * they came (fixups drop its Mcp-Session-Id); no catch_404 */
    sub = new_sub(g, SUB_PASS, r->method, g->body, g->len);
    GW_COUNT(g, forwarded);
    rc = run_sub(sub);
    if (sub->committed) {
        log_forward(g, sub, what, "passed on");
        return OK;
    }
    return backend_failed(g, sub, rc, apr_pstrcat(r->pool, "on ", what, NULL));
}

void mcp_gateway_delete(mcp_gateway_req_t *g)
{
    if (g->session && g->session->backend_id) {
        GW_COUNT(g, forwarded);
        backend_delete(g, g->session->backend_id, g->session->backend_route,
                       "the client ended its session");
    }
}

void mcp_gateway_register_hooks(apr_pool_t *p)
{
    /* after core_override_type (REALLY_FIRST) set the handler, before
     * mod_proxy's own fixups canonicalize the URL */
    static const char *const succ[] = { "mod_proxy.c", NULL };

    ap_hook_fixups(gateway_fixups, NULL, succ, APR_HOOK_FIRST);
    body_filter = ap_register_input_filter("MCP_GATEWAY_BODY", body_in,
                                           body_init, AP_FTYPE_RESOURCE);
    answer_filter = ap_register_output_filter("MCP_GATEWAY_ANSWER", answer_out,
                                              NULL, AP_FTYPE_RESOURCE);
}
