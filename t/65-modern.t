# 2026-07-28 requests (no session) on the session endpoint: the era is
# decided per request. Every rung of the ladder answers with its status,
# code and the request's id; removed and unknown methods 404; GET and
# DELETE 405; a client's Mcp-Session-Id is ignored and never echoed;
# session clients on the same URL are unchanged; log notifications only
# when asked for; resultType, ttlMs and cacheScope; multi-round calls
# with a sealed requestState (tampered, or another user's: -32602);
# closing the response cancels a tool (JSON and SSE); a quiet stream gets
# keep-alive comments; the mod_status counters.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Apache::Test qw(-withtestmore);
use IO::Select;
use IO::Socket::INET;
use Time::HiRes qw(time sleep);
use MCPTest;

my $U  = '/mcp';
my $V  = $MODERN;
my $PV = 'io.modelcontextprotocol/protocolVersion';
my $CC = 'io.modelcontextprotocol/clientCapabilities';
my $CI = 'io.modelcontextprotocol/clientInfo';
my $LL = 'io.modelcontextprotocol/logLevel';
my $SI = 'io.modelcontextprotocol/serverInfo';
my @alice = (-user => 'alice', -password => 'alice-secret');
my @bob   = (-user => 'bob',   -password => 'bob-secret');

sub meta { modern_meta(@_) }
# modern($method, \%params, %o): modern_post to $o{url} (default /mcp);
# auth => [-user, -password]
sub modern {
    my ($method, $params, %o) = @_;
    my $u = delete $o{url} // $U;
    my @auth = @{ delete $o{auth} || [] };
    return modern_post($u, $method, $params, %o, @auth, -timeout => 30);
}

# refused($res, $status, $code, $id, $name): one test for a modern error:
# the status, application/json, the code, the request's id echoed.
sub refused {
    my ($res, $status, $code, $id, $name) = @_;
    my $b = json_decode($res->content);
    my @why;
    push @why, 'status ' . $res->code . " (want $status)" if $res->code != $status;
    push @why, 'Content-Type ' . ($res->header('Content-Type') // '-')
        unless ($res->header('Content-Type') // '') =~ m{^application/json}i;
    if (ref $b ne 'HASH' || ref $b->{error} ne 'HASH') {
        push @why, 'no JSON-RPC error';
    }
    else {
        push @why, "code $b->{error}{code} (want $code)" if $b->{error}{code} != $code;
        push @why, 'id ' . json_encode($b->{id}) . ' (want ' . json_encode($id) . ')'
            unless json_encode($b->{id}) eq json_encode($id);
    }
    push @why, 'Mcp-Session-Id ' . $res->header('Mcp-Session-Id')
        if defined $res->header('Mcp-Session-Id');
    ok !@why, $name or diag join("\n", @why, substr($res->content // '', 0, 300));
    return $b;
}

sub counters {
    my $s = status_auto('/server-status') || {};
    return { map { $_ => $s->{$_} // -1 }
             qw(MCPModernRequests MCPModernRefused MCPModernInputRequired
                MCPModernStateRefused MCPSessionCreated) };
}
my $elog = Apache::Test::vars('t_logs') . '/error_log';
my $log_from = file_size($elog);
my $c0 = counters();

# --- server/discover ----------------------------------------------------------
my ($r, $m, $id) = modern('server/discover', {});
is $r->code, 200, 'server/discover: 200';
like $r->header('Content-Type') // '', qr{^application/json}i, '... JSON';
ok !defined $r->header('Mcp-Session-Id'), '... no Mcp-Session-Id';
is $m->{id}, $id, '... the id echoed';
ok((grep { $_ eq $V } @{ $m->{result}{supportedVersions} || [] }),
   '... supportedVersions has 2026-07-28');
is $m->{result}{resultType}, 'complete', '... resultType complete';
ok ref $m->{result}{capabilities}{tools} eq 'HASH', '... tools capability';
is $m->{result}{_meta}{$SI}{name}, 'mod_mcp_session', '... serverInfo in _meta';
ok defined $m->{result}{ttlMs} && $m->{result}{ttlMs} =~ /^\d+$/, '... ttlMs';
is $m->{result}{cacheScope}, 'public', '... cacheScope public (no user)';

# a clientInfo is optional
($r, $m) = modern('server/discover', {}, meta => { drop => [$CI] });
is $r->code, 200, 'server/discover without clientInfo: 200';

# --- the ladder ---------------------------------------------------------------
my $echo = { name => 'echo', arguments => { text => 'x' } };
($r, undef, $id) = modern('tools/call', $echo, nometa => 1);
refused($r, 400, -32602, $id, 'no _meta (modern header): 400 -32602');
($r, undef, $id) = modern('tools/call', $echo, meta => { drop => [$PV] });
refused($r, 400, -32602, $id, '_meta without protocolVersion: 400 -32602');
($r, undef, $id) = modern('tools/call', $echo, meta => { drop => [$CC] });
refused($r, 400, -32602, $id, '_meta without clientCapabilities: 400 -32602');
($r, undef, $id) = modern('tools/call', $echo, meta => { caps => 'x' });
refused($r, 400, -32602, $id, 'clientCapabilities not an object: 400 -32602');
($r, undef, $id) = modern('tools/call', $echo, meta => { version => 'v999.0.0' });
refused($r, 400, -32020, $id, 'header 2026-07-28, _meta v999.0.0: 400 -32020');
($r, undef, $id) = modern('tools/call', $echo, headers => { 'MCP-Protocol-Version' => undef });
refused($r, 400, -32020, $id, '_meta claim without the header: 400 -32020');
($r, undef, $id) = modern('server/discover', {}, meta => { version => 'v999.0.0' },
                          headers => { 'MCP-Protocol-Version' => 'v999.0.0' });
my $b = refused($r, 400, -32022, $id, 'v999.0.0 in both: 400 -32022');
ok((grep { $_ eq $V } @{ $b->{error}{data}{supported} || [] }),
   '-32022: data.supported lists 2026-07-28');
is $b->{error}{data}{requested}, 'v999.0.0', '-32022: data.requested echoes the version';
($r, undef, $id) = modern('tools/list', {}, headers => { 'Mcp-Method' => undef });
refused($r, 400, -32020, $id, 'Mcp-Method missing: 400 -32020');
($r, undef, $id) = modern('tools/list', {}, headers => { 'Mcp-Method' => 'prompts/list' });
refused($r, 400, -32020, $id, 'Mcp-Method another method: 400 -32020');
($r, undef, $id) = modern('tools/list', {}, headers => { 'Mcp-Method' => 'TOOLS/LIST' });
refused($r, 400, -32020, $id, 'Mcp-Method in another case: 400 -32020');
($r, $m) = modern('tools/list', {}, headers => { 'Mcp-Method' => '  tools/list  ' });
is $r->code, 200, 'Mcp-Method with blanks around it: 200';
($r, undef, $id) = modern('tools/call', $echo, headers => { 'Mcp-Name' => undef });
refused($r, 400, -32020, $id, 'Mcp-Name missing: 400 -32020');
($r, undef, $id) = modern('tools/call', $echo, headers => { 'Mcp-Name' => 'add' });
refused($r, 400, -32020, $id, 'Mcp-Name another tool: 400 -32020');
($r, $m) = modern('tools/call', $echo, headers => { 'Mcp-Name' => '=?base64?ZWNobw==?=' });
is $r->code, 200, 'Mcp-Name in base64: 200';
is $m->{result}{content}[0]{text}, 'x', '... and the tool ran';
($r, undef, $id) = modern('tools/call', $echo, headers => { 'Mcp-Name' => '=?base64?ZWNobw?=' });
refused($r, 400, -32020, $id, 'Mcp-Name in bad base64 (padding): 400 -32020');
my $batch = [ { jsonrpc => '2.0', id => 'b1', method => 'tools/list', params => { _meta => meta() } },
              { jsonrpc => '2.0', id => 'b2', method => 'tools/list', params => { _meta => meta() } } ];
($r) = modern('tools/list', {}, body => $batch);
refused($r, 400, -32600, undef, 'a batch: 400 -32600, id null');

# --- removed and unknown methods: 404 -32601 ------------------------------------
for my $method (qw(initialize ping logging/setLevel resources/subscribe
                   resources/unsubscribe unknown/method)) {
    my %p = $method eq 'initialize'
          ? (protocolVersion => $V, capabilities => {}, clientInfo => { name => 'x', version => '1' })
          : $method =~ /^resources/ ? (uri => 'test://static-text')
          : $method eq 'logging/setLevel' ? (level => 'info') : ();
    ($r, undef, $id) = modern($method, \%p);
    refused($r, 404, -32601, $id, "$method under 2026-07-28: 404 -32601");
}

# --- GET and DELETE: 405, Allow: POST -----------------------------------------------
for my $method (qw(GET DELETE)) {
    $r = mcp_request($method, $U, undef, 'MCP-Protocol-Version' => $V,
                     Accept => 'application/json, text/event-stream');
    check_error($r, 405, -32000, qr/^Method not allowed\.$/, "$method with a 2026-07-28 header: 405");
    is $r->header('Allow'), 'POST', "... Allow: POST";
}
$r = mcp_get($U, 'MCP-Protocol-Version' => $LATEST);
is $r->header('Allow'), 'POST, DELETE', 'GET with a session-era header: Allow: POST, DELETE as before';
check_error(mcp_delete($U, 'MCP-Protocol-Version' => $LATEST), 400, -32000, undef,
            'DELETE with a session-era header and no session: 400 as before');

# --- a client's Mcp-Session-Id is ignored ---------------------------------------------
my ($sid) = initialize($U);
ok is_session_id($sid), 'a session-era initialize on the same URL';
for my $h ('garbage', $sid) {
    ($r, $m) = modern('tools/call', $echo, headers => { 'Mcp-Session-Id' => $h });
    is $r->code, 200, 'a 2026-07-28 call carrying Mcp-Session-Id ' . ($h eq $sid ? '(a live one)' : '(garbage)') . ': 200';
    ok !defined $r->header('Mcp-Session-Id'), '... no Mcp-Session-Id in the answer';
}
my (undef, $lm) = mcp_call($U, $sid, 'tools/call', { name => 'add', arguments => { a => 2, b => 3 } });
is $lm && $lm->{result}{content}[0]{text}, '5', 'the session-era client still works (tools/call add)';
ok !exists $lm->{result}{resultType}, '... without resultType';
my (undef, $lr) = mcp_call($U, $sid, 'resources/read', { uri => 'test://nonexistent-resource-for-conformance-testing' });
is $lr->{error}{code}, -32002, '... and a missing resource is still -32002 for it';

# --- notifications ---------------------------------------------------------------------
($r) = modern('notifications/cancelled', { requestId => 'x' }, id => undef);
is $r->code, 202, 'a 2026-07-28 notification: 202';
is $r->content, '', '... no body';

# --- results -----------------------------------------------------------------------------
($r, $m) = modern('tools/call', $echo);
is $m->{result}{resultType}, 'complete', 'tools/call: resultType complete';
is $m->{result}{_meta}{$SI}{name}, 'mod_mcp_session', '... serverInfo in _meta';
($r, $m) = modern('tools/list', {});
ok $m->{result}{ttlMs} =~ /^\d+$/ && $m->{result}{cacheScope} eq 'public', 'tools/list: ttlMs, cacheScope public';
($r, $m) = modern('tools/list', {}, url => '/mcp-auth', auth => \@alice);
is $m->{result}{cacheScope}, 'private', 'tools/list as an authenticated user: cacheScope private';
my $uri = 'test://nonexistent-resource-for-conformance-testing';
($r, $m, $id) = modern('resources/read', { uri => $uri });
is $m->{error}{code}, -32602, 'resources/read of a missing resource: -32602';
is $m->{error}{data}{uri}, $uri, '... with data.uri';

# --- log notifications only when the request asks for a level -------------------------
($r, $m) = modern('tools/call', { name => 'test_tool_with_logging', arguments => {} });
is $r->code, 200, 'test_tool_with_logging without logLevel: 200';
my $msgs = rpc_body($r);
$msgs = [$msgs] if ref $msgs eq 'HASH';
is scalar(grep { ($_->{method} // '') eq 'notifications/message' } @$msgs), 0, '... no log notification';
($r, $m) = modern('tools/call', { name => 'test_tool_with_logging', arguments => {} },
                  meta => { level => 'info' });
like $r->header('Content-Type') // '', qr{^text/event-stream}i, 'with logLevel info: an event stream';
$msgs = rpc_body($r);
is scalar(grep { ($_->{method} // '') eq 'notifications/message' } @$msgs), 3, '... three log notifications';
ok !defined $r->header('Mcp-Session-Id'), '... no Mcp-Session-Id';
is $msgs->[-1]{result}{resultType}, 'complete', '... then the result';

# --- multi-round calls -------------------------------------------------------------------
my $tool = 'test_input_required_result_request_state';
my $ask = { name => $tool, arguments => {} };
my $caps = { caps => { elicitation => {} } };
($r, $m) = modern('tools/call', $ask, meta => $caps);
is $m->{result}{resultType}, 'input_required', "$tool round 1: input_required";
my $state = $m->{result}{requestState};
ok defined $state && $state =~ /^mcps1\./, '... a sealed requestState';
is $m->{result}{inputRequests}{confirm}{method}, 'elicitation/create', '... asks for an elicitation';
my $answer = { confirm => { action => 'accept', content => { ok => JSON::true() } } };
($r, $m) = modern('tools/call', { %$ask, inputResponses => $answer, requestState => $state }, meta => $caps);
is $m->{result}{resultType}, 'complete', 'round 2 with the answer and the state: complete';
like $m->{result}{content}[0]{text} // '', qr/state-ok/, '... the tool got its state back';

(my $tampered = $state) =~ s/.$/$& eq 'A' ? 'B' : 'A'/e;
($r, $m, $id) = modern('tools/call', { %$ask, inputResponses => $answer, requestState => $tampered },
                       meta => $caps);
is $r->code, 200, 'a tampered requestState: 200 (in band)';
is $m->{error}{code}, -32602, '... -32602';
is $m->{id}, $id, '... with the id';
($r, $m) = modern('tools/call', { %$ask, inputResponses => $answer, requestState => $state . '-TAMPERED' },
                  meta => $caps);
is $m->{error}{code}, -32602, 'a requestState with -TAMPERED appended: -32602';

# bound to the user: alice's state is no good for bob
($r, $m) = modern('tools/call', $ask, meta => $caps, url => '/mcp-auth', auth => \@alice);
my $astate = $m->{result}{requestState};
ok defined $astate, "alice's round 1 at /mcp-auth: a requestState";
($r, $m) = modern('tools/call', { %$ask, inputResponses => $answer, requestState => $astate },
                  meta => $caps, url => '/mcp-auth', auth => \@bob);
is $m->{error}{code}, -32602, "bob sending alice's requestState: -32602";
($r, $m) = modern('tools/call', { %$ask, inputResponses => $answer, requestState => $astate },
                  meta => $caps, url => '/mcp-auth', auth => \@alice);
is $m->{result}{resultType}, 'complete', "alice sending it: complete";
# and to the endpoint
($r, $m) = modern('tools/call', { %$ask, inputResponses => $answer, requestState => $state },
                  meta => $caps, url => '/mcp2');
is $m->{error}{code}, -32602, 'a state of /mcp sent to /mcp2: -32602';

ok wait_for_log($elog, qr/MCPS00701: .*requestState refused \(bad MAC\)/, 5, $log_from),
    'the log says why a state was refused (MCPS00701, bad MAC)';
ok scalar(grep_log($elog, qr/MCPS00701: .*bound to another request or user/, $log_from)),
    '... and for the other user (bound to another request or user)';
ok scalar(grep_log($elog, qr/MCPS00702: .*input_required, 1 input request/, $log_from)),
    'input_required rounds are logged (MCPS00702)';
ok scalar(grep_log($elog, qr/MCPS00700: 2026-07-28 tools\/call refused: 400 -32020/, $log_from)),
    'refusals are logged with the rung (MCPS00700)';

# --- cancellation: closing the connection stops the tool (JSON answer) ------------------
my ($host, $port) = url($U) =~ m{^http://([^:/]+):(\d+)};
# raw_post($port, $path, \%msg, %headers) -> the connected socket
sub raw_post {
    my ($p, $path, $msg, %h) = @_;
    my $json = json_encode($msg);
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $p,
                                  Proto => 'tcp', Timeout => 5) or die "connect: $!";
    $s->autoflush(1);
    print $s "POST $path HTTP/1.1\r\nHost: 127.0.0.1:$p\r\n"
           . "Content-Type: application/json\r\nAccept: application/json, text/event-stream\r\n"
           . join('', map { "$_: $h{$_}\r\n" } sort keys %h)
           . 'Content-Length: ' . length($json) . "\r\n\r\n$json";
    return $s;
}
my %mh = ('MCP-Protocol-Version' => $V, 'Mcp-Method' => 'tools/call');
my $off = file_size($elog);
my $s = raw_post($port, $U, { jsonrpc => '2.0', id => 'sleep-1', method => 'tools/call',
                              params => { name => 'test_sleep', arguments => { ms => 10000 }, _meta => meta() } },
                 %mh, 'Mcp-Name' => 'test_sleep');
sleep 0.5;
close $s;
my $t0 = time;
ok wait_for_log($elog, qr/test_sleep: cancelled by the client after \d+ ms/, 5, $off),
    'test_sleep (JSON answer): the client closed, the tool saw it cancelled';
my ($after) = map { /after (\d+) ms/ ? $1 : () } grep_log($elog, qr/test_sleep: cancelled/, $off);
ok defined $after && $after < 3000, "... soon (after ${\($after // '?')} ms of 10000)";

# the same for a session-era call
$off = file_size($elog);
$s = raw_post($port, $U, { jsonrpc => '2.0', id => 'sleep-2', method => 'tools/call',
                           params => { name => 'test_sleep', arguments => { ms => 10000 } } },
              session_headers($sid));
sleep 0.5;
close $s;
ok wait_for_log($elog, qr/test_sleep: cancelled by the client after \d+ ms/, 5, $off),
    'a session-era test_sleep is cancelled the same way';

# --- a node with the quiet stream tool: SSE cancellation and keep-alive ---------------
my $top = top_dir();
my $so  = "$top/.libs/mod_mcp_test_modern.so";
if (!-e $so || -M $so > -M "$top/t/modules/mod_mcp_test_modern.c") {
    system("make -C '$top' -f Makefile.apxs test-modules >/dev/null 2>&1");
}
ok -e $so, 'the test module is built (make -f Makefile.apxs test-modules)';
my $node = start_node(name => 't65', conf => qq{LoadModule mcp_test_modern_module "$so"\n});
my $nlog = $node->error_log_path;
my $quiet = sub {
    my ($ms, $rid) = @_;
    return raw_post($node->port, '/mcp',
                    { jsonrpc => '2.0', id => $rid, method => 'tools/call',
                      params => { name => 'test_quiet_stream', arguments => { ms => $ms },
                                  _meta => meta(progress => 'p1') } },
                    %mh, 'Mcp-Name' => 'test_quiet_stream');
};
# read_until($sock, $re, $timeout) -> (the text read, seconds it took)
sub read_until {
    my ($sock, $re, $timeout) = @_;
    my $sel = IO::Select->new($sock);
    my ($text, $start) = ('', time);
    while (time - $start < $timeout && $text !~ $re) {
        next unless $sel->can_read(0.2);
        my $n = sysread($sock, my $buf, 8192);
        last unless $n;
        $text .= $buf;
    }
    return ($text, time - $start);
}
$s = $quiet->(20000, 'q1');
my ($got) = read_until($s, qr/notifications\/progress.*\n\n/s, 10);
like $got, qr{^HTTP/1\.1 200}, 'test_quiet_stream: 200';
like $got, qr{Content-Type: text/event-stream}i, '... an event stream';
unlike $got, qr{Mcp-Session-Id}i, '... no Mcp-Session-Id';
$off = 0;
close $s;
ok wait_for_log($nlog, qr/test_quiet_stream: cancelled after \d+ ms/, 5),
    'closing the event stream cancels the tool';
($after) = map { /after (\d+) ms/ ? $1 : () } grep_log($nlog, qr/test_quiet_stream: cancelled/);
ok defined $after && $after < 3000, "... soon (after ${\($after // '?')} ms of 20000)";

$s = $quiet->(17000, 'q2');
my ($first, $t_first) = read_until($s, qr/notifications\/progress.*\n\n/s, 10);
my ($rest, $t_ka) = read_until($s, qr/^: keep-alive\r?\n/m, 20);
like $rest, qr/^: keep-alive\n\n/m, 'a quiet event stream gets a keep-alive comment';
ok $t_ka > 14 && $t_ka < 17, sprintf('... after 15 s of quiet (%.1f s)', $t_ka);
my ($end) = read_until($s, qr/"id":"q2"/, 10);
like $end, qr/quiet for 17000 ms/, '... and the result follows';
close $s;

# --- counters --------------------------------------------------------------------------
my $c1 = counters();
cmp_ok $c1->{MCPModernRequests} - $c0->{MCPModernRequests}, '>=', 40, 'MCPModernRequests counts the requests';
cmp_ok $c1->{MCPModernRefused} - $c0->{MCPModernRefused}, '>=', 16, 'MCPModernRefused counts the ladder refusals and 405s';
cmp_ok $c1->{MCPModernInputRequired} - $c0->{MCPModernInputRequired}, '>=', 2, 'MCPModernInputRequired counts input_required answers';
cmp_ok $c1->{MCPModernStateRefused} - $c0->{MCPModernStateRefused}, '>=', 4, 'MCPModernStateRefused counts refused requestStates';
is $c1->{MCPSessionCreated} - $c0->{MCPSessionCreated}, 1, 'only the session-era initialize created a session';

done_testing;
