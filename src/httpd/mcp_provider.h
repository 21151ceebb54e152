/*
 * Providers (tools, resources, prompts, session stores) as other modules
 * register them: which API versions this module takes (mcp_api.h), and
 * the refusal of the others.
 */
#ifndef MCP_PROVIDER_H
#define MCP_PROVIDER_H

#include "httpd.h"
#include "apr_tables.h"

/* A provider registered under a version this module takes. */
typedef struct mcp_provider_entry_t {
    const char *name;
    const void *provider;
    int minor;                  /* the API minor it was built for: fields a
                                 * later minor added are read only from
                                 * providers that have them */
} mcp_provider_entry_t;

/* Every provider of `group` built for this API (an array of
 * mcp_provider_entry_t in *out, from p). A name registered only under
 * other versions gets an EMERG line (MCPS00003) naming both versions and
 * makes the result APR_EINVAL, once all are listed; s NULL: no log. */
apr_status_t mcp_provider_list(apr_pool_t *p, server_rec *s, const char *group,
                               apr_array_header_t **out);

/* Provider `name` of `group` built for this API, its minor in *minor; or
 * NULL, and then *other is a version it is registered under instead (NULL
 * when it is not registered at all). */
const void *mcp_provider_lookup(apr_pool_t *p, const char *group,
                                const char *name, int *minor,
                                const char **other);

/* Why a provider registered under `version` is refused, for a log line:
 * "tool 'x' was built for mod_mcp_session API 1; ...". */
const char *mcp_provider_refusal(apr_pool_t *p, const char *group,
                                 const char *name, const char *version);

#endif
