/*
 * mcpr_cluster.c: Redis Cluster routing (MCPR_CLUSTER): hash slots, the
 * per-child slot map read from CLUSTER SLOTS, and the redirections a
 * node answers with (MOVED, ASK, TRYAGAIN, CLUSTERDOWN).
 *
 * Every key of one session carries the same {hash tag} (mcpr_store_key),
 * so a store call's pipeline touches one slot and never gets CROSSSLOT.
 * The map is owner[slot] -> node (mcpr_node.c's per-child table, which
 * owns the connections). It is read on first use and again, at most once
 * a second per child, after a MOVED (the slot itself is patched at once)
 * or when a node fails (a failover moved its slots). One thread reads it
 * while the others wait for its result: no stampede on the cluster.
 *
 * Redirections are per command: during a migration the source node runs
 * the commands whose keys it still has and answers ASK for the others, so
 * only the redirected commands of a pipeline run again (on the target,
 * each after its own ASKING, which holds for one command only). Their
 * replies take the place of the redirections; the caller sees one reply
 * per command as if one node had run them all.
 */
#include "httpd.h"
#include "http_log.h"
#include "http_protocol.h"
#include "mod_status.h"

#include "apr_atomic.h"
#include "apr_strings.h"

#include "mcpr.h"

APLOG_USE_MODULE(mcp_session_redis);

#define NSLOTS              16384
/* A node the map names: masters of the latest map and the seeds. */
#define MAX_KNOWN           128
/* A refresh scheduled by MOVED or a failing node: at most this often. */
#define REFRESH_INTERVAL    apr_time_from_sec(1)
/* TRYAGAIN (a multi-key command while its slot migrates): wait this long. */
#define TRYAGAIN_WAIT       apr_time_from_msec(25)
/* Error lines about the map or CLUSTERDOWN: at most one per this, per child. */
#define LOG_INTERVAL        apr_time_from_sec(1)

typedef struct mcpr_cluster_t {
    apr_thread_mutex_t *mutex;          /* everything but the counters */
    apr_thread_cond_t *done;            /* a refresh ended */
    mcpr_node_t *owner[NSLOTS];         /* NULL: not known (or not covered) */
    mcpr_node_t *known[MAX_KNOWN];      /* the latest map's masters */
    int nknown;
    unsigned covered;                   /* slots with an owner */
    int refreshing;                     /* a thread reads CLUSTER SLOTS */
    int stale;                          /* a MOVED patched the map */
    apr_uint32_t generation;            /* bumped by every refresh's end */
    apr_time_t last_refresh;            /* when the latest one began */
    apr_time_t map_logged, down_logged; /* error line rate limits */
    /* counters, this child */
    volatile apr_uint32_t refreshes, refresh_failures, moved, ask, tryagain,
                          clusterdown, conn_retries;
} mcpr_cluster_t;

/* Log with the request when there is one (its client and id in the line). */
#define CLOG(in, c, level, rv, ...)                                        \
    do {                                                                   \
        if ((c) && (c)->r)                                                 \
            ap_log_rerror(APLOG_MARK, level, rv, (c)->r, __VA_ARGS__);     \
        else                                                               \
            ap_log_error(APLOG_MARK, level, rv,                            \
                         ((c) && (c)->s) ? (c)->s : (in)->s, __VA_ARGS__); \
    } while (0)

/* CRC16/XMODEM (polynomial 0x1021, initial 0), the Redis Cluster spec's
 * table. */
static const apr_uint16_t crc16tab[256] = {
    0x0000, 0x1021, 0x2042, 0x3063, 0x4084, 0x50a5, 0x60c6, 0x70e7,
    0x8108, 0x9129, 0xa14a, 0xb16b, 0xc18c, 0xd1ad, 0xe1ce, 0xf1ef,
    0x1231, 0x0210, 0x3273, 0x2252, 0x52b5, 0x4294, 0x72f7, 0x62d6,
    0x9339, 0x8318, 0xb37b, 0xa35a, 0xd3bd, 0xc39c, 0xf3ff, 0xe3de,
    0x2462, 0x3443, 0x0420, 0x1401, 0x64e6, 0x74c7, 0x44a4, 0x5485,
    0xa56a, 0xb54b, 0x8528, 0x9509, 0xe5ee, 0xf5cf, 0xc5ac, 0xd58d,
    0x3653, 0x2672, 0x1611, 0x0630, 0x76d7, 0x66f6, 0x5695, 0x46b4,
    0xb75b, 0xa77a, 0x9719, 0x8738, 0xf7df, 0xe7fe, 0xd79d, 0xc7bc,
    0x48c4, 0x58e5, 0x6886, 0x78a7, 0x0840, 0x1861, 0x2802, 0x3823,
    0xc9cc, 0xd9ed, 0xe98e, 0xf9af, 0x8948, 0x9969, 0xa90a, 0xb92b,
    0x5af5, 0x4ad4, 0x7ab7, 0x6a96, 0x1a71, 0x0a50, 0x3a33, 0x2a12,
    0xdbfd, 0xcbdc, 0xfbbf, 0xeb9e, 0x9b79, 0x8b58, 0xbb3b, 0xab1a,
    0x6ca6, 0x7c87, 0x4ce4, 0x5cc5, 0x2c22, 0x3c03, 0x0c60, 0x1c41,
    0xedae, 0xfd8f, 0xcdec, 0xddcd, 0xad2a, 0xbd0b, 0x8d68, 0x9d49,
    0x7e97, 0x6eb6, 0x5ed5, 0x4ef4, 0x3e13, 0x2e32, 0x1e51, 0x0e70,
    0xff9f, 0xefbe, 0xdfdd, 0xcffc, 0xbf1b, 0xaf3a, 0x9f59, 0x8f78,
    0x9188, 0x81a9, 0xb1ca, 0xa1eb, 0xd10c, 0xc12d, 0xf14e, 0xe16f,
    0x1080, 0x00a1, 0x30c2, 0x20e3, 0x5004, 0x4025, 0x7046, 0x6067,
    0x83b9, 0x9398, 0xa3fb, 0xb3da, 0xc33d, 0xd31c, 0xe37f, 0xf35e,
    0x02b1, 0x1290, 0x22f3, 0x32d2, 0x4235, 0x5214, 0x6277, 0x7256,
    0xb5ea, 0xa5cb, 0x95a8, 0x8589, 0xf56e, 0xe54f, 0xd52c, 0xc50d,
    0x34e2, 0x24c3, 0x14a0, 0x0481, 0x7466, 0x6447, 0x5424, 0x4405,
    0xa7db, 0xb7fa, 0x8799, 0x97b8, 0xe75f, 0xf77e, 0xc71d, 0xd73c,
    0x26d3, 0x36f2, 0x0691, 0x16b0, 0x6657, 0x7676, 0x4615, 0x5634,
    0xd94c, 0xc96d, 0xf90e, 0xe92f, 0x99c8, 0x89e9, 0xb98a, 0xa9ab,
    0x5844, 0x4865, 0x7806, 0x6827, 0x18c0, 0x08e1, 0x3882, 0x28a3,
    0xcb7d, 0xdb5c, 0xeb3f, 0xfb1e, 0x8bf9, 0x9bd8, 0xabbb, 0xbb9a,
    0x4a75, 0x5a54, 0x6a37, 0x7a16, 0x0af1, 0x1ad0, 0x2ab3, 0x3a92,
    0xfd2e, 0xed0f, 0xdd6c, 0xcd4d, 0xbdaa, 0xad8b, 0x9de8, 0x8dc9,
    0x7c26, 0x6c07, 0x5c64, 0x4c45, 0x3ca2, 0x2c83, 0x1ce0, 0x0cc1,
    0xef1f, 0xff3e, 0xcf5d, 0xdf7c, 0xaf9b, 0xbfba, 0x8fd9, 0x9ff8,
    0x6e17, 0x7e36, 0x4e55, 0x5e74, 0x2e93, 0x3eb2, 0x0ed1, 0x1ef0
};

unsigned mcpr_cluster_slot(const char *key, apr_size_t len)
{
    apr_size_t s, e, i;
    apr_uint16_t crc = 0;

    /* The hash tag: between the first '{' and the next '}', if not empty;
     * else the whole key (the spec's keyHashSlot). */
    for (s = 0; s < len && key[s] != '{'; s++)
        ;
    if (s < len) {
        for (e = s + 1; e < len && key[e] != '}'; e++)
            ;
        if (e < len && e > s + 1) {
            key += s + 1;
            len = e - s - 1;
        }
    }
    for (i = 0; i < len; i++)
        crc = (apr_uint16_t)(crc << 8)
              ^ crc16tab[((crc >> 8) ^ (unsigned char)key[i]) & 0xff];
    return crc & (NSLOTS - 1);
}

apr_status_t mcpr_cluster_child_init(mcpr_t *in, apr_pool_t *pchild)
{
    apr_status_t rv;
    mcpr_cluster_t *cl;

    /* in->cpool, never pchild: a call may still run when pchild dies */
    cl = apr_pcalloc(in->cpool, sizeof(*cl));
    rv = apr_thread_mutex_create(&cl->mutex, APR_THREAD_MUTEX_DEFAULT,
                                 in->cpool);
    if (rv != APR_SUCCESS)
        goto leave;
    rv = apr_thread_cond_create(&cl->done, in->cpool);
    if (rv != APR_SUCCESS)
        goto leave;
    in->cluster = cl;
leave:
    if (rv != APR_SUCCESS)
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, in->s, MCPRLOG(00870)
                     "Redis Cluster %s: cannot create the slot map's lock",
                     in->described);
    return rv;
}

/* One "start end [ip port id ...] [replica...]" entry of CLUSTER SLOTS. */
typedef struct range_t {
    unsigned from, to;
    mcpr_node_t *node;
} range_t;

/* The master of one CLUSTER SLOTS entry; an empty or "?" address (a node
 * that does not know its own) is the address of the node that answered. */
static mcpr_node_t *entry_node(mcpr_t *in, const redisReply *e,
                               const mcpr_node_t *from)
{
    const redisReply *m;
    const char *host;

    if (e->type != REDIS_REPLY_ARRAY || e->elements < 3)
        return NULL;
    m = e->element[2];
    if (m->type != REDIS_REPLY_ARRAY || m->elements < 2
        || m->element[0]->type != REDIS_REPLY_STRING
        || m->element[1]->type != REDIS_REPLY_INTEGER
        || m->element[1]->integer <= 0 || m->element[1]->integer > 65535)
        return NULL;
    host = m->element[0]->str;
    if (!*host || !strcmp(host, "?"))
        host = from->host;
    return mcpr_node_get(in, host, (apr_port_t)m->element[1]->integer,
                         &in->auth);
}

/* Parse a CLUSTER SLOTS reply into ranges (from p); -1 when it is not one. */
static int parse_slots(mcpr_t *in, apr_pool_t *p, const redisReply *r,
                       const mcpr_node_t *from, range_t **out)
{
    range_t *rg;
    apr_size_t i;
    int n = 0;

    if (r->type != REDIS_REPLY_ARRAY)
        return -1;
    rg = apr_pcalloc(p, sizeof(*rg) * (r->elements + 1));
    for (i = 0; i < r->elements; i++) {
        const redisReply *e = r->element[i];

        if (e->type != REDIS_REPLY_ARRAY || e->elements < 3
            || e->element[0]->type != REDIS_REPLY_INTEGER
            || e->element[1]->type != REDIS_REPLY_INTEGER
            || e->element[0]->integer < 0
            || e->element[1]->integer >= NSLOTS
            || e->element[0]->integer > e->element[1]->integer)
            return -1;
        rg[n].from = (unsigned)e->element[0]->integer;
        rg[n].to = (unsigned)e->element[1]->integer;
        rg[n].node = entry_node(in, e, from);
        if (!rg[n].node)
            return -1;
        n++;
    }
    *out = rg;
    return n;
}

/* Read the map: CLUSTER SLOTS from the latest map's masters, then the
 * seeds, until one answers. Only one thread of the child reads it; the
 * others wait for that result (until their deadline). `force`: even if a
 * refresh ran less than REFRESH_INTERVAL ago (the map is empty). */
static apr_status_t refresh(mcpr_t *in, const mcp_store_ctx_t *c,
                            apr_time_t deadline, int force, const char **err)
{
    mcpr_cluster_t *cl = in->cluster;
    mcpr_node_t *cand[MAX_KNOWN * 2];
    int ncand = 0, i, j, n = -1, masters;
    unsigned covered;
    range_t *rg = NULL;
    apr_uint32_t gen;
    apr_time_t now;
    apr_status_t rv = APR_SUCCESS;
    const char *why = "no node to ask";
    mcpr_node_t *from = NULL;
    mcpr_cmd_t cmd;
    redisReply *reply = NULL;
    apr_array_header_t *seeds = in->url->hosts;

    apr_thread_mutex_lock(cl->mutex);
    gen = cl->generation;
    while (cl->refreshing) {
        apr_interval_time_t left = deadline - apr_time_now();

        if (left <= 0) {
            apr_thread_mutex_unlock(cl->mutex);
            *err = "timed out waiting for the slot map";
            return APR_TIMEUP;
        }
        apr_thread_cond_timedwait(cl->done, cl->mutex, left);
    }
    now = apr_time_now();
    if (cl->generation != gen
        || (!force && now - cl->last_refresh < REFRESH_INTERVAL)) {
        /* another thread just read it: use its result */
        apr_thread_mutex_unlock(cl->mutex);
        return APR_SUCCESS;
    }
    cl->refreshing = 1;
    cl->last_refresh = now;
    for (i = 0; i < cl->nknown; i++)
        cand[ncand++] = cl->known[i];
    apr_thread_mutex_unlock(cl->mutex);

    for (i = 0; i < seeds->nelts && ncand < MAX_KNOWN * 2; i++) {
        const mcpr_hostport_t *hp = &APR_ARRAY_IDX(seeds, i, mcpr_hostport_t);
        mcpr_node_t *sn = mcpr_node_get(in, hp->host, hp->port, &in->auth);

        for (j = 0; sn && j < ncand && cand[j] != sn; j++)
            ;
        if (sn && j == ncand)
            cand[ncand++] = sn;
    }

    memset(&cmd, 0, sizeof(cmd));
    mcpr_conn_args(&cmd, "CLUSTER", "SLOTS", NULL);
    for (i = 0; i < ncand && n < 0; i++) {
        const char *e = NULL;

        if (apr_time_now() >= deadline) {
            rv = APR_TIMEUP;
            why = "the call's deadline passed";
            break;
        }
        from = cand[i];
        rv = mcpr_exec_on(in, from, c, &cmd, 1, &reply, deadline, 0, &e);
        if (rv != APR_SUCCESS) {
            why = apr_psprintf(c->pool, "%s: %s", from->name,
                               e ? e : "no answer");
            continue;
        }
        if (reply->type == REDIS_REPLY_ERROR) {
            /* e.g. "ERR This instance has cluster support disabled" */
            why = apr_psprintf(c->pool, "%s answered: %s", from->name,
                               reply->str);
            rv = APR_EGENERAL;
            continue;
        }
        n = parse_slots(in, c->pool, reply, from, &rg);
        if (n < 0) {
            why = apr_psprintf(c->pool, "%s: not a CLUSTER SLOTS reply",
                               from->name);
            rv = APR_EGENERAL;
        }
    }

    apr_thread_mutex_lock(cl->mutex);
    if (n >= 0) {
        int k;

        covered = 0;

        memset(cl->owner, 0, sizeof(cl->owner));
        cl->nknown = 0;
        for (i = 0; i < n; i++) {
            for (j = (int)rg[i].from; j <= (int)rg[i].to; j++)
                cl->owner[j] = rg[i].node;
            covered += rg[i].to - rg[i].from + 1;
            for (k = 0; k < cl->nknown && cl->known[k] != rg[i].node; k++)
                ;
            if (k == cl->nknown && k < MAX_KNOWN)
                cl->known[cl->nknown++] = rg[i].node;
        }
        cl->covered = covered;
        cl->stale = 0;
        apr_atomic_inc32(&cl->refreshes);
        rv = APR_SUCCESS;
    }
    else {
        apr_atomic_inc32(&cl->refresh_failures);
        if (now - cl->map_logged >= LOG_INTERVAL) {
            cl->map_logged = now;
            CLOG(in, c, APLOG_ERR, rv, MCPRLOG(00871)
                 "Redis Cluster %s: cannot read the slot map (CLUSTER "
                 "SLOTS) from any of %d nodes; last: %s", in->described,
                 ncand, why);
        }
        if (rv == APR_SUCCESS)
            rv = APR_EGENERAL;
        *err = why;
    }
    masters = cl->nknown;
    covered = cl->covered;
    cl->refreshing = 0;
    cl->generation++;
    apr_thread_cond_broadcast(cl->done);
    apr_thread_mutex_unlock(cl->mutex);

    if (n >= 0)
        CLOG(in, c, APLOG_DEBUG, 0, MCPRLOG(00872)
             "Redis Cluster %s: slot map read from %s: %d ranges on %d "
             "masters, %u of %d slots covered", in->described, from->name,
             n, masters, covered, NSLOTS);
    return rv;
}

/* The node for slot (-1: any known node), reading the map when it has
 * none for it or a MOVED made it stale (at most once a second). */
static apr_status_t route(mcpr_t *in, const mcp_store_ctx_t *c, int slot,
                          apr_time_t deadline, mcpr_node_t **node,
                          const char **err)
{
    mcpr_cluster_t *cl = in->cluster;
    apr_status_t rv = APR_SUCCESS;
    int stale, empty, tries;

    for (tries = 0; tries < 2; tries++) {
        apr_thread_mutex_lock(cl->mutex);
        *node = slot >= 0 ? cl->owner[slot]
                          : (cl->nknown ? cl->known[0] : NULL);
        stale = cl->stale
                && apr_time_now() - cl->last_refresh >= REFRESH_INTERVAL;
        empty = cl->covered == 0;
        apr_thread_mutex_unlock(cl->mutex);
        if (*node && !stale)
            return APR_SUCCESS;
        if (tries)
            break;
        rv = refresh(in, c, deadline, empty, err);
        if (rv != APR_SUCCESS && *node)
            /* a stale map still routes: MOVED will correct it */
            return APR_SUCCESS;
    }
    if (*node)
        return APR_SUCCESS;
    if (rv == APR_SUCCESS) {
        apr_time_t now = apr_time_now();

        *err = apr_psprintf(c->pool, "slot %d is not served by any master",
                            slot);
        apr_thread_mutex_lock(cl->mutex);
        if (now - cl->map_logged >= LOG_INTERVAL) {
            cl->map_logged = now;
            CLOG(in, c, APLOG_ERR, 0, MCPRLOG(00873)
                 "Redis Cluster %s: slot %d is not served by any master "
                 "(%u of %d slots covered)", in->described, slot,
                 cl->covered, NSLOTS);
        }
        apr_thread_mutex_unlock(cl->mutex);
        rv = APR_EGENERAL;
    }
    return rv;
}

/* What a reply asks of us. */
enum { R_NONE, R_MOVED, R_ASK, R_TRYAGAIN, R_DOWN };

static int redirection(const redisReply *r)
{
    if (!r || r->type != REDIS_REPLY_ERROR)
        return R_NONE;
    if (mcpr_conn_error_is(r, "MOVED"))
        return R_MOVED;
    if (mcpr_conn_error_is(r, "ASK"))
        return R_ASK;
    if (mcpr_conn_error_is(r, "TRYAGAIN"))
        return R_TRYAGAIN;
    if (mcpr_conn_error_is(r, "CLUSTERDOWN"))
        return R_DOWN;
    return R_NONE;
}

/* "MOVED 3999 127.0.0.1:6381" / "ASK ..." -> slot and node; an empty host
 * (":6381") is the host of the node that answered. IPv6 hosts come
 * without brackets: the port follows the last ':'. */
static mcpr_node_t *target_of(mcpr_t *in, apr_pool_t *p, const redisReply *r,
                              const mcpr_node_t *from, int *slot)
{
    const char *sp, *addr, *colon;
    char *end;
    long s, port;

    sp = strchr(r->str, ' ');
    if (!sp)
        return NULL;
    s = strtol(sp + 1, &end, 10);
    if (end == sp + 1 || *end != ' ' || s < 0 || s >= NSLOTS)
        return NULL;
    addr = end + 1;
    colon = strrchr(addr, ':');
    if (!colon)
        return NULL;
    port = strtol(colon + 1, &end, 10);
    if (end == colon + 1 || *end || port <= 0 || port > 65535)
        return NULL;
    *slot = (int)s;
    return mcpr_node_get(in, colon == addr ? from->host
                                           : apr_pstrmemdup(p, addr,
                                                            colon - addr),
                         (apr_port_t)port, &in->auth);
}

apr_status_t mcpr_cluster_exec(mcpr_t *in, const mcp_store_ctx_t *c,
                               const char *key, const mcpr_cmd_t *cmds,
                               int n, redisReply **replies,
                               apr_time_t deadline, int flags,
                               const char **err)
{
    mcpr_cluster_t *cl = in->cluster;
    int slot = key ? (int)mcpr_cluster_slot(key, strlen(key)) : -1;
    mcpr_node_t *node = NULL, *next;
    /* after a redirection: the indexes of the commands still to run */
    int *todo = NULL, *later = NULL, ntodo = n;
    int asking = 0, hops = 0, conn_retried = 0;
    mcpr_cmd_t *sub = NULL, asking_cmd;
    redisReply **subrep = NULL;
    const char *why = NULL;
    apr_status_t rv;
    int i;

    rv = route(in, c, slot, deadline, &node, err);
    if (rv != APR_SUCCESS)
        goto leave;

    for (;;) {
        const mcpr_cmd_t *run = cmds;
        redisReply **got = replies;
        int m = n, kind = R_NONE, nlater = 0, rslot = slot, *swap;
        const int *cur = todo;      /* this round's (the loop may allocate) */
        const redisReply *first = NULL;

        if (todo) {
            /* only what was redirected; on an ASK target each command
             * after its own ASKING (which holds for one command) */
            m = 0;
            for (i = 0; i < ntodo; i++) {
                if (asking)
                    sub[m++] = asking_cmd;
                sub[m++] = cmds[todo[i]];
            }
            run = sub;
            got = subrep;
        }
        rv = mcpr_exec_on(in, node, c, run, m, got, deadline, flags, err);
        if (rv != APR_SUCCESS) {
            if (rv == APR_EAGAIN || rv == APR_EACCES || rv == APR_TIMEUP
                || conn_retried || slot < 0 || apr_time_now() >= deadline)
                goto leave;
            /* the node failed: a failover may have moved its slots */
            conn_retried = 1;
            if (refresh(in, c, deadline, 0, &why) != APR_SUCCESS)
                goto leave;     /* the node's own failure is the answer */
            apr_thread_mutex_lock(cl->mutex);
            next = cl->owner[slot];
            apr_thread_mutex_unlock(cl->mutex);
            if (!next || next == node)
                goto leave;
            CLOG(in, c, APLOG_DEBUG, rv, MCPRLOG(00874)
                 "Redis Cluster %s: %s failed; slot %d is at %s now, "
                 "running there", in->described, node->name, slot,
                 next->name);
            apr_atomic_inc32(&cl->conn_retries);
            node = next;
            asking = 0;
            continue;
        }

        /* final replies go to their command, redirected commands to the
         * next round */
        for (i = 0; i < ntodo; i++) {
            redisReply *r = got[cur && asking ? 2 * i + 1 : i];
            int at = cur ? cur[i] : i;
            int k = redirection(r);

            if (k == R_DOWN) {
                kind = R_DOWN;
                first = r;
                break;
            }
            if (k == R_NONE) {
                replies[at] = r;
                continue;
            }
            if (!first) {
                kind = k;
                first = r;
            }
            if (!later) {
                /* the first redirection of this call */
                todo = apr_palloc(c->pool, sizeof(*todo) * n);
                later = apr_palloc(c->pool, sizeof(*later) * n);
                sub = apr_palloc(c->pool, sizeof(*sub) * 2 * n);
                subrep = apr_palloc(c->pool, sizeof(*subrep) * 2 * n);
                memset(&asking_cmd, 0, sizeof(asking_cmd));
                mcpr_conn_args(&asking_cmd, "ASKING", NULL);
            }
            later[nlater++] = at;
        }
        if (kind == R_NONE)
            break;
        if (kind == R_DOWN) {
            apr_time_t now = apr_time_now();

            apr_atomic_inc32(&cl->clusterdown);
            *err = apr_psprintf(c->pool, "%s: %s", node->name, first->str);
            apr_thread_mutex_lock(cl->mutex);
            if (now - cl->down_logged >= LOG_INTERVAL) {
                cl->down_logged = now;
                CLOG(in, c, APLOG_ERR, 0, MCPRLOG(00875)
                     "Redis Cluster %s is down for slot %d: %s answered "
                     "\"%s\"", in->described, slot, node->name, first->str);
            }
            apr_thread_mutex_unlock(cl->mutex);
            rv = APR_EGENERAL;
            goto leave;
        }
        swap = todo;
        todo = later;
        later = swap;
        ntodo = nlater;

        if (++hops > MCPR_MAX_REDIRECTS) {
            *err = apr_psprintf(c->pool, "more than %d redirections for "
                                "slot %d (last: %s: %s)", MCPR_MAX_REDIRECTS,
                                slot, node->name, first->str);
            CLOG(in, c, APLOG_ERR, 0, MCPRLOG(00876)
                 "Redis Cluster %s: %s", in->described, *err);
            rv = APR_EGENERAL;
            goto leave;
        }
        if (apr_time_now() >= deadline) {
            *err = apr_psprintf(c->pool, "the deadline passed while "
                                "following %s: %s", node->name, first->str);
            rv = APR_TIMEUP;
            goto leave;
        }

        if (kind == R_TRYAGAIN) {
            apr_interval_time_t left = deadline - apr_time_now();

            apr_atomic_inc32(&cl->tryagain);
            CLOG(in, c, APLOG_DEBUG, 0, MCPRLOG(00877)
                 "Redis Cluster %s: %s answered \"%s\"; again in %d ms",
                 in->described, node->name, first->str,
                 (int)apr_time_as_msec(TRYAGAIN_WAIT));
            apr_sleep(left < TRYAGAIN_WAIT ? left : TRYAGAIN_WAIT);
            /* the same node, with ASKING as before */
            continue;
        }

        next = target_of(in, c->pool, first, node, &rslot);
        if (!next) {
            *err = apr_psprintf(c->pool, "%s: unusable redirection \"%s\"",
                                node->name, first->str);
            CLOG(in, c, APLOG_ERR, 0, MCPRLOG(00878)
                 "Redis Cluster %s: %s", in->described, *err);
            rv = APR_EGENERAL;
            goto leave;
        }
        if (kind == R_MOVED) {
            /* the slot has a new owner for good: patch it now, read the
             * whole map soon (a reshard or failover moves more slots) */
            apr_atomic_inc32(&cl->moved);
            apr_thread_mutex_lock(cl->mutex);
            if (cl->owner[rslot] == NULL)
                cl->covered++;
            cl->owner[rslot] = next;
            cl->stale = 1;
            apr_thread_mutex_unlock(cl->mutex);
            CLOG(in, c, APLOG_DEBUG, 0, MCPRLOG(00879)
                 "Redis Cluster %s: MOVED: slot %d is at %s now (was %s); "
                 "map patched, %d command(s) again there", in->described,
                 rslot, next->name, node->name, ntodo);
            asking = 0;
        }
        else {
            /* a migration in progress: this time only, map unchanged */
            apr_atomic_inc32(&cl->ask);
            CLOG(in, c, APLOG_DEBUG, 0, MCPRLOG(00880)
                 "Redis Cluster %s: ASK: slot %d migrates from %s to %s; "
                 "%d command(s) there after ASKING", in->described, rslot,
                 node->name, next->name, ntodo);
            asking = 1;
        }
        node = next;
    }
    rv = APR_SUCCESS;
leave:
    return rv;
}

void mcpr_cluster_status(mcpr_t *in, struct request_rec *r, int flags)
{
    mcpr_cluster_t *cl = in->cluster;
    unsigned covered;
    int nknown, i;
    const char *nodes = "";

    if (!cl)
        return;
    apr_thread_mutex_lock(cl->mutex);
    covered = cl->covered;
    nknown = cl->nknown;
    for (i = 0; i < nknown; i++)
        nodes = apr_pstrcat(r->pool, nodes, i ? " " : "", cl->known[i]->name,
                            NULL);
    apr_thread_mutex_unlock(cl->mutex);

    if (flags & AP_STATUS_SHORT) {
        ap_rprintf(r, "MCPRedisClusterMasters: %d\n"
                   "MCPRedisClusterMasterList: %s\n"
                   "MCPRedisClusterSlots: %u\n"
                   "MCPRedisClusterMapReads: %u\n"
                   "MCPRedisClusterMapFailures: %u\n"
                   "MCPRedisClusterMoved: %u\n"
                   "MCPRedisClusterAsk: %u\n"
                   "MCPRedisClusterTryAgain: %u\n"
                   "MCPRedisClusterDown: %u\n"
                   "MCPRedisClusterRerouted: %u\n",
                   nknown, nodes, covered,
                   apr_atomic_read32(&cl->refreshes),
                   apr_atomic_read32(&cl->refresh_failures),
                   apr_atomic_read32(&cl->moved),
                   apr_atomic_read32(&cl->ask),
                   apr_atomic_read32(&cl->tryagain),
                   apr_atomic_read32(&cl->clusterdown),
                   apr_atomic_read32(&cl->conn_retries));
    }
    else {
        ap_rprintf(r, "<tr><td>Redis Cluster (this process)</td><td>"
                   "%d masters (%s), %u of %d slots covered; slot map read "
                   "%u times (%u failed); %u MOVED, %u ASK, %u TRYAGAIN, "
                   "%u CLUSTERDOWN; %u calls rerouted after a node "
                   "failed</td></tr>\n",
                   nknown, ap_escape_html(r->pool, nodes), covered, NSLOTS,
                   apr_atomic_read32(&cl->refreshes),
                   apr_atomic_read32(&cl->refresh_failures),
                   apr_atomic_read32(&cl->moved),
                   apr_atomic_read32(&cl->ask),
                   apr_atomic_read32(&cl->tryagain),
                   apr_atomic_read32(&cl->clusterdown),
                   apr_atomic_read32(&cl->conn_retries));
    }
}
