# mod_mcp_session_redis in a Redis Cluster (redis+cluster://): three masters
# on loopback, two Apache nodes. Sessions spread over every master and work
# on both nodes (each key routed to its slot's master at once: a slot
# computed differently from Redis's would show as MOVED); DELETE ends one
# everywhere; a slot holding a session in use is resharded to another
# master (ASK while its key moved, MOVED after) with every call 200; a key
# prefix with '{' is refused at startup; a master with a replica fails over
# (503 at most meanwhile, then the replica serves its sessions); a master
# without one costs 503 for its own sessions, never 404, and the others
# keep working.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore);
use Digest::SHA qw(sha256_hex);
use POSIX ();
use Time::HiRes qw(sleep time);
use MCPTest;
use MCPCluster;

# On purpose: the prefix refusal (MCPS00802, then the base module's
# MCPS00311 and httpd's AH00016) and the killed master's outage line
# (MCPS00820, once per child).
# expect-log: MCPS00802 MCPS00311 AH00016 MCPS00820

skip_unless_redis();
plan skip_all => 'mod_mcp_session_redis.so is not built'
    unless -e top_dir() . '/.libs/mod_mcp_session_redis.so';

plan tests => 37;

my $T0 = time;
my $cl = MCPCluster->start(name => 't73');
my @M = $cl->masters;
my $prefix = "mcp:t73:$$:";
my $load = 'LoadModule mcp_session_redis_module "' . top_dir()
         . "/.libs/mod_mcp_session_redis.so\"\n";
my $common = $load
           . "MCPSessionStorageMode external\n"
           . 'MCPSessionStore ' . $cl->url(2) . "\n"
           . "MCPSessionStoreTimeout 2\n";
my %node = (loglevel => 'info mcp_session:debug mcp_session_redis:debug');
my $A = start_node(name => 't73-a', %node,
                   conf => $common . "MCPSessionKeyPrefix $prefix\n");
my $B = start_node(name => 't73-b', %node,
                   conf => $common . "MCPSessionKeyPrefix $prefix\n");
my @N = ($A, $B);
ok $A->running && $B->running,
   'two nodes start on redis+cluster:// with two of the three masters as seeds';

sub key_of  { $prefix . '{' . sha256_hex($_[0]) . '}' }
sub call    {
    my ($node, $sid, $a) = @_;
    return (mcp_call($node->url, $sid, 'tools/call',
                     { name => 'add', arguments => { a => $a, b => 1 } }))[0];
}
sub master_of { $cl->owner($cl->keyslot(key_of($_[0]))) }
sub logs_match {
    my $re = shift;
    return scalar map { grep_log($_->error_log_path, $re) } @N;
}

# --- sessions spread over the masters, usable on both nodes ----------------
my @sids;
# three clients at once: the first calls of a child (event MPM: of its
# threads) come together, and one thread reads the map while the others wait
my @kids;
for my $w (0 .. 2) {
    my $pid = fork;
    die "fork: $!" unless defined $pid;
    if (!$pid) {
        open my $out, '>', MCPTest::work_dir() . "/t73-sids-$$-w" or POSIX::_exit(1);
        for my $i (0 .. 9) {
            my ($sid) = initialize($N[($w + $i) % 2]->url);
            print $out "$sid\n" if is_session_id($sid);
        }
        close $out;
        POSIX::_exit(0);
    }
    push @kids, $pid;
}
for my $pid (@kids) {
    waitpid $pid, 0;
    my $f = MCPTest::work_dir() . "/t73-sids-$pid-w";
    push @sids, grep { length } split /\n/, read_from($f);
    unlink $f;
}
is scalar @sids, 30, '30 sessions made by three clients at once, on both nodes';
my %on;
$on{ master_of($_)->port }++ for @sids;
for my $i (0 .. 2) {
    my $m = $M[$i];
    my $keys = () = grep { index($_, $prefix) == 0 }
                    $m->cli('--scan', '--pattern', "$prefix*");
    ok $keys > 0 && $keys == ($on{ $m->port } // 0),
       "master " . ($i + 1) . " holds the sessions of its slots ($keys)";
}
my @all = map { $_->cli('--scan', '--pattern', "$prefix*") } @M;
is_deeply [sort @all], [sort map { key_of($_) } @sids],
    'one key per session: prefix + {SHA-256 hex}, on the master of its slot';

my ($ok_other, $ok_same) = (0, 0);
for my $i (0 .. $#sids) {
    $ok_other++ if call($N[($i + 1) % 2], $sids[$i], $i)->code == 200;
    $ok_same++  if call($N[$i % 2], $sids[$i], $i)->code == 200;
}
is $ok_other, 30, 'tools/call on the other node: 200 for every session';
is $ok_same, 30, '... and on the node that made it';
my ($r, $m) = mcp_call($B->url, $sids[0], 'tools/call',
                       { name => 'add', arguments => { a => 40, b => 2 } });
is $m && $m->{result} && $m->{result}{content}[0]{text}, '42', '... with the right answer';
is logs_match(qr/MCPS0087[9]|MCPS00880/), 0,
   'no MOVED or ASK so far: every key went to its slot\'s master first (our CRC16 slots are Redis\'s)';
my %reads;
for my $n (@N) {
    $reads{$_}++ for map { /\[pid (\d+)/ ? $1 : () }
                     grep_log($n->error_log_path, qr/MCPS00872: .*16384 of 16384 slots covered/);
}
ok %reads && !grep({ $_ != 1 } values %reads),
   'each child read the whole slot map once, however many calls came at once ('
   . join(' ', map { "$_:$reads{$_}" } sort keys %reads) . ')';
my $st = wait_for(sub {
    my $s = status_auto($A->url('/server-status?auto'));
    $s && ($s->{MCPRedisClusterSlots} // 0) == 16384 ? $s : undef;
}, 5, 0.05);
ok $st && $st->{MCPRedisClusterMasters} == 3,
   'mod_status: MCPRedisClusterMasters 3, MCPRedisClusterSlots 16384';

# --- DELETE on one node ends the session everywhere ------------------------
my $gone = pop @sids;
my $gm = master_of($gone);
is mcp_delete($B->url, session_headers($gone))->code, 200, 'DELETE on node B: 200';
is call($A, $gone, 1)->code, 404, '... then node A: 404';
is call($B, $gone, 1)->code, 404, '... and node B: 404';
is $gm->cli('EXISTS', key_of($gone)), '0', '... and its key is gone from its master';

# --- a slot migrated while its session is in use ---------------------------
my $sid = $sids[0];
my $key = key_of($sid);
my $slot = $cl->keyslot($key);
my $from = master_of($sid);
my ($to) = grep { $_ != $from } @M;
my $codes = MCPTest::work_dir() . "/t73-codes-$$";
my $stop  = "$codes.stop";
unlink $codes, $stop;
my $looper = fork;
die "fork: $!" unless defined $looper;
if (!$looper) {
    # calls on the session, both nodes in turn, until told to stop (or 25 s)
    open my $out, '>', $codes or POSIX::_exit(1);
    select((select($out), $| = 1)[0]);
    my $end = time + 25;
    for (my $i = 0; !-e $stop && time < $end && $i < 5000; $i++) {
        my $res = call($N[$i % 2], $sid, $i);
        print $out $res->code, ' ', ($i % 2 ? 'B' : 'A'), "\n";
        sleep 0.01;
    }
    close $out;
    POSIX::_exit(0);
}
my $lines = sub { my @l = split /\n/, read_from($codes); scalar @l };
wait_for(sub { $lines->() >= 20 }, 10, 0.05);
my $before = $lines->();
my @moved = eval {
    $cl->migrate($slot, $from, $to,
                 # the key is on the target, the slot not yet: ASK time
                 after_keys => sub {
                     my $n = $lines->();
                     wait_for(sub { $lines->() >= $n + 30 }, 10, 0.05);
                 });
};
is $@, '', "slot $slot resharded from " . $from->port . ' to ' . $to->port
           . ' (IMPORTING/MIGRATING, MIGRATE, SETSLOT NODE on all)';
my $n_mid = $lines->();
wait_for(sub { $lines->() >= $n_mid + 30 }, 10, 0.05);
open my $fh, '>', $stop; close $fh;
waitpid $looper, 0;
my @codes = map { (split ' ')[0] } split /\n/, read_from($codes);
my %count;
$count{$_}++ for @codes;
ok @codes >= $before + 60, scalar(@codes) . ' calls during the migration';
is_deeply [sort keys %count], ['200'],
   'every call on that session was 200 (' . join(', ', map { "$_: $count{$_}" } sort keys %count) . ')';
is_deeply \@moved, [$key], 'its key was the one moved';
is $to->cli('EXISTS', $key), '1', '... it is on the target master';
ok logs_match(qr/MCPS00880: .*ASK: slot $slot /),
   'ASK was followed (ASKING on the target) while the key had moved and the slot not yet';
ok logs_match(qr/MCPS00879: .*MOVED: slot $slot is at 127\.0\.0\.1:${\ $to->port}/),
   'MOVED patched the map after SETSLOT NODE';
ok $cl->wait_ok(10), 'the cluster agrees on the new owner';
is call($A, $sid, 5)->code, 200, 'the session still works afterwards on A';
is call($B, $sid, 5)->code, 200, '... and on B';

# --- a prefix with '{' is refused -------------------------------------------
my $bad = start_node(name => 't73-brace', may_fail => 1,
                     conf => $common . "MCPSessionKeyPrefix mcp:{t73}:\n");
ok !$bad->running, "a key prefix holding '{' stops the startup";
like $bad->startup_output . read_from($bad->error_log_path),
     qr/MCPS00802: MCPSessionKeyPrefix mcp:\{t73\}:.* may not hold '\{' or '\}'/,
     '... saying why (MCPS00802)';

# --- a master with a replica fails: the replica takes its slots over -------
my %where = map { $_ => master_of($_)->port } @sids;
my ($victim, $fo) = grep { $_ != $to } @M;
my $rep = $cl->add_replica($fo);
my @fo_sids = grep { $where{$_} == $fo->port } @sids;
my $fsid = $fo_sids[0];
$fo->kill;
my $t_kill = time;
my (%fcodes, $ok_in_row, $back);
for (my $i = 0; time - $t_kill < 20; $i++) {
    my $code = call($N[$i % 2], $fsid, $i)->code;
    $fcodes{$code}++;
    $ok_in_row = $code == 200 ? ($ok_in_row // 0) + 1 : 0;
    if ($ok_in_row >= 4) { $back = time - $t_kill; last }
    sleep 0.05;
}
ok defined $back, sprintf('master %s killed: its replica serves the session on both nodes after %.1f s',
                          $fo->port, $back // -1);
ok !grep({ $_ != 200 && $_ != 503 } keys %fcodes),
   'meanwhile only 200 or 503, never 404 (' . join(', ', map { "$_: $fcodes{$_}" } sort keys %fcodes) . ')';
# each child reads the map again at most once a second after a failure:
# all of them have the new one a second after the first did
my $fo_ok = wait_for(sub {
    my $n = grep { call($A, $_, 1)->code == 200 && call($B, $_, 1)->code == 200 } @fo_sids;
    $n == @fo_sids ? $n : undef;
}, 5, 0.2);
is $fo_ok, scalar @fo_sids, sprintf('every session of the failed master works again on both nodes (%d), %.1f s after the kill',
                                    scalar @fo_sids, time - $t_kill);
ok logs_match(qr/MCPS00874: .*slot \d+ is at 127\.0\.0\.1:${\ $rep->port} now/),
   'a call whose master failed read the map again and ran on the promoted replica (MCPS00874)';

# --- a master without replica killed: 503 for its slots, never 404 ----------
my @dead = grep { $where{$_} == $victim->port } @sids;
my @live = grep { $where{$_} != $victim->port } @sids;
$victim->kill;
my $t_vkill = time;
my (%dead_codes, %live_codes, $retry_after);
for my $i (0 .. 9) {
    my $res = call($N[$i % 2], $dead[$i % @dead], $i);
    $dead_codes{ $res->code }++;
    $retry_after //= $res->header('Retry-After') if $res->code == 503;
    $live_codes{ call($N[$i % 2], $live[$i % @live], $i)->code }++;
}
is_deeply [sort keys %dead_codes], ['503'],
    'sessions on the killed master: 503 (' . join(', ', map { "$_: $dead_codes{$_}" } sort keys %dead_codes) . ')';
ok defined $retry_after, '... with Retry-After';
# A child whose slot map still names the master that failed over above
# (it had no call for those slots since) may answer 503 until it reads the
# map again (at most once a second): never 404, and 200 soon after.
ok !grep({ $_ != 200 && $_ != 503 } keys %live_codes),
    'sessions on the other masters (the promoted replica too): 200 or, in a child with an old map, 503 ('
    . join(', ', map { "$_: $live_codes{$_}" } sort keys %live_codes) . ')';
my $live_ok = wait_for(sub {
    my $n = grep { call($A, $_, 1)->code == 200 && call($B, $_, 1)->code == 200 } @live;
    $n == @live ? $n : undef;
}, 5, 0.2);
is $live_ok, scalar @live, sprintf('... and all of them (%d) answer 200 on both nodes %.1f s after the kill',
                                   scalar @live, time - $t_vkill);

my $took = time - $T0;
ok $took < 60, sprintf('the whole file took %.1f s', $took);
