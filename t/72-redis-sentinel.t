# mod_mcp_session_redis with redis+sentinel://: a master, a replica and one
# Sentinel on loopback, two Apache nodes following the master through the
# Sentinel. SENTINEL FAILOVER under load (tools/call on sessions made
# before it, alternating nodes): no 404, only 200 or 503, every request
# 200 again within 6 s, no Apache restart, each node logs the switch to the
# old replica, and no call reaches the old master once the switch is known
# while that server still takes writes (it stays a writable master for a
# while after a failover: READONLY alone would not move the nodes). Then
# the new master is killed under load: 503s, never 404, until Sentinel
# promotes the old one back, and 200 from then on. A graceful restart
# (children with a listener thread exit). A master demoted by hand behind
# a fake Sentinel: READONLY alone moves the nodes, no call fails. A dead
# first Sentinel is skipped. A Sentinel with a password: sentinel_password=
# works, a wrong one is 503 with the refusal logged, never the password. A
# master name the Sentinel does not know: 503 with the reason in the log.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore);
use Time::HiRes qw(sleep time);
use Digest::SHA qw(sha256_hex);
use MCPTest;
use MCPSentinel;

# The killed master: each child logs it unreachable (MCPS00820) and that
# the Sentinel names no usable master until the promotion (MCPS00854), as
# the unknown master name does.
# expect-log: MCPS00854 MCPS00820

skip_unless_redis();

plan tests => 42;

my $REDIS_SO = MCPTest::top_dir() . '/.libs/mod_mcp_session_redis.so';
my $prefix = "mcp:t72:$$:";
my $set = MCPSentinel::start(name => 't72');
my ($M, $R) = ($set->{master}, $set->{replica});
my ($MP, $RP) = ($M->port, $R->port);
is $set->master_addr, "127.0.0.1:$MP", 'the Sentinel names the master; the replica is in sync';

sub node_conf {
    my ($url) = @_;
    return qq{LoadModule mcp_session_redis_module "$REDIS_SO"\n}
         . "MCPSessionStorageMode external\n"
         . "MCPSessionStore $url\n"
         . "MCPSessionKeyPrefix $prefix\n"
         . "MCPSessionStoreTimeout 2\n";
}
my @nodes = map {
    start_node(name => "t72-$_", conf => node_conf($set->url),
               loglevel => 'info mcp_session:debug mcp_session_redis:debug')
} qw(a b);
my ($A, $B) = @nodes;
my @U = map { $_->url } @nodes;
my @PIDS = map { $_->pid } @nodes;

sub add {
    my ($u, $sid, $n) = @_;
    my ($res, $msg) = mcp_call($u, $sid, 'tools/call',
                               { name => 'add', arguments => { a => $n, b => 1 } },
                               -timeout => 10);
    my $ok = $res->code == 200 && $msg && $msg->{result}
          && ($msg->{result}{content}[0]{text} // '') eq $n + 1;
    return ($res->code, $ok);
}

# --- sessions before the failover, on the replica too -----------------------
my @S = map { scalar initialize($U[$_ % 2]) } 0 .. 5;
is scalar(grep { is_session_id($_) } @S), 6, 'six sessions made through the Sentinel (3 on each node)';
my $all = 1;
for my $i (0 .. $#S) {
    for my $u (@U) {
        my ($code, $ok) = add($u, $S[$i], $i);
        $all &&= $ok;
    }
}
ok $all, 'each works on both nodes before the failover';
ok $M->cli('WAIT', 1, 2000) >= 1, 'the replica acknowledged the writes (WAIT 1)';
my @keys = map { $prefix . sha256_hex($_) } @S;
ok wait_for(sub { !grep { !$R->cli('EXISTS', $_) } @keys }, 5, 0.1),
    'every session is on the replica';

# load($secs, $act_after, $action, $new_port) -> (\@log, \%codes, $t_act,
# $act_result, $t_switch): tools/call on the sessions, alternating nodes;
# $action runs once $act_after s in; $t_switch is when the Sentinel first
# named 127.0.0.1:$new_port after it. Runs until 20 requests were made
# from 6 s after $t_switch on (the window the assertions look at), at most
# $secs.
sub load {
    my ($secs, $act_after, $action, $new_port) = @_;
    my (@log, %codes, $t_act, $act_res, $t_switch);
    my $t0 = time;
    my ($k, $settled) = (0, 0);
    while (time < $t0 + $secs && $k < 20000 && $settled < 20) {
        if (!$t_act && time - $t0 >= $act_after) {
            $t_act = time;
            $act_res = $action->();
        }
        my $node = $k % 2;
        my $t = time;
        my ($code, $ok) = add($U[$node], $S[$k % @S], $k);
        # a 200 whose result is wrong counts as a failure
        $code = 'bad200' if $code == 200 && !$ok;
        push @log, [$t, $node, $code];
        $settled++ if $t_switch && $t >= $t_switch + 6;
        $codes{$code}++;
        $k++;
        $t_switch = time if $t_act && !$t_switch
                         && ($set->master_addr // '') eq "127.0.0.1:$new_port";
    }
    diag sprintf('%d requests in %.1f s: %s; the Sentinel named 127.0.0.1:%d %.2f s after the action',
                 scalar(@log), time - $t0, join(', ', map { "$_: $codes{$_}" } sort keys %codes),
                 $new_port, $t_switch ? $t_switch - $t_act : -1);
    return (\@log, \%codes, $t_act, $act_res, $t_switch);
}

# --- SENTINEL FAILOVER under load --------------------------------------------
my ($log, $codes, $t_fail, $fail_ok) = load(20, 2, sub { $set->failover }, $RP);
my @log = @$log;
my %codes = %$codes;
ok $fail_ok, 'SENTINEL FAILOVER mymaster accepted';
ok !$codes{404}, 'no 404 for sessions made before the failover';
is_deeply [grep { $_ ne '200' && $_ ne '503' } keys %codes], [], 'only 200 or 503';
my @late_bad = grep { $_->[0] >= $t_fail + 6 && $_->[2] ne '200' } @log;
my @late = grep { $_->[0] >= $t_fail + 6 } @log;
ok @late >= 20 && !@late_bad && (grep { $_->[1] == 0 } @late) && (grep { $_->[1] == 1 } @late),
    sprintf('every request from 6 s after the failover on is 200, on both nodes (%d requests, %d not)',
            scalar(@late), scalar(@late_bad));
my @bad = grep { $_->[2] ne '200' && $_->[0] >= $t_fail } @log;
diag sprintf('non-200 answers after the command: %d, the last %.2f s after it',
             scalar(@bad), @bad ? $bad[-1][0] - $t_fail : 0);

is $set->master_addr, "127.0.0.1:$RP", 'the Sentinel names the old replica as master';
is_deeply [map { $_->pid } @nodes], \@PIDS, 'no Apache restart (same parent PIDs)';
ok $A->running && $B->running, 'both nodes run';

# the switch in each node's log, to the old replica
for my $n (@nodes) {
    ok grep_log($n->error_log_path,
                qr/MCPS00850: Sentinel: master mymaster is now 127\.0\.0\.1:$RP \(was 127\.0\.0\.1:$MP;/),
        'node ' . ($n == $A ? 'A' : 'B') . ' logged the switch to the old replica (MCPS00850)';
}

# every session, both nodes, and a new one lands on the new master
$all = 1;
for my $i (0 .. $#S) {
    for my $u (@U) {
        my ($code, $ok) = add($u, $S[$i], $i);
        $all &&= $ok;
    }
}
ok $all, 'after the failover every session works on both nodes';
my $new = initialize($U[1]);
ok is_session_id($new) && $R->cli('EXISTS', $prefix . sha256_hex($new)) == 1,
    'a session made now is on the new master (the old replica)';

# the old master: while it is still a master (Sentinel demotes it later),
# no node sends it anything
my $old_role = ($M->cli('ROLE'))[0] // '';
my $getex0 = getex_calls($M);
for my $i (0 .. 9) { add($U[$i % 2], $S[$i % @S], $i) }
my $getex1 = getex_calls($M);
my $still_master = ($M->cli('ROLE'))[0] // '';
SKIP: {
    skip "the old master was demoted already ($old_role/$still_master)", 1
        unless $old_role eq 'master' && $still_master eq 'master';
    is $getex1 - $getex0, 0, 'the old master, still writable, gets no calls after the switch';
}
sub getex_calls {
    my ($r) = @_;
    for ($r->cli('INFO', 'commandstats')) {
        return $1 if /^cmdstat_getex:calls=(\d+)/;
    }
    return 0;
}

# mod_status: the master and the listener (whichever child answers)
my $st = status_auto($A->url('/server-status?auto'));
is $st && $st->{MCPRedisSentinelMaster}, "127.0.0.1:$RP", 'mod_status shows the new master';
like $st && $st->{MCPRedisSentinelListener} // '', qr/^127\.0\.0\.1:\d+$/,
    'and the listener subscribed on the Sentinel';

# --- the new master dies: Sentinel promotes the old one back -----------------
ok $set->wait_replica($M, 30), 'Sentinel made the old master a replica of the new one, in sync';
ok $R->cli('WAIT', 1, 2000) >= 1, 'it has every session';
my ($log2, $codes2, $t_kill, undef, $t_switch2) = load(25, 1, sub { $R->kill; 1 }, $MP);
ok !$codes2->{404} && !grep({ $_ ne '200' && $_ ne '503' } keys %$codes2),
    'the master killed under load: no 404, only 200 or 503';
ok $t_switch2, sprintf('the Sentinel promoted the old master %.1f s after the kill',
                       $t_switch2 ? $t_switch2 - $t_kill : -1);
my @bad2 = grep { $_->[2] ne '200' } @$log2;
my @late2 = grep { $t_switch2 && $_->[0] >= $t_switch2 + 6 } @$log2;
ok $t_switch2 && !grep({ $_->[0] >= $t_switch2 + 6 } @bad2) && @late2 >= 10,
    sprintf('every request 6 s after the promotion on is 200 (%d of them; %d 503s, the last %.2f s after the promotion)',
            scalar(@late2), scalar(@bad2), @bad2 && $t_switch2 ? $bad2[-1][0] - $t_switch2 : 0);
for my $n (@nodes) {
    ok grep_log($n->error_log_path,
                qr/MCPS00850: Sentinel: master mymaster is now 127\.0\.0\.1:$MP \(was 127\.0\.0\.1:$RP;/),
        'node ' . ($n == $A ? 'A' : 'B') . ' logged the switch back (MCPS00850)';
}
is_deeply [map { $_->pid } @nodes], \@PIDS, 'still no Apache restart';

# --- the listener threads do not hold children back --------------------------
my @old_kids = $A->child_pids;
ok $A->graceful && wait_for(sub { !grep { MCPTest::pid_alive($_) } @old_kids }, 10, 0.1)
   && (add($U[0], $S[0], 5))[1],
    sprintf('graceful restart of node A: its %d old children (each with a subscribed listener) exit, calls work',
            scalar @old_kids);

# --- a master demoted by hand: READONLY alone moves the nodes --------------
# (no +switch-master: the fake Sentinel never publishes one)
my $Z1 = start_redis(name => 't72-z1');
my $Z2 = start_redis(name => 't72-z2', args => ['--replicaof', '127.0.0.1', $Z1->port]);
my ($Z1P, $Z2P) = ($Z1->port, $Z2->port);
my $fake = MCPSentinel::fake();
$fake->name_master('127.0.0.1', $Z1P);
my $E = start_node(name => 't72-e',
                   conf => node_conf('redis+sentinel://127.0.0.1:' . $fake->port . '/zmaster'),
                   loglevel => 'info mcp_session:debug mcp_session_redis:debug');
MCPSentinel::wait_link($Z1, $Z2, 20);
my @ZS = map { scalar initialize($E->url) } 1 .. 3;
ok !grep({ !is_session_id($_) || !(add($E->url, $_, 7))[1] } @ZS)
   && $Z1->cli('WAIT', 1, 2000) >= 1,
    'another master behind a fake Sentinel: three sessions, replicated';
# a child asks the Sentinels at most every 500 ms: let the first discovery age
sleep 0.6;
$Z2->cli('REPLICAOF', 'NO', 'ONE');
$Z1->cli('REPLICAOF', '127.0.0.1', $Z2P);
$fake->name_master('127.0.0.1', $Z2P);
ok wait_for(sub { (($Z1->cli('ROLE'))[0] // '') eq 'slave' }, 5, 0.05),
    'roles swapped by hand: the old master is a replica (READONLY), the fake names the new one';
my %zc;
for my $i (0 .. 29) {
    my ($code, $ok) = add($E->url, $ZS[$i % @ZS], $i);
    $zc{ $ok ? 200 : $code }++;
}
is_deeply [keys %zc], [200],
    'every call 200: READONLY made the child ask the Sentinel and run the call again on the new master'
    or diag explain \%zc;
ok grep_log($E->error_log_path, qr/MCPS00855: Sentinel: master zmaster \(127\.0\.0\.1:$Z1P\) suspected: READONLY/),
    'the READONLY suspicion is logged (MCPS00855)';
ok grep_log($E->error_log_path,
            qr/MCPS00850: Sentinel: master zmaster is now 127\.0\.0\.1:$Z2P \(was 127\.0\.0\.1:$Z1P; discovered through Sentinel/),
    'and the switch it caused (MCPS00850)';

# --- a Sentinel list whose first one is down ---------------------------------
my $dead = MCPTest::free_port();
my $SP = $set->{sentinel}->port;
my $D = start_node(name => 't72-d',
                   conf => node_conf("redis+sentinel://127.0.0.1:$dead,127.0.0.1:$SP/mymaster"),
                   loglevel => 'info mcp_session:debug mcp_session_redis:debug');
my $sd = initialize($D->url);
my ($dc, $dok) = is_session_id($sd) ? add($D->url, $sd, 41) : (0, 0);
ok $dok, 'first Sentinel down: the next one names the master, calls work';
# the listener waits 500 ms after the dead one; any child may answer
my $dst;
ok wait_for(sub {
        $dst = status_auto($D->url('/server-status?auto'));
        return $dst && ($dst->{MCPRedisSentinelInUse} // '') eq "127.0.0.1:$SP"
                    && ($dst->{MCPRedisSentinelListener} // '') eq "127.0.0.1:$SP";
    }, 5, 0.2),
    'mod_status: the Sentinel that answered is in use, and the listener found it'
    or diag explain { map { $_ => $dst->{$_} } grep { /Sentinel/ } keys %{ $dst || {} } };

# --- a Sentinel with a password (sentinel_password=) -------------------------
my $SPW = "t72-sentinel-pw-$$";
my $S2 = $set->sentinel(name => 'auth', password => $SPW);
my $S2P = $S2->port;
my $F = start_node(name => 't72-f',
                   conf => node_conf("redis+sentinel://127.0.0.1:$S2P/mymaster?sentinel_password=$SPW"),
                   loglevel => 'info mcp_session:debug mcp_session_redis:debug');
my $sf = initialize($F->url);
ok is_session_id($sf) && (add($F->url, $sf, 3))[1]
   && wait_for(sub { ((status_auto($F->url('/server-status?auto')) || {})->{MCPRedisSentinelListener}
                      // '') eq "127.0.0.1:$S2P" }, 5, 0.2),
    'a Sentinel with requirepass: sentinel_password= authenticates discovery and the listener';
my $G = start_node(name => 't72-g',
                   conf => node_conf("redis+sentinel://127.0.0.1:$S2P/mymaster?sentinel_password=wrong-$SPW"),
                   loglevel => 'info mcp_session:debug mcp_session_redis:debug');
my ($gres) = mcp_post($G->url, init_message());
my @glines = grep_log($G->error_log_path, qr/MCPS00854/);
ok $gres->code == 503 && @glines && $glines[0] =~ /127\.0\.0\.1:$S2P: .*(WRONGPASS|invalid|password)/i,
    'a wrong sentinel_password: 503, the Sentinel\'s refusal in the log (MCPS00854)'
    or diag $gres->code, ' ', $glines[0] // 'no MCPS00854 line';
ok !grep({ index(read_from($_->error_log_path), $SPW) >= 0 } $F, $G),
    'the Sentinel password appears in no log';

# --- a master name the Sentinel does not know -------------------------------
my $C = start_node(name => 't72-c', conf => node_conf($set->url('nosuch')),
                   loglevel => 'info mcp_session:debug mcp_session_redis:debug');
my ($init) = mcp_post($C->url, init_message());
is $init->code, 503, 'unknown master name: initialize is 503';
ok defined $init->header('Retry-After'), '... with Retry-After';
my ($res) = mcp_call($C->url, $S[0], 'ping', undef);
is $res->code, 503, 'and a request in a session 503 (never 404)';
ok grep_log($C->error_log_path,
            qr/MCPS00854: .*does not know a master named 'nosuch'/),
    'the log says the Sentinel does not know that master (MCPS00854)';
