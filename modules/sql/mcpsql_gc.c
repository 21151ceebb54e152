/*
 * mcpsql_gc: expired rows deleted without cron (see mcpsql.h).
 *
 * Every statement ignores expired rows, so this only gives the space
 * back. A mod_watchdog singleton callback runs in one child per node
 * (mod_watchdog holds a process mutex for it), first one interval after
 * the child starts (mod_dbd's pool exists by then). A tick takes the gate
 * row of <table>_gc first: one node per interval across the fleet runs
 * the delete; then it deletes in batches of MCPSessionSQLCleanupBatch
 * rows while a batch comes back full, at most GC_BATCHES_PER_TICK times
 * (the rest waits for the next interval: a cleanup never hogs the
 * database or the connection pool).
 */
#include <unistd.h>

#include "apr_strings.h"
#include "apr_atomic.h"
#include "apr_optional.h"

#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "mod_watchdog.h"

#include "mcpsql.h"

APLOG_USE_MODULE(mcp_session_sql);

#define GC_BATCHES_PER_TICK 10

static APR_OPTIONAL_FN_TYPE(ap_watchdog_get_instance) *wd_get_instance;
static APR_OPTIONAL_FN_TYPE(ap_watchdog_register_callback) *wd_register;

/* One statement on one connection of the instance's pool. */
static apr_status_t gc_query(mcpsql_t *in, const mcp_store_ctx_t *c,
                             mcpsql_st_e st, const char *arg, int *nrows)
{
    mcpsql_call_t call;
    const char *args[1];
    apr_status_t rv;

    args[0] = arg;
    rv = mcpsql_conn_open(&call, in, c);
    if (rv != APR_SUCCESS) {
        goto leave;
    }
    rv = mcpsql_conn_query(&call, st, nrows, 1, args);
    mcpsql_conn_close(&call);
leave:
    /* as a data call does: when the store was down, this tick may have
     * been the node's probe, and only an outcome clears the outage */
    mcpsql_conn_outcome(in, c, rv);
    return rv;
}

static void gc_tick(mcpsql_t *in, apr_pool_t *pool)
{
    mcp_store_ctx_t c;
    apr_interval_time_t gate;
    apr_time_t started = apr_time_now();
    apr_status_t rv;
    const char *what = "take the gate row";
    int nrows = 0, batches = 0, deleted = 0;

    c.pool = pool;
    c.s = in->s;
    c.r = NULL;
    /* the gate opens a little before a whole interval has gone by: the
     * ticks of two nodes drift, and a node whose tick came a few ms early
     * must not skip a whole interval */
    gate = in->cleanup - in->cleanup / 10;
    rv = gc_query(in, &c, MCPSQL_ST_GC_GATE,
                  apr_psprintf(pool, "%" APR_TIME_T_FMT,
                               apr_time_as_msec(gate)), &nrows);
    if (rv != APR_SUCCESS) {
        goto leave;
    }
    if (nrows == 0) {
        apr_atomic_inc32(&in->shared->gc_skipped);
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, in->s, MCPSQLLOG(01181)
                     "cleanup of %s skipped: another node ran it less than "
                     "%" APR_TIME_T_FMT " ms ago (the gate row of %s_gc)",
                     in->table, apr_time_as_msec(gate), in->table);
        goto leave;
    }
    apr_atomic_inc32(&in->shared->gc_runs);
    in->shared->gc_last = started;
    what = "delete expired rows";
    do {
        nrows = 0;
        rv = gc_query(in, &c, MCPSQL_ST_GC,
                      apr_psprintf(pool, "%d", in->batch), &nrows);
        if (rv != APR_SUCCESS) {
            break;
        }
        batches++;
        deleted += nrows;
        apr_atomic_add32(&in->shared->gc_rows, (apr_uint32_t)nrows);
    } while (nrows >= in->batch && batches < GC_BATCHES_PER_TICK);
    ap_log_error(APLOG_MARK, (deleted > 0 ? APLOG_DEBUG : APLOG_TRACE1), 0,
                 in->s, MCPSQLLOG(01182) "cleanup of %s: %d expired rows "
                 "deleted in %d batches of at most %d, %" APR_TIME_T_FMT
                 " ms%s", in->table, deleted, batches, in->batch,
                 apr_time_as_msec(apr_time_now() - started),
                 rv == APR_SUCCESS && nrows >= in->batch
                 ? "; more are left for the next interval" : "");
leave:
    if (rv != APR_SUCCESS) {
        /* the connection layer logged the driver's text (rate-limited);
         * a tick is once per interval, so this line is rare enough */
        apr_atomic_inc32(&in->shared->gc_errors);
        ap_log_error(APLOG_MARK, APLOG_WARNING, rv, in->s, MCPSQLLOG(01183)
                     "cleanup of %s could not %s; trying again in %"
                     APR_TIME_T_FMT " s", in->table, what,
                     apr_time_sec(in->cleanup));
    }
}

static apr_status_t gc_callback(int state, void *data, apr_pool_t *pool)
{
    mcpsql_t *in = data;

    switch (state) {
    case AP_WATCHDOG_STATE_STARTING:
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, in->s, MCPSQLLOG(01184)
                     "cleanup of %s runs in this child (pid %" APR_PID_T_FMT
                     ") every %" APR_TIME_T_FMT " ms", in->table, getpid(),
                     apr_time_as_msec(in->cleanup));
        break;
    case AP_WATCHDOG_STATE_RUNNING:
        /* before child_init (no lock yet) nothing can run */
        if (in->lock && in->shared) {
            gc_tick(in, pool);
        }
        break;
    default:
        break;
    }
    /* anything but success would stop mod_watchdog calling again */
    return APR_SUCCESS;
}

apr_status_t mcpsql_gc_register(mcpsql_t *in, server_rec *s, apr_pool_t *pconf)
{
    ap_watchdog_t *wd = NULL;
    apr_status_t rv;

    wd_get_instance = APR_RETRIEVE_OPTIONAL_FN(ap_watchdog_get_instance);
    wd_register = APR_RETRIEVE_OPTIONAL_FN(ap_watchdog_register_callback);
    if (!wd_get_instance || !wd_register) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, MCPSQLLOG(01180)
                     "session store sql %s: MCPSessionSQLCleanup needs "
                     "mod_watchdog (LoadModule watchdog_module; Debian's "
                     "httpd has it built in), or MCPSessionSQLCleanup off "
                     "and a cron job (README)", in->table);
        rv = APR_ENOTIMPL;
        goto leave;
    }
    /* the singleton: one child per node holds its mutex and runs it */
    rv = wd_get_instance(&wd, AP_WATCHDOG_SINGLETON, 0, 1, pconf);
    if (rv == APR_SUCCESS) {
        rv = wd_register(wd, in->cleanup, in, gc_callback);
    }
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, rv, s, MCPSQLLOG(01180)
                     "session store sql %s: cannot register the cleanup "
                     "with mod_watchdog", in->table);
    }
leave:
    return rv;
}
