# MCPSessionTTL (3 s on the mcp_ttl virtual host): an idle session expires,
# a used one slides.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Apache::Test qw(-withtestmore);
use Time::HiRes qw(sleep time);
use MCPTest;

my $TTL = 3;
my $U = url('/mcp', 'mcp_ttl');

my ($idle)  = initialize($U);
my ($busy)  = initialize($U);
my ($young) = initialize($U);
my $t0 = time;
ok is_session_id($idle) && is_session_id($busy) && is_session_id($young), 'three sessions';

# a session on the main server (default TTL 3600) for comparison
my ($long) = initialize('/mcp');

my ($busy_ok, $busy_n) = (0, 0);
my $young_checked = 0;
# use $busy every TTL/3 for 2.5 x TTL
while (time - $t0 < 2.5 * $TTL) {
    sleep $TTL / 3;
    $busy_n++;
    $busy_ok++ if mcp_post($U, rpc('ping'), session_headers($busy))->code == 200;
    if (!$young_checked && time - $t0 >= $TTL / 2) {
        is mcp_post($U, rpc('ping'), session_headers($young))->code, 200,
            'a session used after TTL/2 is still alive';
        $young_checked = time;
    }
}
my $elapsed = time - $t0;
is $busy_ok, $busy_n, sprintf('a session used every TTL/3 stays alive for %.1f s (> 2 x TTL)', $elapsed);
cmp_ok $elapsed, '>', 2 * $TTL, 'the sliding test ran longer than 2 x TTL';

check_error(mcp_post($U, rpc('ping'), session_headers($idle)), 404, -32001, qr/^Session not found$/,
            'an idle session is gone after the TTL: 404');
check_error(mcp_delete($U, session_headers($idle)), 404, -32001, undef,
            'DELETE of an expired session: 404');
# $young was used once at ~TTL/2, then idle for more than TTL
check_error(mcp_post($U, rpc('ping'), session_headers($young)), 404, -32001, undef,
            'a session idle for more than TTL after its last use: 404');
is mcp_post('/mcp', rpc('ping'), session_headers($long))->code, 200,
    'the main server (default TTL) kept its session';

# expiry does not depend on the child: an expired session is 404 everywhere
my $n404 = 0;
$n404++ for grep { mcp_post($U, rpc('ping'), session_headers($idle))->code == 404 } 1 .. 10;
is $n404, 10, 'the expired session is 404 on 10 fresh connections';

# the busy session keeps working
is mcp_post($U, rpc('ping'), session_headers($busy))->code, 200, 'the busy session still works';

done_testing;
