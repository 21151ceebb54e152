/* STUB: h-bus writes this file (see mcpr.h). */
#include <stdarg.h>
#include "mcpr.h"

apr_status_t mcpr_bus_publish(void *instance, const mcp_store_ctx_t *c, const char *channel, const char *msg, apr_size_t len) { return APR_ENOTIMPL; }
apr_status_t mcpr_bus_wait(void *instance, const mcp_store_ctx_t *c, const char *channel, apr_uint64_t *cursor, apr_interval_time_t timeout, char **msg, apr_size_t *len) { return APR_ENOTIMPL; }
