/*
 * mod_mcp_floor: the benchmark floor for mod_mcp_session.
 *
 * A bare httpd handler (SetHandler mcp-floor) that reads the whole POST body
 * and answers with fixed bytes: the body of a tools/call echo result as
 * mod_mcp_session sends it (application/json, plus an Mcp-Session-Id header
 * of the same length as a real one). It parses nothing and keeps no state,
 * so its requests/s is what httpd itself costs on this machine with the
 * same MPM settings: the ceiling any handler can reach. An initialize gets
 * an InitializeResult instead, so that it can also be the backend of the
 * gateway rows (MCPBackend, and plain mod_proxy, in front of it).
 *
 *   LoadModule mcp_floor_module .../mod_mcp_floor.so
 *   MCPFloorResponseFile /tmp/.../floor.json    (optional: the exact bytes)
 *   <Location /mcp>
 *       SetHandler mcp-floor
 *   </Location>
 *
 * Built by bench/run.sh with apxs into a temporary directory; not part of
 * the shipped module.
 */
#include "httpd.h"
#include "http_config.h"
#include "http_protocol.h"
#include "http_request.h"
#include "http_log.h"
#include "apr_strings.h"
#include "apr_file_io.h"
#include <string.h>

module AP_MODULE_DECLARE_DATA mcp_floor_module;

#define FLOOR_DEFAULT_BODY \
    "{\"jsonrpc\":\"2.0\",\"id\":2,\"result\":{\"content\":" \
    "[{\"type\":\"text\",\"text\":\"hello\"}]}}"
/* What it answers an initialize with (id 1, as bench/run.sh sends it), so
 * that mod_mcp_session's gateway (MCPBackend) can use the floor as its
 * backend. */
#define FLOOR_INIT_BODY \
    "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"protocolVersion\":" \
    "\"2025-11-25\",\"capabilities\":{\"tools\":{}},\"serverInfo\":" \
    "{\"name\":\"mcp-floor\",\"version\":\"1\"}}}"
/* 43 characters, like a real session id. */
#define FLOOR_SESSION_ID "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"

typedef struct {
    const char *body;
    apr_size_t len;
} floor_conf_t;

static void *floor_create_server_conf(apr_pool_t *p, server_rec *s)
{
    floor_conf_t *c = apr_pcalloc(p, sizeof(*c));
    c->body = FLOOR_DEFAULT_BODY;
    c->len = sizeof(FLOOR_DEFAULT_BODY) - 1;
    return c;
}

static const char *floor_set_response_file(cmd_parms *cmd, void *dummy,
                                           const char *path)
{
    floor_conf_t *c = ap_get_module_config(cmd->server->module_config,
                                           &mcp_floor_module);
    apr_file_t *f;
    apr_finfo_t fi;
    apr_size_t n;
    char *buf;
    apr_status_t rv;

    rv = apr_file_open(&f, path, APR_FOPEN_READ | APR_FOPEN_BINARY,
                       APR_OS_DEFAULT, cmd->temp_pool);
    if (rv != APR_SUCCESS) {
        return apr_psprintf(cmd->pool, "MCPFloorResponseFile: cannot open %s",
                            path);
    }
    rv = apr_file_info_get(&fi, APR_FINFO_SIZE, f);
    if (rv != APR_SUCCESS || fi.size <= 0 || fi.size > 1024 * 1024) {
        apr_file_close(f);
        return apr_psprintf(cmd->pool, "MCPFloorResponseFile: %s must hold "
                            "1 byte to 1 MiB", path);
    }
    n = (apr_size_t)fi.size;
    buf = apr_palloc(cmd->pool, n + 1);
    rv = apr_file_read_full(f, buf, n, &n);
    apr_file_close(f);
    if (rv != APR_SUCCESS) {
        return apr_psprintf(cmd->pool, "MCPFloorResponseFile: cannot read %s",
                            path);
    }
    buf[n] = '\0';
    c->body = buf;
    c->len = n;
    return NULL;
}

static int floor_handler(request_rec *r)
{
    floor_conf_t *c;
    char buf[8192];
    long got;
    int rc, init = 0;
    const char *body;
    apr_size_t len;

    if (!r->handler || strcmp(r->handler, "mcp-floor") != 0) {
        return DECLINED;
    }
    if (r->method_number != M_POST) {
        apr_table_setn(r->headers_out, "Allow", "POST");
        return HTTP_METHOD_NOT_ALLOWED;
    }
    c = ap_get_module_config(r->server->module_config, &mcp_floor_module);

    /* Read (and drop) the whole request body, as any real handler must. */
    rc = ap_setup_client_block(r, REQUEST_CHUNKED_DECHUNK);
    if (rc != OK) {
        return rc;
    }
    if (ap_should_client_block(r)) {
        int first = 1;
        while ((got = ap_get_client_block(r, buf, sizeof(buf) - 1)) > 0) {
            /* discard, after a look at the start for an initialize */
            if (first) {
                buf[got] = '\0';
                init = strstr(buf, "\"initialize\"") != NULL;
                first = 0;
            }
        }
        if (got < 0) {
            return HTTP_BAD_REQUEST;
        }
    }

    ap_set_content_type(r, "application/json");
    apr_table_setn(r->headers_out, "Mcp-Session-Id", FLOOR_SESSION_ID);
    body = init ? FLOOR_INIT_BODY : c->body;
    len = init ? sizeof(FLOOR_INIT_BODY) - 1 : c->len;
    ap_set_content_length(r, (apr_off_t)len);
    ap_rwrite(body, (int)len, r);
    return OK;
}

static const command_rec floor_cmds[] = {
    AP_INIT_TAKE1("MCPFloorResponseFile", floor_set_response_file, NULL,
                  RSRC_CONF, "file holding the exact response body to send"),
    { NULL }
};

static void floor_register_hooks(apr_pool_t *p)
{
    ap_hook_handler(floor_handler, NULL, NULL, APR_HOOK_MIDDLE);
}

AP_DECLARE_MODULE(mcp_floor) = {
    STANDARD20_MODULE_STUFF,
    NULL,
    NULL,
    floor_create_server_conf,
    NULL,
    floor_cmds,
    floor_register_hooks
};
