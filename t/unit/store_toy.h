/*
 * The toy session store provider (store_toy.c): built from include/
 * alone, in-process, every function of the store API 2.0 implemented.
 */
#ifndef MCP_STORE_TOY_H
#define MCP_STORE_TOY_H

#include "mcp_session_store.h"

/* Messages a channel keeps for wait(): older ones are dropped and a
 * wait() that has not read them gets APR_INCOMPLETE. */
#define MCP_TOY_BACKLOG     64
/* max_record() unless the address says ?max=BYTES */
#define MCP_TOY_MAX_RECORD  3000

/* "toy": MCPSessionStore toy://NAME[?max=BYTES][&flaw=FLAW]. */
extern const mcp_store_provider_t mcp_toy_store_provider;

#endif /* MCP_STORE_TOY_H */
