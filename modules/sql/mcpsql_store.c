/*
 * mcpsql_store.c: the provider's data calls (mcpsql.h), one statement
 * and one round trip each (fetch: two when a refresh is due; update_if:
 * two when it wrote nothing). Only a statement that succeeded with 0 rows
 * is a miss; every error is an error (503), never APR_NOTFOUND.
 */
#include "mcpsql.h"

#include "apr_strings.h"
#include "apr_atomic.h"

#include <string.h>

APLOG_USE_MODULE(mcp_session_sql);

static const char *row_key(mcpsql_t *in, const mcp_store_ctx_t *c,
                           const char *key)
{
    return apr_pstrcat(c->pool, in->params.key_prefix ? in->params.key_prefix
                                                      : "", key, NULL);
}

static const char *ms(const mcp_store_ctx_t *c, apr_interval_time_t t)
{
    return apr_psprintf(c->pool, "%" APR_INT64_T_FMT,
                        (apr_int64_t)(t > 0 ? apr_time_as_msec(t) : 0));
}

/* The column of the first row, or NULL. */
static const char *cell(apr_array_header_t *rows, int col)
{
    if (!rows || rows->nelts < 1) {
        return NULL;
    }
    return APR_ARRAY_IDX(rows, 0, const char **)[col];
}

apr_status_t mcpsql_store_create_session(void *instance, const mcp_store_ctx_t *c,
                                         const char *key, const char *record,
                                         apr_size_t len)
{
    mcpsql_t *in = instance;
    mcpsql_call_t call;
    const char *args[4];
    apr_status_t rv;
    int nrows = 0;

    rv = mcpsql_conn_open(&call, in, c);
    if (rv != APR_SUCCESS) {
        goto leave;
    }
    args[0] = row_key(in, c, key);
    args[1] = apr_pstrmemdup(c->pool, record, len);   /* bound as C text */
    args[2] = args[3] = ms(c, in->params.handshake_ttl > 0
                              ? in->params.handshake_ttl : in->params.ttl);
    rv = mcpsql_conn_query(&call, MCPSQL_ST_CREATE, &nrows, 4, args);
    mcpsql_conn_close(&call);
    if (rv == APR_SUCCESS && nrows == 0) {
        /* a live row with another record holds the key */
        rv = APR_EEXIST;
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, c->s ? c->s : in->s,
                     MCPSQLLOG(01160) "%s: create: a live session holds "
                     "this key already", in->spec);
    }
leave:
    mcpsql_conn_outcome(in, c, rv);
    return rv;
}

apr_status_t mcpsql_store_fetch(void *instance, const mcp_store_ctx_t *c,
                                const char *key, char **record, apr_size_t *len)
{
    mcpsql_t *in = instance;
    mcpsql_call_t call;
    apr_array_header_t *rows = NULL;
    const char *args[2], *rec = NULL, *due;
    apr_status_t rv;
    int nrows = 0;

    rv = mcpsql_conn_open(&call, in, c);
    if (rv != APR_SUCCESS) {
        goto leave;
    }
    args[0] = ms(c, in->params.refresh_after);
    args[1] = row_key(in, c, key);
    if (in->params.refresh_after <= 0) {
        /* slide on every fetch: one UPDATE ... RETURNING */
        rv = mcpsql_conn_select(&call, MCPSQL_ST_FETCH_TOUCH, &rows, 1, 1,
                                args + 1);
        if (rv == APR_SUCCESS && cell(rows, 0)) {
            apr_atomic_inc32(&in->n.touches);
        }
    }
    else {
        rv = mcpsql_conn_select(&call, MCPSQL_ST_FETCH, &rows, 2, 2, args);
    }
    if (rv == APR_SUCCESS && (rec = cell(rows, 0)) == NULL) {
        rv = APR_NOTFOUND;
    }
    if (rv == APR_SUCCESS && in->params.refresh_after > 0
        && (due = cell(rows, 1)) != NULL && !strcmp(due, "1")) {
        /* more than the refresh time since the last write: slide by the
         * row's life; 0 rows: removed (or expired) meanwhile */
        rv = mcpsql_conn_query(&call, MCPSQL_ST_TOUCH, &nrows, 1, args + 1);
        if (rv == APR_SUCCESS && nrows == 0) {
            rv = APR_NOTFOUND;
        }
        if (rv == APR_SUCCESS) {
            apr_atomic_inc32(&in->n.touches);
        }
    }
    mcpsql_conn_close(&call);
    if (rv == APR_SUCCESS) {
        *record = (char *)rec;      /* copied into c->pool by the select */
        *len = strlen(rec);
    }
leave:
    mcpsql_conn_outcome(in, c, rv);
    return rv;
}

/* update and update_if: expected NULL for a plain update. */
static apr_status_t write_record(mcpsql_t *in, const mcp_store_ctx_t *c,
                                 const char *key, const char *expected,
                                 apr_size_t expected_len, const char *record,
                                 apr_size_t len)
{
    mcpsql_call_t call;
    apr_array_header_t *rows = NULL;
    const char *args[5];
    apr_status_t rv;
    int nrows = 0;

    rv = mcpsql_conn_open(&call, in, c);
    if (rv != APR_SUCCESS) {
        goto leave;
    }
    args[0] = apr_pstrmemdup(c->pool, record, len);
    args[1] = args[2] = ms(c, in->params.ttl);
    args[3] = row_key(in, c, key);
    if (!expected) {
        /* never inserts: a removed or expired session stays gone */
        rv = mcpsql_conn_query(&call, MCPSQL_ST_UPDATE, &nrows, 4, args);
        if (rv == APR_SUCCESS && nrows == 0) {
            rv = APR_NOTFOUND;
        }
        mcpsql_conn_close(&call);
        goto leave;
    }
    args[4] = apr_pstrmemdup(c->pool, expected, expected_len);
    rv = mcpsql_conn_query(&call, MCPSQL_ST_UPDATE_IF, &nrows, 5, args);
    if (rv == APR_SUCCESS && nrows == 0) {
        /* nothing written: gone, or changed meanwhile? */
        rv = mcpsql_conn_select(&call, MCPSQL_ST_EXISTS, &rows, 1, 1, args + 3);
        if (rv == APR_SUCCESS) {
            rv = rows->nelts ? MCP_STORE_ECHANGED : APR_NOTFOUND;
        }
    }
    mcpsql_conn_close(&call);
leave:
    mcpsql_conn_outcome(in, c, rv);
    return rv;
}

apr_status_t mcpsql_store_update(void *instance, const mcp_store_ctx_t *c,
                                 const char *key, const char *record,
                                 apr_size_t len)
{
    return write_record(instance, c, key, NULL, 0, record, len);
}

apr_status_t mcpsql_store_update_if(void *instance, const mcp_store_ctx_t *c,
                                    const char *key, const char *expected,
                                    apr_size_t expected_len, const char *record,
                                    apr_size_t len)
{
    return write_record(instance, c, key, expected ? expected : "",
                        expected_len, record, len);
}

apr_status_t mcpsql_store_remove(void *instance, const mcp_store_ctx_t *c,
                                 const char *key)
{
    mcpsql_t *in = instance;
    mcpsql_call_t call;
    apr_array_header_t *rows = NULL;
    const char *args[1], *live;
    apr_status_t rv;

    rv = mcpsql_conn_open(&call, in, c);
    if (rv != APR_SUCCESS) {
        goto leave;
    }
    args[0] = row_key(in, c, key);
    /* DELETE ... RETURNING whether the row was live: an expired row is
     * cleaned up on the way and is still a miss */
    rv = mcpsql_conn_select(&call, MCPSQL_ST_REMOVE, &rows, 1, 1, args);
    mcpsql_conn_close(&call);
    if (rv == APR_SUCCESS) {
        live = cell(rows, 0);
        rv = live && !strcmp(live, "1") ? APR_SUCCESS : APR_NOTFOUND;
    }
leave:
    mcpsql_conn_outcome(in, c, rv);
    return rv;
}
