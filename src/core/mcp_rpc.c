#include <string.h>
#include "apr_strings.h"
#include "mcp_rpc.h"
#include "mcp_json.h"

/* One element of a body: a request, a notification or a response, as the
 * JSON-RPC 2.0 schema of MCP defines them. Returns 0 if it is none. */
static int classify(json_t *j, mcp_msg_t *m)
{
    json_t *v, *method, *id, *result, *error;

    if (!json_is_object(j)) {
        return 0;
    }
    v = json_object_get(j, "jsonrpc");
    if (!json_is_string(v) || strcmp(json_string_value(v), "2.0")) {
        return 0;
    }
    memset(m, 0, sizeof(*m));
    m->json = j;
    method = json_object_get(j, "method");
    id = json_object_get(j, "id");
    if (id && !json_is_string(id) && !json_is_integer(id)) {
        return 0;   /* null, float, object ids are not allowed */
    }
    if (method) {
        if (!json_is_string(method) || !json_string_length(method)) {
            return 0;
        }
        m->method = json_string_value(method);
        m->params = json_object_get(j, "params");
        if (m->params && !json_is_object(m->params)) {
            return 0;   /* MCP params are always objects */
        }
        m->id = id;
        m->kind = id ? MCP_MSG_REQUEST : MCP_MSG_NOTIFICATION;
        return 1;
    }
    result = json_object_get(j, "result");
    error = json_object_get(j, "error");
    if (!id || (result && error) || (!result && !error)) {
        return 0;
    }
    if (error && (!json_is_object(error)
                  || !json_is_integer(json_object_get(error, "code"))
                  || !json_is_string(json_object_get(error, "message")))) {
        return 0;
    }
    m->id = id;
    m->kind = MCP_MSG_RESPONSE;
    return 1;
}

mcp_batch_t *mcp_rpc_parse(apr_pool_t *p, const char *body, apr_size_t len,
                           int *code, const char **message)
{
    mcp_batch_t *b;
    json_t *root;
    size_t i, n;
    mcp_json_limits_t limits;
    mcp_json_status_e why;

    limits.max_cost = MCP_RPC_COST_FLOOR + MCP_RPC_COST_FACTOR * len;
    limits.max_top_items = MCP_RPC_MAX_BATCH;
    root = mcp_json_parse_bounded(p, body, len, &limits, &why, NULL);
    if (why == MCP_JSON_TOO_MANY) {
        *code = MCP_ERR_INVALID_REQUEST;
        *message = apr_psprintf(p, "Invalid Request: Batch must not exceed %d "
                                "messages", MCP_RPC_MAX_BATCH);
        return NULL;
    }
    if (why == MCP_JSON_TOO_COSTLY) {
        *code = MCP_ERR_PARSE;
        *message = "Parse error: Invalid JSON: too many values for the "
                   "message's size";
        return NULL;
    }
    if (!root) {
        *code = MCP_ERR_PARSE;
        *message = "Parse error: Invalid JSON";
        return NULL;
    }
    b = apr_pcalloc(p, sizeof(*b));
    b->is_array = json_is_array(root);
    n = b->is_array ? json_array_size(root) : 1;
    if (b->is_array && n == 0) {
        *code = MCP_ERR_PARSE;
        *message = "Parse error: Invalid JSON-RPC message";
        return NULL;
    }
    if (n > MCP_RPC_MAX_BATCH) {
        *code = MCP_ERR_INVALID_REQUEST;
        *message = apr_psprintf(p, "Invalid Request: Batch must not exceed %d "
                                "messages", MCP_RPC_MAX_BATCH);
        return NULL;
    }
    b->msgs = apr_array_make(p, (int)n, sizeof(mcp_msg_t));
    for (i = 0; i < n; i++) {
        mcp_msg_t *m = apr_array_push(b->msgs);
        if (!classify(b->is_array ? json_array_get(root, i) : root, m)) {
            *code = MCP_ERR_PARSE;
            *message = "Parse error: Invalid JSON-RPC message";
            return NULL;
        }
        if (m->kind == MCP_MSG_REQUEST) {
            b->requests++;
            if (!strcmp(m->method, "initialize")) {
                b->has_initialize = 1;
            }
        }
    }
    return b;
}

json_t *mcp_rpc_result(json_t *id, json_t *result)
{
    json_t *j = json_object();
    json_object_set_new(j, "jsonrpc", json_string("2.0"));
    json_object_set(j, "id", id ? id : json_null());
    json_object_set_new(j, "result", result ? result : json_object());
    return j;
}

json_t *mcp_rpc_error(json_t *id, int code, const char *message, json_t *data)
{
    json_t *j = json_object(), *e = json_object();
    json_object_set_new(e, "code", json_integer(code));
    json_object_set_new(e, "message", mcp_json_text(message ? message : "",
                                                    MCP_RPC_MESSAGE_MAX));
    if (data) {
        json_object_set_new(e, "data", data);
    }
    json_object_set_new(j, "jsonrpc", json_string("2.0"));
    json_object_set_new(j, "error", e);
    json_object_set(j, "id", id ? id : json_null());
    return j;
}

json_t *mcp_rpc_notification(const char *method, json_t *params)
{
    json_t *j = json_object();
    json_object_set_new(j, "jsonrpc", json_string("2.0"));
    json_object_set_new(j, "method", json_string(method));
    if (params) {
        json_object_set_new(j, "params", params);
    }
    return j;
}

const char *mcp_rpc_error_body(apr_pool_t *p, int code, const char *message)
{
    json_t *j = mcp_json_pool_own(p, mcp_rpc_error(NULL, code, message, NULL));
    const char *s = mcp_json_dump(p, j, NULL);
    return s ? s : "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32603,"
                   "\"message\":\"Internal error\"},\"id\":null}";
}
