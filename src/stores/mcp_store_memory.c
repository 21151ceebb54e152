/*
 * The "memory" session store: one table in anonymous shared memory,
 * created by the parent before it forks, so every child process (prefork,
 * worker, event) sees the same sessions. The segment is kept in
 * ap_retained_data, so sessions survive graceful restarts.
 *
 * Layout: header | buckets[nbuckets] | slots[capacity]. A slot holds one
 * record of at most MEMORY_MAX_RECORD bytes. Buckets chain slots by the
 * SHA-256 key; free slots form a list. One process-shared robust mutex in
 * the header guards it all: every operation is a short copy.
 *
 * A session that has not completed its handshake (made by create_session,
 * not yet update()d) is "pending": it lives MCPSessionHandshakeTTL, and
 * pending slots form a list, least recently used first, so that a full
 * table can drop the oldest of them in O(1) for a new client. Expired
 * slots are reclaimed by an incremental sweep (a cursor that visits a
 * fixed number of buckets per create while the table is nearly full), so
 * no call holds the lock for time proportional to the capacity.
 *
 * Lifetimes run on CLOCK_MONOTONIC: a wall clock step (NTP, date -s) must
 * neither expire every session nor make them immortal. It is system-wide,
 * so it is the same in every child and across graceful restarts (which
 * keep the segment; a reboot does not).
 *
 * The segment is made or attached by the first init() of a configuration
 * pass, with MCPSessionCapacity slots; every other instance of the pass
 * uses it too, and a pass without any instance releases it.
 *
 * Messages between children (publish/wait) go through a ring of
 * RING_SLOTS messages after the slots, numbered by a 64-bit sequence, under
 * the same lock. A waiter sleeps on a futex word that every publish bumps:
 * a futex holds nothing, so a waiter that dies leaves nothing behind (a
 * process-shared condition variable could stay broken).
 */
#include "httpd.h"
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <string.h>
#include <time.h>
#ifdef __linux__
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif
#include "apr_strings.h"
#include "apr_shm.h"
#include "apr_general.h"
#include "http_config.h"
#include "http_log.h"
#include "mcp_private.h"
#include "mod_mcp_session.h"
#include "mcp_config.h"
#include "mcp_node.h"
#include "mcp_store.h"

#define SEG_MAGIC        0x4d435053u    /* "MCPS" */
#define SEG_LAYOUT       4u
#define SLOT_BYTES       1016
#define RETAINED_KEY     "mod_mcp_session-shm"
/* The incremental sweep: buckets visited per step (about as many slots:
 * the load factor is at most 1 and keys are SHA-256 digests of random ids,
 * so chains stay short). Steps that free nothing are rate-limited (one per
 * SWEEP_PAUSE on average, SWEEP_BURST ahead at most), which bounds the
 * share of lock time a flood of initializes against a table of live
 * sessions can take; a step that frees a slot is paid for by the session
 * that gets it. */
#define SWEEP_STEP       256u
#define SWEEP_PAUSE      apr_time_from_msec(1)
#define SWEEP_BURST      apr_time_from_msec(16)
/* Messages between children: the last RING_SLOTS are kept (about 4 KB
 * each); a waiter further behind gets APR_INCOMPLETE. */
#define RING_SLOTS       128u
/* Waiting without futexes: steps of at most this long. */
#define POLL_STEP        apr_time_from_msec(10)

typedef struct slot_t {
    unsigned char key[32];
    apr_time_t expires;         /* monotonic clock; 0: the slot is free */
    apr_uint32_t next;          /* chain or free list: index + 1; 0 ends */
    apr_uint16_t len;
    apr_uint16_t pending;       /* 1 until the first update() */
    apr_uint32_t older, newer;  /* pending list: index + 1; 0 ends */
    char data[SLOT_BYTES - 56];
} slot_t;

#define MEMORY_MAX_RECORD (sizeof(((slot_t *)0)->data) - 1)

typedef struct seg_header_t {
    /* the fields from magic to used keep their offsets in every layout: a
     * new module reads them in the table of an older one it replaces */
    apr_uint32_t magic;
    apr_uint32_t layout;
    apr_uint32_t capacity;
    apr_uint32_t nbuckets;
    pthread_mutex_t lock;
    apr_uint32_t free_head;
    apr_uint32_t used;
    apr_uint32_t pending;           /* sessions in the pending list */
    apr_uint32_t pending_oldest;    /* least recently used pending slot */
    apr_uint32_t pending_newest;
    apr_uint32_t sweep_cursor;      /* the next bucket the sweep visits */
    apr_uint32_t sweep_from;        /* creates sweep once used reaches it */
    apr_time_t sweep_due;           /* fruitless steps are paid up to here */
    /* The message ring: messages ring_first + 1 .. ring_seq were
     * published into it; the last RING_SLOTS of them are there. */
    apr_uint64_t ring_first;        /* wall clock in us when it was made, so
                                     * that a cursor of an older ring is
                                     * below it */
    apr_uint64_t ring_seq;          /* the latest message */
    apr_uint32_t ring_wake;         /* futex word, bumped by every publish */
    apr_uint32_t ring_waiters;      /* asleep on it (a dead one stays
                                     * counted: it only costs a wake) */
} seg_header_t;

/* One message of the ring. */
typedef struct ring_msg_t {
    apr_uint64_t seq;               /* 0 while being written */
    apr_uint32_t len;
    apr_uint32_t channel_len;
    char channel[MCP_STORE_CHANNEL_MAX];
    char data[MCP_STORE_MAX_MESSAGE];
} ring_msg_t;

typedef struct retained_t {
    apr_shm_t *shm;
    apr_size_t size;
} retained_t;

typedef struct memory_instance_t {
    apr_interval_time_t ttl;
    apr_interval_time_t handshake_ttl;
    server_rec *s;              /* for logs */
} memory_instance_t;

static seg_header_t *seg;
static apr_uint32_t *buckets;
static slot_t *slots;
static ring_msg_t *ring;
/* 1 once an instance of this configuration pass attached the segment */
static int attached;

apr_size_t mcp_store_memory_slot_bytes(void)
{
    if (!seg || !seg->capacity) {
        return 0;
    }
    return sizeof(slot_t)
           + (seg->nbuckets * sizeof(apr_uint32_t) + seg->capacity - 1)
             / seg->capacity;
}

int mcp_store_memory_capacity(void)
{
    return seg ? (int)seg->capacity : 0;
}

int mcp_store_memory_used(void)
{
    return seg ? (int)seg->used : 0;
}

int mcp_store_memory_pending(void)
{
    return seg ? (int)seg->pending : 0;
}

/* Lifetimes only: record times (created, last) stay wall clock. */
static apr_time_t mono_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (apr_time_t)ts.tv_sec * APR_USEC_PER_SEC + ts.tv_nsec / 1000;
}

static apr_size_t segment_size(apr_uint32_t capacity, apr_uint32_t nbuckets)
{
    return APR_ALIGN_DEFAULT(sizeof(seg_header_t))
           + APR_ALIGN_DEFAULT(nbuckets * sizeof(apr_uint32_t))
           + (apr_size_t)capacity * sizeof(slot_t)
           + RING_SLOTS * sizeof(ring_msg_t);
}

static void attach(void *base)
{
    seg = base;
    buckets = (apr_uint32_t *)((char *)base
                               + APR_ALIGN_DEFAULT(sizeof(seg_header_t)));
    slots = (slot_t *)((char *)buckets
                       + APR_ALIGN_DEFAULT(seg->nbuckets * sizeof(apr_uint32_t)));
    ring = (ring_msg_t *)(slots + seg->capacity);
}

static apr_status_t format_segment(void *base, apr_uint32_t capacity,
                                   apr_uint32_t nbuckets)
{
    seg_header_t *h = base;
    pthread_mutexattr_t attr;
    apr_uint32_t i;

    memset(h, 0, sizeof(*h));
    h->magic = SEG_MAGIC;
    h->layout = SEG_LAYOUT;
    h->capacity = capacity;
    h->nbuckets = nbuckets;
    if (pthread_mutexattr_init(&attr)
        || pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED)
        || pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST)
        || pthread_mutex_init(&h->lock, &attr)) {
        return APR_EGENERAL;
    }
    pthread_mutexattr_destroy(&attr);
    h->ring_first = h->ring_seq = (apr_uint64_t)apr_time_now();
    attach(base);
    memset(buckets, 0, nbuckets * sizeof(apr_uint32_t));
    for (i = 0; i < capacity; i++) {
        slots[i].expires = 0;
        slots[i].next = (i + 1 < capacity) ? i + 2 : 0;
    }
    for (i = 0; i < RING_SLOTS; i++) {
        ring[i].seq = 0;
    }
    h->free_head = capacity ? 1 : 0;
    /* nearly full: from there on creates sweep, so that expired slots are
     * back in the free list before it runs dry */
    h->sweep_from = capacity - capacity / 16;
    return APR_SUCCESS;
}

/* Attach the table kept from the previous generation when it has the
 * same layout and capacity, else make a new one (dropping the old). */
static apr_status_t segment_attach(server_rec *s, apr_uint32_t cap)
{
    retained_t *ret;
    apr_uint32_t nb = 1;
    apr_size_t size;
    apr_status_t rv = APR_SUCCESS;

    while (nb < cap) {
        nb <<= 1;
    }
    size = segment_size(cap, nb);
    ret = ap_retained_data_get(RETAINED_KEY);
    if (ret && ret->shm) {
        seg_header_t *h = apr_shm_baseaddr_get(ret->shm);
        if (ret->size == size && h->magic == SEG_MAGIC
            && h->layout == SEG_LAYOUT && h->capacity == cap) {
            attach(h);
            ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s, MCPLOG(00301)
                         "kept the session table across the restart: %u of %u "
                         "slots in use", h->used, h->capacity);
            goto leave;
        }
        if (h->used && h->magic == SEG_MAGIC && h->layout != SEG_LAYOUT) {
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, MCPLOG(00322)
                         "this version of mod_mcp_session lays out the "
                         "session table differently (layout %u, was %u): "
                         "the %u sessions held in memory are dropped",
                         SEG_LAYOUT, h->layout, h->used);
        }
        else if (h->used) {
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, MCPLOG(00302)
                         "MCPSessionCapacity changed from %u to %u: the %u "
                         "sessions held in memory are dropped", h->capacity,
                         cap, h->used);
        }
        /* children of the old generation keep their own mapping */
        apr_shm_destroy(ret->shm);
        ret->shm = NULL;
    }
    if (!ret) {
        ret = ap_retained_data_create(RETAINED_KEY, sizeof(*ret));
    }
    rv = apr_shm_create(&ret->shm, size, NULL, s->process->pool);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, rv, s, MCPLOG(00303)
                     "cannot create %" APR_SIZE_T_FMT " bytes of shared memory "
                     "for %u sessions (MCPSessionCapacity)", size, cap);
        goto leave;
    }
    ret->size = size;
    rv = format_segment(apr_shm_baseaddr_get(ret->shm), cap, nb);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, rv, s, MCPLOG(00304)
                     "cannot create the process-shared session table lock");
        goto leave;
    }
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, s, MCPLOG(00305)
                 "session table in shared memory: %u sessions, %"
                 APR_SIZE_T_FMT " bytes (%" APR_SIZE_T_FMT " per session, "
                 "%" APR_SIZE_T_FMT " for the last %u messages between "
                 "children), node %s", cap, size,
                 mcp_store_memory_slot_bytes(),
                 (apr_size_t)RING_SLOTS * sizeof(ring_msg_t), RING_SLOTS,
                 mcp_node_id());
leave:
    return rv;
}

/* The end of a configuration pass (pconf cleanup): the next pass attaches
 * again. */
static apr_status_t pass_end(void *unused)
{
    attached = 0;
    return APR_SUCCESS;
}

/* post_config, after every store's init(): a pass in which no server keeps
 * sessions in memory lets the table go. */
static int memory_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                              apr_pool_t *ptemp, server_rec *s)
{
    retained_t *ret = ap_retained_data_get(RETAINED_KEY);
    seg_header_t *h;

    if (attached || !ret || !ret->shm) {
        return OK;
    }
    h = apr_shm_baseaddr_get(ret->shm);
    if (h->magic == SEG_MAGIC && h->used) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, MCPLOG(00323)
                     "no server keeps sessions in memory any more "
                     "(MCPSessionStorageMode): the %u sessions held there "
                     "are dropped", h->used);
    }
    apr_shm_destroy(ret->shm);
    ret->shm = NULL;
    seg = NULL;
    return OK;
}

/* The pending list, least recently used first. Called locked. */
static void pending_unlink(apr_uint32_t idx)
{
    slot_t *sl = &slots[idx - 1];

    if (sl->older) {
        slots[sl->older - 1].newer = sl->newer;
    }
    else {
        seg->pending_oldest = sl->newer;
    }
    if (sl->newer) {
        slots[sl->newer - 1].older = sl->older;
    }
    else {
        seg->pending_newest = sl->older;
    }
    sl->older = sl->newer = 0;
}

static void pending_append(apr_uint32_t idx)
{
    slot_t *sl = &slots[idx - 1];

    sl->newer = 0;
    sl->older = seg->pending_newest;
    if (seg->pending_newest) {
        slots[seg->pending_newest - 1].newer = idx;
    }
    else {
        seg->pending_oldest = idx;
    }
    seg->pending_newest = idx;
}

/* After a process died holding the lock the pending list may be half
 * relinked: build it again from the slots. Once per such death; the
 * order of the rebuilt list is by slot, not by use. */
static void pending_rebuild(void)
{
    apr_uint32_t i;

    seg->pending = seg->pending_oldest = seg->pending_newest = 0;
    for (i = 1; i <= seg->capacity; i++) {
        if (slots[i - 1].expires && slots[i - 1].pending) {
            pending_append(i);
            seg->pending++;
        }
        else {
            slots[i - 1].pending = 0;
        }
    }
}

static apr_status_t lock(void)
{
    int rc = pthread_mutex_lock(&seg->lock);
    if (rc == EOWNERDEAD) {
        /* a child died holding the lock (it was killed mid-copy); the
         * table links are updated in an order that keeps them walkable */
        pending_rebuild();
        pthread_mutex_consistent(&seg->lock);
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, NULL, MCPLOG(00306)
                     "a process died while holding the session table lock; "
                     "recovered it");
        rc = 0;
    }
    return rc ? APR_FROM_OS_ERROR(rc) : APR_SUCCESS;
}

static void unlock(void)
{
    pthread_mutex_unlock(&seg->lock);
}

static int hexval(char c)
{
    return (c >= '0' && c <= '9') ? c - '0' : (c >= 'a' && c <= 'f')
           ? c - 'a' + 10 : -1;
}

static apr_status_t key_bytes(const char *key, unsigned char out[32])
{
    int i;
    for (i = 0; i < 32; i++) {
        int hi = hexval(key[2 * i]), lo = hi < 0 ? -1 : hexval(key[2 * i + 1]);
        if (lo < 0) {
            return APR_EINVAL;
        }
        out[i] = (unsigned char)(hi << 4 | lo);
    }
    return key[64] ? APR_EINVAL : APR_SUCCESS;
}

static apr_uint32_t *bucket_of(const unsigned char key[32])
{
    apr_uint32_t h;
    memcpy(&h, key, sizeof(h));
    return &buckets[h & (seg->nbuckets - 1)];
}

/* Unlink slot idx (which *link points at) and free it. Called locked. */
static void slot_free(apr_uint32_t *link, apr_uint32_t idx)
{
    slot_t *sl = &slots[idx - 1];

    if (sl->pending) {
        pending_unlink(idx);
        sl->pending = 0;
        seg->pending--;
    }
    *link = sl->next;
    sl->expires = 0;
    sl->next = seg->free_head;
    seg->free_head = idx;
    seg->used--;
}

/* Find the live slot for key; reaps it when expired. Returns the link
 * that points at it (for unlinking) or NULL. Called locked. */
static apr_uint32_t *find(const unsigned char key[32], apr_time_t now)
{
    apr_uint32_t *link = bucket_of(key);

    while (*link) {
        slot_t *sl = &slots[*link - 1];
        if (!memcmp(sl->key, key, 32)) {
            if (sl->expires <= now) {
                slot_free(link, *link);
                MCP_STAT_INC(expired);
                return NULL;
            }
            return link;
        }
        link = &sl->next;
    }
    return NULL;
}

/* One step of the incremental sweep: the next SWEEP_STEP buckets after
 * the cursor, freeing expired slots; bounded work whatever the capacity.
 * Returns how many it freed. Called locked. */
static apr_uint32_t sweep_step(apr_time_t now)
{
    apr_uint32_t mask = seg->nbuckets - 1, b = seg->sweep_cursor & mask;
    apr_uint32_t n = seg->nbuckets < SWEEP_STEP ? seg->nbuckets : SWEEP_STEP;
    apr_uint32_t freed = 0;

    while (n--) {
        apr_uint32_t *link = &buckets[b];
        while (*link) {
            if (slots[*link - 1].expires <= now) {
                slot_free(link, *link);
                freed++;
            }
            else {
                link = &slots[*link - 1].next;
            }
        }
        b = (b + 1) & mask;
    }
    seg->sweep_cursor = b;
    if (freed) {
        apr_atomic_add32(&mcp_node_stats()->expired, freed);
        apr_atomic_add32(&mcp_node_stats()->reclaimed, freed);
    }
    return freed;
}

/* The table is full: free the least recently used pending session, which
 * either expired (reclaimed) or has not finished its handshake in time to
 * keep its place (evicted). Returns 1 when it was live. Called locked. */
static int drop_oldest_pending(apr_time_t now, char victim[9],
                               apr_interval_time_t *left)
{
    static const char hex[] = "0123456789abcdef";
    apr_uint32_t idx = seg->pending_oldest, gone = 0, *link;
    slot_t *sl = &slots[idx - 1];
    int i, live = sl->expires > now;

    *left = sl->expires - now;
    for (i = 0; i < 4; i++) {
        victim[2 * i] = hex[sl->key[i] >> 4];
        victim[2 * i + 1] = hex[sl->key[i] & 15];
    }
    victim[8] = '\0';
    link = bucket_of(sl->key);
    while (*link && *link != idx) {
        link = &slots[*link - 1].next;
    }
    /* not chained (a process died between taking and linking it): it is
     * only freed */
    slot_free(*link ? link : &gone, idx);
    if (live) {
        MCP_STAT_INC(evicted);
    }
    else {
        MCP_STAT_INC(expired);
        MCP_STAT_INC(reclaimed);
    }
    return live;
}

static const char *memory_create(void **instance, const char *spec,
                                 server_rec *s, apr_pool_t *p, apr_pool_t *ptemp)
{
    *instance = apr_pcalloc(p, sizeof(memory_instance_t));
    return NULL;
}

static apr_status_t memory_init(void *instance, const mcp_store_params_t *params,
                                server_rec *s, apr_pool_t *pconf,
                                apr_pool_t *ptemp)
{
    memory_instance_t *mi = instance;
    /* MCPSessionCapacity is the main server's (GLOBAL_ONLY, and every
     * virtual host's merged configuration carries it) */
    mcp_srv_conf_t *sc = ap_get_module_config(s->module_config,
                                              &mcp_session_module);
    apr_status_t rv = APR_SUCCESS;

    mi->ttl = params->ttl;
    mi->handshake_ttl = params->handshake_ttl > 0
                        && params->handshake_ttl < params->ttl
                        ? params->handshake_ttl : params->ttl;
    mi->s = s;
    if (!attached) {
        rv = segment_attach(s, (apr_uint32_t)(sc->capacity
                                              ? sc->capacity
                                              : MCP_DEFAULT_CAPACITY));
        if (rv == APR_SUCCESS) {
            attached = 1;
            apr_pool_cleanup_register(pconf, NULL, pass_end,
                                      apr_pool_cleanup_null);
        }
    }
    return rv;
}

static apr_status_t memory_create_session(void *instance,
                                          const mcp_store_ctx_t *c,
                                          const char *key, const char *record,
                                          apr_size_t len)
{
    memory_instance_t *mi = instance;
    unsigned char k[32];
    apr_uint32_t idx, *head, reclaimed = 0;
    apr_time_t now = mono_now();
    apr_interval_time_t left = 0;
    apr_status_t rv;
    char victim[9];
    int evicted = 0;
    slot_t *sl;

    if (len > MEMORY_MAX_RECORD) {
        return APR_EINVAL;
    }
    if ((rv = key_bytes(key, k)) != APR_SUCCESS || (rv = lock()) != APR_SUCCESS) {
        return rv;
    }
    if (seg->used >= seg->sweep_from && seg->sweep_due <= now + SWEEP_BURST) {
        reclaimed = sweep_step(now);
        if (!reclaimed) {
            /* a flood of initializes against a table of live sessions
             * must not keep the lock busy with fruitless steps */
            seg->sweep_due = (seg->sweep_due > now ? seg->sweep_due : now)
                             + SWEEP_PAUSE;
        }
    }
    if (!seg->free_head && seg->pending_oldest) {
        evicted = drop_oldest_pending(now, victim, &left);
        reclaimed += !evicted;
    }
    if (!seg->free_head) {
        rv = APR_ENOSPC;
        goto leave;
    }
    idx = seg->free_head;
    sl = &slots[idx - 1];
    seg->free_head = sl->next;
    memcpy(sl->key, k, 32);
    memcpy(sl->data, record, len);
    sl->data[len] = '\0';
    sl->len = (apr_uint16_t)len;
    sl->expires = now + mi->handshake_ttl;
    sl->pending = 1;
    head = bucket_of(k);
    sl->next = *head;
    *head = idx;
    pending_append(idx);
    seg->pending++;
    seg->used++;
leave:
    unlock();
    /* logs outside the lock */
    if (evicted) {
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, mi->s, MCPLOG(00320)
                     "session table full: dropped session %s, which had not "
                     "completed its handshake (%" APR_TIME_T_FMT " s of its "
                     "MCPSessionHandshakeTTL left), to make room for a new "
                     "one", victim, apr_time_sec(left));
    }
    if (reclaimed) {
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, mi->s, MCPLOG(00321)
                     "session table nearly full: reclaimed %u expired slots",
                     reclaimed);
    }
    return rv;
}

static apr_status_t memory_fetch(void *instance, const mcp_store_ctx_t *c,
                                 const char *key, char **record,
                                 apr_size_t *len)
{
    memory_instance_t *mi = instance;
    unsigned char k[32];
    apr_time_t now = mono_now();
    apr_uint32_t *link;
    apr_status_t rv;

    if ((rv = key_bytes(key, k)) != APR_SUCCESS || (rv = lock()) != APR_SUCCESS) {
        return rv;
    }
    link = find(k, now);
    if (!link) {
        rv = APR_NOTFOUND;
    }
    else {
        slot_t *sl = &slots[*link - 1];
        if (!sl->pending) {
            sl->expires = now + mi->ttl;    /* sliding: every use extends */
        }
        else {
            /* still in its handshake: slides too, and is now the most
             * recently used of the pending sessions */
            sl->expires = now + mi->handshake_ttl;
            if (seg->pending_newest != *link) {
                pending_unlink(*link);
                pending_append(*link);
            }
        }
        *len = sl->len;
        *record = apr_pstrmemdup(c->pool, sl->data, sl->len);
    }
    unlock();
    return rv;
}

/* update(), and update_if() when expected is set: replace the record of
 * a live session (only if it is still `expected`). */
static apr_status_t replace(memory_instance_t *mi, const char *key,
                            const char *expected, apr_size_t expected_len,
                            const char *record, apr_size_t len)
{
    unsigned char k[32];
    apr_time_t now = mono_now();
    apr_uint32_t *link;
    apr_status_t rv;
    slot_t *sl;

    if (len > MEMORY_MAX_RECORD) {
        return APR_EINVAL;
    }
    if ((rv = key_bytes(key, k)) != APR_SUCCESS || (rv = lock()) != APR_SUCCESS) {
        return rv;
    }
    link = find(k, now);
    if (!link) {
        rv = APR_NOTFOUND;      /* deleted meanwhile: stays deleted */
        goto leave;
    }
    sl = &slots[*link - 1];
    if (expected && (sl->len != expected_len
                     || memcmp(sl->data, expected, expected_len))) {
        rv = MCP_STORE_ECHANGED;
        goto leave;
    }
    if (sl->pending) {
        /* the handshake is done (notifications/initialized): a session
         * for the whole TTL, never evicted */
        pending_unlink(*link);
        sl->pending = 0;
        seg->pending--;
    }
    memcpy(sl->data, record, len);
    sl->data[len] = '\0';
    sl->len = (apr_uint16_t)len;
    sl->expires = now + mi->ttl;
leave:
    unlock();
    return rv;
}

static apr_status_t memory_update(void *instance, const mcp_store_ctx_t *c,
                                  const char *key, const char *record,
                                  apr_size_t len)
{
    return replace(instance, key, NULL, 0, record, len);
}

static apr_status_t memory_update_if(void *instance, const mcp_store_ctx_t *c,
                                     const char *key, const char *expected,
                                     apr_size_t expected_len,
                                     const char *record, apr_size_t len)
{
    if (!expected && expected_len) {
        return APR_EINVAL;
    }
    /* NULL would mean "unconditional" to replace() */
    return replace(instance, key, expected ? expected : "", expected_len,
                   record, len);
}

static apr_status_t memory_remove(void *instance, const mcp_store_ctx_t *c,
                                  const char *key)
{
    unsigned char k[32];
    apr_uint32_t *link;
    apr_status_t rv;

    if ((rv = key_bytes(key, k)) != APR_SUCCESS || (rv = lock()) != APR_SUCCESS) {
        return rv;
    }
    link = find(k, mono_now());
    if (!link) {
        rv = APR_NOTFOUND;
    }
    else {
        slot_free(link, *link);
    }
    unlock();
    return rv;
}

/* ------------------------------------------------------------------ */
/* Messages between children                                           */

#ifdef __linux__
/* Sleep until *word is no longer `seen` (or a wake, a signal, the
 * timeout). Not FUTEX_PRIVATE: the word is shared between processes. */
static void ring_sleep(apr_uint32_t *word, apr_uint32_t seen,
                       apr_interval_time_t t)
{
    struct timespec ts;

    ts.tv_sec = (time_t)(t / APR_USEC_PER_SEC);
    ts.tv_nsec = (long)(t % APR_USEC_PER_SEC) * 1000;
    syscall(SYS_futex, word, FUTEX_WAIT, seen, &ts, NULL, 0);
}

static void ring_wake(apr_uint32_t *word)
{
    syscall(SYS_futex, word, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}
#else
/* No futex: poll. */
static void ring_sleep(apr_uint32_t *word, apr_uint32_t seen,
                       apr_interval_time_t t)
{
    apr_sleep(t < POLL_STEP ? t : POLL_STEP);
}

static void ring_wake(apr_uint32_t *word)
{
}
#endif

/* 1..MCP_STORE_CHANNEL_MAX bytes of visible ASCII; its length or 0. */
static apr_size_t channel_ok(const char *channel)
{
    apr_size_t n = 0;

    if (!channel) {
        return 0;
    }
    for (; channel[n]; n++) {
        if (n == MCP_STORE_CHANNEL_MAX || channel[n] <= ' '
            || channel[n] > '~') {
            return 0;
        }
    }
    return n;
}

static apr_status_t memory_publish(void *instance, const mcp_store_ctx_t *c,
                                   const char *channel, const char *msg,
                                   apr_size_t len)
{
    apr_size_t clen = channel_ok(channel);
    apr_uint32_t waiters;
    apr_uint64_t seq;
    apr_status_t rv;
    ring_msg_t *m;

    if (!clen || len > MCP_STORE_MAX_MESSAGE || (!msg && len)) {
        return APR_EINVAL;
    }
    if ((rv = lock()) != APR_SUCCESS) {
        return rv;
    }
    /* written before it is counted: a publisher that dies in between
     * leaves a slot that waiters see as dropped (seq 0), nothing torn */
    seq = seg->ring_seq + 1;
    m = &ring[seq % RING_SLOTS];
    m->seq = 0;
    m->len = (apr_uint32_t)len;
    m->channel_len = (apr_uint32_t)clen;
    memcpy(m->channel, channel, clen);
    if (len) {
        memcpy(m->data, msg, len);
    }
    m->seq = seq;
    seg->ring_seq = seq;
    seg->ring_wake++;
    waiters = seg->ring_waiters;
    unlock();
    if (waiters) {
        ring_wake(&seg->ring_wake);
    }
    return APR_SUCCESS;
}

static apr_status_t memory_wait(void *instance, const mcp_store_ctx_t *c,
                                const char *channel, apr_uint64_t *cursor,
                                apr_interval_time_t timeout, char **msg,
                                apr_size_t *len)
{
    apr_size_t clen = channel_ok(channel);
    apr_time_t now = mono_now(), deadline;
    apr_uint64_t from, seq;
    apr_uint32_t seen;
    apr_status_t rv;

    if (!clen || !cursor) {
        return APR_EINVAL;
    }
    deadline = timeout <= 0 ? now : timeout > APR_INT64_MAX - now
               ? APR_INT64_MAX : now + timeout;
    if ((rv = lock()) != APR_SUCCESS) {
        return rv;
    }
    if (!*cursor) {
        *cursor = seg->ring_seq;        /* from now */
    }
    for (;;) {
        /* the oldest message still in the ring is from + 1 */
        from = seg->ring_seq - seg->ring_first > RING_SLOTS
               ? seg->ring_seq - RING_SLOTS : seg->ring_first;
        if (*cursor < from || *cursor > seg->ring_seq) {
            /* wrapped past it, or a cursor of another ring (a table made
             * anew at a restart): what it missed is gone */
            *cursor = *cursor > seg->ring_seq ? seg->ring_seq : from;
            rv = APR_INCOMPLETE;
            goto leave;
        }
        for (seq = *cursor + 1; seq <= seg->ring_seq; seq++) {
            ring_msg_t *m = &ring[seq % RING_SLOTS];

            *cursor = seq;
            if (m->seq != seq) {
                rv = APR_INCOMPLETE;    /* its publisher died writing it */
                goto leave;
            }
            if (m->channel_len == clen && !memcmp(m->channel, channel, clen)) {
                *len = m->len;
                *msg = apr_pstrmemdup(c->pool, m->data, m->len);
                goto leave;
            }
        }
        now = mono_now();
        if (now >= deadline) {
            rv = APR_TIMEUP;
            goto leave;
        }
        seen = seg->ring_wake;
        seg->ring_waiters++;
        unlock();
        ring_sleep(&seg->ring_wake, seen, deadline - now);
        if ((rv = lock()) != APR_SUCCESS) {
            return rv;
        }
        seg->ring_waiters--;
    }
leave:
    unlock();
    return rv;
}

static const char *memory_describe(void *instance, apr_pool_t *p)
{
    return apr_psprintf(p, "memory (shared, %u sessions)",
                        seg ? seg->capacity : 0);
}

static int memory_healthy(void *instance)
{
    return 1;
}

static apr_size_t memory_max_record(void *instance)
{
    return MEMORY_MAX_RECORD;
}

static const mcp_store_provider_t memory_provider = {
    "memory",
    memory_create,
    memory_init,
    NULL,
    memory_max_record,
    memory_create_session,
    memory_fetch,
    memory_update,
    memory_remove,
    memory_describe,
    memory_healthy,
    NULL,
    memory_update_if,
    memory_publish,
    memory_wait
};

void mcp_store_memory_register(apr_pool_t *p)
{
    mcp_register_store(p, &memory_provider);
    /* after every other post_config, so after every store's init() */
    ap_hook_post_config(memory_post_config, NULL, NULL, APR_HOOK_REALLY_LAST);
}
