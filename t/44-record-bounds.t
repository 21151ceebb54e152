# What a session keeps of initialize is bounded whatever the store's
# record limit: clientInfo's name, version and title (128, 64 and 128 bytes
# of JSON), the standard client capabilities within 256 bytes. A huge
# initialize still gets a working session (memory mode: it used to be 400,
# "too large to keep"), and in Redis its record stays small (it used to
# keep 10 KB of this one for the whole TTL, up to 16 KB).
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore);
use Digest::SHA qw(sha256_hex);
use MCPTest;

my $U = '/mcp';
my %STANDARD = map { $_ => 1 } qw(roots sampling elicitation tasks experimental);

# huge_init($n) -> an initialize whose clientInfo and capabilities carry
# strings of $n bytes.
sub huge_init {
    my $n = shift;
    my $s = 'x' x $n;
    return rpc('initialize', {
        protocolVersion => $LATEST,
        capabilities => {
            sampling     => { junk => $s },
            roots        => { listChanged => JSON::true() },
            elicitation  => { form => {} },
            experimental => { big => { v => $s } },
            'made-up'    => { v => $s },
        },
        clientInfo => { name => "n$s", version => "v$s", title => "t$s",
                        description => $s, websiteUrl => "http://x/$s" },
    });
}

# works($url, $sid, $what): the session answers ping and tools/call.
sub works {
    my ($url, $sid, $what) = @_;
    my $n = mcp_post($url, rpc('notifications/initialized', undef, undef),
                     session_headers($sid));
    is $n->code, 202, "$what: notifications/initialized 202";
    is mcp_post($url, rpc('ping'), session_headers($sid))->code, 200, "$what: ping 200";
    my (undef, $m) = mcp_call($url, $sid, 'tools/call',
                              { name => 'echo', arguments => { text => 'still here' } });
    is $m && $m->{result} && $m->{result}{content}[0]{text}, 'still here',
        "$what: tools/call works";
}

# --- memory mode (the test server) --------------------------------------------
for my $n (5_000, 20_000) {
    my $res = mcp_post($U, huge_init($n));
    is $res->code, 200, "memory: initialize with ${n}-byte clientInfo and capabilities: 200";
    my $sid = $res->header('Mcp-Session-Id');
    ok is_session_id($sid), "memory ($n): a session id";
    works($U, $sid, "memory ($n)") if is_session_id($sid);
    # room is left for the session's own changes
    my (undef, $m) = mcp_call($U, $sid, 'resources/subscribe',
                              { uri => 'test://static-resource/' . ('r' x 80) });
    ok $m && ref $m->{result} eq 'HASH',
        "memory ($n): a subscription still fits beside what initialize kept";
}

# --- Redis: what the record holds ---------------------------------------------
SKIP: {
    skip 'redis-server is not installed', 13
        unless grep { -x "$_/redis-server" } split /:/, $ENV{PATH} // '';
    my $prefix = "mcp:t44:$$:";
    my $redis  = start_redis(name => 't44-redis');
    my $node   = start_node(name => 't44-node', conf =>
                            "MCPSessionStorageMode external\n"
                          . 'MCPSessionStore ' . $redis->url . "\n"
                          . "MCPSessionKeyPrefix $prefix\n");
    my $url = $node->url;

    my $res = mcp_post($url, huge_init(5_000));
    is $res->code, 200, 'redis: initialize with 5 KB strings: 200';
    my $sid = $res->header('Mcp-Session-Id');
    works($url, $sid, 'redis');

    my $value = $redis->cli('GET', $prefix . sha256_hex($sid)) // '';
    my ($json) = $value =~ /^\d+ (\{.*\})\s*\z/s;
    my $rec = json_decode($json);
    ok ref $rec eq 'HASH', 'redis: the key holds a record';
    cmp_ok length($value), '<', 1024,
        'redis: the record is under 1 KB (' . length($value) . ' bytes; it was 10 KB)';
    my $client = ref $rec eq 'HASH' ? $rec->{client} : undef;
    is_deeply [sort keys %{ $client || {} }], [qw(name title version)],
        'redis: clientInfo keeps name, title and version only';
    is length($client->{name} // ''), 128, 'redis: the name is cut to 128 bytes';
    is length($client->{version} // ''), 64, 'redis: the version is cut to 64 bytes';
    like $client->{title} // '', qr/^tx{127}\z/, 'redis: the title is cut to 128 bytes';
    my $caps = ref $rec eq 'HASH' ? $rec->{caps} : undef;
    ok !grep({ !$STANDARD{$_} } keys %{ $caps || {} }),
        'redis: only standard capabilities are kept';
    is_deeply $caps, { sampling => {}, roots => { listChanged => JSON::true() },
                       elicitation => { form => {} }, experimental => {} },
        'redis: a too large capability is kept as {}, small ones whole';
    cmp_ok length(json_encode($caps)), '<=', 256, 'redis: capabilities within 256 bytes';
}

done_testing;
