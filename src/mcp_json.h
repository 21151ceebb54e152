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

/* Parse `len` bytes with jansson (duplicate keys refused, any value at
 * the top); the value is owned by p. NULL on error. */
json_t *mcp_json_load(apr_pool_t *p, const char *buf, apr_size_t len);

/* The same, accepting exactly the same texts with the same values, about
 * twice as fast: for request bodies. */
json_t *mcp_json_parse(apr_pool_t *p, const char *buf, apr_size_t len);

#endif
