/* STUB (h-sqlcore replaces it): see mcpsql.h. */
#include "mcpsql.h"

apr_status_t mcpsql_store_create_session(void *instance, const mcp_store_ctx_t *c,
                                         const char *key, const char *record,
                                         apr_size_t len)
{ (void)instance; (void)c; (void)key; (void)record; (void)len; return APR_ENOTIMPL; }
apr_status_t mcpsql_store_fetch(void *instance, const mcp_store_ctx_t *c,
                                const char *key, char **record, apr_size_t *len)
{ (void)instance; (void)c; (void)key; (void)record; (void)len; return APR_ENOTIMPL; }
apr_status_t mcpsql_store_update(void *instance, const mcp_store_ctx_t *c,
                                 const char *key, const char *record,
                                 apr_size_t len)
{ (void)instance; (void)c; (void)key; (void)record; (void)len; return APR_ENOTIMPL; }
apr_status_t mcpsql_store_update_if(void *instance, const mcp_store_ctx_t *c,
                                    const char *key, const char *expected,
                                    apr_size_t expected_len, const char *record,
                                    apr_size_t len)
{ (void)instance; (void)c; (void)key; (void)expected; (void)expected_len;
  (void)record; (void)len; return APR_ENOTIMPL; }
apr_status_t mcpsql_store_remove(void *instance, const mcp_store_ctx_t *c,
                                 const char *key)
{ (void)instance; (void)c; (void)key; return APR_ENOTIMPL; }
