# The MCP Inspector's CLI mode (@modelcontextprotocol/inspector 2.x, built
# on the v2 TypeScript SDK client) against the Apache::Test server's /mcp:
# one process per method, each a whole conversation (initialize ... DELETE).
# Runs offline from t/node/node_modules.
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore);
use File::Temp qw(tempdir tempfile);
use MCPTest;

my $node_dir = top_dir() . '/t/node';
my $bin      = "$node_dir/node_modules/.bin/mcp-inspector";

plan skip_all => 'node is not installed'
    unless grep { -x "$_/node" } split /:/, $ENV{PATH} // '';
plan skip_all => "the MCP Inspector is not installed (run 'npm install' in t/node)"
    unless -e $bin;

# The Inspector keeps a catalog under $HOME/.mcp-inspector: give it its own.
my $home = tempdir('inspector-home-XXXXXX', TMPDIR => 1, CLEANUP => 1);

# inspector(@args) -> ($exit_code, $decoded_stdout, $stdout, $stderr)
sub inspector {
    my @args = @_;
    my ($efh, $efile) = tempfile('inspector-XXXXXX', TMPDIR => 1, UNLINK => 1);
    my $pid = open(my $out, '-|');
    die "fork: $!" unless defined $pid;
    if (!$pid) {
        open STDERR, '>&', $efh or die "stderr: $!";
        chdir $node_dir or die "chdir: $!";
        $ENV{HOME} = $home;
        $ENV{NO_COLOR} = 1;
        exec('timeout', '90', $bin, '--cli', url('/mcp'), '--transport', 'http',
             @args) or die "exec: $!";
    }
    local $/;
    my $stdout = <$out> // '';
    close $out;
    my $rc = $? >> 8;
    return ($rc, json_decode($stdout), $stdout, MCPTest::read_from($efile));
}

sub text_of {
    my $c = shift;
    return join '', map { $_->{text} // '' }
        grep { ($_->{type} // '') eq 'text' } @{ $c || [] };
}

plan tests => 20;

my ($rc, $j, $out, $err) = inspector('--method', 'tools/list');
is $rc, 0, 'inspector --method tools/list exits 0' or diag "$out\n$err";
my %tools = map { $_->{name} => $_ } @{ (ref $j eq 'HASH' && $j->{tools}) || [] };
ok $tools{echo} && $tools{add}, 'tools/list has echo and add'
    or diag $out;
is_deeply $tools{echo}{inputSchema}{required}, ['text'], 'echo requires text';
is $tools{add}{inputSchema}{properties}{a}{type}, 'number', 'add takes numbers';

($rc, $j, $out, $err) = inspector('--method', 'tools/call', '--tool-name', 'echo',
                                  '--tool-arg', 'text=hello inspector');
is $rc, 0, 'tools/call echo exits 0' or diag "$out\n$err";
is text_of($j->{content}), 'hello inspector', 'echo returns the text';
ok !$j->{isError}, 'not a tool error';

($rc, $j, $out, $err) = inspector('--method', 'tools/call', '--tool-name', 'add',
                                  '--tool-arg', 'a=2', 'b=3');
is $rc, 0, 'tools/call add exits 0' or diag "$out\n$err";
is text_of($j->{content}), '5', 'add 2 3 gives "5"';

($rc, $j, $out, $err) = inspector('--method', 'tools/call', '--tool-name',
                                  'test_error_handling');
# The Inspector CLI exits 5 ("tool_is_error") after printing such a result.
is $rc, 5, 'tools/call test_error_handling: the Inspector reports a tool error (exit 5)'
    or diag "$out\n$err";
ok $j->{isError}, 'test_error_handling is a tool error (isError: true)';

($rc, $j, $out, $err) = inspector('--method', 'resources/list');
is $rc, 0, 'resources/list exits 0' or diag "$out\n$err";
my %res = map { $_->{uri} => $_ } @{ $j->{resources} || [] };
ok $res{'test://static-text'} && $res{'test://static-binary'},
    'resources/list has test://static-text and test://static-binary' or diag $out;

($rc, $j, $out, $err) = inspector('--method', 'resources/read', '--uri',
                                  'test://template/42/data');
is $rc, 0, 'resources/read of a template URI exits 0' or diag "$out\n$err";
my $c = ref $j eq 'HASH' && ref $j->{contents} eq 'ARRAY' ? $j->{contents}[0] : {};
is_deeply json_decode($c->{text}),
    { id => '42', templateTest => JSON::true(), data => 'Data for ID: 42' },
    'test://template/42/data substitutes the id' or diag $out;

($rc, $j, $out, $err) = inspector('--method', 'prompts/list');
is $rc, 0, 'prompts/list exits 0' or diag "$out\n$err";
my %prompts = map { $_->{name} => 1 } @{ $j->{prompts} || [] };
ok $prompts{test_simple_prompt} && $prompts{test_prompt_with_arguments},
    'prompts/list has the conformance prompts' or diag $out;

($rc, $j, $out, $err) = inspector('--method', 'prompts/get', '--prompt-name',
                                  'test_prompt_with_arguments', '--prompt-args',
                                  'arg1=hello', 'arg2=world');
is $rc, 0, 'prompts/get exits 0' or diag "$out\n$err";
my $m = ref $j eq 'HASH' && ref $j->{messages} eq 'ARRAY' ? $j->{messages}[0] : {};
is $m->{content}{text}, "Prompt with arguments: arg1='hello', arg2='world'",
    'the prompt substitutes its arguments' or diag $out;

($rc, $j, $out, $err) = inspector('--method', 'logging/setLevel', '--log-level', 'debug');
is $rc, 0, 'logging/setLevel exits 0' or diag "$out\n$err";
