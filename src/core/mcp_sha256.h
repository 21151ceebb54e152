/* SHA-256 (FIPS 180-4), used to derive store keys from session ids. */
#ifndef MCP_SHA256_H
#define MCP_SHA256_H

#include <stddef.h>

#define MCP_SHA256_LEN 32

void mcp_sha256(const void *data, size_t len, unsigned char out[MCP_SHA256_LEN]);

/* Lowercase hex of the digest into out[65] (NUL-terminated). */
void mcp_sha256_hex(const void *data, size_t len, char out[2 * MCP_SHA256_LEN + 1]);

#endif
