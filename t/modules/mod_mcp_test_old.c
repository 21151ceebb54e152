/*
 * Test-only httpd module (never installed), built from include/ alone as
 * a third-party provider module would be (t/49-api-version.t):
 *
 *   MCPTestRegister tool|resource|prompt|store NAME VERSION
 *       registers a provider under the version string VERSION with
 *       ap_register_provider() directly, as a module built for another
 *       API version would (e.g. "1", "2.2", "3.0"): mod_mcp_session must
 *       refuse it at startup, naming both versions.
 *
 * and, always, a small valid store provider of the current API "latestore" (sessions
 * in the memory of one process: a test with a single child), registered
 * by a module that may be loaded after mod_mcp_session.
 *
 * Built by `make -f Makefile.apxs test-modules`.
 */
#include <string.h>
#include "httpd.h"
#include "http_config.h"
#include "apr_strings.h"
#include "apr_thread_mutex.h"
#include "mod_mcp_session.h"

/* ---- registrations under any version ---------------------------------- */

static apr_status_t old_call(mcp_call_t *call, void *baton)
{
    return mcp_call_add_text(call, "registered by mod_mcp_test_old");
}

static apr_status_t old_read(mcp_call_t *call, const char *uri, void *baton)
{
    return mcp_call_add_text(call, "registered by mod_mcp_test_old");
}

static const mcp_store_provider_t late_provider;

static const char *set_register(cmd_parms *cmd, void *dc, const char *kind,
                                const char *name, const char *version)
{
    const char *group;
    void *prov;

    if (!strcmp(kind, "tool")) {
        mcp_tool_t *t = apr_pcalloc(cmd->pool, sizeof(*t));
        t->name = name;
        t->description = "a tool of mod_mcp_test_old";
        t->call = old_call;
        group = MCP_TOOL_PROVIDER_GROUP;
        prov = t;
    }
    else if (!strcmp(kind, "resource")) {
        mcp_resource_t *res = apr_pcalloc(cmd->pool, sizeof(*res));
        res->uri = name;
        res->name = "old";
        res->read = old_read;
        group = MCP_RESOURCE_PROVIDER_GROUP;
        prov = res;
    }
    else if (!strcmp(kind, "prompt")) {
        mcp_prompt_t *pr = apr_pcalloc(cmd->pool, sizeof(*pr));
        pr->name = name;
        pr->get = old_call;
        group = MCP_PROMPT_PROVIDER_GROUP;
        prov = pr;
    }
    else if (!strcmp(kind, "store")) {
        /* a working store: were it taken, the server would start */
        mcp_store_provider_t *sp = apr_pmemdup(cmd->pool, &late_provider,
                                               sizeof(late_provider));
        sp->name = name;
        group = MCP_STORE_PROVIDER_GROUP;
        prov = sp;
    }
    else {
        return "MCPTestRegister: tool, resource, prompt or store";
    }
    return ap_register_provider(cmd->pool, group, name, version, prov)
           == APR_SUCCESS ? NULL : "MCPTestRegister: ap_register_provider failed";
}

/* ---- latestore: sessions in this process ------------------------------ */

#define LATE_SLOTS  64
#define LATE_MAX    4096

static struct {
    char key[MCP_STORE_KEY_LEN + 1];    /* "": free */
    apr_size_t len;
    char rec[LATE_MAX];
} late[LATE_SLOTS];
static apr_thread_mutex_t *late_lock;

static const char *late_create(void **instance, const char *spec,
                               struct server_rec *s, apr_pool_t *p,
                               apr_pool_t *ptemp)
{
    *instance = apr_pstrdup(p, spec);
    return NULL;
}

static apr_status_t late_init(void *instance, const mcp_store_params_t *params,
                              struct server_rec *s, apr_pool_t *pconf,
                              apr_pool_t *ptemp)
{
    return APR_SUCCESS;
}

static apr_status_t late_child_init(void *instance, struct server_rec *s,
                                    apr_pool_t *pchild)
{
    return apr_thread_mutex_create(&late_lock, APR_THREAD_MUTEX_DEFAULT,
                                   pchild);
}

static apr_size_t late_max_record(void *instance)
{
    return LATE_MAX;
}

static int late_find(const char *key)
{
    int i;
    for (i = 0; i < LATE_SLOTS; i++) {
        if (!strcmp(late[i].key, key)) {
            return i;
        }
    }
    return -1;
}

static apr_status_t late_write(const char *key, const char *record,
                               apr_size_t len, int create)
{
    apr_status_t rv = APR_SUCCESS;
    int i;

    if (len > LATE_MAX || strlen(key) != MCP_STORE_KEY_LEN) {
        return APR_EINVAL;
    }
    apr_thread_mutex_lock(late_lock);
    i = late_find(create ? "" : key);
    if (i < 0) {
        rv = create ? APR_ENOSPC : APR_NOTFOUND;
        goto leave;
    }
    memcpy(late[i].key, key, MCP_STORE_KEY_LEN + 1);
    memcpy(late[i].rec, record, len);
    late[i].len = len;
leave:
    apr_thread_mutex_unlock(late_lock);
    return rv;
}

static apr_status_t late_create_session(void *instance,
                                        const mcp_store_ctx_t *c,
                                        const char *key, const char *record,
                                        apr_size_t len)
{
    return late_write(key, record, len, 1);
}

static apr_status_t late_update(void *instance, const mcp_store_ctx_t *c,
                                const char *key, const char *record,
                                apr_size_t len)
{
    return late_write(key, record, len, 0);
}

static apr_status_t late_fetch(void *instance, const mcp_store_ctx_t *c,
                               const char *key, char **record,
                               apr_size_t *len)
{
    apr_status_t rv = APR_SUCCESS;
    int i;

    apr_thread_mutex_lock(late_lock);
    i = *key ? late_find(key) : -1;
    if (i < 0) {
        rv = APR_NOTFOUND;
    }
    else {
        *record = apr_pstrmemdup(c->pool, late[i].rec, late[i].len);
        *len = late[i].len;
    }
    apr_thread_mutex_unlock(late_lock);
    return rv;
}

static apr_status_t late_remove(void *instance, const mcp_store_ctx_t *c,
                                const char *key)
{
    apr_status_t rv = APR_SUCCESS;
    int i;

    apr_thread_mutex_lock(late_lock);
    i = *key ? late_find(key) : -1;
    if (i < 0) {
        rv = APR_NOTFOUND;
    }
    else {
        late[i].key[0] = '\0';
    }
    apr_thread_mutex_unlock(late_lock);
    return rv;
}

static const char *late_describe(void *instance, apr_pool_t *p)
{
    return apr_psprintf(p, "latestore (this process) %s",
                        (const char *)instance);
}

static const mcp_store_provider_t late_provider = {
    "latestore",
    late_create,
    late_init,
    late_child_init,
    late_max_record,
    late_create_session,
    late_fetch,
    late_update,
    late_remove,
    late_describe,
    NULL,
    NULL,
    NULL,
    NULL,
    NULL
};

static void register_hooks(apr_pool_t *p)
{
    mcp_register_store(p, &late_provider);
}

static const command_rec cmds[] = {
    AP_INIT_TAKE3("MCPTestRegister", set_register, NULL, RSRC_CONF,
                  "tool|resource|prompt|store NAME VERSION: register a "
                  "provider under VERSION"),
    { NULL }
};

module AP_MODULE_DECLARE_DATA mcp_test_old_module = {
    STANDARD20_MODULE_STUFF,
    NULL,
    NULL,
    NULL,
    NULL,
    cmds,
    register_hooks
};
