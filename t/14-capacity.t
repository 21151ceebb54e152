# MCPSessionCapacity (memory mode): when full, initialize gets 503 with
# Retry-After; existing sessions are untouched. Runs an extra httpd.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Apache::Test qw(-withtestmore);
use MCPTest;

# The full table is logged (at most once a minute per child).
# expect-log: MCPS00211

my $node = start_node(name => 'capacity', conf => "MCPSessionCapacity 5\n");
my $U = $node->url;
diag "node $U ($node->{mpm})";

my @sids;
for my $i (1 .. 5) {
    my ($sid, $res) = initialize($U);
    is $res->code, 200, "session $i of 5: 200";
    push @sids, $sid;
}
is scalar(grep { is_session_id($_) } @sids), 5, 'five session ids';

my $off = file_size($node->error_log_path);
my $full = mcp_post($U, init_message());
check_error($full, 503, -32000, qr/^Service Unavailable: /, 'the 6th initialize: 503 -32000');
my $ra = $full->header('Retry-After');
ok defined $ra && $ra =~ /^\d+$/ && $ra > 0, '503 carries Retry-After (seconds)'
    or diag 'Retry-After: ' . ($ra // 'none');
ok !defined $full->header('Mcp-Session-Id'), '503 carries no session id';

my $ok = grep { mcp_post($U, rpc('ping'), session_headers($_))->code == 200 } @sids;
is $ok, 5, 'the first five sessions still work';
my (undef, $m) = mcp_call($U, $sids[0], 'tools/call', { name => 'echo', arguments => { text => 'full' } });
is $m->{result}{content}[0]{text}, 'full', 'tools/call works while full';

ok wait_for_log($node->error_log_path, qr/capacity/i, 5, $off),
    'the error log has a capacity line'
    or diag MCPTest::read_from($node->error_log_path, $off);

is mcp_delete($U, session_headers($sids[1]))->code, 200, 'DELETE one session';
my ($again, $res) = initialize($U);
is $res->code, 200, 'after a DELETE a new session can be created';
ok is_session_id($again), 'new session id';
is mcp_post($U, rpc('ping'), session_headers($again))->code, 200, 'the new session works';

check_error(mcp_post($U, init_message()), 503, -32000, qr/^Service Unavailable: /,
            'full again: 503');

# many refused initializes do not disturb anything
my $refused = grep { mcp_post($U, init_message())->code == 503 } 1 .. 20;
is $refused, 20, '20 more initializes: all 503';
$ok = grep { mcp_post($U, rpc('ping'), session_headers($_))->code == 200 }
      ($sids[0], @sids[2 .. 4], $again);
is $ok, 5, 'all five live sessions still work';

$node->stop;
ok !$node->running, 'node stopped';

done_testing;
