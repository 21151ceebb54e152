/*
 * mod_mcp_session_redis: the internal declarations of the Redis store
 * provider module (mod_mcp_session_redis.so). It is built from
 * include/ alone (mod_mcp_session.h, mcp_session_store.h), APR, httpd,
 * hiredis 0.14's reply reader and command formatter, and OpenSSL: no
 * header of mod_mcp_session's src/ is on its include path.
 *
 * The layers, one file each (a file's topic is its functions' prefix):
 *
 *   mcpr_url.c      MCPSessionStore URL and ?options: parse, describe
 *                   without the password. httpd-free.
 *   mcpr_tls.c      the SSL_CTX of an instance (built in the parent, like
 *                   mod_ssl's keys) and the client side of one TLS
 *                   session over a non-blocking fd under a deadline.
 *                   httpd-free.
 *   mcpr_conn.c     one connection: connect (every address of a name,
 *                   IPv4 or IPv6) under a deadline, TLS, the handshake
 *                   (AUTH, SELECT, CLIENT SETNAME, pipelined), a pipeline
 *                   of commands in one write and its replies through
 *                   hiredis's reader. httpd-free.
 *   mcpr_node.c     one Redis server as this child sees it: its bounded
 *                   pool of connections (and a separate one for blocking
 *                   reads), its down state (fail fast, one probe at a
 *                   time), its counters; the per-child table of nodes.
 *   mcpr_exec.c     run a pipeline where it belongs (single server,
 *                   Sentinel's master, the Cluster node owning the slot),
 *                   once more on a fresh connection when a pooled one was
 *                   stale; outage and refusal logging (once per outage).
 *   mcpr_sentinel.c master discovery through Sentinels, ROLE check,
 *                   rediscovery, the per-child +switch-master listener.
 *   mcpr_cluster.c  slot map (CLUSTER SLOTS), CRC16 hash slots, MOVED /
 *                   ASK / TRYAGAIN / CLUSTERDOWN.
 *   mcpr_store.c    the store operations: create_session, fetch, update,
 *                   update_if, remove (one round trip each).
 *   mcpr_bus.c      publish/wait: one Redis Stream per channel, blocking
 *                   XREAD on a connection of the node's blocking pool.
 *   mod_mcp_session_redis.c  module record, directives, the provider
 *                   table (create/init/child_init/describe/healthy/
 *                   status), register_hooks.
 *
 * Life cycle (include/mcp_session_store.h): create() parses only; init()
 * (parent, every configuration pass) builds the SSL_CTX and reads the
 * password and key files; child_init() makes the per-child root pool,
 * mutexes and node table and starts Sentinel's listener thread. Nothing a
 * data call may hold lives in pchild: prefork's just_die destroys pchild
 * while a request may be inside a call, so per-child state lives in an
 * unmanaged root pool nothing destroys (process exit closes sockets).
 *
 * Log tags (MCPRLOG): 00800-00899. mod_mcp_session_redis.c and mcpr_url.c
 * 00800-00819 (url: messages only, no tag), mcpr_conn.c/mcpr_tls.c/
 * mcpr_node.c/mcpr_exec.c 00820-00839, mcpr_store.c 00840-00849,
 * mcpr_sentinel.c 00850-00869, mcpr_cluster.c 00870-00889, mcpr_bus.c
 * 00890-00899.
 */
#ifndef MCPR_H
#define MCPR_H

#include "apr_pools.h"
#include "apr_time.h"
#include "apr_errno.h"
#include "apr_tables.h"
#include "apr_hash.h"
#include "apr_network_io.h"
#include "apr_thread_mutex.h"
#include "apr_thread_cond.h"

#include <hiredis/hiredis.h>

#include "mcp_session_store.h"

#define MCPRLOG(n) "MCPS" #n ": "

#define MCPR_DEFAULT_PORT           6379
#define MCPR_DEFAULT_SENTINEL_PORT  26379
/* Cluster: at most this many MOVED/ASK/TRYAGAIN hops per call. */
#define MCPR_MAX_REDIRECTS          5
/* The most arguments a command of ours has (EVALSHA sha 1 key a b c d). */
#define MCPR_MAX_ARGS               12

/* ------------------------------------------------------------------ */
/* mcpr_url.c: the MCPSessionStore value (httpd-free)                 */

typedef enum {
    MCPR_SINGLE,                    /* redis:// rediss:// */
    MCPR_SENTINEL,                  /* redis+sentinel:// rediss+sentinel:// */
    MCPR_CLUSTER                    /* redis+cluster:// rediss+cluster:// */
} mcpr_mode_e;

typedef enum {
    MCPR_VERIFY_FULL,               /* chain and the server's name or IP (default) */
    MCPR_VERIFY_CA,                 /* chain only */
    MCPR_VERIFY_NONE                /* nothing (warned at startup) */
} mcpr_verify_e;

typedef struct mcpr_hostport_t {
    const char *host;               /* name, IPv4 or IPv6 without brackets */
    apr_port_t port;
} mcpr_hostport_t;

typedef struct mcpr_url_t {
    const char *scheme;             /* lowercased, e.g. "rediss+sentinel" */
    mcpr_mode_e mode;
    int tls;
    const char *user;               /* percent-decoded; NULL: AUTH password */
    const char *password;           /* percent-decoded; NULL: none in the URL */
    apr_array_header_t *hosts;      /* mcpr_hostport_t, at least one: the
                                     * server, the Sentinels or the seeds */
    const char *master;             /* Sentinel: the master's name */
    int db;                         /* -1: no SELECT (Cluster: always -1) */
    /* ?options (all optional, '&'-separated; unknown ones are an error) */
    apr_interval_time_t connect_timeout; /* connect_timeout=250ms; 0: the
                                     * call's deadline alone */
    const char *sni;                /* sni=NAME: sent and verified instead
                                     * of the host */
    mcpr_verify_e verify;           /* verify=full|ca|none */
    int pool_max;                   /* pool_max=N; 0: ThreadsPerChild */
    const char *client_name;        /* name=N: CLIENT SETNAME */
    const char *sentinel_user;      /* sentinel_user= / sentinel_password=:
                                     * the Sentinels' own AUTH (default none) */
    const char *sentinel_password;
} mcpr_url_t;

/* Parse spec (the whole MCPSessionStore value) into *out (from p). NULL,
 * or a message saying what is accepted; never containing the password. */
const char *mcpr_url_parse(apr_pool_t *p, const char *spec, mcpr_url_t **out);

/* The URL for logs and mod_status: the password as "***". */
const char *mcpr_url_describe(apr_pool_t *p, const mcpr_url_t *u);

/* ------------------------------------------------------------------ */
/* mcpr_tls.c: TLS client (httpd-free)                                */

typedef struct mcpr_tls_t mcpr_tls_t;   /* SSL_CTX and verify settings */

/* Build the client SSL_CTX (TLS >= 1.2, peer verification as `verify`),
 * trusting ca_file or, when NULL, the system store; with cert_file and
 * key_file, present that client certificate. Freed with p. NULL or a
 * message (the file and OpenSSL's reason). In the parent. */
const char *mcpr_tls_create(apr_pool_t *p, mcpr_tls_t **out,
                            const char *ca_file, const char *cert_file,
                            const char *key_file, mcpr_verify_e verify,
                            const char *sni);

struct ssl_ctx_st;                  /* OpenSSL's SSL_CTX */
struct ssl_st;                      /* OpenSSL's SSL */

/* What a connection needs of it (mcpr_conn.c): the SSL_CTX (OpenSSL's
 * SSL_CTX), the verification and the SNI name (NULL: the host). */
struct ssl_ctx_st *mcpr_tls_ctx(const mcpr_tls_t *tls);
mcpr_verify_e mcpr_tls_verify(const mcpr_tls_t *tls);
const char *mcpr_tls_sni(const mcpr_tls_t *tls);

/* Session resumption, so that reconnecting after an outage is cheap:
 * _use offers ssl (an SSL*) the session kept for host:port before its
 * handshake, _keep keeps ssl's session after a successful one. */
void mcpr_tls_session_use(const mcpr_tls_t *tls, struct ssl_st *ssl,
                          const char *host, apr_port_t port);
void mcpr_tls_session_keep(const mcpr_tls_t *tls, struct ssl_st *ssl,
                           const char *host, apr_port_t port);

/* ------------------------------------------------------------------ */
/* mcpr_conn.c: one connection (httpd-free)                           */

typedef struct mcpr_conn_t mcpr_conn_t;

/* What the handshake of a new connection sends, pipelined in one write. */
typedef struct mcpr_auth_t {
    const char *user;               /* AUTH user password (Redis 6 ACL) */
    const char *password;           /* AUTH password; NULL: no AUTH */
    int db;                         /* SELECT db; -1: none */
    const char *client_name;        /* CLIENT SETNAME; NULL: none */
    int role;                       /* 1: ROLE too (Sentinel's master check):
                                     * its reply is kept, mcpr_conn_role() */
} mcpr_auth_t;

/* One command: argv/len as redisFormatCommandArgv takes them. */
typedef struct mcpr_cmd_t {
    int argc;
    const char *argv[MCPR_MAX_ARGS];
    size_t len[MCPR_MAX_ARGS];
} mcpr_cmd_t;

/* Append one argument (len bytes, any bytes) / a C string. */
void mcpr_conn_arg(mcpr_cmd_t *cmd, const char *arg, apr_size_t len);
void mcpr_conn_args(mcpr_cmd_t *cmd, ...);  /* C strings, NULL-terminated */

/* Connect to host:port: every address of the name (APR_UNSPEC, in
 * resolver order) until one answers, TCP_NODELAY and keepalive, then TLS
 * when tls is not NULL (verifying sni, else host), then the handshake
 * `auth`, all before `deadline` (and the connect itself before
 * connect_deadline when that is earlier). The connection owns an
 * unmanaged pool of its own (safe to open and close from any thread).
 * Returns APR_SUCCESS, APR_TIMEUP (deadline passed), APR_EACCES (Redis
 * refused the handshake: WRONGPASS, NOAUTH, NOPERM, ...; the connection
 * is closed), or the socket's or TLS's error; *err (from p) says why in
 * an operator's words (Redis's own reply text, OpenSSL's verify result,
 * "connection refused"), never the password. */
apr_status_t mcpr_conn_open(mcpr_conn_t **c, const char *host,
                            apr_port_t port, const mcpr_tls_t *tls,
                            const mcpr_auth_t *auth, apr_time_t deadline,
                            apr_time_t connect_deadline, apr_pool_t *p,
                            const char **err);

/* Send the n commands in one write and read n replies, all before
 * deadline. APR_SUCCESS: replies[0..n-1] are set, error replies included
 * (the connection stays usable), and are freed when p is cleaned up.
 * Anything else: the connection is broken (close it); APR_TIMEUP when
 * the deadline passed, APR_EOF when the server closed it; *err says why. */
apr_status_t mcpr_conn_exec(mcpr_conn_t *c, apr_pool_t *p,
                            const mcpr_cmd_t *cmds, int n,
                            redisReply **replies, apr_time_t deadline,
                            const char **err);

/* Read one more reply (pub/sub messages) before deadline. APR_TIMEUP with
 * the connection still usable when no complete reply came (what was read
 * stays in the reader); other statuses as mcpr_conn_exec. */
apr_status_t mcpr_conn_read(mcpr_conn_t *c, apr_pool_t *p,
                            redisReply **reply, apr_time_t deadline,
                            const char **err);

/* 1 when an idle connection looks sound: nothing to read (a readable idle
 * socket was closed by the peer or holds garbage). */
int mcpr_conn_idle_ok(mcpr_conn_t *c);

/* The ROLE reply's first element ("master", "slave", ...) of a connection
 * opened with auth->role, else NULL. */
const char *mcpr_conn_role(mcpr_conn_t *c);

/* "host:port" ("[::1]:6379") of the server. */
const char *mcpr_conn_peer(mcpr_conn_t *c);

void mcpr_conn_close(mcpr_conn_t *c);

/* mcpr_node.c's bookkeeping on a connection: the node generation it was
 * opened in (0 when new), and how many exec/read calls it has run (more
 * than one: it came from the pool, it is not fresh). */
apr_uint32_t mcpr_conn_generation(const mcpr_conn_t *c);
void mcpr_conn_set_generation(mcpr_conn_t *c, apr_uint32_t generation);
unsigned mcpr_conn_uses(const mcpr_conn_t *c);

/* 1 when the connection is TLS and its handshake resumed an earlier
 * session (mcpr_tls_session_use), else 0. */
int mcpr_conn_tls_resumed(const mcpr_conn_t *c);

/* 1 when r is an error reply whose first word is `word` ("MOVED",
 * "NOSCRIPT", "READONLY"): compare by prefix only (Valkey's texts differ
 * from Redis's after the first word). */
int mcpr_conn_error_is(const redisReply *r, const char *word);

/* ------------------------------------------------------------------ */
/* mcpr_node.c: one Redis server, per child                           */

typedef struct mcpr_t mcpr_t;

typedef struct mcpr_node_t {
    mcpr_t *in;
    const char *host;               /* from the child's root pool */
    apr_port_t port;
    const char *name;               /* "host:port" for logs and status */
    const mcpr_auth_t *auth;        /* the handshake of its connections */

    apr_thread_mutex_t *mutex;      /* everything below */
    apr_thread_cond_t *freed;       /* a connection came back */
    mcpr_conn_t **idle;             /* LIFO, at most max */
    int nidle, busy, max;           /* busy: checked out now */
    mcpr_conn_t **bidle;            /* the blocking pool (mcpr_bus.c's XREAD) */
    int nbidle, bbusy, bmax;
    apr_uint32_t generation;        /* bumped by flush: connections of an
                                     * older generation close on return */

    /* down state: while down, calls fail at once except one probe at a
     * time, at most every MCPR_PROBE_INTERVAL */
    int down;
    int probing;
    apr_time_t down_since, next_probe;
    char last_error[256];           /* why, as logged (no password) */

    /* counters, this child */
    apr_uint64_t calls, errors, connects, reconnects, timeouts, busy_refused,
                 refused_replies;
} mcpr_node_t;

#define MCPR_PROBE_INTERVAL     apr_time_from_msec(500)

/* The node for host:port, made on first use (this child's table, under
 * the instance's mutex; never freed). NULL only when out of memory. */
mcpr_node_t *mcpr_node_get(mcpr_t *in, const char *host, apr_port_t port,
                           const mcpr_auth_t *auth);

/* Check a connection out: an idle one that looks sound, else a new one
 * while fewer than max are out, else wait for one until deadline
 * (APR_EAGAIN then: busy, not down). blocking: from the blocking pool.
 * *fresh is 1 for a new connection. While the node is down and this call
 * is not the probe: the down reason at once (*err set) and *fresh is -1:
 * that failure is the node's known state, not an outcome to record. */
apr_status_t mcpr_node_checkout(mcpr_node_t *n, int blocking,
                                apr_time_t deadline, apr_pool_t *p,
                                mcpr_conn_t **c, int *fresh,
                                const char **err);

/* Give a connection back. broken: close it, and when it was a pooled
 * (not fresh) one, close every idle one too (a server restart left them
 * all stale). */
void mcpr_node_checkin(mcpr_node_t *n, mcpr_conn_t *c, int blocking,
                       int broken);

/* Record the outcome of a call on the node: ok (the server answered) or
 * the failure `why`: the first failure logs "down" with why, the first
 * success after it logs "back" (once per outage, at ERR and NOTICE). */
void mcpr_node_outcome(mcpr_node_t *n, apr_status_t rv, const char *why);

/* Close every idle connection (Sentinel switched master). */
void mcpr_node_flush(mcpr_node_t *n);

/* ------------------------------------------------------------------ */
/* The instance                                                       */

struct mcpr_sentinel_t;             /* mcpr_sentinel.c's */
struct mcpr_cluster_t;              /* mcpr_cluster.c's */

struct mcpr_t {
    const char *spec;               /* as configured (has the password) */
    mcpr_url_t *url;
    const char *described;          /* mcpr_url_describe() */
    struct server_rec *s;           /* the server that configured it */

    /* directives of mod_mcp_session_redis (main server), read in init() */
    const char *password_file;      /* MCPSessionStorePasswordFile */
    const char *ca_file;            /* MCPSessionStoreCACertificateFile */
    const char *cert_file;          /* MCPSessionStoreCertificateFile */
    const char *key_file;           /* MCPSessionStoreCertificateKeyFile */

    mcp_store_params_t params;      /* copied in init() */
    mcpr_tls_t *tls;                /* NULL: plain TCP */
    mcpr_auth_t auth;               /* data nodes */
    mcpr_auth_t sentinel_auth;      /* Sentinels */
    apr_interval_time_t connect_timeout;
    int pool_max;                   /* per node, per child */

    /* per child (child_init) */
    apr_pool_t *cpool;              /* unmanaged root pool, never destroyed */
    apr_thread_mutex_t *mutex;      /* nodes */
    apr_hash_t *nodes;              /* "host:port" -> mcpr_node_t */
    mcpr_node_t *single;            /* MCPR_SINGLE: the server */
    struct mcpr_sentinel_t *sentinel;
    struct mcpr_cluster_t *cluster;
    volatile apr_uint32_t answered; /* healthy(): the latest call answered */
    volatile apr_uint32_t no_getex; /* the server lacks GETEX: GET + PEXPIRE */
    apr_time_t refusal_logged;      /* rate limit of refusal logs */
};

/* ------------------------------------------------------------------ */
/* mcpr_exec.c                                                        */

/* Flags of mcpr_exec. */
#define MCPR_EXEC_BLOCKING  1       /* a blocking read: the blocking pool */

/* Run cmds (keys of one hash slot: `key` is one of them, NULL when they
 * have none) on the server they belong to: the single server, Sentinel's
 * master, or the Cluster node owning key's slot, following redirections.
 * A pooled connection that turns out broken is replaced and the pipeline
 * runs once more on a fresh one (a restart Redis is back from is never
 * seen). Replies as mcpr_conn_exec (from c->pool), error replies other
 * than redirections included: see mcpr_exec_refused. Status per the store
 * contract: APR_SUCCESS, APR_EAGAIN (busy), or a failure (the node is
 * down; logged once per outage with the reason). */
apr_status_t mcpr_exec(mcpr_t *in, const mcp_store_ctx_t *c,
                       const char *key, const mcpr_cmd_t *cmds, int n,
                       redisReply **replies, apr_time_t deadline, int flags);

/* The same on one given node (what mcpr_exec, Sentinel and Cluster use).
 * A call whose deadline passed returns APR_FROM_OS_ERROR(ETIMEDOUT), not
 * APR_TIMEUP (which the store contract keeps for wait's "no message"). */
apr_status_t mcpr_exec_on(mcpr_t *in, mcpr_node_t *node,
                          const mcp_store_ctx_t *c, const mcpr_cmd_t *cmds,
                          int n, redisReply **replies, apr_time_t deadline,
                          int flags, const char **err);

/* An error reply a store call cannot use (OOM, MISCONF, NOPERM,
 * READONLY outside Sentinel...): log its text (rate-limited, at most one
 * line per second per child) and return the status for it (APR_EGENERAL:
 * 503; the connection stays healthy). */
apr_status_t mcpr_exec_refused(mcpr_t *in, const mcp_store_ctx_t *c,
                               const char *what, const redisReply *r);

/* The deadline of a call that starts now: now + MCPSessionStoreTimeout. */
apr_time_t mcpr_exec_deadline(mcpr_t *in);

/* ------------------------------------------------------------------ */
/* mcpr_sentinel.c                                                    */

/* child_init: the state and the listener thread (SUBSCRIBE
 * +switch-master on a Sentinel, reconnecting; a message bumps the
 * master's generation so the next call rediscovers). */
apr_status_t mcpr_sentinel_child_init(mcpr_t *in, apr_pool_t *pchild);

/* The current master's node, discovering it when unknown (Sentinels in
 * order, the first that answers moves to the front;
 * SENTINEL get-master-addr-by-name; ROLE must say master). */
apr_status_t mcpr_sentinel_master(mcpr_t *in, apr_pool_t *p,
                                  apr_time_t deadline, mcpr_node_t **node,
                                  const char **err);

/* A call on `node` failed at the connection, or got READONLY: rediscover
 * on the next call (at most every 500 ms per child). */
void mcpr_sentinel_suspect(mcpr_t *in, mcpr_node_t *node, const char *why);

/* Route and run for MCPR_SENTINEL (mcpr_exec's job there): on the
 * master; on READONLY or a connection failure, rediscover and run once
 * more before the deadline. */
apr_status_t mcpr_sentinel_exec(mcpr_t *in, const mcp_store_ctx_t *c,
                                const mcpr_cmd_t *cmds, int n,
                                redisReply **replies, apr_time_t deadline,
                                int flags, const char **err);

/* mod_status lines (the master, switches, Sentinels). */
void mcpr_sentinel_status(mcpr_t *in, struct request_rec *r, int flags);

/* ------------------------------------------------------------------ */
/* mcpr_cluster.c                                                     */

/* The hash slot of a key (CRC16/XMODEM of its {hash tag} mod 16384). */
unsigned mcpr_cluster_slot(const char *key, apr_size_t len);

/* child_init: the empty slot map (filled from CLUSTER SLOTS on first use). */
apr_status_t mcpr_cluster_child_init(mcpr_t *in, apr_pool_t *pchild);

/* Route and run for MCPR_CLUSTER: on the node owning key's slot; MOVED
 * patches the map (and schedules a refresh), ASK runs ASKING + the
 * commands on the target, TRYAGAIN waits briefly, CLUSTERDOWN fails; at
 * most MCPR_MAX_REDIRECTS hops. */
apr_status_t mcpr_cluster_exec(mcpr_t *in, const mcp_store_ctx_t *c,
                               const char *key, const mcpr_cmd_t *cmds,
                               int n, redisReply **replies,
                               apr_time_t deadline, int flags,
                               const char **err);

/* mod_status lines (nodes, slots, redirects). */
void mcpr_cluster_status(mcpr_t *in, struct request_rec *r, int flags);

/* ------------------------------------------------------------------ */
/* mcpr_store.c: the data calls of the provider table                 */

/* The Redis key of a session key: prefix + hex, or in Cluster mode
 * prefix + "{" + hex + "}" (every key of one session in one slot). */
const char *mcpr_store_key(mcpr_t *in, apr_pool_t *p, const char *key,
                           const char *suffix);

apr_status_t mcpr_store_create(void *instance, const mcp_store_ctx_t *c,
                               const char *key, const char *record,
                               apr_size_t len);
apr_status_t mcpr_store_fetch(void *instance, const mcp_store_ctx_t *c,
                              const char *key, char **record,
                              apr_size_t *len);
apr_status_t mcpr_store_update(void *instance, const mcp_store_ctx_t *c,
                               const char *key, const char *record,
                               apr_size_t len);
apr_status_t mcpr_store_update_if(void *instance, const mcp_store_ctx_t *c,
                                  const char *key, const char *expected,
                                  apr_size_t expected_len,
                                  const char *record, apr_size_t len);
apr_status_t mcpr_store_remove(void *instance, const mcp_store_ctx_t *c,
                               const char *key);

/* ------------------------------------------------------------------ */
/* mcpr_bus.c: publish/wait                                           */

apr_status_t mcpr_bus_publish(void *instance, const mcp_store_ctx_t *c,
                              const char *channel, const char *msg,
                              apr_size_t len);
apr_status_t mcpr_bus_wait(void *instance, const mcp_store_ctx_t *c,
                           const char *channel, apr_uint64_t *cursor,
                           apr_interval_time_t timeout, char **msg,
                           apr_size_t *len);

#endif /* MCPR_H */
