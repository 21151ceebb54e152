# 2026-07-28 requests through the gateway (MCPBackend) to a stateless
# 2026-07-28 server on the official TypeScript SDK v2
# (t/node/backend2026.mjs): checked by Apache first (refusals never reach
# the backend, and carry the request's id), then forwarded with their
# headers and without any session: no session made, the client's
# Mcp-Session-Id not forwarded, the backend's dropped; input_required and
# the backend's own errors pass through unchanged; a backend that is down
# or too slow is 503/502 with the request's id. Session clients on the
# same endpoint still get sessions.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Apache::Test qw(-withtestmore);
use MCPTest;

# the backend stopped, then too slow: mod_proxy's and the gateway's lines
# expect-log: MCPS00601 AH00957 AH01114 AH01102 AH00898 AH01097

skip_unless_node();
plan skip_all => '@modelcontextprotocol/server (SDK v2) is not in t/node/node_modules'
    unless -d node_dir() . '/node_modules/@modelcontextprotocol/server';

my $bport = free_port();
my $backend;
sub start_backend2026 {
    $backend = node_spawn(node_dir() . '/backend2026.mjs', '--port', $bport);
    return wait_for(sub { MCPTest::port_open($bport) }, 20);
}
ok start_backend2026(), 'backend2026.mjs (SDK v2, stateless 2026-07-28) listens';
my $direct = "http://127.0.0.1:$bport/mcp";
sub stats { json_decode(mcp_get("http://127.0.0.1:$bport/__stats")->content) || { total => -1, log => [] } }

my $node = start_node(name => 't67',
    conf => qq{<Proxy "http://127.0.0.1:$bport/">\n    ProxySet keepalive=On ttl=4 timeout=2\n</Proxy>\n},
    location_conf => "    MCPBackend http://127.0.0.1:$bport/mcp\n");
my $U = $node->url;
my $status = sub { status_auto($node->url('/server-status')) || {} };
my $s0 = $status->();

# --- forwarded, without a session -------------------------------------------------
my ($r, $m, $id) = modern_post($U, 'server/discover', {}, headers => { 'Mcp-Session-Id' => 'client-session-id' });
is $r->code, 200, 'server/discover through the gateway: 200';
is $m->{id}, $id, '... the id';
is $m->{result}{_meta}{'io.modelcontextprotocol/serverInfo'}{name}, 'backend2026', "... the backend's answer";
ok !defined $r->header('Mcp-Session-Id'), "... no Mcp-Session-Id (the backend's is dropped)";
my $last = stats()->{log}[-1];
is $last->{headers}{'mcp-protocol-version'}, $MODERN, 'the backend got MCP-Protocol-Version';
is $last->{headers}{'mcp-method'}, 'server/discover', '... Mcp-Method';
ok !exists $last->{headers}{'mcp-session-id'}, "... and not the client's Mcp-Session-Id";

($r, $m) = modern_post($U, 'tools/call', { name => 'echo', arguments => { text => 'via apache' } },
                       headers => { 'Mcp-Param-Region' => 'eu' });
is $m->{result}{content}[0]{text}, 'via apache', 'tools/call echo: the backend answered';
$last = stats()->{log}[-1];
is $last->{headers}{'mcp-name'}, 'echo', '... the backend got Mcp-Name';
is $last->{headers}{'mcp-param-region'}, 'eu', '... and Mcp-Param-Region';

# input_required passes through unchanged (as the backend answers it directly)
my $caps = { caps => { elicitation => {} } };
my ($dr, $dm) = modern_post($direct, 'tools/call', { name => 'confirm', arguments => {} },
                            meta => $caps, id => 'same');
($r, $m) = modern_post($U, 'tools/call', { name => 'confirm', arguments => {} },
                       meta => $caps, id => 'same');
is $m->{result}{resultType}, 'input_required', 'confirm round 1 through the gateway: input_required';
is_deeply $m, $dm, '... exactly what the backend answers directly';
ok !defined $r->header('Mcp-Session-Id'), '... no Mcp-Session-Id';
($r, $m) = modern_post($U, 'tools/call',
                       { name => 'confirm', arguments => {},
                         inputResponses => { confirm => { action => 'accept', content => { ok => JSON::true() } } } },
                       meta => $caps);
is $m->{result}{content}[0]{text}, 'confirmed', 'round 2 with the answer: confirmed';

# the backend's own errors pass through: a 404 is not a lost session here
($r, $m, $id) = modern_post($U, 'unknown/method', {});
is $r->code, 404, "the backend's 404 for an unknown method is passed on";
is $m->{error}{code}, -32601, '... -32601';
is $m->{id}, $id, '... with the id';

my $s1 = $status->();
is $s1->{MCPSessionCreated}, $s0->{MCPSessionCreated}, 'no session was created for them';
is $s1->{MCPSessionMemoryUsed}, 0, '... the session table is empty';
cmp_ok $s1->{MCPBackendForwarded} - $s0->{MCPBackendForwarded}, '>=', 5, '... they were forwarded (MCPBackendForwarded)';

# --- what Apache refuses never reaches the backend ----------------------------------
my $before = stats()->{total};
my @refused = (
    [ 'Mcp-Method missing', sub { modern_post($U, 'tools/list', {}, headers => { 'Mcp-Method' => undef }) }, 400, -32020 ],
    [ 'Mcp-Name another tool', sub { modern_post($U, 'tools/call', { name => 'echo', arguments => { text => 'x' } },
                                                 headers => { 'Mcp-Name' => 'confirm' }) }, 400, -32020 ],
    [ 'header and _meta disagree', sub { modern_post($U, 'tools/list', {}, meta => { version => 'v999.0.0' }) }, 400, -32020 ],
    [ 'v999 in both', sub { modern_post($U, 'tools/list', {}, meta => { version => 'v999.0.0' },
                                        headers => { 'MCP-Protocol-Version' => 'v999.0.0' }) }, 400, -32022 ],
    [ 'no clientCapabilities', sub { modern_post($U, 'tools/list', {},
                                                 meta => { drop => ['io.modelcontextprotocol/clientCapabilities'] }) }, 400, -32602 ],
);
for my $case (@refused) {
    my ($name, $send, $want_status, $want_code) = @$case;
    my ($res, $msg, $rid) = $send->();
    ok $res->code == $want_status && $msg->{error}{code} == $want_code && ($msg->{id} // '') eq $rid,
        "$name: $want_status $want_code with the id, from Apache"
        or diag $res->status_line . ' ' . $res->content;
}
my ($res) = modern_post($U, 'tools/list', {}, body => json_encode([rpc('tools/list', { _meta => modern_meta() })]));
is $res->code, 400, 'a batch: 400';
for my $method (qw(GET DELETE)) {
    $res = mcp_request($method, $U, undef, 'MCP-Protocol-Version' => $MODERN);
    is $res->code, 405, "$method with a 2026-07-28 header: 405";
}
is stats()->{total}, $before, '... none of them reached the backend';

# --- the session era on the same gateway --------------------------------------------
my ($sid, $ires) = initialize($U);
ok is_session_id($sid), 'a session-era initialize through the gateway: a session';
my (undef, $lm) = mcp_call($U, $sid, 'tools/call', { name => 'echo', arguments => { text => 'legacy' } });
is $lm && $lm->{result}{content}[0]{text}, 'legacy', '... and a tool call in it';

# --- the backend too slow, or down ------------------------------------------------------
($r, $m, $id) = modern_post($U, 'tools/call', { name => 'slow', arguments => { ms => 4000 } }, -timeout => 20);
is $r->code, 502, 'the backend slower than the proxy timeout: 502';
is $m->{error}{code}, -32000, '... a JSON-RPC error';
is $m->{id}, $id, '... with the id';
$backend->stop;
wait_for(sub { !MCPTest::port_open($bport) }, 10);
($r, $m, $id) = modern_post($U, 'tools/call', { name => 'echo', arguments => { text => 'x' } });
is $r->code, 503, 'the backend down: 503';
is $m->{id}, $id, '... with the id';
is $r->header('Retry-After'), '5', '... Retry-After: 5';
ok !defined $r->header('Mcp-Session-Id'), '... no Mcp-Session-Id';
is $status->()->{MCPSessionCreated}, $s1->{MCPSessionCreated} + 1, 'only the session-era initialize made a session';

done_testing;
