/*
 * The store contract suite (see mcp_store_contract.h): what
 * include/mcp_session_store.h promises, test by test, in the order of the
 * header. httpd-free: APR and include/ only.
 *
 * Sections: the data calls (create_session, fetch, update, remove, the
 * record limit, the bytes a record may hold, threads), lifetimes (ttl,
 * handshake_ttl), update_if, publish/wait, and call durations. A test of
 * a capability the provider lacks is reported as a skip, so every
 * provider reports the same list.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apr_atomic.h"
#include "apr_general.h"
#include "apr_strings.h"
#include "apr_thread_mutex.h"
#include "apr_thread_proc.h"
#include "apr_time.h"

#include "mcp_store_contract.h"

#if !APR_HAS_THREADS
#error "the store contract suite needs APR with threads"
#endif

#define THREADS         4
#define INCREMENTS      25
#define NO_MSG_WAIT     apr_time_from_msec(100)  /* "nothing comes" */
#define PRIME_WAIT      apr_time_from_msec(20)   /* sets a cursor */
#define TIMEUP_WAIT     apr_time_from_msec(250)
#define THREAD_WAIT     apr_time_from_sec(3)
/* Below this the suite's records do not fit (a session record is rarely
 * smaller). */
#define MIN_MAX_RECORD  128

typedef struct suite_t {
    const mcp_store_provider_t *p;
    void *inst;
    const mcp_store_params_t *params;
    struct server_rec *s;
    struct request_rec *r;
    apr_pool_t *pool;                   /* the suite's, under ctx->pool */
    mcp_contract_report_t *report;
    void *baton;
    int failed;
    apr_size_t max;                     /* max_record() */
    /* call durations, from every thread of the suite */
    apr_thread_mutex_t *lock;
    apr_interval_time_t slowest;
    const char *slowest_op;
    int late;
    const char *late_op;
    apr_interval_time_t late_by;
} suite_t;

/* ------------------------------------------------------------------ */
/* Reports                                                             */

static void report(suite_t *S, mcp_contract_result_t res, const char *what,
                   const char *why)
{
    if (res == MCP_CONTRACT_FAIL) {
        S->failed++;
    }
    if (why) {
        /* one line: a message quoted in it may hold any byte */
        char *w = apr_pstrdup(S->pool, why), *c;
        for (c = w; *c; c++) {
            if ((unsigned char)*c < 0x20 || *c == 0x7f) {
                *c = '?';
            }
        }
        why = w;
    }
    S->report(S->baton, res, what, why);
}

static void skip(suite_t *S, const char *what, const char *why)
{
    report(S, MCP_CONTRACT_SKIP, what, why);
}

/* PASS when why is NULL, else FAIL with it. */
static int verdict(suite_t *S, const char *what, const char *why)
{
    report(S, why ? MCP_CONTRACT_FAIL : MCP_CONTRACT_PASS, what, why);
    return why == NULL;
}

static const char *status_name(apr_pool_t *p, apr_status_t rv)
{
    char buf[120];

    switch (rv) {
    case APR_SUCCESS:           return "APR_SUCCESS";
    case APR_NOTFOUND:          return "APR_NOTFOUND";
    case APR_TIMEUP:            return "APR_TIMEUP";
    case APR_INCOMPLETE:        return "APR_INCOMPLETE";
    case APR_EAGAIN:            return "APR_EAGAIN";
    case APR_ENOSPC:            return "APR_ENOSPC";
    case APR_EINVAL:            return "APR_EINVAL";
    case MCP_STORE_ECHANGED:    return "MCP_STORE_ECHANGED";
    }
    return apr_psprintf(p, "status %d (%s)", rv,
                        apr_strerror(rv, buf, sizeof(buf)));
}

/* ------------------------------------------------------------------ */
/* The provider's calls, timed                                         */

static void timed(suite_t *S, const char *op, apr_time_t start,
                  apr_interval_time_t allowed)
{
    apr_interval_time_t d = apr_time_now() - start;

    apr_thread_mutex_lock(S->lock);
    if (d > S->slowest) {
        S->slowest = d;
        S->slowest_op = op;
    }
    if (d > allowed) {
        S->late++;
        if (d - allowed > S->late_by) {
            S->late_by = d - allowed;
            S->late_op = op;
        }
    }
    apr_thread_mutex_unlock(S->lock);
}

/* A context for a call from the suite's own thread. */
static mcp_store_ctx_t *ctx_of(suite_t *S, apr_pool_t *p)
{
    mcp_store_ctx_t *c = apr_pcalloc(p, sizeof(*c));

    c->pool = p;
    c->s = S->s;
    c->r = S->r;
    return c;
}

static apr_status_t s_create(suite_t *S, const mcp_store_ctx_t *c,
                             const char *key, const char *rec, apr_size_t len)
{
    apr_time_t t = apr_time_now();
    apr_status_t rv = S->p->create_session(S->inst, c, key, rec, len);

    timed(S, "create_session", t, S->params->timeout);
    return rv;
}

static apr_status_t s_fetch(suite_t *S, const mcp_store_ctx_t *c,
                            const char *key, char **rec, apr_size_t *len)
{
    apr_time_t t = apr_time_now();
    apr_status_t rv;

    *rec = NULL;
    *len = (apr_size_t)-1;
    rv = S->p->fetch(S->inst, c, key, rec, len);
    timed(S, "fetch", t, S->params->timeout);
    return rv;
}

static apr_status_t s_update(suite_t *S, const mcp_store_ctx_t *c,
                             const char *key, const char *rec, apr_size_t len)
{
    apr_time_t t = apr_time_now();
    apr_status_t rv = S->p->update(S->inst, c, key, rec, len);

    timed(S, "update", t, S->params->timeout);
    return rv;
}

static apr_status_t s_remove(suite_t *S, const mcp_store_ctx_t *c,
                             const char *key)
{
    apr_time_t t = apr_time_now();
    apr_status_t rv = S->p->remove(S->inst, c, key);

    timed(S, "remove", t, S->params->timeout);
    return rv;
}

static apr_status_t s_update_if(suite_t *S, const mcp_store_ctx_t *c,
                                const char *key, const char *exp,
                                apr_size_t exp_len, const char *rec,
                                apr_size_t len)
{
    apr_time_t t = apr_time_now();
    apr_status_t rv = S->p->update_if(S->inst, c, key, exp, exp_len, rec, len);

    timed(S, "update_if", t, S->params->timeout);
    return rv;
}

static apr_status_t s_publish(suite_t *S, const mcp_store_ctx_t *c,
                              const char *ch, const char *msg, apr_size_t len)
{
    apr_time_t t = apr_time_now();
    apr_status_t rv = S->p->publish(S->inst, c, ch, msg, len);

    timed(S, "publish", t, S->params->timeout);
    return rv;
}

static apr_status_t s_wait(suite_t *S, const mcp_store_ctx_t *c,
                           const char *ch, apr_uint64_t *cursor,
                           apr_interval_time_t timeout, char **msg,
                           apr_size_t *len)
{
    apr_time_t t = apr_time_now();
    apr_status_t rv;

    *msg = NULL;
    *len = (apr_size_t)-1;
    rv = S->p->wait(S->inst, c, ch, cursor, timeout, msg, len);
    timed(S, "wait", t, timeout + S->params->timeout);
    return rv;
}

/* ------------------------------------------------------------------ */
/* Keys, records, messages                                             */

/* 64 random lowercase hex digits, as mod_mcp_session's keys are. */
static char *new_key(suite_t *S)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char b[MCP_STORE_KEY_LEN / 2];
    char *k = apr_palloc(S->pool, MCP_STORE_KEY_LEN + 1);
    int i;

    if (apr_generate_random_bytes(b, sizeof(b)) != APR_SUCCESS) {
        for (i = 0; i < (int)sizeof(b); i++) {
            b[i] = (unsigned char)rand();
        }
    }
    for (i = 0; i < (int)sizeof(b); i++) {
        k[2 * i] = hex[b[i] >> 4];
        k[2 * i + 1] = hex[b[i] & 15];
    }
    k[MCP_STORE_KEY_LEN] = '\0';
    return k;
}

/* The same key with one hex digit changed at `pos`. */
static char *key_next_to(suite_t *S, const char *key, int pos)
{
    char *k = apr_pstrdup(S->pool, key);

    k[pos] = k[pos] == 'f' ? '0' : k[pos] == '9' ? 'a' : (char)(k[pos] + 1);
    return k;
}

/* JSON text of exactly len bytes (len >= 8), different for each seed:
 * {"r":"..."} with escapes and multi-byte UTF-8 in the string. */
static char *gen_record(apr_pool_t *p, apr_size_t len, unsigned seed)
{
    static const char *const units[] = {
        "\\\"", "\\\\", "\\n", "\\u00e9", "\xc3\xa9", "\xe2\x82\xac",
        "\xf0\x9f\x98\x80", "\\/", " "
    };
    char *r = apr_palloc(p, len + 1);
    apr_size_t o = 0, end;
    unsigned n = seed;

    if (len < 8) {
        for (o = 0; o < len; o++) {
            r[o] = (char)('1' + (seed + o) % 9);
        }
        r[len] = '\0';
        return r;
    }
    memcpy(r, "{\"r\":\"", 6);
    o = 6;
    end = len - 2;
    while (o < end) {
        n = n * 1103515245u + 12345u;
        if ((n >> 16) % 4 == 0) {
            const char *u = units[(n >> 8) % (sizeof(units) / sizeof(*units))];
            apr_size_t ul = strlen(u);
            if (o + ul <= end) {
                memcpy(r + o, u, ul);
                o += ul;
                continue;
            }
        }
        r[o++] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                 [(n >> 10) % 62];
    }
    memcpy(r + o, "\"}", 2);
    r[len] = '\0';
    return r;
}

/* The pieces of the "every byte JSON text may hold" records: all visible
 * ASCII (quote and backslash escaped), the whitespace JSON allows between
 * tokens, every JSON escape, and UTF-8 with every continuation byte and
 * every lead byte (2, 3 and 4 bytes, up to U+10FFFF). */
static apr_array_header_t *json_units(apr_pool_t *p)
{
    apr_array_header_t *u = apr_array_make(p, 256, sizeof(const char *));
    int c;

    APR_ARRAY_PUSH(u, const char *) = "{\"ascii\":\"";
    for (c = 0x20; c < 0x7f; c++) {
        APR_ARRAY_PUSH(u, const char *) =
            c == '"' ? "\\\"" : c == '\\' ? "\\\\"
                              : apr_psprintf(p, "%c", c);
    }
    APR_ARRAY_PUSH(u, const char *) = "\",\t\n\r \"esc\":\"";
    APR_ARRAY_PUSH(u, const char *) = "\\\"\\\\\\/\\b\\f\\n\\r\\t";
    APR_ARRAY_PUSH(u, const char *) = "\\u0000\\u001f\\u00e9\\ud83d\\ude00";
    APR_ARRAY_PUSH(u, const char *) = "\",\"utf8\":\"";
    for (c = 0x80; c < 0xc0; c++) {             /* every continuation byte */
        APR_ARRAY_PUSH(u, const char *) = apr_psprintf(p, "\xc2%c", c);
    }
    for (c = 0xc3; c < 0xe0; c++) {             /* every 2-byte lead */
        APR_ARRAY_PUSH(u, const char *) = apr_psprintf(p, "%c\x80", c);
    }
    APR_ARRAY_PUSH(u, const char *) = "\xe0\xa0\x80";
    for (c = 0xe1; c < 0xf0; c++) {             /* every 3-byte lead */
        APR_ARRAY_PUSH(u, const char *) =
            c == 0xed ? "\xed\x9f\xbf" : apr_psprintf(p, "%c\x80\x80", c);
    }
    APR_ARRAY_PUSH(u, const char *) = "\xef\xbf\xbd";           /* U+FFFD */
    APR_ARRAY_PUSH(u, const char *) = "\xf0\x90\x80\x80";
    APR_ARRAY_PUSH(u, const char *) = "\xf1\x80\x80\x80";
    APR_ARRAY_PUSH(u, const char *) = "\xf2\xbf\xbf\xbf";
    APR_ARRAY_PUSH(u, const char *) = "\xf3\x80\x80\x80";
    APR_ARRAY_PUSH(u, const char *) = "\xf4\x8f\xbf\xbf";       /* U+10FFFF */
    APR_ARRAY_PUSH(u, const char *) = "\"}";
    return u;
}

/* The units packed into records of at most max bytes, forward or
 * backward (so that an update changes every byte's place). */
static apr_array_header_t *pack_units(apr_pool_t *p, apr_array_header_t *u,
                                      apr_size_t max, int backward)
{
    apr_array_header_t *recs = apr_array_make(p, 2, sizeof(char *));
    char *cur = "";
    int i;

    for (i = 0; i < u->nelts; i++) {
        const char *piece = APR_ARRAY_IDX(u, backward ? u->nelts - 1 - i : i,
                                          const char *);
        if (*cur && strlen(cur) + strlen(piece) > max) {
            APR_ARRAY_PUSH(recs, char *) = cur;
            cur = "";
        }
        cur = apr_pstrcat(p, cur, piece, NULL);
    }
    if (*cur) {
        APR_ARRAY_PUSH(recs, char *) = cur;
    }
    return recs;
}

/* NULL when a data call returned APR_SUCCESS with exactly want[0..wlen)
 * and a NUL after it; else what differs. */
static const char *differs(apr_pool_t *p, const char *op, apr_status_t rv,
                           const char *got, apr_size_t len, const char *want,
                           apr_size_t wlen)
{
    apr_size_t i;

    if (rv != APR_SUCCESS) {
        return apr_psprintf(p, "%s: %s", op, status_name(p, rv));
    }
    if (!got) {
        return apr_psprintf(p, "%s: APR_SUCCESS but no bytes", op);
    }
    if (len != wlen) {
        return apr_psprintf(p, "%s: len %" APR_SIZE_T_FMT ", want %"
                            APR_SIZE_T_FMT, op, len, wlen);
    }
    for (i = 0; i < len && got[i] == want[i]; i++) {
    }
    if (i < len) {
        return apr_psprintf(p, "%s: byte %" APR_SIZE_T_FMT " is 0x%02x, want "
                            "0x%02x", op, i, (unsigned char)got[i],
                            (unsigned char)want[i]);
    }
    if (got[len] != '\0') {
        return apr_psprintf(p, "%s: not NUL-terminated", op);
    }
    return NULL;
}

/* NULL when fetch(key) gives want. */
static const char *fetch_differs(suite_t *S, apr_pool_t *p, const char *key,
                                 const char *want, apr_size_t wlen)
{
    char *rec;
    apr_size_t len;
    apr_status_t rv = s_fetch(S, ctx_of(S, p), key, &rec, &len);

    return differs(p, "fetch", rv, rec, len, want, wlen);
}

/* NULL when fetch(key) is APR_NOTFOUND. */
static const char *fetch_not_gone(suite_t *S, apr_pool_t *p, const char *key,
                                  const char *after)
{
    char *rec;
    apr_size_t len;
    apr_status_t rv = s_fetch(S, ctx_of(S, p), key, &rec, &len);

    if (rv == APR_NOTFOUND) {
        return NULL;
    }
    return apr_psprintf(p, "fetch after %s: %s%s", after,
                        status_name(p, rv),
                        rv == APR_SUCCESS ? " (the session is there)" : "");
}

static const char *expect(apr_pool_t *p, const char *op, apr_status_t rv,
                          apr_status_t want)
{
    if (rv == want) {
        return NULL;
    }
    return apr_psprintf(p, "%s: %s, want %s", op, status_name(p, rv),
                        status_name(p, want));
}

/* A root pool with an allocator of its own, for one thread. */
static apr_pool_t *thread_pool(void)
{
    apr_allocator_t *a;
    apr_pool_t *p = NULL;

    if (apr_allocator_create(&a) != APR_SUCCESS) {
        return NULL;
    }
    if (apr_pool_create_unmanaged_ex(&p, NULL, a) != APR_SUCCESS) {
        apr_allocator_destroy(a);
        return NULL;
    }
    apr_allocator_owner_set(a, p);
    return p;
}

static void sleep_until(apr_time_t t)
{
    apr_interval_time_t d = t - apr_time_now();

    if (d > 0) {
        apr_sleep(d);
    }
}

/* ------------------------------------------------------------------ */
/* Data calls                                                          */

typedef struct racer_t {
    suite_t *S;
    const char *key;
    volatile apr_uint32_t *removed;     /* set once remove() returned */
    apr_pool_t *pool;
    int after;                          /* updates begun after the remove */
    char why[160];                      /* the first violation */
} racer_t;

/* Update in a loop until 10 updates began after the remove returned:
 * each of those must be APR_NOTFOUND. Calls return within
 * params->timeout, so at least one begins after the remove by `end`. */
static void *APR_THREAD_FUNC race_update(apr_thread_t *t, void *data)
{
    racer_t *rc = data;
    suite_t *S = rc->S;
    mcp_store_ctx_t c = { NULL, S->s, NULL };
    apr_time_t end = apr_time_now() + apr_time_from_sec(1)
                     + 3 * S->params->timeout;
    unsigned i = 0;

    while (rc->after < 10 && apr_time_now() < end) {
        int removed = apr_atomic_read32(rc->removed) != 0;
        char *rec;
        apr_status_t rv;

        apr_pool_clear(rc->pool);
        c.pool = rc->pool;
        rec = gen_record(rc->pool, 40, i++);
        rv = s_update(S, &c, rc->key, rec, strlen(rec));
        if (removed) {
            rc->after++;
            if (rv != APR_NOTFOUND && !*rc->why) {
                apr_snprintf(rc->why, sizeof(rc->why), "an update begun "
                             "after the remove returned gave %s",
                             status_name(rc->pool, rv));
            }
        }
        else if (rv != APR_SUCCESS && rv != APR_NOTFOUND && !*rc->why) {
            apr_snprintf(rc->why, sizeof(rc->why), "update: %s",
                         status_name(rc->pool, rv));
        }
    }
    return NULL;
}

static void test_race_remove(suite_t *S, apr_pool_t *p)
{
    const char *what = "updates racing a remove in 4 threads: the session "
                       "stays removed";
    racer_t rc[THREADS];
    apr_thread_t *th[THREADS];
    apr_pool_t *tp = thread_pool();
    volatile apr_uint32_t removed = 0;
    const char *key = new_key(S), *why = NULL;
    char *rec = gen_record(p, 40, 1);
    apr_status_t rv, trv;
    int i, started = 0, slow = 0;

    if (!tp) {
        verdict(S, what, "no pool for the threads");
        return;
    }
    rv = s_create(S, ctx_of(S, p), key, rec, strlen(rec));
    if (rv == APR_SUCCESS) {
        rv = s_update(S, ctx_of(S, p), key, rec, strlen(rec));
    }
    if (rv != APR_SUCCESS) {
        why = apr_psprintf(p, "create/update: %s", status_name(p, rv));
        goto leave;
    }
    for (i = 0; i < THREADS; i++) {
        rc[i].S = S;
        rc[i].key = key;
        rc[i].removed = &removed;
        rc[i].pool = thread_pool();
        rc[i].after = 0;
        rc[i].why[0] = '\0';
        if (!rc[i].pool
            || apr_thread_create(&th[i], NULL, race_update, &rc[i], tp)
               != APR_SUCCESS) {
            why = "cannot start the threads";
            if (rc[i].pool) {
                apr_pool_destroy(rc[i].pool);
            }
            break;
        }
        started++;
    }
    if (!why) {
        apr_time_t set_up = apr_time_now();
        apr_sleep(apr_time_from_msec(20));
        rv = s_remove(S, ctx_of(S, p), key);
        apr_atomic_set32(&removed, 1);
        why = expect(p, "remove", rv, APR_SUCCESS);
        /* a run so slow that the session may have expired first (under
         * valgrind) cannot judge */
        if (rv == APR_NOTFOUND
            && apr_time_now() - set_up > S->params->ttl / 2) {
            slow = 1;
        }
    }
    else {
        apr_atomic_set32(&removed, 1);
    }
    for (i = 0; i < started; i++) {
        apr_thread_join(&trv, th[i]);
        if (!why && *rc[i].why) {
            why = apr_pstrdup(p, rc[i].why);
        }
        if (!why && rc[i].after < 1) {
            why = "a thread began no update after the remove returned";
        }
        apr_pool_destroy(rc[i].pool);
    }
    if (!why) {
        why = fetch_not_gone(S, p, key, "the race");
    }
leave:
    apr_pool_destroy(tp);
    if (slow) {
        skip(S, what, "the remove came more than ttl/2 after the session "
             "was made and found none: too slow a run to judge");
        return;
    }
    verdict(S, what, why);
}

static void section_data(suite_t *S)
{
    apr_pool_t *p;
    char *k1, *k2, *k3, *rec, *rec2, *r1, *r2, *got;
    apr_size_t l1, l2, len;
    /* sizes below max_record (at least MIN_MAX_RECORD) */
    apr_size_t n200 = S->max < 200 ? S->max : 200;
    apr_size_t n300 = S->max < 300 ? S->max : 300;
    apr_status_t rv;
    const char *why;
    int i;

    apr_pool_create(&p, S->pool);

    why = fetch_not_gone(S, p, new_key(S), "nothing");
    verdict(S, "fetch of a key never created is APR_NOTFOUND", why);

    k1 = new_key(S);
    rec = gen_record(p, n200, 1);
    rv = s_create(S, ctx_of(S, p), k1, rec, n200);
    why = expect(p, "create_session", rv, APR_SUCCESS);
    if (!why) {
        why = fetch_differs(S, p, k1, rec, n200);
    }
    verdict(S, "create_session, then fetch returns the record: bytes, len, "
               "NUL", why);

    /* The caller's copy: the core reads records in place, and a record
     * must stay as it was read while the store changes. */
    {
        apr_pool_t *p1, *p2;

        apr_pool_create(&p1, p);
        apr_pool_create(&p2, p);
        rv = s_fetch(S, ctx_of(S, p1), k1, &r1, &l1);
        why = differs(p, "fetch", rv, r1, l1, rec, n200);
        if (!why) {
            rv = s_fetch(S, ctx_of(S, p2), k1, &r2, &l2);
            why = differs(p, "second fetch", rv, r2, l2, rec, n200);
        }
        if (!why && r1 == r2) {
            why = "two fetches returned the same buffer";
        }
        if (!why) {
            memset(r2, 'x', l2);                /* the caller's to change */
            rec2 = gen_record(p, 120, 2);
            rv = s_update(S, ctx_of(S, p), k1, rec2, 120);
            why = expect(p, "update", rv, APR_SUCCESS);
            if (!why && memcmp(r1, rec, n200)) {
                why = "a record fetched earlier changed when the store was "
                      "updated (not the caller's copy from ctx->pool)";
            }
            if (!why) {
                why = fetch_differs(S, p, k1, rec2, 120);
                if (why) {
                    why = apr_pstrcat(p, "after writing into a fetched "
                                      "record and an update: ", why, NULL);
                }
            }
        }
        verdict(S, "the fetched record is the caller's: writable, unchanged "
                   "by later calls", why);
        apr_pool_destroy(p2);
        apr_pool_destroy(p1);
    }

    /* longer, then shorter: the length must follow */
    rec = gen_record(p, n300, 3);
    rv = s_update(S, ctx_of(S, p), k1, rec, n300);
    why = expect(p, "update", rv, APR_SUCCESS);
    if (!why) {
        why = fetch_differs(S, p, k1, rec, n300);
    }
    if (!why) {
        rec = gen_record(p, 20, 4);
        rv = s_update(S, ctx_of(S, p), k1, rec, 20);
        why = expect(p, "update to a shorter record", rv, APR_SUCCESS);
        if (!why) {
            why = fetch_differs(S, p, k1, rec, 20);
        }
    }
    verdict(S, "update replaces the record (also by a shorter one)", why);

    k2 = new_key(S);
    rv = s_update(S, ctx_of(S, p), k2, rec, 20);
    why = expect(p, "update", rv, APR_NOTFOUND);
    if (!why) {
        why = fetch_not_gone(S, p, k2, "update");
    }
    verdict(S, "update of a key never created is APR_NOTFOUND and creates "
               "nothing", why);

    rv = s_remove(S, ctx_of(S, p), k1);
    why = expect(p, "remove", rv, APR_SUCCESS);
    if (!why) {
        why = fetch_not_gone(S, p, k1, "remove");
    }
    verdict(S, "remove ends a session: APR_SUCCESS, then fetch is "
               "APR_NOTFOUND", why);

    why = expect(p, "remove again", s_remove(S, ctx_of(S, p), k1),
                 APR_NOTFOUND);
    if (!why) {
        why = expect(p, "remove of a key never created",
                     s_remove(S, ctx_of(S, p), new_key(S)), APR_NOTFOUND);
    }
    verdict(S, "remove again, or of a key never created, is APR_NOTFOUND",
            why);

    rv = s_update(S, ctx_of(S, p), k1, rec, 20);
    why = expect(p, "update", rv, APR_NOTFOUND);
    if (!why) {
        why = fetch_not_gone(S, p, k1, "update");
    }
    verdict(S, "update of a removed session is APR_NOTFOUND and does not "
               "revive it", why);

    /* three keys, two of them one hex digit from the first */
    k1 = new_key(S);
    k2 = key_next_to(S, k1, MCP_STORE_KEY_LEN - 1);
    k3 = key_next_to(S, k1, 0);
    {
        const char *keys[3];
        char *recs[3];

        keys[0] = k1; keys[1] = k2; keys[2] = k3;
        why = NULL;
        for (i = 0; i < 3 && !why; i++) {
            recs[i] = gen_record(p, 60 + i, 10 + i);
            rv = s_create(S, ctx_of(S, p), keys[i], recs[i], 60 + i);
            why = expect(p, "create_session", rv, APR_SUCCESS);
        }
        if (!why) {
            rec = gen_record(p, 70, 20);
            rv = s_update(S, ctx_of(S, p), k1, rec, 70);
            why = expect(p, "update", rv, APR_SUCCESS);
        }
        for (i = 1; i < 3 && !why; i++) {
            why = fetch_differs(S, p, keys[i], recs[i], 60 + i);
        }
        if (!why) {
            rv = s_remove(S, ctx_of(S, p), k1);
            why = expect(p, "remove", rv, APR_SUCCESS);
        }
        for (i = 1; i < 3 && !why; i++) {
            why = fetch_differs(S, p, keys[i], recs[i], 60 + i);
            s_remove(S, ctx_of(S, p), keys[i]);
        }
        if (why) {
            why = apr_pstrcat(p, why, " (keys ", k1, ", ", k2, ", ", k3, ")",
                              NULL);
        }
    }
    verdict(S, "keys are independent (even one hex digit apart)", why);

    /* the record limit */
    k1 = new_key(S);
    rec = gen_record(p, S->max, 30);
    rv = s_create(S, ctx_of(S, p), k1, rec, S->max);
    why = expect(p, "create_session", rv, APR_SUCCESS);
    if (!why) {
        why = fetch_differs(S, p, k1, rec, S->max);
    }
    if (!why) {
        rec = gen_record(p, S->max, 31);
        rv = s_update(S, ctx_of(S, p), k1, rec, S->max);
        why = expect(p, "update", rv, APR_SUCCESS);
        if (!why) {
            why = fetch_differs(S, p, k1, rec, S->max);
        }
    }
    s_remove(S, ctx_of(S, p), k1);
    if (why) {
        why = apr_psprintf(p, "%s (max_record %" APR_SIZE_T_FMT ")", why,
                           S->max);
    }
    verdict(S, "a record of max_record() bytes goes through create, fetch "
               "and update intact", why);

    /* every byte JSON text may hold */
    {
        apr_array_header_t *u = json_units(p);
        apr_array_header_t *fw = pack_units(p, u, S->max, 0);
        apr_array_header_t *bw = pack_units(p, u, S->max, 1);

        why = NULL;
        for (i = 0; i < fw->nelts && !why; i++) {
            char *a = APR_ARRAY_IDX(fw, i, char *);
            char *b = APR_ARRAY_IDX(bw, i < bw->nelts ? i : 0, char *);

            k1 = new_key(S);
            rv = s_create(S, ctx_of(S, p), k1, a, strlen(a));
            why = expect(p, "create_session", rv, APR_SUCCESS);
            if (!why) {
                why = fetch_differs(S, p, k1, a, strlen(a));
            }
            if (!why) {
                rv = s_update(S, ctx_of(S, p), k1, b, strlen(b));
                why = expect(p, "update", rv, APR_SUCCESS);
            }
            if (!why) {
                why = fetch_differs(S, p, k1, b, strlen(b));
            }
            s_remove(S, ctx_of(S, p), k1);
        }
    }
    verdict(S, "records with every byte JSON text may hold go through intact",
            why);

    test_race_remove(S, p);

    if (!S->p->describe) {
        skip(S, "describe() names the instance", "describe is NULL "
             "(optional)");
    }
    else {
        const char *d = S->p->describe(S->inst, p);
        verdict(S, "describe() names the instance",
                d && *d ? NULL : "describe() gave no text");
    }
    if (!S->p->healthy) {
        skip(S, "healthy() is 1 after calls that succeeded", "healthy is "
             "NULL (optional)");
    }
    else {
        rv = s_fetch(S, ctx_of(S, p), new_key(S), &got, &len);
        why = rv != APR_NOTFOUND ? expect(p, "fetch", rv, APR_NOTFOUND)
              : S->p->healthy(S->inst) != 1 ? "healthy() is not 1" : NULL;
        verdict(S, "healthy() is 1 after calls that succeeded", why);
    }
    apr_pool_destroy(p);
}

/* ------------------------------------------------------------------ */
/* Lifetimes                                                           */

/* a fetch that finds it alive (sliding it), a fetch that finds it gone,
 * a fetch that finds it alive (not sliding it), an update that finds it
 * gone and does not bring it back */
typedef enum { EV_SLIDE, EV_GONE, EV_ALIVE, EV_GONE_UPDATE } ev_kind_t;

typedef struct life_t {
    const char *what;
    const char *key;
    const char *rec;
    apr_size_t len;
    apr_interval_time_t limit;  /* EV_SLIDE: the promised fetch interval;
                                 * EV_ALIVE: alive this long after touch */
    apr_time_t touch;           /* start of the call that set its life */
    apr_time_t born;
    int events;                 /* left to run */
    int fetches;
    mcp_contract_result_t res;
    const char *why;            /* set once decided */
} life_t;

typedef struct ev_t {
    apr_time_t when;
    ev_kind_t kind;
    life_t *l;
} ev_t;

static void life_decide(life_t *l, mcp_contract_result_t res, const char *why)
{
    if (!l->why && l->res == MCP_CONTRACT_PASS) {
        l->res = res;
        l->why = why;
    }
}

static void life_event(suite_t *S, apr_pool_t *p, ev_t *e)
{
    life_t *l = e->l;
    apr_time_t start, end;
    apr_status_t rv;
    char *rec;
    apr_size_t len;
    const char *why;

    l->events--;
    if (l->res != MCP_CONTRACT_PASS) {
        return;                 /* decided already */
    }
    start = apr_time_now();
    if (e->kind == EV_GONE_UPDATE) {
        rv = s_update(S, ctx_of(S, p), l->key, "{\"late\":1}", 10);
        if (rv != APR_NOTFOUND) {
            life_decide(l, MCP_CONTRACT_FAIL, apr_psprintf(S->pool,
                "update %" APR_TIME_T_FMT " ms after its last use: %s, want "
                "APR_NOTFOUND", apr_time_as_msec(start - l->touch),
                status_name(p, rv)));
            return;
        }
        why = fetch_not_gone(S, p, l->key, "the update");
        if (why) {
            life_decide(l, MCP_CONTRACT_FAIL, apr_pstrdup(S->pool, why));
        }
        return;
    }
    rv = s_fetch(S, ctx_of(S, p), l->key, &rec, &len);
    end = apr_time_now();
    if (e->kind == EV_GONE) {
        if (rv != APR_NOTFOUND) {
            life_decide(l, MCP_CONTRACT_FAIL, apr_psprintf(S->pool,
                "fetch %" APR_TIME_T_FMT " ms after its last use: %s%s",
                apr_time_as_msec(start - l->touch), status_name(p, rv),
                rv == APR_SUCCESS ? " (still there)" : ""));
        }
        return;
    }
    why = differs(p, "fetch", rv, rec, len, l->rec, l->len);
    if (!why) {
        l->fetches++;
        if (e->kind == EV_SLIDE) {
            l->touch = start;
        }
        return;
    }
    /* Only a store that broke a promise fails: a run that came too late
     * (a loaded machine) cannot judge. */
    if (end - l->touch > l->limit) {
        life_decide(l, MCP_CONTRACT_SKIP, apr_psprintf(S->pool,
            "the run came late (%" APR_TIME_T_FMT " ms after the last use, "
            "promise holds for %" APR_TIME_T_FMT " ms): cannot judge",
            apr_time_as_msec(end - l->touch), apr_time_as_msec(l->limit)));
        return;
    }
    life_decide(l, MCP_CONTRACT_FAIL, apr_psprintf(S->pool,
        "%s %" APR_TIME_T_FMT " ms after it was made, %" APR_TIME_T_FMT
        " ms after its last use, after %d fetches", why,
        apr_time_as_msec(start - l->born), apr_time_as_msec(start - l->touch),
        l->fetches));
}

/* Make a session; with `then` "update" or "update_if" its handshake is
 * done (update_if with the bytes of a fetch), with "fetch" it is read
 * once. l->touch is the start of the last call. */
static void life_start(suite_t *S, apr_pool_t *p, life_t *l, const char *what,
                       const char *then, unsigned seed)
{
    apr_status_t rv;
    char *got;
    apr_size_t len;

    memset(l, 0, sizeof(*l));
    l->what = what;
    l->res = MCP_CONTRACT_PASS;
    l->key = new_key(S);
    l->rec = gen_record(S->pool, 80, seed);
    l->len = 80;
    l->born = l->touch = apr_time_now();
    rv = s_create(S, ctx_of(S, p), l->key, l->rec, l->len);
    if (rv != APR_SUCCESS) {
        life_decide(l, MCP_CONTRACT_FAIL, apr_psprintf(S->pool,
                    "create_session: %s", status_name(p, rv)));
        return;
    }
    if (!then) {
        return;
    }
    l->touch = apr_time_now();
    if (!strcmp(then, "update")) {
        l->rec = gen_record(S->pool, 90, seed + 1);
        l->len = 90;
        rv = s_update(S, ctx_of(S, p), l->key, l->rec, l->len);
    }
    else if (!strcmp(then, "update_if")) {
        rv = s_fetch(S, ctx_of(S, p), l->key, &got, &len);
        if (rv == APR_SUCCESS) {
            l->touch = apr_time_now();
            l->rec = gen_record(S->pool, 90, seed + 1);
            l->len = 90;
            rv = s_update_if(S, ctx_of(S, p), l->key, got, len, l->rec,
                             l->len);
        }
    }
    else {
        const char *why;
        rv = s_fetch(S, ctx_of(S, p), l->key, &got, &len);
        why = differs(p, then, rv, got, len, l->rec, l->len);
        if (why) {
            life_decide(l, MCP_CONTRACT_FAIL, apr_pstrdup(S->pool, why));
        }
        return;
    }
    if (rv != APR_SUCCESS) {
        life_decide(l, MCP_CONTRACT_FAIL, apr_psprintf(S->pool, "%s: %s",
                    then, status_name(p, rv)));
    }
}

static void add_ev(ev_t *evs, int *n, apr_time_t when, ev_kind_t kind,
                   life_t *l)
{
    int i = *n;

    /* insertion: evs stays sorted by time */
    while (i > 0 && evs[i - 1].when > when) {
        evs[i] = evs[i - 1];
        i--;
    }
    evs[i].when = when;
    evs[i].kind = kind;
    evs[i].l = l;
    l->events++;
    (*n)++;
}

static void section_lifetimes(suite_t *S)
{
    static const char *const what[] = {
        "a session fetched every 0.35 ttl outlives its ttl",
        "a session left alone is gone after ttl (+ ttl/4)",
        "update of a session that expired is APR_NOTFOUND and does not "
        "revive it",
        "a session never updated lives on while fetched every 0.35 "
        "handshake_ttl",
        "a session never updated is gone after handshake_ttl (+ slack)",
        "the first update gives a session the full ttl",
        "the first update_if gives a session the full ttl"
    };
    enum { SLIDING, LEFT, EXPIRED, HS_SLIDING, HS_GONE, FIRST_UPDATE, FIRST_IF,
           N };
    apr_interval_time_t T = S->params->ttl, H = S->params->handshake_ttl;
    apr_interval_time_t slack = T / 4, hs_slack;
    life_t l[N];
    ev_t evs[16];
    int n = 0, i, k;
    apr_pool_t *p;

    if (T <= 0 || T > MCP_CONTRACT_MAX_TTL) {
        const char *why = apr_psprintf(S->pool, "params->ttl is %"
                                       APR_TIME_T_FMT " ms: the lifetime "
                                       "tests need at most %" APR_TIME_T_FMT,
                                       apr_time_as_msec(T),
                                       apr_time_as_msec(MCP_CONTRACT_MAX_TTL));
        for (i = 0; i < N; i++) {
            skip(S, what[i], why);
        }
        return;
    }
    /* the header: a session made by create_session() lives handshake_ttl
     * (mod_mcp_session caps it at the ttl) */
    if (H <= 0 || H > T) {
        H = T;
    }
    hs_slack = (T - H) / 2 < slack ? (T - H) / 2 : slack;
    apr_pool_create(&p, S->pool);

    life_start(S, p, &l[SLIDING], what[SLIDING], "update", 100);
    life_start(S, p, &l[LEFT], what[LEFT], "update", 110);
    life_start(S, p, &l[EXPIRED], what[EXPIRED], "update", 115);
    life_start(S, p, &l[HS_SLIDING], what[HS_SLIDING], NULL, 120);
    life_start(S, p, &l[HS_GONE], what[HS_GONE], "fetch", 130);
    life_start(S, p, &l[FIRST_UPDATE], what[FIRST_UPDATE], "update", 140);
    if (S->p->update_if) {
        life_start(S, p, &l[FIRST_IF], what[FIRST_IF], "update_if", 150);
    }
    else {
        memset(&l[FIRST_IF], 0, sizeof(l[FIRST_IF]));
        l[FIRST_IF].what = what[FIRST_IF];
        l[FIRST_IF].res = MCP_CONTRACT_SKIP;
        l[FIRST_IF].why = "update_if is NULL (optional capability)";
    }
    if (H == T) {
        for (i = HS_GONE; i <= FIRST_IF; i++) {
            if (l[i].res == MCP_CONTRACT_PASS) {
                l[i].res = MCP_CONTRACT_SKIP;
                l[i].why = "handshake_ttl is not below ttl: nothing to tell "
                           "apart";
            }
        }
    }

    l[SLIDING].limit = T / 2;
    for (k = 1; k <= 3; k++) {                  /* the last one past T */
        add_ev(evs, &n, l[SLIDING].touch + k * (T * 35 / 100), EV_SLIDE,
               &l[SLIDING]);
    }
    add_ev(evs, &n, l[LEFT].touch + T + slack, EV_GONE, &l[LEFT]);
    add_ev(evs, &n, l[EXPIRED].touch + T + slack, EV_GONE_UPDATE,
           &l[EXPIRED]);
    l[HS_SLIDING].limit = H / 2;
    for (k = 1; k <= 4; k++) {                  /* the last one past H */
        add_ev(evs, &n, l[HS_SLIDING].touch + k * (H * 35 / 100), EV_SLIDE,
               &l[HS_SLIDING]);
    }
    if (H < T) {
        add_ev(evs, &n, l[HS_GONE].touch + H + hs_slack, EV_GONE,
               &l[HS_GONE]);
        /* between where the handshake would have ended and the ttl */
        l[FIRST_UPDATE].limit = T;
        add_ev(evs, &n, l[FIRST_UPDATE].touch + (H + T) / 2, EV_ALIVE,
               &l[FIRST_UPDATE]);
        if (S->p->update_if) {
            l[FIRST_IF].limit = T;
            add_ev(evs, &n, l[FIRST_IF].touch + (H + T) / 2, EV_ALIVE,
                   &l[FIRST_IF]);
        }
    }

    for (i = 0; i < n; i++) {
        sleep_until(evs[i].when);
        life_event(S, p, &evs[i]);
    }
    for (i = 0; i < N; i++) {
        report(S, l[i].res, l[i].what, l[i].why);
        if (l[i].key) {
            s_remove(S, ctx_of(S, p), l[i].key);
        }
    }
    apr_pool_destroy(p);
}

/* ------------------------------------------------------------------ */
/* update_if                                                           */

typedef struct counter_t {
    suite_t *S;
    const char *key;
    apr_pool_t *pool;
    int done;
    char why[160];
} counter_t;

/* INCREMENTS increments of {"n":N} by fetch + update_if, retrying on
 * MCP_STORE_ECHANGED (5 s at most). */
static void *APR_THREAD_FUNC count_up(apr_thread_t *t, void *data)
{
    counter_t *ct = data;
    suite_t *S = ct->S;
    mcp_store_ctx_t c = { NULL, S->s, NULL };
    apr_time_t end = apr_time_now() + apr_time_from_sec(5);

    while (ct->done < INCREMENTS && !*ct->why && apr_time_now() < end) {
        char *rec, *next;
        apr_size_t len;
        apr_status_t rv;

        apr_pool_clear(ct->pool);
        c.pool = ct->pool;
        rv = s_fetch(S, &c, ct->key, &rec, &len);
        if (rv != APR_SUCCESS || len < 6 || strncmp(rec, "{\"n\":", 5)) {
            apr_snprintf(ct->why, sizeof(ct->why), "fetch: %s",
                         rv == APR_SUCCESS ? "not the counter"
                         : status_name(ct->pool, rv));
            break;
        }
        next = apr_psprintf(ct->pool, "{\"n\":%ld}", strtol(rec + 5, NULL,
                                                             10) + 1);
        rv = s_update_if(S, &c, ct->key, rec, len, next, strlen(next));
        if (rv == APR_SUCCESS) {
            ct->done++;
        }
        else if (rv != MCP_STORE_ECHANGED) {
            apr_snprintf(ct->why, sizeof(ct->why), "update_if: %s",
                         status_name(ct->pool, rv));
        }
    }
    return NULL;
}

static const char *test_atomic_if(suite_t *S, apr_pool_t *p)
{
    counter_t ct[THREADS];
    apr_thread_t *th[THREADS];
    apr_pool_t *tp = thread_pool();
    const char *key = new_key(S), *why = NULL;
    char *rec;
    apr_size_t len;
    apr_status_t rv, trv;
    int i, started = 0;

    if (!tp) {
        return "no pool for the threads";
    }
    rv = s_create(S, ctx_of(S, p), key, "{\"n\":0}", 7);
    if (rv == APR_SUCCESS) {
        rv = s_update(S, ctx_of(S, p), key, "{\"n\":0}", 7);
    }
    if (rv != APR_SUCCESS) {
        why = apr_psprintf(p, "create/update: %s", status_name(p, rv));
        goto leave;
    }
    for (i = 0; i < THREADS; i++) {
        ct[i].S = S;
        ct[i].key = key;
        ct[i].pool = thread_pool();
        ct[i].done = 0;
        ct[i].why[0] = '\0';
        if (!ct[i].pool
            || apr_thread_create(&th[i], NULL, count_up, &ct[i], tp)
               != APR_SUCCESS) {
            why = "cannot start the threads";
            if (ct[i].pool) {
                apr_pool_destroy(ct[i].pool);
            }
            break;
        }
        started++;
    }
    for (i = 0; i < started; i++) {
        apr_thread_join(&trv, th[i]);
        if (!why && *ct[i].why) {
            why = apr_pstrdup(p, ct[i].why);
        }
        if (!why && ct[i].done < INCREMENTS) {
            why = apr_psprintf(p, "a thread made only %d of %d increments in "
                               "5 s", ct[i].done, INCREMENTS);
        }
        apr_pool_destroy(ct[i].pool);
    }
    if (!why) {
        char *want = apr_psprintf(p, "{\"n\":%d}", THREADS * INCREMENTS);
        rv = s_fetch(S, ctx_of(S, p), key, &rec, &len);
        why = differs(p, "fetch", rv, rec, len, want, strlen(want));
        if (why) {
            why = apr_psprintf(p, "%d successful update_if calls, but %s "
                               "(increments were lost)", THREADS * INCREMENTS,
                               rv == APR_SUCCESS ? rec : why);
        }
    }
    s_remove(S, ctx_of(S, p), key);
leave:
    apr_pool_destroy(tp);
    return why;
}

/* A session past its handshake holding a fresh record of len bytes;
 * *got is the record as fetched. NULL, or what failed. */
static const char *live_session(suite_t *S, apr_pool_t *p, unsigned seed,
                                apr_size_t len, const char **key, char **got,
                                apr_size_t *got_len)
{
    char *rec = gen_record(p, len, seed);
    apr_status_t rv;

    *key = new_key(S);
    rv = s_create(S, ctx_of(S, p), *key, rec, len);
    if (rv == APR_SUCCESS) {
        rv = s_update(S, ctx_of(S, p), *key, rec, len);
    }
    if (rv != APR_SUCCESS) {
        return apr_psprintf(p, "create_session/update: %s",
                            status_name(p, rv));
    }
    rv = s_fetch(S, ctx_of(S, p), *key, got, got_len);
    return differs(p, "fetch", rv, *got, *got_len, rec, len);
}

static void section_update_if(suite_t *S)
{
    static const char *const what[] = {
        "update_if with the bytes fetched writes (a record of max_record() "
        "bytes)",
        "update_if after another update is MCP_STORE_ECHANGED and writes "
        "nothing",
        "update_if compares the whole record: a prefix or one byte off is "
        "MCP_STORE_ECHANGED",
        "update_if of a removed session is APR_NOTFOUND and does not revive it",
        "update_if of a key never created is APR_NOTFOUND and creates nothing",
        "update_if is atomic: 4 threads x 25 increments, none lost"
    };
    apr_pool_t *p;
    const char *key, *why;
    char *got, *rec, *off;
    apr_size_t len;
    apr_status_t rv;
    int i;

    if (!S->p->update_if) {
        for (i = 0; i < (int)(sizeof(what) / sizeof(*what)); i++) {
            skip(S, what[i], "update_if is NULL (optional capability)");
        }
        return;
    }
    apr_pool_create(&p, S->pool);

    why = live_session(S, p, 200, 100, &key, &got, &len);
    if (!why) {
        rec = gen_record(p, S->max, 201);
        rv = s_update_if(S, ctx_of(S, p), key, got, len, rec, S->max);
        why = expect(p, "update_if", rv, APR_SUCCESS);
        if (!why) {
            why = fetch_differs(S, p, key, rec, S->max);
        }
    }
    s_remove(S, ctx_of(S, p), key);
    verdict(S, what[0], why);

    why = live_session(S, p, 210, 100, &key, &got, &len);
    if (!why) {
        rec = gen_record(p, 120, 211);
        rv = s_update(S, ctx_of(S, p), key, rec, 120);
        why = expect(p, "update", rv, APR_SUCCESS);
    }
    if (!why) {
        rv = s_update_if(S, ctx_of(S, p), key, got, len, "{}", 2);
        why = expect(p, "update_if with the bytes of a fetch before that "
                     "update", rv, MCP_STORE_ECHANGED);
    }
    if (!why) {
        why = fetch_differs(S, p, key, rec, 120);
        if (why) {
            why = apr_pstrcat(p, "after MCP_STORE_ECHANGED: ", why, NULL);
        }
    }
    s_remove(S, ctx_of(S, p), key);
    verdict(S, what[1], why);

    why = live_session(S, p, 220, 100, &key, &got, &len);
    if (!why) {
        rv = s_update_if(S, ctx_of(S, p), key, got, len - 1, "{}", 2);
        why = expect(p, "update_if expecting all but the last byte", rv,
                     MCP_STORE_ECHANGED);
    }
    if (!why) {
        off = apr_pstrmemdup(p, got, len);
        off[len - 1] ^= 1;
        rv = s_update_if(S, ctx_of(S, p), key, off, len, "{}", 2);
        why = expect(p, "update_if expecting the last byte changed", rv,
                     MCP_STORE_ECHANGED);
    }
    if (!why) {
        why = fetch_differs(S, p, key, got, len);
    }
    s_remove(S, ctx_of(S, p), key);
    verdict(S, what[2], why);

    why = live_session(S, p, 230, 100, &key, &got, &len);
    if (!why) {
        rv = s_remove(S, ctx_of(S, p), key);
        why = expect(p, "remove", rv, APR_SUCCESS);
    }
    if (!why) {
        rv = s_update_if(S, ctx_of(S, p), key, got, len, "{}", 2);
        why = expect(p, "update_if", rv, APR_NOTFOUND);
    }
    if (!why) {
        why = fetch_not_gone(S, p, key, "update_if");
    }
    verdict(S, what[3], why);

    key = new_key(S);
    rv = s_update_if(S, ctx_of(S, p), key, "{}", 2, "{\"a\":1}", 7);
    why = expect(p, "update_if", rv, APR_NOTFOUND);
    if (!why) {
        why = fetch_not_gone(S, p, key, "update_if");
    }
    verdict(S, what[4], why);

    verdict(S, what[5], test_atomic_if(S, p));
    apr_pool_destroy(p);
}

/* ------------------------------------------------------------------ */
/* publish / wait                                                      */

typedef struct waiter_t {
    suite_t *S;
    const char *channel;
    apr_uint64_t cursor;
    apr_pool_t *pool;
    apr_status_t rv;
    char *msg;
    apr_size_t len;
    apr_interval_time_t took;
} waiter_t;

static void *APR_THREAD_FUNC wait_one(apr_thread_t *t, void *data)
{
    waiter_t *w = data;
    mcp_store_ctx_t c = { NULL, w->S->s, NULL };
    apr_time_t start = apr_time_now();

    c.pool = w->pool;
    w->rv = s_wait(w->S, &c, w->channel, &w->cursor, THREAD_WAIT, &w->msg,
                   &w->len);
    w->took = apr_time_now() - start;
    return NULL;
}

/* A cursor at "now" on ch: a wait from 0 that finds nothing. */
static const char *prime(suite_t *S, apr_pool_t *p, const char *ch,
                         apr_uint64_t *cur)
{
    char *msg;
    apr_size_t len;
    apr_status_t rv;

    *cur = 0;
    rv = s_wait(S, ctx_of(S, p), ch, cur, PRIME_WAIT, &msg, &len);
    return expect(p, apr_psprintf(p, "wait on %s from cursor 0", ch), rv,
                  APR_TIMEUP);
}

/* NULL when the next message after *cur on ch is want. */
static const char *next_is(suite_t *S, apr_pool_t *p, const char *ch,
                           apr_uint64_t *cur, const char *want,
                           apr_size_t wlen)
{
    char *msg;
    apr_size_t len;
    apr_status_t rv = s_wait(S, ctx_of(S, p), ch, cur, TIMEUP_WAIT, &msg, &len);

    return differs(p, apr_psprintf(p, "wait on %s", ch), rv, msg, len, want,
                   wlen);
}

/* NULL when nothing comes on ch after *cur. */
static const char *nothing_on(suite_t *S, apr_pool_t *p, const char *ch,
                              apr_uint64_t *cur)
{
    char *msg;
    apr_size_t len;
    apr_status_t rv = s_wait(S, ctx_of(S, p), ch, cur, NO_MSG_WAIT, &msg, &len);

    if (rv == APR_SUCCESS) {
        return apr_psprintf(p, "wait on %s returned a message it should not "
                            "see: '%.*s'", ch, (int)(len > 60 ? 60 : len),
                            msg ? msg : "");
    }
    return expect(p, apr_psprintf(p, "wait on %s", ch), rv, APR_TIMEUP);
}

static const char *pub(suite_t *S, apr_pool_t *p, const char *ch,
                       const char *msg, apr_size_t len)
{
    return expect(p, apr_psprintf(p, "publish on %s", ch),
                  s_publish(S, ctx_of(S, p), ch, msg, len), APR_SUCCESS);
}

static const char *test_thread_wait(suite_t *S, apr_pool_t *p,
                                    const char *ch)
{
    waiter_t w;
    apr_thread_t *th;
    apr_pool_t *tp;
    apr_status_t trv;
    const char *why;

    memset(&w, 0, sizeof(w));
    if ((why = prime(S, p, ch, &w.cursor))) {
        return why;
    }
    if (!(tp = thread_pool())) {
        return "no pool for the thread";
    }
    w.S = S;
    w.channel = ch;
    w.pool = thread_pool();
    if (!w.pool || apr_thread_create(&th, NULL, wait_one, &w, tp)
                   != APR_SUCCESS) {
        why = "cannot start the thread";
        goto leave;
    }
    apr_sleep(apr_time_from_msec(100));
    why = pub(S, p, ch, "wake up", 7);
    apr_thread_join(&trv, th);
    if (!why) {
        why = differs(p, "the waiting thread", w.rv, w.msg, w.len, "wake up",
                      7);
    }
    if (!why && w.took >= THREAD_WAIT) {
        why = apr_psprintf(p, "the waiting thread got it only at its timeout "
                           "(%" APR_TIME_T_FMT " ms)",
                           apr_time_as_msec(w.took));
    }
leave:
    if (w.pool) {
        apr_pool_destroy(w.pool);
    }
    apr_pool_destroy(tp);
    return why;
}

/* A flood of MCP_CONTRACT_FLOOD messages, then read: every message in
 * order, except that APR_INCOMPLETE may announce a gap. */
static const char *test_flood(suite_t *S, apr_pool_t *p, const char *ch,
                              const char **note)
{
    apr_pool_t *q;
    apr_uint64_t cur;
    apr_status_t rv;
    const char *why;
    char *msg;
    apr_size_t len;
    long expected = 0, got, first_after_gap = -1, gap_at = -1;
    int i, incomplete = 0, messages = 0, gaps = 0;

    if ((why = prime(S, p, ch, &cur))) {
        return why;
    }
    apr_pool_create(&q, p);
    for (i = 0; i < MCP_CONTRACT_FLOOD && !why; i++) {
        char buf[32];
        int n = snprintf(buf, sizeof(buf), "flood-%d", i);
        if ((i & 255) == 0) {
            apr_pool_clear(q);
        }
        rv = s_publish(S, ctx_of(S, q), ch, buf, (apr_size_t)n);
        if (rv != APR_SUCCESS) {
            why = apr_psprintf(p, "publish of message %d: %s", i,
                               status_name(p, rv));
        }
    }
    for (i = 0; i < MCP_CONTRACT_FLOOD + 16 && !why; i++) {
        if ((i & 255) == 0) {
            apr_pool_clear(q);
        }
        rv = s_wait(S, ctx_of(S, q), ch, &cur, NO_MSG_WAIT, &msg, &len);
        if (rv == APR_INCOMPLETE) {
            if (incomplete) {
                why = "APR_INCOMPLETE twice in a row: *cursor was not "
                      "moved past the gap";
            }
            incomplete = 1;
            gaps++;
            continue;
        }
        if (rv == APR_TIMEUP) {
            break;
        }
        if (rv != APR_SUCCESS) {
            why = apr_psprintf(p, "wait after %d messages: %s", messages,
                               status_name(p, rv));
            break;
        }
        if (!msg || msg[len] != '\0' || strncmp(msg, "flood-", 6)) {
            why = apr_psprintf(p, "wait after %d messages: not a flood "
                               "message, or not NUL-terminated", messages);
            break;
        }
        got = strtol(msg + 6, NULL, 10);
        if (got != expected && !(incomplete && got > expected)) {
            why = apr_psprintf(p, "got message %ld where %ld was due%s",
                               got, expected, got > expected
                               ? " (messages lost without APR_INCOMPLETE)"
                               : " (out of order)");
            break;
        }
        if (incomplete && gap_at < 0) {
            gap_at = expected;
            first_after_gap = got;
        }
        incomplete = 0;
        expected = got + 1;
        messages++;
    }
    if (!why && expected != MCP_CONTRACT_FLOOD) {
        why = apr_psprintf(p, "the last message read was %ld of %d", expected - 1,
                           MCP_CONTRACT_FLOOD);
    }
    if (!why && incomplete) {
        why = "APR_INCOMPLETE, then nothing";
    }
    if (!why) {
        *note = gaps
            ? apr_psprintf(S->pool, "APR_INCOMPLETE after %ld messages, then "
                           "from message %ld on, in order (%d messages read)",
                           gap_at, first_after_gap, messages)
            : apr_psprintf(S->pool, "all %d in order, no gap", messages);
    }
    apr_pool_destroy(q);
    return why;
}

static void section_publish(suite_t *S)
{
    static const char *const what[] = {
        "wait from cursor 0 is APR_TIMEUP within its timeout (+ "
        "params->timeout)",
        "a published message reaches a waiting cursor: bytes, len, NUL",
        "wait from cursor 0 starts from now: an earlier message is not "
        "returned",
        "*cursor moves on APR_TIMEUP: a message published between two waits "
        "is not missed",
        "messages on a channel arrive in publish order, then APR_TIMEUP",
        "channels do not see each other's messages",
        "every wait sees every message (two cursors on one channel), each "
        "its own copy",
        "a message of MCP_STORE_MAX_MESSAGE bytes of every byte value (NUL "
        "too) arrives intact",
        "a channel of MCP_STORE_CHANNEL_MAX visible ASCII characters works",
        "a wait in progress returns a message another thread publishes",
        "a message above MCP_STORE_MAX_MESSAGE is refused, or delivered intact",
        "a channel outside the contract (empty, too long, space, control "
        "byte) is APR_EINVAL for publish and wait, at once",
        "10000 messages: all in order, or APR_INCOMPLETE and then the rest "
        "in order"
    };
    enum { N = sizeof(what) / sizeof(*what) };
    apr_pool_t *p;
    apr_uint64_t cur, cur2;
    apr_status_t rv;
    apr_time_t start;
    apr_interval_time_t took;
    const char *why, *base, *ch, *note = NULL;
    char *msg, *big;
    apr_size_t len;
    int i;

    if (!S->p->publish || !S->p->wait) {
        const char *r = !S->p->publish && !S->p->wait
            ? "publish and wait are NULL (optional capability)"
            : S->p->publish ? "wait is NULL: publish alone cannot be tested"
                            : "publish is NULL: wait alone cannot be tested";
        for (i = 0; i < N; i++) {
            skip(S, what[i], r);
        }
        return;
    }
    apr_pool_create(&p, S->pool);
    base = apr_pstrcat(p, "contract-", apr_pstrndup(p, new_key(S), 16), NULL);
#define CH(x) apr_pstrcat(p, base, "." x, NULL)

    ch = CH("timeup");
    cur = 0;
    start = apr_time_now();
    rv = s_wait(S, ctx_of(S, p), ch, &cur, TIMEUP_WAIT, &msg, &len);
    took = apr_time_now() - start;
    why = expect(p, "wait from cursor 0", rv, APR_TIMEUP);
    if (!why && took > TIMEUP_WAIT + S->params->timeout) {
        why = apr_psprintf(p, "APR_TIMEUP after %" APR_TIME_T_FMT " ms, "
                           "timeout %" APR_TIME_T_FMT " ms",
                           apr_time_as_msec(took),
                           apr_time_as_msec(TIMEUP_WAIT));
    }
    verdict(S, what[0], why);

    /* the cursor of the wait above */
    why = pub(S, p, ch, "hello", 5);
    if (!why) {
        why = next_is(S, p, ch, &cur, "hello", 5);
    }
    verdict(S, what[1], why);

    ch = CH("from-now");
    why = pub(S, p, ch, "before", 6);
    if (!why) {
        cur = 0;
        why = nothing_on(S, p, ch, &cur);
    }
    if (!why) {
        why = pub(S, p, ch, "after", 5);
    }
    if (!why) {
        why = next_is(S, p, ch, &cur, "after", 5);
    }
    verdict(S, what[2], why);

    ch = CH("between");
    why = prime(S, p, ch, &cur);
    if (!why) {
        why = pub(S, p, ch, "between", 7);
    }
    if (!why) {
        why = next_is(S, p, ch, &cur, "between", 7);
    }
    verdict(S, what[3], why);

    ch = CH("order");
    why = prime(S, p, ch, &cur);
    for (i = 1; i <= 5 && !why; i++) {
        why = pub(S, p, ch, apr_psprintf(p, "order-%d", i), 7);
    }
    for (i = 1; i <= 5 && !why; i++) {
        why = next_is(S, p, ch, &cur, apr_psprintf(p, "order-%d", i), 7);
    }
    if (!why) {
        why = nothing_on(S, p, ch, &cur);
    }
    verdict(S, what[4], why);

    {
        const char *a = CH("a"), *b = CH("b");
        why = prime(S, p, a, &cur);
        if (!why) {
            why = prime(S, p, b, &cur2);
        }
        if (!why) {
            why = pub(S, p, a, "for-a", 5);
        }
        if (!why) {
            why = nothing_on(S, p, b, &cur2);
        }
        if (!why) {
            why = pub(S, p, b, "for-b", 5);
        }
        if (!why) {
            why = next_is(S, p, a, &cur, "for-a", 5);
        }
        if (!why) {
            why = next_is(S, p, b, &cur2, "for-b", 5);
        }
        if (!why) {
            why = nothing_on(S, p, a, &cur);
        }
    }
    verdict(S, what[5], why);

    ch = CH("two");
    why = prime(S, p, ch, &cur);
    if (!why) {
        why = prime(S, p, ch, &cur2);
    }
    if (!why) {
        why = pub(S, p, ch, "for-both", 8);
    }
    if (!why) {
        rv = s_wait(S, ctx_of(S, p), ch, &cur, TIMEUP_WAIT, &msg, &len);
        why = differs(p, "wait", rv, msg, len, "for-both", 8);
        if (!why) {
            memset(msg, 'x', len);      /* the caller's copy, from c->pool */
        }
    }
    if (!why) {
        why = next_is(S, p, ch, &cur2, "for-both", 8);
        if (why) {
            why = apr_pstrcat(p, "the second cursor, after the first one's "
                              "copy was written to: ", why, NULL);
        }
    }
    verdict(S, what[6], why);

    ch = CH("max");
    big = apr_palloc(p, MCP_STORE_MAX_MESSAGE + 1);
    for (i = 0; i < MCP_STORE_MAX_MESSAGE; i++) {
        big[i] = (char)((i * 7 + 3) & 255);     /* NUL at 35, 291, ... */
    }
    big[MCP_STORE_MAX_MESSAGE] = '\0';
    why = prime(S, p, ch, &cur);
    if (!why) {
        why = pub(S, p, ch, big, MCP_STORE_MAX_MESSAGE);
    }
    if (!why) {
        why = next_is(S, p, ch, &cur, big, MCP_STORE_MAX_MESSAGE);
    }
    verdict(S, what[7], why);

    {
        char *name = apr_palloc(p, MCP_STORE_CHANNEL_MAX + 1);
        const char *tag = apr_pstrndup(p, new_key(S), 8);
        /* unique per run: the random tag, then every visible character */
        memcpy(name, tag, 8);
        for (i = 8; i < MCP_STORE_CHANNEL_MAX; i++) {
            name[i] = (char)(0x21 + (i - 8) % (0x7f - 0x21));
        }
        name[MCP_STORE_CHANNEL_MAX] = '\0';
        why = prime(S, p, name, &cur);
        if (!why) {
            why = pub(S, p, name, "long", 4);
        }
        if (!why) {
            why = next_is(S, p, name, &cur, "long", 4);
        }
    }
    verdict(S, what[8], why);

    verdict(S, what[9], test_thread_wait(S, p, CH("thread")));

    {
        apr_size_t blen = 2 * MCP_STORE_MAX_MESSAGE + 1;
        char *huge = apr_palloc(p, blen + 1);
        for (len = 0; len < blen; len++) {
            huge[len] = (char)('a' + len % 26);
        }
        huge[blen] = '\0';
        ch = CH("huge");
        why = prime(S, p, ch, &cur);
        if (!why) {
            rv = s_publish(S, ctx_of(S, p), ch, huge, blen);
            why = rv == APR_SUCCESS ? next_is(S, p, ch, &cur, huge, blen)
                                    : nothing_on(S, p, ch, &cur);
            if (why) {
                why = apr_psprintf(p, "publish of %" APR_SIZE_T_FMT " bytes "
                                   "gave %s, then %s", blen,
                                   status_name(p, rv), why);
            }
        }
    }
    verdict(S, what[10], why);

    {
        char *toolong = apr_palloc(p, MCP_STORE_CHANNEL_MAX + 2);
        const char *bad[5];
        memset(toolong, 'c', MCP_STORE_CHANNEL_MAX + 1);
        toolong[MCP_STORE_CHANNEL_MAX + 1] = '\0';
        bad[0] = "";
        bad[1] = toolong;
        bad[2] = CH("with space");
        bad[3] = CH("ctl\001");
        bad[4] = CH("del\177");
        why = NULL;
        for (i = 0; i < 5 && !why; i++) {
            apr_time_t t0 = apr_time_now();
            apr_status_t prv, wrv;
            cur = 0;
            prv = s_publish(S, ctx_of(S, p), bad[i], "bad", 3);
            wrv = s_wait(S, ctx_of(S, p), bad[i], &cur, PRIME_WAIT, &msg, &len);
            took = apr_time_now() - t0;
            if (prv != APR_EINVAL || wrv != APR_EINVAL) {
                why = apr_psprintf(p, "bad channel %d: publish %s, wait %s "
                                   "(APR_EINVAL expected)", i,
                                   status_name(p, prv), status_name(p, wrv));
            }
            else if (took > PRIME_WAIT + 2 * S->params->timeout) {
                why = apr_psprintf(p, "publish and wait on a bad channel "
                                   "took %" APR_TIME_T_FMT " ms",
                                   apr_time_as_msec(took));
            }
        }
    }
    verdict(S, what[11], why);

    why = test_flood(S, p, CH("flood"), &note);
    report(S, why ? MCP_CONTRACT_FAIL : MCP_CONTRACT_PASS, what[12],
           why ? why : note);
#undef CH
    apr_pool_destroy(p);
}

/* ------------------------------------------------------------------ */

int mcp_store_contract_run(const mcp_store_provider_t *p, void *instance,
                           const mcp_store_params_t *params,
                           const mcp_store_ctx_t *ctx,
                           mcp_contract_report_t *report_fn, void *baton)
{
    suite_t S;
    const char *what = "every data call returned within params->timeout "
                       "(wait: its timeout + params->timeout)";

    memset(&S, 0, sizeof(S));
    S.p = p;
    S.inst = instance;
    S.params = params;
    S.s = ctx->s;
    S.r = ctx->r;
    S.report = report_fn;
    S.baton = baton;
    apr_pool_create(&S.pool, ctx->pool);
    apr_thread_mutex_create(&S.lock, APR_THREAD_MUTEX_DEFAULT, S.pool);
    S.max = p->max_record ? p->max_record(instance) : MCP_STORE_MAX_RECORD;
    if (S.max < MIN_MAX_RECORD) {
        skip(&S, "the suite's records fit in max_record()",
             apr_psprintf(S.pool, "max_record() is %" APR_SIZE_T_FMT
                          ", the suite needs %d", S.max, MIN_MAX_RECORD));
        goto leave;
    }

    section_data(&S);
    section_lifetimes(&S);
    section_update_if(&S);
    section_publish(&S);

    if (S.late) {
        verdict(&S, what, apr_psprintf(S.pool, "%d calls took longer, %s "
                                       "most: %" APR_TIME_T_FMT " ms over",
                                       S.late, S.late_op,
                                       apr_time_as_msec(S.late_by)));
    }
    else {
        report(&S, MCP_CONTRACT_PASS, what, apr_psprintf(S.pool,
               "slowest: %s, %" APR_TIME_T_FMT " ms", S.slowest_op
               ? S.slowest_op : "none", apr_time_as_msec(S.slowest)));
    }
leave:
    apr_pool_destroy(S.pool);
    return S.failed;
}
