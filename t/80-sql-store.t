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
# connection prepared again once.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore);
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
    my @named = $pg->psql("SELECT count(*) FROM pg_stat_statements WHERE query LIKE 'PREPARE%t80_unnamed%'",
                          user => 'postgres');
    is_deeply \@named, ['0'], 'pgsql: MCPSessionSQLPrepared off prepared nothing on the server';
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
    $node->stop;
}

done_testing;
