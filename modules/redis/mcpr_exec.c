/*
 * mcpr_exec.c: run a pipeline where it belongs, once more on a new
 * connection when a pooled one turned out stale (a Redis restart leaves
 * every pooled connection dead, and the first call after it must not
 * fail for that), and the logging of refusals.
 */
#include "mcpr.h"

#include "httpd.h"
#include "http_log.h"

#include "apr_atomic.h"
#include "apr_strings.h"

APLOG_USE_MODULE(mcp_session_redis);

apr_time_t mcpr_exec_deadline(mcpr_t *in)
{
    return apr_time_now() + in->params.timeout;
}

/* The store contract gives APR_TIMEUP to wait() alone ("no message"):
 * a data call that ran out of time is a failure like any other. */
static apr_status_t contract_status(apr_status_t rv)
{
    return APR_STATUS_IS_TIMEUP(rv) ? APR_FROM_OS_ERROR(ETIMEDOUT) : rv;
}

apr_status_t mcpr_exec_on(mcpr_t *in, mcpr_node_t *node,
                          const mcp_store_ctx_t *c, const mcpr_cmd_t *cmds,
                          int n, redisReply **replies, apr_time_t deadline,
                          int flags, const char **err)
{
    apr_status_t rv;
    apr_pool_t *p = c->pool;
    int blocking = (flags & MCPR_EXEC_BLOCKING) != 0;
    int fresh = 0, retried = 0;
    mcpr_conn_t *conn;

    *err = NULL;
    for (;;) {
        rv = mcpr_node_checkout(node, blocking, deadline, p, &conn, &fresh,
                                err);
        if (rv != APR_SUCCESS) {
            /* busy is not an outage; a fail-fast while down is known */
            if (rv != APR_EAGAIN && fresh != -1) {
                mcpr_node_outcome(node, rv, *err);
            }
            goto leave;
        }
        rv = mcpr_conn_exec(conn, p, cmds, n, replies, deadline, err);
        if (rv == APR_SUCCESS || rv == APR_EINVAL) {
            /* EINVAL: a malformed command was refused before sending */
            mcpr_node_checkin(node, conn, blocking, 0);
            if (rv == APR_SUCCESS) {
                mcpr_node_outcome(node, rv, NULL);
            }
            goto leave;
        }
        /* broken: a pooled connection gets one more try on a new one
         * while time remains; its siblings are flushed by the checkin */
        mcpr_node_checkin(node, conn, blocking, 1);
        if (fresh || retried || apr_time_now() >= deadline) {
            mcpr_node_outcome(node, rv, *err);
            goto leave;
        }
        retried = 1;
        apr_thread_mutex_lock(node->mutex);
        node->reconnects++;
        apr_thread_mutex_unlock(node->mutex);
        ap_log_error(APLOG_MARK, APLOG_DEBUG, rv, in->s, MCPRLOG(00823)
                     "Redis %s: a pooled connection failed (%s); the call "
                     "runs once more on a new one", node->name, *err);
    }

leave:
    return contract_status(rv);
}

apr_status_t mcpr_exec(mcpr_t *in, const mcp_store_ctx_t *c,
                       const char *key, const mcpr_cmd_t *cmds, int n,
                       redisReply **replies, apr_time_t deadline, int flags)
{
    apr_status_t rv;
    const char *err = NULL;

    switch (in->url->mode) {
    case MCPR_SENTINEL:
        rv = mcpr_sentinel_exec(in, c, cmds, n, replies, deadline, flags,
                                &err);
        break;
    case MCPR_CLUSTER:
        rv = mcpr_cluster_exec(in, c, key, cmds, n, replies, deadline, flags,
                               &err);
        break;
    default:
        rv = mcpr_exec_on(in, in->single, c, cmds, n, replies, deadline,
                          flags, &err);
        break;
    }
    if (rv == APR_SUCCESS) {
        apr_atomic_set32(&in->answered, 1);
    }
    else if (rv != APR_EAGAIN) {
        apr_atomic_set32(&in->answered, 0);
        /* the outage itself is logged once by the node (MCPS00820) */
        if (c->r) {
            ap_log_rerror(APLOG_MARK, APLOG_DEBUG, rv, c->r, MCPRLOG(00824)
                          "Redis call on %s failed: %s", in->described,
                          err ? err : "unknown error");
        }
        else {
            ap_log_error(APLOG_MARK, APLOG_DEBUG, rv, c->s ? c->s : in->s,
                         MCPRLOG(00824) "Redis call on %s failed: %s",
                         in->described, err ? err : "unknown error");
        }
    }
    return rv;
}

apr_status_t mcpr_exec_refused(mcpr_t *in, const mcp_store_ctx_t *c,
                               const char *what, const redisReply *r)
{
    apr_time_t now = apr_time_now();
    int len = r && r->str ? (int)r->len : 0;
    const char *text = r && r->str ? r->str : "(no error text)";

    if (!len) {
        len = (int)strlen(text);
    }
    if (in->single) {
        apr_thread_mutex_lock(in->single->mutex);
        in->single->refused_replies++;
        apr_thread_mutex_unlock(in->single->mutex);
    }
    /* a refusal is per call, not per outage: at most one line a second
     * (a benign race on the stamp may let two through) */
    if (now - in->refusal_logged >= apr_time_from_sec(1)) {
        in->refusal_logged = now;
        if (c && c->r) {
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, c->r, MCPRLOG(00830)
                          "Redis %s refused %s: %.*s", in->described, what,
                          len, text);
        }
        else {
            ap_log_error(APLOG_MARK, APLOG_ERR, 0,
                         c && c->s ? c->s : in->s, MCPRLOG(00830)
                         "Redis %s refused %s: %.*s", in->described, what,
                         len, text);
        }
    }
    return APR_EGENERAL;
}
