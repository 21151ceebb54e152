/*
 * Private declarations shared by the httpd glue of mod_mcp_session.
 * mod_mcp_session.c must not include this file: AP_DECLARE_MODULE already
 * declares the log module index there.
 */
#ifndef MCP_PRIVATE_H
#define MCP_PRIVATE_H

#include "httpd.h"
#include "http_config.h"
#include "http_log.h"

APLOG_USE_MODULE(mcp_session);

extern module AP_MODULE_DECLARE_DATA mcp_session_module;

/* Our own log tags. Ranges: mod_mcp_session.c 00001-00099, mcp_config.c
 * 00100-, mcp_handler.c/mcp_response.c 00200-, mcp_store*.c 00300-,
 * mcp_store_redis.c 00400-, mcp_status.c 00500-, mcp_gateway.c 00600-,
 * examples 00900-. */
#define MCPLOG(n) "MCPS" #n ": "

#endif /* MCP_PRIVATE_H */
