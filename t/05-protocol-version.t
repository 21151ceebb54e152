# The MCP-Protocol-Version request header.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Apache::Test qw(-withtestmore);
use MCPTest;

my $U = '/mcp';
my ($sid) = initialize($U, protocolVersion => '2025-11-25');
ok is_session_id($sid), 'session created (2025-11-25)';

sub unsupported {
    my $v = shift;
    return qr/^Bad Request: Unsupported protocol version: \Q$v\E \(supported versions: 2025-11-25, 2025-06-18, 2025-03-26\)$/;
}

for my $v ('1999-01-01', '2024-11-05', 'garbage') {
    check_error(mcp_post($U, rpc('ping'), 'Mcp-Session-Id' => $sid, 'MCP-Protocol-Version' => $v),
                400, -32000, unsupported($v), "unsupported MCP-Protocol-Version $v: 400");
}
# 2026-07-28 is served, without sessions: that request is a 2026-07-28 one
# (its session id ignored), refused for lacking the _meta envelope
{
    my $r = mcp_post($U, rpc('ping'), 'Mcp-Session-Id' => $sid, 'MCP-Protocol-Version' => '2026-07-28');
    is $r->code, 400, 'MCP-Protocol-Version 2026-07-28 in a session: a 2026-07-28 request, 400';
    my $j = eval { json_decode($r->content) } || {};
    is $j->{error}{code}, -32602, '... -32602: its _meta envelope is missing' or diag $r->content;
    ok !defined $r->header('Mcp-Session-Id'), '... and no Mcp-Session-Id in the answer';
}

my $r = mcp_post($U, rpc('ping'), 'Mcp-Session-Id' => $sid);
is $r->code, 200, 'no MCP-Protocol-Version header: accepted';
is_deeply json_decode($r->content)->{result}, {}, 'no MCP-Protocol-Version header: ping answered';

for my $v ('2025-06-18', '2025-03-26') {
    $r = mcp_post($U, rpc('ping'), 'Mcp-Session-Id' => $sid, 'MCP-Protocol-Version' => $v);
    is $r->code, 200, "supported but not negotiated version $v: accepted";
}
$r = mcp_post($U, rpc('ping'), 'Mcp-Session-Id' => $sid, 'mcp-protocol-version' => '2025-11-25');
is $r->code, 200, 'header name is case-insensitive';

# tools/call with an unsupported version does not run
my $t = mcp_post($U, rpc('tools/call', { name => 'echo', arguments => { text => 'x' } }),
                 'Mcp-Session-Id' => $sid, 'MCP-Protocol-Version' => '1999-01-01');
check_error($t, 400, -32000, unsupported('1999-01-01'), 'tools/call with an unsupported version: 400');

# DELETE with an unsupported version is refused and does not end the session
check_error(mcp_delete($U, 'Mcp-Session-Id' => $sid, 'MCP-Protocol-Version' => '1999-01-01'),
            400, -32000, unsupported('1999-01-01'), 'DELETE with an unsupported version: 400');
is mcp_post($U, rpc('ping'), session_headers($sid))->code, 200,
    'the session survived the refused DELETE';

# a session negotiated at 2025-03-26 works without the header
my ($old) = initialize($U, protocolVersion => '2025-03-26');
$r = mcp_post($U, rpc('tools/list'), 'Mcp-Session-Id' => $old);
is $r->code, 200, '2025-03-26 session without the header: 200';
is ref rpc_final($r)->{result}{tools}, 'ARRAY', '2025-03-26 session: tools/list works';

done_testing;
