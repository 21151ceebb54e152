# Sessions are bound to the authenticated user (r->user): another user gets
# 404. /mcp-auth: Basic auth, t/htpasswd (alice, bob).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Apache::Test qw(-withtestmore);
use MCPTest;

# The wrong password is logged by mod_auth_basic.
# expect-log: AH01617

my $U = '/mcp-auth';
my @alice = (-user => 'alice', -password => 'alice-secret');
my @bob   = (-user => 'bob',   -password => 'bob-secret');

is mcp_post($U, init_message())->code, 401, 'no credentials: 401 from mod_auth_basic';
is mcp_post($U, init_message(), -user => 'alice', -password => 'wrong')->code, 401,
    'wrong password: 401';

my ($sid, $res) = initialize($U, user => 'alice', password => 'alice-secret');
is $res->code, 200, 'alice: initialize 200';
ok is_session_id($sid), 'alice: session id';

is mcp_post($U, rpc('ping'), session_headers($sid), @alice)->code, 200, 'alice: ping 200';
my (undef, $m) = mcp_call($U, $sid, 'tools/call', { name => 'echo', arguments => { text => 'hi' } }, @alice);
is $m->{result}{content}[0]{text}, 'hi', 'alice: tools/call works';

check_error(mcp_post($U, rpc('ping'), session_headers($sid), @bob), 404, -32001,
            qr/^Session not found$/, "bob with alice's session: 404");
check_error(mcp_post($U, rpc('tools/call', { name => 'echo', arguments => { text => 'x' } }),
                     session_headers($sid), @bob), 404, -32001, undef,
            "bob: tools/call in alice's session: 404");
is mcp_post($U, rpc('ping'), session_headers($sid))->code, 401,
    "no credentials with alice's session: 401 (auth first)";
check_error(mcp_delete($U, session_headers($sid), @bob), 404, -32001, undef,
            "bob cannot DELETE alice's session: 404");
is mcp_post($U, rpc('ping'), session_headers($sid), @alice)->code, 200,
    "alice's session survived bob's attempts";

# alice's session at an endpoint without authentication: 404
check_error(mcp_post('/mcp', rpc('ping'), session_headers($sid)), 404, -32001, undef,
            "alice's session at /mcp (no user): 404");

# bob's own session
my ($bsid) = initialize($U, user => 'bob', password => 'bob-secret');
ok is_session_id($bsid), 'bob: own session';
is mcp_post($U, rpc('ping'), session_headers($bsid), @bob)->code, 200, 'bob: own session works';
check_error(mcp_post($U, rpc('ping'), session_headers($bsid), @alice), 404, -32001, undef,
            "alice with bob's session: 404");

# a session created without a user (at /mcp) is not usable by alice at /mcp-auth
my ($anon) = initialize('/mcp');
check_error(mcp_post($U, rpc('ping'), session_headers($anon), @alice), 404, -32001, undef,
            'an anonymous /mcp session used by alice at /mcp-auth: 404');

# alice ends her session
is mcp_delete($U, session_headers($sid), @alice)->code, 200, 'alice: DELETE 200';
is mcp_post($U, rpc('ping'), session_headers($sid), @alice)->code, 404, 'alice: session gone';

done_testing;
