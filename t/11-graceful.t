# A graceful restart (SIGUSR1) of the test server keeps memory-mode sessions.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Apache::Test qw(-withtestmore);
use MCPTest;

my $U = '/mcp';
my ($sid) = initialize($U);
ok is_session_id($sid), 'session created';
my ($gone) = initialize($U);
is mcp_delete($U, session_headers($gone))->code, 200, 'a second session, deleted';

my $vars = Apache::Test::vars();
my $pid_before = MCPTest::read_pidfile("$vars->{t_logs}/httpd.pid");
ok $pid_before, 'the test server pid';

ok apache_test_graceful(), 'graceful restart done, the server answers again';
is MCPTest::read_pidfile("$vars->{t_logs}/httpd.pid"), $pid_before, 'same parent process';

my $ok = 0;
for (1 .. 10) {
    $ok++ if mcp_post($U, rpc('ping'), session_headers($sid))->code == 200;
}
is $ok, 10, 'the session survived the graceful restart (10 fresh connections)';
my (undef, $m) = mcp_call($U, $sid, 'tools/call', { name => 'echo', arguments => { text => 'after' } });
is $m->{result}{content}[0]{text}, 'after', 'tools/call works in the old session';
is mcp_post($U, rpc('ping'), session_headers($gone))->code, 404,
    'the deleted session stays deleted';

my ($new) = initialize($U);
ok is_session_id($new), 'a new session after the restart';
is mcp_post($U, rpc('ping'), session_headers($new))->code, 200, 'the new session works';
isnt $new, $sid, 'new session id';

# and a second graceful restart in a row
ok apache_test_graceful(), 'second graceful restart';
is mcp_post($U, rpc('ping'), session_headers($sid))->code, 200, 'old session after two restarts';
is mcp_post($U, rpc('ping'), session_headers($new))->code, 200, 'new session after two restarts';

done_testing;
