#include "httpd.h"
#include "apr_strings.h"
#include "apr_hash.h"
#include "http_main.h"
#include "http_config.h"
#include "http_protocol.h"
#include "mod_status.h"
#include "mcp_private.h"
#include "mcp_config.h"
#include "mcp_node.h"
#include "mcp_status.h"
#include "mcp_store.h"

/* Every distinct store once (virtual hosts may share one). */
static void stores(request_rec *r, int flags)
{
    apr_hash_t *seen = apr_hash_make(r->pool);
    server_rec *s;

    for (s = ap_server_conf; s; s = s->next) {
        mcp_srv_conf_t *sc = ap_get_module_config(s->module_config,
                                                  &mcp_session_module);
        mcp_store_t *st = sc->store;
        int healthy;

        if (!st || apr_hash_get(seen, &st, sizeof(st))) {
            continue;
        }
        apr_hash_set(seen, apr_pmemdup(r->pool, &st, sizeof(st)), sizeof(st), st);
        healthy = st->provider->healthy ? st->provider->healthy(st->instance)
                                        : !st->failing;
        if (flags & AP_STATUS_SHORT) {
            ap_rprintf(r, "MCPSessionStore: %s\nMCPSessionStoreHealthy: %d\n"
                       "MCPSessionStoreBreakerTrips: %u\n"
                       "MCPSessionStoreBreakerRefused: %u\n",
                       st->description, healthy && !st->failing, st->trips,
                       st->refused);
        }
        else {
            ap_rprintf(r, "<tr><td>store</td><td>%s (mode %s, TTL %"
                       APR_TIME_T_FMT " s): %s</td></tr>\n",
                       ap_escape_html(r->pool, st->description),
                       mcp_config_mode(sc) == MCP_MODE_EXTERNAL ? "external"
                                                              : "memory",
                       apr_time_sec(st->params.ttl),
                       healthy && !st->failing ? "healthy" : "<b>FAILING</b>");
            ap_rprintf(r, "<tr><td>store breaker (this process)</td><td>opened "
                       "%u times, %u calls answered 503 at once</td></tr>\n",
                       st->trips, st->refused);
        }
        if (st->provider->status) {
            st->provider->status(st->instance, r, flags);
        }
    }
}

int mcp_status_hook(request_rec *r, int flags)
{
    mcp_node_stats_t *c = mcp_node_stats();
    mcp_srv_conf_t *sc = ap_get_module_config(ap_server_conf->module_config,
                                              &mcp_session_module);
    struct { const char *name; apr_uint32_t value; } rows[] = {
        { "Created", c->created },
        { "Resumed", c->resumed },
        { "NotFound", c->not_found },
        { "Expired", c->expired },
        { "Deleted", c->deleted },
        { "StoreErrors", c->store_errors },
        { "RefusedFull", c->refused_full },
        { "Requests", c->requests },
        { "Reclaimed", c->reclaimed },
        { "Evicted", c->evicted },
    };
    apr_size_t i;

    if (flags & AP_STATUS_SHORT) {
        ap_rprintf(r, "MCPSessionMode: %s\n",
                   mcp_config_mode(sc) == MCP_MODE_EXTERNAL ? "external" : "memory");
        stores(r, flags);
        ap_rprintf(r, "MCPSessionMemoryUsed: %d\nMCPSessionMemoryPending: %d\n"
                   "MCPSessionMemoryCapacity: %d\n"
                   "MCPSessionShmBytesPerSession: %" APR_SIZE_T_FMT "\n",
                   mcp_store_memory_used(), mcp_store_memory_pending(),
                   mcp_store_memory_capacity(), mcp_store_memory_slot_bytes());
        for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
            ap_rprintf(r, "MCPSession%s: %u\n", rows[i].name, rows[i].value);
        }
        return OK;
    }
    ap_rputs("<hr>\n<h2>mod_mcp_session</h2>\n<table border=\"0\">\n", r);
    ap_rprintf(r, "<tr><td>node</td><td>%s</td></tr>\n",
               ap_escape_html(r->pool, mcp_node_id()));
    stores(r, flags);
    ap_rprintf(r, "<tr><td>memory table</td><td>%d of %d sessions (%d in "
               "their handshake), %" APR_SIZE_T_FMT " bytes each</td></tr>\n",
               mcp_store_memory_used(), mcp_store_memory_capacity(),
               mcp_store_memory_pending(), mcp_store_memory_slot_bytes());
    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        ap_rprintf(r, "<tr><td>%s</td><td>%u</td></tr>\n", rows[i].name,
                   rows[i].value);
    }
    ap_rputs("</table>\n", r);
    return OK;
}
