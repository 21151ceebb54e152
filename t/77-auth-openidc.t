# An OAuth-protected endpoint behind Debian 12's mod_auth_openidc 2.4.12.3
# in OAuth 2.0 resource-server mode (AuthType oauth20), with the
# hardening recipe (Require claim aud/iss, Require expr for exp: 2.4.12.3
# checks none of them itself) and mod_mcp_session's MCPAuthorizationServers
# & co. Tokens come from the project's own authorization servers
# (t/node/oauth-as.mjs): AS1, and AS2 with another key (a second issuer
# both nodes trust).
#   node a  keys from certificate files (OIDCOAuthVerifyCertFiles kid#cert)
#           /mcp  handler mode;  /gw  gateway (MCPBackend, t/node/backend.mjs)
#           with OIDCPassClaimsAs both (the token in an OIDC_access_token
#           request header);  /gw-pass  the same with MCPBackendPassToken on
#   node b  AS1's keys from its JWKS, found through its RFC 8414 metadata
#           (OIDCOAuthServerMetadataURL), AS2's from its certificate; an
#           operator's <Location /.well-known> behind oauth20 too
# Both nodes serve the same resource (MCPResourceIdentifier, a fleet's
# public URL): the same document, the same audience.
# Checks, on both nodes: every 401/403 carries a Bearer challenge with
# resource_metadata and scope (the auth module's own challenge completed,
# a new one where it made none); no token, garbage, another key, expired,
# no exp, another issuer, another audience: 401; an aud array holding ours
# and a token of the second issuer: 200; a token without the scope
# MCPRequireScope needs: 403 insufficient_scope; the metadata document is
# public and the same on both; sessions are bound to issuer + subject (a
# new token of the same user keeps the session, another subject or the same
# subject from the other issuer gets 404); 2026-07-28 requests: 401 and
# 200 alike; the gateway never passes the token to the backend unless told.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Apache::Test qw(-withtestmore);
use MCPTest;
use MCPOAuth;

# mod_auth_openidc at startup: "the OAuth 2.0 Resource Server functionality
# is deprecated", "SHOULD be https" (OIDCOAuthServerMetadataURL http://...)
# expect-log: oidc_check_config_oauth
# a token it cannot verify (garbage, unknown key, expired): error lines;
# a kid not in the cached JWKS (AS2's, on node b): a forced refresh (warn)
# expect-log: oidc_proto_jwt_verify oidc_oauth_validate_jwt_access_token
# expect-log: oidc_proto_get_keys_from_jwks_uri oidc_jwt_parse oidc_proto_parse_jwt
# expect-log: oidc_oauth_get_bearer_token oidc_jose_ oidc_proto_validate_exp
# a Require claim / Require expr not met: mod_authz_core's error line
# expect-log: AH01631
# a Require expr evaluated before any user (a request without a token)
# expect-log: AH01629

MCPOAuth::skip_unless_openidc();
skip_unless_node();

my $OPENIDC = MCPOAuth::openidc_so();
my $as  = MCPOAuth->start(ttl => 60, sub => 'alice');
my $as2 = MCPOAuth->start(ttl => 60, sub => 'alice', name => 'oauth-as2');
my ($ISS1, $ISS2) = ($as->issuer, $as2->issuer);

# the public URLs of the endpoints (a fleet behind a TLS-terminating front)
my $R    = 'https://mcp.example.test/mcp';
my $R_GW = 'https://mcp.example.test/gw';
my $R_GP = 'https://mcp.example.test/gw-pass';
my $RM    = 'https://mcp.example.test/.well-known/oauth-protected-resource/mcp';
my $RM_GW = 'https://mcp.example.test/.well-known/oauth-protected-resource/gw';
my $SCOPE = 'mcp:tools';

my $backend = start_backend(mode => 'stateful', name => 'be77', json => 1);
my $BE = $backend->url;

# --- the configurations (README recipes come from here) ------------------------

# What every endpoint location holds: the hardening recipe for 2.4.12.3
# (audience, issuer, exp) and the resource-server settings.
sub endpoint_conf {
    my ($resource, @more) = @_;
    return join "\n", map { "    $_" } (
        'AuthType oauth20',
        '<RequireAll>',
        "    Require claim aud:$resource",
        '    <RequireAny>',
        "        Require claim iss:$ISS1",
        "        Require claim iss:$ISS2",
        '    </RequireAny>',
        '    Require expr "-n %{REMOTE_USER} && %{reqenv:OIDC_CLAIM_exp} =~ /^[0-9]+$/"',
        '</RequireAll>',
        "MCPAuthorizationServers $ISS1 $ISS2",
        "MCPResourceIdentifier $resource",
        "MCPResourceScopes $SCOPE",
        "MCPRequireScope $SCOPE",
        'MCPSessionPrincipal "%{reqenv:OIDC_CLAIM_iss} %{REMOTE_USER}"',
        @more), '';
}

my $openidc_common = <<"CONF";
LoadModule auth_openidc_module "$OPENIDC"
OIDCOAuthRemoteUserClaim sub
# no OIDC_* request headers, no OIDC_access_token header (locations may differ)
OIDCPassClaimsAs environment
CONF

my $gateways = <<"CONF";
<Location /gw>
    SetHandler mcp-session
@{[ endpoint_conf($R_GW,
    '# Debian\'s default: claims and the token also as request headers',
    'OIDCPassClaimsAs both',
    "MCPBackend $BE") ]}
</Location>
<Location /gw-pass>
    SetHandler mcp-session
@{[ endpoint_conf($R_GP, 'OIDCPassClaimsAs both', "MCPBackend $BE", 'MCPBackendPassToken on') ]}
</Location>
CONF

my $a = start_node(name => 't77a', location => '/mcp', location_conf => endpoint_conf($R),
    conf => $openidc_common
          . "OIDCOAuthVerifyCertFiles @{[ $as->kid ]}#@{[ $as->cert_file ]} "
          . "@{[ $as2->kid ]}#@{[ $as2->cert_file ]}\n"
          . $gateways);

my $b = start_node(name => 't77b', location => '/mcp', location_conf => endpoint_conf($R),
    conf => $openidc_common
          . "# AS1: metadata (never an introspection_endpoint in it) -> jwks_uri\n"
          . 'OIDCOAuthServerMetadataURL ' . $as->metadata_url . "\n"
          . "OIDCOAuthVerifyCertFiles @{[ $as2->kid ]}#@{[ $as2->cert_file ]}\n"
          . <<'CONF');
# an operator's catch-all auth over /.well-known: the document stays public
<Location /.well-known>
    AuthType oauth20
    Require valid-user
</Location>
CONF

# --- helpers ---------------------------------------------------------------------

# the WWW-Authenticate field values of a response
sub challenges { my @v = $_[0]->header('WWW-Authenticate'); return @v }

# bearer_params($value) -> { name => value } of a Bearer challenge (quoted
# or token values), undef when it is not one Bearer challenge
sub bearer_params {
    my $v = shift // return undef;
    return undef unless $v =~ s/^Bearer(?:\s+|$)//i;
    my %p;
    while (length $v) {
        $v =~ s/^\s*([A-Za-z0-9_.-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,"]+))\s*(?:,|$)//
            or return undef;
        my ($k, $q, $t) = ($1, $2, $3);
        return undef if exists $p{$k};
        if (defined $q) { $q =~ s/\\(.)/$1/g; $p{$k} = $q } else { $p{$k} = $t }
    }
    return \%p;
}

# challenge_is($res, $status, \%params, $name [, $exact]): the status, one
# WWW-Authenticate field, a Bearer challenge with exactly these parameters
# (and, given $exact, exactly that field value)
sub challenge_is {
    my ($res, $status, $want, $name, $exact) = @_;
    my @c = challenges($res);
    my $ok = $res->code == $status && @c == 1 && bearer_params($c[0])
          && Test::More::eq_hash(bearer_params($c[0]), $want)
          && (!defined $exact || $c[0] eq $exact);
    Test::More::ok($ok, $name)
        or Test::More::diag('got ' . $res->status_line . ', WWW-Authenticate: '
                            . join(' | ', map { "[$_]" } @c));
}

my %NO_TOKEN = (error => 'invalid_request',
                error_description => 'No bearer token found in the request');
my %BAD_TOKEN = (error => 'invalid_token',
                 error_description => 'JWT token could not be validated');

# a token of AS1 (or $o{as}) for $o{aud} (default the endpoint), scope mcp:tools
sub token {
    my %o = (aud => $R, scope => $SCOPE, @_);
    my $from = delete $o{as} // $as;
    return $from->mint(%o);
}
sub auth { MCPOAuth::bearer(token(@_)) }

# ping in session $sid with a token -> response
sub ping { my ($u, $sid, @tok) = @_; mcp_post($u, rpc('ping'), session_headers($sid), @tok) }

# --- the probes, on both nodes -------------------------------------------------------
for my $n ([a => $a], [b => $b]) {
    my ($tag, $node) = @$n;
    my $U = $node->url('/mcp');
    my $init = sub { mcp_post($U, init_message(), @_) };

    # no token: mod_auth_openidc's challenge, completed (its bytes kept)
    my $r = $init->();
    challenge_is($r, 401, { %NO_TOKEN, resource_metadata => $RM, scope => $SCOPE },
        "$tag: no token: 401, openidc's challenge + resource_metadata + scope",
        qq{Bearer error="invalid_request", error_description="No bearer token found in the request", }
        . qq{resource_metadata="$RM", scope="$SCOPE"});

    # tokens openidc itself refuses
    for my $case (['garbage', 'not-a-jwt'],
                  ['signed by an unpublished key', token(key => 'other')],
                  ['expired', token(exp => -120)]) {
        my ($what, $tok) = @$case;
        challenge_is($init->(MCPOAuth::bearer($tok)), 401,
            { %BAD_TOKEN, resource_metadata => $RM, scope => $SCOPE },
            "$tag: $what: 401 invalid_token + resource_metadata + scope",
            qq{Bearer error="invalid_token", error_description="JWT token could not be validated", }
            . qq{resource_metadata="$RM", scope="$SCOPE"});
    }

    # tokens openidc accepts and the Require lines refuse: 401 without a
    # challenge of openidc's; ours says invalid_token
    for my $case (['no exp', token(exp => 'none')],
                  ['another issuer (same key)', token(iss => 'https://evil.example')],
                  ['another audience', token(aud => 'https://other.example/mcp')],
                  ['the gateway\'s audience', token(aud => $R_GW)],
                  ['no audience', token(aud => '')]) {
        my ($what, $tok) = @$case;
        my $res = $init->(MCPOAuth::bearer($tok));
        my @c = challenges($res);
        my $p = bearer_params($c[0]) || {};
        ok $res->code == 401 && @c == 1 && ($p->{error} // '') eq 'invalid_token'
            && ($p->{resource_metadata} // '') eq $RM && ($p->{scope} // '') eq $SCOPE
            && length($p->{error_description} // ''),
            "$tag: $what: 401 with our Bearer invalid_token challenge"
            or diag $res->status_line . ' [' . join('] [', @c) . ']';
    }

    # accepted
    my ($sid, $res) = initialize($U, headers => { auth() });
    is $res->code, 200, "$tag: a good token: initialize 200";
    ok is_session_id($sid), "$tag: ... a session";
    ok !defined $res->header('WWW-Authenticate'), "$tag: ... no challenge";
    my ($cr, $m) = mcp_call($U, $sid, 'tools/call', { name => 'echo', arguments => { text => "hi $tag" } },
                            auth());
    is $cr->code, 200, "$tag: tools/call 200";
    is $m->{result}{content}[0]{text}, "hi $tag", "$tag: ... the tool's answer";
    my (undef, $ra) = initialize($U, headers => { auth(aud => ['https://other.example/api', $R]) });
    is $ra->code, 200, "$tag: an aud array holding ours: 200";
    my (undef, $r2) = initialize($U, headers => { MCPOAuth::bearer($as2->mint(aud => $R, scope => $SCOPE)) });
    is $r2->code, 200, "$tag: a token of the second issuer (AS2): 200";

    # scope: MCPRequireScope mcp:tools
    for my $case (['no scope', ''], ['another scope', 'mcp:admin'], ['a prefix of it', 'mcp:tool']) {
        my ($what, $scope) = @$case;
        my $res = $init->(auth(scope => $scope));
        challenge_is($res, 403, { error => 'insufficient_scope', resource_metadata => $RM, scope => $SCOPE },
            "$tag: $what: 403 insufficient_scope");
        ok ref error_of($res) eq 'HASH', "$tag: $what: ... a JSON-RPC error body"
            or diag $res->content;
        my $in = ping($U, $sid, auth(scope => $scope));
        is $in->code, 403, "$tag: $what: in the session too: 403";
    }
    is $init->(auth(scope => "mcp:admin $SCOPE"))->code, 200, "$tag: scope 'mcp:admin mcp:tools': 200";

    # sessions belong to issuer + subject, not to the token's bytes
    my $t2 = token();
    isnt $t2, token(), "$tag: (each minted token is new)";
    $r = ping($U, $sid, MCPOAuth::bearer($t2));
    is $r->code, 200, "$tag: a new token of the same issuer and subject keeps the session";
    ($cr, $m) = mcp_call($U, $sid, 'tools/call', { name => 'echo', arguments => { text => 'again' } },
                         MCPOAuth::bearer($t2));
    is $m->{result}{content}[0]{text}, 'again', "$tag: ... tools/call in it";
    check_error(ping($U, $sid, auth(sub => 'bob')), 404, -32001, qr/^Session not found$/,
        "$tag: another subject (bob) on alice's session: 404");
    check_error(ping($U, $sid, MCPOAuth::bearer($as2->mint(aud => $R, scope => $SCOPE, sub => 'alice'))),
        404, -32001, qr/^Session not found$/,
        "$tag: alice of the other issuer on AS1-alice's session: 404");
    my ($bsid) = initialize($U, headers => { auth(sub => 'bob') });
    is ping($U, $bsid, auth(sub => 'bob'))->code, 200, "$tag: bob's own session works";
    is ping($U, $sid, auth())->code, 200, "$tag: alice's session survived the others' attempts";
    is ping($U, $sid)->code, 401, "$tag: no token on alice's session: 401 (auth first)";

    # 2026-07-28: no session, the same gate
    my ($mr) = modern_post($U, 'tools/list', {});
    challenge_is($mr, 401, { %NO_TOKEN, resource_metadata => $RM, scope => $SCOPE },
        "$tag: 2026-07-28 without a token: 401 with the challenge");
    my ($mr2, $mm) = modern_post($U, 'tools/call', { name => 'echo', arguments => { text => 'modern' } },
                                 headers => { auth() });
    is $mr2->code, 200, "$tag: 2026-07-28 tools/call with a token: 200";
    is $mm->{result}{content}[0]{text}, 'modern', "$tag: ... the tool's answer";
    ($mr) = modern_post($U, 'tools/list', {}, headers => { auth(scope => '') });
    challenge_is($mr, 403, { error => 'insufficient_scope', resource_metadata => $RM, scope => $SCOPE },
        "$tag: 2026-07-28 without the scope: 403 insufficient_scope");
}

# --- node b fetched AS1's metadata and keys -------------------------------------------
my @fetched = map { $_->{path} } grep { $_->{method} eq 'GET' && $_->{path} !~ m{^/mint} } @{ $as->log };
ok((grep { $_ eq '/.well-known/oauth-authorization-server' } @fetched)
   && (grep { $_ eq '/jwks' } @fetched),
   "node b read AS1's metadata and its jwks_uri") or diag "AS1 served: @fetched";

# --- the metadata document: public, the same on both nodes --------------------------
my $WK = '/.well-known/oauth-protected-resource/mcp';
my @docs;
for my $node ($a, $b) {
    my $d = mcp_get($node->url($WK), Accept => 'application/json');
    is $d->code, 200, 'the document without a token: 200 (' . $node->url($WK) . ')';
    like $d->header('Content-Type') // '', qr{^application/json}, '... application/json';
    push @docs, $d->content;
}
is $docs[1], $docs[0], 'the document is the same on both nodes (byte for byte)';
is_deeply json_decode($docs[0]), {
    resource => $R,
    authorization_servers => [$ISS1, $ISS2],
    scopes_supported => [$SCOPE],
    bearer_methods_supported => ['header'],
}, '... resource, both issuers, scopes, header';
is mcp_get($b->url('/.well-known/other'))->code, 401,
    "node b: another path under the operator's /.well-known auth: 401 (the auth is real)";

# --- gateway (node a): the token never reaches the backend unless asked --------------
# backend_requests() -> how many requests the backend logged so far;
# headers_since($n) -> the headers of the first request after the $n-th
# (undef when none came: a check on them would prove nothing)
sub backend_requests { scalar @{ $backend->log || [] } }
sub headers_since {
    my $n = shift;
    my $log = $backend->log || [];
    return @$log > $n ? $log->[$n]{headers} : undef;
}
# headers_holding($headers, $token) -> names of headers whose value holds
# the token (or a good part of it)
sub headers_holding {
    my ($h, $tok) = @_;
    my $sig = (split /\./, $tok)[2];
    return sort grep { index($h->{$_} // '', $sig) >= 0 || index($h->{$_} // '', $tok) >= 0 } keys %$h;
}

my $GW = $a->url('/gw');
my $gtok = token(aud => $R_GW);
my $r = mcp_post($GW, init_message());
challenge_is($r, 401, { %NO_TOKEN, resource_metadata => $RM_GW, scope => $SCOPE },
    'gateway: no token: 401 with its own resource_metadata');
is mcp_post($GW, init_message(), auth())->code, 401, "gateway: a token for /mcp's audience: 401";

my $n0 = backend_requests();
my ($gsid, $gres) = initialize($GW, headers => { MCPOAuth::bearer($gtok) });
is $gres->code, 200, 'gateway: initialize 200';
my $h = headers_since($n0);
ok $h && scalar(keys %$h), 'the backend got the initialize';
$h ||= { authorization => 'no request seen' };
ok !exists $h->{authorization}, 'the backend got no Authorization header';
ok !grep({ lc($_) =~ /^oidc[_-]access[_-]token$/ } keys %$h), '... nor OIDC_access_token';
is_deeply [headers_holding($h, $gtok)], [], '... nor any header holding the token';
ok grep({ /^oidc_claim_sub$/i } keys %$h),
    '... (it did get the claim headers of OIDCPassClaimsAs both: the setting is in force)';
my ($gcr, $gm) = mcp_call($GW, $gsid, 'tools/call', { name => 'whoami', arguments => {} },
                          MCPOAuth::bearer($gtok));
is $gcr->code, 200, 'gateway: tools/call 200';
my $who = json_decode($gm->{result}{content}[0]{text} // '') || {};
ok ref $who->{headers} eq 'HASH' && keys %{ $who->{headers} }, "... the backend's whoami answered";
is_deeply [headers_holding($who->{headers} || { x => $gtok }, $gtok)], [],
    '... it saw no header holding the token';
check_error(ping($GW, $gsid, auth(aud => $R_GW, sub => 'bob')), 404, -32001, undef,
    "gateway: bob on alice's gateway session: 404");
$n0 = backend_requests();
modern_post($GW, 'tools/list', {}, headers => { MCPOAuth::bearer($gtok) });
# whatever the stateful SDK backend answers a 2026-07-28 request: what
# matters here is what it was sent
$h = headers_since($n0);
ok $h, 'gateway, 2026-07-28: forwarded';
is_deeply [headers_holding($h || { x => $gtok }, $gtok)], [], '... without the token';

# control: MCPBackendPassToken on passes it (the checks above can see one)
my $ptok = token(aud => $R_GP);
$n0 = backend_requests();
my ($psid, $pres) = initialize($a->url('/gw-pass'), headers => { MCPOAuth::bearer($ptok) });
is $pres->code, 200, 'gateway with MCPBackendPassToken on: initialize 200';
$h = headers_since($n0) || {};
is $h->{authorization}, "Bearer $ptok", '... the backend got the Authorization header';

done_testing;
