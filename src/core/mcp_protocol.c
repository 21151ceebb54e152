#include <string.h>
#include <math.h>
#include "apr_strings.h"
#include "mcp_protocol.h"
#include "mcp_era.h"
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

/* Nothing is derived here: the capabilities, clientInfo and log level are
 * read from meta by the request that needs them, never from an earlier
 * request. */
void mcp_protocol_modern_init(mcp_ctx_t *ctx, json_t *meta)
{
    ctx->modern = 1;
    ctx->meta = meta;
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
    /* Multi-round calls (all NULL on the session revisions' path but
     * asked and missing_cap: they cost nothing there) */
    json_t *inputs;             /* params.inputResponses, borrowed */
    json_t *asked;              /* inputRequests made by ask(), owned */
    const char *state_in;       /* opened from params.requestState */
    const char *state_out;      /* set_state() */
    const char *missing_cap;    /* require_capability() */
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
    int min;

    if (c->ctx->modern) {
        /* 2026-07-28: only the request's own level counts; without one
         * the client gets no log notifications at all */
        min = mcp_protocol_log_level_parse(json_string_value(
                  json_object_get(c->ctx->meta, MCP_META_LOG_LEVEL)));
        if (min < 0) {
            return APR_SUCCESS;
        }
    }
    else {
        min = c->ctx->session ? c->ctx->session->log_level : -1;
    }
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
    mcp_ctx_t *ctx = IMPL(call)->ctx;
    mcp_session_t *s = ctx->session;
    if (ctx->modern) {
        return json_object_get(ctx->meta, MCP_META_CLIENT_CAPABILITIES);
    }
    return s ? mcp_record_lazy_get(call->pool, &s->client_caps) : NULL;
}

static json_t *op_client_info(mcp_call_t *call)
{
    mcp_ctx_t *ctx = IMPL(call)->ctx;
    mcp_session_t *s = ctx->session;
    if (ctx->modern) {
        return json_object_get(ctx->meta, MCP_META_CLIENT_INFO);
    }
    return s ? mcp_record_lazy_get(call->pool, &s->client_info) : NULL;
}

static apr_status_t op_invalid_params(mcp_call_t *call, const char *message)
{
    IMPL(call)->invalid = apr_pstrdup(call->pool, message ? message
                                      : "Invalid params");
    return APR_EINVAL;
}

static json_t *op_input(mcp_call_t *call, const char *key)
{
    json_t *v = key ? json_object_get(IMPL(call)->inputs, key) : NULL;
    return json_is_object(v) ? v : NULL;
}

/* 1..64 of [A-Za-z0-9_.-]: keys travel in JSON only, but a narrow
 * alphabet keeps them readable in logs and errors. */
static int input_key_ok(const char *key)
{
    apr_size_t n;
    if (!key) {
        return 0;
    }
    for (n = 0; key[n]; n++) {
        char ch = key[n];
        if (n >= 64 || !((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')
                         || (ch >= '0' && ch <= '9') || ch == '_' || ch == '.'
                         || ch == '-')) {
            return 0;
        }
    }
    return n > 0;
}

/* The client capability an input request needs, NULL for an unknown
 * method. */
static const char *input_capability(const char *method)
{
    if (!method) {
        return NULL;
    }
    if (!strcmp(method, "elicitation/create")) {
        return "elicitation";
    }
    if (!strcmp(method, "sampling/createMessage")) {
        return "sampling";
    }
    if (!strcmp(method, "roots/list")) {
        return "roots";
    }
    return NULL;
}

static apr_status_t op_ask(mcp_call_t *call, const char *key,
                           const char *method, json_t *params)
{
    call_impl_t *c = IMPL(call);
    const char *cap = input_capability(method);
    json_t *req;

    if (!input_key_ok(key) || !cap
        || (params && !json_is_object(params))
        || (!params && strcmp(cap, "roots"))) {
        return APR_EINVAL;
    }
    /* never ask what the client cannot answer (modern: this request's
     * capabilities; sessions: initialize's) */
    if (!json_object_get(op_client_capabilities(call), cap)) {
        return APR_ENOTIMPL;
    }
    if (!c->asked) {
        c->asked = json_object();
    }
    if (!json_object_get(c->asked, key)
        && json_object_size(c->asked) >= MCP_CALL_INPUTS_MAX) {
        return APR_EINVAL;
    }
    /* a copy: the provider may reuse or change its params afterwards */
    req = json_object();
    json_object_set_new(req, "method", json_string(method));
    json_object_set_new(req, "params", params ? json_deep_copy(params)
                                              : json_object());
    return json_object_set_new(c->asked, key, req) ? APR_ENOMEM : APR_SUCCESS;
}

static const char *op_state(mcp_call_t *call)
{
    return IMPL(call)->state_in;
}

static apr_status_t op_set_state(mcp_call_t *call, const char *state)
{
    apr_size_t len = state ? strlen(state) : 0;
    if (!state || len > MCP_CALL_STATE_MAX || !mcp_json_utf8_valid(state, len)) {
        return APR_EINVAL;
    }
    IMPL(call)->state_out = apr_pstrmemdup(call->pool, state, len);
    return APR_SUCCESS;
}

static apr_status_t op_require_capability(mcp_call_t *call, const char *name)
{
    /* the name goes into an error message and a JSON key: a short,
     * printable one or a placeholder */
    IMPL(call)->missing_cap = apr_pstrdup(call->pool,
        name && *name && mcp_json_utf8_valid(name, strlen(name))
        && strlen(name) <= 64 ? name : "unknown");
    return MCP_MISSING_CAPABILITY;
}

static int op_cancelled(mcp_call_t *call)
{
    mcp_ctx_t *ctx = IMPL(call)->ctx;
    return ctx->gone ? ctx->gone(ctx->emit_baton) : 0;
}

static const mcp_call_ops_t call_ops = {
    op_add_content, op_set_tool_error, op_set_structured, op_progress,
    op_log, op_notify, op_add_message, op_add_completion, op_invalid_params,
    op_client_capabilities, op_client_info,
    op_input, op_ask, op_state, op_set_state, op_require_capability,
    op_cancelled
};

static apr_status_t call_cleanup(void *data)
{
    call_impl_t *c = data;
    json_decref(c->content);
    json_decref(c->messages);
    json_decref(c->completions);
    json_decref(c->structured);
    json_decref(c->asked);
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
    if (ctx->modern) {
        c->pub.session_user = ctx->principal;
        c->pub.protocol_version = json_string_value(json_object_get(
                                      ctx->meta, MCP_META_PROTOCOL_VERSION));
    }
    else {
        c->pub.session_user = ctx->session ? ctx->session->user : NULL;
        c->pub.protocol_version = ctx->session
                                  ? ctx->session->protocol_version : NULL;
    }
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

/* What a method's callback is, in messages: "tool", "prompt",
 * "resource". */
static const char *call_kind(const mcp_msg_t *msg)
{
    if (!strcmp(msg->method, "tools/call")) {
        return "tool";
    }
    return strcmp(msg->method, "prompts/get") ? "resource" : "prompt";
}

static json_t *internal_error(const mcp_msg_t *msg)
{
    return mcp_rpc_error(msg->id, MCP_ERR_INTERNAL, "Internal error", NULL);
}

/* The multi-round part of tools/call, prompts/get and resources/read of
 * a 2026-07-28 request, before the callback runs: the answers to earlier
 * input requests and the callback's state, opened once. NULL, or the
 * error to answer. A state that does not open is an error, never a new
 * first round: the client must not be able to restart a flow midway by
 * damaging its state. Why it did not open is not said (it would help
 * whoever tampers). */
static json_t *rounds_open(call_impl_t *c, const mcp_msg_t *msg,
                           const mcp_state_bind_t *bind)
{
    mcp_ctx_t *ctx = c->ctx;
    json_t *inputs = json_object_get(msg->params, "inputResponses");
    json_t *sealed = json_object_get(msg->params, "requestState");
    const char *why;

    if (inputs && !json_is_object(inputs)) {
        return mcp_rpc_error(msg->id, MCP_ERR_INVALID_PARAMS, "Invalid "
                             "params: inputResponses must be an object", NULL);
    }
    c->inputs = inputs;
    if (!sealed) {
        return NULL;
    }
    if (!json_is_string(sealed)) {
        return mcp_rpc_error(msg->id, MCP_ERR_INVALID_PARAMS, "Invalid "
                             "params: requestState must be a string", NULL);
    }
    why = "no key ring";
    if (!ctx->ring
        || mcp_state_open(ctx->pool, ctx->ring, bind,
                          json_string_value(sealed), apr_time_now(),
                          &c->state_in, &why) != APR_SUCCESS) {
        c->state_in = NULL;
        ctx->state_refused = why;
        return mcp_rpc_error(msg->id, MCP_ERR_INVALID_PARAMS, "Invalid "
                             "params: requestState is not valid for this "
                             "request (tampered, expired, or issued for "
                             "another request or user)", NULL);
    }
    return NULL;
}

/* What the state of a callback is bound to; for resources/read the URI
 * alone (its variables come from the URI). */
static void call_bind(call_impl_t *c, const mcp_msg_t *msg, json_t *arguments,
                      mcp_state_bind_t *bind)
{
    bind->principal = c->ctx->principal;
    bind->endpoint = c->ctx->endpoint;
    bind->method = msg->method;
    bind->name = c->pub.name;
    bind->arguments = arguments;
}

/* A callback returned MCP_INPUT_REQUIRED. */
static json_t *input_required(call_impl_t *c, const mcp_msg_t *msg,
                              const mcp_state_bind_t *bind)
{
    mcp_ctx_t *ctx = c->ctx;
    int asked = json_object_size(c->asked) > 0;
    json_t *result;

    if (!asked && !c->state_out) {
        return internal_error(msg);     /* the provider asked nothing */
    }
    if (!ctx->modern) {
        /* A session-era client would need real server-to-client
         * requests on its stream; not yet (README, Multi-round calls) */
        const char *methods = NULL, *key;
        json_t *v;
        json_object_foreach(c->asked, key, v) {
            const char *m = json_string_value(json_object_get(v, "method"));
            if (!methods) {
                methods = m;
            }
            else if (!strstr(methods, m)) {
                methods = apr_pstrcat(ctx->pool, methods, ", ", m, NULL);
            }
        }
        return mcp_rpc_error(msg->id, MCP_ERR_INVALID_REQUEST, apr_psprintf(
            ctx->pool, "Invalid Request: %s %s needs input from the client%s%s%s;"
            " mod_mcp_session asks for input only from clients speaking "
            MCP_ERA_MODERN_LATEST " for now", call_kind(msg), c->pub.name,
            methods ? " (" : "", methods ? methods : "", methods ? ")" : ""),
            NULL);
    }
    result = json_object();
    json_object_set_new(result, "resultType", json_string("input_required"));
    if (asked) {
        json_object_set(result, "inputRequests", c->asked);
    }
    if (c->state_out) {
        apr_interval_time_t ttl = ctx->state_ttl ? ctx->state_ttl
                                                 : MCP_STATE_TTL;
        const char *sealed = ctx->ring
            ? mcp_state_seal(ctx->pool, ctx->ring, bind, c->state_out,
                             apr_time_now(), ttl) : NULL;
        if (!sealed) {
            json_decref(result);
            return internal_error(msg);
        }
        json_object_set_new(result, "requestState", json_string(sealed));
    }
    return mcp_rpc_result(msg->id, result);
}

/* The answer for a callback that did not return APR_SUCCESS. bind NULL:
 * the method has no multi-round form (completion/complete). */
static json_t *call_failed(call_impl_t *c, const mcp_msg_t *msg,
                           apr_status_t rv, const mcp_state_bind_t *bind)
{
    mcp_ctx_t *ctx = c->ctx;

    if (rv == MCP_INPUT_REQUIRED) {
        return bind ? input_required(c, msg, bind) : internal_error(msg);
    }
    if (rv == MCP_MISSING_CAPABILITY && c->missing_cap) {
        if (ctx->modern) {
            ctx->http_status = 400;
            return mcp_rpc_error(msg->id, MCP_ERR_MISSING_CAPABILITY,
                                 apr_pstrcat(ctx->pool, "Missing required "
                                             "client capability: ",
                                             c->missing_cap, NULL),
                                 json_pack("{s:{s:{}}}", "requiredCapabilities",
                                           c->missing_cap));
        }
        return mcp_rpc_error(msg->id, MCP_ERR_INVALID_REQUEST, apr_psprintf(
            ctx->pool, "Invalid Request: %s %s needs the client capability "
            "'%s', which this session did not declare at initialize",
            call_kind(msg), c->pub.name, c->missing_cap), NULL);
    }
    if (c->invalid) {
        return mcp_rpc_error(msg->id, MCP_ERR_INVALID_PARAMS, c->invalid, NULL);
    }
    if (APR_STATUS_IS_NOTFOUND(rv)) {
        /* 2026-07-28 retired -32002 (SEP-2164) */
        return mcp_rpc_error(msg->id, ctx->modern ? MCP_ERR_INVALID_PARAMS
                                                  : MCP_ERR_RESOURCE,
                             "Resource not found",
                             json_pack("{s:s}", "uri", c->pub.name));
    }
    return internal_error(msg);
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
    json_t *result, *schema;
    mcp_state_bind_t bind;
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
    schema = apr_hash_get(ctx->reg->schema_by_tool, name, APR_HASH_KEY_STRING);
    if (ctx->modern && ctx->header) {
        /* the Mcp-Param-* headers a proxy may have routed on must say
         * what the body says, before the tool sees anything */
        mcp_era_error_t *e = mcp_era_check_params(ctx->pool, schema, args,
                                                  ctx->header,
                                                  ctx->header_baton);
        if (e) {
            ctx->http_status = e->status;
            return mcp_rpc_error(msg->id, e->code, e->message, e->data);
        }
    }
    c = call_make(ctx, msg, name, args);
    bad = check_arguments(ctx->pool, schema, c->pub.arguments);
    if (bad) {
        /* as the SDK does: a tool error the model can read and correct */
        return mcp_rpc_result(msg->id, json_pack(
            "{s:[{s:s, s:s}], s:b}", "content", "type", "text", "text",
            apr_psprintf(ctx->pool, "Input validation error: invalid "
                         "arguments for tool %s: %s", name, bad),
            "isError", 1));
    }
    call_bind(c, msg, c->pub.arguments, &bind);
    if (ctx->modern && (result = rounds_open(c, msg, &bind))) {
        return result;
    }
    rv = tool->call(&c->pub, tool->baton);
    if (rv != APR_SUCCESS) {
        return call_failed(c, msg, rv, &bind);
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
    json_t *vars, *err;
    mcp_state_bind_t bind;
    apr_status_t rv;

    if (!uri) {
        return mcp_rpc_error(msg->id, MCP_ERR_INVALID_PARAMS,
                             "Invalid params: 'uri' must be a string", NULL);
    }
    res = find_resource(ctx, uri, &vars);
    if (!res) {
        /* 2026-07-28 retired -32002 (SEP-2164) */
        return mcp_rpc_error(msg->id, ctx->modern ? MCP_ERR_INVALID_PARAMS
                                                  : MCP_ERR_RESOURCE,
                             "Resource not found",
                             json_pack("{s:s}", "uri", uri));
    }
    c = call_make(ctx, msg, uri, vars);
    call_bind(c, msg, NULL, &bind);
    if (ctx->modern && (err = rounds_open(c, msg, &bind))) {
        return err;
    }
    rv = res->read(&c->pub, uri, res->baton);
    if (rv != APR_SUCCESS) {
        return call_failed(c, msg, rv, &bind);
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
    mcp_state_bind_t bind;
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
    call_bind(c, msg, c->pub.arguments, &bind);
    if (ctx->modern && (result = rounds_open(c, msg, &bind))) {
        return result;
    }
    rv = pr->get(&c->pub, pr->baton);
    if (rv != APR_SUCCESS) {
        return call_failed(c, msg, rv, &bind);
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
            return call_failed(c, msg, rv, NULL);
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

/* ------------------------------------------------------------------ */
/* The 2026-07-28 revision: no session, every request on its own       */

/* Built by hand, not json_pack (which parses its format every time): it
 * goes on every 2026-07-28 result. Both are the module's ASCII constants. */
static json_t *server_info(const mcp_ctx_t *ctx)
{
    json_t *info = json_object();

    json_object_set_new_nocheck(info, "name",
                                json_string_nocheck(ctx->reg->server_name));
    json_object_set_new_nocheck(info, "version",
                                json_string_nocheck(ctx->reg->server_version));
    return info;
}

/* Every result says what it is, and who answered (in _meta since spec
 * PR #3002); a result's own _meta keeps its keys. */
static json_t *modern_result(const mcp_ctx_t *ctx, json_t *res)
{
    json_t *result = json_object_get(res, "result");
    json_t *meta;

    if (!json_is_object(result)) {
        return res;             /* an error */
    }
    if (!json_object_get(result, "resultType")) {
        json_object_set_new_nocheck(result, "resultType",
                                    json_string_nocheck("complete"));
    }
    meta = json_object_get(result, "_meta");
    if (!json_is_object(meta)) {
        meta = json_object();
        json_object_set_new_nocheck(result, "_meta", meta);
    }
    if (!json_object_get(meta, MCP_META_SERVER_INFO)) {
        json_object_set_new_nocheck(meta, MCP_META_SERVER_INFO,
                                    server_info(ctx));
    }
    return res;
}

/* ttlMs and cacheScope on a complete result (an input_required round is
 * never cacheable). */
static json_t *cacheable(const mcp_ctx_t *ctx, json_t *res,
                         apr_interval_time_t ttl)
{
    json_t *result = json_object_get(res, "result");

    if (json_is_object(result) && !json_object_get(result, "resultType")) {
        json_object_set_new(result, "ttlMs",
                            json_integer((json_int_t)apr_time_as_msec(ttl)));
        json_object_set_new(result, "cacheScope",
                            json_string(ctx->cache_scope ? ctx->cache_scope
                                                         : "private"));
    }
    return res;
}

/* What discover advertises is exactly what is served: a method of a
 * capability not advertised is -32601. Neither subscribe nor listChanged:
 * no listen stream delivers anything yet. logging: a request that names
 * a level gets the callbacks' log notifications. */
static json_t *discover(mcp_ctx_t *ctx, const mcp_msg_t *msg)
{
    const mcp_registry_t *reg = ctx->reg;
    json_t *caps = json_object(), *result;

    if (reg->tools->nelts) {
        json_object_set_new(caps, "tools", json_object());
    }
    if (reg->resources->nelts || reg->templates->nelts) {
        json_object_set_new(caps, "resources", json_object());
    }
    if (reg->prompts->nelts) {
        json_object_set_new(caps, "prompts", json_object());
    }
    if (reg->has_completions) {
        json_object_set_new(caps, "completions", json_object());
    }
    json_object_set_new(caps, "logging", json_object());
    result = json_object();
    json_object_set_new(result, "supportedVersions", mcp_era_supported_list());
    json_object_set_new(result, "capabilities", caps);
    if (reg->instructions) {
        json_object_set_new(result, "instructions",
                            json_string(reg->instructions));
    }
    return cacheable(ctx, mcp_rpc_result(msg->id, result), ctx->list_ttl);
}

/* subscriptions/listen: acknowledged, then ended at once. Nothing is
 * delivered to listeners yet, so nothing is granted (an empty filter),
 * and no connection is held open for notifications that never come. */
static json_t *subscriptions_listen(mcp_ctx_t *ctx, const mcp_msg_t *msg)
{
    json_t *filter = json_object_get(msg->params, "notifications");

    if (!json_is_object(filter)) {
        return mcp_rpc_error(msg->id, MCP_ERR_INVALID_PARAMS, "Invalid "
                             "params: notifications must be an object", NULL);
    }
    if (ctx->emit) {
        emit(ctx, mcp_rpc_notification(
            "notifications/subscriptions/acknowledged",
            json_pack("{s:{s:O}, s:{}}", "_meta", MCP_META_SUBSCRIPTION_ID,
                      msg->id, "notifications")));
    }
    return mcp_rpc_result(msg->id, json_pack("{s:{s:O}}", "_meta",
                                             MCP_META_SUBSCRIPTION_ID,
                                             msg->id));
}

static json_t *modern_request(mcp_ctx_t *ctx, const mcp_msg_t *msg)
{
    const mcp_registry_t *reg = ctx->reg;
    const char *m = msg->method;
    int tools = reg->tools->nelts > 0;
    int resources = reg->resources->nelts || reg->templates->nelts;
    int prompts = reg->prompts->nelts > 0;
    json_t *res;

    if (tools && !strcmp(m, "tools/call")) {
        res = tools_call(ctx, msg);
    }
    else if (tools && !strcmp(m, "tools/list")) {
        res = cacheable(ctx, list_copy(ctx, msg, reg->tools_list),
                        ctx->list_ttl);
    }
    else if (resources && !strcmp(m, "resources/read")) {
        /* ttlMs 0: a provider's resource may change at any moment and the
         * C API has no way to say for how long it stays the same, so a
         * client must not reuse a read without asking again */
        res = cacheable(ctx, resources_read(ctx, msg), 0);
    }
    else if (resources && !strcmp(m, "resources/list")) {
        res = cacheable(ctx, list_copy(ctx, msg, reg->resources_list),
                        ctx->list_ttl);
    }
    else if (resources && !strcmp(m, "resources/templates/list")) {
        res = cacheable(ctx, list_copy(ctx, msg, reg->templates_list),
                        ctx->list_ttl);
    }
    else if (prompts && !strcmp(m, "prompts/get")) {
        res = prompts_get(ctx, msg);
    }
    else if (prompts && !strcmp(m, "prompts/list")) {
        res = cacheable(ctx, list_copy(ctx, msg, reg->prompts_list),
                        ctx->list_ttl);
    }
    else if (reg->has_completions && !strcmp(m, "completion/complete")) {
        res = completion_complete(ctx, msg);
    }
    else if (!strcmp(m, "server/discover")) {
        res = discover(ctx, msg);
    }
    else if (!strcmp(m, "subscriptions/listen")) {
        res = subscriptions_listen(ctx, msg);
    }
    else {
        /* unknown, removed in 2026-07-28 (initialize, ping,
         * logging/setLevel, resources/subscribe and unsubscribe) or of a
         * capability not served */
        ctx->http_status = 404;
        return mcp_rpc_error(msg->id, MCP_ERR_METHOD_NOT_FOUND,
                             "Method not found", NULL);
    }
    return modern_result(ctx, res);
}

json_t *mcp_protocol_request(mcp_ctx_t *ctx, const mcp_msg_t *msg)
{
    const char *m = msg->method;

    if (ctx->modern) {
        return modern_request(ctx, msg);
    }

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
    if (ctx->modern) {
        return;     /* 2026-07-28 defines no client notification over HTTP */
    }
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
