# The official TypeScript SDK clients log in to an OAuth-protected endpoint
# by themselves (t/node/oauth-client.mjs, headless): Debian 12's
# mod_auth_openidc validates the tokens of the project's authorization
# server (t/node/oauth-as.mjs), mod_mcp_session publishes the RFC 9728
# document and completes every challenge. What the client does, request by
# request, is recorded and checked:
#   1. handler mode, pre-registered client (SDK 1.32.2): 401 with
#      resource_metadata -> the document -> AS metadata -> authorize (the
#      resource identifier as resource=) -> token (aud = the resource) ->
#      initialize -> tools/call -> DELETE; the AS saw exactly that;
#   2. the same with dynamic client registration (RFC 7591);
#   3. refresh mid-session: tokens live 4 s, the client sleeps 6 s, its
#      tools/call gets 401 invalid_token, the SDK uses the refresh token and
#      the retry keeps the same Mcp-Session-Id (sessions are bound to issuer
#      + subject, never to the token's bytes);
#   4. step-up: MCPRequireScope mcp:admin where the document offers
#      mcp:tools: 403 insufficient_scope -> a new authorization with both
#      scopes -> 200 (SDK 2.4.0; 1.32.2 refreshes instead, noted);
#   5. gateway mode (MCPBackend, t/node/backend.mjs): the same flow, and the
#      backend never sees the token;
#   6. the 2026-07-28 era (SDK 2.4.0, server/discover, no session): handler
#      mode and gateway mode (t/node/backend2026.mjs);
#   7. a fleet: two nodes sharing Redis behind a round-robin front
#      (t/node/rr-proxy.mjs) with one MCPResourceIdentifier: the same
#      document on both nodes, the whole flow through the front, a refresh
#      whose requests land on both nodes keeps the session.
# The flow's timings are printed as TAP comments.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Apache::Test qw(-withtestmore);
use MCPTest;
use MCPOAuth;

# mod_auth_openidc at startup: "the OAuth 2.0 Resource Server functionality
# is deprecated"
# expect-log: oidc_check_config_oauth
# the expired tokens of the refresh flows
# expect-log: oidc_proto_jwt_verify oidc_oauth_validate_jwt_access_token
# expect-log: oidc_proto_validate_exp oidc_jose_ oidc_proto_parse_jwt oidc_jwt_parse

MCPOAuth::skip_unless_openidc();
skip_unless_node();
skip_unless_redis();

my $OPENIDC = MCPOAuth::openidc_so();
my $CLIENT  = node_dir() . '/oauth-client.mjs';
my $SCOPE   = 'mcp:tools';

# $as: tokens for 10 minutes; $ass: for 4 s (the refresh flows)
my $as  = MCPOAuth->start(ttl => 600, sub => 'alice');
my $ass = MCPOAuth->start(ttl => 4, sub => 'alice', name => 'oauth-as-short');
my ($ISS, $ISS_S) = ($as->issuer, $ass->issuer);

my $backend = start_backend(mode => 'stateful', name => 'be78');
my $b26port = free_port();
my $b26 = node_spawn(node_dir() . '/backend2026.mjs', '--port', $b26port);

# --- configuration --------------------------------------------------------------

# An endpoint as README's mod_auth_openidc recipe has it: audience, issuer
# and exp enforced by Require lines (2.4.12.3 checks none of them).
sub endpoint {
    my (%o) = @_;
    my @lines = (
        'AuthType oauth20',
        '<RequireAll>',
        "    Require claim aud:$o{resource}",
        "    Require claim iss:$o{issuer}",
        '    Require expr "-n %{REMOTE_USER} && %{reqenv:OIDC_CLAIM_exp} =~ /^[0-9]+$/"',
        '</RequireAll>',
        "MCPAuthorizationServers $o{issuer}",
        ($o{default_resource} ? () : ("MCPResourceIdentifier $o{resource}")),
        "MCPResourceScopes $SCOPE",
        'MCPRequireScope ' . ($o{require} // $SCOPE),
        'MCPSessionPrincipal "%{reqenv:OIDC_CLAIM_iss} %{REMOTE_USER}"',
        @{ $o{more} || [] });
    return join '', map { "    $_\n" } @lines;
}

sub section {
    my ($path, %o) = @_;
    return "<Location $path>\n    SetHandler mcp-session\n" . endpoint(%o) . "</Location>\n";
}

sub openidc_conf {
    my @keys = map { $_->kid . '#' . $_->cert_file } @_;
    return <<"CONF";
LoadModule auth_openidc_module "$OPENIDC"
OIDCOAuthVerifyCertFiles @keys
OIDCOAuthRemoteUserClaim sub
OIDCPassClaimsAs environment
CONF
}

# Node h: handler and gateway endpoints. ServerName with the port, so the
# default resource identifier of /mcp is the URL clients use.
my $hport = free_port();
my $H = "http://127.0.0.1:$hport";
my %R = map { $_ => "$H$_" } qw(/mcp /refresh /admin /gw /gw26);
# threads: room for the clients' keep-alive connections under prefork too
my $h = start_node(
    name => 't78h', port => $hport, threads => 8, server_name => "127.0.0.1:$hport",
    location => '/mcp',
    location_conf => endpoint(resource => $R{'/mcp'}, issuer => $ISS, default_resource => 1),
    conf => openidc_conf($as, $ass)
          . section('/refresh', resource => $R{'/refresh'}, issuer => $ISS_S)
          . section('/admin', resource => $R{'/admin'}, issuer => $ISS, require => 'mcp:admin')
          . section('/gw', resource => $R{'/gw'}, issuer => $ISS, more => ['MCPBackend ' . $backend->url])
          . section('/gw26', resource => $R{'/gw26'}, issuer => $ISS,
                    more => ["MCPBackend http://127.0.0.1:$b26port/mcp"]));

# The fleet: two nodes, one Redis, one public URL (the front).
my $fport = free_port();
my $F = "http://127.0.0.1:$fport";
my ($redis, $f1, $f2) = start_fleet(
    name => 't78f', conf => openidc_conf($ass),
    nodes => [ map { { threads => 8, location_conf => endpoint(resource => "$F/mcp", issuer => $ISS_S) } } 1, 2 ]);
my $front = node_spawn(node_dir() . '/rr-proxy.mjs', '--listen', "127.0.0.1:$fport",
                       '--backend', 'http://127.0.0.1:' . $f1->port,
                       '--backend', 'http://127.0.0.1:' . $f2->port);

ok wait_for(sub { MCPTest::port_open($b26port) && MCPTest::port_open($fport) }, 20),
    'backend2026.mjs and the round-robin front listen';

# --- helpers ----------------------------------------------------------------------

# The client's output: its step lines and its summary.
sub parse_flow {
    my ($rc, $out, $err) = @_;
    my (@steps, $summary);
    for my $line (split /\n/, $out // '') {
        my $j = json_decode($line) or next;
        if ($j->{summary}) { $summary = $j } else { push @steps, $j }
    }
    return { rc => $rc, steps => \@steps, summary => $summary || {}, err => $err // '', out => $out // '' };
}

sub flow {
    my ($url, @args) = @_;
    return parse_flow(run_node($CLIENT, '--quiet', _order($url, @args)));
}

# options first, then the URL, then the steps
sub _order {
    my ($url, @args) = @_;
    my (@o, @s);
    while (@args) {
        my $x = shift @args;
        if ($x =~ /^--(sdk|era|client-id|issuer|login-hint|scope|redirect)$/) { push @o, $x, shift @args }
        elsif ($x =~ /^--/) { push @o, $x }
        else { push @s, $x }
    }
    return (@o, $url, @s);
}

sub flow_spawn {
    my ($url, @args) = @_;
    return node_spawn($CLIENT, '--quiet', _order($url, @args));
}

sub flow_wait { parse_flow(node_wait($_[0], 90)) }

sub step_of { my ($f, $name, $nth) = @_; (grep { $_->{step} eq $name } @{ $f->{steps} })[$nth // 0] || {} }

# "kind:status" of a step's requests, without the SDK's concurrent GET
# (the standalone SSE stream, 405 here)
sub shape {
    my ($step) = @_;
    return join ' ', map { "$_->{kind}:" . ($_->{status} // 'ERR') }
        grep { !($_->{kind} eq 'mcp' && $_->{method} eq 'GET') } @{ $step->{requests} || [] };
}

sub reqs { my ($step, $kind) = @_; grep { $_->{kind} eq $kind } @{ $step->{requests} || [] } }

sub diag_flow { my $f = shift; diag "client stdout:\n$f->{out}\nstderr:\n$f->{err}" }

sub prm_url {
    my $r = shift;
    my ($origin, $path) = $r =~ m{^(https?://[^/]+)(/.*)?$};
    $path //= '';
    return "$origin/.well-known/oauth-protected-resource" . ($path eq '/' ? '' : $path);
}

# TAP comment: what each request of a step took
sub timings {
    my ($label, $step) = @_;
    my @parts = map {
        my $what = $_->{kind} eq 'mcp' ? ($_->{rpc} // $_->{method}) . " $_->{status}" : "$_->{kind} $_->{status}";
        "$what " . sprintf('%.1f', $_->{ms}) . ' ms'
    } grep { !($_->{kind} eq 'mcp' && $_->{method} eq 'GET') } @{ $step->{requests} || [] };
    note sprintf('timing %s: %.1f ms: %s', $label, $step->{ms} // -1, join(', ', @parts));
}

my $RM_RE = sub { my $u = prm_url(shift); qr/resource_metadata="\Q$u\E"/ };

# --- 3 and 7 (they sleep): started first, checked later -------------------------

my $p_refresh = flow_spawn($R{'/refresh'}, qw(--issuer), $ISS_S,
                           qw(connect call:echo sleep:6 call:echo delete));
my $p_fleet   = flow_spawn("$F/mcp", qw(--issuer), $ISS_S,
                           qw(connect call:echo sleep:6 call:echo call:echo delete));

# --- 1. handler mode, pre-registered client ----------------------------------------

my $as_log0 = scalar @{ $as->log || [] };
my $f = flow($R{'/mcp'}, '--issuer', $ISS, qw(connect call:echo delete));
is $f->{rc}, 0, '1. SDK 1.32.2, pre-registered client: connect, tools/call, DELETE'
    or diag_flow($f);
my $c = step_of($f, 'connect');
is shape($c), 'mcp:401 prm:200 as-meta:200 authorize:302 token:200 mcp:200 mcp:202',
    '1. 401 -> document -> AS metadata -> authorize -> token -> initialize -> initialized'
    or diag explain $c->{requests};
my ($first, $init) = (reqs($c, 'mcp'))[0, 1];
like $first->{www} // '', qr/^Bearer error="invalid_request", .*resource_metadata=/,
    "1. the first 401: mod_auth_openidc's challenge with resource_metadata added";
like $first->{www} // '', $RM_RE->($R{'/mcp'}), '1. ... pointing at the path-aware document URL';
like $first->{www} // '', qr/scope="mcp:tools"/, '1. ... and the scope';
my ($prm) = reqs($c, 'prm');
is $prm->{url}, prm_url($R{'/mcp'}), '1. the client fetched that document';
my ($meta) = reqs($c, 'as-meta');
is $meta->{url}, "$ISS/.well-known/oauth-authorization-server",
    '1. then the metadata of the authorization server the document names';
my ($az) = reqs($c, 'authorize');
is_deeply [ @{ $az->{query} || {} }{qw(client_id response_type code_challenge_method resource scope)} ],
    [ 'test-client', 'code', 'S256', $R{'/mcp'}, $SCOPE ],
    '1. authorize: test-client, PKCE S256, resource = the resource identifier, scope from the challenge';
my ($tk) = reqs($c, 'token');
is_deeply [ @{ $tk->{form} || {} }{qw(grant_type resource)}, $tk->{form}{code_verifier} ? 'verifier' : 'none' ],
    [ 'authorization_code', $R{'/mcp'}, 'verifier' ], '1. token: the code with its verifier and the resource';
my $tok = $f->{summary}{tokens}[0] || {};
is_deeply [ @{ $tok->{claims} || {} }{qw(iss sub aud scope)} ], [ $ISS, 'alice', $R{'/mcp'}, $SCOPE ],
    "1. the token's iss, sub, aud (the resource) and scope";
ok $init->{rpc} eq 'initialize' && $init->{bearer} && $init->{bearer} eq $tok->{hash}
    && is_session_id($init->{gotSid}), '1. initialize with that token: 200 and a session'
    or diag explain $init;
my $call = step_of($f, 'call:echo');
ok $call->{ok} && $call->{text} eq 'hello oauth' && shape($call) eq 'mcp:200'
    && $call->{sessionId} eq ($init->{gotSid} // ''), '1. tools/call echo in that session: 200'
    or diag explain $call;
is shape(step_of($f, 'delete')), 'mcp:200', '1. DELETE: 200';
my @as_log = @{ $as->log || [] }[$as_log0 .. $#{ $as->log || [] }];
is join(' ', map { "$_->{method} $_->{path} " . ($_->{grant_type} // '-') . " $_->{status}" } @as_log),
    'GET /.well-known/oauth-authorization-server - 200 GET /authorize - 302 POST /token authorization_code 200',
    "1. the authorization server's log: metadata, authorize, token"
    or diag explain \@as_log;
timings('1 connect (401 .. initialized)', $c);
timings('1 tools/call', $call);
note sprintf('timing 1 whole client: %.1f ms (node start not included)', $f->{summary}{ms} // -1);

# The document itself, as the client got it.
my $doc = json_decode(mcp_get(prm_url($R{'/mcp'}))->content) || {};
is_deeply [ $doc->{resource}, $doc->{authorization_servers}, $doc->{scopes_supported} ],
    [ $R{'/mcp'}, [ $ISS ], [ $SCOPE ] ], '1. the document: resource, authorization_servers, scopes_supported';

# --- 2. dynamic client registration -----------------------------------------------

$f = flow($R{'/mcp'}, qw(--dcr --login-hint bob connect call:echo));
is $f->{rc}, 0, '2. SDK 1.32.2 with dynamic registration' or diag_flow($f);
$c = step_of($f, 'connect');
is shape($c), 'mcp:401 prm:200 as-meta:200 register:201 authorize:302 token:200 mcp:200 mcp:202',
    '2. ... registers (201) before it authorizes' or diag explain $c->{requests};
my $reg = $f->{summary}{client}{registered}{client_id} // '';
($az) = reqs($c, 'authorize');
ok length $reg && $reg ne 'test-client' && ($az->{query}{client_id} // '') eq $reg,
    "2. authorize with the registered client id ($reg)";
$tok = $f->{summary}{tokens}[0] || {};
is_deeply [ @{ $tok->{claims} || {} }{qw(sub aud client_id)} ], [ 'bob', $R{'/mcp'}, $reg ],
    "2. bob's token for the resource, issued to that client";
ok step_of($f, 'call:echo')->{ok}, '2. tools/call: 200';
timings('2 connect with registration', $c);

# --- 4. step-up -------------------------------------------------------------------

$f = flow($R{'/admin'}, '--sdk', 'v2', '--era', 'legacy', '--issuer', $ISS, qw(connect call:echo delete));
is $f->{rc}, 0, '4. step-up, SDK 2.4.0 (2025-11-25 session)' or diag_flow($f);
$c = step_of($f, 'connect');
is shape($c), 'mcp:401 prm:200 as-meta:200 authorize:302 token:200 mcp:403 authorize:302 token:200 mcp:200 mcp:202',
    '4. 401 -> token with mcp:tools -> 403 -> a second authorization -> 200'
    or diag explain $c->{requests};
my @m = reqs($c, 'mcp');
my $w403 = $m[1]{www} // '';
like $w403, qr/^Bearer error="insufficient_scope"/, '4. the 403 is an insufficient_scope challenge';
like $w403, $RM_RE->($R{'/admin'}), '4. ... with resource_metadata';
my ($sc) = $w403 =~ /scope="([^"]*)"/;
is join(' ', sort split ' ', $sc // ''), 'mcp:admin mcp:tools', '4. ... naming the scopes the endpoint needs';
my @az = reqs($c, 'authorize');
is join(' ', sort split ' ', $az[1]{query}{scope} // ''), 'mcp:admin mcp:tools',
    '4. the SDK asks for both scopes';
my @toks = @{ $f->{summary}{tokens} || [] };
ok @toks == 2 && ($toks[1]{claims}{scope} // '') =~ /\bmcp:admin\b/ && ($toks[1]{claims}{scope} // '') =~ /\bmcp:tools\b/,
    '4. the second token carries both' or diag explain \@toks;
ok step_of($f, 'call:echo')->{ok}, '4. tools/call with it: 200';
timings('4 connect with step-up', $c);

# The same with SDK 1.32.2: on a 403 insufficient_scope it runs auth(),
# which uses the refresh token when it has one (a refresh cannot widen the
# scope), gets the same 403 and gives up. Recorded, not asserted: it is the
# SDK's behaviour, not the module's.
$f = flow($R{'/admin'}, qw(connect));
note '4. SDK 1.32.2 on the same endpoint: ' . ($f->{rc} == 0 ? 'connected' : 'failed') . ': '
    . join(' ', map { "$_->{kind}:" . ($_->{status} // 'ERR') . ($_->{form}{grant_type} ? "($_->{form}{grant_type})" : '') }
                grep { $_->{method} ne 'GET' || $_->{kind} ne 'mcp' } @{ step_of($f, 'connect')->{requests} || [] })
    . ': ' . (step_of($f, 'connect')->{error} // '');

# --- 5. gateway mode --------------------------------------------------------------

my $be_log0 = scalar @{ $backend->log || [] };
$f = flow($R{'/gw'}, '--issuer', $ISS, qw(connect call:echo call:whoami delete));
is $f->{rc}, 0, '5. gateway mode (MCPBackend): connect, tools/call, DELETE' or diag_flow($f);
$c = step_of($f, 'connect');
is shape($c), 'mcp:401 prm:200 as-meta:200 authorize:302 token:200 mcp:200 mcp:202',
    '5. the same flow in front of the backend' or diag explain $c->{requests};
like((reqs($c, 'mcp'))[0]{www} // '', $RM_RE->($R{'/gw'}), '5. the 401 points at the gateway\'s document');
my $who = json_decode(step_of($f, 'call:whoami')->{text} // '') || {};
my %hdr = %{ $who->{headers} || {} };
ok keys %hdr && !grep({ /^(authorization|oidc_access_token)$/i } keys %hdr),
    '5. the backend got no Authorization (nor OIDC_access_token) header'
    or diag explain \%hdr;
my @be = @{ $backend->log || [] }[$be_log0 .. $#{ $backend->log || [] }];
ok @be >= 3 && !grep({ my $h = $_->{headers} || {}; grep { /^authorization$/i } keys %$h } @be),
    '5. ... on none of its ' . scalar(@be) . ' requests';
timings('5 connect through the gateway', $c);

# --- 6. 2026-07-28 ----------------------------------------------------------------

for my $case (['/mcp', 'handler mode'], ['/gw26', 'gateway to backend2026.mjs']) {
    my ($path, $label) = @$case;
    $f = flow($R{$path}, '--sdk', 'v2', '--issuer', $ISS, qw(connect call:echo));
    is $f->{rc}, 0, "6. SDK 2.4.0, 2026-07-28, $label" or diag_flow($f);
    $c = step_of($f, 'connect');
    is "$c->{era} $c->{protocolVersion}", 'modern 2026-07-28', "6. $label: the 2026-07-28 era";
    is shape($c), 'mcp:401 prm:200 as-meta:200 authorize:302 token:200 mcp:200',
        "6. $label: server/discover 401 -> document -> AS -> authorize -> token -> server/discover 200"
        or diag explain $c->{requests};
    like((reqs($c, 'mcp'))[0]{www} // '', $RM_RE->($R{$path}), "6. $label: resource_metadata on the 401");
    my @all = map { @{ $_->{requests} || [] } } @{ $f->{steps} };
    ok !grep({ $_->{kind} eq 'mcp' && ($_->{sid} || $_->{gotSid}) } @all),
        "6. $label: no Mcp-Session-Id anywhere";
    my $ce = step_of($f, 'call:echo');
    ok $ce->{ok} && $ce->{text} eq 'hello oauth', "6. $label: tools/call 200";
    timings("6 $label connect", $c);
}

# --- 3. refresh mid-session (started above) ----------------------------------------

$f = flow_wait($p_refresh);
is $f->{rc}, 0, '3. refresh: connect, tools/call, 6 s, tools/call, DELETE' or diag_flow($f);
my ($c1, $c2) = (step_of($f, 'call:echo', 0), step_of($f, 'call:echo', 1));
is shape($c2), 'mcp:401 token:200 mcp:200', '3. after the expiry: 401 -> refresh -> 200'
    or diag explain $c2->{requests};
my ($r401, $r200) = reqs($c2, 'mcp');
like $r401->{www} // '', qr/^Bearer error="invalid_token"/, '3. the 401 says invalid_token';
like $r401->{www} // '', $RM_RE->($R{'/refresh'}), '3. ... with resource_metadata';
($tk) = reqs($c2, 'token');
is_deeply [ @{ $tk->{form} || {} }{qw(grant_type resource)} ], [ 'refresh_token', $R{'/refresh'} ],
    '3. the SDK used its refresh token (for the same resource)';
ok is_session_id($c1->{sessionId}) && $r401->{sid} eq $c1->{sessionId} && $r200->{sid} eq $c1->{sessionId}
    && $c2->{sessionId} eq $c1->{sessionId},
    "3. the retry carried the same Mcp-Session-Id and it still works: $c1->{sessionId}"
    or diag explain [$c1, $c2];
ok $r200->{bearer} ne $r401->{bearer} && $c2->{token}{hash} ne $c1->{token}{hash},
    '3. ... with a new token (other bytes, same issuer and subject)';
is shape(step_of($f, 'delete')), 'mcp:200', '3. DELETE with the new token: 200';
note "3. session id before the refresh $c1->{sessionId}, after $c2->{sessionId}";
timings('3 tools/call across the refresh', $c2);

# --- 7. the fleet (started above) ----------------------------------------------------

my $d1 = mcp_get($f1->url('/.well-known/oauth-protected-resource/mcp'));
my $d2 = mcp_get($f2->url('/.well-known/oauth-protected-resource/mcp'));
ok $d1->code == 200 && $d2->code == 200 && $d1->content eq $d2->content,
    '7. the document is byte-identical on both nodes';
is((json_decode($d1->content) || {})->{resource}, "$F/mcp", "7. ... naming the fleet's public URL");
$f = flow_wait($p_fleet);
is $f->{rc}, 0, '7. the whole flow through the round-robin front' or diag_flow($f);
$c = step_of($f, 'connect');
is shape($c), 'mcp:401 prm:200 as-meta:200 authorize:302 token:200 mcp:200 mcp:202',
    '7. 401 -> document -> AS -> authorize -> token -> initialize, across the nodes'
    or diag explain $c->{requests};
like((reqs($c, 'mcp'))[0]{www} // '', $RM_RE->("$F/mcp"), '7. the challenge names the public document URL');
($c1, $c2) = (step_of($f, 'call:echo', 0), step_of($f, 'call:echo', 1));
is shape($c2), 'mcp:401 token:200 mcp:200', '7. after the expiry: 401 -> refresh -> 200'
    or diag explain $c2->{requests};
ok is_session_id($c1->{sessionId}) && $c2->{sessionId} eq $c1->{sessionId}
    && step_of($f, 'call:echo', 2)->{ok},
    '7. the session survived the refresh on the other node';
my $sid = $c1->{sessionId} // 'none';
my %pids1 = %{ access_log_pids($f1->access_log_path, $sid) };
my %pids2 = %{ access_log_pids($f2->access_log_path, $sid) };
ok %pids1 && %pids2, '7. both nodes served requests of that session';
# The front alternates request by request and nothing else went through it
# meanwhile, so the retry after the 401 reached the other node: exactly one
# 401 for the session in both logs means the new token was taken there.
my @r401 = (grep_log($f1->access_log_path, qr/^\d+ \Q$sid\E 401 /),
            grep_log($f2->access_log_path, qr/^\d+ \Q$sid\E 401 /));
is scalar(@r401), 1, '7. one 401 for the session in both nodes\' logs (the expired token), none after the refresh';
my $stats = json_decode(mcp_get("$F/__rr_stats")->content) || {};
my ($n1, $n2) = @{ $stats->{counts} || [0, 0] };
ok $n1 >= 4 && $n2 >= 4, "7. the front spread the requests over both nodes ($n1 / $n2)";
timings('7 connect through the front', $c);
timings('7 tools/call across the refresh', $c2);

for my $n ($h, $f1, $f2) {
    my $log = MCPTest::read_from($n->error_log_path);
    ok $log !~ /exit signal|Segmentation fault|AH00052/, $n->{name} . ': no child crash';
}

done_testing();
