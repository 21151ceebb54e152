# A hung store must not tie up every thread of a child, and a child with
# more session requests at once than Redis connections must not mistake
# that for an outage.
#
# 1. The breaker (MCPSessionStoreBreaker, default 250 ms; in mcp_store.c,
#    for every provider). Redis is stopped (SIGSTOP); requests to one child
#    (event MPM, one process) arrive every 100 ms. Only those that came
#    while no call had yet waited 250 ms wait the full
#    MCPSessionStoreTimeout; the rest get 503 at once. All 503, none 404.
#    After SIGCONT the session works again; mod_status counts the trips.
#    (prefork runs one call per process at a time: nothing to break.)
# 2. Busy: HTTP/2 streams run more store calls at once than the child's
#    ThreadsPerChild Redis connections. With Redis slow (DEBUG SLEEP 0.3 s
#    over and over, every single call still far below the timeout), calls
#    that cannot get a connection within the timeout get 503 as "busy":
#    no outage is logged (MCPS00411), no failure counted, the store stays
#    healthy and the next request is served.
#
# expect-log: MCPS00340 MCPS00411 MCPS00441
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore);
use POSIX ();
use Time::HiRes qw(sleep time);
use MCPTest;

skip_unless_redis();

plan tests => 19;

my $TIMEOUT = 2;
my $N       = 15;
my $redis   = start_redis(name => 't29-redis', args => ['--enable-debug-command', 'yes']);
sub conf {
    my ($prefix, @more) = @_;
    # one child serves everything
    return $redis->store_conf($prefix, 'MinSpareThreads 1', 'MaxSpareThreads 128', @more);
}
sub ping { mcp_post($_[0], rpc('ping'), session_headers($_[1]), -timeout => 20) }

# --- 1. the breaker -----------------------------------------------------------
my $B = start_node(name => 't29-breaker', mpm => 'event', servers => 1, threads => 24,
                   conf => conf("mcp:t29a:$$:", "MCPSessionStoreTimeout $TIMEOUT"));
my $sid = initialize($B->url);
ok is_session_id($sid), 'a session';
ping($B->url, $sid) for 1 .. 10;        # connections in the pool
my $offset = file_size($B->error_log_path);

$redis->suspend;
my $file = MCPTest::work_dir() . "/t29-lat-$$";
unlink glob "$file.*";
my @kids;
for my $k (1 .. $N) {
    my $pid = fork();
    die "fork: $!" unless defined $pid;
    if (!$pid) {
        my $t = time;
        my $res = ping($B->url, $sid);
        my $msg = eval { json_decode($res->content)->{error}{message} } // '';
        open my $out, '>', "$file.$k" or POSIX::_exit(1);
        printf $out "%d %.3f %s\n", $res->code, time - $t, $msg;
        close $out;
        POSIX::_exit(0);
    }
    push @kids, $pid;
    sleep 0.1;
}
waitpid $_, 0 for @kids;
$redis->resume;
my (%codes, @lat, @msg);
for my $k (1 .. $N) {
    my ($code, $lat, $msg) = split ' ', MCPTest::read_from("$file.$k"), 3;
    $codes{ $code // 'none' }++;
    push @lat, $lat // 99;
    push @msg, $msg // '';
}
unlink glob "$file.*";
is_deeply \%codes, { 503 => $N }, "hung Redis: $N requests 100 ms apart all answer 503 (never 404)"
    or diag explain \%codes;
my $slow = grep { $_ >= $TIMEOUT - 0.5 } @lat;
# "fast" is generous (half the timeout): a loaded machine answers a 503 in
# far less, and a request that waited for Redis takes the whole timeout
my $fast = grep { $_ < $TIMEOUT / 2 } @lat;
cmp_ok $slow, '<=', 5, "$slow of them waited about the timeout ($TIMEOUT s)";
cmp_ok $fast, '>=', $N - 5, "$fast got their 503 within " . ($TIMEOUT / 2) . ' s';
# the breaker's 503s say "busy"; those that waited for Redis (and any the
# Redis store fails fast once it knows Redis is down) say "not reachable"
cmp_ok scalar(grep { /^Service Unavailable: the session store is busy; retry later$/ } @msg), '>=', 1,
    'the breaker\'s 503s say the store is busy' or diag join "\n", @msg;
is scalar(grep { !/^Service Unavailable: the session store is (busy|not reachable); retry later$/ } @msg), 0,
    '... and every 503 says busy or not reachable' or diag join "\n", @msg;
diag 'latencies (s): ' . join ' ', map { sprintf '%.2f', $_ } @lat;
ok wait_for(sub { ping($B->url, $sid)->code == 200 }, 3, 0.05), 'after SIGCONT the session works again';
my $st = status_auto($B->url('/server-status'));
cmp_ok $st->{MCPSessionStoreBreakerTrips} // 0, '>=', 1,
    'mod_status: MCPSessionStoreBreakerTrips ' . ($st->{MCPSessionStoreBreakerTrips} // 'missing');
cmp_ok $st->{MCPSessionStoreBreakerRefused} // 0, '>=', $N - 5,
    'mod_status: MCPSessionStoreBreakerRefused ' . ($st->{MCPSessionStoreBreakerRefused} // 'missing');
ok scalar(grep_log($B->error_log_path, qr/\[mcp_session:warn\].*MCPS00340:/, $offset)),
    'the breaker logged why it answers 503';
ok scalar(grep_log($B->error_log_path, qr/MCPS00342:.*breaker closes/, $offset)),
    '... and when it closed';

# MCPSessionStoreBreaker off: every request waits
my $O = start_node(name => 't29-off', mpm => 'event', servers => 1, threads => 8,
                   conf => conf("mcp:t29a:$$:", "MCPSessionStoreTimeout $TIMEOUT",
                                'MCPSessionStoreBreaker off'));
ping($O->url, $sid) for 1 .. 4;
$redis->suspend;
@kids = ();
for my $k (1 .. 3) {
    my $pid = fork();
    die "fork: $!" unless defined $pid;
    if (!$pid) {
        my $t = time;
        ping($O->url, $sid);
        open my $out, '>', "$file.$k" or POSIX::_exit(1);
        printf $out "%.3f\n", time - $t;
        close $out;
        POSIX::_exit(0);
    }
    push @kids, $pid;
    sleep 0.4;
}
waitpid $_, 0 for @kids;
$redis->resume;
my @off = map { MCPTest::read_from("$file.$_") + 0 } 1 .. 3;
unlink glob "$file.*";
is scalar(grep { $_ >= $TIMEOUT - 0.5 } @off), 3,
    'with MCPSessionStoreBreaker off, requests 400 ms apart all wait the timeout ('
    . join(' ', map { sprintf '%.2f', $_ } @off) . ')';
$O->stop;

# --- 2. busy: more calls at once than connections -------------------------------
SKIP: {
    my $mods = MCPTest::Node::modules_dir();
    my $node_bin = grep { -x "$_/node" } split /:/, $ENV{PATH} // '';
    skip 'needs mod_http2 and node', 7 unless -e "$mods/mod_http2.so" && $node_bin;
    my $H = start_node(name => 't29-h2', mpm => 'event', servers => 1, threads => 4,
                       conf => conf("mcp:t29b:$$:", 'MCPSessionStoreTimeout 1',
                                    'MCPSessionStoreBreaker off',
                                    "LoadModule http2_module \"$mods/mod_http2.so\"",
                                    'Protocols h2c http/1.1', 'H2MinWorkers 64',
                                    'H2MaxWorkers 64'));
    my $hsid = initialize($H->url);
    ok is_session_id($hsid), 'a session on a node with 4 threads (4 Redis connections) and HTTP/2';
    my $hoff = file_size($H->error_log_path);
    # Redis sleeps 0.3 s, over and over, for about 3.6 s
    my $sleeper = fork();
    die "fork: $!" unless defined $sleeper;
    if (!$sleeper) {
        open STDOUT, '>', '/dev/null';
        exec('redis-cli', '-h', '127.0.0.1', '-p', $redis->port, '-r', '12', 'DEBUG', 'SLEEP', '0.3')
            or POSIX::_exit(1);
    }
    sleep 0.2;
    my @streams = `node "$FindBin::Bin/node/h2-burst.mjs" ${\ $H->url} $hsid 60`;
    waitpid $sleeper, 0;
    my %h;
    $h{ (split ' ', $_)[0] }++ for @streams;
    ok !$h{404} && !grep({ $_ != 200 && $_ != 503 } keys %h),
        '60 streams at once: only 200 and 503 (' . join(', ', map { "$_ x$h{$_}" } sort keys %h) . ')';
    my $hs = status_auto($H->url('/server-status'));
    cmp_ok $hs->{MCPSessionRedisBusy} // 0, '>', 0,
        'some found no free connection in time: MCPSessionRedisBusy ' . ($hs->{MCPSessionRedisBusy} // 'missing');
    is $hs->{MCPSessionRedisFailures}, 0, 'that is not a failure of Redis (MCPSessionRedisFailures 0)';
    is $hs->{MCPSessionRedisHealthy}, 1, 'the store stays healthy';
    ok !grep_log($H->error_log_path, qr/MCPS00411/, $hoff), 'no outage logged (MCPS00411)';
    is ping($H->url, $hsid)->code, 200, 'the next request is served';
}
