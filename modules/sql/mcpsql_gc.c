/* STUB (h-sqlmod replaces it): see mcpsql.h. */
#include "mcpsql.h"

apr_status_t mcpsql_gc_register(mcpsql_t *in, server_rec *s, apr_pool_t *pconf)
{ (void)in; (void)s; (void)pconf; return APR_ENOTIMPL; }
