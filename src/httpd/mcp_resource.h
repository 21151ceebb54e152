/*
 * The endpoint as an OAuth protected resource (issue 13; README "OAuth:
 * an endpoint behind httpd's auth modules"). httpd's auth modules
 * (mod_auth_openidc, mod_oauth2, ...) validate the tokens; this file
 * tells clients how to get one and binds sessions to who they are:
 *
 *   - MCPAuthorizationServers turns it on for a section; the RFC 9728
 *     document is served by a quick_handler at
 *     /.well-known/oauth-protected-resource + the endpoint path, before
 *     any <Location> auth (it must stay public);
 *   - an insert_error_filter hook completes every 401/403 of such an
 *     endpoint (the auth module's challenge gets resource_metadata and
 *     scope; none gets a new Bearer challenge; an authenticated 403 is an
 *     insufficient_scope step-up); the module's own 401/403 answers get
 *     the same header through mcp_resource_challenge();
 *   - MCPRequireScope: scopes the module enforces (403 step-up), taken
 *     from MCPTokenScopes (default: the claim the auth module exported);
 *   - MCPSessionPrincipal: what sessions (and requestState) are bound
 *     to, instead of r->user: never the token's bytes;
 *   - MCPBackendPassToken off (default): the gateway strips the token
 *     (Authorization, and any header carrying its value) from what goes
 *     to MCPBackend.
 * The httpd-free pieces (challenge grammar, document, scopes) are
 * src/core/mcp_oauth.c. Log tags MCPS01000-MCPS01049.
 */
#ifndef MCP_RESOURCE_H
#define MCP_RESOURCE_H

#include "httpd.h"
#include "http_config.h"
#include "apr_tables.h"

/* Per directory; merged field by field (the section's own values win).
 * Lives in mcp_dir_conf_t as ->oauth (NULL: nothing set here). */
typedef struct mcp_resource_conf_t {
    apr_array_header_t *servers;        /* MCPAuthorizationServers */
    const char *resource;               /* MCPResourceIdentifier, canonical */
    apr_array_header_t *scopes;         /* MCPResourceScopes */
    apr_array_header_t *require_scopes; /* MCPRequireScope */
    const void *token_scopes;           /* MCPTokenScopes (ap_expr_info_t) */
    const void *principal;              /* MCPSessionPrincipal (ap_expr_info_t) */
    const char *name;                   /* MCPResourceName */
    const char *documentation;          /* MCPResourceDocumentation */
    apr_interval_time_t max_age;        /* MCPResourceMetadataMaxAge; -1 unset */
    int pass_token;                     /* MCPBackendPassToken; -1 unset */
    const char *section;                /* the <Location> path it was set in */
} mcp_resource_conf_t;

/* The directives, spliced into mcp_config_cmds (an extern array cannot
 * be): every entry calls mcp_resource_set, which dispatches on the
 * directive's name. Not in .htaccess: the document is served before any
 * .htaccess is read. */
const char *mcp_resource_set(cmd_parms *cmd, void *dc, const char *arg);

#define MCP_RESOURCE_CMDS                                                   \
    AP_INIT_ITERATE("MCPAuthorizationServers", mcp_resource_set, NULL,      \
                    ACCESS_CONF, "The issuer URLs of the authorization "    \
                    "servers whose tokens this endpoint accepts; turns on " \
                    "the RFC 9728 document and the Bearer challenges"),     \
    AP_INIT_TAKE1("MCPResourceIdentifier", mcp_resource_set, NULL,          \
                  ACCESS_CONF, "The endpoint's public URL, the audience of "\
                  "its tokens (default: scheme://ServerName[:port]"         \
                  "<Location path>)"),                                      \
    AP_INIT_ITERATE("MCPResourceScopes", mcp_resource_set, NULL,            \
                    ACCESS_CONF | RSRC_CONF, "scopes_supported of the "     \
                    "document, scope= of the challenges"),                  \
    AP_INIT_ITERATE("MCPRequireScope", mcp_resource_set, NULL,              \
                    ACCESS_CONF | RSRC_CONF, "Scopes a token must carry "   \
                    "here: a missing one gets 403 insufficient_scope"),     \
    AP_INIT_TAKE1("MCPTokenScopes", mcp_resource_set, NULL,                 \
                  ACCESS_CONF | RSRC_CONF, "Expression giving the token's " \
                  "scopes (default: OIDC_CLAIM_scope, else "                \
                  "OAUTH2_CLAIM_scope, or their scp)"),                     \
    AP_INIT_TAKE1("MCPSessionPrincipal", mcp_resource_set, NULL,            \
                  ACCESS_CONF | RSRC_CONF, "Expression giving who sessions "\
                  "are bound to (default: the authenticated user)"),        \
    AP_INIT_TAKE1("MCPResourceName", mcp_resource_set, NULL,                \
                  ACCESS_CONF | RSRC_CONF, "resource_name of the document"),\
    AP_INIT_TAKE1("MCPResourceDocumentation", mcp_resource_set, NULL,       \
                  ACCESS_CONF | RSRC_CONF, "resource_documentation of the " \
                  "document (a URL)"),                                      \
    AP_INIT_TAKE1("MCPResourceMetadataMaxAge", mcp_resource_set, NULL,      \
                  ACCESS_CONF | RSRC_CONF, "Seconds clients may cache the " \
                  "document (default 3600)"),                               \
    AP_INIT_TAKE1("MCPBackendPassToken", mcp_resource_set, NULL,            \
                  ACCESS_CONF | RSRC_CONF, "on: send the client's token to "\
                  "MCPBackend (default off)")

void *mcp_resource_merge(apr_pool_t *p, const mcp_resource_conf_t *base,
                         const mcp_resource_conf_t *add);

/* check_config: a section with MCPAuthorizationServers whose path cannot
 * make a resource identifier (regex or <Directory>) without
 * MCPResourceIdentifier, two sections with one well-known path in a
 * host, ... are refused here. */
int mcp_resource_check(apr_pool_t *pconf, apr_pool_t *plog, server_rec *s);

void mcp_resource_register_hooks(apr_pool_t *p);

/* The resource identifier of this request's endpoint (configured, or
 * scheme://ServerName[:port]<section path>); NULL when the endpoint has
 * no MCPAuthorizationServers. */
const char *mcp_resource_identifier(request_rec *r);

/* For the handler's own 401/403 answers: set WWW-Authenticate in
 * r->err_headers_out as the error hook would (no-op without
 * MCPAuthorizationServers). */
void mcp_resource_challenge(request_rec *r, int status);

/* The handler's scope check, first thing after the Origin check: OK, or
 * the 403 insufficient_scope answer already sent (returns DONE). */
int mcp_resource_scopes_ok(request_rec *r);

/* Who sessions and requestState are bound to: MCPSessionPrincipal's
 * value, else r->user; NULL when anonymous. An expression that yields
 * "" on an endpoint with MCPAuthorizationServers is an error the caller
 * answers with 500 (*failed set, logged here). */
const char *mcp_resource_principal(request_rec *r, int *failed);

/* Gateway: remove the client's token from the headers going to the
 * backend unless MCPBackendPassToken on. */
void mcp_resource_strip_token(request_rec *r, apr_table_t *headers_in);

#endif
