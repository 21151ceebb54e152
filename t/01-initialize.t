# initialize: status, session id format, version negotiation, result shape,
# uniqueness of session ids.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Apache::Test qw(-withtestmore);
use MIME::Base64 qw(decode_base64);
use MCPTest;

my $U = '/mcp';

# --- a plain initialize
my $init = init_message(protocolVersion => '2025-11-25', id => 1);
my $res = mcp_post($U, $init);
is $res->code, 200, 'initialize: 200';
like $res->header('Content-Type') // '', qr{^application/json\b}i,
    'initialize: Content-Type application/json';
my $sid = $res->header('Mcp-Session-Id');
ok is_session_id($sid), 'session id: 43 characters of base64url'
    or diag 'session id: ' . ($sid // 'none');
like $sid // '', qr/\A[\x21-\x7e]+\z/, 'session id: visible ASCII only';
(my $b64 = $sid // '') =~ tr{-_}{+/};
is length(decode_base64($b64 . '=')), 32, 'session id: 32 bytes';

my $m = rpc_final($res);
is ref $m, 'HASH', 'initialize: JSON object';
is $m->{jsonrpc}, '2.0', 'initialize: jsonrpc 2.0';
is $m->{id}, 1, 'initialize: id echoed';
ok !exists $m->{error}, 'initialize: no error';
is $m->{result}{protocolVersion}, '2025-11-25', 'initialize: version echoed';
is ref $m->{result}{capabilities}, 'HASH', 'initialize: capabilities object';
is ref $m->{result}{capabilities}{tools}, 'HASH',
    'initialize: tools capability (example tools are loaded)';
is ref $m->{result}{serverInfo}, 'HASH', 'initialize: serverInfo object';
ok defined $m->{result}{serverInfo}{name} && length $m->{result}{serverInfo}{name},
    'initialize: serverInfo.name';
ok defined $m->{result}{serverInfo}{version}, 'initialize: serverInfo.version';

# the session works, and its responses carry the session header
my $n = mcp_post($U, rpc('notifications/initialized', undef, undef), session_headers($sid));
is $n->code, 202, 'notifications/initialized: 202';
my $p = mcp_post($U, rpc('ping', undef, 'p1'), session_headers($sid));
is $p->code, 200, 'ping in the new session: 200';
is $p->header('Mcp-Session-Id'), $sid, 'ping response carries Mcp-Session-Id';

# --- version negotiation
for my $v (@VERSIONS) {
    my ($s, $r) = initialize($U, protocolVersion => $v);
    my $msg = rpc_final($r);
    is $r->code, 200, "initialize $v: 200";
    is $msg->{result}{protocolVersion}, $v, "initialize $v: echoed";
    ok is_session_id($s), "initialize $v: session id";
}
for my $v ('1999-01-01', '2024-11-05', '2026-07-28', 'not-a-version') {
    my $r = mcp_post($U, init_message(protocolVersion => $v));
    is $r->code, 200, "initialize $v: 200 (not an error)";
    is rpc_final($r)->{result}{protocolVersion}, $LATEST,
        "initialize $v: answers the newest supported version";
}

# --- an Mcp-Session-Id header on initialize is ignored: a new session
my $r2 = mcp_post($U, init_message(), 'Mcp-Session-Id' => $sid);
is $r2->code, 200, 'initialize with a session header: 200';
my $sid2 = $r2->header('Mcp-Session-Id');
ok is_session_id($sid2) && $sid2 ne $sid, 'initialize with a session header: new session id';
is mcp_post($U, rpc('ping'), session_headers($sid))->code, 200, 'the old session still works';
is mcp_post($U, rpc('ping'), session_headers($sid2))->code, 200, 'the new session works';
my $r3 = mcp_post($U, init_message(), 'Mcp-Session-Id' => 'no-such-session');
is $r3->code, 200, 'initialize with an unknown session header: 200';
ok is_session_id($r3->header('Mcp-Session-Id')), 'initialize with an unknown session header: new id';

# --- 300 initializes, 300 distinct ids
my (%seen, $good, $fmt);
$good = $fmt = 0;
for (1 .. 300) {
    my $r = mcp_post($U, init_message(), -keepalive => 1);
    $good++ if $r->code == 200;
    my $s = $r->header('Mcp-Session-Id');
    $fmt++ if is_session_id($s);
    $seen{$s // ''}++;
}
is $good, 300, '300 initializes: all 200';
is $fmt, 300, '300 initializes: all ids well-formed';
is scalar(keys %seen), 300, '300 initializes: 300 distinct ids';

# ids do not share long prefixes (not a counter)
my %prefix = map { substr($_, 0, 8) => 1 } keys %seen;
cmp_ok scalar(keys %prefix), '>=', 295, 'session ids look random';

done_testing;
