# One contract suite, every provider: the store contract suite (t/store/,
# the promises of include/mcp_session_store.h) runs inside httpd, through
# the test module t/modules/mod_mcp_test_store.c, on the "toy" provider
# (t/unit/store_toy.c, every capability), on "memory" and on "redis" (a
# private redis-server), each with lifetimes of 2 s; every test of the
# suite becomes a test here. A capability a provider leaves NULL is a
# skip, and only then.
#
# Then publish/wait of the memory store across processes: two waiters in
# child processes of their own get every message, in order, also those
# published by other children (skipped only while the memory provider's
# publish or wait is NULL).
#
# Then a node whose MCPSessionStore names the toy provider of a module
# loaded AFTER that line (and after mod_mcp_session): it starts and keeps
# its sessions in the toy store. (httpd runs every LoadModule while it
# reads the configuration files, before it runs any other directive, so
# this held also when mod_mcp_session looked the provider up in the
# MCPSessionStore directive itself; the test keeps it so.)
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore);
use IO::Select;
use IO::Socket::INET;
use Time::HiRes qw(sleep time);
use MCPTest;

my $top = top_dir();
my $so  = "$top/.libs/mod_mcp_test_store.so";
my @src = map { "$top/$_" } qw(t/modules/mod_mcp_test_store.c t/unit/store_toy.c
                               t/unit/store_toy.h t/store/mcp_store_contract.c
                               t/store/mcp_store_contract.h include/mcp_session_store.h
                               include/mcp_api.h);
if (!-e $so || grep { -M $so > -M $_ } @src) {
    system("make -C '$top' -f Makefile.apxs test-modules >/dev/null 2>&1");
}
unless (ok -e $so, 'the test store module is built (make -f Makefile.apxs test-modules)') {
    done_testing;
    exit 1;
}

my $mpm = $ENV{MCP_TEST_MPM} || 'event';
my $redis = have_redis() ? start_redis(name => 't48-redis') : undef;

my $conf = qq{LoadModule mcp_test_store_module "$so"\n}
         . "MCPTestStoreContract toy toy://contract\n"
         . "MCPTestStoreContract memory memory://\n"
         . ($redis ? 'MCPTestStoreContract redis ' . $redis->url . "\n" : '')
         . "<Location /contract>\n    SetHandler mcp-store-contract\n</Location>\n";
# prefork: room for the suites, two waiters and publishers at once
my $node = start_node(name => 't48', conf => $conf, servers => 4);
my $base = $node->url('/contract');

# ---------------------------------------------------------------------
# The suite, per provider

# run_suite($store): the suite's TAP, each line a test here.
sub run_suite {
    my $store = shift;
    my $t0 = time;
    my $res = mcp_get("$base?store=$store", -timeout => 120);
    unless (is $res->code, 200, "$store: the suite runs") {
        diag $res->status_line;
        return;
    }
    my @lines = split /\n/, $res->content;
    my ($n, $plan, $summary) = (0, undef, '');
    for (my $i = 0; $i < @lines; $i++) {
        my $l = $lines[$i];
        my @notes;
        push @notes, $lines[++$i] =~ s/^# //r
            while $i + 1 < @lines && $lines[$i + 1] =~ /^# /;
        if ($l =~ /^1\.\.(\d+)$/) {
            $plan = $1;
            $summary = join ' ', @notes;
            next;
        }
        next unless $l =~ /^(not )?ok \d+ - (.*)$/;
        my ($bad, $what) = ($1, $2);
        $n++;
        if (!$bad && $what =~ /^(.*?) # SKIP (.*)$/) {
            SKIP: { skip "$store: $1: $2", 1 }
            next;
        }
        ok !$bad, "$store: $what" or diag map { "$_\n" } @notes;
        note map { "$_\n" } @notes if !$bad;
    }
    ok defined $plan && $plan == $n && $n > 30,
        "$store: the suite ran to its end (" . ($plan // 'no plan') . " tests)"
        or diag substr($res->content, -2000);
    note sprintf "%s (%.1f s with the request)", $summary, time - $t0;
    diag $summary if $ENV{MCP_TEST_VERBOSE};
}

run_suite('toy');
run_suite('memory');
SKIP: {
    skip 'redis-server is not installed', 1 unless $redis;
    run_suite('redis');
}

# ---------------------------------------------------------------------
# publish/wait of the memory store between child processes

# A GET that streams: the socket, once the line "ready pid P" came.
sub open_waiter {
    my ($query) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $node->port,
                                  Proto => 'tcp', Timeout => 5) or return;
    print $s "GET /contract?$query HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    my $w = { sock => $s, buf => '', lines => [] };
    read_lines($w, qr/^ready pid \d+$/, 10);
    ($w->{pid}) = map { /^ready pid (\d+)$/ ? $1 : () } @{ $w->{lines} };
    return $w;
}

# Read lines into $w->{lines} until one matches $re or $timeout s passed.
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
        }
    }
    return scalar grep { $_ =~ $re } @{ $w->{lines} };
}

SKIP: {
    my $caps = mcp_get("$base?store=memory&op=caps")->content // '';
    skip 'the memory provider has no publish/wait yet (NULL): nothing to deliver across '
       . 'processes', 6 unless $caps =~ /^publish 1$/m && $caps =~ /^wait 1$/m;

    my $ch = sprintf 'mcp-t48-%d-%d', $$, int rand 1e9;
    my @w = map { open_waiter("store=memory&op=wait&channel=$ch&timeout=20000&until=end") } 1 .. 2;
    ok $w[0] && $w[0]{pid} && $w[1] && $w[1]{pid}, 'two waiters wait on one channel'
        or skip 'no waiters', 5;
    my ($p1, $p2) = ($w[0]{pid}, $w[1]{pid});
    if ($p1 != $p2 || $mpm eq 'prefork') {
        isnt $p1, $p2, "the waiters are different processes ($p1, $p2)";
    }
    else {
        SKIP: { skip "$mpm: both waiters went to process $p1", 1 }
    }

    # publish from fresh connections until some came from a process
    # other than each waiter's (prefork: the first, its children are busy)
    my (@sent, %from, @status);
    for my $i (1 .. 40) {
        my $r = mcp_get("$base?store=memory&op=publish&channel=$ch&msg=m$i");
        my ($st) = $r->content =~ /^status (.*)$/m;
        my ($pid) = $r->content =~ /^pid (\d+)$/m;
        push @status, $st // $r->status_line;
        push @sent, "m$i";
        $from{$pid}++ if $pid;
        last if grep({ $_ != $p1 } keys %from) && grep({ $_ != $p2 } keys %from);
        sleep 0.05;
    }
    mcp_get("$base?store=memory&op=publish&channel=$ch&msg=end");
    push @sent, 'end';
    is_deeply [ grep { $_ ne '0' } @status ], [], 'every publish succeeded';
    ok grep({ $_ != $p1 } keys %from) && grep({ $_ != $p2 } keys %from),
        'messages were published by processes other than each waiter: '
        . join(', ', map { "$_ x$from{$_}" } sort keys %from)
        . " (waiters $p1, $p2)";
    for my $k (0, 1) {
        read_lines($w[$k], qr/^end$/, 15);
        my @got = map { /^msg \d+ (.*)$/ ? $1 : () } @{ $w[$k]{lines} };
        is_deeply \@got, \@sent, "waiter in process $w[$k]{pid} got all "
            . scalar(@sent) . ' messages, in order'
            or diag join ' ', @{ $w[$k]{lines} };
    }
    close $_->{sock} for @w;
}

# ---------------------------------------------------------------------
# LoadModule order: the store's module comes after the line naming it

{
    # the toy keeps sessions in its process: one child
    my $one = $mpm eq 'prefork'
        ? "StartServers 1\nMinSpareServers 1\nMaxSpareServers 1\nServerLimit 1\nMaxRequestWorkers 1\n"
        : "StartServers 1\nServerLimit 1\nMaxRequestWorkers 4\nMinSpareThreads 1\nMaxSpareThreads 8\n";
    my $toy = start_node(name => 't48-toy', servers => 1, may_fail => 1,
                         conf => "MCPSessionStorageMode external\n"
                               . "MCPSessionStore toy://order\n"
                               . qq{LoadModule mcp_test_store_module "$so"\n} . $one);
    ok $toy->running, 'a node starts whose MCPSessionStore names a provider of a module '
        . 'loaded after that line and after mod_mcp_session'
        or diag $toy->diagnostics;
    SKIP: {
        skip 'the node did not start', 5 unless $toy->running;
        my $st = status_auto($toy->url('/server-status?auto'));
        like $st && $st->{MCPSessionStore} // '', qr/^toy order\b/,
            'its sessions are in the toy store';
        my $U = $toy->url;
        my $sid = initialize($U);
        ok is_session_id($sid), 'initialize';
        my ($res, $m) = mcp_call($U, $sid, 'tools/list');
        is $res->code, 200, 'tools/list in the session: 200';
        ok ref $m eq 'HASH' && ref $m->{result}{tools} eq 'ARRAY' && @{ $m->{result}{tools} },
            'with the tools';
        is mcp_delete($U, session_headers($sid))->code, 200, 'DELETE ends it';
    }
}

done_testing;
