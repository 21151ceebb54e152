/*
 * Endpoint identity: which MCP endpoint a session belongs to. It is owned
 * by the MCP configuration, so that every node serving the same endpoint
 * computes the same identity: the virtual host's ServerName (without
 * port) plus the path of the section that holds `SetHandler mcp-session`,
 * or MCPEndpointName where set. Never the Host header, never a port, never
 * whatever section happened to be merged last.
 */
#ifndef MCP_ENDPOINT_H
#define MCP_ENDPOINT_H

#include "httpd.h"
#include "mcp_config.h"

/* post_config: find every `SetHandler mcp-session` in the configuration
 * tree, name each server, log each endpoint's identity and warn where an
 * identity rests on a name httpd derived itself. */
apr_status_t mcp_endpoint_post_config(apr_pool_t *pconf, apr_pool_t *ptemp,
                                      server_rec *s);

/* The identity of the endpoint serving r (from r->pool). */
const char *mcp_endpoint_identity(request_rec *r, const mcp_srv_conf_t *sc,
                                  const mcp_dir_conf_t *dc);

#endif
