# External mode, sliding lifetime across two nodes: Redis has no EXPIRE in
# apr_redis, so a session is rewritten (SETEX) once it is
# MCPSessionRefreshAfter old (default TTL/2). A session used every second,
# alternately on both nodes, outlives several TTLs; an idle one expires on
# both nodes. Requests sooner than RefreshAfter do not write.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore);
use Digest::SHA qw(sha256_hex);
use Time::HiRes qw(sleep time);
use MCPTest;

skip_unless_redis();

plan tests => 10;

my $TTL    = 3;                 # RefreshAfter: default, TTL/2 = 1.5 s
my $prefix = "mcp:t21:$$:";
my ($redis, $A, $B) = start_fleet(name => 't21', prefix => $prefix,
                                   conf => "MCPSessionTTL $TTL\n");
my @U = ($A->url, $B->url);

sub ping { mcp_post($_[0], rpc('ping'), session_headers($_[1])) }
sub setex_calls {
    for ($redis->cli('INFO', 'commandstats')) {
        return $1 if /^cmdstat_setex:calls=(\d+)/;
    }
    return 0;
}

my ($busy) = initialize($U[0]);
my ($idle) = initialize($U[1]);
my $t0 = time;
ok is_session_id($busy) && is_session_id($idle), 'two sessions (one per node)';

# right after creation: requests do not rewrite the key
my $w0 = setex_calls();
my $quick = 0;
$quick++ for grep { ping($U[$_ % 2], $busy)->code == 200 } 1 .. 6;
is $quick, 6, 'six quick requests on both nodes: 200';
is setex_calls() - $w0, 0, '... and no SETEX (younger than MCPSessionRefreshAfter)';

# use $busy every second, alternating nodes, for > 3 x TTL
my ($n, $good, $i) = (0, 0, 0);
my $refreshed_ttl;
while (time - $t0 < 3.3 * $TTL) {
    sleep 1;
    $n++;
    $good++ if ping($U[$i++ % 2], $busy)->code == 200;
    my $t = $redis->cli('TTL', $prefix . sha256_hex($busy));
    $refreshed_ttl = $t if !defined $refreshed_ttl || $t > $refreshed_ttl;
}
my $elapsed = time - $t0;
is $good, $n, sprintf('a session used every second on alternate nodes lives %.1f s (TTL %d s)',
                      $elapsed, $TTL);
cmp_ok $elapsed, '>', 3 * $TTL, 'which is more than 3 x TTL';
ok $refreshed_ttl >= $TTL - 1, "its Redis TTL was reset by the refreshes (max seen $refreshed_ttl s)";

# the idle one has expired, everywhere
for my $k (0, 1) {
    check_error(ping($U[$k], $idle), 404, -32001, qr/^Session not found$/,
                'the idle session expired: 404 on node ' . ('A', 'B')[$k]);
}
is $redis->cli('EXISTS', $prefix . sha256_hex($idle)), '0', '... its key is gone from Redis';
is ping($U[1], $busy)->code, 200, 'the busy one still works';
