/*
 * Test-only httpd module (never installed): makes jansson allocate through
 * functions that put a 16-byte header before each block, as a co-loaded
 * module that calls json_set_alloc_funcs (cjose does) may. A buffer that
 * jansson handed out and that someone frees with libc's free() then aborts
 * the child ("free(): invalid pointer", or AddressSanitizer's report)
 * instead of going unnoticed.
 *
 * Built by `make -f Makefile.apxs test-modules`; t/42-jansson-alloc.t
 * loads it first, before any other module that uses jansson.
 */
#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include <jansson.h>
#include <stdlib.h>

#define HEADER 16
#define MAGIC  ((size_t)0x6a616e73736f6e21)     /* "jansson!" */

static void *hdr_malloc(size_t n)
{
    size_t *p = malloc(n + HEADER);
    if (!p) {
        return NULL;
    }
    p[0] = MAGIC;
    p[1] = 1;           /* where libc's free() reads a chunk size: invalid */
    return (char *)p + HEADER;
}

static void hdr_free(void *q)
{
    size_t *p;
    if (!q) {
        return;
    }
    p = (size_t *)(void *)((char *)q - HEADER);
    if (p[0] != MAGIC) {
        abort();        /* not from hdr_malloc: allocators were mixed */
    }
    p[0] = 0;
    free(p);
}

static void child_init(apr_pool_t *p, server_rec *s)
{
    json_malloc_t m;
    json_free_t f;
    json_get_alloc_funcs(&m, &f);
    ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s,
                 "mod_mcp_test_alloc: jansson allocates %s",
                 m == hdr_malloc && f == hdr_free ? "with a header"
                                                  : "NOT with the test allocator");
}

static void register_hooks(apr_pool_t *p)
{
    /* at LoadModule time, before any other module made a jansson value */
    json_set_alloc_funcs(hdr_malloc, hdr_free);
    ap_hook_child_init(child_init, NULL, NULL, APR_HOOK_MIDDLE);
}

AP_DECLARE_MODULE(mcp_test_alloc) = {
    STANDARD20_MODULE_STUFF,
    NULL, NULL, NULL, NULL, NULL,
    register_hooks
};
