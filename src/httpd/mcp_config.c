#include <string.h>
#include "httpd.h"
#include "apr_strings.h"
#include "http_log.h"
#include "apr_hash.h"
#include "apr_lib.h"
#include "mcp_private.h"
#include "mcp_config.h"
#include "mcp_keyring.h"
#include "mcp_provider.h"
#include "mcp_resource.h"

void *mcp_config_create_srv(apr_pool_t *p, server_rec *s)
{
    mcp_srv_conf_t *sc = apr_pcalloc(p, sizeof(*sc));
    sc->ttl = -1;
    sc->refresh_after = -1;
    sc->store_timeout = -1;
    sc->handshake_ttl = -1;
    sc->breaker = -1;
    return sc;
}

void *mcp_config_merge_srv(apr_pool_t *p, void *basev, void *addv)
{
    mcp_srv_conf_t *base = basev, *add = addv;
    mcp_srv_conf_t *sc = apr_pcalloc(p, sizeof(*sc));

    sc->mode = add->mode ? add->mode : base->mode;
    sc->store_spec = add->store_spec ? add->store_spec : base->store_spec;
    sc->store_where = add->store_spec ? add->store_where : base->store_where;
    sc->ttl = add->ttl >= 0 ? add->ttl : base->ttl;
    sc->refresh_after = add->refresh_after >= 0 ? add->refresh_after
                                                : base->refresh_after;
    sc->store_timeout = add->store_timeout >= 0 ? add->store_timeout
                                                : base->store_timeout;
    sc->key_prefix = add->key_prefix ? add->key_prefix : base->key_prefix;
    sc->handshake_ttl = add->handshake_ttl >= 0 ? add->handshake_ttl
                                                : base->handshake_ttl;
    sc->breaker = add->breaker >= 0 ? add->breaker : base->breaker;
    sc->capacity = base->capacity;
    sc->state_keys = add->state_keys ? add->state_keys : base->state_keys;
    return sc;
}

void *mcp_config_create_dir(apr_pool_t *p, char *dir)
{
    mcp_dir_conf_t *dc = apr_pcalloc(p, sizeof(*dc));
    dc->max_message = -1;
    return dc;
}

void *mcp_config_merge_dir(apr_pool_t *p, void *basev, void *addv)
{
    mcp_dir_conf_t *base = basev, *add = addv;
    mcp_dir_conf_t *dc = apr_pcalloc(p, sizeof(*dc));

    dc->origins = add->origins ? add->origins : base->origins;
    dc->max_message = add->max_message >= 0 ? add->max_message
                                            : base->max_message;
    dc->endpoint_name = add->endpoint_name ? add->endpoint_name
                                           : base->endpoint_name;
    if (add->backend) {
        dc->backend = add->backend;
        dc->backend_balancer = add->backend_balancer;
    }
    else {
        dc->backend = base->backend;
        dc->backend_balancer = base->backend_balancer;
    }
    dc->user_header = add->user_header ? add->user_header : base->user_header;
    dc->oauth = mcp_resource_merge(p, base->oauth, add->oauth);
    return dc;
}

mcp_mode_e mcp_config_mode(const mcp_srv_conf_t *sc)
{
    return sc->mode ? sc->mode : MCP_MODE_MEMORY;
}

apr_interval_time_t mcp_config_ttl(const mcp_srv_conf_t *sc)
{
    return sc->ttl >= 0 ? sc->ttl : MCP_DEFAULT_TTL;
}

apr_interval_time_t mcp_config_refresh_after(const mcp_srv_conf_t *sc)
{
    return sc->refresh_after >= 0 ? sc->refresh_after : mcp_config_ttl(sc) / 2;
}

apr_interval_time_t mcp_config_timeout(const mcp_srv_conf_t *sc)
{
    return sc->store_timeout >= 0 ? sc->store_timeout : MCP_DEFAULT_TIMEOUT;
}

const char *mcp_config_prefix(const mcp_srv_conf_t *sc)
{
    return sc->key_prefix ? sc->key_prefix : MCP_DEFAULT_PREFIX;
}

apr_interval_time_t mcp_config_handshake_ttl(const mcp_srv_conf_t *sc)
{
    apr_interval_time_t ttl = mcp_config_ttl(sc);
    apr_interval_time_t h = sc->handshake_ttl >= 0 ? sc->handshake_ttl
                                                   : MCP_DEFAULT_HANDSHAKE_TTL;
    /* never longer than a whole session may live */
    return h < ttl ? h : ttl;
}

apr_interval_time_t mcp_config_breaker(const mcp_srv_conf_t *sc)
{
    return sc->breaker >= 0 ? sc->breaker : MCP_DEFAULT_BREAKER;
}

apr_off_t mcp_config_max_message(const mcp_dir_conf_t *dc)
{
    return dc->max_message >= 0 ? dc->max_message : MCP_DEFAULT_MAX_MESSAGE;
}

const char *mcp_config_user_header(const mcp_dir_conf_t *dc)
{
    return dc->user_header && *dc->user_header ? dc->user_header : NULL;
}

static mcp_srv_conf_t *srv_conf(cmd_parms *cmd)
{
    return ap_get_module_config(cmd->server->module_config, &mcp_session_module);
}

static const char *set_mode(cmd_parms *cmd, void *dc, const char *arg)
{
    mcp_srv_conf_t *sc = srv_conf(cmd);
    if (!strcasecmp(arg, "memory")) {
        sc->mode = MCP_MODE_MEMORY;
    }
    else if (!strcasecmp(arg, "external")) {
        sc->mode = MCP_MODE_EXTERNAL;
    }
    else {
        return apr_psprintf(cmd->pool, "%s: '%s' is not a storage mode; use "
                            "'memory' (this server's shared memory) or "
                            "'external' (with MCPSessionStore)",
                            cmd->cmd->name, arg);
    }
    return NULL;
}

/* The store's provider is found in check_config, once every module has
 * registered its own: here only the form is checked. */
static const char *set_store(cmd_parms *cmd, void *dc, const char *arg)
{
    mcp_srv_conf_t *sc = srv_conf(cmd);
    const char *sep = strstr(arg, "://");

    if (!sep || sep == arg) {
        return apr_psprintf(cmd->pool, "%s: '%s' is not a store address; "
                            "expected SCHEME://ADDRESS, e.g. "
                            "redis://127.0.0.1:6379", cmd->cmd->name, arg);
    }
    sc->store_spec = arg;
    sc->store_where = cmd->directive
                      ? apr_psprintf(cmd->pool, "%s:%d",
                                     cmd->directive->filename,
                                     cmd->directive->line_num)
                      : "command line";
    return NULL;
}

static const char *parse_seconds(cmd_parms *cmd, const char *arg,
                                 apr_interval_time_t min,
                                 apr_interval_time_t *out)
{
    apr_interval_time_t t;
    if (ap_timeout_parameter_parse(arg, &t, "s") != APR_SUCCESS || t < min
        || t > apr_time_from_sec(30 * 86400)) {
        return apr_psprintf(cmd->pool, "%s: '%s' is not a duration of %" APR_TIME_T_FMT
                            " to 2592000 seconds (units: ms, s, min, h)",
                            cmd->cmd->name, arg, apr_time_sec(min));
    }
    *out = t;
    return NULL;
}

static const char *set_ttl(cmd_parms *cmd, void *dc, const char *arg)
{
    return parse_seconds(cmd, arg, apr_time_from_sec(1), &srv_conf(cmd)->ttl);
}

static const char *set_refresh(cmd_parms *cmd, void *dc, const char *arg)
{
    return parse_seconds(cmd, arg, 0, &srv_conf(cmd)->refresh_after);
}

static const char *set_timeout(cmd_parms *cmd, void *dc, const char *arg)
{
    return parse_seconds(cmd, arg, apr_time_from_sec(1),
                         &srv_conf(cmd)->store_timeout);
}

static const char *set_handshake_ttl(cmd_parms *cmd, void *dc, const char *arg)
{
    return parse_seconds(cmd, arg, apr_time_from_sec(1),
                         &srv_conf(cmd)->handshake_ttl);
}

static const char *set_breaker(cmd_parms *cmd, void *dc, const char *arg)
{
    apr_interval_time_t t;

    if (!strcasecmp(arg, "off")) {
        srv_conf(cmd)->breaker = 0;
        return NULL;
    }
    if (ap_timeout_parameter_parse(arg, &t, "ms") != APR_SUCCESS
        || t < apr_time_from_msec(10) || t > apr_time_from_sec(60)) {
        return apr_psprintf(cmd->pool, "%s: '%s' is not 'off' or a duration "
                            "from 10ms to 60s (a bare number is ms)",
                            cmd->cmd->name, arg);
    }
    srv_conf(cmd)->breaker = t;
    return NULL;
}

static const char *set_endpoint_name(cmd_parms *cmd, void *dcv,
                                     const char *arg)
{
    const char *c;

    if (!*arg || strlen(arg) > 255) {
        return apr_psprintf(cmd->pool, "%s: the name must be 1 to 255 "
                            "characters", cmd->cmd->name);
    }
    for (c = arg; *c; c++) {
        if (*c <= ' ' || *c > '~') {
            return apr_psprintf(cmd->pool, "%s: the name must be visible "
                                "ASCII without spaces", cmd->cmd->name);
        }
    }
    ((mcp_dir_conf_t *)dcv)->endpoint_name = arg;
    return NULL;
}

static const char *set_prefix(cmd_parms *cmd, void *dc, const char *arg)
{
    const char *c;
    if (!*arg || strlen(arg) > 128) {
        return apr_psprintf(cmd->pool, "%s: the prefix must be 1 to 128 "
                            "characters", cmd->cmd->name);
    }
    for (c = arg; *c; c++) {
        if (*c <= ' ' || *c > '~') {
            return apr_psprintf(cmd->pool, "%s: the prefix must be visible "
                                "ASCII without spaces", cmd->cmd->name);
        }
    }
    srv_conf(cmd)->key_prefix = arg;
    return NULL;
}

static const char *set_capacity(cmd_parms *cmd, void *dc, const char *arg)
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    char *end;
    apr_int64_t n;

    if (err) {
        return err;
    }
    n = apr_strtoi64(arg, &end, 10);
    if (*end || n < 1 || n > 10000000) {
        return apr_psprintf(cmd->pool, "%s: '%s' is not a number of sessions "
                            "from 1 to 10000000", cmd->cmd->name, arg);
    }
    srv_conf(cmd)->capacity = (int)n;
    return NULL;
}

static const char *set_origins(cmd_parms *cmd, void *dcv, const char *arg)
{
    mcp_dir_conf_t *dc = dcv;
    apr_uri_t uri;
    char *o;

    if (!dc->origins) {
        dc->origins = apr_array_make(cmd->pool, 4, sizeof(const char *));
    }
    if (!strcmp(arg, "*")) {
        *(const char **)apr_array_push(dc->origins) = "*";
        return NULL;
    }
    if (apr_uri_parse(cmd->temp_pool, arg, &uri) != APR_SUCCESS || !uri.scheme
        || !uri.hostname || (uri.path && strcmp(uri.path, "/"))) {
        return apr_psprintf(cmd->pool, "%s: '%s' is not an origin; expected "
                            "scheme://host[:port] (or *)", cmd->cmd->name, arg);
    }
    o = apr_pstrdup(cmd->pool, arg);
    if (o[strlen(o) - 1] == '/') {
        o[strlen(o) - 1] = '\0';
    }
    ap_str_tolower(o);
    *(const char **)apr_array_push(dc->origins) = o;
    return NULL;
}

static const char *set_max_message(cmd_parms *cmd, void *dcv, const char *arg)
{
    mcp_dir_conf_t *dc = dcv;
    char *end;
    apr_int64_t n = apr_strtoi64(arg, &end, 10);
    if (*end || n < 64 || n > APR_INT64_C(1073741824)) {
        return apr_psprintf(cmd->pool, "%s: '%s' is not a size in bytes from "
                            "64 to 1073741824", cmd->cmd->name, arg);
    }
    dc->max_message = (apr_off_t)n;
    return NULL;
}

/* The proxy module each MCPBackend scheme needs. Every LoadModule has run
 * by the time a directive is processed (LoadModule acts while the files
 * are read), so the check can be made here, for `apachectl -t` too. */
static const struct {
    const char *scheme;
    const char *module;
    int unix_ok;            /* may follow unix:/path| */
} backend_schemes[] = {
    { "http", "mod_proxy_http.c", 1 },
    { "https", "mod_proxy_http.c", 1 },
    { "fcgi", "mod_proxy_fcgi.c", 1 },
    { "balancer", "mod_proxy_balancer.c", 0 },
};

#define BACKEND_FORMS "http://HOST[:PORT]/PATH, https://..., " \
    "unix:/SOCKET|http://localhost/PATH, fcgi://HOST[:PORT]/PATH, " \
    "unix:/SOCKET|fcgi://localhost/PATH or balancer://NAME/PATH"

static const char *set_backend(cmd_parms *cmd, void *dcv, const char *arg)
{
    mcp_dir_conf_t *dc = dcv;
    const char *url = arg, *sep;
    apr_size_t i, n = sizeof(backend_schemes) / sizeof(backend_schemes[0]);
    int is_unix = !strncasecmp(arg, "unix:", 5);
    apr_uri_t u;

    if (is_unix) {
        const char *bar = strchr(arg, '|');
        if (arg[5] != '/' || !bar || bar == arg + 6) {
            return apr_psprintf(cmd->pool, MCPLOG(00106) "%s: '%s' is not a "
                                "backend URL: a socket is written "
                                "unix:/SOCKET|http://localhost/PATH",
                                cmd->cmd->name, arg);
        }
        url = bar + 1;
    }
    sep = strstr(url, "://");
    for (i = 0; sep && i < n; i++) {
        if (strlen(backend_schemes[i].scheme) == (apr_size_t)(sep - url)
            && !strncasecmp(url, backend_schemes[i].scheme, sep - url)) {
            break;
        }
    }
    if (!sep || i == n || (is_unix && !backend_schemes[i].unix_ok)
        || apr_uri_parse(cmd->temp_pool, url, &u) != APR_SUCCESS
        || !u.hostname || !*u.hostname || strpbrk(arg, " \t\"")) {
        return apr_psprintf(cmd->pool, MCPLOG(00106) "%s: '%s' is not a "
                            "backend URL mod_mcp_session forwards to; use %s",
                            cmd->cmd->name, arg, BACKEND_FORMS);
    }
    if (!ap_find_linked_module("mod_proxy.c")) {
        return apr_psprintf(cmd->pool, MCPLOG(00107) "%s %s: mod_proxy is not "
                            "loaded; the gateway forwards through it "
                            "(LoadModule proxy_module, or a2enmod proxy)",
                            cmd->cmd->name, arg);
    }
    if (!ap_find_linked_module(backend_schemes[i].module)) {
        return apr_psprintf(cmd->pool, MCPLOG(00108) "%s %s: %s is not loaded; "
                            "a %s:// backend needs it", cmd->cmd->name, arg,
                            backend_schemes[i].module,
                            backend_schemes[i].scheme);
    }
    dc->backend = arg;
    dc->backend_balancer = !strcmp(backend_schemes[i].scheme, "balancer");
    return NULL;
}

/* Headers the gateway or mod_proxy own, which a user name must not
 * replace. */
static const char *const reserved_headers[] = {
    "Host", "Content-Length", "Content-Type", "Transfer-Encoding",
    "Connection", "Keep-Alive", "Upgrade", "TE", "Trailer", "Expect",
    "Accept", "Cookie", "Mcp-Session-Id", "MCP-Protocol-Version",
    "Last-Event-ID", "Origin", NULL
};

static const char *set_user_header(cmd_parms *cmd, void *dcv, const char *arg)
{
    const char *c;
    int i;

    if (!strcasecmp(arg, "off")) {
        ((mcp_dir_conf_t *)dcv)->user_header = "";
        return NULL;
    }
    for (c = arg; *c; c++) {
        /* an HTTP token (RFC 9110 tchar) */
        if (!apr_isalnum(*c) && !strchr("!#$%&'*+-.^_`|~", *c)) {
            break;
        }
    }
    if (!*arg || *c || strlen(arg) > 64) {
        return apr_psprintf(cmd->pool, MCPLOG(00109) "%s: '%s' is not a "
                            "header name (letters, digits and !#$%%&'*+-.^_`|~, "
                            "at most 64) or 'off'", cmd->cmd->name, arg);
    }
    for (i = 0; reserved_headers[i]; i++) {
        if (!strcasecmp(arg, reserved_headers[i])) {
            return apr_psprintf(cmd->pool, MCPLOG(00109) "%s: %s carries "
                                "something else to the backend; name another "
                                "header, e.g. X-Remote-User", cmd->cmd->name,
                                arg);
        }
    }
    ((mcp_dir_conf_t *)dcv)->user_header = arg;
    return NULL;
}

const command_rec mcp_config_cmds[] = {
    AP_INIT_TAKE1("MCPSessionStorageMode", set_mode, NULL, RSRC_CONF,
                  "Where sessions live: memory (default) or external"),
    AP_INIT_TAKE1("MCPSessionStore", set_store, NULL, RSRC_CONF,
                  "The external session store, e.g. redis://127.0.0.1:6379"),
    AP_INIT_TAKE1("MCPSessionTTL", set_ttl, NULL, RSRC_CONF,
                  "Idle lifetime of a session in seconds (default 3600)"),
    AP_INIT_TAKE1("MCPSessionRefreshAfter", set_refresh, NULL, RSRC_CONF,
                  "External stores: rewrite a session this long after its "
                  "last write (default: half the TTL)"),
    AP_INIT_TAKE1("MCPSessionStoreTimeout", set_timeout, NULL, RSRC_CONF,
                  "Timeout of one store operation in seconds (default 2)"),
    AP_INIT_TAKE1("MCPSessionKeyPrefix", set_prefix, NULL, RSRC_CONF,
                  "Prefix of every key written to the external store "
                  "(default mcp:session:)"),
    AP_INIT_TAKE1("MCPSessionHandshakeTTL", set_handshake_ttl, NULL, RSRC_CONF,
                  "Lifetime of a session whose client has not yet sent "
                  "notifications/initialized (default 60 s)"),
    AP_INIT_TAKE1("MCPSessionStoreBreaker", set_breaker, NULL, RSRC_CONF,
                  "Fail store calls fast while one has been outstanding this "
                  "long (default 250ms; off)"),
    AP_INIT_TAKE1("MCPEndpointName", set_endpoint_name, NULL,
                  OR_AUTHCFG | RSRC_CONF,
                  "The endpoint identity sessions belong to (default: the "
                  "virtual host's name and the path of the section that has "
                  "SetHandler mcp-session)"),
    AP_INIT_TAKE1("MCPSessionCapacity", set_capacity, NULL, RSRC_CONF,
                  "How many live sessions memory mode holds (default 10000)"),
    AP_INIT_ITERATE("MCPAllowedOrigins", set_origins, NULL, OR_AUTHCFG | RSRC_CONF,
                    "Origins allowed besides the virtual host's own"),
    AP_INIT_TAKE1("MCPMaxMessageSize", set_max_message, NULL,
                  OR_AUTHCFG | RSRC_CONF,
                  "Largest POST body in bytes (default 4194304)"),
    /* not in .htaccess: a proxy target is the server administrator's */
    AP_INIT_TAKE1("MCPBackend", set_backend, NULL, ACCESS_CONF | RSRC_CONF,
                  "The MCP server behind this endpoint, reached through "
                  "mod_proxy (" BACKEND_FORMS ")"),
    AP_INIT_TAKE1("MCPBackendUserHeader", set_user_header, NULL,
                  ACCESS_CONF | RSRC_CONF,
                  "Send the authenticated user to the backend in this "
                  "header (default off)"),
    AP_INIT_ITERATE("MCPRequestStateKeyFile", mcp_keyring_add_file, NULL,
                    RSRC_CONF,
                    "Files holding the keys that seal the requestState of "
                    "multi-round calls (the first seals, all verify)"),
    MCP_RESOURCE_CMDS,
    { NULL }
};

/* "redis://,toy://": the schemes MCPSessionStore takes. */
static const char *known_stores(apr_pool_t *p)
{
    apr_array_header_t *list, *ext = apr_array_make(p, 4, sizeof(const char *));
    int i;

    mcp_provider_list(p, NULL, MCP_STORE_PROVIDER_GROUP, &list);
    for (i = 0; i < list->nelts; i++) {
        const char *n = APR_ARRAY_IDX(list, i, mcp_provider_entry_t).name;
        if (strcmp(n, "memory")) {
            APR_ARRAY_PUSH(ext, const char *) = apr_pstrcat(p, n, "://", NULL);
        }
    }
    return ext->nelts ? apr_array_pstrcat(p, ext, ',') : "(none)";
}

const char *mcp_config_store_shown(apr_pool_t *p, const char *spec)
{
    const char *sep = strstr(spec, "://");
    const char *query, *at = NULL, *c;

    if (!sep) {
        return spec;
    }
    query = sep + 3 + strcspn(sep + 3, "?");
    /* the last '@' before the options: a password may hold a raw '/' */
    for (c = sep + 3; c < query; c++) {
        if (*c == '@') {
            at = c;
        }
    }
    return apr_pstrcat(p, apr_pstrmemdup(p, spec, sep + 3 - spec),
                       at ? "***@" : "",
                       apr_pstrmemdup(p, at ? at + 1 : sep + 3,
                                      query - (at ? at + 1 : sep + 3)),
                       *query ? "?..." : "", NULL);
}

/* The schemes only this project's provider modules serve (README, "The
 * Redis provider module", "The SQL store"): without the module they name
 * it. The module's name (mod_NAME.so, a2enmod NAME), its Debian package;
 * NULL for another scheme. */
static const char *const *provider_module_of(const char *scheme)
{
    static const char *const names[][3] = {
        { "rediss", "mcp_session_redis", "libapache2-mod-mcp-session-redis" },
        { "redis+sentinel", "mcp_session_redis", "libapache2-mod-mcp-session-redis" },
        { "rediss+sentinel", "mcp_session_redis", "libapache2-mod-mcp-session-redis" },
        { "redis+cluster", "mcp_session_redis", "libapache2-mod-mcp-session-redis" },
        { "rediss+cluster", "mcp_session_redis", "libapache2-mod-mcp-session-redis" },
        { "sql", "mcp_session_sql", "libapache2-mod-mcp-session-sql" },
        { NULL, NULL, NULL }
    };
    int i;

    for (i = 0; names[i][0]; i++) {
        if (!strcmp(scheme, names[i][0])) {
            return names[i] + 1;
        }
    }
    return NULL;
}

/* Find the provider of s's MCPSessionStore and let it judge the address
 * (the instance is thrown away). A failure is logged once per message:
 * virtual hosts inherit the main server's store. */
static int resolve_store(apr_pool_t *ptemp, server_rec *s, mcp_srv_conf_t *sc,
                         apr_hash_t *logged)
{
    const char *spec = sc->store_spec, *other = NULL, *err;
    const char *const *mod;
    char *scheme = apr_pstrmemdup(ptemp, spec, strstr(spec, "://") - spec);
    void *probe = NULL;

    ap_str_tolower(scheme);
    /* memory is MCPSessionStorageMode's, not an external store */
    sc->provider = strcmp(scheme, "memory")
                   ? mcp_provider_lookup(ptemp, MCP_STORE_PROVIDER_GROUP,
                                         scheme, &sc->provider_minor, &other)
                   : NULL;
    if (!sc->provider) {
        err = other
              ? apr_psprintf(ptemp, MCPLOG(00104) "MCPSessionStore %s (%s): %s",
                             mcp_config_store_shown(ptemp, spec),
                             sc->store_where,
                             mcp_provider_refusal(ptemp,
                                                  MCP_STORE_PROVIDER_GROUP,
                                                  scheme, other))
              : (mod = provider_module_of(scheme))
              ? apr_psprintf(ptemp, MCPLOG(00113) "MCPSessionStore %s://...: "
                             "this scheme is served by mod_%s, which is not "
                             "loaded: LoadModule %s_module .../mod_%s.so "
                             "(Debian: apt install %s; "
                             "a2enmod %s) (%s)", scheme, mod[0], mod[0],
                             mod[0], mod[1], mod[0], sc->store_where)
              : apr_psprintf(ptemp, MCPLOG(00103) "MCPSessionStore: unknown "
                             "store '%s' in '%s' (known schemes: %s); is the "
                             "module providing it loaded? (%s)", scheme,
                             mcp_config_store_shown(ptemp, spec),
                             known_stores(ptemp), sc->store_where);
    }
    else if ((err = sc->provider->create(&probe, spec, s, ptemp, ptemp))) {
        err = apr_psprintf(ptemp, MCPLOG(00105) "MCPSessionStore: %s (%s)",
                           err, sc->store_where);
    }
    else {
        return OK;
    }
    if (!apr_hash_get(logged, err, APR_HASH_KEY_STRING)) {
        apr_hash_set(logged, err, APR_HASH_KEY_STRING, err);
        ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, "%s", err);
    }
    return !OK;
}

int mcp_config_check(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
                     server_rec *s)
{
    apr_hash_t *logged = apr_hash_make(ptemp);
    int rv = mcp_resource_check(pconf, plog, s);

    for (; s; s = s->next) {
        mcp_srv_conf_t *sc = ap_get_module_config(s->module_config,
                                                  &mcp_session_module);
        if (mcp_config_mode(sc) == MCP_MODE_EXTERNAL && !sc->store_spec) {
            ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, MCPLOG(00101)
                         "MCPSessionStorageMode external needs MCPSessionStore "
                         "(e.g. MCPSessionStore redis://127.0.0.1:6379) for "
                         "server %s:%u; refusing to start half configured",
                         s->server_hostname ? s->server_hostname : "(default)",
                         (unsigned)s->port);
            rv = !OK;
        }
        else if (mcp_config_mode(sc) == MCP_MODE_MEMORY && sc->store_spec) {
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, MCPLOG(00102)
                         "MCPSessionStore %s is not used by server %s:%u: its "
                         "MCPSessionStorageMode is memory",
                         mcp_config_store_shown(ptemp, sc->store_spec),
                         s->server_hostname ? s->server_hostname : "(default)",
                         (unsigned)s->port);
        }
        /* judged wherever it is set, used or not, as when the directive
         * itself checked it */
        if (sc->store_spec && resolve_store(ptemp, s, sc, logged) != OK) {
            rv = !OK;
        }
    }
    return rv;
}
