/*
 * OAuth protected-resource pieces of the httpd-free core (issue 13):
 * RFC 6750 Bearer challenges (build one, or add our parameters to the
 * challenges an auth module made), the RFC 9728 Protected Resource
 * Metadata document, its well-known location, and scope lists.
 *
 * httpd's auth modules validate tokens (mod_auth_openidc, mod_oauth2);
 * this file only says how a client gets one. The glue that applies it
 * to requests is src/httpd/mcp_resource.c.
 *
 * Grammar (RFC 9110 §11): a WWW-Authenticate field value is a list of
 *   challenge = auth-scheme [ 1*SP ( token68 / #auth-param ) ]
 *   auth-param = token BWS "=" BWS ( token / quoted-string )
 * separated by commas; commas also separate the auth-params of one
 * challenge, and may sit inside quoted strings. A new challenge starts
 * at a token that is followed by a space and not by "=". Several field
 * lines of the header are one list (the glue joins them with ", ").
 */
#ifndef MCP_OAUTH_H
#define MCP_OAUTH_H

#include "apr_pools.h"
#include "apr_tables.h"

/* RFC 9728 §3: inserted between the host and the resource's path. */
#define MCP_OAUTH_WELL_KNOWN "/.well-known/oauth-protected-resource"

/* What our Bearer challenges carry. Every string is already valid (the
 * directives checked it); NULL or "" means absent. */
typedef struct mcp_oauth_challenge_t {
    const char *resource_metadata;  /* the metadata document's URL */
    const char *scope;              /* space-separated scopes */
    const char *error;              /* for a challenge we make: e.g.
                                     * "invalid_token", "insufficient_scope" */
    const char *error_description;  /* quoted on output (may hold '"') */
} mcp_oauth_challenge_t;

/* The fields of the metadata document, in the order they are written.
 * authorization_servers has at least one entry. */
typedef struct mcp_oauth_metadata_t {
    const char *resource;
    const apr_array_header_t *authorization_servers;  /* const char * */
    const apr_array_header_t *scopes_supported;       /* or NULL/empty */
    const char *resource_name;                        /* or NULL */
    const char *resource_documentation;               /* or NULL */
} mcp_oauth_metadata_t;

/* s as an RFC 9110 quoted-string: '"' and '\\' escaped, control
 * characters (which a header cannot carry) replaced by ' '. */
const char *mcp_oauth_quote(apr_pool_t *p, const char *s);

/* A new Bearer challenge: `Bearer error="…", error_description="…",
 * resource_metadata="…", scope="…"` (the absent ones left out; at
 * least "Bearer"). */
const char *mcp_oauth_challenge_new(apr_pool_t *p,
                                    const mcp_oauth_challenge_t *c);

/* The field value `value` (one or several challenges) with every Bearer
 * challenge (scheme compared case-insensitively) completed:
 * resource_metadata and scope appended when it has none of its own
 * (error/error_description of c are not used here). Other schemes, and
 * the parameters already there, are kept byte for byte. *bearer is set
 * to the number of Bearer challenges found (0: the value is returned
 * unchanged and the caller may add mcp_oauth_challenge_new()); a Bearer
 * with a token68, which RFC 6750 does not allow, is left as it is and
 * not counted. A value that does not parse is returned unchanged with
 * *bearer = -1. */
const char *mcp_oauth_challenge_merge(apr_pool_t *p, const char *value,
                                      const mcp_oauth_challenge_t *c,
                                      int *bearer);

/* RFC 6749 §3.3 scope-token: 1*( %x21 / %x23-5B / %x5D-7E ). */
int mcp_oauth_scope_valid(const char *scope);

/* Split granted scopes: separated by blanks or commas (mod_auth_openidc
 * joins a JSON array claim with ","), empty parts dropped. Never NULL. */
apr_array_header_t *mcp_oauth_scopes_parse(apr_pool_t *p, const char *s);

/* The scopes of `required` missing from `granted` (exact match), in
 * required's order; an empty array when none is missing. */
apr_array_header_t *mcp_oauth_scopes_missing(apr_pool_t *p,
                                             const apr_array_header_t *required,
                                             const apr_array_header_t *granted);

/* The union of a and b (a's order, then b's new ones), joined by ' ';
 * NULL when both are empty. */
const char *mcp_oauth_scopes_join(apr_pool_t *p, const apr_array_header_t *a,
                                  const apr_array_header_t *b);

/* NULL when url is an absolute http or https URL with a host, no
 * userinfo and no fragment (and, unless query_ok, no query); otherwise
 * why not, for a config error message. */
const char *mcp_oauth_url_problem(apr_pool_t *p, const char *url, int query_ok);

/* A resource identifier in canonical form (MCP spec: lowercase scheme
 * and host, no fragment, no trailing slash unless the path is "/",
 * default port left out). NULL when mcp_oauth_url_problem(p, url, 0)
 * objects (a query included). */
const char *mcp_oauth_resource_canonical(apr_pool_t *p, const char *url);

/* Where the metadata of `resource` (canonical) lives: the path
 * MCP_OAUTH_WELL_KNOWN + the resource's path (without the root slash:
 * "/" gives MCP_OAUTH_WELL_KNOWN alone, RFC 9728 §3.1), and the
 * absolute URL on the resource's origin. The resource is made
 * canonical first; NULL when it cannot be. */
const char *mcp_oauth_metadata_path(apr_pool_t *p, const char *resource);
const char *mcp_oauth_metadata_url(apr_pool_t *p, const char *resource);

/* The document (compact JSON, zero-valued fields omitted, RFC 9728
 * §3.2), with "bearer_methods_supported": ["header"]. NULL only when m
 * has no resource or no authorization server, or a string in it is not
 * UTF-8. */
char *mcp_oauth_metadata_json(apr_pool_t *p, const mcp_oauth_metadata_t *m);

#endif
