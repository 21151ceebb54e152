/*
 * The endpoint as an OAuth protected resource (see mcp_resource.h):
 *
 *   directives            validated here; MCPAuthorizationServers also
 *                         records its section in `sections` (the
 *                         quick handler finds the document's endpoint
 *                         there, without running any auth)
 *   quick_handler         the RFC 9728 document, before <Location> auth
 *   authn_passed          (check_authz, first) notes that authentication
 *                         succeeded: a 401/403 after it is authorization's
 *   error_challenge       (insert_error_filter) completes the 401/403 of
 *                         an endpoint with MCPAuthorizationServers
 *   mcp_resource_*        what the handler and the gateway call
 */
#include "httpd.h"
#include <string.h>
#include "apr_strings.h"
#include "apr_uri.h"
#include "ap_expr.h"
#include "http_config.h"
#include "http_log.h"
#include "http_main.h"
#include "http_protocol.h"
#include "http_request.h"
#include "mcp_private.h"
#include "mcp_config.h"
#include "mcp_json.h"
#include "mcp_node.h"
#include "mcp_oauth.h"
#include "mcp_resource.h"
#include "mcp_response.h"
#include "mcp_rpc.h"
#include "mcp_sha256.h"

#define DEFAULT_MAX_AGE     apr_time_from_sec(3600)
#define MAX_AGE_LIMIT       (365 * 86400)
#define AUTHN_NOTE          "mcp-resource-authn"
#define DOC_METHODS         "GET, HEAD, OPTIONS"
#define DOC_ALLOW_HEADERS   "mcp-protocol-version, authorization"
#define DOC_CORS_MAX_AGE    "86400"
/* A token shorter than this is not searched for in other headers: a
 * short value would match by chance. */
#define TOKEN_SEARCH_MIN    16

/* A section with MCPAuthorizationServers, as the configuration has it. */
typedef struct section_t {
    server_rec *s;
    const char *path;           /* a plain <Location> path, or NULL */
    const char *where;          /* "<LocationMatch ...> at file:line" */
    ap_conf_vector_t *mconfig;  /* the section's own per-directory config */
} section_t;

/* Every section of this configuration generation (reset in pre_config,
 * read-only once requests run). */
static apr_array_header_t *sections;

static mcp_resource_conf_t *conf_of(ap_conf_vector_t *v)
{
    mcp_dir_conf_t *dc = ap_get_module_config(v, &mcp_session_module);
    return dc ? dc->oauth : NULL;
}

/* ------------------------------------------------------------------ */
/* Configuration                                                       */

void *mcp_resource_merge(apr_pool_t *p, const mcp_resource_conf_t *base,
                         const mcp_resource_conf_t *add)
{
    mcp_resource_conf_t *c;

    if (!base || !add) {
        return (void *)(add ? add : base);
    }
    c = apr_pcalloc(p, sizeof(*c));
    /* the section goes with the servers it was recorded for */
    c->servers = add->servers ? add->servers : base->servers;
    c->section = add->servers ? add->section : base->section;
    c->resource = add->resource ? add->resource : base->resource;
    c->scopes = add->scopes ? add->scopes : base->scopes;
    c->require_scopes = add->require_scopes ? add->require_scopes
                                            : base->require_scopes;
    c->token_scopes = add->token_scopes ? add->token_scopes
                                        : base->token_scopes;
    c->principal = add->principal ? add->principal : base->principal;
    c->name = add->name ? add->name : base->name;
    c->documentation = add->documentation ? add->documentation
                                          : base->documentation;
    c->max_age = add->max_age >= 0 ? add->max_age : base->max_age;
    c->pass_token = add->pass_token >= 0 ? add->pass_token : base->pass_token;
    return c;
}

static mcp_resource_conf_t *own_conf(cmd_parms *cmd, void *dcv)
{
    mcp_dir_conf_t *dc = dcv;

    if (!dc->oauth) {
        dc->oauth = apr_pcalloc(cmd->pool, sizeof(*dc->oauth));
        dc->oauth->max_age = -1;
        dc->oauth->pass_token = -1;
    }
    return dc->oauth;
}

static const char *where_of(cmd_parms *cmd)
{
    return cmd->directive ? apr_psprintf(cmd->pool, "%s:%d",
                                         cmd->directive->filename,
                                         cmd->directive->line_num)
                          : "command line";
}

/* The section around the directive: its name ("<Location") and whether
 * its path can be a resource identifier's (a plain <Location> path). */
static const char *enclosing(cmd_parms *cmd, int *plain)
{
    const ap_directive_t *d;

    *plain = 0;
    for (d = cmd->directive ? cmd->directive->parent : NULL; d; d = d->parent) {
        if (!strcasecmp(d->directive, "<Location")) {
            /* not <Location ~ "regex">, not a wildcard */
            *plain = cmd->path && cmd->path[0] == '/'
                     && !strpbrk(cmd->path, "*?[")
                     && (!d->args || d->args[strspn(d->args, " \t")] != '~');
            return d->directive;
        }
        if (!strncasecmp(d->directive, "<Location", 9)
            || !strncasecmp(d->directive, "<Directory", 10)
            || !strncasecmp(d->directive, "<Files", 6)
            || !strncasecmp(d->directive, "<Proxy", 6)) {
            return d->directive;
        }
    }
    return "<Location";
}

static int is_loopback(const char *host)
{
    return host && (!strcasecmp(host, "localhost") || !strncmp(host, "127.", 4)
                    || !strcmp(host, "::1"));
}

static const char *set_servers(cmd_parms *cmd, void *dcv, const char *arg)
{
    mcp_resource_conf_t *c = own_conf(cmd, dcv);
    const char *problem = mcp_oauth_url_problem(cmd->temp_pool, arg, 0);
    section_t *sec;
    apr_uri_t u;
    int plain;

    if (problem) {
        return apr_psprintf(cmd->pool, MCPLOG(01000) "%s: '%s' is not an "
                            "authorization server's issuer URL: %s",
                            cmd->cmd->name, arg, problem);
    }
    if (apr_uri_parse(cmd->temp_pool, arg, &u) == APR_SUCCESS
        && !strcasecmp(u.scheme, "http") && !is_loopback(u.hostname)) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, cmd->server, MCPLOG(01001)
                     "%s %s (%s): an issuer on plain http; clients and the "
                     "OAuth specifications expect https outside loopback",
                     cmd->cmd->name, arg, where_of(cmd));
    }
    if (!c->servers) {
        const char *section = enclosing(cmd, &plain);

        c->servers = apr_array_make(cmd->pool, 2, sizeof(const char *));
        c->section = plain ? cmd->path : NULL;
        if (!sections) {
            sections = apr_array_make(cmd->pool, 4, sizeof(section_t));
        }
        sec = apr_array_push(sections);
        sec->s = cmd->server;
        sec->path = c->section;
        sec->where = apr_psprintf(cmd->pool, "%s %s> at %s", section,
                                  cmd->path ? cmd->path : "", where_of(cmd));
        /* mconfig is the section's own vector (create_dir made dcv in it) */
        sec->mconfig = cmd->context;
    }
    APR_ARRAY_PUSH(c->servers, const char *) = arg;
    return NULL;
}

static const char *set_identifier(cmd_parms *cmd, void *dcv, const char *arg)
{
    const char *canonical = mcp_oauth_resource_canonical(cmd->pool, arg);

    if (!canonical) {
        const char *problem = mcp_oauth_url_problem(cmd->temp_pool, arg, 0);
        return apr_psprintf(cmd->pool, MCPLOG(01002) "%s: '%s' is not a "
                            "resource identifier: %s", cmd->cmd->name, arg,
                            problem ? problem : "it has no canonical form");
    }
    own_conf(cmd, dcv)->resource = canonical;
    return NULL;
}

static const char *add_scope(cmd_parms *cmd, apr_array_header_t **list,
                             const char *arg)
{
    if (!mcp_oauth_scope_valid(arg)) {
        return apr_psprintf(cmd->pool, MCPLOG(01003) "%s: '%s' is not an "
                            "OAuth scope (visible ASCII without '\"' or "
                            "'\\')", cmd->cmd->name, arg);
    }
    if (!*list) {
        *list = apr_array_make(cmd->pool, 4, sizeof(const char *));
    }
    APR_ARRAY_PUSH(*list, const char *) = arg;
    return NULL;
}

static const char *set_scopes(cmd_parms *cmd, void *dcv, const char *arg)
{
    if (!strcmp(arg, "offline_access")) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, cmd->server, MCPLOG(01004)
                     "%s offline_access (%s): a scope of the authorization "
                     "server, not of this resource; MCP 2026-07-28 says a "
                     "resource SHOULD NOT list it", cmd->cmd->name,
                     where_of(cmd));
    }
    return add_scope(cmd, &own_conf(cmd, dcv)->scopes, arg);
}

static const char *set_require(cmd_parms *cmd, void *dcv, const char *arg)
{
    return add_scope(cmd, &own_conf(cmd, dcv)->require_scopes, arg);
}

static const char *parse_expr(cmd_parms *cmd, const char *arg,
                              const void **out)
{
    const char *err = NULL;
    ap_expr_info_t *expr = ap_expr_parse_cmd(cmd, arg,
                                             AP_EXPR_FLAG_STRING_RESULT,
                                             &err, NULL);
    if (err) {
        return apr_psprintf(cmd->pool, MCPLOG(01005) "%s: cannot parse "
                            "expression '%s': %s", cmd->cmd->name, arg, err);
    }
    *out = expr;
    return NULL;
}

static const char *set_token_scopes(cmd_parms *cmd, void *dcv, const char *arg)
{
    return parse_expr(cmd, arg, &own_conf(cmd, dcv)->token_scopes);
}

static const char *set_principal(cmd_parms *cmd, void *dcv, const char *arg)
{
    return parse_expr(cmd, arg, &own_conf(cmd, dcv)->principal);
}

static const char *set_name(cmd_parms *cmd, void *dcv, const char *arg)
{
    const unsigned char *c;

    for (c = (const unsigned char *)arg; *c; c++) {
        if (*c < 0x20 || *c == 0x7f) {
            break;
        }
    }
    if (!*arg || *c || strlen(arg) > 512) {
        return apr_psprintf(cmd->pool, MCPLOG(01006) "%s: the name must be "
                            "1 to 512 characters without control characters",
                            cmd->cmd->name);
    }
    own_conf(cmd, dcv)->name = arg;
    return NULL;
}

static const char *set_documentation(cmd_parms *cmd, void *dcv,
                                     const char *arg)
{
    const char *problem = mcp_oauth_url_problem(cmd->temp_pool, arg, 1);

    if (problem) {
        return apr_psprintf(cmd->pool, MCPLOG(01007) "%s: '%s' is not a "
                            "documentation URL: %s", cmd->cmd->name, arg,
                            problem);
    }
    own_conf(cmd, dcv)->documentation = arg;
    return NULL;
}

static const char *set_max_age(cmd_parms *cmd, void *dcv, const char *arg)
{
    char *end;
    apr_int64_t n = apr_strtoi64(arg, &end, 10);

    if (!*arg || *end || n < 0 || n > MAX_AGE_LIMIT) {
        return apr_psprintf(cmd->pool, MCPLOG(01008) "%s: '%s' is not a "
                            "number of seconds from 0 to %d", cmd->cmd->name,
                            arg, MAX_AGE_LIMIT);
    }
    own_conf(cmd, dcv)->max_age = apr_time_from_sec(n);
    return NULL;
}

static const char *set_pass_token(cmd_parms *cmd, void *dcv, const char *arg)
{
    if (strcasecmp(arg, "on") && strcasecmp(arg, "off")) {
        return apr_psprintf(cmd->pool, "%s must be On or Off",
                            cmd->cmd->name);
    }
    own_conf(cmd, dcv)->pass_token = !strcasecmp(arg, "on");
    return NULL;
}

static const struct {
    const char *name;
    const char *(*set)(cmd_parms *cmd, void *dcv, const char *arg);
} setters[] = {
    { "MCPAuthorizationServers", set_servers },
    { "MCPResourceIdentifier", set_identifier },
    { "MCPResourceScopes", set_scopes },
    { "MCPRequireScope", set_require },
    { "MCPTokenScopes", set_token_scopes },
    { "MCPSessionPrincipal", set_principal },
    { "MCPResourceName", set_name },
    { "MCPResourceDocumentation", set_documentation },
    { "MCPResourceMetadataMaxAge", set_max_age },
    { "MCPBackendPassToken", set_pass_token },
};

const char *mcp_resource_set(cmd_parms *cmd, void *dcv, const char *arg)
{
    apr_size_t i;

    /* the document is JSON: a value that is not UTF-8 could not be in it */
    if (!mcp_json_utf8_valid(arg, strlen(arg))) {
        return apr_psprintf(cmd->pool, MCPLOG(01019) "%s: the value is not "
                            "UTF-8", cmd->cmd->name);
    }
    for (i = 0; i < sizeof(setters) / sizeof(setters[0]); i++) {
        if (!strcasecmp(cmd->cmd->name, setters[i].name)) {
            return setters[i].set(cmd, dcv, arg);
        }
    }
    return apr_psprintf(cmd->pool, "%s: not a directive of mcp_resource.c",
                        cmd->cmd->name);
}

/* The well-known path of a section's document when it has no
 * MCPResourceIdentifier (the host does not change the path). */
static const char *section_metadata_path(apr_pool_t *p, const char *path)
{
    const char *c = mcp_oauth_resource_canonical(p, apr_pstrcat(
                                                     p, "http://localhost",
                                                     path, NULL));
    return c ? mcp_oauth_metadata_path(p, c) : NULL;
}

static const char *entry_metadata_path(apr_pool_t *p, const section_t *e)
{
    const mcp_resource_conf_t *c = conf_of(e->mconfig);

    if (c && c->resource) {
        return mcp_oauth_metadata_path(p, c->resource);
    }
    return e->path ? section_metadata_path(p, e->path) : NULL;
}

int mcp_resource_check(apr_pool_t *pconf, apr_pool_t *plog, server_rec *s)
{
    apr_pool_t *p = plog;
    int i, j, rv = OK;

    for (i = 0; sections && i < sections->nelts; i++) {
        section_t *e = &APR_ARRAY_IDX(sections, i, section_t);
        const char *path = entry_metadata_path(p, e);

        if (!path) {
            ap_log_error(APLOG_MARK, APLOG_EMERG, 0, e->s, MCPLOG(01009)
                         "MCPAuthorizationServers in %s: this section's path "
                         "cannot make a resource identifier (a pattern, or "
                         "not a <Location>); set MCPResourceIdentifier there, "
                         "e.g. MCPResourceIdentifier https://mcp.example.com"
                         "/mcp", e->where);
            rv = !OK;
            continue;
        }
        for (j = 0; j < i; j++) {
            section_t *o = &APR_ARRAY_IDX(sections, j, section_t);
            const char *other = entry_metadata_path(p, o);

            if (o->s == e->s && other && !strcmp(other, path)) {
                ap_log_error(APLOG_MARK, APLOG_EMERG, 0, e->s, MCPLOG(01010)
                             "MCPAuthorizationServers in %s and in %s: both "
                             "would serve their document at %s; give one "
                             "another MCPResourceIdentifier, or set it in one "
                             "section", o->where, e->where, path);
                rv = !OK;
            }
        }
    }
    return rv;
}

/* ------------------------------------------------------------------ */
/* Identifiers                                                         */

/* scheme://ServerName[:port]<section path>, canonical; NULL when the
 * name makes no URL (logged). */
static const char *default_identifier(request_rec *r, const char *section)
{
    server_rec *s = r->server;
    const char *host = s->server_hostname ? s->server_hostname : "localhost";
    apr_port_t port = s->port ? s->port
                      : r->connection->local_addr ? r->connection->local_addr->port
                      : 0;
    const char *url, *canonical;

    if (strchr(host, ':') && host[0] != '[') {
        host = apr_pstrcat(r->pool, "[", host, "]", NULL);
    }
    url = apr_psprintf(r->pool, "%s://%s%s%s%s", ap_run_http_scheme(r), host,
                       port ? ":" : "", port ? apr_itoa(r->pool, port) : "",
                       section);
    canonical = mcp_oauth_resource_canonical(r->pool, url);
    if (!canonical) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, MCPLOG(01011)
                      "the default resource identifier %s is not a URL (the "
                      "server's name?); set MCPResourceIdentifier",
                      ap_escape_logitem(r->pool, url));
    }
    return canonical;
}

static const char *identifier_of(request_rec *r, const mcp_resource_conf_t *c)
{
    if (c->resource) {
        return c->resource;
    }
    return c->section ? default_identifier(r, c->section) : NULL;
}

static mcp_resource_conf_t *request_conf(request_rec *r)
{
    return conf_of(r->per_dir_config);
}

const char *mcp_resource_identifier(request_rec *r)
{
    mcp_resource_conf_t *c = request_conf(r);

    return c && c->servers ? identifier_of(r, c) : NULL;
}

/* ------------------------------------------------------------------ */
/* The document                                                        */

/* The section whose document r asks for, with its effective settings
 * (the host's defaults, then the section's own), or NULL. */
static const mcp_resource_conf_t *document_of(request_rec *r,
                                              const char **resource)
{
    mcp_resource_conf_t *defaults = conf_of(r->server->lookup_defaults);
    int pass, i;

    /* this host's sections first, then the main server's (vhosts have
     * them too) */
    for (pass = 0; pass < 2; pass++) {
        for (i = 0; sections && i < sections->nelts; i++) {
            section_t *e = &APR_ARRAY_IDX(sections, i, section_t);
            const mcp_resource_conf_t *c;
            const char *id, *path;

            if (pass == 0 ? e->s != r->server
                : (e->s != ap_server_conf || r->server == ap_server_conf)) {
                continue;
            }
            c = mcp_resource_merge(r->pool, defaults, conf_of(e->mconfig));
            if (!c || !c->servers || !(id = identifier_of(r, c))
                || !(path = mcp_oauth_metadata_path(r->pool, id))
                || strcmp(path, r->uri)) {
                continue;
            }
            *resource = id;
            return c;
        }
    }
    return NULL;
}

static int serve_document(request_rec *r, const mcp_resource_conf_t *c,
                          const char *resource)
{
    mcp_oauth_metadata_t m;
    apr_interval_time_t max_age = c->max_age >= 0 ? c->max_age
                                                  : DEFAULT_MAX_AGE;
    char hex[2 * MCP_SHA256_LEN + 1];
    char *body;
    apr_size_t len;
    int rc;

    memset(&m, 0, sizeof(m));
    m.resource = resource;
    m.authorization_servers = c->servers;
    m.scopes_supported = c->scopes;
    m.resource_name = c->name;
    m.resource_documentation = c->documentation;
    if (!(body = mcp_oauth_metadata_json(r->pool, &m))) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    len = strlen(body);
    mcp_sha256_hex(body, len, hex);
    hex[32] = '\0';
    MCP_STAT_INC(metadata_served);
    apr_table_setn(r->headers_out, "ETag",
                   apr_pstrcat(r->pool, "\"", hex, "\"", NULL));
    apr_table_setn(r->headers_out, "Cache-Control",
                   apr_psprintf(r->pool, "public, max-age=%" APR_TIME_T_FMT,
                                apr_time_sec(max_age)));
    ap_set_content_type(r, "application/json");
    if ((rc = ap_meets_conditions(r)) != OK) {
        ap_log_rerror(APLOG_MARK, APLOG_TRACE1, 0, r, MCPLOG(01013)
                      "metadata of %s: %d (conditional request)", resource, rc);
        r->status = rc;
        return rc == HTTP_NOT_MODIFIED ? OK : rc;
    }
    ap_set_content_length(r, len);
    ap_rwrite(body, (int)len, r);
    ap_log_rerror(APLOG_MARK, APLOG_TRACE1, 0, r, MCPLOG(01012)
                  "served the metadata of %s", resource);
    return OK;
}

/* Before any <Location> auth: the document must stay public. */
static int quick_handler(request_rec *r, int lookup)
{
    const mcp_resource_conf_t *c;
    const char *resource = NULL;

    if (lookup || !sections || !r->uri
        || strncmp(r->uri, MCP_OAUTH_WELL_KNOWN,
                   sizeof(MCP_OAUTH_WELL_KNOWN) - 1)
        || !(c = document_of(r, &resource))) {
        return DECLINED;
    }
    /* any origin may read it (browser clients) */
    apr_table_setn(r->err_headers_out, "Access-Control-Allow-Origin", "*");
    switch (r->method_number) {
    case M_GET:
        return serve_document(r, c, resource);
    case M_OPTIONS:
        apr_table_setn(r->headers_out, "Allow", DOC_METHODS);
        apr_table_setn(r->err_headers_out, "Access-Control-Allow-Methods",
                       DOC_METHODS);
        apr_table_setn(r->err_headers_out, "Access-Control-Allow-Headers",
                       DOC_ALLOW_HEADERS);
        apr_table_setn(r->err_headers_out, "Access-Control-Max-Age",
                       DOC_CORS_MAX_AGE);
        r->status = HTTP_NO_CONTENT;
        return OK;
    default:
        apr_table_setn(r->headers_out, "Allow", DOC_METHODS);
        r->allowed = (AP_METHOD_BIT << M_GET) | (AP_METHOD_BIT << M_OPTIONS);
        return mcp_response_error(r, HTTP_METHOD_NOT_ALLOWED, MCP_ERR_SERVER,
                                  "Method not allowed.");
    }
}

/* ------------------------------------------------------------------ */
/* Challenges                                                          */

/* Runs only once authentication succeeded (httpd calls authz after
 * authn): a 401/403 after it is a refusal of who the token names. */
static int authn_passed(request_rec *r)
{
    apr_table_setn(r->notes, AUTHN_NOTE, "1");
    return DECLINED;
}

static int collect(void *baton, const char *key, const char *value)
{
    APR_ARRAY_PUSH((apr_array_header_t *)baton, const char *) = value;
    return 1;
}

static const char *joined(apr_pool_t *p, const apr_array_header_t *a)
{
    const char *v = NULL;
    int i;

    for (i = 0; i < a->nelts; i++) {
        const char *e = APR_ARRAY_IDX(a, i, const char *);
        v = v ? apr_pstrcat(p, v, ", ", e, NULL) : e;
    }
    return v;
}

/* Complete r's WWW-Authenticate for a `status` answer: every Bearer
 * challenge gets our resource_metadata and scope, or a Bearer challenge
 * is added. `refusal`: an auth module refused an authenticated request
 * (the error hook), so the new challenge says why. */
static void complete(request_rec *r, const mcp_resource_conf_t *c,
                     int status, int refusal)
{
    apr_array_header_t *values = apr_array_make(r->pool, 2,
                                                sizeof(const char *));
    const char *resource = identifier_of(r, c), *before, *after, *how;
    mcp_oauth_challenge_t ch;
    int bearer = 0;

    memset(&ch, 0, sizeof(ch));
    ch.resource_metadata = resource ? mcp_oauth_metadata_url(r->pool, resource)
                                    : NULL;
    ch.scope = mcp_oauth_scopes_join(r->pool, c->scopes, NULL);
    apr_table_do(collect, values, r->err_headers_out, "WWW-Authenticate", NULL);
    apr_table_do(collect, values, r->headers_out, "WWW-Authenticate", NULL);
    before = joined(r->pool, values);
    after = before ? mcp_oauth_challenge_merge(r->pool, before, &ch, &bearer)
                   : NULL;
    if (bearer > 0) {
        how = "completed the Bearer challenge";
    }
    else {
        if (refusal && status == HTTP_UNAUTHORIZED) {
            ch.error = "invalid_token";
            ch.error_description = "the token is not accepted for this "
                                   "resource";
            how = "added a Bearer challenge (invalid_token: authenticated, "
                  "then refused)";
        }
        else if (refusal && status == HTTP_FORBIDDEN) {
            ch.error = "insufficient_scope";
            ch.scope = mcp_oauth_scopes_join(r->pool, c->require_scopes,
                                             c->scopes);
            how = "added a Bearer challenge (insufficient_scope: "
                  "authenticated, then refused)";
        }
        else {
            how = "added a Bearer challenge";
        }
        /* one field; a value that does not parse stays a field of its own */
        after = mcp_oauth_challenge_new(r->pool, &ch);
        if (before && bearer == 0) {
            after = apr_pstrcat(r->pool, before, ", ", after, NULL);
        }
    }
    if (before && !strcmp(before, after)) {
        return;
    }
    apr_table_unset(r->headers_out, "WWW-Authenticate");
    apr_table_unset(r->err_headers_out, "WWW-Authenticate");
    if (bearer < 0) {
        int i;
        for (i = 0; i < values->nelts; i++) {
            apr_table_addn(r->err_headers_out, "WWW-Authenticate",
                           APR_ARRAY_IDX(values, i, const char *));
        }
        apr_table_addn(r->err_headers_out, "WWW-Authenticate", after);
    }
    else {
        apr_table_setn(r->err_headers_out, "WWW-Authenticate", after);
    }
    MCP_STAT_INC(challenges);
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, MCPLOG(01014)
                  "%d: %s%s for %s%s", status, how,
                  bearer < 0 ? " (the existing WWW-Authenticate did not parse; "
                               "kept as it was)" : "",
                  resource ? resource : "(no resource identifier)",
                  before ? "" : " (there was none)");
}

/* An error answer httpd makes (an auth module's 401/403 included). */
static void error_challenge(request_rec *r)
{
    const mcp_resource_conf_t *c = request_conf(r);

    if (r->status != HTTP_UNAUTHORIZED && r->status != HTTP_FORBIDDEN) {
        return;
    }
    /* an internal redirect answers for the request it came from */
    if ((!c || !c->servers) && r->prev) {
        c = conf_of(r->prev->per_dir_config);
    }
    if (!c || !c->servers) {
        return;
    }
    complete(r, c, r->status,
             apr_table_get(r->notes, AUTHN_NOTE) != NULL
             || (r->prev && apr_table_get(r->prev->notes, AUTHN_NOTE)));
}

void mcp_resource_challenge(request_rec *r, int status)
{
    const mcp_resource_conf_t *c = request_conf(r);

    if (c && c->servers
        && (status == HTTP_UNAUTHORIZED || status == HTTP_FORBIDDEN)) {
        complete(r, c, status, 0);
    }
}

/* ------------------------------------------------------------------ */
/* Scopes and the principal                                            */

/* The expression's value, or NULL with *failed set (logged). */
static const char *run_expr(request_rec *r, const void *expr,
                            const char *directive, int *failed)
{
    const char *err = NULL;
    const char *v = ap_expr_str_exec(r, expr, &err);

    if (err) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, MCPLOG(01015)
                      "%s: the expression failed: %s; 500", directive, err);
        *failed = 1;
        return NULL;
    }
    return v;
}

static const char *granted_scopes(request_rec *r, const mcp_resource_conf_t *c,
                                  int *failed)
{
    static const char *const vars[] = {
        "OIDC_CLAIM_scope", "OIDC_CLAIM_scp", "OAUTH2_CLAIM_scope",
        "OAUTH2_CLAIM_scp", NULL
    };
    const char *v = NULL;
    int i;

    if (c->token_scopes) {
        return run_expr(r, c->token_scopes, "MCPTokenScopes", failed);
    }
    for (i = 0; vars[i] && !v; i++) {
        v = apr_table_get(r->subprocess_env, vars[i]);
    }
    return v;
}

int mcp_resource_scopes_ok(request_rec *r)
{
    const mcp_resource_conf_t *c = request_conf(r);
    apr_array_header_t *missing;
    mcp_oauth_challenge_t ch;
    const char *granted, *list, *resource;
    int failed = 0;

    /* enforced wherever set, MCPAuthorizationServers or not: fail closed */
    if (!c || !c->require_scopes) {
        return OK;
    }
    granted = granted_scopes(r, c, &failed);
    if (failed) {
        return mcp_response_error(r, HTTP_INTERNAL_SERVER_ERROR,
                                  MCP_ERR_INTERNAL, "Internal error: the "
                                  "token's scopes could not be read");
    }
    missing = mcp_oauth_scopes_missing(r->pool, c->require_scopes,
                                       mcp_oauth_scopes_parse(r->pool,
                                                              granted ? granted
                                                                      : ""));
    if (!missing->nelts) {
        return OK;
    }
    list = mcp_oauth_scopes_join(r->pool, missing, NULL);
    resource = c->servers ? identifier_of(r, c) : NULL;
    memset(&ch, 0, sizeof(ch));
    ch.error = "insufficient_scope";
    ch.error_description = apr_pstrcat(r->pool, "the token lacks the scope(s) ",
                                       list, NULL);
    ch.resource_metadata = resource ? mcp_oauth_metadata_url(r->pool, resource)
                                    : NULL;
    ch.scope = mcp_oauth_scopes_join(r->pool, c->require_scopes, c->scopes);
    apr_table_setn(r->err_headers_out, "WWW-Authenticate",
                   mcp_oauth_challenge_new(r->pool, &ch));
    MCP_STAT_INC(scope_refused);
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, MCPLOG(01016)
                  "user %s lacks the scope(s) %s (MCPRequireScope): 403 "
                  "insufficient_scope", r->user
                  ? ap_escape_logitem(r->pool, r->user) : "(none)", list);
    return mcp_response_error(r, HTTP_FORBIDDEN, MCP_ERR_SERVER,
                              apr_pstrcat(r->pool, "Forbidden: insufficient "
                                          "scope: the token lacks ", list,
                                          NULL));
}

const char *mcp_resource_principal(request_rec *r, int *failed)
{
    const mcp_resource_conf_t *c = request_conf(r);
    const char *v;

    *failed = 0;
    if (!c || !c->principal) {
        return r->user;
    }
    v = run_expr(r, c->principal, "MCPSessionPrincipal", failed);
    if (*failed) {
        return NULL;
    }
    /* "%{reqenv:X} %{REMOTE_USER}" with neither set is blanks */
    if (!v || !v[strspn(v, " \t")]) {
        if (c->servers) {
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, MCPLOG(01017)
                          "MCPSessionPrincipal gave nothing for this request "
                          "(is the auth module's variable set?): 500, no "
                          "session is made or used without a principal");
            *failed = 1;
        }
        return NULL;
    }
    return v;
}

/* ------------------------------------------------------------------ */
/* The token and the backend                                           */

typedef struct strip_t {
    apr_pool_t *p;
    const char *tokens[2];
    apr_array_header_t *names;
} strip_t;

static int find_token(void *baton, const char *key, const char *value)
{
    strip_t *st = baton;
    int i;

    for (i = 0; i < 2; i++) {
        if (st->tokens[i] && value && strstr(value, st->tokens[i])) {
            APR_ARRAY_PUSH(st->names, const char *) = apr_pstrdup(st->p, key);
            break;
        }
    }
    return 1;
}

void mcp_resource_strip_token(request_rec *r, apr_table_t *headers_in)
{
    const mcp_resource_conf_t *c = request_conf(r);
    const char *auth = apr_table_get(headers_in, "Authorization");
    strip_t st;
    int i, n;

    if (c && c->pass_token > 0) {
        return;
    }
    memset(&st, 0, sizeof(st));
    st.p = r->pool;
    st.names = apr_array_make(r->pool, 2, sizeof(const char *));
    if (auth) {
        APR_ARRAY_PUSH(st.names, const char *) = "Authorization";
        apr_table_unset(headers_in, "Authorization");
        if (!strncasecmp(auth, "Bearer ", 7)) {
            st.tokens[0] = auth + 7 + strspn(auth + 7, " ");
        }
    }
    /* mod_auth_openidc also hands the token on in its environment */
    st.tokens[1] = apr_table_get(r->subprocess_env, "OIDC_access_token");
    for (i = 0; i < 2; i++) {
        if (st.tokens[i] && strlen(st.tokens[i]) < TOKEN_SEARCH_MIN) {
            st.tokens[i] = NULL;
        }
    }
    if (st.tokens[0] || st.tokens[1]) {
        apr_table_do(find_token, &st, headers_in, NULL);
        for (i = auth ? 1 : 0; i < st.names->nelts; i++) {
            apr_table_unset(headers_in, APR_ARRAY_IDX(st.names, i,
                                                      const char *));
        }
    }
    /* mod_proxy_fcgi (scgi, uwsgi, ajp) sends r's environment too: r is
     * the sub-request going to the backend, its environment a copy */
    n = st.names->nelts;
    if (st.tokens[0] || st.tokens[1]) {
        apr_table_do(find_token, &st, r->subprocess_env, NULL);
    }
    if (apr_table_get(r->subprocess_env, "OIDC_access_token")) {
        APR_ARRAY_PUSH(st.names, const char *) = "OIDC_access_token";
    }
    for (i = n; i < st.names->nelts; i++) {
        apr_table_unset(r->subprocess_env, APR_ARRAY_IDX(st.names, i,
                                                         const char *));
        APR_ARRAY_IDX(st.names, i, const char *) = apr_pstrcat(
            r->pool, APR_ARRAY_IDX(st.names, i, const char *),
            " (environment)", NULL);
    }
    if (st.names->nelts) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, MCPLOG(01018)
                      "not passed to the backend (MCPBackendPassToken off): "
                      "%s", apr_array_pstrcat(r->pool, st.names, ','));
    }
}

/* ------------------------------------------------------------------ */

static int reset(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp)
{
    /* the sections of the configuration about to be read */
    sections = NULL;
    return OK;
}

void mcp_resource_register_hooks(apr_pool_t *p)
{
    ap_hook_pre_config(reset, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_quick_handler(quick_handler, NULL, NULL, APR_HOOK_FIRST);
    ap_hook_check_authz(authn_passed, NULL, NULL, APR_HOOK_FIRST,
                        AP_AUTH_INTERNAL_PER_CONF);
    /* last: after other modules' error filters, which may add headers */
    ap_hook_insert_error_filter(error_challenge, NULL, NULL, APR_HOOK_LAST);
}
