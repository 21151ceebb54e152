/*
 * mod_mcp_session_redis: the module record, its directives and the
 * provider table (see mcpr.h for the layers).
 *
 * Loaded next to mod_mcp_session (any LoadModule order), it registers
 * the store providers redis, rediss, redis+sentinel, rediss+sentinel,
 * redis+cluster and rediss+cluster: the same functions, the scheme tells
 * the mode. The base module then leaves "redis" to it.
 *
 * Directives (main server only: one set of credentials per httpd):
 *   MCPSessionStorePasswordFile FILE        the password (first line)
 *   MCPSessionStoreCACertificateFile FILE   CAs for rediss (default: the
 *                                           system store)
 *   MCPSessionStoreCertificateFile FILE     a client certificate, with
 *   MCPSessionStoreCertificateKeyFile FILE  its key (both or neither)
 * The files are read in init(), in the parent, as root (like mod_ssl's
 * keys), on every configuration pass.
 */
#include <stdlib.h>
#include <string.h>

#include "apr_strings.h"
#include "apr_file_io.h"
#include "apr_atomic.h"

#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "http_protocol.h"
#include "mod_status.h"

#include "mod_mcp_session.h"
#include "mcpr.h"

APLOG_USE_MODULE(mcp_session_redis);

module AP_MODULE_DECLARE_DATA __attribute__((visibility("default")))
mcp_session_redis_module;

/* The longest password file line we take. */
#define REDIS_PASSWORD_MAX  1024

/* The directives' values; only the main server has one (no
 * create_server_config: virtual hosts see the main server's). */
typedef struct mcpr_conf_t {
    const char *password_file;
    const char *ca_file;
    const char *cert_file;
    const char *key_file;
} mcpr_conf_t;

static mcpr_conf_t *conf_of(server_rec *s)
{
    return s ? ap_get_module_config(s->module_config,
                                    &mcp_session_redis_module) : NULL;
}

/* ------------------------------------------------------------------ */
/* Directives                                                          */

static const char *set_file(cmd_parms *cmd, void *dummy, const char *arg)
{
    mcpr_conf_t *conf;
    const char *path;
    apr_finfo_t fi;

    if (cmd->server->is_virtual) {
        return apr_pstrcat(cmd->pool, cmd->cmd->name, " belongs in the main "
                           "server configuration, not inside <VirtualHost>: "
                           "every virtual host uses the one session store "
                           "connection of the server", NULL);
    }
    path = ap_server_root_relative(cmd->pool, arg);
    if (!path) {
        return apr_pstrcat(cmd->pool, cmd->cmd->name, ": invalid file "
                           "path ", arg, NULL);
    }
    /* a missing file is said here, with its line; its content (and the
     * right to read it: the parent is root) is checked in init() */
    if (apr_stat(&fi, path, APR_FINFO_TYPE, cmd->pool) != APR_SUCCESS
        || fi.filetype != APR_REG) {
        return apr_pstrcat(cmd->pool, cmd->cmd->name, ": ", path,
                           " does not exist or is not a regular file", NULL);
    }
    conf = conf_of(cmd->server);
    if (!conf) {
        conf = apr_pcalloc(cmd->pool, sizeof(*conf));
        ap_set_module_config(cmd->server->module_config,
                             &mcp_session_redis_module, conf);
    }
    *(const char **)((char *)conf + (apr_size_t)cmd->info) = path;
    return NULL;
}

static const command_rec mcpr_cmds[] = {
    AP_INIT_TAKE1("MCPSessionStorePasswordFile", set_file,
                  (void *)APR_OFFSETOF(mcpr_conf_t, password_file), RSRC_CONF,
                  "a file whose first line is the Redis password (instead "
                  "of one in the MCPSessionStore URL)"),
    AP_INIT_TAKE1("MCPSessionStoreCACertificateFile", set_file,
                  (void *)APR_OFFSETOF(mcpr_conf_t, ca_file), RSRC_CONF,
                  "PEM CA certificates that verify a rediss:// server "
                  "(default: the system's trusted CAs)"),
    AP_INIT_TAKE1("MCPSessionStoreCertificateFile", set_file,
                  (void *)APR_OFFSETOF(mcpr_conf_t, cert_file), RSRC_CONF,
                  "PEM client certificate (chain) for a rediss:// server "
                  "that asks for one"),
    AP_INIT_TAKE1("MCPSessionStoreCertificateKeyFile", set_file,
                  (void *)APR_OFFSETOF(mcpr_conf_t, key_file), RSRC_CONF,
                  "PEM private key of MCPSessionStoreCertificateFile"),
    { NULL }
};

/* ------------------------------------------------------------------ */
/* The provider                                                        */

static const char *mcpr_create(void **instance, const char *spec,
                               server_rec *s, apr_pool_t *p,
                               apr_pool_t *ptemp)
{
    mcpr_conf_t *conf = conf_of(s);
    mcpr_url_t *url;
    const char *err;
    mcpr_t *in;

    err = mcpr_url_parse(p, spec, &url);
    if (err) {
        return err;
    }
    in = apr_pcalloc(p, sizeof(*in));
    in->spec = apr_pstrdup(p, spec);
    in->url = url;
    in->described = mcpr_url_describe(p, url);
    in->s = s;
    if (conf) {
        in->password_file = conf->password_file;
        in->ca_file = conf->ca_file;
        in->cert_file = conf->cert_file;
        in->key_file = conf->key_file;
    }
    if (url->password && in->password_file) {
        return apr_psprintf(p, "MCPSessionStore %s has a password and "
                            "MCPSessionStorePasswordFile %s gives one too: "
                            "keep one of them (the file keeps it out of the "
                            "configuration)", in->described,
                            in->password_file);
    }
    if (!in->cert_file != !in->key_file) {
        return apr_psprintf(p, "MCPSessionStoreCertificateFile and "
                            "MCPSessionStoreCertificateKeyFile go together "
                            "(only %s is set)", in->cert_file
                            ? "MCPSessionStoreCertificateFile"
                            : "MCPSessionStoreCertificateKeyFile");
    }
    *instance = in;
    return NULL;
}

/* The first line of the password file, without trailing CR/LF/blanks. */
static apr_status_t read_password(mcpr_t *in, server_rec *s,
                                  apr_pool_t *pconf, apr_pool_t *ptemp)
{
    char buf[REDIS_PASSWORD_MAX + 2];
    apr_file_t *f = NULL;
    apr_size_t n = sizeof(buf) - 1;
    apr_status_t rv;
    char *eol;

    rv = apr_file_open(&f, in->password_file, APR_FOPEN_READ, 0, ptemp);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, rv, s, MCPRLOG(00803)
                     "MCPSessionStorePasswordFile %s: cannot open it",
                     in->password_file);
        goto leave;
    }
    rv = apr_file_read(f, buf, &n);
    if (rv == APR_EOF) {
        n = 0;
        rv = APR_SUCCESS;
    }
    apr_file_close(f);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, rv, s, MCPRLOG(00803)
                     "MCPSessionStorePasswordFile %s: cannot read it",
                     in->password_file);
        goto leave;
    }
    buf[n] = '\0';
    eol = strpbrk(buf, "\r\n");
    if (eol) {
        *eol = '\0';
    }
    else if (n > REDIS_PASSWORD_MAX) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, MCPRLOG(00804)
                     "MCPSessionStorePasswordFile %s: the first line is "
                     "longer than %d bytes", in->password_file,
                     REDIS_PASSWORD_MAX);
        rv = APR_EINVAL;
        goto leave;
    }
    n = strlen(buf);
    while (n > 0 && (buf[n - 1] == ' ' || buf[n - 1] == '\t')) {
        buf[--n] = '\0';
    }
    if (n == 0) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, MCPRLOG(00804)
                     "MCPSessionStorePasswordFile %s: the first line is "
                     "empty: it holds the password", in->password_file);
        rv = APR_EINVAL;
        goto leave;
    }
    in->auth.password = apr_pstrmemdup(pconf, buf, n);
leave:
    memset(buf, 0, sizeof(buf));
    return rv;
}

static apr_status_t mcpr_init(void *instance, const mcp_store_params_t *params,
                              server_rec *s, apr_pool_t *pconf,
                              apr_pool_t *ptemp)
{
    mcpr_t *in = instance;
    const mcpr_url_t *u = in->url;
    apr_status_t rv = APR_SUCCESS;
    const char *err;

    in->params = *params;
    in->params.key_prefix = apr_pstrdup(pconf, params->key_prefix
                                               ? params->key_prefix : "");
    if (u->mode == MCPR_CLUSTER && strpbrk(in->params.key_prefix, "{}")) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, MCPRLOG(00802)
                     "MCPSessionKeyPrefix %s: in a Redis Cluster the prefix "
                     "may not hold '{' or '}': every key of a session must "
                     "hash to one slot through its {session} tag",
                     in->params.key_prefix);
        rv = APR_EINVAL;
        goto leave;
    }

    in->auth.user = u->user;
    in->auth.password = u->password;
    if (in->password_file) {
        rv = read_password(in, s, pconf, ptemp);
        if (rv != APR_SUCCESS) {
            goto leave;
        }
    }
    in->auth.db = u->db;
    in->auth.client_name = u->client_name;
    /* Sentinel's discovery asks ROLE on a copy of its own */
    in->auth.role = 0;
    in->sentinel_auth.user = u->sentinel_user;
    in->sentinel_auth.password = u->sentinel_password;
    in->sentinel_auth.db = -1;
    in->sentinel_auth.client_name = u->client_name;
    in->sentinel_auth.role = 0;
    if (in->auth.user && !in->auth.password) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, MCPRLOG(00805)
                     "MCPSessionStore %s names the user %s but no password: "
                     "give it in the URL (user:password@) or with "
                     "MCPSessionStorePasswordFile", in->described,
                     in->auth.user);
        rv = APR_EINVAL;
        goto leave;
    }

    in->tls = NULL;
    if (u->tls) {
        err = mcpr_tls_create(pconf, &in->tls, in->ca_file, in->cert_file,
                              in->key_file, u->verify, u->sni);
        if (err) {
            ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, MCPRLOG(00806)
                         "MCPSessionStore %s: TLS: %s", in->described, err);
            rv = APR_EGENERAL;
            goto leave;
        }
        if (u->verify == MCPR_VERIFY_NONE) {
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, MCPRLOG(00807)
                         "MCPSessionStore %s: verify=none: the Redis "
                         "server's certificate is not checked, so anyone "
                         "on the path can read the sessions and the "
                         "password", in->described);
        }
    }
    else if (in->ca_file || in->cert_file) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, MCPRLOG(00808)
                     "MCPSessionStore %s is plain TCP: "
                     "MCPSessionStoreCACertificateFile and "
                     "MCPSessionStoreCertificateFile are unused (TLS is "
                     "rediss://)", in->described);
    }
    in->pool_max = u->pool_max > 0 ? u->pool_max
                   : params->threads_per_child > 0
                   ? params->threads_per_child : 1;
    in->connect_timeout = u->connect_timeout;

    ap_log_error(APLOG_MARK, APLOG_INFO, 0, s, MCPRLOG(00801)
                 "session store %s (hiredis %d.%d.%d, %s, pool %d per child"
                 "%s)", in->described, HIREDIS_MAJOR, HIREDIS_MINOR,
                 HIREDIS_PATCH, in->tls ? "TLS" : "plain", in->pool_max,
                 in->password_file ? ", password from a file" : "");
leave:
    return rv;
}

static apr_status_t mcpr_child_init(void *instance, server_rec *s,
                                    apr_pool_t *pchild)
{
    mcpr_t *in = instance;
    const mcpr_hostport_t *hp;
    apr_status_t rv;

    /* never destroyed: prefork's just_die destroys pchild while a call
     * may be running */
    rv = apr_pool_create_unmanaged_ex(&in->cpool, NULL, NULL);
    if (rv != APR_SUCCESS) {
        goto leave;
    }
    apr_pool_tag(in->cpool, "mcp_session_redis");
    rv = apr_thread_mutex_create(&in->mutex, APR_THREAD_MUTEX_DEFAULT,
                                 in->cpool);
    if (rv != APR_SUCCESS) {
        goto leave;
    }
    in->nodes = apr_hash_make(in->cpool);
    apr_atomic_set32(&in->answered, 1);

    switch (in->url->mode) {
    case MCPR_SINGLE:
        hp = (const mcpr_hostport_t *)in->url->hosts->elts;
        in->single = mcpr_node_get(in, hp->host, hp->port, &in->auth);
        if (!in->single) {
            rv = APR_ENOMEM;
        }
        break;
    case MCPR_SENTINEL:
        rv = mcpr_sentinel_child_init(in, pchild);
        break;
    case MCPR_CLUSTER:
        rv = mcpr_cluster_child_init(in, pchild);
        break;
    }
leave:
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, MCPRLOG(00809)
                     "MCPSessionStore %s: cannot set up this child's "
                     "connections", in->described);
    }
    return rv;
}

static const char *mcpr_describe(void *instance, apr_pool_t *p)
{
    mcpr_t *in = instance;

    return apr_psprintf(p, "redis module (hiredis %d.%d.%d, %s) %s",
                        HIREDIS_MAJOR, HIREDIS_MINOR, HIREDIS_PATCH,
                        in->url->tls ? "TLS" : "plain", in->described);
}

static int mcpr_healthy(void *instance)
{
    mcpr_t *in = instance;

    return apr_atomic_read32(&in->answered) != 0;
}

static apr_size_t mcpr_max_record(void *instance)
{
    return MCP_STORE_MAX_RECORD;
}

/* One node's numbers, copied under its mutex. */
typedef struct node_snap_t {
    const char *name;
    int down;
    char why[256];
    int nidle, busy, max, nbidle, bbusy, bmax;
    apr_uint64_t calls, errors, connects, reconnects, timeouts,
                 busy_refused, refused_replies;
} node_snap_t;

static int snap_cmp(const void *a, const void *b)
{
    return strcmp(((const node_snap_t *)a)->name,
                  ((const node_snap_t *)b)->name);
}

static void mcpr_status(void *instance, request_rec *r, int flags)
{
    mcpr_t *in = instance;
    node_snap_t *snaps, sum;
    apr_hash_index_t *hi;
    int n = 0, i;

    memset(&sum, 0, sizeof(sum));
    if (!in->mutex) {
        return;                 /* no child_init (not a child) */
    }
    apr_thread_mutex_lock(in->mutex);
    snaps = apr_pcalloc(r->pool, sizeof(*snaps)
                                 * (apr_hash_count(in->nodes) + 1));
    for (hi = apr_hash_first(r->pool, in->nodes); hi; hi = apr_hash_next(hi)) {
        mcpr_node_t *nd = apr_hash_this_val(hi);
        node_snap_t *sn = &snaps[n++];

        apr_thread_mutex_lock(nd->mutex);
        sn->name = apr_pstrdup(r->pool, nd->name);
        sn->down = nd->down;
        apr_cpystrn(sn->why, nd->last_error, sizeof(sn->why));
        sn->nidle = nd->nidle;
        sn->busy = nd->busy;
        sn->max = nd->max;
        sn->nbidle = nd->nbidle;
        sn->bbusy = nd->bbusy;
        sn->bmax = nd->bmax;
        sn->calls = nd->calls;
        sn->errors = nd->errors;
        sn->connects = nd->connects;
        sn->reconnects = nd->reconnects;
        sn->timeouts = nd->timeouts;
        sn->busy_refused = nd->busy_refused;
        sn->refused_replies = nd->refused_replies;
        apr_thread_mutex_unlock(nd->mutex);
    }
    apr_thread_mutex_unlock(in->mutex);
    qsort(snaps, n, sizeof(*snaps), snap_cmp);

    for (i = 0; i < n; i++) {
        sum.calls += snaps[i].calls;
        sum.errors += snaps[i].errors;
        sum.reconnects += snaps[i].reconnects;
        sum.busy_refused += snaps[i].busy_refused;
        sum.refused_replies += snaps[i].refused_replies;
        sum.timeouts += snaps[i].timeouts;
        sum.down += snaps[i].down;
    }
    if (flags & AP_STATUS_SHORT) {
        ap_rprintf(r, "MCPRedisMode: %s\nMCPRedisTLS: %d\n"
                   "MCPRedisNodes: %d\nMCPRedisNodesDown: %d\n"
                   "MCPRedisCalls: %" APR_UINT64_T_FMT "\n"
                   "MCPRedisErrors: %" APR_UINT64_T_FMT "\n"
                   "MCPRedisTimeouts: %" APR_UINT64_T_FMT "\n"
                   "MCPRedisReconnects: %" APR_UINT64_T_FMT "\n"
                   "MCPRedisBusyRefused: %" APR_UINT64_T_FMT "\n"
                   "MCPRedisRefusedReplies: %" APR_UINT64_T_FMT "\n",
                   in->url->mode == MCPR_SINGLE ? "single"
                   : in->url->mode == MCPR_SENTINEL ? "sentinel" : "cluster",
                   in->url->tls, n, sum.down, sum.calls, sum.errors,
                   sum.timeouts, sum.reconnects, sum.busy_refused,
                   sum.refused_replies);
        for (i = 0; i < n; i++) {
            node_snap_t *sn = &snaps[i];

            ap_rprintf(r, "MCPRedisNode(%s): %s idle=%d busy=%d max=%d "
                       "blocking=%d/%d/%d calls=%" APR_UINT64_T_FMT
                       " errors=%" APR_UINT64_T_FMT " connects=%"
                       APR_UINT64_T_FMT " reconnects=%" APR_UINT64_T_FMT
                       " timeouts=%" APR_UINT64_T_FMT " busy_refused=%"
                       APR_UINT64_T_FMT " refused=%" APR_UINT64_T_FMT "\n",
                       sn->name, sn->down ? "down" : "up", sn->nidle,
                       sn->busy, sn->max, sn->nbidle, sn->bbusy, sn->bmax,
                       sn->calls, sn->errors, sn->connects, sn->reconnects,
                       sn->timeouts, sn->busy_refused, sn->refused_replies);
            if (sn->down) {
                ap_rprintf(r, "MCPRedisNodeDown(%s): %s\n", sn->name,
                           sn->why);
            }
        }
    }
    else {
        for (i = 0; i < n; i++) {
            node_snap_t *sn = &snaps[i];

            ap_rprintf(r, "<tr><td>Redis %s (this process)</td><td>%s; "
                       "connections %d idle, %d busy, at most %d (blocking "
                       "reads: %d idle, %d busy, at most %d); %"
                       APR_UINT64_T_FMT " calls, %" APR_UINT64_T_FMT
                       " errors, %" APR_UINT64_T_FMT " connects, %"
                       APR_UINT64_T_FMT " reconnects, %" APR_UINT64_T_FMT
                       " timeouts, %" APR_UINT64_T_FMT " refused for want "
                       "of a connection, %" APR_UINT64_T_FMT " error "
                       "replies</td></tr>\n",
                       ap_escape_html(r->pool, sn->name),
                       sn->down ? apr_pstrcat(r->pool, "<b>down</b>: ",
                                              ap_escape_html(r->pool, sn->why),
                                              NULL)
                                : "up",
                       sn->nidle, sn->busy, sn->max, sn->nbidle, sn->bbusy,
                       sn->bmax, sn->calls, sn->errors, sn->connects,
                       sn->reconnects, sn->timeouts, sn->busy_refused,
                       sn->refused_replies);
        }
    }
    if (in->url->mode == MCPR_SENTINEL) {
        mcpr_sentinel_status(in, r, flags);
    }
    else if (in->url->mode == MCPR_CLUSTER) {
        mcpr_cluster_status(in, r, flags);
    }
}

#define MCPR_PROVIDER(scheme)                                              \
    { scheme, mcpr_create, mcpr_init, mcpr_child_init, mcpr_max_record,    \
      mcpr_store_create, mcpr_store_fetch, mcpr_store_update,              \
      mcpr_store_remove, mcpr_describe, mcpr_healthy, mcpr_status,         \
      mcpr_store_update_if, mcpr_bus_publish, mcpr_bus_wait }

static const mcp_store_provider_t mcpr_providers[] = {
    MCPR_PROVIDER("redis"),
    MCPR_PROVIDER("rediss"),
    MCPR_PROVIDER("redis+sentinel"),
    MCPR_PROVIDER("rediss+sentinel"),
    MCPR_PROVIDER("redis+cluster"),
    MCPR_PROVIDER("rediss+cluster")
};

static void mcpr_register_hooks(apr_pool_t *p)
{
    apr_size_t i;

    for (i = 0; i < sizeof(mcpr_providers) / sizeof(mcpr_providers[0]); i++) {
        mcp_register_store(p, &mcpr_providers[i]);
    }
}

module AP_MODULE_DECLARE_DATA __attribute__((visibility("default")))
mcp_session_redis_module = {
    STANDARD20_MODULE_STUFF,
    NULL,                       /* dir config */
    NULL,
    NULL,                       /* server config: the main server's, made
                                 * by the first directive */
    NULL,
    mcpr_cmds,
    mcpr_register_hooks
};
