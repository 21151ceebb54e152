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

done_testing;
