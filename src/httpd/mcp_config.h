/* Directives and per-server / per-directory configuration. */
#ifndef MCP_CONFIG_H
#define MCP_CONFIG_H

#include "httpd.h"
#include "http_config.h"
#include "mcp_session_store.h"

typedef enum {
    MCP_MODE_UNSET = 0,
    MCP_MODE_MEMORY,
    MCP_MODE_EXTERNAL
} mcp_mode_e;

#define MCP_DEFAULT_TTL          apr_time_from_sec(3600)
#define MCP_DEFAULT_TIMEOUT      apr_time_from_sec(2)
#define MCP_DEFAULT_PREFIX       "mcp:session:"
#define MCP_DEFAULT_CAPACITY     10000
#define MCP_DEFAULT_MAX_MESSAGE  (4 * 1024 * 1024)
#define MCP_DEFAULT_HANDSHAKE_TTL apr_time_from_sec(60)
#define MCP_DEFAULT_BREAKER      apr_time_from_msec(250)

struct mcp_store_t;

typedef struct mcp_srv_conf_t {
    mcp_mode_e mode;
    const char *store_spec;                 /* MCPSessionStore */
    const char *store_where;                /* its file:line, for logs */
    /* Set in check_config from store_spec's scheme (when it has one). */
    const mcp_store_provider_t *provider;
    int provider_minor;                     /* the API minor it was built for */
    apr_interval_time_t ttl;                /* -1: unset */
    apr_interval_time_t refresh_after;      /* -1: unset */
    apr_interval_time_t store_timeout;      /* -1: unset */
    const char *key_prefix;
    apr_interval_time_t handshake_ttl;      /* MCPSessionHandshakeTTL; -1: unset */
    apr_interval_time_t breaker;            /* MCPSessionStoreBreaker; 0: off,
                                             * -1: unset */
    int capacity;                           /* main server only; 0: unset */
    apr_array_header_t *state_keys;         /* MCPRequestStateKeyFile, read
                                             * (mcp_keyring.c); NULL: unset */
    /* Set in post_config. */
    struct mcp_store_t *store;
    struct mcp_state_ring_t *ring;          /* seals requestState */
    const char *endpoint_host;              /* ServerName without port */
    int endpoint_host_derived;              /* no ServerName: httpd made it up */
} mcp_srv_conf_t;

typedef struct mcp_dir_conf_t {
    apr_array_header_t *origins;            /* MCPAllowedOrigins; NULL: unset */
    apr_off_t max_message;                  /* -1: unset */
    const char *endpoint_name;              /* MCPEndpointName; NULL: unset */
    const char *backend;                    /* MCPBackend: the URL mod_proxy
                                             * gets; NULL: no gateway */
    int backend_balancer;                   /* it is a balancer:// URL */
    const char *user_header;                /* MCPBackendUserHeader; NULL:
                                             * unset, "": off */
    struct mcp_resource_conf_t *oauth;      /* MCPAuthorizationServers and
                                             * the rest of mcp_resource.h;
                                             * NULL: none set */
} mcp_dir_conf_t;

extern const command_rec mcp_config_cmds[];

void *mcp_config_create_srv(apr_pool_t *p, server_rec *s);
void *mcp_config_merge_srv(apr_pool_t *p, void *basev, void *addv);
void *mcp_config_create_dir(apr_pool_t *p, char *dir);
void *mcp_config_merge_dir(apr_pool_t *p, void *basev, void *addv);

/* Effective values after merging. */
mcp_mode_e mcp_config_mode(const mcp_srv_conf_t *sc);
apr_interval_time_t mcp_config_ttl(const mcp_srv_conf_t *sc);
apr_interval_time_t mcp_config_refresh_after(const mcp_srv_conf_t *sc);
apr_interval_time_t mcp_config_timeout(const mcp_srv_conf_t *sc);
const char *mcp_config_prefix(const mcp_srv_conf_t *sc);

/* An MCPSessionStore value fit for a log line: the user and password
 * (what comes before the last '@' of the address) as "***" and the
 * ?options (which may hold a password) left out. */
const char *mcp_config_store_shown(apr_pool_t *p, const char *spec);
apr_interval_time_t mcp_config_handshake_ttl(const mcp_srv_conf_t *sc);
apr_interval_time_t mcp_config_breaker(const mcp_srv_conf_t *sc);
apr_off_t mcp_config_max_message(const mcp_dir_conf_t *dc);
/* The header r->user goes to the backend in, or NULL (off). */
const char *mcp_config_user_header(const mcp_dir_conf_t *dc);

/* check_config (runs for `apachectl -t` too): refuse half
 * configurations, and resolve every MCPSessionStore to its provider, which
 * judges the address (modules load in any order: all are registered by
 * now). */
int mcp_config_check(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
                     server_rec *s);

#endif
