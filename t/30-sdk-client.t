# The official TypeScript SDK client (@modelcontextprotocol/sdk 1.x,
# StreamableHTTPClientTransport) against the Apache::Test server's /mcp
# (memory mode): t/node/sdk-client.mjs connects, lists the tools, calls echo
# and add, pings, terminates the session and checks that it is gone.
# Then the same client alternating between /mcp and /mcp2 of this server:
# a session belongs to its endpoint, so that conversation must fail with
# 404 on /mcp2.
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

plan tests => 24;

my $url = url('/mcp');
my ($rc, $stdout, $stderr) = run_node($script, $url);
my $s = json_decode($stdout);

is $rc, 0, 'sdk-client exits 0 against /mcp'
    or diag "stderr:\n$stderr\nstdout:\n$stdout";
ok ref $s eq 'HASH', 'it prints a JSON summary'
    or BAIL_OUT("no summary from sdk-client.mjs: $stdout $stderr");
ok $s->{ok}, 'no mismatch reported';
diag "mismatch: $_" for @{ $s->{failures} || [] };

ok is_session_id($s->{sessionId}), 'session id: 43 base64url characters'
    or diag "session id: " . ($s->{sessionId} // 'none');
is $s->{protocolVersion}, '2025-11-25', 'negotiated the latest protocol version';
ok ref $s->{server} eq 'HASH' && length($s->{server}{name} // ''),
    'serverInfo has a name';

my %tools = map { $_ => 1 } @{ $s->{tools} || [] };
ok $tools{echo} && $tools{add}, 'tools/list has echo and add';
ok $tools{test_simple_text} && $tools{test_tool_with_progress},
    'tools/list has the conformance test tools';

my $r = $s->{results} || {};
is $r->{echo}, 'hello from the SDK client', 'echo returns the text';
is $r->{'echo-unicode'}, qq{h\x{e9}llo w\x{f6}rld \x{2713} "quoted" \\ back\nslash},
    'echo keeps non-ASCII, quotes, backslashes and newlines';
ok ref $r->{'echo-missing-text'} eq 'HASH' && $r->{'echo-missing-text'}{isError},
    'echo without text is a tool error (isError: true)';
is $r->{add}, '5', 'add 2 + 3 = "5" (no decimals)';
is $r->{'add-fraction'}, '0.5', 'add 0.25 + 0.25 = "0.5"';
is $r->{'add-negative'}, '-2.5', 'add 1.5 + -4 = "-2.5"';
is $r->{'add-float'}, '0.30000000000000004', 'add 0.1 + 0.2 formatted as JavaScript does';
is_deeply $r->{ping}, {}, 'ping answers {}';
is $r->{delete}, 200, 'terminateSession: DELETE answers 200';
is $r->{afterDelete}{status}, 404, 'the terminated session answers 404 afterwards';

my @get = grep { /:GET:/ } @{ $s->{wire} || [] };
is scalar(@get), 1, 'the SDK tried its standalone GET stream once';
like $get[0] // '', qr/:405$/, 'GET answered 405 (no standalone SSE stream)';
is_deeply $s->{transportErrors}, [], 'no transport error (405 on GET is tolerated)';

# One conversation alternating between two endpoints of this server: the
# session created on /mcp must not exist on /mcp2.
($rc, $stdout, $stderr) = run_node($script, '--quiet', $url, url('/mcp2'));
my $x = json_decode($stdout) || {};
is $rc, 1, 'alternating /mcp and /mcp2: sdk-client reports a mismatch'
    or diag "stdout:\n$stdout\nstderr:\n$stderr";
ok !$x->{ok}, 'summary says not ok';
like join(' ', @{ $x->{failures} || [] }), qr/\b404\b|Session not found/,
    'the request on /mcp2 got 404 Session not found'
    or diag explain $x->{failures};
