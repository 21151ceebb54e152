/* STUB: h-conn writes this file (see mcpr.h). */
#include <stdarg.h>
#include "mcpr.h"

const char *mcpr_tls_create(apr_pool_t *p, mcpr_tls_t **out, const char *ca_file, const char *cert_file, const char *key_file, mcpr_verify_e verify, const char *sni) { *out = NULL; return "not yet"; }
