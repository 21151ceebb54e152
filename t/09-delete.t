# DELETE ends a session everywhere.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Apache::Test qw(-withtestmore);
use MCPTest;

my $U = '/mcp';
my ($sid)   = initialize($U);
my ($other) = initialize($U);
ok is_session_id($sid) && is_session_id($other), 'two sessions created';

is mcp_post($U, rpc('ping'), session_headers($sid))->code, 200, 'session works before DELETE';

my $d = mcp_delete($U, session_headers($sid));
is $d->code, 200, 'DELETE: 200';
is $d->content, '', 'DELETE: empty body';

check_error(mcp_post($U, rpc('ping'), session_headers($sid)), 404, -32001, qr/^Session not found$/,
            'POST after DELETE: 404');
check_error(mcp_post($U, rpc('tools/list'), session_headers($sid)), 404, -32001, qr/^Session not found$/,
            'tools/list after DELETE: 404');
check_error(mcp_delete($U, session_headers($sid)), 404, -32001, qr/^Session not found$/,
            'DELETE again: 404');
check_error(mcp_delete($U), 400, -32000, qr/^Bad Request: Mcp-Session-Id header is required$/,
            'DELETE without Mcp-Session-Id: 400');
check_error(mcp_delete($U, session_headers('B' x 43)), 404, -32001, qr/^Session not found$/,
            'DELETE of an unknown session: 404');

is mcp_post($U, rpc('ping'), session_headers($other))->code, 200, 'the other session is untouched';

# DELETE without MCP-Protocol-Version
my ($third) = initialize($U);
is mcp_delete($U, 'Mcp-Session-Id' => $third)->code, 200, 'DELETE without MCP-Protocol-Version: 200';
is mcp_post($U, rpc('ping'), session_headers($third))->code, 404, '... and the session is gone';

# deleted in one process, gone in all: 20 fresh connections
my $gone = 0;
for (1 .. 20) {
    $gone++ if mcp_post($U, rpc('ping'), session_headers($sid))->code == 404;
}
is $gone, 20, 'the deleted session is 404 on 20 fresh connections (every child)';

# a session deleted right after initialize, before notifications/initialized
my ($fresh) = initialize($U, no_initialized => 1);
is mcp_delete($U, session_headers($fresh))->code, 200, 'DELETE right after initialize: 200';
is mcp_post($U, rpc('notifications/initialized', undef, undef), session_headers($fresh))->code, 404,
   'notifications/initialized after DELETE: 404';

done_testing;
