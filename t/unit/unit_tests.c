/*
 * Unit tests of the httpd-free core of mod_mcp_session: JSON-RPC parsing,
 * session records and ids, SHA-256, the registry and the MCP methods
 * (both protocol eras, multi-round calls).
 * Run by `make -f Makefile.apxs unit`; prints TAP and "N passed, M failed".
 */
#include <locale.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include "apr_general.h"
#include "apr_strings.h"
#include "apr_hash.h"
#include "apr_lib.h"
#include "mcp_era.h"
#include "mcp_json.h"
#include "mcp_protocol.h"
#include "mcp_record.h"
#include "mcp_registry.h"
#include "mcp_rpc.h"
#include "mcp_sha256.h"
#include "mcp_sse.h"

static int passed, failed;

#define CHECK(cond, name) do {                                          \
    if (cond) { passed++; printf("ok %d - %s\n", passed + failed, name); } \
    else { failed++; printf("not ok %d - %s (%s:%d)\n", passed + failed, \
                            name, __FILE__, __LINE__); }                 \
} while (0)

static apr_pool_t *pool;

/* ------------------------------------------------------------------ */

static void test_sha256(void)
{
    char hex[65];
    mcp_sha256_hex("", 0, hex);
    CHECK(!strcmp(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
          "sha256 of the empty string");
    mcp_sha256_hex("abc", 3, hex);
    CHECK(!strcmp(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
          "sha256 of abc");
    mcp_sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56, hex);
    CHECK(!strcmp(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
          "sha256 of the 56-byte two-block vector");
}

static mcp_batch_t *parse(const char *body, int *code, const char **msg)
{
    *code = 0;
    *msg = NULL;
    return mcp_rpc_parse(pool, body, strlen(body), code, msg);
}

static void test_rpc(void)
{
    const char *msg;
    mcp_batch_t *b;
    int code;

    b = parse("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}", &code, &msg);
    CHECK(b && !b->is_array && b->requests == 1
          && APR_ARRAY_IDX(b->msgs, 0, mcp_msg_t).kind == MCP_MSG_REQUEST,
          "a request is a request");
    b = parse("{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}",
              &code, &msg);
    CHECK(b && b->requests == 0
          && APR_ARRAY_IDX(b->msgs, 0, mcp_msg_t).kind == MCP_MSG_NOTIFICATION,
          "a notification has no id");
    b = parse("{\"jsonrpc\":\"2.0\",\"id\":\"s-1\",\"result\":{}}", &code, &msg);
    CHECK(b && APR_ARRAY_IDX(b->msgs, 0, mcp_msg_t).kind == MCP_MSG_RESPONSE,
          "a response");
    b = parse("{bad", &code, &msg);
    CHECK(!b && code == MCP_ERR_PARSE && !strcmp(msg, "Parse error: Invalid JSON"),
          "invalid JSON is -32700 Invalid JSON");
    b = parse("{\"method\":\"tools/list\",\"id\":1}", &code, &msg);
    CHECK(!b && code == MCP_ERR_PARSE
          && !strcmp(msg, "Parse error: Invalid JSON-RPC message"),
          "missing jsonrpc is not JSON-RPC");
    b = parse("{\"jsonrpc\":\"2.0\",\"id\":null,\"method\":\"ping\"}", &code, &msg);
    CHECK(!b, "a null id is refused");
    b = parse("{\"jsonrpc\":\"2.0\",\"id\":1.5,\"method\":\"ping\"}", &code, &msg);
    CHECK(!b, "a fractional id is refused");
    b = parse("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\",\"params\":[1]}",
              &code, &msg);
    CHECK(!b, "array params are refused");
    b = parse("{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{},\"error\":{}}", &code, &msg);
    CHECK(!b, "result and error together are refused");
    b = parse("[]", &code, &msg);
    CHECK(!b, "an empty batch is refused");
    b = parse("{\"jsonrpc\":\"2.0\",\"id\":1,\"id\":2,\"method\":\"ping\"}", &code, &msg);
    CHECK(!b && code == MCP_ERR_PARSE, "duplicate keys are refused");
    b = parse("[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"},"
              "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/x\"}]", &code, &msg);
    CHECK(b && b->is_array && b->msgs->nelts == 2 && b->requests == 1,
          "a batch of a request and a notification");
    b = parse("[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\"}]", &code, &msg);
    CHECK(b && b->has_initialize, "initialize is noticed");
    {
        char *big = apr_palloc(pool, 101 * 40 + 3);
        int i, o = 0;
        big[o++] = '[';
        for (i = 0; i < 101; i++) {
            o += sprintf(big + o, "%s{\"jsonrpc\":\"2.0\",\"method\":\"n\"}",
                         i ? "," : "");
        }
        big[o++] = ']';
        big[o] = '\0';
        b = parse(big, &code, &msg);
        CHECK(!b && code == MCP_ERR_INVALID_REQUEST, "batches over 100 are refused");
    }
    CHECK(!strcmp(mcp_rpc_error_body(pool, -32001, "Session not found"),
                  "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32001,\"message\":"
                  "\"Session not found\"},\"id\":null}"),
          "error body has the SDK's shape");
}

static void test_dump(void)
{
    const char *samples[] = {
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"content\":[{\"type\":\"text\","
        "\"text\":\"hi\"}]}}",
        "[1,-2,3.5,1e+300,true,false,null,\"\",{},[]]",
        "\"quote \\\" backslash \\\\ nl \\n tab \\t ctl \\u0001 \\u001f del \x7f\"",
        "{\"k\\\"ey\":\"caf\xc3\xa9 \xe2\x82\xac\",\"n\":-9223372036854775807}",
        NULL
    };
    int i, ok = 1;

    for (i = 0; samples[i]; i++) {
        json_t *j = mcp_json_load(pool, samples[i], strlen(samples[i]));
        char *theirs = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
        char *ours = mcp_json_dump(pool, j, NULL);
        if (!j || !theirs || !ours || strcmp(theirs, ours)) {
            printf("# %s\n# jansson: %s\n# ours:    %s\n", samples[i],
                   theirs ? theirs : "(null)", ours ? ours : "(null)");
            ok = 0;
        }
        free(theirs);
    }
    CHECK(ok, "our compact dump writes exactly what jansson writes");
}

/* Our reader must accept exactly what jansson accepts, with equal values. */
static int same_as_jansson(const char *text, apr_size_t len)
{
    json_t *a = mcp_json_parse(pool, text, len);
    json_t *b = mcp_json_load(pool, text, len);
    return (!a && !b) || (a && b && json_equal(a, b));
}

static void test_parse(void)
{
    const char *accept[] = {
        "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/call\",\"params\":"
        "{\"name\":\"echo\",\"arguments\":{\"text\":\"hello world\"}}}",
        " [ 0 , -0 , -1.5e-3 , 1E+2 , 12345678901234567 , true , false , null ] ",
        "\"esc \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\u00e9 \\ud83d\\ude00\"",
        "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"",
        "{\"a\":{\"b\":[{},[]]},\"\\u0041\":1}",
        "1e-400",
        "0.0000000000000000000000000000000000000000000000000000000000000000000001",
        NULL
    };
    const char *refuse[] = {
        "", " ", "{", "[1,]", "{\"a\":1,}", "01", "1.", "-", "+1", ".5", "1e",
        "{\"a\":1,\"a\":2}", "\"\\u0000\"", "\"\\ud800\"", "\"\\udc00\"",
        "\"\\ud800\\u0041\"", "\"\x01\"", "\"\xc0\xaf\"", "\"\xed\xa0\x80\"",
        "\"\xf4\x90\x80\x80\"", "\"\xe2\x82\"", "tru", "nul", "1e999",
        "99999999999999999999", "{\"a\" 1}", "[1 2]", "\"\\x\"", "{1:2}",
        "[1]x", "\"abc", NULL
    };
    char *deep;
    int i, ok = 1;

    for (i = 0; accept[i]; i++) {
        if (!mcp_json_parse(pool, accept[i], strlen(accept[i]))
            || !same_as_jansson(accept[i], strlen(accept[i]))) {
            printf("# accept[%d] differs\n", i);
            ok = 0;
        }
    }
    CHECK(ok, "our reader reads what jansson reads, with the same values");
    ok = 1;
    for (i = 0; refuse[i]; i++) {
        if (mcp_json_parse(pool, refuse[i], strlen(refuse[i]))
            || !same_as_jansson(refuse[i], strlen(refuse[i]))) {
            printf("# refuse[%d] differs: %s\n", i, refuse[i]);
            ok = 0;
        }
    }
    CHECK(ok, "our reader refuses what jansson refuses");
    {
        const char *nul_key = "{\"a\\u0000b\":1}";
        CHECK(!mcp_json_parse(pool, nul_key, strlen(nul_key))
              && same_as_jansson(nul_key, strlen(nul_key)),
              "a NUL in a key is refused alike");
    }
    CHECK(!mcp_json_parse(pool, "4\0 ", 3), "a raw NUL byte is refused");

    deep = apr_palloc(pool, 2 * 2049 + 1);
    memset(deep, '[', 2048);
    memset(deep + 2048, ']', 2048);
    CHECK(mcp_json_parse(pool, deep, 4096) && same_as_jansson(deep, 4096),
          "2048 levels of nesting are read");
    memset(deep, '[', 2049);
    memset(deep + 2049, ']', 2049);
    CHECK(!mcp_json_parse(pool, deep, 4098) && same_as_jansson(deep, 4098),
          "2049 levels are refused, as jansson does");
}

/* ------------------------------------------------------------------ */
/* What parsing costs: jansson's allocations counted as glibc would size
 * them (16-byte chunks with an 8-byte header, 32 at least). Only inside a
 * counted() section, which must free everything it made: a block's header
 * says which allocator made it. */

static size_t heap_live, heap_peak;

static size_t chunk_of(size_t n)
{
    size_t c = (n + 8 + 15) & ~(size_t)15;
    return c < 32 ? 32 : c;
}

static void *counting_malloc(size_t n)
{
    size_t *p = malloc(n + 16);
    if (!p) {
        return NULL;
    }
    p[0] = n;
    heap_live += chunk_of(n);
    if (heap_live > heap_peak) {
        heap_peak = heap_live;
    }
    return p + 2;
}

static void counting_free(void *q)
{
    size_t *p;
    if (q) {
        p = (size_t *)q - 2;
        heap_live -= chunk_of(p[0]);
        free(p);
    }
}

/* Start counting (a sub-pool for the section), or end it. */
static apr_pool_t *counted(int on)
{
    static apr_pool_t *sub;
    if (on) {
        apr_pool_create(&sub, pool);
        json_set_alloc_funcs(counting_malloc, counting_free);
        heap_live = heap_peak = 0;
        return sub;
    }
    apr_pool_destroy(sub);      /* releases what the section made */
    json_set_alloc_funcs(malloc, free);
    return NULL;
}

/* n bytes: pre, item joined with commas as often as fits, post, spaces */
static char *shape(apr_size_t n, const char *pre, const char *item,
                   const char *post)
{
    char *b = apr_palloc(pool, n + 1);
    apr_size_t o = strlen(pre), il = strlen(item), pl = strlen(post);
    int first = 1;
    memcpy(b, pre, o);
    while (o + il + 1 + pl <= n) {
        if (!first) {
            b[o++] = ',';
        }
        first = 0;
        memcpy(b + o, item, il);
        o += il;
    }
    memcpy(b + o, post, pl);
    o += pl;
    memset(b + o, ' ', n - o);
    b[n] = '\0';
    return b;
}

#define MSG_PRE "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\"," \
                "\"params\":{\"name\":\"t\",\"arguments\":{\"x\":["
#define MSG_POST "]}}}"

static void test_budget(void)
{
    static const struct { const char *pre, *item, *post; } shapes[] = {
        { "[", "{}", "]" }, { "[", "[]", "]" }, { "[", "1", "]" },
        { "[", "1.5", "]" }, { "[", "\"\"", "]" }, { "[", "\"abcdefgh\"", "]" },
        { "[", "null", "]" }, { "[", "{\"a\":1}", "]" }, { "[", "[[]]", "]" },
        { "[", "{\"\\u0061\":\"\\n\"}", "]" }, { "[", "{\"a\":{\"b\":{}}}", "]" },
    };
    const apr_size_t len = 256 * 1024, big = 1024 * 1024;
    apr_size_t cost, max = MCP_RPC_COST_FLOOR + MCP_RPC_COST_FACTOR * big;
    mcp_json_limits_t lim = { 0, 0 };
    mcp_json_status_e why;
    apr_pool_t *p;
    const char *msg;
    char *text;
    json_t *j;
    int i, code, ok = 1;
    char k[32];

    /* the estimate is never below what jansson really allocates, nor far
     * above it */
    for (i = 0; i < (int)(sizeof(shapes) / sizeof(shapes[0])); i++) {
        text = shape(len, shapes[i].pre, shapes[i].item, shapes[i].post);
        p = counted(1);
        j = mcp_json_parse_bounded(p, text, len, NULL, &why, &cost);
        if (!j || why != MCP_JSON_OK || heap_peak > cost || cost > 2 * heap_peak) {
            printf("# [%s,...]: peak %lu, estimated %lu\n", shapes[i].item,
                   (unsigned long)heap_peak, (unsigned long)cost);
            ok = 0;
        }
        counted(0);
    }
    {
        /* an object with many keys (hash buckets grow) */
        apr_size_t o = 1;
        text = apr_palloc(pool, len + 1);
        text[0] = '{';
        for (i = 0; o + 32 < len; i++) {
            o += (apr_size_t)sprintf(text + o, "%s\"key%d\":%d", i ? "," : "", i, i);
        }
        text[o++] = '}';
        p = counted(1);
        j = mcp_json_parse_bounded(p, text, o, NULL, &why, &cost);
        if (!j || heap_peak > cost || cost > 2 * heap_peak) {
            printf("# {\"keyN\":N,...}: peak %lu, estimated %lu\n",
                   (unsigned long)heap_peak, (unsigned long)cost);
            ok = 0;
        }
        counted(0);
    }
    CHECK(ok, "the cost estimate bounds jansson's real allocations (within 2x)");

    /* 1 MiB bodies of every shape inside a message: refused early, having
     * built no more than the budget */
    ok = 1;
    for (i = 0; i < (int)(sizeof(shapes) / sizeof(shapes[0])); i++) {
        mcp_batch_t *b;
        text = shape(big, MSG_PRE, shapes[i].item, MSG_POST);
        p = counted(1);
        b = mcp_rpc_parse(p, text, big, &code, &msg);
        if ((strcmp(shapes[i].item, "null")     /* nulls cost little */
             && (b || code != MCP_ERR_PARSE || !strstr(msg, "too many values")))
            || heap_peak > max) {
            printf("# 1 MiB of %s: %s (%d %s), peak %lu > %lu\n", shapes[i].item,
                   b ? "accepted" : "refused", code, b ? "" : msg,
                   (unsigned long)heap_peak, (unsigned long)max);
            ok = 0;
        }
        counted(0);
    }
    CHECK(ok, "costly bodies are refused -32700, within the budget");

    /* a top-level array stops at the batch limit */
    text = shape(big, "[", "{}", "]");
    p = counted(1);
    CHECK(!mcp_rpc_parse(p, text, big, &code, &msg)
          && code == MCP_ERR_INVALID_REQUEST && strstr(msg, "exceed 100")
          && heap_peak < 64 * 1024,
          "a long batch is refused -32600 after reading 101 elements");
    counted(0);
    text = apr_pstrcat(pool, shape(101 * 3, "[", "{}", ""), ",bad", NULL);
    CHECK(!mcp_rpc_parse(pool, text, strlen(text), &code, &msg)
          && code == MCP_ERR_INVALID_REQUEST, "what follows the 101st is not read");
    lim.max_top_items = 3;
    CHECK(mcp_json_parse_bounded(pool, "[1,2,3]", 7, &lim, &why, NULL)
          && why == MCP_JSON_OK
          && !mcp_json_parse_bounded(pool, "[1,2,3,4]", 9, &lim, &why, NULL)
          && why == MCP_JSON_TOO_MANY
          && mcp_json_parse_bounded(pool, "[[1,2,3,4]]", 11, &lim, &why, NULL),
          "the item limit is for the top-level array only");
    lim.max_top_items = 0;
    lim.max_cost = 1000;
    CHECK(!mcp_json_parse_bounded(pool, "[{},{},{},{},{}]", 16, &lim, &why, &cost)
          && why == MCP_JSON_TOO_COSTLY && cost > 1000
          && !mcp_json_parse_bounded(pool, "[{},{},{},{},{}", 15, NULL, &why, NULL)
          && why == MCP_JSON_INVALID,
          "the budget stops a parse; invalid JSON is told apart");

    /* what ordinary big bodies cost passes */
    text = shape(4 * big, MSG_PRE "\"", "a", "\"" MSG_POST);
    for (i = (int)strlen(MSG_PRE) + 1; text[i] == 'a' || text[i] == ','; i++) {
        text[i] = 'a';      /* one 4 MiB string */
    }
    CHECK(mcp_rpc_parse(pool, text, 4 * big, &code, &msg) != NULL,
          "a 4 MiB string is accepted");
    text = shape(100 * 1024, MSG_PRE, "{\"id\":12345,\"name\":\"abcdefgh\"}", MSG_POST);
    CHECK(mcp_rpc_parse(pool, text, 100 * 1024, &code, &msg) != NULL,
          "100 KB of small records is accepted");
    sprintf(k, "%d", MCP_RPC_MAX_BATCH);
    text = apr_pstrcat(pool, "[", shape(MCP_RPC_MAX_BATCH * 31 - 1, "",
                       "{\"jsonrpc\":\"2.0\",\"method\":\"n\"}", ""), "]", NULL);
    {
        mcp_batch_t *b = mcp_rpc_parse(pool, text, strlen(text), &code, &msg);
        CHECK(b && b->msgs->nelts == MCP_RPC_MAX_BATCH,
              apr_pstrcat(pool, "a batch of ", k, " is read", NULL));
    }
}

/* Numbers are read exactly and whatever the process's LC_NUMERIC (mod_php
 * may set a locale whose decimal point is ','; strtod then stops at '.'). */
static int real_is(const char *text, double want)
{
    json_t *j = mcp_json_parse(pool, text, strlen(text));
    return j && json_is_real(j) && json_real_value(j) == want;
}

static int int_is(const char *text, json_int_t want)
{
    json_t *j = mcp_json_parse(pool, text, strlen(text));
    return j && json_is_integer(j) && json_integer_value(j) == want;
}

static void test_numbers(void)
{
    static const char *same[] = {
        "0.1", "2.2250738585072014e-308", "1.7976931348623157e308", "5e-324",
        "4.9e-324", "2e-324", "1e-400", "0.30000000000000004", "123456789.987654321",
        "1E+2", "-0.0", "9007199254740993", "9007199254740993.0",
        "1.00000000000000011102230246251565404236316680908203125",
        "9223372036854775807", "-9223372036854775808", "9223372036854775808",
        "-9223372036854775809", "1e309", "-1e309", "[1.5,-2,3e-2]", NULL
    };
    const char *in_msg = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"x\","
                         "\"params\":{\"a\":1.5,\"b\":-0.25,\"c\":1e3}}";
    const char *msg;
    char *end, *dump;
    int i, ok = 1, code;
    mcp_batch_t *b;

    for (i = 0; same[i]; i++) {
        if (!same_as_jansson(same[i], strlen(same[i]))) {
            printf("# %s differs from jansson\n", same[i]);
            ok = 0;
        }
    }
    CHECK(ok, "numbers read as jansson reads them");
    CHECK(real_is("0.1", 0.1) && real_is("5e-324", 5e-324)
          && real_is("1.7976931348623157e308", 1.7976931348623157e308)
          && int_is("-9223372036854775808", INT64_MIN)
          && int_is("9223372036854775807", INT64_MAX) && int_is("-0", 0)
          && !mcp_json_parse(pool, "9223372036854775808", 19)
          && !mcp_json_parse(pool, "1e309", 5),
          "numbers are exact; out of range is refused");

    if (!setlocale(LC_NUMERIC, "de_DE.UTF-8")) {
        CHECK(0, "the de_DE.UTF-8 locale is available (make -f Makefile.apxs "
              "unit builds it into t/unit/locale; it needs the locales package)");
        return;
    }
    CHECK(!strcmp(localeconv()->decimal_point, ",")
          && strtod("1.5", &end) == 1 && *end == '.',
          "in de_DE.UTF-8 the decimal point is ',' and strtod stops at '.'");
    CHECK(real_is("1.5", 1.5) && real_is("1e3", 1000.0) && real_is("-0.25", -0.25)
          && real_is("2.5e-3", 0.0025) && int_is("42", 42),
          "in de_DE.UTF-8: 1.5, 1e3, -0.25 read exactly");
    b = mcp_rpc_parse(pool, in_msg, strlen(in_msg), &code, &msg);
    CHECK(b && json_real_value(json_object_get(b->msgs->nelts ? APR_ARRAY_IDX(
              b->msgs, 0, mcp_msg_t).params : NULL, "a")) == 1.5
          && json_real_value(json_object_get(APR_ARRAY_IDX(b->msgs, 0,
              mcp_msg_t).params, "b")) == -0.25
          && json_real_value(json_object_get(APR_ARRAY_IDX(b->msgs, 0,
              mcp_msg_t).params, "c")) == 1000.0,
          "in de_DE.UTF-8: numbers in a request are exact");
    dump = mcp_json_dump(pool, mcp_json_parse(pool, "[1.5,-0.25,1e3]", 15), NULL);
    CHECK(dump && !strcmp(dump, "[1.5,-0.25,1000.0]"),
          "in de_DE.UTF-8: reals are written with '.'");
    setlocale(LC_NUMERIC, "C");
}

/* Error bodies always carry a message, valid UTF-8 and of bounded size,
 * whatever bytes a client sent that it echoes. */
static int utf8_ok(const char *s)
{
    json_t *j = json_string(s);     /* jansson checks UTF-8 */
    json_decref(j);
    return j != NULL;
}

static const char *message_of(const char *body)
{
    json_t *j = mcp_json_load(pool, body, strlen(body));
    return json_string_value(json_object_get(json_object_get(j, "error"),
                                             "message"));
}

static void test_error_text(void)
{
    const char *m;
    char *longer = apr_palloc(pool, 5001);
    apr_size_t n;

    m = message_of(mcp_rpc_error_body(pool, -32000,
                                      "Forbidden: Invalid Origin header: "
                                      "http://\xe9vil.example"));
    CHECK(m && !strcmp(m, "Forbidden: Invalid Origin header: http://"
                          "\xef\xbf\xbdvil.example"),
          "an invalid byte in a message becomes U+FFFD");
    m = message_of(mcp_rpc_error_body(pool, -32000, "2025-\xff \xe2\x82 \xc0\xaf "
                                      "\xed\xa0\x80 caf\xc3\xa9 \xf0\x9f\x98\x80"));
    CHECK(m && !strcmp(m, "2025-\xef\xbf\xbd \xef\xbf\xbd\xef\xbf\xbd "
                          "\xef\xbf\xbd\xef\xbf\xbd \xef\xbf\xbd\xef\xbf\xbd"
                          "\xef\xbf\xbd caf\xc3\xa9 \xf0\x9f\x98\x80"),
          "cut, overlong and surrogate sequences too; valid ones are kept");
    memset(longer, 'a', 5000);
    longer[0] = '\xff';
    longer[5000] = '\0';
    m = message_of(mcp_rpc_error_body(pool, -32000, longer));
    n = m ? strlen(m) : 0;
    CHECK(m && n <= MCP_RPC_MESSAGE_MAX + 3 && n > MCP_RPC_MESSAGE_MAX - 8
          && !strncmp(m, "\xef\xbf\xbd" "aaa", 6) && !strcmp(m + n - 3, "...")
          && utf8_ok(m), "a long message is cut to the limit");
    memset(longer, 0, 5001);
    for (n = 0; n + 2 <= 3000; n += 2) {
        memcpy(longer + n, "\xc3\xa9", 2);
    }
    m = message_of(mcp_rpc_error_body(pool, -32000, longer));
    CHECK(m && utf8_ok(m) && strlen(m) <= MCP_RPC_MESSAGE_MAX + 3,
          "a long message is cut between characters");
    {
        json_t *e = mcp_json_pool_own(pool, mcp_rpc_error(NULL, -32602,
                                                          "Tool \x80 not found",
                                                          NULL));
        CHECK(!strcmp(json_string_value(json_object_get(json_object_get(e, "error"),
                                                        "message")),
                      "Tool \xef\xbf\xbd not found"),
              "JSON-RPC errors in responses are sanitised too");
    }
    CHECK(!strcmp(json_string_value(mcp_json_pool_own(pool, mcp_json_text("", 10))), "")
          && !strcmp(json_string_value(mcp_json_pool_own(pool, mcp_json_text("abcdef", 5))),
                     "ab...")
          && !strcmp(json_string_value(mcp_json_pool_own(pool, mcp_json_text("abcde", 5))),
                     "abcde"),
          "mcp_json_text: the limit is in bytes, the cut ends in ...");
}

static void test_record(void)
{
    mcp_session_t *s, *t;
    apr_hash_t *ids = apr_hash_make(pool);
    char *rec;
    apr_size_t len;
    int i, ok = 1, unique = 1;

    for (i = 0; i < 1000; i++) {
        const char *c;
        mcp_record_new(pool, &s);
        if (strlen(s->id) != MCP_SESSION_ID_LEN) {
            ok = 0;
        }
        for (c = s->id; *c; c++) {
            if (!apr_isalnum(*c) && *c != '-' && *c != '_') {
                ok = 0;
            }
        }
        if (apr_hash_get(ids, s->id, APR_HASH_KEY_STRING)) {
            unique = 0;
        }
        apr_hash_set(ids, s->id, APR_HASH_KEY_STRING, s);
    }
    CHECK(ok, "session ids are 43 base64url characters");
    CHECK(unique, "1000 session ids are distinct");
    CHECK(mcp_record_id_plausible(s->id), "a new id is plausible");
    CHECK(!mcp_record_id_plausible("has space"), "a space is not visible ASCII");
    CHECK(!mcp_record_id_plausible(""), "an empty id is not plausible");
    {
        char key[MCP_KEY_LEN + 1];
        mcp_record_key(s->id, key);
        CHECK(!strcmp(key, s->key) && strlen(key) == 64 && !strstr(key, s->id),
              "the key is the hex SHA-256 of the id");
    }

    s->protocol_version = "2025-06-18";
    s->user = "alice";
    s->endpoint = "example.org/mcp";
    s->node = "node-a";
    s->initialized = 1;
    s->log_level = 3;
    mcp_record_lazy_set(pool, &s->client_info, json_pack("{s:s, s:s}", "name",
                                                  "client", "version", "1"));
    mcp_record_lazy_set(pool, &s->client_caps, json_pack("{s:{}}", "sampling"));
    rec = mcp_record_serialize(pool, s, 4096, &len);
    CHECK(rec && !strstr(rec, s->id), "a record never contains the session id");
    CHECK(rec && mcp_record_parse(pool, rec, len, &t) == APR_SUCCESS
          && !strcmp(t->protocol_version, "2025-06-18") && !strcmp(t->user, "alice")
          && !strcmp(t->endpoint, "example.org/mcp") && t->initialized
          && t->log_level == 3 && !strcmp(t->node, "node-a")
          && json_equal(mcp_record_lazy_get(pool, &t->client_info),
                        mcp_record_lazy_get(pool, &s->client_info))
          && json_equal(mcp_record_lazy_get(pool, &t->client_caps),
                        mcp_record_lazy_get(pool, &s->client_caps)),
          "a record round-trips");
    {
        mcp_session_t *f, *w;
        CHECK(mcp_record_parse_fast(pool, rec, len, &f) == APR_SUCCESS
              && mcp_record_parse_slow(pool, rec, len, &w) == APR_SUCCESS
              && mcp_record_same(pool, f, w),
              "the fast reader takes our records and agrees with jansson");
        s->user = "o\"brien";
        rec = mcp_record_serialize(pool, s, 4096, &len);
        CHECK(mcp_record_parse_fast(pool, rec, len, &f) == APR_EINCOMPLETE
              && mcp_record_parse(pool, rec, len, &t) == APR_SUCCESS
              && !strcmp(t->user, "o\"brien"),
              "an escaped string goes through jansson");
        s->user = "alice";
        const char *nested = "{\"v\":1,\"client\":{\"a\":[1,{\"b\":\"}\"}]},"
                             "\"proto\":\"x\"}";
        CHECK(mcp_record_parse_fast(pool, nested, strlen(nested), &f) == APR_SUCCESS
              && !strcmp(f->protocol_version, "x")
              && json_is_array(json_object_get(mcp_record_lazy_get(pool, &f->client_info), "a")),
              "nested values are delimited across braces inside strings");
        const char *cut = "{\"v\":1,\"proto\":\"x\"";
        CHECK(mcp_record_parse_fast(pool, cut, strlen(cut), &f)
              == APR_EINCOMPLETE, "a truncated record is left to jansson");
        CHECK(mcp_record_parse(pool, cut, strlen(cut), &f) != APR_SUCCESS,
              "and jansson refuses it");
    }
    CHECK(mcp_record_parse(pool, "{\"v\":99}", 8, &t) != APR_SUCCESS,
          "an unknown record version is refused");
    CHECK(mcp_record_parse(pool, "nope", 4, &t) != APR_SUCCESS,
          "garbage is not a record");

    /* a huge clientInfo is trimmed to name/version to fit */
    {
        char *big = apr_palloc(pool, 3001);
        memset(big, 'x', 3000);
        big[3000] = '\0';
        mcp_record_lazy_set(pool, &s->client_info, json_pack(
            "{s:s, s:s, s:s}", "name", "client", "version", "1", "description", big));
        rec = mcp_record_serialize(pool, s, 900, &len);
        CHECK(rec && len <= 900 && mcp_record_parse(pool, rec, len, &t) == APR_SUCCESS
              && !strcmp(json_string_value(json_object_get(
                     mcp_record_lazy_get(pool, &t->client_info), "name")), "client")
              && !json_object_get(mcp_record_lazy_get(pool, &t->client_info),
                                  "description"),
              "an oversized record is trimmed, keeping name and version");
    }
}

static void test_versions(void)
{
    CHECK(!strcmp(mcp_protocol_negotiate("2025-03-26"), "2025-03-26"),
          "a supported version is echoed");
    CHECK(!strcmp(mcp_protocol_negotiate("2026-07-28"), MCP_PROTOCOL_LATEST),
          "an unknown version gets the latest");
    CHECK(!strcmp(mcp_protocol_negotiate(NULL), MCP_PROTOCOL_LATEST),
          "no version gets the latest");
    CHECK(mcp_protocol_supported("2025-06-18") && !mcp_protocol_supported("2024-11-05"),
          "supported list");
    CHECK(mcp_protocol_log_level_parse("warning") == MCP_LOG_WARNING
          && mcp_protocol_log_level_parse("loud") < 0, "log levels");
}

static void test_template(void)
{
    json_t *v = mcp_registry_template_match("test://template/{id}/data",
                                       "test://template/42/data");
    CHECK(v && !strcmp(json_string_value(json_object_get(v, "id")), "42"),
          "a template binds its variable");
    json_decref(v);
    v = mcp_registry_template_match("test://template/{id}/data", "test://template//data");
    CHECK(!v, "an empty variable does not match");
    v = mcp_registry_template_match("test://template/{id}/data", "test://template/1/2/data");
    CHECK(!v, "a variable does not span '/'");
    v = mcp_registry_template_match("test://t/{a}", "test://t/x/extra");
    CHECK(!v, "trailing text does not match");
}

/* ------------------------------------------------------------------ */
/* The MCP methods, with a tool that emits notifications               */

static apr_status_t shout(mcp_call_t *call, void *baton)
{
    const char *text = mcp_call_arg_string(call, "text");
    mcp_call_progress(call, 1, 2, "half");
    mcp_call_log(call, MCP_LOG_INFO, "shout", "info line");
    mcp_call_log(call, MCP_LOG_ERROR, "shout", "error line");
    if (!strcmp(text, "fail")) {
        return APR_EGENERAL;
    }
    if (!strcmp(text, "bad")) {
        return mcp_call_invalid_params(call, "text must not be bad");
    }
    if (!strcmp(text, "oops")) {
        return mcp_call_tool_error(call, "oops happened");
    }
    return mcp_call_add_text(call, apr_pstrcat(call->pool, text, "!", NULL));
}

static const mcp_tool_t shout_tool = {
    "shout", NULL, "Shouts", "{\"type\":\"object\",\"properties\":{\"text\":"
    "{\"type\":\"string\"}},\"required\":[\"text\"]}", NULL, shout, NULL
};

static apr_status_t read_item(mcp_call_t *call, const char *uri, void *baton)
{
    const char *id = mcp_call_arg_string(call, "id");
    if (!strcmp(id, "missing")) {
        return APR_NOTFOUND;
    }
    return mcp_call_add_resource_text(call, uri, "text/plain",
                                      apr_pstrcat(call->pool, "item ", id, NULL));
}

static apr_status_t complete_item(mcp_call_t *call, const char *arg,
                                  const char *value, void *baton)
{
    mcp_call_add_completion(call, apr_pstrcat(call->pool, value, "1", NULL));
    return mcp_call_add_completion(call, apr_pstrcat(call->pool, value, "2", NULL));
}

static const mcp_resource_t item_template = {
    NULL, "test://item/{id}", "item", NULL, NULL, "text/plain", read_item,
    complete_item, NULL
};

static apr_status_t greet(mcp_call_t *call, void *baton)
{
    json_t *c = json_pack("{s:s, s:s}", "type", "text", "text",
                          apr_pstrcat(call->pool, "Hello ",
                                      mcp_call_arg_string(call, "name"), NULL));
    apr_status_t rv = mcp_call_add_message(call, "user", c);
    json_decref(c);
    return rv;
}

static const mcp_prompt_arg_t greet_args[] = { { "name", "who", 1 }, { NULL } };
static const mcp_prompt_t greet_prompt = {
    "greet", NULL, "Greets", greet_args, greet, NULL, NULL
};

static json_t *emitted;

static apr_status_t capture(void *baton, json_t *msg)
{
    json_array_append(emitted, msg);
    return APR_SUCCESS;
}

static json_t *request(mcp_ctx_t *ctx, const char *body)
{
    const char *msg;
    int code;
    mcp_batch_t *b = mcp_rpc_parse(pool, body, strlen(body), &code, &msg);
    if (!b) {
        return NULL;
    }
    return mcp_json_pool_own(pool, mcp_protocol_request(
        ctx, &APR_ARRAY_IDX(b->msgs, 0, mcp_msg_t)));
}

static int error_code(json_t *res)
{
    return (int)json_integer_value(json_object_get(json_object_get(res, "error"),
                                                   "code"));
}

static void test_protocol(void)
{
    mcp_registry_t *reg = mcp_registry_create(pool, "unit", "1");
    mcp_session_t *s;
    mcp_ctx_t ctx;
    json_t *res;
    const char *init = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\","
        "\"params\":{\"protocolVersion\":\"2025-06-18\",\"capabilities\":{},"
        "\"clientInfo\":{\"name\":\"u\",\"version\":\"1\"}}}";
    const char *msg;
    int code;
    mcp_batch_t *b;

    CHECK(mcp_registry_add_tool(reg, &shout_tool) == NULL, "a tool registers");
    CHECK(mcp_registry_add_tool(reg, &shout_tool) != NULL,
          "a tool name registers once");
    CHECK(mcp_registry_add_resource(reg, &item_template) == NULL,
          "a template registers");
    CHECK(mcp_registry_add_prompt(reg, &greet_prompt) == NULL, "a prompt registers");
    mcp_registry_seal(reg);

    mcp_record_new(pool, &s);
    mcp_protocol_ctx_init(&ctx, pool, reg, s, 0);
    ctx.emit = capture;
    emitted = mcp_json_pool_own(pool, json_array());

    b = mcp_rpc_parse(pool, init, strlen(init), &code, &msg);
    res = mcp_json_pool_own(pool, mcp_protocol_initialize(
        &ctx, &APR_ARRAY_IDX(b->msgs, 0, mcp_msg_t)));
    CHECK(!strcmp(s->protocol_version, "2025-06-18")
          && !strcmp(json_string_value(json_object_get(json_object_get(res, "result"),
                                                       "protocolVersion")),
                     "2025-06-18"), "initialize negotiates");
    CHECK(json_object_get(json_object_get(json_object_get(res, "result"),
                                          "capabilities"), "tools")
          && json_object_get(json_object_get(json_object_get(res, "result"),
                                             "capabilities"), "completions"),
          "capabilities reflect the registry");

    res = request(&ctx, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/list\"}");
    CHECK(json_array_size(json_object_get(json_object_get(res, "result"), "tools")) == 1,
          "tools/list lists the tool");

    res = request(&ctx, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/call\","
                  "\"params\":{\"name\":\"shout\",\"arguments\":{\"text\":\"hi\"},"
                  "\"_meta\":{\"progressToken\":\"t1\"}}}");
    CHECK(!strcmp(json_string_value(json_object_get(json_array_get(json_object_get(
              json_object_get(res, "result"), "content"), 0), "text")), "hi!"),
          "tools/call returns the tool's content");
    CHECK(json_array_size(emitted) == 3, "progress and two log lines were emitted");
    CHECK(!strcmp(json_string_value(json_object_get(json_array_get(emitted, 0),
                                                    "method")),
                  "notifications/progress"), "progress first");

    json_array_clear(emitted);
    s->log_level = MCP_LOG_WARNING;
    res = request(&ctx, "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"tools/call\","
                  "\"params\":{\"name\":\"shout\",\"arguments\":{\"text\":\"hi\"}}}");
    CHECK(json_array_size(emitted) == 1, "no progress without a token; info "
          "filtered by the session's level");

    res = request(&ctx, "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"tools/call\","
                  "\"params\":{\"name\":\"shout\",\"arguments\":{\"text\":5}}}");
    CHECK(json_is_true(json_object_get(json_object_get(res, "result"), "isError")),
          "a wrongly typed argument is a tool error");
    res = request(&ctx, "{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":\"tools/call\","
                  "\"params\":{\"name\":\"shout\",\"arguments\":{}}}");
    CHECK(json_is_true(json_object_get(json_object_get(res, "result"), "isError")),
          "a missing required argument is a tool error");
    res = request(&ctx, "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/call\","
                  "\"params\":{\"name\":\"nope\"}}");
    CHECK(error_code(res) == MCP_ERR_INVALID_PARAMS, "an unknown tool is -32602");
    res = request(&ctx, "{\"jsonrpc\":\"2.0\",\"id\":8,\"method\":\"tools/call\","
                  "\"params\":{\"name\":\"shout\",\"arguments\":{\"text\":\"fail\"}}}");
    CHECK(error_code(res) == MCP_ERR_INTERNAL, "a failing tool is -32603");
    res = request(&ctx, "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"tools/call\","
                  "\"params\":{\"name\":\"shout\",\"arguments\":{\"text\":\"bad\"}}}");
    CHECK(error_code(res) == MCP_ERR_INVALID_PARAMS, "invalid_params is -32602");
    res = request(&ctx, "{\"jsonrpc\":\"2.0\",\"id\":10,\"method\":\"tools/call\","
                  "\"params\":{\"name\":\"shout\",\"arguments\":{\"text\":\"oops\"}}}");
    CHECK(json_is_true(json_object_get(json_object_get(res, "result"), "isError")),
          "a tool error has isError");

    res = request(&ctx, "{\"jsonrpc\":\"2.0\",\"id\":11,\"method\":\"resources/read\","
                  "\"params\":{\"uri\":\"test://item/7\"}}");
    CHECK(!strcmp(json_string_value(json_object_get(json_array_get(json_object_get(
              json_object_get(res, "result"), "contents"), 0), "text")), "item 7"),
          "a templated resource reads");
    res = request(&ctx, "{\"jsonrpc\":\"2.0\",\"id\":12,\"method\":\"resources/read\","
                  "\"params\":{\"uri\":\"test://item/missing\"}}");
    CHECK(error_code(res) == MCP_ERR_RESOURCE, "a missing resource is -32002");
    res = request(&ctx, "{\"jsonrpc\":\"2.0\",\"id\":13,\"method\":\"resources/read\","
                  "\"params\":{\"uri\":\"other://x\"}}");
    CHECK(error_code(res) == MCP_ERR_RESOURCE, "an unknown URI is -32002");

    ctx.session_dirty = 0;
    res = request(&ctx, "{\"jsonrpc\":\"2.0\",\"id\":14,\"method\":\"resources/subscribe\","
                  "\"params\":{\"uri\":\"test://item/7\"}}");
    CHECK(ctx.session_dirty
          && json_array_size(mcp_record_lazy_get(pool, &s->subscriptions)) == 1,
          "subscribing changes the session");
    res = request(&ctx, "{\"jsonrpc\":\"2.0\",\"id\":15,\"method\":\"resources/unsubscribe\","
                  "\"params\":{\"uri\":\"test://item/7\"}}");
    CHECK(json_array_size(mcp_record_lazy_get(pool, &s->subscriptions)) == 0,
          "unsubscribing undoes it");

    res = request(&ctx, "{\"jsonrpc\":\"2.0\",\"id\":16,\"method\":\"prompts/get\","
                  "\"params\":{\"name\":\"greet\",\"arguments\":{\"name\":\"Ann\"}}}");
    CHECK(!strcmp(json_string_value(json_object_get(json_object_get(json_array_get(
              json_object_get(json_object_get(res, "result"), "messages"), 0),
              "content"), "text")), "Hello Ann"), "a prompt renders");
    res = request(&ctx, "{\"jsonrpc\":\"2.0\",\"id\":17,\"method\":\"prompts/get\","
                  "\"params\":{\"name\":\"greet\"}}");
    CHECK(error_code(res) == MCP_ERR_INVALID_PARAMS,
          "a missing required prompt argument is -32602");

    res = request(&ctx, "{\"jsonrpc\":\"2.0\",\"id\":18,\"method\":\"completion/complete\","
                  "\"params\":{\"ref\":{\"type\":\"ref/resource\",\"uri\":"
                  "\"test://item/{id}\"},\"argument\":{\"name\":\"id\",\"value\":\"a\"}}}");
    CHECK(json_array_size(json_object_get(json_object_get(json_object_get(res, "result"),
                                                          "completion"), "values")) == 2,
          "completion returns the values");

    ctx.session_dirty = 0;
    res = request(&ctx, "{\"jsonrpc\":\"2.0\",\"id\":19,\"method\":\"logging/setLevel\","
                  "\"params\":{\"level\":\"error\"}}");
    CHECK(ctx.session_dirty && s->log_level == MCP_LOG_ERROR, "setLevel is kept");
    res = request(&ctx, "{\"jsonrpc\":\"2.0\",\"id\":20,\"method\":\"logging/setLevel\","
                  "\"params\":{\"level\":\"loud\"}}");
    CHECK(error_code(res) == MCP_ERR_INVALID_PARAMS, "an unknown level is -32602");

    res = request(&ctx, "{\"jsonrpc\":\"2.0\",\"id\":21,\"method\":\"nope/nope\"}");
    CHECK(error_code(res) == MCP_ERR_METHOD_NOT_FOUND
          && json_integer_value(json_object_get(res, "id")) == 21,
          "an unknown method is -32601 with the request's id");
    res = request(&ctx, "{\"jsonrpc\":\"2.0\",\"id\":\"p\",\"method\":\"ping\"}");
    CHECK(json_is_object(json_object_get(res, "result"))
          && !json_object_size(json_object_get(res, "result"))
          && !strcmp(json_string_value(json_object_get(res, "id")), "p"),
          "ping answers {} with a string id");
}

/* ------------------------------------------------------------------ */
/* Record bounds and exactness (issue 8: points 4 and 6)               */

static json_t *obj_get(json_t *o, const char *path1, const char *path2)
{
    json_t *v = json_object_get(o, path1);
    return path2 ? json_object_get(v, path2) : v;
}

static void test_utf8(void)
{
    static const char *const cases[] = {
        "", "plain", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80",
        "\xe9", "\xc3", "\xc0\xaf", "\xc1\xbf", "\xe0\x80\xaf", "\xe0\xa0\x80",
        "\xed\xa0\x80", "\xed\x9f\xbf", "\xee\x80\x80", "\xf0\x80\x80\x80",
        "\xf0\x90\x80\x80", "\xf4\x8f\xbf\xbf", "\xf4\x90\x80\x80",
        "\xf5\x80\x80\x80", "\xff", "\x80", "a\xe2\x82", "\xe2\x28\xa1", NULL
    };
    int i, agree = 1;
    unsigned int seed = 8;

    for (i = 0; cases[i]; i++) {
        json_t *j = json_stringn(cases[i], strlen(cases[i]));
        if (mcp_json_utf8_valid(cases[i], strlen(cases[i])) != (j != NULL)) {
            agree = 0;
            printf("# utf8 disagrees with jansson on case %d\n", i);
        }
        json_decref(j);
    }
    CHECK(agree, "the UTF-8 check agrees with jansson on edge cases");
    agree = 1;
    for (i = 0; i < 20000; i++) {
        unsigned char buf[6];
        int k, n = 1 + i % 6;
        json_t *j;
        for (k = 0; k < n; k++) {
            seed = seed * 1103515245u + 12345u;
            /* bias towards the interesting lead and continuation bytes */
            buf[k] = (unsigned char)((seed >> 16) & 1 ? 0x80 | ((seed >> 8) & 0x7f)
                                                      : (seed >> 8));
        }
        j = json_stringn((const char *)buf, (size_t)n);
        if (mcp_json_utf8_valid((const char *)buf, (apr_size_t)n) != (j != NULL)) {
            agree = 0;
        }
        json_decref(j);
    }
    CHECK(agree, "the UTF-8 check agrees with jansson on 20000 random strings");
}

static void test_client_bounds(void)
{
    char *big = apr_palloc(pool, 20001);
    json_t *info, *b, *caps;
    char *dump;
    apr_size_t len, i;
    int ok;

    memset(big, 'x', 20000);
    big[20000] = '\0';
    info = mcp_json_pool_own(pool, json_pack(
        "{s:s, s:s, s:s, s:s, s:{s:s}}", "name", big, "version", big,
        "title", big, "description", big, "extra", "k", big));
    b = mcp_json_pool_own(pool, mcp_record_client_info(info));
    dump = mcp_json_dump(pool, b, &len);
    CHECK(json_object_size(b) == 3
          && json_string_length(obj_get(b, "name", NULL)) == MCP_CLIENT_NAME_MAX
          && json_string_length(obj_get(b, "version", NULL)) == MCP_CLIENT_VERSION_MAX
          && json_string_length(obj_get(b, "title", NULL)) == MCP_CLIENT_TITLE_MAX
          && len <= 360, "clientInfo keeps name, version and title, cut to "
          "their limits (at most 360 bytes)");
    CHECK(dump && !strncmp(dump, "{\"name\":\"xxx", 12),
          "... starting with what the client sent");

    /* escapes count: 200 quotes take 400 bytes of JSON */
    for (i = 0; i < 200; i++) {
        big[i] = '"';
    }
    big[200] = '\0';
    info = mcp_json_pool_own(pool, json_pack("{s:s}", "name", big));
    b = mcp_json_pool_own(pool, mcp_record_client_info(info));
    CHECK(json_string_length(obj_get(b, "name", NULL)) == MCP_CLIENT_NAME_MAX / 2,
          "a name of quotes is cut where its escaped form reaches the limit");
    for (i = 0; i < 100; i++) {
        big[i] = '\x01';
    }
    big[100] = '\0';
    info = mcp_json_pool_own(pool, json_pack("{s:s}", "name", big));
    b = mcp_json_pool_own(pool, mcp_record_client_info(info));
    CHECK(json_string_length(obj_get(b, "name", NULL)) == MCP_CLIENT_NAME_MAX / 6,
          "control characters count as \\u00XX");
    /* never cut inside a character: 3-byte euro signs, 64-byte limit */
    for (i = 0; i < 300; i += 3) {
        memcpy(big + i, "\xe2\x82\xac", 3);
    }
    big[300] = '\0';
    info = mcp_json_pool_own(pool, json_pack("{s:s, s:s}", "name", "n",
                                             "version", big));
    b = mcp_json_pool_own(pool, mcp_record_client_info(info));
    CHECK(json_string_length(obj_get(b, "version", NULL)) == 63
          && !strcmp(json_string_value(obj_get(b, "name", NULL)), "n"),
          "a version of euro signs is cut between characters (63 of 64 bytes)");
    info = mcp_json_pool_own(pool, json_pack("{s:i, s:s}", "name", 5,
                                             "version", "1"));
    b = mcp_json_pool_own(pool, mcp_record_client_info(info));
    CHECK(json_object_size(b) == 1 && obj_get(b, "version", NULL),
          "a name that is not a string is not kept");

    /* capabilities: standard keys only, objects only, within the cap */
    caps = mcp_json_pool_own(pool, json_loads(
        "{\"sampling\":{},\"elicitation\":{\"form\":{},\"url\":{}},"
        "\"roots\":{\"listChanged\":true},\"tasks\":{\"list\":{},\"cancel\":{},"
        "\"requests\":{\"sampling\":{\"createMessage\":{}},\"elicitation\":"
        "{\"create\":{}}}},\"custom\":{\"a\":1}}", 0, NULL));
    b = mcp_json_pool_own(pool, mcp_record_client_caps(caps));
    json_object_del(caps, "custom");
    CHECK(json_equal(b, caps), "the capabilities of a real client are kept "
          "whole, without non-standard keys");
    caps = mcp_json_pool_own(pool, json_pack(
        "{s:{s:s}, s:{s:b}, s:b, s:{s:{s:s}}, s:{s:s}}", "sampling", "junk", big,
        "roots", "listChanged", 1, "elicitation", 1,
        "experimental", "x", "y", big, "huge", "h", big));
    b = mcp_json_pool_own(pool, mcp_record_client_caps(caps));
    dump = mcp_json_dump(pool, b, &len);
    CHECK(json_object_size(b) == 3
          && json_is_object(obj_get(b, "sampling", NULL))
          && !json_object_size(obj_get(b, "sampling", NULL))
          && json_is_true(obj_get(b, "roots", "listChanged"))
          && json_is_object(obj_get(b, "experimental", NULL))
          && !json_object_size(obj_get(b, "experimental", NULL))
          && !obj_get(b, "elicitation", NULL) && !obj_get(b, "huge", NULL)
          && len <= MCP_CLIENT_CAPS_MAX,
          "too large capability values are kept as {}, others dropped, "
          "within the cap");
    ok = 1;
    {
        /* many large standard values: always within the cap */
        json_t *many = mcp_json_pool_own(pool, json_object());
        static const char *const keys[] = { "roots", "sampling", "elicitation",
                                            "tasks", "experimental" };
        for (i = 0; i < 5; i++) {
            json_object_set_new(many, keys[i], json_pack("{s:s}", "k",
                                                         big + 300 - 60 * i));
        }
        b = mcp_json_pool_own(pool, mcp_record_client_caps(many));
        dump = mcp_json_dump(pool, b, &len);
        ok = json_object_size(b) == 5 && len <= MCP_CLIENT_CAPS_MAX;
    }
    CHECK(ok, "all five standard keys are kept within the cap");
}

static mcp_session_t *sample_session(void)
{
    mcp_session_t *s;
    mcp_record_new(pool, &s);
    s->protocol_version = "2025-11-25";
    s->endpoint = "example.org:80/mcp";
    s->node = "node-a/01020304";
    return s;
}

static int str_is(const char *a, const char *b)
{
    return a && !strcmp(a, b);
}

static int parses_alike(const char *rec, apr_size_t len, mcp_session_t **out)
{
    mcp_session_t *f, *w;
    apr_status_t fr = mcp_record_parse_fast(pool, rec, len, &f);
    apr_status_t wr = mcp_record_parse_slow(pool, rec, len, &w);
    if (wr != APR_SUCCESS) {
        return fr != APR_SUCCESS ? -1 : 0;   /* both refuse: -1 */
    }
    if (fr == APR_SUCCESS && !mcp_record_same(pool, f, w)) {
        return 0;
    }
    *out = w;
    return 1;
}

static void test_record_bytes(void)
{
    mcp_session_t *s = sample_session(), *t = NULL;
    char *rec;
    apr_size_t len;
    int r;

    s->user = "\xe9ve";
    rec = mcp_record_serialize(pool, s, 959, &len);
    CHECK(rec && strstr(rec, "\"user_hex\":\"e97665\"")
          && !strncmp(rec, "{\"v\":2,", 7),
          "a user name that is not UTF-8 is kept in hex, in a version 2 record");
    CHECK(rec && mcp_record_parse_fast(pool, rec, len, &t) == APR_SUCCESS
          && str_is(t->user, "\xe9ve"),
          "the fast reader gives back the exact bytes");
    CHECK(rec && parses_alike(rec, len, &t) == 1 && str_is(t->user, "\xe9ve"),
          "... and agrees with jansson");
    s->user = "\xc3\xa9lise";
    rec = mcp_record_serialize(pool, s, 959, &len);
    CHECK(rec && strstr(rec, "\"user\":\"\xc3\xa9lise\"")
          && !strncmp(rec, "{\"v\":1,", 7),
          "a UTF-8 user name stays a string of a version 1 record");
    s->user = "alice";
    s->endpoint = "h\xff:80/caf\xe9";
    rec = mcp_record_serialize(pool, s, 959, &len);
    CHECK(rec && parses_alike(rec, len, &t) == 1
          && str_is(t->endpoint, "h\xff:80/caf\xe9") && str_is(t->user, "alice"),
          "an endpoint that is not UTF-8 round-trips byte-exactly");

#define REFUSED(text, name) \
    CHECK(parses_alike(text, strlen(text), &t) == -1, name)
#define ACCEPTED(text, name) \
    CHECK(parses_alike(text, strlen(text), &t) == 1, name)
    REFUSED("{\"v\":2,\"user\":\"a\",\"user_hex\":\"61\"}",
            "a record with user and user_hex is refused");
    REFUSED("{\"v\":2,\"user_hex\":\"e97\"}", "odd hex is refused");
    REFUSED("{\"v\":2,\"user_hex\":\"e9zz\"}", "non-hex is refused");
    REFUSED("{\"v\":2,\"user_hex\":\"610062\"}",
            "hex holding a NUL byte is refused (it would cut the name)");
    REFUSED("{\"v\":1,\"user\":\"a\\u0000b\"}",
            "a user with an escaped NUL is refused");
    REFUSED("{\"v\":1,\"user\":5}", "a user that is not a string is refused");
    ACCEPTED("{\"v\":2,\"user_hex\":\"E9\"}", "upper-case hex is read");

    /* numbers: exact, whole, in range, no locale */
    ACCEPTED("{\"v\":1,\"created\":1752000000,\"last\":1752000001,\"log\":7}",
             "ordinary numbers are read");
    r = parses_alike("{\"v\":1,\"created\":1752000000,\"log\":3}", 36, &t);
    CHECK(r == 1 && t->created == apr_time_from_sec(1752000000)
          && t->log_level == 3, "... exactly");
    REFUSED("{\"v\":1,\"created\":\"1752000000\"}",
            "a time stamp in a string is refused (was read as 0)");
    REFUSED("{\"v\":1,\"created\":1752000000abc}", "trailing garbage is refused");
    REFUSED("{\"v\":1,\"created\":1.752e9}", "a fractional time stamp is refused");
    REFUSED("{\"v\":1,\"created\":-5}", "a negative time stamp is refused");
    REFUSED("{\"v\":1,\"last\":99999999999999999}",
            "a time stamp that overflows apr_time_t is refused");
    REFUSED("{\"v\":1,\"last\":99999999999999999999999}",
            "a number past 64 bits is refused");
    REFUSED("{\"v\":1,\"log\":8}", "a log level past emergency is refused");
    REFUSED("{\"v\":1,\"log\":4294967299}",
            "a log level that truncates to a valid int is refused");
    REFUSED("{\"v\":1,\"log\":\"3\"}", "a log level in a string is refused");
    REFUSED("{\"v\":3}", "version 3 is refused");
    REFUSED("{\"v\":1.0}", "a fractional version is refused");
    REFUSED("{\"created\":1}", "no version is refused");
    REFUSED("{\"v\":1} x", "garbage after the record is refused");
    ACCEPTED("{\"v\":1}", "a minimal version 1 record is read");
#undef REFUSED
#undef ACCEPTED
}

static void test_record_fits(void)
{
    mcp_session_t *s = sample_session(), *t;
    char *big = apr_palloc(pool, 4001);
    char *rec;
    apr_size_t len;
    json_t *info, *caps;

    memset(big, 'y', 4000);
    big[4000] = '\0';
    s->user = "someone@example.org";
    s->initialized = 1;
    info = mcp_json_pool_own(pool, json_pack("{s:s, s:s, s:s}", "name", big,
                                             "version", big, "title", big));
    /* values that each fit alone: the cap fills up to the last byte */
    caps = mcp_json_pool_own(pool, json_pack(
        "{s:{s:s#}, s:{s:s#}, s:{s:s#}, s:{s:s#}, s:{s:s#}}",
        "sampling", "x", big, (int)90, "roots", "x", big, (int)80,
        "elicitation", "x", big, (int)70, "tasks", "x", big, (int)60,
        "experimental", "x", big, (int)50));
    mcp_record_lazy_set(pool, &s->client_info, mcp_record_client_info(info));
    mcp_record_lazy_set(pool, &s->client_caps, mcp_record_client_caps(caps));
    s->log_level = 7;
    rec = mcp_record_serialize(pool, s, 100000, &len);
    CHECK(rec && len < 900 && mcp_record_parse(pool, rec, len, &t) == APR_SUCCESS
          && json_object_size(mcp_record_lazy_get(pool, &t->client_caps)) == 5,
          apr_psprintf(pool, "a session from a huge initialize takes %d bytes, "
                       "untrimmed (fits memory mode's 959); capabilities %d",
                       (int)len, (int)strlen(mcp_json_dump(pool, mcp_record_lazy_get(
                           pool, &t->client_caps), NULL))));
    CHECK(mcp_record_fits(pool, s, len) && !mcp_record_fits(pool, s, len - 1),
          "mcp_record_fits is exact");
}

/* A completion provider offering as many values as its argument says. */
static apr_status_t complete_many(mcp_call_t *call, const char *arg,
                                  const char *value, void *baton)
{
    long i, n = strtol(value, NULL, 10);
    apr_status_t rv = APR_SUCCESS;
    if (n < 0) {
        return mcp_call_add_completion(call, "bad \xe9");
    }
    for (i = 0; i < n && rv == APR_SUCCESS; i++) {
        rv = mcp_call_add_completion(call, apr_psprintf(call->pool, "v%ld", i));
    }
    return rv;
}

static apr_status_t read_nothing(mcp_call_t *call, const char *uri, void *baton)
{
    return APR_NOTFOUND;
}

static const mcp_resource_t many_template = {
    NULL, "test://many/{n}", "many", NULL, NULL, "text/plain", read_nothing,
    complete_many, NULL
};

static json_t *complete_n(mcp_ctx_t *ctx, const char *n)
{
    return request(ctx, apr_psprintf(pool,
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"completion/complete\","
        "\"params\":{\"ref\":{\"type\":\"ref/resource\",\"uri\":"
        "\"test://many/{n}\"},\"argument\":{\"name\":\"n\",\"value\":\"%s\"}}}",
        n));
}

static void test_limits_protocol(void)
{
    mcp_registry_t *reg = mcp_registry_create(pool, "unit", "1");
    mcp_session_t *s;
    mcp_ctx_t ctx;
    json_t *res, *c;
    char *uri = apr_palloc(pool, 1301);
    int i, ok;
    const char *init;
    mcp_batch_t *b;
    const char *msg;
    int code;
    apr_size_t len;

    mcp_registry_add_resource(reg, &many_template);
    mcp_registry_seal(reg);
    mcp_record_new(pool, &s);
    mcp_protocol_ctx_init(&ctx, pool, reg, s, 0);
    s->endpoint = "example.org:80/mcp";
    s->node = "node-a/01020304";

    /* initialize keeps a bounded part of clientInfo and capabilities */
    memset(uri, 'n', 1300);
    uri[1300] = '\0';
    init = apr_psprintf(pool, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":"
        "\"initialize\",\"params\":{\"protocolVersion\":\"2025-11-25\","
        "\"capabilities\":{\"sampling\":{\"x\":\"%s\"},\"roots\":{},"
        "\"made-up\":{\"y\":\"%s\"}},\"clientInfo\":{\"name\":\"%s\","
        "\"version\":\"1\",\"description\":\"%s\"}}}", uri, uri, uri, uri);
    b = mcp_rpc_parse(pool, init, strlen(init), &code, &msg);
    res = mcp_json_pool_own(pool, mcp_protocol_initialize(
        &ctx, &APR_ARRAY_IDX(b->msgs, 0, mcp_msg_t)));
    c = mcp_record_lazy_get(pool, &s->client_info);
    CHECK(json_object_get(res, "result")
          && json_string_length(json_object_get(c, "name")) == MCP_CLIENT_NAME_MAX
          && !json_object_get(c, "description")
          && json_object_size(mcp_record_lazy_get(pool, &s->client_caps)) == 2
          && !json_object_size(json_object_get(mcp_record_lazy_get(pool, &s->client_caps),
                                               "sampling")),
          "initialize keeps a bounded clientInfo and capabilities");
    CHECK(mcp_record_serialize(pool, s, 959, &len) && len < 700,
          apr_psprintf(pool, "... and the record takes %d bytes", (int)len));

    /* subscriptions: length, count and room in the record */
    ctx.max_record = 959;
    memset(uri, 'u', 1200);
    uri[1200] = '\0';
    ctx.session_dirty = 0;
    res = request(&ctx, apr_psprintf(pool, "{\"jsonrpc\":\"2.0\",\"id\":2,"
        "\"method\":\"resources/subscribe\",\"params\":{\"uri\":\"x:%s\"}}", uri));
    CHECK(error_code(res) == MCP_ERR_INVALID_PARAMS && !ctx.session_dirty
          && !json_array_size(mcp_record_lazy_get(pool, &s->subscriptions))
          && strstr(json_string_value(json_object_get(json_object_get(res, "error"),
                                                      "message")), "512 bytes"),
          "a 1.2 KB URI is refused with -32602, nothing changes");
    for (i = 0, ok = 1; i < 30; i++) {
        res = request(&ctx, apr_psprintf(pool, "{\"jsonrpc\":\"2.0\",\"id\":3,"
            "\"method\":\"resources/subscribe\",\"params\":{\"uri\":"
            "\"test://item/%040d\"}}", i));
        if (json_object_get(res, "error")) {
            break;
        }
    }
    CHECK(i > 0 && i < MCP_SUBSCRIPTIONS_MAX && error_code(res) == MCP_ERR_INVALID_PARAMS
          && strstr(json_string_value(json_object_get(json_object_get(res, "error"),
                                                      "message")), "959 bytes")
          && json_array_size(mcp_record_lazy_get(pool, &s->subscriptions)) == (size_t)i,
          apr_psprintf(pool, "subscriptions stop with -32602 when the record is "
                       "full (%d kept)", i));
    CHECK(mcp_record_serialize(pool, s, 959, &len) && len <= 959
          && !strstr(mcp_record_serialize(pool, s, 959, &len), "trimmed"),
          "the record with every kept subscription fits, untrimmed");
    res = request(&ctx, "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":"
                  "\"resources/unsubscribe\",\"params\":{\"uri\":"
                  "\"test://item/0000000000000000000000000000000000000000\"}}");
    CHECK(json_object_get(res, "result")
          && json_array_size(mcp_record_lazy_get(pool, &s->subscriptions)) == (size_t)i - 1,
          "unsubscribing makes room");

    ctx.max_record = 0;
    for (i = 0; i < 30; i++) {
        res = request(&ctx, apr_psprintf(pool, "{\"jsonrpc\":\"2.0\",\"id\":5,"
            "\"method\":\"resources/subscribe\",\"params\":{\"uri\":"
            "\"t://%d\"}}", i));
        if (json_object_get(res, "error")) {
            break;
        }
    }
    CHECK(json_array_size(mcp_record_lazy_get(pool, &s->subscriptions))
          == MCP_SUBSCRIPTIONS_MAX && error_code(res) == MCP_ERR_INVALID_PARAMS,
          "without a record limit, at most MCP_SUBSCRIPTIONS_MAX subscriptions");

    ctx.max_record = 100;
    ctx.session_dirty = 0;
    s->log_level = -1;
    res = request(&ctx, "{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":"
                  "\"logging/setLevel\",\"params\":{\"level\":\"error\"}}");
    CHECK(error_code(res) == MCP_ERR_INVALID_PARAMS && s->log_level == -1
          && !ctx.session_dirty, "a log level that cannot be kept is refused");
    ctx.max_record = 0;

    /* completion/complete: the first 100 values, the total, linear */
    res = complete_n(&ctx, "1000");
    c = json_object_get(json_object_get(res, "result"), "completion");
    ok = json_array_size(json_object_get(c, "values")) == MCP_COMPLETIONS_MAX;
    for (i = 0; ok && i < MCP_COMPLETIONS_MAX; i++) {
        ok = !strcmp(json_string_value(json_array_get(json_object_get(c, "values"),
                                                      (size_t)i)),
                     apr_psprintf(pool, "v%d", i));
    }
    CHECK(ok && json_integer_value(json_object_get(c, "total")) == 1000
          && json_is_true(json_object_get(c, "hasMore")),
          "1000 completions: the first 100 in order, total 1000, hasMore");
    res = complete_n(&ctx, "100");
    c = json_object_get(json_object_get(res, "result"), "completion");
    CHECK(json_array_size(json_object_get(c, "values")) == 100
          && json_integer_value(json_object_get(c, "total")) == 100
          && json_is_false(json_object_get(c, "hasMore")),
          "100 completions: all, no more");
    res = complete_n(&ctx, "0");
    c = json_object_get(json_object_get(res, "result"), "completion");
    CHECK(json_is_array(json_object_get(c, "values"))
          && !json_array_size(json_object_get(c, "values"))
          && json_integer_value(json_object_get(c, "total")) == 0,
          "no completions: an empty list");
    res = complete_n(&ctx, "-1");
    CHECK(error_code(res) == MCP_ERR_INTERNAL,
          "a completion that is not UTF-8 fails the call");
    {
        apr_time_t t0 = apr_time_now();
        res = complete_n(&ctx, "200000");
        c = json_object_get(json_object_get(res, "result"), "completion");
        CHECK(json_integer_value(json_object_get(c, "total")) == 200000
              && json_array_size(json_object_get(c, "values")) == 100,
              apr_psprintf(pool, "200000 completions: total counted, 100 kept "
                           "(%d ms)", (int)((apr_time_now() - t0) / 1000)));
    }
}

/* ------------------------------------------------------------------ */
/* The list results, byte for byte, and the call context set-up        */

static apr_status_t call_nothing(mcp_call_t *call, void *baton)
{
    return APR_SUCCESS;
}

static apr_status_t read_nothing_at(mcp_call_t *call, const char *uri,
                                    void *baton)
{
    return APR_NOTFOUND;
}

/* Registered out of order: every list comes sorted. */
static const mcp_tool_t list_tools[] = {
    { "zeta", "Zeta", "Last tool", "{\"type\":\"object\",\"properties\":"
      "{\"n\":{\"type\":\"integer\"}}}", "{\"type\":\"object\"}",
      call_nothing, NULL },
    { "alpha", NULL, NULL, NULL, NULL, call_nothing, NULL },
};
static const mcp_resource_t list_resources[] = {
    { "test://r/2", NULL, "two", "Two", "The second", "text/plain",
      read_nothing_at, NULL, NULL },
    { "test://r/1", NULL, "one", NULL, NULL, NULL, read_nothing_at, NULL,
      NULL },
    { NULL, "test://t/{b}", "tb", "TB", "Template b", "application/json",
      read_nothing_at, NULL, NULL },
    { NULL, "test://t/{a}", "ta", NULL, NULL, NULL, read_nothing_at, NULL,
      NULL },
};
static const mcp_prompt_arg_t list_prompt_args[] = {
    { "who", "Whom to greet", 1 }, { "tone", NULL, 0 }, { NULL }
};
static const mcp_prompt_arg_t no_prompt_args[] = { { NULL } };
static const mcp_prompt_t list_prompts[] = {
    { "second", "Second", "With arguments", list_prompt_args, call_nothing,
      NULL, NULL },
    { "first", NULL, NULL, no_prompt_args, call_nothing, NULL, NULL },
    { "bare", NULL, "No argument list", NULL, call_nothing, NULL, NULL },
};

static void test_lists(void)
{
    mcp_registry_t *reg = mcp_registry_create(pool, "unit", "1");
    mcp_ctx_t ctx;
    apr_size_t i;

    for (i = 0; i < sizeof(list_tools) / sizeof(list_tools[0]); i++) {
        mcp_registry_add_tool(reg, &list_tools[i]);
    }
    for (i = 0; i < sizeof(list_resources) / sizeof(list_resources[0]); i++) {
        mcp_registry_add_resource(reg, &list_resources[i]);
    }
    for (i = 0; i < sizeof(list_prompts) / sizeof(list_prompts[0]); i++) {
        mcp_registry_add_prompt(reg, &list_prompts[i]);
    }
    mcp_registry_seal(reg);
    /* what the lists were before mcp_registry_seal had one builder */
    CHECK(!strcmp(mcp_json_dump(pool, reg->tools_list, NULL),
                  "{\"tools\":[{\"name\":\"alpha\",\"inputSchema\":{\"type\":"
                  "\"object\"}},{\"name\":\"zeta\",\"title\":\"Zeta\","
                  "\"description\":\"Last tool\",\"inputSchema\":{\"type\":"
                  "\"object\",\"properties\":{\"n\":{\"type\":\"integer\"}}},"
                  "\"outputSchema\":{\"type\":\"object\"}}]}"),
          "tools/list result, byte for byte");
    CHECK(!strcmp(mcp_json_dump(pool, reg->resources_list, NULL),
                  "{\"resources\":[{\"uri\":\"test://r/1\",\"name\":\"one\"},"
                  "{\"uri\":\"test://r/2\",\"name\":\"two\",\"title\":\"Two\","
                  "\"description\":\"The second\",\"mimeType\":"
                  "\"text/plain\"}]}"),
          "resources/list result, byte for byte");
    CHECK(!strcmp(mcp_json_dump(pool, reg->templates_list, NULL),
                  "{\"resourceTemplates\":[{\"uriTemplate\":\"test://t/{a}\","
                  "\"name\":\"ta\"},{\"uriTemplate\":\"test://t/{b}\","
                  "\"name\":\"tb\",\"title\":\"TB\",\"description\":"
                  "\"Template b\",\"mimeType\":\"application/json\"}]}"),
          "resources/templates/list result, byte for byte");
    CHECK(!strcmp(mcp_json_dump(pool, reg->prompts_list, NULL),
                  "{\"prompts\":[{\"name\":\"bare\",\"description\":"
                  "\"No argument list\"},{\"name\":\"first\"},{\"name\":"
                  "\"second\",\"title\":\"Second\",\"description\":"
                  "\"With arguments\",\"arguments\":[{\"name\":\"who\","
                  "\"required\":true,\"description\":\"Whom to greet\"},"
                  "{\"name\":\"tone\",\"required\":false}]}]}"),
          "prompts/list result, byte for byte");

    reg = mcp_registry_create(pool, "unit", "1");
    mcp_registry_seal(reg);
    CHECK(!strcmp(mcp_json_dump(pool, reg->tools_list, NULL), "{\"tools\":[]}")
          && !strcmp(mcp_json_dump(pool, reg->resources_list, NULL),
                     "{\"resources\":[]}")
          && !strcmp(mcp_json_dump(pool, reg->templates_list, NULL),
                     "{\"resourceTemplates\":[]}")
          && !strcmp(mcp_json_dump(pool, reg->prompts_list, NULL),
                     "{\"prompts\":[]}"),
          "an empty registry lists empty arrays");

    memset(&ctx, 0xff, sizeof(ctx));
    mcp_protocol_ctx_init(&ctx, pool, reg, NULL, 959);
    CHECK(ctx.pool == pool && ctx.reg == reg && !ctx.session
          && ctx.max_record == 959 && !ctx.session_dirty && !ctx.r
          && !ctx.emit && !ctx.emit_baton,
          "mcp_protocol_ctx_init sets what it is given and zeroes the rest");
}

/* Feed text to a scanner in pieces of `step` bytes; the status of the
 * call that ended it. */
static apr_status_t scan_in_steps(const char *text, json_t *id,
                                  apr_size_t max, apr_size_t step,
                                  json_t **msg)
{
    mcp_sse_scanner_t *sc = mcp_sse_scanner_create(pool, id, max);
    apr_size_t len = strlen(text), off = 0;
    apr_status_t rv = APR_INCOMPLETE;

    *msg = NULL;
    while (off < len && rv == APR_INCOMPLETE) {
        apr_size_t n = len - off < step ? len - off : step;
        rv = mcp_sse_scan(sc, text + off, n, msg);
        off += n;
    }
    return rv;
}

static void test_sse(void)
{
    json_t *id1 = mcp_json_pool_own(pool, json_integer(1));
    json_t *ids = mcp_json_pool_own(pool, json_string("a"));
    json_t *m;
    const char *stream =
        ": a comment\n"
        "event: message\n"
        "data: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/message\","
        "\"params\":{\"id\":1}}\n\n"
        "id: 7\n"
        "data: {\"jsonrpc\":\"2.0\",\"id\":1,\n"
        "data: \"result\":{\"protocolVersion\":\"2025-06-18\"}}\n\n"
        "data: {\"never\":\"read\"}\n\n";
    apr_size_t step;
    int all = 1;
    char *crlf, *cr, *c;

    CHECK((m = mcp_sse_find_response(pool, "{\"jsonrpc\":\"2.0\",\"id\":1,"
                                     "\"result\":{}}", 36, id1)) != NULL
          && json_object_get(m, "result"), "a JSON response with the id");
    CHECK(!mcp_sse_find_response(pool, "{\"jsonrpc\":\"2.0\",\"id\":2,"
                                 "\"result\":{}}", 36, id1),
          "another id is not it");
    CHECK(!mcp_sse_find_response(pool, "{\"jsonrpc\":\"2.0\",\"id\":1,"
                                 "\"method\":\"x\"}", 38, id1),
          "a request with the id is not a response");
    CHECK(!mcp_sse_find_response(pool, "{\"jsonrpc\":\"2.0\",\"id\":\"1\","
                                 "\"result\":{}}", 38, id1),
          "the string \"1\" is not the number 1");
    {
        const char *batch = "[{\"jsonrpc\":\"2.0\",\"id\":\"b\",\"result\":1},"
                            "{\"jsonrpc\":\"2.0\",\"id\":\"a\",\"error\":"
                            "{\"code\":1,\"message\":\"m\"}}]";
        m = mcp_sse_find_response(pool, batch, strlen(batch), ids);
    }
    CHECK(m && json_object_get(m, "error"), "an error response in a batch");
    CHECK(!mcp_sse_find_response(pool, "{not json", 9, id1), "not JSON");

    /* the same stream in every piece size finds the response, and only
     * in the event that holds it */
    for (step = 1; step <= strlen(stream); step++) {
        if (scan_in_steps(stream, id1, 4096, step, &m) != APR_SUCCESS
            || !json_is_object(json_object_get(m, "result"))) {
            all = 0;
        }
    }
    CHECK(all, "an SSE response split across data lines, read in any piece "
               "size");
    /* CRLF and CR line ends (a CR at the end of a piece, LF in the next) */
    crlf = apr_pstrdup(pool, "");
    cr = apr_pstrdup(pool, stream);
    for (c = cr; *c; c++) {
        if (*c == '\n') {
            *c = '\r';
            crlf = apr_pstrcat(pool, crlf, "\r\n", NULL);
        }
        else {
            crlf = apr_pstrcat(pool, crlf, apr_pstrndup(pool, c, 1), NULL);
        }
    }
    all = 1;
    for (step = 1; step <= strlen(crlf); step++) {
        if (scan_in_steps(crlf, id1, 4096, step, &m) != APR_SUCCESS
            || scan_in_steps(cr, id1, 4096, step, &m) != APR_SUCCESS) {
            all = 0;
        }
    }
    CHECK(all, "CRLF and CR line ends, in any piece size");
    CHECK(scan_in_steps("\xEF\xBB\xBF" "data: {\"jsonrpc\":\"2.0\",\"id\":1,"
                        "\"result\":{}}\n\n", id1, 4096, 2, &m) == APR_SUCCESS,
          "a BOM at the start is skipped");
    CHECK(scan_in_steps("data: {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}\n",
                        id1, 4096, 5, &m) == APR_INCOMPLETE,
          "an event is not complete before its empty line");
    CHECK(scan_in_steps("data:{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}\n\n",
                        id1, 4096, 7, &m) == APR_SUCCESS,
          "data: without a space");
    CHECK(scan_in_steps("data: 0123456789012345678901234567890123456789\n\n",
                        id1, 32, 3, &m) == APR_ENOSPC,
          "a line over max is refused");
    CHECK(scan_in_steps("data: 0123456789\ndata: 0123456789\ndata: 0123456789"
                        "\n\n", id1, 24, 3, &m) == APR_ENOSPC,
          "an event over max is refused");
    CHECK(scan_in_steps("data: {}\n\n\n\ndata: x\n\n: c\n\n", id1, 32, 1, &m)
          == APR_INCOMPLETE, "events without the response read to the end");
}

static void test_record_backend(void)
{
    mcp_session_t *s, *t, *f, *w;
    char *rec, *req;
    apr_size_t len;
    json_t *j, *p;

    mcp_record_new(pool, &s);
    s->protocol_version = "2025-06-18";
    s->endpoint = "example.org/mcp";
    s->backend_id = "9f1c-\"quoted\"-id";
    s->backend_route = "m1";
    rec = mcp_record_serialize(pool, s, 4096, &len);
    CHECK(rec && mcp_record_parse(pool, rec, len, &t) == APR_SUCCESS
          && !strcmp(t->backend_id, s->backend_id)
          && !strcmp(t->backend_route, "m1"),
          "a record keeps the backend's session id and route");
    CHECK(mcp_record_parse_slow(pool, rec, len, &w) == APR_SUCCESS
          && mcp_record_same(pool, t, w), "both readers agree on them");
    s->backend_id = "plain-id";
    rec = mcp_record_serialize(pool, s, 4096, &len);
    CHECK(mcp_record_parse_fast(pool, rec, len, &f) == APR_SUCCESS
          && !strcmp(f->backend_id, "plain-id")
          && mcp_record_parse_slow(pool, rec, len, &w) == APR_SUCCESS
          && mcp_record_same(pool, f, w), "the fast reader reads them too");
    s->backend_id = s->backend_route = NULL;
    rec = mcp_record_serialize(pool, s, 4096, &len);
    CHECK(mcp_record_parse(pool, rec, len, &t) == APR_SUCCESS && !t->backend_id
          && !t->backend_route && !strstr(rec, "bid"),
          "a session without a backend has neither");
    CHECK(mcp_record_parse(pool, "{\"v\":1,\"bid\":7}", 15, &t) != APR_SUCCESS,
          "a backend id that is not a string makes no record");

    /* the replayed initialize */
    mcp_record_lazy_set(pool, &s->client_info, json_pack("{s:s, s:s}", "name",
                                                  "client", "version", "1"));
    mcp_record_lazy_set(pool, &s->client_caps, json_pack("{s:{}}", "roots"));
    req = mcp_record_initialize_request(pool, s, "replay-1", &len);
    j = req ? mcp_json_load(pool, req, len) : NULL;
    p = json_object_get(j, "params");
    CHECK(j && !strcmp(json_string_value(json_object_get(j, "method")),
                       "initialize")
          && !strcmp(json_string_value(json_object_get(j, "id")), "replay-1")
          && !strcmp(json_string_value(json_object_get(j, "jsonrpc")), "2.0")
          && !strcmp(json_string_value(json_object_get(p, "protocolVersion")),
                     "2025-06-18")
          && json_is_object(json_object_get(json_object_get(p, "capabilities"),
                                            "roots"))
          && !strcmp(json_string_value(json_object_get(
                 json_object_get(p, "clientInfo"), "name")), "client"),
          "the replayed initialize carries the version, capabilities and "
          "clientInfo kept");
    mcp_record_new(pool, &s);
    s->protocol_version = "2025-03-26";
    req = mcp_record_initialize_request(pool, s, "r", &len);
    j = req ? mcp_json_load(pool, req, len) : NULL;
    p = json_object_get(j, "params");
    CHECK(j && json_is_object(json_object_get(p, "capabilities"))
          && json_is_string(json_object_get(json_object_get(p, "clientInfo"),
                                            "name"))
          && json_is_string(json_object_get(json_object_get(p, "clientInfo"),
                                            "version")),
          "without kept clientInfo a placeholder name and version go");
}

/* ------------------------------------------------------------------ */
/* The 2026-07-28 revision and multi-round calls (issue 11)            */

/* Three rounds: a name, then a colour, each answer carried in the
 * callback's own state; a missing answer is asked again. */
static apr_status_t mr_tool(mcp_call_t *call, void *baton)
{
    const char *state = mcp_call_state(call);
    json_t *a;
    apr_status_t rv;

    if (!state || str_is(state, "1")) {
        a = mcp_call_input(call, "step1");
        if (!state || !a) {
            rv = mcp_call_ask_elicitation(call, "step1", "Step 1: name?",
                     "{\"type\":\"object\",\"properties\":{\"name\":"
                     "{\"type\":\"string\"}}}");
            if (rv == APR_SUCCESS) {
                rv = mcp_call_set_state(call, "1");
            }
            return rv == APR_SUCCESS ? MCP_INPUT_REQUIRED : rv;
        }
        rv = mcp_call_ask_elicitation(call, "step2", "Step 2: colour?",
                 "{\"type\":\"object\",\"properties\":{\"color\":"
                 "{\"type\":\"string\"}}}");
        if (rv == APR_SUCCESS) {
            rv = mcp_call_set_state(call, apr_pstrcat(call->pool, "2:",
                     json_string_value(json_object_get(json_object_get(
                         a, "content"), "name")), NULL));
        }
        return rv == APR_SUCCESS ? MCP_INPUT_REQUIRED : rv;
    }
    a = mcp_call_input(call, "step2");
    if (strncmp(state, "2:", 2) || !a) {
        return mcp_call_invalid_params(call, "round 3 without its answer");
    }
    return mcp_call_add_text(call, apr_pstrcat(call->pool, state + 2, " likes ",
                             json_string_value(json_object_get(json_object_get(
                                 a, "content"), "color")), NULL));
}

/* Asks for everything; only what the client declared is asked. Nothing
 * at all: the tool needs sampling. */
static apr_status_t caps_tool(mcp_call_t *call, void *baton)
{
    json_t *p = json_pack("{s:[{s:s, s:{s:s, s:s}}], s:i}", "messages", "role",
                          "user", "content", "type", "text", "text", "Hi?",
                          "maxTokens", 10);
    int asked = 0;

    if (mcp_call_ask(call, "s", "sampling/createMessage", p) == APR_SUCCESS) {
        asked++;
    }
    json_decref(p);
    if (mcp_call_ask_elicitation(call, "e", "Name?", "{\"type\":\"object\"}")
        == APR_SUCCESS) {
        asked++;
    }
    if (mcp_call_ask(call, "r", "roots/list", NULL) == APR_SUCCESS) {
        asked++;
    }
    if (!asked) {
        return mcp_call_require(call, "sampling");
    }
    return MCP_INPUT_REQUIRED;
}

static apr_status_t needs_tool(mcp_call_t *call, void *baton)
{
    return mcp_call_require(call, "sampling");
}

static apr_status_t empty_round_tool(mcp_call_t *call, void *baton)
{
    return MCP_INPUT_REQUIRED;      /* a provider bug: nothing asked */
}

/* A round that only carries state: the client calls again at once. */
static apr_status_t state_only_tool(mcp_call_t *call, void *baton)
{
    const char *state = mcp_call_state(call);
    if (state) {
        return mcp_call_add_text(call, apr_pstrcat(call->pool, "state-ok ",
                                                   state, NULL));
    }
    mcp_call_set_state(call, "s1");
    return MCP_INPUT_REQUIRED;
}

static apr_status_t log_tool(mcp_call_t *call, void *baton)
{
    mcp_call_progress(call, 1, 2, NULL);
    mcp_call_log(call, MCP_LOG_DEBUG, "t", "debug line");
    mcp_call_log(call, MCP_LOG_ERROR, "t", "error line");
    return mcp_call_add_text(call, "logged");
}

/* What a callback sees of its context, as structuredContent. */
static apr_status_t ctx_tool(mcp_call_t *call, void *baton)
{
    json_t *info = call->ops->client_info(call);
    json_t *out = json_pack("{s:s?, s:s?, s:s?, s:b, s:b, s:b, s:O?}",
        "user", call->session_user, "version", call->protocol_version,
        "client", json_string_value(json_object_get(info, "name")),
        "cancelled", mcp_call_cancelled(call),
        "has_input", mcp_call_input(call, "k") != NULL,
        "has_state", mcp_call_state(call) != NULL,
        "caps", call->ops->client_capabilities(call));
    apr_status_t rv = call->ops->set_structured(call, out);
    json_decref(out);
    return rv;
}

/* The limits of ask() and set_state(), as an array of statuses. */
static apr_status_t ask_checks_tool(mcp_call_t *call, void *baton)
{
    json_t *out = json_array(), *obj = json_object(), *str = json_string("x");
    char key[80], *big = apr_palloc(call->pool, MCP_CALL_STATE_MAX + 2);
    int i;

#define ST(e) json_array_append_new(out, json_integer((json_int_t)(e)))
    ST(mcp_call_ask(call, "", "roots/list", NULL));                 /* 0 */
    memset(key, 'k', 65);
    key[65] = '\0';
    ST(mcp_call_ask(call, key, "roots/list", NULL));                /* 1 */
    key[64] = '\0';
    ST(mcp_call_ask(call, key, "roots/list", NULL));                /* 2 */
    ST(mcp_call_ask(call, "a b", "roots/list", NULL));              /* 3 */
    ST(mcp_call_ask(call, NULL, "roots/list", NULL));               /* 4 */
    ST(mcp_call_ask(call, "k", "tools/call", obj));                 /* 5 */
    ST(mcp_call_ask(call, "k", "elicitation/create", NULL));        /* 6 */
    ST(mcp_call_ask(call, "k", "elicitation/create", str));         /* 7 */
    ST(mcp_call_ask(call, "A-z_0.9", "elicitation/create", obj));   /* 8 */
    ST(mcp_call_ask(call, "A-z_0.9", "roots/list", obj));           /* 9: replaces */
    for (i = 0; i < MCP_CALL_INPUTS_MAX; i++) {
        apr_snprintf(key, sizeof(key), "n%d", i);
        if (mcp_call_ask(call, key, "roots/list", NULL) != APR_SUCCESS) {
            break;
        }
    }
    ST(i);                                                          /* 10 */
    ST(mcp_call_ask(call, "n0", "roots/list", NULL));               /* 11: same key, full */
    memset(big, 's', MCP_CALL_STATE_MAX + 1);
    big[MCP_CALL_STATE_MAX + 1] = '\0';
    ST(mcp_call_set_state(call, big));                              /* 12 */
    big[MCP_CALL_STATE_MAX] = '\0';
    ST(mcp_call_set_state(call, big));                              /* 13 */
    ST(mcp_call_set_state(call, "\xff"));                           /* 14 */
    ST(mcp_call_set_state(call, NULL));                             /* 15 */
    ST(mcp_call_set_state(call, ""));                               /* 16 */
#undef ST
    call->ops->set_structured(call, out);
    json_decref(out);
    json_decref(obj);
    json_decref(str);
    return APR_SUCCESS;
}

static const mcp_tool_t modern_tools[] = {
    { "mr", NULL, NULL, NULL, NULL, mr_tool, NULL },
    { "caps", NULL, NULL, NULL, NULL, caps_tool, NULL },
    { "needs", NULL, NULL, NULL, NULL, needs_tool, NULL },
    { "empty_round", NULL, NULL, NULL, NULL, empty_round_tool, NULL },
    { "state_only", NULL, NULL, NULL, NULL, state_only_tool, NULL },
    { "log", NULL, NULL, NULL, NULL, log_tool, NULL },
    { "ctx", NULL, NULL, NULL, NULL, ctx_tool, NULL },
    { "ask_checks", NULL, NULL, NULL, NULL, ask_checks_tool, NULL },
    { "routed", NULL, NULL, "{\"type\":\"object\",\"properties\":{\"region\":"
      "{\"type\":\"string\",\"x-mcp-header\":\"Region\"}}}", NULL,
      call_nothing, NULL },
};

static apr_status_t mr_prompt(mcp_call_t *call, void *baton)
{
    json_t *a = mcp_call_input(call, "user_context"), *c;
    apr_status_t rv;

    if (!a) {
        rv = mcp_call_ask_elicitation(call, "user_context", "Context?",
                                      "{\"type\":\"object\"}");
        return rv == APR_SUCCESS ? MCP_INPUT_REQUIRED : rv;
    }
    c = json_pack("{s:s, s:s}", "type", "text", "text", "with context");
    rv = mcp_call_add_message(call, "user", c);
    json_decref(c);
    return rv;
}

static apr_status_t complete_asks(mcp_call_t *call, const char *arg,
                                  const char *value, void *baton)
{
    mcp_call_ask(call, "k", "roots/list", NULL);
    return MCP_INPUT_REQUIRED;      /* no multi-round completion */
}

static const mcp_prompt_t modern_prompt = {
    "mrp", NULL, "Asks first", NULL, mr_prompt, complete_asks, NULL
};

static apr_status_t mr_read(mcp_call_t *call, const char *uri, void *baton)
{
    json_t *a = mcp_call_input(call, "roots");
    apr_status_t rv;

    if (str_is(uri, "test://gone")) {
        return APR_NOTFOUND;
    }
    if (!a) {
        rv = mcp_call_ask(call, "roots", "roots/list", NULL);
        if (rv == APR_SUCCESS) {
            rv = mcp_call_set_state(call, uri);
        }
        return rv == APR_SUCCESS ? MCP_INPUT_REQUIRED : rv;
    }
    return mcp_call_add_resource_text(call, uri, NULL, mcp_call_state(call));
}

static const mcp_resource_t modern_resources[] = {
    { "test://asks", NULL, "asks", NULL, NULL, NULL, mr_read, NULL, NULL },
    { "test://gone", NULL, "gone", NULL, NULL, NULL, mr_read, NULL, NULL },
};

/* Request headers for mcp_era_check_params, "Name: value" lines. */
static const char *fake_header(void *baton, const char *name)
{
    const char *const *h;
    for (h = baton; h && *h; h++) {
        apr_size_t n = strlen(name);
        if (!strncasecmp(*h, name, n) && (*h)[n] == ':') {
            return *h + n + 2;
        }
    }
    return NULL;
}

static int gone_calls;

static int fake_gone(void *baton)
{
    gone_calls++;
    return 1;
}

/* One 2026-07-28 request: params (stolen) get the envelope meta (stolen;
 * NULL: the default, capabilities elicitation, sampling and roots) unless
 * they carry _meta; ctx is set up from tpl for this request alone, as the
 * transport would. */
static mcp_ctx_t modern_last;

static json_t *modern(const mcp_ctx_t *tpl, const char *method, json_t *params,
                      json_t *meta)
{
    static int id;
    json_t *body;
    const char *text, *msg;
    mcp_batch_t *b;
    mcp_msg_t *m;
    int code;

    if (!params) {
        params = json_object();
    }
    if (!json_object_get(params, "_meta")) {
        if (!meta) {
            meta = json_pack("{s:s, s:{s:{}, s:{}, s:{}}, s:{s:s, s:s}}",
                             MCP_META_PROTOCOL_VERSION, "2026-07-28",
                             MCP_META_CLIENT_CAPABILITIES, "elicitation",
                             "sampling", "roots", MCP_META_CLIENT_INFO,
                             "name", "unit-client", "version", "2");
        }
        json_object_set_new(params, "_meta", meta);
    }
    else {
        json_decref(meta);
    }
    body = json_pack("{s:s, s:i, s:s, s:o}", "jsonrpc", "2.0", "id", ++id,
                     "method", method, "params", params);
    text = mcp_json_dump(pool, body, NULL);
    json_decref(body);
    b = mcp_rpc_parse(pool, text, strlen(text), &code, &msg);
    m = &APR_ARRAY_IDX(b->msgs, 0, mcp_msg_t);
    modern_last = *tpl;
    modern_last.http_status = 0;
    mcp_protocol_modern_init(&modern_last, json_object_get(m->params, "_meta"));
    if (m->kind == MCP_MSG_NOTIFICATION) {
        mcp_protocol_notification(&modern_last, m);
        return NULL;
    }
    return mcp_json_pool_own(pool, mcp_protocol_request(&modern_last, m));
}

static json_t *result_of(json_t *res)
{
    return json_object_get(res, "result");
}

static const char *str_at(json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

static const char *first_text(json_t *res)
{
    return str_at(json_array_get(json_object_get(result_of(res), "content"), 0),
                  "text");
}

static const char *error_message(json_t *res)
{
    return str_at(json_object_get(res, "error"), "message");
}

static int has(const char *hay, const char *needle)
{
    return hay && strstr(hay, needle);
}

/* tools/call of `name` with arguments (stolen, may be NULL), answers
 * (stolen, may be NULL) and a requestState (may be NULL). */
static json_t *call_tool(const mcp_ctx_t *tpl, const char *name, json_t *args,
                         json_t *answers, const char *state, json_t *meta)
{
    json_t *params = json_pack("{s:s}", "name", name);
    if (args) {
        json_object_set_new(params, "arguments", args);
    }
    if (answers) {
        json_object_set_new(params, "inputResponses", answers);
    }
    if (state) {
        json_object_set_new(params, "requestState", json_string(state));
    }
    return modern(tpl, "tools/call", params, meta);
}

static json_t *elicited(const char *field, const char *value)
{
    return json_pack("{s:s, s:{s:s}}", "action", "accept", "content", field,
                     value);
}

static int is_404(json_t *res)
{
    return error_code(res) == MCP_ERR_METHOD_NOT_FOUND
           && modern_last.http_status == 404;
}

static void test_modern_rounds(void)
{
    mcp_registry_t *reg = mcp_registry_create(pool, "unit", "1.2");
    mcp_state_ring_t *ring = mcp_state_ring_make(pool), *other;
    mcp_ctx_t tpl;
    json_t *res, *r, *v;
    const char *st1, *st2, *tampered;
    apr_size_t i;

    for (i = 0; i < sizeof(modern_tools) / sizeof(modern_tools[0]); i++) {
        mcp_registry_add_tool(reg, &modern_tools[i]);
    }
    mcp_registry_add_prompt(reg, &modern_prompt);
    for (i = 0; i < sizeof(modern_resources) / sizeof(modern_resources[0]); i++) {
        mcp_registry_add_resource(reg, &modern_resources[i]);
    }
    mcp_registry_seal(reg);
    mcp_state_ring_add(ring, (const unsigned char *)
                       "0123456789abcdef0123456789abcdef", 32);
    mcp_protocol_ctx_init(&tpl, pool, reg, NULL, 0);
    tpl.principal = "alice";
    tpl.endpoint = "h:80/mcp";
    tpl.ring = ring;
    tpl.cache_scope = "private";
    tpl.list_ttl = apr_time_from_sec(60);

    /* three rounds, state evolving */
    res = call_tool(&tpl, "mr", NULL, NULL, NULL, NULL);
    r = result_of(res);
    CHECK(str_is(str_at(r, "resultType"), "input_required")
          && str_is(str_at(json_object_get(json_object_get(r, "inputRequests"),
                                            "step1"), "method"),
                     "elicitation/create")
          && json_object_size(json_object_get(r, "inputRequests")) == 1
          && str_at(r, "requestState") && !json_object_get(r, "ttlMs")
          && json_object_get(json_object_get(r, "_meta"), MCP_META_SERVER_INFO)
          && modern_last.http_status == 0,
          "round 1: input_required with the elicitation, a sealed state and "
          "serverInfo, not cacheable");
    st1 = apr_pstrdup(pool, str_at(r, "requestState") ? str_at(r, "requestState")
                                                          : "");
    CHECK(*st1 && strcmp(st1, "1") && !strstr(st1, "\"1\""),
          "the state goes out sealed");

    res = call_tool(&tpl, "mr", NULL, NULL, st1, NULL);
    r = result_of(res);
    CHECK(str_is(str_at(r, "resultType"), "input_required")
          && json_object_get(json_object_get(r, "inputRequests"), "step1"),
          "an answer missing: asked again (not an error)");

    res = call_tool(&tpl, "mr", NULL, json_pack("{s:o, s:s}", "step1",
                    elicited("name", "Ann"), "extra", "ignored"), st1, NULL);
    r = result_of(res);
    CHECK(str_is(str_at(r, "resultType"), "input_required")
          && json_object_get(json_object_get(r, "inputRequests"), "step2")
          && !json_object_get(json_object_get(r, "inputRequests"), "step1")
          && str_at(r, "requestState")
          && strcmp(str_at(r, "requestState"), st1),
          "round 2: the next question and a new state (extra answers ignored)");
    st2 = apr_pstrdup(pool, str_at(r, "requestState") ? str_at(r, "requestState")
                                                          : "");

    res = call_tool(&tpl, "mr", NULL, json_pack("{s:o}", "step2",
                    elicited("color", "green")), st2, NULL);
    CHECK(first_text(res) && str_is(first_text(res), "Ann likes green")
          && str_is(str_at(result_of(res), "resultType"), "complete"),
          "round 3: complete, built from the state of round 2");

    /* tampering, replay elsewhere */
    tampered = apr_pstrcat(pool, st2, "-TAMPERED", NULL);
    res = call_tool(&tpl, "mr", NULL, json_pack("{s:o}", "step2",
                    elicited("color", "green")), tampered, NULL);
    CHECK(error_code(res) == MCP_ERR_INVALID_PARAMS
          && has(error_message(res), "requestState is not valid")
          && modern_last.http_status == 0 && !result_of(res),
          "a tampered state is -32602 in-band, never a new round");
    CHECK(modern_last.state_refused && *modern_last.state_refused,
          "... and the transport is told why (for its log)");
    {
        char *flip = apr_pstrdup(pool, st2);
        apr_size_t n = strlen(flip), bad = 0, tries = 0, at;
        /* a changed character anywhere is refused (about 9 positions) */
        for (at = 0; at < n; at += n / 8 + 1, tries++) {
            flip[at] = flip[at] == 'A' ? 'B' : 'A';
            res = call_tool(&tpl, "mr", NULL, NULL, flip, NULL);
            bad += error_code(res) == MCP_ERR_INVALID_PARAMS;
            flip[at] = st2[at];
        }
        CHECK(tries >= 8 && bad == tries, "a state with any one character "
              "changed is refused");
    }
    res = call_tool(&tpl, "mr", json_pack("{s:i}", "x", 1), json_pack(
                    "{s:o}", "step2", elicited("color", "green")), st2, NULL);
    CHECK(error_code(res) == MCP_ERR_INVALID_PARAMS,
          "a state replayed with other arguments is refused");
    tpl.principal = "mallory";
    res = call_tool(&tpl, "mr", NULL, json_pack("{s:o}", "step2",
                    elicited("color", "green")), st2, NULL);
    CHECK(error_code(res) == MCP_ERR_INVALID_PARAMS,
          "a state replayed by another user is refused");
    tpl.principal = NULL;
    res = call_tool(&tpl, "mr", NULL, NULL, st2, NULL);
    CHECK(error_code(res) == MCP_ERR_INVALID_PARAMS,
          "a state replayed anonymously is refused");
    tpl.principal = "alice";
    tpl.endpoint = "h:80/other";
    res = call_tool(&tpl, "mr", NULL, NULL, st2, NULL);
    CHECK(error_code(res) == MCP_ERR_INVALID_PARAMS,
          "a state replayed at another endpoint is refused");
    tpl.endpoint = "h:80/mcp";
    res = call_tool(&tpl, "state_only", NULL, NULL, st2, NULL);
    CHECK(error_code(res) == MCP_ERR_INVALID_PARAMS,
          "a state replayed on another tool is refused");
    res = modern(&tpl, "prompts/get", json_pack("{s:s, s:s}", "name", "mrp",
                 "requestState", st2), NULL);
    CHECK(error_code(res) == MCP_ERR_INVALID_PARAMS,
          "a state replayed on another method is refused");
    other = mcp_state_ring_make(pool);
    mcp_state_ring_add(other, (const unsigned char *)
                       "another key of thirty-two bytes!", 32);
    tpl.ring = other;
    res = call_tool(&tpl, "mr", NULL, NULL, st2, NULL);
    CHECK(error_code(res) == MCP_ERR_INVALID_PARAMS,
          "a state sealed with a key the ring does not hold is refused");
    tpl.ring = NULL;
    res = call_tool(&tpl, "mr", NULL, NULL, st2, NULL);
    CHECK(error_code(res) == MCP_ERR_INVALID_PARAMS,
          "without a ring a state is refused");
    res = call_tool(&tpl, "mr", NULL, NULL, NULL, NULL);
    CHECK(error_code(res) == MCP_ERR_INTERNAL && !result_of(res),
          "without a ring a callback's state cannot go out: -32603");
    tpl.ring = ring;

    /* what the envelope of a round may hold */
    res = call_tool(&tpl, "mr", NULL, json_string("garbage"), NULL, NULL);
    CHECK(error_code(res) == MCP_ERR_INVALID_PARAMS
          && has(error_message(res), "inputResponses must be an object"),
          "inputResponses not an object is -32602");
    res = modern(&tpl, "tools/call", json_pack("{s:s, s:i}", "name", "mr",
                 "requestState", 5), NULL);
    CHECK(error_code(res) == MCP_ERR_INVALID_PARAMS
          && has(error_message(res), "requestState must be a string"),
          "requestState not a string is -32602");
    res = call_tool(&tpl, "mr", NULL, json_pack("{s:s}", "step1", "no"), st1,
                    NULL);
    CHECK(str_is(str_at(result_of(res), "resultType"), "input_required")
          && json_object_get(json_object_get(result_of(res), "inputRequests"),
                             "step1"),
          "an answer that is not an object is no answer: asked again");

    /* state only, the provider's bugs */
    res = call_tool(&tpl, "state_only", NULL, NULL, NULL, NULL);
    r = result_of(res);
    CHECK(str_is(str_at(r, "resultType"), "input_required")
          && !json_object_get(r, "inputRequests") && str_at(r, "requestState"),
          "a round may carry a state alone");
    res = call_tool(&tpl, "state_only", NULL, NULL, str_at(r, "requestState"),
                    NULL);
    CHECK(first_text(res) && str_is(first_text(res), "state-ok s1"),
          "and the state comes back to the callback");
    res = call_tool(&tpl, "empty_round", NULL, NULL, NULL, NULL);
    CHECK(error_code(res) == MCP_ERR_INTERNAL,
          "input_required with nothing asked and no state is -32603");

    /* capabilities */
    res = call_tool(&tpl, "caps", NULL, NULL, NULL, json_pack(
                    "{s:s, s:{s:{}}}", MCP_META_PROTOCOL_VERSION, "2026-07-28",
                    MCP_META_CLIENT_CAPABILITIES, "sampling"));
    v = json_object_get(result_of(res), "inputRequests");
    CHECK(json_object_size(v) == 1
          && str_is(str_at(json_object_get(v, "s"), "method"),
                     "sampling/createMessage"),
          "only what the request's capabilities declare is asked");
    res = call_tool(&tpl, "caps", NULL, NULL, NULL, NULL);
    CHECK(json_object_size(json_object_get(result_of(res), "inputRequests")) == 3
          && json_is_object(json_object_get(json_object_get(json_object_get(
                 result_of(res), "inputRequests"), "r"), "params")),
          "all three with all three declared (roots/list params {})");
    res = call_tool(&tpl, "caps", NULL, NULL, NULL, json_pack(
                    "{s:s, s:{}}", MCP_META_PROTOCOL_VERSION, "2026-07-28",
                    MCP_META_CLIENT_CAPABILITIES));
    CHECK(error_code(res) == MCP_ERR_MISSING_CAPABILITY
          && modern_last.http_status == 400
          && str_is(error_message(res),
                     "Missing required client capability: sampling")
          && json_is_object(json_object_get(json_object_get(json_object_get(
                 json_object_get(res, "error"), "data"), "requiredCapabilities"),
                 "sampling")),
          "none declared: -32021 with requiredCapabilities {sampling:{}}, 400");
    res = call_tool(&tpl, "needs", NULL, NULL, NULL, NULL);
    CHECK(error_code(res) == MCP_ERR_MISSING_CAPABILITY
          && modern_last.http_status == 400,
          "require_capability() is -32021 whatever the client declared");

    /* ask() and set_state() limits */
    res = call_tool(&tpl, "ask_checks", NULL, NULL, NULL, NULL);
    v = json_object_get(result_of(res), "structuredContent");
#define AT(i) ((apr_status_t)json_integer_value(json_array_get(v, i)))
    CHECK(AT(0) == APR_EINVAL && AT(1) == APR_EINVAL && AT(2) == APR_SUCCESS
          && AT(3) == APR_EINVAL && AT(4) == APR_EINVAL,
          "ask(): a key is 1..64 of [A-Za-z0-9_.-]");
    CHECK(AT(5) == APR_EINVAL && AT(6) == APR_EINVAL && AT(7) == APR_EINVAL
          && AT(8) == APR_SUCCESS && AT(9) == APR_SUCCESS,
          "ask(): a known method, params an object (NULL for roots/list only)");
    CHECK(AT(10) == MCP_CALL_INPUTS_MAX - 2 && AT(11) == APR_SUCCESS,
          "ask(): at most MCP_CALL_INPUTS_MAX requests; asking a key again "
          "replaces it");
    CHECK(AT(12) == APR_EINVAL && AT(13) == APR_SUCCESS && AT(14) == APR_EINVAL
          && AT(15) == APR_EINVAL && AT(16) == APR_SUCCESS,
          "set_state(): UTF-8 text of at most MCP_CALL_STATE_MAX bytes");
#undef AT

    /* prompts/get and resources/read rounds */
    res = modern(&tpl, "prompts/get", json_pack("{s:s}", "name", "mrp"), NULL);
    CHECK(str_is(str_at(result_of(res), "resultType"), "input_required")
          && json_object_get(json_object_get(result_of(res), "inputRequests"),
                             "user_context"),
          "prompts/get: a round");
    res = modern(&tpl, "prompts/get", json_pack("{s:s, s:{s:o}}", "name", "mrp",
                 "inputResponses", "user_context", elicited("context", "x")),
                 NULL);
    CHECK(str_is(str_at(result_of(res), "resultType"), "complete")
          && json_array_size(json_object_get(result_of(res), "messages")) == 1,
          "prompts/get: complete with the answer");
    res = modern(&tpl, "resources/read", json_pack("{s:s}", "uri", "test://asks"),
                 NULL);
    r = result_of(res);
    CHECK(str_is(str_at(r, "resultType"), "input_required")
          && str_at(r, "requestState") && !json_object_get(r, "ttlMs")
          && !json_object_get(r, "cacheScope"),
          "resources/read: a round, not cacheable");
    res = modern(&tpl, "resources/read", json_pack("{s:s, s:s, s:{s:{s:[]}}}",
                 "uri", "test://asks", "requestState", str_at(r, "requestState"),
                 "inputResponses", "roots", "roots"), NULL);
    r = result_of(res);
    CHECK(str_is(str_at(json_array_get(json_object_get(r, "contents"), 0),
                         "text"), "test://asks")
          && json_integer_value(json_object_get(r, "ttlMs")) == 0
          && json_is_integer(json_object_get(r, "ttlMs"))
          && str_is(str_at(r, "cacheScope"), "private")
          && str_is(str_at(r, "resultType"), "complete"),
          "resources/read: complete, ttlMs 0 and cacheScope");
    res = modern(&tpl, "completion/complete", json_pack(
                 "{s:{s:s, s:s}, s:{s:s, s:s}}", "ref", "type", "ref/prompt",
                 "name", "mrp", "argument", "name", "a", "value", "b"), NULL);
    CHECK(error_code(res) == MCP_ERR_INTERNAL,
          "completion/complete has no rounds: -32603");
}

static void test_modern_methods(void)
{
    mcp_registry_t *reg = mcp_registry_create(pool, "unit", "1.2");
    mcp_ctx_t tpl;
    json_t *res, *r, *v;
    apr_size_t i;
    const char *hdrs[3] = { NULL, NULL, NULL };
    const char *removed[] = { "initialize", "ping", "logging/setLevel",
                              "resources/subscribe", "resources/unsubscribe",
                              "unknown/method", "notifications/initialized",
                              NULL };
    int n404;

    for (i = 0; i < sizeof(modern_tools) / sizeof(modern_tools[0]); i++) {
        mcp_registry_add_tool(reg, &modern_tools[i]);
    }
    mcp_registry_add_resource(reg, &item_template);
    reg->instructions = "Be brief";
    mcp_registry_seal(reg);
    mcp_protocol_ctx_init(&tpl, pool, reg, NULL, 0);
    tpl.cache_scope = "public";
    tpl.list_ttl = apr_time_from_sec(60);
    tpl.principal = "bob";

    res = modern(&tpl, "server/discover", NULL, NULL);
    r = result_of(res);
    v = json_object_get(r, "capabilities");
    CHECK(str_is(str_at(r, "resultType"), "complete")
          && json_array_size(json_object_get(r, "supportedVersions")) >= 1
          && str_is(json_string_value(json_array_get(json_object_get(
                 r, "supportedVersions"), 0)), "2026-07-28")
          && json_integer_value(json_object_get(r, "ttlMs")) == 60000
          && str_is(str_at(r, "cacheScope"), "public")
          && str_is(str_at(r, "instructions"), "Be brief")
          && str_is(str_at(json_object_get(json_object_get(r, "_meta"),
                                            MCP_META_SERVER_INFO), "name"),
                     "unit")
          && str_is(str_at(json_object_get(json_object_get(r, "_meta"),
                                            MCP_META_SERVER_INFO), "version"),
                     "1.2")
          && !json_object_get(r, "serverInfo") && !json_object_get(r, "protocolVersion"),
          "server/discover: versions, ttlMs, cacheScope, instructions, "
          "serverInfo in _meta");
    CHECK(json_object_size(json_object_get(v, "tools")) == 0
          && json_object_size(json_object_get(v, "resources")) == 0
          && json_object_get(v, "tools") && json_object_get(v, "resources")
          && json_object_get(v, "completions") && json_object_get(v, "logging")
          && !json_object_get(v, "prompts"),
          "server/discover: what is served, no listChanged, no subscribe");

    /* capability not served, removed, unknown: 404 */
    res = modern(&tpl, "prompts/list", NULL, NULL);
    CHECK(is_404(res), "prompts/list without prompts is 404 -32601");
    res = modern(&tpl, "prompts/get", json_pack("{s:s}", "name", "x"), NULL);
    CHECK(is_404(res), "prompts/get without prompts is 404 -32601");
    for (n404 = 0, i = 0; removed[i]; i++) {
        res = modern(&tpl, removed[i], NULL, NULL);
        n404 += is_404(res)
                && json_integer_value(json_object_get(res, "id")) > 0;
    }
    CHECK(n404 == (int)i, "initialize, ping, logging/setLevel, "
          "resources/subscribe and unsubscribe and unknown methods: 404 "
          "-32601 with the request's id");

    /* lists */
    res = modern(&tpl, "tools/list", NULL, NULL);
    r = result_of(res);
    CHECK(json_array_size(json_object_get(r, "tools"))
              == sizeof(modern_tools) / sizeof(modern_tools[0])
          && str_is(str_at(r, "resultType"), "complete")
          && json_integer_value(json_object_get(r, "ttlMs")) == 60000
          && str_is(str_at(r, "cacheScope"), "public")
          && json_object_get(json_object_get(r, "_meta"), MCP_META_SERVER_INFO)
          && !json_object_get(reg->tools_list, "ttlMs")
          && !json_object_get(reg->tools_list, "_meta"),
          "tools/list: the list, resultType, ttlMs, cacheScope, serverInfo; "
          "the shared list untouched");
    res = modern(&tpl, "resources/templates/list", NULL, NULL);
    r = result_of(res);
    CHECK(json_array_size(json_object_get(r, "resourceTemplates")) == 1
          && json_is_integer(json_object_get(r, "ttlMs"))
          && str_at(r, "cacheScope"), "resources/templates/list is cacheable");
    res = modern(&tpl, "resources/list", NULL, NULL);
    CHECK(json_is_integer(json_object_get(result_of(res), "ttlMs")),
          "resources/list is cacheable");
    tpl.cache_scope = NULL;
    res = modern(&tpl, "resources/list", NULL, NULL);
    CHECK(str_is(str_at(result_of(res), "cacheScope"), "private"),
          "no scope given: private");
    tpl.cache_scope = "public";

    /* reads */
    res = modern(&tpl, "resources/read", json_pack("{s:s}", "uri",
                 "test://nonexistent-resource-for-conformance-testing"), NULL);
    CHECK(error_code(res) == MCP_ERR_INVALID_PARAMS
          && str_is(error_message(res), "Resource not found")
          && str_is(str_at(json_object_get(json_object_get(res, "error"), "data"),
                            "uri"),
                     "test://nonexistent-resource-for-conformance-testing")
          && modern_last.http_status == 0,
          "an unknown URI is -32602 with data.uri");
    res = modern(&tpl, "resources/read", json_pack("{s:s}", "uri",
                 "test://item/missing"), NULL);
    CHECK(error_code(res) == MCP_ERR_INVALID_PARAMS
          && str_is(error_message(res), "Resource not found"),
          "a callback's APR_NOTFOUND is -32602 too");
    res = modern(&tpl, "completion/complete", json_pack(
                 "{s:{s:s, s:s}, s:{s:s, s:s}}", "ref", "type", "ref/resource",
                 "uri", "test://item/{id}", "argument", "name", "id", "value",
                 "a"), NULL);
    r = result_of(res);
    CHECK(json_array_size(json_object_get(json_object_get(r, "completion"),
                                          "values")) == 2
          && str_is(str_at(r, "resultType"), "complete")
          && json_object_get(json_object_get(r, "_meta"), MCP_META_SERVER_INFO)
          && !json_object_get(r, "ttlMs"),
          "completion/complete: resultType and serverInfo");

    /* the callback's context */
    tpl.gone = fake_gone;
    gone_calls = 0;
    res = call_tool(&tpl, "ctx", NULL, json_pack("{s:{}}", "k"), NULL, NULL);
    r = json_object_get(result_of(res), "structuredContent");
    CHECK(str_is(str_at(r, "user"), "bob")
          && str_is(str_at(r, "version"), "2026-07-28")
          && str_is(str_at(r, "client"), "unit-client")
          && json_is_true(json_object_get(r, "cancelled")) && gone_calls == 1
          && json_is_true(json_object_get(r, "has_input"))
          && !json_is_true(json_object_get(r, "has_state"))
          && json_object_size(json_object_get(r, "caps")) == 3
          && str_is(str_at(result_of(res), "resultType"), "complete"),
          "a callback sees the request's user, version, clientInfo, "
          "capabilities, answers and whether the client went away");
    tpl.gone = NULL;
    res = call_tool(&tpl, "ctx", NULL, NULL, NULL, json_pack("{s:s, s:{}}",
                    MCP_META_PROTOCOL_VERSION, "2026-07-28",
                    MCP_META_CLIENT_CAPABILITIES));
    r = json_object_get(result_of(res), "structuredContent");
    CHECK(json_is_null(json_object_get(r, "client"))
          && json_is_false(json_object_get(r, "cancelled"))
          && json_object_size(json_object_get(r, "caps")) == 0,
          "without clientInfo: none; without gone(): never cancelled");

    /* log notifications only at the request's level */
    tpl.emit = capture;
    emitted = mcp_json_pool_own(pool, json_array());
    res = call_tool(&tpl, "log", NULL, NULL, NULL, NULL);
    CHECK(str_is(first_text(res), "logged") && json_array_size(emitted) == 0,
          "no logLevel: no notifications/message");
    res = call_tool(&tpl, "log", NULL, NULL, NULL, json_pack(
                    "{s:s, s:{}, s:s, s:s}", MCP_META_PROTOCOL_VERSION,
                    "2026-07-28", MCP_META_CLIENT_CAPABILITIES,
                    MCP_META_LOG_LEVEL, "warning", "progressToken", "p"));
    CHECK(json_array_size(emitted) == 2
          && str_is(str_at(json_array_get(emitted, 0), "method"),
                     "notifications/progress")
          && str_is(str_at(json_object_get(json_array_get(emitted, 1),
                                            "params"), "level"), "error"),
          "logLevel warning: the error line only (and progress)");
    json_array_clear(emitted);
    res = call_tool(&tpl, "log", NULL, NULL, NULL, json_pack(
                    "{s:s, s:{}, s:s}", MCP_META_PROTOCOL_VERSION,
                    "2026-07-28", MCP_META_CLIENT_CAPABILITIES,
                    MCP_META_LOG_LEVEL, "debug"));
    CHECK(json_array_size(emitted) == 2, "logLevel debug: both lines");
    json_array_clear(emitted);
    res = call_tool(&tpl, "log", NULL, NULL, NULL, json_pack(
                    "{s:s, s:{}, s:s}", MCP_META_PROTOCOL_VERSION,
                    "2026-07-28", MCP_META_CLIENT_CAPABILITIES,
                    MCP_META_LOG_LEVEL, "loud"));
    CHECK(json_array_size(emitted) == 0, "an unknown logLevel: none");
    res = call_tool(&tpl, "log", NULL, NULL, NULL, NULL);
    CHECK(json_array_size(emitted) == 0,
          "the level of an earlier request is not kept");

    /* subscriptions/listen */
    json_array_clear(emitted);
    res = modern(&tpl, "subscriptions/listen", json_pack("{s:{s:b}}",
                 "notifications", "toolsListChanged", 1), NULL);
    r = json_array_get(emitted, 0);
    CHECK(json_array_size(emitted) == 1
          && str_is(str_at(r, "method"),
                     "notifications/subscriptions/acknowledged")
          && json_is_object(json_object_get(json_object_get(r, "params"),
                                            "notifications"))
          && json_object_size(json_object_get(json_object_get(r, "params"),
                                              "notifications")) == 0
          && json_equal(json_object_get(json_object_get(json_object_get(r,
                 "params"), "_meta"), MCP_META_SUBSCRIPTION_ID),
                 json_object_get(res, "id")),
          "listen: acknowledged first, granting nothing, with the "
          "subscriptionId");
    r = result_of(res);
    CHECK(str_is(str_at(r, "resultType"), "complete")
          && json_equal(json_object_get(json_object_get(r, "_meta"),
                                        MCP_META_SUBSCRIPTION_ID),
                        json_object_get(res, "id"))
          && json_object_get(json_object_get(r, "_meta"), MCP_META_SERVER_INFO),
          "listen: then the result ends it, with the subscriptionId");
    res = modern(&tpl, "subscriptions/listen", json_pack("{s:[]}",
                 "notifications"), NULL);
    CHECK(error_code(res) == MCP_ERR_INVALID_PARAMS,
          "listen: notifications must be an object");
    tpl.emit = NULL;
    res = modern(&tpl, "subscriptions/listen", json_pack("{s:{}}",
                 "notifications"), NULL);
    CHECK(str_is(str_at(result_of(res), "resultType"), "complete"),
          "listen without a stream: the result alone");

    /* Mcp-Param-* */
    tpl.header = fake_header;
    tpl.header_baton = hdrs;
    res = call_tool(&tpl, "routed", json_pack("{s:s}", "region", "eu"), NULL,
                    NULL, NULL);
    CHECK(error_code(res) == MCP_ERR_HEADER_MISMATCH
          && modern_last.http_status == 400,
          "a routed argument without its Mcp-Param header: 400 -32020");
    hdrs[0] = "Mcp-Param-Region: us";
    res = call_tool(&tpl, "routed", json_pack("{s:s}", "region", "eu"), NULL,
                    NULL, NULL);
    CHECK(error_code(res) == MCP_ERR_HEADER_MISMATCH,
          "a header that says otherwise: -32020");
    hdrs[0] = "Mcp-Param-Region: eu";
    res = call_tool(&tpl, "routed", json_pack("{s:s}", "region", "eu"), NULL,
                    NULL, NULL);
    CHECK(result_of(res) && modern_last.http_status == 0,
          "a matching header: the tool runs");

    /* a notification does nothing */
    res = NULL;
    {
        const char *note = "{\"jsonrpc\":\"2.0\",\"method\":"
            "\"notifications/initialized\",\"params\":{\"_meta\":{}}}";
        const char *msg;
        int code;
        mcp_batch_t *b = mcp_rpc_parse(pool, note, strlen(note), &code, &msg);
        mcp_session_t *s;
        mcp_ctx_t ctx = tpl;
        mcp_record_new(pool, &s);
        ctx.session = s;
        mcp_protocol_modern_init(&ctx, NULL);
        mcp_protocol_notification(&ctx, &APR_ARRAY_IDX(b->msgs, 0, mcp_msg_t));
        CHECK(!s->initialized && !ctx.session_dirty,
              "a 2026-07-28 notification changes nothing");
        CHECK(ctx.modern && !ctx.meta, "mcp_protocol_modern_init");
    }
}

/* The session revisions: the new ops exist but give nothing; a callback
 * that asks gets a clear error; nothing else changed. */
static void test_modern_legacy(void)
{
    mcp_registry_t *reg = mcp_registry_create(pool, "unit", "1");
    mcp_session_t *s;
    mcp_ctx_t ctx;
    json_t *res, *r;
    apr_size_t i;

    for (i = 0; i < sizeof(modern_tools) / sizeof(modern_tools[0]); i++) {
        mcp_registry_add_tool(reg, &modern_tools[i]);
    }
    mcp_registry_add_prompt(reg, &modern_prompt);
    mcp_registry_add_resource(reg, &modern_resources[0]);
    mcp_registry_seal(reg);
    mcp_record_new(pool, &s);
    s->protocol_version = "2025-11-25";
    s->user = "carol";
    mcp_record_lazy_set(pool, &s->client_caps,
                        json_pack("{s:{}}", "elicitation"));
    mcp_protocol_ctx_init(&ctx, pool, reg, s, 0);

    res = request(&ctx, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\","
                  "\"params\":{\"name\":\"mr\"}}");
    CHECK(error_code(res) == MCP_ERR_INVALID_REQUEST
          && str_is(error_message(res), "Invalid Request: tool mr needs input "
                     "from the client (elicitation/create); mod_mcp_session asks "
                     "for input only from clients speaking 2026-07-28 for now")
          && !json_object_get(json_object_get(res, "error"), "data")
          && ctx.http_status == 0,
          "session revisions: a tool that asks gets -32600 saying why");
    res = request(&ctx, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\","
                  "\"params\":{\"name\":\"caps\"}}");
    CHECK(error_code(res) == MCP_ERR_INVALID_REQUEST
          && has(error_message(res), "(elicitation/create)"),
          "session revisions: only the session's capabilities are asked");
    res = request(&ctx, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/call\","
                  "\"params\":{\"name\":\"needs\"}}");
    CHECK(error_code(res) == MCP_ERR_INVALID_REQUEST
          && str_is(error_message(res), "Invalid Request: tool needs needs the "
                     "client capability 'sampling', which this session did not "
                     "declare at initialize")
          && ctx.http_status == 0,
          "session revisions: a missing capability is -32600");
    res = request(&ctx, "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"prompts/get\","
                  "\"params\":{\"name\":\"mrp\"}}");
    CHECK(error_code(res) == MCP_ERR_INVALID_REQUEST
          && has(error_message(res), "prompt mrp needs input"),
          "session revisions: a prompt that asks, likewise");
    res = request(&ctx, "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"tools/call\","
                  "\"params\":{\"name\":\"ctx\",\"inputResponses\":{\"k\":{}},"
                  "\"requestState\":\"x\"}}");
    r = json_object_get(result_of(res), "structuredContent");
    CHECK(str_is(str_at(r, "user"), "carol")
          && str_is(str_at(r, "version"), "2025-11-25")
          && json_is_false(json_object_get(r, "has_input"))
          && json_is_false(json_object_get(r, "has_state"))
          && json_is_false(json_object_get(r, "cancelled"))
          && json_object_get(json_object_get(r, "caps"), "elicitation")
          && !json_object_get(result_of(res), "resultType")
          && !json_object_get(result_of(res), "_meta"),
          "session revisions: no answers, no state, no resultType or _meta");
    res = request(&ctx, "{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":\"tools/call\","
                  "\"params\":{\"name\":\"state_only\"}}");
    CHECK(error_code(res) == MCP_ERR_INVALID_REQUEST
          && has(error_message(res), "needs input from the client;"),
          "session revisions: a round with only a state is -32600 too");
    res = request(&ctx, "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"resources/read\","
                  "\"params\":{\"uri\":\"test://nope\"}}");
    CHECK(error_code(res) == MCP_ERR_RESOURCE,
          "session revisions: an unknown URI is still -32002");
    res = request(&ctx, "{\"jsonrpc\":\"2.0\",\"id\":8,\"method\":\"tools/list\"}");
    CHECK(!json_object_get(result_of(res), "ttlMs")
          && !json_object_get(result_of(res), "resultType"),
          "session revisions: lists unchanged");
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    apr_initialize();
    apr_pool_create(&pool, NULL);
    test_sha256();
    test_rpc();
    test_dump();
    test_parse();
    test_budget();
    test_numbers();
    test_error_text();
    test_record();
    test_versions();
    test_template();
    test_protocol();
    test_utf8();
    test_client_bounds();
    test_record_bytes();
    test_record_fits();
    test_limits_protocol();
    test_lists();
    test_sse();
    test_record_backend();
    test_modern_rounds();
    test_modern_methods();
    test_modern_legacy();
    apr_pool_destroy(pool);
    apr_terminate();
    printf("1..%d\n", passed + failed);
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
