# mod_mcp_session_sql on SQLite, one node (README "The SQL store", the
# SQLite single-node example): DBDriver sqlite3, DBDParams a file in the
# work directory.
#   - the module creates its table (and <table>_gc) when missing; a
#     session's row is prefix + 64 hex, its record, its expiry;
#   - initialize, tools/call, DELETE (then 404, the row gone);
#   - TTL: an idle session expires (404), a used one slides;
#   - an httpd restart (stop, start) keeps the sessions: they are in the
#     file;
#   - MCPSessionSQLCreateTable off and no table: 503 with Retry-After,
#     never 404, and a log line naming the table; the table is not made;
#   - configurations refused at startup: sql:// without the module (the
#     line names it, MCPS00113), without mod_dbd, without DBDriver, an
#     option, a bad table name, bad directive values.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore);
use Time::HiRes qw(sleep time);
use File::Path qw(make_path);
use MCPTest;

# The table that is missing on purpose: the statement failed twice with
# the driver's "no such table" (MCPS01123), the store is down (MCPS01137).
# expect-log: MCPS01123 MCPS01137
# Refused configurations: the base module's lines (MCPS00113, MCPS00105)
# and httpd's (AH00526: a directive's syntax error, AH00016).
# expect-log: MCPS00113 MCPS00105 AH00526 AH00016

my $top = top_dir();
my $sql_so = "$top/.libs/mod_mcp_session_sql.so";
my $dbd_so = MCPTest::Node::modules_dir() . '/mod_dbd.so';
my $driver = (glob('/usr/lib/*/apr-util-1/apr_dbd_sqlite3-1.so'))[0];
plan skip_all => 'no apr_dbd sqlite3 driver (libaprutil1-dbd-sqlite3)' unless $driver;
plan skip_all => "no $dbd_so" unless -e $dbd_so;
my $sqlite = MCPTest::have_program('sqlite3');

unless (ok -e $sql_so, 'mod_mcp_session_sql.so is built') {
    done_testing;
    exit 1;
}

# the httpd user writes the file and, in WAL mode, its -wal/-shm next to it
my $dir = MCPTest::work_dir() . "/t83-db-$$";
make_path($dir);
chmod 0777, $dir;
my $db = "$dir/sessions.db";

my $TTL = 3;
sub node_conf {
    my (%o) = @_;
    return qq{LoadModule dbd_module "$dbd_so"\n}
         . qq{LoadModule mcp_session_sql_module "$sql_so"\n}
         . "DBDriver sqlite3\nDBDParams \"$o{db}\"\n"
         . "MCPSessionStorageMode external\n"
         . "MCPSessionStore sql://$o{table}\n"
         . "MCPSessionKeyPrefix t83:\n"
         . "MCPSessionTTL $TTL\nMCPSessionStoreTimeout 2\n"
         . ($o{conf} // '');
}

# sq($sql) -> rows of the sqlite3 CLI on the file (fields joined by |)
sub sq {
    my $sql = shift;
    my @rows = `sqlite3 -cmd '.timeout 2000' '$db' "$sql" 2>&1`;
    chomp @rows;
    return @rows;
}

my $node = start_node(name => 't83', loglevel => 'info mcp_session:debug mcp_session_sql:debug',
                      conf => node_conf(db => $db, table => 'mcp_session'));
my $U = $node->url;

my $st = status_auto($node->url('/server-status?auto'));
like $st->{MCPSessionStore} // '', qr/^sql sqlite3 mcp_session$/,
    'the store is the sql provider on sqlite3: ' . ($st->{MCPSessionStore} // 'none');
ok((grep_log($node->error_log_path, qr/MCPS01100/))[0], 'its startup line (MCPS01100)');

my $sid = initialize($U);
ok is_session_id($sid), 'initialize: a session';
my ($r, $m) = mcp_call($U, $sid, 'tools/call', { name => 'echo', arguments => { text => 'sqlite' } });
is $r->code, 200, 'tools/call in the session: 200';
is $m && $m->{result} && $m->{result}{content}[0]{text}, 'sqlite', '... echo answers';

SKIP: {
    skip 'no sqlite3 program to look into the file', 5 unless $sqlite;
    ok -e $db, 'the database file exists';
    my @t = sq("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name");
    is_deeply \@t, ['mcp_session', 'mcp_session_gc'], 'the module created mcp_session and mcp_session_gc'
        or diag explain \@t;
    my @rows = sq('SELECT key, length(record), expires, life FROM mcp_session');
    is scalar @rows, 1, 'one row for the one session';
    my ($key, $len, $exp, $life) = split /\|/, $rows[0] // '';
    like $key // '', qr/^t83:[0-9a-f]{64}$/, 'its key is the prefix + 64 hex';
    my $now_ms = time * 1000;
    ok $len > 10 && $exp > $now_ms && $exp <= $now_ms + $TTL * 1000 + 1000 && $life == $TTL * 1000,
        "its record ($len bytes), expiry (in " . int($exp - $now_ms) . " ms) and life ($life ms)";
}

# ---------------------------------------------------------------------
# TTL: idle expires, used slides

{
    my $busy = initialize($U);
    my $idle = initialize($U);
    my $t0 = time;
    my ($n, $good) = (0, 0);
    while (time - $t0 < 2 * $TTL + 0.5 && $n < 40) {
        sleep $TTL / 4;
        $n++;
        $good++ if (mcp_call($U, $busy, 'tools/list'))[0]->code == 200;
    }
    is $good, $n, sprintf('a session used every %.2f s lives %.1f s (> 2 x TTL): %d/%d', $TTL / 4,
                          time - $t0, $good, $n);
    is((mcp_call($U, $idle, 'tools/list'))[0]->code, 404, 'an idle session is gone after the TTL: 404');
}

# ---------------------------------------------------------------------
# A restart of httpd keeps the sessions (a node on the same file with a
# TTL that outlasts a slow stop and start)

{
    $node->stop;
    my $r_node = start_node(name => 't83-restart', loglevel => 'info mcp_session:debug mcp_session_sql:debug',
                            conf => node_conf(db => $db, table => 'mcp_session',
                                              conf => "MCPSessionTTL 60\n"));
    my $RU = $r_node->url;
    my $keep = initialize($RU);
    is((mcp_call($RU, $keep, 'tools/list'))[0]->code, 200, 'a session before the restart');
    $r_node->stop;
    ok !$r_node->running, 'httpd stopped';
    ok $r_node->start, 'httpd started again';
    my ($r2) = mcp_call($RU, $keep, 'tools/list');
    is $r2->code, 200, 'the session lives on after the restart (it is in the file)';
    $r_node->stop;
    ok $node->start, 'the first node (TTL 3 s) started again';
    is((mcp_call($U, $sid, 'tools/list'))[0]->code, 404,
       'the first session, idle for more than the TTL, is gone: 404');
}

# ---------------------------------------------------------------------
# DELETE

{
    my $s = initialize($U);
    my ($before) = $sqlite ? sq("SELECT count(*) FROM mcp_session") : (0);
    is mcp_delete($U, session_headers($s))->code, 200, 'DELETE: 200';
    is((mcp_call($U, $s, 'tools/list'))[0]->code, 404, 'then the session is gone: 404');
    is mcp_delete($U, session_headers($s))->code, 404, 'a second DELETE: 404';
    SKIP: {
        skip 'no sqlite3 program', 1 unless $sqlite;
        my ($after) = sq("SELECT count(*) FROM mcp_session");
        is $after, $before - 1, "its row is deleted ($before rows, then $after)";
    }
}
$node->stop;

# ---------------------------------------------------------------------
# MCPSessionSQLCreateTable off, no table: 503, never 404

{
    my $off = start_node(name => 't83-off', loglevel => 'info mcp_session:debug mcp_session_sql:debug',
                         conf => node_conf(db => "$dir/other.db", table => 'absent_t',
                                           conf => "MCPSessionSQLCreateTable off\n"));
    my $off_url = $off->url;
    my $res = mcp_post($off_url, init_message());
    is $res->code, 503, 'initialize without the table: 503';
    like $res->header('Retry-After') // '', qr/^\d+$/, '... with Retry-After';
    my $fake = 'a' x 32;
    my $res2 = mcp_post($off_url, rpc('tools/list'), session_headers($fake));
    is $res2->code, 503, 'a request in a session without the table: 503, not 404';
    ok wait_for_log($off->error_log_path, qr/absent_t/, 5),
        'the error log names the missing table';
    note $_ for grep_log($off->error_log_path, qr/absent_t/);
    SKIP: {
        skip 'no sqlite3 program', 1 unless $sqlite;
        my @t = `sqlite3 '$dir/other.db' "SELECT name FROM sqlite_master WHERE type = 'table'" 2>&1`;
        is scalar(grep { /absent_t/ } @t), 0, 'the module did not create it';
    }
    $off->stop;
}

# ---------------------------------------------------------------------
# Configurations refused at startup (apachectl -t does the same checks)

{
    my $store = "MCPSessionStorageMode external\nMCPSessionStore sql://mcp_session\n";
    my @cases = (
        [ 'without the module, sql://', $store,
          qr/MCPS00113.*mod_mcp_session_sql.*LoadModule mcp_session_sql_module/ ],
        [ 'without mod_dbd', qq{LoadModule mcp_session_sql_module "$sql_so"\n} . $store,
          qr/needs mod_dbd \(LoadModule dbd_module/ ],
        [ 'without DBDriver', qq{LoadModule dbd_module "$dbd_so"\nLoadModule mcp_session_sql_module "$sql_so"\n}
          . $store, qr/needs DBDriver/ ],
        [ 'an option after the table', node_conf(db => "$dir/x.db", table => 'mcp_session?x=1'),
          qr/takes no options/ ],
        [ 'a table name that is not an identifier', node_conf(db => "$dir/x.db", table => 'mcp-session'),
          qr/MCPSessionStore sql:\/\/mcp-session: / ],
        [ 'a table name that is a reserved word', node_conf(db => "$dir/x.db", table => 'user'),
          qr/MCPSessionStore sql:\/\/user: the table name must not be an SQL reserved word/ ],
        [ 'a schema name that is a reserved word', node_conf(db => "$dir/x.db", table => 'order.mcp_session'),
          qr/MCPSessionStore sql:\/\/order\.mcp_session: schema and table must not be SQL reserved/ ],
        [ 'MCPSessionSQLCleanup 0', node_conf(db => "$dir/x.db", table => 't', conf => "MCPSessionSQLCleanup 0\n"),
          qr/MCPSessionSQLCleanup 0: a duration from 1 s/ ],
        [ 'MCPSessionSQLCreateTable maybe', node_conf(db => "$dir/x.db", table => 't',
                                                   conf => "MCPSessionSQLCreateTable maybe\n"),
          qr/MCPSessionSQLCreateTable maybe: logged/ ],
        [ 'MCPSessionSQLCleanupBatch 0', node_conf(db => "$dir/x.db", table => 't',
                                                 conf => "MCPSessionSQLCleanupBatch 0\n"),
          qr/MCPSessionSQLCleanupBatch 0: a number of rows/ ],
    );
    my $i = 0;
    for my $c (@cases) {
        my ($what, $conf, $re) = @$c;
        my $n = start_node(name => 't83-bad' . $i++, may_fail => 1, conf => $conf);
        my $out = $n->startup_output . read_from($n->error_log_path);
        ok !$n->running && $out =~ $re, "refused at startup: $what" or diag $out;
        $n->stop if $n->running;
    }
}

done_testing;
