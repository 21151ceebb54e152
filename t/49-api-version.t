# Provider API versions and load order. t/modules/mod_mcp_test_old.c
# (built from include/ alone) registers providers under any version
# string (MCPTestRegister KIND NAME VERSION) and a valid store
# provider "latestore" (MCP_API_VERSION):
# - a tool, resource, prompt or store registered only under another API
#   version ("1", "2.2", "3.0", ...) stops the server at startup with a
#   line naming it, its version and ours (MCPS00003); MCPSessionStore
#   naming such a store fails `httpd -t` too (MCPS00104);
# - a provider registered under "2.1" is taken (the tool is served), and
#   one registered under "2.0" (an older minor of our major) too;
# - MCPSessionStore finds a store provider from a module loaded after
#   mod_mcp_session and after the line naming it, and one registered while
#   the configuration is read, after that line (`httpd -t`, and sessions
#   work). httpd runs every LoadModule before other directives, so only
#   the latter failed before providers were looked up in check_config.
#
# expect-log: MCPS00003 MCPS00104 MCPS00103 AH00016
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Apache::Test qw(-withtestmore);
use MCPTest;

my $top = top_dir();
my $so  = "$top/.libs/mod_mcp_test_old.so";
if (!-e $so || -M $so > -M "$top/t/modules/mod_mcp_test_old.c") {
    system("make -C '$top' -f Makefile.apxs test-modules >/dev/null 2>&1");
}
unless (ok -e $so, 'the test module is built (make -f Makefile.apxs test-modules)') {
    done_testing;
    exit 1;
}

my $API = '2.1';
my $n = 0;

# node(%opts) -> a node loading the test module after mod_mcp_session,
# with $opts{conf} after it (before it with load_last => 1); not started.
sub node {
    my %o = @_;
    my $load = qq{LoadModule mcp_test_old_module "$so"\n};
    my $conf = $o{conf} // '';
    return start_node(name => 't49-' . ++$n, start => 0, servers => 1,
                      mpm => 'prefork',
                      conf => $o{load_last} ? "$conf$load" : "$load$conf");
}

# config_test($node) -> ($exit_code, $output) of `httpd -t`
sub config_test {
    my $node = shift;
    my $cmd = sprintf "%s -d %s -f %s -t 2>&1", MCPTest::Node::httpd_binary(),
                      $node->dir, $node->conf_file;
    my $out = `$cmd`;
    return ($? >> 8, $out);
}

# refused($conf, $what) -> the node failed to start, and its logs hold the
# lines matching $what
sub refused {
    my ($conf, $what, $label) = @_;
    my $node = node(conf => $conf);
    my $up = $node->start;
    my $logs = $node->startup_output . MCPTest::read_from($node->error_log_path);
    ok !$up && !$node->running, "$label: the server does not start" or diag $logs;
    like $logs, $what, "$label: the log says why" or diag $logs;
    $node->stop if $node->running;
}

# --- other versions: refused ------------------------------------------------
for my $v ('1', '2.2', '3.0', '2', '02.1') {
    refused("MCPTestRegister tool old_tool $v\n",
            qr/MCPS00003: tool 'old_tool' was built for mod_mcp_session API \Q$v\E; this mod_mcp_session is API \Q$API\E: rebuild it/,
            "a tool built for API $v");
}
refused("MCPTestRegister resource test://old 1\n",
        qr/MCPS00003: resource 'test:\/\/old' was built for mod_mcp_session API 1; this mod_mcp_session is API \Q$API\E/,
        'a resource built for API 1');
refused("MCPTestRegister prompt old_prompt 3.0\n",
        qr/MCPS00003: prompt 'old_prompt' was built for mod_mcp_session API 3\.0; this mod_mcp_session is API \Q$API\E/,
        'a prompt built for API 3.0');
# a store nobody names is refused too: never ignored silently
refused("MCPTestRegister store oldstore 1\n",
        qr/MCPS00003: session store 'oldstore' was built for mod_mcp_session API 1; this mod_mcp_session is API \Q$API\E/,
        'an unused store built for API 1');

# MCPSessionStore naming a store of another version: `httpd -t` fails
for my $v ('1', '2.2') {
    my $conf = "MCPTestRegister store oldstore $v\n"
             . "MCPSessionStorageMode external\nMCPSessionStore oldstore://x\n";
    my ($rc, $out) = config_test(node(conf => $conf));
    ok $rc != 0 && $out =~ /MCPS00104: MCPSessionStore oldstore:\/\/x \(.*httpd\.conf:\d+\): session store 'oldstore' was built for mod_mcp_session API \Q$v\E; this mod_mcp_session is API \Q$API\E/,
        "MCPSessionStore oldstore://x built for API $v: httpd -t fails naming both versions"
        or diag $out;
    refused($conf, qr/MCPS00104: .*API \Q$v\E; this mod_mcp_session is API \Q$API\E/,
            "MCPSessionStore oldstore://x built for API $v");
}

# --- our version: taken -------------------------------------------------------
{
    # registered for API 1 and 2.0 alike (a module for both): the 2.0 one
    my $node = node(conf => "MCPTestRegister tool new_tool $API\nMCPTestRegister tool new_tool 1\n");
    ok $node->start, 'a tool registered under 2.0 (and 1): the server starts' or diag $node->diagnostics;
    my $sid = initialize($node->url);
    my (undef, $m) = mcp_call($node->url, $sid, 'tools/call', { name => 'new_tool', arguments => {} });
    is $m && $m->{result} && $m->{result}{content}[0]{text}, 'registered by mod_mcp_test_old',
        '... and serves it';
    $node->stop;
}

{
    # built for API 2.0 (before multi-round calls): still taken and served
    my $node = node(conf => "MCPTestRegister tool older_tool 2.0\n");
    ok $node->start, 'a tool registered under 2.0: the server starts' or diag $node->diagnostics;
    my $sid = initialize($node->url);
    my (undef, $m) = mcp_call($node->url, $sid, 'tools/call', { name => 'older_tool', arguments => {} });
    is $m && $m->{result} && $m->{result}{content}[0]{text}, 'registered by mod_mcp_test_old',
        '... and serves it';
    $node->stop;
}

# --- a store from a module loaded after the line naming it -------------------
{
    my $conf = "MCPSessionStorageMode external\nMCPSessionStore latestore://x\n";
    my $node = node(conf => $conf, load_last => 1);
    my ($rc, $out) = config_test($node);
    ok $rc == 0 && $out =~ /Syntax OK/,
        'MCPSessionStore latestore://x before the LoadModule of its module: Syntax OK'
        or diag $out;
    ok $node->start, 'the server starts with it' or diag $node->diagnostics;
    my ($sid, $res) = initialize($node->url);
    ok is_session_id($sid), 'initialize: a session in latestore' or diag $res->as_string;
    ok scalar(grep_log($node->error_log_path, qr/MCPS00312: .*keeps sessions in latestore \(this process\) latestore:\/\/x/)),
        'the log says latestore keeps the sessions';
    $node->stop;

    # registered by a directive after the line naming it
    $node = node(conf => "MCPSessionStorageMode external\nMCPSessionStore dirstore://x\n"
                       . "MCPTestRegister store dirstore $API\n");
    ($rc, $out) = config_test($node);
    ok $rc == 0 && $out =~ /Syntax OK/,
        'MCPSessionStore dirstore://x, registered by a later directive: Syntax OK' or diag $out;
    ok $node->start, 'the server starts with it' or diag $node->diagnostics;
    ok is_session_id(scalar initialize($node->url)), 'initialize: a session in dirstore';
    $node->stop;

    # and unknown schemes list it among the known ones
    ($rc, $out) = config_test(node(conf => "MCPSessionStorageMode external\nMCPSessionStore nosuch://x\n"));
    ok $rc != 0 && $out =~ /MCPS00103: MCPSessionStore: unknown store 'nosuch' in 'nosuch:\/\/x' \(known schemes: [^)]*latestore:\/\//,
        'an unknown scheme: httpd -t fails, listing latestore:// among the known schemes' or diag $out;
}

done_testing;
