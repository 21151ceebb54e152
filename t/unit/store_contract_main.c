/*
 * The store contract suite (t/store/) on the toy provider
 * (t/unit/store_toy.c), which must pass all of it with no skip, and on
 * broken variants of the toy (toy://NAME?flaw=...), each of which the
 * suite must fail where the flaw is: a suite that passes everything would
 * prove nothing. The runs go in parallel threads (each about 5 s, mostly
 * waiting for lifetimes to run out). Built from include/ and t/ alone.
 * Run by `make -f Makefile.apxs unit`; prints TAP and "N passed, M failed".
 */
#include <stdio.h>
#include <string.h>

#include "apr_general.h"
#include "apr_strings.h"
#include "apr_thread_proc.h"

#include "mcp_store_contract.h"
#include "store_toy.h"

typedef struct run_t {
    const char *flaw;           /* NULL: the toy as it is */
    const char *catches;        /* a test the flaw must fail (its label) */
    apr_pool_t *pool;
    apr_array_header_t *lines;  /* TAP of the run, without numbers */
    int passed, failed, skipped;
    const char *first_fail;     /* label */
    int caught;                 /* `catches` failed */
    const char *error;          /* the run could not start */
    apr_interval_time_t took;
} run_t;

static const struct { const char *flaw, *catches; } variants[] = {
    { "revive",    "update of a removed session is APR_NOTFOUND" },
    { "noslide",   "a session fetched every 0.35 ttl outlives its ttl" },
    { "handshake", "the first update gives a session the full ttl" },
    { "shared",    "the fetched record is the caller's" },
    { "cut",       "a record of max_record() bytes goes through" },
    { "blindif",   "update_if after another update is MCP_STORE_ECHANGED" },
    { "losewait",  "*cursor moves on APR_TIMEUP" },
    { "gap",       "10000 messages" }
};
#define NVARIANTS (int)(sizeof(variants) / sizeof(*variants))

static void collect(void *baton, mcp_contract_result_t res, const char *what,
                    const char *why)
{
    run_t *run = baton;
    const char *line;

    switch (res) {
    case MCP_CONTRACT_PASS:
        run->passed++;
        line = apr_psprintf(run->pool, "ok - %s%s%s", what,
                            why ? "\n#   " : "", why ? why : "");
        break;
    case MCP_CONTRACT_SKIP:
        run->skipped++;
        line = apr_psprintf(run->pool, "ok - %s # SKIP %s", what, why);
        break;
    default:
        run->failed++;
        if (!run->first_fail) {
            run->first_fail = apr_pstrdup(run->pool, what);
        }
        if (run->catches && !strncmp(what, run->catches,
                                     strlen(run->catches))) {
            run->caught = 1;
        }
        line = apr_psprintf(run->pool, "not ok - %s\n#   %s", what,
                            why ? why : "");
        break;
    }
    APR_ARRAY_PUSH(run->lines, const char *) = line;
}

static void *APR_THREAD_FUNC run_suite(apr_thread_t *th, void *data)
{
    run_t *run = data;
    const mcp_store_provider_t *p = &mcp_toy_store_provider;
    mcp_store_params_t params;
    mcp_store_ctx_t ctx;
    const char *spec, *err;
    void *inst = NULL;
    apr_time_t start = apr_time_now();
    apr_status_t rv;

    memset(&params, 0, sizeof(params));
    params.key_prefix = "contract:";
    params.ttl = apr_time_from_sec(2);
    params.refresh_after = params.ttl / 2;
    params.timeout = apr_time_from_sec(2);
    params.threads_per_child = 8;
    params.handshake_ttl = apr_time_from_sec(1);
    memset(&ctx, 0, sizeof(ctx));
    ctx.pool = run->pool;       /* no server_rec, no request: not in httpd */

    spec = run->flaw ? apr_pstrcat(run->pool, "toy://unit?flaw=", run->flaw,
                                   NULL)
                     : "toy://unit";
    if ((err = p->create(&inst, spec, NULL, run->pool, run->pool))) {
        run->error = err;
        return NULL;
    }
    if ((rv = p->init(inst, &params, NULL, run->pool, run->pool))
        != APR_SUCCESS || (rv = p->child_init(inst, NULL, run->pool))
                          != APR_SUCCESS) {
        run->error = "init/child_init failed";
        return NULL;
    }
    mcp_store_contract_run(p, inst, &params, &ctx, collect, run);
    run->took = apr_time_now() - start;
    return NULL;
}

/* A root pool with an allocator of its own: the runs are threads. */
static apr_pool_t *own_pool(void)
{
    apr_allocator_t *a;
    apr_pool_t *p;

    apr_allocator_create(&a);
    apr_pool_create_unmanaged_ex(&p, NULL, a);
    apr_allocator_owner_set(a, p);
    return p;
}

int main(void)
{
    run_t runs[1 + NVARIANTS];
    apr_thread_t *th[1 + NVARIANTS];
    apr_pool_t *pool;
    apr_status_t trv;
    int i, j, n = 0, passed = 0, failed = 0;

    apr_initialize();
    apr_pool_create(&pool, NULL);
    memset(runs, 0, sizeof(runs));
    for (i = 0; i < 1 + NVARIANTS; i++) {
        runs[i].pool = own_pool();
        runs[i].lines = apr_array_make(runs[i].pool, 64, sizeof(char *));
        if (i) {
            runs[i].flaw = variants[i - 1].flaw;
            runs[i].catches = variants[i - 1].catches;
        }
        if (apr_thread_create(&th[i], NULL, run_suite, &runs[i], pool)
            != APR_SUCCESS) {
            fprintf(stderr, "cannot start a thread\n");
            return 1;
        }
    }
    for (i = 0; i < 1 + NVARIANTS; i++) {
        apr_thread_join(&trv, th[i]);
    }

#define TAP(ok, ...) do {                                               \
        n++;                                                            \
        if (ok) { passed++; printf("ok %d - ", n); }                    \
        else { failed++; printf("not ok %d - ", n); }                   \
        printf(__VA_ARGS__);                                            \
        printf("\n");                                                   \
    } while (0)

    /* the toy: every test of the suite, as its own TAP line */
    printf("# the store contract suite on the toy provider (toy://unit)\n");
    if (runs[0].error) {
        TAP(0, "toy: the run starts (%s)", runs[0].error);
    }
    for (i = 0; i < runs[0].lines->nelts; i++) {
        const char *l = APR_ARRAY_IDX(runs[0].lines, i, const char *);
        int ok = !strncmp(l, "ok - ", 5);
        TAP(ok, "toy: %s", l + (ok ? 5 : 9));
    }
    TAP(runs[0].lines->nelts > 30 && !runs[0].skipped,
        "toy: it has every capability, so nothing is skipped (%d tests, %d "
        "skipped)", runs[0].lines->nelts, runs[0].skipped);
    printf("# toy: %d passed, %d failed, %d skipped in %" APR_TIME_T_FMT
           " ms\n", runs[0].passed, runs[0].failed, runs[0].skipped,
           apr_time_as_msec(runs[0].took));

    /* the flaws: the suite must fail the test where each one is */
    for (i = 1; i < 1 + NVARIANTS; i++) {
        run_t *r = &runs[i];
        TAP(!r->error && r->caught,
            "the suite catches toy flaw '%s': it fails '%s...' (%d of %d "
            "tests failed)%s%s", r->flaw, r->catches, r->failed,
            r->passed + r->failed + r->skipped, r->error ? ": " : "",
            r->error ? r->error : "");
        for (j = 0; j < r->lines->nelts; j++) {
            const char *l = APR_ARRAY_IDX(r->lines, j, const char *);
            if (!strncmp(l, "not ok - ", 9)) {
                printf("#   flaw %s: %s\n", r->flaw, l + 9);
            }
        }
    }
    printf("1..%d\n", n);
    printf("%d passed, %d failed\n", passed, failed);
    for (i = 0; i < 1 + NVARIANTS; i++) {
        apr_pool_destroy(runs[i].pool);
    }
    apr_pool_destroy(pool);
    apr_terminate();
    return failed ? 1 : 0;
}
