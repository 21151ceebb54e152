/*
 * The node's name and counters, in anonymous shared memory created by the
 * parent before it forks and kept in ap_retained_data, so that every
 * child counts into the same place and a restart neither renames the node
 * nor resets its counters.
 */
#include <string.h>
#include <unistd.h>
#include "httpd.h"
#include "apr_strings.h"
#include "apr_shm.h"
#include "apr_general.h"
#include "http_config.h"
#include "http_log.h"
#include "mcp_private.h"
#include "mcp_node.h"

#define NODE_MAGIC       0x4d43504eu    /* "MCPN" */
#define NODE_LAYOUT      3u
#define NODE_RETAINED    "mod_mcp_session-node"

typedef struct node_seg_t {
    apr_uint32_t magic;
    apr_uint32_t layout;
    mcp_node_stats_t stats;
    char id[64];
    mcp_node_endpoint_t endpoints[MCP_NODE_ENDPOINTS];
} node_seg_t;

typedef struct node_retained_t {
    apr_shm_t *shm;
} node_retained_t;

static node_seg_t *node;
static mcp_node_stats_t fallback_stats;
static mcp_node_endpoint_t fallback_endpoint;

mcp_node_stats_t *mcp_node_stats(void)
{
    return node ? &node->stats : &fallback_stats;
}

mcp_node_endpoint_t *mcp_node_endpoint(const char *identity)
{
    apr_size_t n = strlen(identity);
    int i;

    if (!node) {
        return &fallback_endpoint;
    }
    if (n >= MCP_NODE_ENDPOINT_NAME) {
        n = MCP_NODE_ENDPOINT_NAME - 1;
    }
    /* Slots are claimed once and never freed (a restart keeps them): a
     * claim takes the first free one. Two children naming the same new
     * endpoint at once may each claim one; mod_status adds them up. */
    for (i = 0; i < MCP_NODE_ENDPOINTS; i++) {
        mcp_node_endpoint_t *e = &node->endpoints[i];
        apr_uint32_t state = apr_atomic_read32(&e->state);
        if (state == 2 && !strncmp(e->name, identity, n) && !e->name[n]) {
            return e;
        }
        if (state == 0 && apr_atomic_cas32(&e->state, 1, 0) == 0) {
            memcpy(e->name, identity, n);
            e->name[n] = '\0';
            apr_atomic_set32(&e->state, 2);
            return e;
        }
    }
    return NULL;
}

mcp_node_endpoint_t *mcp_node_endpoint_at(int i)
{
    if (!node || i < 0 || i >= MCP_NODE_ENDPOINTS
        || apr_atomic_read32(&node->endpoints[i].state) != 2) {
        return NULL;
    }
    return &node->endpoints[i];
}

const char *mcp_node_id(void)
{
    return node ? node->id : "unknown";
}

/* "HOST/xxxxxxxx": the host for people, random bits so that two servers
 * on one host (or a restarted one) differ. */
static void make_id(node_seg_t *n)
{
    unsigned char rnd[4];
    char host[48];

    if (gethostname(host, sizeof(host)) != 0) {
        apr_cpystrn(host, "localhost", sizeof(host));
    }
    host[sizeof(host) - 1] = '\0';
    apr_generate_random_bytes(rnd, sizeof(rnd));
    apr_snprintf(n->id, sizeof(n->id), "%s/%02x%02x%02x%02x", host, rnd[0],
                 rnd[1], rnd[2], rnd[3]);
}

apr_status_t mcp_node_post_config(server_rec *s)
{
    node_retained_t *ret = ap_retained_data_get(NODE_RETAINED);
    apr_status_t rv = APR_SUCCESS;
    node_seg_t *n;

    if (ret && ret->shm) {
        n = apr_shm_baseaddr_get(ret->shm);
        if (apr_shm_size_get(ret->shm) >= sizeof(*n) && n->magic == NODE_MAGIC
            && n->layout == NODE_LAYOUT) {
            node = n;
            ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s, MCPLOG(00344)
                         "node %s: kept its name and counters across the "
                         "restart", node->id);
            goto leave;
        }
        /* another module version: children of the old generation keep
         * their own mapping */
        apr_shm_destroy(ret->shm);
        ret->shm = NULL;
    }
    if (!ret) {
        ret = ap_retained_data_create(NODE_RETAINED, sizeof(*ret));
    }
    rv = apr_shm_create(&ret->shm, sizeof(*n), NULL, s->process->pool);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, rv, s, MCPLOG(00345)
                     "cannot create %" APR_SIZE_T_FMT " bytes of shared "
                     "memory for the node's counters", sizeof(*n));
        goto leave;
    }
    n = apr_shm_baseaddr_get(ret->shm);
    memset(n, 0, sizeof(*n));
    n->magic = NODE_MAGIC;
    n->layout = NODE_LAYOUT;
    make_id(n);
    node = n;
    ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s, MCPLOG(00346)
                 "this node is %s", node->id);
leave:
    return rv;
}
