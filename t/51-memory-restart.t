# The memory store owns its shared table, and the node its name and
# counters, across graceful restarts: the table is kept when nothing
# changed, made anew when MCPSessionCapacity changes (MCPS00302), freed
# when no server uses memory mode any more (MCPS00323) and made again when
# one does; the node's name and counters survive all of it.
#
# expect-log: MCPS00302 MCPS00323
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
# external mode without Redis: the test module's in-process store
my $load = qq{LoadModule mcp_test_old_module "$so"\n};
my $external = "MCPSessionStorageMode external\nMCPSessionStore latestore://x\n";

my $node = start_node(name => 't50', conf => "${load}MCPSessionCapacity 50\n");
my $U = $node->url;
my $elog = $node->error_log_path;

sub status { status_auto($node->url('/server-status')) }
sub node_name {
    my $html = MCPTest::mcp_get($node->url('/server-status'))->content;
    return $html =~ m{<td>node</td><td>([^<]+)</td>} ? $1 : undef;
}
# reconfigure($conf) -> graceful restart with $conf; true when it serves
sub reconfigure {
    $node->{conf} = $load . shift;
    $node->write_conf;
    return $node->graceful;
}
sub ping { mcp_post($U, rpc('ping'), session_headers(shift))->code }

my $name = node_name();
like $name // '', qr{^.+/[0-9a-f]{8}$}, "the node's name: $name";
my $sid = initialize($U);
ok is_session_id($sid), 'a memory session';
is status()->{MCPSessionMemoryCapacity}, 50, 'a table of 50';

ok reconfigure("MCPSessionCapacity 50\n"), 'graceful restart, nothing changed';
is ping($sid), 200, 'the session is kept';

my $off = MCPTest::file_size($elog);
ok reconfigure("MCPSessionCapacity 60\n"), 'graceful restart with MCPSessionCapacity 60';
ok wait_for_log($elog, qr/MCPS00302: MCPSessionCapacity changed from 50 to 60: the 1 sessions/, 5, $off),
    'MCPS00302: the capacity changed, the session is dropped';
is status()->{MCPSessionMemoryCapacity}, 60, 'a table of 60';
is ping($sid), 404, 'the session is gone';
is node_name(), $name, "the node's name is kept";
cmp_ok status()->{MCPSessionCreated}, '>=', 1, 'and its counters (a session was created before)';
$sid = initialize($U);
ok is_session_id($sid), 'a new memory session';

$off = MCPTest::file_size($elog);
ok reconfigure($external), 'graceful restart into external mode';
ok wait_for_log($elog, qr/MCPS00323: no server keeps sessions in memory any more .*: the 1 sessions held there are dropped/, 5, $off),
    'MCPS00323: the memory table is let go';
is status()->{MCPSessionMemoryCapacity}, 0, 'no memory table';
my $ext = initialize($U, no_initialized => 1);   # one child holds it
ok is_session_id($ext), 'sessions in the external store';
is node_name(), $name, "the node's name is kept";

$off = MCPTest::file_size($elog);
ok reconfigure("MCPSessionCapacity 50\n"), 'graceful restart into memory mode';
ok wait_for_log($elog, qr/MCPS00305: session table in shared memory: 50 sessions/, 5, $off),
    'MCPS00305: a new table';
is status()->{MCPSessionMemoryCapacity}, 50, 'a table of 50';
is ping($sid), 404, 'the session of the old table is not back';
$sid = initialize($U);
is ping($sid), 200, 'a new memory session';
is node_name(), $name, "the node's name is kept";

done_testing;
