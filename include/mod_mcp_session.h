/*
 * mod_mcp_session: public C API for modules that provide MCP tools,
 * resources, prompts or session stores. This is the httpd part: the
 * registration wrappers around ap_register_provider(). The types and the
 * mcp_call_* helpers are in mcp_tool.h, the store provider interface in
 * mcp_session_store.h; both are httpd-free and included here.
 *
 * A module registers static descriptions in its register_hooks:
 *
 *     static void register_hooks(apr_pool_t *p)
 *     {
 *         mcp_register_tool(p, &echo_tool);
 *         mcp_register_store(p, &my_store_provider);
 *     }
 *
 * Registration goes through httpd's provider registry, and every call a
 * callback makes goes through function tables, so a provider module has no
 * link-time dependency on mod_mcp_session and the LoadModule order does
 * not matter (providers are looked up after the configuration is read).
 */
#ifndef MOD_MCP_SESSION_H
#define MOD_MCP_SESSION_H

#include "ap_provider.h"
#include "mcp_api.h"
#include "mcp_tool.h"
#include "mcp_session_store.h"

#ifdef __cplusplus
extern "C" {
#endif

static APR_INLINE apr_status_t mcp_register_tool(apr_pool_t *p,
                                                 const mcp_tool_t *tool)
{
    return ap_register_provider(p, MCP_TOOL_PROVIDER_GROUP, tool->name,
                                MCP_API_VERSION, tool);
}

static APR_INLINE apr_status_t mcp_register_resource(apr_pool_t *p,
                                                     const mcp_resource_t *res)
{
    return ap_register_provider(p, MCP_RESOURCE_PROVIDER_GROUP,
                                res->uri ? res->uri : res->uri_template,
                                MCP_API_VERSION, res);
}

static APR_INLINE apr_status_t mcp_register_prompt(apr_pool_t *p,
                                                   const mcp_prompt_t *prompt)
{
    return ap_register_provider(p, MCP_PROMPT_PROVIDER_GROUP, prompt->name,
                                MCP_API_VERSION, prompt);
}

/* Users select the store with "MCPSessionStore NAME://...". */
static APR_INLINE apr_status_t mcp_register_store(apr_pool_t *p,
                                                  const mcp_store_provider_t *sp)
{
    return ap_register_provider(p, MCP_STORE_PROVIDER_GROUP, sp->name,
                                MCP_API_VERSION, sp);
}

#ifdef __cplusplus
}
#endif

#endif /* MOD_MCP_SESSION_H */
