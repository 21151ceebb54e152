# The SQL store (mod_mcp_session_sql) when PostgreSQL goes away: a
# store outage is 503 with Retry-After, never 404, and service comes back
# without restarting Apache.
#
# 1. PostgreSQL restarted (pg_ctl restart -m fast) under load: client
#    processes run tools/call over fresh connections on both nodes. No
#    404 ever, only 200 and 503, no failure that starts later than 6 s
#    after the restart returned; then every child of both nodes serves 200
#    (the access log names the child), and the parents are the same. This
#    is the regression test of mod_dbd's PQreset trap: the reconnected
#    connections lost their prepared statements and must prepare them again.
# 2. PostgreSQL stopped: 503 with Retry-After on both nodes, never 404,
#    and fast once the store is known down (< 100 ms a request); after
#    pg_ctl start the sessions work again.
# 3. A backend process SIGSTOPped (a hung database that still ACKs; no
#    libpq timeout fires). Event MPM: one child with many threads; the
#    call on the stopped backend hangs, MCPSessionStoreBreaker trips and
#    the other requests of the child get 503 at once instead of hanging.
#    Prefork: the child that owns the stopped backend is stuck, the others
#    serve 200. After SIGCONT: 200.
# 4. An unreachable database: a listener that never accepts (connect_timeout
#    =2 bounds the connect: the first request 503 after about 2 s, then
#    fast 503s), and the port of a stopped server (refused: every 503 fast).
#
# expect-log: AH00629 AH00633 AH00636 AH00639 AH02655 MCPS00340 MCPS01121 MCPS01129 MCPS01137
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore);
use IO::Socket::INET;
use POSIX ();
use Time::HiRes qw(sleep time);
use MCPTest;
use MCPPostgres;

MCPPostgres::skip_unless_available();

plan tests => 34;

my $prefix = "mcp:t82:$$:";
my $pg     = MCPPostgres->start(name => 't82');
sub conf {
    my ($app, %o) = @_;
    return $pg->node_conf(dbd => { app => $app, %{ $o{dbd} || {} } },
                          conf => "MCPSessionKeyPrefix $prefix\nMCPSessionTTL 600\n"
                                . "MCPSessionStoreTimeout 2\n" . ($o{conf} // ''));
}
my @nodes = map { start_node(name => "t82-$_", conf => conf("t82_$_"), loglevel => 'info') } qw(a b);
my @ports = map { $_->port } @nodes;
my $MPM = $nodes[0]{mpm};
diag "PostgreSQL on port " . $pg->port . ", nodes @ports ($MPM)";

sub ping { mcp_post($_[0], rpc('ping'), session_headers($_[1]), -timeout => 20) }

my $SESSIONS = 8;
my @sids = map { scalar initialize($nodes[$_ % 2]->url) } 1 .. $SESSIONS;
is scalar(grep { is_session_id($_) } @sids), $SESSIONS, "$SESSIONS sessions";

# One POST tools/call (echo) over a fresh connection (so that prefork
# spreads them over all children): the HTTP status, 0 when the connection
# failed or nothing came within 10 s.
sub raw_call {
    my ($port, $sid) = @_;
    my $body = '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo",'
             . '"arguments":{"text":"t82"}}}';
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

# --- 1. restart under load ---------------------------------------------------
{
    my $WARM = 1.5;
    my $OBSERVE = 8;
    my $LIMIT = 6;
    my $WORKERS = 2;
    my @parents = map { $_->pid } @nodes;
    my $file = MCPTest::work_dir() . "/t82-load-$$";
    unlink glob "$file.*";
    my $until = time + $WARM + $OBSERVE;
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
                    my $code = raw_call($ports[$n], $sids[$i++ % $SESSIONS]);
                    printf $out "%d %.4f %.4f %d\n", $n, $t, time, $code;
                    sleep 0.005;
                }
                close $out;
                POSIX::_exit(0);
            }
            push @kids, $pid;
        }
    }
    sleep $WARM;
    my $t_begin = time;
    my $restarted = $pg->restart(mode => 'fast');
    my $t_end = time;
    waitpid $_, 0 for @kids;
    ok $restarted, sprintf('pg_ctl restart -m fast under load (%.2f s)', $t_end - $t_begin);

    my (%codes, @late, $last_fail, $before);
    my $n = 0;
    for my $f (glob "$file.*") {
        open my $in, '<', $f or next;
        while (<$in>) {
            my ($node, $start, $end, $code) = split;
            $n++;
            $codes{$code}++;
            next if $code == 200;
            $before++ if $end < $t_begin;
            $last_fail = $end if !defined $last_fail || $end > $last_fail;
            push @late, sprintf('node %s: %d at +%.2f s', $node ? 'B' : 'A', $code, $start - $t_end)
                if $start > $t_end + $LIMIT;
        }
        close $in;
    }
    unlink glob "$file.*";
    my $summary = join ', ', map { "$_: $codes{$_}" } sort keys %codes;
    ok !$codes{404}, "no 404 among $n requests ($summary)";
    ok !grep({ $_ != 200 && $_ != 503 } keys %codes), 'only 200 and 503';
    ok !$before, 'no failure before the restart began';
    ok !@late, sprintf('no failure that started later than %d s after the restart (last one ended %s)',
                       $LIMIT, defined $last_fail ? sprintf('%+.2f s', $last_fail - $t_end) : 'never')
        or diag join "\n", @late[0 .. ($#late > 9 ? 9 : $#late)];
    cmp_ok $codes{200} // 0, '>', $n / 2, 'most requests were served';

    # every child of both nodes serves 200 now: fresh connections from a
    # few processes at once until each child has answered (at most 6 s)
    for my $k (0 .. $#nodes) {
        my $node = $nodes[$k];
        my @children = $node->child_pids;
        my $off = file_size($node->access_log_path);
        my (%ok, %bad);
        my $end = time + 6;
        while (time < $end) {
            my @p;
            for (1 .. 4) {
                my $pid = fork();
                die "fork: $!" unless defined $pid;
                if (!$pid) { raw_call($ports[$k], $sids[$_ % $SESSIONS]) for 1 .. 3; POSIX::_exit(0) }
                push @p, $pid;
            }
            waitpid $_, 0 for @p;
            for my $line (split /\n/, read_from($node->access_log_path, $off)) {
                my ($pid, undef, $status) = split ' ', $line;
                next unless defined $status;
                $status == 200 ? $ok{$pid}++ : $bad{$pid}++;
            }
            my @alive = grep { MCPTest::pid_alive($_) } @children;
            last if !grep { !$ok{$_} } @alive;
        }
        my @alive = grep { MCPTest::pid_alive($_) } @children;
        my @missing = grep { !$ok{$_} } @alive;
        ok !@missing && !%bad, sprintf('node %s: every child (%s) serves 200 after the restart',
                                       $k ? 'B' : 'A', join(' ', @alive))
            or diag 'no 200 from: ' . join(' ', @missing) . '; non-200 from: '
                    . join(' ', map { "$_ x$bad{$_}" } sort keys %bad);
    }
    is_deeply [map { $_->pid } @nodes], \@parents, 'no Apache restart (same parent pids)';
}

# --- 2. PostgreSQL stopped -------------------------------------------------
{
    ok $pg->stop(mode => 'fast'), 'PostgreSQL stopped';
    my $first = ping($nodes[0]->url, $sids[0]);
    check_error($first, 503, -32000, qr/^Service Unavailable/, 'a session request: 503 with a JSON-RPC error');
    like $first->header('Retry-After') // '', qr/^\d+$/,
        'with Retry-After: ' . ($first->header('Retry-After') // 'none');
    my (%codes, @lat, $no_retry);
    for my $i (1 .. 20) {
        my $t = time;
        my $res = ping($nodes[$i % 2]->url, $sids[$i % $SESSIONS]);
        push @lat, time - $t;
        $codes{ $res->code }++;
        $no_retry++ unless ($res->header('Retry-After') // '') =~ /^\d+$/;
    }
    is_deeply \%codes, { 503 => 20 }, '20 more on both nodes: all 503, none 404'
        or diag explain \%codes;
    ok !$no_retry, '... each with Retry-After';
    my @sorted = sort { $a <=> $b } @lat;
    my $slow = grep { $_ >= 0.1 } @lat;
    cmp_ok $slow, '<=', 1, sprintf('fast once known down: median %.1f ms, max %.1f ms (%d of 20 >= 100 ms)',
                                   1000 * $sorted[10], 1000 * $sorted[-1], $slow);
    my ($init) = initialize($nodes[1]->url);
    ok !defined $init, 'initialize while it is down gives no session';

    ok $pg->start_again, 'PostgreSQL started again';
    my $t = time;
    ok wait_for(sub { ping($nodes[0]->url, $sids[0])->code == 200
                      && ping($nodes[1]->url, $sids[1])->code == 200 }, 6, 0.1),
        sprintf('the sessions work again on both nodes (%.2f s after the start)', time - $t);
    my $ok = grep { ping($nodes[$_ % 2]->url, $sids[$_ % $SESSIONS])->code == 200 } 1 .. 10;
    is $ok, 10, 'the next 10 requests: 200';
}

# --- 3. a backend SIGSTOPped -------------------------------------------------
{
    my $N = 12;
    my $event = $MPM ne 'prefork';
    my $node = $event
        ? start_node(name => 't82-hung', servers => 1, threads => 16,
                     conf => conf('t82_hung', conf => "MinSpareThreads 1\nMaxSpareThreads 128\n"))
        : start_node(name => 't82-hung', servers => 3, conf => conf('t82_hung'));
    my $U = $node->url;
    my ($sid) = initialize($U);
    ok is_session_id($sid), "a session on a $MPM node";
    ping($U, $sid) for 1 .. 6;
    my @backends = $pg->backend_pids(app => 't82_hung');
    # event: every connection of the one child hangs; prefork: one child's
    my @stopped = $event ? @backends : ($backends[0] // ());
    ok @stopped, 'backends of the node: ' . join(' ', @backends) . '; stopping ' . join(' ', @stopped);
    my $off = file_size($node->error_log_path);
    $pg->suspend($_) for @stopped;
    my $file = MCPTest::work_dir() . "/t82-hung-$$";
    unlink glob "$file.*";
    my @kids;
    for my $k (1 .. $N) {
        my $pid = fork();
        die "fork: $!" unless defined $pid;
        if (!$pid) {
            my $t = time;
            my $code = raw_call($node->port, $sid);
            open my $out, '>', "$file.$k" or POSIX::_exit(1);
            printf $out "%d %.3f\n", $code, time - $t;
            close $out;
            POSIX::_exit(0);
        }
        push @kids, $pid;
        sleep 0.1;
    }
    sleep 1.5;
    my $t_cont = time;
    $pg->resume($_) for @stopped;
    waitpid $_, 0 for @kids;
    my (%codes, @lat);
    for my $k (1 .. $N) {
        my ($code, $lat) = split ' ', MCPTest::read_from("$file.$k");
        $codes{ $code // 'none' }++;
        push @lat, $lat // 99;
    }
    unlink glob "$file.*";
    my $summary = join ', ', map { "$_: $codes{$_}" } sort keys %codes;
    diag 'latencies (s): ' . join ' ', map { sprintf '%.2f', $_ } @lat;
    ok !grep({ $_ ne '200' && $_ ne '503' } keys %codes), "only 200 and 503 ($summary), never 404";
    my $fast = grep { $_ < 1 } @lat;
    if ($event) {
        cmp_ok $codes{503} // 0, '>=', $N - 4, 'event: the breaker answered the child\'s other requests 503';
        cmp_ok $fast, '>=', $N - 4, "... at once: $fast of $N answered within 1 s";
        ok scalar(grep_log($node->error_log_path, qr/MCPS00340:/, $off)), '... and logged that it opened';
    } else {
        cmp_ok $codes{200} // 0, '>=', $N - 1, 'prefork: the other children served 200';
        cmp_ok $fast, '>=', $N - 1, "... at once: $fast of $N answered within 1 s";
        my $stuck = grep { $_ >= 1 } @lat;
        cmp_ok $stuck, '<=', 1, "at most the one child's request waited ($stuck)";
    }
    ok wait_for(sub { ping($U, $sid)->code == 200 }, 3, 0.05), 'after SIGCONT: 200 again';
    my $ok = grep { raw_call($node->port, $sid) == 200 } 1 .. 10;
    is $ok, 10, '... and for the next 10 requests';
    $node->stop;
}

# --- 4. an unreachable database ----------------------------------------------
{
    # a listener that never accepts: connections complete in the kernel
    # (or wait in SYN) and libpq never hears the server's first message
    my $hole = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => free_port(),
                                     Proto => 'tcp', Listen => 1, ReuseAddr => 1)
        or die "listen: $!";
    my $node = start_node(name => 't82-hole',
                          conf => conf('t82_hole', dbd => { port => $hole->sockport, min => 0 }));
    my $t = time;
    my $first = ping($node->url, 'x' x 43);
    my $lat = time - $t;
    is $first->code, 503, sprintf('a listener that never accepts: 503 (after %.2f s)', $lat);
    cmp_ok $lat, '<', 4, '... within connect_timeout=2 (and some slack)';
    my (%codes, @lat);
    for (1 .. 10) {
        my $t1 = time;
        $codes{ raw_call($node->port, 'x' x 43) }++;
        push @lat, time - $t1;
    }
    my $slow = grep { $_ >= 0.5 } @lat;
    is_deeply \%codes, { 503 => 10 }, '10 more: 503, none 404' or diag explain \%codes;
    # prefork: each child may try once itself
    cmp_ok $slow, '<=', ($MPM eq 'prefork' ? 3 : 1),
        "... and fast once known down ($slow of 10 took 0.5 s or more: "
        . join(' ', map { sprintf '%.2f', $_ } @lat) . ')';
    $node->stop;
    close $hole;

    # a port nothing listens on: refused at once, every time
    my $dead = start_node(name => 't82-dead',
                          conf => conf('t82_dead', dbd => { port => free_port(), min => 0 }));
    my (%c2, @l2);
    for (1 .. 10) {
        my $t1 = time;
        $c2{ ping($dead->url, 'x' x 43)->code }++;
        push @l2, time - $t1;
    }
    is_deeply \%c2, { 503 => 10 }, 'a port of a stopped server: 503, none 404' or diag explain \%c2;
    my $max = (sort { $a <=> $b } @l2)[-1];
    cmp_ok $max, '<', 0.5, sprintf('... each fast (max %.0f ms)', 1000 * $max);
}
