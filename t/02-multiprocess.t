# One session used over many fresh TCP connections: every request succeeds,
# and the access log (%P) proves several child processes served it.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Apache::Test qw(-withtestmore);
use MCPTest;

my $U   = '/mcp';
my $mpm = server_mpm();
my $log = Apache::Test::vars('t_logs') . '/mcp_access_log';
my $want_pids = $mpm eq 'prefork' ? 3 : 2;
diag "MPM: $mpm";

my $off = file_size($log);
my ($sid) = initialize($U);
ok is_session_id($sid), 'session created';

# 40 sequential requests, each on a new connection
my $ok = 0;
my $echo_ok = 0;
for my $i (1 .. 40) {
    if ($i % 4) {
        my $r = mcp_post($U, rpc('ping'), session_headers($sid));
        $ok++ if $r->code == 200;
    }
    else {
        my ($r, $m) = mcp_call($U, $sid, 'tools/call',
                               { name => 'echo', arguments => { text => "n$i" } });
        $ok++ if $r->code == 200;
        $echo_ok++ if $m && ($m->{result}{content}[0]{text} // '') eq "n$i";
    }
}
is $ok, 40, '40 sequential requests on fresh connections: all 200';
is $echo_ok, 10, 'tools/call echo answers correctly in every process';

# 4 concurrent clients x 10 requests: several children must take part
my @kids;
for my $c (1 .. 4) {
    my $pid = fork;
    die "fork: $!" unless defined $pid;
    if (!$pid) {
        my $bad = 0;
        for (1 .. 10) {
            my $r = mcp_post($U, rpc('ping'), session_headers($sid));
            $bad++ unless $r->code == 200;
        }
        POSIX::_exit($bad);
    }
    push @kids, $pid;
}
my $bad = 0;
for (@kids) { waitpid $_, 0; $bad += $? >> 8 }
is $bad, 0, '40 concurrent requests in the same session: all 200';

my $pids = access_log_pids($log, $sid, $off);
diag 'requests per child: ' . join(', ', map { "$_ x$pids->{$_}" } sort keys %$pids);
my $served = 0;
$served += $_ for values %$pids;
cmp_ok $served, '>=', 80, 'the access log shows the requests of the session';
cmp_ok scalar(keys %$pids), '>=', $want_pids,
    "the session was served by at least $want_pids child processes ($mpm)"
    or diag 'pids: ' . join(', ', map { "$_ x$pids->{$_}" } sort keys %$pids);

done_testing;
