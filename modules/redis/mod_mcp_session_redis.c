/* STUB: h-store writes this file (see mcpr.h). */
#include "httpd.h"
#include "http_config.h"
#include "mod_mcp_session.h"
#include "mcpr.h"

static void mcpr_register_hooks(apr_pool_t *p)
{
}

module AP_MODULE_DECLARE_DATA __attribute__((visibility("default")))
mcp_session_redis_module = {
    STANDARD20_MODULE_STUFF,
    NULL, NULL, NULL, NULL, NULL,
    mcpr_register_hooks
};
