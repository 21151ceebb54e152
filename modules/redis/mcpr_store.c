/*
 * mod_mcp_session_redis: the store operations (see mcpr.h), one round
 * trip each; mcpr_exec routes them (single server, Sentinel's master,
 * the Cluster node of the key's slot).
 *
 *   create_session  SET k "+<µs> rec" NX PX handshake_ttl
 *   fetch           GETEX k PX ttl (a session still in its handshake,
 *                   value "+...", then gets PEXPIRE k handshake_ttl by a
 *                   script, only while the value is still "+...": a
 *                   second round trip in that short phase only). Servers
 *                   without GETEX (Redis < 6.2): GET k + PEXPIRE k ttl in
 *                   one write.
 *   update          SET k "<µs> rec" XX PX ttl: nil when the key is gone,
 *                   so a removed or expired session never comes back.
 *   update_if       EVALSHA of a compare-and-set script (EVAL once per
 *                   server when it does not know the script yet).
 *   remove          SET k:deleted 1 PX max(ttl, 60 s) + DEL k in one
 *                   write (Cluster: DEL only).
 *
 * Keys and values are those of the built-in provider
 * (src/stores/mcp_store_redis.c): prefix + hex and prefix + hex +
 * ":deleted", value "<write time µs> <record>" ("+<time> <record>" while
 * the handshake is not done). So one Redis can serve both providers at
 * once, and a fleet moves node by node: the built-in provider rewrites a
 * record whose write time is old (it cannot extend a TTL), reads the
 * tombstone after each write, and so stays correct next to this one. In
 * Cluster mode every key of a session carries the hash tag {hex} (one
 * slot); the built-in provider cannot talk to a Cluster, so no tombstone
 * is needed there.
 */
#include <string.h>

#include "apr_strings.h"
#include "apr_atomic.h"

#include <openssl/sha.h>

#include "httpd.h"
#include "http_log.h"

#include "mcpr.h"

APLOG_USE_MODULE(mcp_session_redis);

#define STORE_TOMBSTONE_SUFFIX  ":deleted"
#define STORE_TOMBSTONE_MIN     apr_time_from_sec(60)

/* update_if: KEYS[1] the record, ARGV[1] the expected record (without
 * the envelope), ARGV[2] the new value (with it), ARGV[3] the TTL in ms.
 * -1: no record; 0: it is not ARGV[1]; 1: written. */
static const char store_cas_script[] =
    "local v = redis.call('GET', KEYS[1])\n"
    "if not v then return -1 end\n"
    "local sp = string.find(v, ' ', 1, true)\n"
    "if not sp or string.sub(v, sp + 1) ~= ARGV[1] then return 0 end\n"
    "redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])\n"
    "return 1\n";

/* fetch of a session in its handshake: back to the handshake TTL only if
 * the value is still a handshake record ('+'): an update() that came
 * after our GETEX gave it the session TTL, which a plain PEXPIRE would
 * cut (and the session would die idle after handshake_ttl: a 404). */
static const char store_hs_script[] =
    "local v = redis.call('GET', KEYS[1])\n"
    "if v and string.byte(v, 1) == 43 then\n"
    "  return redis.call('PEXPIRE', KEYS[1], ARGV[1])\n"
    "end\n"
    "return 0\n";

/* The script's SHA-1 in hex, computed once (the first call races
 * harmlessly: every thread writes the same bytes). */
static char store_cas_sha[2 * SHA_DIGEST_LENGTH + 1];
static volatile apr_uint32_t store_cas_sha_ready;

static const char *cas_sha(void)
{
    if (!apr_atomic_read32(&store_cas_sha_ready)) {
        unsigned char md[SHA_DIGEST_LENGTH];
        char hex[sizeof(store_cas_sha)];
        int i;

        SHA1((const unsigned char *)store_cas_script,
             sizeof(store_cas_script) - 1, md);
        for (i = 0; i < SHA_DIGEST_LENGTH; i++) {
            apr_snprintf(hex + 2 * i, 3, "%02x", md[i]);
        }
        memcpy(store_cas_sha, hex, sizeof(hex));
        apr_atomic_set32(&store_cas_sha_ready, 1);
    }
    return store_cas_sha;
}

#define STORE_LOG(c, in, level, rv, ...)                                   \
    do {                                                                   \
        if ((c)->r) {                                                      \
            ap_log_rerror(APLOG_MARK, level, rv, (c)->r, __VA_ARGS__);     \
        }                                                                  \
        else {                                                             \
            ap_log_error(APLOG_MARK, level, rv, (c)->s ? (c)->s : (in)->s, \
                         __VA_ARGS__);                                     \
        }                                                                  \
    } while (0)

const char *mcpr_store_key(mcpr_t *in, apr_pool_t *p, const char *key,
                           const char *suffix)
{
    if (in->url->mode == MCPR_CLUSTER) {
        return apr_pstrcat(p, in->params.key_prefix, "{", key, "}",
                           suffix ? suffix : "", NULL);
    }
    return apr_pstrcat(p, in->params.key_prefix, key, suffix ? suffix : "",
                       NULL);
}

/* A TTL in ms as a decimal string (at least 1). */
static const char *ms_arg(apr_pool_t *p, apr_interval_time_t t)
{
    apr_int64_t ms = apr_time_as_msec(t);

    return apr_psprintf(p, "%" APR_INT64_T_FMT, ms > 0 ? ms : 1);
}

/* "<µs> <record>", or "+<µs> <record>" for a session in its handshake. */
static char *envelope(const char *record, apr_size_t len, int handshake,
                      apr_pool_t *p, apr_size_t *elen)
{
    char head[32];
    apr_size_t hlen;
    char *e;

    hlen = apr_snprintf(head, sizeof(head), "%s%" APR_TIME_T_FMT " ",
                        handshake ? "+" : "", apr_time_now());
    e = apr_palloc(p, hlen + len + 1);
    memcpy(e, head, hlen);
    memcpy(e + hlen, record, len);
    e[hlen + len] = '\0';
    *elen = hlen + len;
    return e;
}

/* The record inside an envelope, or NULL when val is not one. */
static const char *unwrap(const char *val, apr_size_t vlen, int *handshake,
                          apr_size_t *len)
{
    apr_size_t i = 0, digits;

    *handshake = vlen > 0 && val[0] == '+';
    i = *handshake ? 1 : 0;
    for (digits = 0; i < vlen && val[i] >= '0' && val[i] <= '9'; i++) {
        digits++;
    }
    if (digits == 0 || digits > 19 || i >= vlen || val[i] != ' ') {
        return NULL;
    }
    *len = vlen - i - 1;
    return val + i + 1;
}

/* Run cmds for the session key rkey before the store call's one deadline
 * (a call that needs a second round trip gets no new timeout). A failure
 * is never APR_NOTFOUND or MCP_STORE_ECHANGED (those are answers, not
 * outages). */
static apr_status_t run(mcpr_t *in, const mcp_store_ctx_t *c,
                        const char *rkey, const mcpr_cmd_t *cmds, int n,
                        redisReply **replies, apr_time_t deadline)
{
    apr_status_t rv;

    /* the first round trip used the time up: no second one (which would
     * time out at once and mark a sound server down) */
    if (apr_time_now() >= deadline) {
        return APR_FROM_OS_ERROR(ETIMEDOUT);
    }
    rv = mcpr_exec(in, c, rkey, cmds, n, replies, deadline, 0);
    if (rv == APR_NOTFOUND || rv == MCP_STORE_ECHANGED) {
        rv = APR_EGENERAL;
    }
    return rv;
}

/* A reply of a type the command never gives (a proxy in between?). */
static apr_status_t unexpected(mcpr_t *in, const mcp_store_ctx_t *c,
                               const char *what, const redisReply *r)
{
    if (r && r->type == REDIS_REPLY_ERROR) {
        return mcpr_exec_refused(in, c, what, r);
    }
    STORE_LOG(c, in, APLOG_ERR, 0, MCPRLOG(00849)
              "%s: %s answered %s reply of type %d, which that command "
              "never gives; is something other than Redis listening?",
              in->described, what, r ? "a" : "no", r ? r->type : 0);
    return APR_EGENERAL;
}

static int is_ok(const redisReply *r)
{
    return r->type == REDIS_REPLY_STATUS && r->len == 2
           && !memcmp(r->str, "OK", 2);
}

apr_status_t mcpr_store_create(void *instance, const mcp_store_ctx_t *c,
                               const char *key, const char *record,
                               apr_size_t len)
{
    mcpr_t *in = instance;
    apr_pool_t *p = c->pool;
    const char *rkey = mcpr_store_key(in, p, key, NULL);
    redisReply *rep[1];
    mcpr_cmd_t cmd;
    apr_size_t elen;
    char *e = envelope(record, len, 1, p, &elen);
    apr_time_t deadline = mcpr_exec_deadline(in);
    apr_status_t rv;

    cmd.argc = 0;
    mcpr_conn_args(&cmd, "SET", rkey, NULL);
    mcpr_conn_arg(&cmd, e, elen);
    mcpr_conn_args(&cmd, "NX", "PX", ms_arg(p, in->params.handshake_ttl),
                   NULL);
    rv = run(in, c, rkey, &cmd, 1, rep, deadline);
    if (rv != APR_SUCCESS) {
        goto leave;
    }
    if (rep[0]->type == REDIS_REPLY_NIL) {
        /* The key is a digest of a new random id: only our own write can
         * be there, done by an attempt whose reply was lost before
         * mcpr_exec ran it again on a fresh connection. */
        STORE_LOG(c, in, APLOG_DEBUG, 0, MCPRLOG(00847)
                  "create session %.8s...: already stored (an earlier "
                  "attempt of this call reached Redis)", key);
    }
    else if (!is_ok(rep[0])) {
        rv = unexpected(in, c, "SET NX", rep[0]);
    }
leave:
    STORE_LOG(c, in, APLOG_DEBUG, rv, MCPRLOG(00840)
              "create session %.8s... (handshake ttl %" APR_TIME_T_FMT
              " ms): %s", key, apr_time_as_msec(in->params.handshake_ttl),
              rv == APR_SUCCESS ? "stored" : "failed");
    return rv;
}

/* Redis < 6.2 (and some proxies) do not know GETEX. */
static int unknown_command(const redisReply *r)
{
    return r->type == REDIS_REPLY_ERROR && mcpr_conn_error_is(r, "ERR")
           && r->str && (strstr(r->str, "unknown command")
                         || strstr(r->str, "unknown subcommand"));
}

apr_status_t mcpr_store_fetch(void *instance, const mcp_store_ctx_t *c,
                              const char *key, char **record,
                              apr_size_t *len)
{
    mcpr_t *in = instance;
    apr_pool_t *p = c->pool;
    const char *rkey = mcpr_store_key(in, p, key, NULL);
    const char *ttl = ms_arg(p, in->params.ttl), *body;
    redisReply *rep[2], *val;
    mcpr_cmd_t cmd[2];
    apr_size_t blen = 0;
    apr_time_t deadline = mcpr_exec_deadline(in);
    apr_status_t rv;
    int handshake = 0;

    *record = NULL;
    *len = 0;
    cmd[0].argc = 0;
    rep[0] = NULL;
    if (!apr_atomic_read32(&in->no_getex)) {
        mcpr_conn_args(&cmd[0], "GETEX", rkey, "PX", ttl, NULL);
        rv = run(in, c, rkey, cmd, 1, rep, deadline);
        if (rv != APR_SUCCESS) {
            goto leave;
        }
        if (unknown_command(rep[0])) {
            apr_atomic_set32(&in->no_getex, 1);
            STORE_LOG(c, in, APLOG_NOTICE, 0, MCPRLOG(00843)
                      "%s: the server does not know GETEX (Redis before "
                      "6.2): reading sessions with GET + PEXPIRE from now on",
                      in->described);
            rep[0] = NULL;
        }
    }
    if (!rep[0]) {
        cmd[0].argc = 0;
        mcpr_conn_args(&cmd[0], "GET", rkey, NULL);
        cmd[1].argc = 0;
        mcpr_conn_args(&cmd[1], "PEXPIRE", rkey, ttl, NULL);
        rv = run(in, c, rkey, cmd, 2, rep, deadline);
        if (rv != APR_SUCCESS) {
            goto leave;
        }
    }

    val = rep[0];
    if (val->type == REDIS_REPLY_NIL) {
        rv = APR_NOTFOUND;
        STORE_LOG(c, in, APLOG_DEBUG, 0, MCPRLOG(00841)
                  "session %.8s...: miss (Redis has no record)", key);
        goto leave;
    }
    if (val->type != REDIS_REPLY_STRING) {
        rv = unexpected(in, c, "GETEX", val);
        goto leave;
    }
    body = unwrap(val->str, val->len, &handshake, &blen);
    if (!body) {
        /* not written by a session store: unusable, so no such session */
        STORE_LOG(c, in, APLOG_WARNING, 0, MCPRLOG(00842)
                  "session %.8s...: the value under %s%.8s... is not a "
                  "session record; treating it as missing", key,
                  in->params.key_prefix, key);
        rv = APR_NOTFOUND;
        goto leave;
    }
    *record = apr_pstrmemdup(p, body, blen);
    *len = blen;
    if (handshake) {
        /* GETEX gave it the full TTL: back to the handshake's, unless
         * an update ended the handshake meanwhile (EVAL: Redis caches the
         * script; this phase is a request or two per session) */
        cmd[0].argc = 0;
        mcpr_conn_arg(&cmd[0], "EVAL", 4);
        mcpr_conn_arg(&cmd[0], store_hs_script, sizeof(store_hs_script) - 1);
        mcpr_conn_args(&cmd[0], "1", rkey,
                       ms_arg(p, in->params.handshake_ttl), NULL);
        if (run(in, c, rkey, cmd, 1, rep, deadline) != APR_SUCCESS
            || rep[0]->type != REDIS_REPLY_INTEGER) {
            /* the record was read: serve it; it lives one ttl at most */
            STORE_LOG(c, in, APLOG_DEBUG, 0, MCPRLOG(00848)
                      "session %.8s...: its handshake TTL could not be set "
                      "again; it keeps the session TTL", key);
        }
    }
leave:
    return rv;
}

apr_status_t mcpr_store_update(void *instance, const mcp_store_ctx_t *c,
                               const char *key, const char *record,
                               apr_size_t len)
{
    mcpr_t *in = instance;
    apr_pool_t *p = c->pool;
    const char *rkey = mcpr_store_key(in, p, key, NULL);
    redisReply *rep[1];
    mcpr_cmd_t cmd;
    apr_size_t elen;
    char *e = envelope(record, len, 0, p, &elen);
    apr_time_t deadline = mcpr_exec_deadline(in);
    apr_status_t rv;

    cmd.argc = 0;
    mcpr_conn_args(&cmd, "SET", rkey, NULL);
    mcpr_conn_arg(&cmd, e, elen);
    mcpr_conn_args(&cmd, "XX", "PX", ms_arg(p, in->params.ttl), NULL);
    rv = run(in, c, rkey, &cmd, 1, rep, deadline);
    if (rv == APR_SUCCESS) {
        if (rep[0]->type == REDIS_REPLY_NIL) {
            rv = APR_NOTFOUND;
        }
        else if (!is_ok(rep[0])) {
            rv = unexpected(in, c, "SET XX", rep[0]);
        }
    }
    STORE_LOG(c, in, APLOG_DEBUG, rv, MCPRLOG(00844)
              "update session %.8s...: %s", key,
              rv == APR_SUCCESS ? "stored"
              : rv == APR_NOTFOUND ? "it ended meanwhile (expired or "
                                     "removed): not revived"
              : "failed");
    return rv;
}

apr_status_t mcpr_store_update_if(void *instance, const mcp_store_ctx_t *c,
                                  const char *key, const char *expected,
                                  apr_size_t expected_len,
                                  const char *record, apr_size_t len)
{
    mcpr_t *in = instance;
    apr_pool_t *p = c->pool;
    const char *rkey = mcpr_store_key(in, p, key, NULL);
    const char *ttl = ms_arg(p, in->params.ttl);
    redisReply *rep[1];
    mcpr_cmd_t cmd;
    apr_size_t elen;
    char *e = envelope(record, len, 0, p, &elen);
    apr_time_t deadline = mcpr_exec_deadline(in);
    apr_status_t rv;
    int eval = 0;

    for (;;) {
        cmd.argc = 0;
        if (eval) {
            mcpr_conn_arg(&cmd, "EVAL", 4);
            mcpr_conn_arg(&cmd, store_cas_script,
                          sizeof(store_cas_script) - 1);
        }
        else {
            mcpr_conn_args(&cmd, "EVALSHA", cas_sha(), NULL);
        }
        mcpr_conn_args(&cmd, "1", rkey, NULL);
        mcpr_conn_arg(&cmd, expected, expected_len);
        mcpr_conn_arg(&cmd, e, elen);
        mcpr_conn_args(&cmd, ttl, NULL);
        rv = run(in, c, rkey, &cmd, 1, rep, deadline);
        if (rv != APR_SUCCESS) {
            goto leave;
        }
        if (eval || !mcpr_conn_error_is(rep[0], "NOSCRIPT")) {
            break;
        }
        /* this server has not seen the script yet (new, restarted,
         * SCRIPT FLUSH, a failover): EVAL caches it */
        STORE_LOG(c, in, APLOG_DEBUG, 0, MCPRLOG(00848)
                  "update_if: the server does not know the compare-and-set "
                  "script yet: sending it with EVAL");
        eval = 1;
    }
    if (rep[0]->type != REDIS_REPLY_INTEGER) {
        rv = unexpected(in, c, eval ? "EVAL" : "EVALSHA", rep[0]);
    }
    else if (rep[0]->integer < 0) {
        rv = APR_NOTFOUND;
    }
    else if (rep[0]->integer == 0) {
        rv = MCP_STORE_ECHANGED;
    }
leave:
    STORE_LOG(c, in, APLOG_DEBUG, rv == MCP_STORE_ECHANGED ? 0 : rv,
              MCPRLOG(00845) "update_if session %.8s...: %s", key,
              rv == APR_SUCCESS ? "stored"
              : rv == APR_NOTFOUND ? "it ended meanwhile: not revived"
              : rv == MCP_STORE_ECHANGED ? "the record changed meanwhile: "
                                           "nothing written"
              : "failed");
    return rv;
}

apr_status_t mcpr_store_remove(void *instance, const mcp_store_ctx_t *c,
                               const char *key)
{
    mcpr_t *in = instance;
    apr_pool_t *p = c->pool;
    const char *rkey = mcpr_store_key(in, p, key, NULL);
    apr_interval_time_t tomb = in->params.ttl > STORE_TOMBSTONE_MIN
                               ? in->params.ttl : STORE_TOMBSTONE_MIN;
    redisReply *rep[2], *del;
    mcpr_cmd_t cmd[2];
    apr_time_t deadline = mcpr_exec_deadline(in);
    apr_status_t rv;
    int n = 0;

    /* The tombstone first: a built-in node that rewrites the record after
     * our DEL then sees it and deletes the record again (see the top of
     * src/stores/mcp_store_redis.c). */
    if (in->url->mode != MCPR_CLUSTER) {
        cmd[n].argc = 0;
        mcpr_conn_args(&cmd[n], "SET",
                       mcpr_store_key(in, p, key, STORE_TOMBSTONE_SUFFIX),
                       "1", "PX", ms_arg(p, tomb), NULL);
        n++;
    }
    cmd[n].argc = 0;
    mcpr_conn_args(&cmd[n], "DEL", rkey, NULL);
    n++;
    rv = run(in, c, rkey, cmd, n, rep, deadline);
    if (rv != APR_SUCCESS) {
        goto leave;
    }
    if (n == 2 && !is_ok(rep[0])) {
        rv = unexpected(in, c, "SET (tombstone)", rep[0]);
        goto leave;
    }
    del = rep[n - 1];
    if (del->type != REDIS_REPLY_INTEGER) {
        rv = unexpected(in, c, "DEL", del);
    }
    else if (del->integer == 0) {
        rv = APR_NOTFOUND;
    }
leave:
    STORE_LOG(c, in, APLOG_DEBUG, rv, MCPRLOG(00846)
              "remove session %.8s...: %s", key,
              rv == APR_SUCCESS ? "deleted"
              : rv == APR_NOTFOUND ? "no such record" : "failed");
    return rv;
}
