# The gateway (MCPBackend) against t/node/gateway-stub.mjs, a backend in
# plain node:http whose every byte is known (the SDK-built backends are
# the t/6x-gateway-*.t files): `httpd -t` checks; a stateful backend
# answering JSON (initialize, the backend's id kept from the client,
# requests Apache refuses never reaching it, streamed SSE, GET, replay
# after the backend forgot its sessions, DELETE, a large body, a slow and
# a dead backend, one closing without an answer); a stateless backend
# answering SSE; the user header; a unix socket; FastCGI; two nodes sharing
# Redis; a balancer pool of two stateful members with sticky routes, and
# the replay when a member goes away.
#
# mod_proxy logs the backends it cannot reach (AH00957, AH01114, AH01102,
# AH00898, AH01110, AH00959, AH01170) and the gateway says so (MCPS00601,
# warn, and MCPS00603 when a replay fails).
# expect-log: AH00957 AH01114 AH01102 AH00898 AH01110 AH00959 AH01170
# expect-log: MCPS00601 MCPS00603 AH00940 AH01167 AH01104
# The store full on purpose: MCPS00211.
# expect-log: MCPS00211
# Its nodes load the proxy modules themselves (for the `httpd -t` cases):
# proxy_modules => [] keeps MCPTest from adding them for MCPBackend.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore);
use IO::Socket::INET;
use Time::HiRes qw(sleep time);
use POSIX ();
use MCPTest;

my $M = MCPTest::Node::modules_dir();
my $PROXY = "LoadModule proxy_module $M/mod_proxy.so\n"
          . "LoadModule proxy_http_module $M/mod_proxy_http.so\n";
my $BALANCER = "LoadModule proxy_balancer_module $M/mod_proxy_balancer.so\n"
             . "LoadModule slotmem_shm_module $M/mod_slotmem_shm.so\n"
             . "LoadModule lbmethod_byrequests_module $M/mod_lbmethod_byrequests.so\n";

# --- the stub backends ---------------------------------------------------------
my %STUB;       # port => pid
sub start_stub {
    my ($port, @args) = @_;
    my $pid = fork;
    die "fork: $!" unless defined $pid;
    if (!$pid) {
        chdir node_dir() or POSIX::_exit(127);
        open STDOUT, '>', '/dev/null';
        { exec "node", "gateway-stub.mjs", $port, @args }
        POSIX::_exit(127);
    }
    $STUB{$port} = $pid;
    wait_for(sub { MCPTest::port_open($port) }, 15, 0.05)
        or die "gateway-stub on $port did not start";
    return $pid;
}
sub stop_stub {
    my $port = shift;
    my $pid = delete $STUB{$port} or return;
    kill 'KILL', $pid;
    waitpid $pid, 0;
    wait_for(sub { !MCPTest::port_open($port) }, 5, 0.05);
}
END { kill 'KILL', values %STUB if %STUB }

sub stats {
    my $port = shift;
    return json_decode(mcp_get("http://127.0.0.1:$port/stats")->content) || {};
}
sub forget { mcp_post("http://127.0.0.1:$_[0]/forget", '{}') }

# what the backend saw of the request that asked (tool "headers")
sub backend_saw {
    my ($u, $sid, %h) = @_;
    my (undef, $m) = mcp_call($u, $sid, 'tools/call', { name => 'headers' }, %h);
    my $t = ref $m eq 'HASH' && $m->{result} ? $m->{result}{content}[0]{text} : undef;
    return json_decode($t) || {};
}

sub echo {
    my ($u, $sid, $text, %h) = @_;
    my ($res, $m) = mcp_call($u, $sid, 'tools/call',
                             { name => 'echo', arguments => { text => $text } }, %h);
    my $got = ref $m eq 'HASH' && $m->{result} ? $m->{result}{content}[0]{text} : undef;
    return ($res, $got);
}

# an error answer of the gateway: status, JSON-RPC -32000 with the
# message and the request's id
sub gw_error {
    my ($res, $status, $re, $id, $name) = @_;
    my $b = json_decode($res->content);
    my $ok = $res->code == $status
        && ($res->header('Content-Type') // '') =~ m{^application/json}
        && ref $b eq 'HASH' && ref $b->{error} eq 'HASH' && $b->{error}{code} == -32000
        && $b->{error}{message} =~ $re && defined $b->{id} && $b->{id} eq $id;
    ok $ok, "$name, a JSON-RPC error with the request's id"
        or diag $res->status_line . ' ' . substr($res->content // '', 0, 300);
}

# (what came before the body, arrival times of each SSE data line) of a
# tools/call "notify" (3 notifications 400 ms apart, then the result), read
# as it arrives
sub stream_times {
    my ($n, $sid) = @_;
    my $body = json_encode(rpc('tools/call', { name => 'notify',
                                               arguments => { count => 3, ms => 400 } }));
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $n->port,
                                  Proto => 'tcp', Timeout => 10) or die "connect: $!";
    print $s "POST /mcp HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
           . "Accept: application/json, text/event-stream\r\nMcp-Session-Id: $sid\r\n"
           . "MCP-Protocol-Version: $LATEST\r\nContent-Length: " . length($body)
           . "\r\n\r\n$body";
    my ($t0, $buf, @at) = (time, '');
    my $end = $t0 + 10;
    while (time < $end) {
        my $k = sysread $s, my $chunk, 65536;
        last unless $k;
        my $before = () = $buf =~ /^data: /mg;
        $buf .= $chunk;
        my $after = () = $buf =~ /^data: /mg;
        push @at, time - $t0 for $before + 1 .. $after;
    }
    close $s;
    my ($head) = split /\r\n\r\n/, $buf, 2;
    return ($head // '', @at);
}

sub backend_counters {
    my ($node) = @_;
    my $s = status_auto($node->url('/server-status?auto')) || {};
    return { map { $_ => $s->{"MCPBackend$_"} // -1 } qw(Forwarded Replayed Failed) };
}

# `httpd -t` of a node with $conf at server level and $loc in the location
sub config_test {
    my ($conf, $loc) = @_;
    my $node = start_node(proxy_modules => [], name => 't59-t', conf => $conf, location_conf => $loc,
                          start => 0);
    my $out = `@{[ MCPTest::Node::httpd_binary() ]} -d @{[ $node->dir ]} -f @{[ $node->conf_file ]} -t 2>&1`;
    return ($? >> 8, $out);
}

# --- apachectl -t ------------------------------------------------------------------
{
    my ($rc, $out) = config_test('', 'MCPBackend http://127.0.0.1:9/mcp');
    ok $rc != 0 && $out =~ /MCPS00107/ && $out =~ /mod_proxy is not loaded/,
        'httpd -t: MCPBackend without mod_proxy fails (MCPS00107)' or diag $out;
    ($rc, $out) = config_test("LoadModule proxy_module $M/mod_proxy.so\n",
                              'MCPBackend http://127.0.0.1:9/mcp');
    ok $rc != 0 && $out =~ /MCPS00108/ && $out =~ /mod_proxy_http\.c is not loaded/,
        '... without mod_proxy_http fails (MCPS00108)' or diag $out;
    ($rc, $out) = config_test($PROXY, 'MCPBackend balancer://pool/mcp');
    ok $rc != 0 && $out =~ /MCPS00108/ && $out =~ /mod_proxy_balancer\.c/,
        '... balancer:// without mod_proxy_balancer fails' or diag $out;
    for my $bad ('ftp://127.0.0.1/x', 'unix:/tmp/x.sock', 'unix:/tmp/x|balancer://p/',
                 'http:///nohost', '/mcp') {
        ($rc, $out) = config_test($PROXY, "MCPBackend $bad");
        ok $rc != 0 && $out =~ /MCPS00106/ && $out =~ /\Q$bad\E/,
            "... MCPBackend $bad fails (MCPS00106)" or diag $out;
    }
    ($rc, $out) = config_test($PROXY, "MCPBackend http://127.0.0.1:9/mcp\n"
                                    . "MCPBackendUserHeader Mcp-Session-Id");
    ok $rc != 0 && $out =~ /MCPS00109/, '... MCPBackendUserHeader Mcp-Session-Id fails'
        or diag $out;
    for my $good ('http://127.0.0.1:9/mcp', 'https://backend.example:8443/mcp',
                  'unix:/run/mcp.sock|http://localhost/mcp') {
        ($rc, $out) = config_test($PROXY, "MCPBackend $good\nMCPBackendUserHeader X-Remote-User");
        ok $rc == 0 && $out =~ /Syntax OK/, "... MCPBackend $good: Syntax OK" or diag $out;
    }
}

# --- a stateful backend answering JSON ----------------------------------------------
my $bp = free_port();
start_stub($bp, 'stateful', 'json');
my $node = start_node(proxy_modules => [], name => 't59-a', conf => $PROXY . "ProxyTimeout 2\n",
                      location_conf => "    MCPBackend http://127.0.0.1:$bp/mcp\n");
my $u = $node->url;

my ($sid, $res) = initialize($u);
is $res->code, 200, 'stateful: initialize 200';
ok is_session_id($sid), "... with Apache's own session id";
my $init = rpc_final($res);
is $init->{result}{serverInfo}{name}, 'gateway-stub', "... and the backend's InitializeResult";
my $saw = backend_saw($u, $sid);
ok $saw->{sid} && $saw->{sid} ne $sid && $saw->{sid} =~ /^[0-9a-f-]{36}$/,
    "the backend gets its own session id, never Apache's" or diag explain $saw;
is $saw->{version}, $LATEST, '... MCP-Protocol-Version';
is $saw->{forwardedFor}, '127.0.0.1', '... X-Forwarded-For';
my ($r, $text) = echo($u, $sid, 'hello');
is $text, 'hello', 'tools/call through the gateway';
is $r->header('Mcp-Session-Id'), $sid, "answers carry Apache's session id, never the backend's";

# requests Apache refuses never reach the backend
{
    my $before = stats($bp)->{requests};
    my @bad = (
        [ mcp_post($u, rpc('ping'), session_headers($sid), Accept => 'application/json'), 406 ],
        [ mcp_post($u, rpc('ping'), session_headers($sid), 'Content-Type' => 'text/plain'), 415 ],
        [ mcp_post($u, '{nope', session_headers($sid)), 400 ],
        [ mcp_post($u, rpc('ping')), 400 ],
        [ mcp_post($u, rpc('ping'), session_headers('x' x 43)), 404 ],
        [ mcp_post($u, rpc('ping'), session_headers($sid, '1999-01-01')), 400 ],
        [ mcp_post($u, rpc('ping'), session_headers($sid), Origin => 'http://evil.example'), 403 ],
        [ mcp_post($u, '"' . ('x' x (5 * 1024 * 1024)) . '"', session_headers($sid)), 413 ],
        [ mcp_delete($u, session_headers('y' x 43)), 404 ],
        [ mcp_get($u, session_headers('z' x 43), Accept => 'text/event-stream'), 404 ],
    );
    my @got = map { $_->[0]->code } @bad;
    is_deeply \@got, [ map { $_->[1] } @bad ],
        'bad requests get 406/415/400/400/404/400/403/413/404/404 from Apache';
    is stats($bp)->{requests}, $before, '... and none of them reached the backend';
}

# notifications pass (202), a large body arrives intact
is mcp_post($u, rpc('notifications/cancelled', { requestId => 1 }, undef),
            session_headers($sid))->code, 202, 'a notification: 202 from the backend';
{
    my $big = 'b' x (200 * 1024);
    my (undef, $t) = echo($u, $sid, $big);
    ok defined $t && $t eq $big, 'a 200 KB body reaches the backend and comes back intact';
}

# SSE streams: the notifications arrive as the backend sends them
{
    my ($head, @at) = stream_times($node, $sid);
    ok $head =~ m{^HTTP/1\.\d 200} && $head =~ m{Content-Type: text/event-stream}i,
        'a streamed tool answer is text/event-stream';
    is scalar(@at), 4, '... three notifications and the result';
    ok @at == 4 && $at[3] - $at[0] > 0.9 && $at[1] - $at[0] > 0.25,
        sprintf('... each arriving as it was sent (at %s s)',
                join(', ', map { sprintf '%.2f', $_ } @at));
}

# GET: the stateful backend's stream
{
    my $g = mcp_get($u, session_headers($sid), Accept => 'text/event-stream');
    ok $g->code == 200 && $g->content =~ /from the GET stream/,
        "GET: the backend's server-to-client stream" or diag $g->status_line;
    check_error(mcp_get($u, session_headers($sid), Accept => 'application/json'),
                406, -32000, qr/text\/event-stream/, 'GET without text/event-stream: 406');
}

# replay: the backend forgot its sessions (as after a restart)
{
    my $st0 = stats($bp);
    my $c0 = backend_counters($node);
    forget($bp);
    my ($res2, $t) = echo($u, $sid, 'after forgetting');
    is $t, 'after forgetting', 'the backend forgot the session: the call still succeeds';
    my $st1 = stats($bp);
    is $st1->{initialize} - $st0->{initialize}, 1, '... through a second initialize (replay)';
    is(($st1->{methods}{'notifications/initialized'} // 0)
       - ($st0->{methods}{'notifications/initialized'} // 0), 1,
       '... and notifications/initialized');
    my $c1 = backend_counters($node);
    is $c1->{Replayed} - $c0->{Replayed}, 1, 'mod_status counts the replay';
    my $saw2 = backend_saw($u, $sid);
    ok $saw2->{sid} && $saw2->{sid} ne $saw->{sid}, '... and the next request carries the new backend id';
    is stats($bp)->{initialize}, $st1->{initialize}, '... without another replay';
}

# a slow backend (ProxyTimeout 2): 502, the session stays
{
    my $req = rpc('tools/call', { name => 'sleep', arguments => { ms => 3500 } });
    gw_error(mcp_post($u, $req, session_headers($sid)), 502, qr/^Bad Gateway/, $req->{id},
             'a backend slower than ProxyTimeout: 502');
    sleep 1.6;      # the stub answers the slow call meanwhile
    my (undef, $t) = echo($u, $sid, 'after the timeout');
    is $t, 'after the timeout', '... and the session works afterwards';
}

# a backend that closes the connection without answering, on a client
# connection that was kept alive (mod_proxy alone would close the client's
# connection without an answer, AH01104): 502, the connection and the
# session stay usable
{
    my @ka = (-keepalive => 1);
    my (undef, $t0) = echo($u, $sid, 'warm', @ka);
    mcp_post("http://127.0.0.1:$bp/drop-next", '{}');
    my $req = rpc('tools/call', { name => 'echo', arguments => { text => 'dropped' } });
    gw_error(mcp_post($u, $req, session_headers($sid), @ka), 502, qr/^Bad Gateway/,
             $req->{id}, 'the backend closed without answering (kept-alive client): 502');
    is stats($bp)->{dropped}, 1, '... (the backend did drop it)';
    my (undef, $t) = echo($u, $sid, 'after the drop', @ka);
    is $t, 'after the drop', '... and the next request on the same connection works';
}

# a dead backend: 503 with Retry-After and the request's id; then back
{
    stop_stub($bp);
    my $c0 = backend_counters($node);
    my $req = rpc('tools/call', { name => 'echo', arguments => { text => 'x' } });
    my $res4 = mcp_post($u, $req, session_headers($sid));
    gw_error($res4, 503, qr/not reachable/, $req->{id}, 'backend down: 503');
    is $res4->header('Retry-After'), '5', '... with Retry-After';
    is backend_counters($node)->{Failed} - $c0->{Failed}, 1, 'mod_status counts the failure';
    start_stub($bp, 'stateful', 'json');
    my (undef, $t) = echo($u, $sid, 'back again');
    is $t, 'back again', 'the backend is back (knowing nothing): the session works again';
}

# DELETE ends both sessions
{
    my $backend_sid = backend_saw($u, $sid)->{sid};
    my $d0 = stats($bp)->{deletes};
    is mcp_delete($u, session_headers($sid))->code, 200, 'DELETE: 200';
    is stats($bp)->{deletes} - $d0, 1, "... and the backend got a DELETE";
    is stats($bp)->{last}{sid}, $backend_sid, '... for its own session id';
    check_error(mcp_post($u, rpc('ping'), session_headers($sid)), 404, -32001, undef,
                'the session is gone: 404');
}

# initialize the backend refuses: its answer, no session
{
    my $r5 = mcp_post($u, rpc('initialize', { protocolVersion => $LATEST, capabilities => {},
                                              clientInfo => { name => 'refuse-me', version => '1' } }));
    is $r5->code, 400, "initialize the backend refuses: the backend's status";
    ok !defined $r5->header('Mcp-Session-Id'), '... and no session';
    like $r5->content, qr/refused by the backend/, "... and the backend's error";
}

my $st_a = status_auto($node->url('/server-status?auto')) || {};
ok defined $st_a->{'MCPBackendForwarded(127.0.0.1/mcp)'}
   && $st_a->{'MCPBackendForwarded(127.0.0.1/mcp)'} >= 10,
   'mod_status: MCPBackendForwarded per endpoint' or diag explain $st_a;

# --- the store refuses the session the backend made: 503, the backend's is deleted --------
{
    my $fp = free_port();
    start_stub($fp, 'stateful', 'json');
    my $node_e = start_node(proxy_modules => [], name => 't59-e', conf => $PROXY . "MCPSessionCapacity 1\n",
                            location_conf => "    MCPBackend http://127.0.0.1:$fp/mcp\n");
    my ($s1) = initialize($node_e->url);     # the one slot, handshake completed
    ok is_session_id($s1), 'capacity 1: the first session';
    my $d0 = stats($fp)->{deletes};
    my $r6 = mcp_post($node_e->url, init_message());
    is $r6->code, 503, 'the store is full when the backend has answered initialize: 503';
    is $r6->header('Retry-After'), '30', '... with Retry-After';
    ok !defined $r6->header('Mcp-Session-Id'), '... and no session id';
    is stats($fp)->{deletes} - $d0, 1, "... and the backend's new session got a DELETE";
    my (undef, $t6) = echo($node_e->url, $s1, 'still here');
    is $t6, 'still here', '... the existing session is untouched';
}

# --- a stateless backend answering SSE -------------------------------------------------
my $sp = free_port();
start_stub($sp, 'stateless', 'sse');
my $node_b = start_node(proxy_modules => [], name => 't59-b', conf => $PROXY,
                        location_conf => "    MCPBackend http://127.0.0.1:$sp/mcp\n"
                                       . "    MCPBackendUserHeader X-Remote-User\n");
my $ub = $node_b->url;
my ($sid_b, $res_b) = initialize($ub);
ok $res_b->code == 200 && is_session_id($sid_b)
   && ($res_b->header('Content-Type') // '') =~ m{text/event-stream},
   'stateless: initialize answered over SSE makes a session';
my $saw_b = backend_saw($ub, $sid_b);
ok !defined $saw_b->{sid}, 'stateless: the backend gets no session id';
ok !defined $saw_b->{user}, '... and no user header without a user';
$saw_b = backend_saw($ub, $sid_b, 'X-Remote-User' => 'mallory');
ok !defined $saw_b->{user}, "... a client's own X-Remote-User is removed";
check_error(mcp_get($ub, session_headers($sid_b), Accept => 'text/event-stream'), 405,
            -32000, qr/^Method not allowed/, 'stateless: GET is 405');
stop_stub($sp);
start_stub($sp, 'stateless', 'sse');
my $i0 = stats($sp)->{initialize};
my (undef, $tb) = echo($ub, $sid_b, 'restarted');
is $tb, 'restarted', 'stateless: the backend restarted, the session carries on';
is stats($sp)->{initialize}, $i0, '... without a replay';
my $dd = stats($sp)->{deletes};
is mcp_delete($ub, session_headers($sid_b))->code, 200, 'stateless: DELETE 200';
is stats($sp)->{deletes}, $dd, '... and nothing to delete at the backend';

# --- the user header, and a unix socket --------------------------------------------------
my $sock = MCPTest::work_dir() . "/t60-$$.sock";
my $up = free_port();
start_stub($up, 'stateful', 'json', $sock);
wait_for(sub { -S $sock }, 5);
my $htpasswd = top_dir() . '/t/htpasswd';
my $node_c = start_node(proxy_modules => [], name => 't59-c', conf => $PROXY,
                        location_conf => "    MCPBackend \"unix:$sock|http://localhost/mcp\"\n"
                                       . "    MCPBackendUserHeader X-Remote-User\n"
                                       . "    AuthType Basic\n    AuthName mcp\n"
                                       . "    AuthBasicProvider file\n"
                                       . "    AuthUserFile \"$htpasswd\"\n    Require valid-user\n");
my @alice = (-user => 'alice', -password => 'alice-secret');
my ($sid_c, $res_c) = initialize($node_c->url, user => 'alice', password => 'alice-secret');
ok $res_c->code == 200 && is_session_id($sid_c), 'a unix: socket backend behind Basic auth'
    or diag $res_c->status_line, $res_c->content;
my $saw_c = backend_saw($node_c->url, $sid_c, @alice, 'X-Remote-User' => 'mallory');
is $saw_c->{user}, 'alice', 'MCPBackendUserHeader: the backend gets the authenticated user, '
                          . "not the client's own header";

# --- a FastCGI backend (mod_proxy_fcgi, no flushpackets) ----------------------------------
SKIP: {
    skip 'mod_proxy_fcgi is not installed', 6 unless -e "$M/mod_proxy_fcgi.so";
    my ($hp, $fp) = (free_port(), free_port());
    {
        local $ENV{STUB_FCGI_PORT} = $fp;
        start_stub($hp, 'stateful', 'json');
    }
    wait_for(sub { MCPTest::port_open($fp) }, 5);
    my $node_f = start_node(proxy_modules => [], name => 't59-f', conf => $PROXY
                                . "LoadModule proxy_fcgi_module $M/mod_proxy_fcgi.so\n",
                            location_conf => "    MCPBackend fcgi://127.0.0.1:$fp/mcp\n");
    my ($sid_f, $res_f) = initialize($node_f->url);
    ok $res_f->code == 200 && is_session_id($sid_f), 'fcgi://: initialize makes a session'
        or diag $res_f->status_line, $res_f->content;
    my (undef, $tf) = echo($node_f->url, $sid_f, 'over fastcgi');
    is $tf, 'over fastcgi', 'fcgi://: tools/call';
    ok stats($hp)->{fcgi} >= 3, '... (the backend got them over FastCGI)';
    my ($head, @at) = stream_times($node_f, $sid_f);
    ok @at == 4 && $at[3] - $at[0] > 0.9 && $at[1] - $at[0] > 0.25,
        sprintf('fcgi://: SSE events arrive as sent, without flushpackets (at %s s)',
                join(', ', map { sprintf '%.2f', $_ } @at)) or diag $head;
    forget($hp);
    my $i0 = stats($hp)->{initialize};
    (undef, $tf) = echo($node_f->url, $sid_f, 'replayed over fastcgi');
    is $tf, 'replayed over fastcgi', 'fcgi://: the backend forgot the session: replayed';
    is stats($hp)->{initialize}, $i0 + 1, '... with one more initialize';
}

# --- two Apache nodes sharing Redis in front of one stateful backend ----------------------
SKIP: {
    skip 'redis-server is not installed', 6 unless have_redis();
    my $rp = free_port();
    start_stub($rp, 'stateful', 'sse');
    my $loc = "    MCPBackend http://127.0.0.1:$rp/mcp\n";
    my (undef, $na, $nb) = start_fleet(name => 't59-fleet', conf => $PROXY,
                                       nodes => [ { location_conf => $loc,
                                                    proxy_modules => [] },
                                                  { location_conf => $loc,
                                                    proxy_modules => [] } ]);
    my ($sid_r) = initialize($na->url);
    ok is_session_id($sid_r), 'fleet: initialize on node A';
    my $id_a = backend_saw($na->url, $sid_r)->{sid};
    my $id_b = backend_saw($nb->url, $sid_r)->{sid};
    ok $id_a && $id_b && $id_a eq $id_b,
        "fleet: node B sends the backend's id it finds in Redis";
    forget($rp);
    my (undef, $t) = echo($nb->url, $sid_r, 'replayed on B');
    is $t, 'replayed on B', 'fleet: the backend forgot the session: node B replays it';
    my $i = stats($rp)->{initialize};
    my $id_new = backend_saw($na->url, $sid_r)->{sid};
    ok $id_new && $id_new ne $id_a, "fleet: node A then sends the new backend id from Redis";
    is stats($rp)->{initialize}, $i, '... without a replay of its own';
    is mcp_delete($na->url, session_headers($sid_r))->code, 200, 'fleet: DELETE on node A';
}

# --- a balancer pool of two stateful members with sticky routes -------------------------
my ($m1, $m2) = (free_port(), free_port());
start_stub($m1, 'stateful', 'json');
start_stub($m2, 'stateful', 'json');
my $node_d = start_node(proxy_modules => [], name => 't59-d', conf => $PROXY . $BALANCER . <<"CONF",
<Proxy "balancer://t60pool">
    BalancerMember http://127.0.0.1:$m1 route=m1 retry=30
    BalancerMember http://127.0.0.1:$m2 route=m2 retry=30
    ProxySet stickysession=MCPBackendRoute
</Proxy>
CONF
                        location_conf => "    MCPBackend balancer://t60pool/mcp\n");
my $ud = $node_d->url;
my @sids = map { scalar initialize($ud) } 1 .. 6;
ok 6 == grep({ is_session_id($_) } @sids), 'balancer: six sessions';
my ($i1, $i2) = (stats($m1)->{initialize}, stats($m2)->{initialize});
ok $i1 >= 1 && $i2 >= 1 && $i1 + $i2 == 6, "... spread over both members ($i1 + $i2)";
for my $s (@sids) {
    backend_saw($ud, $s) for 1 .. 3;
}
is stats($m1)->{initialize} + stats($m2)->{initialize}, 6,
    '... and every later request went back to its member (no replay)';
my $c0 = backend_counters($node_d);
is $c0->{Replayed}, 0, '... mod_status: nothing replayed';
# a member goes away
stop_stub($m1);
my $ok = 0;
for my $s (@sids) {
    my (undef, $t) = echo($ud, $s, "moved $s");
    $ok++ if defined $t && $t eq "moved $s";
}
is $ok, 6, 'member m1 gone: every session still works';
is backend_counters($node_d)->{Replayed}, $i1,
    "... the $i1 that lived on m1 through a replay onto m2";
is stats($m2)->{initialize}, 6, '... m2 saw their second initialize';
($r) = echo($ud, $sids[0], 'again');
is backend_counters($node_d)->{Replayed}, $i1, '... and once replayed, they stay on m2';

done_testing();
