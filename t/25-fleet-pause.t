# Redis pauses (SIGSTOP for 3 s, then SIGCONT) under steady load on two
# external-mode nodes, several times in a row. In every run, every request
# answers 200 or 503 (never 404: a client drops a session it is told is
# gone), and every child of every node is healthy again soon after Redis
# continued: no request that starts later than 2 s after SIGCONT gets
# 503. The requirement is 6 s; a child that finds Redis down probes it at
# most every 500 ms, so 2 s leaves room for a loaded machine. (Before the
# probes, a child refused every call for 5 s after a timeout, 4 s past
# SIGCONT in every run here, and 5 s more after each probe that timed
# out.)
#
# MCP_PAUSE_RUNS (default 5) sets the number of runs.
#
# expect-log: MCPS00411 MCPS00340
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore);
use IO::Socket::INET;
use POSIX ();
use Time::HiRes qw(sleep time);
use MCPTest;

skip_unless_redis();

my $RUNS     = $ENV{MCP_PAUSE_RUNS} || 5;
my $PAUSE    = 3;       # seconds Redis is stopped
my $WARM     = 1.5;     # load before the pause
my $OBSERVE  = 7;       # load after SIGCONT (longer than the required 6 s)
my $LIMIT    = 2;       # healthy again within this after SIGCONT
my $WORKERS  = 3;       # load processes per node
my $SESSIONS = 8;

plan tests => 2 + 4 * $RUNS + 1;

my $prefix = "mcp:t25:$$:";
my $redis  = start_redis(name => 't25-redis');
my $conf   = $redis->store_conf($prefix, 'MCPSessionTTL 600', 'MCPSessionStoreTimeout 2');
my @nodes = map { start_node(name => "t25-$_", conf => $conf, loglevel => 'info') } qw(a b);
my @ports = map { $_->port } @nodes;

my @sids = map { scalar initialize($nodes[$_ % 2]->url) } 1 .. $SESSIONS;
is scalar(grep { is_session_id($_) } @sids), $SESSIONS, "$SESSIONS sessions";
is scalar(grep { mcp_post($nodes[1]->url, rpc('ping'), session_headers($_))->code == 200 } @sids),
    $SESSIONS, 'all usable on node B';

# One POST ping over a fresh connection (so that prefork spreads them over
# all children); the HTTP status, or 0 when the connection failed.
sub raw_ping {
    my ($port, $sid) = @_;
    my $body = '{"jsonrpc":"2.0","id":1,"method":"ping"}';
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                  Proto => 'tcp', Timeout => 5) or return 0;
    print $s "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
           . "Content-Type: application/json\r\n"
           . "Accept: application/json, text/event-stream\r\n"
           . "Mcp-Session-Id: $sid\r\nMCP-Protocol-Version: $LATEST\r\n"
           . 'Content-Length: ' . length($body) . "\r\n\r\n$body";
    my $head = '';
    local $SIG{ALRM} = sub { die "timeout\n" };
    my $ok = eval {
        alarm 10;
        while ($head !~ /\r\n/) {
            my $n = sysread($s, $head, 512, length $head);
            last unless $n;
        }
        alarm 0;
        1;
    };
    alarm 0;
    close $s;
    return $ok && $head =~ m{^HTTP/1\.\d (\d{3})} ? $1 : 0;
}

# Load: $WORKERS processes per node until $until, each writing
# "node start end status" lines.
sub start_load {
    my ($file, $until) = @_;
    my @kids;
    for my $n (0 .. $#nodes) {
        for my $w (1 .. $WORKERS) {
            my $pid = fork();
            die "fork: $!" unless defined $pid;
            if (!$pid) {
                srand($$ ^ time);
                open my $out, '>', "$file.$n.$w" or POSIX::_exit(1);
                my $i = int rand $SESSIONS;
                while (time < $until) {
                    my $t = time;
                    my $code = raw_ping($ports[$n], $sids[$i++ % $SESSIONS]);
                    printf $out "%d %.4f %.4f %d\n", $n, $t, time, $code;
                    sleep 0.01;
                }
                close $out;
                POSIX::_exit(0);
            }
            push @kids, $pid;
        }
    }
    return @kids;
}

my $file = MCPTest::work_dir() . "/t25-load-$$";
my @recoveries;
for my $run (1 .. $RUNS) {
    unlink glob "$file.*";
    my $t0 = time;
    my @kids = start_load($file, $t0 + $WARM + $PAUSE + $OBSERVE);
    sleep $WARM;
    $redis->suspend;
    my $t_stop = time;
    sleep $PAUSE;
    $redis->resume;
    my $t_cont = time;
    waitpid $_, 0 for @kids;

    my (%codes, $last_fail, @late);
    my $n = 0;
    for my $f (glob "$file.*") {
        open my $in, '<', $f or next;
        while (<$in>) {
            my ($node, $start, $end, $code) = split;
            $n++;
            $codes{$code}++;
            next if $code == 200;
            # the end of the latest failure after SIGCONT
            $last_fail = $end if $end > $t_cont && (!defined $last_fail || $end > $last_fail);
            push @late, sprintf('node %s: %d at +%.2f s', $node ? 'B' : 'A', $code, $start - $t_cont)
                if $start > $t_cont + $LIMIT;
        }
        close $in;
    }
    my $rec = defined $last_fail ? $last_fail - $t_cont : 0;
    push @recoveries, $rec;
    my $summary = join ', ', map { "$_: $codes{$_}" } sort keys %codes;
    ok !$codes{404}, "run $run: no 404 among $n requests ($summary)";
    ok !grep({ $_ != 200 && $_ != 503 } keys %codes), "run $run: only 200 and 503";
    ok $codes{503}, "run $run: the pause was seen (503s)";
    ok !@late, sprintf('run %d: no failure later than %d s after SIGCONT (last one ended +%.2f s)',
                       $run, $LIMIT, $rec)
        or diag join "\n", @late[0 .. ($#late > 9 ? 9 : $#late)];
    # let the last timeouts run out before the next pause
    sleep 1;
}
unlink glob "$file.*";
diag sprintf('recovery after SIGCONT per run (s): %s', join ' ', map { sprintf '%.2f', $_ } @recoveries);
ok $nodes[0]->running && $nodes[1]->running, 'both nodes still run';
