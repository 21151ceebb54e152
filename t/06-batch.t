# JSON-RPC batches: only in 2025-03-26 sessions; never with initialize.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Apache::Test qw(-withtestmore);
use MCPTest;
use Time::HiRes qw(time);

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

# --- the cost of a batch is bounded
# 100 list requests: one answered, the others refused (a list is the
# largest answer: 100 of them made the answer 52 times the request)
my @lists = map { rpc('tools/list', {}, "tl$_") } 1 .. 100;
my $req_len = length json_encode(\@lists);
$r = mcp_post($U, \@lists, 'Mcp-Session-Id' => $old);
is $r->code, 200, '2025-03-26 batch of 100 tools/list: 200';
$b = json_decode($r->content);
my @listed  = grep { ref $_->{result} eq 'HASH' && ref $_->{result}{tools} eq 'ARRAY' } @{ ref $b eq 'ARRAY' ? $b : [] };
my @refused = grep { ($_->{error}{code} // 0) == -32600 } @{ ref $b eq 'ARRAY' ? $b : [] };
is scalar(@listed), 1, '... exactly one tools/list answered';
is scalar(@refused), 99, '... the other 99 refused with -32600';
like $refused[0]{error}{message} // '', qr/^Invalid Request: at most 1 list request per batch/,
    '... saying why';
ok length($r->content) < 4 * $req_len,
    '... the answer is less than 4 times the request (' . length($r->content) . " vs $req_len bytes)";

# slow requests: the batch stops starting new ones after its time budget
# (test_tool_with_progress takes about 100 ms)
my @slow = map { rpc('tools/call', { name => 'test_tool_with_progress', arguments => {} }, "s$_") } 1 .. 60;
my $t0 = time;
$r = mcp_post($U, \@slow, 'Mcp-Session-Id' => $old);
my $took = time - $t0;
is $r->code, 200, '2025-03-26 batch of 60 slow tool calls: 200';
my $d = ($r->header('Content-Type') // '') =~ /event-stream/
      ? [ map { my $m = eval { json_decode($_->{data}) }; ref $m eq 'ARRAY' ? @$m : ($m) } sse_events($r->content) ]
      : json_decode($r->content);
my @final = grep { ref eq 'HASH' && defined $_->{id} } @{ ref $d eq 'ARRAY' ? $d : [] };
my @ran  = grep { ref $_->{result} eq 'HASH' } @final;
my @busy = grep { ($_->{error}{code} // 0) == -32000 } @final;
is scalar(@ran) + scalar(@busy), 60, '... 60 answers' or diag $r->content;
ok @ran >= 5 && @ran < 60, '... some ran (' . scalar(@ran) . '), not all';
like $busy[0]{error}{message} // '', qr/^Server busy: the batch ran past its 2 s budget/,
    '... the rest were refused as busy';
ok $took < 5, "... the worker was held ${took} s, not 6";

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
