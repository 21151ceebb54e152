/*
 * Sealed requestState for multi-round calls (httpd-free core). A
 * callback's own state travels to the client and back inside
 * requestState; the client must not be able to change it, replay it for
 * another user or request, or keep it forever. So it goes out sealed:
 *
 *   mcps1.<kid>.<payload>.<mac>
 *
 *   kid      8 hex: the first 4 bytes of SHA-256(key), names the key
 *   payload  base64url (no padding) of the JSON object
 *            {"exp":unix seconds,"b":binding digest,"s":state}
 *   mac      base64url of HMAC-SHA256(key, "mcps1.<kid>.<payload>")
 *            (OpenSSL's HMAC; compared in constant time before the
 *            payload is parsed)
 *
 * The binding digest is base64url of the first 16 bytes of
 * SHA-256 over the principal, endpoint, method, name and the canonical
 * JSON (sorted keys, compact) of the arguments, each length-prefixed: a
 * state is accepted only for the same user at the same endpoint calling
 * the same tool/prompt/resource with the same arguments. It is signed,
 * not encrypted: callbacks put no secrets in it.
 *
 * Keys come from a ring: the first key seals, every key verifies (key
 * rotation: add the new key first, drop the old one when its states have
 * expired). Every node of a fleet must hold the same keys.
 */
#ifndef MCP_STATE_H
#define MCP_STATE_H

#include "apr_pools.h"
#include "apr_time.h"
#include <jansson.h>

#define MCP_STATE_KEY_MIN    32          /* bytes */
#define MCP_STATE_KEY_MAX    256
#define MCP_STATE_KEYS_MAX   8
#define MCP_STATE_TTL        apr_time_from_sec(600)
/* A sealed state longer than this is refused unread. */
#define MCP_STATE_SEALED_MAX 8192

typedef struct mcp_state_ring_t mcp_state_ring_t;

mcp_state_ring_t *mcp_state_ring_make(apr_pool_t *p);

/* Add a key (copied into the ring's pool). APR_EINVAL: shorter than
 * MCP_STATE_KEY_MIN or longer than MCP_STATE_KEY_MAX; APR_ENOSPC: the
 * ring has MCP_STATE_KEYS_MAX keys. */
apr_status_t mcp_state_ring_add(mcp_state_ring_t *ring,
                                const unsigned char *key, apr_size_t len);

int mcp_state_ring_count(const mcp_state_ring_t *ring);

/* The kid of the sealing key (8 hex chars), "" for an empty ring. */
const char *mcp_state_ring_kid(const mcp_state_ring_t *ring);

/* A key file's text: one line (a trailing newline and surrounding blanks
 * are ignored) of hex or of base64 (standard or url alphabet, padding
 * optional) holding at least MCP_STATE_KEY_MIN bytes. APR_SUCCESS with
 * *key and *len from p, else APR_EINVAL and *why says what is wrong. */
apr_status_t mcp_state_key_parse(apr_pool_t *p, const char *text,
                                 unsigned char **key, apr_size_t *len,
                                 const char **why);

/* What a state is bound to (any field may be NULL: absent). */
typedef struct mcp_state_bind_t {
    const char *principal;      /* r->user */
    const char *endpoint;       /* the endpoint's identity */
    const char *method;         /* tools/call, prompts/get, resources/read */
    const char *name;           /* tool or prompt name, resource URI */
    json_t *arguments;          /* the request's arguments */
} mcp_state_bind_t;

/* Seal `state` (NUL-terminated text) with the ring's first key, valid
 * until now + ttl. NULL when the ring is empty. */
const char *mcp_state_seal(apr_pool_t *p, const mcp_state_ring_t *ring,
                           const mcp_state_bind_t *bind, const char *state,
                           apr_time_t now, apr_interval_time_t ttl);

/* Open a sealed state: APR_SUCCESS and *state (from p); otherwise
 * APR_EINVAL and *why (for the log, never for the client: "malformed",
 * "unknown key", "bad MAC", "expired", "bound to another request or
 * user"). */
apr_status_t mcp_state_open(apr_pool_t *p, const mcp_state_ring_t *ring,
                            const mcp_state_bind_t *bind, const char *sealed,
                            apr_time_t now, const char **state,
                            const char **why);

#endif
