/*
 * A toy session store provider, built as a third-party provider would be:
 * from include/ alone (mcp_session_store.h and APR; no src/ header, no
 * httpd header: the Makefile compiles it with -Iinclude only). It keeps
 * sessions and messages in this process (an apr_hash under a mutex), so
 * it serves one process only: the unit tests, or an httpd with a single
 * child. It implements every function of the API, the optional update_if
 * and publish/wait included (a bounded backlog per channel), so the
 * contract suite (t/store/) has a provider that must pass all of it.
 *
 *     MCPSessionStore toy://NAME[?max=BYTES][&flaw=FLAW]
 *
 * max: max_record() (default MCP_TOY_MAX_RECORD). flaw: break one promise
 * on purpose, so that t/unit/store_contract_main.c can check that the
 * suite catches it (see `flaws` below).
 */
#include <stdlib.h>
#include <string.h>

#include "apr_hash.h"
#include "apr_strings.h"
#include "apr_thread_cond.h"
#include "apr_thread_mutex.h"
#include "apr_time.h"

#include "mcp_session_store.h"
#include "store_toy.h"

#if !APR_HAS_THREADS
#error "the toy store needs APR with threads"
#endif

/* Records are swept for expired sessions every SWEEP_EVERY creates. */
#define SWEEP_EVERY 64

typedef enum {
    FLAW_NONE,
    FLAW_REVIVE,        /* update() of a missing session creates it */
    FLAW_NOSLIDE,       /* fetch() does not extend the lifetime */
    FLAW_HANDSHAKE,     /* the first update() keeps the handshake lifetime */
    FLAW_SHARED,        /* fetch() returns the store's own buffer */
    FLAW_BLINDIF,       /* update_if() ignores `expected` */
    FLAW_LOSEWAIT,      /* wait() leaves *cursor alone on APR_TIMEUP */
    FLAW_GAP,           /* wait() skips dropped messages silently */
    FLAW_CUT            /* a record of max_record() bytes loses a byte */
} toy_flaw_t;

static const char *const flaws[] = {
    "", "revive", "noslide", "handshake", "shared", "blindif", "losewait",
    "gap", "cut"
};

typedef struct toy_session_t {
    char key[MCP_STORE_KEY_LEN + 1];
    char *rec;                  /* malloc'd, NUL-terminated */
    apr_size_t len;
    apr_time_t expires;
    int pending;                /* made by create_session, not updated yet */
} toy_session_t;

typedef struct toy_channel_t {
    char *name;
    apr_uint64_t next;          /* position of the next message; from 1, so
                                 * that a cursor is never 0 */
    char *msg[MCP_TOY_BACKLOG]; /* position n at n % MCP_TOY_BACKLOG */
    apr_size_t len[MCP_TOY_BACKLOG];
} toy_channel_t;

typedef struct toy_t {
    const char *name;
    apr_size_t max_record;
    toy_flaw_t flaw;
    apr_interval_time_t ttl, handshake_ttl;
    apr_hash_t *sessions;       /* key -> toy_session_t */
    apr_hash_t *channels;       /* name -> toy_channel_t */
    apr_thread_mutex_t *lock;
    apr_thread_cond_t *published;
    unsigned creates;
} toy_t;

static const char *toy_create(void **instance, const char *spec,
                              struct server_rec *s, apr_pool_t *p,
                              apr_pool_t *ptemp)
{
    toy_t *t = apr_pcalloc(p, sizeof(*t));
    char *rest, *arg, *last;
    const char *q;

    if (strncmp(spec, "toy://", 6) || !spec[6] || spec[6] == '?') {
        return apr_psprintf(p, "toy: '%s' is not toy://NAME[?max=BYTES]"
                            "[&flaw=FLAW]", spec);
    }
    q = strchr(spec + 6, '?');
    t->name = q ? apr_pstrmemdup(p, spec + 6, (apr_size_t)(q - spec - 6))
                : apr_pstrdup(p, spec + 6);
    t->max_record = MCP_TOY_MAX_RECORD;
    rest = q ? apr_pstrdup(ptemp, q + 1) : NULL;
    for (arg = rest ? apr_strtok(rest, "&", &last) : NULL; arg;
         arg = apr_strtok(NULL, "&", &last)) {
        if (!strncmp(arg, "max=", 4)) {
            char *end;
            apr_int64_t v = apr_strtoi64(arg + 4, &end, 10);
            if (*end || v < 128 || v > 1024 * 1024) {
                return apr_psprintf(p, "toy: max=%s: 128 to 1048576 bytes",
                                    arg + 4);
            }
            t->max_record = (apr_size_t)v;
        }
        else if (!strncmp(arg, "flaw=", 5)) {
            int i;
            for (i = 1; i < (int)(sizeof(flaws) / sizeof(*flaws)); i++) {
                if (!strcmp(arg + 5, flaws[i])) {
                    t->flaw = (toy_flaw_t)i;
                }
            }
            if (!t->flaw) {
                return apr_psprintf(p, "toy: unknown flaw '%s'", arg + 5);
            }
        }
        else {
            return apr_psprintf(p, "toy: unknown parameter '%s' (max=, flaw=)",
                                arg);
        }
    }
    *instance = t;
    return NULL;
}

/* The sessions and messages are malloc'd (they come and go at any rate):
 * freed with the instance's pool. */
static apr_status_t toy_free(void *data)
{
    toy_t *t = data;
    apr_hash_index_t *hi;
    int i;

    for (hi = apr_hash_first(NULL, t->sessions); hi; hi = apr_hash_next(hi)) {
        toy_session_t *ts = apr_hash_this_val(hi);
        free(ts->rec);
        free(ts);
    }
    for (hi = apr_hash_first(NULL, t->channels); hi; hi = apr_hash_next(hi)) {
        toy_channel_t *ch = apr_hash_this_val(hi);
        for (i = 0; i < MCP_TOY_BACKLOG; i++) {
            free(ch->msg[i]);
        }
        free(ch->name);
        free(ch);
    }
    return APR_SUCCESS;
}

/* Every configuration pass has an instance of its own (create() ran
 * again): the tables and the lock live in its pool, not in a child's. */
static apr_status_t toy_init(void *instance, const mcp_store_params_t *params,
                             struct server_rec *s, apr_pool_t *pconf,
                             apr_pool_t *ptemp)
{
    toy_t *t = instance;
    apr_status_t rv;

    t->ttl = params->ttl;
    t->handshake_ttl = params->handshake_ttl > 0
                       && params->handshake_ttl < params->ttl
                       ? params->handshake_ttl : params->ttl;
    t->sessions = apr_hash_make(pconf);
    t->channels = apr_hash_make(pconf);
    apr_pool_cleanup_register(pconf, t, toy_free, apr_pool_cleanup_null);
    rv = apr_thread_mutex_create(&t->lock, APR_THREAD_MUTEX_DEFAULT, pconf);
    if (rv == APR_SUCCESS) {
        rv = apr_thread_cond_create(&t->published, pconf);
    }
    return rv;
}

/* A child starts empty: what the parent held is not the child's. */
static apr_status_t toy_child_init(void *instance, struct server_rec *s,
                                   apr_pool_t *pchild)
{
    toy_t *t = instance;

    apr_hash_clear(t->sessions);
    apr_hash_clear(t->channels);
    return APR_SUCCESS;
}

static apr_size_t toy_max_record(void *instance)
{
    return ((toy_t *)instance)->max_record;
}

static void session_free(toy_t *t, toy_session_t *ts)
{
    apr_hash_set(t->sessions, ts->key, MCP_STORE_KEY_LEN, NULL);
    free(ts->rec);
    free(ts);
}

/* The live session under key, or NULL; an expired one is dropped. Locked. */
static toy_session_t *find(toy_t *t, const char *key, apr_time_t now)
{
    toy_session_t *ts = apr_hash_get(t->sessions, key, MCP_STORE_KEY_LEN);

    if (ts && ts->expires <= now) {
        session_free(t, ts);
        ts = NULL;
    }
    return ts;
}

static void sweep(toy_t *t, apr_pool_t *p, apr_time_t now)
{
    apr_hash_index_t *hi;

    /* deleting the current entry while iterating is allowed */
    for (hi = apr_hash_first(p, t->sessions); hi; hi = apr_hash_next(hi)) {
        toy_session_t *ts = apr_hash_this_val(hi);
        if (ts->expires <= now) {
            session_free(t, ts);
        }
    }
}

/* Replace ts's record. Locked. */
static apr_status_t store(toy_t *t, toy_session_t *ts, const char *record,
                          apr_size_t len)
{
    char *copy;

    if (t->flaw == FLAW_CUT && len == t->max_record) {
        len--;
    }
    copy = malloc(len + 1);
    if (!copy) {
        return APR_ENOMEM;
    }
    memcpy(copy, record, len);
    copy[len] = '\0';
    free(ts->rec);
    ts->rec = copy;
    ts->len = len;
    return APR_SUCCESS;
}

static int key_ok(const char *key)
{
    return strlen(key) == MCP_STORE_KEY_LEN;
}

static apr_status_t toy_create_session(void *instance, const mcp_store_ctx_t *c,
                                       const char *key, const char *record,
                                       apr_size_t len)
{
    toy_t *t = instance;
    apr_time_t now = apr_time_now();
    toy_session_t *ts;
    apr_status_t rv;

    if (!key_ok(key) || len > t->max_record) {
        return APR_EINVAL;
    }
    apr_thread_mutex_lock(t->lock);
    if (++t->creates % SWEEP_EVERY == 0) {
        sweep(t, c->pool, now);
    }
    ts = find(t, key, now);
    if (!ts) {
        if (!(ts = calloc(1, sizeof(*ts)))) {
            rv = APR_ENOMEM;
            goto leave;
        }
        memcpy(ts->key, key, MCP_STORE_KEY_LEN + 1);
        apr_hash_set(t->sessions, ts->key, MCP_STORE_KEY_LEN, ts);
    }
    rv = store(t, ts, record, len);
    if (rv != APR_SUCCESS && !ts->rec) {
        session_free(t, ts);
        goto leave;
    }
    ts->pending = 1;
    ts->expires = now + t->handshake_ttl;
leave:
    apr_thread_mutex_unlock(t->lock);
    return rv;
}

static apr_status_t toy_fetch(void *instance, const mcp_store_ctx_t *c,
                              const char *key, char **record, apr_size_t *len)
{
    toy_t *t = instance;
    apr_time_t now = apr_time_now();
    toy_session_t *ts;
    apr_status_t rv = APR_SUCCESS;

    apr_thread_mutex_lock(t->lock);
    ts = find(t, key, now);
    if (!ts) {
        rv = APR_NOTFOUND;
        goto leave;
    }
    if (t->flaw != FLAW_NOSLIDE) {
        /* sliding: every use extends */
        ts->expires = now + (ts->pending ? t->handshake_ttl : t->ttl);
    }
    *record = t->flaw == FLAW_SHARED ? ts->rec
                                     : apr_pstrmemdup(c->pool, ts->rec, ts->len);
    *len = ts->len;
leave:
    apr_thread_mutex_unlock(t->lock);
    return rv;
}

/* update() and update_if(): expected NULL for update(). */
static apr_status_t write_session(toy_t *t, const char *key,
                                  const char *expected, apr_size_t expected_len,
                                  const char *record, apr_size_t len)
{
    apr_time_t now = apr_time_now();
    toy_session_t *ts;
    apr_status_t rv;

    if (!key_ok(key) || len > t->max_record) {
        return APR_EINVAL;
    }
    apr_thread_mutex_lock(t->lock);
    ts = find(t, key, now);
    if (!ts && t->flaw == FLAW_REVIVE && (ts = calloc(1, sizeof(*ts)))) {
        memcpy(ts->key, key, MCP_STORE_KEY_LEN + 1);
        apr_hash_set(t->sessions, ts->key, MCP_STORE_KEY_LEN, ts);
    }
    if (!ts) {
        rv = APR_NOTFOUND;      /* removed or expired: stays so */
        goto leave;
    }
    if (expected && t->flaw != FLAW_BLINDIF
        && (ts->len != expected_len || memcmp(ts->rec, expected, ts->len))) {
        rv = MCP_STORE_ECHANGED;
        goto leave;
    }
    if ((rv = store(t, ts, record, len)) != APR_SUCCESS) {
        goto leave;
    }
    if (ts->pending && t->flaw == FLAW_HANDSHAKE) {
        ts->expires = now + t->handshake_ttl;
    }
    else {
        ts->pending = 0;        /* the handshake is done: the full ttl */
        ts->expires = now + t->ttl;
    }
leave:
    apr_thread_mutex_unlock(t->lock);
    return rv;
}

static apr_status_t toy_update(void *instance, const mcp_store_ctx_t *c,
                               const char *key, const char *record,
                               apr_size_t len)
{
    return write_session(instance, key, NULL, 0, record, len);
}

static apr_status_t toy_update_if(void *instance, const mcp_store_ctx_t *c,
                                  const char *key, const char *expected,
                                  apr_size_t expected_len, const char *record,
                                  apr_size_t len)
{
    return write_session(instance, key, expected, expected_len, record, len);
}

static apr_status_t toy_remove(void *instance, const mcp_store_ctx_t *c,
                               const char *key)
{
    toy_t *t = instance;
    toy_session_t *ts;
    apr_status_t rv = APR_SUCCESS;

    apr_thread_mutex_lock(t->lock);
    ts = find(t, key, apr_time_now());
    if (ts) {
        session_free(t, ts);
    }
    else {
        rv = APR_NOTFOUND;
    }
    apr_thread_mutex_unlock(t->lock);
    return rv;
}

static const char *toy_describe(void *instance, apr_pool_t *p)
{
    toy_t *t = instance;

    return apr_psprintf(p, "toy %s (this process only)%s%s", t->name,
                        t->flaw ? ", flaw " : "", flaws[t->flaw]);
}

static int toy_healthy(void *instance)
{
    return 1;
}

/* 1..MCP_STORE_CHANNEL_MAX bytes of visible ASCII */
static int channel_ok(const char *ch)
{
    apr_size_t i;

    for (i = 0; ch[i]; i++) {
        if (i >= MCP_STORE_CHANNEL_MAX || ch[i] < 0x21 || ch[i] > 0x7e) {
            return 0;
        }
    }
    return i > 0;
}

/* The channel, made on first use. Locked. */
static toy_channel_t *channel_get(toy_t *t, const char *name)
{
    toy_channel_t *ch = apr_hash_get(t->channels, name, APR_HASH_KEY_STRING);

    if (!ch && (ch = calloc(1, sizeof(*ch)))) {
        if (!(ch->name = strdup(name))) {
            free(ch);
            return NULL;
        }
        ch->next = 1;
        apr_hash_set(t->channels, ch->name, APR_HASH_KEY_STRING, ch);
    }
    return ch;
}

static apr_status_t toy_publish(void *instance, const mcp_store_ctx_t *c,
                                const char *channel, const char *msg,
                                apr_size_t len)
{
    toy_t *t = instance;
    toy_channel_t *ch;
    apr_status_t rv = APR_SUCCESS;
    char *copy;
    int slot;

    if (!channel_ok(channel) || len > MCP_STORE_MAX_MESSAGE) {
        return APR_EINVAL;
    }
    if (!(copy = malloc(len + 1))) {
        return APR_ENOMEM;
    }
    memcpy(copy, msg, len);
    copy[len] = '\0';
    apr_thread_mutex_lock(t->lock);
    if (!(ch = channel_get(t, channel))) {
        free(copy);
        rv = APR_ENOMEM;
        goto leave;
    }
    slot = (int)(ch->next % MCP_TOY_BACKLOG);
    free(ch->msg[slot]);        /* the oldest message is dropped */
    ch->msg[slot] = copy;
    ch->len[slot] = len;
    ch->next++;
    apr_thread_cond_broadcast(t->published);
leave:
    apr_thread_mutex_unlock(t->lock);
    return rv;
}

static apr_status_t toy_wait(void *instance, const mcp_store_ctx_t *c,
                             const char *channel, apr_uint64_t *cursor,
                             apr_interval_time_t timeout, char **msg,
                             apr_size_t *len)
{
    toy_t *t = instance;
    apr_time_t deadline = apr_time_now() + timeout;
    toy_channel_t *ch;
    apr_uint64_t pos, oldest;
    apr_interval_time_t left;
    apr_status_t rv;

    if (!channel_ok(channel)) {
        return APR_EINVAL;
    }
    apr_thread_mutex_lock(t->lock);
    if (!(ch = channel_get(t, channel))) {
        rv = APR_ENOMEM;
        goto leave;
    }
    /* 0 is "from now"; a cursor past the end (of another channel) too */
    pos = *cursor && *cursor <= ch->next ? *cursor : ch->next;
    for (;;) {
        oldest = ch->next > MCP_TOY_BACKLOG ? ch->next - MCP_TOY_BACKLOG : 1;
        if (pos < oldest) {
            if (t->flaw != FLAW_GAP) {
                *cursor = oldest;       /* past the gap */
                rv = APR_INCOMPLETE;
                break;
            }
            pos = oldest;
        }
        if (pos < ch->next) {
            int slot = (int)(pos % MCP_TOY_BACKLOG);
            *msg = apr_pstrmemdup(c->pool, ch->msg[slot], ch->len[slot]);
            *len = ch->len[slot];
            *cursor = pos + 1;
            rv = APR_SUCCESS;
            break;
        }
        left = deadline - apr_time_now();
        if (left <= 0) {
            if (t->flaw != FLAW_LOSEWAIT) {
                *cursor = pos;  /* so that the next wait misses nothing */
            }
            rv = APR_TIMEUP;
            break;
        }
        apr_thread_cond_timedwait(t->published, t->lock, left);
    }
leave:
    apr_thread_mutex_unlock(t->lock);
    return rv;
}

const mcp_store_provider_t mcp_toy_store_provider = {
    "toy",
    toy_create,
    toy_init,
    toy_child_init,
    toy_max_record,
    toy_create_session,
    toy_fetch,
    toy_update,
    toy_remove,
    toy_describe,
    toy_healthy,
    NULL,                       /* status: needs httpd (mod_status) */
    toy_update_if,
    toy_publish,
    toy_wait
};
