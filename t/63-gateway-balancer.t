# Gateway mode with MCPBackend balancer://: pools of real MCP servers on the
# official TypeScript SDK (t/node/backend.mjs) behind one httpd node.
#   - a pool of two stateless members shares the calls of one session, and
#     carries on on one member when the other is stopped;
#   - a pool of two stateful members: each session goes back to the member
#     that holds its backend session (backend_session reports the same
#     process and id every time, no member ever answers 404); when that member
#     is stopped, the next call succeeds through a replay on the other member,
#     which then keeps the session; sessions of the other member are untouched.
# The pools are configured as README says: members with a route, reused
# connections closed before Node's 5 s keep-alive timeout (ttl=4), and for
# the stateful pool the sticky cookie the gateway sets for a route
# (ProxySet stickysession=MCPBackendRoute).
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore);
use MCPTest;

# A stopped member: mod_proxy cannot connect and puts it in error state.
# expect-log: AH00957 AH01114 AH00959

skip_unless_node();


sub tool_json {
    my $m = shift;
    return undef unless ref $m eq 'HASH' && ref $m->{result} eq 'HASH';
    my $t = $m->{result}{content}[0]{text} // '';
    return json_decode($t) // $t;
}
sub backend_session {
    my ($u, $sid) = @_;
    my ($res, $m) = mcp_call($u, $sid, 'tools/call', { name => 'backend_session', arguments => {} });
    return ($res, tool_json($m) || {});
}

my @sl = map { start_backend(mode => 'stateless', name => "sl63$_") } qw(a b);
my @sf = map { start_backend(mode => 'stateful',  name => "sf63$_") } qw(c d);

my $conf = <<"CONF";
<Proxy "balancer://sl63">
    BalancerMember @{[ $sl[0]->base ]} route=a keepalive=On ttl=4
    BalancerMember @{[ $sl[1]->base ]} route=b keepalive=On ttl=4
    ProxySet lbmethod=byrequests
</Proxy>
<Proxy "balancer://sf63">
    BalancerMember @{[ $sf[0]->base ]} route=c keepalive=On ttl=4
    BalancerMember @{[ $sf[1]->base ]} route=d keepalive=On ttl=4
    ProxySet lbmethod=byrequests stickysession=MCPBackendRoute
</Proxy>
<Location /mcp-sf>
    SetHandler mcp-session
    MCPBackend balancer://sf63/mcp
</Location>
CONF
my $node = start_node(name => 'gw63', conf => $conf, location_conf => '    MCPBackend balancer://sl63/mcp');

# --- stateless pool ------------------------------------------------------------
{
    my $u = $node->url('/mcp');
    my @before = map { $_->stats->{total} } @sl;
    my $sid = initialize($u);
    ok is_session_id($sid), 'stateless pool: initialize';
    my %by;
    my $ok = 0;
    for my $i (1 .. 12) {
        my ($res, $bs) = backend_session($u, $sid);
        $ok++ if $res->code == 200 && $bs->{instance};
        $by{ $bs->{instance} // 'none' }++;
    }
    is $ok, 12, 'stateless pool: 12 calls answered';
    my @got = map { $sl[$_]->stats->{total} - $before[$_] } 0, 1;
    ok $got[0] >= 3 && $got[1] >= 3, "stateless pool: both members got requests ($got[0] / $got[1])";
    ok $by{ $sl[0]->instance } && $by{ $sl[1]->instance },
        'stateless pool: both members answered tools/call' or diag explain \%by;

    $sl[1]->stop;
    my @answered;
    for my $i (1 .. 4) {
        my ($res, $bs) = backend_session($u, $sid);
        push @answered, $res->code == 200 ? $bs->{instance} // 'none' : $res->code;
    }
    is_deeply \@answered, [ ($sl[0]->instance) x 4 ],
        'stateless pool: one member stopped: the session carries on on the other';
}

# --- stateful pool ---------------------------------------------------------------
my $u = $node->url('/mcp-sf');
my @sessions;    # [ apache sid, instance, backend id ]
my @init_before = map { $_->stats->{initialize} } @sf;
my @initialized;
for my $i (1 .. 6) {
    my $res = mcp_post($u, init_message());
    my $sid = $res->header('Mcp-Session-Id');
    push @initialized, mcp_post($u, rpc('notifications/initialized', undef, undef),
                                session_headers($sid))->code;
    my ($r2, $bs) = backend_session($u, $sid);
    push @sessions, [ $sid, $bs->{instance} // 'none', $bs->{sessionId} // 'none' ];
}
ok !grep({ !is_session_id($_->[0]) } @sessions), 'stateful pool: 6 sessions';
is_deeply \@initialized, [ (202) x 6 ], 'stateful pool: notifications/initialized accepted (202) in each';
ok !grep({ $_->[2] !~ $BACKEND_SID } @sessions), 'stateful pool: each has a backend session';
my %held;
$held{ $_->[1] }++ for @sessions;
ok $held{ $sf[0]->instance } && $held{ $sf[1]->instance },
    'stateful pool: the initializes were spread over both members' or diag explain \%held;

# two calls in a row per session: round robin alone would send the second
# one to the other member
my $sticky = 0;
for my $round (1 .. 2) {
    for my $s (@sessions) {
        for my $twice (1, 2) {
            my ($res, $bs) = backend_session($u, $s->[0]);
            $sticky++ if $res->code == 200 && ($bs->{instance} // '') eq $s->[1]
                      && ($bs->{sessionId} // '') eq $s->[2];
        }
    }
}
is $sticky, 24, 'stateful pool: every call of a session went back to its member and backend session';
my @st = map { $_->stats } @sf;
is $st[0]{initialize} + $st[1]{initialize} - $init_before[0] - $init_before[1], 6,
    'stateful pool: 6 initializes in all (no replay)';
is +($st[0]{byStatus}{404} // 0) + ($st[1]{byStatus}{404} // 0), 0,
    'stateful pool: no member ever answered 404';

# stop the member holding the first session
my ($gone) = grep { $_->instance eq $sessions[0][1] } @sf;
my ($kept) = grep { $_->instance ne $sessions[0][1] } @sf;
my @moved = grep { $_->[1] eq $gone->instance } @sessions;
my @stay  = grep { $_->[1] eq $kept->instance } @sessions;
my $kept_init = $kept->stats->{initialize};
$gone->stop;
my $replayed = 0;
for my $s (@moved) {
    my ($res, $bs) = backend_session($u, $s->[0]);
    if ($res->code == 200 && ($bs->{instance} // '') eq $kept->instance && ($bs->{sessionId} // '') =~ $BACKEND_SID
        && $bs->{sessionId} ne $s->[2]) {
        $replayed++;
        $s->[1] = $bs->{instance};
        $s->[2] = $bs->{sessionId};
    }
    else {
        diag 'after the stop: ' . $res->status_line . ' ' . substr($res->content, 0, 200);
    }
}
is $replayed, scalar(@moved), 'member stopped: its sessions go on on the other member (a new backend session)';
is $kept->stats->{initialize} - $kept_init, scalar(@moved),
    '... through one replayed initialize each';
my $after = 0;
for my $s (@sessions) {
    for my $twice (1, 2) {
        my ($res, $bs) = backend_session($u, $s->[0]);
        $after++ if $res->code == 200 && ($bs->{instance} // '') eq $s->[1]
                 && ($bs->{sessionId} // '') eq $s->[2];
    }
}
is $after, 2 * @sessions, 'then every session stays on its (new) member and backend session';
is $kept->stats->{initialize} - $kept_init, scalar(@moved), '... without another initialize';

done_testing();
