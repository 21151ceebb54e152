/* STUB: h-sentinel writes this file (see mcpr.h). */
#include <stdarg.h>
#include "mcpr.h"

apr_status_t mcpr_sentinel_child_init(mcpr_t *in, apr_pool_t *pchild) { return APR_SUCCESS; }
apr_status_t mcpr_sentinel_master(mcpr_t *in, apr_pool_t *p, apr_time_t deadline, mcpr_node_t **node, const char **err) { *err = "Sentinel: not yet"; return APR_ENOTIMPL; }
void mcpr_sentinel_suspect(mcpr_t *in, mcpr_node_t *node, const char *why) { }
apr_status_t mcpr_sentinel_exec(mcpr_t *in, const mcp_store_ctx_t *c, const mcpr_cmd_t *cmds, int n, redisReply **replies, apr_time_t deadline, int flags, const char **err) { *err = "Sentinel: not yet"; return APR_ENOTIMPL; }
void mcpr_sentinel_status(mcpr_t *in, struct request_rec *r, int flags) { }
