/* STUB (h-sqlcore replaces it): see mcpsql.h. */
#include "mcpsql.h"

const char *mcpsql_sql_table_problem(const char *table)
{ (void)table; return "not implemented"; }
const mcpsql_sql_t *mcpsql_sql_make(apr_pool_t *p, mcpsql_dialect_e dialect,
                                    const char *table, mcpsql_create_e create,
                                    apr_interval_time_t statement_timeout)
{ (void)p; (void)dialect; (void)table; (void)create; (void)statement_timeout; return NULL; }
mcpsql_dialect_e mcpsql_sql_dialect(const char *driver_name)
{ (void)driver_name; return MCPSQL_DIALECT_UNKNOWN; }
