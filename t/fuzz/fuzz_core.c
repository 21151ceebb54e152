/*
 * libFuzzer target for the httpd-free core: any bytes as a POST body go
 * through JSON-RPC parsing, then every request through the MCP methods of
 * a registry with a tool, a resource template and a prompt, every
 * stored-record path through the record parser, the bytes as a
 * backend's SSE answer read in one piece and in two, as a header value
 * of the 2026-07-28 checks, as a sealed requestState, as a state
 * that must round-trip through sealing, as a WWW-Authenticate value to
 * complete (and as a quoted value and a resource URL).
 *
 *   make -f Makefile.apxs fuzz        (builds t/fuzz/fuzz_core with clang)
 *   ./t/fuzz/fuzz_core -max_total_time=60 t/fuzz/corpus
 */
#include <stdlib.h>
#include <string.h>
#include "apr_general.h"
#include "apr_strings.h"
#include "mcp_era.h"
#include "mcp_json.h"
#include "mcp_oauth.h"
#include "mcp_protocol.h"
#include "mcp_record.h"
#include "mcp_registry.h"
#include "mcp_rpc.h"
#include "mcp_sse.h"
#include "mcp_state.h"

static apr_status_t echo(mcp_call_t *call, void *baton)
{
    const char *text = mcp_call_arg_string(call, "text");
    double n;
    mcp_call_progress(call, 1, 2, "half");
    mcp_call_log(call, MCP_LOG_INFO, "fuzz", text ? text : "none");
    if (mcp_call_arg_number(call, "n", &n) && n < 0) {
        return mcp_call_tool_error(call, "negative");
    }
    return mcp_call_add_text(call, text ? text : "");
}

static apr_status_t read_item(mcp_call_t *call, const char *uri, void *baton)
{
    const char *id = mcp_call_arg_string(call, "id");
    return id && *id == 'x' ? APR_NOTFOUND
                            : mcp_call_add_resource_text(call, uri, NULL, id);
}

static apr_status_t complete(mcp_call_t *call, const char *arg,
                             const char *value, void *baton)
{
    return mcp_call_add_completion(call, value);
}

static apr_status_t prompt(mcp_call_t *call, void *baton)
{
    json_t *c = json_pack("{s:s, s:s}", "type", "text", "text", "hi");
    apr_status_t rv = mcp_call_add_message(call, "user", c);
    json_decref(c);
    return rv;
}

static const mcp_tool_t tool = { "echo", NULL, NULL,
    "{\"type\":\"object\",\"properties\":{\"text\":{\"type\":\"string\"},"
    "\"n\":{\"type\":\"integer\"}},\"required\":[\"text\"]}", NULL, echo, NULL };
static const mcp_resource_t tpl = { NULL, "t://{a}/{b}", "tpl", NULL, NULL,
    NULL, read_item, complete, NULL };
static const mcp_prompt_arg_t args[] = { { "who", NULL, 1 }, { NULL } };
static const mcp_prompt_t pr = { "p", NULL, NULL, args, prompt, complete, NULL };

static apr_pool_t *root;
static mcp_registry_t *reg;
static mcp_state_ring_t *ring;
static json_t *param_schema;

/* every header but the version is the input itself */
static const char *fuzz_header(void *baton, const char *name)
{
    return strcmp(name, "MCP-Protocol-Version") ? baton : MCP_ERA_MODERN_LATEST;
}

static apr_status_t drop(void *baton, json_t *msg)
{
    return APR_SUCCESS;
}

/* Scan data as an SSE stream, cut in two at `cut`. */
static apr_status_t scan_cut(apr_pool_t *p, const char *data, size_t size,
                             size_t cut, const json_t *id, json_t **msg)
{
    mcp_sse_scanner_t *sc = mcp_sse_scanner_create(p, id, 1024);
    apr_status_t rv = mcp_sse_scan(sc, data, cut, msg);
    if (rv == APR_INCOMPLETE) {
        rv = mcp_sse_scan(sc, data + cut, size - cut, msg);
    }
    return rv;
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    apr_pool_t *p;
    mcp_batch_t *b;
    mcp_session_t *s, *t;
    mcp_ctx_t ctx;
    const char *msg;
    apr_size_t len;
    char *rec;
    int code, i;

    if (!root) {
        apr_initialize();
        atexit(apr_terminate);   /* frees the registry: no false leak report */
        apr_pool_create(&root, NULL);
        reg = mcp_registry_create(root, "fuzz", "1");
        mcp_registry_add_tool(reg, &tool);
        mcp_registry_add_resource(reg, &tpl);
        mcp_registry_add_prompt(reg, &pr);
        mcp_registry_seal(reg);
        ring = mcp_state_ring_make(root);
        mcp_state_ring_add(ring, (const unsigned char *)
                           "0123456789abcdef0123456789abcdef", 32);
        param_schema = json_loads("{\"properties\":{\"t\":{\"x-mcp-header\":\"T\"},"
            "\"n\":{\"x-mcp-header\":\"N\"},\"o\":{\"properties\":{\"b\":"
            "{\"x-mcp-header\":\"B\"}}}}}", 0, NULL);
    }
    apr_pool_create(&p, root);
    {
        /* the input as a header, a sealed state and a state to seal */
        const char *text = apr_pstrmemdup(p, (const char *)data, size), *v, *st, *why;
        mcp_state_bind_t bind = { "u", "e", "tools/call", "echo", NULL };
        int bad;
        v = mcp_era_header_value(p, text, &bad);
        if (!bad && (!v || !mcp_json_utf8_valid(v, strlen(v)))) {
            __builtin_trap();
        }
        mcp_state_open(p, ring, &bind, text, 0, &st, &why);
        v = mcp_state_seal(p, ring, &bind, text, 0, MCP_STATE_TTL);
        if (v && (mcp_state_open(p, ring, &bind, v, 0, &st, &why) != APR_SUCCESS
                  || strcmp(st, text))) {
            __builtin_trap();   /* what we seal we must open */
        }
    }
    {
        /* the input as an auth module's WWW-Authenticate value (up to a
         * NUL: a header has none) */
        const char *text = apr_pstrmemdup(p, (const char *)data, size), *m, *again, *c;
        mcp_oauth_challenge_t ch = { "https://h/.well-known/oauth-protected-resource/mcp",
                                     "mcp:tools", NULL, NULL };
        int n, n2;
        m = mcp_oauth_challenge_merge(p, text, &ch, &n);
        if (n < 0 ? m != text : !m) {
            __builtin_trap();   /* malformed comes back unchanged */
        }
        if (n >= 0) {
            /* what we completed parses, has as many Bearers, and needs
             * nothing more */
            again = mcp_oauth_challenge_merge(p, m, &ch, &n2);
            if (n2 != n || again != m || strlen(m) < strlen(text)) {
                __builtin_trap();
            }
        }
        /* any text quoted into a new challenge keeps it one Bearer */
        ch.error_description = text;
        c = mcp_oauth_challenge_new(p, &ch);
        m = mcp_oauth_challenge_merge(p, c, &ch, &n);
        if (n != 1 || m != c) {
            __builtin_trap();
        }
        /* a canonical resource is its own canonical form and has a
         * metadata location */
        c = mcp_oauth_resource_canonical(p, text);
        if (c && (!(m = mcp_oauth_resource_canonical(p, c)) || strcmp(m, c)
                  || !mcp_oauth_metadata_url(p, c))) {
            __builtin_trap();
        }
    }
    if (mcp_record_parse_fast(p, (const char *)data, size, &t) == APR_SUCCESS) {
        mcp_session_t *u;
        /* where the fast reader answers, jansson must agree (it may
         * refuse nested garbage the fast reader only delimits) */
        if (mcp_record_parse_slow(p, (const char *)data, size, &u) == APR_SUCCESS
            && !mcp_record_same(p, t, u)) {
            __builtin_trap();
        }
    }
    {
        /* our dumper must write exactly what jansson writes */
        json_t *any = mcp_json_load(p, (const char *)data, size);
        json_t *mine = mcp_json_parse(p, (const char *)data, size);
        /* our reader must agree with jansson on every input but those
         * with a raw NUL byte, which jansson's reader sometimes skips
         * ("4\\0" is 4 to it) and ours always refuses */
        if (!memchr(data, 0, size)
            && ((!any != !mine) || (any && !json_equal(any, mine)))) {
            __builtin_trap();
        }
        {
            /* with limits it reads the same or gives up for a limit,
             * never for another reason; its estimate never undercounts
             * (the unit tests hold it to jansson's real allocations) */
            mcp_json_limits_t lim = { size * 4, 3 };
            mcp_json_status_e why;
            apr_size_t cost;
            json_t *b = mcp_json_parse_bounded(p, (const char *)data, size,
                                               &lim, &why, &cost);
            if ((b && (why != MCP_JSON_OK || !mine || !json_equal(b, mine)))
                || (!b && why == MCP_JSON_OK)
                || (!b && why == MCP_JSON_INVALID && mine)
                || (why == MCP_JSON_TOO_COSTLY && cost <= lim.max_cost)) {
                __builtin_trap();
            }
        }
        if (any) {
            char *theirs = json_dumps(any, JSON_COMPACT | JSON_ENCODE_ANY);
            char *ours = mcp_json_dump(p, any, NULL);
            if (theirs && (!ours || strcmp(theirs, ours))) {
                __builtin_trap();
            }
            free(theirs);
        }
    }
    {
        /* where a stream is cut never changes what is found in it */
        json_t *id = mcp_json_pool_own(p, json_integer(1));
        json_t *one = NULL, *two = NULL;
        apr_status_t r1 = scan_cut(p, (const char *)data, size, size, id, &one);
        apr_status_t r2 = scan_cut(p, (const char *)data, size,
                                   size ? data[0] % (size + 1) : 0, id, &two);
        if (r1 != r2 || (r1 == APR_SUCCESS && !json_equal(one, two))) {
            __builtin_trap();
        }
    }
    b = mcp_rpc_parse(p, (const char *)data, size, &code, &msg);
    if (b) {
        const mcp_msg_t *m0 = &APR_ARRAY_IDX(b->msgs, 0, mcp_msg_t);
        char *hv = apr_pstrmemdup(p, (const char *)data, size);
        mcp_era_error_t *e;
        mcp_era_classify(b, hv, size & 1);
        e = mcp_era_check(p, b, fuzz_header, hv);
        json_decref(e ? e->data : NULL);
        e = mcp_era_check_params(p, param_schema,
                                 json_object_get(m0->params, "arguments"),
                                 fuzz_header, hv);
        json_decref(e ? e->data : NULL);
        mcp_record_new(p, &s);
        mcp_protocol_ctx_init(&ctx, p, reg, s, 0);
        ctx.emit = drop;
        for (i = 0; i < b->msgs->nelts; i++) {
            const mcp_msg_t *m = &APR_ARRAY_IDX(b->msgs, i, mcp_msg_t);
            if (m->kind != MCP_MSG_REQUEST) {
                mcp_protocol_notification(&ctx, m);
            }
            else if (!strcmp(m->method, "initialize")) {
                json_decref(mcp_protocol_initialize(&ctx, m));
            }
            else {
                json_decref(mcp_protocol_request(&ctx, m));
            }
        }
        rec = mcp_record_serialize(p, s, 960, &len);
        if (rec && mcp_record_parse(p, rec, len, &t) != APR_SUCCESS) {
            __builtin_trap();   /* what we write we must read back */
        }
    }
    apr_pool_destroy(p);
    return 0;
}
