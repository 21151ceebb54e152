# When another module replaces jansson's allocator (json_set_alloc_funcs,
# as cjose does), nothing may free a jansson buffer with libc's free(). A
# node loads t/modules/mod_mcp_test_alloc.c first: it makes jansson put a
# header before every block, so that such a free() aborts the child. The
# SSE writer used to free json_dumps' buffer that way: tool calls that
# stream notifications must still work, and no child may die.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Apache::Test qw(-withtestmore);
use MCPTest;

my $top = top_dir();
my $so  = "$top/.libs/mod_mcp_test_alloc.so";
if (!-e $so || -M $so > -M "$top/t/modules/mod_mcp_test_alloc.c") {
    system("make -C '$top' -f Makefile.apxs test-modules >/dev/null 2>&1");
}
unless (ok -e $so, 'the test allocator module is built (make -f Makefile.apxs test-modules)') {
    done_testing;
    exit 1;
}

# load it before every other module: no jansson value may exist yet
my $node = start_node(name => 'jansson-alloc', start => 0);
{
    open my $in, '<', $node->conf_file or die $!;
    my $conf = do { local $/; <$in> };
    close $in;
    $conf =~ s/^(LoadModule )/LoadModule mcp_test_alloc_module "$so"\n$1/m;
    open my $out, '>', $node->conf_file or die $!;
    print $out $conf;
    close $out;
}
ok $node->start, 'the node starts with the test allocator' or diag $node->diagnostics;
my $elog = $node->error_log_path;
ok wait_for_log($elog, qr/mod_mcp_test_alloc: jansson allocates with a header/, 10),
    'jansson allocates through the test allocator';
ok !grep_log($elog, qr/NOT with the test allocator/), 'in every child';

my $U = $node->url;
my $sid = initialize($U);
ok is_session_id($sid), 'initialize works';
my @S = session_headers($sid);
my (undef, $sl) = mcp_call($U, $sid, 'logging/setLevel', { level => 'info' });
is_deeply $sl->{result}, {}, 'logging/setLevel info';

# streamed notifications: progress, then log messages
for my $case ([ 'test_tool_with_progress', 'notifications/progress', { progressToken => 't' } ],
              [ 'test_tool_with_logging',  'notifications/message', undef ]) {
    my ($tool, $method, $meta) = @$case;
    my $req = rpc('tools/call', { name => $tool, arguments => {},
                                  ($meta ? (_meta => $meta) : ()) });
    my $res = mcp_post($U, $req, @S, -timeout => 20);
    is $res->code, 200, "$tool: 200";
    like $res->header('Content-Type') // '', qr{^text/event-stream\b}i, "$tool: an event stream";
    my $msgs = rpc_body($res);
    $msgs = [] unless ref $msgs eq 'ARRAY';
    cmp_ok scalar(grep { ($_->{method} // '') eq $method } @$msgs), '>=', 3,
        "$tool: at least 3 $method events";
    is $msgs->[-1]{id}, $req->{id}, "$tool: the response comes last";
    ok ref $msgs->[-1]{result} eq 'HASH', "$tool: with a result";
}

# the example's templated resource (its JSON text was freed the same way)
{
    my ($res, $m) = mcp_call($U, $sid, 'resources/read', { uri => 'test://template/42/data' });
    is $res->code, 200, 'resources/read of a template: 200';
    my $doc = json_decode($m->{result}{contents}[0]{text} // '');
    is $doc && $doc->{id}, '42', 'its JSON text is intact';
}

# a plain answer and an error body too
is mcp_post($U, rpc('ping'), @S)->code, 200, 'ping';
check_error(mcp_post($U, '{bad'), 400, -32700, qr/^Parse error: Invalid JSON$/, 'invalid JSON');

ok !grep_log($elog, qr/exit signal|free\(\)|AddressSanitizer|AH00052/),
    'no child died' or diag join "\n", grep_log($elog, qr/exit signal|free\(\)|AddressSanitizer/);

done_testing;
