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

/* Records are written as version 1, or 2 when a string had to be stored
 * hex-encoded (not UTF-8, e.g. a Latin-1 user name): an older reader then
 * refuses the record (404) instead of reading it without that string.
 * Both versions are read. */
#define MCP_RECORD_VERSION   1
#define MCP_RECORD_VERSION_BYTES 2
#define MCP_SESSION_ID_BYTES 32     /* 256 bits from the CSPRNG */
#define MCP_SESSION_ID_LEN   43     /* base64url without padding */
#define MCP_SESSION_ID_MAX   256    /* longer headers are refused early */
#define MCP_KEY_LEN          (2 * MCP_SHA256_LEN)

/* What a session keeps of initialize, whatever the store's record limit:
 * clientInfo's name, version and title, each cut to these many bytes of
 * JSON (escapes count); the standard client capabilities in at most
 * MCP_CLIENT_CAPS_MAX bytes of JSON. */
#define MCP_CLIENT_NAME_MAX     128
#define MCP_CLIENT_VERSION_MAX  64
#define MCP_CLIENT_TITLE_MAX    128
#define MCP_CLIENT_CAPS_MAX     256
/* resources/subscribe: at most this many URIs per session, each at most
 * MCP_SUBSCRIPTION_URI_MAX bytes (and the record must still fit). */
#define MCP_SUBSCRIPTIONS_MAX   16
#define MCP_SUBSCRIPTION_URI_MAX 512

/* A JSON value of a record that is parsed only when somebody asks for it:
 * the hot path (every request) never needs clientInfo, capabilities or
 * subscriptions. */
typedef struct mcp_lazy_json_t {
    json_t *value;              /* pool-owned once parsed or set */
    const char *raw;            /* the value's text in the stored record */
    apr_size_t len;
} mcp_lazy_json_t;

/* The value (borrowed; pool-owned), parsing it on first use; NULL if absent. */
json_t *mcp_record_lazy_get(apr_pool_t *p, mcp_lazy_json_t *l);

/* Replace the value with `v` (a new reference handed to p, may be NULL). */
void mcp_record_lazy_set(apr_pool_t *p, mcp_lazy_json_t *l, json_t *v);

typedef struct mcp_session_t {
    const char *id;             /* known only from the request, never stored */
    char key[MCP_KEY_LEN + 1];  /* hex SHA-256 of id: the store key */
    apr_time_t created;
    apr_time_t last;            /* last record write */
    const char *protocol_version;
    int initialized;            /* notifications/initialized was received */
    mcp_lazy_json_t client_info;    /* as sent in initialize */
    mcp_lazy_json_t client_caps;    /* as sent in initialize */
    const char *user;           /* r->user at initialize, or NULL */
    const char *endpoint;       /* "host:port/location" it belongs to */
    const char *node;           /* the node that created it */
    int log_level;              /* mcp_log_level_e, -1 when never set */
    mcp_lazy_json_t subscriptions;  /* resources/subscribe URIs (array) */
    /* Gateway (MCPBackend): the backend's own session id when it is
     * stateful (NULL: stateless or no backend), and the balancer route of
     * the member that holds it (NULL: none). Visible ASCII. */
    const char *backend_id;
    const char *backend_route;
} mcp_session_t;

/* A new session id (base64url of 32 random bytes) and its key. */
apr_status_t mcp_record_new(apr_pool_t *p, mcp_session_t **s);

/* Whether a presented id is plausible (visible ASCII 0x21-0x7E, sane
 * length); implausible ids are unknown sessions without a store look-up. */
int mcp_record_id_plausible(const char *id);

/* The store key of an id. */
void mcp_record_key(const char *id, char key[MCP_KEY_LEN + 1]);

/* What a session keeps of initialize's clientInfo: name, version and
 * title (strings), each cut at a character boundary to its limit above.
 * A new reference; info need not be an object. */
json_t *mcp_record_client_info(json_t *info);

/* What a session keeps of initialize's capabilities: the standard keys
 * (roots, sampling, elicitation, tasks, experimental) whose values are
 * objects, within MCP_CLIENT_CAPS_MAX bytes; a value that does not fit
 * is kept as {} (the client still declared the capability). A new
 * reference. */
json_t *mcp_record_client_caps(json_t *caps);

/* Whether the record of s, untrimmed, takes at most max bytes: a change
 * that would make it larger cannot be kept. */
int mcp_record_fits(apr_pool_t *p, const mcp_session_t *s, apr_size_t max);

/* Serialize for the store. When the record would exceed max bytes,
 * optional client details are dropped (clientInfo beyond name/version,
 * then capabilities) rather than failing. NULL if it still does not fit. */
char *mcp_record_serialize(apr_pool_t *p, const mcp_session_t *s,
                           apr_size_t max, apr_size_t *len);

/* The body of an initialize request that starts a new backend session for
 * s (gateway replay): its protocol version, kept capabilities and
 * clientInfo (a placeholder clientInfo when none was kept), under the
 * JSON-RPC id `id`. From p. */
char *mcp_record_initialize_request(apr_pool_t *p, mcp_session_t *s,
                                    const char *id, apr_size_t *len);

/* Parse a stored record; APR_EGENERAL if it is not one of ours. Records
 * this module wrote take a fast path that reads the flat fields in place
 * and leaves the nested ones to mcp_record_lazy_get(); anything unusual goes
 * through jansson. */
apr_status_t mcp_record_parse(apr_pool_t *p, const char *rec, apr_size_t len,
                              mcp_session_t **s);

/* The two readers, for tests and the fuzzer: fast gives APR_EINCOMPLETE
 * where it defers to slow; where it does not, both must agree. */
apr_status_t mcp_record_parse_fast(apr_pool_t *p, const char *rec,
                                   apr_size_t len, mcp_session_t **s);
apr_status_t mcp_record_parse_slow(apr_pool_t *p, const char *rec,
                                   apr_size_t len, mcp_session_t **s);

/* Whether two parsed sessions hold the same record fields. */
int mcp_record_same(apr_pool_t *p, mcp_session_t *a, mcp_session_t *b);

#endif
