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

/* The gateway's counters: all endpoints, then each (slots that two
 * children claimed for the same endpoint at once are added up). */
static void backends(request_rec *r, int flags)
{
    mcp_node_stats_t *c = mcp_node_stats();
    apr_hash_t *seen = apr_hash_make(r->pool);
    apr_array_header_t *order = apr_array_make(r->pool, 4, sizeof(const char *));
    int i;

    if (flags & AP_STATUS_SHORT) {
        ap_rprintf(r, "MCPBackendForwarded: %u\nMCPBackendReplayed: %u\n"
                   "MCPBackendFailed: %u\n", c->forwarded, c->replayed,
                   c->failed);
    }
    else {
        ap_rprintf(r, "<tr><td>backends (MCPBackend)</td><td>%u requests "
                   "forwarded, %u backend sessions replayed, %u requests "
                   "failed</td></tr>\n", c->forwarded, c->replayed, c->failed);
    }
    for (i = 0; i < MCP_NODE_ENDPOINTS; i++) {
        mcp_node_endpoint_t *e = mcp_node_endpoint_at(i);
        apr_uint32_t *sum;
        if (!e) {
            continue;
        }
        if (!(sum = apr_hash_get(seen, e->name,
                                 APR_HASH_KEY_STRING))) {
            sum = apr_pcalloc(r->pool, 3 * sizeof(*sum));
            apr_hash_set(seen, e->name, APR_HASH_KEY_STRING, sum);
            APR_ARRAY_PUSH(order, const char *) = e->name;
        }
        sum[0] += e->forwarded;
        sum[1] += e->replayed;
        sum[2] += e->failed;
    }
    for (i = 0; i < order->nelts; i++) {
        const char *name = APR_ARRAY_IDX(order, i, const char *);
        apr_uint32_t *sum = apr_hash_get(seen, name, APR_HASH_KEY_STRING);
        if (flags & AP_STATUS_SHORT) {
            ap_rprintf(r, "MCPBackendForwarded(%s): %u\n"
                       "MCPBackendReplayed(%s): %u\n"
                       "MCPBackendFailed(%s): %u\n", name, sum[0], name,
                       sum[1], name, sum[2]);
        }
        else {
            ap_rprintf(r, "<tr><td>backend of %s</td><td>%u forwarded, %u "
                       "replayed, %u failed</td></tr>\n",
                       ap_escape_html(r->pool, name), sum[0], sum[1], sum[2]);
        }
    }
}

/* 2026-07-28 requests (no session). */
static void modern(request_rec *r, int flags)
{
    mcp_node_stats_t *c = mcp_node_stats();

    if (flags & AP_STATUS_SHORT) {
        ap_rprintf(r, "MCPModernRequests: %u\nMCPModernRefused: %u\n"
                   "MCPModernInputRequired: %u\nMCPModernStateRefused: %u\n",
                   c->modern, c->modern_refused, c->input_required,
                   c->state_refused);
    }
    else {
        ap_rprintf(r, "<tr><td>2026-07-28 (no session)</td><td>%u requests, "
                   "%u refused by the header and envelope checks, %u "
                   "input_required answers, %u requestStates refused"
                   "</td></tr>\n", c->modern, c->modern_refused,
                   c->input_required, c->state_refused);
    }
}

/* OAuth: the RFC 9728 document, challenges, scope refusals. */
static void oauth(request_rec *r, int flags)
{
    mcp_node_stats_t *c = mcp_node_stats();

    if (flags & AP_STATUS_SHORT) {
        ap_rprintf(r, "MCPOAuthMetadataServed: %u\nMCPOAuthChallenges: %u\n"
                   "MCPOAuthScopeRefused: %u\n", c->metadata_served,
                   c->challenges, c->scope_refused);
    }
    else {
        ap_rprintf(r, "<tr><td>OAuth</td><td>%u metadata documents served, "
                   "%u 401/403 answers given a Bearer challenge, %u requests "
                   "refused for missing scope</td></tr>\n",
                   c->metadata_served, c->challenges, c->scope_refused);
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
        modern(r, flags);
        oauth(r, flags);
        backends(r, flags);
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
    modern(r, flags);
    oauth(r, flags);
    backends(r, flags);
    ap_rputs("</table>\n", r);
    return OK;
}
