/* STUB (h-sqlcore replaces it): see mcpsql.h. */
#include "mcpsql.h"

apr_status_t mcpsql_conn_child_init(mcpsql_t *in, apr_pool_t *pchild)
{ (void)in; (void)pchild; return APR_ENOTIMPL; }
apr_status_t mcpsql_conn_open(mcpsql_call_t *call, mcpsql_t *in,
                              const mcp_store_ctx_t *c)
{ (void)call; (void)in; (void)c; return APR_ENOTIMPL; }
void mcpsql_conn_close(mcpsql_call_t *call)
{ (void)call; }
apr_status_t mcpsql_conn_query(mcpsql_call_t *call, mcpsql_st_e st,
                               int *nrows, int nargs, const char **args)
{ (void)call; (void)st; (void)nrows; (void)nargs; (void)args; return APR_ENOTIMPL; }
apr_status_t mcpsql_conn_select(mcpsql_call_t *call, mcpsql_st_e st,
                                apr_array_header_t **rows, int ncols,
                                int nargs, const char **args)
{ (void)call; (void)st; (void)rows; (void)ncols; (void)nargs; (void)args; return APR_ENOTIMPL; }
void mcpsql_conn_outcome(mcpsql_t *in, const mcp_store_ctx_t *c, apr_status_t rv)
{ (void)in; (void)c; (void)rv; }
void mcpsql_conn_learn_max(mcpsql_t *in, int nmax)
{ (void)in; (void)nmax; }
