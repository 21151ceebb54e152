/* STUB: h-conn writes this file (see mcpr.h). */
#include <stdarg.h>
#include "mcpr.h"

mcpr_node_t *mcpr_node_get(mcpr_t *in, const char *host, apr_port_t port, const mcpr_auth_t *auth) { return NULL; }
apr_status_t mcpr_node_checkout(mcpr_node_t *n, int blocking, apr_time_t deadline, apr_pool_t *p, mcpr_conn_t **c, int *fresh, const char **err) { return APR_ENOTIMPL; }
void mcpr_node_checkin(mcpr_node_t *n, mcpr_conn_t *c, int blocking, int broken) { }
void mcpr_node_outcome(mcpr_node_t *n, apr_status_t rv, const char *why) { }
void mcpr_node_flush(mcpr_node_t *n) { }
