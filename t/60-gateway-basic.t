# Gateway mode (MCPBackend): one httpd node in front of real MCP servers
# built on the official TypeScript SDK (t/node/backend.mjs), driven by the
# official SDK client (t/node/gw-client.mjs) and by raw HTTP.
#   /mcp       stateless backend (SDK, sessionIdGenerator undefined, SSE answers)
#   /mcp-sf    stateful backend (SDK default: its own session ids)
#   /mcp-json  stateful backend answering application/json
#   /mcp-unix  stateless backend on a unix socket (unix:/path|http://localhost/mcp)
#   /mcp-tls   stateless backend over https:// (when openssl and IO::Socket::SSL exist)
#   /mcp-auth  Basic auth + MCPBackendUserHeader X-MCP-User
#   /mcp-uh    MCPBackendUserHeader X-MCP-User without auth
#   /mcp-noauth-uh  Basic auth, no MCPBackendUserHeader (off by default)
#   /mcp-local no MCPBackend: the module's own tools, as before
# Checks: whole conversations through Apache (the client only ever sees
# Apache's session id; the backend gets its own id, never Apache's; tools are
# the backend's); every validation failure answers exactly as without a
# backend and never reaches it (counted at the backend); a backend that
# refuses initialize leaves no session; `httpd -t` refuses MCPBackend without
# mod_proxy or the scheme's module; MCPBackendUserHeader carries r->user and
# drops a client-sent copy.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore);
use File::Temp qw(tempdir);
use MCPTest;

# The wrong-password probe below is logged by mod_auth_basic.
# expect-log: AH01617
# mod_ssl (the https:// backend) warns when the OpenSSL it runs with is older
# than the one it was built against (a Debian point-release skew, not ours).
# expect-log: AH01882

skip_unless_node();


# step($summary, $step) -> the value of that step (first one of that name)
sub step {
    my ($s, $name) = @_;
    for my $st (@{ $s->{steps} || [] }) {
        return $st->{value} if $st->{step} eq $name;
    }
    return undef;
}
# tool_json($message) -> the decoded text of a tools/call result
sub tool_json {
    my $m = shift;
    return undef unless ref $m eq 'HASH' && ref $m->{result} eq 'HASH';
    my $t = $m->{result}{content}[0]{text};
    return json_decode($t) // $t;
}

# --- backends and the node ---------------------------------------------------
my $sl  = start_backend(mode => 'stateless', name => 'sl60');
my $sf  = start_backend(mode => 'stateful',  name => 'sf60');
my $sfj = start_backend(mode => 'stateful',  name => 'sfjson60', json => 1);
my $ux  = start_backend(mode => 'stateless', name => 'unix60', socket => 1);

my $tls;
my $tls_conf = '';
my $can_tls = have_program('openssl') && eval { require IO::Socket::SSL; 1 };
if ($can_tls) {
    my $d = tempdir('gw60-tls-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    chmod 0755, $d;
    my $rc = system("openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 "
                    . "-addext subjectAltName=IP:127.0.0.1,DNS:localhost "
                    . "-keyout $d/key.pem -out $d/cert.pem >/dev/null 2>&1") == 0;
    chmod 0644, "$d/key.pem", "$d/cert.pem";
    if ($rc) {
        $tls = start_backend(mode => 'stateless', name => 'tls60', tls => ["$d/cert.pem", "$d/key.pem"]);
        $tls_conf = "SSLProxyEngine on\nSSLProxyCACertificateFile \"$d/cert.pem\"\n"
                  . "SSLSessionCache shmcb:ssl_scache(51200)\n"
                  . "<Location /mcp-tls>\n    SetHandler mcp-session\n    MCPBackend " . $tls->url
                  . "\n</Location>\n";
    }
    else {
        $can_tls = 0;
    }
}

my $htpasswd = top_dir() . '/t/htpasswd';
my $auth = "    AuthType Basic\n    AuthName mcp\n    AuthUserFile \"$htpasswd\"\n    Require valid-user\n";
my $conf = <<"CONF";
<Location /mcp-sf>
    SetHandler mcp-session
    MCPBackend @{[ $sf->url ]}
    MCPMaxMessageSize 8192
</Location>
<Location /mcp-json>
    SetHandler mcp-session
    MCPBackend @{[ $sfj->url ]}
</Location>
<Location /mcp-unix>
    SetHandler mcp-session
    MCPBackend "@{[ $ux->url ]}"
</Location>
<Location /mcp-auth>
    SetHandler mcp-session
    MCPBackend @{[ $sl->url ]}
    MCPBackendUserHeader X-MCP-User
$auth</Location>
<Location /mcp-uh>
    SetHandler mcp-session
    MCPBackend @{[ $sl->url ]}
    MCPBackendUserHeader X-MCP-User
</Location>
<Location /mcp-noauth-uh>
    SetHandler mcp-session
    MCPBackend @{[ $sl->url ]}
$auth</Location>
<Location /mcp-local>
    SetHandler mcp-session
</Location>
$tls_conf
CONF
my $node = start_node(name => 'gw60', conf => $conf,
                      location_conf => "    MCPBackend " . $sl->url . "\n    MCPMaxMessageSize 8192");

# --- 1. whole conversations with the SDK client -------------------------------
my @conversations = (
    ['/mcp',      $sl,  'stateless'],
    ['/mcp-sf',   $sf,  'stateful'],
    ['/mcp-json', $sfj, 'stateful, JSON answers'],
    ['/mcp-unix', $ux,  'stateless, unix socket'],
    ($can_tls ? (['/mcp-tls', $tls, 'stateless, https']) : ()),
);
for my $c (@conversations) {
    my ($path, $be, $label) = @$c;
    my $before = $be->stats;
    my ($rc, $s, $err) = gw_client($node->url($path), 'connect', 'list', 'echo=hello', 'add=2,3',
                                   'session', 'whoami', 'ping', 'delete', 'after-delete');
    is $rc, 0, "$label ($path): SDK conversation through Apache"
        or diag "failures: @{ $s->{failures} || [] }\n$err";
    my $sid = $s->{sessionId};
    ok is_session_id($sid), "$label: the client holds an Apache session id (43 base64url)"
        or diag 'session id: ' . ($sid // 'none');
    my %tools = map { $_ => 1 } @{ step($s, 'list') || [] };
    ok $tools{slow_notify} && $tools{backend_session} && !$tools{test_simple_text},
        "$label: tools/list lists the backend's tools, not the module's";
    my $bs = step($s, 'session') || {};
    is $bs->{instance}, $be->instance, "$label: tools/call reached this backend process";
    my $h = (step($s, 'whoami') || {})->{headers} || {};
    if ($be->mode eq 'stateful') {
        like $bs->{sessionId} // '', $BACKEND_SID, "$label: the backend has its own session id";
        is $h->{'mcp-session-id'}, $bs->{sessionId},
            "$label: Apache sends the backend's own id to the backend";
    }
    else {
        ok !defined $bs->{sessionId}, "$label: the backend has no session of its own";
        ok !exists $h->{'mcp-session-id'}, "$label: no Mcp-Session-Id reaches a stateless backend";
    }
    ok !grep({ defined $sid && index($_, $sid) >= 0 } values %$h),
        "$label: Apache's session id is not in any header the backend got"
        or diag explain $h;
    is $h->{'mcp-protocol-version'}, '2025-11-25', "$label: MCP-Protocol-Version reaches the backend";
    ok defined $h->{'x-forwarded-for'}, "$label: X-Forwarded-For reaches the backend";
    is step($s, 'delete'), 200, "$label: DELETE 200";
    my $ad = step($s, 'after-delete') || {};
    is $ad->{status}, 404, "$label: the deleted session answers 404";
    is +($ad->{body}{error}{code} // 0), -32001, "$label: ... -32001 Session not found";
    my $after = $be->stats;
    is $after->{initialize} - $before->{initialize}, 1,
        "$label: the backend saw exactly one initialize";
}

# --- 2. validation happens before anything reaches the backend ----------------
my $big = json_encode(rpc('tools/call', { name => 'echo', arguments => { text => 'x' x 12000 } }));
my @batch = map { rpc('ping') } 1 .. 101;
for my $c (['/mcp', $sl, 'stateless'], ['/mcp-sf', $sf, 'stateful']) {
    my ($path, $be, $label) = @$c;
    my $u = $node->url($path);
    my $sid = initialize($u);
    ok is_session_id($sid), "$label: raw initialize through Apache";
    my @sh = session_headers($sid);
    my $before = $be->stats;
    my $call = rpc('tools/call', { name => 'echo', arguments => { text => 'x' } });

    check_error(mcp_post($u, $call, @sh, Origin => 'http://evil.example'), 403, -32000,
                qr/^Forbidden: Invalid Origin header/, "$label: bad Origin: 403");
    check_error(mcp_post($u, init_message(), Origin => 'http://evil.example'), 403, -32000,
                qr/^Forbidden/, "$label: initialize with a bad Origin: 403");
    check_error(mcp_post($u, $call, @sh, Accept => 'text/html'), 406, -32000,
                qr/^Not Acceptable/, "$label: bad Accept: 406");
    check_error(mcp_post($u, init_message(), Accept => 'application/json'), 406, -32000,
                qr/^Not Acceptable/, "$label: initialize accepting only JSON: 406");
    check_error(mcp_post($u, $call, @sh, 'Content-Type' => 'text/plain'), 415, -32000,
                qr/^Unsupported Media Type/, "$label: bad Content-Type: 415");
    check_error(mcp_post($u, '{"jsonrpc":"2.0",', @sh), 400, -32700,
                qr/^Parse error: Invalid JSON/, "$label: bad JSON: 400");
    check_error(mcp_post($u, '{"foo":1}', @sh), 400, -32700,
                qr/Invalid JSON-RPC message/, "$label: not JSON-RPC: 400");
    check_error(mcp_post($u, $call, session_headers('A' x 43)), 404, -32001,
                qr/^Session not found$/, "$label: unknown session: 404");
    check_error(mcp_post($u, $call), 400, -32000,
                qr/Mcp-Session-Id header is required/, "$label: no session header: 400");
    check_error(mcp_post($u, $big, @sh), 413, -32000,
                qr/^Payload Too Large/, "$label: oversize body: 413");
    check_error(mcp_post($u, json_encode(init_message()) . (' ' x 9000)), 413, -32000,
                qr/^Payload Too Large/, "$label: oversize initialize: 413");
    check_error(mcp_post($u, $call, @sh, 'MCP-Protocol-Version' => '1999-01-01'), 400, -32000,
                qr/Unsupported protocol version/, "$label: unsupported protocol version: 400");
    check_error(mcp_post($u, \@batch, @sh), 400, -32600,
                qr/Batch must not exceed 100/, "$label: batch of 101: 400");
    check_error(mcp_put($u, json_encode($call), @sh), 405, -32000,
                qr/Method not allowed/, "$label: PUT: 405");
    check_error(mcp_delete($u, session_headers('B' x 43)), 404, -32001,
                undef, "$label: DELETE of an unknown session: 404");
    check_error(mcp_delete($u), 400, -32000, undef, "$label: DELETE without a session: 400");
    check_error(mcp_delete($u, @sh, Origin => 'http://evil.example'), 403, -32000,
                undef, "$label: DELETE with a bad Origin: 403");
    if ($be->mode eq 'stateful') {
        check_error(mcp_get($u, session_headers('C' x 43), Accept => 'text/event-stream'), 404, -32001,
                    undef, "$label: GET with an unknown session: 404");
        check_error(mcp_get($u, Accept => 'text/event-stream'), 405, -32000,
                    undef, "$label: GET without a session: 405");
    }
    else {
        check_error(mcp_get($u, @sh, Accept => 'text/event-stream'), 405, -32000,
                    undef, "$label: GET (stateless backend): 405");
    }
    my $after = $be->stats;
    is $after->{total} - $before->{total}, 0, "$label: none of these reached the backend"
        or diag explain [ grep { $_->{n} > $before->{total} } @{ $be->log || [] } ];

    my ($res, $m) = mcp_call($u, $sid, 'tools/call', { name => 'echo', arguments => { text => 'still here' } });
    is +(tool_json($m) // ''), 'still here', "$label: the session works after all that";
    is $be->stats->{total} - $after->{total}, 1, "$label: ... one request at the backend";
    is $res->header('Mcp-Session-Id') // $sid, $sid,
        "$label: an answer never carries another session id";
}

# --- 3. a backend that refuses initialize: no session --------------------------
for my $c (['/mcp', $sl, 'stateless'], ['/mcp-sf', $sf, 'stateful']) {
    my ($path, $be, $label) = @$c;
    my $before = $be->stats;
    for my $how (['backend-refuse-400', 400, -32602], ['backend-refuse-200', 200, -32603]) {
        my ($name, $status, $code) = @$how;
        my $init = rpc('initialize', { protocolVersion => $LATEST, capabilities => {},
                                       clientInfo => { name => $name, version => '1' } });
        my $res = mcp_post($node->url($path), $init);
        is $res->code, $status, "$label: the backend refuses initialize ($name): its status";
        ok !defined $res->header('Mcp-Session-Id'), "$label: ... no Mcp-Session-Id";
        my $m = rpc_final($res);
        is ref $m eq 'HASH' && ref $m->{error} eq 'HASH' ? $m->{error}{code} : undef, $code,
            "$label: ... the client gets the backend's JSON-RPC error"
            or diag $res->as_string;
    }
    is $be->stats->{initialize} - $before->{initialize}, 2, "$label: both reached the backend";
}

# --- 4. httpd -t: MCPBackend needs mod_proxy and the scheme's module -----------
sub config_test {
    my ($backend, $mods, $extra) = @_;
    my $n = start_node(name => 'gw60-t', start => 0, proxy_modules => $mods,
                       conf => $extra // '', location_conf => "    MCPBackend \"$backend\"");
    my $cmd = sprintf "%s -d %s -f %s -t 2>&1", MCPTest::Node::httpd_binary(), $n->dir, $n->conf_file;
    my $out = `$cmd`;
    return ($? >> 8, $out);
}
my ($rc, $out) = config_test($sl->url, []);
ok $rc != 0 && $out =~ /MCPBackend/ && $out =~ /mod_proxy\b/,
    'httpd -t: MCPBackend without mod_proxy fails, naming MCPBackend and mod_proxy' or diag $out;
($rc, $out) = config_test($sl->url, ['proxy']);
ok $rc != 0 && $out =~ /MCPBackend/ && $out =~ /mod_proxy_http/,
    'httpd -t: an http:// MCPBackend without mod_proxy_http fails, naming it' or diag $out;
($rc, $out) = config_test($ux->url, ['proxy']);
ok $rc != 0 && $out =~ /mod_proxy_http/,
    'httpd -t: a unix: MCPBackend without mod_proxy_http fails, naming it' or diag $out;
($rc, $out) = config_test('balancer://pool60/mcp', ['proxy', 'proxy_http'],
                          "<Proxy \"balancer://pool60\">\n    BalancerMember " . $sl->base . "\n</Proxy>\n");
ok $rc != 0 && $out =~ /mod_proxy_balancer/,
    'httpd -t: a balancer:// MCPBackend without mod_proxy_balancer fails, naming it' or diag $out;
($rc, $out) = config_test($sl->url, ['proxy', 'proxy_http']);
ok $rc == 0 && $out =~ /Syntax OK/, 'httpd -t: with mod_proxy and mod_proxy_http: Syntax OK' or diag $out;
($rc, $out) = config_test('ftp://127.0.0.1/x', ['proxy', 'proxy_http']);
ok $rc != 0 && $out =~ /MCPBackend/, 'httpd -t: an MCPBackend URL of no supported scheme fails' or diag $out;

# --- 5. MCPBackendUserHeader ----------------------------------------------------
{
    my $u = $node->url('/mcp-auth');
    my @alice = (-user => 'alice', -password => 'alice-secret');
    is mcp_post($u, init_message(), -user => 'alice', -password => 'wrong')->code, 401,
        '/mcp-auth: a wrong password is 401 (auth first)';
    my $from = $sl->stats->{total};
    my $sid = initialize($u, user => 'alice', password => 'alice-secret',
                         headers => { 'X-MCP-User' => 'mallory' });
    ok is_session_id($sid), '/mcp-auth: alice initializes';
    my @init = grep { $_->{n} > $from && $_->{init} } @{ $sl->log || [] };
    is scalar(@init), 1, '/mcp-auth: the initialize reached the backend';
    is +($init[0] || {})->{headers}{'x-mcp-user'}, 'alice',
        '/mcp-auth: initialize carried X-MCP-User: alice (the client-sent mallory dropped)';
    my (undef, $m) = mcp_call($u, $sid, 'tools/call', { name => 'whoami', arguments => {} }, @alice);
    is +(tool_json($m) || {})->{headers}{'x-mcp-user'}, 'alice', '/mcp-auth: whoami sees alice';
    (undef, $m) = mcp_call($u, $sid, 'tools/call', { name => 'whoami', arguments => {} }, @alice,
                           'X-MCP-User' => 'mallory');
    is +(tool_json($m) || {})->{headers}{'x-mcp-user'}, 'alice',
        '/mcp-auth: a client-sent X-MCP-User: mallory is replaced by alice';
    (undef, $m) = mcp_call($u, $sid, 'tools/call', { name => 'whoami', arguments => {} }, @alice,
                           'x-mcp-user' => 'mallory');
    is +(tool_json($m) || {})->{headers}{'x-mcp-user'}, 'alice',
        '/mcp-auth: ... also spelt x-mcp-user';

    $u = $node->url('/mcp-uh');
    $from = $sl->stats->{total};
    $sid = initialize($u, headers => { 'X-MCP-User' => 'mallory' });
    ok is_session_id($sid), '/mcp-uh (no auth): initialize';
    (undef, $m) = mcp_call($u, $sid, 'tools/call', { name => 'whoami', arguments => {} },
                           'X-MCP-User' => 'mallory');
    my $h = (tool_json($m) || {})->{headers};
    ok ref $h eq 'HASH' && !exists $h->{'x-mcp-user'},
        '/mcp-uh: without a user, a client-sent X-MCP-User does not reach the backend' or diag explain $h;
    my @spoofed = grep { $_->{n} > $from && exists $_->{headers}{'x-mcp-user'} } @{ $sl->log || [] };
    is scalar(@spoofed), 0, '/mcp-uh: not on initialize either';

    $u = $node->url('/mcp-noauth-uh');
    $sid = initialize($u, user => 'alice', password => 'alice-secret');
    (undef, $m) = mcp_call($u, $sid, 'tools/call', { name => 'whoami', arguments => {} }, @alice);
    $h = (tool_json($m) || {})->{headers};
    ok ref $h eq 'HASH' && !grep({ $_ eq 'alice' } values %$h),
        'without MCPBackendUserHeader (off by default) no header names the user' or diag explain $h;
}

# --- 6. what the session keeps, large bodies, notifications, user binding -------
{
    # the version the backend negotiated is the session's: sent to the
    # backend when the client leaves MCP-Protocol-Version out
    my $u = $node->url('/mcp-sf');
    my ($sid, $res) = initialize($u, protocolVersion => '2025-06-18');
    is +(rpc_final($res) || {})->{result}{protocolVersion}, '2025-06-18',
        'initialize 2025-06-18: the backend agreed';
    my (undef, $m) = mcp_call($u, $sid, 'tools/call', { name => 'whoami', arguments => {} },
                              'MCP-Protocol-Version' => undef);
    is +(tool_json($m) || {})->{headers}{'mcp-protocol-version'}, '2025-06-18',
        '... a request without MCP-Protocol-Version reaches the backend with the session\'s';

    # bodies beyond what mod_proxy reads ahead (16 KiB) and far beyond
    for my $c (['/mcp-json', 'stateful, JSON answers'], ['/mcp-unix', 'stateless, unix socket']) {
        my ($path, $label) = @$c;
        my $su = $node->url($path);
        my $ssid = initialize($su);
        for my $size (100_000, 1_000_000) {
            my $text = join '', map { chr(0x41 + $_ % 26) } 1 .. $size;
            my (undef, $em) = mcp_call($su, $ssid, 'tools/call', { name => 'echo', arguments => { text => $text } });
            my $got = tool_json($em) // '';
            ok $got eq $text, "$label: a $size-byte echo goes through whole"
                or diag 'got ' . length($got) . ' bytes';
        }
        # a notification alone: 202 from the backend
        my $r = mcp_post($su, rpc('notifications/cancelled', { requestId => 999, reason => 'test' }, undef),
                         session_headers($ssid));
        is $r->code, 202, "$label: a notification alone: 202";
    }

    # user binding is unchanged: bob gets 404 for alice's session, and it
    # costs the backend nothing
    $u = $node->url('/mcp-auth');
    $sid = initialize($u, user => 'alice', password => 'alice-secret');
    my $before = $sl->stats->{total};
    check_error(mcp_post($u, rpc('tools/call', { name => 'echo', arguments => { text => 'x' } }),
                         session_headers($sid), -user => 'bob', -password => 'bob-secret'),
                404, -32001, qr/^Session not found$/, "/mcp-auth: bob with alice's session: 404");
    is $sl->stats->{total} - $before, 0, "/mcp-auth: ... which never reached the backend";
    my (undef, $am) = mcp_call($u, $sid, 'tools/call', { name => 'echo', arguments => { text => 'alice' } },
                               -user => 'alice', -password => 'alice-secret');
    is tool_json($am), 'alice', "/mcp-auth: alice's session still works";
}

# --- 7. without MCPBackend nothing changes ---------------------------------------
{
    my $u = $node->url('/mcp-local');
    my $before = $sl->stats->{total};
    my $sid = initialize($u);
    ok is_session_id($sid), '/mcp-local (no MCPBackend): initialize';
    my (undef, $m) = mcp_call($u, $sid, 'tools/list', {});
    my %tools = map { $_->{name} => 1 } @{ $m->{result}{tools} || [] };
    ok $tools{echo} && $tools{test_simple_text} && !$tools{slow_notify},
        "/mcp-local: the module's own tools";
    is $sl->stats->{total} - $before, 0, '/mcp-local: nothing went to a backend';
}

done_testing();
