# A fleet: two independent httpd nodes in external mode sharing one
# redis-server. The official TypeScript SDK client (t/node/sdk-client.mjs)
# runs one conversation with every HTTP request going to the other node
# (initialize on node 1, notifications/initialized on node 2, ...,
# DELETE on one node and the 404 check on the other). The same through the
# round-robin front t/node/rr-proxy.mjs (one URL, as behind a load balancer).
# Then the contrast: two memory-mode nodes share nothing, so the same
# alternating conversation must fail with 404.
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore);
use MCPTest;

my $node_dir = node_dir();
my $script   = "$node_dir/sdk-client.mjs";

plan skip_all => 'node is not installed'
    unless grep { -x "$_/node" } split /:/, $ENV{PATH} // '';
plan skip_all => "t/node/node_modules is missing (run 'npm install' in t/node)"
    unless -d "$node_dir/node_modules/\@modelcontextprotocol/sdk";
skip_unless_redis();

plan tests => 18;

my ($redis, $n1, $n2) = start_fleet(name => 'fleet', prefix => "\"mcp:sdk-fleet:$$:\"",
                                    nodes => [{ name => 'fleet1' }, { name => 'fleet2' }]);

# 1. The SDK client alternating node1/node2 request by request.
my ($rc, $out, $err) = run_node($script, $n1->url, $n2->url);
my $s = json_decode($out) || {};
is $rc, 0, 'SDK conversation alternating between two external-mode nodes'
    or diag "stdout:\n$out\nstderr:\n$err";
ok $s->{ok}, 'no mismatch' or diag explain $s->{failures};
ok is_session_id($s->{sessionId}), 'a session id';
my ($c1, $c2) = @{ $s->{perNode} || [0, 0] };
ok $c1 >= 6 && $c2 >= 6, "both nodes served the conversation ($c1 / $c2 requests)";
my @wire = @{ $s->{wire} || [] };
like $wire[0] // '', qr/^0:POST:initialize:200$/, 'initialize on node 1';
like $wire[1] // '', qr/^1:POST:notifications\/initialized:202$/,
    'notifications/initialized accepted by node 2';
is $s->{results}{add}, '5', 'add answered on the other node';
is $s->{results}{afterDelete}{status}, 404,
    'DELETE on one node: the session is gone on the other';

my $n1_access = MCPTest::read_from($n1->access_log_path);
my $n2_access = MCPTest::read_from($n2->access_log_path);
my $sid = $s->{sessionId} // 'none';
ok $n1_access =~ /\Q$sid\E/ && $n2_access =~ /\Q$sid\E/,
    'both access logs carry the session id';

# 2. The same through the round-robin front (one URL).
my $front_port = free_port();
my $proxy_pid = fork();
die "fork: $!" unless defined $proxy_pid;
if (!$proxy_pid) {
    open STDOUT, '>', '/dev/null';
    exec('node', "$node_dir/rr-proxy.mjs", '--listen', "127.0.0.1:$front_port",
         '--backend', 'http://127.0.0.1:' . $n1->port,
         '--backend', 'http://127.0.0.1:' . $n2->port) or die "exec: $!";
}
END { if ($proxy_pid) { kill 'TERM', $proxy_pid; waitpid $proxy_pid, 0 } }
ok wait_for(sub { MCPTest::port_open($front_port) }, 15), 'rr-proxy is up';
($rc, $out, $err) = run_node($script, '--quiet', "http://127.0.0.1:$front_port/mcp");
$s = json_decode($out) || {};
is $rc, 0, 'SDK conversation through the round-robin front'
    or diag "stdout:\n$out\nstderr:\n$err";
my $stats = json_decode(mcp_get("http://127.0.0.1:$front_port/__rr_stats")->content) || {};
my ($p1, $p2) = @{ $stats->{counts} || [0, 0] };
ok $p1 >= 6 && $p2 >= 6, "the front spread it over both nodes ($p1 / $p2)";

# 3. Contrast: memory-mode nodes share nothing.
my $m1 = start_node(name => 'mem1');
my $m2 = start_node(name => 'mem2');
($rc, $out, $err) = run_node($script, '--quiet', $m1->url, $m2->url);
$s = json_decode($out) || {};
is $rc, 1, 'alternating between two memory-mode nodes fails';
like join(' ', @{ $s->{failures} || [] }), qr/\b404\b|Session not found/,
    'with 404 Session not found on the second node' or diag $out;

# The nodes are still healthy and logged no crash.
for my $n ($n1, $n2) {
    my $log = MCPTest::read_from($n->error_log_path);
    ok $log !~ /exit signal|Segmentation fault|AH00052/, $n->{name} . ': no child crash'
        or diag join "\n", grep { /exit signal|Segmentation|AH00052/ } split /\n/, $log;
}
# After the DELETEs no live session record is left; the module may keep
# "<key>:deleted" tombstones, but they must expire.
my @keys = grep { length } $redis->cli('--scan', '--pattern', "mcp:sdk-fleet:$$:*");
my @live = grep { !/:deleted$/ } @keys;
is_deeply \@live, [], 'no live session record left in Redis after the DELETEs'
    or diag "left: @live";
my @forever = grep { ($redis->cli('TTL', $_) // -1) < 0 } grep { /:deleted$/ } @keys;
is_deeply \@forever, [], 'tombstones of deleted sessions have a TTL'
    or diag "without TTL: @forever";
