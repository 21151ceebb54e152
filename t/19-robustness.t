# Odd input never crashes a child; the server keeps answering. Runs last:
# also checks the error log of the whole suite for crashed children.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Apache::Test qw(-withtestmore);
use MCPTest;

my $U = '/mcp';
my ($sid) = initialize($U);
ok is_session_id($sid), 'session';
my @S = session_headers($sid);

check_error(mcp_post($U, '', @S), 400, -32700, qr/^Parse error: Invalid JSON$/, 'empty body: -32700');
check_error(mcp_post($U, 'null', @S), 400, -32700, qr/^Parse error/, 'null: -32700');
check_error(mcp_post($U, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\",\"x\":\"\xff\xfe\"}", @S),
            400, -32700, qr/^Parse error/, 'invalid UTF-8: -32700');
check_error(mcp_post($U, ('[' x 5000) . (']' x 5000), @S), 400, -32700, qr/^Parse error/,
            'JSON nested 5000 deep: -32700');
my $r = mcp_post($U, '{"jsonrpc":"2.0","id":{"a":1},"method":"ping"}', @S);
is $r->code, 400, 'an object as request id: 400';
$r = mcp_post($U, '{"jsonrpc":"2.0","id":1,"method":42}', @S);
is $r->code, 400, 'a number as method: 400';
$r = mcp_post($U, '{"jsonrpc":"2.0","id":1,"method":"ping"}{"x":1}', @S);
is $r->code, 400, 'trailing garbage after the JSON: 400';

# strange session ids: a JSON-RPC error, 400 or 404
for my $bad ('', ' ', 'x', 'a' x 500, '../../etc/passwd', 'abc def', '%00' x 10,
             '*' x 43, ('A' x 42) . '=') {
    my $res = mcp_post($U, rpc('ping'), 'Mcp-Session-Id' => $bad, 'MCP-Protocol-Version' => $LATEST);
    my $e = error_of($res);
    ok(($res->code == 400 || $res->code == 404) && $e,
       sprintf('session id %s: 400/404 with a JSON-RPC error', length $bad > 20 ? substr($bad, 0, 20) . '...' : "'$bad'"))
        or diag $res->status_line;
}

# two session headers
$r = mcp_post($U, rpc('ping'), 'Mcp-Session-Id' => [$sid, 'D' x 43], 'MCP-Protocol-Version' => $LATEST);
ok $r->code >= 400 && $r->code < 500, 'two Mcp-Session-Id headers: 4xx (' . $r->code . ')';

# the server is fine
is mcp_post($U, rpc('ping'), @S)->code, 200, 'the session still works';
my ($after) = initialize($U);
ok is_session_id($after), 'a new session still works';

# no child crashed during the whole suite
my $log = Apache::Test::vars('t_logs') . '/error_log';
my @crashes = grep_log($log, qr/exit signal|AH00052|Segmentation fault|AddressSanitizer|double free|corrupted/i);
ok !@crashes, 'no crashed child in the error log' or diag join "\n", @crashes[0 .. ($#crashes > 9 ? 9 : $#crashes)];

done_testing;
