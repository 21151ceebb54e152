# HTTP-level errors of the contract: 406, 415, 413, -32700, 400/404 for
# sessions, 405 for other methods; every error body has the contract shape.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Apache::Test qw(-withtestmore);
use MCPTest;

my $U = '/mcp';
my ($sid) = initialize($U);
ok is_session_id($sid), 'session created';
my @S = session_headers($sid);
my $ping = rpc('ping');

my $NOT_ACCEPTABLE = qr/^Not Acceptable: Client must accept both application\/json and text\/event-stream$/;
my $UNSUPPORTED_MT = qr/^Unsupported Media Type: Content-Type must be application\/json$/;

# --- 406 Accept
check_error(mcp_post($U, $ping, @S, Accept => 'application/json'),
            406, -32000, $NOT_ACCEPTABLE, '406: Accept application/json only');
check_error(mcp_post($U, $ping, @S, Accept => 'text/event-stream'),
            406, -32000, $NOT_ACCEPTABLE, '406: Accept text/event-stream only');
check_error(mcp_post($U, $ping, @S, Accept => undef),
            406, -32000, $NOT_ACCEPTABLE, '406: no Accept header');
check_error(mcp_post($U, $ping, @S, Accept => 'text/html'),
            406, -32000, $NOT_ACCEPTABLE, '406: Accept text/html');
check_error(mcp_post($U, init_message(), Accept => 'application/json'),
            406, -32000, $NOT_ACCEPTABLE, '406 on initialize too');

my $r = mcp_post($U, $ping, @S, Accept => 'text/event-stream;q=0.5, application/json;q=0.9');
is $r->code, 200, 'Accept with q-values: accepted';
$r = mcp_post($U, $ping, @S, Accept => 'application/json , text/event-stream; charset=utf-8');
is $r->code, 200, 'Accept with spaces and parameters: accepted';
$r = mcp_post($U, $ping, @S, Accept => 'text/event-stream, application/json');
is $r->code, 200, 'Accept in the other order: accepted';

# --- 415 Content-Type
check_error(mcp_post($U, $ping, @S, 'Content-Type' => 'text/plain'),
            415, -32000, $UNSUPPORTED_MT, '415: Content-Type text/plain');
check_error(mcp_post($U, $ping, @S, 'Content-Type' => undef),
            415, -32000, $UNSUPPORTED_MT, '415: no Content-Type');
check_error(mcp_post($U, $ping, @S, 'Content-Type' => 'application/x-www-form-urlencoded'),
            415, -32000, $UNSUPPORTED_MT, '415: Content-Type application/x-www-form-urlencoded');
$r = mcp_post($U, $ping, @S, 'Content-Type' => 'application/json; charset=utf-8');
is $r->code, 200, 'Content-Type application/json; charset=utf-8: accepted';
$r = mcp_post($U, $ping, @S, 'Content-Type' => 'Application/JSON');
is $r->code, 200, 'Content-Type is case-insensitive';

# --- 413 (MCPMaxMessageSize 1024 on /mcp-small)
my ($small) = initialize('/mcp-small');
ok is_session_id($small), '/mcp-small: session created';
my $big = rpc('tools/call', { name => 'echo', arguments => { text => 'x' x 2000 } });
check_error(mcp_post('/mcp-small', $big, session_headers($small)),
            413, -32000, qr/^Payload Too Large: Request body must not exceed 1024 bytes$/,
            '413: body over MCPMaxMessageSize');
my $fits = rpc('tools/call', { name => 'echo', arguments => { text => 'y' x 500 } });
$r = mcp_post('/mcp-small', $fits, session_headers($small));
is $r->code, 200, 'a body under MCPMaxMessageSize: accepted';

# --- -32700
check_error(mcp_post($U, '{bad', @S), 400, -32700, qr/^Parse error: Invalid JSON$/,
            '-32700: invalid JSON');
check_error(mcp_post($U, '{"jsonrpc":"2.0","id":1,"method":"ping"', @S), 400, -32700,
            qr/^Parse error: Invalid JSON$/, '-32700: truncated JSON');
check_error(mcp_post($U, '{"foo":1}', @S), 400, -32700,
            qr/^Parse error: Invalid JSON-RPC message$/, '-32700: a JSON object that is not JSON-RPC');
check_error(mcp_post($U, '{"method":"ping","id":1}', @S), 400, -32700,
            qr/^Parse error: Invalid JSON-RPC message$/, '-32700: no "jsonrpc" member');
check_error(mcp_post($U, '{"jsonrpc":"1.0","method":"ping","id":1}', @S), 400, -32700,
            qr/^Parse error: Invalid JSON-RPC message$/, '-32700: jsonrpc "1.0"');
check_error(mcp_post($U, '42', @S), 400, -32700,
            qr/^Parse error: Invalid JSON-RPC message$/, '-32700: a JSON number');
check_error(mcp_post($U, '"ping"', @S), 400, -32700,
            qr/^Parse error: Invalid JSON-RPC message$/, '-32700: a JSON string');

# --- sessions
check_error(mcp_post($U, $ping), 400, -32000,
            qr/^Bad Request: Mcp-Session-Id header is required$/, '400: no Mcp-Session-Id');
check_error(mcp_post($U, rpc('tools/list'), 'MCP-Protocol-Version' => $LATEST), 400, -32000,
            qr/^Bad Request: Mcp-Session-Id header is required$/, '400: tools/list without a session');
my $unknown = 'A' x 43;
check_error(mcp_post($U, $ping, session_headers($unknown)), 404, -32001,
            qr/^Session not found$/, '404: unknown session id');
(my $flipped = $sid) =~ s/^(.)/$1 eq 'A' ? 'B' : 'A'/e;
check_error(mcp_post($U, $ping, session_headers($flipped)), 404, -32001,
            qr/^Session not found$/, '404: a session id differing in one character');
check_error(mcp_post($U, rpc('notifications/initialized', undef, undef), session_headers($unknown)),
            404, -32001, qr/^Session not found$/, '404: a notification in an unknown session');

# --- 405
for my $m (qw(GET PUT PATCH)) {
    my $res = mcp_request($m, $U, ($m eq 'GET' ? undef : '{}'), @S,
                          Accept => 'text/event-stream, application/json',
                          'Content-Type' => 'application/json');
    check_error($res, 405, -32000, qr/^Method not allowed\.$/, "405: $m");
    my $allow = $res->header('Allow') // '';
    ok $allow =~ /\bPOST\b/ && $allow =~ /\bDELETE\b/ && $allow !~ /\b(GET|PUT|PATCH)\b/,
        "405 $m: Allow: POST, DELETE" or diag "Allow: $allow";
}
my $get = mcp_get($U, Accept => 'text/event-stream');
is $get->code, 405, '405: GET without a session';

# the session survived all of it
is mcp_post($U, $ping, @S)->code, 200, 'session still alive';

done_testing;
