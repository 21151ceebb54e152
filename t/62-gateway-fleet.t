# Gateway mode (MCPBackend) in a fleet: two httpd nodes sharing one
# redis-server, in front of real MCP servers on the official TypeScript SDK
# (t/node/backend.mjs). The official SDK client runs whole conversations with
# every HTTP request going to the other node (initialize on one, the rest
# alternating):
#   - stateless backend: t/node/gw-client.mjs and t/33's t/node/sdk-client.mjs;
#   - stateful backend: the backend's own session id travels in the shared
#     session record, so the node that did not initialize sends it too: the
#     backend sees one initialize and one session for the whole conversation
#     (no replay), and the DELETE.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore);
use MCPTest;

# Redis stopped on purpose: the failed store call of the initialize.
# expect-log: MCPS00411

skip_unless_node();
skip_unless_redis();

my $node_dir = node_dir();

sub steps_named {
    my ($s, $name) = @_;
    return map { $_->{value} } grep { $_->{step} eq $name } @{ $s->{steps} || [] };
}

my $sl = start_backend(mode => 'stateless', name => 'sl62');
my $sf = start_backend(mode => 'stateful',  name => 'sf62');
my $prefix = "mcp:gw62:$$:";
my ($redis, $n1, $n2) = start_fleet(
    name => 'gw62', prefix => $prefix,
    conf => "<Location /mcp-sf>\n    SetHandler mcp-session\n    MCPBackend " . $sf->url . "\n</Location>\n",
    nodes => [ map { { name => "gw62$_", location_conf => '    MCPBackend ' . $sl->url } } qw(a b) ]);

my @steps = ('connect', 'list', 'echo=one', 'add=2,3', 'session', 'whoami', 'echo=two',
             'session', 'ping', 'delete', 'after-delete');

# --- stateless backend -------------------------------------------------------------
{
    my $before = $sl->stats;
    my ($rc, $s, $err) = gw_client($n1->url('/mcp'), $n2->url('/mcp'), @steps);
    is $rc, 0, 'stateless: SDK conversation alternating between two nodes'
        or diag "failures: @{ $s->{failures} || [] }\n$err";
    ok is_session_id($s->{sessionId}), 'stateless: an Apache session id';
    my ($c1, $c2) = @{ $s->{perNode} || [0, 0] };
    ok $c1 >= 5 && $c2 >= 5, "stateless: both nodes served it ($c1 / $c2 requests)";
    my @w = @{ $s->{wire} || [] };
    is "$w[0]{node}:$w[0]{rpc}:$w[0]{status}", '0:initialize:200', 'stateless: initialize on node 1';
    is "$w[1]{node}:$w[1]{rpc}:$w[1]{status}", '1:notifications/initialized:202',
        'stateless: notifications/initialized accepted by node 2';
    my @sess = steps_named($s, 'session');
    is $sess[0]{instance}, $sl->instance, 'stateless: calls reached the backend';
    my $ad = (steps_named($s, 'after-delete'))[0] || {};
    is $ad->{status}, 404, 'stateless: DELETE on one node: 404 on the other afterwards';
    is $sl->stats->{initialize} - $before->{initialize}, 1, 'stateless: one initialize at the backend';

    # t/33's conversation, unchanged, against the gateway fleet
    my ($rc2, $out, $err2) = run_node("$node_dir/sdk-client.mjs", '--quiet', $n1->url('/mcp'), $n2->url('/mcp'));
    my $x = json_decode($out) || {};
    is $rc2, 0, "stateless: t/33's SDK conversation passes unchanged through the gateway fleet"
        or diag explain $x->{failures};
}

# --- stateful backend --------------------------------------------------------------
{
    my $before = $sf->stats;
    my ($rc, $s, $err) = gw_client($n1->url('/mcp-sf'), $n2->url('/mcp-sf'), @steps);
    is $rc, 0, 'stateful: SDK conversation alternating between two nodes'
        or diag "failures: @{ $s->{failures} || [] }\n$err";
    my $sid = $s->{sessionId};
    ok is_session_id($sid), 'stateful: an Apache session id';
    my ($c1, $c2) = @{ $s->{perNode} || [0, 0] };
    ok $c1 >= 5 && $c2 >= 5, "stateful: both nodes served it ($c1 / $c2 requests)";
    my @sess = steps_named($s, 'session');
    like $sess[0]{sessionId} // '', $BACKEND_SID, 'stateful: the backend has its own session';
    is $sess[1]{sessionId}, $sess[0]{sessionId}, 'stateful: the same backend session from both nodes';
    my @nodes = map { $_->{node} } grep { ($_->{rpc} // '') eq 'tools/call' } @{ $s->{wire} || [] };
    ok scalar(grep { $_ == 0 } @nodes) && scalar(grep { $_ == 1 } @nodes),
        'stateful: tools/call went through both nodes' or diag "@nodes";
    my $after = $sf->stats;
    is $after->{initialize} - $before->{initialize}, 1,
        'stateful: the backend saw one initialize (no replay: both nodes know its id)';
    my @log = grep { $_->{n} > $before->{total} } @{ $sf->log || [] };
    my %sids = map { ($_->{sid} // '-') => 1 } grep { !$_->{init} } @log;
    is_deeply [ sort keys %sids ], [ $sess[0]{sessionId} // 'none' ],
        'stateful: every later request carried the backend session id'
        or diag explain \%sids;
    is scalar(grep { ($_->{status} // 0) == 404 } @log), 0, 'stateful: the backend never answered 404';
    is $after->{deletes} - $before->{deletes}, 1, 'stateful: the DELETE reached the backend';
    my $ad = (steps_named($s, 'after-delete'))[0] || {};
    is $ad->{status}, 404, 'stateful: the deleted session answers 404';
}

# --- Redis holds the records, not the client's id -------------------------------------
{
    my $u1 = $n1->url('/mcp-sf');
    my $sid = initialize($u1);
    my ($res, $m) = mcp_call($n2->url('/mcp-sf'), $sid, 'tools/call',
                             { name => 'backend_session', arguments => {} });
    my $bs = json_decode(ref $m eq 'HASH' ? $m->{result}{content}[0]{text} // '' : '') || {};
    like $bs->{sessionId} // '', $BACKEND_SID, 'raw: initialize on node 1, backend session seen from node 2';
    my @keys = grep { length && !/:deleted$/ } $redis->cli('--scan', '--pattern', "$prefix*");
    my @vals = map { scalar $redis->cli('GET', $_) } @keys;
    ok scalar(grep { index($_, $bs->{sessionId} // 'none') >= 0 } @vals),
        "raw: the backend's id is kept in the shared session record";
    ok !grep({ index($_, $sid) >= 0 } @keys, @vals), "raw: Redis never holds the client's session id";
    is mcp_delete($n2->url('/mcp-sf'), session_headers($sid))->code, 200, 'raw: DELETE on node 2';
}

# --- Redis down when a stateful backend has answered initialize -----------------
{
    my $before = $sf->stats;
    $redis->stop;
    my $res = mcp_post($n1->url('/mcp-sf'), init_message());
    isnt $res->code, 404, 'Redis down: initialize is not 404';
    is $res->code, 503, 'Redis down: initialize gets 503';
    ok !defined $res->header('Mcp-Session-Id'), '... and no session';
    my $after = $sf->stats;
    is $after->{sessions}, $before->{sessions},
        '... and leaves no orphaned session at the backend ('
        . ($after->{initialize} - $before->{initialize}) . ' initialize, '
        . ($after->{deletes} - $before->{deletes}) . ' DELETE)';
    ok $redis->start, 'Redis back';
    my $ok = wait_for(sub { is_session_id(scalar initialize($n1->url('/mcp-sf'))) }, 20, 0.5);
    ok $ok, '... initialize works again';
}

for my $n ($n1, $n2) {
    my $log = MCPTest::read_from($n->error_log_path);
    ok $log !~ /exit signal|Segmentation fault|AH00052/, $n->{name} . ': no child crash';
}

done_testing();
