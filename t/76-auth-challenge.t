# Bearer challenges of an endpoint with MCPAuthorizationServers (issue 13):
# every 401/403, whichever module made it, carries resource_metadata (and
# scope); MCPRequireScope's 403 insufficient_scope step-up in both eras;
# MCPSessionPrincipal binds sessions; the gateway keeps the token from the
# backend unless MCPBackendPassToken on. No OAuth module is needed: Basic
# auth and header-driven expressions stand in for it.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use MCPTest;

# mod_auth_basic / mod_authz_core: the refusals this file provokes.
# expect-log: AH01617 AH01630 AH01631
# The empty principal (error level, by design).
# expect-log: MCPS01017

my $WK = '/.well-known/oauth-protected-resource';
my $HTPASSWD = top_dir() . '/t/htpasswd';
my @alice = (-user => 'alice', -password => 'alice-secret');
my @bob   = (-user => 'bob',   -password => 'bob-secret');

my $BASIC = <<"B";
    AuthType Basic
    AuthName "MCP"
    AuthUserFile "$HTPASSWD"
B
sub loc {
    my ($path, $body) = @_;
    return "<Location $path>\n    SetHandler mcp-session\n$body</Location>\n";
}

# initialize, then notifications/initialized, both with %h: the session id
sub init_with {
    my ($url, %h) = @_;
    my ($sid, $res) = initialize($url, no_initialized => 1, headers => \%h);
    my $n = $sid ? mcp_post($url, rpc('notifications/initialized', undef, undef),
                            session_headers($sid), %h) : undef;
    return $n && $n->code == 202 ? $sid : undef;
}

# every WWW-Authenticate field of a response
sub challenges { my @v = $_[0]->header('WWW-Authenticate'); @v }

my $node = start_node(
    name => 't76-handler',
    location => '/mcp',
    location_conf => $BASIC . <<'L',
    Require valid-user
    MCPAuthorizationServers https://as.example.com
    MCPResourceScopes mcp:tools mcp:read
L
    conf => loc('/bob', $BASIC . <<'L')
    Require user bob
    MCPAuthorizationServers https://as.example.com
    MCPResourceScopes mcp:tools
L
          . loc('/bob403', $BASIC . <<'L')
    Require user bob
    AuthzSendForbiddenOnFailure On
    MCPAuthorizationServers https://as.example.com
    MCPResourceScopes mcp:tools
    MCPRequireScope mcp:admin
L
          . loc('/ipdeny', <<'L')
    Require ip 192.0.2.1
    MCPAuthorizationServers https://as.example.com
    MCPResourceScopes mcp:tools
L
          . loc('/scoped', $BASIC . <<'L')
    Require valid-user
    MCPAuthorizationServers https://as.example.com
    MCPResourceScopes mcp:tools
    MCPRequireScope mcp:tools mcp:write
    MCPTokenScopes %{HTTP:X-Test-Scopes}
L
          . loc('/scoped-plain', <<'L')
    MCPRequireScope mcp:x
    MCPTokenScopes %{HTTP:X-Test-Scopes}
L
          . loc('/principal', $BASIC . <<'L')
    Require valid-user
    MCPAuthorizationServers https://as.example.com
    MCPSessionPrincipal %{HTTP:X-Test-Principal}
L
          . loc('/nooauth', $BASIC . <<'L'));
    Require user bob
L
my $base = 'http://127.0.0.1:' . $node->port;
my $rm = sub { qq{resource_metadata="$base$WK$_[0]"} };

# --- httpd's own 401/403 -------------------------------------------------------
my $res = mcp_post("$base/mcp", init_message());
is $res->code, 401, 'no credentials: 401';
is_deeply [challenges($res)],
    [qq{Basic realm="MCP", Bearer } . $rm->('/mcp') . q{, scope="mcp:tools mcp:read"}],
    "... one field: mod_auth_basic's challenge kept, a Bearer one with resource_metadata and scope added";

$res = mcp_post("$base/mcp", init_message(), -user => 'alice', -password => 'wrong');
is_deeply [$res->code, challenges($res)],
    [401, qq{Basic realm="MCP", Bearer } . $rm->('/mcp') . q{, scope="mcp:tools mcp:read"}],
    'wrong password (authentication failed): no error= in the Bearer challenge';

$res = mcp_post("$base/bob", init_message(), @alice);
is_deeply [$res->code, challenges($res)],
    [401, qq{Basic realm="MCP", Bearer error="invalid_token", error_description="the token is not }
        . q{accepted for this resource", } . $rm->('/bob') . q{, scope="mcp:tools"}],
    'authenticated, then refused by Require (401): Bearer error="invalid_token"';

$res = mcp_post("$base/bob403", init_message(), @alice);
is_deeply [$res->code, challenges($res)],
    [403, q{Bearer error="insufficient_scope", } . $rm->('/bob403') . q{, scope="mcp:admin mcp:tools"}],
    'AuthzSendForbiddenOnFailure: 403 Bearer error="insufficient_scope", scope = required + resource scopes';

$res = mcp_post("$base/ipdeny", init_message());
is_deeply [$res->code, challenges($res)],
    [403, 'Bearer ' . $rm->('/ipdeny') . ', scope="mcp:tools"'],
    'a 403 without a user (Require ip): resource_metadata and scope only';

$res = mcp_post("$base/nooauth", init_message(), @alice);
is_deeply [$res->code, challenges($res)], [401, 'Basic realm="MCP"'],
    'an endpoint without MCPAuthorizationServers: the auth module\'s header untouched';

# --- the module's own 403 --------------------------------------------------------
$res = mcp_post("$base/mcp", init_message(), @alice, Origin => 'https://evil.example');
check_error($res, 403, -32000, qr/Invalid Origin/, 'a refused Origin: 403 JSON-RPC error');
is_deeply [challenges($res)], ['Bearer ' . $rm->('/mcp') . ', scope="mcp:tools mcp:read"'],
    '... with the Bearer challenge';

# CORS: a browser may read the challenge
$res = mcp_post("$base/mcp", init_message(), @alice, Origin => $base);
is $res->code, 200, 'an allowed Origin: initialize 200';
like $res->header('Access-Control-Expose-Headers') // '', qr/\bWWW-Authenticate\b/,
    '... WWW-Authenticate is in Access-Control-Expose-Headers';

# --- MCPRequireScope -----------------------------------------------------------------
my $step_up = q{Bearer error="insufficient_scope", error_description="the token lacks the scope(s) }
            . q{mcp:write", } . $rm->('/scoped') . q{, scope="mcp:tools mcp:write"};
$res = mcp_post("$base/scoped", init_message(), @alice, 'X-Test-Scopes' => 'mcp:tools');
check_error($res, 403, -32000, qr/^Forbidden: insufficient scope: the token lacks mcp:write$/,
            'a missing scope: 403 JSON-RPC error naming it');
is_deeply [challenges($res)], [$step_up], '... the exact insufficient_scope challenge';
$res = mcp_post("$base/scoped", init_message(), @alice);
is_deeply [$res->code, challenges($res)],
    [403, q{Bearer error="insufficient_scope", error_description="the token lacks the scope(s) }
        . q{mcp:tools mcp:write", } . $rm->('/scoped') . q{, scope="mcp:tools mcp:write"}],
    'no scopes at all: 403 naming both';
my $sid = init_with("$base/scoped", @alice, 'X-Test-Scopes' => 'openid mcp:write,mcp:tools');
ok is_session_id($sid), 'both scopes (blank and comma separated): initialize and initialized';
is mcp_post("$base/scoped", rpc('ping'), session_headers($sid), @alice,
            'X-Test-Scopes' => 'mcp:write mcp:tools')->code, 200, '... and in the session';
$res = mcp_post("$base/scoped", rpc('ping'), session_headers($sid), @alice,
                'X-Test-Scopes' => 'mcp:write');
is_deeply [$res->code, challenges($res)],
    [403, $step_up =~ s/mcp:write", resource/mcp:tools", resource/r],
    '... a later request without one: 403, the session is no protection';

# the 2026-07-28 era
my ($mres, $msg) = modern_post("$base/scoped", 'tools/list', {}, @alice,
                               headers => { 'X-Test-Scopes' => 'mcp:tools' });
is_deeply [$mres->code, challenges($mres), scalar $mres->header('Mcp-Session-Id')],
    [403, $step_up, undef], '2026-07-28: a missing scope is the same 403';
like $msg && $msg->{error} && $msg->{error}{message} // '', qr/insufficient scope/,
    '... with a JSON-RPC error body';
($mres, $msg) = modern_post("$base/scoped", 'tools/list', {}, @alice,
                            headers => { 'X-Test-Scopes' => 'mcp:tools mcp:write' });
is $mres->code, 200, '2026-07-28: with both scopes, 200';
ok ref $msg eq 'HASH' && ref $msg->{result}{tools} eq 'ARRAY', '... and the tools';

# without MCPAuthorizationServers: still enforced (fail closed), no resource_metadata
$res = mcp_post("$base/scoped-plain", init_message(), 'X-Test-Scopes' => 'mcp:y');
is_deeply [$res->code, challenges($res)],
    [403, q{Bearer error="insufficient_scope", error_description="the token lacks the scope(s) mcp:x", }
        . q{scope="mcp:x"}],
    'MCPRequireScope without MCPAuthorizationServers: enforced, the challenge has no resource_metadata';
is mcp_post("$base/scoped-plain", init_message(), 'X-Test-Scopes' => 'mcp:x')->code, 200,
    '... and the scope lets the request through';

# --- MCPSessionPrincipal -------------------------------------------------------------
my $psid = init_with("$base/principal", @alice,
                     'X-Test-Principal' => 'https://as.example.com alice');
ok is_session_id($psid), 'principal: initialize and initialized';
is mcp_post("$base/principal", rpc('ping'), session_headers($psid), @alice,
            'X-Test-Principal' => 'https://as.example.com alice')->code, 200,
    'the same principal: the session is kept';
is mcp_post("$base/principal", rpc('ping'), session_headers($psid), @bob,
            'X-Test-Principal' => 'https://as.example.com alice')->code, 200,
    '... whatever r->user says (the principal is what binds)';
check_error(mcp_post("$base/principal", rpc('ping'), session_headers($psid), @alice,
                     'X-Test-Principal' => 'https://other.example.com alice'),
            404, -32001, qr/^Session not found$/, 'another principal: 404 unknown session');
check_error(mcp_post("$base/principal", rpc('ping'), session_headers($psid), @alice),
            500, -32603, qr/principal/, 'an empty principal: 500 JSON-RPC error');
check_error(mcp_post("$base/principal", init_message(), @alice, 'X-Test-Principal' => '  '),
            500, -32603, qr/principal/, 'a blank principal: 500, no session made');
ok scalar grep_log($node->error_log_path, qr/MCPS01017: MCPSessionPrincipal gave nothing/),
    '... logged (MCPS01017)';

my $st = status_auto($node->url('/server-status?auto'));
cmp_ok $st->{MCPOAuthChallenges} // 0, '>=', 6, 'mod_status: MCPOAuthChallenges';
cmp_ok $st->{MCPOAuthScopeRefused} // 0, '>=', 5, 'mod_status: MCPOAuthScopeRefused';

# --- the gateway: the token does not reach the backend ----------------------------------
SKIP: {
    skip 'node or the SDK missing', 8
        unless MCPTest::have_program('node')
            && -d MCPTest::node_dir() . '/node_modules/@modelcontextprotocol/sdk';
    my $be = start_backend(mode => 'stateless', json => 1, name => 't76-backend');
    my $gw = start_node(
        name => 't76-gateway', location => '/gw',
        location_conf => "    MCPBackend " . $be->url . "\n"
                       . "    MCPAuthorizationServers https://as.example.com\n",
        conf => "<Location /gw-pass>\n    SetHandler mcp-session\n    MCPBackend " . $be->url
              . "\n    MCPBackendPassToken on\n</Location>\n");
    my $token = 'eyJ0eXAiOiJKV1Qi.test-token-0123456789.sig';
    my %h = (Authorization => "Bearer $token", 'X-Token-Copy' => "x $token y",
             'X-Other' => 'keep-me', 'X-Short' => 'abc');
    my $seen = sub {
        my ($url) = @_;
        my $n = @{ $be->log // [] };
        my ($s, $r) = initialize($url, headers => \%h);
        my $m;
        ($r, $m) = mcp_call($url, $s, 'tools/list', {}, %h) if $s;
        my @entries = @{ $be->log // [] }[$n .. $#{ $be->log // [] }];
        my ($e) = grep { ($_->{rpc} // '') eq 'tools/list' } @entries;
        return $e ? $e->{headers} : undef;
    };
    my $got = $seen->($gw->url('/gw'));
    ok $got, 'gateway: the backend got tools/list' or diag explain $be->log;
    ok !exists $got->{authorization}, '... without Authorization';
    ok !exists $got->{'x-token-copy'}, '... without a header carrying the token';
    is $got->{'x-other'}, 'keep-me', '... other headers kept';
    $got = $seen->($gw->url('/gw-pass'));
    is $got && $got->{authorization}, "Bearer $token", 'MCPBackendPassToken on: Authorization reaches it';
    is $got && $got->{'x-token-copy'}, "x $token y", '... and the copy';
    ok scalar grep_log($gw->error_log_path, qr/MCPS01018: not passed to the backend \(MCPBackendPassToken off\): Authorization,X-Token-Copy$/),
        'gateway: the stripped headers are logged by name (MCPS01018)';
    ok !grep_log($gw->error_log_path, qr/\Q$token\E/), '... never the token';
}

# --- the gateway over FastCGI: the token is not in the environment either ------------------
# mod_proxy_fcgi sends the request's environment; mod_auth_openidc puts the
# token there (OIDC_access_token), SetEnvIf stands in for it.
SKIP: {
    my $M = MCPTest::Node::modules_dir();
    skip 'node or mod_proxy_fcgi missing', 4
        unless MCPTest::have_program('node') && -e "$M/mod_proxy_fcgi.so"
            && -e "$M/mod_setenvif.so";
    my ($hp, $fp) = (free_port(), free_port());
    {
        local $ENV{STUB_FCGI_PORT} = $fp;
        node_spawn(node_dir() . '/gateway-stub.mjs', $hp, 'stateless', 'json');
    }
    wait_for(sub { MCPTest::port_open($fp) && MCPTest::port_open($hp) }, 15, 0.05);
    my $gw = start_node(
        name => 't76-fcgi', location => '/gw',
        conf => "LoadModule setenvif_module $M/mod_setenvif.so\n"
              . loc('/gw-http', "    MCPBackend http://127.0.0.1:$hp/mcp\n"
                              . "    MCPAuthorizationServers https://as.example.com\n"
                              . "    MCPResourceScopes mcp:tools\n"),
        location_conf => "    MCPBackend fcgi://127.0.0.1:$fp/mcp\n"
                       . "    MCPAuthorizationServers https://as.example.com\n"
                       . "    SetEnvIf Authorization \"^Bearer (.+)\$\" OIDC_access_token=\$1\n"
                       . "    SetEnvIf Authorization \"^Bearer (.+)\$\" MY_TOKEN_COPY=\$1\n");
    my $token = 'eyJ0eXAiOiJKV1Qi.fcgi-token-0123456789.sig';
    my ($s, $r) = initialize($gw->url('/gw'), no_initialized => 1,
                             headers => { Authorization => "Bearer $token" });
    is $r->code, 200, 'gateway over FastCGI: initialize' or diag $r->status_line, $r->content;
    my $st = json_decode(mcp_get("http://127.0.0.1:$hp/stats")->content) || {};
    my $params = $st->{lastParams} || {};
    ok scalar(keys %$params), '... the backend got FastCGI params';
    is_deeply [grep { index($params->{$_} // '', $token) >= 0 } sort keys %$params], [],
        '... and none of them carries the token (OIDC_access_token, a copy)';

    # a backend's own 401 is the endpoint's: it gets our parameters too
    my $res = mcp_post($gw->url('/gw-http'),
                       rpc('initialize', { protocolVersion => $LATEST, capabilities => {},
                                           clientInfo => { name => 'unauthorized-me', version => '1' } }, 1));
    my $gbase = 'http://127.0.0.1:' . $gw->port;
    is_deeply [$res->code, challenges($res)],
        [401, qq{Bearer error="invalid_token", resource_metadata="$gbase$WK/gw-http", scope="mcp:tools"}],
        "gateway: the backend's 401 challenge completed with resource_metadata and scope";
}

done_testing;
