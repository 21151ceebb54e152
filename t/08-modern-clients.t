# Requests of 2026-07-28 ("modern", sessionless) clients: the legacy-only
# server answers 400 with -32000 (a legacy signal: the client falls back to
# initialize), never with a modern code -32020..-32022.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Apache::Test qw(-withtestmore);
use MCPTest;

my $U = '/mcp';
my %meta = ('io.modelcontextprotocol/protocolVersion'    => '2026-07-28',
            'io.modelcontextprotocol/clientCapabilities' => {},
            'io.modelcontextprotocol/clientInfo'         => { name => 'modern', version => '1' });

sub not_modern {
    my ($res, $name) = @_;
    my $e = error_of($res);
    ok $e && $e->{code} !~ /^-320(2[0-9])$/, "$name: no modern error code (-32020..-32029)";
}

# server/discover with the modern headers, no session
my $r = mcp_post($U, rpc('server/discover', { _meta => \%meta }),
                 'MCP-Protocol-Version' => '2026-07-28', 'Mcp-Method' => 'server/discover');
check_error($r, 400, -32000, undef, 'server/discover (2026-07-28): 400 -32000');
not_modern($r, 'server/discover');
ok !defined $r->header('Mcp-Session-Id'), 'server/discover: no session minted';

# server/discover without MCP-Protocol-Version
$r = mcp_post($U, rpc('server/discover', { _meta => \%meta }), 'Mcp-Method' => 'server/discover');
check_error($r, 400, -32000, undef, 'server/discover without a version header: 400 -32000');
not_modern($r, 'server/discover without a version header');

# a modern tools/call (no session, Mcp-Method/Mcp-Name headers)
$r = mcp_post($U, rpc('tools/call', { name => 'echo', arguments => { text => 'x' }, _meta => \%meta }),
              'MCP-Protocol-Version' => '2026-07-28', 'Mcp-Method' => 'tools/call', 'Mcp-Name' => 'echo');
check_error($r, 400, -32000, undef, 'modern tools/call without a session: 400 -32000');
not_modern($r, 'modern tools/call');

# modern tools/list
$r = mcp_post($U, rpc('tools/list', { _meta => \%meta }),
              'MCP-Protocol-Version' => '2026-07-28', 'Mcp-Method' => 'tools/list');
check_error($r, 400, -32000, undef, 'modern tools/list without a session: 400 -32000');

# after the probe, the client falls back to initialize: that works
my ($sid, $res) = initialize($U, protocolVersion => '2026-07-28');
is $res->code, 200, 'fallback initialize (asking for 2026-07-28): 200';
is rpc_final($res)->{result}{protocolVersion}, $LATEST, 'fallback initialize: a legacy version is offered';
ok is_session_id($sid), 'fallback initialize: session created';

done_testing;
