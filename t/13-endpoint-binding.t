# A session belongs to its endpoint (virtual host + <Location>).
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
ok is_session_id($s1) && is_session_id($s2) && is_session_id($s3), 'sessions at /mcp, /mcp2, vhost /mcp';

is mcp_post('/mcp',  rpc('ping'), session_headers($s1))->code, 200, '/mcp session at /mcp: 200';
is mcp_post('/mcp2', rpc('ping'), session_headers($s2))->code, 200, '/mcp2 session at /mcp2: 200';

check_error(mcp_post('/mcp2', rpc('ping'), session_headers($s1)), 404, -32001, qr/^Session not found$/,
            '/mcp session at /mcp2: 404');
check_error(mcp_post('/mcp', rpc('ping'), session_headers($s2)), 404, -32001, qr/^Session not found$/,
            '/mcp2 session at /mcp: 404');
check_error(mcp_post($TTL_U, rpc('ping'), session_headers($s1)), 404, -32001, undef,
            '/mcp session at the other virtual host\'s /mcp: 404');
check_error(mcp_post('/mcp', rpc('ping'), session_headers($s3)), 404, -32001, undef,
            'virtual host session at the main server\'s /mcp: 404');
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

done_testing;
