# The suite's error-log check (t/lib/MCPTest.pm, "Error-log check"): a test
# file fails when the error logs it caused hold a line at warn level or
# worse, or a crash line, that it does not declare with "# expect-log:".
# First the line filter itself, then whole child test files: one that
# provokes AH01617 (wrong password, mod_auth_basic) on the Apache::Test
# server without declaring it must exit non-zero and print the line; the
# same file with "# expect-log: AH01617" passes; a node whose startup
# warns (MCPS00102) fails the file that started it.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore);
use MCPTest;

# The children provoke these in the Apache::Test server's log, which this
# file's own check sees too.
# expect-log: AH01617

plan tests => 14;

my $pre = '[Tue Dec 01 21:51:40.186960 2026]';
my @bad = MCPTest::unexpected_log_lines(join("\n",
    "$pre [mcp_session:warn] [pid 1:tid 1] MCPS00211: memory table full",
    "$pre [mcp_session:debug] [pid 1:tid 1] x.c(1): MCPS00212: session created",
    "$pre [core:notice] [pid 1:tid 1] AH00094: Command line: 'apache2'",
    "$pre [core:notice] [pid 1:tid 1] AH00052: child pid 7 exit signal Segmentation fault (11)",
    "apache2: misc/apr_reslist.c:161: reslist_cleanup: Assertion `rl->ntotal == 0' failed.",
    "$pre [auth_basic:error] [pid 1:tid 1] [client 127.0.0.1:1] AH01617: user alice: authentication failure",
    "$pre [:emerg] [pid 1:tid 1] AH00020: Configuration Failed",
), 'AH01617');
is scalar(@bad), 4, 'filter: warn, a crash, an assertion and emerg are unexpected; notice, debug and a declared tag are not';
like $bad[0] // '', qr/MCPS00211/, '... the warn line';
like $bad[1] // '', qr/exit signal/, '... the child that died (a notice)';
like $bad[2] // '', qr/Assertion/, '... the raw assertion line';
like $bad[3] // '', qr/AH00020/, '... the emerg line';
is scalar(MCPTest::unexpected_log_lines("$pre [mcp_session:error] [pid 1] MCPS00411: a Redis call failed",
                                        'MCPS00412', 'Redis call')), 0,
    'filter: a declared plain substring matches too';

my $dir = MCPTest::work_dir();
my $n = 0;
# child_test($body, $declare) -> ($exit_code, $output) of a one-test file
# that runs $body; $declare: its "# expect-log:" line (or none).
sub child_test {
    my ($body, $declare) = @_;
    my $file = "$dir/t34-child-$$-" . ++$n . '.t';
    my $lib = MCPTest::top_dir() . '/t/lib';
    open my $fh, '>', $file or die "cannot write $file: $!";
    print $fh <<"CHILD";
use strict;
use warnings;
use lib '$lib';
use Apache::Test qw(-withtestmore);
use MCPTest;
plan tests => 1;
$body
ok 1, 'the child ran';
@{[ $declare ? "# expect-log: $declare" : '' ]}
CHILD
    close $fh or die "cannot write $file: $!";
    local $ENV{MCP_TEST_LOG_CHECK} = 1;
    my $out = `timeout 120 $^X $file 2>&1`;
    return ($? >> 8, $out);
}

my $wrong = q{mcp_post('/mcp-auth', init_message(), -user => 'alice', -password => 'wrong');};
my ($rc, $out) = child_test($wrong);
isnt $rc, 0, 'a file that leaves an undeclared AH01617 in t/logs/error_log fails' or diag $out;
like $out, qr/^ok 1 - the child ran$/m, '... although its tests passed';
like $out, qr{^# +t/logs/error_log: .*AH01617}m, '... and it prints the offending line' or diag $out;

($rc, $out) = child_test($wrong, 'AH01617');
is $rc, 0, 'the same file declaring "# expect-log: AH01617" passes' or diag $out;
unlike $out, qr/unexpected line/, '... silently';

my $node = q{start_node(name => 't34-child', location => undef,
                        conf => "MCPSessionStore redis://127.0.0.1:9\n");};
($rc, $out) = child_test($node);
isnt $rc, 0, 'a file whose node logs an undeclared warning (MCPS00102) fails' or diag $out;
like $out, qr{^# +t/logs/extra/t34-child-\S+/(?:error_log|startup\.log): .*MCPS00102}m,
    "... naming the node's log and the line" or diag $out;

($rc, $out) = child_test($node, 'MCPS00102');
is $rc, 0, '... and passes when it declares MCPS00102' or diag $out;
