/*
 * The protocol era of one request (httpd-free core): the session
 * revisions (2025-03-26, 2025-06-18, 2025-11-25: initialize, then
 * Mcp-Session-Id) or 2026-07-28 (no session: every request carries its
 * own envelope in params._meta and its method and name in headers). The
 * same endpoint serves both, deciding per request (README, "Protocol
 * eras"). This file classifies a request and runs the 2026-07-28 checks
 * of the envelope and the headers; mcp_protocol.c answers it.
 *
 * The ladder, for a POST whose body parsed (mcp_rpc_parse):
 *   1. classify: modern when the MCP-Protocol-Version header V names no
 *      session revision (in a request carrying Mcp-Session-Id: names a
 *      revision served without sessions), or when the body's first
 *      message carries a _meta protocolVersion claim C; otherwise legacy
 *      (the session rules, unchanged). An initialize without C under a modern V is
 *      a header mismatch (400 -32020), never a session.
 *   2. then, for a modern request, in this order (the first failure is
 *      the answer; every error carries the request's id):
 *      a. a batch or a posted response: 400 -32600;
 *      b. C present, V absent, or V != C: 400 -32020;
 *      c. _meta absent, C absent or not a string, clientCapabilities
 *         absent or not an object: 400 -32602 naming the key;
 *      d. C not served: 400 -32022 {supported, requested};
 *      e. (requests) Mcp-Method missing or != method: 400 -32020;
 *      f. tools/call, prompts/get, resources/read: Mcp-Name missing,
 *         malformed (base64 sentinel) or != params.name / params.uri:
 *         400 -32020;
 *   then mcp_protocol.c: unknown or removed method 404 -32601;
 *   tools/call: mcp_era_check_params() (Mcp-Param-*), then the tool.
 * Header values are trimmed of blanks (RFC 9110 OWS) and compared
 * case-sensitively; "=?base64?...?=" values are decoded first.
 */
#ifndef MCP_ERA_H
#define MCP_ERA_H

#include "apr_pools.h"
#include <jansson.h>
#include "mcp_rpc.h"

/* The revisions served without a session, newest first. */
#define MCP_ERA_MODERN_LATEST   "2026-07-28"

/* JSON-RPC codes the 2026-07-28 revision defines. */
#define MCP_ERR_HEADER_MISMATCH       (-32020)
#define MCP_ERR_MISSING_CAPABILITY    (-32021)
#define MCP_ERR_UNSUPPORTED_VERSION   (-32022)

/* The _meta keys of the envelope. */
#define MCP_META_PROTOCOL_VERSION     "io.modelcontextprotocol/protocolVersion"
#define MCP_META_CLIENT_CAPABILITIES  "io.modelcontextprotocol/clientCapabilities"
#define MCP_META_CLIENT_INFO          "io.modelcontextprotocol/clientInfo"
#define MCP_META_LOG_LEVEL            "io.modelcontextprotocol/logLevel"
#define MCP_META_SERVER_INFO          "io.modelcontextprotocol/serverInfo"
#define MCP_META_SUBSCRIPTION_ID      "io.modelcontextprotocol/subscriptionId"

typedef enum {
    MCP_ERA_LEGACY = 0,     /* a session revision */
    MCP_ERA_MODERN          /* 2026-07-28 and later: no session */
} mcp_era_e;

/* A request header, as the transport has it (NULL when absent); name is
 * case-insensitive. */
typedef const char *mcp_era_header_fn(void *baton, const char *name);

/* Why a modern request is refused: HTTP status, JSON-RPC code, message
 * and data (a new reference or NULL; the caller owns it). */
typedef struct mcp_era_error_t {
    int status;
    int code;
    const char *message;
    json_t *data;
} mcp_era_error_t;

/* Whether `version` is a 2026-era revision this server serves. */
int mcp_era_supported(const char *version);

/* The served 2026-era revisions as a new JSON array (discover's
 * supportedVersions, -32022's supported). */
json_t *mcp_era_supported_list(void);

/* 1 when the MCP-Protocol-Version header value (untrimmed, may be NULL)
 * makes a request modern (GET and DELETE then get 405): it names a
 * revision that is not a session revision and, when the request names a
 * session (in_session: it carries Mcp-Session-Id), one this server serves
 * without sessions. A session-era client that sends an unknown version in
 * its session keeps getting the session rules' answer (400 "Unsupported
 * protocol version", with the versions the session revisions offer). */
int mcp_era_header_modern(const char *version_header, int in_session);

/* Step 1 of the ladder; in_session as above. */
mcp_era_e mcp_era_classify(const mcp_batch_t *b, const char *version_header,
                           int in_session);

/* Steps 2a-2f for a request mcp_era_classify() found modern: NULL when it
 * passes, else the error (from p). */
mcp_era_error_t *mcp_era_check(apr_pool_t *p, const mcp_batch_t *b,
                               mcp_era_header_fn *header, void *baton);

/* tools/call: the Mcp-Param-{Name} headers against the arguments the
 * tool's inputSchema annotates with "x-mcp-header": "Name" (a present,
 * non-null argument needs its header, equal after decoding; integers
 * compare numerically; a null or absent one needs none). NULL when they
 * match, else a 400 -32020 error. schema may be NULL. */
mcp_era_error_t *mcp_era_check_params(apr_pool_t *p, json_t *schema,
                                      json_t *arguments,
                                      mcp_era_header_fn *header, void *baton);

/* A header value trimmed and, when it is "=?base64?...?=", decoded (the
 * result must be valid UTF-8 without NUL). NULL when raw is NULL;
 * *malformed set to 1 (and NULL returned) for a bad base64 sentinel or a
 * raw byte a field value may not hold (controls but HTAB, DEL, non-ASCII:
 * those must come encoded). */
const char *mcp_era_header_value(apr_pool_t *p, const char *raw,
                                 int *malformed);

#endif
