# The official MCP conformance suite, through scripts/conformance.sh: all
# server scenarios of @modelcontextprotocol/conformance 0.1.16 (active and
# pending) at spec versions 2025-06-18 and 2025-11-25, the 0.2.0
# pre-release's server-session-lifecycle, and the 0.2.0-alpha.12 run of
# everything the 2026-07-28 revision requires (--requirements 2026-07-28:
# no session; multi-round calls), all on the same URL, in memory mode (one
# httpd) and in external mode (two httpd nodes sharing a redis-server and a
# requestState key behind a round-robin front, so every round of a
# multi-round call lands on the other node). Scenarios listed in
# t/conformance/*.yml are expected failures (server->client requests in a
# session; the unscored tasks extension); any other failure, or an
# expected failure that passes, fails this test. One test per row of the
# report table.
#
# MCP_CONFORMANCE_MODES=memory (or external) limits the modes.
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore);
use File::Temp qw(tempdir);
use MCPTest;

my $top      = top_dir();
my $node_dir = "$top/t/node";

plan skip_all => 'node is not installed'
    unless grep { -x "$_/node" } split /:/, $ENV{PATH} // '';
plan skip_all => "the conformance CLI is not installed (run 'npm install' in t/node)"
    unless -e "$node_dir/node_modules/\@modelcontextprotocol/conformance/dist/index.js"
        && -e "$node_dir/node_modules/conformance-next/dist/index.js";

my $modes = $ENV{MCP_CONFORMANCE_MODES} || 'memory,external';
unless (have_redis()) {
    $modes =~ s/,?external//;
    diag 'redis-server not installed: external mode skipped';
}
plan skip_all => 'no mode to run' unless $modes =~ /\w/;

my $tmp    = tempdir('conformance-XXXXXX', TMPDIR => 1, CLEANUP => 1);
my $report = "$tmp/report.md";
my $log    = "$tmp/conformance.log";

local $ENV{TMPDIR} = $tmp;
# the same httpd binary as Apache::Test's (under ASAN=1 a libasan wrapper)
local $ENV{APACHE_HTTPD} = Apache::Test::vars('httpd')
    if Apache::Test::vars('httpd');
my $rc = system("timeout --kill-after=20 900 sh '$top/scripts/conformance.sh' "
                . "--modes '$modes' --out '$report' > '$log' 2>&1") >> 8;

my $text = MCPTest::read_from($report);
ok length $text, 'conformance.sh wrote its report'
    or diag MCPTest::read_from($log);

my ($rows, $modern) = (0, 0);
for my $line (split /\n/, $text) {
    next unless $line =~ /^\| (?!Scenario |---)/;
    my (undef, $scenario, $spec, $mode, $suite, $result, $reason) =
        map { s/^\s+|\s+$//gr } split /(?<!\\)\|/, $line;
    $rows++;
    $modern++ if $spec eq '2026-07-28';
    my $name = "$scenario [$spec, $mode, $suite]: $result";
    ok $result eq 'pass' || $result eq 'expected-fail', $name
        or diag $reason;
}
my $nmodes = () = $modes =~ /(\w+)/g;
ok $rows >= 108 * $nmodes, "the report has a row per scenario run ($rows)";
# 37 scored scenarios, 3 pending, 10 of the tasks extension
ok $modern >= 50 * $nmodes, "of them 2026-07-28 rows ($modern)";
is $rc, 0, 'conformance.sh exits 0 (nothing unexpected)'
    or diag MCPTest::read_from($log);

diag "\n$text" if $ENV{TEST_VERBOSE};
done_testing();
