# The RFC 9728 Protected Resource Metadata document of an endpoint with
# MCPAuthorizationServers (issue 13): served by a quick handler at
# /.well-known/oauth-protected-resource + the endpoint path, public even
# under <Location /> auth, cached, CORS-readable; config errors at start.
# No OAuth module is needed: the document is the module's own.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use MCPTest;
use IO::Socket::INET;

# MCPResourceScopes offline_access (its own node below) warns.
# expect-log: MCPS01004
# The nodes that must not start: check_config's refusals (emerg), and
# httpd's "Configuration Failed" after them.
# expect-log: MCPS01009 MCPS01010 AH00014
# The forward-proxy request to a dead port (mod_proxy says so).
# expect-log: AH00957 AH01114

my $WK = '/.well-known/oauth-protected-resource';
my $HTPASSWD = top_dir() . '/t/htpasswd';

sub get { my ($url, %h) = @_; mcp_request('GET', $url, undef, %h) }
sub doc { my $res = shift; json_decode($res->decoded_content // '') }

# --- one node: /mcp (defaults + every field), /other (configured
# identifier elsewhere), /plain (no directive), a vhost on a second port
my $vport = free_port();
my $node = start_node(
    name => 't75-main',
    location => '/mcp',
    location_conf => <<'LOC',
    MCPAuthorizationServers https://as.example.com http://127.0.0.1:9/issuer
    MCPResourceScopes mcp:tools mcp:admin
    MCPResourceName "Test MCP \"quoted\""
    MCPResourceDocumentation https://docs.example.com/mcp?lang=en
    MCPResourceMetadataMaxAge 120
LOC
    conf => <<"CONF");
<Location /other>
    SetHandler mcp-session
    MCPAuthorizationServers https://as2.example.com
    MCPResourceIdentifier HTTPS://MCP.Example.COM:443/public/mcp/
</Location>
<Location /plain>
    SetHandler mcp-session
</Location>
<Location /bare>
    SetHandler mcp-session
    MCPAuthorizationServers https://as.example.com
</Location>
Listen 127.0.0.1:$vport
<VirtualHost 127.0.0.1:$vport>
    ServerName vh.example.test
    <Location /vmcp>
        SetHandler mcp-session
        MCPAuthorizationServers https://vh-as.example.com
    </Location>
</VirtualHost>
CONF
my $port = $node->port;
my $base = "http://127.0.0.1:$port";

# GET: fields, omissions, headers
my $res = get("$base$WK/mcp");
is $res->code, 200, 'GET the document of /mcp: 200';
like $res->header('Content-Type') // '', qr{^application/json\b}, 'Content-Type application/json';
is $res->header('Cache-Control'), 'public, max-age=120', 'Cache-Control from MCPResourceMetadataMaxAge';
is $res->header('Access-Control-Allow-Origin'), '*', 'any origin may read it';
my $etag = $res->header('ETag');
like $etag // '', qr/^"[0-9a-f]{32}"$/, 'a strong ETag';
is_deeply doc($res), {
    resource => "http://127.0.0.1:$port/mcp",
    authorization_servers => ['https://as.example.com', 'http://127.0.0.1:9/issuer'],
    scopes_supported => ['mcp:tools', 'mcp:admin'],
    bearer_methods_supported => ['header'],
    resource_name => 'Test MCP "quoted"',
    resource_documentation => 'https://docs.example.com/mcp?lang=en',
}, 'the document: default identifier from ServerName and the port, every field';

# HEAD: same headers, no body
$res = mcp_request('HEAD', "$base$WK/mcp");
is $res->code, 200, 'HEAD: 200';
is $res->header('ETag'), $etag, 'HEAD: the same ETag';
is length($res->content // ''), 0, 'HEAD: no body';

# conditional
$res = get("$base$WK/mcp", 'If-None-Match' => $etag);
is $res->code, 304, 'If-None-Match with its ETag: 304';
is length($res->content // ''), 0, '304: no body';
is get("$base$WK/mcp", 'If-None-Match' => '"0000"')->code, 200, 'another ETag: 200';

# the query string is ignored (the SDK copies the endpoint's onto it)
$res = get("$base$WK/mcp?tenant=1");
is $res->code, 200, 'a query string is ignored';
is doc($res)->{resource}, "http://127.0.0.1:$port/mcp", '... same document';

# OPTIONS (CORS preflight)
$res = mcp_request('OPTIONS', "$base$WK/mcp", undef, Origin => 'https://app.example',
                   'Access-Control-Request-Method' => 'GET',
                   'Access-Control-Request-Headers' => 'mcp-protocol-version');
is $res->code, 204, 'OPTIONS: 204';
is $res->header('Access-Control-Allow-Origin'), '*', 'OPTIONS: Allow-Origin *';
is $res->header('Access-Control-Allow-Methods'), 'GET, HEAD, OPTIONS', 'OPTIONS: Allow-Methods';
is $res->header('Access-Control-Allow-Headers'), 'mcp-protocol-version, authorization',
    'OPTIONS: Allow-Headers (what the SDK sends)';

# other methods: 405 with Allow and a JSON-RPC error
for my $m (qw(POST PUT DELETE)) {
    $res = mcp_request($m, "$base$WK/mcp", $m eq 'DELETE' ? undef : '{}',
                       'Content-Type' => 'application/json');
    check_error($res, 405, -32000, qr/^Method not allowed/, "$m: 405 JSON-RPC error");
    is $res->header('Allow'), 'GET, HEAD, OPTIONS', "$m: Allow header";
}

# a configured identifier with another path: the document lives at that path
$res = get("$base$WK/public/mcp");
is $res->code, 200, 'MCPResourceIdentifier elsewhere: the document at its path';
is_deeply doc($res), {
    resource => 'https://mcp.example.com/public/mcp',
    authorization_servers => ['https://as2.example.com'],
    bearer_methods_supported => ['header'],
}, '... canonical identifier, no scopes_supported/name/documentation when unset';
like $res->header('Cache-Control') // '', qr/max-age=3600\b/, '... default max-age 3600';
is get("$base$WK/other")->code, 404, '... not at the section path';

# two endpoints in one server
is doc(get("$base$WK/bare"))->{resource}, "http://127.0.0.1:$port/bare",
    'a second endpoint of the server has its own document';
# an endpoint without the directive, and nothing at all
is get("$base$WK/plain")->code, 404, 'an endpoint without MCPAuthorizationServers: 404';
is get("$base$WK")->code, 404, 'the bare well-known path of a server without a root endpoint: 404';
is get("$base$WK/mcp/")->code, 404, 'a trailing slash is another path: 404';
is get("$base$WK/nothing")->code, 404, 'an unknown path: 404';

# the vhost: its own endpoint, and the main server's (vhosts have its
# <Location>s), each named after the vhost
$res = get("http://127.0.0.1:$vport$WK/vmcp");
is $res->code, 200, 'vhost: its endpoint has a document';
is_deeply [doc($res)->{resource}, doc($res)->{authorization_servers}],
    ["http://vh.example.test:$vport/vmcp", ['https://vh-as.example.com']],
    '... resource from the vhost ServerName and port';
is doc(get("http://127.0.0.1:$vport$WK/mcp"))->{resource}, "http://vh.example.test:$vport/mcp",
    "vhost: the main server's /mcp, named after the vhost";
is get("$base$WK/vmcp")->code, 404, "the main server does not serve the vhost's document";

# mod_status counts documents served (200 and 304)
my $st = status_auto($node->url('/server-status?auto'));
cmp_ok $st->{MCPOAuthMetadataServed} // 0, '>=', 9, 'mod_status: MCPOAuthMetadataServed';

# --- root endpoint behind Basic auth: the document stays public
my $root = start_node(
    name => 't75-root', location => undef,
    conf => <<"CONF");
<Location />
    SetHandler mcp-session
    AuthType Basic
    AuthName "MCP"
    AuthUserFile "$HTPASSWD"
    Require valid-user
    MCPAuthorizationServers https://as.example.com
    MCPResourceScopes mcp:tools
</Location>
<Location /server-status>
    SetHandler server-status
    Require all granted
</Location>
CONF
my $rbase = 'http://127.0.0.1:' . $root->port;
is mcp_post("$rbase/", init_message())->code, 401, 'root endpoint: POST without credentials is 401';
$res = get("$rbase$WK");
is $res->code, 200, 'root endpoint: the bare well-known path serves the document, no credentials';
is doc($res)->{resource}, "$rbase/", '... resource is the root URL with its slash';
is get("$rbase$WK/")->code, 401, '... any other path is still behind auth';

# --- configuration errors: the server does not start, and says why
sub bad_node {
    my ($name, $loc_conf, %o) = @_;
    my $n = start_node(name => "t75-$name", may_fail => 1, location_conf => $loc_conf, %o);
    ok !$n->running, "$name: the server refuses to start";
    return $n->startup_output . MCPTest::read_from($n->error_log_path);
}
like bad_node('bad-url', 'MCPAuthorizationServers ftp://as.example.com'),
    qr/MCPS01000: MCPAuthorizationServers: 'ftp:\/\/as\.example\.com' is not an authorization server's issuer URL: \S/,
    'bad issuer URL: MCPS01000 with the reason';
like bad_node('bad-fragment', "MCPAuthorizationServers https://as.example.com\n    MCPResourceIdentifier https://mcp.example.com/mcp#x"),
    qr/MCPS01002: MCPResourceIdentifier: 'https:\/\/mcp\.example\.com\/mcp#x' is not a resource identifier/,
    'identifier with a fragment: MCPS01002';
like bad_node('bad-scope', "MCPAuthorizationServers https://as.example.com\n    MCPResourceScopes \"a\\\"b\""),
    qr/MCPS01003: MCPResourceScopes: 'a"b' is not an OAuth scope/, 'bad scope: MCPS01003';
like bad_node('bad-utf8', "MCPAuthorizationServers https://as.example.com\n    MCPResourceName \"caf\xe9\""),
    qr/MCPS01019: MCPResourceName: the value is not UTF-8/, 'a name that is not UTF-8: MCPS01019';
like bad_node('bad-expr', "MCPSessionPrincipal \"%{reqenv:X\""),
    qr/MCPS01005: MCPSessionPrincipal: cannot parse expression/, 'bad expression: MCPS01005';
like bad_node('regex', undef, location => undef, conf => <<'CONF'),
<LocationMatch "^/mcp[0-9]+$">
    SetHandler mcp-session
    MCPAuthorizationServers https://as.example.com
</LocationMatch>
CONF
    qr/MCPS01009: MCPAuthorizationServers in <LocationMatch \^\/mcp\[0-9\]\+\$> at \S+:\d+: .*set MCPResourceIdentifier there/,
    '<LocationMatch> without MCPResourceIdentifier: MCPS01009';
like bad_node('dup', "MCPAuthorizationServers https://as.example.com\n    MCPResourceIdentifier https://mcp.example.com/x",
              conf => "<Location /y>\n    MCPAuthorizationServers https://as.example.com\n    MCPResourceIdentifier https://other.example.com/x\n</Location>\n"),
    qr/MCPS01010: MCPAuthorizationServers in <Location \/y> at \S+ and in <Location \/mcp> at \S+: both would serve their document at \/\.well-known\/oauth-protected-resource\/x/,
    'two sections, one well-known path: MCPS01010';

# a <LocationMatch> with an identifier is fine; offline_access only warns
my $ok = start_node(name => 't75-match', location => undef, conf => <<'CONF');
<LocationMatch "^/m[0-9]$">
    SetHandler mcp-session
    MCPAuthorizationServers https://as.example.com
    MCPResourceIdentifier https://mcp.example.com/m
    MCPResourceScopes mcp:tools offline_access
</LocationMatch>
CONF
ok $ok->running, '<LocationMatch> with MCPResourceIdentifier starts';
$res = get($ok->url("$WK/m"));
is_deeply [$res->code, doc($res)->{resource}, doc($res)->{scopes_supported}],
    [200, 'https://mcp.example.com/m', ['mcp:tools', 'offline_access']],
    '... and serves its document at the identifier\'s path';
ok scalar grep_log($ok->error_log_path, qr/MCPS01004: MCPResourceScopes offline_access/)
   || $ok->startup_output =~ /MCPS01004/, 'offline_access: warning MCPS01004';

# a forward proxy's request for another host's document is proxied, not
# answered with ours (the quick handler runs before mod_proxy's handler)
{
    my $dead = free_port();
    my $fp = start_node(name => 't75-fwdproxy', proxy_modules => [qw(proxy proxy_http)],
                        location_conf => "    MCPAuthorizationServers https://as.example.com\n",
                        conf => "ProxyRequests On\n<Proxy \"*\">\n    Require ip 127.0.0.1\n</Proxy>\n");
    my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $fp->port,
                                     Timeout => 10);
    my $raw = '';
    if ($sock) {
        print $sock "GET http://127.0.0.1:$dead$WK/mcp HTTP/1.1\r\nHost: 127.0.0.1:$dead\r\n"
                  . "Connection: close\r\n\r\n";
        local $/;
        $raw = <$sock> // '';
        close $sock;
    }
    my ($code) = $raw =~ m{^HTTP/1\.\d (\d{3})};
    is $code, '503', 'forward proxy: GET http://other-host/.well-known/... goes to mod_proxy '
                   . '(the dead port: 503), not our document';
    $res = get($fp->url("$WK/mcp"));
    is $res->code, 200, '... while the node\'s own document is still served';
}

done_testing;
