# publish/wait of mod_mcp_session_redis between two Apache nodes sharing a
# Redis (one Stream per channel, blocking XREAD), through the test module
# t/modules/mod_mcp_test_store.c (MCPTestStoreContract redis redis://...:
# with the module loaded, "redis" is its provider):
#   - a waiter on node B gets every message published on node A, in
#     order, and one on node A those of node B;
#   - a message wakes a waiter at once (not at its next round);
#   - zero polling: Redis runs exactly one XREAD per wait() call, and an
#     idle waiter costs about one per second of its own timeout, whatever
#     the elapsed time;
#   - a channel's stream lost in Redis (DEL, as a restart without data)
#     while a waiter waits: the waiter is told (APR_INCOMPLETE) and gets
#     what is published next, instead of staying deaf;
#   - the channel's key is prefix + "bus:" + channel, with a lifetime.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore);
use IO::Select;
use IO::Socket::INET;
use Time::HiRes qw(sleep time);
use MCPTest;

skip_unless_redis();

my $top = top_dir();
my $so  = "$top/.libs/mod_mcp_test_store.so";
my $rso = "$top/.libs/mod_mcp_session_redis.so";
my @src = map { "$top/$_" } qw(t/modules/mod_mcp_test_store.c t/unit/store_toy.c
                               t/unit/store_toy.h t/store/mcp_store_contract.c
                               t/store/mcp_store_contract.h include/mcp_session_store.h);
if (!-e $so || grep { -M $so > -M $_ } @src) {
    system("make -C '$top' -f Makefile.apxs test-modules >/dev/null 2>&1");
}
unless (-e $so && -e $rso) {
    plan skip_all => 'the test store module or mod_mcp_session_redis is not built';
}

my $redis = start_redis(name => 't74-redis');
my $conf = qq{LoadModule mcp_session_redis_module "$rso"\n}
         . qq{LoadModule mcp_test_store_module "$so"\n}
         . 'MCPTestStoreContract redis ' . $redis->url . "\n"
         . "<Location /contract>\n    SetHandler mcp-store-contract\n</Location>\n";
my $A = start_node(name => 't74-a', conf => $conf, servers => 2);
my $B = start_node(name => 't74-b', conf => $conf, servers => 2);

my $caps = mcp_get($A->url('/contract?store=redis&op=caps'))->content // '';
like $caps, qr/^publish 1$/m, 'the redis provider of mod_mcp_session_redis has publish';
like $caps, qr/^wait 1$/m, '... and wait';

# ---------------------------------------------------------------------
# A waiter: a streaming GET on a node, read line by line.

sub open_waiter {
    my ($node, $query) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $node->port,
                                  Proto => 'tcp', Timeout => 5) or return;
    print $s "GET /contract?store=redis&op=wait&$query HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    my $w = { sock => $s, buf => '', lines => [], at => [] };
    read_lines($w, qr/^ready pid \d+$|^end$/, 10);
    ($w->{pid}) = map { /^ready pid (\d+)$/ ? $1 : () } @{ $w->{lines} };
    return $w;
}

# Read lines (and when each came) until one matches $re or $timeout s.
sub read_lines {
    my ($w, $re, $timeout) = @_;
    my $sel = IO::Select->new($w->{sock});
    my $end = time + $timeout;
    while (time < $end) {
        return 1 if grep { $_ =~ $re } @{ $w->{lines} };
        last unless $sel->can_read($end - time);
        my $got = sysread($w->{sock}, my $chunk, 65536);
        last unless $got;
        $w->{buf} .= $chunk;
        if (!$w->{body}) {
            my $at = index $w->{buf}, "\r\n\r\n";
            next if $at < 0;
            $w->{body} = 1;
            substr($w->{buf}, 0, $at + 4, '');
        }
        while ($w->{buf} =~ s/^([^\n]*)\n//) {
            push @{ $w->{lines} }, $1;
            push @{ $w->{at} }, time;
        }
    }
    return scalar grep { $_ =~ $re } @{ $w->{lines} };
}

sub msgs { map { /^msg \d+ (.*)$/ ? $1 : () } @{ $_[0]{lines} } }

sub publish {
    my ($node, $ch, $msg) = @_;
    my $r = mcp_get($node->url("/contract?store=redis&op=publish&channel=$ch&msg=$msg"));
    my ($st) = ($r->content // '') =~ /^status (.*)$/m;
    return $st // $r->status_line;
}

sub cmdstat {
    my ($cmd) = @_;
    my ($calls) = $redis->cli('INFO', 'commandstats') =~ /^cmdstat_\Q$cmd\E:calls=(\d+)/m;
    return $calls // 0;
}

my $ch = "mcp-t74-$$-" . int rand 1e9;

# --- across nodes, in order ----------------------------------------------------
{
    my $wb = open_waiter($B, "channel=$ch&timeout=20000&until=end");
    my $wa = open_waiter($A, "channel=$ch&timeout=20000&until=end");
    ok $wb && $wb->{pid} && $wa && $wa->{pid}, 'a waiter on node B and one on node A';
    my (@sent, @status);
    for my $i (1 .. 30) {
        my $from = $i % 3 ? $A : $B;            # mostly A, some from B
        push @status, publish($from, $ch, "m$i");
        push @sent, "m$i";
    }
    push @status, publish($A, $ch, 'end');
    push @sent, 'end';
    is_deeply [ grep { $_ ne '0' } @status ], [], '31 publishes on nodes A and B succeeded';
    for my $w ([$wb, 'B'], [$wa, 'A']) {
        read_lines($w->[0], qr/^end$/, 15);
        is_deeply [ msgs($w->[0]) ], \@sent, "the waiter on node $w->[1] got all 31, in order"
            or diag join ' ', @{ $w->[0]{lines} };
    }
    close $_->{sock} for $wa, $wb;
}

my @keys = $redis->cli('--scan', '--pattern', "mcp:contract:bus:$ch");
is_deeply \@keys, ["mcp:contract:bus:$ch"], "the channel is the stream mcp:contract:bus:$ch";
is scalar $redis->cli('TYPE', "mcp:contract:bus:$ch"), 'stream', '... a Redis Stream';
my $ttl = $redis->cli('PTTL', "mcp:contract:bus:$ch");
ok $ttl > 3000 * 1000 && $ttl <= 3600 * 1000, "with a lifetime (an hour at least: PTTL $ttl ms)";
is scalar $redis->cli('XREVRANGE', "mcp:contract:bus:$ch", '+', '-', 'COUNT', 1), "0-31\nm\nend",
    'its ids are the message numbers 0-1 .. 0-31';

# --- woken at once; one XREAD per wait, none while blocked --------------------------
{
    my $ch2 = "$ch.idle";
    $redis->cli('CONFIG', 'RESETSTAT');
    my $w = open_waiter($B, "channel=$ch2&timeout=4500&until=wake");
    ok $w && $w->{pid}, 'a waiter on node B (4.5 s, rounds of 1 s)';
    sleep 2.2;
    my $t0 = time;
    is publish($A, $ch2, 'wake'), '0', 'a publish on node A after 2.2 s idle';
    read_lines($w, qr/^end$/, 10);
    my @m = msgs($w);
    is_deeply \@m, ['wake'], 'the waiter got it';
    my ($i) = grep { $w->{lines}[$_] =~ /^msg / } 0 .. $#{ $w->{lines} };
    my $lag = defined $i ? $w->{at}[$i] - $t0 : 99;
    cmp_ok $lag, '<', 0.5, sprintf('at once (%.0f ms after the publish began), not at its '
                                   . 'next round', $lag * 1000);
    my $ticks = grep { $_ eq 'tick' } @{ $w->{lines} };
    my $waits = 1 + $ticks + @m;                # the priming wait, the rounds, the message
    is cmdstat('xread'), $waits, "Redis ran one XREAD per wait() ($waits: the first, "
        . "$ticks idle round(s) of 1 s, the message), none while they blocked";
    close $w->{sock};

    # a longer idle wait costs no more XREADs than its rounds
    $redis->cli('CONFIG', 'RESETSTAT');
    my $t1 = time;
    $w = open_waiter($A, "channel=$ch2.long&timeout=3000");
    read_lines($w, qr/^end$/, 10);
    my $took = time - $t1;
    $ticks = grep { $_ eq 'tick' } @{ $w->{lines} };
    my $x = cmdstat('xread');
    ok $x == 1 + $ticks && $x <= 5, sprintf('an idle waiter: %d XREADs in %.1f s (%d rounds), '
                                            . 'not one per poll interval', $x, $took, $ticks);
    close $w->{sock};
}

# --- a stream Redis lost while a waiter waits ----------------------------------------
{
    my $ch3 = "$ch.lost";
    my $w = open_waiter($B, "channel=$ch3&timeout=15000&until=after");
    ok $w && $w->{pid}, 'a waiter on node B';
    publish($A, $ch3, "before$_") for 1 .. 5;
    read_lines($w, qr/^msg \d+ before5$/, 5);
    $redis->cli('DEL', "mcp:contract:bus:$ch3");
    is publish($A, $ch3, 'after'), '0', 'the stream deleted in Redis, then a publish on node A';
    read_lines($w, qr/^end$/, 10);
    my @l = grep { $_ ne 'tick' } @{ $w->{lines} };
    my ($inc) = grep { $l[$_] eq 'incomplete' } 0 .. $#l;
    ok defined $inc && $l[$inc - 1] =~ /before5$/ && $l[$inc + 1] =~ /^msg 5 after$/,
        'the waiter is told (APR_INCOMPLETE), then gets the new message'
        or diag join ' | ', @l;
    close $w->{sock};
}

done_testing;
