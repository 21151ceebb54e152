/* STUB: h-store writes this file (see mcpr.h). */
#include <stdarg.h>
#include "mcpr.h"

const char *mcpr_store_key(mcpr_t *in, apr_pool_t *p, const char *key, const char *suffix) { return key; }
apr_status_t mcpr_store_create(void *instance, const mcp_store_ctx_t *c, const char *key, const char *record, apr_size_t len) { return APR_ENOTIMPL; }
apr_status_t mcpr_store_fetch(void *instance, const mcp_store_ctx_t *c, const char *key, char **record, apr_size_t *len) { return APR_ENOTIMPL; }
apr_status_t mcpr_store_update(void *instance, const mcp_store_ctx_t *c, const char *key, const char *record, apr_size_t len) { return APR_ENOTIMPL; }
apr_status_t mcpr_store_update_if(void *instance, const mcp_store_ctx_t *c, const char *key, const char *expected, apr_size_t expected_len, const char *record, apr_size_t len) { return APR_ENOTIMPL; }
apr_status_t mcpr_store_remove(void *instance, const mcp_store_ctx_t *c, const char *key) { return APR_ENOTIMPL; }
