/*
 * mod_mcp_session_sql: a session store provider ("sql") on mod_dbd's
 * connections (issue 14; README "The SQL store (mod_mcp_session_sql)").
 * Built from include/ alone, as a third party's module would be.
 *
 *   MCPSessionStorageMode external
 *   MCPSessionStore sql://[schema.]table      (default table: mcp_session)
 *   + DBDriver pgsql|sqlite3, DBDParams ..., DBDMin/DBDKeep/DBDMax
 *     in the same virtual host (mod_dbd's pool for that host).
 *
 * Layers, one file each (exported names carry the file's prefix):
 *   mcpsql_sql.c   the SQL text of every statement and the DDL, per
 *                  dialect (pgsql, sqlite3); table name checks.
 *   mcpsql_conn.c  one store call on one connection: the timed gate in
 *                  front of mod_dbd's pool, ap_dbd_open/ap_dbd_close
 *                  (never ap_dbd_acquire: a request must not hold a
 *                  connection), statements prepared per connection and
 *                  prepared again on a connection that lost them (the
 *                  PQreset trap), one retry after apr_dbd_check_conn,
 *                  random=1 selects only (the pgsql sequential-select
 *                  trap), the outage state, per-child counters.
 *   mcpsql_store.c the provider's data calls on top of mcpsql_conn
 *                  (create_session, fetch (+touch when due), update,
 *                  update_if, remove).
 *   mcpsql_gc.c    expired rows deleted by a mod_watchdog singleton in
 *                  one child per node, gated by a row of <table>_gc so
 *                  that one node per interval does it across a fleet;
 *                  its counters in shared memory (any child shows them).
 *   mod_mcp_session_sql.c  module record, directives, the provider
 *                  struct and its registration, create()/init()/
 *                  child_init()/describe()/healthy()/status(), the
 *                  dbd_post_connect hook (learns DBDMax, warns about
 *                  DBDParams without connect_timeout).
 *
 * Schema (the provider's DDL, README gives it per driver):
 *   <table>(key text PRIMARY KEY            -- prefix + 64 hex
 *           record text NOT NULL            -- opaque JSON
 *           expires <timestamp>             -- the database's clock
 *           life integer NOT NULL)          -- ms the row slides by on a
 *                                           -- fetch: handshake_ttl from
 *                                           -- create, ttl from update
 *   <table>_gc(id int PRIMARY KEY CHECK (id = 1), last_run <timestamp>)
 * pgsql: expires timestamptz, now(); sqlite3: expires integer ms since
 * the epoch, from julianday('now') (Debian 12 has SQLite 3.40: no
 * unixepoch('subsec')). Every statement tests `expires > now`, so an
 * expired row is invisible; cleanup only reclaims space.
 *
 * Statements (one round trip each; %-placeholders are apr_dbd's):
 *   create   INSERT ... ON CONFLICT (key) DO UPDATE ... WHERE the old row
 *            expired OR it holds the same record (a retry after a lost
 *            reply): 1 row = created, 0 = APR_EEXIST
 *   fetch    SELECT record, due FROM t WHERE key = %s AND expires > now
 *            (due: more than refresh_after since the last write); when due,
 *   touch    UPDATE t SET expires = now + life WHERE key AND expires > now
 *            (0 rows: removed meanwhile → APR_NOTFOUND)
 *            with MCPSessionRefreshAfter 0: one UPDATE ... RETURNING record
 *   update   UPDATE t SET record, expires = now + ttl, life = ttl
 *            WHERE key AND expires > now (never inserts: cannot revive)
 *   update_if  the same AND record = expected; 0 rows → a SELECT tells
 *            APR_NOTFOUND from MCP_STORE_ECHANGED
 *   remove   DELETE ... RETURNING (expires > now): a live row = SUCCESS
 *   gc       pgsql: the gate row UPDATE and a DELETE ... LIMIT n FOR
 *            UPDATE SKIP LOCKED in one CTE; sqlite3: plain DELETE
 *            (as built: two statements, so that a tick can tell "another
 *            node had the interval" from "nothing expired", alike in both
 *            dialects:)
 *   gc_gate  UPDATE <table>_gc SET last_run = now WHERE id = 1 AND
 *            last_run < now - %d ms (query; args: the gate in ms as text;
 *            1 row = this node runs the interval, 0 = another node did)
 *   gc       DELETE FROM t WHERE key IN (SELECT key FROM t WHERE expires
 *            < now LIMIT %d [pgsql: FOR UPDATE SKIP LOCKED]) (query;
 *            args: the batch as text; nrows = rows deleted)
 * publish/wait are NULL: apr_dbd cannot receive LISTEN/NOTIFY (README).
 *
 * Errors: only a statement that succeeded with 0 rows is a miss; every
 * error is APR_EGENERAL (503 with Retry-After), logged with the driver's
 * text (rate-limited); no free connection before the deadline is
 * APR_EAGAIN (busy). Log tags MCPS01100-MCPS01199:
 *   01100-01119 mod_mcp_session_sql.c   01120-01159 mcpsql_conn.c
 *   01160-01179 mcpsql_store.c          01180-01199 mcpsql_gc.c
 */
#ifndef MCPSQL_H
#define MCPSQL_H

#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "apr_dbd.h"
#include "apr_shm.h"
#include "apr_thread_mutex.h"
#include "apr_thread_cond.h"
#include "mod_dbd.h"
#include "mcp_session_store.h"

#define MCPSQL_PROVIDER        "sql"
#define MCPSQL_DEFAULT_TABLE   "mcp_session"
#define MCPSQL_TABLE_MAX       63          /* PostgreSQL's identifier limit */
#define MCPSQL_DEFAULT_CLEANUP apr_time_from_sec(60)
#define MCPSQL_DEFAULT_BATCH   1000

#define MCPSQLLOG(n) "MCPS" #n ": "

typedef enum {
    MCPSQL_DIALECT_UNKNOWN = 0,     /* until the first connection says */
    MCPSQL_DIALECT_PGSQL,
    MCPSQL_DIALECT_SQLITE3
} mcpsql_dialect_e;

typedef enum {
    MCPSQL_CREATE_LOGGED = 0,       /* MCPSessionSQLCreateTable (default) */
    MCPSQL_CREATE_UNLOGGED,
    MCPSQL_CREATE_OFF
} mcpsql_create_e;

/* The statements, indexes into mcpsql_sql_t.text. */
typedef enum {
    MCPSQL_ST_CREATE = 0,
    MCPSQL_ST_FETCH,
    MCPSQL_ST_FETCH_TOUCH,          /* refresh_after 0: UPDATE ... RETURNING */
    MCPSQL_ST_TOUCH,
    MCPSQL_ST_UPDATE,
    MCPSQL_ST_UPDATE_IF,
    MCPSQL_ST_EXISTS,               /* after update_if hit 0 rows */
    MCPSQL_ST_REMOVE,
    MCPSQL_ST_GC,
    MCPSQL_ST_GC_GATE,              /* see "gc_gate" above */
    MCPSQL_ST_COUNT
} mcpsql_st_e;

/* The statements of one table in one dialect (mcpsql_sql.c). */
typedef struct mcpsql_sql_t {
    const char *text[MCPSQL_ST_COUNT];
    const char *label[MCPSQL_ST_COUNT]; /* "mcpsql_<table hash>_<op>" */
    const char *ddl;                     /* CREATE ... IF NOT EXISTS; */
    const char *session_setup;           /* per connection, or NULL (pgsql:
                                          * statement_timeout) */
} mcpsql_sql_t;

/* Per-child counters (mod_status of the child that answers). */
typedef struct mcpsql_counters_t {
    volatile apr_uint32_t calls, errors, misses, touches, retries,
                          prepared, busy, refused;
} mcpsql_counters_t;

/* Shared by the children of one node (anonymous shm made in init()). */
typedef struct mcpsql_shared_t {
    volatile apr_uint32_t gc_runs;        /* ticks that ran the delete */
    volatile apr_uint32_t gc_skipped;     /* another node had the interval */
    volatile apr_uint32_t gc_rows;        /* rows deleted */
    volatile apr_uint32_t gc_errors;
    apr_time_t gc_last;                   /* last tick that ran, or 0 */
    /* the outage state of the node (mcpsql_conn.c): a failure in one
     * child makes every child fail fast until the next probe; times are
     * a 32-bit millisecond clock, compared by their wrapping difference */
    volatile apr_uint32_t down;           /* 1: the latest call failed */
    volatile apr_uint32_t probe_at;       /* no call before this (ms) */
} mcpsql_shared_t;

/* One provider instance: one MCPSessionStore value in one host. */
typedef struct mcpsql_t {
    /* from create() and the module's directives */
    const char *spec;                     /* "sql://table" */
    const char *table;                    /* validated, maybe schema.table */
    server_rec *s;                        /* the host whose mod_dbd pool it uses */
    int prepared;                         /* MCPSessionSQLPrepared (default 1) */
    mcpsql_create_e create;               /* MCPSessionSQLCreateTable */
    apr_interval_time_t cleanup;          /* MCPSessionSQLCleanup; 0: off */
    int batch;                            /* MCPSessionSQLCleanupBatch */
    const char *driver;                   /* DBDriver of s, or NULL */
    /* from init() */
    mcp_store_params_t params;
    mcpsql_shared_t *shared;
    apr_shm_t *shm;
    /* per child (child_init; in an unmanaged root pool that outlives pchild:
     * prefork's just_die destroys pchild while a call may run) */
    apr_pool_t *cpool;
    apr_thread_mutex_t *lock;             /* the gate, the dialect, the outage */
    apr_thread_cond_t *freed;
    int inflight, slots;                  /* the gate: slots = DBDMax as learned
                                           * from dbd_post_connect, else
                                           * ThreadsPerChild */
    mcpsql_dialect_e dialect;
    const mcpsql_sql_t *sql;              /* for dialect, once known */
    int schema_ok;                        /* the table is there (checked or
                                           * created) in this child */
    apr_time_t down_since;                /* 0: healthy */
    apr_time_t next_probe;
    apr_time_t next_log;
    mcpsql_counters_t n;
} mcpsql_t;

/* ---- mcpsql_sql.c ---- */
/* NULL when `table` ([schema.]identifier, [A-Za-z_][A-Za-z0-9_]*, at most
 * MCPSQL_TABLE_MAX each) is fine, else why not. */
const char *mcpsql_sql_table_problem(const char *table);
/* The statements and DDL of `table` in `dialect`, from p. */
const mcpsql_sql_t *mcpsql_sql_make(apr_pool_t *p, mcpsql_dialect_e dialect,
                                    const char *table, mcpsql_create_e create,
                                    apr_interval_time_t statement_timeout);
/* The dialect of an apr_dbd driver name ("pgsql", "sqlite3"), or UNKNOWN. */
mcpsql_dialect_e mcpsql_sql_dialect(const char *driver_name);

/* ---- mcpsql_conn.c ---- */
/* One call's connection. */
typedef struct mcpsql_call_t {
    mcpsql_t *in;
    const mcp_store_ctx_t *c;
    ap_dbd_t *rec;                        /* checked out, or NULL */
    apr_time_t deadline;
    int retried;
} mcpsql_call_t;

apr_status_t mcpsql_conn_child_init(mcpsql_t *in, apr_pool_t *pchild);
/* Check a connection out (timed gate, ap_dbd_open; learns the dialect,
 * sets the connection up, makes the table when missing). APR_EAGAIN:
 * no free slot before the deadline; APR_ECONNREFUSED: mod_dbd gave none;
 * a fast failure while the store is down (one probe at a time). */
apr_status_t mcpsql_conn_open(mcpsql_call_t *call, mcpsql_t *in,
                              const mcp_store_ctx_t *c);
void mcpsql_conn_close(mcpsql_call_t *call);
/* Run statement `st` (prepared on this connection if needed) with nargs
 * text arguments. query: *nrows set. select: random=1, every row read;
 * the rows' columns copied into c->pool: *rows is an array of
 * (const char **) of ncols each. On an error: apr_dbd_check_conn,
 * prepare again, run once more; then APR_EGENERAL (logged). */
apr_status_t mcpsql_conn_query(mcpsql_call_t *call, mcpsql_st_e st,
                               int *nrows, int nargs, const char **args);
apr_status_t mcpsql_conn_select(mcpsql_call_t *call, mcpsql_st_e st,
                                apr_array_header_t **rows, int ncols,
                                int nargs, const char **args);
/* Record the outcome for healthy()/the outage log. */
void mcpsql_conn_outcome(mcpsql_t *in, const mcp_store_ctx_t *c, apr_status_t rv);
/* dbd_post_connect told DBDMax for the host of `s`. */
void mcpsql_conn_learn_max(mcpsql_t *in, int nmax);

/* ---- mcpsql_store.c ---- the provider's data calls (the provider
 * struct itself, with create/init/child_init/describe/healthy/status, is
 * in mod_mcp_session_sql.c). Each one: mcpsql_conn_open, its statements,
 * mcpsql_conn_close, mcpsql_conn_outcome. */
apr_status_t mcpsql_store_create_session(void *instance, const mcp_store_ctx_t *c,
                                         const char *key, const char *record,
                                         apr_size_t len);
apr_status_t mcpsql_store_fetch(void *instance, const mcp_store_ctx_t *c,
                                const char *key, char **record, apr_size_t *len);
apr_status_t mcpsql_store_update(void *instance, const mcp_store_ctx_t *c,
                                 const char *key, const char *record,
                                 apr_size_t len);
apr_status_t mcpsql_store_update_if(void *instance, const mcp_store_ctx_t *c,
                                    const char *key, const char *expected,
                                    apr_size_t expected_len, const char *record,
                                    apr_size_t len);
apr_status_t mcpsql_store_remove(void *instance, const mcp_store_ctx_t *c,
                                 const char *key);

/* ---- mod_mcp_session_sql.c ---- */
extern module AP_MODULE_DECLARE_DATA mcp_session_sql_module;

/* ---- mcpsql_gc.c ---- */
/* post_config: register the watchdog callback of every instance with
 * cleanup on (needs mod_watchdog: a clear error when missing). */
apr_status_t mcpsql_gc_register(mcpsql_t *in, server_rec *s, apr_pool_t *pconf);

#endif
