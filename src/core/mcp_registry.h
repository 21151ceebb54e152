/*
 * What this server offers (httpd-free core): the tools, resources and
 * prompts registered by provider modules, indexed once at startup so a
 * request only looks things up.
 */
#ifndef MCP_REGISTRY_H
#define MCP_REGISTRY_H

#include "apr_pools.h"
#include "apr_tables.h"
#include "apr_hash.h"
#include <jansson.h>
#include "mcp_tool.h"

typedef struct mcp_registry_t {
    apr_pool_t *pool;
    const char *server_name;
    const char *server_version;
    const char *instructions;       /* optional */
    apr_array_header_t *tools;      /* const mcp_tool_t * */
    apr_array_header_t *resources;  /* const mcp_resource_t *, concrete URIs */
    apr_array_header_t *templates;  /* const mcp_resource_t *, templated */
    apr_array_header_t *prompts;    /* const mcp_prompt_t * */
    apr_hash_t *tool_by_name;
    apr_hash_t *prompt_by_name;
    apr_hash_t *resource_by_uri;
    apr_hash_t *schema_by_tool;     /* name -> parsed input schema (json_t *) */
    /* Results of the list methods, built by mcp_registry_seal(). Shared
     * read-only by all threads: hand out deep copies. */
    json_t *tools_list;
    json_t *resources_list;
    json_t *templates_list;
    json_t *prompts_list;
    int has_completions;
} mcp_registry_t;

mcp_registry_t *mcp_registry_create(apr_pool_t *p, const char *name,
                                    const char *version);

/* Each returns NULL or a message saying what is wrong with the entry. */
const char *mcp_registry_add_tool(mcp_registry_t *reg, const mcp_tool_t *t);
const char *mcp_registry_add_resource(mcp_registry_t *reg,
                                      const mcp_resource_t *res);
const char *mcp_registry_add_prompt(mcp_registry_t *reg, const mcp_prompt_t *pr);

/* Sort by name and build the list results; call once, after adding. */
void mcp_registry_seal(mcp_registry_t *reg);

/* Match `uri` against RFC 6570 level-1 template `tpl`; on a match returns
 * an object of the variables (new reference), else NULL. */
json_t *mcp_registry_template_match(const char *tpl, const char *uri);

#endif
