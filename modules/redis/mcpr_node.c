/*
 * mcpr_node.c: one Redis server as this child sees it. Its connections
 * (a bounded LIFO pool for data calls, another for blocking reads), its
 * down state and its counters. Nodes live in the child's root pool
 * (in->cpool) and are never freed: a Sentinel or Cluster address seen
 * once is likely seen again.
 *
 * Down state: the first failed call marks the node down and logs why
 * (MCPS00820). While down, calls fail at once with that reason, except
 * one probe at a time (at most every MCPR_PROBE_INTERVAL; right away when
 * the last failure was a refusal, which costs nothing): it opens a fresh
 * connection, and its success brings the node back (MCPS00821). A dead
 * Redis therefore costs a request a few microseconds, not the timeout.
 */
#include "mcpr.h"

#include "httpd.h"
#include "http_log.h"

#include "apr_strings.h"

APLOG_USE_MODULE(mcp_session_redis);

/* The pool size when the instance has none (pool_max=0 unresolved). */
#define MCPR_NODE_DEFAULT_MAX   16

mcpr_node_t *mcpr_node_get(mcpr_t *in, const char *host, apr_port_t port,
                           const mcpr_auth_t *auth)
{
    mcpr_node_t *n;
    char key[300];
    int max = in->pool_max > 0 ? in->pool_max : MCPR_NODE_DEFAULT_MAX;

    apr_snprintf(key, sizeof(key), strchr(host, ':') ? "[%s]:%u" : "%s:%u",
                 host, port);
    apr_thread_mutex_lock(in->mutex);
    n = apr_hash_get(in->nodes, key, APR_HASH_KEY_STRING);
    if (n == NULL) {
        /* in->cpool is only ever used under in->mutex */
        n = apr_pcalloc(in->cpool, sizeof(*n));
        n->in = in;
        n->host = apr_pstrdup(in->cpool, host);
        n->port = port;
        n->name = apr_pstrdup(in->cpool, key);
        n->auth = auth;
        n->max = max;
        n->bmax = max;
        n->idle = apr_pcalloc(in->cpool, max * sizeof(*n->idle));
        n->bidle = apr_pcalloc(in->cpool, max * sizeof(*n->bidle));
        if (apr_thread_mutex_create(&n->mutex, APR_THREAD_MUTEX_DEFAULT,
                                    in->cpool) != APR_SUCCESS
            || apr_thread_cond_create(&n->freed, in->cpool) != APR_SUCCESS) {
            n = NULL;
        }
        else {
            apr_hash_set(in->nodes, n->name, APR_HASH_KEY_STRING, n);
        }
    }
    apr_thread_mutex_unlock(in->mutex);
    return n;
}

/* Close every idle connection of both pools; the ones checked out now
 * close when they come back. Under n->mutex. */
static void flush_locked(mcpr_node_t *n)
{
    n->generation++;
    while (n->nidle > 0) {
        mcpr_conn_close(n->idle[--n->nidle]);
    }
    while (n->nbidle > 0) {
        mcpr_conn_close(n->bidle[--n->nbidle]);
    }
}

void mcpr_node_flush(mcpr_node_t *n)
{
    apr_thread_mutex_lock(n->mutex);
    flush_locked(n);
    apr_thread_mutex_unlock(n->mutex);
}

apr_status_t mcpr_node_checkout(mcpr_node_t *n, int blocking,
                                apr_time_t deadline, apr_pool_t *p,
                                mcpr_conn_t **c, int *fresh,
                                const char **err)
{
    apr_status_t rv = APR_SUCCESS;
    mcpr_t *in = n->in;
    mcpr_conn_t **idle = blocking ? n->bidle : n->idle;
    int *nidle = blocking ? &n->nbidle : &n->nidle;
    int *busy = blocking ? &n->bbusy : &n->busy;
    int max = blocking ? n->bmax : n->max;
    int probe = 0, locked = 1;
    apr_uint32_t gen;
    apr_time_t now, cdl;

    *c = NULL;
    *fresh = 0;
    apr_thread_mutex_lock(n->mutex);
    now = apr_time_now();
    if (n->down) {
        if (now < n->next_probe) {
            rv = APR_ECONNREFUSED;
            *fresh = -1;
            *err = apr_psprintf(p, "%s (down for %" APR_TIME_T_FMT " ms)",
                                n->last_error,
                                apr_time_as_msec(now - n->down_since));
            goto leave;
        }
        /* this call is the probe; the next one may go when this one is
         * over, or when it outlived its own deadline (a caller that never
         * reported an outcome) */
        probe = 1;
        n->probing = 1;
        n->next_probe = deadline > now + MCPR_PROBE_INTERVAL
                        ? deadline : now + MCPR_PROBE_INTERVAL;
    }
    for (;;) {
        if (!probe && *nidle > 0) {
            mcpr_conn_t *ic = idle[--*nidle];

            if (mcpr_conn_generation(ic) != n->generation) {
                mcpr_conn_close(ic);
                continue;
            }
            ++*busy;
            apr_thread_mutex_unlock(n->mutex);
            /* a readable idle socket was closed by the server (timeout,
             * restart) or holds garbage: never use it */
            if (mcpr_conn_idle_ok(ic)) {
                *c = ic;
                locked = 0;
                goto leave;
            }
            mcpr_conn_close(ic);
            apr_thread_mutex_lock(n->mutex);
            --*busy;
            continue;
        }
        if (*busy < max) {
            break;
        }
        now = apr_time_now();
        if (now >= deadline) {
            n->busy_refused++;
            rv = APR_EAGAIN;
            *err = apr_psprintf(p, "all %d %sconnections to %s are busy", max,
                                blocking ? "blocking " : "", n->name);
            goto leave;
        }
        apr_thread_cond_timedwait(n->freed, n->mutex, deadline - now);
    }

    /* a new connection, opened outside the mutex */
    ++*busy;
    gen = n->generation;
    apr_thread_mutex_unlock(n->mutex);
    locked = 0;
    now = apr_time_now();
    cdl = in->connect_timeout > 0 ? now + in->connect_timeout : 0;
    rv = mcpr_conn_open(c, n->host, n->port, in->tls, n->auth, deadline, cdl,
                        p, err);
    apr_thread_mutex_lock(n->mutex);
    locked = 1;
    if (rv != APR_SUCCESS) {
        --*busy;
        apr_thread_cond_broadcast(n->freed);
        goto leave;
    }
    n->connects++;
    mcpr_conn_set_generation(*c, gen);
    *fresh = 1;

leave:
    if (locked) {
        apr_thread_mutex_unlock(n->mutex);
    }
    if (probe) {
        ap_log_error(APLOG_MARK, APLOG_DEBUG, rv, in->s, MCPRLOG(00822)
                     "Redis %s is down: probe with a new connection: %s",
                     n->name, rv == APR_SUCCESS ? "connected" : *err);
    }
    return rv;
}

void mcpr_node_checkin(mcpr_node_t *n, mcpr_conn_t *c, int blocking,
                       int broken)
{
    mcpr_conn_t **idle = blocking ? n->bidle : n->idle;
    int *nidle = blocking ? &n->nbidle : &n->nidle;
    int *busy = blocking ? &n->bbusy : &n->busy;
    int max = blocking ? n->bmax : n->max;
    int stale_all = broken && mcpr_conn_uses(c) > 1;

    apr_thread_mutex_lock(n->mutex);
    --*busy;
    if (broken || mcpr_conn_generation(c) != n->generation
        || *nidle >= max) {
        mcpr_conn_close(c);
    }
    else {
        idle[(*nidle)++] = c;
    }
    if (stale_all) {
        /* a pooled connection broke: a restart left its siblings stale */
        flush_locked(n);
    }
    apr_thread_cond_broadcast(n->freed);
    apr_thread_mutex_unlock(n->mutex);
}

void mcpr_node_outcome(mcpr_node_t *n, apr_status_t rv, const char *why)
{
    mcpr_t *in = n->in;
    apr_time_t now = apr_time_now();
    int log_down = 0;
    apr_time_t back_after = -1;
    char reason[sizeof(n->last_error)];

    apr_thread_mutex_lock(n->mutex);
    n->calls++;
    if (rv == APR_SUCCESS) {
        if (n->down) {
            back_after = now - n->down_since;
            n->down = 0;
        }
        n->probing = 0;
    }
    else if (rv != APR_EAGAIN) {
        n->errors++;
        if (APR_STATUS_IS_TIMEUP(rv)) {
            n->timeouts++;
        }
        if (!n->down) {
            n->down = 1;
            n->down_since = now;
            log_down = 1;
            apr_cpystrn(n->last_error, why ? why : "unknown error",
                        sizeof(n->last_error));
            apr_cpystrn(reason, n->last_error, sizeof(reason));
            /* its idle connections are as dead as the one that failed */
            flush_locked(n);
        }
        if (log_down || n->probing) {
            /* a refused connection costs nothing: probe again at once;
             * anything slower (a timeout): every MCPR_PROBE_INTERVAL */
            n->next_probe = APR_STATUS_IS_ECONNREFUSED(rv)
                            ? now : now + MCPR_PROBE_INTERVAL;
            n->probing = 0;
            if (why && !log_down) {
                apr_cpystrn(n->last_error, why, sizeof(n->last_error));
            }
        }
    }
    apr_thread_mutex_unlock(n->mutex);

    if (log_down) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, in->s, MCPRLOG(00820)
                     "Redis %s is unreachable: %s; store calls fail with 503 "
                     "until it answers (one probe every %d ms)", n->name,
                     reason, (int)apr_time_as_msec(MCPR_PROBE_INTERVAL));
    }
    else if (back_after >= 0) {
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, in->s, MCPRLOG(00821)
                     "Redis %s answers again after %" APR_TIME_T_FMT " ms",
                     n->name, apr_time_as_msec(back_after));
    }
}
