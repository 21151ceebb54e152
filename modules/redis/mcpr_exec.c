/* STUB: h-conn writes this file (see mcpr.h). */
#include <stdarg.h>
#include "mcpr.h"

apr_status_t mcpr_exec(mcpr_t *in, const mcp_store_ctx_t *c, const char *key, const mcpr_cmd_t *cmds, int n, redisReply **replies, apr_time_t deadline, int flags) { return APR_ENOTIMPL; }
apr_status_t mcpr_exec_on(mcpr_t *in, mcpr_node_t *node, const mcp_store_ctx_t *c, const mcpr_cmd_t *cmds, int n, redisReply **replies, apr_time_t deadline, int flags, const char **err) { return APR_ENOTIMPL; }
apr_status_t mcpr_exec_refused(mcpr_t *in, const mcp_store_ctx_t *c, const char *what, const redisReply *r) { return APR_EGENERAL; }
apr_time_t mcpr_exec_deadline(mcpr_t *in) { return apr_time_now() + in->params.timeout; }
