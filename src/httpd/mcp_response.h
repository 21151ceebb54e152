/* Writing answers: JSON, Server-Sent Events, and HTTP-level errors. */
#ifndef MCP_RESPONSE_H
#define MCP_RESPONSE_H

#include "httpd.h"
#include <jansson.h>

/* One POST's answer. It starts as application/json and turns into
 * text/event-stream the moment a notification has to go out before the
 * result. */
typedef struct mcp_responder_t {
    request_rec *r;
    apr_bucket_brigade *bb;
    const char *session_id;     /* echoed in Mcp-Session-Id */
    int sse;                    /* the SSE headers went out */
    int events;                 /* events sent */
    apr_pool_t *scratch;        /* one event's text, cleared after it */
} mcp_responder_t;

void mcp_response_init(mcp_responder_t *rs, request_rec *r,
                        const char *session_id);

/* Send one message as an SSE event now, flushed. Usable as
 * mcp_ctx_t.emit; does not steal msg. */
apr_status_t mcp_response_event(void *baton, json_t *msg);

/* Send the final answer (an object, or an array for a batch) and end the
 * response. Returns the handler's status. */
int mcp_response_finish(mcp_responder_t *rs, json_t *body);

/* Answer with an HTTP error and a JSON-RPC error body (id null); returns
 * DONE. */
int mcp_response_error(request_rec *r, int status, int code, const char *message);

/* 202 Accepted, no body. */
int mcp_response_accepted(request_rec *r);

#endif
