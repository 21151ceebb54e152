/*
 * mod_mcp_session: the version of the public C API (mcp_tool.h,
 * mcp_session_store.h), and the httpd provider groups modules register in.
 * httpd-free.
 *
 * Providers (tools, resources, prompts, session stores) register under
 * the version string MCP_API_VERSION, "MAJOR.MINOR". mod_mcp_session takes
 * a provider whose MAJOR is its own and whose MINOR is at most its own: a
 * minor version only ever adds (a function pointer at the end of a
 * structure, a helper), and a field a minor added is read only from
 * providers registered with that minor or a later one. Anything else (a
 * module built for another major, or for a newer minor than the running
 * mod_mcp_session) is refused at startup with a log line naming both
 * versions (MCPS00003, MCPS00104): the server does not start.
 *
 * History:
 *   1    (0.1)  tools, resources, prompts; session stores
 *   2.0  (0.2)  session store API 2: a call context on every store call,
 *               the provider's own record limit, provider-specific
 *               settings out of the generic parameters, optional
 *               conditional write and publish/wait; "MAJOR.MINOR"
 *               version strings
 *   2.1  (0.3)  multi-round calls: input/ask/state/set_state,
 *               require_capability and cancelled at the end of
 *               mcp_call_ops_t (mcp_tool.h); MCP_INPUT_REQUIRED,
 *               MCP_MISSING_CAPABILITY; the 2026-07-28 protocol
 */
#ifndef MCP_API_H
#define MCP_API_H

#define MCP_API_MAJOR               2
#define MCP_API_MINOR               1
#define MCP_API_VERSION             "2.1"

#define MCP_TOOL_PROVIDER_GROUP     "mcp_tool"
#define MCP_RESOURCE_PROVIDER_GROUP "mcp_resource"
#define MCP_PROMPT_PROVIDER_GROUP   "mcp_prompt"
#define MCP_STORE_PROVIDER_GROUP    "mcp_session_store"

#endif /* MCP_API_H */
