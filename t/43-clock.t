# Memory mode: session lifetimes do not follow the wall clock. A step of
# the system time (NTP, date -s) must neither expire every session nor make
# them immortal. The wall clock of an extra httpd is stepped with
# libfaketime (LD_PRELOAD, the offset read from a file on every call; the
# monotonic clock left alone), so the machine's clock is not touched.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Apache::Test qw(-withtestmore);
use File::Temp qw(tempfile);
use HTTP::Date qw(str2time);
use Time::HiRes qw(sleep time);
use MCPTest;

my ($LIB) = grep { -e } map { "$_/faketime/libfaketime.so.1" }
    qw(/usr/lib/x86_64-linux-gnu /usr/lib/aarch64-linux-gnu /usr/lib64 /usr/lib);
plan skip_all => 'libfaketime is not installed (Debian package libfaketime)'
    unless $LIB;
# ASAN=1 starts httpd through a script that sets LD_PRELOAD to libasan
# (libasan and libfaketime together hang at startup anyway)
my $HTTPD = MCPTest::Node::httpd_binary();
plan skip_all => "httpd is started through a wrapper script ($HTTPD) that sets "
    . 'LD_PRELOAD itself' if -T $HTTPD;

my $TTL = 5;
my ($fh, $rc) = tempfile('faketime-XXXXXX', DIR => MCPTest::work_dir(), UNLINK => 1);
chmod 0644, $rc;
sub step {
    my $offset = shift;
    open my $w, '>', "$rc.new" or die "$rc.new: $!";
    print $w "$offset\n";
    close $w;
    chmod 0644, "$rc.new";
    rename "$rc.new", $rc or die "rename: $!";
}
step('+0');

my $node;
{
    local $ENV{LD_PRELOAD} = $LIB;
    local $ENV{FAKETIME_TIMESTAMP_FILE} = $rc;
    local $ENV{FAKETIME_NO_CACHE} = 1;
    local $ENV{FAKETIME_DONT_FAKE_MONOTONIC} = 1;
    $node = start_node(name => 'clock', conf => "MCPSessionTTL $TTL\n");
}
my $U = $node->url;
diag "node $U ($node->{mpm}), libfaketime $LIB";

# the server's wall clock minus ours, from its Date header
sub skew {
    my $r = mcp_get($node->url('/server-status?auto'));
    my $d = str2time($r->header('Date') // '');
    return defined $d ? $d - time : undef;
}
sub ping { my $sid = shift; mcp_post($U, rpc('ping'), session_headers($sid))->code }

my $s0 = skew();
ok defined $s0 && abs($s0) < 30, 'the server starts on our clock'
    or diag 'skew ' . ($s0 // 'none');

my ($a) = initialize($U);
ok is_session_id($a), 'a session';
is ping($a), 200, 'it works';

# forward: 2 hours
step('+7200');
my $s1 = skew();
ok defined $s1 && abs($s1 - 7200) < 30, 'the server clock stepped 2 h forward'
    or diag 'skew ' . ($s1 // 'none');
is ping($a), 200, 'a 2 h forward step of the wall clock does not expire the session';
my ($b) = initialize($U);
is ping($b), 200, 'a session made after the step works';
my ($d) = initialize($U);

# backward: 4 hours (2 h behind the real time)
step('-7200');
my $s2 = skew();
ok defined $s2 && abs($s2 + 7200) < 30, 'the server clock stepped 4 h back'
    or diag 'skew ' . ($s2 // 'none');
is ping($d), 200, 'a backward step keeps a session';
# ($b is not touched again: a use would restart its lifetime on any clock)
my ($c) = initialize($U);
my $t0 = time;
# $c is used every TTL/4; $a and $b stay idle for longer than the TTL
my ($n, $ok) = (0, 0);
while (time - $t0 < $TTL + 2) {
    sleep $TTL / 4;
    $n++;
    $ok++ if ping($c) == 200;
}
is $ok, $n, "a session used every ${\ ($TTL / 4)} s lives on ($n uses)";
is ping($b), 404, "after the backward step an idle session still expires after the TTL ($TTL s), "
    . 'not 2 h later';
is ping($a), 404, 'so does the first one';

$node->stop;
done_testing;
