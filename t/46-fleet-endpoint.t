# Endpoint identity across a fleet: nodes that differ in port (and, with
# MCPEndpointName, in ServerName) share sessions; different endpoints do
# not; a name httpd derived itself is warned about at startup.
# expect-log: MCPS00111 MCPS00112 AH00558
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore);
use MCPTest;

skip_unless_redis();

plan tests => 21;

my $redis = start_redis(name => 't46-redis');
my $conf  = $redis->store_conf("mcp:t46:$$:");
sub ping { mcp_post($_[0], rpc('ping'), session_headers($_[1]))->code }
sub log_of { MCPTest::read_from($_[0]->error_log_path) }

# --- two nodes whose ServerName differs only in the port ------------------
my ($pa, $pb) = (free_port(), free_port());
$pb = free_port() while $pb == $pa;
my $A = start_node(name => 't46-a', port => $pa, server_name => "127.0.0.1:$pa", conf => $conf);
my $B = start_node(name => 't46-b', port => $pb, server_name => "127.0.0.1:$pb", conf => $conf);
my $sa = initialize($A->url);
my $sb = initialize($B->url);
ok is_session_id($sa) && is_session_id($sb), 'sessions made on nodes A and B (ports differ)';
is ping($B->url, $sa), 200, 'the session from A works on B';
is ping($A->url, $sb), 200, 'the session from B works on A';
like log_of($A), qr/MCPS00110: MCP endpoint '127\.0\.0\.1\/mcp' \(SetHandler at /,
    'A logs its endpoint identity, without the port';

# --- different ServerNames: separate, unless MCPEndpointName joins them --
my $loc = "    MCPEndpointName fleet-mcp";
my $C = start_node(name => 't46-c', server_name => 'c.example', conf => $conf, location_conf => $loc);
my $D = start_node(name => 't46-d', server_name => 'd.example', conf => $conf, location_conf => $loc);
my $E = start_node(name => 't46-e', server_name => 'e.example:8443', conf => $conf);
my $sc = initialize($C->url);
ok is_session_id($sc), 'a session made on node C (c.example, MCPEndpointName fleet-mcp)';
is ping($D->url, $sc), 200, '... works on node D (d.example, the same MCPEndpointName)';
is ping($E->url, $sc), 404, '... is unknown on node E (e.example, no MCPEndpointName)';
is ping($E->url, $sa), 404, 'the session from A (127.0.0.1/mcp) is unknown on E (e.example/mcp)';
like log_of($C), qr/MCPS00110: MCP endpoint 'fleet-mcp' \(MCPEndpointName/,
    'C logs the explicit name';
like log_of($E), qr/MCPS00110: MCP endpoint 'e\.example\/mcp'/, 'E logs e.example/mcp';

# --- no ServerName: httpd derives one; warn in external mode --------------
my $F = start_node(name => 't46-f', server_name => undef, conf => $conf);
like log_of($F), qr/MCPS00111: MCP endpoint '[^']*\/mcp' .*no ServerName.*will not cross nodes/,
    'no ServerName in external mode: a startup warning that sessions will not cross nodes';
like log_of($F), qr/MCPS00111: .*Set ServerName .* or MCPEndpointName/, '... saying how to fix it';
my $sf = initialize($F->url);
is ping($F->url, $sf), 200, '... and the node still serves its own sessions';

my $G = start_node(name => 't46-g', server_name => undef, conf => $conf, location_conf => $loc);
unlike log_of($G), qr/MCPS00111/, 'no ServerName but MCPEndpointName: no warning';
is ping($G->url, $sc), 200, '... and it shares sessions with C and D';

my $H = start_node(name => 't46-h', server_name => undef);
unlike log_of($H), qr/MCPS00111/, 'no ServerName in memory mode: no warning (nothing to share)';

# --- a trailing <Location /> and a second endpoint on one node ------------
my $I = start_node(name => 't46-i', conf => $conf,
                   location_conf => "</Location>\n<Location /other>\n    SetHandler mcp-session\n"
                                  . "</Location>\n<Location />\n    AddDefaultCharset Off");
my $si = initialize($I->url);
is ping($I->url, $si), 200, 'node I: a session at /mcp';
is ping($I->url('/other'), $si), 404, '... is unknown at /other on the same node';
is ping($A->url, $si), 200, '... and works at /mcp of node A (same identity, 127.0.0.1/mcp)';

# --- ServerAlias * defeats the Origin check: warned about ----------------
my $pj = free_port();
my $J = start_node(name => 't46-j', port => $pj, location => undef,
                   conf => "<VirtualHost 127.0.0.1:$pj>\n    ServerName 127.0.0.1\n    ServerAlias *\n"
                         . "    <Location /mcp>\n        SetHandler mcp-session\n    </Location>\n"
                         . "</VirtualHost>\n");
like log_of($J), qr/MCPS00112: ServerAlias \* .*matches any host name/,
    'ServerAlias * on an MCP server: a startup warning';
unlike log_of($A), qr/MCPS00112/, '... not without it';
