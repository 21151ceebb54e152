#include <string.h>
#include <math.h>
#include "apr_strings.h"
#include "mcp_protocol.h"
#include "mcp_json.h"

static const char *const versions[] = { "2025-11-25", "2025-06-18",
                                        "2025-03-26", NULL };

static const char *const level_names[] = { "debug", "info", "notice",
                                           "warning", "error", "critical",
                                           "alert", "emergency", NULL };

int mcp_protocol_supported(const char *version)
{
    int i;
    for (i = 0; version && versions[i]; i++) {
        if (!strcmp(version, versions[i])) {
            return 1;
        }
    }
    return 0;
}

const char *mcp_protocol_negotiate(const char *requested)
{
    int i;
    for (i = 0; requested && versions[i]; i++) {
        if (!strcmp(requested, versions[i])) {
            return versions[i];
        }
    }
    return MCP_PROTOCOL_LATEST;
}

const char *mcp_protocol_log_level_name(int level)
{
    return (level >= 0 && level <= MCP_LOG_EMERGENCY) ? level_names[level]
                                                       : "debug";
}

int mcp_protocol_log_level_parse(const char *name)
{
    int i;
    for (i = 0; name && level_names[i]; i++) {
        if (!strcmp(name, level_names[i])) {
            return i;
        }
    }
    return -1;
}

void mcp_protocol_ctx_init(mcp_ctx_t *ctx, apr_pool_t *p,
                           const mcp_registry_t *reg, mcp_session_t *s,
                           apr_size_t max_record)
{
    memset(ctx, 0, sizeof(*ctx));
    ctx->pool = p;
    ctx->reg = reg;
    ctx->session = s;
    ctx->max_record = max_record;
}

/* ------------------------------------------------------------------ */
/* The call context handed to provider callbacks                       */

typedef struct call_impl_t {
    mcp_call_t pub;
    mcp_ctx_t *ctx;
    json_t *progress_token;     /* borrowed from the request */
    json_t *content;            /* tools: content, resources: contents */
    json_t *messages;           /* prompts */
    json_t *completions;        /* completion/complete: the first values */
    apr_size_t completions_total;   /* all values offered */
    json_t *structured;
    int tool_error;
    const char *invalid;        /* invalid_params() message */
} call_impl_t;

#define IMPL(c) ((call_impl_t *)(c)->transport)

static apr_status_t emit(mcp_ctx_t *ctx, json_t *note)
{
    apr_status_t rv = APR_SUCCESS;
    if (ctx->emit) {
        rv = ctx->emit(ctx->emit_baton, note);
    }
    json_decref(note);
    return rv;
}

/* Prompt messages and completions are made only by the calls that use
 * them: a tool call needs neither. */
static json_t *made(json_t **array)
{
    if (!*array) {
        *array = json_array();
    }
    return *array;
}

static apr_status_t op_add_content(mcp_call_t *call, json_t *content)
{
    if (!json_is_object(content)) {
        return APR_EINVAL;
    }
    return json_array_append(IMPL(call)->content, content) ? APR_ENOMEM
                                                           : APR_SUCCESS;
}

static void op_set_tool_error(mcp_call_t *call)
{
    IMPL(call)->tool_error = 1;
}

static apr_status_t op_set_structured(mcp_call_t *call, json_t *value)
{
    call_impl_t *c = IMPL(call);
    json_decref(c->structured);
    c->structured = json_incref(value);
    return APR_SUCCESS;
}

/* 50, not 50.0: what a JavaScript client would send */
static json_t *number(double v)
{
    if (v == floor(v) && fabs(v) < 9007199254740992.0) {
        return json_integer((json_int_t)v);
    }
    return json_real(v);
}

static apr_status_t op_progress(mcp_call_t *call, double progress, double total,
                                const char *message)
{
    call_impl_t *c = IMPL(call);
    json_t *params;

    if (!c->progress_token) {
        return APR_SUCCESS;     /* the client did not ask */
    }
    params = json_object();
    json_object_set(params, "progressToken", c->progress_token);
    json_object_set_new(params, "progress", number(progress));
    if (total >= 0) {
        json_object_set_new(params, "total", number(total));
    }
    if (message) {
        json_object_set_new(params, "message", json_string(message));
    }
    return emit(c->ctx, mcp_rpc_notification("notifications/progress", params));
}

static apr_status_t op_log(mcp_call_t *call, mcp_log_level_e level,
                           const char *logger, json_t *data)
{
    call_impl_t *c = IMPL(call);
    json_t *params;
    int min = c->ctx->session ? c->ctx->session->log_level : -1;

    if ((int)level < min) {
        return APR_SUCCESS;     /* below the level the client chose */
    }
    params = json_object();
    json_object_set_new(params, "level", json_string(mcp_protocol_log_level_name(level)));
    if (logger) {
        json_object_set_new(params, "logger", json_string(logger));
    }
    json_object_set(params, "data", data ? data : json_null());
    return emit(c->ctx, mcp_rpc_notification("notifications/message", params));
}

static apr_status_t op_notify(mcp_call_t *call, const char *method,
                              json_t *params)
{
    if (!method || strncmp(method, "notifications/", 14)) {
        return APR_EINVAL;
    }
    return emit(IMPL(call)->ctx, mcp_rpc_notification(method,
                                                      json_incref(params)));
}

static apr_status_t op_add_message(mcp_call_t *call, const char *role,
                                   json_t *content)
{
    json_t *m;
    if (!role || (strcmp(role, "user") && strcmp(role, "assistant"))
        || !json_is_object(content)) {
        return APR_EINVAL;
    }
    m = json_pack("{s:s, s:O}", "role", role, "content", content);
    return json_array_append_new(made(&IMPL(call)->messages), m) ? APR_ENOMEM
                                                          : APR_SUCCESS;
}

/* Only the first MCP_COMPLETIONS_MAX values are kept; the rest are
 * counted (the answer's total), so a provider offering a million values
 * costs neither memory nor time per value beyond the check. */
static apr_status_t op_add_completion(mcp_call_t *call, const char *value)
{
    call_impl_t *c = IMPL(call);

    if (!value || !mcp_json_utf8_valid(value, strlen(value))) {
        return APR_EINVAL;
    }
    c->completions_total++;
    if (json_array_size(made(&c->completions)) >= MCP_COMPLETIONS_MAX) {
        return APR_SUCCESS;
    }
    return json_array_append_new(c->completions, json_string(value))
           ? APR_ENOMEM : APR_SUCCESS;
}

static json_t *op_client_capabilities(mcp_call_t *call)
{
    mcp_session_t *s = IMPL(call)->ctx->session;
    return s ? mcp_record_lazy_get(call->pool, &s->client_caps) : NULL;
}

static json_t *op_client_info(mcp_call_t *call)
{
    mcp_session_t *s = IMPL(call)->ctx->session;
    return s ? mcp_record_lazy_get(call->pool, &s->client_info) : NULL;
}

static apr_status_t op_invalid_params(mcp_call_t *call, const char *message)
{
    IMPL(call)->invalid = apr_pstrdup(call->pool, message ? message
                                      : "Invalid params");
    return APR_EINVAL;
}

static const mcp_call_ops_t call_ops = {
    op_add_content, op_set_tool_error, op_set_structured, op_progress,
    op_log, op_notify, op_add_message, op_add_completion, op_invalid_params,
    op_client_capabilities, op_client_info
};

static apr_status_t call_cleanup(void *data)
{
    call_impl_t *c = data;
    json_decref(c->content);
    json_decref(c->messages);
    json_decref(c->completions);
    json_decref(c->structured);
    return APR_SUCCESS;
}

static call_impl_t *call_make(mcp_ctx_t *ctx, const mcp_msg_t *msg,
                              const char *name, json_t *arguments)
{
    call_impl_t *c = apr_pcalloc(ctx->pool, sizeof(*c));
    json_t *meta = json_object_get(msg->params, "_meta");

    c->ctx = ctx;
    c->pub.pool = ctx->pool;
    c->pub.r = ctx->r;
    c->pub.method = msg->method;
    c->pub.name = name;
    c->pub.arguments = json_is_object(arguments) ? arguments
                       : mcp_json_pool_own(ctx->pool, json_object());
    c->pub.session_user = ctx->session ? ctx->session->user : NULL;
    c->pub.protocol_version = ctx->session ? ctx->session->protocol_version
                                           : NULL;
    c->pub.ops = &call_ops;
    c->pub.transport = c;
    c->progress_token = json_object_get(meta, "progressToken");
    if (c->progress_token && !json_is_string(c->progress_token)
        && !json_is_integer(c->progress_token)) {
        c->progress_token = NULL;
    }
    c->content = json_array();
    apr_pool_cleanup_register(ctx->pool, c, call_cleanup, apr_pool_cleanup_null);
    return c;
}

/* The JSON-RPC error for a callback that failed. */
static json_t *call_failed(call_impl_t *c, const mcp_msg_t *msg,
                           apr_status_t rv)
{
    if (c->invalid) {
        return mcp_rpc_error(msg->id, MCP_ERR_INVALID_PARAMS, c->invalid, NULL);
    }
    if (APR_STATUS_IS_NOTFOUND(rv)) {
        return mcp_rpc_error(msg->id, MCP_ERR_RESOURCE, "Resource not found",
                             json_pack("{s:s}", "uri", c->pub.name));
    }
    return mcp_rpc_error(msg->id, MCP_ERR_INTERNAL, "Internal error", NULL);
}

/* ------------------------------------------------------------------ */
/* Methods                                                             */

static json_t *capabilities(const mcp_registry_t *reg)
{
    json_t *caps = json_object();
    json_object_set_new(caps, "logging", json_object());
    if (reg->tools->nelts) {
        json_object_set_new(caps, "tools", json_pack("{s:b}", "listChanged", 0));
    }
    if (reg->resources->nelts || reg->templates->nelts) {
        json_object_set_new(caps, "resources", json_pack("{s:b, s:b}",
                                                         "subscribe", 1,
                                                         "listChanged", 0));
    }
    if (reg->prompts->nelts) {
        json_object_set_new(caps, "prompts", json_pack("{s:b}", "listChanged", 0));
    }
    if (reg->has_completions) {
        json_object_set_new(caps, "completions", json_object());
    }
    return caps;
}

json_t *mcp_protocol_initialize(mcp_ctx_t *ctx, const mcp_msg_t *msg)
{
    mcp_session_t *s = ctx->session;
    json_t *req = json_object_get(msg->params, "protocolVersion");
    json_t *info = json_object_get(msg->params, "clientInfo");
    json_t *caps = json_object_get(msg->params, "capabilities");
    json_t *result, *server;

    s->protocol_version = mcp_protocol_negotiate(json_string_value(req));
    /* Only a bounded part is kept: an anonymous initialize must not be
     * able to park kilobytes in the store for a whole TTL. */
    if (json_is_object(info)) {
        mcp_record_lazy_set(ctx->pool, &s->client_info, mcp_record_client_info(info));
    }
    if (json_is_object(caps)) {
        mcp_record_lazy_set(ctx->pool, &s->client_caps, mcp_record_client_caps(caps));
    }
    server = json_pack("{s:s, s:s}", "name", ctx->reg->server_name,
                       "version", ctx->reg->server_version);
    result = json_pack("{s:s, s:o, s:o}", "protocolVersion", s->protocol_version,
                       "capabilities", capabilities(ctx->reg),
                       "serverInfo", server);
    if (ctx->reg->instructions) {
        json_object_set_new(result, "instructions",
                            json_string(ctx->reg->instructions));
    }
    return mcp_rpc_result(msg->id, result);
}

static const char *json_type_name(json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:  return "object";
    case JSON_ARRAY:   return "array";
    case JSON_STRING:  return "string";
    case JSON_INTEGER: return "integer";
    case JSON_REAL:    return "number";
    case JSON_TRUE:
    case JSON_FALSE:   return "boolean";
    default:           return "null";
    }
}

static int type_matches(const char *want, json_t *v)
{
    if (!strcmp(want, "number")) {
        return json_is_number(v);
    }
    if (!strcmp(want, "integer")) {
        return json_is_integer(v)
               || (json_is_real(v) && floor(json_real_value(v))
                   == json_real_value(v));
    }
    return !strcmp(want, json_type_name(v));
}

/* Check arguments against the top level of a tool's input schema:
 * required properties and their declared types. Deeper validation is the
 * tool's business. Returns NULL or what is wrong. */
static const char *check_arguments(apr_pool_t *p, json_t *schema, json_t *args)
{
    json_t *required = json_object_get(schema, "required");
    json_t *props = json_object_get(schema, "properties");
    const char *key;
    json_t *v;
    size_t i;

    json_array_foreach(required, i, v) {
        if (json_is_string(v) && !json_object_get(args, json_string_value(v))) {
            return apr_psprintf(p, "missing required argument '%s'",
                                json_string_value(v));
        }
    }
    json_object_foreach(args, key, v) {
        json_t *type = json_object_get(json_object_get(props, key), "type");
        if (json_is_string(type) && !type_matches(json_string_value(type), v)) {
            return apr_psprintf(p, "argument '%s' must be of type %s, not %s",
                                key, json_string_value(type), json_type_name(v));
        }
    }
    return NULL;
}

static json_t *tools_call(mcp_ctx_t *ctx, const mcp_msg_t *msg)
{
    const char *name = json_string_value(json_object_get(msg->params, "name"));
    json_t *args = json_object_get(msg->params, "arguments");
    const mcp_tool_t *tool;
    const char *bad;
    call_impl_t *c;
    json_t *result;
    apr_status_t rv;

    if (!name) {
        return mcp_rpc_error(msg->id, MCP_ERR_INVALID_PARAMS,
                             "Invalid params: 'name' must be a string", NULL);
    }
    tool = apr_hash_get(ctx->reg->tool_by_name, name, APR_HASH_KEY_STRING);
    if (!tool) {
        return mcp_rpc_error(msg->id, MCP_ERR_INVALID_PARAMS,
                             apr_psprintf(ctx->pool, "Tool %s not found", name),
                             NULL);
    }
    if (args && !json_is_object(args)) {
        return mcp_rpc_error(msg->id, MCP_ERR_INVALID_PARAMS,
                             "Invalid params: 'arguments' must be an object",
                             NULL);
    }
    c = call_make(ctx, msg, name, args);
    bad = check_arguments(ctx->pool,
                          apr_hash_get(ctx->reg->schema_by_tool, name,
                                       APR_HASH_KEY_STRING),
                          c->pub.arguments);
    if (bad) {
        /* as the SDK does: a tool error the model can read and correct */
        return mcp_rpc_result(msg->id, json_pack(
            "{s:[{s:s, s:s}], s:b}", "content", "type", "text", "text",
            apr_psprintf(ctx->pool, "Input validation error: invalid "
                         "arguments for tool %s: %s", name, bad),
            "isError", 1));
    }
    rv = tool->call(&c->pub, tool->baton);
    if (rv != APR_SUCCESS) {
        return call_failed(c, msg, rv);
    }
    result = json_object();
    json_object_set(result, "content", c->content);
    if (c->structured) {
        json_object_set(result, "structuredContent", c->structured);
    }
    if (c->tool_error) {
        json_object_set_new(result, "isError", json_true());
    }
    return mcp_rpc_result(msg->id, result);
}

static const mcp_resource_t *find_resource(mcp_ctx_t *ctx, const char *uri,
                                           json_t **vars)
{
    const mcp_resource_t *res;
    int i;

    *vars = NULL;
    res = apr_hash_get(ctx->reg->resource_by_uri, uri, APR_HASH_KEY_STRING);
    if (res) {
        return res;
    }
    for (i = 0; i < ctx->reg->templates->nelts; i++) {
        res = APR_ARRAY_IDX(ctx->reg->templates, i, const mcp_resource_t *);
        *vars = mcp_registry_template_match(res->uri_template, uri);
        if (*vars) {
            mcp_json_pool_own(ctx->pool, *vars);
            return res;
        }
    }
    return NULL;
}

static json_t *resources_read(mcp_ctx_t *ctx, const mcp_msg_t *msg)
{
    const char *uri = json_string_value(json_object_get(msg->params, "uri"));
    const mcp_resource_t *res;
    call_impl_t *c;
    json_t *vars;
    apr_status_t rv;

    if (!uri) {
        return mcp_rpc_error(msg->id, MCP_ERR_INVALID_PARAMS,
                             "Invalid params: 'uri' must be a string", NULL);
    }
    res = find_resource(ctx, uri, &vars);
    if (!res) {
        return mcp_rpc_error(msg->id, MCP_ERR_RESOURCE, "Resource not found",
                             json_pack("{s:s}", "uri", uri));
    }
    c = call_make(ctx, msg, uri, vars);
    rv = res->read(&c->pub, uri, res->baton);
    if (rv != APR_SUCCESS) {
        return call_failed(c, msg, rv);
    }
    return mcp_rpc_result(msg->id, json_pack("{s:O}", "contents", c->content));
}

/* Whether the session's record, changed, still fits the store; when it
 * does not the change is not kept and the client is told so. */
static int session_keeps(mcp_ctx_t *ctx)
{
    return !ctx->max_record
           || mcp_record_fits(ctx->pool, ctx->session, ctx->max_record);
}

static json_t *not_kept(mcp_ctx_t *ctx, const mcp_msg_t *msg, const char *what)
{
    return mcp_rpc_error(msg->id, MCP_ERR_INVALID_PARAMS, apr_psprintf(
        ctx->pool, "Invalid params: the session cannot keep %s: its record "
        "would exceed the session store's %" APR_SIZE_T_FMT " bytes", what,
        ctx->max_record), NULL);
}

static json_t *resources_subscription(mcp_ctx_t *ctx, const mcp_msg_t *msg,
                                      int subscribe)
{
    json_t *juri = json_object_get(msg->params, "uri");
    const char *uri = json_string_value(juri);
    mcp_session_t *s = ctx->session;
    json_t *v, *subs, *old;
    size_t i;

    if (!uri) {
        return mcp_rpc_error(msg->id, MCP_ERR_INVALID_PARAMS,
                             "Invalid params: 'uri' must be a string", NULL);
    }
    old = mcp_record_lazy_get(ctx->pool, &s->subscriptions);
    subs = json_is_array(old) ? json_copy(old) : json_array();
    json_array_foreach(subs, i, v) {
        if (json_equal(v, juri)) {
            break;
        }
    }
    if (subscribe && i == json_array_size(subs)) {
        if (json_string_length(juri) > MCP_SUBSCRIPTION_URI_MAX) {
            json_decref(subs);
            return mcp_rpc_error(msg->id, MCP_ERR_INVALID_PARAMS,
                                 apr_psprintf(ctx->pool, "Invalid params: a "
                                              "subscribed URI must not exceed "
                                              "%d bytes",
                                              MCP_SUBSCRIPTION_URI_MAX), NULL);
        }
        if (i >= MCP_SUBSCRIPTIONS_MAX) {
            json_decref(subs);
            return mcp_rpc_error(msg->id, MCP_ERR_INVALID_PARAMS,
                                 apr_psprintf(ctx->pool, "Invalid params: a "
                                              "session keeps at most %d "
                                              "subscriptions; unsubscribe "
                                              "from one first",
                                              MCP_SUBSCRIPTIONS_MAX), NULL);
        }
        json_array_append(subs, juri);
        mcp_record_lazy_set(ctx->pool, &s->subscriptions, subs);
        if (!session_keeps(ctx)) {
            mcp_record_lazy_set(ctx->pool, &s->subscriptions, json_incref(old));
            return not_kept(ctx, msg, "another subscription");
        }
        ctx->session_dirty = 1;
        return mcp_rpc_result(msg->id, json_object());
    }
    if (!subscribe && i < json_array_size(subs)) {
        json_array_remove(subs, i);
        ctx->session_dirty = 1;
    }
    mcp_record_lazy_set(ctx->pool, &s->subscriptions, subs);
    return mcp_rpc_result(msg->id, json_object());
}

static json_t *prompts_get(mcp_ctx_t *ctx, const mcp_msg_t *msg)
{
    const char *name = json_string_value(json_object_get(msg->params, "name"));
    json_t *args = json_object_get(msg->params, "arguments");
    const mcp_prompt_t *pr;
    const mcp_prompt_arg_t *a;
    call_impl_t *c;
    json_t *result;
    apr_status_t rv;

    pr = name ? apr_hash_get(ctx->reg->prompt_by_name, name,
                             APR_HASH_KEY_STRING) : NULL;
    if (!pr) {
        return mcp_rpc_error(msg->id, MCP_ERR_INVALID_PARAMS,
                             apr_psprintf(ctx->pool, "Prompt %s not found",
                                          name ? name : "(none)"), NULL);
    }
    for (a = pr->args; a && a->name; a++) {
        if (a->required && !json_is_string(json_object_get(args, a->name))) {
            return mcp_rpc_error(msg->id, MCP_ERR_INVALID_PARAMS,
                                 apr_psprintf(ctx->pool, "Invalid params: "
                                              "missing required argument '%s'",
                                              a->name), NULL);
        }
    }
    c = call_make(ctx, msg, name, args);
    rv = pr->get(&c->pub, pr->baton);
    if (rv != APR_SUCCESS) {
        return call_failed(c, msg, rv);
    }
    result = json_pack("{s:O}", "messages", made(&c->messages));
    if (pr->description) {
        json_object_set_new(result, "description", json_string(pr->description));
    }
    return mcp_rpc_result(msg->id, result);
}

static json_t *completion_complete(mcp_ctx_t *ctx, const mcp_msg_t *msg)
{
    json_t *ref = json_object_get(msg->params, "ref");
    json_t *arg = json_object_get(msg->params, "argument");
    const char *type = json_string_value(json_object_get(ref, "type"));
    const char *argname = json_string_value(json_object_get(arg, "name"));
    const char *value = json_string_value(json_object_get(arg, "value"));
    json_t *context = json_object_get(json_object_get(msg->params, "context"),
                                      "arguments");
    mcp_complete_fn *fn = NULL;
    void *baton = NULL;
    const char *name = NULL;
    call_impl_t *c;
    size_t total;
    apr_status_t rv;

    if (!type || !argname || !value) {
        return mcp_rpc_error(msg->id, MCP_ERR_INVALID_PARAMS, "Invalid params: "
                             "ref.type, argument.name and argument.value are "
                             "required", NULL);
    }
    if (!strcmp(type, "ref/prompt")) {
        const mcp_prompt_t *pr;
        name = json_string_value(json_object_get(ref, "name"));
        pr = name ? apr_hash_get(ctx->reg->prompt_by_name, name,
                                 APR_HASH_KEY_STRING) : NULL;
        if (!pr) {
            return mcp_rpc_error(msg->id, MCP_ERR_INVALID_PARAMS,
                                 "Invalid params: unknown prompt", NULL);
        }
        fn = pr->complete;
        baton = pr->baton;
    }
    else if (!strcmp(type, "ref/resource")) {
        int i;
        name = json_string_value(json_object_get(ref, "uri"));
        for (i = 0; name && i < ctx->reg->templates->nelts; i++) {
            const mcp_resource_t *res = APR_ARRAY_IDX(ctx->reg->templates, i,
                                                      const mcp_resource_t *);
            if (!strcmp(res->uri_template, name)) {
                fn = res->complete;
                baton = res->baton;
                break;
            }
        }
        if (!name || i == ctx->reg->templates->nelts) {
            return mcp_rpc_error(msg->id, MCP_ERR_INVALID_PARAMS,
                                 "Invalid params: unknown resource template",
                                 NULL);
        }
    }
    else {
        return mcp_rpc_error(msg->id, MCP_ERR_INVALID_PARAMS,
                             "Invalid params: unknown ref type", NULL);
    }
    c = call_make(ctx, msg, name, context);
    if (fn) {
        rv = fn(&c->pub, argname, value, baton);
        if (rv != APR_SUCCESS) {
            return call_failed(c, msg, rv);
        }
    }
    made(&c->completions);
    total = c->completions_total;
    return mcp_rpc_result(msg->id, json_pack(
        "{s:{s:O, s:I, s:b}}", "completion", "values", c->completions,
        "total", (json_int_t)total, "hasMore", total > MCP_COMPLETIONS_MAX));
}

static json_t *logging_set_level(mcp_ctx_t *ctx, const mcp_msg_t *msg)
{
    int level = mcp_protocol_log_level_parse(json_string_value(
                    json_object_get(msg->params, "level")));
    if (level < 0) {
        return mcp_rpc_error(msg->id, MCP_ERR_INVALID_PARAMS, "Invalid params: "
                             "level must be one of debug, info, notice, "
                             "warning, error, critical, alert, emergency", NULL);
    }
    if (ctx->session->log_level != level) {
        int was = ctx->session->log_level;
        ctx->session->log_level = level;
        if (!session_keeps(ctx)) {
            ctx->session->log_level = was;
            return not_kept(ctx, msg, "a log level");
        }
        ctx->session_dirty = 1;
    }
    return mcp_rpc_result(msg->id, json_object());
}

static json_t *list_copy(const mcp_ctx_t *ctx, const mcp_msg_t *msg,
                         const json_t *list)
{
    /* jansson reference counts are not shared safely between threads
     * here, so every request gets its own copy of the shared list */
    return mcp_rpc_result(msg->id, json_deep_copy(list));
}

json_t *mcp_protocol_request(mcp_ctx_t *ctx, const mcp_msg_t *msg)
{
    const char *m = msg->method;

    if (!strcmp(m, "tools/call")) {
        return tools_call(ctx, msg);
    }
    if (!strcmp(m, "ping")) {
        return mcp_rpc_result(msg->id, json_object());
    }
    if (!strcmp(m, "tools/list")) {
        return list_copy(ctx, msg, ctx->reg->tools_list);
    }
    if (!strcmp(m, "resources/list")) {
        return list_copy(ctx, msg, ctx->reg->resources_list);
    }
    if (!strcmp(m, "resources/templates/list")) {
        return list_copy(ctx, msg, ctx->reg->templates_list);
    }
    if (!strcmp(m, "resources/read")) {
        return resources_read(ctx, msg);
    }
    if (!strcmp(m, "resources/subscribe")) {
        return resources_subscription(ctx, msg, 1);
    }
    if (!strcmp(m, "resources/unsubscribe")) {
        return resources_subscription(ctx, msg, 0);
    }
    if (!strcmp(m, "prompts/list")) {
        return list_copy(ctx, msg, ctx->reg->prompts_list);
    }
    if (!strcmp(m, "prompts/get")) {
        return prompts_get(ctx, msg);
    }
    if (!strcmp(m, "completion/complete")) {
        return completion_complete(ctx, msg);
    }
    if (!strcmp(m, "logging/setLevel")) {
        return logging_set_level(ctx, msg);
    }
    if (!strcmp(m, "initialize")) {
        /* only reachable inside an existing session */
        return mcp_rpc_error(msg->id, MCP_ERR_INVALID_REQUEST,
                             "Invalid Request: Server already initialized",
                             NULL);
    }
    return mcp_rpc_error(msg->id, MCP_ERR_METHOD_NOT_FOUND, "Method not found",
                         NULL);
}

void mcp_protocol_notification(mcp_ctx_t *ctx, const mcp_msg_t *msg)
{
    if (msg->kind == MCP_MSG_NOTIFICATION
        && !strcmp(msg->method, "notifications/initialized")
        && ctx->session && !ctx->session->initialized) {
        ctx->session->initialized = 1;
        ctx->session_dirty = 1;
    }
    /* Everything else (cancelled, roots/list_changed, responses to
     * server requests) needs nothing from a server that runs requests to
     * completion and sends no requests of its own. */
}
