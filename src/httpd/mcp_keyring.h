/*
 * The keys that seal requestState (multi-round calls, mcp_state.h):
 * MCPRequestStateKeyFile, read when the directive is read, so that
 * `apachectl -t` refuses a bad key file; without it one random key made
 * at the first start and kept across restarts of the same parent. Every
 * server_rec gets its ring in post_config.
 */
#ifndef MCP_KEYRING_H
#define MCP_KEYRING_H

#include "httpd.h"
#include "http_config.h"
#include "mcp_state.h"

/* MCPRequestStateKeyFile <file> [<file> ...] (AP_INIT_ITERATE, RSRC_CONF):
 * one file per call; the first file named seals. */
const char *mcp_keyring_add_file(cmd_parms *cmd, void *dc, const char *arg);

/* post_config, on every pass: every server's ring (its key files, the
 * main server's when it has none, else the start key); logs the sealing
 * kid, and warns when an external-mode server has only the start key. */
apr_status_t mcp_keyring_post_config(apr_pool_t *pconf, apr_pool_t *ptemp,
                                     server_rec *s);

/* The ring of s (NULL before post_config). */
const mcp_state_ring_t *mcp_keyring_ring(server_rec *s);

#endif
