# Redis that answers but refuses: full (maxmemory 1 with noeviction: OOM),
# a read-only replica (READONLY), a password set (NOAUTH). Refused writes
# get 503 (never 404), reads of existing sessions keep working, the
# connections are kept (no new connection per failed write: INFO's
# total_connections_received and connected_clients stay put), the store
# stays healthy, and the log says Redis refused the command (MCPS00440),
# not that it is unreachable (MCPS00411). When Redis accepts writes again,
# so does the node.
#
# Also: an apr-util whose apr_redis lacks the fix for CVE-2026-34501 is
# warned about at startup (MCPS00442), found from dpkg's status file
# (MCP_DPKG_STATUS names a stand-in here).
#
# expect-log: MCPS00440 MCPS00442
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore);
use Time::HiRes qw(sleep time);
use MCPTest;

skip_unless_redis();

plan tests => 33;

my $prefix = "mcp:t28:$$:";
my $redis  = start_redis(name => 't28-redis');
# RefreshAfter 0: reads write too, so they are refused as well
my $conf   = $redis->store_conf($prefix, 'MCPSessionTTL 600', 'MCPSessionRefreshAfter 0');
my $N   = start_node(name => 't28', conf => $conf);
my $U   = $N->url;
my $log = $N->error_log_path;

my @pass;       # redis-cli arguments while Redis has a password
my $cli_calls = 0;
sub cli { $cli_calls++; return $redis->cli(@pass, @_) }
# { connections => total_connections_received, clients => connected_clients,
#   cli => redis-cli calls so far (each is one connection) }
sub info {
    my %i;
    for (cli('INFO')) {
        $i{$1} = $2 if /^(total_connections_received|connected_clients):(\d+)/;
    }
    return { connections => $i{total_connections_received} // -1,
             clients => $i{connected_clients} // -1, cli => $cli_calls };
}
sub ping { mcp_post($U, rpc('ping'), session_headers($_[0]))->code }
sub codes {
    my %c;
    $c{$_}++ for @_;
    return join ', ', map { "$_ x$c{$_}" } sort keys %c;
}
sub status {
    my $s = status_auto($N->url('/server-status'));
    return $s || {};
}

my @sids = map { scalar initialize($U) } 1 .. 3;
is scalar(grep { is_session_id($_) } @sids), 3, 'three sessions';
# every child opens its connection
ping($sids[$_ % 3]) for 1 .. 30;

# --- OOM ----------------------------------------------------------------------
cli('CONFIG', 'SET', 'maxmemory-policy', 'noeviction');
cli('CONFIG', 'SET', 'maxmemory', '1');
my $offset = file_size($log);
my $i0 = info();
my @init = map { mcp_post($U, init_message()) } 1 .. 20;
is codes(map { $_->code } @init), '503 x20', 'Redis full (OOM): 20 initialize requests answer 503';
check_error($init[0], 503, -32000, qr/^Service Unavailable/, '... with the JSON-RPC error body');
my @set = map { mcp_post($U, rpc('logging/setLevel', { level => 'debug' }),
                         session_headers($sids[0]))->code } 1 .. 5;
is codes(@set), '503 x5', 'a change of a session (logging/setLevel): 503, not 404';
my @reads = map { ping($sids[$_ % 3]) } 1 .. 12;
is codes(@reads), '200 x12', 'reads of existing sessions keep working (their refresh is refused)';
my $i1 = info();
my $new = $i1->{connections} - $i0->{connections} - ($i1->{cli} - $i0->{cli});
cmp_ok $new, '<=', 1, "the node opened $new new Redis connections for 25 refused writes";
cmp_ok abs($i1->{clients} - $i0->{clients}), '<=', 1,
    "connected clients stable ($i0->{clients} -> $i1->{clients})";
my @refused = grep_log($log, qr/MCPS00440:.*Redis refused SETEX/, $offset);
ok scalar(@refused), 'the log says Redis refused SETEX'
    or diag MCPTest::read_from($log, $offset);
ok !grep_log($log, qr/MCPS00411|not reachable/, $offset), '... and never that it is unreachable';
my $st = status();
is $st->{MCPSessionRedisHealthy}, 1, 'mod_status: the store stays healthy';
cmp_ok $st->{MCPSessionRedisRefused} // 0, '>', 0,
    'mod_status counts refused commands (' . ($st->{MCPSessionRedisRefused} // 'none') . ')';

cli('CONFIG', 'SET', 'maxmemory', '0');
my ($after) = initialize($U);
ok is_session_id($after), 'room again: initialize works at once';
is ping($after), 200, '... and so does the new session';

# --- READONLY -----------------------------------------------------------------
my $nowhere = free_port();
cli('REPLICAOF', '127.0.0.1', $nowhere);
$offset = file_size($log);
$i0 = info();
my @ro = map { mcp_post($U, init_message())->code } 1 .. 10;
is codes(@ro), '503 x10', 'a read-only replica (READONLY): initialize answers 503';
is codes(map { ping($sids[$_ % 3]) } 1 .. 6), '200 x6', 'reads keep working';
$i1 = info();
$new = $i1->{connections} - $i0->{connections} - ($i1->{cli} - $i0->{cli});
cmp_ok $new, '<=', 1, "the node opened $new new Redis connections";
ok scalar(grep_log($log, qr/MCPS00440:.*refused SETEX/, $offset)), 'the log says Redis refused SETEX';
ok !grep_log($log, qr/MCPS00411|not reachable/, $offset), '... not that it is unreachable';
cli('REPLICAOF', 'NO', 'ONE');
ok is_session_id(scalar initialize($U)), 'a master again: initialize works';

# --- NOAUTH -------------------------------------------------------------------
cli('CONFIG', 'SET', 'requirepass', 's3cret');
@pass = ('-a', 's3cret', '--no-auth-warning');
cli('CLIENT', 'KILL', 'TYPE', 'normal');     # the node's connections were authenticated
$offset = file_size($log);
$i0 = info();
my @na = map { ping($sids[$_ % 3]) } 1 .. 10;
is codes(@na), '503 x10', 'Redis wants a password (NOAUTH): requests of live sessions 503, not 404';
is codes(map { mcp_post($U, init_message())->code } 1 .. 5), '503 x5', '... initialize too';
$i1 = info();
$new = $i1->{connections} - $i0->{connections} - ($i1->{cli} - $i0->{cli});
cmp_ok $new, '<=', 8, "the node opened $new new Redis connections for 15 requests";
ok scalar(grep_log($log, qr/MCPS00440:.*Redis refused .*NOAUTH/, $offset)),
    'the log names what Redis answered (NOAUTH)'
    or diag MCPTest::read_from($log, $offset);
ok !grep_log($log, qr/MCPS00411|not reachable/, $offset), '... and does not say it is unreachable';
$st = status();
is $st->{MCPSessionRedisHealthy}, 1, 'mod_status: reachable';
cli('CONFIG', 'SET', 'requirepass', '');
@pass = ();
ok wait_for(sub { ping($sids[0]) == 200 }, 5), 'no password again: the session works';
is codes(map { ping($sids[$_ % 3]) } 1 .. 6), '200 x6', '... all of them';

# --- apr-util without the fix for CVE-2026-34501 ------------------------------
SKIP: {
    my $apu = `apu-1-config --version 2>/dev/null` // '';
    chomp $apu;
    skip "apr-util here is $apu, not 1.6.3: its Debian version is not looked at", 6
        unless $apu eq '1.6.3';
    my $dir = MCPTest::work_dir();
    my %fake = (old => '1.6.3-1', fixed => '1.6.3-1+deb12u1', later => '1.6.3-1+deb12u2');
    my %logs;
    for my $k (sort keys %fake) {
        my $file = "$dir/t28-dpkg-status-$k-$$";
        open my $fh, '>', $file or die "$file: $!";
        print $fh "Package: libaprutil1-dev\nStatus: install ok installed\nVersion: 1.6.3-1\n\n",
                  "Package: libaprutil1\nStatus: install ok installed\nArchitecture: amd64\n",
                  "Version: $fake{$k}\nDescription: x\n more\n\n",
                  "Package: other\nStatus: install ok installed\nVersion: 0.1\n";
        close $fh;
        chmod 0644, $file;
        local $ENV{MCP_DPKG_STATUS} = $file;
        my $n = start_node(name => "t28-apu-$k", conf => $conf);
        $logs{$k} = [ grep_log($n->error_log_path, qr/MCPS00442/) ];
        $n->stop;
        unlink $file;
    }
    is scalar(@{ $logs{old} }), 1, 'libaprutil1 1.6.3-1: one startup warning';
    like $logs{old}[0] // '', qr/\[mcp_session:warn\].*libaprutil1 1\.6\.3-1\).*CVE-2026-34501.*1\.6\.3-1\+deb12u1/,
        '... that names the version, the CVE and the fixed version';
    is scalar(@{ $logs{fixed} }), 0, 'libaprutil1 1.6.3-1+deb12u1: none';
    is scalar(@{ $logs{later} }), 0, 'libaprutil1 1.6.3-1+deb12u2: none';
    my $real = grep_log($log, qr/MCPS00442/);
    my $installed = `dpkg-query -W -f='\${Version}' libaprutil1 2>/dev/null` // '';
    ok !$real, "this machine's libaprutil1 ($installed): no warning";
    ok !grep_log($N->error_log_path, qr/\[mcp_session:(warn|error)\].*MCPS0044[24]/), '... nothing else about it';
}
