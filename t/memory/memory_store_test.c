/*
 * The memory store's messages between children and conditional write,
 * across processes: src/stores/mcp_store_memory.c compiled in with stubs
 * for the few httpd functions it calls (as bench/store_memory_bench.c),
 * its segment made as in httpd's parent, then fork(): publish() in one
 * process wakes wait() in others (a futex on Linux), messages of a channel
 * come in publish order, a waiter that wraps behind gets APR_INCOMPLETE,
 * one killed while waiting breaks nothing, update_if() sees another
 * process's write. Run by `make -f Makefile.apxs memory-test` (and unit).
 */
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <sys/wait.h>
#include "../../src/stores/mcp_store_memory.c"

module AP_MODULE_DECLARE_DATA mcp_session_module;   /* module_index 0 */

static mcp_node_stats_t stats;
static void *retained;

mcp_node_stats_t *mcp_node_stats(void)
{
    return &stats;
}

const char *mcp_node_id(void)
{
    return "test";
}

AP_DECLARE(void) ap_log_error_(const char *file, int line, int module_index,
                               int level, apr_status_t status,
                               const server_rec *s, const char *fmt, ...)
{
}

AP_DECLARE(void *) ap_retained_data_get(const char *key)
{
    return retained;
}

AP_DECLARE(void *) ap_retained_data_create(const char *key, apr_size_t size)
{
    return retained = calloc(1, size);
}

AP_DECLARE(apr_status_t) ap_register_provider(apr_pool_t *pool,
                                              const char *provider_group,
                                              const char *provider_name,
                                              const char *provider_version,
                                              const void *provider)
{
    return APR_SUCCESS;
}

AP_DECLARE(void) ap_hook_post_config(ap_HOOK_post_config_t *pf,
                                     const char *const *pre,
                                     const char *const *succ, int order)
{
}

static int tests, failed;

static void ok(int cond, const char *what)
{
    tests++;
    if (!cond) {
        failed++;
    }
    printf("%sok %d - %s\n", cond ? "" : "not ", tests, what);
    fflush(stdout);
}

static void *inst;
static mcp_store_ctx_t ctx;

static apr_status_t pub(const char *channel, const char *msg)
{
    return memory_publish(inst, &ctx, channel, msg, strlen(msg));
}

/* A child: wait on `channel` from *cursor for each of `expect` in turn;
 * exit 0 when all came in order, each within timeout. */
static pid_t waiter(const char *channel, apr_uint64_t cursor,
                    const char *const *expect, apr_interval_time_t timeout)
{
    pid_t pid = fork();
    int i;

    if (pid) {
        return pid;
    }
    for (i = 0; expect[i]; i++) {
        char *msg = NULL;
        apr_size_t len = 0;
        apr_status_t rv = memory_wait(inst, &ctx, channel, &cursor, timeout,
                                      &msg, &len);
        if (rv != APR_SUCCESS || len != strlen(expect[i])
            || strcmp(msg, expect[i])) {
            _exit(1);
        }
    }
    _exit(0);
}

static int exited_ok(pid_t pid)
{
    int status = 0;

    return waitpid(pid, &status, 0) == pid && WIFEXITED(status)
           && WEXITSTATUS(status) == 0;
}

/* the current end of the ring: a cursor that sees what comes next */
static apr_uint64_t now_cursor(void)
{
    apr_uint64_t cursor = 0;
    char *msg;
    apr_size_t len;

    memory_wait(inst, &ctx, "x", &cursor, 0, &msg, &len);
    return cursor;
}

int main(void)
{
    static const char key[] = "00112233445566778899aabbccddeeff"
                              "00112233445566778899aabbccddeeff";
    static const char *const hello[] = { "hello", NULL };
    static const char *const five[] = { "m0", "m1", "m2", "m3", "m4", NULL };
    static const char *const late[] = { "after the kill", NULL };
    static char big[MCP_STORE_MAX_MESSAGE + 1];
    char chan[MCP_STORE_CHANNEL_MAX + 2];
    mcp_store_params_t params = { 0 };
    apr_pool_t *pool, *p;
    process_rec proc;
    server_rec s;
    mcp_srv_conf_t conf;
    void *module_config[1];
    apr_uint64_t cursor, mark;
    apr_time_t t0;
    apr_status_t rv;
    pid_t a, b, c;
    char *msg, *rec;
    apr_size_t len;
    int i;

    apr_initialize();
    apr_pool_create(&pool, NULL);
    apr_pool_create(&p, pool);
    memset(&proc, 0, sizeof(proc));
    memset(&s, 0, sizeof(s));
    memset(&conf, 0, sizeof(conf));
    proc.pool = pool;
    s.process = &proc;
    conf.capacity = 64;
    module_config[0] = &conf;
    s.module_config = (struct ap_conf_vector_t *)module_config;
    ctx.pool = p;
    ctx.s = &s;
    params.ttl = apr_time_from_sec(3600);
    params.handshake_ttl = apr_time_from_sec(60);
    memory_create(&inst, "memory://", &s, pool, pool);
    ok(memory_init(inst, &params, &s, pool, pool) == APR_SUCCESS && seg
       && seg->capacity == 64, "the segment is made with MCPSessionCapacity slots");

    /* --- publish in one process wakes wait in others ------------------- */
    cursor = now_cursor();
    a = waiter("c1", cursor, hello, apr_time_from_sec(10));
    b = waiter("c1", cursor, hello, apr_time_from_sec(10));
    apr_sleep(apr_time_from_msec(200));     /* both asleep by now */
    t0 = apr_time_now();
    ok(pub("c2", "not for c1") == APR_SUCCESS && pub("c1", "hello") == APR_SUCCESS,
       "publish on c2, then on c1");
    ok(exited_ok(a) && exited_ok(b), "two waiting children both get the c1 "
       "message, not the c2 one");
    printf("# woken in %" APR_TIME_T_FMT " ms\n",
           apr_time_as_msec(apr_time_now() - t0));
    ok(apr_time_now() - t0 < apr_time_from_sec(2), "at once, not at their timeout");

    /* --- order; what was published before the wait began --------------- */
    cursor = now_cursor();
    for (i = 0; five[i]; i++) {
        pub("other", "noise");
        pub("c1", five[i]);
    }
    ok(exited_ok(waiter("c1", cursor, five, apr_time_from_sec(5))),
       "five messages published before the wait: all, in publish order");

    /* --- timeout --------------------------------------------------------- */
    cursor = now_cursor();
    mark = cursor;
    pub("other", "noise");
    t0 = apr_time_now();
    rv = memory_wait(inst, &ctx, "c1", &cursor, apr_time_from_msec(100), &msg,
                     &len);
    ok(rv == APR_TIMEUP && apr_time_now() - t0 >= apr_time_from_msec(100)
       && apr_time_now() - t0 < apr_time_from_sec(2),
       "nothing on c1: APR_TIMEUP after the timeout");
    ok(cursor == mark + 1, "and the cursor moved past what it looked at");
    cursor = 0;
    rv = memory_wait(inst, &ctx, "c1", &cursor, 0, &msg, &len);
    ok(rv == APR_TIMEUP && cursor == mark + 1, "cursor 0: from now");

    /* --- a waiter the ring wrapped past ---------------------------------- */
    cursor = now_cursor();
    pub("c1", "dropped");
    for (i = 0; i < (int)RING_SLOTS; i++) {
        pub("other", "noise");
    }
    pub("c1", "kept");
    rv = memory_wait(inst, &ctx, "c1", &cursor, 0, &msg, &len);
    ok(rv == APR_INCOMPLETE, "the ring wrapped past the cursor: APR_INCOMPLETE");
    rv = memory_wait(inst, &ctx, "c1", &cursor, 0, &msg, &len);
    ok(rv == APR_SUCCESS && !strcmp(msg, "kept"),
       "then the messages still in the ring");
    cursor = seg->ring_seq + 5;
    rv = memory_wait(inst, &ctx, "c1", &cursor, 0, &msg, &len);
    ok(rv == APR_INCOMPLETE && cursor == seg->ring_seq,
       "a cursor of another ring (ahead): APR_INCOMPLETE, moved to the end");
    cursor = 1;
    rv = memory_wait(inst, &ctx, "c1", &cursor, 0, &msg, &len);
    ok(rv == APR_INCOMPLETE && cursor == seg->ring_seq - RING_SLOTS,
       "a cursor of an older ring: APR_INCOMPLETE, moved to the oldest kept");

    /* --- a waiter killed while waiting ----------------------------------- */
    cursor = now_cursor();
    c = waiter("c1", cursor, hello, apr_time_from_sec(30));
    apr_sleep(apr_time_from_msec(100));
    kill(c, SIGKILL);
    waitpid(c, NULL, 0);
    a = waiter("c1", cursor, late, apr_time_from_sec(10));
    apr_sleep(apr_time_from_msec(100));
    t0 = apr_time_now();
    pub("c1", "after the kill");
    ok(exited_ok(a) && apr_time_now() - t0 < apr_time_from_sec(2),
       "a waiter killed while asleep: the next one is woken at once");

    /* --- bad input ------------------------------------------------------- */
    memset(big, 'b', sizeof(big));
    ok(memory_publish(inst, &ctx, "c1", big, MCP_STORE_MAX_MESSAGE) == APR_SUCCESS,
       "a message of MCP_STORE_MAX_MESSAGE bytes is published");
    ok(memory_publish(inst, &ctx, "c1", big, MCP_STORE_MAX_MESSAGE + 1) == APR_EINVAL,
       "one byte more: APR_EINVAL");
    memset(chan, 'c', sizeof(chan));
    chan[MCP_STORE_CHANNEL_MAX] = '\0';
    ok(pub(chan, "x") == APR_SUCCESS, "a channel of MCP_STORE_CHANNEL_MAX bytes");
    chan[MCP_STORE_CHANNEL_MAX] = 'c';
    chan[MCP_STORE_CHANNEL_MAX + 1] = '\0';
    cursor = 0;
    ok(pub(chan, "x") == APR_EINVAL && pub("", "x") == APR_EINVAL
       && pub("a b", "x") == APR_EINVAL && pub("\x7f", "x") == APR_EINVAL
       && memory_wait(inst, &ctx, chan, &cursor, 0, &msg, &len) == APR_EINVAL,
       "a longer, empty or invisible channel: APR_EINVAL");

    /* --- update_if across processes -------------------------------------- */
    ok(memory_create_session(inst, &ctx, key, "a", 1) == APR_SUCCESS
       && seg->pending == 1, "a pending session");
    a = fork();
    if (!a) {
        _exit(memory_update(inst, &ctx, key, "bb", 2) == APR_SUCCESS ? 0 : 1);
    }
    ok(exited_ok(a), "another process updates it");
    ok(memory_update_if(inst, &ctx, key, "a", 1, "c", 1) == MCP_STORE_ECHANGED,
       "update_if with the record read before: MCP_STORE_ECHANGED");
    ok(memory_fetch(inst, &ctx, key, &rec, &len) == APR_SUCCESS
       && !strcmp(rec, "bb"), "nothing was written");
    ok(memory_update_if(inst, &ctx, key, "bb", 2, "c", 1) == APR_SUCCESS
       && memory_fetch(inst, &ctx, key, &rec, &len) == APR_SUCCESS
       && !strcmp(rec, "c"), "with the current record: written");
    ok(memory_update_if(inst, &ctx, key, "c", 0, "d", 1) == MCP_STORE_ECHANGED,
       "a prefix of the record is not the record");
    memory_remove(inst, &ctx, key);
    ok(memory_update_if(inst, &ctx, key, "c", 1, "d", 1) == APR_NOTFOUND
       && memory_fetch(inst, &ctx, key, &rec, &len) == APR_NOTFOUND,
       "removed: APR_NOTFOUND, and it stays removed");
    ok(memory_create_session(inst, &ctx, key, "a", 1) == APR_SUCCESS
       && memory_update_if(inst, &ctx, key, "a", 1, "b", 1) == APR_SUCCESS
       && seg->pending == 0, "update_if ends the handshake as update does");

    printf("1..%d\n%d passed, %d failed\n", tests, tests - failed, failed);
    return failed ? 1 : 0;
}
