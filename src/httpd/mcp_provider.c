/*
 * Which providers this module takes: those registered under
 * "MCP_API_MAJOR.m" with m <= MCP_API_MINOR (mcp_api.h). httpd keys
 * providers by group, name and version string, so the versions a group
 * was registered under are enumerated (ap_list_provider_groups) and each
 * is looked at: nothing built for another version is ignored silently.
 */
#include <stdio.h>
#include <string.h>
#include "httpd.h"
#include "apr_strings.h"
#include "apr_hash.h"
#include "ap_provider.h"
#include "http_log.h"
#include "mcp_private.h"
#include "mcp_api.h"
#include "mcp_provider.h"

/* 1 when v is "MAJOR.MINOR" as this API writes it (no sign, space or
 * leading zero) with our major and a minor not above ours. */
static int version_taken(const char *v, int *minor)
{
    char canon[32];
    int major, m;

    if (sscanf(v, "%d.%d", &major, &m) != 2 || major != MCP_API_MAJOR
        || m < 0 || m > MCP_API_MINOR) {
        return 0;
    }
    apr_snprintf(canon, sizeof(canon), "%d.%d", major, m);
    if (strcmp(canon, v)) {
        return 0;
    }
    *minor = m;
    return 1;
}

/* The versions providers of `group` are registered under. */
static apr_array_header_t *versions(apr_pool_t *p, const char *group)
{
    apr_array_header_t *all = ap_list_provider_groups(p);
    apr_array_header_t *out = apr_array_make(p, 2, sizeof(const char *));
    int i;

    for (i = 0; all && i < all->nelts; i++) {
        ap_list_provider_groups_t *g = &APR_ARRAY_IDX(all, i,
                                                      ap_list_provider_groups_t);
        if (!strcmp(g->provider_group, group)) {
            APR_ARRAY_PUSH(out, const char *) = g->provider_version;
        }
    }
    return out;
}

static const char *kind(const char *group)
{
    return !strcmp(group, MCP_TOOL_PROVIDER_GROUP) ? "tool"
           : !strcmp(group, MCP_RESOURCE_PROVIDER_GROUP) ? "resource"
           : !strcmp(group, MCP_PROMPT_PROVIDER_GROUP) ? "prompt"
           : !strcmp(group, MCP_STORE_PROVIDER_GROUP) ? "session store"
           : group;
}

const char *mcp_provider_refusal(apr_pool_t *p, const char *group,
                                 const char *name, const char *version)
{
    return apr_psprintf(p, "%s '%s' was built for mod_mcp_session API %s; "
                        "this mod_mcp_session is API " MCP_API_VERSION ": "
                        "rebuild it against this version's headers",
                        kind(group), name, version);
}

apr_status_t mcp_provider_list(apr_pool_t *p, server_rec *s, const char *group,
                               apr_array_header_t **out)
{
    apr_array_header_t *vs = versions(p, group);
    apr_array_header_t *other = apr_array_make(p, 1, sizeof(const char *));
    apr_hash_t *taken = apr_hash_make(p), *refused = apr_hash_make(p);
    apr_status_t rv = APR_SUCCESS;
    int i, j, minor;

    *out = apr_array_make(p, 8, sizeof(mcp_provider_entry_t));
    for (i = 0; i < vs->nelts; i++) {
        const char *v = APR_ARRAY_IDX(vs, i, const char *);
        int ok = version_taken(v, &minor);
        apr_array_header_t *names = ap_list_provider_names(p, group, v);

        for (j = 0; names && j < names->nelts; j++) {
            const char *name = APR_ARRAY_IDX(names, j,
                                             ap_list_provider_names_t).provider_name;
            /* index + 1 of its entry */
            apr_uintptr_t at = (apr_uintptr_t)apr_hash_get(taken, name,
                                                     APR_HASH_KEY_STRING);
            mcp_provider_entry_t *e;

            if (!ok) {
                if (!apr_hash_get(refused, name, APR_HASH_KEY_STRING)) {
                    apr_hash_set(refused, name, APR_HASH_KEY_STRING, v);
                    APR_ARRAY_PUSH(other, const char *) = name;
                }
                continue;
            }
            if (!at) {
                e = apr_array_push(*out);
                apr_hash_set(taken, name, APR_HASH_KEY_STRING,
                             (void *)(apr_uintptr_t)(*out)->nelts);
            }
            else if ((e = &APR_ARRAY_IDX(*out, at - 1,
                                         mcp_provider_entry_t))->minor >= minor) {
                continue;       /* a later minor of ours was seen already */
            }
            e->name = name;
            e->provider = ap_lookup_provider(group, name, v);
            e->minor = minor;
        }
    }
    /* registered for us too (a module may register under both): taken */
    for (i = 0; i < other->nelts; i++) {
        const char *name = APR_ARRAY_IDX(other, i, const char *);
        if (apr_hash_get(taken, name, APR_HASH_KEY_STRING)) {
            continue;
        }
        if (s) {
            ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, MCPLOG(00003) "%s",
                         mcp_provider_refusal(p, group, name,
                                              apr_hash_get(refused, name,
                                                           APR_HASH_KEY_STRING)));
        }
        rv = APR_EINVAL;
    }
    return rv;
}

const void *mcp_provider_lookup(apr_pool_t *p, const char *group,
                                const char *name, int *minor,
                                const char **other)
{
    apr_array_header_t *vs = versions(p, group);
    const void *best = NULL;
    int i, m;

    *other = NULL;
    for (i = 0; i < vs->nelts; i++) {
        const char *v = APR_ARRAY_IDX(vs, i, const char *);
        const void *prov = ap_lookup_provider(group, name, v);

        if (!prov) {
            continue;
        }
        if (!version_taken(v, &m)) {
            if (!*other) {
                *other = v;
            }
        }
        else if (!best || m > *minor) {
            best = prov;
            *minor = m;
        }
    }
    return best;
}
