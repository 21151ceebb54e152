# External mode, two independent httpd nodes sharing one redis-server:
# a session made on one node works on the other, DELETE on one ends it on
# both, a node restart keeps it, and what lands in Redis is what the
# contract says (prefix + SHA-256 of the id, no session id anywhere, the
# configured TTL). Also counts the Redis commands of ordinary requests.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore);
use Digest::SHA qw(sha256_hex);
use MCPTest;

skip_unless_redis();

plan tests => 33;

my $TTL    = 120;
my $prefix = "mcp:t20:$$:";
my ($redis, $A, $B) = start_fleet(name => 't20', prefix => $prefix,
                                   conf => "MCPSessionTTL $TTL\n");
my ($UA, $UB) = ($A->url, $B->url);

# commandstats() -> { get => calls, setex => calls, del => calls }
sub commandstats {
    my %c = map { $_ => 0 } qw(get setex del);
    for ($redis->cli('INFO', 'commandstats')) {
        $c{$1} = $2 if /^cmdstat_(\w+):calls=(\d+)/;
    }
    return \%c;
}
sub delta {
    my ($before, $after) = @_;
    return join ' ', map { "$_=" . ($after->{$_} - $before->{$_}) } qw(get setex del);
}
sub ping { mcp_post($_[0], rpc('ping'), session_headers($_[1])) }

# --- create on A, use on B -------------------------------------------------
my ($sid, $res) = initialize($UA);
ok is_session_id($sid), 'initialize on node A gives a session id';

$res = ping($UB, $sid);
is $res->code, 200, 'ping with it on node B: 200';
is $res->header('Mcp-Session-Id'), $sid, '... with the same Mcp-Session-Id';

my ($r2, $m2) = mcp_call($UB, $sid, 'tools/call', { name => 'add', arguments => { a => 2, b => 3 } });
is $r2->code, 200, 'tools/call add on node B: 200';
is $m2 && $m2->{result} && $m2->{result}{content}[0]{text}, '5', '... answers 5';
my ($r3, $m3) = mcp_call($UA, $sid, 'tools/call', { name => 'echo', arguments => { text => 'fleet' } });
is $m3 && $m3->{result} && $m3->{result}{content}[0]{text}, 'fleet', 'tools/call echo back on node A';

# --- what Redis holds -------------------------------------------------------
my $key = $prefix . sha256_hex($sid);
my @keys = grep { length } $redis->cli('--scan', '--pattern', "$prefix*");
is_deeply \@keys, [$key], 'Redis holds one key: prefix + SHA-256 hex of the session id';
ok !grep({ index($_, $sid) >= 0 } @keys), 'no key contains the session id';
my $value = $redis->cli('GET', $key);
like $value, qr/^\d+ \{/, 'the value is "<write time> <JSON record>"';
ok index($value, $sid) < 0, 'the value does not contain the session id';
my $ttl = $redis->cli('TTL', $key);
ok $ttl > $TTL - 15 && $ttl <= $TTL, "the key's TTL is MCPSessionTTL ($ttl of $TTL s)";

# --- DELETE on B: gone on A -------------------------------------------------
my ($sid2) = initialize($UB);
ok is_session_id($sid2), 'a second session, made on node B';
is ping($UA, $sid2)->code, 200, '... usable on node A';
$res = mcp_delete($UB, session_headers($sid2));
is $res->code, 200, 'DELETE on node B: 200';
check_error(ping($UA, $sid2), 404, -32001, qr/^Session not found$/,
            'then node A answers 404 Session not found');
check_error(ping($UB, $sid2), 404, -32001, qr/^Session not found$/, '... and node B too');
is mcp_delete($UA, session_headers($sid2))->code, 404, 'a second DELETE (on node A): 404';
my $key2 = $prefix . sha256_hex($sid2);
is $redis->cli('EXISTS', $key2), '0', 'the record key is gone from Redis';
my $tomb = $redis->cli('TTL', "$key2:deleted");
ok $tomb > 0, "a tombstone key <key>:deleted remains for a while (TTL $tomb s)";
is ping($UA, $sid)->code, 200, 'the first session is untouched';

# --- stop and start node A --------------------------------------------------
$A->stop;
ok !$A->running, 'node A stopped';
is ping($UB, $sid)->code, 200, 'node B serves the session meanwhile';
ok $A->start, 'node A started again';
$res = ping($UA, $sid);
is $res->code, 200, 'the session is still valid on the restarted node A';
is $res->header('Mcp-Session-Id'), $sid, '... same Mcp-Session-Id';

# --- Redis round trips per request -----------------------------------------
my $N = 20;
my $c0 = commandstats();
my $bad = 0;
for my $i (1 .. $N) {
    $bad++ if ping($i % 2 ? $UA : $UB, $sid)->code != 200;
}
my $c1 = commandstats();
my $ping_delta = delta($c0, $c1);
is $bad, 0, "$N pings alternating A/B: all 200";
is_deeply [map { $c1->{$_} - $c0->{$_} } qw(get setex del)], [$N, 0, 0],
    "$N pings (no refresh due) cost exactly $N GETs, no write (" . delta($c0, $c1) . ')';

$c0 = commandstats();
my ($sid3) = initialize($UA, no_initialized => 1);
$c1 = commandstats();
my $c2_init = delta($c0, $c1);
my $n = mcp_post($UB, rpc('notifications/initialized', undef, undef), session_headers($sid3));
my $c2 = commandstats();
my $c2_notif = delta($c1, $c2);
is $n->code, 202, 'notifications/initialized on node B: 202';
mcp_call($UA, $sid3, 'tools/call', { name => 'add', arguments => { a => 1, b => 1 } });
my $c3 = commandstats();
is mcp_delete($UB, session_headers($sid3))->code, 200, 'DELETE';
my $c4 = commandstats();
diag "Redis commands: initialize: $c2_init; notifications/initialized: $c2_notif; "
   . 'tools/call: ' . delta($c2, $c3) . '; DELETE: ' . delta($c3, $c4)
   . "; $N pings: $ping_delta";
is $c1->{setex} - $c0->{setex}, 1, 'initialize writes the new session once (SETEX)';
is delta($c2, $c3), 'get=1 setex=0 del=0', 'a tools/call is one GET';
is delta($c3, $c4), 'get=1 setex=1 del=2',
    'DELETE: GET (load), DEL record (did it exist?), SETEX tombstone, DEL record';

# --- mod_status --------------------------------------------------------------
my $st = mcp_get($A->url('/server-status?auto'));
like $st->content, qr/^MCPSessionRedisHealthy: 1$/m,
    'mod_status ?auto on node A shows the Redis store healthy';
