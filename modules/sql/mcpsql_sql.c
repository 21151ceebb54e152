/*
 * mcpsql_sql.c: the SQL text of every statement and of the DDL, per
 * dialect (mcpsql.h has the plan). Nothing here talks to a database.
 *
 * apr_dbd's placeholder rules: any `%` followed by a letter is a
 * placeholder, `%%` a literal `%`. The table name goes in with
 * apr_psprintf, so the templates below write apr_dbd's placeholders as
 * `%%s`, `%%lld`. Durations travel as integers of milliseconds (`%%lld`,
 * cast in SQL: SQLite binds every value as text).
 *
 * Arguments, in order, of each statement (mcpsql_store.c, mcpsql_gc.c):
 *   CREATE       key, record, life ms, life ms      query: 1 row or 0
 *   FETCH        refresh ms, key                    select: record, due (1|0)
 *   FETCH_TOUCH  key                                select: record
 *   TOUCH        key                                query
 *   UPDATE       record, ttl ms, ttl ms, key        query
 *   UPDATE_IF    record, ttl ms, ttl ms, key, expected   query
 *   EXISTS       key                                select: 1
 *   REMOVE       key                                select: live (1|0)
 *   GC_GATE      gate ms                            query: 1 row = this node
 *                runs the interval, 0 = another node did (mcpsql_gc.c)
 *   GC           batch                              query: rows deleted
 *
 * "due": the row was last written (or slid) more than the refresh time
 * ago, the refresh time being the lesser of MCPSessionRefreshAfter and
 * half the row's life (a handshake session lives handshake_ttl, maybe
 * less than RefreshAfter, and must slide too).
 */
#include "mcpsql.h"

#include "apr_strings.h"
#include "apr_hash.h"

#include <string.h>

/* SQLite: integer milliseconds since the epoch, from the database's
 * clock (no %: strftime would need %%s doubled twice). */
#define SQLITE_NOW "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)"
#define PG_MS      " * interval '1 millisecond'"

static const char *const op_name[MCPSQL_ST_COUNT] = {
    "create", "fetch", "fetch_touch", "touch", "update", "update_if",
    "exists", "remove", "gc", "gc_gate"
};

static int ident_ok(const char *s, apr_size_t n)
{
    apr_size_t i;

    if (n == 0 || n > MCPSQL_TABLE_MAX) {
        return 0;
    }
    for (i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || ch == '_'
              || (i > 0 && ch >= '0' && ch <= '9'))) {
            return 0;
        }
    }
    return 1;
}

/* PostgreSQL's reserved keywords (reserved, and reserved but allowed as
 * a function or type name): not a table or schema name unquoted, so a
 * name among them would pass the character check and then fail every
 * statement at run time (503 for every call) instead of at startup. */
static const char *const reserved[] = {
    "all", "analyse", "analyze", "and", "any", "array", "as", "asc",
    "asymmetric", "authorization", "binary", "both", "case", "cast",
    "check", "collate", "collation", "column", "concurrently",
    "constraint", "create", "cross", "current_catalog", "current_date",
    "current_role", "current_schema", "current_time", "current_timestamp",
    "current_user", "default", "deferrable", "desc", "distinct", "do",
    "else", "end", "except", "false", "fetch", "for", "foreign", "freeze",
    "from", "full", "grant", "group", "having", "ilike", "in", "initially",
    "inner", "intersect", "into", "is", "isnull", "join", "lateral",
    "leading", "left", "like", "limit", "localtime", "localtimestamp",
    "natural", "not", "notnull", "null", "offset", "on", "only", "or",
    "order", "outer", "overlaps", "placing", "primary", "references",
    "returning", "right", "select", "session_user", "similar", "some",
    "symmetric", "system_user", "table", "tablesample", "then", "to",
    "trailing", "true", "union", "unique", "user", "using", "variadic",
    "verbose", "when", "where", "window", "with", NULL
};

static int ident_reserved(const char *s, apr_size_t n)
{
    int i;

    for (i = 0; reserved[i]; i++) {
        if (strlen(reserved[i]) == n && !strncasecmp(s, reserved[i], n)) {
            return 1;
        }
    }
    return 0;
}

const char *mcpsql_sql_table_problem(const char *table)
{
    const char *dot;
    apr_size_t n;

    if (!table || !*table) {
        return "the table name is empty";
    }
    dot = strchr(table, '.');
    n = strlen(table);
    if (dot) {
        if (strchr(dot + 1, '.')) {
            return "at most one dot (schema.table)";
        }
        if (!ident_ok(table, (apr_size_t)(dot - table))
            || !ident_ok(dot + 1, n - (apr_size_t)(dot - table) - 1)) {
            return "schema and table must each be [A-Za-z_][A-Za-z0-9_]*, "
                   "at most 63 characters";
        }
        if (ident_reserved(table, (apr_size_t)(dot - table))
            || ident_reserved(dot + 1, n - (apr_size_t)(dot - table) - 1)) {
            return "schema and table must not be SQL reserved words "
                   "(user, order, table, ...)";
        }
        /* <table>_gc must fit too */
        if (n - (apr_size_t)(dot - table) - 1 + 3 > MCPSQL_TABLE_MAX) {
            return "the table name must leave room for its \"_gc\" table "
                   "(at most 60 characters)";
        }
        return NULL;
    }
    if (!ident_ok(table, n)) {
        return "the table name must be [A-Za-z_][A-Za-z0-9_]*, at most 63 "
               "characters";
    }
    if (ident_reserved(table, n)) {
        return "the table name must not be an SQL reserved word (user, "
               "order, table, ...)";
    }
    if (n + 3 > MCPSQL_TABLE_MAX) {
        return "the table name must leave room for its \"_gc\" table "
               "(at most 60 characters)";
    }
    return NULL;
}

mcpsql_dialect_e mcpsql_sql_dialect(const char *driver_name)
{
    if (driver_name && !strcmp(driver_name, "pgsql")) {
        return MCPSQL_DIALECT_PGSQL;
    }
    if (driver_name && !strcmp(driver_name, "sqlite3")) {
        return MCPSQL_DIALECT_SQLITE3;
    }
    return MCPSQL_DIALECT_UNKNOWN;
}

static void make_pgsql(apr_pool_t *p, mcpsql_sql_t *q, const char *t,
                       mcpsql_create_e create, apr_interval_time_t timeout)
{
    const char *live = "expires > now()";

    q->text[MCPSQL_ST_CREATE] = apr_psprintf(p,
        "INSERT INTO %s AS o (key, record, expires, life) "
        "VALUES (%%s, %%s, now() + %%lld" PG_MS ", %%lld) "
        "ON CONFLICT (key) DO UPDATE SET record = EXCLUDED.record, "
        "expires = EXCLUDED.expires, life = EXCLUDED.life "
        "WHERE o.expires <= now() OR o.record = EXCLUDED.record", t);
    q->text[MCPSQL_ST_FETCH] = apr_psprintf(p,
        "SELECT record, CASE WHEN expires < now() + "
        "(life - LEAST(%%lld, life / 2))" PG_MS " THEN 1 ELSE 0 END "
        "FROM %s WHERE key = %%s AND %s", t, live);
    q->text[MCPSQL_ST_FETCH_TOUCH] = apr_psprintf(p,
        "UPDATE %s SET expires = now() + life" PG_MS " "
        "WHERE key = %%s AND %s RETURNING record", t, live);
    q->text[MCPSQL_ST_TOUCH] = apr_psprintf(p,
        "UPDATE %s SET expires = now() + life" PG_MS " "
        "WHERE key = %%s AND %s", t, live);
    q->text[MCPSQL_ST_UPDATE] = apr_psprintf(p,
        "UPDATE %s SET record = %%s, expires = now() + %%lld" PG_MS ", "
        "life = %%lld WHERE key = %%s AND %s", t, live);
    q->text[MCPSQL_ST_UPDATE_IF] = apr_psprintf(p,
        "UPDATE %s SET record = %%s, expires = now() + %%lld" PG_MS ", "
        "life = %%lld WHERE key = %%s AND %s AND record = %%s", t, live);
    q->text[MCPSQL_ST_EXISTS] = apr_psprintf(p,
        "SELECT 1 FROM %s WHERE key = %%s AND %s", t, live);
    q->text[MCPSQL_ST_REMOVE] = apr_psprintf(p,
        "DELETE FROM %s WHERE key = %%s "
        "RETURNING CASE WHEN %s THEN 1 ELSE 0 END", t, live);
    /* the gate row makes it one run per interval across the fleet */
    q->text[MCPSQL_ST_GC_GATE] = apr_psprintf(p,
        "UPDATE %s_gc SET last_run = now() WHERE id = 1 AND "
        "last_run < now() - %%lld" PG_MS, t);
    /* SKIP LOCKED: a row a data call holds is left for the next batch */
    q->text[MCPSQL_ST_GC] = apr_psprintf(p,
        "DELETE FROM %s WHERE key IN (SELECT key FROM %s WHERE "
        "expires <= now() LIMIT %%d FOR UPDATE SKIP LOCKED)", t, t);
    /* statements separated by ";\n" (mcpsql_conn.c runs them one by one);
     * no index on expires: it would make every slide a non-HOT update */
    q->ddl = apr_psprintf(p,
        "CREATE %sTABLE IF NOT EXISTS %s (key text COLLATE \"C\" PRIMARY KEY, "
        "record text NOT NULL, expires timestamptz NOT NULL, "
        "life bigint NOT NULL) WITH (fillfactor = 80);\n"
        "CREATE %sTABLE IF NOT EXISTS %s_gc (id integer PRIMARY KEY "
        "CHECK (id = 1), last_run timestamptz NOT NULL);\n"
        "INSERT INTO %s_gc (id, last_run) VALUES (1, '-infinity') "
        "ON CONFLICT DO NOTHING",
        create == MCPSQL_CREATE_UNLOGGED ? "UNLOGGED " : "", t,
        create == MCPSQL_CREATE_UNLOGGED ? "UNLOGGED " : "", t, t);
    /* per connection, done again after a reconnect (DBDInitSQL is not) */
    q->session_setup = apr_psprintf(p,
        "SELECT set_config('statement_timeout', '%" APR_INT64_T_FMT "', false)",
        (apr_int64_t)(timeout > 0 ? apr_time_as_msec(timeout) : 0));
}

static void make_sqlite3(apr_pool_t *p, mcpsql_sql_t *q, const char *t)
{
    const char *live = "expires > " SQLITE_NOW;

    q->text[MCPSQL_ST_CREATE] = apr_psprintf(p,
        "INSERT INTO %s AS o (key, record, expires, life) "
        "VALUES (%%s, %%s, " SQLITE_NOW " + CAST(%%lld AS INTEGER), "
        "CAST(%%lld AS INTEGER)) "
        "ON CONFLICT (key) DO UPDATE SET record = excluded.record, "
        "expires = excluded.expires, life = excluded.life "
        "WHERE o.expires <= " SQLITE_NOW " OR o.record = excluded.record", t);
    q->text[MCPSQL_ST_FETCH] = apr_psprintf(p,
        "SELECT record, CASE WHEN expires < " SQLITE_NOW " + life - "
        "min(CAST(%%lld AS INTEGER), life / 2) THEN 1 ELSE 0 END "
        "FROM %s WHERE key = %%s AND %s", t, live);
    q->text[MCPSQL_ST_FETCH_TOUCH] = apr_psprintf(p,
        "UPDATE %s SET expires = " SQLITE_NOW " + life "
        "WHERE key = %%s AND %s RETURNING record", t, live);
    q->text[MCPSQL_ST_TOUCH] = apr_psprintf(p,
        "UPDATE %s SET expires = " SQLITE_NOW " + life "
        "WHERE key = %%s AND %s", t, live);
    q->text[MCPSQL_ST_UPDATE] = apr_psprintf(p,
        "UPDATE %s SET record = %%s, expires = " SQLITE_NOW " + "
        "CAST(%%lld AS INTEGER), life = CAST(%%lld AS INTEGER) "
        "WHERE key = %%s AND %s", t, live);
    q->text[MCPSQL_ST_UPDATE_IF] = apr_psprintf(p,
        "UPDATE %s SET record = %%s, expires = " SQLITE_NOW " + "
        "CAST(%%lld AS INTEGER), life = CAST(%%lld AS INTEGER) "
        "WHERE key = %%s AND %s AND record = %%s", t, live);
    q->text[MCPSQL_ST_EXISTS] = apr_psprintf(p,
        "SELECT 1 FROM %s WHERE key = %%s AND %s", t, live);
    q->text[MCPSQL_ST_REMOVE] = apr_psprintf(p,
        "DELETE FROM %s WHERE key = %%s "
        "RETURNING CASE WHEN %s THEN 1 ELSE 0 END", t, live);
    q->text[MCPSQL_ST_GC_GATE] = apr_psprintf(p,
        "UPDATE %s_gc SET last_run = " SQLITE_NOW " WHERE id = 1 AND "
        "last_run < " SQLITE_NOW " - CAST(%%lld AS INTEGER)", t);
    q->text[MCPSQL_ST_GC] = apr_psprintf(p,
        "DELETE FROM %s WHERE key IN (SELECT key FROM %s WHERE "
        "expires <= " SQLITE_NOW " LIMIT CAST(%%d AS INTEGER))", t, t);
    /* WAL: readers of other children do not block a write (a best
     * effort, mcpsql_conn.c ignores its outcome; it stays in the file) */
    q->ddl = apr_psprintf(p,
        "PRAGMA journal_mode = WAL;\n"
        "CREATE TABLE IF NOT EXISTS %s (key TEXT PRIMARY KEY, "
        "record TEXT NOT NULL, expires INTEGER NOT NULL, "
        "life INTEGER NOT NULL) WITHOUT ROWID;\n"
        "CREATE TABLE IF NOT EXISTS %s_gc (id INTEGER PRIMARY KEY "
        "CHECK (id = 1), last_run INTEGER NOT NULL);\n"
        "INSERT INTO %s_gc (id, last_run) VALUES (1, 0) "
        "ON CONFLICT DO NOTHING", t, t, t);
    q->session_setup = NULL;
}

const mcpsql_sql_t *mcpsql_sql_make(apr_pool_t *p, mcpsql_dialect_e dialect,
                                    const char *table, mcpsql_create_e create,
                                    apr_interval_time_t statement_timeout)
{
    mcpsql_sql_t *q;
    unsigned int h;
    apr_ssize_t len = APR_HASH_KEY_STRING;
    int i;

    if (dialect == MCPSQL_DIALECT_UNKNOWN || mcpsql_sql_table_problem(table)) {
        return NULL;
    }
    q = apr_pcalloc(p, sizeof(*q));
    if (dialect == MCPSQL_DIALECT_PGSQL) {
        make_pgsql(p, q, table, create, statement_timeout);
    }
    else {
        make_sqlite3(p, q, table);
    }
    /* labels name the table (schema.table may be longer than an
     * identifier: a hash of it) and stay within 63 characters */
    h = apr_hashfunc_default(table, &len);
    for (i = 0; i < MCPSQL_ST_COUNT; i++) {
        q->label[i] = apr_psprintf(p, "mcpsql_%08x_%s", h, op_name[i]);
    }
    return q;
}
