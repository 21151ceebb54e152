# Stopping or restarting a node while Redis calls are in progress. prefork
# destroys a child's pool from its signal handler (just_die), and the
# Redis connection pool (apr_reslist) aborts the process when it is
# destroyed with a connection checked out ("Assertion `rl->ntotal == 0'",
# "exit signal Abort (6)"). Under load, with Redis hung (SIGSTOP) so that
# calls are in flight, a restart (HUP), a graceful restart (USR1) and a
# stop (TERM) must log no abort, assertion or crash; and the same with
# Redis answering.
#
# expect-log: MCPS00411 MCPS00405 MCPS00340 AH00045 AH00161
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore);
use POSIX ();
use Time::HiRes qw(sleep time);
use MCPTest;

skip_unless_redis();

plan tests => 12;

my $prefix = "mcp:t26:$$:";
my $redis  = start_redis(name => 't26-redis');
my $conf   = $redis->store_conf($prefix, 'MCPSessionStoreTimeout 4');
my $node = start_node(name => 't26', conf => $conf, loglevel => 'info');
my $log  = $node->error_log_path;

my @sids = map { scalar initialize($node->url) } 1 .. 4;
is scalar(grep { is_session_id($_) } @sids), 4, 'four sessions';

# Clients sending pings until $until; each request its own connection, so
# that every child has calls.
sub load {
    my ($until) = @_;
    my @kids;
    for my $w (1 .. 6) {
        my $pid = fork();
        die "fork: $!" unless defined $pid;
        if (!$pid) {
            my $i = $w;
            while (time < $until) {
                mcp_post($node->url, rpc('ping'), session_headers($sids[$i++ % @sids]),
                         -timeout => 8);
                sleep 0.02;
            }
            POSIX::_exit(0);
        }
        push @kids, $pid;
    }
    return @kids;
}

my $bad = qr/exit signal|[Aa]ssertion|Segmentation|AH00052|AH00060/;
my $offset = file_size($log);

# --- restart (HUP) with calls hanging on a stopped Redis -------------------
my @kids = load(time + 4);
sleep 0.5;
$redis->suspend;
sleep 1;                        # calls are now waiting for Redis
ok $node->restart(timeout => 20), 'restart (HUP) while Redis calls are in flight';
$redis->resume;
waitpid $_, 0 for @kids;
ok wait_for(sub { mcp_post($node->url, rpc('ping'), session_headers($sids[0]))->code == 200 }, 10),
    'the sessions work after the restart';

# --- graceful restart (USR1), same --------------------------------------------
@kids = load(time + 4);
sleep 0.5;
$redis->suspend;
sleep 1;
ok $node->graceful(timeout => 20), 'graceful restart (USR1) while Redis calls are in flight';
$redis->resume;
waitpid $_, 0 for @kids;
ok wait_for(sub { mcp_post($node->url, rpc('ping'), session_headers($sids[1]))->code == 200 }, 10),
    'the sessions work after the graceful restart';

# --- restart under load with Redis answering ---------------------------------
@kids = load(time + 2.5);
sleep 0.5;
ok $node->restart(timeout => 20), 'restart (HUP) under load, Redis answering';
waitpid $_, 0 for @kids;

# --- stop (TERM) with calls hanging ------------------------------------------
@kids = load(time + 4);
sleep 0.5;
$redis->suspend;
sleep 1;
my @children = $node->child_pids;
ok scalar(@children), scalar(@children) . ' children before the stop';
ok $node->stop, 'stop (TERM) while Redis calls are in flight';
$redis->resume;
waitpid $_, 0 for @kids;
ok !$node->running, 'the node is down';

my @lines = grep_log($log, $bad, $offset);
is scalar(@lines), 0, 'no abort, assertion or crash in the error log'
    or diag join "\n", @lines[0 .. ($#lines > 9 ? 9 : $#lines)];

# --- and a stop under load with Redis answering ------------------------------
ok $node->start, 'node started again';
$offset = file_size($log);
@kids = load(time + 2);
sleep 0.7;
$node->stop;
waitpid $_, 0 for @kids;
@lines = grep_log($log, $bad, $offset);
is scalar(@lines), 0, 'stop under load, Redis answering: no abort or crash'
    or diag join "\n", @lines;
