# The DELETE/refresh race across nodes. Node A rewrites a session on every
# request (MCPSessionRefreshAfter 0); several client processes hammer many
# sessions on node A while each one is deleted on node B. A refresh that
# read the record before the DELETE writes it back after it; the store must
# notice the tombstone and delete it again. Afterwards no record key of a
# deleted session may exist, every deleted session answers 404 on both
# nodes, and no request that started after its DELETE had returned was
# served.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore);
use Digest::SHA qw(sha256_hex);
use Time::HiRes qw(sleep time);
use POSIX ();
use MCPTest;

skip_unless_redis();

plan tests => 9;

my $SESSIONS = 60;
my $HAMMERS  = 8;
my $prefix   = "mcp:t22:$$:";
my ($redis, $A, $B) = start_fleet(
    name => 't22', prefix => $prefix, conf => "MCPSessionTTL 600\n",
    nodes => [{ threads => 8, conf => "MCPSessionRefreshAfter 0\n" }, {}]);
my ($UA, $UB) = ($A->url, $B->url);

sub ping { mcp_post($_[0], rpc('ping'), session_headers($_[1]), -keepalive => 1, -timeout => 10) }

my @sids = map { scalar initialize($_ % 2 ? $UA : $UB) } 1 .. $SESSIONS;
is scalar(grep { is_session_id($_) } @sids), $SESSIONS, "$SESSIONS sessions";

my $log_offset = file_size($A->error_log_path);
my $results = MCPTest::work_dir() . "/t22-results-$$";
unlink glob "$results.*";

# hammer processes: ping, on node A, the sessions about to be deleted
# until all are gone (or 30 s), writing "index start end status" lines
my @kids;
for my $h (1 .. $HAMMERS) {
    my $pid = fork();
    die "fork: $!" unless defined $pid;
    if (!$pid) {
        srand($$ ^ time);
        open my $out, '>', "$results.$h" or POSIX::_exit(1);
        my %gone;
        my $end = time + 30;
        my $next = 0;       # the parent deletes in order: stay close
        while ($next < $SESSIONS && time < $end) {
            $next++ while $next < $SESSIONS && $gone{$next};
            my $i = $next + int rand 3;
            next if $i >= $SESSIONS || $gone{$i};
            my $t = time;
            my $code = ping($UA, $sids[$i])->code;
            printf $out "%d %.6f %.6f %d\n", $i, $t, time, $code;
            $gone{$i} = 1 if $code == 404;
        }
        close $out;
        POSIX::_exit(0);
    }
    push @kids, $pid;
}

# meanwhile: delete every session on node B
sleep 0.3;
my (@deleted_at, %del_codes);
for my $i (0 .. $SESSIONS - 1) {
    $del_codes{ mcp_delete($UB, session_headers($sids[$i]))->code }++;
    $deleted_at[$i] = time;
    sleep 0.02;
}
waitpid $_, 0 for @kids;
is_deeply \%del_codes, { 200 => $SESSIONS },
    'every DELETE on node B answered 200 while node A was hammered'
    or diag explain \%del_codes;

my (@lines, $late_ok, $served, $unexpected);
for my $h (1 .. $HAMMERS) {
    open my $in, '<', "$results.$h" or next;
    push @lines, <$in>;
    close $in;
}
($late_ok, $served, $unexpected) = (0, 0, 0);
for (@lines) {
    my ($i, $start, $end, $code) = split;
    $served++ if $code == 200;
    $unexpected++ if $code != 200 && $code != 404;
    $late_ok++ if $code == 200 && $start > $deleted_at[$i];
}
ok @lines > $SESSIONS, scalar(@lines) . " requests on node A during the deletes ($served served)";
is $unexpected, 0, 'every one answered 200 or 404 (no 5xx)';
is $late_ok, 0, 'no request that started after its DELETE returned was served';

# let in-flight refreshes settle, then look at Redis and at both nodes
sleep 0.5;
my @left = grep { $redis->cli('EXISTS', $prefix . sha256_hex($_)) ne '0' } @sids;
is scalar(@left), 0, 'no record key of a deleted session is left in Redis';
my ($na, $nb) = (0, 0);
for my $sid (@sids) {
    $na++ if ping($UA, $sid)->code == 404;
    $nb++ if ping($UB, $sid)->code == 404;
}
is $na, $SESSIONS, 'every deleted session answers 404 on node A';
is $nb, $SESSIONS, '... and on node B';

my @hits = grep_log($A->error_log_path, qr/removed concurrently/, $log_offset);
diag scalar(@hits) . ' refresh(es) on node A found a tombstone and deleted the record again';
my @revived = grep { $redis->cli('EXISTS', $prefix . sha256_hex($_)) ne '0' } @sids;
is scalar(@revived), 0, 'still no record key after the 404 checks';
unlink glob "$results.*";
