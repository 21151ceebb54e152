# JSON-RPC in a session: notifications, responses, ping, tools/list,
# tools/call, unknown tools and methods.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Apache::Test qw(-withtestmore);
use MCPTest;

my $U = '/mcp';
my ($sid) = initialize($U, no_initialized => 1);
ok is_session_id($sid), 'session created';
my @S = session_headers($sid);

# --- notifications and responses: 202, empty body
my $r = mcp_post($U, rpc('notifications/initialized', undef, undef), @S);
is $r->code, 202, 'notifications/initialized: 202';
is $r->content, '', 'notifications/initialized: empty body';

$r = mcp_post($U, rpc('notifications/cancelled', { requestId => 99, reason => 'test' }, undef), @S);
is $r->code, 202, 'notifications/cancelled: 202';
is $r->content, '', 'notifications/cancelled: empty body';

$r = mcp_post($U, { jsonrpc => '2.0', id => 'srv-1', result => {} }, @S);
is $r->code, 202, 'a JSON-RPC response from the client: 202';
is $r->content, '', 'a JSON-RPC response from the client: empty body';

$r = mcp_post($U, { jsonrpc => '2.0', id => 'srv-2',
                    error => { code => -32601, message => 'nope' } }, @S);
is $r->code, 202, 'a JSON-RPC error response from the client: 202';

# --- ping
$r = mcp_post($U, '{"jsonrpc":"2.0","id":7,"method":"ping"}', @S);
is $r->code, 200, 'ping: 200';
like $r->header('Content-Type') // '', qr{^application/json\b}i, 'ping: application/json';
is $r->header('Mcp-Session-Id'), $sid, 'ping: Mcp-Session-Id header';
is_deeply json_decode($r->content), { jsonrpc => '2.0', id => 7, result => {} },
    'ping: {"jsonrpc":"2.0","id":7,"result":{}}';

$r = mcp_post($U, '{"jsonrpc":"2.0","id":"abc-1","method":"ping"}', @S);
is_deeply json_decode($r->content), { jsonrpc => '2.0', id => 'abc-1', result => {} },
    'ping: a string id is echoed';

$r = mcp_post($U, '{"jsonrpc":"2.0","id":0,"method":"ping","params":{}}', @S);
is_deeply json_decode($r->content), { jsonrpc => '2.0', id => 0, result => {} },
    'ping: id 0 and empty params';

# --- tools/list
my ($lr, $lm) = mcp_call($U, $sid, 'tools/list', {});
is $lr->code, 200, 'tools/list: 200';
my $tools = ref $lm eq 'HASH' && ref $lm->{result} eq 'HASH' ? $lm->{result}{tools} : undef;
is ref $tools, 'ARRAY', 'tools/list: result.tools array';
my %tool = map { $_->{name} => $_ } grep { ref eq 'HASH' } @{ $tools || [] };
for my $name (qw(echo add)) {
    ok $tool{$name}, "tools/list: lists $name";
    is ref $tool{$name}{inputSchema}, 'HASH', "tools/list: $name has an inputSchema";
    is $tool{$name}{inputSchema}{type}, 'object', "tools/list: $name inputSchema is an object schema";
}
ok exists $tool{echo}{inputSchema}{properties}{text}, 'tools/list: echo takes text';
ok exists $tool{add}{inputSchema}{properties}{a} && exists $tool{add}{inputSchema}{properties}{b},
    'tools/list: add takes a and b';
ok $tool{test_tool_with_progress} && $tool{test_tool_with_logging},
    'tools/list: conformance tools listed';

# --- tools/call
my ($cr, $cm) = mcp_call($U, $sid, 'tools/call',
                         { name => 'echo', arguments => { text => "hello \x{e9}t\x{e9} \x{2603}" } });
is $cr->code, 200, 'tools/call echo: 200';
is ref $cm->{result}{content}, 'ARRAY', 'tools/call echo: content array';
is_deeply $cm->{result}{content}[0], { type => 'text', text => "hello \x{e9}t\x{e9} \x{2603}" },
    'tools/call echo: the text comes back (UTF-8 intact)';
ok !$cm->{result}{isError}, 'tools/call echo: not an error';

($cr, $cm) = mcp_call($U, $sid, 'tools/call', { name => 'add', arguments => { a => 2, b => 40 } });
is $cm->{result}{content}[0]{text}, '42', 'tools/call add 2+40 = 42';
($cr, $cm) = mcp_call($U, $sid, 'tools/call', { name => 'add', arguments => { a => 1.5, b => 2.25 } });
is $cm->{result}{content}[0]{text} + 0, 3.75, 'tools/call add 1.5+2.25 = 3.75';

($cr, $cm) = mcp_call($U, $sid, 'tools/call', { name => 'add', arguments => { a => 'x', b => 1 } });
ok(($cm->{result} && $cm->{result}{isError}) || ($cm->{error} && $cm->{error}{code} == -32602),
   'tools/call add with a bad argument: a tool error or -32602')
    or diag explain $cm;

# unknown tool: a tool error or -32602, never a successful result
($cr, $cm) = mcp_call($U, $sid, 'tools/call', { name => 'no_such_tool', arguments => {} });
is $cr->code, 200, 'tools/call unknown tool: HTTP 200';
my $unknown_ok = ($cm->{result} && $cm->{result}{isError})
              || ($cm->{error} && $cm->{error}{code} == -32602);
ok $unknown_ok, 'tools/call unknown tool: isError result or -32602' or diag explain $cm;

# --- unknown method: 200 + -32601 with the request id
my $req = rpc('no/such/method', {}, 'm-1');
$r = mcp_post($U, $req, @S);
is $r->code, 200, 'unknown method: 200';
my $um = rpc_final($r);
is $um->{id}, 'm-1', 'unknown method: id echoed';
is $um->{error}{code}, -32601, 'unknown method: -32601';
like $um->{error}{message} // '', qr/^Method not found/, 'unknown method: "Method not found"';
ok !exists $um->{result}, 'unknown method: no result';

# the session is still fine after all this
is mcp_post($U, rpc('ping'), @S)->code, 200, 'session still alive';

done_testing;
