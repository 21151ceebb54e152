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
    apr_time_t last_write;      /* when the stream last sent something */
    int gone;                   /* the client went away (sticky) */
} mcp_responder_t;

/* A quiet event stream gets a comment this often (mcp_response_gone). */
#define MCP_RESPONSE_KEEPALIVE  apr_time_from_sec(15)

void mcp_response_init(mcp_responder_t *rs, request_rec *r,
                        const char *session_id);

/* Send one message as an SSE event now, flushed. Usable as
 * mcp_ctx_t.emit; does not steal msg. */
apr_status_t mcp_response_event(void *baton, json_t *msg);

/* mcp_ctx_t.gone, with the responder as baton: 1 once the client went
 * away (the connection aborted, or the client closed its side: read EOF
 * on the socket). Where the socket is not the client's own (HTTP/2) or
 * carries TLS records, a close is seen at the next write only. While an
 * event stream has been quiet for MCP_RESPONSE_KEEPALIVE, it writes a
 * keep-alive comment; a failed write means gone. */
int mcp_response_gone(void *baton);

/* Send the final answer (an object, or an array for a batch) and end the
 * response. Returns the handler's status. */
int mcp_response_finish(mcp_responder_t *rs, json_t *body);

/* Answer with an HTTP error and a JSON-RPC error body (id null); returns
 * DONE. */
int mcp_response_error(request_rec *r, int status, int code, const char *message);

/* Answer with a whole JSON-RPC message (e.g. an error carrying the
 * request's id) and an HTTP status; returns DONE. Does not steal msg. */
int mcp_response_message(request_rec *r, int status, json_t *msg);

/* 202 Accepted, no body. */
int mcp_response_accepted(request_rec *r);

#endif
