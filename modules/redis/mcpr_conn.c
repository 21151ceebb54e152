/* STUB: h-conn writes this file (see mcpr.h). */
#include <stdarg.h>
#include "mcpr.h"

void mcpr_conn_arg(mcpr_cmd_t *cmd, const char *arg, apr_size_t len) { }
void mcpr_conn_args(mcpr_cmd_t *cmd, ...) { }
apr_status_t mcpr_conn_open(mcpr_conn_t **c, const char *host, apr_port_t port, const mcpr_tls_t *tls, const mcpr_auth_t *auth, apr_time_t deadline, apr_time_t connect_deadline, apr_pool_t *p, const char **err) { return APR_ENOTIMPL; }
apr_status_t mcpr_conn_exec(mcpr_conn_t *c, apr_pool_t *p, const mcpr_cmd_t *cmds, int n, redisReply **replies, apr_time_t deadline, const char **err) { return APR_ENOTIMPL; }
apr_status_t mcpr_conn_read(mcpr_conn_t *c, apr_pool_t *p, redisReply **reply, apr_time_t deadline, const char **err) { return APR_ENOTIMPL; }
int mcpr_conn_idle_ok(mcpr_conn_t *c) { return 0; }
const char *mcpr_conn_role(mcpr_conn_t *c) { return NULL; }
const char *mcpr_conn_peer(mcpr_conn_t *c) { return ""; }
void mcpr_conn_close(mcpr_conn_t *c) { }
int mcpr_conn_error_is(const redisReply *r, const char *word) { return 0; }
