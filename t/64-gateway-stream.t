# Gateway mode (MCPBackend): streams and session ends, with real MCP servers
# on the official TypeScript SDK (t/node/backend.mjs) and the official SDK
# client (t/node/gw-client.mjs).
#   - slow_notify: notifications (log messages, progress) reach the client
#     while the tool still runs: each one arrived before the backend sent the
#     one two steps later, and the first before the tool finished (all
#     Date.now() on this machine: orderings, not durations); 50 notifications
#     sent at once all arrive, in order;
#   - GET: forwarded for a stateful backend (its server-to-client stream: a
#     notification sent outside any request reaches the client through it);
#     405 for a stateless one;
#   - DELETE ends the Apache session (404 afterwards); a stateful backend
#     gets a DELETE for its own id and forgets its session.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore);
use MCPTest;

skip_unless_node();


sub steps_named {
    my ($s, $name) = @_;
    return map { $_->{value} || {} } grep { $_->{step} =~ /^\Q$name\E(=|$)/ } @{ $s->{steps} || [] };
}
sub tool_json {
    my $m = shift;
    return undef unless ref $m eq 'HASH' && ref $m->{result} eq 'HASH';
    my $t = $m->{result}{content}[0]{text} // '';
    return json_decode($t) // $t;
}

my $sl = start_backend(mode => 'stateless', name => 'sl64');
my $sf = start_backend(mode => 'stateful',  name => 'sf64');
my $node = start_node(name => 'gw64', location_conf => '    MCPBackend ' . $sl->url,
                      conf => "<Location /mcp-sf>\n    SetHandler mcp-session\n    MCPBackend "
                            . $sf->url . "\n</Location>\n");

# --- notifications stream through ------------------------------------------------
for my $c (['/mcp', $sl, 'stateless'], ['/mcp-sf', $sf, 'stateful']) {
    my ($path, $be, $label) = @$c;
    # each conversation ends with DELETE: a stateful backend then closes the
    # SDK's GET stream, which holds an httpd worker until the backend ends it
    # or ProxyTimeout passes (mod_proxy_http does not see the client leave an
    # idle stream)
    my ($rc, $s, $err) = gw_client($node->url($path), 'connect', 'slow=4,800', 'slow=3,800,progress',
                                   'slow=50,0', 'delete');
    is $rc, 0, "$label: SDK client, three slow_notify calls" or diag "failures: @{ $s->{failures} || [] }\n$err";
    my ($log, $prog, $burst) = steps_named($s, 'slow');
    for my $r (['log messages', $log, 4], ['progress', $prog, 3]) {
        my ($kind, $v, $n) = @$r;
        my @a = @{ $v->{arrivals} || [] };
        my @sent = @{ $v->{sent} || [] };
        is scalar(@a), $n, "$label, $kind: all $n notifications arrived";
        is join(',', map { $_->{i} // '?' } @a), join(',', 0 .. $n - 1), "$label, $kind: in order";
        ok @a && $a[0]{t} < ($v->{finished} // 0),
            "$label, $kind: the first notification arrived before the tool finished"
            or diag explain $v;
        my @late = grep {
            my $later = $_ + 2 <= $#sent ? $sent[$_ + 2] : $v->{finished};
            !defined $a[$_]{t} || !defined $later || $a[$_]{t} >= $later;
        } 0 .. $#a;
        ok @a && !@late, "$label, $kind: each arrived before the backend sent the one two steps later"
            or diag explain { arrivals => \@a, sent => \@sent, finished => $v->{finished} };
        ok @a && !grep({ $_->{t} > ($v->{resolved} // 0) } @a), "$label, $kind: all before the result";
    }
    my @b = @{ $burst->{arrivals} || [] };
    is scalar(@b), 50, "$label: 50 notifications sent at once: all arrived";
    is join(',', map { $_->{i} // '?' } @b), join(',', 0 .. 49), "$label: ... in order";
}

# --- GET ---------------------------------------------------------------------------
{
    my $sid = initialize($node->url('/mcp'));
    my $res = mcp_get($node->url('/mcp'), session_headers($sid), Accept => 'text/event-stream');
    check_error($res, 405, -32000, qr/Method not allowed/, 'stateless backend: GET is 405');
    like $res->header('Allow') // '', qr/POST/, '... with Allow';

    my $before = $sf->stats;
    my ($rc, $s, $err) = gw_client($node->url('/mcp-sf'), 'connect', 'broadcast=over the GET stream',
                                   'echo=after', 'delete');
    is $rc, 0, 'stateful backend: SDK conversation' or diag "failures: @{ $s->{failures} || [] }\n$err";
    my ($get) = grep { $_->{method} eq 'GET' } @{ $s->{wire} || [] };
    is $get && $get->{status}, 200, "stateful backend: the SDK's GET stream is open (200)";
    like $get && $get->{contentType} // '', qr{^text/event-stream}, '... text/event-stream';
    ok $sf->stats->{gets} > $before->{gets}, '... forwarded to the backend';
    my ($bc) = steps_named($s, 'broadcast');
    ok $bc->{arrived}, 'a notification the backend sent outside any request reached the client';
}

# --- DELETE ------------------------------------------------------------------------
{
    my $u = $node->url('/mcp-sf');
    my $sid = initialize($u);
    my (undef, $m) = mcp_call($u, $sid, 'tools/call', { name => 'backend_session', arguments => {} });
    my $bid = (tool_json($m) || {})->{sessionId} // 'none';
    like $bid, $BACKEND_SID, 'stateful: a backend session';
    my $before = $sf->stats;
    my $res = mcp_delete($u, session_headers($sid));
    is $res->code, 200, 'stateful: DELETE 200';
    check_error(mcp_post($u, rpc('ping'), session_headers($sid)), 404, -32001, undef,
                'stateful: the session is gone at Apache');
    my $after = $sf->stats;
    is $after->{deletes} - $before->{deletes}, 1, 'stateful: the backend got a DELETE';
    my ($del) = grep { $_->{method} eq 'DELETE' && $_->{n} > $before->{total} } @{ $sf->log || [] };
    is $del && $del->{sid}, $bid, "... for its own session id";
    is $del && $del->{status}, 200, '... and ended its session';
    is $after->{sessions}, $before->{sessions} - 1, '... which it no longer holds';

    $u = $node->url('/mcp');
    $sid = initialize($u);
    is mcp_delete($u, session_headers($sid))->code, 200, 'stateless: DELETE 200';
    check_error(mcp_post($u, rpc('ping'), session_headers($sid)), 404, -32001, undef,
                'stateless: the session is gone at Apache');
}

done_testing();
