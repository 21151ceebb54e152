/*
 * A backend's answer to one request (httpd-free core), for the gateway:
 * find the JSON-RPC response with a given id in a JSON body, or in a
 * Server-Sent Events stream read piece by piece as it arrives.
 */
#ifndef MCP_SSE_H
#define MCP_SSE_H

#include "apr_pools.h"
#include <jansson.h>

/* In JSON text (one message or a batch): the response (an object with
 * "result" or "error" and no "method") whose id equals `id`; owned by p.
 * NULL when there is none or the text is not JSON. */
json_t *mcp_sse_find_response(apr_pool_t *p, const char *text, apr_size_t len,
                              const json_t *id);

/* An incremental SSE reader (WHATWG event stream: lines end in LF, CRLF or
 * CR; an empty line ends an event; "data:" lines are joined with LF;
 * comments and other fields are skipped). */
typedef struct mcp_sse_scanner_t mcp_sse_scanner_t;

/* A reader looking for the response with `id` (borrowed: keep it alive),
 * holding at most `max` bytes of one line or one event's data. */
mcp_sse_scanner_t *mcp_sse_scanner_create(apr_pool_t *p, const json_t *id,
                                          apr_size_t max);

/* Read the next len bytes of the stream. APR_SUCCESS with *msg (owned by
 * the scanner's pool) when an event completed in them holds the response
 * (the bytes after that event are not read); APR_INCOMPLETE when more is
 * needed; APR_ENOSPC when a line or an event is larger than max. */
apr_status_t mcp_sse_scan(mcp_sse_scanner_t *s, const char *data,
                          apr_size_t len, json_t **msg);

#endif
