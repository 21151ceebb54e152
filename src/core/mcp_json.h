/* jansson values owned by APR pools (httpd-free core). */
#ifndef MCP_JSON_H
#define MCP_JSON_H

#include "apr_pools.h"
#include <jansson.h>

/* Hand `j` (a new reference, may be NULL) to pool p: it is released when p
 * is cleared or destroyed. Returns j. */
json_t *mcp_json_pool_own(apr_pool_t *p, json_t *j);

/* Compact serialization copied into p; NULL on failure. */
char *mcp_json_dump(apr_pool_t *p, const json_t *j, apr_size_t *len);

/* A JSON string of s, for text that echoes what a client sent: every byte
 * that is not valid UTF-8 becomes U+FFFD, and a text longer than max bytes
 * is cut at a character and ends in "..." (max bytes in all). */
json_t *mcp_json_text(const char *s, apr_size_t max);

/* Parse `len` bytes with jansson (duplicate keys refused, any value at
 * the top); the value is owned by p. NULL on error. */
json_t *mcp_json_load(apr_pool_t *p, const char *buf, apr_size_t len);

/* The same, accepting exactly the same texts with the same values, about
 * twice as fast: for request bodies. */
json_t *mcp_json_parse(apr_pool_t *p, const char *buf, apr_size_t len);

/* Limits of mcp_json_parse_bounded (0: none). */
typedef struct mcp_json_limits_t {
    apr_size_t max_cost;        /* estimated heap bytes of all values built */
    apr_size_t max_top_items;   /* elements of an array at the top */
} mcp_json_limits_t;

typedef enum {
    MCP_JSON_OK,
    MCP_JSON_INVALID,           /* not JSON */
    MCP_JSON_TOO_COSTLY,        /* the values would cost more than max_cost */
    MCP_JSON_TOO_MANY           /* the top array has more than max_top_items */
} mcp_json_status_e;

/* mcp_json_parse that gives up as soon as a limit is passed, without
 * reading further. *why (may be NULL) tells why NULL was returned; *cost
 * (may be NULL) is the estimated cost of what was built. */
json_t *mcp_json_parse_bounded(apr_pool_t *p, const char *buf, apr_size_t len,
                               const mcp_json_limits_t *limits,
                               mcp_json_status_e *why, apr_size_t *cost);

/* Whether len bytes at s are UTF-8 as jansson accepts it (no overlong
 * forms, surrogates or code points past U+10FFFF). */
int mcp_json_utf8_valid(const char *s, apr_size_t len);

#endif
