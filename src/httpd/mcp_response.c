#include "httpd.h"
#include <string.h>
#include "apr_strings.h"
#include "apr_buckets.h"
#include "http_protocol.h"
#include "http_core.h"
#include "http_request.h"
#include "util_filter.h"
#include "mcp_private.h"
#include "mcp_resource.h"
#include "mcp_response.h"
#include "mcp_json.h"
#include "mcp_rpc.h"

void mcp_response_init(mcp_responder_t *rs, request_rec *r,
                        const char *session_id)
{
    memset(rs, 0, sizeof(*rs));
    rs->r = r;
    rs->session_id = session_id;
    rs->bb = apr_brigade_create(r->pool, r->connection->bucket_alloc);
}

static void common_headers(mcp_responder_t *rs)
{
    if (rs->session_id) {
        apr_table_setn(rs->r->headers_out, "Mcp-Session-Id", rs->session_id);
    }
    apr_table_setn(rs->r->headers_out, "Cache-Control", "no-cache, no-transform");
}

static apr_status_t write_event(mcp_responder_t *rs, json_t *msg, int flush)
{
    request_rec *r = rs->r;
    apr_bucket_alloc_t *ba = r->connection->bucket_alloc;
    apr_size_t len;
    apr_status_t rv;
    char *data;

    /* Into pool memory, never jansson's json_dumps buffer: that one must be
     * freed with jansson's allocator, which a co-loaded module (cjose) may
     * have replaced, so libc's free() would be wrong. A scratch pool,
     * cleared after each event, keeps a long stream from piling up. */
    if (!rs->scratch) {
        apr_pool_create(&rs->scratch, r->pool);
        apr_pool_tag(rs->scratch, "mcp_sse_event");
    }
    data = mcp_json_dump(rs->scratch, msg, &len);
    if (!data) {
        rv = APR_ENOMEM;
        goto leave;
    }
    APR_BRIGADE_INSERT_TAIL(rs->bb, apr_bucket_immortal_create(
                                "event: message\ndata: ", 21, ba));
    /* transient: a filter that keeps it sets it aside (copies it) */
    APR_BRIGADE_INSERT_TAIL(rs->bb, apr_bucket_transient_create(data, len, ba));
    APR_BRIGADE_INSERT_TAIL(rs->bb, apr_bucket_immortal_create("\n\n", 2, ba));
    if (flush) {
        APR_BRIGADE_INSERT_TAIL(rs->bb, apr_bucket_flush_create(ba));
    }
    rv = ap_pass_brigade(r->output_filters, rs->bb);
    apr_brigade_cleanup(rs->bb);
    rs->events++;
    if (flush) {
        rs->last_write = apr_time_now();
    }
leave:
    apr_pool_clear(rs->scratch);
    return rv;
}

static void start_sse(mcp_responder_t *rs)
{
    request_rec *r = rs->r;
    common_headers(rs);
    ap_set_content_type(r, "text/event-stream");
    apr_table_setn(r->headers_out, "X-Accel-Buffering", "no");
    /* compression would hold events back */
    apr_table_setn(r->subprocess_env, "no-gzip", "1");
    apr_table_setn(r->subprocess_env, "no-brotli", "1");
    rs->sse = 1;
}

apr_status_t mcp_response_event(void *baton, json_t *msg)
{
    mcp_responder_t *rs = baton;
    if (rs->r->connection->aborted) {
        return APR_ECONNABORTED;
    }
    if (!rs->sse) {
        start_sse(rs);
    }
    return write_event(rs, msg, 1);
}

int mcp_response_gone(void *baton)
{
    mcp_responder_t *rs = baton;
    request_rec *r = rs->r;
    conn_rec *c = r->connection;
    apr_bucket_alloc_t *ba = c->bucket_alloc;
    apr_socket_t *sock;
    apr_status_t rv;
    int eof = 0;

    if (rs->gone || c->aborted) {
        rs->gone = 1;
        goto leave;
    }
    /* HTTP/2 streams share their connection's socket: a write tells */
    if (!c->master && (sock = ap_get_conn_socket(c)) != NULL
        && apr_socket_atreadeof(sock, &eof) == APR_SUCCESS && eof) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, MCPLOG(00745)
                      "the client closed its side of the connection: the "
                      "request is cancelled");
        rs->gone = 1;
        goto leave;
    }
    if (rs->sse && apr_time_now() - rs->last_write >= MCP_RESPONSE_KEEPALIVE) {
        APR_BRIGADE_INSERT_TAIL(rs->bb, apr_bucket_immortal_create(
                                    ": keep-alive\n\n", 14, ba));
        APR_BRIGADE_INSERT_TAIL(rs->bb, apr_bucket_flush_create(ba));
        rv = ap_pass_brigade(r->output_filters, rs->bb);
        apr_brigade_cleanup(rs->bb);
        rs->last_write = apr_time_now();
        if (rv != APR_SUCCESS || c->aborted) {
            ap_log_rerror(APLOG_MARK, APLOG_DEBUG, rv, r, MCPLOG(00746)
                          "a keep-alive comment could not be sent: the "
                          "request is cancelled");
            rs->gone = 1;
        }
    }
leave:
    return rs->gone;
}

int mcp_response_finish(mcp_responder_t *rs, json_t *body)
{
    request_rec *r = rs->r;
    apr_bucket_alloc_t *ba = r->connection->bucket_alloc;
    apr_status_t rv = APR_SUCCESS;
    char *text;

    if (rs->sse) {
        if (json_is_array(body)) {
            size_t i;
            json_t *m;
            json_array_foreach(body, i, m) {
                if ((rv = write_event(rs, m, 0)) != APR_SUCCESS) {
                    break;
                }
            }
        }
        else {
            rv = write_event(rs, body, 0);
        }
    }
    else {
        apr_size_t len;
        common_headers(rs);
        ap_set_content_type(r, "application/json");
        text = mcp_json_dump(r->pool, body, &len);
        if (!text) {
            return HTTP_INTERNAL_SERVER_ERROR;
        }
        ap_set_content_length(r, len);
        APR_BRIGADE_INSERT_TAIL(rs->bb, apr_bucket_pool_create(text, len, r->pool,
                                                               ba));
    }
    if (rv == APR_SUCCESS) {
        APR_BRIGADE_INSERT_TAIL(rs->bb, apr_bucket_eos_create(ba));
        rv = ap_pass_brigade(r->output_filters, rs->bb);
        apr_brigade_cleanup(rs->bb);
    }
    if (rv != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, rv, r, MCPLOG(00250)
                      "client went away before the answer was sent");
        return AP_FILTER_ERROR;
    }
    return OK;
}

int mcp_response_error(request_rec *r, int status, int code, const char *message)
{
    const char *body = mcp_rpc_error_body(r->pool, code, message);
    apr_size_t len = strlen(body);

    /* the endpoint's Bearer challenge, as on httpd's own 401/403 */
    mcp_resource_challenge(r, status);
    r->status = status;
    ap_set_content_type(r, "application/json");
    ap_set_content_length(r, len);
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    ap_rwrite(body, (int)len, r);
    /* DONE, not OK: callers tell "answered" from "go on" by it, and httpd
     * finishes a DONE request like an OK one */
    return DONE;
}

int mcp_response_message(request_rec *r, int status, json_t *msg)
{
    apr_size_t len = 0;
    const char *body = mcp_json_dump(r->pool, msg, &len);

    if (!body) {
        body = mcp_rpc_error_body(r->pool, MCP_ERR_INTERNAL, "Internal error");
        len = strlen(body);
        status = HTTP_INTERNAL_SERVER_ERROR;
    }
    mcp_resource_challenge(r, status);
    r->status = status;
    ap_set_content_type(r, "application/json");
    ap_set_content_length(r, len);
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    ap_rwrite(body, (int)len, r);
    return DONE;
}

int mcp_response_accepted(request_rec *r)
{
    r->status = HTTP_ACCEPTED;
    ap_set_content_length(r, 0);
    return OK;
}
