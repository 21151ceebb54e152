# Changes a session cannot keep are refused, not silently dropped, and a
# session is never handed out that cannot be used:
# - resources/subscribe with a 1.2 KB URI, or one subscription too many for
#   the store's record (memory mode: 959 bytes), is a JSON-RPC -32602 error
#   (it was {} and the change was lost, with an ERROR line per request);
#   the session keeps working and keeps the subscriptions that fit;
# - a user name that is not UTF-8 (Basic auth, t/htpasswd holds the
#   Latin-1 user "\xe9ve", password eve-secret) gets a session that works
#   for that user and only that user (it was 404 on every request).
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore);
use MCPTest;

my $U = '/mcp';
my $error_log = Apache::Test::vars('t_logs') . '/error_log';
my $log_start = file_size($error_log);

# subscribe($sid, $uri) -> the final JSON-RPC message (after checking 200)
sub subscribe {
    my ($sid, $uri, $method) = @_;
    my ($res, $m) = mcp_call($U, $sid, $method // 'resources/subscribe', { uri => $uri });
    Test::More::diag("subscribe answered " . $res->status_line) if $res->code != 200;
    return $m;
}
sub error_message { my $m = shift; ref $m eq 'HASH' && ref $m->{error} eq 'HASH' ? $m->{error}{message} // '' : '' }
sub error_code    { my $m = shift; ref $m eq 'HASH' && ref $m->{error} eq 'HASH' ? $m->{error}{code} // 0 : 0 }
sub ok_result     { my $m = shift; ref $m eq 'HASH' && ref $m->{result} eq 'HASH' && !%{ $m->{result} } }

# --- subscriptions ------------------------------------------------------------
my $sid = initialize($U);
ok is_session_id($sid), 'a session';

my $m = subscribe($sid, 'test://big/' . ('u' x 1200));
is error_code($m), -32602, 'a 1.2 KB URI: JSON-RPC error -32602 (not {})';
like error_message($m), qr/must not exceed 512 bytes/, '... saying what the limit is';
is mcp_post($U, rpc('ping'), session_headers($sid))->code, 200, 'the session still works';

# subscribe to 60-byte URIs until the record is full
my @uris = map { sprintf 'test://item/%048d', $_ } 0 .. 39;
my $kept = 0;
for my $uri (@uris) {
    $m = subscribe($sid, $uri);
    last unless ok_result($m);
    $kept++;
}
cmp_ok $kept, '>', 3, "several subscriptions fit ($kept)";
ok $kept < @uris, 'then one is refused';
is error_code($m), -32602, '... with -32602';
like error_message($m), qr/cannot keep another subscription.*959 bytes/,
    '... saying the session record is full';
is mcp_post($U, rpc('ping'), session_headers($sid))->code, 200, 'the session still works';

# The subscriptions that fit were kept in the store: every request reads
# the session anew (often in another child), and the record is still full.
is error_code(subscribe($sid, $uris[$kept])), -32602,
    'the refused subscription is still refused in a later request (the others were kept)';
ok ok_result(subscribe($sid, $uris[0])), 're-subscribing to a kept URI is {}';
ok ok_result(subscribe($sid, $uris[0], 'resources/unsubscribe')), 'unsubscribe one: {}';
ok ok_result(subscribe($sid, $uris[$kept])), 'now the refused one fits';
is error_code(subscribe($sid, $uris[0])), -32602, 'and the unsubscribed one no longer does';

my @bad = grep_log($error_log, qr/MCPS00207|does not fit the store/, $log_start);
is scalar(@bad), 0, 'no "does not fit the store" error was logged';

# --- a user name that is not UTF-8 --------------------------------------------
my $A = '/mcp-auth';
my $eve = "\xe9ve";     # Latin-1 bytes, as the client sends them
my @eve   = (-user => $eve,    -password => 'eve-secret');
my @alice = (-user => 'alice', -password => 'alice-secret');

my ($esid, $res) = initialize($A, user => $eve, password => 'eve-secret');
is $res->code, 200, 'user "\xe9ve": initialize 200';
ok is_session_id($esid), '... a session id';
is mcp_post($A, rpc('ping'), session_headers($esid), @eve)->code, 200,
    '... ping in that session: 200 (was 404)';
my (undef, $em) = mcp_call($A, $esid, 'tools/call',
                           { name => 'echo', arguments => { text => 'latin' } }, @eve);
is $em && $em->{result} && $em->{result}{content}[0]{text}, 'latin', '... tools/call works';
ok ok_result(do { my (undef, $x) = mcp_call($A, $esid, 'logging/setLevel',
                                            { level => 'error' }, @eve); $x }),
    '... a change (logging/setLevel) is kept';
is mcp_post($A, rpc('ping'), session_headers($esid), @eve)->code, 200,
    '... and the session still works after it was rewritten';
check_error(mcp_post($A, rpc('ping'), session_headers($esid), @alice), 404, -32001,
            qr/^Session not found$/, "alice with eve's session: 404");
my ($asid) = initialize($A, user => 'alice', password => 'alice-secret');
check_error(mcp_post($A, rpc('ping'), session_headers($asid), @eve), 404, -32001, undef,
            "eve with alice's session: 404");
is mcp_delete($A, session_headers($esid), @eve)->code, 200, 'eve ends her session';
is mcp_post($A, rpc('ping'), session_headers($esid), @eve)->code, 404, '... it is gone';

done_testing;
