/* STUB (h-sqlmod replaces it): see mcpsql.h. */
#include "mcpsql.h"

static void register_hooks(apr_pool_t *p)
{
    (void)p;
}

AP_DECLARE_MODULE(mcp_session_sql) = {
    STANDARD20_MODULE_STUFF,
    NULL, NULL, NULL, NULL, NULL,
    register_hooks
};
