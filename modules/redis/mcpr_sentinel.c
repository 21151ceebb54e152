/*
 * mcpr_sentinel.c: redis+sentinel:// and rediss+sentinel://, following
 * the Redis "Sentinel client spec":
 *
 *   1. ask the Sentinels in order (SENTINEL get-master-addr-by-name); the
 *      first that answers moves to the front;
 *   2. connect to the address it names and check that ROLE says master,
 *      else try the next Sentinel;
 *   3. rediscover when a call on the master fails at the connection or
 *      gets READONLY (at most every 500 ms per child), and switch at once
 *      on +switch-master, which a per-child listener thread hears on a
 *      Sentinel. READONLY alone is not enough: after a failover the old
 *      master accepts writes for seconds until Sentinel demotes it.
 *
 * One discovery runs at a time per child: concurrent callers wait for it
 * and use its result. Everything lives in the child's root pool (in->cpool)
 * or, for the listener, in an unmanaged pool of its own.
 */
#include <errno.h>
#include <signal.h>
#include <pthread.h>

#include "apr_strings.h"
#include "apr_thread_proc.h"

#include "httpd.h"
#include "http_log.h"
#include "http_protocol.h"
#include "mod_status.h"

#include "mcpr.h"

APLOG_USE_MODULE(mcp_session_redis);

/* Rediscovery at most this often per child (the spec's advice). */
#define SENTINEL_REDISCOVER     apr_time_from_msec(500)
/* The listener: read deadline (a timeout keeps the connection), backoff
 * between failed connections (doubled after each round over every
 * Sentinel that failed, up to the cap: a wrong sentinel_password must not
 * cost the Sentinels two refused AUTHs a second per child), and the
 * deadline of its connect+SUBSCRIBE. */
#define SENTINEL_LISTEN_READ    apr_time_from_sec(1)
#define SENTINEL_LISTEN_BACKOFF apr_time_from_msec(500)
#define SENTINEL_LISTEN_MAXWAIT apr_time_from_sec(8)
#define SENTINEL_LISTEN_CONNECT apr_time_from_sec(2)

typedef struct mcpr_sentinel_t {
    apr_thread_mutex_t *mutex;      /* everything below */
    apr_thread_cond_t *done;        /* a discovery finished */
    mcpr_hostport_t *sentinels;     /* the front one answered last */
    int nsentinels;
    mcpr_node_t *master;            /* NULL until found */
    apr_uint32_t generation;        /* bumped at every master change */
    int suspect;                    /* a call doubted the master */
    int discovering;                /* a discovery runs (one at a time) */
    int failing;                    /* the latest discovery failed (logged) */
    apr_time_t last_discovery;      /* when the latest one finished */
    apr_uint64_t discoveries, failures, switches, readonly, messages;
    char why[512];                  /* why the latest discovery failed */
    char used[128];                 /* the Sentinel that answered last */
    int listening;                  /* the listener is subscribed */
    char listen_peer[128];          /* on this Sentinel */
    apr_uint64_t listen_connects;
} mcpr_sentinel_t;

static void copy_str(char *buf, apr_size_t size, const char *s)
{
    apr_cpystrn(buf, s ? s : "", size);
}

/* Make node the master (under st->mutex). Returns the node it replaces
 * (the caller flushes its idle connections once the mutex is released),
 * NULL when nothing changed. */
static mcpr_node_t *set_master(mcpr_t *in, mcpr_sentinel_t *st,
                               mcpr_node_t *node, const char *why)
{
    mcpr_node_t *old = st->master;

    st->suspect = 0;
    st->failing = 0;            /* the next outage logs again */
    if (old == node) {
        return NULL;
    }
    st->master = node;
    st->generation++;
    if (old) {
        st->switches++;
    }
    ap_log_error(APLOG_MARK, old ? APLOG_NOTICE : APLOG_INFO, 0, in->s,
                 MCPRLOG(00850) "Sentinel: master %s is now %s (was %s; %s)",
                 in->url->master, node->name, old ? old->name : "unknown",
                 why);
    return old;
}

/* Ask one Sentinel for the master's address and check its ROLE. Runs
 * without the mutex; `left`: the Sentinels still to ask, this one
 * included. APR_SUCCESS with host and port, else *why. */
static apr_status_t ask_one(mcpr_t *in, const mcpr_hostport_t *hp,
                            int left, apr_pool_t *p, apr_time_t deadline,
                            const char **host, apr_port_t *port,
                            const char **why)
{
    mcpr_conn_t *c = NULL;
    mcpr_cmd_t cmd;
    redisReply *r = NULL;
    mcpr_auth_t auth;
    const char *err = NULL, *role;
    apr_time_t cdl;
    apr_status_t rv;
    char *end;
    long n;

    /* connect_timeout, else an equal share of the time left for each
     * Sentinel still to ask: a black-holed first one must not take it all */
    cdl = in->connect_timeout > 0
        ? apr_time_now() + in->connect_timeout
        : apr_time_now() + (deadline - apr_time_now()) / left;
    if (cdl > deadline) {
        cdl = deadline;
    }
    rv = mcpr_conn_open(&c, hp->host, hp->port, in->tls, &in->sentinel_auth,
                        deadline, cdl, p, &err);
    if (rv != APR_SUCCESS) {
        c = NULL;
        *why = apr_psprintf(p, "Sentinel %s:%u: %s", hp->host,
                            (unsigned)hp->port, err ? err : "no answer");
        goto leave;
    }
    memset(&cmd, 0, sizeof(cmd));
    mcpr_conn_args(&cmd, "SENTINEL", "get-master-addr-by-name",
                   in->url->master, NULL);
    rv = mcpr_conn_exec(c, p, &cmd, 1, &r, deadline, &err);
    mcpr_conn_close(c);
    c = NULL;
    if (rv != APR_SUCCESS) {
        *why = apr_psprintf(p, "Sentinel %s:%u: %s", hp->host,
                            (unsigned)hp->port, err ? err : "no answer");
        goto leave;
    }
    if (r->type == REDIS_REPLY_NIL) {
        *why = apr_psprintf(p, "Sentinel %s:%u does not know a master "
                            "named '%s'", hp->host, (unsigned)hp->port,
                            in->url->master);
        rv = APR_NOTFOUND;
        goto leave;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        *why = apr_psprintf(p, "Sentinel %s:%u answered: %.*s", hp->host,
                            (unsigned)hp->port, (int)r->len, r->str);
        rv = APR_EGENERAL;
        goto leave;
    }
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 2
        || r->element[0]->type != REDIS_REPLY_STRING
        || r->element[1]->type != REDIS_REPLY_STRING) {
        *why = apr_psprintf(p, "Sentinel %s:%u: unexpected reply to "
                            "get-master-addr-by-name", hp->host,
                            (unsigned)hp->port);
        rv = APR_EGENERAL;
        goto leave;
    }
    *host = apr_pstrmemdup(p, r->element[0]->str, r->element[0]->len);
    n = strtol(r->element[1]->str, &end, 10);
    if (*end || n <= 0 || n > 65535) {
        *why = apr_psprintf(p, "Sentinel %s:%u named a bad port",
                            hp->host, (unsigned)hp->port);
        rv = APR_EGENERAL;
        goto leave;
    }
    *port = (apr_port_t)n;

    /* the master itself, with the data handshake plus ROLE: a wrong
     * password shows here too, and a stale answer (a demoted master) is
     * caught before any data call goes there */
    auth = in->auth;
    auth.role = 1;
    rv = mcpr_conn_open(&c, *host, *port, in->tls, &auth, deadline, cdl, p,
                        &err);
    if (rv != APR_SUCCESS) {
        c = NULL;
        *why = apr_psprintf(p, "master %s:%u named by Sentinel %s:%u: %s",
                            *host, (unsigned)*port, hp->host,
                            (unsigned)hp->port, err ? err : "no answer");
        goto leave;
    }
    role = mcpr_conn_role(c);
    if (!role || strcmp(role, "master")) {
        *why = apr_psprintf(p, "%s:%u named by Sentinel %s:%u as master "
                            "'%s' says it is a %s", *host, (unsigned)*port,
                            hp->host, (unsigned)hp->port, in->url->master,
                            role ? role : "server without ROLE");
        rv = APR_EGENERAL;
        goto leave;
    }
    rv = APR_SUCCESS;

leave:
    if (c) {
        mcpr_conn_close(c);
    }
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, in->s,
                     MCPRLOG(00851) "Sentinel discovery for %s: %s",
                     in->described, *why);
    }
    return rv;
}

/* One discovery: the Sentinels in order until one names a master whose
 * ROLE agrees. Called with the mutex held and st->discovering set; drops
 * the mutex while it talks to the servers. */
static void discover(mcpr_t *in, mcpr_sentinel_t *st, apr_pool_t *p,
                     apr_time_t deadline, const char *reason)
{
    mcpr_hostport_t *list;
    mcpr_node_t *node = NULL, *old = NULL;
    const char *host = NULL, *why = "no Sentinel configured", *whys = NULL;
    apr_port_t port = 0;
    apr_uint32_t gen = st->generation;
    apr_status_t rv = APR_EGENERAL;
    int i, n = st->nsentinels, found = -1;

    list = apr_pmemdup(p, st->sentinels, n * sizeof(*list));
    apr_thread_mutex_unlock(st->mutex);

    ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, in->s,
                 MCPRLOG(00852) "Sentinel: looking for master %s (%s)",
                 in->url->master, reason);
    for (i = 0; i < n; i++) {
        if (apr_time_now() >= deadline) {
            whys = apr_pstrcat(p, whys, "; the call's deadline passed", NULL);
            break;
        }
        rv = ask_one(in, &list[i], n - i, p, deadline, &host, &port, &why);
        /* every Sentinel's reason, for the one line an outage logs */
        whys = whys ? apr_pstrcat(p, whys, "; ", why, NULL) : why;
        if (rv == APR_SUCCESS) {
            found = i;
            node = mcpr_node_get(in, host, port, &in->auth);
            if (!node) {
                why = "out of memory";
                rv = APR_ENOMEM;
            }
            break;
        }
    }

    apr_thread_mutex_lock(st->mutex);
    st->discoveries++;
    st->last_discovery = apr_time_now();
    if (rv == APR_SUCCESS) {
        if (found > 0) {
            /* the first that answers moves to the front */
            mcpr_hostport_t first = st->sentinels[found];
            memmove(st->sentinels + 1, st->sentinels,
                    found * sizeof(*st->sentinels));
            st->sentinels[0] = first;
        }
        apr_snprintf(st->used, sizeof(st->used), "%s:%u", list[found].host,
                     (unsigned)list[found].port);
        if (st->failing) {
            ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, in->s,
                         MCPRLOG(00853) "Sentinel: master %s found again "
                         "at %s (%s)", in->url->master, node->name,
                         in->described);
            st->failing = 0;
        }
        if (st->generation != gen) {
            /* +switch-master came meanwhile: it is newer than our answer */
            st->suspect = 0;
        }
        else {
            old = set_master(in, st, node, apr_psprintf(p, "discovered "
                                                        "through Sentinel "
                                                        "%s: %s", st->used,
                                                        reason));
        }
    }
    else {
        st->failures++;
        why = whys ? whys : why;
        copy_str(st->why, sizeof(st->why), why);
        if (!st->failing) {
            /* once per outage (the 503s that follow say nothing more);
             * no status: `why` says it in words */
            ap_log_error(APLOG_MARK, APLOG_ERR, 0, in->s,
                         MCPRLOG(00854) "Sentinel: no usable master %s from "
                         "the Sentinels of %s: %s", in->url->master,
                         in->described, why);
            st->failing = 1;
        }
    }
    if (old) {
        apr_thread_mutex_unlock(st->mutex);
        mcpr_node_flush(old);
        apr_thread_mutex_lock(st->mutex);
    }
}

apr_status_t mcpr_sentinel_master(mcpr_t *in, apr_pool_t *p,
                                  apr_time_t deadline, mcpr_node_t **node,
                                  const char **err)
{
    mcpr_sentinel_t *st = in->sentinel;
    apr_status_t rv;
    apr_time_t now;
    const char *reason;

    *node = NULL;
    apr_thread_mutex_lock(st->mutex);
    for (;;) {
        now = apr_time_now();
        if (st->discovering) {
            /* one discovery at a time: wait for its answer */
            if (now >= deadline) {
                /* ETIMEDOUT: APR_TIMEUP is wait()'s in the store contract */
                *err = "timed out waiting for the Sentinel discovery";
                rv = APR_FROM_OS_ERROR(ETIMEDOUT);
                break;
            }
            apr_thread_cond_timedwait(st->done, st->mutex, deadline - now);
            continue;
        }
        if (st->master
            && (!st->suspect
                || now - st->last_discovery < SENTINEL_REDISCOVER)) {
            *node = st->master;
            rv = APR_SUCCESS;
            break;
        }
        if (!st->master && st->last_discovery
            && now - st->last_discovery < SENTINEL_REDISCOVER) {
            /* no master and asked a moment ago: fail fast with why */
            *err = apr_pstrcat(p, "Sentinel: ", st->why, NULL);
            rv = APR_EGENERAL;
            break;
        }
        reason = st->master ? "the master was suspected"
               : st->last_discovery ? "no master yet" : "first call";
        st->discovering = 1;
        discover(in, st, p, deadline, reason);
        st->discovering = 0;
        apr_thread_cond_broadcast(st->done);
        if (st->master) {
            /* a failed rediscovery keeps the master we had: the Sentinels
             * being away says nothing about it */
            *node = st->master;
            rv = APR_SUCCESS;
        }
        else {
            *err = apr_pstrcat(p, "Sentinel: ", st->why, NULL);
            rv = APR_EGENERAL;
        }
        break;
    }
    apr_thread_mutex_unlock(st->mutex);
    return rv;
}

void mcpr_sentinel_suspect(mcpr_t *in, mcpr_node_t *node, const char *why)
{
    mcpr_sentinel_t *st = in->sentinel;

    apr_thread_mutex_lock(st->mutex);
    if (node == st->master && !st->suspect) {
        st->suspect = 1;
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, in->s,
                     MCPRLOG(00855) "Sentinel: master %s (%s) suspected: %s",
                     in->url->master, node->name, why ? why : "failed");
    }
    apr_thread_mutex_unlock(st->mutex);
}

apr_status_t mcpr_sentinel_exec(mcpr_t *in, const mcp_store_ctx_t *c,
                                const mcpr_cmd_t *cmds, int n,
                                redisReply **replies, apr_time_t deadline,
                                int flags, const char **err)
{
    mcpr_sentinel_t *st = in->sentinel;
    mcpr_node_t *node, *tried = NULL;
    const redisReply *ro = NULL;
    apr_status_t rv, erv = APR_EGENERAL;
    int i;

    for (;;) {
        rv = mcpr_sentinel_master(in, c->pool, deadline, &node, err);
        if (rv != APR_SUCCESS) {
            goto leave;
        }
        if (node == tried) {
            /* rediscovery named the same server (or was too recent): the
             * first answer stands (a failure, or READONLY below) */
            rv = erv;
            break;
        }
        ro = NULL;
        rv = erv = mcpr_exec_on(in, node, c, cmds, n, replies, deadline,
                                flags, err);
        if (rv == APR_EAGAIN) {
            /* busy, not down: nothing to suspect */
            goto leave;
        }
        if (rv == APR_SUCCESS) {
            for (i = 0; i < n && !ro; i++) {
                if (mcpr_conn_error_is(replies[i], "READONLY")) {
                    ro = replies[i];
                }
            }
            if (!ro) {
                goto leave;
            }
            apr_thread_mutex_lock(st->mutex);
            st->readonly++;
            apr_thread_mutex_unlock(st->mutex);
            mcpr_sentinel_suspect(in, node, "READONLY reply");
        }
        else {
            mcpr_sentinel_suspect(in, node, *err);
        }
        if (tried || apr_time_now() >= deadline) {
            break;
        }
        tried = node;
    }
    if (ro) {
        /* still READONLY after a rediscovery: the Sentinels name a
         * replica (a failover in progress); 503, logged as a refusal */
        rv = mcpr_exec_refused(in, c, "READONLY", ro);
    }

leave:
    return rv;
}

/* +switch-master "NAME oldip oldport newip newport": ours? then switch. */
static void on_message(mcpr_t *in, mcpr_sentinel_t *st, apr_pool_t *p,
                       const redisReply *r, const char *peer)
{
    mcpr_node_t *node, *old;
    char *text, *last, *name, *oip, *oport, *nip, *nport, *end;
    long port;

    if (r->type != REDIS_REPLY_ARRAY || r->elements != 3
        || r->element[0]->type != REDIS_REPLY_STRING
        || strcmp(r->element[0]->str, "message")
        || r->element[2]->type != REDIS_REPLY_STRING) {
        return;
    }
    text = apr_pstrmemdup(p, r->element[2]->str, r->element[2]->len);
    name = apr_strtok(text, " ", &last);
    oip = apr_strtok(NULL, " ", &last);
    oport = apr_strtok(NULL, " ", &last);
    nip = apr_strtok(NULL, " ", &last);
    nport = apr_strtok(NULL, " ", &last);
    if (!name || strcmp(name, in->url->master) || !nport) {
        return;
    }
    port = strtol(nport, &end, 10);
    if (*end || port <= 0 || port > 65535) {
        return;
    }
    node = mcpr_node_get(in, nip, (apr_port_t)port, &in->auth);
    if (!node) {
        return;
    }
    apr_thread_mutex_lock(st->mutex);
    st->messages++;
    old = set_master(in, st, node,
                     apr_psprintf(p, "+switch-master from Sentinel %s, "
                                  "old master %s:%s", peer, oip, oport));
    apr_thread_mutex_unlock(st->mutex);
    if (old) {
        mcpr_node_flush(old);
    }
}

/* The listener thread: SUBSCRIBE +switch-master on a Sentinel, for the
 * life of the child. Detached; process exit ends it. */
static void *APR_THREAD_FUNC listener(apr_thread_t *thd, void *data)
{
    mcpr_t *in = data;
    mcpr_sentinel_t *st = in->sentinel;
    apr_pool_t *tp, *cp, *mp;
    mcpr_conn_t *c;
    mcpr_cmd_t cmd;
    mcpr_hostport_t hp;
    redisReply *r;
    const char *err, *peer;
    apr_status_t rv;
    int next = 0, was_listening = 0, fails = 0, i;
    apr_interval_time_t wait;

    /* our own pools: cpool's allocator is not for this thread */
    if (apr_pool_create_unmanaged_ex(&tp, NULL, NULL) != APR_SUCCESS) {
        return NULL;
    }
    apr_pool_create(&cp, tp);

    for (;;) {
        apr_pool_clear(cp);
        apr_pool_create(&mp, cp);
        apr_thread_mutex_lock(st->mutex);
        if (next >= st->nsentinels) {
            next = 0;
        }
        hp = st->sentinels[next];
        hp.host = apr_pstrdup(cp, hp.host);
        apr_thread_mutex_unlock(st->mutex);
        peer = apr_psprintf(cp, "%s:%u", hp.host, (unsigned)hp.port);

        err = NULL;
        rv = mcpr_conn_open(&c, hp.host, hp.port, in->tls, &in->sentinel_auth,
                            apr_time_now() + SENTINEL_LISTEN_CONNECT,
                            apr_time_now() + SENTINEL_LISTEN_CONNECT, cp,
                            &err);
        if (rv == APR_SUCCESS) {
            memset(&cmd, 0, sizeof(cmd));
            mcpr_conn_args(&cmd, "SUBSCRIBE", "+switch-master", NULL);
            rv = mcpr_conn_exec(c, mp, &cmd, 1, &r,
                                apr_time_now() + SENTINEL_LISTEN_CONNECT,
                                &err);
            if (rv == APR_SUCCESS && r->type == REDIS_REPLY_ERROR) {
                err = apr_pstrmemdup(cp, r->str, r->len);
                rv = APR_EGENERAL;
            }
            if (rv != APR_SUCCESS) {
                mcpr_conn_close(c);
            }
        }
        if (rv != APR_SUCCESS) {
            wait = SENTINEL_LISTEN_BACKOFF;
            for (i = fails / st->nsentinels;
                 i > 0 && wait < SENTINEL_LISTEN_MAXWAIT; i--) {
                wait *= 2;
            }
            if (wait > SENTINEL_LISTEN_MAXWAIT) {
                wait = SENTINEL_LISTEN_MAXWAIT;
            }
            ap_log_error(APLOG_MARK, fails ? APLOG_DEBUG : APLOG_INFO, rv,
                         in->s, MCPRLOG(00856) "Sentinel listener: cannot "
                         "subscribe on %s: %s (next try in %d ms, the "
                         "Sentinels in turn)", peer, err ? err : "no answer",
                         (int)apr_time_as_msec(wait));
            fails++;
            next++;
            apr_sleep(wait);
            continue;
        }
        fails = 0;

        apr_thread_mutex_lock(st->mutex);
        st->listening = 1;
        st->listen_connects++;
        copy_str(st->listen_peer, sizeof(st->listen_peer), peer);
        if (was_listening) {
            /* a switch may have come while we were away */
            st->suspect = 1;
        }
        apr_thread_mutex_unlock(st->mutex);
        ap_log_error(APLOG_MARK, was_listening ? APLOG_INFO : APLOG_DEBUG, 0,
                     in->s, MCPRLOG(00857) "Sentinel listener: subscribed "
                     "to +switch-master on %s for master %s", peer,
                     in->url->master);
        was_listening = 1;

        for (;;) {
            apr_pool_clear(mp);
            rv = mcpr_conn_read(c, mp, &r,
                                apr_time_now() + SENTINEL_LISTEN_READ, &err);
            if (rv == APR_TIMEUP) {
                continue;
            }
            if (rv != APR_SUCCESS) {
                break;
            }
            on_message(in, st, mp, r, peer);
        }
        mcpr_conn_close(c);
        apr_thread_mutex_lock(st->mutex);
        st->listening = 0;
        apr_thread_mutex_unlock(st->mutex);
        ap_log_error(APLOG_MARK, APLOG_INFO, rv, in->s,
                     MCPRLOG(00858) "Sentinel listener: lost %s: %s; "
                     "reconnecting", peer, err ? err : "closed");
        next++;
        apr_sleep(SENTINEL_LISTEN_BACKOFF);
    }
    return NULL;
}

apr_status_t mcpr_sentinel_child_init(mcpr_t *in, apr_pool_t *pchild)
{
    mcpr_sentinel_t *st;
    apr_threadattr_t *attr;
    apr_thread_t *thd;
    sigset_t all, saved;
    apr_status_t rv;
    int i;

    st = apr_pcalloc(in->cpool, sizeof(*st));
    rv = apr_thread_mutex_create(&st->mutex, APR_THREAD_MUTEX_DEFAULT,
                                 in->cpool);
    if (rv != APR_SUCCESS) {
        goto leave;
    }
    rv = apr_thread_cond_create(&st->done, in->cpool);
    if (rv != APR_SUCCESS) {
        goto leave;
    }
    st->nsentinels = in->url->hosts->nelts;
    st->sentinels = apr_pcalloc(in->cpool,
                                st->nsentinels * sizeof(*st->sentinels));
    for (i = 0; i < st->nsentinels; i++) {
        const mcpr_hostport_t *hp =
            &APR_ARRAY_IDX(in->url->hosts, i, mcpr_hostport_t);
        st->sentinels[i].host = apr_pstrdup(in->cpool, hp->host);
        st->sentinels[i].port = hp->port;
    }
    in->sentinel = st;

    rv = apr_threadattr_create(&attr, in->cpool);
    if (rv != APR_SUCCESS) {
        goto leave;
    }
    apr_threadattr_detach_set(attr, 1);
    /* the thread starts with every signal blocked: the MPM's signals are
     * for its own threads. in->cpool is used under in->mutex only (the
     * thread may already be running when its creation allocates). */
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &saved);
    apr_thread_mutex_lock(in->mutex);
    rv = apr_thread_create(&thd, attr, listener, in, in->cpool);
    apr_thread_mutex_unlock(in->mutex);
    pthread_sigmask(SIG_SETMASK, &saved, NULL);

leave:
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, in->s,
                     MCPRLOG(00859) "Sentinel: cannot start the "
                     "+switch-master listener of %s (calls still find the "
                     "master through the Sentinels)", in->described);
        /* without the thread, calls still work: only the mutex is vital */
        if (st->mutex && st->done) {
            rv = APR_SUCCESS;
        }
    }
    return rv;
}

void mcpr_sentinel_status(mcpr_t *in, struct request_rec *r, int flags)
{
    mcpr_sentinel_t *st = in->sentinel;
    const char *master, *used, *listen, *why;
    apr_uint64_t disc, fail, sw, ro, msg, lc;
    apr_uint32_t gen;

    if (!st) {
        return;
    }
    apr_thread_mutex_lock(st->mutex);
    master = st->master ? apr_pstrdup(r->pool, st->master->name) : "none";
    used = st->used[0] ? apr_pstrdup(r->pool, st->used) : "none";
    listen = st->listening ? apr_pstrdup(r->pool, st->listen_peer) : "none";
    why = st->failing ? apr_pstrdup(r->pool, st->why) : "";
    gen = st->generation;
    disc = st->discoveries;
    fail = st->failures;
    sw = st->switches;
    ro = st->readonly;
    msg = st->messages;
    lc = st->listen_connects;
    apr_thread_mutex_unlock(st->mutex);

    if (flags & AP_STATUS_SHORT) {
        ap_rprintf(r, "MCPRedisSentinelMasterName: %s\n"
                   "MCPRedisSentinelMaster: %s\n"
                   "MCPRedisSentinelGeneration: %u\n"
                   "MCPRedisSentinelSwitches: %" APR_UINT64_T_FMT "\n"
                   "MCPRedisSentinelDiscoveries: %" APR_UINT64_T_FMT "\n"
                   "MCPRedisSentinelDiscoveryFailures: %" APR_UINT64_T_FMT
                   "\n"
                   "MCPRedisSentinelReadonly: %" APR_UINT64_T_FMT "\n"
                   "MCPRedisSentinelMessages: %" APR_UINT64_T_FMT "\n"
                   "MCPRedisSentinelInUse: %s\n"
                   "MCPRedisSentinelListener: %s\n"
                   "MCPRedisSentinelListenerConnects: %" APR_UINT64_T_FMT
                   "\n",
                   in->url->master, master, gen, sw, disc, fail, ro, msg,
                   used, listen, lc);
        if (*why) {
            ap_rprintf(r, "MCPRedisSentinelNoMaster: %s\n", why);
        }
        return;
    }
    ap_rprintf(r, "<tr><td>Sentinel master %s (this process)</td><td>%s; "
               "%u changes, %" APR_UINT64_T_FMT " switches, %"
               APR_UINT64_T_FMT " discoveries (%" APR_UINT64_T_FMT
               " failed), %" APR_UINT64_T_FMT " READONLY replies, %"
               APR_UINT64_T_FMT " +switch-master messages; Sentinel in use "
               "%s; listener on %s (%" APR_UINT64_T_FMT " connects)%s%s"
               "</td></tr>\n",
               ap_escape_html(r->pool, in->url->master),
               *why ? "<b>none</b>" : ap_escape_html(r->pool, master), gen,
               sw, disc, fail, ro, msg, ap_escape_html(r->pool, used),
               ap_escape_html(r->pool, listen), lc,
               *why ? "; no master because: " : "",
               *why ? ap_escape_html(r->pool, why) : "");
}
