# mod_status (ExtendedStatus On): the mod_mcp_session section and counters
# that move, shared by all children.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Apache::Test qw(-withtestmore);
use MCPTest;

my $U = '/mcp';

# the MCPSession* lines of /server-status?auto
sub mcp_status {
    my $r = mcp_get('/server-status?auto');
    my %v;
    for my $line (split /\n/, $r->content) {
        $v{$1} = $2 if $line =~ /^(MCPSession[^:]*):\s*(.*?)\s*$/;
    }
    return ($r, \%v);
}
# the value of the counter whose key matches $re
sub counter {
    my ($v, $re) = @_;
    my @k = grep { /$re/i } sort keys %$v;
    return undef unless @k;
    return $v->{ $k[0] } =~ /^(\d+)/ ? $1 : undef;
}

my $html = mcp_get('/server-status');
is $html->code, 200, '/server-status: 200';
like $html->content, qr/mod_mcp_session/, 'the HTML page has a mod_mcp_session section';
like $html->content, qr/memory/i, 'the HTML page shows the memory mode';

my ($r, $before) = mcp_status();
is $r->code, 200, '/server-status?auto: 200';
ok scalar(keys %$before), '?auto has MCPSession lines'
    or diag $r->content;
diag join "\n", map { "$_: $before->{$_}" } sort keys %$before;
# (resumed counts sessions made by another node: external mode only)
for my $c (qw(created resumed not_?found expired deleted store_?errors requests
              reclaimed evicted)) {
    ok defined counter($before, qr/$c/i), "?auto: a $c counter";
}
like $before->{MCPSessionMemoryPending} // '', qr/^\d+$/,
    '?auto: MCPSessionMemoryPending (sessions in their handshake)';
ok((grep { /mode/i } keys %$before), '?auto: the mode');
like((join ' ', map { "$_=$before->{$_}" } grep { /mode/i } keys %$before), qr/memory/i, '?auto: mode memory');
ok((grep { /store$/i } keys %$before), '?auto: the store');
ok((grep { /health/i } keys %$before), '?auto: the store health');

# move the counters: 6 initializes (+6 notifications), 10 pings, 2 unknown,
# 2 deletes: at least 30 requests
my @sids = map { scalar initialize($U) } 1 .. 6;
mcp_post($U, rpc('ping'), session_headers($sids[$_ % 6])) for 1 .. 10;
mcp_post($U, rpc('ping'), session_headers('C' x 43)) for 1 .. 2;
mcp_delete($U, session_headers($_)) for @sids[0, 1];

# read the status several times: every child must report the shared counts
for my $round (1 .. 3) {
    my (undef, $after) = mcp_status();
    my %d = map { $_ => (counter($after, qr/$_/i) // 0) - (counter($before, qr/$_/i) // 0) }
            qw(created requests not_?found deleted);
    cmp_ok $d{created}, '>=', 6, "round $round: created grew by at least 6 ($d{created})";
    cmp_ok $d{requests}, '>=', 24, "round $round: requests grew by at least 24 ($d{requests})";
    cmp_ok $d{'not_?found'}, '>=', 2, "round $round: not_found grew by at least 2 ($d{'not_?found'})";
    cmp_ok $d{deleted}, '>=', 2, "round $round: deleted grew by at least 2 ($d{deleted})";
}

done_testing;
