# mod_mcp_session_sql's cleanup of expired rows (mcpsql_gc.c): two nodes
# on one PostgreSQL with MCPSessionSQLCleanup 2.
#   - expired rows (sessions left in their 2 s handshake, and 2,500 put in
#     directly) are gone from the table within a few intervals, in batches
#     of MCPSessionSQLCleanupBatch (several batches in one tick); live
#     sessions stay;
#   - across the fleet the delete runs once per interval in total: over
#     several intervals the two nodes' runs add up to about one per
#     interval, the other ticks skip (the gate row of mcp_session_gc),
#     and the gate row's last_run is recent;
#   - mod_status shows the counters (?auto and HTML);
#   - MCPSessionSQLCleanup off: expired rows stay;
#   - DBDParams without connect_timeout: warned once per child (MCPS01103),
#     without the parameters.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore);
use Time::HiRes qw(sleep time);
use MCPTest;
use MCPPostgres;

# The node without connect_timeout in DBDParams is warned (MCPS01103).
# expect-log: MCPS01103

MCPPostgres::skip_unless_available();

my $pg = MCPPostgres->start(name => 't84');
my $INTERVAL = 2;
my $LOG = 'info mcp_session:debug mcp_session_sql:debug';

my @nodes = map {
    start_node(name => "t84-$_", loglevel => $LOG,
               conf => $pg->node_conf(table => 'mcp_session',
                                      conf => "MCPSessionKeyPrefix t84:\n"
                                            . "MCPSessionTTL 10\nMCPSessionHandshakeTTL 2\n"
                                            . "MCPSessionStoreTimeout 2\n"
                                            . "MCPSessionSQLCleanup $INTERVAL\n"
                                            . "MCPSessionSQLCleanupBatch 1000\n"))
} qw(a b);
my ($A, $B) = @nodes;

sub count_rows {
    my ($table, $where) = @_;
    my $n = $pg->psql("SELECT count(*) FROM $table" . ($where ? " WHERE $where" : ''));
    return $n // -1;
}
sub status { status_auto($_[0]->url('/server-status?auto')) // {} }

# the table exists once a node has used it
my $live = initialize($A->url);
ok is_session_id($live), 'a session on A (the table is made on first use)';
is count_rows('mcp_session_gc'), 1, 'mcp_session_gc holds its one gate row';

# ---------------------------------------------------------------------
# Expired rows are deleted; live ones stay

{
    # sessions left in their handshake live MCPSessionHandshakeTTL (2 s)
    my @short = map { scalar initialize($B->url, no_initialized => 1) } 1 .. 5;
    is scalar(grep { is_session_id($_) } @short), 5, 'five sessions on B, left in their handshake (2 s)';
    # 2,500 rows that expired an hour ago: three batches of 1000
    ok defined $pg->psql("INSERT INTO mcp_session (key, record, expires, life) "
                       . "SELECT 'junk:' || g, '{}', now() - interval '1 hour', 2000 "
                       . "FROM generate_series(1, 2500) g"),
        '2,500 expired rows put in directly' or diag $pg->error;
    my $t0 = time;
    # $live (TTL 10 s) is used meanwhile
    my $gone = wait_for(sub {
        mcp_call($A->url, $live, 'tools/list');
        count_rows('mcp_session', "key LIKE 'junk:%'") == 0
            && count_rows('mcp_session', 'expires <= now()') == 0
            && time - $t0 > 2.5;    # the five short ones expired too
    }, 4 * $INTERVAL + 4, 0.25);
    ok $gone, sprintf('every expired row is gone within %.1f s (interval %d s)', time - $t0, $INTERVAL)
        or diag 'left: ' . count_rows('mcp_session', 'expires <= now()');
    is((mcp_call($A->url, $live, 'tools/list'))[0]->code, 200, 'the live session is still there');
    is count_rows('mcp_session', "key LIKE 't84:%'"), 1, '... its row the only one left';
    my @lines = map { grep_log($_->error_log_path, qr/MCPS01182.*expired rows deleted in [2-9] batches/) } @nodes;
    ok @lines, 'one tick deleted the 2,500 in several batches of at most 1000 (MCPS01182)';
    note $_ for @lines;
}

# ---------------------------------------------------------------------
# Once per interval across the fleet

{
    my @s0 = map { status($_) } @nodes;
    my $t0 = time;
    my $T = 5 * $INTERVAL;
    while (time - $t0 < $T) {
        mcp_call($A->url, $live, 'tools/list');
        sleep 0.5;
    }
    my $elapsed = time - $t0;
    my @s1 = map { status($_) } @nodes;
    my (@runs, @skips);
    for my $i (0, 1) {
        $runs[$i] = ($s1[$i]{MCPSQLCleanupRuns} // 0) - ($s0[$i]{MCPSQLCleanupRuns} // 0);
        $skips[$i] = ($s1[$i]{MCPSQLCleanupSkipped} // 0) - ($s0[$i]{MCPSQLCleanupSkipped} // 0);
    }
    my $runs = $runs[0] + $runs[1];
    my $ticks = $runs + $skips[0] + $skips[1];
    my $per = $elapsed / $INTERVAL;
    note sprintf('%.1f s (%.1f intervals): runs A %d B %d, skipped A %d B %d',
                 $elapsed, $per, $runs[0], $runs[1], $skips[0], $skips[1]);
    # each node ticks once per interval (a tick is a little longer than
    # the interval: mod_watchdog counts in 100 ms slices)
    ok $ticks >= 2 * int($per) - 2 && $ticks <= 2 * ($per + 1),
        "both nodes ticked about once per interval each ($ticks ticks)";
    # the gate opens after 0.9 interval: at most one run per 0.9 interval
    ok $runs >= int($per) - 1 && $runs <= $elapsed / (0.9 * $INTERVAL) + 1,
        sprintf('the delete ran %d times in %.1f intervals: once per interval for the fleet', $runs, $per);
    ok $skips[0] + $skips[1] >= int($per) - 2,
        'the other ticks were skipped: another node had the interval (' . ($skips[0] + $skips[1]) . ')';
    my $ago = $pg->psql("SELECT extract(epoch FROM now() - last_run) FROM mcp_session_gc WHERE id = 1");
    ok defined $ago && $ago >= 0 && $ago < $INTERVAL + 1.5,
        sprintf('the gate row\'s last_run is recent (%.2f s ago)', $ago // -1);
    is $s1[0]{MCPSQLCleanupErrors} // -1, 0, 'no cleanup errors on A';
    is $s1[1]{MCPSQLCleanupErrors} // -1, 0, 'no cleanup errors on B';
    ok grep_log($A->error_log_path, qr/MCPS01181/) || grep_log($B->error_log_path, qr/MCPS01181/),
        'a skipped tick says so (MCPS01181)';

    # mod_status: ?auto lines and the HTML rows
    for my $k (qw(MCPSQLTable MCPSQLDriver MCPSQLCalls MCPSQLErrors MCPSQLCleanupInterval
                  MCPSQLCleanupRuns MCPSQLCleanupSkipped MCPSQLCleanupRows MCPSQLCleanupLastAgo)) {
        ok defined $s1[0]{$k}, "mod_status ?auto: $k: " . ($s1[0]{$k} // 'missing');
    }
    is $s1[0]{MCPSQLDriver}, 'pgsql', '... the driver';
    is $s1[0]{MCPSQLCleanupInterval}, $INTERVAL, '... the interval';
    cmp_ok(($s1[0]{MCPSQLCleanupRows} // 0) + ($s1[1]{MCPSQLCleanupRows} // 0), '>=', 2505,
           'the rows deleted, summed over both nodes, count the 2,505 expired rows');
    my $html = mcp_get($A->url('/server-status'));
    like $html->content // '', qr/SQL store cleanup \(this node\)<\/td><td>every 2 s: \d+ runs/,
        'mod_status HTML: the cleanup row';
}

# ---------------------------------------------------------------------
# MCPSessionSQLCleanup off

{
    $_->stop for @nodes;
    # its DBDParams have no connect_timeout: warned once per child
    my $params = 'host=127.0.0.1 port=' . $pg->port . ' dbname=mcp user=mcp application_name=mcp_sql_test';
    my $off = start_node(name => 't84-off', loglevel => $LOG,
                         conf => MCPPostgres::module_conf()
                               . qq{DBDriver pgsql\nDBDParams "$params"\nDBDMin 1\nDBDMax 4\n}
                               . "MCPSessionStorageMode external\nMCPSessionStore sql://mcp_keep\n"
                               . "MCPSessionKeyPrefix t84off:\nMCPSessionSQLCleanup off\n");
    ok is_session_id(initialize($off->url)), 'a node with MCPSessionSQLCleanup off (table mcp_keep)';
    ok defined $pg->psql("INSERT INTO mcp_keep (key, record, expires, life) "
                       . "SELECT 'junk:' || g, '{}', now() - interval '1 hour', 2000 "
                       . "FROM generate_series(1, 50) g"), '50 expired rows put in';
    sleep 3 * $INTERVAL;
    is count_rows('mcp_keep', "key LIKE 'junk:%'"), 50, sprintf('they are all there %d s later', 3 * $INTERVAL);
    my $st = status($off);
    is $st->{MCPSQLCleanupInterval}, 0, 'mod_status: MCPSQLCleanupInterval 0';
    is $st->{MCPSQLCleanupRuns}, 0, '... no runs';
    is scalar(grep_log($off->error_log_path, qr/MCPS01184/)), 0, 'no cleanup callback was registered';
    my @warned = grep_log($off->error_log_path, qr/MCPS01103/);
    my %pids = map { /\[pid (\d+)/ ? ($1 => 1) : () } @warned;
    ok @warned >= 1 && @warned == keys %pids,
        sprintf('DBDParams without connect_timeout: warned once per child (%d lines, %d children)',
                scalar @warned, scalar keys %pids);
    ok !grep({ /user=mcp|host=127/ } @warned), '... without the DBDParams string';
    is scalar(map { grep_log($_->error_log_path, qr/MCPS01103/) } @nodes), 0,
        '... and not on the nodes whose DBDParams have it';
    $off->stop;
}

done_testing;
