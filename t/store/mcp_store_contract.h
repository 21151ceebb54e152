/*
 * The store contract suite: every promise of include/mcp_session_store.h
 * (store provider API 2.0), checked against one provider instance. One
 * suite, every provider: t/unit/store_contract_main.c runs it on the toy
 * provider (t/unit/store_toy.c) and on deliberately broken variants of
 * it, t/modules/mod_mcp_test_store.c on the providers of a running httpd
 * (t/48-store-contract.t). httpd-free: APR and include/ only.
 */
#ifndef MCP_STORE_CONTRACT_H
#define MCP_STORE_CONTRACT_H

#include "mcp_session_store.h"

typedef enum {
    MCP_CONTRACT_PASS,
    MCP_CONTRACT_FAIL,
    MCP_CONTRACT_SKIP       /* an optional capability the provider lacks,
                             * or a check the run could not judge */
} mcp_contract_result_t;

/* One line per test. `what` is a fixed label (the same in every run and
 * for every provider); `why` says what went wrong (FAIL), why it was
 * skipped (SKIP), or is a note on what was seen (PASS: e.g. whether a
 * flood met a bounded backlog), else NULL. Both live until the suite
 * returns. */
typedef void mcp_contract_report_t(void *baton, mcp_contract_result_t res,
                                   const char *what, const char *why);

/* Run the suite on `instance`, a provider instance that create(), init()
 * with `params` and child_init() (when the provider has one) were called
 * for. ctx->pool is the parent of the suite's pools (from one thread
 * only: threads of the suite get pools of their own); ctx->s and ctx->r
 * are handed to the provider (the suite's threads get r = NULL).
 *
 * Every test is reported, so every provider reports the same list; the
 * tests of a capability the provider lacks (update_if, publish/wait,
 * describe, healthy) are reported as skips. The lifetime tests need a
 * short params->ttl (at most MCP_CONTRACT_MAX_TTL; else they are
 * skipped) and take about 1.3 ttl; with ttl 2 s and handshake_ttl 1 s the
 * whole suite takes about 5 s. Keys are random, so runs sharing a
 * backend never collide.
 *
 * Returns the number of failed tests. */
int mcp_store_contract_run(const mcp_store_provider_t *p, void *instance,
                           const mcp_store_params_t *params,
                           const mcp_store_ctx_t *ctx,
                           mcp_contract_report_t *report, void *baton);

#define MCP_CONTRACT_MAX_TTL    apr_time_from_sec(5)

/* The flood of the publish/wait tests: more messages than a bounded
 * backlog holds. */
#define MCP_CONTRACT_FLOOD      10000

#endif /* MCP_STORE_CONTRACT_H */
