/* STUB: h-cluster writes this file (see mcpr.h). */
#include <stdarg.h>
#include "mcpr.h"

unsigned mcpr_cluster_slot(const char *key, apr_size_t len) { return 0; }
apr_status_t mcpr_cluster_child_init(mcpr_t *in, apr_pool_t *pchild) { return APR_SUCCESS; }
apr_status_t mcpr_cluster_exec(mcpr_t *in, const mcp_store_ctx_t *c, const char *key, const mcpr_cmd_t *cmds, int n, redisReply **replies, apr_time_t deadline, int flags, const char **err) { *err = "Cluster: not yet"; return APR_ENOTIMPL; }
void mcpr_cluster_status(mcpr_t *in, struct request_rec *r, int flags) { }
