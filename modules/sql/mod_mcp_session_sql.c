/*
 * mod_mcp_session_sql: the module record, its directives, the provider
 * struct "sql" and its registration (see mcpsql.h for the layers).
 *
 * Loaded next to mod_mcp_session and mod_dbd (any LoadModule order), it
 * registers the store provider "sql": MCPSessionStore sql://[schema.]table
 * keeps the sessions in that table, on the connections mod_dbd configures
 * for the same virtual host.
 *
 * Directives (server config and virtual host; a virtual host inherits
 * what it does not set):
 *   MCPSessionSQLCreateTable logged|unlogged|off   (default logged)
 *   MCPSessionSQLPrepared on|off                   (default on)
 *   MCPSessionSQLCleanup <duration>|off            (default 60 s)
 *   MCPSessionSQLCleanupBatch <n>                  (default 1000)
 */
#include <stdlib.h>
#include <string.h>

#include "apr_strings.h"
#include "apr_atomic.h"
#include "apr_optional.h"
#include "apr_optional_hooks.h"

#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "http_protocol.h"
#include "ap_provider.h"
#include "mod_status.h"

#include "mod_mcp_session.h"
#include "mcpsql.h"

APLOG_USE_MODULE(mcp_session_sql);

module AP_MODULE_DECLARE_DATA __attribute__((visibility("default")))
mcp_session_sql_module;

#define SQL_BATCH_MAX 1000000

/* The directives' values; -1: not set here (inherited, then default). */
typedef struct mcpsql_conf_t {
    int prepared;
    int create;
    apr_interval_time_t cleanup;      /* 0: off */
    int batch;
} mcpsql_conf_t;

/* An instance of this configuration pass and the mod_dbd settings of its
 * host, for the dbd_post_connect hook (which only gets mod_dbd's group
 * settings) and child_init. Rebuilt on every pass (pre_config). */
typedef struct sql_entry_t {
    mcpsql_t *in;
    const dbd_cfg_t *dbd;             /* NULL: not known (see dbd_cfg_of) */
} sql_entry_t;

static apr_array_header_t *entries;
static volatile apr_uint32_t warned_timeout;

/* ------------------------------------------------------------------ */
/* Server config                                                       */

static void *create_conf(apr_pool_t *p, server_rec *s)
{
    mcpsql_conf_t *conf = apr_palloc(p, sizeof(*conf));

    conf->prepared = -1;
    conf->create = -1;
    conf->cleanup = -1;
    conf->batch = -1;
    return conf;
}

static void *merge_conf(apr_pool_t *p, void *basev, void *addv)
{
    mcpsql_conf_t *base = basev, *add = addv;
    mcpsql_conf_t *conf = apr_palloc(p, sizeof(*conf));

    conf->prepared = add->prepared != -1 ? add->prepared : base->prepared;
    conf->create = add->create != -1 ? add->create : base->create;
    conf->cleanup = add->cleanup != -1 ? add->cleanup : base->cleanup;
    conf->batch = add->batch != -1 ? add->batch : base->batch;
    return conf;
}

static const char *set_create(cmd_parms *cmd, void *dummy, const char *arg)
{
    mcpsql_conf_t *conf = ap_get_module_config(cmd->server->module_config,
                                               &mcp_session_sql_module);

    if (!strcasecmp(arg, "logged")) {
        conf->create = MCPSQL_CREATE_LOGGED;
    }
    else if (!strcasecmp(arg, "unlogged")) {
        conf->create = MCPSQL_CREATE_UNLOGGED;
    }
    else if (!strcasecmp(arg, "off")) {
        conf->create = MCPSQL_CREATE_OFF;
    }
    else {
        return apr_pstrcat(cmd->pool, cmd->cmd->name, " ", arg, ": logged "
                           "(create the table when it is missing), unlogged "
                           "(the same, CREATE UNLOGGED TABLE on PostgreSQL) "
                           "or off (never: the table is the DBA's)", NULL);
    }
    return NULL;
}

static const char *set_prepared(cmd_parms *cmd, void *dummy, int flag)
{
    mcpsql_conf_t *conf = ap_get_module_config(cmd->server->module_config,
                                               &mcp_session_sql_module);

    conf->prepared = flag;
    return NULL;
}

static const char *set_cleanup(cmd_parms *cmd, void *dummy, const char *arg)
{
    mcpsql_conf_t *conf = ap_get_module_config(cmd->server->module_config,
                                               &mcp_session_sql_module);
    apr_interval_time_t t;

    if (!strcasecmp(arg, "off")) {
        conf->cleanup = 0;
        return NULL;
    }
    if (ap_timeout_parameter_parse(arg, &t, "s") != APR_SUCCESS
        || t < apr_time_from_sec(1) || t > apr_time_from_sec(86400)) {
        return apr_pstrcat(cmd->pool, cmd->cmd->name, " ", arg, ": a "
                           "duration from 1 s to 1 day (seconds, or with a "
                           "unit: 500ms is too short, 5min), or off", NULL);
    }
    conf->cleanup = t;
    return NULL;
}

static const char *set_batch(cmd_parms *cmd, void *dummy, const char *arg)
{
    mcpsql_conf_t *conf = ap_get_module_config(cmd->server->module_config,
                                               &mcp_session_sql_module);
    char *end;
    long n = strtol(arg, &end, 10);

    if (!*arg || *end || n < 1 || n > SQL_BATCH_MAX) {
        return apr_psprintf(cmd->pool, "%s %s: a number of rows from 1 to %d",
                            cmd->cmd->name, arg, SQL_BATCH_MAX);
    }
    conf->batch = (int)n;
    return NULL;
}

static const command_rec sql_cmds[] = {
    AP_INIT_TAKE1("MCPSessionSQLCreateTable", set_create, NULL, RSRC_CONF,
                  "logged (default): create the session table when it is "
                  "missing; unlogged: CREATE UNLOGGED TABLE on PostgreSQL; "
                  "off: never"),
    AP_INIT_FLAG("MCPSessionSQLPrepared", set_prepared, NULL, RSRC_CONF,
                 "on (default): named statements prepared per connection; "
                 "off: unnamed statements (PgBouncer in transaction mode)"),
    AP_INIT_TAKE1("MCPSessionSQLCleanup", set_cleanup, NULL, RSRC_CONF,
                  "how often expired rows are deleted (default 60 s; one "
                  "node per interval across a fleet), or off"),
    AP_INIT_TAKE1("MCPSessionSQLCleanupBatch", set_batch, NULL, RSRC_CONF,
                  "rows deleted per statement by the cleanup (default "
                  "1000)"),
    { NULL }
};

/* mod_dbd's settings of s. mod_dbd keeps them behind a private struct
 * whose first member (2.4) is the public dbd_cfg_t; the pointer is used
 * only when it points back at s, as mod_dbd sets it, else not at all. */
static const dbd_cfg_t *dbd_cfg_of(server_rec *s)
{
    module *m = ap_find_linked_module("mod_dbd.c");
    dbd_cfg_t **svr;

    if (!m || !(svr = ap_get_module_config(s->module_config, m))
        || !*svr || (*svr)->server != s) {
        return NULL;
    }
    return *svr;
}

/* ------------------------------------------------------------------ */
/* The provider                                                        */

static const char *sql_create(void **instance, const char *spec,
                              server_rec *s, apr_pool_t *p, apr_pool_t *ptemp)
{
    mcpsql_conf_t *conf = ap_get_module_config(s->module_config,
                                               &mcp_session_sql_module);
    const char *rest = strstr(spec, "://"), *err;
    const dbd_cfg_t *dbd;
    mcpsql_t *in;

    rest = rest ? rest + 3 : spec;
    if (strchr(rest, '?')) {
        return apr_psprintf(p, "MCPSessionStore %s: the sql store takes no "
                            "options after the table (the connection is "
                            "mod_dbd's: DBDriver, DBDParams, DBDMax; the rest "
                            "is MCPSessionSQL* directives)", spec);
    }
    in = apr_pcalloc(p, sizeof(*in));
    in->spec = apr_pstrdup(p, spec);
    in->table = apr_pstrdup(p, *rest ? rest : MCPSQL_DEFAULT_TABLE);
    err = mcpsql_sql_table_problem(in->table);
    if (err) {
        return apr_psprintf(p, "MCPSessionStore %s: %s", spec, err);
    }
    if (!APR_RETRIEVE_OPTIONAL_FN(ap_dbd_open)
        || !APR_RETRIEVE_OPTIONAL_FN(ap_dbd_close)) {
        return apr_psprintf(p, "MCPSessionStore %s needs mod_dbd "
                            "(LoadModule dbd_module .../mod_dbd.so; Debian: "
                            "a2enmod dbd) and its DBDriver/DBDParams in the "
                            "same virtual host", spec);
    }
    dbd = dbd_cfg_of(s);
    if (dbd) {
        if (!dbd->name || !strcmp(dbd->name, "[DBDriver unset]")) {
            return apr_psprintf(p, "MCPSessionStore %s needs DBDriver (pgsql "
                                "or sqlite3) and DBDParams in the same "
                                "virtual host or the main server", spec);
        }
        if (mcpsql_sql_dialect(dbd->name) == MCPSQL_DIALECT_UNKNOWN) {
            return apr_psprintf(p, "MCPSessionStore %s: DBDriver %s is not "
                                "one the sql store speaks (pgsql, sqlite3)",
                                spec, dbd->name);
        }
        in->driver = apr_pstrdup(p, dbd->name);
    }
    in->s = s;
    in->prepared = conf->prepared != -1 ? conf->prepared : 1;
    in->create = conf->create != -1 ? (mcpsql_create_e)conf->create
                                    : MCPSQL_CREATE_LOGGED;
    in->cleanup = conf->cleanup != -1 ? conf->cleanup : MCPSQL_DEFAULT_CLEANUP;
    in->batch = conf->batch != -1 ? conf->batch : MCPSQL_DEFAULT_BATCH;
    *instance = in;
    return NULL;
}

static const char *sql_describe(void *instance, apr_pool_t *p)
{
    mcpsql_t *in = instance;

    return apr_psprintf(p, "sql %s %s", in->driver ? in->driver : "(dbd)",
                        in->table);
}

static apr_status_t sql_init(void *instance, const mcp_store_params_t *params,
                             server_rec *s, apr_pool_t *pconf,
                             apr_pool_t *ptemp)
{
    mcpsql_t *in = instance;
    const dbd_cfg_t *dbd = dbd_cfg_of(in->s);
    sql_entry_t *e;
    apr_status_t rv;

    in->params = *params;
    in->params.key_prefix = apr_pstrdup(pconf, params->key_prefix
                                               ? params->key_prefix : "");
    /* the cleanup's counters, seen by every child of this node; a new
     * segment on every pass (it dies with pconf) */
    rv = apr_shm_create(&in->shm, sizeof(mcpsql_shared_t), NULL, pconf);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, rv, s, MCPSQLLOG(01101)
                     "session store %s: no shared memory for the cleanup's "
                     "counters", sql_describe(in, ptemp));
        goto leave;
    }
    in->shared = apr_shm_baseaddr_get(in->shm);
    memset(in->shared, 0, sizeof(*in->shared));

    if (!entries) {
        entries = apr_array_make(pconf, 4, sizeof(sql_entry_t));
    }
    e = apr_array_push(entries);
    e->in = in;
    e->dbd = dbd;

    if (dbd && !dbd->persist) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, MCPSQLLOG(01102)
                     "session store %s: DBDPersist Off opens a database "
                     "connection for every store call (about 20 ms each on "
                     "PostgreSQL); leave DBDPersist on",
                     sql_describe(in, ptemp));
    }
    if (in->cleanup > 0) {
        rv = mcpsql_gc_register(in, s, pconf);
        if (rv != APR_SUCCESS) {
            goto leave;         /* said by mcpsql_gc_register */
        }
    }
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, s, MCPSQLLOG(01100)
                 "session store %s (statements %s, table %s, cleanup %s, "
                 "batch %d, DBDMax %d)", sql_describe(in, ptemp),
                 in->prepared ? "prepared" : "unnamed",
                 in->create == MCPSQL_CREATE_OFF ? "never created"
                 : in->create == MCPSQL_CREATE_UNLOGGED
                 ? "created unlogged when missing" : "created when missing",
                 in->cleanup > 0 ? apr_psprintf(ptemp, "every %" APR_TIME_T_FMT
                                                " ms", apr_time_as_msec(in->cleanup))
                                 : "off",
                 in->batch, dbd ? dbd->nmax : -1);
leave:
    return rv;
}

static const sql_entry_t *entry_of(const mcpsql_t *in)
{
    int i;

    for (i = 0; entries && i < entries->nelts; i++) {
        const sql_entry_t *e = &APR_ARRAY_IDX(entries, i, sql_entry_t);

        if (e->in == in) {
            return e;
        }
    }
    return NULL;
}

static apr_status_t sql_child_init(void *instance, server_rec *s,
                                   apr_pool_t *pchild)
{
    mcpsql_t *in = instance;
    const sql_entry_t *e;
    apr_status_t rv;

    rv = mcpsql_conn_child_init(in, pchild);
    if (rv != APR_SUCCESS) {
        goto leave;
    }
    /* the pool's size is known from the configuration already; the
     * dbd_post_connect hook confirms it on the first connection */
    e = entry_of(in);
    if (e && e->dbd && e->dbd->persist && e->dbd->nmax > 0) {
        mcpsql_conn_learn_max(in, e->dbd->nmax);
    }
leave:
    return rv;
}

static int sql_healthy(void *instance)
{
    mcpsql_t *in = instance;
    apr_time_t down;

    if (!in->lock) {
        return 1;               /* not a child */
    }
    apr_thread_mutex_lock(in->lock);
    down = in->down_since;
    apr_thread_mutex_unlock(in->lock);
    return down == 0;
}

static void sql_status(void *instance, request_rec *r, int flags)
{
    mcpsql_t *in = instance;
    apr_uint32_t n[8], g[4];
    apr_time_t down = 0, last;
    long last_ago;
    int i;

    if (!in->lock) {
        return;                 /* no child_init (not a child) */
    }
    apr_thread_mutex_lock(in->lock);
    down = in->down_since;
    apr_thread_mutex_unlock(in->lock);
    n[0] = apr_atomic_read32(&in->n.calls);
    n[1] = apr_atomic_read32(&in->n.errors);
    n[2] = apr_atomic_read32(&in->n.misses);
    n[3] = apr_atomic_read32(&in->n.touches);
    n[4] = apr_atomic_read32(&in->n.retries);
    n[5] = apr_atomic_read32(&in->n.prepared);
    n[6] = apr_atomic_read32(&in->n.busy);
    n[7] = apr_atomic_read32(&in->n.refused);
    for (i = 0; i < 4; i++) {
        g[i] = 0;
    }
    last = 0;
    if (in->shared) {
        g[0] = apr_atomic_read32(&in->shared->gc_runs);
        g[1] = apr_atomic_read32(&in->shared->gc_skipped);
        g[2] = apr_atomic_read32(&in->shared->gc_rows);
        g[3] = apr_atomic_read32(&in->shared->gc_errors);
        last = in->shared->gc_last;
    }
    last_ago = last ? (long)apr_time_sec(apr_time_now() - last) : -1;

    if (flags & AP_STATUS_SHORT) {
        ap_rprintf(r, "MCPSQLTable: %s\nMCPSQLDriver: %s\nMCPSQLDown: %d\n"
                   "MCPSQLCalls: %u\nMCPSQLErrors: %u\nMCPSQLMisses: %u\n"
                   "MCPSQLTouches: %u\nMCPSQLRetries: %u\n"
                   "MCPSQLPrepares: %u\nMCPSQLBusy: %u\nMCPSQLRefused: %u\n"
                   "MCPSQLCleanupInterval: %ld\nMCPSQLCleanupRuns: %u\n"
                   "MCPSQLCleanupSkipped: %u\nMCPSQLCleanupRows: %u\n"
                   "MCPSQLCleanupErrors: %u\nMCPSQLCleanupLastAgo: %ld\n",
                   in->table, in->driver ? in->driver : "", down != 0,
                   n[0], n[1], n[2], n[3], n[4], n[5], n[6], n[7],
                   (long)apr_time_sec(in->cleanup), g[0], g[1], g[2], g[3],
                   last_ago);
        return;
    }
    ap_rprintf(r, "<tr><td>SQL store %s %s (this process)</td><td>%s; %u "
               "calls, %u errors, %u misses, %u expiry refreshes, %u retries "
               "on a fresh connection, %u statements prepared, %u calls "
               "without a free connection in time, %u refused while "
               "down</td></tr>\n",
               ap_escape_html(r->pool, in->driver ? in->driver : ""),
               ap_escape_html(r->pool, in->table),
               down ? "<b>down</b>" : "up",
               n[0], n[1], n[2], n[3], n[4], n[5], n[6], n[7]);
    if (in->cleanup > 0) {
        ap_rprintf(r, "<tr><td>SQL store cleanup (this node)</td><td>every "
                   "%ld s: %u runs, %u ticks skipped (another node had the "
                   "interval), %u expired rows deleted, %u errors; last run "
                   "%s</td></tr>\n", (long)apr_time_sec(in->cleanup), g[0],
                   g[1], g[2], g[3],
                   last_ago < 0 ? "never"
                   : apr_psprintf(r->pool, "%ld s ago", last_ago));
    }
    else {
        ap_rprintf(r, "<tr><td>SQL store cleanup (this node)</td><td>off "
                   "(MCPSessionSQLCleanup off)</td></tr>\n");
    }
}

static const mcp_store_provider_t sql_provider = {
    MCPSQL_PROVIDER,
    sql_create,
    sql_init,
    sql_child_init,
    NULL,                       /* max_record: MCP_STORE_MAX_RECORD */
    mcpsql_store_create_session,
    mcpsql_store_fetch,
    mcpsql_store_update,
    mcpsql_store_remove,
    sql_describe,
    sql_healthy,
    sql_status,
    mcpsql_store_update_if,
    NULL,                       /* publish/wait: apr_dbd cannot LISTEN */
    NULL
};

/* ------------------------------------------------------------------ */
/* Hooks                                                               */

/* Two mod_dbd settings that make one pool (mod_dbd groups hosts so). */
static int same_pool(const dbd_cfg_t *a, const dbd_cfg_t *b)
{
    return a == b
           || (a->name && b->name && a->params && b->params
               && !strcmp(a->name, b->name) && !strcmp(a->params, b->params)
               && a->nmin == b->nmin && a->nkeep == b->nkeep
               && a->nmax == b->nmax && a->exptime == b->exptime);
}

/* Every new mod_dbd connection (in a child; any thread). */
static apr_status_t sql_post_connect(apr_pool_t *pool, dbd_cfg_t *cfg,
                                     ap_dbd_t *dbd)
{
    int i, ours = 0;

    for (i = 0; entries && i < entries->nelts; i++) {
        sql_entry_t *e = &APR_ARRAY_IDX(entries, i, sql_entry_t);

        if (!e->dbd || !same_pool(e->dbd, cfg)) {
            continue;
        }
        ours = 1;
        if (e->in->lock) {      /* after this child's child_init */
            mcpsql_conn_learn_max(e->in, cfg->nmax);
        }
    }
    /* without connect_timeout libpq waits for an unreachable server
     * without end, under mod_dbd's pool lock (the params may hold a
     * password: never logged) */
    if (ours && dbd && dbd->driver
        && mcpsql_sql_dialect(apr_dbd_name(dbd->driver)) == MCPSQL_DIALECT_PGSQL
        && cfg->params && !strstr(cfg->params, "connect_timeout")
        && apr_atomic_cas32(&warned_timeout, 1, 0) == 0) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, cfg->server,
                     MCPSQLLOG(01103) "DBDParams of the sql session store "
                     "has no connect_timeout: a database that does not "
                     "answer blocks every connect without end; add "
                     "connect_timeout=2 (seconds) to DBDParams");
    }
    return OK;
}

static int sql_pre_config(apr_pool_t *pconf, apr_pool_t *plog,
                          apr_pool_t *ptemp)
{
    entries = NULL;
    return OK;
}

static void sql_register_hooks(apr_pool_t *p)
{
    mcp_register_store(p, &sql_provider);
    ap_hook_pre_config(sql_pre_config, NULL, NULL, APR_HOOK_MIDDLE);
    APR_OPTIONAL_HOOK(dbd, post_connect, sql_post_connect, NULL, NULL,
                      APR_HOOK_MIDDLE);
}

module AP_MODULE_DECLARE_DATA __attribute__((visibility("default")))
mcp_session_sql_module = {
    STANDARD20_MODULE_STUFF,
    NULL,                       /* dir config */
    NULL,
    create_conf,                /* server config */
    merge_conf,
    sql_cmds,
    sql_register_hooks
};
