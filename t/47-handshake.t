# Memory mode: a session that never completes its handshake (initialize
# without notifications/initialized) lives MCPSessionHandshakeTTL and is
# the first to go when the table is full, so anonymous initializes cannot
# lock real clients out. A table full of initialized sessions still
# answers 503 + Retry-After. Runs two extra httpds (MCPSessionCapacity is
# server-wide).
# expect-log: MCPS00211
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Apache::Test qw(-withtestmore);
use Time::HiRes qw(sleep time);
use MCPTest;

sub status_of {
    my $node = shift;
    return MCPTest::status_auto($node->url('/server-status?auto')) || {};
}
sub ping { my ($u, $sid) = @_; mcp_post($u, rpc('ping'), session_headers($sid))->code }

# ---------------------------------------------------------------------------
# 1. A full table of unfinished handshakes makes room for real clients.
{
    my $node = start_node(name => 'handshake', conf => "MCPSessionCapacity 5\n");
    my $U = $node->url;
    diag "node $U ($node->{mpm})";

    my @pending;
    for my $i (1 .. 5) {
        my ($sid, $res) = initialize($U, no_initialized => 1);
        is $res->code, 200, "anonymous initialize $i of 5 (never initialized): 200";
        push @pending, $sid;
    }
    my $st = status_of($node);
    is $st->{MCPSessionMemoryUsed}, 5, 'mod_status: 5 sessions in the table';
    is $st->{MCPSessionMemoryPending}, 5, 'mod_status: all 5 in their handshake';
    is $st->{MCPSessionEvicted}, 0, 'mod_status: nothing evicted yet';

    my $off = file_size($node->error_log_path);
    my ($real, $res) = initialize($U);
    is $res->code, 200, 'a real client gets a session at once although the table is full';
    ok is_session_id($real), 'with a session id';
    my (undef, $m) = mcp_call($U, $real, 'tools/list');
    ok ref $m eq 'HASH' && ref $m->{result}{tools} eq 'ARRAY' && @{ $m->{result}{tools} },
        'tools/list in the new session works';
    is ping($U, $pending[0]), 404, 'the oldest unfinished handshake made room (404)';
    # (in order: using them keeps the oldest first)
    is scalar(grep { ping($U, $_) == 200 } @pending[1 .. 4]), 4,
        'the four other unfinished handshakes still work';
    ok wait_for_log($node->error_log_path, qr/MCPS00320: .*had not completed its handshake/, 5, $off),
        'the debug log says which session was dropped and why';

    my @real = ($real);
    for my $i (2 .. 5) {
        my ($sid, $r) = initialize($U);
        is $r->code, 200, "real client $i: 200 (takes an unfinished handshake's place)";
        push @real, $sid;
    }
    is scalar(grep { ping($U, $_) == 404 } @pending), 5, 'all five unfinished handshakes are gone';
    is scalar(grep { ping($U, $_) == 200 } @real), 5, 'all five real sessions work';

    # full of initialized sessions: today's 503 + Retry-After, nobody evicted
    $off = file_size($node->error_log_path);
    my $full = mcp_post($U, init_message());
    check_error($full, 503, -32000, qr/^Service Unavailable: session capacity/,
                'a table full of initialized sessions: initialize gets 503');
    is $full->header('Retry-After'), 30, '503 with Retry-After: 30';
    ok !defined $full->header('Mcp-Session-Id'), '503 carries no session id';
    my ($none, $r2) = initialize($U, no_initialized => 1);
    is $r2->code, 503, 'an anonymous initialize too: 503';
    ok wait_for_log($node->error_log_path, qr/MCPS00211:/, 5, $off), 'MCPS00211 logged';
    is scalar(grep { ping($U, $_) == 200 } @real), 5, 'no initialized session was evicted';

    $st = status_of($node);
    is $st->{MCPSessionEvicted}, 5, 'mod_status: MCPSessionEvicted 5';
    is $st->{MCPSessionMemoryPending}, 0, 'mod_status: no session in its handshake';
    is $st->{MCPSessionMemoryUsed}, 5, 'mod_status: 5 sessions';
    cmp_ok $st->{MCPSessionRefusedFull}, '>=', 2, 'mod_status: refused initializes counted';
    my $html = mcp_get($node->url('/server-status'))->content;
    like $html, qr{<td>Evicted</td><td>5</td>}, 'the HTML page shows Evicted';
    like $html, qr{<td>Reclaimed</td><td>\d+</td>}, 'the HTML page shows Reclaimed';
    like $html, qr{0 in their handshake}, 'the HTML page shows sessions in their handshake';

    # DELETE frees a place as before
    is mcp_delete($U, session_headers($real[0]))->code, 200, 'DELETE one session';
    my ($again, $r3) = initialize($U);
    is $r3->code, 200, 'then a new client gets its place';

    $node->stop;
}

# ---------------------------------------------------------------------------
# 2. MCPSessionHandshakeTTL: an unfinished handshake expires after it (and
#    slides while used), an initialized session lives its whole TTL;
#    expired slots of a full table are reclaimed.
{
    my $HS = 2;
    my $node = start_node(name => 'handshake-ttl',
                          conf => "MCPSessionCapacity 5\nMCPSessionTTL 60\n"
                                . "MCPSessionHandshakeTTL $HS\n");
    my $U = $node->url;

    my ($idle) = initialize($U, no_initialized => 1);
    my ($used) = initialize($U, no_initialized => 1);
    my ($real) = initialize($U);
    my $t0 = time;
    ok is_session_id($idle) && is_session_id($used) && is_session_id($real), 'three sessions';
    my $st = status_of($node);
    is $st->{MCPSessionMemoryPending}, 2, 'two of them in their handshake';

    # use one every HS/4 for 2 x HS: it slides
    my ($n, $ok) = (0, 0);
    while (time - $t0 < 2 * $HS) {
        sleep $HS / 4;
        $n++;
        $ok++ if ping($U, $used) == 200;
    }
    is $ok, $n, "an unfinished handshake used every ${\ ($HS / 4)} s lives on (sliding, $n uses)";
    is ping($U, $idle), 404, "an idle unfinished handshake is gone after MCPSessionHandshakeTTL ($HS s)";
    is ping($U, $real), 200, 'the initialized session lives on';
    sleep $HS + 0.5;
    is ping($U, $used), 404, 'the used one too, once idle for longer than MCPSessionHandshakeTTL';
    sleep $HS + 0.5;
    is ping($U, $real), 200, "the initialized session still lives (idle > $HS s; its TTL is 60 s)";

    # fill the table with unfinished handshakes, let them expire: a new
    # client reuses their slots (reclaimed, not evicted)
    my $before = status_of($node);
    my @pending = map { scalar initialize($U, no_initialized => 1) } 1 .. 4;
    is scalar(grep { defined } @pending), 4, 'four unfinished handshakes fill the table';
    sleep $HS + 0.5;
    my ($new, $res) = initialize($U);
    is $res->code, 200, 'a new client gets a session';
    my ($new2, $res2) = initialize($U);
    is $res2->code, 200, 'and another one';
    my $after = status_of($node);
    cmp_ok $after->{MCPSessionReclaimed} - $before->{MCPSessionReclaimed}, '>=', 2,
        'mod_status: expired slots reclaimed';
    is $after->{MCPSessionEvicted}, 0, 'mod_status: nothing evicted (they had expired)';
    cmp_ok $after->{MCPSessionExpired}, '>=', 4, 'mod_status: expired sessions counted';
    is ping($U, $real), 200, 'the first initialized session still works';

    $node->stop;
}

done_testing;
