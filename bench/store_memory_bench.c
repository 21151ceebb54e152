/*
 * Timed harness of the memory store outside httpd: how long one
 * create_session() or fetch() holds the table lock on a big table (the
 * calls run in one thread, so a call's CPU time is its lock hold time
 * when nothing else competes for a core).
 * It compiles src/mcp_store_memory.c in, with stubs for the few httpd
 * functions it calls. Not part of the test suite (no timed assertions).
 *
 *   cc -O2 -Iinclude -Isrc $(apr-1-config --cflags --cppflags --includes) \
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
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "../src/mcp_store_memory.c"

module AP_MODULE_DECLARE_DATA mcp_session_module;

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

#if SEG_LAYOUT >= 3
#define RECLAIMED (seg->stats.reclaimed)
#define EVICTED (seg->stats.evicted)
#else
#define RECLAIMED 0u
#define EVICTED 0u
#endif

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
                 int initialized, char *keys, apr_pool_t *p)
{
    static const char rec[] = "{\"v\":\"2025-11-25\",\"i\":1,\"padding\":"
        "\"a record of about the size of a real one...........................\"}";
    apr_uint32_t i;
    for (i = 0; i < cap; i++) {
        int is_short = (int)(i % 100) < percent_short;
        void *inst = is_short ? brief : live;
        random_key(keys + (apr_size_t)i * 65);
        if (memory_create_session(inst, keys + (apr_size_t)i * 65, rec,
                                  sizeof(rec) - 1, p) != APR_SUCCESS) {
            fprintf(stderr, "fill: create %u failed\n", i);
            exit(1);
        }
        if (initialized) {
            memory_update(inst, keys + (apr_size_t)i * 65, rec,
                          sizeof(rec) - 1, p);
        }
    }
}

static void run_creates(const char *name, void *inst, int calls, apr_pool_t *p)
{
    static const char rec[] = "{\"v\":\"2025-11-25\"}";
    double *t = malloc(sizeof(double) * calls), sum = 0;
    int i, ok = 0;
    char key[65];

    for (i = 0; i < calls; i++) {
        double t0;
        random_key(key);
        t0 = cpu_us();
        if (memory_create_session(inst, key, rec, sizeof(rec) - 1, p)
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
           seg->stats.expired);
    free(t);
}

static void run_fetches(void *inst, apr_uint32_t cap, const char *keys,
                        apr_pool_t *p)
{
    int i, n = 1000000, ok = 0;
    double t0 = cpu_us();
    for (i = 0; i < n; i++) {
        char *rec;
        apr_size_t len;
        apr_uint32_t k = (apr_uint32_t)((i * 2654435761u) % cap);
        if (memory_fetch(inst, keys + (apr_size_t)k * 65, p, &rec, &len)
            == APR_SUCCESS) {
            ok++;
        }
        if (!(i % 1024)) {
            apr_pool_clear(p);
        }
    }
    printf("fetch x%d (random live keys): %d found, CPU mean %.0f ns\n", n,
           ok, (cpu_us() - t0) * 1e3 / n);
}

int main(int argc, char **argv)
{
    apr_uint32_t cap = argc > 1 ? (apr_uint32_t)atol(argv[1]) : 1000000;
    const char *scenarios[] = { "live", "sparse", "expired", "pending" };
    apr_pool_t *pool, *p;
    process_rec proc;
    server_rec s;
    char *keys;
    int sc, only_fetch;

    apr_initialize();
    apr_pool_create(&pool, NULL);
    apr_pool_create(&p, pool);
    memset(&proc, 0, sizeof(proc));
    memset(&s, 0, sizeof(s));
    proc.pool = pool;
    s.process = &proc;
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
        if (mcp_store_memory_segment(&s, (int)cap, 1) != APR_SUCCESS) {
            fprintf(stderr, "no segment\n");
            return 1;
        }
        live_params.ttl = apr_time_from_sec(3600);
        live_params.handshake_ttl = apr_time_from_sec(60);
        /* they expire after the fill: the old code did not sweep while
         * filling, the new one would reclaim them as it goes */
        brief_params.ttl = apr_time_from_sec(BRIEF_SEC);
        brief_params.handshake_ttl = apr_time_from_sec(BRIEF_SEC);
        memory_create(&live, "memory://", pool, pool);
        memory_create(&brief, "memory://", pool, pool);
        memory_init(live, &live_params, &s, pool, pool);
        memory_init(brief, &brief_params, &s, pool, pool);

        t0 = now_us();
        fill(live, brief, cap, sc == 1 ? 1 : sc == 2 ? 100 : 0, sc != 3,
             keys, p);
        apr_pool_clear(p);
        printf("%s: filled %u slots in %.1f s\n", scenarios[sc], cap,
               (now_us() - t0) / 1e6);
        apr_sleep(sc == 1 || sc == 2 ? apr_time_from_sec(BRIEF_SEC)
                                     : apr_time_from_msec(20));
        if (sc == 0) {
            run_fetches(live, cap, keys, p);
        }
        if (only_fetch) {
            break;
        }
        /* the first call, then a stream of calls, then one a second later
         * (the old code swept the whole table at most once a second) */
        run_creates(scenarios[sc], live, 1, p);
        run_creates(scenarios[sc], live, 10000, p);
        apr_sleep(apr_time_from_msec(1100));
        run_creates(scenarios[sc], live, 1, p);
        apr_pool_clear(p);
    }
    return 0;
}
