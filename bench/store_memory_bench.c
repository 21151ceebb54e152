/*
 * Timed harness of the memory store outside httpd: how long one
 * create_session() or fetch() holds the table lock on a big table (the
 * calls run in one thread, so a call's CPU time is its lock hold time
 * when nothing else competes for a core).
 * It compiles src/stores/mcp_store_memory.c in, with stubs for the few
 * httpd functions and node counters it uses. Not part of the test suite
 * (no timed assertions).
 *
 *   cc -O2 -Iinclude -Isrc/core -Isrc/httpd \
 *      $(apr-1-config --cflags --cppflags --includes) \
 *      -I$(apxs -q INCLUDEDIR) -o /tmp/store_memory_bench \
 *      bench/store_memory_bench.c $(apr-1-config --link-ld --libs) \
 *      $(apu-1-config --link-ld)
 *   /tmp/store_memory_bench [capacity]      (default 1000000)
 *   valgrind --tool=callgrind --toggle-collect=memory_fetch \
 *       /tmp/store_memory_bench 10000 fetch  (instructions per fetch)
 *
 * Scenarios, each on a freshly filled full table:
 *   live     every session initialized and live: new sessions are refused
 *   sparse   1% of the sessions expired, spread over the table (they
 *            expire after the fill, during a pause of BRIEF_SEC)
 *   expired  every session expired
 *   pending  every session live but never past its handshake
 * then publish() and wait() of messages between children (one process:
 * the cost of a call under the lock, not of a wake-up).
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "../src/stores/mcp_store_memory.c"

module AP_MODULE_DECLARE_DATA mcp_session_module;   /* module_index 0 */

static mcp_node_stats_t stats;

mcp_node_stats_t *mcp_node_stats(void)
{
    return &stats;
}

const char *mcp_node_id(void)
{
    return "bench";
}

AP_DECLARE(void) ap_hook_post_config(ap_HOOK_post_config_t *pf,
                                     const char *const *pre,
                                     const char *const *succ, int order)
{
}

AP_DECLARE(void) ap_log_error_(const char *file, int line, int module_index,
                               int level, apr_status_t status,
                               const server_rec *s, const char *fmt, ...)
{
}

static void *retained;

AP_DECLARE(void *) ap_retained_data_get(const char *key)
{
    return retained;
}

AP_DECLARE(void *) ap_retained_data_create(const char *key, apr_size_t size)
{
    return retained = calloc(1, size);
}

#define RECLAIMED (stats.reclaimed)
#define EVICTED (stats.evicted)

AP_DECLARE(apr_status_t) ap_register_provider(apr_pool_t *pool,
                                              const char *provider_group,
                                              const char *provider_name,
                                              const char *provider_version,
                                              const void *provider)
{
    return APR_SUCCESS;
}

#define BRIEF_SEC 6

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

/* The calls are timed in CPU time of this thread: on a shared machine
 * wall time adds whatever other processes take while this one waits for
 * a core, which says nothing about the work done under the lock. */
static double cpu_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static apr_uint64_t rng = 88172645463325252ull;

static void random_key(char *hex)
{
    static const char digits[] = "0123456789abcdef";
    int i;
    for (i = 0; i < 64; i++) {
        if (!(i % 16)) {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
        }
        hex[i] = digits[(rng >> ((i % 16) * 4)) & 15];
    }
    hex[64] = '\0';
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Fill the table: percent_short of the sessions get a short lifetime;
 * initialized ones get update() (it ends a pending handshake). */
static void fill(void *live, void *brief, apr_uint32_t cap, int percent_short,
                 int initialized, char *keys, const mcp_store_ctx_t *p)
{
    static const char rec[] = "{\"v\":\"2025-11-25\",\"i\":1,\"padding\":"
        "\"a record of about the size of a real one...........................\"}";
    apr_uint32_t i;
    for (i = 0; i < cap; i++) {
        int is_short = (int)(i % 100) < percent_short;
        void *inst = is_short ? brief : live;
        random_key(keys + (apr_size_t)i * 65);
        if (memory_create_session(inst, p, keys + (apr_size_t)i * 65, rec,
                                  sizeof(rec) - 1) != APR_SUCCESS) {
            fprintf(stderr, "fill: create %u failed\n", i);
            exit(1);
        }
        if (initialized) {
            memory_update(inst, p, keys + (apr_size_t)i * 65, rec,
                          sizeof(rec) - 1);
        }
    }
}

static void run_creates(const char *name, void *inst, int calls,
                        const mcp_store_ctx_t *p)
{
    static const char rec[] = "{\"v\":\"2025-11-25\"}";
    double *t = malloc(sizeof(double) * calls), sum = 0;
    int i, ok = 0;
    char key[65];

    for (i = 0; i < calls; i++) {
        double t0;
        random_key(key);
        t0 = cpu_us();
        if (memory_create_session(inst, p, key, rec, sizeof(rec) - 1)
            == APR_SUCCESS) {
            ok++;
        }
        t[i] = cpu_us() - t0;
        sum += t[i];
    }
    qsort(t, calls, sizeof(double), cmp_double);
    for (i = 0; i < calls && t[i] <= 200; i++) {
    }
    printf("%-8s create_session x%d: %d created, CPU mean %.2f us, p50 %.2f, "
           "p99 %.2f, p99.9 %.1f, max %.1f us, %d over 200 us; reclaimed %u "
           "evicted %u expired %u\n",
           name, calls, ok, sum / calls, t[calls / 2], t[calls * 99 / 100],
           t[calls * 999 / 1000], t[calls - 1], calls - i, RECLAIMED, EVICTED,
           stats.expired);
    free(t);
}

static void run_fetches(void *inst, apr_uint32_t cap, const char *keys,
                        const mcp_store_ctx_t *p)
{
    int i, n = 1000000, ok = 0;
    double t0 = cpu_us();
    for (i = 0; i < n; i++) {
        char *rec;
        apr_size_t len;
        apr_uint32_t k = (apr_uint32_t)((i * 2654435761u) % cap);
        if (memory_fetch(inst, p, keys + (apr_size_t)k * 65, &rec, &len)
            == APR_SUCCESS) {
            ok++;
        }
        if (!(i % 1024)) {
            apr_pool_clear(p->pool);
        }
    }
    printf("fetch x%d (random live keys): %d found, CPU mean %.0f ns\n", n,
           ok, (cpu_us() - t0) * 1e3 / n);
}

/* publish() of a 1 KB message, and wait() finding it at once: one in
 * eight messages is on the waited channel, so a wait scans eight. */
static void run_ring(void *inst, const mcp_store_ctx_t *p)
{
    static char msg[1024];
    int i, n = 200000, got = 0;
    apr_uint64_t cursor = 0;
    double t0, pub, wt, wait_us = 0;
    char *m;
    apr_size_t len;

    memset(msg, 'm', sizeof(msg));
    memory_wait(inst, p, "chan-0", &cursor, 0, &m, &len);  /* from now */
    t0 = cpu_us();
    for (i = 0; i < n; i++) {
        char ch[16];
        snprintf(ch, sizeof(ch), "chan-%d", i % 8);
        memory_publish(inst, p, ch, msg, sizeof(msg));
        if (i % 8 == 7) {
            /* drain the ring before it wraps */
            double w0 = cpu_us();
            if (memory_wait(inst, p, "chan-0", &cursor, 0, &m, &len)
                == APR_SUCCESS) {
                got++;
            }
            wt = cpu_us() - w0;
            t0 += wt;           /* publish time only */
            wait_us += wt;
        }
        if (!(i % 1024)) {
            apr_pool_clear(p->pool);
        }
    }
    pub = cpu_us() - t0;
    printf("ring: publish x%d (1 KB): CPU mean %.0f ns; wait x%d (8 messages "
           "scanned, 1 copied): CPU mean %.0f ns; %d received\n", n,
           pub * 1e3 / n, n / 8, wait_us * 1e3 / (n / 8), got);
}

int main(int argc, char **argv)
{
    apr_uint32_t cap = argc > 1 ? (apr_uint32_t)atol(argv[1]) : 1000000;
    const char *scenarios[] = { "live", "sparse", "expired", "pending" };
    apr_pool_t *pool, *p;
    process_rec proc;
    server_rec s;
    mcp_srv_conf_t conf;
    void *module_config[1];
    mcp_store_ctx_t ctx;
    char *keys;
    int sc, only_fetch;

    apr_initialize();
    apr_pool_create(&pool, NULL);
    apr_pool_create(&p, pool);
    memset(&proc, 0, sizeof(proc));
    memset(&s, 0, sizeof(s));
    proc.pool = pool;
    s.process = &proc;
    /* MCPSessionCapacity, as the memory store reads it */
    memset(&conf, 0, sizeof(conf));
    conf.capacity = (int)cap;
    module_config[0] = &conf;
    s.module_config = (struct ap_conf_vector_t *)module_config;
    ctx.pool = p;
    ctx.s = &s;
    ctx.r = NULL;
    keys = malloc((apr_size_t)cap * 65);

    /* "fetch N": only the fetch loop, on a table of N (for callgrind) */
    only_fetch = argc > 2 && !strcmp(argv[2], "fetch");
    for (sc = 0; sc < (only_fetch ? 1 : 4); sc++) {
        mcp_store_params_t live_params = { 0 }, brief_params = { 0 };
        void *live, *brief;
        double t0;

        /* a fresh segment every time */
        if (retained && ((retained_t *)retained)->shm) {
            apr_shm_destroy(((retained_t *)retained)->shm);
            ((retained_t *)retained)->shm = NULL;
        }
        seg = NULL;
        attached = 0;
        memset(&stats, 0, sizeof(stats));
        live_params.ttl = apr_time_from_sec(3600);
        live_params.handshake_ttl = apr_time_from_sec(60);
        /* they expire after the fill: the old code did not sweep while
         * filling, the new one would reclaim them as it goes */
        brief_params.ttl = apr_time_from_sec(BRIEF_SEC);
        brief_params.handshake_ttl = apr_time_from_sec(BRIEF_SEC);
        memory_create(&live, "memory://", &s, pool, pool);
        memory_create(&brief, "memory://", &s, pool, pool);
        if (memory_init(live, &live_params, &s, pool, pool) != APR_SUCCESS
            || memory_init(brief, &brief_params, &s, pool, pool)
               != APR_SUCCESS) {
            fprintf(stderr, "no segment\n");
            return 1;
        }

        t0 = now_us();
        fill(live, brief, cap, sc == 1 ? 1 : sc == 2 ? 100 : 0, sc != 3,
             keys, &ctx);
        apr_pool_clear(p);
        printf("%s: filled %u slots in %.1f s\n", scenarios[sc], cap,
               (now_us() - t0) / 1e6);
        apr_sleep(sc == 1 || sc == 2 ? apr_time_from_sec(BRIEF_SEC)
                                     : apr_time_from_msec(20));
        if (sc == 0) {
            run_fetches(live, cap, keys, &ctx);
            run_ring(live, &ctx);
        }
        if (only_fetch) {
            break;
        }
        /* the first call, then a stream of calls, then one a second later
         * (the old code swept the whole table at most once a second) */
        run_creates(scenarios[sc], live, 1, &ctx);
        run_creates(scenarios[sc], live, 10000, &ctx);
        apr_sleep(apr_time_from_msec(1100));
        run_creates(scenarios[sc], live, 1, &ctx);
        apr_pool_clear(p);
    }
    return 0;
}
