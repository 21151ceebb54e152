# mod_mcp_session_sql (review): a cleanup tick that is the node's probe
# after an outage ends the outage. While the store is down, calls of the
# node fail at once except one probe at a time; the watchdog's cleanup
# tick goes through the same gate and can be that probe. Before the fix
# its success did not clear the node's outage state, so every call was
# refused (503) for another 5 s although the database answered.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore);
use Time::HiRes qw(sleep time);
use MCPTest;
use MCPPostgres;

# The outage: mod_dbd's and the module's error lines while PostgreSQL is down.
# expect-log: AH00629 AH00633 AH00636 AH00639 AH02655 MCPS00340 MCPS01121 MCPS01123 MCPS01124 MCPS01129 MCPS01137 MCPS01183

MCPPostgres::skip_unless_available();

my $pg = MCPPostgres->start(name => 't85');
my $node = start_node(name => 't85', loglevel => 'info mcp_session_sql:debug',
                      conf => $pg->node_conf(conf => "MCPSessionKeyPrefix t85:\n"
                                                   . "MCPSessionTTL 600\nMCPSessionStoreTimeout 2\n"
                                                   . "MCPSessionSQLCleanup 1\n"));
sub status { status_auto($node->url('/server-status?auto')) // {} }
sub ticks { my $s = status(); ($s->{MCPSQLCleanupRuns} // 0) + ($s->{MCPSQLCleanupSkipped} // 0) }

my $sid = initialize($node->url);
ok is_session_id($sid), 'a session';

ok $pg->stop(mode => 'fast'), 'PostgreSQL stopped';
my ($res) = mcp_call($node->url, $sid, 'tools/list');
is $res->code, 503, 'a call while it is down: 503 (the node counts the store as down)';
ok $pg->start_again, 'PostgreSQL started again';

# no request meanwhile: the next cleanup tick probes, and succeeds
my $t0 = ticks();
ok wait_for(sub { ticks() > $t0 }, 10, 0.05), 'a cleanup tick succeeded (it was the probe)';
($res) = mcp_call($node->url, $sid, 'tools/list');
is $res->code, 200, 'the next call is served at once: the successful tick ended the outage';

$node->stop;
done_testing;
