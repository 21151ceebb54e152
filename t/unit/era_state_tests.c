/*
 * Unit tests of the 2026-07-28 era checks (mcp_era.c) and of sealed
 * requestState (mcp_state.c): every rung of the ladder with the cells of
 * the conformance scenarios server-stateless, http-header-validation and
 * http-custom-header-server-validation (0.2.0-alpha.12), the base64
 * sentinel, Mcp-Param-*, the state's format (its MAC checked against an
 * HMAC written here on the core's own SHA-256), tampering at every
 * position, expiry, binding, rotation and key files.
 * Run by `make -f Makefile.apxs unit`; prints TAP and "N passed, M failed".
 */
#include <locale.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "apr_general.h"
#include "apr_strings.h"
#include "apr_tables.h"
#include "mcp_era.h"
#include "mcp_json.h"
#include "mcp_rpc.h"
#include "mcp_sha256.h"
#include "mcp_state.h"

static int passed, failed;

#define CHECK(cond, name) do {                                          \
    if (cond) { passed++; printf("ok %d - %s\n", passed + failed, name); } \
    else { failed++; printf("not ok %d - %s (%s:%d)\n", passed + failed, \
                            name, __FILE__, __LINE__); }                 \
} while (0)

static apr_pool_t *pool;

#define JL(text) mcp_json_load(pool, text, strlen(text))

/* ------------------------------------------------------------------ */
/* Requests as the transport has them */

static const char *table_header(void *baton, const char *name)
{
    return apr_table_get((apr_table_t *)baton, name);
}

/* A header table from "Name", "value", ..., NULL. */
static apr_table_t *headers(const char *first, ...)
{
    apr_table_t *t = apr_table_make(pool, 8);
    const char *n, *v;
    va_list ap;
    va_start(ap, first);
    for (n = first; n; n = va_arg(ap, const char *)) {
        v = va_arg(ap, const char *);
        apr_table_set(t, n, v);
    }
    va_end(ap);
    return t;
}

static mcp_batch_t *body(const char *text)
{
    int code = 0;
    const char *msg = NULL;
    mcp_batch_t *b = mcp_rpc_parse(pool, text, strlen(text), &code, &msg);
    if (!b) {
        fprintf(stderr, "# test body does not parse: %s\n", text);
    }
    return b;
}

#define META(v) "\"_meta\":{\"io.modelcontextprotocol/protocolVersion\":\"" v \
    "\",\"io.modelcontextprotocol/clientInfo\":{\"name\":\"c\",\"version\":\"1\"}," \
    "\"io.modelcontextprotocol/clientCapabilities\":{}}"
#define V26 "2026-07-28"

static mcp_era_error_t *check(const char *text, apr_table_t *h)
{
    mcp_batch_t *b = body(text);
    return b ? mcp_era_check(pool, b, table_header, h) : NULL;
}

/* err is a 400 with code */
static int is_err(const mcp_era_error_t *e, int code)
{
    return e && e->status == 400 && e->code == code && e->message;
}

static int data_header(const mcp_era_error_t *e, const char *name)
{
    return e && json_is_string(json_object_get(e->data, "header"))
           && !strcmp(json_string_value(json_object_get(e->data, "header")),
                      name);
}

static void drop(mcp_era_error_t *e)
{
    if (e) {
        json_decref(e->data);
    }
}

/* ------------------------------------------------------------------ */

static void test_versions(void)
{
    json_t *l = mcp_era_supported_list();
    CHECK(mcp_era_supported(V26) && !mcp_era_supported("2025-11-25")
          && !mcp_era_supported("v999.0.0") && !mcp_era_supported(NULL)
          && !mcp_era_supported(" 2026-07-28"),
          "era: 2026-07-28 is the one served modern revision");
    CHECK(json_is_array(l) && json_array_size(l) == 1
          && !strcmp(json_string_value(json_array_get(l, 0)), V26),
          "era: the supported list is [2026-07-28]");
    json_decref(l);
    CHECK(!mcp_era_header_modern(NULL, 0) && !mcp_era_header_modern("", 0)
          && !mcp_era_header_modern(" \t ", 0)
          && !mcp_era_header_modern("2025-11-25", 0)
          && !mcp_era_header_modern(" 2025-06-18\t", 0)
          && !mcp_era_header_modern("2025-03-26", 0),
          "era: absent, blank and session revisions are not modern headers");
    CHECK(mcp_era_header_modern(V26, 0) && mcp_era_header_modern("  2026-07-28 ", 0)
          && mcp_era_header_modern("v999.0.0", 0)
          && mcp_era_header_modern("2024-11-05", 0),
          "era: any other header value is modern");
    CHECK(mcp_era_header_modern(V26, 1) && mcp_era_header_modern(" 2026-07-28 ", 1)
          && !mcp_era_header_modern("v999.0.0", 1)
          && !mcp_era_header_modern("2024-11-05", 1)
          && !mcp_era_header_modern("2025-11-25", 1),
          "era: in a session only a revision served without one is modern "
          "(an unknown one gets the session rules' answer)");
}

static void test_classify(void)
{
    const char *tl = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"}";
    const char *claim = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\","
                        "\"params\":{" META(V26) "}}";
    CHECK(mcp_era_classify(body(tl), NULL, 0) == MCP_ERA_LEGACY
          && mcp_era_classify(body(tl), "2025-11-25", 0) == MCP_ERA_LEGACY
          && mcp_era_classify(body(tl), " 2025-06-18 ", 0) == MCP_ERA_LEGACY,
          "classify: no claim and a session header (or none) is legacy");
    CHECK(mcp_era_classify(body(tl), V26, 0) == MCP_ERA_MODERN
          && mcp_era_classify(body(tl), "v999.0.0", 0) == MCP_ERA_MODERN,
          "classify: a header that names no session revision is modern");
    CHECK(mcp_era_classify(body(tl), V26, 1) == MCP_ERA_MODERN
          && mcp_era_classify(body(tl), "v999.0.0", 1) == MCP_ERA_LEGACY
          && mcp_era_classify(body(claim), NULL, 1) == MCP_ERA_MODERN,
          "classify: with Mcp-Session-Id an unknown version stays in the "
          "session; 2026-07-28 or a claim do not");
    CHECK(mcp_era_classify(body(claim), NULL, 0) == MCP_ERA_MODERN
          && mcp_era_classify(body(claim), "2025-11-25", 0) == MCP_ERA_MODERN,
          "classify: a _meta claim is modern whatever the header");
    CHECK(mcp_era_classify(body("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"x\","
              "\"params\":{\"_meta\":{\"io.modelcontextprotocol/protocolVersion\":7}}}"),
              NULL, 0) == MCP_ERA_MODERN
          && mcp_era_classify(body("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"x\","
              "\"params\":{\"_meta\":{\"io.modelcontextprotocol/protocolVersion\":null}}}"),
              NULL, 0) == MCP_ERA_MODERN,
          "classify: a claim of any type is modern");
    CHECK(mcp_era_classify(body("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"x\","
              "\"params\":{\"_meta\":{\"progressToken\":1}}}"), NULL, 0) == MCP_ERA_LEGACY
          && mcp_era_classify(body("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"x\","
              "\"params\":{\"_meta\":\"io.modelcontextprotocol/protocolVersion\"}}"),
              NULL, 0) == MCP_ERA_LEGACY,
          "classify: a _meta without the claim is legacy");
    CHECK(mcp_era_classify(body("[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"x\","
              "\"params\":{" META(V26) "}},{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"y\"}]"),
              NULL, 0) == MCP_ERA_MODERN
          && mcp_era_classify(body("[{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"y\"},"
              "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"x\",\"params\":{" META(V26) "}}]"),
              NULL, 0) == MCP_ERA_LEGACY,
          "classify: an array is classified by its first message");
    CHECK(mcp_era_classify(body("{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}"), NULL, 0)
          == MCP_ERA_LEGACY
          && mcp_era_classify(NULL, NULL, 0) == MCP_ERA_LEGACY,
          "classify: a posted response without a modern header is legacy");
}

static void test_ladder(void)
{
    mcp_era_error_t *e;
    json_t *sup;
    apr_table_t *h = headers("MCP-Protocol-Version", V26,
                             "Mcp-Method", "tools/list", NULL);

    /* a */
    e = check("[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\","
              "\"params\":{" META(V26) "}}]", h);
    CHECK(is_err(e, MCP_ERR_INVALID_REQUEST) && !e->data,
          "ladder a: a batch is 400 -32600");
    drop(e);
    e = check("{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}", h);
    CHECK(is_err(e, MCP_ERR_INVALID_REQUEST) && !e->data,
          "ladder a: a posted response is 400 -32600");
    drop(e);

    /* initialize under a modern header */
    e = check("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":"
              "{\"protocolVersion\":\"2025-11-25\",\"capabilities\":{},"
              "\"clientInfo\":{\"name\":\"c\",\"version\":\"1\"}}}",
              headers("MCP-Protocol-Version", V26, "Mcp-Method", "initialize", NULL));
    CHECK(is_err(e, MCP_ERR_HEADER_MISMATCH)
          && data_header(e, "MCP-Protocol-Version"),
          "ladder: initialize without a claim under a modern header is 400 -32020");
    drop(e);
    e = check("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{"
              META(V26) "}}",
              headers("MCP-Protocol-Version", V26, "Mcp-Method", "initialize", NULL));
    CHECK(!e, "ladder: initialize with a claim passes (the protocol answers 404)");
    drop(e);

    /* b */
    e = check("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\",\"params\":{"
              META(V26) "}}", headers("Mcp-Method", "tools/list", NULL));
    CHECK(is_err(e, MCP_ERR_HEADER_MISMATCH)
          && data_header(e, "MCP-Protocol-Version"),
          "ladder b: a claim without MCP-Protocol-Version is 400 -32020");
    drop(e);
    e = check("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\",\"params\":{"
              META(V26) "}}", headers("MCP-Protocol-Version", "  ",
                                      "Mcp-Method", "tools/list", NULL));
    CHECK(is_err(e, MCP_ERR_HEADER_MISMATCH),
          "ladder b: a blank MCP-Protocol-Version is a missing one");
    drop(e);
    /* server-stateless: V=2026-07-28, C=v999.0.0 expects -32020, not -32022 */
    e = check("{\"jsonrpc\":\"2.0\",\"id\":302,\"method\":\"server/discover\",\"params\":{"
              META("v999.0.0") "}}", headers("MCP-Protocol-Version", V26,
                                             "Mcp-Method", "server/discover", NULL));
    CHECK(is_err(e, MCP_ERR_HEADER_MISMATCH) && strstr(e->message, "v999.0.0"),
          "ladder b: header 2026-07-28 with claim v999.0.0 is 400 -32020 (conformance)");
    drop(e);
    e = check("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\",\"params\":{"
              META(V26) "}}", headers("MCP-Protocol-Version", "2025-11-25",
                                      "Mcp-Method", "tools/list", NULL));
    CHECK(is_err(e, MCP_ERR_HEADER_MISMATCH),
          "ladder b: a session header with a 2026 claim is 400 -32020");
    drop(e);
    e = check("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\",\"params\":{"
              META(V26) "}}", headers("MCP-Protocol-Version", " \t2026-07-28  ",
                                      "Mcp-Method", "tools/list", NULL));
    CHECK(!e, "ladder b: the header is trimmed of blanks before it is compared");
    drop(e);

    /* c: the three meta-invalid cells of server-stateless, and more */
    e = check("{\"jsonrpc\":\"2.0\",\"id\":101,\"method\":\"server/discover\",\"params\":{}}",
              headers("MCP-Protocol-Version", V26, "Mcp-Method", "server/discover", NULL));
    CHECK(is_err(e, MCP_ERR_INVALID_PARAMS) && strstr(e->message, "_meta")
          && !e->data, "ladder c: missing-meta is 400 -32602 (conformance)");
    drop(e);
    e = check("{\"jsonrpc\":\"2.0\",\"id\":101,\"method\":\"server/discover\"}",
              headers("MCP-Protocol-Version", V26, "Mcp-Method", "server/discover", NULL));
    CHECK(is_err(e, MCP_ERR_INVALID_PARAMS), "ladder c: no params at all is 400 -32602");
    drop(e);
    e = check("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"server/discover\","
              "\"params\":{\"_meta\":[]}}",
              headers("MCP-Protocol-Version", V26, "Mcp-Method", "server/discover", NULL));
    CHECK(is_err(e, MCP_ERR_INVALID_PARAMS), "ladder c: a _meta that is no object is 400 -32602");
    drop(e);
    e = check("{\"jsonrpc\":\"2.0\",\"id\":102,\"method\":\"server/discover\",\"params\":"
              "{\"_meta\":{\"io.modelcontextprotocol/clientInfo\":{\"name\":\"c\","
              "\"version\":\"1\"},\"io.modelcontextprotocol/clientCapabilities\":{}}}}",
              headers("MCP-Protocol-Version", V26, "Mcp-Method", "server/discover", NULL));
    CHECK(is_err(e, MCP_ERR_INVALID_PARAMS)
          && strstr(e->message, MCP_META_PROTOCOL_VERSION),
          "ladder c: missing-protocol-version is 400 -32602 naming the key (conformance)");
    drop(e);
    e = check("{\"jsonrpc\":\"2.0\",\"id\":104,\"method\":\"server/discover\",\"params\":"
              "{\"_meta\":{\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\","
              "\"io.modelcontextprotocol/clientInfo\":{\"name\":\"c\",\"version\":\"1\"}}}}",
              headers("MCP-Protocol-Version", V26, "Mcp-Method", "server/discover", NULL));
    CHECK(is_err(e, MCP_ERR_INVALID_PARAMS)
          && strstr(e->message, MCP_META_CLIENT_CAPABILITIES),
          "ladder c: missing-client-capabilities is 400 -32602 naming the key (conformance)");
    drop(e);
    e = check("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"server/discover\",\"params\":"
              "{\"_meta\":{\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\","
              "\"io.modelcontextprotocol/clientCapabilities\":[]}}}",
              headers("MCP-Protocol-Version", V26, "Mcp-Method", "server/discover", NULL));
    CHECK(is_err(e, MCP_ERR_INVALID_PARAMS) && strstr(e->message, "object"),
          "ladder c: clientCapabilities that is no object is 400 -32602");
    drop(e);
    e = check("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"server/discover\",\"params\":"
              "{\"_meta\":{\"io.modelcontextprotocol/protocolVersion\":20260728,"
              "\"io.modelcontextprotocol/clientCapabilities\":{}}}}",
              headers("MCP-Protocol-Version", V26, "Mcp-Method", "server/discover", NULL));
    CHECK(is_err(e, MCP_ERR_INVALID_PARAMS) && strstr(e->message, "string"),
          "ladder c: a claim that is no string is 400 -32602");
    drop(e);
    e = check("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"server/discover\",\"params\":"
              "{\"_meta\":{\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\","
              "\"io.modelcontextprotocol/clientCapabilities\":{}}}}",
              headers("MCP-Protocol-Version", V26, "Mcp-Method", "server/discover", NULL));
    CHECK(!e, "ladder c: clientInfo is optional (conformance)");
    drop(e);

    /* d: server-stateless sends V = C = v999.0.0 */
    e = check("{\"jsonrpc\":\"2.0\",\"id\":301,\"method\":\"server/discover\",\"params\":{"
              META("v999.0.0") "}}", headers("MCP-Protocol-Version", "v999.0.0",
                                             "Mcp-Method", "server/discover", NULL));
    sup = e ? json_object_get(e->data, "supported") : NULL;
    CHECK(is_err(e, MCP_ERR_UNSUPPORTED_VERSION) && json_is_array(sup)
          && json_array_size(sup) == 1
          && !strcmp(json_string_value(json_array_get(sup, 0)), V26)
          && !strcmp(json_string_value(json_object_get(e->data, "requested")),
                     "v999.0.0"),
          "ladder d: an unserved claim is 400 -32022 {supported, requested} (conformance)");
    drop(e);
    e = check("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\",\"params\":{"
              META("2025-11-25") "}}", headers("MCP-Protocol-Version", "2025-11-25",
                                               "Mcp-Method", "tools/list", NULL));
    CHECK(is_err(e, MCP_ERR_UNSUPPORTED_VERSION),
          "ladder d: a session revision as a _meta claim is not served modern");
    drop(e);

    /* notifications: no header rules */
    e = check("{\"jsonrpc\":\"2.0\",\"method\":\"notifications/x\",\"params\":{"
              META(V26) "}}", headers("MCP-Protocol-Version", V26, NULL));
    CHECK(!e, "ladder: a modern notification needs no Mcp-Method");
    drop(e);
    e = check("{\"jsonrpc\":\"2.0\",\"method\":\"notifications/x\"}",
              headers("MCP-Protocol-Version", V26, NULL));
    CHECK(is_err(e, MCP_ERR_INVALID_PARAMS),
          "ladder: a modern notification still needs its envelope");
    drop(e);
}

/* http-header-validation, every cell (its request bodies carry the
 * envelope; its first tool is "echo") */
static void test_header_validation(void)
{
    const char *tl = "{\"jsonrpc\":\"2.0\",\"id\":100,\"method\":\"tools/list\","
                     "\"params\":{" META(V26) "}}";
    const char *tc = "{\"jsonrpc\":\"2.0\",\"id\":101,\"method\":\"tools/call\","
                     "\"params\":{\"name\":\"echo\",\"arguments\":{}," META(V26) "}}";
    mcp_era_error_t *e;

    e = check(tl, headers("MCP-Protocol-Version", V26, "Mcp-Method", "prompts/list", NULL));
    CHECK(is_err(e, MCP_ERR_HEADER_MISMATCH) && data_header(e, "Mcp-Method")
          && strstr(e->message, "prompts/list") && strstr(e->message, "tools/list"),
          "header-validation: Mcp-Method mismatch is 400 -32020, message names both");
    drop(e);
    e = check(tl, headers("MCP-Protocol-Version", V26, NULL));
    CHECK(is_err(e, MCP_ERR_HEADER_MISMATCH) && data_header(e, "Mcp-Method"),
          "header-validation: missing Mcp-Method is 400 -32020");
    drop(e);
    e = check(tc, headers("MCP-Protocol-Version", V26, "Mcp-Method", "tools/call",
                          "Mcp-Name", "wrong_tool_name", NULL));
    CHECK(is_err(e, MCP_ERR_HEADER_MISMATCH) && data_header(e, "Mcp-Name"),
          "header-validation: Mcp-Name mismatch is 400 -32020");
    drop(e);
    e = check(tc, headers("MCP-Protocol-Version", V26, "Mcp-Method", "tools/call",
                          "Mcp-Name", "  echo  ", NULL));
    CHECK(!e, "header-validation: blanks around Mcp-Name are accepted");
    drop(e);
    e = check(tc, headers("MCP-Protocol-Version", V26, "Mcp-Method", "tools/call", NULL));
    CHECK(is_err(e, MCP_ERR_HEADER_MISMATCH) && data_header(e, "Mcp-Name"),
          "header-validation: missing Mcp-Name is 400 -32020");
    drop(e);
    e = check(tl, headers("MCP-Protocol-Version", V26, "mcp-method", "tools/list", NULL));
    CHECK(!e, "header-validation: lowercase header name accepted");
    drop(e);
    e = check(tl, headers("MCP-Protocol-Version", V26, "MCP-METHOD", "tools/list", NULL));
    CHECK(!e, "header-validation: uppercase header name accepted");
    drop(e);
    e = check(tl, headers("MCP-Protocol-Version", V26, "Mcp-Method", "TOOLS/LIST", NULL));
    CHECK(is_err(e, MCP_ERR_HEADER_MISMATCH),
          "header-validation: TOOLS/LIST is not tools/list (values are case-sensitive)");
    drop(e);
    e = check(tl, headers("MCP-Protocol-Version", V26, "Mcp-Method", "\ttools/list ", NULL));
    CHECK(!e, "header-validation: blanks around Mcp-Method are accepted");
    drop(e);

    /* Mcp-Name for the other two methods, and the sentinel */
    e = check("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"resources/read\",\"params\":"
              "{\"uri\":\"file:///a%20b.txt\"," META(V26) "}}",
              headers("MCP-Protocol-Version", V26, "Mcp-Method", "resources/read",
                      "Mcp-Name", "file:///a%20b.txt", NULL));
    CHECK(!e, "Mcp-Name: resources/read compares params.uri");
    drop(e);
    e = check("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"resources/read\",\"params\":"
              "{\"uri\":\"file:///a\"," META(V26) "}}",
              headers("MCP-Protocol-Version", V26, "Mcp-Method", "resources/read",
                      "Mcp-Name", "file:///b", NULL));
    CHECK(is_err(e, MCP_ERR_HEADER_MISMATCH) && strstr(e->message, "uri"),
          "Mcp-Name: a different uri is 400 -32020");
    drop(e);
    e = check("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"prompts/get\",\"params\":"
              "{\"name\":\"Hello, \\u4e16\\u754c\"," META(V26) "}}",
              headers("MCP-Protocol-Version", V26, "Mcp-Method", "prompts/get",
                      "Mcp-Name", "=?base64?SGVsbG8sIOS4lueVjA==?=", NULL));
    CHECK(!e, "Mcp-Name: a base64 sentinel is decoded before it is compared");
    drop(e);
    e = check("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"prompts/get\",\"params\":"
              "{\"name\":\"Hello\"," META(V26) "}}",
              headers("MCP-Protocol-Version", V26, "Mcp-Method", "prompts/get",
                      "Mcp-Name", "=?base64?SGVsbG8?=", NULL));
    CHECK(is_err(e, MCP_ERR_HEADER_MISMATCH) && strstr(e->message, "malformed"),
          "Mcp-Name: a malformed sentinel is 400 -32020");
    drop(e);
    e = check("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":"
              "{\"name\":7," META(V26) "}}",
              headers("MCP-Protocol-Version", V26, "Mcp-Method", "tools/call", NULL));
    CHECK(!e, "Mcp-Name: a name that is no string is left to the method");
    drop(e);
    {
        /* a long mismatch: the message stays short */
        char big[4001];
        memset(big, 'x', sizeof(big) - 1);
        big[sizeof(big) - 1] = '\0';
        e = check(tc, headers("MCP-Protocol-Version", V26, "Mcp-Method", "tools/call",
                              "Mcp-Name", big, NULL));
        CHECK(is_err(e, MCP_ERR_HEADER_MISMATCH) && strlen(e->message) < 300,
              "Mcp-Name: a 4000-byte value is cut in the message");
        drop(e);
    }
}

static void test_header_value(void)
{
    int bad;
    const char *v;
#define HV(raw) (v = mcp_era_header_value(pool, raw, &bad))

    CHECK(!HV(NULL) && !bad, "sentinel: NULL stays NULL");
    CHECK(HV("  plain \t") && !strcmp(v, "plain") && !bad,
          "sentinel: a plain value is trimmed");
    CHECK(HV("a\tb") && !strcmp(v, "a\tb") && !bad,
          "sentinel: inner HTAB is kept");
    CHECK(HV("=?base64?SGVsbG8=?=") && !strcmp(v, "Hello") && !bad,
          "sentinel: valid base64 decodes (conformance)");
    CHECK(!HV("=?base64?SGVsbG8?=") && bad,
          "sentinel: missing padding is malformed (conformance)");
    CHECK(!HV("=?base64?SGVs!!!bG8=?=") && bad,
          "sentinel: a foreign character is malformed (conformance)");
    CHECK(HV("SGVsbG8=") && !strcmp(v, "SGVsbG8=") && !bad,
          "sentinel: base64 without the markers is a literal (conformance)");
    CHECK(HV("=?base64?SGVsbG8=") && !strcmp(v, "=?base64?SGVsbG8=") && !bad,
          "sentinel: prefix only is a literal (conformance)");
    CHECK(HV("SGVsbG8=?=") && !strcmp(v, "SGVsbG8=?=") && !bad,
          "sentinel: suffix only is a literal");
    CHECK(HV("=?BASE64?SGVsbG8=?=") && !strcmp(v, "=?BASE64?SGVsbG8=?=") && !bad,
          "sentinel: the markers are lowercase only");
    CHECK(HV(" =?base64?SGVsbG8=?= ") && !strcmp(v, "Hello"),
          "sentinel: trimmed before the markers are looked for");
    CHECK(HV("=?base64?" "?=") && !strcmp(v, "") && !bad,
          "sentinel: an empty payload decodes to the empty string");
    CHECK(HV("=?base64?=") && !strcmp(v, "=?base64?=") && !bad,
          "sentinel: overlapping markers are a literal");
    CHECK(HV("=?base64?IHBhZGRlZCA=?=") && !strcmp(v, " padded "),
          "sentinel: decoded blanks are kept (spec example)");
    CHECK(HV("=?base64?bGluZTEKbGluZTI=?=") && !strcmp(v, "line1\nline2"),
          "sentinel: a decoded newline is kept (spec example)");
    CHECK(HV("=?base64?PT9iYXNlNjQ/bGl0ZXJhbD89?=") && !strcmp(v, "=?base64?literal?="),
          "sentinel: an encoded sentinel decodes once (spec example)");
    CHECK(HV("=?base64?SGVsbA==?=") && !strcmp(v, "Hell"), "sentinel: two padding characters");
    CHECK(!HV("=?base64?SGVsbA=?=") && bad, "sentinel: one '=' where two are needed");
    CHECK(!HV("=?base64?SGVsbA===?=") && bad, "sentinel: three '=' are malformed");
    CHECK(!HV("=?base64?SG==bG8=?=") && bad, "sentinel: padding in the middle is malformed");
    CHECK(!HV("=?base64?SGVs bG8=?=") && bad, "sentinel: a blank inside is malformed");
    CHECK(!HV("=?base64?SGVs-G8=?=") && bad, "sentinel: the url alphabet is not base64");
    CHECK(!HV("=?base64?AA==?=") && bad, "sentinel: a decoded NUL is malformed");
    CHECK(!HV("=?base64?/w==?=") && bad, "sentinel: decoded bytes that are not UTF-8 are malformed");
    CHECK(!HV("=?base64?7aCA?=") && bad, "sentinel: a decoded surrogate is malformed");
    CHECK(!HV("a\001b") && bad, "raw: a control character is malformed");
    CHECK(!HV("caf\xc3\xa9") && bad, "raw: a non-ASCII byte is malformed");
    CHECK(!HV("a\177") && bad, "raw: DEL is malformed");
#undef HV
}

/* http-custom-header-server-validation, and Mcp-Param-* rules */
static void test_params(void)
{
    json_t *schema = JL(
        "{\"type\":\"object\",\"properties\":{"
        "\"region\":{\"type\":\"string\",\"x-mcp-header\":\"Region\"},"
        "\"priority\":{\"type\":\"integer\",\"x-mcp-header\":\"Priority\"},"
        "\"verbose\":{\"type\":\"boolean\",\"x-mcp-header\":\"Verbose\"},"
        "\"ratio\":{\"type\":\"number\",\"x-mcp-header\":\"Ratio\"},"
        "\"query\":{\"type\":\"string\"},"
        "\"bad\":{\"type\":\"string\",\"x-mcp-header\":\"Bad Name\"},"
        "\"empty\":{\"type\":\"string\",\"x-mcp-header\":\"\"},"
        "\"list\":{\"type\":\"array\",\"items\":{\"type\":\"string\","
        "                                    \"x-mcp-header\":\"Item\"}},"
        "\"scope\":{\"type\":\"object\",\"properties\":{"
        "   \"tenant\":{\"type\":\"string\",\"x-mcp-header\":\"Tenant\"}}}},"
        "\"required\":[\"region\"]}");
    mcp_era_error_t *e;
    json_t *args;
#define ARGS(text) (args = mcp_json_load(pool, text, strlen(text)))
#define PARAMS(a, ...) mcp_era_check_params(pool, schema, a, table_header, \
                                            headers(__VA_ARGS__, NULL))

    /* the conformance cells: a string argument with x-mcp-header */
    e = PARAMS(ARGS("{\"region\":\"Hello\"}"), "Mcp-Param-Region", "=?base64?SGVsbG8=?=");
    CHECK(!e, "custom-header: valid base64 accepted (conformance)");
    e = PARAMS(ARGS("{\"region\":\"Hello\"}"), "Mcp-Param-Region", "=?base64?SGVsbG8?=");
    CHECK(is_err(e, MCP_ERR_HEADER_MISMATCH) && data_header(e, "Mcp-Param-Region"),
          "custom-header: bad padding is 400 -32020 (conformance)");
    drop(e);
    e = PARAMS(ARGS("{\"region\":\"Hello\"}"), "Mcp-Param-Region", "=?base64?SGVs!!!bG8=?=");
    CHECK(is_err(e, MCP_ERR_HEADER_MISMATCH), "custom-header: bad alphabet is 400 -32020 (conformance)");
    drop(e);
    e = PARAMS(ARGS("{\"region\":\"SGVsbG8=\"}"), "Mcp-Param-Region", "SGVsbG8=");
    CHECK(!e, "custom-header: no prefix is a literal (conformance)");
    e = PARAMS(ARGS("{\"region\":\"=?base64?SGVsbG8=\"}"), "Mcp-Param-Region", "=?base64?SGVsbG8=");
    CHECK(!e, "custom-header: no suffix is a literal (conformance)");
    e = PARAMS(ARGS("{\"region\":\"test-value\"}"), "Mcp-Method", "tools/call");
    CHECK(is_err(e, MCP_ERR_HEADER_MISMATCH) && strstr(e->message, "Mcp-Param-Region")
          && strstr(e->message, "missing"),
          "custom-header: header omitted, value in the body is 400 -32020 (conformance)");
    drop(e);

    /* values */
    e = PARAMS(ARGS("{\"region\":\"us-west1\"}"), "mcp-param-region", " us-west1 ");
    CHECK(!e, "params: header names are case-insensitive, values trimmed");
    e = PARAMS(ARGS("{\"region\":\"us-west1\"}"), "Mcp-Param-Region", "us-east1");
    CHECK(is_err(e, MCP_ERR_HEADER_MISMATCH) && strstr(e->message, "us-east1"),
          "params: a different string is 400 -32020");
    drop(e);
    e = PARAMS(ARGS("{\"region\":\"Us-West1\"}"), "Mcp-Param-Region", "us-west1");
    CHECK(is_err(e, MCP_ERR_HEADER_MISMATCH), "params: string values are case-sensitive");
    drop(e);
    e = PARAMS(ARGS("{\"region\":\" padded \"}"), "Mcp-Param-Region", "=?base64?IHBhZGRlZCA=?=");
    CHECK(!e, "params: an encoded value with blanks matches");
    args = mcp_json_pool_own(pool, json_pack("{s:s%}", "region", "a\0", (size_t)2));
    e = PARAMS(args, "Mcp-Param-Region", "a");
    CHECK(is_err(e, MCP_ERR_HEADER_MISMATCH), "params: a body value with a NUL is not its prefix");
    drop(e);
    e = PARAMS(ARGS("{\"region\":\"x\",\"priority\":42}"),
               "Mcp-Param-Region", "x", "Mcp-Param-Priority", "42");
    CHECK(!e, "params: an integer matches its decimal form");
    e = PARAMS(ARGS("{\"region\":\"x\",\"priority\":42}"),
               "Mcp-Param-Region", "x", "Mcp-Param-Priority", "42.0");
    CHECK(!e, "params: integers compare numerically (42.0 is 42)");
    e = PARAMS(ARGS("{\"region\":\"x\",\"priority\":-7}"),
               "Mcp-Param-Region", "x", "Mcp-Param-Priority", "-7");
    CHECK(!e, "params: a negative integer matches");
    e = PARAMS(ARGS("{\"region\":\"x\",\"priority\":9007199254740993}"),
               "Mcp-Param-Region", "x", "Mcp-Param-Priority", "9007199254740992");
    CHECK(is_err(e, MCP_ERR_HEADER_MISMATCH), "params: big integers compare exactly");
    drop(e);
    e = PARAMS(ARGS("{\"region\":\"x\",\"priority\":42}"),
               "Mcp-Param-Region", "x", "Mcp-Param-Priority", "43");
    CHECK(is_err(e, MCP_ERR_HEADER_MISMATCH), "params: a different integer is 400 -32020");
    drop(e);
    e = PARAMS(ARGS("{\"region\":\"x\",\"priority\":42}"),
               "Mcp-Param-Region", "x", "Mcp-Param-Priority", "forty-two");
    CHECK(is_err(e, MCP_ERR_HEADER_MISMATCH), "params: a word is not an integer");
    drop(e);
    e = PARAMS(ARGS("{\"region\":\"x\",\"priority\":42}"),
               "Mcp-Param-Region", "x", "Mcp-Param-Priority", "=?base64?IDQy?=");
    CHECK(is_err(e, MCP_ERR_HEADER_MISMATCH), "params: a decoded number with a blank is refused");
    drop(e);
    e = PARAMS(ARGS("{\"region\":\"x\",\"priority\":42}"),
               "Mcp-Param-Region", "x", "Mcp-Param-Priority", "0x2a");
    CHECK(is_err(e, MCP_ERR_HEADER_MISMATCH), "params: hex is not a decimal integer");
    drop(e);
    e = PARAMS(ARGS("{\"region\":\"x\",\"ratio\":3.14159}"),
               "Mcp-Param-Region", "x", "Mcp-Param-Ratio", "3.14159");
    CHECK(!e, "params: a real matches its decimal form");
    e = PARAMS(ARGS("{\"region\":\"x\",\"ratio\":3.14159}"),
               "Mcp-Param-Region", "x", "Mcp-Param-Ratio", "3.1416");
    CHECK(is_err(e, MCP_ERR_HEADER_MISMATCH), "params: a rounded real does not");
    drop(e);
    e = PARAMS(ARGS("{\"region\":\"x\",\"verbose\":false}"),
               "Mcp-Param-Region", "x", "Mcp-Param-Verbose", "false");
    CHECK(!e, "params: false is \"false\"");
    e = PARAMS(ARGS("{\"region\":\"x\",\"verbose\":true}"),
               "Mcp-Param-Region", "x", "Mcp-Param-Verbose", "true");
    CHECK(!e, "params: true is \"true\"");
    e = PARAMS(ARGS("{\"region\":\"x\",\"verbose\":true}"),
               "Mcp-Param-Region", "x", "Mcp-Param-Verbose", "True");
    CHECK(is_err(e, MCP_ERR_HEADER_MISMATCH), "params: booleans are lowercase");
    drop(e);
    e = PARAMS(ARGS("{\"region\":\"x\",\"verbose\":true}"), "Mcp-Param-Region", "x");
    CHECK(is_err(e, MCP_ERR_HEADER_MISMATCH) && data_header(e, "Mcp-Param-Verbose"),
          "params: a missing boolean header is 400 -32020");
    drop(e);

    /* absent and null */
    e = PARAMS(ARGS("{\"region\":null}"), "Mcp-Method", "tools/call");
    CHECK(!e, "params: a null argument needs no header");
    e = PARAMS(ARGS("{}"), "Mcp-Method", "tools/call");
    CHECK(!e, "params: an absent argument needs no header");
    e = PARAMS(ARGS("{}"), "Mcp-Param-Region", "anything");
    CHECK(!e, "params: a header for an absent argument is ignored");
    e = mcp_era_check_params(pool, schema, NULL, table_header, headers("X", "y", NULL));
    CHECK(!e, "params: no arguments at all need no header");
    e = mcp_era_check_params(pool, NULL, ARGS("{\"region\":\"x\"}"), table_header,
                             headers("X", "y", NULL));
    CHECK(!e, "params: no schema, nothing to check");
    e = PARAMS(ARGS("{\"region\":\"x\",\"query\":\"q\",\"bad\":\"b\",\"empty\":\"e\","
                    "\"list\":[\"i\"]}"), "Mcp-Param-Region", "x");
    CHECK(!e, "params: unannotated, invalid and array-item annotations need no header");

    /* nested properties */
    e = PARAMS(ARGS("{\"region\":\"x\",\"scope\":{\"tenant\":\"acme\"}}"),
               "Mcp-Param-Region", "x", "Mcp-Param-Tenant", "acme");
    CHECK(!e, "params: a nested annotated property matches");
    e = PARAMS(ARGS("{\"region\":\"x\",\"scope\":{\"tenant\":\"acme\"}}"),
               "Mcp-Param-Region", "x");
    CHECK(is_err(e, MCP_ERR_HEADER_MISMATCH) && data_header(e, "Mcp-Param-Tenant"),
          "params: a nested annotated property needs its header");
    drop(e);
    e = PARAMS(ARGS("{\"region\":\"x\",\"scope\":\"acme\"}"), "Mcp-Param-Region", "x");
    CHECK(!e, "params: no value at the nested path, no header");
    e = PARAMS(ARGS("{\"region\":\"x\"}"), "Mcp-Param-Region", "x\001");
    CHECK(is_err(e, MCP_ERR_HEADER_MISMATCH), "params: a control character is 400 -32020");
    drop(e);

    /* the suite's required-argument defaults: "0" and "false" */
    {
        json_t *s2 = JL(
            "{\"type\":\"object\",\"properties\":{"
            "\"text\":{\"type\":\"string\",\"x-mcp-header\":\"Text\"},"
            "\"n\":{\"type\":\"integer\",\"x-mcp-header\":\"N\"},"
            "\"flag\":{\"type\":\"boolean\",\"x-mcp-header\":\"Flag\"}},"
            "\"required\":[\"text\",\"n\",\"flag\"]}");
        e = mcp_era_check_params(pool, s2, ARGS("{\"n\":0,\"flag\":false,\"text\":\"Hello\"}"),
                                 table_header, headers("Mcp-Param-N", "0",
                                 "Mcp-Param-Flag", "false",
                                 "Mcp-Param-Text", "=?base64?SGVsbG8=?=", NULL));
        CHECK(!e, "custom-header: other required arguments mirrored as the suite does");
    }
#undef ARGS
#undef PARAMS
}

/* ------------------------------------------------------------------ */
/* requestState */

/* HMAC-SHA256 on the core's own SHA-256 (not OpenSSL's), key <= 64 bytes */
static void ref_hmac(const unsigned char *key, size_t klen, const char *msg,
                     size_t mlen, unsigned char out[32])
{
    unsigned char k[64] = { 0 }, inner[32];
    unsigned char *buf = malloc(64 + mlen + 32);
    size_t i;
    memcpy(k, key, klen);
    for (i = 0; i < 64; i++) buf[i] = k[i] ^ 0x36;
    memcpy(buf + 64, msg, mlen);
    mcp_sha256(buf, 64 + mlen, inner);
    for (i = 0; i < 64; i++) buf[i] = k[i] ^ 0x5c;
    memcpy(buf + 64, inner, 32);
    mcp_sha256(buf, 96, out);
    free(buf);
}

static char *ref_b64url(const unsigned char *in, size_t n)
{
    static const char a[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    char *out = apr_palloc(pool, n * 2 + 4), *o = out;
    size_t i;
    unsigned int acc = 0;
    int bits = 0;
    for (i = 0; i < n; i++) {
        acc = acc << 8 | in[i];
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            *o++ = a[(acc >> bits) & 63];
        }
    }
    if (bits) {
        *o++ = a[(acc << (6 - bits)) & 63];
    }
    *o = '\0';
    return out;
}

/* the payload's JSON, decoded with a plain reference decoder */
static json_t *ref_payload(const char *sealed)
{
    const char *p = strchr(sealed + 6, '.') + 1, *end = strrchr(sealed, '.');
    unsigned char *out = apr_palloc(pool, (size_t)(end - p));
    unsigned int acc = 0;
    int bits = 0;
    size_t o = 0;
    for (; p < end; p++) {
        const char *a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        acc = acc << 6 | (unsigned int)(strchr(a, *p) - a);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(acc >> bits);
        }
    }
    return mcp_json_load(pool, (const char *)out, o);
}

static void test_state(void)
{
    unsigned char k1[32], k2[40], mac[32];
    char hex[65];
    mcp_state_ring_t *ring, *old, *both, *empty;
    mcp_state_bind_t bind, other;
    const char *sealed, *st, *why, *dot;
    apr_time_t now = apr_time_from_sec(1800000000);
    apr_status_t rv;
    json_t *pl;
    size_t i, n;
    int all, k;

    for (i = 0; i < sizeof(k1); i++) k1[i] = (unsigned char)(i * 7 + 1);
    for (i = 0; i < sizeof(k2); i++) k2[i] = (unsigned char)(255 - i);

    empty = mcp_state_ring_make(pool);
    CHECK(mcp_state_ring_count(empty) == 0 && !strcmp(mcp_state_ring_kid(empty), ""),
          "state: an empty ring has no kid");
    ring = mcp_state_ring_make(pool);
    CHECK(mcp_state_ring_add(ring, k1, 31) == APR_EINVAL
          && mcp_state_ring_add(ring, k1, MCP_STATE_KEY_MAX + 1) == APR_EINVAL
          && mcp_state_ring_count(ring) == 0,
          "state: keys under 32 or over 256 bytes are refused");
    CHECK(mcp_state_ring_add(ring, k1, sizeof(k1)) == APR_SUCCESS
          && mcp_state_ring_count(ring) == 1, "state: a 32-byte key is added");
    mcp_sha256_hex(k1, sizeof(k1), hex);
    CHECK(!strncmp(mcp_state_ring_kid(ring), hex, 8) && strlen(mcp_state_ring_kid(ring)) == 8,
          "state: the kid is hex of the first 4 bytes of SHA-256(key)");
    {
        mcp_state_ring_t *full = mcp_state_ring_make(pool);
        all = 1;
        for (k = 0; k < MCP_STATE_KEYS_MAX; k++) {
            all &= mcp_state_ring_add(full, k2, sizeof(k2)) == APR_SUCCESS;
        }
        CHECK(all && mcp_state_ring_add(full, k2, sizeof(k2)) == APR_ENOSPC,
              "state: a ring holds 8 keys, the 9th is APR_ENOSPC");
    }

    memset(&bind, 0, sizeof(bind));
    bind.principal = "alice";
    bind.endpoint = "https://a.example/mcp";
    bind.method = "tools/call";
    bind.name = "test_input_required_result_request_state";
    bind.arguments = JL("{\"b\":[1,2.5,\"x\"],\"a\":{\"z\":1,\"y\":null}}");

    CHECK(!mcp_state_seal(pool, empty, &bind, "s", now, MCP_STATE_TTL),
          "state: an empty ring seals nothing");
    rv = mcp_state_open(pool, empty, &bind, "mcps1.00000000.e30.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                        now, &st, &why);
    CHECK(rv == APR_EINVAL && !strcmp(why, "unknown key") && !st,
          "state: an empty ring knows no key");

    sealed = mcp_state_seal(pool, ring, &bind, "{\"round\":2,\"note\":\"caf\xc3\xa9 \\\"q\\\"\"}",
                            now, MCP_STATE_TTL);
    CHECK(sealed && !strncmp(sealed, "mcps1.", 6) && !strncmp(sealed + 6, hex, 8)
          && sealed[14] == '.' && strspn(sealed + 6, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef"
                                         "ghijklmnopqrstuvwxyz0123456789-_.") == strlen(sealed) - 6,
          "state: mcps1.<kid>.<payload>.<mac>, base64url, no padding");
    dot = sealed ? strrchr(sealed, '.') : NULL;
    if (dot) {
        ref_hmac(k1, sizeof(k1), sealed, (size_t)(dot - sealed), mac);
    }
    CHECK(dot && !strcmp(dot + 1, ref_b64url(mac, 32)),
          "state: the mac is HMAC-SHA256(key, mcps1.<kid>.<payload>) (reference HMAC)");
    pl = sealed ? ref_payload(sealed) : NULL;
    CHECK(json_is_object(pl) && json_object_size(pl) == 3
          && json_integer_value(json_object_get(pl, "exp")) == 1800000000 + 600
          && json_string_length(json_object_get(pl, "b")) == 22
          && !strcmp(json_string_value(json_object_get(pl, "s")),
                     "{\"round\":2,\"note\":\"caf\xc3\xa9 \\\"q\\\"\"}"),
          "state: the payload is {exp, b (16 bytes), s}");
    rv = mcp_state_open(pool, ring, &bind, sealed, now, &st, &why);
    CHECK(rv == APR_SUCCESS && st && !strcmp(st, "{\"round\":2,\"note\":\"caf\xc3\xa9 \\\"q\\\"\"}")
          && !why, "state: what is sealed opens to the same text");

    /* canonical arguments: key order does not matter, values do */
    other = bind;
    other.arguments = JL("{\"a\":{\"y\":null,\"z\":1},\"b\":[1,2.5,\"x\"]}");
    CHECK(mcp_state_open(pool, ring, &other, sealed, now, &st, &why) == APR_SUCCESS,
          "state: the arguments are compared in canonical form (key order)");
#define REFUSED_BOUND(field, value) do {                                      \
        other = bind; other.field = value;                                    \
        CHECK(mcp_state_open(pool, ring, &other, sealed, now, &st, &why)      \
              == APR_EINVAL && !strcmp(why, "bound to another request or user") \
              && !st, "state: bound to the " #field " (" #value ")");         \
    } while (0)
    REFUSED_BOUND(principal, "bob");
    REFUSED_BOUND(principal, NULL);
    REFUSED_BOUND(endpoint, "https://b.example/mcp");
    REFUSED_BOUND(method, "prompts/get");
    REFUSED_BOUND(name, "test_input_required_result_elicitation");
    REFUSED_BOUND(arguments, NULL);
    REFUSED_BOUND(arguments, JL("{\"b\":[1,2.5,\"x\"],\"a\":{\"z\":2,\"y\":null}}"));
    REFUSED_BOUND(arguments, JL("{\"b\":[1,2.5,\"x\"],\"a\":{\"z\":1}}"));
    REFUSED_BOUND(arguments, JL("{\"b\":[1,2.5,\"x\"],\"a\":{\"z\":1.0,\"y\":null}}"));
    {
        /* length prefixes: moving bytes between fields changes the digest */
        mcp_state_bind_t x = { "ab", "c", NULL, NULL, NULL }, y = { "a", "bc", NULL, NULL, NULL },
                         z = { "", NULL, NULL, NULL, NULL }, w = { NULL, NULL, NULL, NULL, NULL };
        const char *sx = mcp_state_seal(pool, ring, &x, "s", now, MCP_STATE_TTL);
        const char *sz = mcp_state_seal(pool, ring, &z, "s", now, MCP_STATE_TTL);
        CHECK(mcp_state_open(pool, ring, &y, sx, now, &st, &why) == APR_EINVAL
              && mcp_state_open(pool, ring, &w, sz, now, &st, &why) == APR_EINVAL
              && mcp_state_open(pool, ring, &x, sx, now, &st, &why) == APR_SUCCESS
              && mcp_state_open(pool, ring, NULL, mcp_state_seal(pool, ring, NULL, "s", now, 0),
                                now, &st, &why) == APR_SUCCESS,
              "state: fields are length-prefixed; an empty field is not an absent one");
    }

    /* expiry */
    CHECK(mcp_state_open(pool, ring, &bind, sealed, now + MCP_STATE_TTL, &st, &why) == APR_SUCCESS,
          "state: open until its expiry second");
    rv = mcp_state_open(pool, ring, &bind, sealed,
                        now + MCP_STATE_TTL + apr_time_from_sec(1), &st, &why);
    CHECK(rv == APR_EINVAL && !strcmp(why, "expired") && !st, "state: expired after");

    /* tampering at every position: every other character of the alphabet
     * or a cut is refused, and the payload is never read unverified */
    n = sealed ? strlen(sealed) : 0;
    all = n > 0;
    for (i = 0; i < n && i < MCP_STATE_SEALED_MAX; i++) {
        static const char subst[] = "A_-z9.";
        int s;
        for (s = 0; s < 6; s++) {
            char *t = apr_pstrdup(pool, sealed);
            if (t[i] == subst[s]) {
                continue;
            }
            t[i] = subst[s];
            rv = mcp_state_open(pool, ring, &bind, t, now, &st, &why);
            if (rv == APR_SUCCESS || st
                || (i >= 6 && i < 14 && strcmp(why, "unknown key") && strcmp(why, "malformed"))
                || (i > 15 && strcmp(why, "bad MAC") && strcmp(why, "malformed"))) {
                all = 0;
                printf("# position %lu subst %c: %s\n", (unsigned long)i, subst[s],
                       rv == APR_SUCCESS ? "opened" : why);
            }
        }
        rv = mcp_state_open(pool, ring, &bind, apr_pstrndup(pool, sealed, i), now, &st, &why);
        if (rv == APR_SUCCESS) {
            all = 0;
        }
    }
    CHECK(all, "state: a change at any position or a cut is refused (why: kid, MAC)");
    rv = mcp_state_open(pool, ring, &bind, apr_pstrcat(pool, sealed, "-TAMPERED", NULL),
                        now, &st, &why);
    CHECK(rv == APR_EINVAL && !st, "state: -TAMPERED appended is refused (conformance)");
    {
        /* a payload re-signed by another key under our kid */
        char *forged = apr_pstrdup(pool, sealed);
        dot = strrchr(forged, '.');
        ref_hmac(k2, sizeof(k2), forged, (size_t)(dot - forged), mac);
        forged = apr_pstrcat(pool, apr_pstrndup(pool, forged, (size_t)(dot - forged) + 1),
                             ref_b64url(mac, 32), NULL);
        CHECK(mcp_state_open(pool, ring, &bind, forged, now, &st, &why) == APR_EINVAL
              && !strcmp(why, "bad MAC"), "state: a MAC of another key is a bad MAC");
    }
    {
        /* a signed payload that is not ours cannot happen without the key:
         * sign malformed payloads with it and see them refused, not crash */
        static const char *const bodies[] = { "", "[]", "{}", "{\"exp\":1e99,\"b\":\"x\",\"s\":\"y\"}",
            "{\"exp\":9999999999,\"b\":1,\"s\":\"y\"}", "{\"exp\":9999999999,\"b\":\"x\",\"s\":2}",
            "not json", NULL };
        all = 1;
        for (k = 0; bodies[k]; k++) {
            const char *signing = apr_pstrcat(pool, "mcps1.", mcp_state_ring_kid(ring), ".",
                ref_b64url((const unsigned char *)bodies[k], strlen(bodies[k])), NULL);
            ref_hmac(k1, sizeof(k1), signing, strlen(signing), mac);
            rv = mcp_state_open(pool, ring, &bind, apr_pstrcat(pool, signing, ".",
                                ref_b64url(mac, 32), NULL), now, &st, &why);
            all &= rv == APR_EINVAL && !st && why && strcmp(why, "bad MAC");
        }
        CHECK(all, "state: signed payloads of the wrong shape are refused");
    }
    CHECK(mcp_state_open(pool, ring, &bind, NULL, now, &st, &why) == APR_EINVAL
          && !strcmp(why, "malformed")
          && mcp_state_open(pool, ring, &bind, "", now, &st, &why) == APR_EINVAL
          && mcp_state_open(pool, ring, &bind, "mcps1.", now, &st, &why) == APR_EINVAL
          && mcp_state_open(pool, ring, &bind, "v1.abc.def", now, &st, &why) == APR_EINVAL
          && !strcmp(why, "malformed")
          && mcp_state_open(pool, ring, &bind, apr_pstrcat(pool, "mcps2", sealed + 5, NULL),
                            now, &st, &why) == APR_EINVAL
          && mcp_state_open(pool, ring, &bind, apr_pstrcat(pool, "mcps1.", mcp_state_ring_kid(ring),
                            "..AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", NULL), now, &st, &why)
             == APR_EINVAL && !strcmp(why, "malformed"),
          "state: other shapes are malformed");

    /* size bounds */
    {
        char *big = apr_palloc(pool, MCP_STATE_SEALED_MAX + 2);
        memset(big, 'A', MCP_STATE_SEALED_MAX + 1);
        big[MCP_STATE_SEALED_MAX + 1] = '\0';
        memcpy(big, sealed, 15);
        CHECK(mcp_state_open(pool, ring, &bind, big, now, &st, &why) == APR_EINVAL
              && !strcmp(why, "malformed"), "state: longer than 8192 is refused unread");
        big[6300] = '\0';
        CHECK(!mcp_state_seal(pool, ring, &bind, big + 20, now, MCP_STATE_TTL),
              "state: a state too long to be opened is not sealed");
        big[5000] = '\0';
        sealed = mcp_state_seal(pool, ring, &bind, big + 20, now, MCP_STATE_TTL);
        CHECK(sealed && strlen(sealed) <= MCP_STATE_SEALED_MAX
              && mcp_state_open(pool, ring, &bind, sealed, now, &st, &why) == APR_SUCCESS
              && strlen(st) == 4980, "state: 4980 bytes of state round-trip");
        CHECK(!mcp_state_seal(pool, ring, &bind, "caf\xc3", now, MCP_STATE_TTL),
              "state: a state that is not UTF-8 is not sealed");
    }

    /* rotation */
    old = mcp_state_ring_make(pool);
    mcp_state_ring_add(old, k1, sizeof(k1));
    both = mcp_state_ring_make(pool);
    mcp_state_ring_add(both, k2, sizeof(k2));
    mcp_state_ring_add(both, k1, sizeof(k1));
    sealed = mcp_state_seal(pool, old, &bind, "r", now, MCP_STATE_TTL);
    CHECK(mcp_state_open(pool, both, &bind, sealed, now, &st, &why) == APR_SUCCESS
          && !strcmp(st, "r"), "rotation: [new, old] opens what [old] sealed");
    sealed = mcp_state_seal(pool, both, &bind, "r", now, MCP_STATE_TTL);
    mcp_sha256_hex(k2, sizeof(k2), hex);
    CHECK(sealed && !strncmp(sealed + 6, hex, 8)
          && !strncmp(mcp_state_ring_kid(both), hex, 8),
          "rotation: the first key seals");
    rv = mcp_state_open(pool, old, &bind, sealed, now, &st, &why);
    CHECK(rv == APR_EINVAL && !strcmp(why, "unknown key"),
          "rotation: [old] refuses what [new] sealed: unknown key");
}

static void test_key_parse(void)
{
    unsigned char *key;
    apr_size_t len;
    const char *why;
    apr_status_t rv;
    int i, ok;
    static const unsigned char want[32] = {
        0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b,
        0x0c, 0x0d, 0x0e, 0x0f, 0xf0, 0xf1, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7,
        0xf8, 0xf9, 0xfa, 0xfb, 0xfc, 0xfd, 0xfe, 0xff };
#define PARSE(t) (rv = mcp_state_key_parse(pool, t, &key, &len, &why))
#define GOOD(t) (PARSE(t) == APR_SUCCESS && len == 32 && !memcmp(key, want, 32))

    CHECK(GOOD("000102030405060708090a0b0c0d0e0ff0f1f2f3f4f5f6f7f8f9fafbfcfdfeff"),
          "key: 64 hex digits");
    CHECK(GOOD("000102030405060708090A0B0C0D0E0FF0F1F2F3F4F5F6F7F8F9FAFBFCFDFEFF\n"),
          "key: uppercase hex and a newline");
    CHECK(GOOD("  000102030405060708090a0b0c0d0e0ff0f1f2f3f4f5f6f7f8f9fafbfcfdfeff \r\n\n"),
          "key: blanks, CRLF and blank lines around");
    CHECK(GOOD("AAECAwQFBgcICQoLDA0OD/Dx8vP09fb3+Pn6+/z9/v8="),
          "key: standard base64 with padding");
    CHECK(GOOD("AAECAwQFBgcICQoLDA0OD/Dx8vP09fb3+Pn6+/z9/v8"),
          "key: standard base64 without padding");
    CHECK(GOOD("AAECAwQFBgcICQoLDA0OD_Dx8vP09fb3-Pn6-_z9_v8\n"),
          "key: base64url");
    CHECK(PARSE("000102030405060708090a0b0c0d0e0ff0f1f2f3f4f5f6f7f8f9fafbfcfdfe") == APR_EINVAL
          && !strcmp(why, "key is 31 bytes, at least 32 are needed") && !key,
          "key: 31 bytes are too few, and why says so");
    CHECK(PARSE("c2hvcnQ=") == APR_EINVAL && !strcmp(why, "key is 5 bytes, at least 32 are needed"),
          "key: a short base64 key says its size");
    CHECK(PARSE("") == APR_EINVAL && strstr(why, "empty")
          && PARSE(" \n\r\n\t\n") == APR_EINVAL && strstr(why, "empty")
          && PARSE(NULL) == APR_EINVAL,
          "key: an empty file");
    CHECK(PARSE("000102030405060708090a0b0c0d0e0ff0f1f2f3f4f5f6f7f8f9fafbfcfdfeff\n"
                "000102030405060708090a0b0c0d0e0ff0f1f2f3f4f5f6f7f8f9fafbfcfdfeff\n")
          == APR_EINVAL && strstr(why, "more than one line"),
          "key: two keys in one file");
    CHECK(PARSE("this is not a key at all, is it? no: it is a sentence") == APR_EINVAL
          && strstr(why, "neither hex nor base64"),
          "key: a sentence");
    CHECK(PARSE("AAECAwQFBgcICQoLDA0OD/Dx8vP09fb3+Pn6+/z9/v8=AAAA") == APR_EINVAL
          && PARSE("AAECAwQFBgcICQoLDA0OD/Dx8vP09fb3+Pn6+/z9/v==") == APR_EINVAL
          && PARSE("AAECAwQFBgcICQoLDA0OD/Dx8vP09fb3+Pn6+/z9/v8A=") == APR_EINVAL,
          "key: misplaced padding and a wrong length");
    {
        char *t = apr_palloc(pool, 2 * 257 + 1);
        for (i = 0; i < 2 * 257; i++) t[i] = 'a';
        t[2 * 257] = '\0';
        CHECK(PARSE(t) == APR_EINVAL && !strcmp(why, "key is 257 bytes, at most 256 are allowed"),
              "key: 257 bytes are too many");
        t[2 * 256] = '\0';
        CHECK(PARSE(t) == APR_SUCCESS && len == 256, "key: 256 bytes are fine");
        t = apr_palloc(pool, 100001);
        memset(t, 'a', 100000);
        t[100000] = '\0';
        CHECK(PARSE(t) == APR_EINVAL && why, "key: a 100000-character line is refused");
    }
    ok = PARSE("000102030405060708090a0b0c0d0e0ff0f1f2f3f4f5f6f7f8f9fafbfcfdfeff") == APR_SUCCESS;
    if (ok) {
        mcp_state_ring_t *ring = mcp_state_ring_make(pool);
        ok = mcp_state_ring_add(ring, key, len) == APR_SUCCESS;
    }
    CHECK(ok, "key: a parsed key goes into a ring");
#undef PARSE
#undef GOOD
}

int main(void)
{
    /* numbers in headers are read the same whatever the locale */
    setlocale(LC_ALL, "");
    apr_initialize();
    apr_pool_create(&pool, NULL);
    test_versions();
    test_classify();
    test_ladder();
    test_header_validation();
    test_header_value();
    test_params();
    test_state();
    test_key_parse();
    apr_pool_destroy(pool);
    apr_terminate();
    printf("1..%d\n", passed + failed);
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
