# Origin validation (DNS rebinding): 403 for a present, foreign Origin.
# /mcp-origin has MCPAllowedOrigins https://allowed.example
# http://also-allowed.example:8080; /mcp has no list.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Apache::Test qw(-withtestmore);
use MCPTest;

my $cfg  = Apache::Test::config();
my $self_origin = 'http://' . $cfg->{vars}{servername} . ':' . $cfg->{vars}{port};
my $forbidden = sub { qr/^Forbidden: Invalid Origin header: \Q$_[0]\E$/ };

for my $U ('/mcp-origin', '/mcp') {
    my $r = mcp_post($U, init_message());
    is $r->code, 200, "$U: no Origin: accepted";
    my $sid = $r->header('Mcp-Session-Id');

    $r = mcp_post($U, init_message(), Origin => $self_origin);
    is $r->code, 200, "$U: the server's own origin ($self_origin): accepted";

    for my $o ('http://evil.example.com', 'null', 'https://allowed.example.evil.com',
               'http://localhost.evil.example') {
        check_error(mcp_post($U, init_message(), Origin => $o), 403, -32000, $forbidden->($o),
                    "$U: Origin $o on initialize: 403");
    }
    check_error(mcp_post($U, rpc('ping'), session_headers($sid), Origin => 'http://evil.example.com'),
                403, -32000, $forbidden->('http://evil.example.com'),
                "$U: foreign Origin in a session: 403");
    check_error(mcp_delete($U, session_headers($sid), Origin => 'http://evil.example.com'),
                403, -32000, undef, "$U: foreign Origin on DELETE: 403");
    is mcp_post($U, rpc('ping'), session_headers($sid))->code, 200,
        "$U: the session survived the refused requests";
}

# the allow-list
for my $o ('https://allowed.example', 'http://also-allowed.example:8080') {
    my $r = mcp_post('/mcp-origin', init_message(), Origin => $o);
    is $r->code, 200, "/mcp-origin: listed Origin $o: accepted";
    my $sid = $r->header('Mcp-Session-Id');
    is mcp_post('/mcp-origin', rpc('ping'), session_headers($sid), Origin => $o)->code, 200,
        "/mcp-origin: listed Origin $o: ping accepted";
}
for my $o ('http://allowed.example', 'https://allowed.example:8443',
           'http://also-allowed.example') {
    check_error(mcp_post('/mcp-origin', init_message(), Origin => $o), 403, -32000,
                $forbidden->($o), "/mcp-origin: $o (scheme/port differ from the list): 403");
}
# the list is per location: /mcp does not accept /mcp-origin's origins
check_error(mcp_post('/mcp', init_message(), Origin => 'https://allowed.example'), 403, -32000,
            $forbidden->('https://allowed.example'),
            '/mcp: an origin listed only for /mcp-origin: 403');

# --- CORS: allowed origins may read answers and preflight; others get nothing
{
    my $o = 'https://allowed.example';
    my $pre = mcp_request('OPTIONS', '/mcp-origin', undef, Origin => $o,
                          'Access-Control-Request-Method' => 'POST',
                          'Access-Control-Request-Headers' => 'content-type, mcp-session-id');
    is $pre->code, 204, 'preflight from an allowed origin: 204';
    is $pre->header('Access-Control-Allow-Origin'), $o, '... Access-Control-Allow-Origin is the origin';
    like $pre->header('Access-Control-Allow-Methods') // '', qr/\bPOST\b.*\bDELETE\b/,
        '... allows POST and DELETE';
    my $allow_h = lc($pre->header('Access-Control-Allow-Headers') // '');
    ok !(grep { index($allow_h, $_) < 0 } qw(content-type mcp-session-id mcp-protocol-version last-event-id authorization)),
        '... allows the MCP request headers' or diag $allow_h;
    like $pre->header('Vary') // '', qr/\bOrigin\b/, '... Vary: Origin';

    # 2026-07-28: Mcp-Method, Mcp-Name, and the Mcp-Param-* names asked for
    $pre = mcp_request('OPTIONS', '/mcp-origin', undef, Origin => $o,
                       'Access-Control-Request-Method' => 'POST',
                       'Access-Control-Request-Headers' => 'mcp-method, mcp-name, mcp-param-region, mcp-param-bad;x');
    $allow_h = lc($pre->header('Access-Control-Allow-Headers') // '');
    ok !(grep { index($allow_h, $_) < 0 } qw(mcp-method mcp-name mcp-param-region)),
        'a preflight asking for Mcp-Param-Region is allowed it (and Mcp-Method, Mcp-Name)' or diag $allow_h;
    unlike $allow_h, qr/bad/, '... a name that is not a token is not echoed' or diag $allow_h;

    my $r = mcp_post('/mcp-origin', init_message(), Origin => $o);
    is $r->code, 200, 'initialize from an allowed origin: 200';
    is $r->header('Access-Control-Allow-Origin'), $o, '... with Access-Control-Allow-Origin';
    like $r->header('Access-Control-Expose-Headers') // '', qr/\bMcp-Session-Id\b/i,
        '... exposing Mcp-Session-Id';
    my $sid = $r->header('Mcp-Session-Id');
    $r = mcp_post('/mcp-origin', rpc('no/such'), session_headers($sid), Origin => $o);
    is $r->header('Access-Control-Allow-Origin'), $o, 'an error answer to an allowed origin carries CORS too';
    $r = mcp_post('/mcp-origin', rpc('ping'), session_headers('x' x 43), Origin => $o);
    is $r->code, 404, 'a 404 to an allowed origin ...';
    is $r->header('Access-Control-Allow-Origin'), $o, '... carries CORS, so the browser client sees it';

    my $evil = 'http://evil.example.com';
    $pre = mcp_request('OPTIONS', '/mcp-origin', undef, Origin => $evil,
                       'Access-Control-Request-Method' => 'POST');
    is $pre->code, 403, 'preflight from a foreign origin: 403';
    ok !defined $pre->header('Access-Control-Allow-Origin'), '... and no CORS header';
    $r = mcp_post('/mcp-origin', init_message());
    ok !defined $r->header('Access-Control-Allow-Origin'), 'no Origin: no CORS header';
}

done_testing;
