# Concurrent clients: sessions and responses never get crossed.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Apache::Test qw(-withtestmore);
use POSIX ();
use MCPTest;

my $U = '/mcp';

# run $n forked workers; each returns the number of problems (exit code)
sub run_workers {
    my ($n, $code) = @_;
    my @pids;
    for my $w (1 .. $n) {
        my $pid = fork;
        die "fork: $!" unless defined $pid;
        if (!$pid) {
            my $bad = eval { $code->($w) };
            $bad = 99 unless defined $bad;
            POSIX::_exit($bad > 250 ? 250 : $bad);
        }
        push @pids, $pid;
    }
    my $bad = 0;
    for (@pids) { waitpid $_, 0; $bad += $? >> 8 }
    return $bad;
}

# 8 clients, each with its own session, 12 echo calls each
my $bad = run_workers(8, sub {
    my $w = shift;
    my ($sid) = initialize($U);
    return 50 unless is_session_id($sid);
    my $bad = 0;
    for my $i (1 .. 12) {
        my $text = "w$w-$i-" . ('z' x ($i * 7));
        my ($r, $m) = mcp_call($U, $sid, 'tools/call', { name => 'echo', arguments => { text => $text } });
        $bad++ unless $r->code == 200 && ($m->{result}{content}[0]{text} // '') eq $text
                    && ($r->header('Mcp-Session-Id') // '') eq $sid;
    }
    $bad++ unless mcp_delete($U, session_headers($sid))->code == 200;
    return $bad;
});
is $bad, 0, '8 concurrent clients x 12 tools/call, each in its own session';

# 6 clients sharing one session, each request gets its own answer
my ($shared) = initialize($U);
ok is_session_id($shared), 'shared session';
$bad = run_workers(6, sub {
    my $w = shift;
    my $bad = 0;
    for my $i (1 .. 10) {
        my $req = rpc('tools/call', { name => 'add', arguments => { a => $w * 1000, b => $i } }, "w$w-$i");
        my $r = mcp_post($U, $req, session_headers($shared));
        my $m = rpc_final($r);
        $bad++ unless $r->code == 200 && ($m->{id} // '') eq "w$w-$i"
                    && ($m->{result}{content}[0]{text} // '') eq ($w * 1000 + $i);
    }
    return $bad;
});
is $bad, 0, '6 concurrent clients x 10 requests in one session: no crossed answers';

# concurrent SSE responses in one session (progress), each with its own token
$bad = run_workers(4, sub {
    my $w = shift;
    my $bad = 0;
    for my $i (1 .. 2) {
        my $req = rpc('tools/call', { name => 'test_tool_with_progress', arguments => {},
                                      _meta => { progressToken => "t$w-$i" } });
        my $r = mcp_post($U, $req, session_headers($shared), -timeout => 20);
        my $msgs = rpc_body($r);
        $bad++, next unless ref $msgs eq 'ARRAY' && @$msgs;
        my @prog = grep { ($_->{method} // '') eq 'notifications/progress' } @$msgs;
        $bad++ unless @prog >= 3;
        $bad++ if grep { ($_->{params}{progressToken} // '') ne "t$w-$i" } @prog;
        $bad++ unless ($msgs->[-1]{id} // '') eq $req->{id};
    }
    return $bad;
});
is $bad, 0, '4 concurrent SSE responses in one session: each gets only its own notifications';

# churn: create and delete concurrently
$bad = run_workers(6, sub {
    my $bad = 0;
    for (1 .. 8) {
        my ($sid) = initialize($U, no_initialized => 1);
        $bad++, next unless is_session_id($sid);
        $bad++ unless mcp_post($U, rpc('ping'), session_headers($sid))->code == 200;
        $bad++ unless mcp_delete($U, session_headers($sid))->code == 200;
        $bad++ unless mcp_post($U, rpc('ping'), session_headers($sid))->code == 404;
    }
    return $bad;
});
is $bad, 0, '6 clients x 8 create/use/delete cycles concurrently';

is mcp_post($U, rpc('ping'), session_headers($shared))->code, 200, 'shared session still alive';

done_testing;
