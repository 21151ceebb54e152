/* STUB (h-core replaces it): see mcp_oauth.h. */
#include "mcp_oauth.h"

const char *mcp_oauth_quote(apr_pool_t *p, const char *s)
{ (void)p; return s; }
const char *mcp_oauth_challenge_new(apr_pool_t *p, const mcp_oauth_challenge_t *c)
{ (void)p; (void)c; return "Bearer"; }
const char *mcp_oauth_challenge_merge(apr_pool_t *p, const char *value,
                                      const mcp_oauth_challenge_t *c, int *bearer)
{ (void)p; (void)c; *bearer = -1; return value; }
int mcp_oauth_scope_valid(const char *scope)
{ (void)scope; return 0; }
apr_array_header_t *mcp_oauth_scopes_parse(apr_pool_t *p, const char *s)
{ (void)s; return apr_array_make(p, 1, sizeof(const char *)); }
apr_array_header_t *mcp_oauth_scopes_missing(apr_pool_t *p,
                                             const apr_array_header_t *required,
                                             const apr_array_header_t *granted)
{ (void)required; (void)granted; return apr_array_make(p, 1, sizeof(const char *)); }
const char *mcp_oauth_scopes_join(apr_pool_t *p, const apr_array_header_t *a,
                                  const apr_array_header_t *b)
{ (void)p; (void)a; (void)b; return NULL; }
const char *mcp_oauth_url_problem(apr_pool_t *p, const char *url, int query_ok)
{ (void)p; (void)url; (void)query_ok; return "not implemented"; }
const char *mcp_oauth_resource_canonical(apr_pool_t *p, const char *url)
{ (void)p; (void)url; return NULL; }
const char *mcp_oauth_metadata_path(apr_pool_t *p, const char *resource)
{ (void)p; (void)resource; return NULL; }
const char *mcp_oauth_metadata_url(apr_pool_t *p, const char *resource)
{ (void)p; (void)resource; return NULL; }
char *mcp_oauth_metadata_json(apr_pool_t *p, const mcp_oauth_metadata_t *m)
{ (void)p; (void)m; return NULL; }
