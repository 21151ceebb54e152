# External mode when Redis goes away: requests of existing sessions get
# 503 with a JSON-RPC body and Retry-After (never 404: a client drops a
# session it was told is gone), quickly; both httpd keep running; when
# Redis comes back with its data (appendonly) the same sessions work again
# without touching Apache. Then the same with a hung Redis (SIGSTOP): the
# first request waits at most MCPSessionStoreTimeout.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore);
use Time::HiRes qw(sleep time);
use MCPTest;

# Redis is killed and suspended: calls fail (MCPS00411), and a node
# (re)started while it is down says so (MCPS00401).
# expect-log: MCPS00411 MCPS00401

skip_unless_redis();

plan tests => 25;

my $TIMEOUT = 2;
my $prefix  = "mcp:t23:$$:";
my ($redis, $A, $B) = start_fleet(
    name => 't23', prefix => $prefix, conf => "MCPSessionStoreTimeout $TIMEOUT\n",
    redis => { appendonly => 'yes', args => ['--appendfsync', 'always'] });
my @U = ($A->url, $B->url);

sub ping { mcp_post($_[0], rpc('ping'), session_headers($_[1]), -timeout => 30) }
sub median { my @s = sort { $a <=> $b } @_; return $s[int $#s / 2] }

my ($s1) = initialize($U[0]);
my ($s2) = initialize($U[1]);
ok is_session_id($s1) && is_session_id($s2), 'two sessions';
is ping($U[1], $s1)->code, 200, 'session 1 works on node B';

# --- Redis crashes ----------------------------------------------------------
my $offset_a = file_size($A->error_log_path);
$redis->kill;
ok !$redis->running, 'redis-server killed (SIGKILL)';

my (@lat, %codes, $first);
my $t_end = time + 3;
my $i = 0;
while (time < $t_end) {
    my $t = time;
    my $res = ping($U[$i % 2], $i % 4 < 2 ? $s1 : $s2);
    push @lat, time - $t;
    $codes{ $res->code }++;
    $first //= $res;
    $i++;
    sleep 0.05;
}
is_deeply [keys %codes], [503], scalar(@lat) . ' requests of live sessions during the outage: all 503 (no 404)'
    or diag explain \%codes;
check_error($first, 503, -32000, qr/^Service Unavailable/, 'a JSON-RPC error body');
like $first->header('Retry-After') // '', qr/^\d+$/, 'with Retry-After: ' . ($first->header('Retry-After') // 'none');
my ($max, $med) = ((sort { $b <=> $a } @lat)[0], median(@lat));
cmp_ok $max, '<', $TIMEOUT, sprintf('each within MCPSessionStoreTimeout (max %.1f ms, median %.1f ms)',
                                    $max * 1000, $med * 1000);

my ($init_res) = mcp_post($U[0], init_message());
check_error($init_res, 503, -32000, qr/^Service Unavailable/, 'initialize during the outage: 503');
ok defined $init_res->header('Retry-After'), '... with Retry-After';
my $del = mcp_delete($U[1], session_headers($s2));
is $del->code, 503, 'DELETE during the outage: 503 (not 404, not 200)';
ok $A->running && $B->running, 'both httpd are still running';
is mcp_get($A->url('/server-status?auto'))->code, 200, 'and serve other requests';
like mcp_get($B->url('/server-status?auto'))->content, qr/^MCPSessionRedisHealthy: 0$/m,
    'mod_status on node B shows the store unhealthy';
ok wait_for_log($A->error_log_path, qr/MCPS00411|session store .* failed/, 5, $offset_a),
    'node A logged the outage';

# --- Redis returns with its data ---------------------------------------------
ok $redis->start, 'redis-server restarted (same port, appendonly data)';
my $t_back = time;
my $back = wait_for(sub { ping($U[0], $s1)->code == 200 && ping($U[1], $s1)->code == 200 }, 15, 0.05);
my $recover = time - $t_back;
ok $back, sprintf('session 1 works again on both nodes %.2f s after Redis answered, no Apache restart', $recover);
is ping($U[0], $s2)->code, 200, 'session 2 too';
# a child logs the recovery at its first success after it saw the outage:
# keep asking (fresh connections), so that such a child gets a request
# (under event one child may have taken every request since the restart)
ok wait_for(sub {
        ping($U[0], $s2);
        scalar grep_log($A->error_log_path, qr/MCPS00412|answers again/, $offset_a);
    }, 10, 0.05),
    'node A logged that Redis answers again';
diag sprintf('outage: %d requests, 503 latency max %.1f ms, median %.1f ms; recovery %.2f s',
             scalar(@lat), $max * 1000, $med * 1000, $recover);

# --- a hung Redis (accepts connections, never answers) ---------------------
# warm both nodes' connections first, then stop the process
ping($U[$_ % 2], $s1) for 1 .. 8;
$redis->suspend;
my (@hung_lat, %hung_codes);
for my $k (1 .. 6) {
    my $t = time;
    $hung_codes{ ping($U[$k % 2], $s1)->code }++;
    push @hung_lat, time - $t;
}
$redis->resume;
is_deeply [keys %hung_codes], [503], 'hung Redis: 503, never 404' or diag explain \%hung_codes;
my $hung_max = (sort { $b <=> $a } @hung_lat)[0];
# a request waits at most the read timeout, plus apr_redis' 1 s connect
# timeout when it had to open a connection
cmp_ok $hung_max, '<', $TIMEOUT + 1.5,
    sprintf('hung Redis: the slowest request took %.2f s (timeout %d s)', $hung_max, $TIMEOUT);
diag 'hung Redis latencies (s): ' . join(' ', map { sprintf '%.2f', $_ } @hung_lat);
my $t_res = time;
ok wait_for(sub { ping($U[0], $s1)->code == 200 && ping($U[1], $s1)->code == 200 }, 15, 0.05),
    sprintf('after SIGCONT the session works again (%.2f s)', time - $t_res);

# --- graceful restart of a node while Redis is down keeps the data ----------
$redis->kill;
ok $A->graceful, 'graceful restart of node A while Redis is down';
ok $A->running, 'node A runs';
ok $redis->start, 'Redis back';
ok wait_for(sub { ping($U[0], $s1)->code == 200 }, 15, 0.05), 'session 1 works on node A again';
