/*
 * mod_mcp_session: the MCP Streamable HTTP endpoint for Apache httpd 2.4,
 * with sessions shared by all children (memory) or a whole fleet
 * (external store).
 *
 * Where things are (the same list as README.md's "Where the code is";
 * scripts/check-tree.sh checks that both name every file). The core never
 * includes an httpd header: `make -f Makefile.apxs core` builds it alone.
 *
 *   mod_mcp_session.c              module record, hooks, startup
 *
 *   src/core/: the protocol, httpd-free
 *   src/core/mcp_protocol.c        MCP methods
 *   src/core/mcp_protocol.h        the call context (mcp_ctx_t), versions
 *   src/core/mcp_era.c             which protocol era a request is; 2026 checks
 *   src/core/mcp_era.h             its interface, the 2026 error codes
 *   src/core/mcp_state.c           sealed requestState (HMAC), key rings
 *   src/core/mcp_state.h           its interface, the sealed format
 *   src/core/mcp_rpc.c             JSON-RPC: parse a body, results, errors
 *   src/core/mcp_rpc.h             error codes, messages, batches, limits
 *   src/core/mcp_record.c          session records, ids, store keys
 *   src/core/mcp_record.h          mcp_session_t, what a session keeps
 *   src/core/mcp_registry.c        what is offered; lists; URI templates
 *   src/core/mcp_registry.h        mcp_registry_t
 *   src/core/mcp_json.c            JSON reader/writer, pool-owned values
 *   src/core/mcp_json.h            its interface, parse limits
 *   src/core/mcp_sha256.c          SHA-256 (store keys)
 *   src/core/mcp_sha256.h          its interface
 *   src/core/mcp_oauth.c           Bearer challenges, RFC 9728 document, scopes
 *   src/core/mcp_oauth.h           its interface
 *   src/core/mcp_sse.c             a backend's answer: JSON, SSE reader
 *   src/core/mcp_sse.h             its interface
 *   src/core/mcp_version.h         the module's name and version
 *
 *   src/httpd/: the httpd glue
 *   src/httpd/mcp_handler.c        the request handler: start reading here
 *   src/httpd/mcp_handler.h        handler name, the registry it serves
 *   src/httpd/mcp_modern.c         2026-07-28 requests: no session
 *   src/httpd/mcp_modern.h         its interface
 *   src/httpd/mcp_keyring.c        MCPRequestStateKeyFile, the start key
 *   src/httpd/mcp_keyring.h        its interface
 *   src/httpd/mcp_gateway.c        MCPBackend: forwarding through mod_proxy
 *   src/httpd/mcp_gateway.h        its interface
 *   src/httpd/mcp_resource.c       OAuth: metadata, challenges, scopes, principal
 *   src/httpd/mcp_resource.h       its interface, per-directory settings
 *   src/httpd/mcp_response.c       JSON, SSE and error answers
 *   src/httpd/mcp_response.h       mcp_responder_t
 *   src/httpd/mcp_config.c         directives, defaults, apachectl -t checks
 *   src/httpd/mcp_config.h         server and directory configuration
 *   src/httpd/mcp_endpoint.c       endpoint identity (which SetHandler)
 *   src/httpd/mcp_endpoint.h       its interface
 *   src/httpd/mcp_provider.c       provider modules, found at startup
 *   src/httpd/mcp_provider.h       its interface
 *   src/httpd/mcp_store.c          each host's store; store calls, breaker
 *   src/httpd/mcp_store.h          mcp_store_t
 *   src/httpd/mcp_node.c           node name, counters of all children
 *   src/httpd/mcp_node.h           its interface
 *   src/httpd/mcp_status.c         mod_status section
 *   src/httpd/mcp_status.h         its hook
 *   src/httpd/mcp_private.h        module declaration, MCPLOG (glue only)
 *
 *   src/stores/: the session store providers built in
 *   src/stores/mcp_store_memory.c  shared memory (a server's children)
 *   src/stores/mcp_store_redis.c   Redis (a fleet)
 *
 *   include/: the public C API
 *   include/mcp_api.h              API version, provider group names
 *   include/mcp_tool.h             tools, resources, prompts (no httpd)
 *   include/mcp_session_store.h    store provider interface (no httpd)
 *   include/mod_mcp_session.h      mcp_register_* wrappers (httpd)
 *
 *   modules/redis/: mod_mcp_session_redis.so, the Redis provider module
 *   (hiredis + OpenSSL; built from include/ alone, no src/ header)
 *   modules/redis/mod_mcp_session_redis.c  module record, directives, provider
 *   modules/redis/mcpr.h           its internal declarations, the layers
 *   modules/redis/mcpr_url.c       the MCPSessionStore URL and its options
 *   modules/redis/mcpr_tls.c       TLS client context (OpenSSL)
 *   modules/redis/mcpr_conn.c      one connection: connect, TLS, pipelines
 *   modules/redis/mcpr_node.c      one server: connection pool, down state
 *   modules/redis/mcpr_exec.c      run a pipeline where it belongs
 *   modules/redis/mcpr_sentinel.c  Sentinel: master discovery, failover
 *   modules/redis/mcpr_cluster.c   Cluster: slots, MOVED/ASK
 *   modules/redis/mcpr_store.c     the store operations
 *   modules/redis/mcpr_bus.c       publish/wait over Redis Streams
 *   modules/sql/: mod_mcp_session_sql.so, the SQL store provider module
 *   (mod_dbd and apr_dbd; built from include/ alone, no src/ header)
 *   modules/sql/mod_mcp_session_sql.c  module record, directives, provider
 *   modules/sql/mcpsql.h           its internal declarations, the layers
 *   modules/sql/mcpsql_sql.c       SQL text and DDL per dialect
 *   modules/sql/mcpsql_conn.c      one call: gate, mod_dbd connection, statements
 *   modules/sql/mcpsql_store.c     the data calls of the store contract
 *   modules/sql/mcpsql_gc.c        expired rows deleted (mod_watchdog)
 */
#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "http_request.h"
#include "mod_status.h"
#include "apr_optional_hooks.h"

#include "mod_mcp_session.h"
#include "mcp_config.h"
#include "mcp_endpoint.h"
#include "mcp_gateway.h"
#include "mcp_handler.h"
#include "mcp_keyring.h"
#include "mcp_node.h"
#include "mcp_provider.h"
#include "mcp_registry.h"
#include "mcp_resource.h"
#include "mcp_status.h"
#include "mcp_store.h"
#include "mcp_version.h"

#define MCPLOG(n) "MCPS" #n ": "

/* The one symbol httpd needs: the build hides everything else
 * (-fvisibility=hidden), since httpd loads modules RTLD_GLOBAL. */
module AP_MODULE_DECLARE_DATA __attribute__((visibility("default")))
    mcp_session_module;

/* Collect what provider modules registered; a broken entry stops startup,
 * since it is a bug in a module, not something to serve around, and so
 * does one built for another API version (MCPS00003). Store providers are
 * only checked here: check_config resolved the ones in use. */
static int build_registry(apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *s)
{
    static const char *const groups[] = { MCP_TOOL_PROVIDER_GROUP,
                                          MCP_RESOURCE_PROVIDER_GROUP,
                                          MCP_PROMPT_PROVIDER_GROUP,
                                          MCP_STORE_PROVIDER_GROUP };
    mcp_registry_t *reg = mcp_registry_create(pconf, MCP_SERVER_NAME,
                                              MCP_VERSION);
    apr_array_header_t *list;
    int g, i, rc = OK;

    for (g = 0; g < 4; g++) {
        if (mcp_provider_list(ptemp, s, groups[g], &list) != APR_SUCCESS) {
            rc = HTTP_INTERNAL_SERVER_ERROR;    /* logged; list them all */
        }
        for (i = 0; g < 3 && i < list->nelts; i++) {
            const void *p = APR_ARRAY_IDX(list, i, mcp_provider_entry_t).provider;
            const char *err = NULL;
            switch (g) {
            case 0: err = mcp_registry_add_tool(reg, p); break;
            case 1: err = mcp_registry_add_resource(reg, p); break;
            default: err = mcp_registry_add_prompt(reg, p); break;
            }
            if (err) {
                ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, MCPLOG(00001)
                             "%s", err);
                return HTTP_INTERNAL_SERVER_ERROR;
            }
        }
    }
    if (rc != OK) {
        return rc;
    }
    mcp_registry_seal(reg);
    mcp_handler_set_registry(reg);
    ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s, MCPLOG(00002)
                 "serving %d tools, %d resources, %d resource templates, "
                 "%d prompts", reg->tools->nelts, reg->resources->nelts,
                 reg->templates->nelts, reg->prompts->nelts);
    return OK;
}

static int mcp_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                           apr_pool_t *ptemp, server_rec *s)
{
    apr_status_t rv;
    int rc;

    if ((rc = build_registry(pconf, ptemp, s)) != OK) {
        return rc;
    }
    rv = mcp_node_post_config(s);
    if (rv == APR_SUCCESS) {
        rv = mcp_endpoint_post_config(pconf, ptemp, s);
    }
    if (rv == APR_SUCCESS) {
        rv = mcp_store_post_config(pconf, ptemp, s);
    }
    if (rv == APR_SUCCESS) {
        rv = mcp_keyring_post_config(pconf, ptemp, s);
    }
    return rv == APR_SUCCESS ? OK : HTTP_INTERNAL_SERVER_ERROR;
}

static void mcp_child_init(apr_pool_t *pchild, server_rec *s)
{
    mcp_store_child_init(pchild, s);
}

static void mcp_register_hooks(apr_pool_t *p)
{
    mcp_store_memory_register(p);
    mcp_store_redis_register(p);
    ap_hook_check_config(mcp_config_check, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_config(mcp_post_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_child_init(mcp_child_init, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_handler(mcp_handler, NULL, NULL, APR_HOOK_MIDDLE);
    mcp_gateway_register_hooks(p);
    mcp_resource_register_hooks(p);
    APR_OPTIONAL_HOOK(ap, status_hook, mcp_status_hook, NULL, NULL,
                      APR_HOOK_MIDDLE);
}

AP_DECLARE_MODULE(mcp_session) = {
    STANDARD20_MODULE_STUFF,
    mcp_config_create_dir,
    mcp_config_merge_dir,
    mcp_config_create_srv,
    mcp_config_merge_srv,
    mcp_config_cmds,
    mcp_register_hooks
};
