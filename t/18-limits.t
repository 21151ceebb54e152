# Message size limits: MCPMaxMessageSize (1024 on /mcp-small) and the
# 4 MiB default; big messages below the limit work.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Apache::Test qw(-withtestmore);
use IO::Socket::INET;
use MCPTest;

my $SMALL = '/mcp-small';
my ($sid) = initialize($SMALL);
ok is_session_id($sid), '/mcp-small session';

# a JSON body of exactly $n bytes (padded with spaces)
sub body_of {
    my $n = shift;
    my $j = json_encode(rpc('ping'));
    return $j . (' ' x ($n - length $j));
}

is mcp_post($SMALL, body_of(1024), session_headers($sid))->code, 200, 'exactly 1024 bytes: accepted';
check_error(mcp_post($SMALL, body_of(1025), session_headers($sid)), 413, -32000,
            qr/^Payload Too Large: Request body must not exceed 1024 bytes$/, '1025 bytes: 413');
check_error(mcp_post($SMALL, body_of(100_000), session_headers($sid)), 413, -32000, undef,
            '100000 bytes: 413');

# chunked request body over the limit (no Content-Length): 413 too
{
    my $u = url($SMALL);
    my ($host, $port) = $u =~ m{^http://([^:/]+):(\d+)};
    my $s = IO::Socket::INET->new(PeerAddr => $host eq 'localhost' ? '127.0.0.1' : $host,
                                  PeerPort => $port, Timeout => 10);
    ok $s, 'raw connection';
    my $body = body_of(3000);
    my $chunks = '';
    for (my $i = 0; $i < length $body; $i += 500) {
        my $c = substr($body, $i, 500);
        $chunks .= sprintf("%x\r\n%s\r\n", length $c, $c);
    }
    $chunks .= "0\r\n\r\n";
    print $s "POST $SMALL HTTP/1.1\r\nHost: $host:$port\r\nContent-Type: application/json\r\n"
           . "Accept: application/json, text/event-stream\r\nMcp-Session-Id: $sid\r\n"
           . "MCP-Protocol-Version: $LATEST\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
           . $chunks;
    my $status = <$s> // '';
    like $status, qr{^HTTP/1\.\d 413}, 'chunked body over the limit: 413' or diag $status;
    close $s;
}

# the default limit (4194304) on /mcp
my ($big) = initialize('/mcp');
ok is_session_id($big), '/mcp session';
my $text = 'a' x (1024 * 1024);
my ($r, $m) = mcp_call('/mcp', $big, 'tools/call', { name => 'echo', arguments => { text => $text } });
is $r->code, 200, 'a 1 MiB tools/call: 200';
ok(($m->{result}{content}[0]{text} // '') eq $text, 'a 1 MiB echo comes back intact');
check_error(mcp_post('/mcp', body_of(4194305), session_headers($big)), 413, -32000,
            qr/^Payload Too Large: Request body must not exceed 4194304 bytes$/,
            '4194305 bytes on /mcp: 413 (default limit)');
is mcp_post('/mcp', rpc('ping'), session_headers($big))->code, 200, 'the session still works';
is mcp_post($SMALL, rpc('ping'), session_headers($sid))->code, 200, 'the small session still works';

done_testing;
