# Dual-era clients (2026-07-28 first, the session revisions as the
# fallback): the probe is answered as 2026-07-28, so such a client stays
# modern; what decides the era is the request (README, Protocol eras):
# a claim-less request without a modern header is the session protocol,
# unchanged; an initialize under a modern header is a mismatch, never a
# session; an initialize carrying a modern claim is a removed method.
# (t/65-modern.t covers the 2026-07-28 path itself.)
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Apache::Test qw(-withtestmore);
use MCPTest;

my $U = '/mcp';

# the probe: server/discover with the envelope and the headers
my ($r, $m, $id) = modern_post($U, 'server/discover', {});
is $r->code, 200, 'server/discover (2026-07-28): 200';
ok((grep { $_ eq $MODERN } @{ $m->{result}{supportedVersions} || [] }),
   '... a DiscoverResult listing 2026-07-28: the client stays modern');
ok !defined $r->header('Mcp-Session-Id'), '... no session minted';

# the same method without claim or modern header is the session protocol
check_error(mcp_post($U, rpc('server/discover', {}), 'Mcp-Method' => 'server/discover'),
            400, -32000, qr/Mcp-Session-Id header is required/,
            'server/discover without envelope or modern header: the session rules (400 -32000)');

# initialize under a modern header, without a claim: -32020, no session
($r, $m, $id) = modern_post($U, 'initialize',
                            { protocolVersion => $LATEST, capabilities => {},
                              clientInfo => { name => 't08', version => '1' } }, nometa => 1);
is $r->code, 400, 'initialize under MCP-Protocol-Version 2026-07-28: 400';
is $m->{error}{code}, -32020, '... -32020';
ok !defined $r->header('Mcp-Session-Id'), '... no session';

# initialize with a modern claim: a removed method
($r, $m) = modern_post($U, 'initialize', { protocolVersion => $MODERN, capabilities => {},
                                           clientInfo => { name => 't08', version => '1' } });
is $r->code, 404, 'initialize with a 2026-07-28 claim: 404';
is $m->{error}{code}, -32601, '... -32601';

# a client that falls back to initialize asking for 2026-07-28 gets a
# session revision
my ($sid, $res) = initialize($U, protocolVersion => $MODERN);
is $res->code, 200, 'fallback initialize (asking for 2026-07-28): 200';
is rpc_final($res)->{result}{protocolVersion}, $LATEST, '... a session revision is offered';
ok is_session_id($sid), '... session created';
my (undef, $lm) = mcp_call($U, $sid, 'tools/call', { name => 'echo', arguments => { text => 'x' } });
is $lm->{result}{content}[0]{text}, 'x', '... and used';

done_testing;
