# JSON-RPC batches: only in 2025-03-26 sessions; never with initialize.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Apache::Test qw(-withtestmore);
use MCPTest;

my $U = '/mcp';

# --- batches are refused in 2025-11-25 and 2025-06-18 sessions
for my $v ('2025-11-25', '2025-06-18') {
    my ($sid) = initialize($U, protocolVersion => $v);
    ok is_session_id($sid), "$v session created";
    my $r = mcp_post($U, [rpc('ping'), rpc('tools/list')], session_headers($sid, $v));
    check_error($r, 400, -32600,
                qr/^Invalid Request: Batches are not supported in protocol version \Q$v\E$/,
                "$v session: batch [ping, tools/list] -> 400 -32600");
    $r = mcp_post($U, [rpc('ping')], session_headers($sid, $v));
    check_error($r, 400, -32600, qr/^Invalid Request: Batches are not supported/,
                "$v session: batch of one -> 400 -32600");
    is mcp_post($U, rpc('ping'), session_headers($sid, $v))->code, 200,
        "$v session: still alive after the refused batch";
}

# --- 2025-03-26: [ping, tools/list] -> 200, an array with both responses
my ($old) = initialize($U, protocolVersion => '2025-03-26');
ok is_session_id($old), '2025-03-26 session created';
for my $with_header (0, 1) {
    my $label = $with_header ? 'with MCP-Protocol-Version' : 'without MCP-Protocol-Version';
    my @h = ('Mcp-Session-Id' => $old,
             ($with_header ? ('MCP-Protocol-Version' => '2025-03-26') : ()));
    my $r = mcp_post($U, [rpc('ping', undef, "p$with_header"), rpc('tools/list', {}, "l$with_header")], @h);
    is $r->code, 200, "2025-03-26 batch ($label): 200";
    like $r->header('Content-Type') // '', qr{^application/json\b}i,
        "2025-03-26 batch ($label): application/json";
    my $b = json_decode($r->content);
    is ref $b, 'ARRAY', "2025-03-26 batch ($label): an array";
    my %by_id = map { ($_->{id} // '') => $_ } grep { ref eq 'HASH' } @{ ref $b eq 'ARRAY' ? $b : [] };
    is scalar(@{ ref $b eq 'ARRAY' ? $b : [] }), 2, "2025-03-26 batch ($label): two responses";
    is_deeply $by_id{"p$with_header"}{result}, {}, "2025-03-26 batch ($label): ping answered";
    is ref $by_id{"l$with_header"}{result}{tools}, 'ARRAY', "2025-03-26 batch ($label): tools/list answered";
}

# a batch mixing a notification and a request: one response
my $r = mcp_post($U, [rpc('notifications/initialized', undef, undef), rpc('ping', undef, 'only')],
                 'Mcp-Session-Id' => $old);
is $r->code, 200, '2025-03-26 batch [notification, ping]: 200';
my $b = json_decode($r->content);
ok ref $b eq 'ARRAY' && @$b == 1 && ($b->[0]{id} // '') eq 'only',
    '2025-03-26 batch [notification, ping]: exactly the ping response' or diag $r->content;

# a batch of notifications only: 202
$r = mcp_post($U, [rpc('notifications/initialized', undef, undef),
                   rpc('notifications/cancelled', { requestId => 1 }, undef)],
              'Mcp-Session-Id' => $old);
is $r->code, 202, '2025-03-26 batch of notifications: 202';
is $r->content, '', '2025-03-26 batch of notifications: empty body';

# a batch with an unknown method: the error is inside the array
$r = mcp_post($U, [rpc('ping', undef, 'a'), rpc('no/such', {}, 'b')], 'Mcp-Session-Id' => $old);
is $r->code, 200, '2025-03-26 batch with an unknown method: 200';
$b = json_decode($r->content);
my %by_id = map { ($_->{id} // '') => $_ } grep { ref eq 'HASH' } @{ ref $b eq 'ARRAY' ? $b : [] };
is $by_id{b}{error}{code}, -32601, '2025-03-26 batch: -32601 for the unknown method';
is_deeply $by_id{a}{result}, {}, '2025-03-26 batch: ping answered next to it';

# --- initialize inside a batch
my $ONE_INIT = qr/^Invalid Request: Only one initialization request is allowed$/;
check_error(mcp_post($U, [init_message(protocolVersion => '2025-03-26'), rpc('ping')]),
            400, -32600, $ONE_INIT, '[initialize, ping] -> 400 -32600');
check_error(mcp_post($U, [init_message(protocolVersion => '2025-03-26'),
                          init_message(protocolVersion => '2025-03-26')]),
            400, -32600, $ONE_INIT, '[initialize, initialize] -> 400 -32600');
my $bad = mcp_post($U, [init_message(), rpc('ping')]);
ok !defined $bad->header('Mcp-Session-Id'), 'no session is created by a refused batch';

done_testing;
