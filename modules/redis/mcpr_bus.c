/*
 * mcpr_bus.c: publish/wait of the Redis provider (include/
 * mcp_session_store.h), one Redis Stream per channel, zero polling.
 *
 * The key of a channel is prefix + "bus:" + channel (Cluster: prefix +
 * "bus:{" + channel + "}", a channel's key in one slot). Its entries have
 * the ids 0-1, 0-2, ... (XADD ... 0-*: Redis >= 7.0 fills in the
 * sequence), so a sequence number is a message's position and a gap is
 * exact. Each entry holds the message (field m) and a random token
 * (field t).
 *
 * A cursor is the sequence number wanted next (low 40 bits) and the token
 * of the entry before it, the last one this waiter read (high 24 bits);
 * 0 is "from now". The token tells the stream this waiter read from a
 * stream that replaced it with the same ids: Redis restarted without its
 * data, FLUSHDB, a Sentinel failover that lost the latest entries, an
 * expiry. Sequence numbers alone would then hand out the new stream's
 * messages from the old position, silently skipping the others.
 *
 *   publish  XADD key MAXLEN ~ 1000 0-* m <msg> t <token> + PEXPIRE key
 *            <lifetime>, pipelined: one round trip.
 *   wait     PEXPIRE key <lifetime> + XREAD COUNT 1 BLOCK <ms> STREAMS key
 *            0-<cursor-1> + XRANGE of the entry cursor-1 + XREVRANGE key
 *            + - COUNT 1, pipelined, on a connection of the node's
 *            blocking pool (a wait never holds a connection a data call
 *            needs). The waiter's PEXPIRE keeps a channel someone listens
 *            on alive; XRANGE and XREVRANGE run once XREAD returned and
 *            check that the stream is still the one the waiter read. From
 *            cursor 0, XREVRANGE comes first and XREAD reads from "$": the
 *            same point, since Redis runs a client's pipeline without
 *            serving another client in between.
 *
 * Entry k answering cursor c: k == c is the message (cursor k + 1); k > c
 * means c..k-1 were trimmed (MAXLEN): APR_INCOMPLETE, cursor k, whose
 * message the next wait returns. Entry c-1 with another token, or a
 * stream that ends before c-1, is a stream made again: APR_INCOMPLETE,
 * cursor 1 (the new stream from its first message).
 */
#include <string.h>
#include <stdlib.h>
#include <unistd.h>

#include "httpd.h"
#include "http_log.h"
#include "apr_strings.h"
#include "apr_atomic.h"

#include "mcpr.h"

APLOG_USE_MODULE(mcp_session_redis);

/* What a channel keeps (approximately: Redis trims whole nodes). */
#define BUS_MAXLEN          "1000"
/* A channel lives at least this long after its last publish or wait. */
#define BUS_MIN_LIFETIME    apr_time_from_sec(3600)
/* The largest message publish takes: a channel then holds at most about
 * 1000 of them (64 MB). The contract asks for MCP_STORE_MAX_MESSAGE. */
#define BUS_MAX_MESSAGE     (16 * MCP_STORE_MAX_MESSAGE)
/* A cursor: sequence number | token of the entry before it << 40. */
#define BUS_SEQ_BITS        40
#define BUS_SEQ_MASK        ((APR_UINT64_C(1) << BUS_SEQ_BITS) - 1)
#define BUS_TOK_MASK        0xffffffU
#define BUS_CURSOR(seq, tok) (((apr_uint64_t)(tok) << BUS_SEQ_BITS) | (seq))

/* An entry of a reply. */
typedef struct bus_entry_t {
    int found;
    apr_uint64_t seq;
    apr_uint32_t tok;               /* 0: none (not checked) */
    const redisReply *m;
} bus_entry_t;

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
        || r->len < 3 || r->len > 15 || r->str[0] != '0' || r->str[1] != '-') {
        return 0;
    }
    for (i = 2; i < r->len; i++) {
        if (r->str[i] < '0' || r->str[i] > '9') {
            return 0;
        }
        v = v * 10 + (apr_uint64_t)(r->str[i] - '0');
    }
    if (v > BUS_SEQ_MASK) {
        return 0;
    }
    *seq = v;
    return 1;
}

/* One entry [id, [field, value, ...]]: its sequence number, its message
 * (field m) and its token (field t, 0 when absent). 0 when it is not
 * one of ours. */
static int parse_entry(const redisReply *e, bus_entry_t *out)
{
    const redisReply *f;
    apr_size_t i;

    if (!e || e->type != REDIS_REPLY_ARRAY || e->elements != 2
        || !parse_id(e->element[0], &out->seq)
        || !(f = e->element[1]) || f->type != REDIS_REPLY_ARRAY) {
        return 0;
    }
    out->m = NULL;
    out->tok = 0;
    for (i = 0; i + 1 < f->elements; i += 2) {
        const redisReply *k = f->element[i], *v = f->element[i + 1];

        if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING
            || k->len != 1) {
            continue;
        }
        if (k->str[0] == 'm') {
            out->m = v;
        }
        else if (k->str[0] == 't') {
            out->tok = (apr_uint32_t)strtoul(v->str, NULL, 10) & BUS_TOK_MASK;
        }
    }
    out->found = out->m != NULL;
    return out->found;
}

/* XRANGE/XREVRANGE ... COUNT 1: no entry (found 0), or one. 0 when the
 * reply is not that. */
static int parse_range(const redisReply *r, bus_entry_t *out)
{
    out->found = 0;
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements > 1) {
        return 0;
    }
    return r->elements == 0 || parse_entry(r->element[0], out);
}

/* XREAD COUNT 1 ... STREAMS key id: nil (found 0: nothing in time), or
 * [[key, [entry]]]. 0 when the reply is not that. */
static int parse_read(const redisReply *r, bus_entry_t *out)
{
    const redisReply *s;

    out->found = 0;
    if (r && r->type == REDIS_REPLY_NIL) {
        return 1;
    }
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 1
        || !(s = r->element[0]) || s->type != REDIS_REPLY_ARRAY
        || s->elements != 2 || !s->element[1]
        || s->element[1]->type != REDIS_REPLY_ARRAY
        || s->element[1]->elements != 1) {
        return 0;
    }
    return parse_entry(s->element[1]->element[0], out);
}

/* A token for a new entry: 24 bits, never 0, that an entry made at
 * another time or place has with odds of 1 in 16 million. */
static apr_uint32_t bus_token(void)
{
    static volatile apr_uint32_t counter;
    apr_uint64_t x = (apr_uint64_t)apr_time_now()
                     ^ ((apr_uint64_t)getpid() << 40)
                     ^ ((apr_uint64_t)apr_atomic_inc32(&counter) << 20);
    apr_uint32_t tok;

    /* splitmix64's finalizer: every input bit moves the top 24 */
    x = (x ^ (x >> 30)) * APR_UINT64_C(0xbf58476d1ce4e5b9);
    x = (x ^ (x >> 27)) * APR_UINT64_C(0x94d049bb133111eb);
    x ^= x >> 31;
    tok = (apr_uint32_t)(x >> 40) & BUS_TOK_MASK;
    return tok ? tok : 1;
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
    mcpr_conn_args(&cmds[0], "t", apr_psprintf(c->pool, "%u", bus_token()),
                   NULL);
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
    mcpr_cmd_t cmds[4];
    redisReply *replies[4] = { NULL, NULL, NULL, NULL };
    bus_entry_t got, prev, last;
    const char *key, *block, *life;
    apr_uint64_t want = *cursor & BUS_SEQ_MASK;
    apr_uint32_t tok = (apr_uint32_t)(*cursor >> BUS_SEQ_BITS);
    int n;
    apr_status_t rv;

    *msg = NULL;
    *len = 0;
    memset(&got, 0, sizeof(got));
    memset(&prev, 0, sizeof(prev));
    memset(&last, 0, sizeof(last));
    if (!channel_ok(channel)) {
        rv = APR_EINVAL;
        goto leave;
    }
    if (timeout < 0) {
        timeout = 0;
    }
    key = bus_key(in, c->pool, channel);
    life = bus_lifetime(in, c->pool);
    /* BLOCK 0 would be forever: at least 1 ms when there is a timeout */
    block = timeout > 0
        ? apr_psprintf(c->pool, "%" APR_INT64_T_FMT,
                       (apr_int64_t)((timeout + 999) / 1000))
        : NULL;
    memset(cmds, 0, sizeof(cmds));
    mcpr_conn_args(&cmds[0], "PEXPIRE", key, life, NULL);
    if (!want) {
        /* from now: the last entry, then XREAD from "$", the same point */
        mcpr_conn_args(&cmds[1], "XREVRANGE", key, "+", "-", "COUNT", "1",
                       NULL);
        mcpr_conn_args(&cmds[2], "XREAD", "COUNT", "1", NULL);
        if (block) {
            mcpr_conn_args(&cmds[2], "BLOCK", block, NULL);
        }
        mcpr_conn_args(&cmds[2], "STREAMS", key, "$", NULL);
        n = 3;
    }
    else {
        const char *before = apr_psprintf(c->pool, "0-%" APR_UINT64_T_FMT,
                                          want - 1);

        mcpr_conn_args(&cmds[1], "XREAD", "COUNT", "1", NULL);
        if (block) {
            mcpr_conn_args(&cmds[1], "BLOCK", block, NULL);
        }
        mcpr_conn_args(&cmds[1], "STREAMS", key, before, NULL);
        /* after XREAD: is the entry before the cursor still the one this
         * waiter read, and where does the stream end */
        mcpr_conn_args(&cmds[2], "XRANGE", key, before, before, NULL);
        mcpr_conn_args(&cmds[3], "XREVRANGE", key, "+", "-", "COUNT", "1",
                       NULL);
        n = 4;
    }
    rv = mcpr_exec(in, c, key, cmds, n, replies,
                   mcpr_exec_deadline(in) + timeout, MCPR_EXEC_BLOCKING);
    if (rv != APR_SUCCESS) {
        goto leave;
    }
    if ((rv = refused(in, c, "wait (XREAD)", replies, n)) != APR_SUCCESS) {
        goto leave;
    }
    if (!want
        ? !parse_range(replies[1], &last) || !parse_read(replies[2], &got)
        : !parse_read(replies[1], &got) || !parse_range(replies[2], &prev)
          || !parse_range(replies[3], &last)) {
        rv = APR_EGENERAL;
        BUS_LOG(c, in, APLOG_ERR, rv, MCPRLOG(00891) "wait on %s: XREAD, "
                "XRANGE or XREVRANGE answered an entry that is not 0-N with "
                "a field m (a stream of another writer under this prefix?)",
                key);
        goto leave;
    }
    if (!want) {
        if (!got.found) {
            *cursor = last.found ? BUS_CURSOR(last.seq + 1, last.tok)
                                 : BUS_CURSOR(1, 0);
            rv = APR_TIMEUP;
            goto leave;
        }
        want = got.seq;
    }
    else if (want > 1
             && (prev.found ? tok && prev.tok && prev.tok != tok
                            : !last.found || last.seq + 1 < want)) {
        /* not the stream this waiter read: its ids start over */
        BUS_LOG(c, in, APLOG_INFO, 0, MCPRLOG(00892) "wait on %s: the "
                "stream is not the one this waiter read up to 0-%"
                APR_UINT64_T_FMT " (%s: Redis lost it, it expired, or a "
                "failover lost its latest entries): messages may be lost, "
                "reading the new one from its start", key, want - 1,
                prev.found ? "that entry changed" : "it ends before");
        *cursor = BUS_CURSOR(1, 0);
        rv = APR_INCOMPLETE;
        goto leave;
    }
    if (!got.found) {
        rv = APR_TIMEUP;
        goto leave;
    }
    if (got.seq > want) {
        /* want..seq-1 were trimmed: the next wait returns seq */
        BUS_LOG(c, in, APLOG_DEBUG, 0, MCPRLOG(00893) "wait on %s: messages "
                "0-%" APR_UINT64_T_FMT " to 0-%" APR_UINT64_T_FMT " were "
                "trimmed (MAXLEN " BUS_MAXLEN ") before this waiter read "
                "them", key, want, got.seq - 1);
        *cursor = BUS_CURSOR(got.seq, 0);
        rv = APR_INCOMPLETE;
        goto leave;
    }
    *msg = apr_pstrmemdup(c->pool, got.m->str, got.m->len);
    *len = got.m->len;
    *cursor = BUS_CURSOR(got.seq + 1, got.tok);
    rv = APR_SUCCESS;
leave:
    return rv;
}
