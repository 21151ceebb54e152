/*
 * The version of mod_mcp_session, in one place: serverInfo in initialize
 * answers, and the Debian package, whose debian/changelog must carry the
 * same version (scripts/check-tree.sh compares them; t/50-version.t checks
 * a live initialize against both). Not the API version: that is
 * MCP_API_VERSION in include/mcp_api.h.
 */
#ifndef MCP_VERSION_H
#define MCP_VERSION_H

#define MCP_SERVER_NAME "mod_mcp_session"
#define MCP_VERSION     "0.5.0"

#endif
