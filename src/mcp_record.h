/*
 * The session record (httpd-free core): what an MCP session is, its one
 * serialized form (JSON) shared by every store, and session ids.
 */
#ifndef MCP_RECORD_H
#define MCP_RECORD_H

#include "apr_pools.h"
#include "apr_time.h"
#include <jansson.h>
#include "mcp_sha256.h"

#define MCP_RECORD_VERSION   1
#define MCP_SESSION_ID_BYTES 32     /* 256 bits from the CSPRNG */
#define MCP_SESSION_ID_LEN   43     /* base64url without padding */
#define MCP_SESSION_ID_MAX   256    /* longer headers are refused early */
#define MCP_KEY_LEN          (2 * MCP_SHA256_LEN)

typedef struct mcp_session_t {
    const char *id;             /* known only from the request, never stored */
    char key[MCP_KEY_LEN + 1];  /* hex SHA-256 of id: the store key */
    apr_time_t created;
    apr_time_t last;            /* last record write */
    const char *protocol_version;
    int initialized;            /* notifications/initialized was received */
    json_t *client_info;        /* as sent in initialize (pool-owned) */
    json_t *client_caps;        /* as sent in initialize (pool-owned) */
    const char *user;           /* r->user at initialize, or NULL */
    const char *endpoint;       /* "host:port/location" it belongs to */
    const char *node;           /* the node that created it */
    int log_level;              /* mcp_log_level_e, -1 when never set */
    json_t *subscriptions;      /* resources/subscribe URIs (pool-owned) */
} mcp_session_t;

/* A new session id (base64url of 32 random bytes) and its key. */
apr_status_t mcp_session_new(apr_pool_t *p, mcp_session_t **s);

/* Whether a presented id is plausible (visible ASCII 0x21-0x7E, sane
 * length); implausible ids are unknown sessions without a store look-up. */
int mcp_session_id_plausible(const char *id);

/* The store key of an id. */
void mcp_session_key(const char *id, char key[MCP_KEY_LEN + 1]);

/* Serialize for the store. When the record would exceed max bytes,
 * optional client details are dropped (clientInfo beyond name/version,
 * then capabilities) rather than failing. NULL if it still does not fit. */
char *mcp_record_serialize(apr_pool_t *p, const mcp_session_t *s,
                           apr_size_t max, apr_size_t *len);

/* Parse a stored record; APR_EGENERAL if it is not one of ours. */
apr_status_t mcp_record_parse(apr_pool_t *p, const char *rec, apr_size_t len,
                              mcp_session_t **s);

#endif
