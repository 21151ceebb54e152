/*
 * The MCP endpoint (SetHandler mcp-session): where a request goes.
 *
 *   mcp_handler          origin check, then by method:
 *     handle_post          headers, body, JSON-RPC parse, then
 *       post_initialize      a new session
 *       post_in_session      load the session, run the messages
 *       gateway_post         MCPBackend: the same checks, then the
 *                            backend answers (mcp_gateway.c)
 *       mcp_modern_post      2026-07-28: no session (mcp_modern.c)
 *     (GET, DELETE of 2026-07-28: 405, mcp_modern_not_allowed)
 *     handle_get           MCPBackend: a stateful backend's stream
 *     handle_delete        end a session
 *     anything else        405
 */
#include "httpd.h"
#include <string.h>
#include "apr_strings.h"
#include "apr_uri.h"
#include "apr_fnmatch.h"
#include "http_config.h"
#include "http_core.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"
#include "mcp_private.h"
#include "mcp_config.h"
#include "mcp_endpoint.h"
#include "mcp_era.h"
#include "mcp_gateway.h"
#include "mcp_handler.h"
#include "mcp_json.h"
#include "mcp_modern.h"
#include "mcp_protocol.h"
#include "mcp_record.h"
#include "mcp_resource.h"
#include "mcp_response.h"
#include "mcp_rpc.h"
#include "mcp_store.h"

#define RETRY_AFTER_OUTAGE   "5"
#define RETRY_AFTER_FULL     "30"
#define FULL_LOG_INTERVAL    60
#define UNSAVED_LOG_INTERVAL 60
#define READ_CHUNK           (64 * 1024)
/* A 2025-03-26 batch may hold 100 requests: bound what one costs. Lists
 * are the largest answers (one list request per batch), and requests stop
 * being started once the batch has run this long. */
#define BATCH_LIST_MAX       1
#define BATCH_TIME_BUDGET    apr_time_from_sec(2)
/* What a browser client may send and read (CORS). */
#define CORS_ALLOW_METHODS   "POST, GET, DELETE"
#define CORS_ALLOW_HEADERS   "Content-Type, Mcp-Session-Id, MCP-Protocol-Version, " \
                             "Mcp-Method, Mcp-Name, Last-Event-ID, Authorization"
#define CORS_EXPOSE_HEADERS  "Mcp-Session-Id, MCP-Protocol-Version, " \
                             "WWW-Authenticate"
#define CORS_MAX_AGE         "600"

static const mcp_registry_t *registry;
static volatile apr_uint32_t next_full_log;
static volatile apr_uint32_t next_unsaved_log;

void mcp_handler_set_registry(const mcp_registry_t *reg)
{
    registry = reg;
}

typedef struct req_t {
    request_rec *r;
    mcp_srv_conf_t *sc;
    mcp_dir_conf_t *dc;
    mcp_store_t *st;
    const char *endpoint;
    const char *principal;      /* who sessions are bound to, or NULL */
} req_t;

/* Log-safe short name of a session: the first 8 hex chars of its key. */
static const char *short_key(request_rec *r, const mcp_session_t *s)
{
    return apr_pstrmemdup(r->pool, s->key, 8);
}

static int unavailable(request_rec *r, const char *retry, const char *message)
{
    apr_table_setn(r->err_headers_out, "Retry-After", retry);
    return mcp_response_error(r, HTTP_SERVICE_UNAVAILABLE, MCP_ERR_SERVER, message);
}

/* APR_EAGAIN: the store is up but this process cannot use it now (the
 * breaker is open, or every connection is in use). */
static int store_unavailable(request_rec *r, apr_status_t rv)
{
    return unavailable(r, RETRY_AFTER_OUTAGE, APR_STATUS_IS_EAGAIN(rv)
                       ? "Service Unavailable: the session store is busy; "
                         "retry later"
                       : "Service Unavailable: the session store is not "
                         "reachable; retry later");
}

static int session_not_found(request_rec *r)
{
    MCP_STAT_INC(not_found);
    return mcp_response_error(r, HTTP_NOT_FOUND, MCP_ERR_SESSION, "Session not found");
}

/* ------------------------------------------------------------------ */
/* Origin (DNS rebinding protection)                                   */

static int same_origin(apr_pool_t *p, const char *origin, const char *scheme,
                       const char *host, apr_port_t port, int wildcard)
{
    apr_uri_t u;
    apr_port_t oport;

    if (apr_uri_parse(p, origin, &u) != APR_SUCCESS || !u.scheme || !u.hostname
        || strcasecmp(u.scheme, scheme)) {
        return 0;
    }
    oport = u.port ? u.port : apr_uri_port_of_scheme(u.scheme);
    if (oport != port) {
        return 0;
    }
    return wildcard ? apr_fnmatch(host, u.hostname, APR_FNM_CASE_BLIND) == 0
                    : !strcasecmp(host, u.hostname);
}

/* Allowed: no Origin; one of the virtual host's own names (never the Host
 * header, which a rebinding attacker controls) with its scheme and port;
 * or one listed in MCPAllowedOrigins. */
static int origin_allowed(req_t *q, const char *origin)
{
    request_rec *r = q->r;
    server_rec *s = r->server;
    const char *scheme = ap_http_scheme(r);
    apr_port_t port = s->port ? s->port : r->connection->local_addr->port;
    int i;

    if (!origin) {
        return 1;
    }
    if (s->server_hostname
        && same_origin(r->pool, origin, scheme, s->server_hostname, port, 0)) {
        return 1;
    }
    for (i = 0; s->names && i < s->names->nelts; i++) {
        if (same_origin(r->pool, origin, scheme,
                        APR_ARRAY_IDX(s->names, i, const char *), port, 0)) {
            return 1;
        }
    }
    for (i = 0; s->wild_names && i < s->wild_names->nelts; i++) {
        if (same_origin(r->pool, origin, scheme,
                        APR_ARRAY_IDX(s->wild_names, i, const char *), port, 1)) {
            return 1;
        }
    }
    for (i = 0; q->dc->origins && i < q->dc->origins->nelts; i++) {
        const char *allowed = APR_ARRAY_IDX(q->dc->origins, i, const char *);
        apr_uri_t a;
        if (!strcmp(allowed, "*")) {
            return 1;
        }
        if (apr_uri_parse(r->pool, allowed, &a) == APR_SUCCESS
            && same_origin(r->pool, origin, a.scheme, a.hostname,
                           a.port ? a.port : apr_uri_port_of_scheme(a.scheme),
                           0)) {
            return 1;
        }
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* Sessions                                                            */

/* Load the session named by the request's Mcp-Session-Id, check that it
 * belongs to this endpoint and user, then check MCP-Protocol-Version (in
 * the SDK's order). Returns OK, or DONE when the answer was sent. */
static int request_session(req_t *q, mcp_session_t **ps)
{
    request_rec *r = q->r;
    const char *sid = apr_table_get(r->headers_in, "Mcp-Session-Id");
    const char *version = apr_table_get(r->headers_in, "MCP-Protocol-Version");
    char key[MCP_KEY_LEN + 1];
    mcp_session_t *s;
    char *rec;
    apr_size_t len;
    apr_status_t rv;

    if (!sid) {
        return mcp_response_error(r, HTTP_BAD_REQUEST, MCP_ERR_SERVER,
                              "Bad Request: Mcp-Session-Id header is required");
    }
    if (!mcp_record_id_plausible(sid)) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, MCPLOG(00201)
                      "malformed Mcp-Session-Id: unknown session");
        return session_not_found(r);
    }
    mcp_record_key(sid, key);
    rv = mcp_store_fetch(q->st, r, key, &rec, &len);
    if (APR_STATUS_IS_NOTFOUND(rv)) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, MCPLOG(00202)
                      "session %.8s not in %s (never created, expired or "
                      "deleted): 404", key, q->st->description);
        return session_not_found(r);
    }
    if (rv != APR_SUCCESS) {
        return store_unavailable(r, rv);
    }
    if (mcp_record_parse(r->pool, rec, len, &s) != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, MCPLOG(00203)
                      "session %.8s in %s holds no record this module can "
                      "read; treating it as unknown", key, q->st->description);
        return session_not_found(r);
    }
    s->id = sid;
    memcpy(s->key, key, sizeof(key));
    if (!s->endpoint || strcmp(s->endpoint, q->endpoint)) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, MCPLOG(00204)
                      "session %.8s belongs to endpoint %s, not %s: 404", key,
                      s->endpoint ? s->endpoint : "?", q->endpoint);
        return session_not_found(r);
    }
    if ((s->user || q->principal)
        && (!s->user || !q->principal || strcmp(s->user, q->principal))) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, MCPLOG(00205)
                      "session %.8s is bound to another user than '%s': 404",
                      key, q->principal ? q->principal : "(none)");
        return session_not_found(r);
    }
    if (s->node && strcmp(s->node, mcp_node_id())) {
        MCP_STAT_INC(resumed);
        ap_log_rerror(APLOG_MARK, APLOG_TRACE1, 0, r, MCPLOG(00206)
                      "session %.8s was created on node %s, served here from %s",
                      key, s->node, q->st->description);
    }
    if (version && !mcp_protocol_supported(version)) {
        return mcp_response_error(r, HTTP_BAD_REQUEST, MCP_ERR_SERVER,
                              apr_psprintf(r->pool, "Bad Request: Unsupported "
                                           "protocol version: %s (supported "
                                           "versions: %s)", version,
                                           MCP_PROTOCOL_VERSIONS));
    }
    *ps = s;
    return OK;
}

/* Write a changed session back. Returns OK or the error answer. */
static int save_session(req_t *q, mcp_session_t *s, int answered)
{
    request_rec *r = q->r;
    apr_size_t len;
    char *rec;
    apr_status_t rv;

    s->last = apr_time_now();
    rec = mcp_record_serialize(r->pool, s, q->st->max_record, &len);
    if (!rec) {
        apr_uint32_t now = (apr_uint32_t)apr_time_sec(apr_time_now());
        /* the protocol refuses changes that would not fit, so this is a
         * bug or a store with a tiny limit: say so, but not per request */
        int level = now >= next_unsaved_log ? APLOG_ERR : APLOG_DEBUG;
        if (level == APLOG_ERR) {
            next_unsaved_log = now + UNSAVED_LOG_INTERVAL;
        }
        ap_log_rerror(APLOG_MARK, level, 0, r, MCPLOG(00207)
                      "session %s does not fit the store's %" APR_SIZE_T_FMT
                      " bytes; change not saved (logged at most every %ds)",
                      short_key(r, s), q->st->max_record, UNSAVED_LOG_INTERVAL);
        return OK;
    }
    rv = mcp_store_update(q->st, r, s->key, rec, len);
    if (APR_STATUS_IS_NOTFOUND(rv)) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, MCPLOG(00208)
                      "session %s ended while this request ran; not revived",
                      short_key(r, s));
    }
    else if (rv != APR_SUCCESS && !answered) {
        return store_unavailable(r, rv);
    }
    return OK;
}

/* ------------------------------------------------------------------ */
/* POST                                                                */

static int accepts_both(request_rec *r)
{
    const char *accept = apr_table_get(r->headers_in, "Accept");
    return accept && ap_strcasestr(accept, "application/json")
           && ap_strcasestr(accept, "text/event-stream");
}

static int is_json(request_rec *r)
{
    const char *ct = apr_table_get(r->headers_in, "Content-Type");
    apr_size_t n = sizeof("application/json") - 1;
    return ct && !strncasecmp(ct, "application/json", n)
           && (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ' || ct[n] == '\t');
}

static int too_large(request_rec *r, apr_off_t max)
{
    r->connection->keepalive = AP_CONN_CLOSE;
    return mcp_response_error(r, HTTP_REQUEST_ENTITY_TOO_LARGE, MCP_ERR_SERVER,
                          apr_psprintf(r->pool, "Payload Too Large: Request "
                                       "body must not exceed %" APR_OFF_T_FMT
                                       " bytes", max));
}

/* Read the whole body, refusing more than max bytes. A declared length is
 * read into one exact buffer; a chunked body grows by doubling. Returns OK
 * or an HTTP status/answer. */
static int read_body(request_rec *r, apr_off_t max, char **body,
                     apr_size_t *len)
{
    const char *cl = apr_table_get(r->headers_in, "Content-Length");
    apr_off_t declared = -1;
    apr_size_t size = 0, cap;
    char *buf;
    long n;
    int rc;

    if (cl) {
        if (apr_strtoff(&declared, cl, NULL, 10) == APR_SUCCESS
            && declared > max) {
            return too_large(r, max);
        }
    }
    if ((rc = ap_setup_client_block(r, REQUEST_CHUNKED_DECHUNK)) != OK) {
        return rc;
    }
    if (r->remaining > 0 && r->remaining <= max) {
        declared = r->remaining;
        cap = (apr_size_t)declared;
    }
    else {
        declared = -1;
        cap = 8192;
    }
    buf = apr_palloc(r->pool, cap + 1);
    if (ap_should_client_block(r)) {
        /* HTTP_IN never hands out more than a declared length */
        while (declared < 0 || (apr_off_t)size < declared) {
            if (size == cap) {
                char *bigger;
                if ((apr_off_t)cap >= max + 1) {
                    return too_large(r, max);
                }
                cap = cap * 2 > (apr_size_t)max + 1 ? (apr_size_t)max + 1
                                                    : cap * 2;
                bigger = apr_palloc(r->pool, cap + 1);
                memcpy(bigger, buf, size);
                buf = bigger;
            }
            /* a bounded read: asked for megabytes at once, HTTP_IN would
             * first gather them all in 8 KB heap buckets (measured: a
             * quarter of a 4 MiB request's CPU) */
            n = ap_get_client_block(r, buf + size,
                                    cap - size > READ_CHUNK ? READ_CHUNK
                                                            : cap - size);
            if (n < 0) {
                return HTTP_BAD_REQUEST;
            }
            if (n == 0) {
                break;
            }
            size += (apr_size_t)n;
            if ((apr_off_t)size > max) {
                return too_large(r, max);
            }
        }
    }
    buf[size] = '\0';
    *body = buf;
    *len = size;
    return OK;
}

/* The answer when the store did not take a new session: full, or not
 * available. */
static int create_refused(request_rec *r, apr_status_t rv)
{
    if (APR_STATUS_IS_ENOSPC(rv)) {
        apr_uint32_t now = (apr_uint32_t)apr_time_sec(apr_time_now());
        MCP_STAT_INC(refused_full);
        if (now >= next_full_log) {
            next_full_log = now + FULL_LOG_INTERVAL;
            ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, MCPLOG(00211)
                          "session table full (MCPSessionCapacity %d live "
                          "sessions): refusing new sessions with 503 until "
                          "some expire or end; existing sessions are kept "
                          "(logged at most every %ds)",
                          mcp_store_memory_capacity(), FULL_LOG_INTERVAL);
        }
        return unavailable(r, RETRY_AFTER_FULL, "Service Unavailable: session "
                           "capacity reached; retry later");
    }
    return store_unavailable(r, rv);
}

static int post_initialize(req_t *q, mcp_batch_t *b)
{
    request_rec *r = q->r;
    const mcp_msg_t *msg = &APR_ARRAY_IDX(b->msgs, 0, mcp_msg_t);
    mcp_responder_t rs;
    mcp_session_t *s;
    mcp_ctx_t ctx;
    json_t *answer;
    apr_size_t len;
    apr_status_t rv;
    char *rec;

    if (b->msgs->nelts != 1) {
        return mcp_response_error(r, HTTP_BAD_REQUEST, MCP_ERR_INVALID_REQUEST,
                              "Invalid Request: Only one initialization request "
                              "is allowed");
    }
    if ((rv = mcp_record_new(r->pool, &s)) != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r, MCPLOG(00210)
                      "no random bytes for a session id");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    s->endpoint = q->endpoint;
    s->user = q->principal;
    s->node = mcp_node_id();
    mcp_protocol_ctx_init(&ctx, r->pool, registry, s, q->st->max_record);
    ctx.r = r;
    answer = mcp_json_pool_own(r->pool, mcp_protocol_initialize(&ctx, msg));
    rec = mcp_record_serialize(r->pool, s, q->st->max_record, &len);
    if (!rec) {
        return mcp_response_error(r, HTTP_BAD_REQUEST, MCP_ERR_INVALID_REQUEST,
                              "Invalid Request: the initialize parameters are "
                              "too large to keep");
    }
    rv = mcp_store_create(q->st, r, s->key, rec, len);
    if (rv != APR_SUCCESS) {
        return create_refused(r, rv);
    }
    MCP_STAT_INC(created);
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, MCPLOG(00212)
                  "session %s created at %s for %s, protocol %s, in %s",
                  short_key(r, s), q->endpoint,
                  q->principal ? q->principal : "anonymous",
                  s->protocol_version, q->st->description);
    mcp_response_init(&rs, r, s->id);
    return mcp_response_finish(&rs, answer);
}

static int is_list_method(const char *method)
{
    apr_size_t n = strlen(method);
    return n > 5 && !strcmp(method + n - 5, "/list");
}

/* The error answer for a batch request that is not run, or NULL to run it. */
static json_t *batch_refuses(request_rec *r, const mcp_msg_t *msg,
                             apr_time_t started, int *lists)
{
    if (is_list_method(msg->method) && ++*lists > BATCH_LIST_MAX) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, MCPLOG(00218)
                      "batch: refused %s, only %d list request per batch",
                      msg->method, BATCH_LIST_MAX);
        return mcp_rpc_error(msg->id, MCP_ERR_INVALID_REQUEST,
                             apr_psprintf(r->pool, "Invalid Request: at most "
                                          "%d list request per batch; send "
                                          "it on its own", BATCH_LIST_MAX),
                             NULL);
    }
    if (apr_time_now() - started > BATCH_TIME_BUDGET) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, MCPLOG(00219)
                      "batch: %s not run, the batch has used its %d s",
                      msg->method, (int)apr_time_sec(BATCH_TIME_BUDGET));
        return mcp_rpc_error(msg->id, MCP_ERR_SERVER,
                             apr_psprintf(r->pool, "Server busy: the batch "
                                          "ran past its %d s budget; this "
                                          "request was not run, send it "
                                          "again",
                                          (int)apr_time_sec(BATCH_TIME_BUDGET)),
                             NULL);
    }
    return NULL;
}

/* A batch only in the one protocol version that has them (the session's,
 * local or behind MCPBackend): OK, or the 400 sent. */
static int batch_allowed(request_rec *r, const mcp_batch_t *b,
                         const mcp_session_t *s)
{
    if (b->is_array && (!s->protocol_version
                        || strcmp(s->protocol_version, MCP_PROTOCOL_BATCHING))) {
        return mcp_response_error(r, HTTP_BAD_REQUEST, MCP_ERR_INVALID_REQUEST,
                                  apr_psprintf(r->pool, "Invalid Request: "
                                               "Batches are not supported in "
                                               "protocol version %s",
                                               s->protocol_version));
    }
    return OK;
}

static int post_in_session(req_t *q, mcp_batch_t *b)
{
    request_rec *r = q->r;
    mcp_responder_t rs;
    mcp_session_t *s;
    mcp_ctx_t ctx;
    json_t *answers = NULL, *refused;
    apr_time_t started;
    int i, rc, lists = 0;

    if ((rc = request_session(q, &s)) != OK) {
        return rc;
    }
    if ((rc = batch_allowed(r, b, s)) != OK) {
        return rc;
    }

    mcp_response_init(&rs, r, s->id);
    mcp_protocol_ctx_init(&ctx, r->pool, registry, s, q->st->max_record);
    ctx.r = r;
    ctx.emit = mcp_response_event;
    ctx.emit_baton = &rs;
    ctx.gone = mcp_response_gone;
    if (b->requests) {
        answers = mcp_json_pool_own(r->pool, json_array());
    }
    started = apr_time_now();
    for (i = 0; i < b->msgs->nelts; i++) {
        const mcp_msg_t *msg = &APR_ARRAY_IDX(b->msgs, i, mcp_msg_t);
        if (msg->kind == MCP_MSG_REQUEST && b->is_array
            && (refused = batch_refuses(r, msg, started, &lists)) != NULL) {
            json_array_append_new(answers, refused);
        }
        else if (msg->kind == MCP_MSG_REQUEST) {
            json_array_append_new(answers, mcp_protocol_request(&ctx, msg));
            ap_log_rerror(APLOG_MARK, APLOG_TRACE1, 0, r, MCPLOG(00213)
                          "session %s: answered %s", short_key(r, s),
                          msg->method);
        }
        else {
            mcp_protocol_notification(&ctx, msg);
        }
    }
    if (ctx.session_dirty
        && (rc = save_session(q, s, rs.sse)) != OK) {
        return rc;
    }
    if (!answers) {
        return mcp_response_accepted(r);
    }
    return mcp_response_finish(&rs, b->is_array ? answers
                                : json_array_get(answers, 0));
}

static void gateway_init(req_t *q, mcp_gateway_req_t *g)
{
    memset(g, 0, sizeof(*g));
    g->r = q->r;
    g->st = q->st;
    g->dc = q->dc;
    g->endpoint = q->endpoint;
    g->principal = q->principal;
    g->store_error = create_refused;
}

/* MCPBackend: every check of a local POST, then the backend answers. */
static int gateway_post(req_t *q, mcp_batch_t *b, const char *body,
                        apr_size_t len)
{
    request_rec *r = q->r;
    const mcp_msg_t *first = &APR_ARRAY_IDX(b->msgs, 0, mcp_msg_t);
    mcp_gateway_req_t g;
    mcp_session_t *s;
    int i, rc;

    gateway_init(q, &g);
    g.body = body;
    g.len = len;
    if (!b->is_array && first->kind == MCP_MSG_REQUEST) {
        g.id = first->id;
    }
    if (b->has_initialize) {
        if (b->msgs->nelts != 1) {
            return mcp_response_error(r, HTTP_BAD_REQUEST,
                                      MCP_ERR_INVALID_REQUEST,
                                      "Invalid Request: Only one "
                                      "initialization request is allowed");
        }
        g.init_params = first->params;
        return mcp_gateway_initialize(&g);
    }
    if ((rc = request_session(q, &s)) != OK) {
        return rc;
    }
    if ((rc = batch_allowed(r, b, s)) != OK) {
        return rc;
    }
    /* the handshake's end gives the session its whole TTL, as locally */
    for (i = 0; !s->initialized && i < b->msgs->nelts; i++) {
        const mcp_msg_t *msg = &APR_ARRAY_IDX(b->msgs, i, mcp_msg_t);
        if (msg->kind == MCP_MSG_NOTIFICATION
            && !strcmp(msg->method, "notifications/initialized")) {
            s->initialized = 1;
            if ((rc = save_session(q, s, 0)) != OK) {
                return rc;
            }
        }
    }
    g.session = s;
    return mcp_gateway_forward(&g);
}

/* MCPBackend, GET: a stateful backend's server-to-client stream, streamed
 * back; a stateless backend has none (405, as without a backend). */
static int handle_get(req_t *q)
{
    request_rec *r = q->r;
    const char *accept = apr_table_get(r->headers_in, "Accept");
    mcp_gateway_req_t g;
    mcp_session_t *s;
    int rc;

    if (apr_table_get(r->headers_in, "Mcp-Session-Id")) {
        if ((rc = request_session(q, &s)) != OK) {
            return rc;
        }
        if (s->backend_id) {
            if (!accept || !ap_strcasestr(accept, "text/event-stream")) {
                return mcp_response_error(r, HTTP_NOT_ACCEPTABLE,
                                          MCP_ERR_SERVER,
                                          "Not Acceptable: Client must accept "
                                          "text/event-stream");
            }
            gateway_init(q, &g);
            g.session = s;
            return mcp_gateway_forward(&g);
        }
    }
    apr_table_setn(r->headers_out, "Allow", "POST, DELETE");
    r->allowed = (AP_METHOD_BIT << M_POST) | (AP_METHOD_BIT << M_DELETE);
    return mcp_response_error(r, HTTP_METHOD_NOT_ALLOWED, MCP_ERR_SERVER,
                              "Method not allowed.");
}

static int handle_post(req_t *q)
{
    request_rec *r = q->r;
    apr_off_t max = mcp_config_max_message(q->dc);
    mcp_batch_t *b;
    const char *message;
    apr_size_t len = 0;
    char *body = NULL;
    int code, rc;

    if (!accepts_both(r)) {
        return mcp_response_error(r, HTTP_NOT_ACCEPTABLE, MCP_ERR_SERVER,
                              "Not Acceptable: Client must accept both "
                              "application/json and text/event-stream");
    }
    if (!is_json(r)) {
        return mcp_response_error(r, HTTP_UNSUPPORTED_MEDIA_TYPE, MCP_ERR_SERVER,
                              "Unsupported Media Type: Content-Type must be "
                              "application/json");
    }
    if ((rc = read_body(r, max, &body, &len)) != OK) {
        return rc;
    }
    b = mcp_rpc_parse(r->pool, body, len, &code, &message);
    if (!b) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, MCPLOG(00214)
                      "refused body of %" APR_SIZE_T_FMT " bytes: %s", len,
                      message);
        return mcp_response_error(r, HTTP_BAD_REQUEST, code, message);
    }
    /* the era is per request; a legacy one pays for this test only */
    if (mcp_era_classify(b, apr_table_get(r->headers_in,
                                          "MCP-Protocol-Version"),
                         apr_table_get(r->headers_in, "Mcp-Session-Id")
                         != NULL) == MCP_ERA_MODERN) {
        mcp_modern_req_t m;
        m.r = r;
        m.reg = registry;
        m.dc = q->dc;
        m.st = q->st;
        m.endpoint = q->endpoint;
        m.principal = q->principal;
        m.body = body;
        m.len = len;
        return mcp_modern_post(&m, b);
    }
    if (q->dc->backend) {
        return gateway_post(q, b, body, len);
    }
    if (b->has_initialize) {
        return post_initialize(q, b);
    }
    return post_in_session(q, b);
}

/* ------------------------------------------------------------------ */
/* DELETE                                                              */

static int handle_delete(req_t *q)
{
    request_rec *r = q->r;
    mcp_session_t *s;
    apr_status_t rv;
    int rc;

    if ((rc = request_session(q, &s)) != OK) {
        return rc;
    }
    rv = mcp_store_remove(q->st, r, s->key);
    if (APR_STATUS_IS_NOTFOUND(rv)) {
        return session_not_found(r);
    }
    if (rv != APR_SUCCESS) {
        return store_unavailable(r, rv);
    }
    MCP_STAT_INC(deleted);
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, MCPLOG(00215)
                  "session %s deleted by the client", short_key(r, s));
    if (q->dc->backend && s->backend_id) {
        mcp_gateway_req_t g;
        gateway_init(q, &g);
        g.session = s;
        mcp_gateway_delete(&g);
    }
    ap_set_content_length(r, 0);
    return OK;
}

/* ------------------------------------------------------------------ */

/* The fixed list, plus the Mcp-Param-* headers (2026-07-28 tools/call:
 * their names depend on the tool) the preflight asks for. */
static const char *cors_allow_headers(request_rec *r)
{
    const char *asked = apr_table_get(r->headers_in,
                                      "Access-Control-Request-Headers");
    const char *list = CORS_ALLOW_HEADERS;
    char *copy, *tok, *last;

    if (!asked) {
        return list;
    }
    copy = apr_pstrdup(r->pool, asked);
    for (tok = apr_strtok(copy, ", \t", &last); tok;
         tok = apr_strtok(NULL, ", \t", &last)) {
        /* header names are tokens: anything else is not echoed */
        if (!strncasecmp(tok, "Mcp-Param-", 10) && tok[10]
            && tok[strspn(tok, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnop"
                          "qrstuvwxyz0123456789-_.")] == '\0') {
            list = apr_pstrcat(r->pool, list, ", ", tok, NULL);
        }
    }
    return list;
}

/* CORS for an allowed Origin: browsers may read our answers and the
 * session header; a preflight is answered here. Nothing for others. */
static int cors(request_rec *r, const char *origin)
{
    apr_table_t *h = r->err_headers_out;

    apr_table_setn(h, "Access-Control-Allow-Origin", origin);
    apr_table_mergen(h, "Vary", "Origin");
    if (r->method_number != M_OPTIONS) {
        apr_table_setn(h, "Access-Control-Expose-Headers", CORS_EXPOSE_HEADERS);
        return DECLINED;
    }
    apr_table_setn(h, "Access-Control-Allow-Methods", CORS_ALLOW_METHODS);
    apr_table_setn(h, "Access-Control-Allow-Headers",
                   cors_allow_headers(r));
    apr_table_setn(h, "Access-Control-Max-Age", CORS_MAX_AGE);
    ap_log_rerror(APLOG_MARK, APLOG_TRACE1, 0, r, MCPLOG(00220)
                  "answered a CORS preflight from %s", origin);
    r->status = HTTP_NO_CONTENT;
    ap_set_content_length(r, 0);
    return OK;
}

int mcp_handler(request_rec *r)
{
    const char *origin;
    int rc, failed;
    req_t q;

    if (!r->handler || strcmp(r->handler, MCP_HANDLER_NAME)) {
        return DECLINED;
    }
    q.r = r;
    q.sc = ap_get_module_config(r->server->module_config, &mcp_session_module);
    q.dc = ap_get_module_config(r->per_dir_config, &mcp_session_module);
    q.st = q.sc->store;
    if (!q.st || !registry) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    MCP_STAT_INC(requests);
    q.endpoint = mcp_endpoint_identity(r, q.sc, q.dc);

    origin = apr_table_get(r->headers_in, "Origin");
    if (!origin_allowed(&q, origin)) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, MCPLOG(00216)
                      "refused Origin %s (not this host's and not in "
                      "MCPAllowedOrigins)", origin);
        return mcp_response_error(r, HTTP_FORBIDDEN, MCP_ERR_SERVER,
                              apr_psprintf(r->pool, "Forbidden: Invalid Origin "
                                           "header: %s", origin));
    }
    if (origin && cors(r, origin) == OK) {
        return OK;
    }
    /* MCPRequireScope, in both eras and modes */
    if ((rc = mcp_resource_scopes_ok(r)) != OK) {
        return rc;
    }
    q.principal = mcp_resource_principal(r, &failed);
    if (failed) {
        return mcp_response_error(r, HTTP_INTERNAL_SERVER_ERROR,
                                  MCP_ERR_INTERNAL, "Internal error: no "
                                  "principal to bind the session to");
    }
    /* 2026-07-28 has no session to stream or end: before any look-up */
    if ((r->method_number == M_GET || r->method_number == M_DELETE)
        && mcp_era_header_modern(apr_table_get(r->headers_in,
                                               "MCP-Protocol-Version"),
                                 apr_table_get(r->headers_in,
                                               "Mcp-Session-Id") != NULL)) {
        return mcp_modern_not_allowed(r);
    }
    switch (r->method_number) {
    case M_POST:
        return handle_post(&q);
    case M_DELETE:
        return handle_delete(&q);
    case M_GET:
        if (q.dc->backend) {
            return handle_get(&q);
        }
        /* fall through */
    default:
        /* GET streams come later; 405 is what the spec allows meanwhile */
        apr_table_setn(r->headers_out, "Allow", "POST, DELETE");
        r->allowed = (AP_METHOD_BIT << M_POST) | (AP_METHOD_BIT << M_DELETE);
        return mcp_response_error(r, HTTP_METHOD_NOT_ALLOWED, MCP_ERR_SERVER,
                              "Method not allowed.");
    }
}
