# mod_mcp_session_redis (modules/redis/), the Redis provider module, on a
# private plain redis-server:
#   - the store contract suite (t/store/) on its provider "redis" (every
#     test of the suite becomes a test here, as in t/48);
#   - the base module alone still serves redis:// with apr_redis, and
#     refuses rediss:// naming the module (MCPS00113);
#   - a fleet of two nodes with the module: initialize on A, call and
#     DELETE on B; mod_status names the module and its node;
#   - one round trip per store call, from INFO commandstats: a request in a
#     session is one GETEX, initialize one SET, DELETE one SET + one DEL;
#   - Redis killed: 503 with Retry-After, never 404; restarted: service
#     back without an Apache restart;
#   - a mixed fleet (one node with the module, one without, same prefix)
#     shares sessions both ways, DELETE included;
#   - the password, in the URL or in MCPSessionStorePasswordFile, reaches
#     neither the error log nor mod_status; a wrong one is 503 with
#     Redis's reason in the log.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore);
use Time::HiRes qw(sleep time);
use MCPTest;
use POSIX ();

# Redis is killed on purpose (MCPS00820: a node down), a node without the
# module refuses rediss:// (MCPS00113, AH00016: its start fails), a wrong
# password is refused by Redis (WRONGPASS), the built-in provider's outage
# lines (MCPS00411) in the mixed fleet.
# A store that cannot start (a CA file that is not PEM: MCPS00806, MCPS00311).
# expect-log: MCPS00820 MCPS00821 MCPS00823 MCPS00830 MCPS00113 AH00016 MCPS00411 WRONGPASS
# expect-log: MCPS00806 MCPS00311

skip_unless_redis();

my $top = top_dir();
my $so = "$top/.libs/mod_mcp_session_redis.so";
my $load = qq{LoadModule mcp_session_redis_module "$so"\n};
my $test_so = "$top/.libs/mod_mcp_test_store.so";
my @src = map { "$top/$_" } qw(t/modules/mod_mcp_test_store.c t/unit/store_toy.c
                               t/store/mcp_store_contract.c include/mcp_session_store.h
                               include/mcp_api.h);
if (!-e $test_so || grep { -M $test_so > -M $_ } @src) {
    system("make -C '$top' -f Makefile.apxs test-modules >/dev/null 2>&1");
}
unless (ok -e $so && -e $test_so, 'the module and the test store module are built') {
    done_testing;
    exit 1;
}

my $redis = start_redis(name => 't70-redis', appendonly => 'yes',
                        args => ['--appendfsync', 'always']);
my $R = $redis->url;

# ---------------------------------------------------------------------
# The contract suite on the provider

{
    my $node = start_node(name => 't70-contract', servers => 2,
                          conf => $load . qq{LoadModule mcp_test_store_module "$test_so"\n}
                                . "MCPTestStoreContract redis $R\n"
                                . "<Location /contract>\n    SetHandler mcp-store-contract\n"
                                . "</Location>\n");
    my $res = mcp_get($node->url('/contract?store=redis'), -timeout => 120);
    is $res->code, 200, 'contract: the suite runs';
    my @lines = split /\n/, $res->content // '';
    my ($n, $plan) = (0, undef);
    for (my $i = 0; $i < @lines; $i++) {
        my $l = $lines[$i];
        my @notes;
        push @notes, $lines[++$i] =~ s/^# //r while $i + 1 < @lines && $lines[$i + 1] =~ /^# /;
        if ($l =~ /^1\.\.(\d+)$/) { $plan = $1; note @notes; next }
        next unless $l =~ /^(not )?ok \d+ - (.*)$/;
        my ($bad, $what) = ($1, $2);
        $n++;
        if (!$bad && $what =~ /^(.*?) # SKIP (.*)$/) {
            SKIP: { skip "contract: $1: $2", 1 }
            next;
        }
        ok !$bad, "contract: $what" or diag map { "$_\n" } @notes;
    }
    ok defined $plan && $plan == $n && $n > 30, "contract: the suite ran to its end ($n tests)";
    $node->stop;
}

# ---------------------------------------------------------------------
# Without the module

{
    my $plain = start_node(name => 't70-base', conf => "MCPSessionStorageMode external\n"
                           . "MCPSessionStore $R\nMCPSessionKeyPrefix mcp:t70base:$$:\n");
    my $st = status_auto($plain->url('/server-status?auto'));
    like $st->{MCPSessionStore} // '', qr/^redis 127\.0\.0\.1:\d+/,
        'without the module, redis:// is the built-in apr_redis provider';
    ok is_session_id(initialize($plain->url)), '... and works';
    $plain->stop;

    my $tls = start_node(name => 't70-rediss', may_fail => 1,
                         conf => "MCPSessionStorageMode external\n"
                               . "MCPSessionStore rediss://mcp:Zq7SecretPw\@127.0.0.1:6380/1\n");
    ok !$tls->running, 'without the module, rediss:// is a startup error';
    my $out = $tls->startup_output . read_from($tls->error_log_path);
    like $out, qr/MCPS00113.*mod_mcp_session_redis/, '... naming the module to load (MCPS00113)';
    unlike $out, qr/Zq7SecretPw/, '... without the password';
}

# ---------------------------------------------------------------------
# A fleet with the module

my $prefix = "mcp:t70:$$:";
my @fleet = map {
    start_node(name => "t70-$_", conf => $load . "MCPSessionStorageMode external\n"
               . "MCPSessionStore $R/0?name=t70-$_\nMCPSessionKeyPrefix $prefix\n"
               . "MCPSessionStoreTimeout 2\n")
} qw(a b);
my ($A, $B) = @fleet;
my @U = map { $_->url } @fleet;

my $st = status_auto($A->url('/server-status?auto'));
like $st->{MCPSessionStore} // '', qr/^redis module \(hiredis 0\.14\.\d+, plain\) redis:\/\/127\.0\.0\.1:\d+\/0\?name=t70-a$/,
    'with the module, redis:// is the module\'s provider: ' . ($st->{MCPSessionStore} // 'none');
like((grep_log($A->error_log_path, qr/MCPS00801/))[0] // '', qr/session store redis:\/\/.*hiredis 0\.14/,
    'its startup line (MCPS00801)');

my $sid = initialize($U[0]);
ok is_session_id($sid), 'initialize on A';
my ($res, $m) = mcp_call($U[1], $sid, 'tools/list');
is $res->code, 200, 'tools/list on B: 200';
ok ref $m eq 'HASH' && ref $m->{result}{tools} eq 'ARRAY', '... with the tools';
my $rkey = ($redis->cli('--scan', '--pattern', "$prefix*"))[0] // '';
like $rkey, qr/^\Q$prefix\E[0-9a-f]{64}$/, 'the key is prefix + 64 hex (the built-in provider\'s)';
like scalar $redis->cli('GET', $rkey), qr/^\d+ \{/, 'the value is "<µs> <record>" (handshake done)';
my $pttl = $redis->cli('PTTL', $rkey);
cmp_ok $pttl, '>', 0, "it has a TTL ($pttl ms)";

# round trips per request: INFO commandstats around N calls
sub cmdstats {
    my %c;
    for ($redis->cli('INFO', 'commandstats')) {
        $c{$1} = $2 if /^cmdstat_(\w+):calls=(\d+)/;
    }
    return \%c;
}
# what the calls cost, without INFO itself and the handshake of new
# connections (a prefork child's first request opens its connection)
sub delta {
    my ($before, $after) = @_;
    my %d;
    for (keys %$after) {
        my $n = $after->{$_} - ($before->{$_} // 0);
        next unless $n;
        if (/^(info|select|auth|client\|setname|client|hello|ping)$/) {
            note "  (+ $n $_: connection handshakes)" unless $_ eq 'info';
            next;
        }
        $d{$_} = $n;
    }
    return \%d;
}
{
    my $N = 20;
    my $before = cmdstats();
    my $ok = 0;
    for my $i (1 .. $N) {
        my ($r) = mcp_call($U[$i % 2], $sid, 'tools/list');
        $ok++ if $r->code == 200;
    }
    my $d = delta($before, cmdstats());
    is $ok, $N, "$N requests in the session: 200";
    is_deeply $d, { getex => $N }, "... cost exactly $N GETEX and nothing else (one round trip each)"
        or diag explain $d;

    $before = cmdstats();
    my $s2 = initialize($U[1]);
    $d = delta($before, cmdstats());
    ok is_session_id($s2), 'initialize on B';
    # initialize: create (SET NX); notifications/initialized: fetch (GETEX,
    # then an EVAL whose GET + PEXPIRE put the handshake TTL back: the
    # session is still in its handshake) and update (SET XX)
    is_deeply $d, { set => 2, getex => 1, eval => 1, get => 1, pexpire => 1 },
        'initialize + notifications/initialized: SET NX; GETEX + EVAL (GET, PEXPIRE); SET XX'
        or diag explain $d;

    $before = cmdstats();
    is mcp_delete($U[0], session_headers($s2))->code, 200, 'DELETE on A of a session made on B';
    $d = delta($before, cmdstats());
    is_deeply $d, { getex => 1, set => 1, del => 1 },
        '... the handler\'s fetch (GETEX), then remove: SET tombstone + DEL (one write)'
        or diag explain $d;
    is((mcp_call($U[1], $s2, 'tools/list'))[0]->code, 404, 'then the session is gone on B: 404');
}

# ---------------------------------------------------------------------
# Redis killed, then back

{
    $redis->kill;
    ok !$redis->running, 'redis-server killed';
    my (%codes, $first);
    for my $i (1 .. 10) {
        my ($r) = mcp_call($U[$i % 2], $sid, 'tools/list');
        $codes{ $r->code }++;
        $first //= $r;
    }
    is_deeply [keys %codes], [503], 'requests of a live session while Redis is down: all 503, no 404'
        or diag explain \%codes;
    like $first->header('Retry-After') // '', qr/^\d+$/, '... with Retry-After';
    my $down = status_auto($A->url('/server-status?auto'));
    ok defined $down->{MCPRedisNodesDown}, 'mod_status has the module\'s lines';
    ok $redis->start, 'redis-server restarted (same port, appendonly)';
    my $back = wait_for(sub { (mcp_call($U[0], $sid, 'tools/list'))[0]->code == 200
                              && (mcp_call($U[1], $sid, 'tools/list'))[0]->code == 200 }, 10, 0.1);
    ok $back, 'the session works again on both nodes, no Apache restart';
    ok $A->running && $B->running, 'both httpd kept running';
}

# ---------------------------------------------------------------------
# A mixed fleet: one node with the module, one without, same prefix

{
    my $mp = "mcp:t70mix:$$:";
    my $with = start_node(name => 't70-mix-mod', conf => $load . "MCPSessionStorageMode external\n"
                          . "MCPSessionStore $R\nMCPSessionKeyPrefix $mp\n");
    my $without = start_node(name => 't70-mix-base', conf => "MCPSessionStorageMode external\n"
                             . "MCPSessionStore $R\nMCPSessionKeyPrefix $mp\n");
    like status_auto($with->url('/server-status?auto'))->{MCPSessionStore} // '', qr/^redis module/,
        'mixed fleet: one node with the module';
    like status_auto($without->url('/server-status?auto'))->{MCPSessionStore} // '', qr/^redis 127/,
        '... one with the built-in provider';
    my @W = ($with->url, $without->url);
    for my $dir ([0, 1], [1, 0]) {
        my ($from, $to) = @$dir;
        my $what = $from ? 'built-in -> module' : 'module -> built-in';
        my $s = initialize($W[$from]);
        ok is_session_id($s), "$what: initialize";
        is((mcp_call($W[$to], $s, 'tools/list'))[0]->code, 200, "$what: used on the other node");
        is((mcp_call($W[$from], $s, 'tools/list'))[0]->code, 200, "$what: and again on the first");
        is mcp_delete($W[$to], session_headers($s))->code, 200, "$what: DELETE on the other node";
        is((mcp_call($W[$from], $s, 'tools/list'))[0]->code, 404, "$what: gone on the first: 404");
    }
    # the time of a request in a session through each provider (client
    # included; a number for the record, not a test)
    my $s = initialize($W[0]);
    my @t = ([], []);
    for my $i (1 .. 200) {          # alternating: no warm-up bias
        my $t0 = time;
        mcp_call($W[$i % 2], $s, 'tools/list');
        push @{ $t[$i % 2] }, time - $t0;
    }
    for my $k (0, 1) {
        my @s = sort { $a <=> $b } @{ $t[$k] };
        my $msg = sprintf '%s: tools/list in a session, median %.2f ms, p90 %.2f ms (%d requests)',
                          $k ? 'built-in provider' : 'module', 1000 * $s[@s / 2],
                          1000 * $s[int(@s * 0.9)], scalar @s;
        note $msg;
        diag $msg if $ENV{MCP_TEST_VERBOSE};
    }
    $with->stop;
    $without->stop;
}

# ---------------------------------------------------------------------
# A fetch in the handshake puts the handshake TTL back only while the
# record is still a handshake record: a proxy runs another node's update
# (the value without '+', the session TTL) just before that second round
# trip reaches Redis; the session must keep the session TTL.

{
    require IO::Socket::INET;
    require IO::Select;
    my $pport = free_port();
    my $lsn = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => $pport,
                                    Listen => 16, ReuseAddr => 1) or die "proxy: $!";
    my $ppid = fork;
    die "fork: $!" unless defined $ppid;
    if (!$ppid) {
        alarm 60;
        $SIG{CHLD} = 'IGNORE';
        while (my $cl = $lsn->accept) {
            next if fork;
            alarm 60;
            my $up = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                           PeerPort => $redis->port) or POSIX::_exit(1);
            my $sel = IO::Select->new($cl, $up);
            while (my @r = $sel->can_read(30)) {
                for my $fh (@r) {
                    my $buf;
                    POSIX::_exit(0) unless sysread($fh, $buf, 65536);
                    if ($fh == $cl && $buf =~ /PEXPIRE/) {
                        my ($d, @a) = ($buf);
                        if ($d =~ s/^\*(\d+)\r\n//) {
                            for (1 .. $1) {
                                last unless $d =~ s/^\$(\d+)\r\n//;
                                push @a, substr($d, 0, $1);
                                substr($d, 0, $1 + 2) = '';
                            }
                        }
                        my $key = uc($a[0] // '') eq 'EVAL' ? $a[3] : $a[1];
                        my $v = join "\n", $redis->cli('GET', $key // '');
                        $redis->cli('SET', $key, substr($v, 1), 'XX', 'PX', 3600000)
                            if $v =~ /^\+/;
                    }
                    syswrite($fh == $cl ? $up : $cl, $buf);
                }
            }
            POSIX::_exit(0);
        }
        POSIX::_exit(0);
    }
    close $lsn;
    my $hp = "mcp:t70hs:$$:";
    my $node = start_node(name => 't70-hs', conf => $load
                          . "MCPSessionStorageMode external\n"
                          . "MCPSessionStore redis://127.0.0.1:$pport\n"
                          . "MCPSessionKeyPrefix $hp\nMCPSessionTTL 3600\n"
                          . "MCPSessionHandshakeTTL 5\n");
    my $hsid = initialize($node->url, no_initialized => 1);
    ok is_session_id($hsid), 'handshake race: initialize through the proxy';
    my ($r) = mcp_call($node->url, $hsid, 'ping');
    is $r->code, 200, '... a ping in the handshake: 200';
    my $k = ($redis->cli('--scan', '--pattern', "$hp*"))[0] // '';
    my $ttl = $redis->cli('PTTL', $k);
    cmp_ok $ttl, '>', 60000, "... an update that came between its GETEX and the "
        . "handshake TTL step keeps the session TTL ($ttl ms), not 5 s";
    kill 'TERM', $ppid;
    waitpid $ppid, 0;
    $node->stop if $node->can('stop');
}

# ---------------------------------------------------------------------
# A server without GETEX (Redis < 6.2; here renamed away): GET + PEXPIRE

{
    my $old = start_redis(name => 't70-nogetex', args => ['--rename-command', 'GETEX', '']);
    like scalar $old->cli('GETEX', 'x'), qr/unknown command/, 'a redis-server without GETEX';
    my $n = start_node(name => 't70-nogetex-node', conf => $load . "MCPSessionStorageMode external\n"
                       . 'MCPSessionStore ' . $old->url . "\n");
    my $s = initialize($n->url);
    ok is_session_id($s), 'no GETEX: initialize';
    my %before;
    for ($old->cli('INFO', 'commandstats')) { $before{$1} = $2 if /^cmdstat_(\w+):calls=(\d+)/ }
    my $ok = grep { (mcp_call($n->url, $s, 'tools/list'))[0]->code == 200 } 1 .. 5;
    my %after;
    for ($old->cli('INFO', 'commandstats')) { $after{$1} = $2 if /^cmdstat_(\w+):calls=(\d+)/ }
    is $ok, 5, 'no GETEX: 5 requests in the session: 200';
    is_deeply [ map { ($after{$_} // 0) - ($before{$_} // 0) } qw(get pexpire) ], [5, 5],
        'no GETEX: each is GET + PEXPIRE (pipelined: one round trip)';
    my @said = grep_log($n->error_log_path, qr/MCPS00843: .*GETEX/);
    my %pids = map { /\[pid (\d+)/ ? ($1 => 1) : () } @said;
    ok @said && @said == keys %pids, 'no GETEX: said in the error log once per child (MCPS00843): '
        . scalar(@said) . ' line(s)';
    my $ttl = $old->cli('PTTL', ($old->cli('--scan', '--pattern', 'mcp:session:*'))[0]);
    cmp_ok $ttl, '>', 60_000, "no GETEX: the session has the full TTL ($ttl ms)";
    $n->stop;
    $old->stop;
}

# ---------------------------------------------------------------------
# Passwords: in the URL, in a file; never in logs or mod_status

{
    my $pw = 'Tz8Kq-secret-' . int(rand 1e6);
    my $auth = start_redis(name => 't70-auth');
    $auth->cli('CONFIG', 'SET', 'requirepass', $pw);
    my $dir = $auth->dir;
    open my $fh, '>', "$dir/password" or die $!;
    print $fh "$pw  \r\n";
    close $fh;
    my $url = start_node(name => 't70-pw-url', conf => $load . "MCPSessionStorageMode external\n"
                         . 'MCPSessionStore redis://:' . $pw . '@127.0.0.1:' . $auth->port . "/3\n");
    my $file = start_node(name => 't70-pw-file', conf => $load . "MCPSessionStorageMode external\n"
                          . 'MCPSessionStore redis://127.0.0.1:' . $auth->port . "/3\n"
                          . "MCPSessionStorePasswordFile $dir/password\n");
    my $wrong = start_node(name => 't70-pw-wrong', conf => $load . "MCPSessionStorageMode external\n"
                           . 'MCPSessionStore redis://:Wr0ng' . $pw . '@127.0.0.1:' . $auth->port . "\n");
    for ([$url, 'password in the URL'], [$file, 'password file']) {
        my ($n, $what) = @$_;
        my $s = initialize($n->url);
        ok is_session_id($s), "$what: initialize";
        is((mcp_call($n->url, $s, 'tools/list'))[0]->code, 200, "$what: a call");
        my $status = mcp_get($n->url('/server-status'))->content . mcp_get($n->url('/server-status?auto'))->content;
        like $status, qr/redis:\/\/(:\*\*\*@)?127\.0\.0\.1:\d+\/3/, "$what: mod_status describes the store";
        unlike $status, qr/\Q$pw\E/, "$what: mod_status never shows the password";
    }
    is $auth->cli('-a', $pw, '--no-auth-warning', '-n', 3, 'DBSIZE') + 0, 2,
        'the sessions are in database 3';
    my ($r) = mcp_post($wrong->url, init_message());
    is $r->code, 503, 'a wrong password: initialize is 503';
    ok wait_for_log($wrong->error_log_path, qr/WRONGPASS|invalid password/i, 5),
        '... with Redis\'s reason in the error log';
    # a store that cannot start (a CA file OpenSSL refuses): the lines
    # saying so name the store without its password
    my $badca = start_node(name => 't70-pw-badca', may_fail => 1,
                           conf => $load . "MCPSessionStorageMode external\n"
                                 . 'MCPSessionStore rediss://:' . $pw . '@127.0.0.1:' . $auth->port . "\n"
                                 . "MCPSessionStoreCACertificateFile $dir/password\n");
    ok !$badca->running, 'a rediss store whose CA file is not PEM: startup fails';
    my $out = $badca->startup_output . read_from($badca->error_log_path);
    like $out, qr/MCPS00806.*TLS/, '... saying why (MCPS00806)';
    like $out, qr/MCPS00311: .*rediss:\/\/:\*\*\*\@127/, '... and which store, with *** (MCPS00311)';
    unlike $out, qr/\Q$pw\E/, '... never the password';
    for my $n ($url, $file, $wrong) {
        $n->stop;
        unlike read_from($n->error_log_path), qr/\Q$pw\E/,
            $n->{name} . ': the password is not in the error log';
    }
    # MCPTest::Redis stops it with a SHUTDOWN without AUTH
    $auth->cli('-a', $pw, '--no-auth-warning', 'CONFIG', 'SET', 'requirepass', '');
}

done_testing;
