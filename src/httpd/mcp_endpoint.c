/*
 * Endpoint identity (see mcp_endpoint.h).
 *
 * httpd keeps, in the merged per-directory config of a request, the
 * SetHandler expression that chose our handler, with the file and line it
 * was written at. At startup we walk the configuration tree once and note,
 * for every `SetHandler mcp-session`, the path of the section around it;
 * a request then finds its endpoint by that file and line. A later
 * `<Location />` holding a Require or a Header changes nothing, two MCP
 * locations in one virtual host stay apart, and nodes that listen on
 * different ports agree.
 */
#include "httpd.h"
#include <string.h>
#include "apr_strings.h"
#include "apr_lib.h"
#include "apr_hash.h"
#include "apr_fnmatch.h"
#include "http_config.h"
#include "http_core.h"
#include "http_log.h"
#include "util_cfgtree.h"
#include "mcp_private.h"
#include "mcp_config.h"
#include "mcp_endpoint.h"
#include "mcp_handler.h"

/* One `SetHandler mcp-session` of the configuration. */
typedef struct endpoint_t {
    const char *file;
    unsigned int line;
    const char *path;               /* its section's path, "" at server level */
    const char *name;               /* MCPEndpointName seen around it */
    const char *vhost;              /* its <VirtualHost> "file:line", or NULL */
    struct endpoint_t *next;        /* same line, another file */
} endpoint_t;

/* line number -> endpoint_t list; rebuilt for every configuration
 * generation, read-only while requests run */
static apr_hash_t *endpoints;

typedef struct walk_t {
    apr_pool_t *p;
    apr_array_header_t *found;      /* of endpoint_t * */
    apr_hash_t *names;              /* vhost "file:line" (or "") -> ServerName */
} walk_t;

static int is_directive(const ap_directive_t *d, const char *name)
{
    return d->directive && !strcasecmp(d->directive, name);
}

/* A section's arguments without the closing '>' and the quotes. */
static const char *section_args(apr_pool_t *p, const char *args)
{
    char *a = apr_pstrdup(p, args ? args : ""), *end = a + strlen(a);
    apr_array_header_t *words = apr_array_make(p, 2, sizeof(char *));
    const char *rest;

    while (end > a && (end[-1] == '>' || apr_isspace(end[-1]))) {
        *--end = '\0';
    }
    for (rest = a; *rest; ) {
        char *w = ap_getword_conf(p, &rest);
        if (*w) {
            *(char **)apr_array_push(words) = w;
        }
    }
    return apr_array_pstrcat(p, words, ' ');
}

/* ServerName's host: no scheme, no port, lower case. */
static const char *host_of(apr_pool_t *p, const char *server_name)
{
    const char *h = ap_strstr_c(server_name, "://");
    char *host, *colon;

    host = apr_pstrdup(p, h ? h + 3 : server_name);
    colon = host[0] == '[' ? strchr(host, ']') : host;
    if (colon && (colon = strchr(colon, ':')) != NULL) {
        *colon = '\0';
    }
    ap_str_tolower(host);
    return host;
}

static const char *name_among(apr_pool_t *p, const ap_directive_t *first)
{
    const ap_directive_t *d;
    const char *name = NULL;

    for (d = first; d; d = d->next) {
        if (is_directive(d, "MCPEndpointName")) {
            const char *args = d->args;
            name = ap_getword_conf(p, &args);
        }
    }
    return name;
}

static int is_section(const ap_directive_t *d)
{
    static const char *const sections[] = {
        "<Location", "<LocationMatch", "<Directory", "<DirectoryMatch",
        "<Files", "<FilesMatch", "<Proxy", "<ProxyMatch", NULL
    };
    int i;

    for (i = 0; sections[i]; i++) {
        if (is_directive(d, sections[i])) {
            return 1;
        }
    }
    return 0;
}

/* Includes and <IfModule>/<IfDefine> are already spliced into the tree by
 * httpd; <If>, <Limit>, <RequireAll>... are transparent here. */
static void walk(walk_t *w, const ap_directive_t *first, const char *vhost,
                 const char *path, const char *name)
{
    const ap_directive_t *d;
    const char *here = name_among(w->p, first);

    if (here) {
        name = here;
    }
    for (d = first; d; d = d->next) {
        if (is_directive(d, "<VirtualHost")) {
            walk(w, d->first_child, apr_psprintf(w->p, "%s:%d", d->filename,
                                                 d->line_num), "", name);
        }
        else if (is_directive(d, "ServerName")) {
            const char *args = d->args;
            apr_hash_set(w->names, vhost ? vhost : "", APR_HASH_KEY_STRING,
                         host_of(w->p, ap_getword_conf(w->p, &args)));
        }
        else if (is_directive(d, "SetHandler")) {
            const char *args = d->args;
            if (!strcasecmp(ap_getword_conf(w->p, &args), MCP_HANDLER_NAME)) {
                endpoint_t *e = apr_pcalloc(w->p, sizeof(*e));
                e->file = d->filename;
                e->line = (unsigned int)d->line_num;
                e->path = path;
                e->name = name;
                e->vhost = vhost;
                *(endpoint_t **)apr_array_push(w->found) = e;
            }
        }
        else if (d->first_child) {
            const char *inner = path;
            if (is_section(d)) {
                const char *a = section_args(w->p, d->args);
                inner = *path ? apr_pstrcat(w->p, path, " ", a, NULL) : a;
            }
            walk(w, d->first_child, vhost, inner, name);
        }
    }
}

static const char *server_label(apr_pool_t *p, server_rec *s)
{
    return apr_psprintf(p, "%s:%u (%s:%u)", s->server_hostname
                        ? s->server_hostname : "*", (unsigned)s->port,
                        s->defn_name ? s->defn_name : "main server",
                        s->defn_line_number);
}

/* An alias such as `*` matches any host an attacker picks, which lets a
 * DNS-rebinding page pass the Origin check. */
static void warn_wide_alias(server_rec *s, apr_pool_t *p)
{
    int i;

    for (i = 0; s->wild_names && i < s->wild_names->nelts; i++) {
        const char *alias = APR_ARRAY_IDX(s->wild_names, i, const char *);
        if (apr_fnmatch(alias, "rebinding-check.invalid",
                        APR_FNM_CASE_BLIND) == APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, MCPLOG(00112)
                         "ServerAlias %s of %s matches any host name, so it "
                         "lets any Origin pass the MCP endpoint's DNS-"
                         "rebinding check; name the hosts, or serve MCP from a "
                         "virtual host without a wide alias", alias,
                         server_label(p, s));
        }
    }
}

apr_status_t mcp_endpoint_post_config(apr_pool_t *pconf, apr_pool_t *ptemp,
                                      server_rec *s)
{
    const char *main_name;
    apr_hash_t *seen;
    server_rec *vs;
    walk_t w;
    int i;

    w.p = pconf;
    w.found = apr_array_make(ptemp, 4, sizeof(endpoint_t *));
    w.names = apr_hash_make(ptemp);
    walk(&w, ap_conftree, NULL, "", NULL);

    endpoints = apr_hash_make(pconf);
    for (i = 0; i < w.found->nelts; i++) {
        endpoint_t *e = APR_ARRAY_IDX(w.found, i, endpoint_t *);
        e->next = apr_hash_get(endpoints, &e->line, sizeof(e->line));
        apr_hash_set(endpoints, &e->line, sizeof(e->line), e);
    }

    main_name = apr_hash_get(w.names, "", APR_HASH_KEY_STRING);
    seen = apr_hash_make(ptemp);
    for (vs = s; vs; vs = vs->next) {
        mcp_srv_conf_t *sc = ap_get_module_config(vs->module_config,
                                                  &mcp_session_module);
        const char *key = NULL, *name = NULL;
        int served = 0;

        /* a virtual host without any of our directives shares the main
         * server's config; it needs a name of its own */
        if (apr_hash_get(seen, &sc, sizeof(sc))) {
            sc = apr_pmemdup(pconf, sc, sizeof(*sc));
            ap_set_module_config(vs->module_config, &mcp_session_module, sc);
        }
        apr_hash_set(seen, apr_pmemdup(ptemp, &sc, sizeof(sc)), sizeof(sc), sc);

        /* a <VirtualHost> is known by the file and line that defined it */
        if (vs != s && vs->defn_name) {
            key = apr_psprintf(ptemp, "%s:%u", vs->defn_name,
                               vs->defn_line_number);
            name = apr_hash_get(w.names, key, APR_HASH_KEY_STRING);
        }
        /* a virtual host without ServerName takes the main server's */
        if (!name) {
            name = main_name;
        }
        sc->endpoint_host = name ? name
                                 : host_of(pconf, vs->server_hostname
                                                  ? vs->server_hostname : "");
        sc->endpoint_host_derived = (name == NULL);

        for (i = 0; i < w.found->nelts; i++) {
            endpoint_t *e = APR_ARRAY_IDX(w.found, i, endpoint_t *);
            if (e->vhost && (!key || strcmp(e->vhost, key))) {
                continue;       /* another virtual host's */
            }
            served = 1;
            if (e->name) {
                ap_log_error(APLOG_MARK, APLOG_INFO, 0, vs, MCPLOG(00110)
                             "MCP endpoint '%s' (MCPEndpointName) at %s:%u "
                             "for %s", e->name, e->file, e->line,
                             server_label(ptemp, vs));
                continue;
            }
            ap_log_error(APLOG_MARK, APLOG_INFO, 0, vs, MCPLOG(00110)
                         "MCP endpoint '%s%s' (SetHandler at %s:%u) for %s",
                         sc->endpoint_host, e->path, e->file, e->line,
                         server_label(ptemp, vs));
            if (sc->endpoint_host_derived
                && mcp_config_mode(sc) == MCP_MODE_EXTERNAL) {
                ap_log_error(APLOG_MARK, APLOG_WARNING, 0, vs, MCPLOG(00111)
                             "MCP endpoint '%s%s' (%s:%u) is named after '%s', "
                             "a host name httpd derived itself since %s has "
                             "no ServerName: sessions in the shared store "
                             "will not cross nodes unless every node derives "
                             "the same name. Set ServerName (the same on every "
                             "node, e.g. the balancer's public name) or "
                             "MCPEndpointName", sc->endpoint_host, e->path,
                             e->file, e->line, sc->endpoint_host,
                             server_label(ptemp, vs));
            }
        }
        if (served) {
            warn_wide_alias(vs, ptemp);
        }
    }
    return APR_SUCCESS;
}

const char *mcp_endpoint_identity(request_rec *r, const mcp_srv_conf_t *sc,
                                  const mcp_dir_conf_t *dc)
{
    core_dir_config *cd;
    const endpoint_t *e = NULL;
    const char *path;

    if (dc->endpoint_name) {
        return dc->endpoint_name;
    }
    cd = ap_get_core_module_config(r->per_dir_config);
    if (endpoints && cd->expr_handler && cd->expr_handler->filename) {
        unsigned int line = cd->expr_handler->line_number;
        for (e = apr_hash_get(endpoints, &line, sizeof(line)); e; e = e->next) {
            if (!strcmp(e->file, cd->expr_handler->filename)) {
                break;
            }
        }
    }
    if (e) {
        path = e->path;
    }
    else {
        /* the handler was chosen some other way (.htaccess, a RewriteRule
         * H= flag): the innermost section is the best we know */
        path = cd->d ? cd->d : "";
        ap_log_rerror(APLOG_MARK, APLOG_TRACE1, 0, r, MCPLOG(00217)
                      "no SetHandler %s in the server configuration chose "
                      "this request's handler; its endpoint is named after "
                      "section '%s' (set MCPEndpointName to fix it)",
                      MCP_HANDLER_NAME, path);
    }
    return apr_pstrcat(r->pool, sc->endpoint_host ? sc->endpoint_host : "",
                       path, NULL);
}
