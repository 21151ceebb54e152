/*
 * Test-only httpd module (never installed), built from include/ alone:
 * t/65-modern.t's long quiet stream.
 *
 *   test_quiet_stream {ms}  sends one progress notification (the request
 *       gives a progressToken), so the answer is an event stream, then
 *       stays quiet for ms milliseconds (at most 30000), asking
 *       mcp_call_cancelled() every 50 ms: the module sends keep-alive
 *       comments meanwhile, and a client that closes the stream stops it
 *       (logged at info: "test_quiet_stream: cancelled after N ms").
 *
 * Built by `make -f Makefile.apxs test-modules`.
 */
#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "apr_strings.h"
#include "mod_mcp_session.h"

static void register_hooks(apr_pool_t *p);

AP_DECLARE_MODULE(mcp_test_modern) = {
    STANDARD20_MODULE_STUFF,
    NULL, NULL, NULL, NULL, NULL,
    register_hooks
};

static apr_status_t quiet_call(mcp_call_t *call, void *baton)
{
    apr_time_t start, end, now;
    apr_status_t rv;
    double ms;

    if (!mcp_call_arg_number(call, "ms", &ms) || ms < 0 || ms > 30000) {
        return mcp_call_tool_error(call, "'ms' must be a number from 0 to "
                                   "30000");
    }
    rv = mcp_call_progress(call, 0, 1, "started");
    if (rv != APR_SUCCESS) {
        return rv;
    }
    start = apr_time_now();
    end = start + apr_time_from_msec((apr_int64_t)ms);
    for (now = start; now < end; now = apr_time_now()) {
        if (mcp_call_cancelled(call)) {
            if (call->r) {
                ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, call->r,
                              "test_quiet_stream: cancelled after %d ms",
                              (int)apr_time_as_msec(now - start));
            }
            return APR_ECONNABORTED;
        }
        apr_sleep(apr_time_from_msec(50));
    }
    return mcp_call_add_text(call, apr_psprintf(call->pool, "quiet for %d ms",
                                                (int)ms));
}

static const mcp_tool_t quiet_tool = {
    "test_quiet_stream", NULL,
    "One progress notification, then quiet for ms milliseconds",
    "{\"type\":\"object\",\"properties\":{\"ms\":{\"type\":\"number\"}},"
    "\"required\":[\"ms\"]}",
    NULL, quiet_call, NULL
};

static void register_hooks(apr_pool_t *p)
{
    mcp_register_tool(p, &quiet_tool);
}
