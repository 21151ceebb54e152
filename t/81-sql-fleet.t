# The SQL store (mod_mcp_session_sql) as a fleet: two httpd nodes in
# external mode with MCPSessionStore sql://mcp_session on one private
# PostgreSQL (t/lib/MCPPostgres.pm).
#
# 1. A session created on A is used on B and the other way round; the row
#    holds prefix + sha256 of the id, never the id itself.
# 2. Sliding expiry (MCPSessionTTL 3, MCPSessionRefreshAfter 1): quick
#    requests do not write (expires unchanged in the table), a request
#    after RefreshAfter moves expires; a session used every second on
#    alternate nodes outlives 3 x TTL, an idle one answers 404 on both
#    nodes (and its row is invisible to the store: expires is past).
# 3. The handshake TTL: a session without notifications/initialized lives
#    MCPSessionHandshakeTTL (1 s) and is gone after 2.5 s idle, while a
#    completed one made at the same time still works.
# 4. DELETE on A: 404 on B at once, also for DELETE again; the row is gone.
# 5. The delete race (the t/22 pattern): node C rewrites a session on
#    every request (MCPSessionRefreshAfter 0: UPDATE ... RETURNING); client
#    processes hammer sessions on C while each is deleted on D. No request
#    that started after its DELETE returned is served, no row of a deleted
#    session is left (an UPDATE cannot insert), every one is 404 on both.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore);
use Digest::SHA qw(sha256_hex);
use POSIX ();
use Time::HiRes qw(sleep time);
use MCPTest;
use MCPPostgres;

MCPPostgres::skip_unless_available();

plan tests => 28;

my $TTL    = 3;
my $prefix = "mcp:t81:$$:";
my $pg     = MCPPostgres->start(name => 't81');
my $conf   = $pg->node_conf(conf => "MCPSessionKeyPrefix $prefix\n"
                                  . "MCPSessionTTL $TTL\nMCPSessionRefreshAfter 1\n"
                                  . "MCPSessionHandshakeTTL 1\n");
my $A = start_node(name => 't81-a', conf => $conf);
my $B = start_node(name => 't81-b', conf => $conf);
my @U = ($A->url, $B->url);
diag "PostgreSQL on port " . $pg->port . ", nodes $U[0] $U[1] ($A->{mpm})";

sub ping { mcp_post($_[0], rpc('ping'), session_headers($_[1]), -timeout => 10) }
sub key_of { $prefix . sha256_hex($_[0]) }
sub q_key { my $k = key_of($_[0]); $k =~ s/'/''/g; "'$k'" }
# expires of the session's row as epoch seconds (float), or undef
sub expires_of {
    my $e = $pg->psql('SELECT extract(epoch FROM expires) FROM mcp_session WHERE key = ' . q_key($_[0]));
    return defined $e && length $e ? $e : undef;
}

# --- 1. cross-node use ------------------------------------------------------
my ($s1) = initialize($U[0]);
ok is_session_id($s1), 'initialize on A: a session';
my ($res, $m) = mcp_call($U[1], $s1, 'tools/call', { name => 'echo', arguments => { text => 't81' } });
is $res->code, 200, 'tools/call of the session of A on B: 200';
is eval { $m->{result}{content}[0]{text} }, 't81', '... with the tool\'s answer';
my ($s2) = initialize($U[1]);
is ping($U[0], $s2)->code, 200, 'a session of B works on A';
is $pg->psql('SELECT count(*) FROM mcp_session WHERE key IN (' . q_key($s1) . ', ' . q_key($s2) . ')'),
    '2', 'both are rows of mcp_session keyed prefix + sha256(id)';
is $pg->psql("SELECT count(*) FROM mcp_session WHERE strpos(key, '$s1') > 0 OR strpos(record, '$s1') > 0"),
    '0', 'the session id itself is stored nowhere';

# --- 2. sliding expiry -----------------------------------------------------
my ($busy) = initialize($U[0]);
my ($idle) = initialize($U[1]);
my $t0 = time;
sleep 1.2;      # past RefreshAfter: the first ping writes, then quick ones do not
ping($U[0], $busy);
my $e0 = expires_of($busy);
my $quick = grep { ping($U[$_ % 2], $busy)->code == 200 } 1 .. 6;
is $quick, 6, 'six quick requests on both nodes: 200';
is expires_of($busy), $e0, '... and expires did not move (younger than MCPSessionRefreshAfter)';
sleep 1.2;
is ping($U[1], $busy)->code, 200, 'a request after RefreshAfter: 200';
my $e1 = expires_of($busy);
ok defined $e0 && defined $e1 && $e1 > $e0 + 0.5,
    sprintf('... and slid expires by %.2f s', ($e1 // 0) - ($e0 // 0));

my ($n, $good, $i) = (0, 0, 0);
while (time - $t0 < 3.3 * $TTL) {
    sleep 1;
    $n++;
    $good++ if ping($U[$i++ % 2], $busy)->code == 200;
}
my $elapsed = time - $t0;
is $good, $n, sprintf('a session used every second on alternate nodes lives %.1f s (TTL %d s)',
                      $elapsed, $TTL);
cmp_ok $elapsed, '>', 3 * $TTL, 'which is more than 3 x TTL';
for my $k (0, 1) {
    check_error(ping($U[$k], $idle), 404, -32001, qr/^Session not found$/,
                'the idle session expired: 404 on node ' . ('A', 'B')[$k]);
}
is $pg->psql('SELECT count(*) FROM mcp_session WHERE expires > now() AND key = ' . q_key($idle)),
    '0', '... its row (if the cleanup has not taken it yet) has expired';

# --- 3. the handshake TTL ------------------------------------------------
my ($pending) = initialize($U[0], no_initialized => 1);
my ($done) = initialize($U[0]);
ok is_session_id($pending) && is_session_id($done), 'one session in its handshake, one completed';
sleep 2.5;
is ping($U[1], $pending)->code, 404, 'the one that never sent notifications/initialized is gone after 2.5 s (MCPSessionHandshakeTTL 1)';
is ping($U[1], $done)->code, 200, 'the completed one made at the same time works';

# --- 4. DELETE on A: gone on B at once --------------------------------------
my ($gone) = initialize($U[1]);
is ping($U[0], $gone)->code, 200, 'a session in use';
is mcp_delete($U[0], session_headers($gone))->code, 200, 'DELETE on A: 200';
check_error(ping($U[1], $gone), 404, -32001, qr/^Session not found$/, '... then 404 on B at once');
is mcp_delete($U[1], session_headers($gone))->code, 404, 'DELETE again on B: 404';
is $pg->psql('SELECT count(*) FROM mcp_session WHERE key = ' . q_key($gone)), '0', 'its row is gone';

# --- 5. the delete race --------------------------------------------------
my $SESSIONS = 40;
my $HAMMERS  = 6;
my $rconf = $pg->node_conf(conf => "MCPSessionKeyPrefix $prefix\nMCPSessionTTL 600\n");
my $C = start_node(name => 't81-c', threads => 8, conf => $rconf . "MCPSessionRefreshAfter 0\n");
my $D = start_node(name => 't81-d', conf => $rconf);
my ($UC, $UD) = ($C->url, $D->url);
sub kping { mcp_post($_[0], rpc('ping'), session_headers($_[1]), -keepalive => 1, -timeout => 10) }

my @sids = map { scalar initialize($_ % 2 ? $UC : $UD) } 1 .. $SESSIONS;
my $results = MCPTest::work_dir() . "/t81-results-$$";
unlink glob "$results.*";
my @kids;
for my $h (1 .. $HAMMERS) {
    my $pid = fork();
    die "fork: $!" unless defined $pid;
    if (!$pid) {
        srand($$ ^ time);
        open my $out, '>', "$results.$h" or POSIX::_exit(1);
        my %gone;
        my $end = time + 30;
        my $next = 0;
        while ($next < $SESSIONS && time < $end) {
            $next++ while $next < $SESSIONS && $gone{$next};
            my $i = $next + int rand 3;
            next if $i >= $SESSIONS || $gone{$i};
            my $t = time;
            my $code = kping($UC, $sids[$i])->code;
            printf $out "%d %.6f %.6f %d\n", $i, $t, time, $code;
            $gone{$i} = 1 if $code == 404;
        }
        close $out;
        POSIX::_exit(0);
    }
    push @kids, $pid;
}
sleep 0.3;
my (@deleted_at, %del_codes);
for my $i (0 .. $SESSIONS - 1) {
    $del_codes{ mcp_delete($UD, session_headers($sids[$i]))->code }++;
    $deleted_at[$i] = time;
    sleep 0.02;
}
waitpid $_, 0 for @kids;
is_deeply \%del_codes, { 200 => $SESSIONS }, 'every DELETE on node D answered 200 while C was hammered'
    or diag explain \%del_codes;
my @lines;
for my $h (1 .. $HAMMERS) {
    open my $in, '<', "$results.$h" or next;
    push @lines, <$in>;
    close $in;
}
my ($late_ok, $served, $unexpected) = (0, 0, 0);
for (@lines) {
    my ($i, $start, $end, $code) = split;
    $served++ if $code == 200;
    $unexpected++ if $code != 200 && $code != 404;
    $late_ok++ if $code == 200 && $start > $deleted_at[$i];
}
ok @lines > $SESSIONS && !$unexpected,
    scalar(@lines) . " requests on C during the deletes ($served served), all 200 or 404 (no 5xx)";
is $late_ok, 0, 'no request that started after its DELETE returned was served';
sleep 0.5;
is $pg->psql('SELECT count(*) FROM mcp_session WHERE key IN ('
             . join(', ', map { q_key($_) } @sids) . ')'),
    '0', 'no row of a deleted session is left (an UPDATE never inserts)';
my ($nc, $nd) = (0, 0);
for my $sid (@sids) {
    $nc++ if ping($UC, $sid)->code == 404;
    $nd++ if ping($UD, $sid)->code == 404;
}
ok $nc == $SESSIONS && $nd == $SESSIONS, "every deleted session answers 404 on C ($nc) and D ($nd)";
unlink glob "$results.*";
