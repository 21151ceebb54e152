/*
 * Choosing and starting the session store of every virtual host.
 */
#include "httpd.h"
#include <string.h>
#include "apr_strings.h"
#include "apr_hash.h"
#include "http_config.h"
#include "http_log.h"
#include "ap_mpm.h"
#include "mcp_private.h"
#include "mcp_provider.h"
#include "mcp_store.h"

#define OUTAGE_LOG_INTERVAL 30  /* seconds between repeated outage logs */

/* A store call in progress: a node of the store's list of calls in
 * progress, which is ordered by start (calls are appended as they start),
 * so the oldest is its head and both ends are O(1). */
struct mcp_store_call_t {
    mcp_store_call_t *prev, *next;
    apr_time_t start;
};

static mcp_store_t *store_make(apr_pool_t *pconf, apr_pool_t *ptemp,
                               server_rec *s, mcp_srv_conf_t *sc,
                               int threads, apr_hash_t *shared,
                               apr_status_t *prv)
{
    mcp_store_t *st = NULL;
    const char *spec, *err, *sig;
    apr_status_t rv = APR_SUCCESS;

    if (mcp_config_mode(sc) == MCP_MODE_EXTERNAL) {
        spec = sc->store_spec;      /* resolved by mcp_config_check */
    }
    else {
        spec = "memory://";
        sc->provider = mcp_provider_lookup(ptemp, MCP_STORE_PROVIDER_GROUP,
                                           "memory", &sc->provider_minor,
                                           &err);
    }
    if (!sc->provider) {
        /* a bug: check_config refuses what has no provider */
        ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, MCPLOG(00347)
                     "no session store provider for %s",
                     mcp_config_store_shown(ptemp, spec));
        rv = APR_EINIT;
        goto leave;
    }
    /* Virtual hosts with the same settings share one instance (and so,
     * for Redis, one connection pool per child). */
    sig = apr_psprintf(ptemp, "%s|%s|%" APR_TIME_T_FMT "|%" APR_TIME_T_FMT
                       "|%" APR_TIME_T_FMT "|%" APR_TIME_T_FMT "|%"
                       APR_TIME_T_FMT, spec, mcp_config_prefix(sc),
                       mcp_config_ttl(sc), mcp_config_refresh_after(sc),
                       mcp_config_timeout(sc), mcp_config_handshake_ttl(sc),
                       mcp_config_breaker(sc));
    st = apr_hash_get(shared, sig, APR_HASH_KEY_STRING);
    if (st) {
        goto leave;
    }
    st = apr_pcalloc(pconf, sizeof(*st));
    st->provider = sc->provider;
    st->provider_minor = sc->provider_minor;
    st->params.key_prefix = mcp_config_prefix(sc);
    st->params.ttl = mcp_config_ttl(sc);
    st->params.refresh_after = mcp_config_refresh_after(sc);
    st->params.timeout = mcp_config_timeout(sc);
    st->params.threads_per_child = threads;
    st->params.handshake_ttl = mcp_config_handshake_ttl(sc);
    st->breaker = mcp_config_breaker(sc);
    err = st->provider->create(&st->instance, spec, s, pconf, ptemp);
    if (err) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, MCPLOG(00310) "%s", err);
        rv = APR_EINVAL;
        goto leave;
    }
    rv = st->provider->init(st->instance, &st->params, s, pconf, ptemp);
    if (rv != APR_SUCCESS) {
        /* described by the provider: the spec may hold a password */
        ap_log_error(APLOG_MARK, APLOG_EMERG, rv, s, MCPLOG(00311)
                     "cannot start the session store %s",
                     st->provider->describe
                     ? st->provider->describe(st->instance, ptemp)
                     : st->provider->name);
        goto leave;
    }
    st->max_record = st->provider->max_record
                     ? st->provider->max_record(st->instance)
                     : MCP_STORE_MAX_RECORD;
    st->description = st->provider->describe
                      ? st->provider->describe(st->instance, pconf)
                      : st->provider->name;
    apr_hash_set(shared, apr_pstrdup(pconf, sig), APR_HASH_KEY_STRING, st);
    ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s, MCPLOG(00312)
                 "%s:%u keeps sessions in %s (ttl %" APR_TIME_T_FMT "s, "
                 "refresh after %" APR_TIME_T_FMT "s, timeout %" APR_TIME_T_FMT
                 "s)", s->server_hostname ? s->server_hostname : "*",
                 (unsigned)s->port, st->description, apr_time_sec(st->params.ttl),
                 apr_time_sec(st->params.refresh_after),
                 apr_time_sec(st->params.timeout));
leave:
    *prv = rv;
    return rv == APR_SUCCESS ? st : NULL;
}

apr_status_t mcp_store_post_config(apr_pool_t *pconf, apr_pool_t *ptemp,
                                   server_rec *s)
{
    apr_hash_t *shared = apr_hash_make(ptemp);
    int threads = 1;
    apr_status_t rv;
    server_rec *vs;

    ap_mpm_query(AP_MPMQ_MAX_THREADS, &threads);
    if (threads < 1) {
        threads = 1;
    }
    for (vs = s; vs; vs = vs->next) {
        mcp_srv_conf_t *sc = ap_get_module_config(vs->module_config,
                                                  &mcp_session_module);
        sc->store = store_make(pconf, ptemp, vs, sc, threads, shared, &rv);
        if (!sc->store) {
            return rv;
        }
    }
    return APR_SUCCESS;
}

void mcp_store_child_init(apr_pool_t *pchild, server_rec *s)
{
    apr_hash_t *seen = apr_hash_make(pchild);

    for (; s; s = s->next) {
        mcp_srv_conf_t *sc = ap_get_module_config(s->module_config,
                                                  &mcp_session_module);
        mcp_store_t *st = sc->store;
        apr_status_t rv;

        if (!st || apr_hash_get(seen, &st, sizeof(st))) {
            continue;
        }
        apr_hash_set(seen, apr_pmemdup(pchild, &st, sizeof(st)), sizeof(st), st);
        /* the breaker's list is per process; it only ever guards a few
         * pointer updates, so the mutex may die with pchild */
        st->oldest = st->newest = NULL;
        if (st->breaker > 0
            && (rv = apr_thread_mutex_create(&st->calls_lock,
                                             APR_THREAD_MUTEX_DEFAULT,
                                             pchild)) != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_ERR, rv, s, MCPLOG(00343)
                         "session store %s: no mutex for the breaker; "
                         "MCPSessionStoreBreaker is off in this process",
                         st->description);
            st->calls_lock = NULL;
        }
        if (!st->provider->child_init) {
            continue;
        }
        rv = st->provider->child_init(st->instance, s, pchild);
        if (rv != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_ERR, rv, s, MCPLOG(00313)
                         "session store %s did not start in this child; its "
                         "requests get 503 until it does", st->description);
        }
    }
}

void mcp_store_note(mcp_store_t *st, request_rec *r, const char *op,
                    apr_status_t rv)
{
    apr_uint32_t now = (apr_uint32_t)apr_time_sec(apr_time_now());
    /* a provider with healthy() reports its own outages (with details
     * only it knows); the rest are reported here, so each outage is
     * logged once either way */
    int loud = st->provider->healthy == NULL;

    if (rv == APR_SUCCESS || APR_STATUS_IS_NOTFOUND(rv)) {
        if (loud && apr_atomic_cas32(&st->failing, 0, 1) == 1) {
            ap_log_rerror(APLOG_MARK, APLOG_NOTICE, 0, r, MCPLOG(00314)
                          "session store %s answers again", st->description);
            st->next_log = 0;
        }
        return;
    }
    MCP_STAT_INC(store_errors);
    if (loud) {
        /* the others' health is what their healthy() says: a refused
         * write next to working reads must not make it flap */
        apr_atomic_set32(&st->failing, 1);
    }
    if (loud && now >= st->next_log) {
        st->next_log = now + OUTAGE_LOG_INTERVAL;
        ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r, MCPLOG(00315)
                      "session store %s failed to %s a session; answering 503 "
                      "(logged at most every %ds while it lasts)",
                      st->description, op, OUTAGE_LOG_INTERVAL);
    }
    else {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, rv, r, MCPLOG(00316)
                      "session store %s failed to %s a session", st->description,
                      op);
    }
}

/* What a provider gets to allocate and log with. */
static const mcp_store_ctx_t *call_ctx(request_rec *r, mcp_store_ctx_t *ctx)
{
    ctx->pool = r->pool;
    ctx->s = r->server;
    ctx->r = r;
    return ctx;
}

/* ------------------------------------------------------------------ */
/* The breaker                                                         */

/* Start a call. APR_EAGAIN when a call of this process has been in
 * progress longer than st->breaker: the store is hung, and waiting for it
 * too would tie up every thread of this process (and, in prefork, it
 * cannot happen: one call at a time). */
static apr_status_t call_begin(mcp_store_t *st, request_rec *r,
                               mcp_store_call_t *c, const char *op)
{
    apr_time_t now, waited = 0;
    int log_open = 0;

    c->start = 0;
    if (!st->calls_lock) {
        return APR_SUCCESS;     /* off */
    }
    now = apr_time_now();
    apr_thread_mutex_lock(st->calls_lock);
    if (st->oldest && now - st->oldest->start > st->breaker) {
        waited = now - st->oldest->start;
        st->refused++;
        st->open_refused++;
        if (!st->open) {
            st->open = 1;
            st->open_since = now;
            st->open_refused = 1;
            st->trips++;
            if (now >= st->next_open_log) {
                st->next_open_log = now
                                    + apr_time_from_sec(OUTAGE_LOG_INTERVAL);
                log_open = 1;
            }
        }
        apr_thread_mutex_unlock(st->calls_lock);
        MCP_STAT_INC(store_errors);
        if (log_open) {
            ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, MCPLOG(00340)
                          "session store %s: a call has been waiting %"
                          APR_TIME_T_FMT " ms for an answer "
                          "(MCPSessionStoreBreaker %" APR_TIME_T_FMT " ms); "
                          "this process answers session requests 503 at "
                          "once until it returns (logged at most every %ds)",
                          st->description, apr_time_as_msec(waited),
                          apr_time_as_msec(st->breaker), OUTAGE_LOG_INTERVAL);
        }
        else {
            ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, MCPLOG(00341)
                          "session store %s: %s refused by the breaker (a "
                          "call has been waiting %" APR_TIME_T_FMT " ms)",
                          st->description, op, apr_time_as_msec(waited));
        }
        return APR_EAGAIN;
    }
    c->start = now;
    c->next = NULL;
    c->prev = st->newest;
    if (st->newest) {
        st->newest->next = c;
    }
    else {
        st->oldest = c;
    }
    st->newest = c;
    apr_thread_mutex_unlock(st->calls_lock);
    return APR_SUCCESS;
}

/* End a call; the breaker closes once no call is older than st->breaker. */
static void call_end(mcp_store_t *st, request_rec *r, mcp_store_call_t *c)
{
    apr_time_t now, open_for = 0;
    apr_uint32_t refused = 0;

    if (!c->start) {
        return;
    }
    apr_thread_mutex_lock(st->calls_lock);
    if (c->prev) {
        c->prev->next = c->next;
    }
    else {
        st->oldest = c->next;
    }
    if (c->next) {
        c->next->prev = c->prev;
    }
    else {
        st->newest = c->prev;
    }
    if (st->open) {
        now = apr_time_now();
        if (!st->oldest || now - st->oldest->start <= st->breaker) {
            st->open = 0;
            open_for = now - st->open_since;
            refused = st->open_refused;
        }
    }
    apr_thread_mutex_unlock(st->calls_lock);
    if (refused) {
        ap_log_rerror(APLOG_MARK, APLOG_NOTICE, 0, r, MCPLOG(00342)
                      "session store %s: the slow call returned; the breaker "
                      "closes after %" APR_TIME_T_FMT " ms, in which it "
                      "answered %u session requests 503", st->description,
                      apr_time_as_msec(open_for), refused);
    }
}

apr_status_t mcp_store_fetch(mcp_store_t *st, request_rec *r, const char *key,
                             char **record, apr_size_t *len)
{
    mcp_store_call_t c;
    mcp_store_ctx_t ctx;
    apr_status_t rv;

    if ((rv = call_begin(st, r, &c, "read")) != APR_SUCCESS) {
        return rv;
    }
    rv = st->provider->fetch(st->instance, call_ctx(r, &ctx), key, record, len);
    call_end(st, r, &c);
    mcp_store_note(st, r, "read", rv);
    return rv;
}

apr_status_t mcp_store_create(mcp_store_t *st, request_rec *r, const char *key,
                              const char *record, apr_size_t len)
{
    mcp_store_call_t c;
    mcp_store_ctx_t ctx;
    apr_status_t rv;

    if ((rv = call_begin(st, r, &c, "create")) != APR_SUCCESS) {
        return rv;
    }
    rv = st->provider->create_session(st->instance, call_ctx(r, &ctx), key,
                                      record, len);
    call_end(st, r, &c);
    if (!APR_STATUS_IS_ENOSPC(rv)) {
        mcp_store_note(st, r, "create", rv);
    }
    return rv;
}

apr_status_t mcp_store_update(mcp_store_t *st, request_rec *r, const char *key,
                              const char *record, apr_size_t len)
{
    mcp_store_call_t c;
    mcp_store_ctx_t ctx;
    apr_status_t rv;

    if ((rv = call_begin(st, r, &c, "update")) != APR_SUCCESS) {
        return rv;
    }
    rv = st->provider->update(st->instance, call_ctx(r, &ctx), key, record,
                              len);
    call_end(st, r, &c);
    mcp_store_note(st, r, "update", rv);
    return rv;
}

apr_status_t mcp_store_remove(mcp_store_t *st, request_rec *r, const char *key)
{
    mcp_store_call_t c;
    mcp_store_ctx_t ctx;
    apr_status_t rv;

    if ((rv = call_begin(st, r, &c, "delete")) != APR_SUCCESS) {
        return rv;
    }
    rv = st->provider->remove(st->instance, call_ctx(r, &ctx), key);
    call_end(st, r, &c);
    mcp_store_note(st, r, "delete", rv);
    return rv;
}
