# The store contract suite (t/store/, t/48's way: through the test module
# t/modules/mod_mcp_test_store.c, lifetimes of 2 s) on the "sql" provider
# of mod_mcp_session_sql: on a private PostgreSQL with named prepared
# statements (MCPSessionSQLPrepared on) and with unnamed ones (off), and
# on SQLite (a file in the test's work directory); every test of the
# suite is a test here.
#
# Then, on a node keeping its sessions in PostgreSQL: one statement per
# store operation, counted by pg_stat_statements (create, fetch, a fetch
# when a refresh is due, update, DELETE); and mod_dbd's PQreset trap: after
# a PostgreSQL restart the prepared statements are gone from the server,
# yet the next calls on every child succeed (no 404, no 503), each stale
# connection prepared again once. And statement_timeout (set on every
# connection from MCPSessionStoreTimeout) bounds a statement that waits
# for a row lock: 503 in time, nothing written.
#
# expect-log: MCPS01123 MCPS01137
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore);
use POSIX ();
use Time::HiRes qw(sleep time);
use MCPTest;
use MCPPostgres;

MCPPostgres::skip_unless_available();

my $top = top_dir();
my $so  = "$top/.libs/mod_mcp_test_store.so";
my @src = map { "$top/$_" } qw(t/modules/mod_mcp_test_store.c t/unit/store_toy.c
                               t/unit/store_toy.h t/store/mcp_store_contract.c
                               t/store/mcp_store_contract.h include/mcp_session_store.h
                               include/mcp_api.h);
if (!-e $so || grep { -M $so > -M $_ } @src) {
    system("make -C '$top' -f Makefile.apxs test-modules >/dev/null 2>&1");
}
unless (ok -e $so && -e MCPPostgres::sql_so(),
        'the test store module and mod_mcp_session_sql are built') {
    done_testing;
    exit 1;
}

my $mpm = $ENV{MCP_TEST_MPM} || 'event';
my $pg = MCPPostgres->start(name => 't80',
                            conf => ["shared_preload_libraries = 'pg_stat_statements'",
                                     'pg_stat_statements.track = top']);
my $loglevel = 'info mcp_session:debug mcp_session_sql:debug';
my $have_pss = defined $pg->psql('CREATE EXTENSION IF NOT EXISTS pg_stat_statements',
                                  user => 'postgres');
diag 'pg_stat_statements: ' . ($pg->error // '') unless $have_pss;

# ---------------------------------------------------------------------
# The suite (t/48's run_suite)

sub run_suite {
    my ($node, $label) = @_;
    my $t0 = time;
    my $res = mcp_get($node->url('/contract') . '?store=sql', -timeout => 120);
    unless (is $res->code, 200, "$label: the suite runs") {
        diag $res->status_line;
        return;
    }
    my @lines = split /\n/, $res->content;
    my ($n, $plan, $summary) = (0, undef, '');
    for (my $i = 0; $i < @lines; $i++) {
        my $l = $lines[$i];
        my @notes;
        push @notes, $lines[++$i] =~ s/^# //r
            while $i + 1 < @lines && $lines[$i + 1] =~ /^# /;
        if ($l =~ /^1\.\.(\d+)$/) {
            $plan = $1;
            $summary = join ' ', @notes;
            next;
        }
        next unless $l =~ /^(not )?ok \d+ - (.*)$/;
        my ($bad, $what) = ($1, $2);
        $n++;
        if (!$bad && $what =~ /^(.*?) # SKIP (.*)$/) {
            SKIP: { skip "$label: $1: $2", 1 }
            next;
        }
        ok !$bad, "$label: $what" or diag map { "$_\n" } @notes;
        note map { "$_\n" } @notes if !$bad;
    }
    ok defined $plan && $plan == $n && $n > 30,
        "$label: the suite ran to its end (" . ($plan // 'no plan') . " tests)"
        or diag substr($res->content, -2000);
    note sprintf "%s (%.1f s with the request)", $summary, time - $t0;
}

sub contract_node {
    my ($name, $dbd, $extra) = @_;
    return start_node(name => $name, loglevel => $loglevel, servers => 2,
        conf => MCPPostgres::module_conf() . $dbd
              . qq{LoadModule mcp_test_store_module "$so"\n}
              . ($extra // '')
              . "MCPTestStoreContract sql sql://$name\n"
              . "<Location /contract>\n    SetHandler mcp-store-contract\n</Location>\n");
}

{
    my $node = contract_node('t80_named', $pg->dbd_conf);
    run_suite($node, 'pgsql, prepared');
    my @tables = $pg->psql("SELECT relpersistence FROM pg_class WHERE relname = 't80_named'");
    is_deeply \@tables, ['p'], 'pgsql: the table was made when missing (logged)';
    my ($gc) = $pg->psql('SELECT count(*) FROM t80_named_gc');
    is $gc, 1, 'pgsql: and its gc table with the gate row';
    $node->stop;
}
{
    my $node = contract_node('t80_unnamed', $pg->dbd_conf,
                             "MCPSessionSQLPrepared off\nMCPSessionSQLCreateTable unlogged\n");
    run_suite($node, 'pgsql, unnamed');
    my @tables = $pg->psql("SELECT relpersistence FROM pg_class WHERE relname = 't80_unnamed'");
    is_deeply \@tables, ['u'], 'pgsql: MCPSessionSQLCreateTable unlogged made an unlogged table';
    SKIP: {
        skip 'no pg_stat_statements', 3 unless $have_pss;
        my @set = $pg->psql("SELECT sum(calls) > 0 FROM pg_stat_statements WHERE query ~ "
                            . "'set_config'", user => 'postgres');
        is_deeply \@set, ['t'], 'pgsql: statement_timeout was set on the connections '
            . '(SELECT set_config)';
        my @named = $pg->psql("SELECT count(*) FROM pg_stat_statements WHERE query ~* "
                              . "'^PREPARE.*t80_unnamed'", user => 'postgres');
        is_deeply \@named, ['0'], 'pgsql: MCPSessionSQLPrepared off prepared nothing on the server';
        my @named_on = $pg->psql("SELECT count(*) > 0 FROM pg_stat_statements WHERE query ~* "
                                 . "'^PREPARE.*t80_named'", user => 'postgres');
        is_deeply \@named_on, ['t'], 'pgsql: MCPSessionSQLPrepared on (default) prepared them';
    }
    $node->stop;
}
{
    my $dir = MCPTest::work_dir() . "/t80-sqlite-$$";
    mkdir $dir;
    if ($> == 0) {
        my (undef, undef, $uid, $gid) = getpwnam('nobody');
        chown $uid, $gid, $dir;
    }
    my $node = contract_node('t80_sqlite', "DBDriver sqlite3\nDBDParams \"$dir/t80.db\"\n");
    run_suite($node, 'sqlite3');
    ok -s "$dir/t80.db", 'sqlite3: the database file was made';
    ok -e "$dir/t80.db-wal", '... in WAL mode (readers of other children do not block a write)';
    $node->stop;
}

# ---------------------------------------------------------------------
# A node keeping its sessions in PostgreSQL (named statements)

my $node = start_node(name => 't80-node', loglevel => $loglevel, servers => 3,
                      conf => $pg->node_conf(table => 't80_ops', conf => <<'CONF'));
MCPSessionTTL 6
MCPSessionRefreshAfter 1
MCPSessionHandshakeTTL 6
MCPSessionStoreTimeout 1
CONF
my $U = $node->url;

# statements on t80_ops since the last reset, by kind: "INSERT 1 SELECT 2"
sub statements {
    my @rows = $pg->psql("SELECT query, calls FROM pg_stat_statements WHERE query ~ 't80_ops' "
                         . "AND query !~* '^\\s*(DEALLOCATE|CREATE)' "
                         . "AND query !~ 't80_ops_gc'", user => 'postgres');
    my %n;
    for (@rows) {
        my ($q, $calls) = /^(.*)\|(\d+)$/s or next;
        my ($verb) = $q =~ /^\s*(?:PREPARE\s+\S+(?:\s*\([^)]*\))?\s+AS\s+)?(\w+)/i;
        $n{uc $verb} += $calls;
    }
    return join ' ', map { "$_ $n{$_}" } sort keys %n;
}
sub reset_statements { $pg->psql('SELECT pg_stat_statements_reset()', user => 'postgres') }

SKIP: {
    skip 'no pg_stat_statements', 6 unless $have_pss;
    # warm every statement up once (a new connection prepares them: a
    # PREPARE is not an EXECUTE, but keep the counts to the calls)
    my $warm = initialize($U);
    mcp_call($U, $warm, 'tools/list');
    mcp_delete($U, session_headers($warm));

    reset_statements();
    my ($sid, $res) = initialize($U, no_initialized => 1);
    is $res->code, 200, 'initialize: 200';
    is statements(), 'INSERT 1', 'create: one statement (INSERT ... ON CONFLICT)';

    reset_statements();
    my $n = mcp_post($U, rpc('notifications/initialized', undef, undef), session_headers($sid));
    is statements(), 'SELECT 1 UPDATE 1',
        'notifications/initialized: a fetch (SELECT) and an update (UPDATE)';

    reset_statements();
    my ($r) = mcp_call($U, $sid, 'tools/list');
    is statements(), 'SELECT 1', 'tools/list within the refresh time: one SELECT';

    sleep 1.3;
    reset_statements();
    ($r) = mcp_call($U, $sid, 'tools/list');
    is statements(), 'SELECT 1 UPDATE 1',
        'tools/list past MCPSessionRefreshAfter: the SELECT says due, one UPDATE slides it';

    reset_statements();
    is mcp_delete($U, session_headers($sid))->code, 200, 'DELETE: 200';
    is statements(), 'DELETE 1 SELECT 1',
        'DELETE: the fetch of the base module (the session and its owner) and one '
        . 'DELETE ... RETURNING for the remove';
}

# ---------------------------------------------------------------------
# statement_timeout (set per connection from MCPSessionStoreTimeout)
# bounds a statement that waits: a transaction holds every row's lock

{
    my $sid = initialize($U);
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        $pg->psql('BEGIN; SELECT key FROM t80_ops FOR UPDATE; SELECT pg_sleep(4); COMMIT',
                  timeout => 10);
        POSIX::_exit(0);
    }
    my $locked = MCPTest::wait_for(sub {
        ($pg->psql("SELECT count(*) FROM pg_stat_activity WHERE query ~ 'pg_sleep\\(4\\)' "
                   . "AND state = 'active'", user => 'postgres'))[0]
    }, 5, 0.05);
    ok $locked, 'a transaction holds the rows locked';
    my $t0 = time;
    my $res = mcp_delete($U, session_headers($sid));
    my $took = time - $t0;
    is $res->code, 503, sprintf('DELETE waiting on the lock: 503 (%.2f s)', $took);
    cmp_ok $took, '<', 2.5, '... within MCPSessionStoreTimeout 1 (statement_timeout), not '
        . 'the 4 s the lock is held';
    waitpid $pid, 0;
    ok MCPTest::wait_for(sub { (mcp_call($U, $sid, 'tools/list'))[0]->code == 200 }, 8, 0.1),
        'the lock gone: the session is there (the DELETE wrote nothing)';
    is mcp_delete($U, session_headers($sid))->code, 200, '... and DELETE ends it';
}

# ---------------------------------------------------------------------
# mod_dbd's PQreset trap: a PostgreSQL restart under a running node

{
    my $sid = initialize($U);
    ok is_session_id($sid), 'a session before the restart';
    my @kids = MCPTest::children_of($node->pid);
    # every child has used its connection (prepared its statements)
    for (1 .. 60) {
        my ($r) = mcp_call($U, $sid, 'tools/list');
        my %b = %{ MCPTest::access_log_pids($node->access_log_path, $sid) };
        last unless grep { !$b{$_} } @kids;
    }
    my $backends_before = join ',', $pg->backend_pids;
    ok $pg->restart, 'PostgreSQL restarted (every backend gone)';
    my $log_at = MCPTest::file_size($node->error_log_path);
    my $acc_at = MCPTest::file_size($node->access_log_path);
    my (%codes, %seen);
    my $t0 = time;
    for (1 .. 60) {
        my ($r) = mcp_call($U, $sid, 'tools/list');
        $codes{$r->code}++;
        %seen = %{ MCPTest::access_log_pids($node->access_log_path, $sid, $acc_at) };
        last if @kids && !grep { !$seen{$_} } @kids;
    }
    is_deeply \%codes, { 200 => $codes{200} // 0 },
        'after the restart every request answered 200 (no 404, no 503): '
        . join(', ', map { "$_ x$codes{$_}" } sort keys %codes);
    is_deeply [ grep { !$seen{$_} } @kids ], [],
        sprintf 'every child (%d) served requests after the restart (%.1f s)',
        scalar @kids, time - $t0;
    my @retried = MCPTest::grep_log($node->error_log_path, qr/MCPS01130/, $log_at);
    my @again = MCPTest::grep_log($node->error_log_path, qr/MCPS01136.*again after an error/, $log_at);
    ok @retried >= 1 && @again >= 1,
        scalar(@retried) . ' stale connections were checked (PQreset) and their statements '
        . 'prepared again (' . scalar(@again) . ' PREPAREs), inside the calls';
    isnt join(',', $pg->backend_pids), $backends_before, 'on new backends';
}

done_testing;
