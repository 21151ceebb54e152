# Error bodies always carry error.message (JSON-RPC requires it), valid
# UTF-8 and of bounded size, even when it echoes header bytes that are
# not UTF-8: each such byte becomes U+FFFD. jansson refuses a string that
# is not UTF-8, and the message used to vanish from the body.
use strict;
use warnings;
use utf8;
use FindBin;
use lib "$FindBin::Bin/lib";
use Apache::Test qw(-withtestmore);
use Encode ();
use MCPTest;

my $U = '/mcp';
my $R = "\x{FFFD}";

# the raw bytes of the body are UTF-8 (check_error decodes strictly too)
sub body_is_utf8 {
    my ($res, $name) = @_;
    my $bytes = $res->content // '';
    ok eval { Encode::decode('UTF-8', $bytes, Encode::FB_CROAK); 1 },
        "$name: the body is valid UTF-8";
}

# Origin with a byte that is not UTF-8 (sent as is: a byte string)
{
    my $origin = "http://\xe9vil.example";
    utf8::downgrade($origin);
    my $res = mcp_post($U, init_message(), Origin => $origin);
    check_error($res, 403, -32000, qr/^Forbidden: Invalid Origin header: http:\/\/${R}vil\.example$/,
                'Origin http://\xe9vil.example: 403 with a message');
    body_is_utf8($res, 'Origin \xe9');
}

# valid UTF-8 in the header is echoed as it is
{
    my $origin = Encode::encode('UTF-8', 'http://café.example');
    my $res = mcp_post($U, init_message(), Origin => $origin);
    check_error($res, 403, -32000, qr/^Forbidden: Invalid Origin header: http:\/\/café\.example$/,
                'Origin in UTF-8: echoed unchanged');
}

# a long Origin is cut to 1024 bytes, between characters, ending in "..."
{
    my $origin = 'http://' . ("\xff" . ('a' x 9)) x 600;
    utf8::downgrade($origin);
    my $res = mcp_post($U, init_message(), Origin => $origin);
    check_error($res, 403, -32000, qr/^Forbidden: Invalid Origin header: http:\/\/${R}a{9}${R}.*\.\.\.$/,
                'a 6 KB Origin: 403 with a message');
    my $e = error_of($res);
    my $bytes = defined $e ? length(Encode::encode('UTF-8', $e->{message})) : 0;
    ok $bytes > 900 && $bytes <= 1024, "the message is cut to at most 1024 bytes ($bytes)";
}

# MCP-Protocol-Version with a byte that is not UTF-8, in a session
{
    my $sid = initialize($U);
    ok is_session_id($sid), 'a session';
    for my $v ("2025-\xff", "2025-\xe2\x82", "\xc0\xaf") {
        utf8::downgrade($v);
        (my $shown = $v) =~ s/([\x80-\xff])/sprintf '\\x%02x', ord $1/ge;
        my $res = mcp_post($U, rpc('ping'), 'Mcp-Session-Id' => $sid,
                           'MCP-Protocol-Version' => $v);
        my $want = $v =~ s/[\x80-\xff]/$R/gr;
        check_error($res, 400, -32000,
                    qr/^Bad Request: Unsupported protocol version: \Q$want\E \(supported versions: /,
                    "MCP-Protocol-Version $shown: 400 with a message");
        body_is_utf8($res, "MCP-Protocol-Version $shown");
    }
    is mcp_post($U, rpc('ping'), session_headers($sid))->code, 200, 'the session still works';
}

done_testing;
