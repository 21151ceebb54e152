/* The mod_status section of mod_mcp_session. */
#ifndef MCP_STATUS_H
#define MCP_STATUS_H

#include "httpd.h"

int mcp_status_hook(request_rec *r, int flags);

#endif
