/*
 * mod_mcp_example: example tools, resources and prompts for mod_mcp_session.
 *
 * It shows how a provider module programs against the public API in
 * include/mod_mcp_session.h, and it provides everything the official MCP
 * conformance suite (@modelcontextprotocol/conformance, server scenarios)
 * expects from the server under test:
 *
 *   tools      echo, add, test_simple_text, test_image_content,
 *              test_audio_content, test_embedded_resource,
 *              test_multiple_content_types, test_tool_with_logging,
 *              test_tool_with_progress, test_error_handling,
 *              json_schema_2020_12_tool, test_sampling, test_elicitation,
 *              test_elicitation_sep1034_defaults,
 *              test_elicitation_sep1330_enums, test_sleep,
 *              test_input_required_result_{elicitation,sampling,
 *              list_roots,request_state,multiple_inputs,multi_round,
 *              tampered_state,capabilities}, test_missing_capability,
 *              test_streaming_elicitation, test_logging_tool,
 *              test_custom_headers
 *   resources  test://static-text, test://static-binary,
 *              test://watched-resource, template test://template/{id}/data
 *   prompts    test_simple_prompt, test_prompt_with_arguments,
 *              test_prompt_with_embedded_resource, test_prompt_with_image,
 *              test_input_required_result_prompt
 *
 * The test_input_required_result_* tools and prompt, test_missing_capability
 * and test_streaming_elicitation ask the client for input the 2026-07-28
 * way (multi-round calls, API 2.1: mcp_call_ask(), then MCP_INPUT_REQUIRED;
 * called again with the answers and the state they carried). A client of
 * the session revisions gets a JSON-RPC error from them for now. The older
 * test_sampling and test_elicitation* tools need a server-to-client request
 * in the middle of a session's tools/call, which mod_mcp_session does not
 * offer yet: they answer with a tool error (isError: true) that says so.
 *
 * Load it next to mod_mcp_session (the order does not matter):
 *     LoadModule mcp_example_module modules/mod_mcp_example.so
 */
#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "apr_strings.h"
#include "apr_time.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mod_mcp_session.h"

/* Our log tags: the examples own the range MCPS00900-MCPS00999. */
#define EXLOG(n) "MCPS" #n ": "

/* Log through the request when there is one; callbacks may also be driven
 * outside httpd (call->r == NULL), and then they log nothing. */
#define EX_LOG(call, level, ...)                                          \
    do {                                                                  \
        if ((call)->r) {                                                  \
            ap_log_rerror(APLOG_MARK, level, 0, (call)->r, __VA_ARGS__);  \
        }                                                                 \
    } while (0)

/* A 1x1 red PNG and a tiny WAV (8 kHz, 8 bit mono, 8 silent samples). */
#define EX_PNG_BASE64                                                     \
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR42mP4z8AAAAMB" \
    "AQD3A0FDAAAAAElFTkSuQmCC"
#define EX_WAV_BASE64                                                     \
    "UklGRiwAAABXQVZFZm10IBAAAAABAAEAQB8AAEAfAAABAAgAZGF0YQgAAACAgICAgICA" \
    "gA=="

#define EX_NO_SERVER_REQUESTS                                             \
    "mod_mcp_session does not support server-to-client requests yet "     \
    "(%s during tools/call); this tool cannot complete."

/* ------------------------------------------------------------------ */
/* Small helpers                                                       */

/* Format a double the way JavaScript's Number.prototype.toString does:
 * the shortest digit string that reads back as the same double, in fixed
 * notation for 1e-7 < |v| < 1e21 and exponent notation otherwise
 * (3, 0.5, 0.30000000000000004, 1e+21, 1.5e-7, NaN, Infinity). */
static const char *js_number(apr_pool_t *p, double v)
{
    char buf[40], digits[24], *s, *e;
    int prec, exp10, k, n, i;
    const char *sign;

    if (isnan(v)) {
        return "NaN";
    }
    if (isinf(v)) {
        return v < 0 ? "-Infinity" : "Infinity";
    }
    if (v == 0) {
        return "0";             /* -0 prints as 0, too */
    }
    sign = v < 0 ? "-" : "";
    v = fabs(v);

    /* Shortest round-tripping precision. */
    for (prec = 0; prec < 17; prec++) {
        snprintf(buf, sizeof(buf), "%.*e", prec, v);
        if (strtod(buf, NULL) == v) {
            break;
        }
    }
    if (prec == 17) {
        snprintf(buf, sizeof(buf), "%.16e", v);
    }
    /* buf is "d.ddde[+-]xx": collect the digits and the exponent. */
    k = 0;
    for (s = buf; *s && *s != 'e'; s++) {
        if (*s >= '0' && *s <= '9' && k < (int)sizeof(digits) - 1) {
            digits[k++] = *s;
        }
    }
    exp10 = *s == 'e' ? atoi(s + 1) : 0;
    while (k > 1 && digits[k - 1] == '0') {
        k--;
    }
    digits[k] = '\0';
    n = exp10 + 1;              /* the decimal point sits after n digits */

    if (k <= n && n <= 21) {
        e = apr_palloc(p, n - k + 1);
        memset(e, '0', n - k);
        e[n - k] = '\0';
        return apr_pstrcat(p, sign, digits, e, NULL);
    }
    if (0 < n && n <= 21) {
        return apr_psprintf(p, "%s%.*s.%s", sign, n, digits, digits + n);
    }
    if (-6 < n && n <= 0) {
        e = apr_palloc(p, -n + 1);
        for (i = 0; i < -n; i++) {
            e[i] = '0';
        }
        e[-n] = '\0';
        return apr_pstrcat(p, sign, "0.", e, digits, NULL);
    }
    if (k == 1) {
        return apr_psprintf(p, "%s%se%c%d", sign, digits, n - 1 < 0 ? '-' : '+',
                            abs(n - 1));
    }
    return apr_psprintf(p, "%s%c.%se%c%d", sign, digits[0], digits + 1,
                        n - 1 < 0 ? '-' : '+', abs(n - 1));
}

/* Append {"type":"resource","resource":{uri,mimeType,text}}. */
static apr_status_t add_embedded_text(mcp_call_t *call, const char *uri,
                                      const char *mime_type, const char *text)
{
    apr_status_t rv;
    json_t *c = json_pack("{s:s, s:{s:s, s:s, s:s}}", "type", "resource",
                          "resource", "uri", uri, "mimeType", mime_type,
                          "text", text);
    if (!c) {
        return APR_ENOMEM;
    }
    rv = call->ops->add_content(call, c);
    json_decref(c);
    return rv;
}

/* Add one prompt message holding this content (our reference is dropped). */
static apr_status_t add_message_owned(mcp_call_t *call, const char *role,
                                      json_t *content)
{
    apr_status_t rv;
    if (!content) {
        return APR_ENOMEM;
    }
    rv = mcp_call_add_message(call, role, content);
    json_decref(content);
    return rv;
}

static apr_status_t add_text_message(mcp_call_t *call, const char *text)
{
    return add_message_owned(call, "user",
                             json_pack("{s:s, s:s}", "type", "text",
                                       "text", text));
}

/* Offer the candidates that start with `value`. */
static apr_status_t complete_from(mcp_call_t *call, const char *const *list,
                                  const char *value)
{
    apr_size_t len = value ? strlen(value) : 0;
    apr_status_t rv;

    for (; *list; list++) {
        if (len == 0 || strncmp(*list, value, len) == 0) {
            rv = mcp_call_add_completion(call, *list);
            if (rv != APR_SUCCESS) {
                return rv;
            }
        }
    }
    return APR_SUCCESS;
}

static void pause_ms(int ms)
{
    apr_sleep(apr_time_from_msec(ms));
}

/* ------------------------------------------------------------------ */
/* Tools                                                               */

static apr_status_t echo_call(mcp_call_t *call, void *baton)
{
    const char *text = mcp_call_arg_string(call, "text");

    if (!text) {
        EX_LOG(call, APLOG_DEBUG, EXLOG(00901) "echo: argument 'text' missing "
               "or not a string");
        return mcp_call_tool_error(call, "Invalid arguments: 'text' must be "
                                   "a string");
    }
    EX_LOG(call, APLOG_TRACE1, EXLOG(00902) "echo: %" APR_SIZE_T_FMT " bytes",
           strlen(text));
    return mcp_call_add_text(call, text);
}

static const mcp_tool_t echo_tool = {
    "echo", "Echo", "Echoes the given text back",
    "{\"type\":\"object\",\"properties\":{\"text\":{\"type\":\"string\","
    "\"description\":\"Text to echo back\"}},\"required\":[\"text\"]}",
    NULL, echo_call, NULL
};

static apr_status_t add_call(mcp_call_t *call, void *baton)
{
    double a, b;

    if (!mcp_call_arg_number(call, "a", &a)
        || !mcp_call_arg_number(call, "b", &b)) {
        EX_LOG(call, APLOG_DEBUG, EXLOG(00903) "add: arguments 'a' and 'b' "
               "must be numbers");
        return mcp_call_tool_error(call, "Invalid arguments: 'a' and 'b' "
                                   "must be numbers");
    }
    return mcp_call_add_text(call, js_number(call->pool, a + b));
}

static const mcp_tool_t add_tool = {
    "add", "Add", "Adds two numbers and returns the sum",
    "{\"type\":\"object\",\"properties\":{"
    "\"a\":{\"type\":\"number\",\"description\":\"First number\"},"
    "\"b\":{\"type\":\"number\",\"description\":\"Second number\"}},"
    "\"required\":[\"a\",\"b\"]}",
    NULL, add_call, NULL
};

/* For tests of long requests: sleeps `ms` milliseconds (0 to 10000), in
 * steps of at most 50 ms, and stops early when the client goes away
 * (closing the response stream cancels a request). */
static apr_status_t sleep_call(mcp_call_t *call, void *baton)
{
    apr_time_t start, end, now;
    double ms;

    if (!mcp_call_arg_number(call, "ms", &ms) || ms < 0 || ms > 10000) {
        return mcp_call_tool_error(call, "Invalid arguments: 'ms' must be a "
                                   "number from 0 to 10000");
    }
    start = apr_time_now();
    end = start + apr_time_from_msec((apr_int64_t)ms);
    for (now = start; now < end; now = apr_time_now()) {
        if (mcp_call_cancelled(call)) {
            EX_LOG(call, APLOG_INFO, EXLOG(00907) "test_sleep: cancelled by "
                   "the client after %d ms", (int)apr_time_as_msec(now - start));
            return APR_ECONNABORTED;
        }
        apr_sleep(end - now < apr_time_from_msec(50) ? end - now
                                                     : apr_time_from_msec(50));
    }
    return mcp_call_add_text(call, "slept");
}

static const mcp_tool_t sleep_tool = {
    "test_sleep", NULL, "Sleeps for ms milliseconds (tests of long requests)",
    "{\"type\":\"object\",\"properties\":{"
    "\"ms\":{\"type\":\"number\"}},\"required\":[\"ms\"]}",
    NULL, sleep_call, NULL
};

/* Tools without arguments share this schema. */
#define EX_NO_ARGS "{\"type\":\"object\",\"properties\":{}}"

static apr_status_t simple_text_call(mcp_call_t *call, void *baton)
{
    return mcp_call_add_text(call, "This is a simple text response for "
                             "testing.");
}

static const mcp_tool_t simple_text_tool = {
    "test_simple_text", NULL, "Tests simple text content response",
    EX_NO_ARGS, NULL, simple_text_call, NULL
};

static apr_status_t image_call(mcp_call_t *call, void *baton)
{
    return mcp_call_add_media(call, "image", EX_PNG_BASE64, "image/png");
}

static const mcp_tool_t image_tool = {
    "test_image_content", NULL, "Tests image content response",
    EX_NO_ARGS, NULL, image_call, NULL
};

static apr_status_t audio_call(mcp_call_t *call, void *baton)
{
    return mcp_call_add_media(call, "audio", EX_WAV_BASE64, "audio/wav");
}

static const mcp_tool_t audio_tool = {
    "test_audio_content", NULL, "Tests audio content response",
    EX_NO_ARGS, NULL, audio_call, NULL
};

static apr_status_t embedded_call(mcp_call_t *call, void *baton)
{
    return add_embedded_text(call, "test://embedded-resource", "text/plain",
                             "This is an embedded resource content.");
}

static const mcp_tool_t embedded_tool = {
    "test_embedded_resource", NULL, "Tests embedded resource content response",
    EX_NO_ARGS, NULL, embedded_call, NULL
};

static apr_status_t mixed_call(mcp_call_t *call, void *baton)
{
    apr_status_t rv;

    rv = mcp_call_add_text(call, "Multiple content types test:");
    if (rv == APR_SUCCESS) {
        rv = mcp_call_add_media(call, "image", EX_PNG_BASE64, "image/png");
    }
    if (rv == APR_SUCCESS) {
        rv = add_embedded_text(call, "test://mixed-content-resource",
                               "application/json",
                               "{\"test\":\"data\",\"value\":123}");
    }
    return rv;
}

static const mcp_tool_t mixed_tool = {
    "test_multiple_content_types", NULL,
    "Tests response with multiple content types (text, image, resource)",
    EX_NO_ARGS, NULL, mixed_call, NULL
};

static apr_status_t logging_call(mcp_call_t *call, void *baton)
{
    static const char *const steps[] = {
        "Tool execution started", "Tool processing data",
        "Tool execution completed"
    };
    apr_status_t rv;
    int i;

    for (i = 0; i < 3; i++) {
        if (i > 0) {
            pause_ms(50);
        }
        rv = mcp_call_log(call, MCP_LOG_INFO, "test_tool_with_logging",
                          steps[i]);
        if (rv != APR_SUCCESS) {
            EX_LOG(call, APLOG_INFO, EXLOG(00904) "test_tool_with_logging: "
                   "log notification %d not sent (%d)", i + 1, rv);
            return rv;
        }
    }
    return mcp_call_add_text(call, "Tool with logging executed successfully");
}

static const mcp_tool_t logging_tool = {
    "test_tool_with_logging", NULL,
    "Tests tool that emits log messages during execution",
    EX_NO_ARGS, NULL, logging_call, NULL
};

static apr_status_t progress_call(mcp_call_t *call, void *baton)
{
    apr_status_t rv;
    int i;

    for (i = 0; i <= 2; i++) {
        if (i > 0) {
            pause_ms(50);
        }
        rv = mcp_call_progress(call, 50.0 * i, 100.0, NULL);
        if (rv != APR_SUCCESS) {
            EX_LOG(call, APLOG_INFO, EXLOG(00905) "test_tool_with_progress: "
                   "progress notification %d not sent (%d)", i + 1, rv);
            return rv;
        }
    }
    return mcp_call_add_text(call, "Tool with progress executed successfully");
}

static const mcp_tool_t progress_tool = {
    "test_tool_with_progress", NULL,
    "Tests tool that reports progress notifications",
    EX_NO_ARGS, NULL, progress_call, NULL
};

static apr_status_t error_call(mcp_call_t *call, void *baton)
{
    return mcp_call_tool_error(call, "This tool intentionally returns an "
                               "error for testing");
}

static const mcp_tool_t error_tool = {
    "test_error_handling", NULL, "Tests error response handling",
    EX_NO_ARGS, NULL, error_call, NULL
};

static apr_status_t schema_2020_12_call(mcp_call_t *call, void *baton)
{
    const char *name = mcp_call_arg_string(call, "name");
    return mcp_call_add_text(call, apr_pstrcat(call->pool,
                                               "JSON Schema 2020-12 tool "
                                               "called", name ? " for " : "",
                                               name ? name : "", NULL));
}

static const mcp_tool_t schema_2020_12_tool = {
    "json_schema_2020_12_tool", NULL, "Tool with JSON Schema 2020-12 features",
    /* the scenario's fixture: the SEP-1613 keywords and the wider
     * vocabulary of SEP-2106 ($anchor, allOf/anyOf, if/then/else) */
    "{\"$schema\":\"https://json-schema.org/draft/2020-12/schema\","
    "\"type\":\"object\","
    "\"$defs\":{\"address\":{\"$anchor\":\"addressDef\","
    "\"type\":\"object\",\"properties\":{"
    "\"street\":{\"type\":\"string\"},\"city\":{\"type\":\"string\"}}}},"
    "\"properties\":{\"name\":{\"type\":\"string\"},"
    "\"address\":{\"$ref\":\"#/$defs/address\"},"
    "\"contactMethod\":{\"type\":\"string\",\"enum\":[\"phone\",\"email\"]},"
    "\"phone\":{\"type\":\"string\"},\"email\":{\"type\":\"string\"}},"
    "\"allOf\":[{\"anyOf\":[{\"required\":[\"phone\"]},"
    "{\"required\":[\"email\"]}]}],"
    "\"if\":{\"properties\":{\"contactMethod\":{\"const\":\"phone\"}},"
    "\"required\":[\"contactMethod\"]},"
    "\"then\":{\"required\":[\"phone\"]},"
    "\"else\":{\"required\":[\"email\"]},"
    "\"additionalProperties\":false}",
    NULL, schema_2020_12_call, NULL
};

/* sampling/createMessage and elicitation/create: not possible yet. */
static apr_status_t server_request_call(mcp_call_t *call, void *baton)
{
    const char *method = baton;

    EX_LOG(call, APLOG_DEBUG, EXLOG(00906) "%s: %s would need a "
           "server-to-client request", call->name, method);
    return mcp_call_tool_error(call, apr_psprintf(call->pool,
                                                  EX_NO_SERVER_REQUESTS,
                                                  method));
}

static const mcp_tool_t sampling_tool = {
    "test_sampling", NULL,
    "Tests server-initiated sampling (LLM completion request)",
    "{\"type\":\"object\",\"properties\":{\"prompt\":{\"type\":\"string\","
    "\"description\":\"The prompt to send to the LLM\"}},"
    "\"required\":[\"prompt\"]}",
    NULL, server_request_call, "sampling/createMessage"
};

static const mcp_tool_t elicitation_tool = {
    "test_elicitation", NULL,
    "Tests server-initiated elicitation (user input request)",
    "{\"type\":\"object\",\"properties\":{\"message\":{\"type\":\"string\","
    "\"description\":\"The message to show the user\"}},"
    "\"required\":[\"message\"]}",
    NULL, server_request_call, "elicitation/create"
};

static const mcp_tool_t elicitation_defaults_tool = {
    "test_elicitation_sep1034_defaults", NULL,
    "Tests elicitation with default values per SEP-1034",
    EX_NO_ARGS, NULL, server_request_call, "elicitation/create"
};

static const mcp_tool_t elicitation_enums_tool = {
    "test_elicitation_sep1330_enums", NULL,
    "Tests elicitation with enum schema improvements per SEP-1330",
    EX_NO_ARGS, NULL, server_request_call, "elicitation/create"
};

/* ------------------------------------------------------------------ */
/* Multi-round tools (API 2.1; the 2026-07-28 input-required-result-*   */
/* and server-stateless scenarios)                                     */
/*
 * A round either ends with the result, or asks for what is missing and
 * returns MCP_INPUT_REQUIRED; the client then calls again, on any node,
 * with the answers (mcp_call_input) and the state the round carried
 * (mcp_call_state, verified by mod_mcp_session). An answer that is not
 * what was asked for (not accepted, a field of the wrong type) is asked
 * for again; a declined elicitation ends the call with a tool error.
 */

#define EX_SCHEMA_STRING(field)                                           \
    "{\"type\":\"object\",\"properties\":{\"" field "\":"                 \
    "{\"type\":\"string\"}},\"required\":[\"" field "\"]}"
#define EX_SCHEMA_BOOLEAN(field)                                          \
    "{\"type\":\"object\",\"properties\":{\"" field "\":"                 \
    "{\"type\":\"boolean\"}},\"required\":[\"" field "\"]}"

/* Longest answer a state carries to the next round. */
#define EX_STATE_ANSWER_MAX 256

/* The end of a round that asked (rv from ask_*): MCP_INPUT_REQUIRED, or
 * the error. */
static apr_status_t asked(apr_status_t rv)
{
    return rv == APR_SUCCESS ? MCP_INPUT_REQUIRED : rv;
}

/* What ask() said, for a callback that needs this input: a kind the
 * client did not declare becomes -32021 naming the capability. */
static apr_status_t ask_result(mcp_call_t *call, const char *key,
                               const char *capability, apr_status_t rv)
{
    if (rv == APR_ENOTIMPL) {
        EX_LOG(call, APLOG_DEBUG, EXLOG(00908) "%s: the client did not "
               "declare %s, which input '%s' needs", call->name, capability,
               key);
        return mcp_call_require(call, capability);
    }
    if (rv != APR_SUCCESS) {
        EX_LOG(call, APLOG_INFO, EXLOG(00909) "%s: asking for input '%s' "
               "failed (%d)", call->name, key, rv);
    }
    return rv;
}

static apr_status_t ask_elicitation(mcp_call_t *call, const char *key,
                                    const char *message, const char *schema)
{
    return ask_result(call, key, "elicitation",
                      mcp_call_ask_elicitation(call, key, message, schema));
}

static apr_status_t ask_sampling(mcp_call_t *call, const char *key,
                                 const char *text, int max_tokens)
{
    apr_status_t rv;
    json_t *params = json_pack("{s:[{s:s, s:{s:s, s:s}}], s:i}",
                               "messages", "role", "user", "content",
                               "type", "text", "text", text,
                               "maxTokens", max_tokens);
    if (!params) {
        return APR_ENOMEM;
    }
    rv = mcp_call_ask(call, key, "sampling/createMessage", params);
    json_decref(params);
    return ask_result(call, key, "sampling", rv);
}

static apr_status_t ask_roots(mcp_call_t *call, const char *key)
{
    apr_status_t rv;
    json_t *params = json_object();
    if (!params) {
        return APR_ENOMEM;
    }
    rv = mcp_call_ask(call, key, "roots/list", params);
    json_decref(params);
    return ask_result(call, key, "roots", rv);
}

/* Field `field` of an accepted elicitation answer to `key` when it has
 * JSON type `type` (JSON_TRUE: a boolean), else NULL; *declined set when
 * the user declined or cancelled. */
static json_t *elicited(mcp_call_t *call, const char *key, const char *field,
                        json_type type, int *declined)
{
    json_t *a = mcp_call_input(call, key), *v;
    const char *action = json_string_value(json_object_get(a, "action"));

    if (!action) {
        return NULL;
    }
    if (strcmp(action, "decline") == 0 || strcmp(action, "cancel") == 0) {
        *declined = 1;
        return NULL;
    }
    if (strcmp(action, "accept") != 0) {
        return NULL;
    }
    v = json_object_get(json_object_get(a, "content"), field);
    if (!v || (type == JSON_TRUE ? !json_is_boolean(v)
                                 : json_typeof(v) != type)) {
        EX_LOG(call, APLOG_DEBUG, EXLOG(00910) "%s: answer '%s' has no %s "
               "field '%s': asking again", call->name, key,
               type == JSON_STRING ? "string" : "boolean", field);
        return NULL;
    }
    return v;
}

static const char *elicited_string(mcp_call_t *call, const char *key,
                                   const char *field, int *declined)
{
    return json_string_value(elicited(call, key, field, JSON_STRING,
                                      declined));
}

/* The text of a sampling answer (CreateMessageResult: content is one
 * block or an array of them); "" for an answer without text, NULL when
 * there is no answer of that shape. */
static const char *sampled_text(mcp_call_t *call, const char *key)
{
    json_t *a = mcp_call_input(call, key), *c, *block;
    size_t i;

    c = json_object_get(a, "content");
    if (json_is_object(c)) {
        if (!json_is_string(json_object_get(c, "type"))) {
            return NULL;
        }
        return json_string_value(json_object_get(c, "text")) ?
            json_string_value(json_object_get(c, "text")) : "";
    }
    if (!json_is_array(c) || json_array_size(c) == 0) {
        return NULL;
    }
    json_array_foreach(c, i, block) {
        if (json_is_string(json_object_get(block, "text"))) {
            return json_string_value(json_object_get(block, "text"));
        }
    }
    return "";
}

/* The roots array of a roots/list answer, or NULL. */
static json_t *listed_roots(mcp_call_t *call, const char *key)
{
    json_t *roots = json_object_get(mcp_call_input(call, key), "roots");
    return json_is_array(roots) ? roots : NULL;
}

/* "file:///a, file:///b" for at most the first 8 roots that have a URI. */
static const char *roots_text(apr_pool_t *p, json_t *roots)
{
    const char *text = NULL, *uri;
    json_t *root;
    size_t i;

    json_array_foreach(roots, i, root) {
        uri = json_string_value(json_object_get(root, "uri"));
        if (!uri) {
            continue;
        }
        if (i == 8) {
            return apr_pstrcat(p, text, ", ...", NULL);
        }
        text = text ? apr_pstrcat(p, text, ", ", uri, NULL) : uri;
    }
    return text ? text : "none";
}

static apr_status_t declined_call(mcp_call_t *call)
{
    return mcp_call_tool_error(call, "The user declined to answer.");
}

/* Whether the state carried from the previous round is `expected`. */
static int state_is(mcp_call_t *call, const char *expected)
{
    const char *state = mcp_call_state(call);
    return state && strcmp(state, expected) == 0;
}

static apr_status_t mrtr_elicitation_call(mcp_call_t *call, void *baton)
{
    int declined = 0;
    const char *name = elicited_string(call, "user_name", "name", &declined);

    if (name) {
        return mcp_call_add_text(call, apr_pstrcat(call->pool, "Hello, ",
                                                   name, "!", NULL));
    }
    if (declined) {
        return declined_call(call);
    }
    return asked(ask_elicitation(call, "user_name", "What is your name?",
                                 EX_SCHEMA_STRING("name")));
}

static const mcp_tool_t mrtr_elicitation_tool = {
    "test_input_required_result_elicitation", NULL,
    "Asks the user's name (elicitation over a multi-round call)",
    EX_NO_ARGS, NULL, mrtr_elicitation_call, NULL
};

static apr_status_t mrtr_sampling_call(mcp_call_t *call, void *baton)
{
    const char *text = sampled_text(call, "capital_question");

    if (text) {
        return mcp_call_add_text(call, apr_pstrcat(call->pool, "The model "
                                                   "answered: ", text, NULL));
    }
    return asked(ask_sampling(call, "capital_question",
                              "What is the capital of France?", 100));
}

static const mcp_tool_t mrtr_sampling_tool = {
    "test_input_required_result_sampling", NULL,
    "Asks the client's model a question (sampling over a multi-round call)",
    EX_NO_ARGS, NULL, mrtr_sampling_call, NULL
};

static apr_status_t mrtr_roots_call(mcp_call_t *call, void *baton)
{
    json_t *roots = listed_roots(call, "client_roots");

    if (roots) {
        return mcp_call_add_text(call, apr_psprintf(call->pool, "The client "
                                                    "has %d root(s): %s",
                                                    (int)json_array_size(roots),
                                                    roots_text(call->pool,
                                                               roots)));
    }
    return asked(ask_roots(call, "client_roots"));
}

static const mcp_tool_t mrtr_roots_tool = {
    "test_input_required_result_list_roots", NULL,
    "Lists the client's roots (roots/list over a multi-round call)",
    EX_NO_ARGS, NULL, mrtr_roots_call, NULL
};

/* One confirmation, with a state that must come back intact. */
static apr_status_t confirm_call(mcp_call_t *call, void *baton)
{
    const char *state = baton;
    int declined = 0;
    json_t *ok = elicited(call, "confirm", "ok", JSON_TRUE, &declined);
    apr_status_t rv;

    if (ok && state_is(call, state)) {
        return mcp_call_add_text(call, apr_pstrcat(call->pool, "state-ok: "
                                                   "the requestState came "
                                                   "back intact; confirmed: ",
                                                   json_is_true(ok) ? "true"
                                                   : "false", NULL));
    }
    if (declined) {
        return declined_call(call);
    }
    /* first round, or an answer without its state: (re)start */
    rv = mcp_call_set_state(call, state);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    return asked(ask_elicitation(call, "confirm", "Please confirm",
                                 EX_SCHEMA_BOOLEAN("ok")));
}

static const mcp_tool_t mrtr_request_state_tool = {
    "test_input_required_result_request_state", NULL,
    "Asks for a confirmation and carries a state to the next round",
    EX_NO_ARGS, NULL, confirm_call, "request-state:v1"
};

static const mcp_tool_t mrtr_tampered_state_tool = {
    "test_input_required_result_tampered_state", NULL,
    "Like test_input_required_result_request_state; a changed state is "
    "refused",
    EX_NO_ARGS, NULL, confirm_call, "tampered-state:v1"
};

#define EX_MULTIPLE_STATE "multiple-inputs:v1"

/* Three kinds of input in one round; all three are asked again unless
 * all three came back. */
static apr_status_t mrtr_multiple_call(mcp_call_t *call, void *baton)
{
    int declined = 0;
    const char *name = elicited_string(call, "user_name", "name", &declined);
    const char *greeting = sampled_text(call, "greeting");
    json_t *roots = listed_roots(call, "client_roots");
    apr_status_t rv;

    if (name && greeting && roots && state_is(call, EX_MULTIPLE_STATE)) {
        return mcp_call_add_text(call, apr_psprintf(call->pool,
                                                    "Hello, %s! The model "
                                                    "says: %s. Roots: %s",
                                                    name, greeting,
                                                    roots_text(call->pool,
                                                               roots)));
    }
    if (declined) {
        return declined_call(call);
    }
    rv = mcp_call_set_state(call, EX_MULTIPLE_STATE);
    if (rv == APR_SUCCESS) {
        rv = ask_elicitation(call, "user_name", "What is your name?",
                             EX_SCHEMA_STRING("name"));
    }
    if (rv == APR_SUCCESS) {
        rv = ask_sampling(call, "greeting", "Generate a greeting", 50);
    }
    if (rv == APR_SUCCESS) {
        rv = ask_roots(call, "client_roots");
    }
    return asked(rv);
}

static const mcp_tool_t mrtr_multiple_tool = {
    "test_input_required_result_multiple_inputs", NULL,
    "Asks for an elicitation, a sampling and the roots in one round",
    EX_NO_ARGS, NULL, mrtr_multiple_call, NULL
};

#define EX_ROUND1 "multi-round:1"
#define EX_ROUND2 "multi-round:2:"

/* Three rounds; the state says which round comes back, and carries the
 * first answer to the last round. */
static apr_status_t mrtr_multi_round_call(mcp_call_t *call, void *baton)
{
    const char *state = mcp_call_state(call), *name, *color;
    const char *next = NULL;     /* the state of the next round */
    int declined = 0;
    apr_status_t rv;

    if (state && strncmp(state, EX_ROUND2, sizeof(EX_ROUND2) - 1) == 0) {
        /* round 3 (or round 2 asked again): the color */
        name = state + sizeof(EX_ROUND2) - 1;
        color = elicited_string(call, "step2", "color", &declined);
        if (color) {
            return mcp_call_add_text(call, apr_pstrcat(call->pool, name,
                                                       "'s favorite color "
                                                       "is ", color, ".",
                                                       NULL));
        }
        next = state;
    }
    else if (state && strcmp(state, EX_ROUND1) == 0) {
        /* round 2: the name, carried on in the state */
        name = elicited_string(call, "step1", "name", &declined);
        if (name && strlen(name) <= EX_STATE_ANSWER_MAX) {
            next = apr_pstrcat(call->pool, EX_ROUND2, name, NULL);
        }
    }
    if (declined) {
        return declined_call(call);
    }
    rv = mcp_call_set_state(call, next ? next : EX_ROUND1);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (!next) {
        return asked(ask_elicitation(call, "step1",
                                     "Step 1: What is your name?",
                                     EX_SCHEMA_STRING("name")));
    }
    return asked(ask_elicitation(call, "step2",
                                 "Step 2: What is your favorite color?",
                                 EX_SCHEMA_STRING("color")));
}

static const mcp_tool_t mrtr_multi_round_tool = {
    "test_input_required_result_multi_round", NULL,
    "Asks two questions in two rounds, carrying an evolving state",
    EX_NO_ARGS, NULL, mrtr_multi_round_call, NULL
};

/* Asks for every kind of input the client declared, and only those. */
static apr_status_t mrtr_capabilities_call(mcp_call_t *call, void *baton)
{
    static const char *const methods[] = {
        "elicitation/create", "sampling/createMessage", "roots/list"
    };
    static const char *const keys[] = { "user_name", "greeting", "roots" };
    const char *got[3];
    const char *text = NULL;
    int i, asking = 0, declined = 0;
    json_t *params;
    apr_status_t rv;

    got[0] = elicited_string(call, keys[0], "name", &declined);
    got[1] = sampled_text(call, keys[1]);
    got[2] = listed_roots(call, keys[2]) ? "roots" : NULL;
    for (i = 0; i < 3; i++) {
        if (got[i]) {
            text = apr_pstrcat(call->pool, text ? text : "Answered:", " ",
                               methods[i], NULL);
            continue;
        }
        if (i == 0 && declined) {
            continue;
        }
        params = i == 0 ? json_pack("{s:s, s:o}", "message", "What is your "
                                    "name?", "requestedSchema",
                                    json_loads(EX_SCHEMA_STRING("name"), 0,
                                               NULL))
               : i == 1 ? json_pack("{s:[{s:s, s:{s:s, s:s}}], s:i}",
                                    "messages", "role", "user", "content",
                                    "type", "text", "text", "Generate a "
                                    "greeting", "maxTokens", 50)
               : json_object();
        if (!params) {
            return APR_ENOMEM;
        }
        rv = mcp_call_ask(call, keys[i], methods[i], params);
        json_decref(params);
        if (rv == APR_SUCCESS) {
            asking++;
        }
        else if (rv != APR_ENOTIMPL) {
            EX_LOG(call, APLOG_INFO, EXLOG(00909) "%s: asking for input "
                   "'%s' failed (%d)", call->name, keys[i], rv);
            return rv;
        }
    }
    if (asking) {
        return MCP_INPUT_REQUIRED;
    }
    return mcp_call_add_text(call, text ? text : "The client declared none "
                             "of elicitation, sampling and roots: nothing "
                             "to ask.");
}

static const mcp_tool_t mrtr_capabilities_tool = {
    "test_input_required_result_capabilities", NULL,
    "Asks for every kind of input the client declared, and only those",
    EX_NO_ARGS, NULL, mrtr_capabilities_call, NULL
};

/* server-stateless: needs sampling, so a client without it gets -32021. */
static apr_status_t missing_capability_call(mcp_call_t *call, void *baton)
{
    const char *text;

    if (!mcp_call_client_can(call, "sampling")) {
        EX_LOG(call, APLOG_DEBUG, EXLOG(00911) "test_missing_capability: "
               "the client did not declare sampling");
        return mcp_call_require(call, "sampling");
    }
    text = sampled_text(call, "answer");
    if (text) {
        return mcp_call_add_text(call, apr_pstrcat(call->pool, "The model "
                                                   "answered: ", text, NULL));
    }
    return asked(ask_sampling(call, "answer", "Say hello", 20));
}

static const mcp_tool_t missing_capability_tool = {
    "test_missing_capability", NULL,
    "Needs the client's sampling capability (-32021 without it)",
    EX_NO_ARGS, NULL, missing_capability_call, NULL
};

/* server-stateless: its response stream may carry notifications (progress,
 * when asked for) but never a request: the question goes out as
 * input_required. */
static apr_status_t streaming_elicitation_call(mcp_call_t *call, void *baton)
{
    int declined = 0;
    const char *answer = elicited_string(call, "answer", "text", &declined);
    apr_status_t rv;

    if (answer) {
        return mcp_call_add_text(call, apr_pstrcat(call->pool, "You said: ",
                                                   answer, NULL));
    }
    if (declined) {
        return declined_call(call);
    }
    rv = mcp_call_progress(call, 0, 1, "asking the user");
    if (rv != APR_SUCCESS) {
        return rv;
    }
    return asked(ask_elicitation(call, "answer", "Say something",
                                 EX_SCHEMA_STRING("text")));
}

static const mcp_tool_t streaming_elicitation_tool = {
    "test_streaming_elicitation", NULL,
    "Reports progress, then asks the user (elicitation, multi-round)",
    EX_NO_ARGS, NULL, streaming_elicitation_call, NULL
};

/* server-stateless: logs at info, which a 2026-07-28 client receives only
 * when its request's _meta names a log level. */
static apr_status_t logging_tool_call(mcp_call_t *call, void *baton)
{
    apr_status_t rv;

    rv = mcp_call_log(call, MCP_LOG_INFO, "test_logging_tool", "started");
    if (rv == APR_SUCCESS) {
        rv = mcp_call_log(call, MCP_LOG_INFO, "test_logging_tool",
                          "finished");
    }
    if (rv != APR_SUCCESS) {
        return rv;
    }
    return mcp_call_add_text(call, "Logged two messages at info.");
}

static const mcp_tool_t stateless_logging_tool = {
    "test_logging_tool", NULL,
    "Emits two log messages at info (only to a request that asks for logs)",
    EX_NO_ARGS, NULL, logging_tool_call, NULL
};

/* http-custom-header-server-validation: arguments a 2026-07-28 client
 * mirrors into Mcp-Param-Region and Mcp-Param-Priority headers, which
 * mod_mcp_session checks against the body. */
static apr_status_t custom_headers_call(mcp_call_t *call, void *baton)
{
    const char *region = mcp_call_arg_string(call, "region");
    const char *query = mcp_call_arg_string(call, "query");
    double priority;
    int has_priority = mcp_call_arg_number(call, "priority", &priority);

    if (!region) {
        return mcp_call_tool_error(call, "Invalid arguments: 'region' must "
                                   "be a string");
    }
    return mcp_call_add_text(call, apr_psprintf(call->pool,
                                                "region=%s priority=%s "
                                                "query=%s", region,
                                                has_priority ?
                                                js_number(call->pool,
                                                          priority) : "-",
                                                query ? query : "-"));
}

static const mcp_tool_t custom_headers_tool = {
    "test_custom_headers", NULL,
    "Arguments mirrored in Mcp-Param-* headers (x-mcp-header)",
    "{\"type\":\"object\",\"properties\":{"
    "\"region\":{\"type\":\"string\",\"x-mcp-header\":\"Region\"},"
    "\"priority\":{\"type\":\"integer\",\"x-mcp-header\":\"Priority\"},"
    "\"query\":{\"type\":\"string\"}},\"required\":[\"region\"]}",
    NULL, custom_headers_call, NULL
};

/* ------------------------------------------------------------------ */
/* Resources                                                           */

#define EX_STATIC_TEXT      "test://static-text"
#define EX_STATIC_BINARY    "test://static-binary"
#define EX_WATCHED          "test://watched-resource"
#define EX_TEMPLATE_PREFIX  "test://template/"
#define EX_TEMPLATE_SUFFIX  "/data"

static apr_status_t static_text_read(mcp_call_t *call, const char *uri,
                                     void *baton)
{
    if (strcmp(uri, EX_STATIC_TEXT) != 0) {
        return APR_NOTFOUND;
    }
    return mcp_call_add_resource_text(call, uri, "text/plain",
                                      "This is the content of the static "
                                      "text resource.");
}

static const mcp_resource_t static_text_resource = {
    EX_STATIC_TEXT, NULL, "static-text", "Static Text Resource",
    "A static text resource for testing", "text/plain",
    static_text_read, NULL, NULL
};

static apr_status_t static_binary_read(mcp_call_t *call, const char *uri,
                                       void *baton)
{
    if (strcmp(uri, EX_STATIC_BINARY) != 0) {
        return APR_NOTFOUND;
    }
    return mcp_call_add_resource_blob(call, uri, "image/png", EX_PNG_BASE64);
}

static const mcp_resource_t static_binary_resource = {
    EX_STATIC_BINARY, NULL, "static-binary", "Static Binary Resource",
    "A static binary resource (1x1 PNG image) for testing", "image/png",
    static_binary_read, NULL, NULL
};

static apr_status_t watched_read(mcp_call_t *call, const char *uri,
                                 void *baton)
{
    if (strcmp(uri, EX_WATCHED) != 0) {
        return APR_NOTFOUND;
    }
    return mcp_call_add_resource_text(call, uri, "text/plain",
                                      "Watched resource content");
}

static const mcp_resource_t watched_resource = {
    EX_WATCHED, NULL, "watched-resource", "Watched Resource",
    "A resource that can be subscribed to for update notifications",
    "text/plain", watched_read, NULL, NULL
};

/* test://template/{id}/data: {id} is one non-empty path segment. */
static apr_status_t template_read(mcp_call_t *call, const char *uri,
                                  void *baton)
{
    apr_size_t plen = sizeof(EX_TEMPLATE_PREFIX) - 1;
    apr_size_t slen = sizeof(EX_TEMPLATE_SUFFIX) - 1;
    apr_size_t len = strlen(uri);
    const char *id;
    json_t *doc;
    char *text;
    size_t n;
    apr_status_t rv;

    if (len <= plen + slen || strncmp(uri, EX_TEMPLATE_PREFIX, plen) != 0
        || strcmp(uri + len - slen, EX_TEMPLATE_SUFFIX) != 0) {
        return APR_NOTFOUND;
    }
    id = apr_pstrmemdup(call->pool, uri + plen, len - plen - slen);
    if (strchr(id, '/')) {
        return APR_NOTFOUND;
    }
    doc = json_pack("{s:s, s:b, s:s}", "id", id, "templateTest", 1, "data",
                    apr_pstrcat(call->pool, "Data for ID: ", id, NULL));
    if (!doc) {
        return APR_ENOMEM;
    }
    /* into pool memory: json_dumps' buffer would need jansson's own free,
     * which another module may have replaced */
    n = json_dumpb(doc, NULL, 0, JSON_COMPACT | JSON_PRESERVE_ORDER);
    text = n ? apr_palloc(call->pool, n + 1) : NULL;
    if (text) {
        json_dumpb(doc, text, n, JSON_COMPACT | JSON_PRESERVE_ORDER);
        text[n] = '\0';
    }
    json_decref(doc);
    if (!text) {
        return APR_ENOMEM;
    }
    rv = mcp_call_add_resource_text(call, uri, "application/json", text);
    return rv;
}

static apr_status_t template_complete(mcp_call_t *call, const char *argument,
                                      const char *value, void *baton)
{
    static const char *const ids[] = { "1", "2", "3", "42", "123", NULL };

    if (strcmp(argument, "id") != 0) {
        return APR_SUCCESS;     /* nothing to offer */
    }
    return complete_from(call, ids, value);
}

static const mcp_resource_t template_resource = {
    NULL, EX_TEMPLATE_PREFIX "{id}" EX_TEMPLATE_SUFFIX, "template",
    "Resource Template",
    "A resource template with parameter substitution", "application/json",
    template_read, template_complete, NULL
};

/* ------------------------------------------------------------------ */
/* Prompts                                                             */

static apr_status_t simple_prompt_get(mcp_call_t *call, void *baton)
{
    return add_text_message(call, "This is a simple prompt for testing.");
}

static const mcp_prompt_t simple_prompt = {
    "test_simple_prompt", NULL, "A simple prompt without arguments",
    NULL, simple_prompt_get, NULL, NULL
};

static const mcp_prompt_arg_t args_prompt_args[] = {
    { "arg1", "First test argument", 1 },
    { "arg2", "Second test argument", 1 },
    { NULL, NULL, 0 }
};

static apr_status_t args_prompt_get(mcp_call_t *call, void *baton)
{
    const char *arg1 = mcp_call_arg_string(call, "arg1");
    const char *arg2 = mcp_call_arg_string(call, "arg2");

    if (!arg1 || !arg2) {
        return mcp_call_invalid_params(call, "Missing required arguments "
                                       "'arg1' and 'arg2'");
    }
    return add_text_message(call, apr_psprintf(call->pool,
                                               "Prompt with arguments: "
                                               "arg1='%s', arg2='%s'",
                                               arg1, arg2));
}

static apr_status_t args_prompt_complete(mcp_call_t *call,
                                         const char *argument,
                                         const char *value, void *baton)
{
    static const char *const arg1_values[] = {
        "paris", "park", "party", "hello", NULL
    };
    static const char *const arg2_values[] = {
        "world", "word", "work", NULL
    };

    if (strcmp(argument, "arg1") == 0) {
        return complete_from(call, arg1_values, value);
    }
    if (strcmp(argument, "arg2") == 0) {
        return complete_from(call, arg2_values, value);
    }
    return APR_SUCCESS;
}

static const mcp_prompt_t args_prompt = {
    "test_prompt_with_arguments", NULL, "A prompt with required arguments",
    args_prompt_args, args_prompt_get, args_prompt_complete, NULL
};

static const mcp_prompt_arg_t embedded_prompt_args[] = {
    { "resourceUri", "URI of the resource to embed", 1 },
    { NULL, NULL, 0 }
};

static apr_status_t embedded_prompt_get(mcp_call_t *call, void *baton)
{
    const char *uri = mcp_call_arg_string(call, "resourceUri");
    apr_status_t rv;

    if (!uri) {
        return mcp_call_invalid_params(call, "Missing required argument "
                                       "'resourceUri'");
    }
    rv = add_message_owned(call, "user",
                           json_pack("{s:s, s:{s:s, s:s, s:s}}",
                                     "type", "resource", "resource",
                                     "uri", uri, "mimeType", "text/plain",
                                     "text", "Embedded resource content for "
                                     "testing."));
    if (rv == APR_SUCCESS) {
        rv = add_text_message(call, "Please process the embedded resource "
                              "above.");
    }
    return rv;
}

static const mcp_prompt_t embedded_prompt = {
    "test_prompt_with_embedded_resource", NULL,
    "A prompt that includes an embedded resource",
    embedded_prompt_args, embedded_prompt_get, NULL, NULL
};

static apr_status_t image_prompt_get(mcp_call_t *call, void *baton)
{
    apr_status_t rv;

    rv = add_message_owned(call, "user",
                           json_pack("{s:s, s:s, s:s}", "type", "image",
                                     "data", EX_PNG_BASE64,
                                     "mimeType", "image/png"));
    if (rv == APR_SUCCESS) {
        rv = add_text_message(call, "Please analyze the image above.");
    }
    return rv;
}

static const mcp_prompt_t image_prompt = {
    "test_prompt_with_image", NULL, "A prompt that includes image content",
    NULL, image_prompt_get, NULL, NULL
};

/* A prompt that asks the user first (multi-round, like the tools). */
static apr_status_t mrtr_prompt_get(mcp_call_t *call, void *baton)
{
    int declined = 0;
    const char *context = elicited_string(call, "user_context", "context",
                                          &declined);

    if (context) {
        return add_text_message(call, apr_pstrcat(call->pool, "Answer with "
                                                  "this context in mind: ",
                                                  context, NULL));
    }
    if (declined) {
        return add_text_message(call, "Answer without any particular "
                                "context.");
    }
    return asked(ask_elicitation(call, "user_context",
                                 "What context should the prompt use?",
                                 EX_SCHEMA_STRING("context")));
}

static const mcp_prompt_t mrtr_prompt = {
    "test_input_required_result_prompt", NULL,
    "Asks the user for the context first (multi-round prompts/get)",
    NULL, mrtr_prompt_get, NULL, NULL
};

/* ------------------------------------------------------------------ */
/* Registration                                                        */

/* echo and add are always served; the rest are what the conformance suite
 * expects (some sleep, some stream), served only with MCPExampleTestTools
 * on, so that a plain configuration offers nothing slow. */
static const mcp_tool_t *const test_tools[] = {
    &simple_text_tool, &image_tool, &audio_tool,
    &embedded_tool, &mixed_tool, &logging_tool, &progress_tool, &error_tool,
    &schema_2020_12_tool, &sampling_tool, &elicitation_tool,
    &elicitation_defaults_tool, &elicitation_enums_tool, &sleep_tool,
    &mrtr_elicitation_tool, &mrtr_sampling_tool, &mrtr_roots_tool,
    &mrtr_request_state_tool, &mrtr_multiple_tool, &mrtr_multi_round_tool,
    &mrtr_tampered_state_tool, &mrtr_capabilities_tool,
    &missing_capability_tool, &streaming_elicitation_tool, &stateless_logging_tool,
    &custom_headers_tool, NULL
};

static const mcp_resource_t *const test_resources[] = {
    &static_text_resource, &static_binary_resource, &watched_resource,
    &template_resource, NULL
};

static const mcp_prompt_t *const test_prompts[] = {
    &simple_prompt, &args_prompt, &embedded_prompt, &image_prompt,
    &mrtr_prompt, NULL
};

/* Providers registered while the configuration is read live in pconf,
 * like those of register_hooks, and are listed by mod_mcp_session's
 * post_config. */
static const char *set_test_tools(cmd_parms *cmd, void *dc, int on)
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    int i;

    if (err || !on) {
        return err;
    }
    for (i = 0; test_tools[i]; i++) {
        mcp_register_tool(cmd->pool, test_tools[i]);
    }
    for (i = 0; test_resources[i]; i++) {
        mcp_register_resource(cmd->pool, test_resources[i]);
    }
    for (i = 0; test_prompts[i]; i++) {
        mcp_register_prompt(cmd->pool, test_prompts[i]);
    }
    return NULL;
}

static const command_rec example_cmds[] = {
    AP_INIT_FLAG("MCPExampleTestTools", set_test_tools, NULL, RSRC_CONF,
                 "Also serve the conformance suite's test tools, resources "
                 "and prompts (default off)"),
    { NULL }
};

static void register_hooks(apr_pool_t *p)
{
    mcp_register_tool(p, &echo_tool);
    mcp_register_tool(p, &add_tool);
}

AP_DECLARE_MODULE(mcp_example) = {
    STANDARD20_MODULE_STUFF,
    NULL,                       /* per-directory config creator */
    NULL,                       /* per-directory config merger */
    NULL,                       /* per-server config creator */
    NULL,                       /* per-server config merger */
    example_cmds,               /* command table */
    register_hooks,
#if defined(AP_MODULE_FLAG_ALWAYS_MERGE)
    AP_MODULE_FLAG_NONE
#endif
};
