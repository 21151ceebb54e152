# An OAuth-protected endpoint behind Debian 12's mod_oauth2 3.3.1
# (liboauth2 1.4.5.4): AuthType oauth2, the keys of two authorization
# servers (t/node/oauth-as.mjs, AS1 and AS2) from their JWKS URIs over
# http, `verify.exp=required` (else a token without exp passes), audience
# and issuer by `Require oauth2_claim` (3.3.1 checks neither itself), and
# mod_mcp_session's MCPAuthorizationServers with the default resource
# identifier (ServerName 127.0.0.1:PORT + /mcp) and the default
# MCPTokenScopes (the OAUTH2_CLAIM_scope mod_oauth2 exports).
# Checks: no token, garbage, another key, expired, no exp: 401 with
# mod_oauth2's challenge completed by resource_metadata and scope; another
# issuer or audience: 401 with our Bearer challenge (mod_oauth2 sends none
# then); an aud array holding ours, AS2's tokens: 200; a missing scope: 403
# insufficient_scope; the public document; sessions bound to issuer +
# subject; 2026-07-28 requests alike.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Apache::Test qw(-withtestmore);
use MCPTest;
use MCPOAuth;

# tokens mod_oauth2 cannot verify (garbage, unknown key, expired, no exp)
# expect-log: _oauth2_jose_jwt_verify_jwk _oauth2_jose_jwt_validate_exp
# expect-log: oauth2_jose_jwt_verify oauth2_jose_ oauth2_apache_
# a Require oauth2_claim not met: mod_authz_core's error line
# expect-log: AH01631

MCPOAuth::skip_unless_oauth2();

my $OAUTH2 = MCPOAuth::oauth2_so();
my $as  = MCPOAuth->start(ttl => 60, sub => 'alice');
my $as2 = MCPOAuth->start(ttl => 60, sub => 'alice', name => 'oauth-as2');
my ($ISS1, $ISS2) = ($as->issuer, $as2->issuer);
my $SCOPE = 'mcp:tools';

my $port = free_port();
# the default MCPResourceIdentifier: scheme://ServerName[:port]<Location>
my $R  = "http://127.0.0.1:$port/mcp";
my $RM = "http://127.0.0.1:$port/.well-known/oauth-protected-resource/mcp";

# --- the configuration (the README recipe comes from here) ----------------------
my $location_conf = <<"CONF";
    AuthType oauth2
    # tried in order until one verifies; exp is optional unless required
    OAuth2TokenVerify jwks_uri @{[ $as->jwks_uri ]} verify.exp=required
    OAuth2TokenVerify jwks_uri @{[ $as2->jwks_uri ]} verify.exp=required
    # claims in the environment only (no OAUTH2_CLAIM_* request headers)
    OAuth2TargetPass envvars=On&headers=Off
    <RequireAll>
        Require oauth2_claim aud:$R
        <RequireAny>
            Require oauth2_claim iss:$ISS1
            Require oauth2_claim iss:$ISS2
        </RequireAny>
    </RequireAll>
    MCPAuthorizationServers $ISS1 $ISS2
    MCPResourceScopes $SCOPE
    MCPRequireScope $SCOPE
    MCPSessionPrincipal "%{reqenv:OAUTH2_CLAIM_iss} %{REMOTE_USER}"
CONF

my $node = start_node(name => 't79', port => $port, server_name => "127.0.0.1:$port",
    conf => qq{LoadModule oauth2_module "$OAUTH2"\n},
    location => '/mcp', location_conf => $location_conf);
my $U = $node->url('/mcp');

# --- helpers ---------------------------------------------------------------------

sub challenges { my @v = $_[0]->header('WWW-Authenticate'); return @v }

# bearer_params($value) -> { name => value } of one Bearer challenge, or undef
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

# challenge_is($res, $status, \%params, $name [, $exact])
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

sub token {
    my %o = (aud => $R, scope => $SCOPE, @_);
    my $from = delete $o{as} // $as;
    return $from->mint(%o);
}
sub auth { MCPOAuth::bearer(token(@_)) }
sub ping { my ($sid, @tok) = @_; mcp_post($U, rpc('ping'), session_headers($sid), @tok) }
sub init { mcp_post($U, init_message(), @_) }

# --- refused by mod_oauth2: its challenge, completed ----------------------------------
challenge_is(init(), 401,
    { error => 'invalid_request', error_description => 'No bearer token found in the request.',
      resource_metadata => $RM, scope => $SCOPE },
    "no token: 401, mod_oauth2's challenge + resource_metadata + scope",
    qq{Bearer error="invalid_request", error_description="No bearer token found in the request.", }
    . qq{resource_metadata="$RM", scope="$SCOPE"});

for my $case (['garbage', 'not-a-jwt'],
              ['signed by an unpublished key', token(key => 'other')],
              ['expired', token(exp => -120)],
              ['no exp (verify.exp=required)', token(exp => 'none')]) {
    my ($what, $tok) = @$case;
    challenge_is(init(MCPOAuth::bearer($tok)), 401,
        { error => 'invalid_token', error_description => 'Token could not be verified.',
          resource_metadata => $RM, scope => $SCOPE },
        "$what: 401 invalid_token + resource_metadata + scope",
        qq{Bearer error="invalid_token", error_description="Token could not be verified.", }
        . qq{resource_metadata="$RM", scope="$SCOPE"});
}

# --- verified, refused by Require oauth2_claim: mod_oauth2 sends no challenge ----------
for my $case (['another issuer (same key)', token(iss => 'https://evil.example')],
              ['another audience', token(aud => 'https://other.example/mcp')],
              ['no audience', token(aud => '')]) {
    my ($what, $tok) = @$case;
    my $res = init(MCPOAuth::bearer($tok));
    my @c = challenges($res);
    my $p = bearer_params($c[0]) || {};
    ok $res->code == 401 && @c == 1 && ($p->{error} // '') eq 'invalid_token'
        && ($p->{resource_metadata} // '') eq $RM && ($p->{scope} // '') eq $SCOPE
        && length($p->{error_description} // ''),
        "$what: 401 with our Bearer invalid_token challenge"
        or diag $res->status_line . ' [' . join('] [', @c) . ']';
}

# --- accepted ----------------------------------------------------------------------------
my ($sid, $res) = initialize($U, headers => { auth() });
is $res->code, 200, 'a good token: initialize 200';
ok is_session_id($sid), '... a session';
my ($cr, $m) = mcp_call($U, $sid, 'tools/call', { name => 'echo', arguments => { text => 'hi' } }, auth());
is $cr->code, 200, 'tools/call 200';
is $m->{result}{content}[0]{text}, 'hi', "... the tool's answer";
is init(auth(aud => ['https://other.example/api', $R]))->code, 200, 'an aud array holding ours: 200';
is init(auth(as => $as2))->code, 200, 'a token of the second issuer (AS2): 200';

# --- scope (MCPTokenScopes default: OAUTH2_CLAIM_scope) ------------------------------------
for my $case (['no scope', ''], ['another scope', 'mcp:admin']) {
    my ($what, $scope) = @$case;
    my $r = init(auth(scope => $scope));
    challenge_is($r, 403, { error => 'insufficient_scope', resource_metadata => $RM, scope => $SCOPE },
        "$what: 403 insufficient_scope");
    ok ref error_of($r) eq 'HASH', "$what: ... a JSON-RPC error body" or diag $r->content;
}
is init(auth(scope => "mcp:admin $SCOPE"))->code, 200, "scope 'mcp:admin mcp:tools': 200";

# --- sessions: issuer + subject ---------------------------------------------------------------
is ping($sid, auth())->code, 200, 'a new token of the same issuer and subject keeps the session';
check_error(ping($sid, auth(sub => 'bob')), 404, -32001, qr/^Session not found$/,
    "another subject (bob) on alice's session: 404");
check_error(ping($sid, auth(as => $as2, sub => 'alice')), 404, -32001, qr/^Session not found$/,
    "alice of the other issuer on AS1-alice's session: 404");
is ping($sid, auth())->code, 200, "alice's session survived";

# --- 2026-07-28 -------------------------------------------------------------------------------
my ($mr) = modern_post($U, 'tools/list', {});
challenge_is($mr, 401,
    { error => 'invalid_request', error_description => 'No bearer token found in the request.',
      resource_metadata => $RM, scope => $SCOPE },
    '2026-07-28 without a token: 401 with the challenge');
my ($mr2, $mm) = modern_post($U, 'tools/call', { name => 'echo', arguments => { text => 'modern' } },
                             headers => { auth() });
is $mr2->code, 200, '2026-07-28 tools/call with a token: 200';
is $mm->{result}{content}[0]{text}, 'modern', "... the tool's answer";

# --- the document: public, the default resource identifier -----------------------------------
my $d = mcp_get($node->url('/.well-known/oauth-protected-resource/mcp'), Accept => 'application/json');
is $d->code, 200, 'the document without a token: 200';
is_deeply json_decode($d->content), {
    resource => $R,
    authorization_servers => [$ISS1, $ISS2],
    scopes_supported => [$SCOPE],
    bearer_methods_supported => ['header'],
}, '... resource (default: ServerName + path), both issuers, scopes';

my @jwks = grep { $_->{path} eq '/jwks' } @{ $as->log };
ok scalar(@jwks), "mod_oauth2 fetched AS1's jwks_uri";

done_testing;
