/*
 * mcpsql_conn.c: one store call on one mod_dbd connection (mcpsql.h).
 *
 * How mod_dbd's traps are avoided (research sql-store.md §1.4-§2.5):
 * - the wait for a pooled connection has no timeout in mod_dbd: a gate
 *   of `slots` calls per child in front of it (slots = DBDMax), waited
 *   for with apr_thread_cond_timedwait until the call's deadline, so a
 *   call never reaches apr_reslist_acquire's untimed wait (APR_EAGAIN);
 * - ap_dbd_open/ap_dbd_close around each call, never ap_dbd_acquire: a
 *   request (an SSE stream) does not hold a connection;
 * - after PQreset (apr_dbd_check_conn on a broken connection) the server
 *   has forgotten the prepared statements and mod_dbd never prepares them
 *   again: our statements are prepared lazily per connection, tracked by
 *   a marker in rec->prepared, and on any error the marker is reset, the
 *   connection checked (PQreset when broken), our labels deallocated and
 *   prepared again, and the statement run once more;
 * - sequential selects on pgsql turn errors into "no rows" (and sleep
 *   100 ms on every empty result): random=1 only, every row read and
 *   copied before the connection goes back;
 * - statement_timeout is set per connection by SELECT set_config (again
 *   after a reconnect; DBDInitSQL would not be).
 */
#include "mcpsql.h"

#include "apr_strings.h"
#include "apr_atomic.h"
#include "apr_optional.h"

#include <string.h>

APLOG_USE_MODULE(mcp_session_sql);

/* One probe at a time while the store is down, this long after the last
 * failure; after a connect that timed out (a black hole) longer, so that
 * the node does not give a thread to a connect timeout that often. */
#define MCPSQL_PROBE_EVERY  apr_time_from_msec(500)
#define MCPSQL_PROBE_SLOW   apr_time_from_sec(5)
#define MCPSQL_SLOW_FAILURE apr_time_from_msec(250)
/* Error lines: at most one a second per child (and instance). */
#define MCPSQL_LOG_EVERY    apr_time_from_sec(1)
/* When MCPSessionStoreTimeout gave nothing. */
#define MCPSQL_TIMEOUT_DEF  apr_time_from_sec(5)

static APR_OPTIONAL_FN_TYPE(ap_dbd_open) *dbd_open;
static APR_OPTIONAL_FN_TYPE(ap_dbd_close) *dbd_close;

/* Per connection and statement set: in rec->pool, found in rec->prepared
 * under a key no label can have (mod_dbd's labels go there too). */
typedef struct sqlconn_state_t {
    apr_dbd_prepared_t *st[MCPSQL_ST_COUNT];
    int setup_done;                 /* session_setup ran on this session */
    int stale;                      /* after an error: our labels may still
                                     * exist on the server: DEALLOCATE first */
} sqlconn_state_t;

static const char *const st_name[MCPSQL_ST_COUNT] = {
    "create", "fetch", "fetch-touch", "touch", "update", "update-if",
    "exists", "remove", "gc", "gc-gate"
};

#define CALL_LOG(c, in, level, rv, ...)                                      \
    do {                                                                     \
        if ((c) && (c)->r) {                                                 \
            ap_log_rerror(APLOG_MARK, level, rv, (c)->r, __VA_ARGS__);       \
        }                                                                    \
        else {                                                               \
            ap_log_error(APLOG_MARK, level, rv,                              \
                         (c) && (c)->s ? (c)->s : (in)->s, __VA_ARGS__);     \
        }                                                                    \
    } while (0)

/* The rate limit of error lines (debug lines are not limited). */
static int may_log(mcpsql_t *in)
{
    apr_time_t now = apr_time_now();
    int ok;

    apr_thread_mutex_lock(in->lock);
    ok = now >= in->next_log;
    if (ok) {
        in->next_log = now + MCPSQL_LOG_EVERY;
    }
    apr_thread_mutex_unlock(in->lock);
    return ok;
}

/* The driver's text on one line (pgsql's has DETAIL/LINE lines). */
static const char *driver_error(mcpsql_call_t *call, int ret)
{
    const char *e = apr_dbd_error(call->rec->driver, call->rec->handle, ret);
    char *t, *x;

    if (!e || !*e) {
        return apr_psprintf(call->c->pool, "driver error %d", ret);
    }
    t = apr_pstrdup(call->c->pool, e);
    for (x = t; *x; x++) {
        if (*x == '\n' || *x == '\r' || *x == '\t') {
            *x = ' ';
        }
    }
    while (x > t && x[-1] == ' ') {
        *--x = '\0';
    }
    return t;
}

apr_status_t mcpsql_conn_child_init(mcpsql_t *in, apr_pool_t *pchild)
{
    apr_status_t rv;

    /* unmanaged: prefork destroys pchild from a signal handler while a
     * call may be running; this pool is never destroyed */
    rv = apr_pool_create_unmanaged_ex(&in->cpool, NULL, NULL);
    if (rv != APR_SUCCESS) {
        goto leave;
    }
    apr_pool_tag(in->cpool, "mcpsql_child");
    rv = apr_thread_mutex_create(&in->lock, APR_THREAD_MUTEX_DEFAULT,
                                 in->cpool);
    if (rv != APR_SUCCESS) {
        goto leave;
    }
    rv = apr_thread_cond_create(&in->freed, in->cpool);
    if (rv != APR_SUCCESS) {
        goto leave;
    }
    /* dbd_post_connect may have told DBDMax already (mod_dbd's child_init
     * opens DBDMin connections, maybe before ours) */
    if (in->slots <= 0) {
        in->slots = in->params.threads_per_child > 0
                    ? in->params.threads_per_child : 1;
    }
    in->inflight = 0;
    in->down_since = 0;
    in->next_probe = 0;
    in->next_log = 0;
    memset((void *)&in->n, 0, sizeof(in->n));
    dbd_open = APR_RETRIEVE_OPTIONAL_FN(ap_dbd_open);
    dbd_close = APR_RETRIEVE_OPTIONAL_FN(ap_dbd_close);
    if (!dbd_open || !dbd_close) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, in->s, MCPSQLLOG(01120)
                     "%s: mod_dbd is not loaded (LoadModule dbd_module): "
                     "every call fails", in->spec);
    }
leave:
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, in->s, MCPSQLLOG(01134)
                     "%s: cannot set up in this child", in->spec);
        in->lock = NULL;
    }
    return rv;
}

void mcpsql_conn_learn_max(mcpsql_t *in, int nmax)
{
    if (nmax <= 0) {
        return;
    }
    if (!in->lock) {
        in->slots = nmax;
        return;
    }
    apr_thread_mutex_lock(in->lock);
    in->slots = nmax;
    apr_thread_cond_broadcast(in->freed);
    apr_thread_mutex_unlock(in->lock);
}

/* The gate back, for a call that passed it. */
static void gate_leave(mcpsql_t *in)
{
    apr_thread_mutex_lock(in->lock);
    in->inflight--;
    apr_thread_cond_signal(in->freed);
    apr_thread_mutex_unlock(in->lock);
}

/* A 32-bit millisecond clock for the node's outage state in shared
 * memory (atomics; compared by wrapping difference). */
static apr_uint32_t ms32(apr_time_t t)
{
    return (apr_uint32_t)apr_time_as_msec(t);
}

/* 1: the store is down and this call is not the probe: fail at once. The
 * state is the node's when there is shared memory (a prefork child must
 * not pay a connect timeout to learn what another child knows), else
 * this child's. */
static int outage_refuses(mcpsql_t *in, apr_time_t now)
{
    int refuse = 0;

    if (in->shared) {
        mcpsql_shared_t *sh = in->shared;
        apr_uint32_t at, n = ms32(now);

        if (!apr_atomic_read32(&sh->down)) {
            return 0;
        }
        at = apr_atomic_read32(&sh->probe_at);
        if ((apr_int32_t)(at - n) > 0) {
            return 1;
        }
        /* the first call past probe_at probes; the others fail until the
         * probe's outcome moves probe_at or clears down */
        return apr_atomic_cas32(&sh->probe_at, ms32(now + MCPSQL_PROBE_SLOW),
                                at) != at;
    }
    apr_thread_mutex_lock(in->lock);
    if (in->down_since) {
        refuse = now < in->next_probe;
        if (!refuse) {
            in->next_probe = now + MCPSQL_PROBE_SLOW;
        }
    }
    apr_thread_mutex_unlock(in->lock);
    return refuse;
}

/* A call failed: the next probe is due this long after its end; longer
 * after a connect that took long (a black hole: each probe holds a thread
 * for connect_timeout). A slow statement (statement_timeout, a row lock)
 * is not a reason to wait longer. */
static void note_failure(mcpsql_call_t *call, int connecting)
{
    mcpsql_t *in = call->in;
    apr_interval_time_t timeout = in->params.timeout > 0
                                  ? in->params.timeout : MCPSQL_TIMEOUT_DEF;
    apr_time_t now = apr_time_now();
    apr_interval_time_t took = now - (call->deadline - timeout);
    apr_interval_time_t wait = connecting && took >= MCPSQL_SLOW_FAILURE
                               ? MCPSQL_PROBE_SLOW : MCPSQL_PROBE_EVERY;

    if (in->shared) {
        apr_atomic_set32(&in->shared->probe_at, ms32(now + wait));
        apr_atomic_set32(&in->shared->down, 1);
    }
    apr_thread_mutex_lock(in->lock);
    in->next_probe = now + wait;
    apr_thread_mutex_unlock(in->lock);
}

/* Runs a raw statement (no placeholders) on the call's connection; a
 * select's rows are read and dropped. */
static int run_raw(mcpsql_call_t *call, const char *sql, int select)
{
    ap_dbd_t *rec = call->rec;
    apr_pool_t *tmp;
    int ret, nrows = 0;

    apr_pool_create(&tmp, call->c->pool);
    if (select) {
        apr_dbd_results_t *res = NULL;
        apr_dbd_row_t *row = NULL;

        ret = apr_dbd_select(rec->driver, tmp, rec->handle, &res, sql, 1);
        while (ret == 0 && apr_dbd_get_row(rec->driver, tmp, res, &row, -1) == 0) {
        }
    }
    else {
        ret = apr_dbd_query(rec->driver, rec->handle, &nrows, sql);
    }
    apr_pool_destroy(tmp);
    return ret;
}

/* This connection's state for the instance's statements, set up. */
static apr_status_t conn_ready(mcpsql_call_t *call, sqlconn_state_t **out,
                               const char **why)
{
    mcpsql_t *in = call->in;
    ap_dbd_t *rec = call->rec;
    const char *key = apr_pstrcat(call->c->pool, "mcpsql:", in->sql->label[0],
                                  in->prepared ? "" : ":unnamed", NULL);
    sqlconn_state_t *cs = apr_hash_get(rec->prepared, key, APR_HASH_KEY_STRING);
    apr_status_t rv = APR_SUCCESS;
    int ret;

    if (!cs) {
        cs = apr_pcalloc(rec->pool, sizeof(*cs));
        apr_hash_set(rec->prepared, apr_pstrdup(rec->pool, key),
                     APR_HASH_KEY_STRING, cs);
    }
    if (!cs->setup_done) {
        if (in->sql->session_setup
            && (ret = run_raw(call, in->sql->session_setup, 1)) != 0) {
            *why = apr_pstrcat(call->c->pool, "setting the connection up: ",
                               driver_error(call, ret), NULL);
            rv = APR_EGENERAL;
            goto leave;
        }
        cs->setup_done = 1;
        CALL_LOG(call->c, in, APLOG_DEBUG, 0, MCPSQLLOG(01133)
                 "%s: connection set up (%s, %s statements%s%s)", in->spec,
                 apr_dbd_name(rec->driver), in->prepared ? "named" : "unnamed",
                 in->sql->session_setup ? ", " : "",
                 in->sql->session_setup ? in->sql->session_setup : "");
    }
leave:
    *out = cs;
    return rv;
}

static apr_status_t conn_prepare(mcpsql_call_t *call, sqlconn_state_t *cs,
                                 mcpsql_st_e st, const char **why)
{
    mcpsql_t *in = call->in;
    ap_dbd_t *rec = call->rec;
    const char *label = in->prepared ? in->sql->label[st] : NULL;
    int ret;

    if (cs->st[st]) {
        return APR_SUCCESS;
    }
    if (label && cs->stale && in->dialect == MCPSQL_DIALECT_PGSQL) {
        /* the label may have survived the error (a genuine one, not a
         * reconnect): PREPARE would fail with "already exists" */
        run_raw(call, apr_pstrcat(call->c->pool, "DEALLOCATE ", label, NULL), 0);
    }
    /* rec->pool: the statement lives as long as the connection */
    ret = apr_dbd_prepare(rec->driver, rec->pool, rec->handle,
                          in->sql->text[st], label, &cs->st[st]);
    if (ret != 0) {
        cs->st[st] = NULL;
        *why = apr_pstrcat(call->c->pool, "preparing it: ",
                           driver_error(call, ret), NULL);
        return APR_EGENERAL;
    }
    apr_atomic_inc32(&in->n.prepared);
    CALL_LOG(call->c, in, APLOG_DEBUG, 0, MCPSQLLOG(01136)
             "%s: %s statement prepared on this connection%s%s%s", in->spec,
             st_name[st], label ? " as " : " (unnamed)", label ? label : "",
             cs->stale ? ", again after an error" : "");
    return APR_SUCCESS;
}

/* The table and the gc row, when missing; tolerant of another child or
 * node doing the same at once (CREATE ... IF NOT EXISTS can still lose a
 * race on the catalog: the second try sees the table). */
static apr_status_t conn_schema(mcpsql_call_t *call)
{
    mcpsql_t *in = call->in;
    apr_status_t rv = APR_SUCCESS;
    int attempt, ret = 0;

    if (in->schema_ok || in->create == MCPSQL_CREATE_OFF) {
        in->schema_ok = 1;
        return APR_SUCCESS;
    }
    for (attempt = 0; attempt < 2; attempt++) {
        char *ddl = apr_pstrdup(call->c->pool, in->sql->ddl), *last, *one;

        ret = 0;
        for (one = apr_strtok(ddl, ";\n", &last); one && ret == 0;
             one = apr_strtok(NULL, ";\n", &last)) {
            if (!strncmp(one, "PRAGMA ", 7)) {
                run_raw(call, one, 1);      /* a setting: best effort */
                continue;
            }
            ret = run_raw(call, one, 0);
        }
        if (ret == 0) {
            break;
        }
        CALL_LOG(call->c, in, APLOG_DEBUG, 0, MCPSQLLOG(01126)
                 "%s: creating the table failed (attempt %d): %s", in->spec,
                 attempt + 1, driver_error(call, ret));
        apr_dbd_check_conn(call->rec->driver, call->c->pool, call->rec->handle);
    }
    if (ret != 0) {
        if (may_log(in)) {
            CALL_LOG(call->c, in, APLOG_ERR, 0, MCPSQLLOG(01127)
                     "%s: the table is missing and cannot be made "
                     "(MCPSessionSQLCreateTable off and the README's DDL "
                     "run by the DBA avoid this): %s", in->spec,
                     driver_error(call, ret));
        }
        rv = APR_EGENERAL;
        goto leave;
    }
    in->schema_ok = 1;
    CALL_LOG(call->c, in, APLOG_DEBUG, 0, MCPSQLLOG(01128)
             "%s: table %s and %s_gc are there (made when missing, %s)",
             in->spec, in->table, in->table,
             in->create == MCPSQL_CREATE_UNLOGGED ? "unlogged" : "logged");
leave:
    return rv;
}

apr_status_t mcpsql_conn_open(mcpsql_call_t *call, mcpsql_t *in,
                              const mcp_store_ctx_t *c)
{
    apr_interval_time_t timeout = in->params.timeout > 0
                                  ? in->params.timeout : MCPSQL_TIMEOUT_DEF;
    apr_time_t now = apr_time_now();
    apr_status_t rv = APR_SUCCESS;
    sqlconn_state_t *cs = NULL;
    const char *why = "the table (logged above)";
    ap_dbd_t *rec;

    memset(call, 0, sizeof(*call));
    call->c = c;
    call->deadline = now + timeout;
    apr_atomic_inc32(&in->n.calls);
    if (!in->lock || !dbd_open) {
        return APR_ENOTIMPL;        /* logged by child_init */
    }

    if (outage_refuses(in, now)) {
        /* logged once per outage, by mcpsql_conn_outcome */
        apr_atomic_inc32(&in->n.refused);
        return APR_ECONNREFUSED;
    }
    apr_thread_mutex_lock(in->lock);
    while (in->inflight >= in->slots) {
        if (now >= call->deadline) {
            int slots = in->slots;

            apr_thread_mutex_unlock(in->lock);
            apr_atomic_inc32(&in->n.busy);
            if (may_log(in)) {
                CALL_LOG(c, in, APLOG_WARNING, 0, MCPSQLLOG(01132)
                         "%s: all %d connections of this child were busy "
                         "for %" APR_TIME_T_FMT " ms (DBDMax, "
                         "MCPSessionStoreTimeout)", in->spec, slots,
                         apr_time_as_msec(timeout));
            }
            return APR_EAGAIN;
        }
        apr_thread_cond_timedwait(in->freed, in->lock, call->deadline - now);
        now = apr_time_now();
    }
    in->inflight++;
    apr_thread_mutex_unlock(in->lock);
    call->in = in;                  /* holds the gate from here on */

    rec = dbd_open(c->pool, in->s);
    if (!rec) {
        if (may_log(in)) {
            CALL_LOG(c, in, APLOG_ERR, 0, MCPSQLLOG(01121)
                     "%s: mod_dbd gave no connection (its lines before this "
                     "one say why; DBDriver and DBDParams in this virtual "
                     "host?)", in->spec);
        }
        rv = APR_ECONNREFUSED;
        goto leave;
    }
    call->rec = rec;

    if (!in->sql) {
        const char *name = apr_dbd_name(rec->driver);
        mcpsql_dialect_e d = mcpsql_sql_dialect(name);

        if (d == MCPSQL_DIALECT_UNKNOWN) {
            if (may_log(in)) {
                CALL_LOG(c, in, APLOG_ERR, 0, MCPSQLLOG(01122)
                         "%s: DBDriver %s is not supported (pgsql, sqlite3)",
                         in->spec, name);
            }
            rv = APR_ENOTIMPL;
            goto leave;
        }
        apr_thread_mutex_lock(in->lock);
        if (!in->sql) {
            in->dialect = d;
            in->sql = mcpsql_sql_make(in->cpool, d, in->table, in->create,
                                      timeout);
        }
        apr_thread_mutex_unlock(in->lock);
        if (!in->sql) {
            rv = APR_EINVAL;        /* create() checked the table name */
            goto leave;
        }
        CALL_LOG(c, in, APLOG_DEBUG, 0, MCPSQLLOG(01135)
                 "%s: the connections are %s", in->spec, name);
    }

    rv = conn_ready(call, &cs, &why);
    if (rv == APR_SUCCESS) {
        rv = conn_schema(call);
    }
    if (rv != APR_SUCCESS && !call->retried) {
        /* a pooled connection that died (the database restarted): check
         * it (PQreset) and try once more */
        call->retried = 1;
        apr_atomic_inc32(&in->n.retries);
        if (cs) {
            cs->setup_done = 0;
        }
        CALL_LOG(c, in, APLOG_DEBUG, 0, MCPSQLLOG(01130)
                 "%s: %s; checking the connection (a reconnect when it is "
                 "broken), trying once more", in->spec, why);
        if (apr_dbd_check_conn(rec->driver, c->pool, rec->handle) == APR_SUCCESS) {
            rv = conn_ready(call, &cs, &why);
            if (rv == APR_SUCCESS) {
                rv = conn_schema(call);
            }
        }
        if (rv != APR_SUCCESS && may_log(in)) {
            CALL_LOG(c, in, APLOG_ERR, 0, MCPSQLLOG(01124)
                     "%s: %s", in->spec, why);
        }
    }
leave:
    if (rv != APR_SUCCESS) {
        note_failure(call, call->rec == NULL);
        mcpsql_conn_close(call);
    }
    return rv;
}

void mcpsql_conn_close(mcpsql_call_t *call)
{
    mcpsql_t *in = call->in;

    if (!in) {
        return;
    }
    if (call->rec) {
        dbd_close(in->s, call->rec);
        call->rec = NULL;
    }
    gate_leave(in);
    call->in = NULL;
}

/* Runs `st`; select: every row copied into c->pool. One retry after an
 * error, on the same connection once it is checked (PQreset), with our
 * statements (and session setup) prepared again. */
static apr_status_t conn_run(mcpsql_call_t *call, mcpsql_st_e st, int *nrows,
                             apr_array_header_t **rows, int ncols, int nargs,
                             const char **args)
{
    mcpsql_t *in = call->in;
    ap_dbd_t *rec = call->rec;
    const mcp_store_ctx_t *c = call->c;
    sqlconn_state_t *cs = NULL;
    apr_status_t rv;
    apr_pool_t *tmp = NULL;
    const char *why;
    int ret;

    if (!in || !rec) {
        return APR_EINVAL;
    }
    for (;;) {
        ret = 0;
        why = "";
        rv = conn_ready(call, &cs, &why);
        if (rv == APR_SUCCESS) {
            rv = conn_prepare(call, cs, st, &why);
        }
        if (rv == APR_SUCCESS) {
            if (tmp) {
                apr_pool_clear(tmp);
            }
            else {
                apr_pool_create(&tmp, c->pool);
            }
            if (rows) {
                apr_dbd_results_t *res = NULL;
                apr_dbd_row_t *row = NULL;

                *rows = apr_array_make(c->pool, 1, sizeof(const char **));
                /* random=1: an error is an error, not "no rows" */
                ret = apr_dbd_pselect(rec->driver, tmp, rec->handle, &res,
                                      cs->st[st], 1, nargs, args);
                while (ret == 0
                       && apr_dbd_get_row(rec->driver, tmp, res, &row, -1) == 0) {
                    const char **cols = apr_pcalloc(c->pool,
                                                    ncols * sizeof(*cols));
                    int i;

                    for (i = 0; i < ncols; i++) {
                        const char *v = apr_dbd_get_entry(rec->driver, row, i);
                        cols[i] = v ? apr_pstrdup(c->pool, v) : NULL;
                    }
                    APR_ARRAY_PUSH(*rows, const char **) = cols;
                }
            }
            else {
                *nrows = 0;
                ret = apr_dbd_pquery(rec->driver, tmp, rec->handle, nrows,
                                     cs->st[st], nargs, args);
            }
            if (ret == 0) {
                break;
            }
            rv = APR_EGENERAL;
            why = driver_error(call, ret);
        }
        /* whatever failed, our statements on this connection are suspect:
         * a reconnect (PQreset) lost them and the session settings */
        if (cs) {
            memset(cs->st, 0, sizeof(cs->st));
            cs->setup_done = 0;
            cs->stale = 1;
        }
        if (call->retried || apr_time_now() >= call->deadline) {
            /* the last word: an error line (the first failure, retried,
             * is a debug line: a database restart costs no error) */
            if (may_log(in)) {
                CALL_LOG(c, in, APLOG_ERR, 0, MCPSQLLOG(01123)
                         "%s: the %s statement failed%s: %s", in->spec,
                         st_name[st], call->retried ? " again" : "", why);
            }
            break;
        }
        call->retried = 1;
        apr_atomic_inc32(&in->n.retries);
        CALL_LOG(c, in, APLOG_DEBUG, 0, MCPSQLLOG(01130)
                 "%s: %s failed: %s; checking the connection (a reconnect "
                 "when it is broken), preparing again, trying once more",
                 in->spec, st_name[st], why);
        if (apr_dbd_check_conn(rec->driver, c->pool, rec->handle) != APR_SUCCESS) {
            if (may_log(in)) {
                CALL_LOG(c, in, APLOG_ERR, 0, MCPSQLLOG(01129)
                         "%s: the connection is broken and reconnecting "
                         "failed: %s", in->spec, driver_error(call, -1));
            }
            break;
        }
    }
    if (tmp) {
        apr_pool_destroy(tmp);
    }
    if (rv != APR_SUCCESS) {
        note_failure(call, 0);
    }
    return rv;
}

apr_status_t mcpsql_conn_query(mcpsql_call_t *call, mcpsql_st_e st,
                               int *nrows, int nargs, const char **args)
{
    return conn_run(call, st, nrows, NULL, 0, nargs, args);
}

apr_status_t mcpsql_conn_select(mcpsql_call_t *call, mcpsql_st_e st,
                                apr_array_header_t **rows, int ncols,
                                int nargs, const char **args)
{
    return conn_run(call, st, NULL, rows, ncols, nargs, args);
}

void mcpsql_conn_outcome(mcpsql_t *in, const mcp_store_ctx_t *c, apr_status_t rv)
{
    apr_time_t now;

    if (rv == APR_NOTFOUND) {
        apr_atomic_inc32(&in->n.misses);
    }
    if (rv == APR_EAGAIN) {
        return;                     /* busy, not down */
    }
    if (!in->lock) {
        apr_atomic_inc32(&in->n.errors);
        return;
    }
    now = apr_time_now();
    if (rv == APR_SUCCESS || rv == APR_NOTFOUND || rv == APR_EEXIST
        || rv == MCP_STORE_ECHANGED) {
        apr_time_t since;

        if (in->shared && apr_atomic_read32(&in->shared->down)) {
            apr_atomic_set32(&in->shared->down, 0);
        }
        if (!in->down_since) {      /* the common case: no lock */
            return;
        }
        apr_thread_mutex_lock(in->lock);
        since = in->down_since;
        in->down_since = 0;
        apr_thread_mutex_unlock(in->lock);
        if (since) {
            CALL_LOG(c, in, APLOG_NOTICE, 0, MCPSQLLOG(01131)
                     "%s: the database answers again, after %" APR_TIME_T_FMT
                     " ms", in->spec, apr_time_as_msec(now - since));
        }
        return;
    }
    apr_atomic_inc32(&in->n.errors);
    apr_thread_mutex_lock(in->lock);
    if (in->down_since) {
        apr_thread_mutex_unlock(in->lock);
        return;
    }
    in->down_since = now;
    apr_thread_mutex_unlock(in->lock);
    CALL_LOG(c, in, APLOG_ERR, rv, MCPSQLLOG(01137)
             "%s: the store is down (the lines before this one say why): "
             "calls of this node fail at once (503), one probe %" APR_TIME_T_FMT
             " ms after each failure (%" APR_TIME_T_FMT " ms after a "
             "connect that timed out) until the database answers", in->spec,
             apr_time_as_msec(MCPSQL_PROBE_EVERY),
             apr_time_as_msec(MCPSQL_PROBE_SLOW));
}
