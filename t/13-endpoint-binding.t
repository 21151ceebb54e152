# A session belongs to its endpoint (virtual host + the <Location> that has
# SetHandler mcp-session). t/conf/extra.conf.in ends with a catch-all
# <Location /> holding an unrelated directive: it must change nothing.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Apache::Test qw(-withtestmore);
use MCPTest;

my ($s1) = initialize('/mcp');
my ($s2) = initialize('/mcp2');
my $TTL_U = url('/mcp', 'mcp_ttl');
my ($s3) = initialize($TTL_U);
my $NAMED_U = url('/mcp', 'mcp_named');
my ($s4) = initialize($NAMED_U);
ok is_session_id($s1) && is_session_id($s2) && is_session_id($s3) && is_session_id($s4),
    'sessions at /mcp, /mcp2, vhost /mcp, named vhost /mcp';

is mcp_post('/mcp',  rpc('ping'), session_headers($s1))->code, 200, '/mcp session at /mcp: 200';
is mcp_post('/mcp2', rpc('ping'), session_headers($s2))->code, 200, '/mcp2 session at /mcp2: 200';

check_error(mcp_post('/mcp2', rpc('ping'), session_headers($s1)), 404, -32001, qr/^Session not found$/,
            '/mcp session at /mcp2: 404');
check_error(mcp_post('/mcp', rpc('ping'), session_headers($s2)), 404, -32001, qr/^Session not found$/,
            '/mcp2 session at /mcp: 404');
# the mcp_ttl virtual host has the main server's name on another port: the
# port is not part of an endpoint, so it is the same endpoint
is mcp_post($TTL_U, rpc('ping'), session_headers($s1))->code, 200,
    '/mcp session at /mcp of a virtual host with the same name, another port: 200';
is mcp_post('/mcp', rpc('ping'), session_headers($s3))->code, 200, '... and the other way round';
# a virtual host with another ServerName is another endpoint
check_error(mcp_post($NAMED_U, rpc('ping'), session_headers($s1)), 404, -32001, undef,
            '/mcp session at /mcp of a virtual host named other.example: 404');
check_error(mcp_post('/mcp', rpc('ping'), session_headers($s4)), 404, -32001, undef,
            'other.example session at the main server\'s /mcp: 404');
is mcp_post($NAMED_U, rpc('ping'), session_headers($s4))->code, 200,
    'other.example session at its own /mcp: 200';
check_error(mcp_post('/mcp-small', rpc('ping'), session_headers($s1)), 404, -32001, undef,
            '/mcp session at /mcp-small: 404');

# DELETE at the wrong endpoint does not end the session
check_error(mcp_delete('/mcp2', session_headers($s1)), 404, -32001, undef,
            'DELETE of a /mcp session at /mcp2: 404');
is mcp_post('/mcp', rpc('ping'), session_headers($s1))->code, 200,
    '... and the session still works at /mcp';

# tools/call at the wrong endpoint
check_error(mcp_post('/mcp2', rpc('tools/call', { name => 'echo', arguments => { text => 'x' } }),
                     session_headers($s1)), 404, -32001, undef, 'tools/call with a /mcp session at /mcp2: 404');

is mcp_delete('/mcp2', session_headers($s2))->code, 200, 'DELETE at the right endpoint: 200';

# the identities logged at startup: the path of the section with SetHandler
my $log = MCPTest::read_from(Apache::Test::vars('t_logs') . '/error_log');
my $name = lc Apache::Test::config()->{vars}{servername};
for my $path ('/mcp', '/mcp2', '/mcp-auth') {
    like $log, qr/MCPS00110: MCP endpoint '\Q$name$path\E' \(SetHandler at /,
        "startup log names endpoint $name$path";
}
like $log, qr/MCPS00110: MCP endpoint 'other\.example\/mcp' \(SetHandler at /,
    'startup log names endpoint other.example/mcp';
unlike $log, qr/MCP endpoint '\Q$name\E\/'/, 'no endpoint is named after the catch-all <Location \/>';

done_testing;
