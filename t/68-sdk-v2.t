# Both protocol eras on one URL, through the official TypeScript SDKs
# (t/node/sdk2-client.mjs against /mcp, memory mode):
#   - the v2 client (@modelcontextprotocol/client 2.4.0, versionNegotiation
#     'auto') probes with server/discover, picks 2026-07-28 and never sees a
#     session; it lists tools, calls echo, and drives multi-round calls by
#     itself (its elicitation handler answers each inputRequest, and it calls
#     again with inputResponses and requestState): a tool that elicits over
#     two requests, one over three with an evolving state, a prompt; a tool
#     needing sampling it did not declare gets -32021;
#   - the v1 client (@modelcontextprotocol/sdk 1.32.2) on the same URL gets a
#     session (initialize, Mcp-Session-Id on every request) and a JSON-RPC
#     error, not a hang or a crash, from a tool that asks for input.
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore);
use MCPTest;

skip_unless_node();
plan skip_all => "the SDK v2 client is not installed in t/node (run 'npm install')"
    unless -d node_dir() . '/node_modules/@modelcontextprotocol/client';

plan tests => 27;

my $url = url('/mcp');
my ($rc, $stdout, $stderr) = run_node('sdk2-client.mjs', $url);
my $s = json_decode($stdout);

is $rc, 0, 'sdk2-client exits 0 against /mcp'
    or diag "stderr:\n$stderr\nstdout:\n$stdout";
ok ref $s eq 'HASH', 'it prints a JSON summary'
    or BAIL_OUT("no summary from sdk2-client.mjs: $stdout $stderr");
ok $s->{ok}, 'no mismatch reported';
diag "mismatch: $_" for @{ $s->{failures} || [] };

# --- v2: 2026-07-28, no session
my $v2 = $s->{v2} || {};
is $v2->{era}, 'modern', 'v2: server/discover made the client pick the 2026-07-28 era';
is $v2->{protocolVersion}, '2026-07-28', 'v2: protocol version 2026-07-28';
is_deeply $v2->{supportedVersions}, ['2026-07-28'], 'v2: discover lists 2026-07-28';
is $v2->{sessionId}, undef, 'v2: the transport holds no session id';
my @v2wire = @{ $v2->{wire} || [] };
like $v2wire[0] // '', qr/^0:POST:server\/discover:200:/, 'v2: the first request is the server/discover probe';
is scalar(grep { !/:-:-$/ } @v2wire), 0,
    'v2: no Mcp-Session-Id on any request or answer'
    or diag explain \@v2wire;
is scalar(grep { !/^\d+:POST:/ } @v2wire), 0, 'v2: POST only (no GET stream, no DELETE)';
ok !grep({ /:initialize:/ } @v2wire), 'v2: no initialize';

my %tools = map { $_ => 1 } @{ $v2->{tools} || [] };
ok $tools{echo} && $tools{test_input_required_result_multi_round},
    'v2: tools/list has echo and the multi-round tools';
my $r2 = $v2->{results} || {};
is $r2->{echo}, "hello from the SDK v2 client \x{2713}", 'v2: echo';

my $el = $r2->{elicitation} || {};
is $el->{text}, 'Hello, Ada!', 'v2: the elicitation tool got the handler\'s answer';
is $el->{requests}, 2, 'v2: ... in two requests (input_required, then the answer)';
is_deeply $el->{elicitations}, ['What is your name?'], 'v2: ... asking once';

my $mr = $r2->{multiRound} || {};
is $mr->{text}, "Ada's favorite color is green.", 'v2: three rounds carried the first answer in the state';
is $mr->{requests}, 3, 'v2: ... in three requests';
is_deeply $mr->{elicitations},
    ['Step 1: What is your name?', 'Step 2: What is your favorite color?'],
    'v2: ... two questions, one per round';

is_deeply $r2->{prompt}, { text => 'Answer with this context in mind: a test of both eras', requests => 2 },
    'v2: prompts/get asks first, then builds the prompt';

my $mc = $r2->{missingCapability} || {};
is $mc->{code}, -32021, 'v2: a tool needing undeclared sampling: -32021';
is_deeply $mc->{data}, { requiredCapabilities => { sampling => {} } },
    'v2: ... with requiredCapabilities {sampling: {}}';

# --- v1: the session protocol on the same URL
my $v1 = $s->{v1} || {};
ok is_session_id($v1->{sessionId}), 'v1: a session (43 base64url characters)';
is $v1->{protocolVersion}, '2025-11-25', 'v1: negotiated 2025-11-25';
is $v1->{results}{echo}, 'hello v1', 'v1: echo';
my $e1 = $v1->{results}{elicitation} || {};
is $e1->{code}, -32600, 'v1: a tool that asks for input: JSON-RPC error -32600';
like $e1->{message} // '', qr/input.*2026-07-28/s,
    'v1: ... saying it needs a 2026-07-28 client for now';
