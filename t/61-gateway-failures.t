# Gateway mode (MCPBackend) when the backend fails: real MCP servers on the
# official TypeScript SDK (t/node/backend.mjs) behind one httpd node.
#   1. Backend down (stopped): a request in a session gets 502/503 (never
#      404) with a JSON-RPC error body, and Retry-After with a 503; initialize
#      gets an error and no session; DELETE still ends the Apache session
#      (the backend's DELETE is best effort); once the backend is back the
#      same session works again. Stateless and stateful.
#   2. Backend killed and restarted in the middle of an SDK client
#      conversation (t/node/gw-client.mjs, paused between steps):
#      stateless: the session carries on, the new process saw no initialize;
#      stateful: the next call succeeds through a replay: the new process
#      saw a second initialize with the client's original params, then
#      notifications/initialized, and the client saw no error.
#   3. Backend hung (SIGSTOP) and a tool slower than ProxyTimeout: 502/504
#      with a JSON-RPC error, the session intact, and it works again after.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore);
use File::Temp qw(tempdir);
use Time::HiRes qw(time sleep);
use MCPTest;

# mod_proxy reports the backend it cannot reach (refused: AH00957 AH01114;
# timed out: AH01102 AH00898; a stream cut: AH01110).
# expect-log: AH00957 AH01114 AH01102 AH00898 AH01110
# The gateway says so too, at most every 30 s per process (MCPS00601), and
# that a replay the backend refused failed (MCPS00603).
# expect-log: MCPS00601 MCPS00603

skip_unless_node();

my $node_dir = node_dir();

sub tool_text {
    my $m = shift;
    return undef unless ref $m eq 'HASH' && ref $m->{result} eq 'HASH';
    return $m->{result}{content}[0]{text};
}
sub echo_call {
    my ($u, $sid, $text, @h) = @_;
    my ($res, $m) = mcp_call($u, $sid, 'tools/call', { name => 'echo', arguments => { text => $text } }, @h);
    return ($res, tool_text($m));
}
# backend_error($res, $name, %o): a gateway error for a backend failure:
# status in @{$o{statuses}}, JSON-RPC error body, Retry-After on 503.
sub backend_error {
    my ($res, $name, %o) = @_;
    my @st = @{ $o{statuses} || [502, 503, 504] };
    my @why;
    push @why, 'status ' . $res->code . " (want @st)" unless grep { $res->code == $_ } @st;
    my $ct = $res->header('Content-Type') // '';
    push @why, "Content-Type '$ct'" unless $ct =~ m{^application/json\b}i;
    my $b = json_decode($res->content);
    if (ref $b ne 'HASH' || ($b->{jsonrpc} // '') ne '2.0' || ref $b->{error} ne 'HASH') {
        push @why, 'no JSON-RPC error body';
    }
    else {
        push @why, 'error.code not a negative integer'
            unless defined $b->{error}{code} && $b->{error}{code} =~ /^-\d+$/;
        push @why, 'error.message empty' unless length($b->{error}{message} // '');
        push @why, 'result present' if exists $b->{result};
    }
    push @why, 'no Retry-After on a 503'
        if $res->code == 503 && ($res->header('Retry-After') // '') !~ /^\d+$/;
    ok !@why, $name or diag join("\n", @why, 'got: ' . $res->status_line . ' '
                                 . substr($res->content // '', 0, 300));
}

my $sl = start_backend(mode => 'stateless', name => 'sl61');
my $sf = start_backend(mode => 'stateful',  name => 'sf61');
my $js = start_backend(mode => 'stateless', name => 'json61', json => 1);

my $htpasswd = top_dir() . '/t/htpasswd';
my $conf = <<"CONF";
ProxyTimeout 3
<Location /mcp-sf>
    SetHandler mcp-session
    MCPBackend @{[ $sf->url ]}
</Location>
<Location /mcp-sf-auth>
    SetHandler mcp-session
    MCPBackend @{[ $sf->url ]}
    MCPBackendUserHeader X-MCP-User
    AuthType Basic
    AuthName mcp
    AuthUserFile "$htpasswd"
    Require valid-user
</Location>
<Location /mcp-json>
    SetHandler mcp-session
    MCPBackend @{[ $js->url ]}
</Location>
CONF
my $node = start_node(name => 'gw61', conf => $conf, location_conf => '    MCPBackend ' . $sl->url);

# --- 1. backend down, then back -------------------------------------------------
for my $c (['/mcp', $sl, 'stateless'], ['/mcp-sf', $sf, 'stateful']) {
    my ($path, $be, $label) = @$c;
    my $u = $node->url($path);
    my $sid = initialize($u);
    my $sid2 = initialize($u);
    ok is_session_id($sid) && is_session_id($sid2), "$label: two sessions";
    my ($res, $t) = echo_call($u, $sid, 'before');
    is $t, 'before', "$label: echo works";

    $be->stop;
    ($res, $t) = echo_call($u, $sid, 'down');
    isnt $res->code, 404, "$label: backend down: not 404 (the client would drop its session)";
    backend_error($res, "$label: backend down: 502/503 with a JSON-RPC error", statuses => [502, 503]);
    note "$label: backend down answers " . $res->status_line
        . ' Retry-After=' . ($res->header('Retry-After') // '-');
    ($res) = echo_call($u, $sid, 'down again');
    backend_error($res, "$label: backend still down: the same", statuses => [502, 503]);

    $res = mcp_post($u, init_message());
    backend_error($res, "$label: initialize with the backend down: 502/503", statuses => [502, 503]);
    ok !defined $res->header('Mcp-Session-Id'), "$label: ... and no session";

    $res = mcp_delete($u, session_headers($sid2));
    is $res->code, 200, "$label: DELETE with the backend down ends the Apache session";
    check_error(mcp_post($u, rpc('ping'), session_headers($sid2)), 404, -32001, undef,
                "$label: ... which is gone");

    ok $be->start, "$label: backend back (a new process)";
    ($res, $t) = echo_call($u, $sid, 'after');
    is $res->code, 200, "$label: the same session works again";
    is $t, 'after', "$label: ... echo answers";
    my $st = $be->stats;
    if ($be->mode eq 'stateful') {
        is $st->{initialize}, 1, "$label: ... through a replayed initialize at the new backend";
    }
    else {
        is $st->{initialize}, 0, "$label: ... without any initialize at the new backend";
    }
}

# --- 2. killed and restarted in the middle of an SDK conversation --------------
for my $c (['/mcp', $sl, 'stateless'], ['/mcp-sf', $sf, 'stateful']) {
    my ($path, $be, $label) = @$c;
    my $sync = tempdir('gw61-sync-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    my $p = node_spawn("$node_dir/gw-client.mjs", '--quiet', '--sync', $sync, $node->url($path),
                       'connect', 'echo=one', 'session', 'pause=restart', 'session', 'echo=two',
                       'add=1,2', 'session', 'delete', 'after-delete');
    my $ready = wait_for(sub { -e "$sync/restart.ready" || !$p->running }, 60);
    ok $ready && -e "$sync/restart.ready", "$label: the SDK client is paused mid-conversation";
    my $old_instance = $be->instance;
    ok $be->restart, "$label: backend killed (SIGKILL) and restarted";
    isnt $be->instance, $old_instance, "$label: ... a new process";
    open my $fh, '>', "$sync/restart.go" or die "$sync/restart.go: $!";
    close $fh;
    my ($rc, $out, $err) = node_wait($p, 90);
    my $s = json_decode($out) || {};
    is $rc, 0, "$label: the SDK conversation went on without an error"
        or diag "failures: @{ $s->{failures} || [] }\n$err";
    my @sessions = map { $_->{value} || {} } grep { $_->{step} eq 'session' } @{ $s->{steps} || [] };
    is $sessions[0]{instance}, $old_instance, "$label: before: the first process answered";
    is $sessions[1]{instance}, $be->instance, "$label: after: the new process answered";
    is $sessions[2]{instance}, $be->instance, "$label: ... and went on answering";
    my $st = $be->stats;
    my $log = $be->log || [];
    if ($be->mode eq 'stateful') {
        like $sessions[0]{sessionId} // '', $BACKEND_SID, "$label: the first backend session";
        like $sessions[1]{sessionId} // '', $BACKEND_SID, "$label: a new backend session after the restart";
        isnt $sessions[1]{sessionId}, $sessions[0]{sessionId}, "$label: ... not the old one";
        is $sessions[2]{sessionId}, $sessions[1]{sessionId}, "$label: ... kept from then on";
        is $st->{initialize}, 1, "$label: the new process saw one (replayed) initialize";
        is $st->{initialized}, 1, "$label: ... and one notifications/initialized";
        my ($miss) = grep { ($_->{sid} // '') eq ($sessions[0]{sessionId} // 'none') } @$log;
        is $miss && $miss->{status}, 404, "$label: the new process answered 404 for the old id first";
        my ($init) = grep { $_->{init} } @$log;
        my $ip = $init ? $init->{initParams} : {};
        is $ip->{clientInfo}{name}, 'mod-mcp-session-gw-client',
            "$label: the replayed initialize carries the client's clientInfo";
        is $ip->{protocolVersion}, '2025-11-25', "$label: ... and its protocol version";
        ok !defined $init->{sid}, "$label: ... and no (stale) backend session id";
        my @order = map { $_->{init} ? 'initialize' : $_->{rpc} } @$log;
        my $first_init = (grep { $order[$_] eq 'initialize' } 0 .. $#order)[0] // -1;
        is $order[$first_init + 1] // '', 'notifications/initialized',
            "$label: notifications/initialized right after the replayed initialize"
            or diag "@order";
        is $st->{deletes}, 1, "$label: the DELETE reached the new backend session";
    }
    else {
        ok !defined $sessions[1]{sessionId}, "$label: no backend session";
        is $st->{initialize}, 0, "$label: the new process saw no initialize: the session carried on";
    }
    # POSTs and the DELETE (the SDK's GET stream may reconnect while the
    # backend is down: not a call)
    my @w = grep { $_->{method} ne 'GET' && $_->{status} != 200 && $_->{status} != 202 }
            @{ $s->{wire} || [] };
    my @bad = grep { !(($_->{rpc} // '') eq 'tools/list' && $_->{status} == 404) } @w;
    ok !@bad, "$label: the client got no error status (only the final 404 after DELETE)"
        or diag explain \@bad;
    note "$label: GET stream: " . join(' ', map { $_->{status} } grep { $_->{method} eq 'GET' } @{ $s->{wire} || [] });
}

# --- 2b. the replay repeats the client's own initialize, as its user -------------
{
    my $u = $node->url('/mcp-sf-auth');
    my @alice = (-user => 'alice', -password => 'alice-secret');
    my $params = { protocolVersion => '2025-06-18',
                   capabilities => { roots => { listChanged => JSON::true() }, sampling => {} },
                   clientInfo => { name => 'replay-check', version => '7.1', title => 'Replay check' } };
    my $res = mcp_post($u, rpc('initialize', $params), @alice);
    my $sid = $res->header('Mcp-Session-Id');
    ok is_session_id($sid), 'alice: a session with capabilities and protocol 2025-06-18';
    is mcp_post($u, rpc('notifications/initialized', undef, undef), session_headers($sid, '2025-06-18'),
                @alice)->code, 202, '... initialized';
    ok $sf->restart, 'stateful backend restarted';
    my ($r2, $m) = mcp_call($u, $sid, 'tools/call', { name => 'whoami', arguments => {} },
                            -version => '2025-06-18', @alice);
    my $h = ref $m eq 'HASH' && ref $m->{result} eq 'HASH'
          ? json_decode($m->{result}{content}[0]{text} // '') : undef;
    is $h && $h->{headers}{'x-mcp-user'}, 'alice', 'after the replay: the call went through as alice';
    my ($init) = grep { $_->{init} } @{ $sf->log || [] };
    is_deeply $init && $init->{initParams}, $params,
        "the replayed initialize carried the client's params: version, capabilities, clientInfo"
        or diag explain $init && $init->{initParams};
    is $init && $init->{headers}{'x-mcp-user'}, 'alice', '... and the user header';
    is $init && $init->{headers}{'mcp-protocol-version'} // '2025-06-18', '2025-06-18',
        '... and no other protocol version header';
}

# --- 2c. a replay the backend refuses: 502, the session stays --------------------
{
    my $u = $node->url('/mcp-sf');
    my $sid = initialize($u);
    my ($res, $t) = echo_call($u, $sid, 'before');
    is $t, 'before', 'stateful: a session';
    ok $sf->restart, 'stateful backend restarted';
    $sf->refuse_init(1);
    ($res) = echo_call($u, $sid, 'refused');
    isnt $res->code, 404, 'the backend refuses the replayed initialize: not 404';
    backend_error($res, '... 502 with a JSON-RPC error', statuses => [502]);
    is $sf->stats->{initialize}, 1, '... after one replay attempt';
    $sf->refuse_init(0);
    ($res, $t) = echo_call($u, $sid, 'after');
    is $t, 'after', 'the backend accepts initialize again: the same session works (replayed)';
    is $sf->stats->{initialize}, 2, '... through a second replay';
}

# --- 3. backend hung, tool slower than ProxyTimeout ------------------------------
{
    my $u = $node->url('/mcp-json');
    my $sid = initialize($u);
    ok is_session_id($sid), 'JSON backend: a session';
    my ($res, $t) = echo_call($u, $sid, 'x');
    is $t, 'x', 'JSON backend: echo';

    my $t0 = time;
    ($res) = mcp_call($u, $sid, 'tools/call', { name => 'sleep', arguments => { ms => 8000 } }, -timeout => 60);
    my $took = time - $t0;
    isnt $res->code, 404, 'a tool slower than ProxyTimeout: not 404';
    backend_error($res, 'a tool slower than ProxyTimeout (3 s): 502/504 with a JSON-RPC error',
                  statuses => [502, 504]);
    ok $took < 7.5, sprintf('... after the proxy timeout, not the tool (%.1f s)', $took);
    ($res, $t) = echo_call($u, $sid, 'y');
    is $t, 'y', '... and the session works after';

    $js->suspend;
    ($res) = echo_call($u, $sid, 'hung', -timeout => 60);
    $js->resume;
    isnt $res->code, 404, 'backend hung (SIGSTOP): not 404';
    backend_error($res, 'backend hung: 502/504 with a JSON-RPC error', statuses => [502, 503, 504]);
    wait_for(sub { ((echo_call($u, $sid, 'z'))[1] // '') eq 'z' }, 20, 0.5);
    ($res, $t) = echo_call($u, $sid, 'z2');
    is $t, 'z2', 'backend resumed: the same session works again';
}

# --- 4. what happened shows in mod_status and the debug log, per endpoint ------
{
    my $st = status_auto($node->url('/server-status')) || {};
    my $count = sub {
        my ($what, $path) = @_;
        my @k = grep { /\Q$what\E/i && /\Q$path\E\)\s*$/ } keys %$st;
        return @k == 1 ? $st->{ $k[0] } : undef;
    };
    my ($fwd, $rep, $fail) = map { $count->($_, '/mcp') } qw(forward replay fail);
    ok +($fwd // 0) > 10, 'mod_status: requests forwarded to /mcp\'s backend (' . ($fwd // 'none') . ')'
        or diag explain [ grep { /backend/i } sort keys %$st ];
    ok +($fail // 0) >= 3, 'mod_status: /mcp\'s failures while its backend was down ('
        . ($fail // 'none') . ')';
    is $rep, 0, 'mod_status: no replay for a stateless backend';
    my $rep_sf = $count->('replay', '/mcp-sf');
    ok +($rep_sf // 0) >= 2, "mod_status: /mcp-sf's replays after its backend restarted ("
        . ($rep_sf // 'none') . ')';
    my $fail_json = $count->('fail', '/mcp-json');
    ok +($fail_json // 0) >= 2, "mod_status: /mcp-json's timeouts counted as failures ("
        . ($fail_json // 'none') . ')';
    ok scalar(grep { /replay|re-initiali/i && m{/mcp-sf\b} && /\[mcp_session:(?:debug|info)\]/ }
                   split /\n/, MCPTest::read_from($node->error_log_path)),
        'the error log (info/debug) says which endpoint replayed';
}

done_testing();
