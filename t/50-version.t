# The version comes from one place: src/core/mcp_version.h. A live
# initialize answers serverInfo {name, version} with the header's values,
# and debian/changelog states the same version (scripts/check-tree.sh
# compares the files too; this checks what the built module says).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Apache::Test qw(-withtestmore);
use MCPTest;

plan tests => 6;

my $top = top_dir();
my %h;
if (open my $fh, '<', "$top/src/core/mcp_version.h") {
    while (<$fh>) {
        $h{$1} = $2 if /^\s*#\s*define\s+(MCP_SERVER_NAME|MCP_VERSION)\s+"([^"]*)"/;
    }
    close $fh;
}
ok defined $h{MCP_SERVER_NAME} && defined $h{MCP_VERSION},
    'src/core/mcp_version.h defines MCP_SERVER_NAME and MCP_VERSION'
    or diag "read: " . join ', ', map { "$_=$h{$_}" } sort keys %h;
like $h{MCP_VERSION} // '', qr/\A\d+\.\d+\.\d+\z/, 'MCP_VERSION is MAJOR.MINOR.PATCH';

my $res = mcp_post('/mcp', init_message(id => 1));
my $info = (rpc_final($res) // {})->{result}{serverInfo} // {};
is $info->{name}, $h{MCP_SERVER_NAME}, 'serverInfo.name is MCP_SERVER_NAME';
is $info->{version}, $h{MCP_VERSION}, 'serverInfo.version is MCP_VERSION';
is_deeply [sort keys %$info], [qw(name version)], 'serverInfo holds name and version';

SKIP: {
    skip 'dpkg-parsechangelog is not installed', 1
        unless have_program('dpkg-parsechangelog');
    my $v = `dpkg-parsechangelog -l '$top/debian/changelog' -S Version 2>&1`;
    chomp $v;
    is $v, $info->{version}, 'debian/changelog has the version serverInfo states';
}
