/* STUB: h-store writes this file (see mcpr.h). */
#include <stdarg.h>
#include "mcpr.h"

const char *mcpr_url_parse(apr_pool_t *p, const char *spec, mcpr_url_t **out) { *out = NULL; return "not yet"; }
const char *mcpr_url_describe(apr_pool_t *p, const mcpr_url_t *u) { return "redis"; }
