/*
 * JSON-RPC 2.0 framing for MCP (httpd-free core): parse a POST body into
 * classified messages and build responses and error bodies.
 */
#ifndef MCP_RPC_H
#define MCP_RPC_H

#include "apr_pools.h"
#include "apr_tables.h"
#include <jansson.h>

/* JSON-RPC and MCP transport error codes. */
#define MCP_ERR_PARSE            (-32700)
#define MCP_ERR_INVALID_REQUEST  (-32600)
#define MCP_ERR_METHOD_NOT_FOUND (-32601)
#define MCP_ERR_INVALID_PARAMS   (-32602)
#define MCP_ERR_INTERNAL         (-32603)
#define MCP_ERR_SERVER           (-32000) /* transport-level errors */
#define MCP_ERR_SESSION          (-32001) /* session not found */
#define MCP_ERR_RESOURCE         (-32002) /* resource not found */

/* More messages than this in one batch is refused, as the SDK does. */
#define MCP_RPC_MAX_BATCH 100

/* A body may build values costing (in heap bytes, see mcp_json.c) up to
 * FLOOR + FACTOR x its size. jansson spends 224 bytes on an empty object
 * and 104 on an empty string in an array: 4 MiB of "[{},{},...]" made a
 * child grow by 315 MiB and took a second. Text costs about 1x; 100 KB of
 * small records like [{"id":1,"name":"x"}] ~30x, 4 MiB. So any body may
 * build 4 MiB (dense data up to ~130 KB), a 4 MiB body 8 MiB: a child then
 * grows by ~18 MiB (prefork) to ~30 MiB (event) at most, the body itself
 * included, and a refused parse takes at most ~45 ms of CPU (measured on a
 * 2-core VM, page faults included; t/40-body-cost.t prints the figures). */
#define MCP_RPC_COST_FLOOR  ((apr_size_t)4 << 20)
#define MCP_RPC_COST_FACTOR 1

typedef enum {
    MCP_MSG_REQUEST,
    MCP_MSG_NOTIFICATION,
    MCP_MSG_RESPONSE
} mcp_msg_kind_e;

typedef struct mcp_msg_t {
    mcp_msg_kind_e kind;
    json_t *json;           /* the whole message (borrowed from the batch) */
    const char *method;     /* requests and notifications */
    json_t *id;             /* requests and responses */
    json_t *params;         /* NULL when absent */
} mcp_msg_t;

typedef struct mcp_batch_t {
    int is_array;           /* the body was a JSON array */
    int requests;           /* how many messages are requests */
    int has_initialize;
    apr_array_header_t *msgs;   /* of mcp_msg_t */
} mcp_batch_t;

/* Parse and validate a POST body. On failure returns NULL and sets
 * *code / *message to the JSON-RPC error the client gets with HTTP 400. */
mcp_batch_t *mcp_rpc_parse(apr_pool_t *p, const char *body, apr_size_t len,
                           int *code, const char **message);

/* {"jsonrpc":"2.0","id":id,"result":result}; steals result. */
json_t *mcp_rpc_result(json_t *id, json_t *result);

/* Error messages often echo what a client sent (a header, a name): they
 * are kept to this many bytes, and to valid UTF-8 (JSON-RPC requires the
 * message; jansson refuses a string that is not UTF-8). */
#define MCP_RPC_MESSAGE_MAX 1024

/* {"jsonrpc":"2.0","id":id,"error":{"code":..,"message":..[,"data":..]}};
 * id NULL gives "id": null; steals data. The message is made valid UTF-8
 * and cut to MCP_RPC_MESSAGE_MAX bytes (mcp_json_text). */
json_t *mcp_rpc_error(json_t *id, int code, const char *message, json_t *data);

/* {"jsonrpc":"2.0","method":..,"params":..}; steals params. */
json_t *mcp_rpc_notification(const char *method, json_t *params);

/* The error body of an HTTP-level failure as text, from p. */
const char *mcp_rpc_error_body(apr_pool_t *p, int code, const char *message);

#endif
