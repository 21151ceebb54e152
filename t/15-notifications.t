# Notifications during a request: progress and log messages turn the
# answer into an SSE stream, notifications first, the result last.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Apache::Test qw(-withtestmore);
use MCPTest;

my $U = '/mcp';
my ($sid) = initialize($U);
ok is_session_id($sid), 'session created';
my @S = session_headers($sid);

sub check_sse_framing {
    my ($res, $name) = @_;
    my @ev = sse_events($res->content);
    my @bad = grep { defined $_->{event} && $_->{event} ne 'message' } @ev;
    ok @ev && !@bad, "$name: events are 'event: message'";
    my @data = grep { defined $_->{data} && length $_->{data} } @ev;
    my @undecodable = grep { !defined json_decode($_->{data}) } @data;
    ok !@undecodable, "$name: every data line is one JSON message";
}

# --- progress
for my $token ('tok-1', 42) {
    my $req = rpc('tools/call', { name => 'test_tool_with_progress', arguments => {},
                                  _meta => { progressToken => $token } });
    my $res = mcp_post($U, $req, @S, -timeout => 20);
    is $res->code, 200, "progress ($token): 200";
    like $res->header('Content-Type') // '', qr{^text/event-stream\b}i,
        "progress ($token): Content-Type text/event-stream";
    is $res->header('Mcp-Session-Id'), $sid, "progress ($token): Mcp-Session-Id header";
    check_sse_framing($res, "progress ($token)");
    my $msgs = rpc_body($res);
    $msgs = [] unless ref $msgs eq 'ARRAY';
    my @prog = grep { ($_->{method} // '') eq 'notifications/progress' } @$msgs;
    cmp_ok scalar(@prog), '>=', 3, "progress ($token): at least 3 progress notifications";
    ok !(grep { !defined $_->{params}{progressToken} || $_->{params}{progressToken} ne $token } @prog),
        "progress ($token): progressToken echoed";
    my $tok_re = $token =~ /^\d+$/ ? qr/"progressToken"\s*:\s*$token\b/
                                    : qr/"progressToken"\s*:\s*"\Q$token\E"/;
    my @raw = grep { /notifications\/progress/ } map { $_->{data} // '' } sse_events($res->content);
    ok @raw && !(grep { $_ !~ $tok_re } @raw), "progress ($token): progressToken keeps its JSON type";
    my @values = map { $_->{params}{progress} } @prog;
    is_deeply [ @values[0 .. 2] ], [0, 50, 100], "progress ($token): 0, 50, 100";
    ok !(grep { ($_->{params}{total} // -1) != 100 } @prog), "progress ($token): total 100";
    ok !(grep { exists $_->{id} } @prog), "progress ($token): notifications carry no id";
    my $last = $msgs->[-1];
    is $last->{id}, $req->{id}, "progress ($token): the response comes last";
    is $last->{result}{content}[0]{type}, 'text', "progress ($token): result content";
    my @after = grep { exists $_->{id} } @$msgs[0 .. $#$msgs - 1];
    ok !@after, "progress ($token): exactly one response";
}

# without a progress token: no notifications, plain JSON
{
    my $req = rpc('tools/call', { name => 'test_tool_with_progress', arguments => {} });
    my $res = mcp_post($U, $req, @S, -timeout => 20);
    is $res->code, 200, 'progress without token: 200';
    like $res->header('Content-Type') // '', qr{^application/json\b}i,
        'progress without token: application/json (no notifications)';
    my $m = rpc_final($res);
    is $m->{id}, $req->{id}, 'progress without token: the response';
    ok !($res->content =~ /notifications\/progress/), 'progress without token: no progress notification';
}

# --- logging
my (undef, $sl) = mcp_call($U, $sid, 'logging/setLevel', { level => 'info' });
is_deeply $sl->{result}, {}, 'logging/setLevel info: {}';
{
    my $req = rpc('tools/call', { name => 'test_tool_with_logging', arguments => {} });
    my $res = mcp_post($U, $req, @S, -timeout => 20);
    is $res->code, 200, 'logging: 200';
    like $res->header('Content-Type') // '', qr{^text/event-stream\b}i, 'logging: text/event-stream';
    check_sse_framing($res, 'logging');
    my $msgs = rpc_body($res);
    $msgs = [] unless ref $msgs eq 'ARRAY';
    my @logs = grep { ($_->{method} // '') eq 'notifications/message' } @$msgs;
    is scalar(@logs), 3, 'logging: three notifications/message';
    ok !(grep { ($_->{params}{level} // '') ne 'info' } @logs), 'logging: level info';
    ok !(grep { !defined $_->{params}{data} } @logs), 'logging: data present';
    my @texts = map { $_->{params}{data} } @logs;
    like join('|', map { ref $_ ? json_encode($_) : $_ } @texts), qr/started.*processing.*completed/i,
        'logging: the messages in order';
    is $msgs->[-1]{id}, $req->{id}, 'logging: the response comes last';
    ok $msgs->[-1]{result}, 'logging: the response is a result';
}

# the session's level is kept (in the session, whichever child serves)
(undef, $sl) = mcp_call($U, $sid, 'logging/setLevel', { level => 'error' });
is_deeply $sl->{result}, {}, 'logging/setLevel error: {}';
my $quiet = 0;
for (1 .. 4) {
    my $res = mcp_post($U, rpc('tools/call', { name => 'test_tool_with_logging', arguments => {} }),
                       @S, -timeout => 20);
    $quiet++ if $res->code == 200 && $res->content !~ m{notifications/message};
}
is $quiet, 4, 'level error: info messages are not sent (4 requests, fresh connections)';

(undef, $sl) = mcp_call($U, $sid, 'logging/setLevel', { level => 'no-such-level' });
ok $sl->{error} && $sl->{error}{code} == -32602, 'logging/setLevel with a bad level: -32602'
    or diag explain $sl;

done_testing;
