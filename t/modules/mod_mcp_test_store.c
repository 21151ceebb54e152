/*
 * Test-only httpd module (never installed), built from include/ alone as
 * a third-party store module would be (apxs -Iinclude; no src/ header):
 *
 * - It registers the toy store provider (t/unit/store_toy.c) as "toy", so
 *   that a node can run MCPSessionStorageMode external with
 *   MCPSessionStore toy://NAME. The toy keeps sessions in its process:
 *   such a node must have one child.
 *
 * - MCPTestStoreContract NAME SPEC (server config, repeatable) makes an
 *   instance of store provider NAME with address SPEC and short lifetimes
 *   of its own (ttl 2 s, handshake_ttl 1 s): looked up and made in
 *   post_config, after mod_mcp_session's (the memory store needs the
 *   segment mod_mcp_session makes there; and LoadModule order does not
 *   matter), started in child_init.
 *
 * - SetHandler mcp-store-contract, GET with ?store=NAME:
 *     (no op)      runs the contract suite (t/store/) on that instance and
 *                  answers its TAP, a line per test as it goes
 *     op=caps      the optional capabilities it has, and this child's pid
 *     op=publish&channel=C&msg=M
 *                  publish(); answers "status S" and the pid
 *     op=wait&channel=C&timeout=MS[&until=M][&count=N]
 *                  sets a cursor (wait from 0), answers "ready pid P",
 *                  then "msg LEN TEXT" for each message until M came, N
 *                  came or MS passed, then "end" (and "tick" each second
 *                  meanwhile, "incomplete" for APR_INCOMPLETE)
 *   A provider without publish/wait answers "absent" to those.
 *
 * Built by `make -f Makefile.apxs test-modules`; used by
 * t/48-store-contract.t.
 */
#include <string.h>
#include <unistd.h>

#include "httpd.h"
#include "http_config.h"
#include "http_core.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"
#include "ap_mpm.h"
#include "ap_provider.h"
#include "util_script.h"
#include "apr_strings.h"

#include "mod_mcp_session.h"
#include "mcp_store_contract.h"
#include "store_toy.h"

/* Built with -fvisibility=hidden (it links the contract suite and the toy,
 * whose names must not leak into httpd's global symbol space): only the
 * module record is exported. */
module AP_MODULE_DECLARE_DATA __attribute__((visibility("default")))
    mcp_test_store_module;

typedef struct contract_store_t {
    const char *name;
    const char *spec;
    const mcp_store_provider_t *provider;
    void *instance;
    mcp_store_params_t params;
    apr_status_t child_rv;
} contract_store_t;

typedef struct test_store_conf_t {
    apr_array_header_t *stores;         /* contract_store_t */
} test_store_conf_t;

static void *create_srv(apr_pool_t *p, server_rec *s)
{
    test_store_conf_t *c = apr_pcalloc(p, sizeof(*c));

    c->stores = apr_array_make(p, 4, sizeof(contract_store_t));
    return c;
}

static const char *set_contract(cmd_parms *cmd, void *dc, const char *name,
                                const char *spec)
{
    test_store_conf_t *c = ap_get_module_config(cmd->server->module_config,
                                                &mcp_test_store_module);
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    contract_store_t *cs;
    int i;

    if (err) {
        return err;
    }
    for (i = 0; i < c->stores->nelts; i++) {
        if (!strcmp(APR_ARRAY_IDX(c->stores, i, contract_store_t).name, name)) {
            return apr_psprintf(cmd->pool, "MCPTestStoreContract %s: given "
                                "twice", name);
        }
    }
    cs = apr_array_push(c->stores);
    memset(cs, 0, sizeof(*cs));
    cs->name = name;
    cs->spec = spec;
    return NULL;
}

static int post_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
                       server_rec *s)
{
    test_store_conf_t *c = ap_get_module_config(s->module_config,
                                                &mcp_test_store_module);
    int threads = 1, i;

    ap_mpm_query(AP_MPMQ_MAX_THREADS, &threads);
    for (i = 0; i < c->stores->nelts; i++) {
        contract_store_t *cs = &APR_ARRAY_IDX(c->stores, i, contract_store_t);
        const char *err;
        apr_status_t rv;

        cs->provider = ap_lookup_provider(MCP_STORE_PROVIDER_GROUP, cs->name,
                                          MCP_API_VERSION);
        if (!cs->provider) {
            ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, "mod_mcp_test_store: "
                         "no session store provider '%s' (API %s)", cs->name,
                         MCP_API_VERSION);
            return HTTP_INTERNAL_SERVER_ERROR;
        }
        err = cs->provider->create(&cs->instance, cs->spec, s, pconf, ptemp);
        if (err) {
            ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, "mod_mcp_test_store: "
                         "%s: %s", cs->spec, err);
            return HTTP_INTERNAL_SERVER_ERROR;
        }
        /* short lifetimes, so the suite's lifetime tests take seconds;
         * threads for the suite's own threads, whatever the MPM */
        cs->params.key_prefix = "mcp:contract:";
        cs->params.ttl = apr_time_from_sec(2);
        cs->params.refresh_after = cs->params.ttl / 2;
        cs->params.timeout = apr_time_from_sec(2);
        cs->params.threads_per_child = threads > 8 ? threads : 8;
        cs->params.handshake_ttl = apr_time_from_sec(1);
        rv = cs->provider->init(cs->instance, &cs->params, s, pconf, ptemp);
        if (rv != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_EMERG, rv, s, "mod_mcp_test_store: "
                         "%s did not start", cs->spec);
            return HTTP_INTERNAL_SERVER_ERROR;
        }
    }
    return OK;
}

static void child_init(apr_pool_t *pchild, server_rec *s)
{
    test_store_conf_t *c = ap_get_module_config(s->module_config,
                                                &mcp_test_store_module);
    int i;

    for (i = 0; i < c->stores->nelts; i++) {
        contract_store_t *cs = &APR_ARRAY_IDX(c->stores, i, contract_store_t);

        if (cs->provider && cs->provider->child_init) {
            cs->child_rv = cs->provider->child_init(cs->instance, s, pchild);
            if (cs->child_rv != APR_SUCCESS) {
                ap_log_error(APLOG_MARK, APLOG_ERR, cs->child_rv, s,
                             "mod_mcp_test_store: %s did not start in this "
                             "child", cs->spec);
            }
        }
    }
}

/* ------------------------------------------------------------------ */

typedef struct tap_t {
    request_rec *r;
    int n, passed, failed, skipped;
} tap_t;

static void tap_line(void *baton, mcp_contract_result_t res, const char *what,
                     const char *why)
{
    tap_t *t = baton;

    t->n++;
    if (res == MCP_CONTRACT_FAIL) {
        t->failed++;
        ap_rprintf(t->r, "not ok %d - %s\n# %s\n", t->n, what, why ? why : "");
    }
    else if (res == MCP_CONTRACT_SKIP) {
        t->skipped++;
        ap_rprintf(t->r, "ok %d - %s # SKIP %s\n", t->n, what, why);
    }
    else {
        t->passed++;
        ap_rprintf(t->r, "ok %d - %s\n%s%s%s", t->n, what, why ? "# " : "",
                   why ? why : "", why ? "\n" : "");
    }
    ap_rflush(t->r);
}

static const char *status_text(apr_pool_t *p, apr_status_t rv)
{
    char buf[120];

    return rv == APR_SUCCESS ? "0"
           : apr_psprintf(p, "%d %s", rv, apr_strerror(rv, buf, sizeof(buf)));
}

static void run_wait(request_rec *r, contract_store_t *cs,
                     const mcp_store_ctx_t *ctx, apr_table_t *args)
{
    const char *ch = apr_table_get(args, "channel");
    const char *until = apr_table_get(args, "until");
    const char *v;
    apr_interval_time_t total = apr_time_from_sec(10), step;
    apr_time_t deadline;
    apr_uint64_t cursor = 0;
    mcp_store_ctx_t c = *ctx;
    apr_pool_t *p;
    apr_status_t rv;
    int count = 100, got = 0;
    char *msg;
    apr_size_t len;

    if ((v = apr_table_get(args, "timeout"))) {
        total = apr_time_from_msec(apr_atoi64(v));
        total = total < 0 ? 0 : total > apr_time_from_sec(30)
                                ? apr_time_from_sec(30) : total;
    }
    if ((v = apr_table_get(args, "count"))) {
        count = atoi(v);
    }
    apr_pool_create(&p, r->pool);
    c.pool = p;
    /* cursor 0 is "now": from here on, nothing published is missed */
    rv = cs->provider->wait(cs->instance, &c, ch, &cursor,
                            apr_time_from_msec(20), &msg, &len);
    if (rv == APR_SUCCESS) {
        ap_rprintf(r, "msg %" APR_SIZE_T_FMT " %s\n", len, msg);
        got++;
    }
    else if (rv != APR_TIMEUP) {
        ap_rprintf(r, "status %s\nend\n", status_text(r->pool, rv));
        return;
    }
    ap_rprintf(r, "ready pid %" APR_PID_T_FMT "\n", getpid());
    ap_rflush(r);
    deadline = apr_time_now() + total;
    while (got < count && !r->connection->aborted) {
        apr_interval_time_t left = deadline - apr_time_now();
        if (left <= 0) {
            break;
        }
        step = left < apr_time_from_sec(1) ? left : apr_time_from_sec(1);
        apr_pool_clear(p);
        rv = cs->provider->wait(cs->instance, &c, ch, &cursor, step, &msg,
                                &len);
        if (rv == APR_SUCCESS) {
            ap_rprintf(r, "msg %" APR_SIZE_T_FMT " %s\n", len, msg);
            got++;
            if (until && !strcmp(msg, until)) {
                break;
            }
        }
        else if (rv == APR_TIMEUP) {
            ap_rputs("tick\n", r);      /* finds a client that went away */
        }
        else if (rv == APR_INCOMPLETE) {
            ap_rputs("incomplete\n", r);
        }
        else {
            ap_rprintf(r, "status %s\n", status_text(r->pool, rv));
            break;
        }
        ap_rflush(r);
    }
    ap_rputs("end\n", r);
}

static int contract_handler(request_rec *r)
{
    test_store_conf_t *c;
    contract_store_t *cs = NULL;
    apr_table_t *args;
    mcp_store_ctx_t ctx;
    const char *name, *op;
    int i;

    if (!r->handler || strcmp(r->handler, "mcp-store-contract")) {
        return DECLINED;
    }
    if (r->method_number != M_GET) {
        return HTTP_METHOD_NOT_ALLOWED;
    }
    c = ap_get_module_config(r->server->module_config, &mcp_test_store_module);
    ap_args_to_table(r, &args);
    name = apr_table_get(args, "store");
    for (i = 0; name && i < c->stores->nelts; i++) {
        if (!strcmp(APR_ARRAY_IDX(c->stores, i, contract_store_t).name, name)) {
            cs = &APR_ARRAY_IDX(c->stores, i, contract_store_t);
        }
    }
    if (!cs) {
        return HTTP_NOT_FOUND;
    }
    ap_set_content_type(r, "text/plain; charset=utf-8");
    ctx.pool = r->pool;
    ctx.s = r->server;
    ctx.r = r;
    op = apr_table_get(args, "op");
    if (!op) {
        tap_t t = { r, 0, 0, 0, 0 };
        apr_time_t start = apr_time_now();

        if (cs->child_rv != APR_SUCCESS) {
            ap_rprintf(r, "not ok 1 - %s started in this child\n1..1\n",
                       cs->spec);
            return OK;
        }
        ap_rprintf(r, "# the store contract suite on %s (%s), pid %"
                   APR_PID_T_FMT "\n", cs->spec, cs->provider->describe
                   ? cs->provider->describe(cs->instance, r->pool) : cs->name,
                   getpid());
        mcp_store_contract_run(cs->provider, cs->instance, &cs->params, &ctx,
                               tap_line, &t);
        ap_rprintf(r, "1..%d\n# %s: %d passed, %d failed, %d skipped in %"
                   APR_TIME_T_FMT " ms\n", t.n, cs->name, t.passed, t.failed,
                   t.skipped, apr_time_as_msec(apr_time_now() - start));
        return OK;
    }
    if (!strcmp(op, "caps")) {
        ap_rprintf(r, "provider %s\nupdate_if %d\npublish %d\nwait %d\n"
                   "max_record %" APR_SIZE_T_FMT "\npid %" APR_PID_T_FMT "\n",
                   cs->provider->name, cs->provider->update_if != NULL,
                   cs->provider->publish != NULL, cs->provider->wait != NULL,
                   cs->provider->max_record
                   ? cs->provider->max_record(cs->instance)
                   : (apr_size_t)MCP_STORE_MAX_RECORD, getpid());
        return OK;
    }
    if (strcmp(op, "publish") && strcmp(op, "wait")) {
        return HTTP_BAD_REQUEST;
    }
    if (!apr_table_get(args, "channel")) {
        return HTTP_BAD_REQUEST;
    }
    if (!cs->provider->publish || !cs->provider->wait) {
        ap_rprintf(r, "absent\npid %" APR_PID_T_FMT "\n", getpid());
        return OK;
    }
    if (!strcmp(op, "publish")) {
        const char *msg = apr_table_get(args, "msg");
        apr_status_t rv;

        if (!msg) {
            return HTTP_BAD_REQUEST;
        }
        rv = cs->provider->publish(cs->instance, &ctx,
                                   apr_table_get(args, "channel"), msg,
                                   strlen(msg));
        ap_rprintf(r, "status %s\npid %" APR_PID_T_FMT "\n",
                   status_text(r->pool, rv), getpid());
        return OK;
    }
    run_wait(r, cs, &ctx, args);
    return OK;
}

static void register_hooks(apr_pool_t *p)
{
    mcp_register_store(p, &mcp_toy_store_provider);
    /* after mod_mcp_session's post_config: the memory store's segment */
    ap_hook_post_config(post_config, NULL, NULL, APR_HOOK_LAST);
    ap_hook_child_init(child_init, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_handler(contract_handler, NULL, NULL, APR_HOOK_MIDDLE);
}

static const command_rec cmds[] = {
    AP_INIT_TAKE2("MCPTestStoreContract", set_contract, NULL, RSRC_CONF,
                  "NAME SPEC: an instance of store provider NAME at SPEC for "
                  "the contract suite (SetHandler mcp-store-contract)"),
    { NULL }
};

AP_DECLARE_MODULE(mcp_test_store) = {
    STANDARD20_MODULE_STUFF,
    NULL, NULL,
    create_srv, NULL,
    cmds,
    register_hooks
};
