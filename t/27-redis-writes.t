# What the Redis store writes, and when it must not.
#
# - A request that changes its session (logging/setLevel in a 2025-03-26
#   batch, with a tool call that sleeps so that it runs 4 s) must not bring the
#   session back when it expired meanwhile (TTL 2 s), nor when it was
#   deleted and its tombstone expired meanwhile: update() is conditional,
#   "DELETE is final" for requests of any length.
# - A new session lives MCPSessionHandshakeTTL in Redis (sliding while it
#   is used) until notifications/initialized, which gives it the full TTL.
# - MCPSessionRefreshAfter between TTL/2 and TTL is warned about at start.
#
# expect-log: MCPS00443
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore);
use Digest::SHA qw(sha256_hex);
use POSIX ();
use Time::HiRes qw(sleep time);
use MCPTest;

skip_unless_redis();

plan tests => 21;

my $redis = start_redis(name => 't27-redis');
sub conf { $redis->store_conf(@_) }
my $OLD = '2025-03-26';     # batches

sub ping {
    my ($url, $sid, $v) = @_;
    return mcp_post($url, rpc('ping'), session_headers($sid, $v))->code;
}
# A batch that changes the session (setLevel first) and then runs one
# tool call that sleeps $ms milliseconds (one call: a batch starts no new
# request after 2 s).
sub slow_change {
    my ($url, $sid, $ms) = @_;
    my @batch = (rpc('logging/setLevel', { level => 'debug' }),
                 rpc('tools/call', { name => 'test_sleep', arguments => { ms => $ms } }));
    return mcp_post($url, \@batch, session_headers($sid, $OLD), -timeout => 60);
}
sub key_of { my ($prefix, $sid) = @_; return $prefix . sha256_hex($sid) }

# --- a session that expires while a long request changes it ----------------
my $p1 = "mcp:t27a:$$:";
my $T = start_node(name => 't27-ttl', conf => conf($p1, 'MCPSessionTTL 2'));
my ($s1) = initialize($T->url, protocolVersion => $OLD);
ok is_session_id($s1), 'a 2025-03-26 session, TTL 2 s';
my $t0 = time;
my $res = slow_change($T->url, $s1, 4000);
my $took = time - $t0;
is $res->code, 200, 'a batch with logging/setLevel and slow tool calls: 200';
cmp_ok $took, '>', 3, sprintf('it ran %.1f s, longer than the TTL', $took);
is $redis->cli('EXISTS', key_of($p1, $s1)), '0', 'no record in Redis after it';
is ping($T->url, $s1, $OLD), 404, 'the session stays gone: 404 (its update did not revive it)';

# --- deleted, and the tombstone gone too, while a long request runs -------
my $p2 = "mcp:t27b:$$:";
my $L = start_node(name => 't27-long', conf => conf($p2, 'MCPSessionTTL 600'));
my ($s2) = initialize($L->url, protocolVersion => $OLD);
ok is_session_id($s2), 'a session with TTL 600 s';
my $out = MCPTest::work_dir() . "/t27-slow-$$";
my $pid = fork();
die "fork: $!" unless defined $pid;
if (!$pid) {
    my $r = slow_change($L->url, $s2, 3000);
    open my $fh, '>', $out or POSIX::_exit(1);
    print $fh $r->code;
    close $fh;
    POSIX::_exit(0);
}
sleep 0.8;
is mcp_delete($L->url, session_headers($s2, $OLD))->code, 200, 'DELETE while the long request runs';
ok $redis->cli('EXISTS', key_of($p2, $s2) . ':deleted'), 'a tombstone is there';
# what a tombstone's expiry (max(TTL, 60 s) later) does to a longer request
$redis->cli('DEL', key_of($p2, $s2) . ':deleted');
waitpid $pid, 0;
is MCPTest::read_from($out), '200', 'the long request finished (200)';
unlink $out;
is $redis->cli('EXISTS', key_of($p2, $s2)), '0', 'no record in Redis after it';
is ping($L->url, $s2, $OLD), 404, 'the deleted session stays gone: 404';

# --- the handshake TTL ------------------------------------------------------
my $p3 = "mcp:t27c:$$:";
my $H = start_node(name => 't27-hs',
                   conf => conf($p3, 'MCPSessionTTL 600', 'MCPSessionHandshakeTTL 3'));
my ($half) = initialize($H->url, no_initialized => 1);
my ($slid) = initialize($H->url, no_initialized => 1);
my ($full) = initialize($H->url);
ok is_session_id($half) && is_session_id($slid) && is_session_id($full), 'three sessions';
my $ttl_half = $redis->cli('TTL', key_of($p3, $half));
my $ttl_full = $redis->cli('TTL', key_of($p3, $full));
ok $ttl_half > 0 && $ttl_half <= 3, "without notifications/initialized its key lives the handshake TTL ($ttl_half s)";
ok $ttl_full > 590, "after notifications/initialized the full TTL ($ttl_full s)";
sleep 2;
is ping($H->url, $slid), 200, 'a handshake session used after 2 s: 200';
my $ttl_slid = $redis->cli('TTL', key_of($p3, $slid));
ok $ttl_slid >= 2 && $ttl_slid <= 3, "... and its key slid, still the handshake TTL ($ttl_slid s)";
sleep 1.6;
is $redis->cli('EXISTS', key_of($p3, $half)), '0',
    'the session that never completed the handshake is gone from Redis after 3 s';
is ping($H->url, $half), 404, '... and answers 404';
is ping($H->url, $slid), 200, 'the one used meanwhile still works';
is ping($H->url, $full), 200, 'the initialized one too';

# --- MCPSessionRefreshAfter above TTL/2 ---------------------------------------
my $W = start_node(name => 't27-warn',
                   conf => conf("mcp:t27d:$$:", 'MCPSessionTTL 10', 'MCPSessionRefreshAfter 7'));
ok scalar(grep_log($W->error_log_path, qr/MCPS00443:.*used at least every 3000 ms/)),
    'RefreshAfter 7 s with TTL 10 s: a startup warning names the real guarantee (3 s)';
