/* The request handler of the MCP endpoint. */
#ifndef MCP_HANDLER_H
#define MCP_HANDLER_H

#include "httpd.h"
#include "mcp_registry.h"

#define MCP_HANDLER_NAME "mcp-session"

int mcp_handler(request_rec *r);

/* What the endpoint serves; set once per configuration generation. */
void mcp_handler_set_registry(const mcp_registry_t *reg);

#endif
