/*
 * mcpr_bus.c: publish/wait of the Redis provider (include/
 * mcp_session_store.h), one Redis Stream per channel, zero polling.
 *
 * The key of a channel is prefix + "bus:" + channel (Cluster: prefix +
 * "bus:{" + channel + "}", a channel's key in one slot). Its entries have
 * the ids 0-1, 0-2, ... (XADD ... 0-*: Redis >= 7.0 fills in the
 * sequence), so a sequence number is a message's position and a gap is
 * exact. A cursor is the sequence number wanted next; 0 is "from now".
 *
 *   publish  XADD key MAXLEN ~ 1000 0-* m <msg> + PEXPIRE key <lifetime>,
 *            pipelined: one round trip.
 *   wait     PEXPIRE key <lifetime> + XREAD COUNT 1 BLOCK <ms> STREAMS
 *            key 0-<cursor-1> + XREVRANGE key + - COUNT 1, pipelined, on a
 *            connection of the node's blocking pool (a wait never holds a
 *            connection a data call needs). The waiter's PEXPIRE keeps a
 *            channel someone listens on alive; XREVRANGE (run once XREAD
 *            returned) tells a stream that is gone or was made again
 *            (Redis restarted without its data, FLUSHDB) from a quiet
 *            one, so no waiter stays deaf. From cursor 0, XREVRANGE comes
 *            first and XREAD reads from "$": the same point in the
 *            stream, since Redis runs a client's pipeline without
 *            serving another client in between.
 *
 * Entry k answering cursor c: k == c is the message (cursor k + 1); k > c
 * means c..k-1 were trimmed (MAXLEN): APR_INCOMPLETE, cursor k, whose
 * message the next wait returns. A stream whose last id is below c - 1
 * was made again: APR_INCOMPLETE, cursor 1 (its first message).
 */
#include <string.h>

#include "httpd.h"
#include "http_log.h"
#include "apr_strings.h"

#include "mcpr.h"

APLOG_USE_MODULE(mcp_session_redis);

/* What a channel keeps (approximately: Redis trims whole nodes). */
#define BUS_MAXLEN          "1000"
/* A channel lives at least this long after its last publish or wait. */
#define BUS_MIN_LIFETIME    apr_time_from_sec(3600)
/* The largest message publish takes: a channel then holds at most about
 * 1000 of them (64 MB). The contract asks for MCP_STORE_MAX_MESSAGE. */
#define BUS_MAX_MESSAGE     (16 * MCP_STORE_MAX_MESSAGE)

/* Log through the request when there is one. */
#define BUS_LOG(c, in, level, rv, ...)                                  \
    do {                                                                \
        if ((c)->r) {                                                   \
            ap_log_rerror(APLOG_MARK, level, rv, (c)->r, __VA_ARGS__);  \
        }                                                               \
        else {                                                          \
            ap_log_error(APLOG_MARK, level, rv,                         \
                         (c)->s ? (c)->s : (in)->s, __VA_ARGS__);       \
        }                                                               \
    } while (0)

/* 1..MCP_STORE_CHANNEL_MAX bytes of visible ASCII. */
static int channel_ok(const char *ch)
{
    apr_size_t i;

    if (!ch || !*ch) {
        return 0;
    }
    for (i = 0; ch[i]; i++) {
        if (i >= MCP_STORE_CHANNEL_MAX || ch[i] < 0x21 || ch[i] > 0x7e) {
            return 0;
        }
    }
    return 1;
}

static const char *bus_key(mcpr_t *in, apr_pool_t *p, const char *channel)
{
    const char *prefix = in->params.key_prefix ? in->params.key_prefix : "";

    if (in->url && in->url->mode == MCPR_CLUSTER) {
        return apr_pstrcat(p, prefix, "bus:{", channel, "}", NULL);
    }
    return apr_pstrcat(p, prefix, "bus:", channel, NULL);
}

/* PEXPIRE's argument: the session lifetime, at least an hour. */
static const char *bus_lifetime(mcpr_t *in, apr_pool_t *p)
{
    apr_interval_time_t life = in->params.ttl;

    if (life < BUS_MIN_LIFETIME) {
        life = BUS_MIN_LIFETIME;
    }
    return apr_psprintf(p, "%" APR_INT64_T_FMT,
                        (apr_int64_t)apr_time_as_msec(life));
}

/* The sequence number of an id "0-<seq>"; 0 when r is not one. */
static int parse_id(const redisReply *r, apr_uint64_t *seq)
{
    apr_uint64_t v = 0;
    apr_size_t i;

    if (!r || (r->type != REDIS_REPLY_STRING && r->type != REDIS_REPLY_STATUS)
        || r->len < 3 || r->len > 22 || r->str[0] != '0' || r->str[1] != '-') {
        return 0;
    }
    for (i = 2; i < r->len; i++) {
        if (r->str[i] < '0' || r->str[i] > '9') {
            return 0;
        }
        v = v * 10 + (apr_uint64_t)(r->str[i] - '0');
    }
    *seq = v;
    return 1;
}

/* The last sequence number from XREVRANGE key + - COUNT 1 (0: empty or
 * no stream); 0 when the reply is not that. */
static int parse_last(const redisReply *r, apr_uint64_t *last)
{
    if (!r || r->type != REDIS_REPLY_ARRAY) {
        return 0;
    }
    if (r->elements == 0) {
        *last = 0;
        return 1;
    }
    if (!r->element[0] || r->element[0]->type != REDIS_REPLY_ARRAY
        || r->element[0]->elements < 1) {
        return 0;
    }
    return parse_id(r->element[0]->element[0], last);
}

/* The entry of XREAD COUNT 1 ... STREAMS key id: *found 0 for nil (no
 * entry in time), else its sequence number and field "m". 0 when the
 * reply is not that. */
static int parse_entry(const redisReply *r, int *found, apr_uint64_t *seq,
                       const redisReply **m)
{
    const redisReply *s, *e, *f;
    apr_size_t i;

    *found = 0;
    if (r && r->type == REDIS_REPLY_NIL) {
        return 1;
    }
    /* [[key, [[id, [field, value, ...]]]]] */
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 1
        || !(s = r->element[0]) || s->type != REDIS_REPLY_ARRAY
        || s->elements != 2 || !s->element[1]
        || s->element[1]->type != REDIS_REPLY_ARRAY
        || s->element[1]->elements < 1
        || !(e = s->element[1]->element[0]) || e->type != REDIS_REPLY_ARRAY
        || e->elements != 2 || !parse_id(e->element[0], seq)
        || !(f = e->element[1]) || f->type != REDIS_REPLY_ARRAY) {
        return 0;
    }
    for (i = 0; i + 1 < f->elements; i += 2) {
        if (f->element[i]->type == REDIS_REPLY_STRING
            && f->element[i]->len == 1 && f->element[i]->str[0] == 'm'
            && f->element[i + 1]->type == REDIS_REPLY_STRING) {
            *m = f->element[i + 1];
            *found = 1;
            return 1;
        }
    }
    return 0;
}

/* An error reply among replies[0..n-1]: the refusal's status. */
static apr_status_t refused(mcpr_t *in, const mcp_store_ctx_t *c,
                            const char *what, redisReply **replies, int n)
{
    int i;

    for (i = 0; i < n; i++) {
        if (replies[i] && replies[i]->type == REDIS_REPLY_ERROR) {
            return mcpr_exec_refused(in, c, what, replies[i]);
        }
    }
    return APR_SUCCESS;
}

apr_status_t mcpr_bus_publish(void *instance, const mcp_store_ctx_t *c,
                              const char *channel, const char *msg,
                              apr_size_t len)
{
    mcpr_t *in = instance;
    mcpr_cmd_t cmds[2];
    redisReply *replies[2] = { NULL, NULL };
    const char *key;
    apr_uint64_t seq;
    apr_status_t rv;

    if (!channel_ok(channel) || (!msg && len) || len > BUS_MAX_MESSAGE) {
        rv = APR_EINVAL;
        goto leave;
    }
    key = bus_key(in, c->pool, channel);
    memset(cmds, 0, sizeof(cmds));
    mcpr_conn_args(&cmds[0], "XADD", key, "MAXLEN", "~", BUS_MAXLEN, "0-*",
                   "m", NULL);
    mcpr_conn_arg(&cmds[0], msg ? msg : "", len);
    mcpr_conn_args(&cmds[1], "PEXPIRE", key, bus_lifetime(in, c->pool), NULL);
    rv = mcpr_exec(in, c, key, cmds, 2, replies, mcpr_exec_deadline(in), 0);
    if (rv != APR_SUCCESS) {
        goto leave;
    }
    if ((rv = refused(in, c, "publish (XADD)", replies, 2)) != APR_SUCCESS) {
        goto leave;
    }
    if (!parse_id(replies[0], &seq)) {
        rv = APR_EGENERAL;
        BUS_LOG(c, in, APLOG_ERR, rv, MCPRLOG(00890) "publish on %s: XADD "
                "answered no id of the form 0-N (a stream of another "
                "writer under this prefix?)", key);
        goto leave;
    }
    BUS_LOG(c, in, APLOG_TRACE1, 0, MCPRLOG(00894) "publish on %s: message 0-%"
            APR_UINT64_T_FMT " (%" APR_SIZE_T_FMT " bytes)", key, seq, len);
leave:
    return rv;
}

apr_status_t mcpr_bus_wait(void *instance, const mcp_store_ctx_t *c,
                           const char *channel, apr_uint64_t *cursor,
                           apr_interval_time_t timeout, char **msg,
                           apr_size_t *len)
{
    mcpr_t *in = instance;
    mcpr_cmd_t cmds[3];
    redisReply *replies[3] = { NULL, NULL, NULL };
    const redisReply *m = NULL;
    const char *key, *block, *from;
    apr_uint64_t seq = 0, last = 0, want = *cursor;
    int ixread, irange, found;
    apr_status_t rv;

    *msg = NULL;
    *len = 0;
    if (!channel_ok(channel)) {
        rv = APR_EINVAL;
        goto leave;
    }
    if (timeout < 0) {
        timeout = 0;
    }
    key = bus_key(in, c->pool, channel);
    /* BLOCK 0 would be forever: at least 1 ms when there is a timeout */
    block = timeout > 0
        ? apr_psprintf(c->pool, "%" APR_INT64_T_FMT,
                       (apr_int64_t)((timeout + 999) / 1000))
        : NULL;
    from = want ? apr_psprintf(c->pool, "0-%" APR_UINT64_T_FMT, want - 1)
                : "$";
    memset(cmds, 0, sizeof(cmds));
    mcpr_conn_args(&cmds[0], "PEXPIRE", key, bus_lifetime(in, c->pool), NULL);
    /* from now: the last id, then XREAD from "$" at the same point */
    ixread = want ? 1 : 2;
    irange = want ? 2 : 1;
    mcpr_conn_args(&cmds[ixread], "XREAD", "COUNT", "1", NULL);
    if (block) {
        mcpr_conn_args(&cmds[ixread], "BLOCK", block, NULL);
    }
    mcpr_conn_args(&cmds[ixread], "STREAMS", key, from, NULL);
    mcpr_conn_args(&cmds[irange], "XREVRANGE", key, "+", "-", "COUNT", "1",
                   NULL);
    rv = mcpr_exec(in, c, key, cmds, 3, replies,
                   mcpr_exec_deadline(in) + timeout, MCPR_EXEC_BLOCKING);
    if (rv != APR_SUCCESS) {
        goto leave;
    }
    if ((rv = refused(in, c, "wait (XREAD)", replies, 3)) != APR_SUCCESS) {
        goto leave;
    }
    if (!parse_entry(replies[ixread], &found, &seq, &m)
        || !parse_last(replies[irange], &last)) {
        rv = APR_EGENERAL;
        BUS_LOG(c, in, APLOG_ERR, rv, MCPRLOG(00891) "wait on %s: XREAD or "
                "XREVRANGE answered no entry of the form 0-N with field m "
                "(a stream of another writer under this prefix?)", key);
        goto leave;
    }
    if (!want) {
        /* from now: the next one after the last, or what came after it */
        if (!found) {
            *cursor = last + 1;
            rv = APR_TIMEUP;
            goto leave;
        }
        want = seq;
    }
    if (!found) {
        if (last + 1 < want) {
            /* the stream is gone or was made again: its ids start over */
            BUS_LOG(c, in, APLOG_INFO, 0, MCPRLOG(00892) "wait on %s: the "
                    "stream ends at 0-%" APR_UINT64_T_FMT " but this waiter "
                    "was at 0-%" APR_UINT64_T_FMT " (it expired or Redis "
                    "lost it): messages may be lost, reading it from its "
                    "start", key, last, want);
            *cursor = 1;
            rv = APR_INCOMPLETE;
            goto leave;
        }
        *cursor = want;
        rv = APR_TIMEUP;
        goto leave;
    }
    if (seq > want) {
        /* want..seq-1 were trimmed: the next wait returns seq */
        BUS_LOG(c, in, APLOG_DEBUG, 0, MCPRLOG(00893) "wait on %s: messages "
                "0-%" APR_UINT64_T_FMT " to 0-%" APR_UINT64_T_FMT " were "
                "trimmed (MAXLEN " BUS_MAXLEN ") before this waiter read "
                "them", key, want, seq - 1);
        *cursor = seq;
        rv = APR_INCOMPLETE;
        goto leave;
    }
    *msg = apr_pstrmemdup(c->pool, m->str, m->len);
    *len = m->len;
    *cursor = seq + 1;
    rv = APR_SUCCESS;
leave:
    return rv;
}
