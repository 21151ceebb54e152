/*
 * mod_mcp_session: MCP tools, resources and prompts (httpd-free part of
 * the public C API: no httpd header is needed to include this file, so
 * the unit tests and the protocol core use it as is).
 *
 * A provider module registers static descriptions in its register_hooks:
 *
 *     static apr_status_t echo_call(mcp_call_t *call, void *baton)
 *     {
 *         const char *text = mcp_call_arg_string(call, "text");
 *         if (!text) {
 *             return mcp_call_tool_error(call, "argument 'text' must be a string");
 *         }
 *         return mcp_call_add_text(call, text);
 *     }
 *     static const mcp_tool_t echo_tool = {
 *         "echo", NULL, "Echoes the text back",
 *         "{\"type\":\"object\",\"properties\":{\"text\":{\"type\":\"string\"}},"
 *         "\"required\":[\"text\"]}", NULL, echo_call, NULL
 *     };
 *     static void register_hooks(apr_pool_t *p)
 *     {
 *         mcp_register_tool(p, &echo_tool);      (mod_mcp_session.h)
 *     }
 *
 * Registration goes through httpd's provider registry, and every call a
 * callback makes goes through the function table in mcp_call_t, so a
 * provider module has no link-time dependency on mod_mcp_session and the
 * LoadModule order does not matter.
 *
 * Memory: everything a callback receives lives at least as long as
 * call->pool; allocate from it. json_t values handed to mcp_call_* are
 * copied or reference-counted by the callee: the caller keeps (and
 * releases) its own reference.
 *
 * A callback returns APR_SUCCESS when it produced a result (a tool error
 * with isError:true is a result), or an error status: the client then gets
 * a JSON-RPC error (-32603, or -32602 when mcp_call_invalid_params() was
 * used) and the status is logged.
 */
#ifndef MCP_TOOL_H
#define MCP_TOOL_H

#include "apr_pools.h"
#include "apr_strings.h"
#include <jansson.h>
#include "mcp_api.h"

#ifdef __cplusplus
extern "C" {
#endif

struct request_rec;
typedef struct mcp_call_t mcp_call_t;

/* RFC 5424 levels, as MCP's logging/setLevel uses them. */
typedef enum {
    MCP_LOG_DEBUG = 0,
    MCP_LOG_INFO,
    MCP_LOG_NOTICE,
    MCP_LOG_WARNING,
    MCP_LOG_ERROR,
    MCP_LOG_CRITICAL,
    MCP_LOG_ALERT,
    MCP_LOG_EMERGENCY
} mcp_log_level_e;

/* ------------------------------------------------------------------ */
/* Tools                                                               */

typedef apr_status_t mcp_tool_fn(mcp_call_t *call, void *baton);

typedef struct mcp_tool_t {
    const char *name;           /* unique; [A-Za-z0-9_.-], 1..128 chars */
    const char *title;          /* optional */
    const char *description;    /* optional */
    const char *input_schema;   /* JSON Schema text; NULL means {"type":"object"} */
    const char *output_schema;  /* optional JSON Schema text */
    mcp_tool_fn *call;
    void *baton;                /* handed to call() */
} mcp_tool_t;

/* ------------------------------------------------------------------ */
/* Resources                                                           */

/* Read one resource: add its contents with mcp_call_add_resource_text()
 * or mcp_call_add_resource_blob(). Return APR_NOTFOUND for an unknown
 * URI (the client gets -32002 "Resource not found"). */
typedef apr_status_t mcp_resource_fn(mcp_call_t *call, const char *uri,
                                     void *baton);

/* Offer completions for one argument (completion/complete); add them with
 * mcp_call_add_completion(). */
typedef apr_status_t mcp_complete_fn(mcp_call_t *call, const char *argument,
                                     const char *value, void *baton);

typedef struct mcp_resource_t {
    const char *uri;            /* a concrete URI, or NULL when templated */
    const char *uri_template;   /* RFC 6570 level 1, e.g. "test://item/{id}" */
    const char *name;
    const char *title;          /* optional */
    const char *description;    /* optional */
    const char *mime_type;      /* optional */
    mcp_resource_fn *read;
    mcp_complete_fn *complete;  /* optional, templates only */
    void *baton;
} mcp_resource_t;

/* ------------------------------------------------------------------ */
/* Prompts                                                             */

typedef struct mcp_prompt_arg_t {
    const char *name;           /* NULL ends the list */
    const char *description;
    int required;
} mcp_prompt_arg_t;

/* Build the prompt: add messages with mcp_call_add_message(). Arguments
 * are read with mcp_call_arg_string(). */
typedef apr_status_t mcp_prompt_fn(mcp_call_t *call, void *baton);

typedef struct mcp_prompt_t {
    const char *name;
    const char *title;          /* optional */
    const char *description;    /* optional */
    const mcp_prompt_arg_t *args;   /* optional, ends with name == NULL */
    mcp_prompt_fn *get;
    mcp_complete_fn *complete;  /* optional */
    void *baton;
} mcp_prompt_t;

/* ------------------------------------------------------------------ */
/* The call context handed to every callback                           */

typedef struct mcp_call_ops_t {
    /* Append one content item ({"type":"text",...}, image, audio,
     * resource, resource_link) to the result. */
    apr_status_t (*add_content)(mcp_call_t *call, json_t *content);
    /* Mark a tool result as a tool error (isError: true). */
    void (*set_tool_error)(mcp_call_t *call);
    /* Set a tool's structuredContent. */
    apr_status_t (*set_structured)(mcp_call_t *call, json_t *value);
    /* notifications/progress, sent only when the client asked for it
     * with _meta.progressToken; total < 0 means unknown. */
    apr_status_t (*progress)(mcp_call_t *call, double progress, double total,
                             const char *message);
    /* notifications/message, sent only at or above the session's level. */
    apr_status_t (*log)(mcp_call_t *call, mcp_log_level_e level,
                        const char *logger, json_t *data);
    /* Any other notification related to this request. */
    apr_status_t (*notify)(mcp_call_t *call, const char *method,
                           json_t *params);
    /* Add {"role":role,"content":content} to a prompt result. */
    apr_status_t (*add_message)(mcp_call_t *call, const char *role,
                                json_t *content);
    /* Add one completion value. */
    apr_status_t (*add_completion)(mcp_call_t *call, const char *value);
    /* Make the request fail with -32602 Invalid params and this message. */
    apr_status_t (*invalid_params)(mcp_call_t *call, const char *message);
    /* The client's capabilities and clientInfo from initialize, as the
     * session keeps them (bounded; README, Sessions) (borrowed, live as
     * long as call->pool), or NULL. */
    json_t *(*client_capabilities)(mcp_call_t *call);
    json_t *(*client_info)(mcp_call_t *call);

    /* --- API 2.1: multi-round calls (MRTR) and the 2026-07-28 era --- */
    /* The client's answer to input request `key` asked in an earlier
     * round (the result object of elicitation/create, sampling/
     * createMessage or roots/list), borrowed, or NULL when there is none
     * (or it is not an object). */
    json_t *(*input)(mcp_call_t *call, const char *key);
    /* Ask the client for input: `method` is "elicitation/create",
     * "sampling/createMessage" or "roots/list", `params` its params (not
     * stolen). APR_SUCCESS: asked (the callback then returns
     * MCP_INPUT_REQUIRED); APR_ENOTIMPL: the client did not declare the
     * capability this needs (elicitation, sampling, roots), nothing was
     * asked; APR_EINVAL: bad key (1..64 chars [A-Za-z0-9_.-]), method or
     * params, or too many requests (MCP_CALL_INPUTS_MAX). */
    apr_status_t (*ask)(mcp_call_t *call, const char *key, const char *method,
                        json_t *params);
    /* The state this callback carried from the previous round (what it
     * gave set_state() then), verified by the module, or NULL. */
    const char *(*state)(mcp_call_t *call);
    /* Carry `state` (text, at most MCP_CALL_STATE_MAX bytes) to the next
     * round. The module seals it, bound to the user, the request and an
     * expiry: the client cannot read-modify it undetected. */
    apr_status_t (*set_state)(mcp_call_t *call, const char *state);
    /* The request needs client capability `name` ("sampling", ...) that
     * the client did not declare: returns MCP_MISSING_CAPABILITY, which
     * the callback returns. */
    apr_status_t (*require_capability)(mcp_call_t *call, const char *name);
    /* 1 when the client went away (closed the response stream: the
     * request is cancelled, stop working). A long callback calls it now
     * and then; on a stream it also sends a keep-alive comment when the
     * stream has been quiet for a while. */
    int (*cancelled)(mcp_call_t *call);
} mcp_call_ops_t;

/* What a callback returns to end this round with the input it asked for
 * (ask()) and/or the state it set (set_state()): a 2026-07-28 client gets
 * resultType "input_required" and calls again with the answers. A client
 * of the session revisions (2025-*) gets a JSON-RPC error saying the tool
 * needs input this server can only ask for over 2026-07-28 for now. */
#define MCP_INPUT_REQUIRED      (APR_OS_START_USERERR + 4301)
/* What require_capability() returns: the client gets -32021 with
 * requiredCapabilities (2026-07-28) or -32600 (session revisions). */
#define MCP_MISSING_CAPABILITY  (APR_OS_START_USERERR + 4302)

#define MCP_CALL_STATE_MAX      4096
#define MCP_CALL_INPUTS_MAX     16

struct mcp_call_t {
    apr_pool_t *pool;               /* lives until the response is sent */
    struct request_rec *r;          /* NULL when driven outside httpd */
    const char *method;             /* "tools/call", "resources/read", ... */
    const char *name;               /* tool or prompt name, resource URI */
    json_t *arguments;              /* borrowed; an object, never NULL.
                                     * tools/call and prompts/get: the
                                     * arguments; resources/read of a
                                     * template: its variables, e.g.
                                     * {"id":"123"}; completion: the
                                     * context arguments */
    const char *session_user;       /* the user bound to the session
                                     * (2026-07-28: the request's), or NULL */
    const char *protocol_version;   /* negotiated for this session, or the
                                     * request's ("2026-07-28": no session) */
    const mcp_call_ops_t *ops;
    void *transport;                /* private to mod_mcp_session */
};

/* ------------------------------------------------------------------ */
/* Helpers for callbacks                                               */

/* Hand a freshly built content item to the call and drop our reference. */
static APR_INLINE apr_status_t mcp_call__add_new(mcp_call_t *call, json_t *c)
{
    apr_status_t rv;
    if (!c) {
        return APR_ENOMEM;
    }
    rv = call->ops->add_content(call, c);
    json_decref(c);
    return rv;
}

/* The string argument `name`, or NULL if absent or not a string. */
static APR_INLINE const char *mcp_call_arg_string(mcp_call_t *call,
                                                  const char *name)
{
    json_t *v = json_object_get(call->arguments, name);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* 1 and *out set when argument `name` is a JSON number, else 0. */
static APR_INLINE int mcp_call_arg_number(mcp_call_t *call, const char *name,
                                          double *out)
{
    json_t *v = json_object_get(call->arguments, name);
    if (!json_is_number(v)) {
        return 0;
    }
    *out = json_number_value(v);
    return 1;
}

static APR_INLINE apr_status_t mcp_call_add_text(mcp_call_t *call,
                                                 const char *text)
{
    /* built directly: json_pack would parse a format on every call */
    json_t *t = json_string(text), *c;
    if (!t) {
        return APR_EINVAL;      /* NULL or not UTF-8 */
    }
    c = json_object();
    if (c) {
        json_object_set_new(c, "type", json_string("text"));
        json_object_set_new(c, "text", t);
    }
    else {
        json_decref(t);
    }
    return mcp_call__add_new(call, c);
}

/* Append a base64 image or audio item: type is "image" or "audio". */
static APR_INLINE apr_status_t mcp_call_add_media(mcp_call_t *call,
                                                  const char *type,
                                                  const char *base64,
                                                  const char *mime_type)
{
    return mcp_call__add_new(call, json_pack("{s:s, s:s, s:s}", "type", type,
                                             "data", base64,
                                             "mimeType", mime_type));
}

/* A tool error the model can see: one text item and isError: true. */
static APR_INLINE apr_status_t mcp_call_tool_error(mcp_call_t *call,
                                                   const char *text)
{
    call->ops->set_tool_error(call);
    return mcp_call_add_text(call, text);
}

static APR_INLINE apr_status_t mcp_call_progress(mcp_call_t *call,
                                                 double progress, double total,
                                                 const char *message)
{
    return call->ops->progress(call, progress, total, message);
}

static APR_INLINE apr_status_t mcp_call_log(mcp_call_t *call,
                                            mcp_log_level_e level,
                                            const char *logger,
                                            const char *text)
{
    apr_status_t rv;
    json_t *d = json_string(text);
    if (!d) {
        return APR_ENOMEM;
    }
    rv = call->ops->log(call, level, logger, d);
    json_decref(d);
    return rv;
}

/* Contents of resources/read: text or base64 blob for `uri`. */
static APR_INLINE apr_status_t mcp_call_add_resource_text(mcp_call_t *call,
                                                          const char *uri,
                                                          const char *mime_type,
                                                          const char *text)
{
    return mcp_call__add_new(call, json_pack("{s:s, s:s, s:s}", "uri", uri,
                                             "mimeType", mime_type ? mime_type
                                                         : "text/plain",
                                             "text", text));
}

static APR_INLINE apr_status_t mcp_call_add_resource_blob(mcp_call_t *call,
                                                          const char *uri,
                                                          const char *mime_type,
                                                          const char *base64)
{
    return mcp_call__add_new(call, json_pack("{s:s, s:s, s:s}", "uri", uri,
                                             "mimeType", mime_type ? mime_type
                                                 : "application/octet-stream",
                                             "blob", base64));
}

static APR_INLINE apr_status_t mcp_call_add_message(mcp_call_t *call,
                                                    const char *role,
                                                    json_t *content)
{
    return call->ops->add_message(call, role, content);
}

static APR_INLINE apr_status_t mcp_call_add_completion(mcp_call_t *call,
                                                       const char *value)
{
    return call->ops->add_completion(call, value);
}

/* Whether the client declared capability `name` (e.g. "sampling") at
 * initialize. */
static APR_INLINE int mcp_call_client_can(mcp_call_t *call, const char *name)
{
    return json_object_get(call->ops->client_capabilities(call), name) != NULL;
}

static APR_INLINE apr_status_t mcp_call_invalid_params(mcp_call_t *call,
                                                       const char *message)
{
    return call->ops->invalid_params(call, message);
}

/* ------------------------------------------------------------------ */
/* Multi-round calls (API 2.1)                                         */
/*
 * A tool, prompt or resource callback that needs the user's input asks
 * for it and returns MCP_INPUT_REQUIRED; it is called again, from the
 * start, with the answers (on any node of a fleet: nothing is kept
 * server-side) and with the state it chose to carry:
 *
 *     json_t *a = mcp_call_input(call, "user_name");
 *     if (!a) {
 *         rv = mcp_call_ask_elicitation(call, "user_name", "Your name?",
 *                  "{\"type\":\"object\",\"properties\":"
 *                  "{\"name\":{\"type\":\"string\"}},\"required\":[\"name\"]}");
 *         return rv == APR_SUCCESS ? MCP_INPUT_REQUIRED : rv;
 *     }
 *     ... json_object_get(json_object_get(a, "content"), "name") ...
 *
 * Ask only for what the client can answer: ask() refuses (APR_ENOTIMPL)
 * kinds the request's client capabilities do not declare.
 */

static APR_INLINE json_t *mcp_call_input(mcp_call_t *call, const char *key)
{
    return call->ops->input(call, key);
}

static APR_INLINE apr_status_t mcp_call_ask(mcp_call_t *call, const char *key,
                                            const char *method, json_t *params)
{
    return call->ops->ask(call, key, method, params);
}

/* elicitation/create with a message and a requestedSchema given as JSON
 * text. */
static APR_INLINE apr_status_t mcp_call_ask_elicitation(mcp_call_t *call,
                                                        const char *key,
                                                        const char *message,
                                                        const char *schema)
{
    apr_status_t rv;
    json_t *sch = json_loads(schema, 0, NULL), *params;
    if (!sch) {
        return APR_EINVAL;
    }
    params = json_pack("{s:s, s:o}", "message", message, "requestedSchema", sch);
    if (!params) {
        return APR_EINVAL;
    }
    rv = call->ops->ask(call, key, "elicitation/create", params);
    json_decref(params);
    return rv;
}

static APR_INLINE const char *mcp_call_state(mcp_call_t *call)
{
    return call->ops->state(call);
}

static APR_INLINE apr_status_t mcp_call_set_state(mcp_call_t *call,
                                                  const char *state)
{
    return call->ops->set_state(call, state);
}

static APR_INLINE apr_status_t mcp_call_require(mcp_call_t *call,
                                                const char *capability)
{
    return call->ops->require_capability(call, capability);
}

static APR_INLINE int mcp_call_cancelled(mcp_call_t *call)
{
    return call->ops->cancelled(call);
}

#ifdef __cplusplus
}
#endif

#endif /* MCP_TOOL_H */
