# 2026-07-28 across a fleet: two external-mode nodes sharing one Redis
# and one MCPRequestStateKeyFile. A multi-round call's next round is
# served by the other node; 2026-07-28 requests cost Redis nothing (and
# are answered with Redis down, while session requests get 503); key
# rotation (the first key seals, every key verifies); a virtual host
# without the directive has the main server's keys; without key files,
# the startup warning, and the start key kept across a graceful restart
# but not a full one; `apachectl -t` refuses bad key files.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Apache::Test qw(-withtestmore);
use MCPTest;

# expect-log: MCPS00754
# (Redis stopped at the end: the session request that gets 503)
# expect-log: MCPS00411 MCPS00315

skip_unless_redis();

my $tool = 'test_input_required_result_request_state';
my $ask  = { name => $tool, arguments => {} };
my $caps = { caps => { elicitation => {} } };
my $yes  = { confirm => { action => 'accept', content => { ok => JSON::true() } } };

# round1($url) -> the requestState of a first round there
sub round1 {
    my ($u) = @_;
    my (undef, $m) = modern_post($u, 'tools/call', $ask, meta => $caps);
    return $m && $m->{result} && ($m->{result}{resultType} // '') eq 'input_required'
         ? $m->{result}{requestState} : undef;
}
# round2($url, $state) -> 'complete', or the error code
sub round2 {
    my ($u, $state) = @_;
    my ($r, $m) = modern_post($u, 'tools/call',
                              { %$ask, inputResponses => $yes, requestState => $state },
                              meta => $caps);
    return 'no answer (' . $r->code . ')' unless ref $m eq 'HASH';
    return $m->{error}{code} if $m->{error};
    return ($m->{result}{content}[0]{text} // '') =~ /state-ok/ ? 'complete' : 'wrong result';
}

# key files
my $kdir = MCPTest::work_dir() . "/t66-keys-$$";
mkdir $kdir;
sub key_file {
    my ($name, $text) = @_;
    open my $fh, '>', "$kdir/$name" or die "$kdir/$name: $!";
    print $fh $text;
    close $fh;
    chmod 0644, "$kdir/$name";
    return "$kdir/$name";
}
my $old = key_file('old.key', join('', map { sprintf '%02x', int rand 256 } 1 .. 32) . "\n");
my $new = key_file('new.key', join('', map { sprintf '%02x', int rand 256 } 1 .. 32) . "\n");

# --- two nodes, one key, one Redis ---------------------------------------------
my $vport = free_port();
my ($redis, $A, $B) = start_fleet(
    name  => 't66',
    nodes => [ { conf => "MCPRequestStateKeyFile $old\n" },
               # a virtual host without the directive: the main server's keys
               { conf => "MCPRequestStateKeyFile $old\nListen 127.0.0.1:$vport\n"
                       . "<VirtualHost 127.0.0.1:$vport>\n    ServerName 127.0.0.1\n"
                       . "    <Location /mcp>\n        SetHandler mcp-session\n"
                       . "    </Location>\n</VirtualHost>\n" } ]);
my ($UA, $UB) = ($A->url, $B->url);
my $UV = "http://127.0.0.1:$vport/mcp";
ok !grep_log($A->error_log_path, qr/MCPS00754/), 'node with a key file: no MCPS00754 warning';
ok scalar(grep_log($A->error_log_path, qr/MCPS00751: requestState keys .*: 1 from MCPRequestStateKeyFile, sealing with kid [0-9a-f]{8}/)),
    'the sealing kid is logged at startup (MCPS00751)';
ok !grep_log($A->error_log_path, qr/\Q$old\E.*[0-9a-f]{64}/), 'no key bytes in the log';

my $st = round1($UA);
ok defined $st, 'round 1 on node A: input_required with a requestState';
is round2($UB, $st), 'complete', 'round 2 on node B: complete (same key file)';
is round2($UV, $st), 'complete', "round 2 on B's virtual host without the directive: complete";
$st = round1($UB);
is round2($UA, $st), 'complete', 'and from B to A';

# --- zero store operations ----------------------------------------------------------
sub redis_calls {
    my $n = 0;
    for ($redis->cli('INFO', 'commandstats')) {
        $n += $2 if /^cmdstat_(\w+):calls=(\d+)/ && $1 ne 'info';
    }
    return $n;
}
my $before = redis_calls();
for my $u ($UA, $UB) {
    my ($r) = modern_post($u, 'server/discover', {});
    is $r->code, 200, "server/discover on $u: 200";
    ($r) = modern_post($u, 'tools/call', { name => 'echo', arguments => { text => 'x' } },
                       headers => { 'Mcp-Session-Id' => 'not-a-session' });
    is $r->code, 200, '... tools/call with a stray Mcp-Session-Id: 200';
    ok !defined $r->header('Mcp-Session-Id'), '... no Mcp-Session-Id';
    is round2($u, round1($u)), 'complete', '... a two-round call';
    ($r) = modern_post($u, 'notifications/cancelled', { requestId => 1 }, id => undef);
    is $r->code, 202, '... a notification: 202';
}
is redis_calls() - $before, 0, '2026-07-28 requests sent Redis no command (INFO commandstats)';
my ($sid) = initialize($UA);
cmp_ok redis_calls() - $before, '>', 0, '(a session initialize does: the count works)';

# --- key rotation -------------------------------------------------------------------
# A: [new, old] seals with new; B still [old]
sub reconf {
    my ($node, $conf) = @_;
    $node->{conf} =~ s/^MCPRequestStateKeyFile .*\n/$conf/m;
    $node->{rewrite_conf} = 1;
    $node->stop;
    return $node->start;
}
ok reconf($A, "MCPRequestStateKeyFile $new $old\n"), 'node A restarted with [new, old]';
ok scalar(grep_log($A->error_log_path, qr/MCPS00751: .*: 2 from MCPRequestStateKeyFile/)),
    '... two keys';
my $sa = round1($UA);
is round2($UB, $sa), -32602, 'a state A sealed with the new key: B with [old] refuses it (-32602)';
is round2($UA, $sa), 'complete', '... A opens it';
my $sb = round1($UB);
is round2($UA, $sb), 'complete', 'a state B sealed with the old key: A with [new, old] opens it';
ok reconf($B, "MCPRequestStateKeyFile $new $old\n"), 'node B restarted with [new, old]';
is round2($UB, $sa), 'complete', "... now B opens A's new-key state";
is round2($UB, $sb), 'complete', '... and its own old-key one';

# --- no key file: the start key ---------------------------------------------------------
my $C = start_node(name => 't66-c', state_key => 0, conf => "MCPSessionStorageMode external\n"
                   . 'MCPSessionStore ' . $redis->url . "\nMCPSessionKeyPrefix mcp:t66c:$$:\n");
ok scalar(grep_log($C->error_log_path, qr/MCPS00754: MCPSessionStorageMode external .*without MCPRequestStateKeyFile/)),
    'external mode without MCPRequestStateKeyFile: the startup warning (MCPS00754)';
my $M = start_node(name => 't66-m');
ok !grep_log($M->error_log_path, qr/MCPS00754/), 'memory mode without it: no warning';
my $UC = $C->url;
my $sc = round1($UC);
ok defined $sc, 'node C (start key): round 1';
is round2($UA, $sc), -32602, "... node A cannot open C's state";
ok $C->graceful, 'node C: graceful restart';
is round2($UC, $sc), 'complete', '... the start key survived it: the state opens';
$C->stop;
ok $C->start, 'node C: full stop and start';
is round2($UC, $sc), -32602, '... a new start key: the old state is refused';

# --- Redis down: 2026-07-28 requests do not care ----------------------------------------
$redis->stop;
my ($r) = modern_post($UA, 'tools/call', { name => 'echo', arguments => { text => 'down' } });
is $r->code, 200, 'Redis stopped: a 2026-07-28 tools/call is 200';
is round2($UB, round1($UA)), 'complete', '... a two-round call across nodes too';
is mcp_post($UB, rpc('ping'), session_headers($sid))->code, 503,
    '... while a session request gets 503';

# --- apachectl -t ------------------------------------------------------------------------
my $httpd = MCPTest::Node::httpd_binary();
my %bad = (
    'missing'   => "$kdir/nope.key",
    'directory' => $kdir,
    'empty'     => key_file('empty.key', ''),
    'short'     => key_file('short.key', ('ab' x 16) . "\n"),
    'malformed' => key_file('malformed.key', "this is not a key!\n"),
    'two lines' => key_file('lines.key', ('ab' x 32) . "\n" . ('cd' x 32) . "\n"),
);
for my $case (sort keys %bad) {
    my $n = start_node(name => 't66-t', start => 0, conf => "MCPRequestStateKeyFile $bad{$case}\n");
    my $out = `$httpd -t -d '${\ $n->dir}' -f '${\ $n->conf_file}' 2>&1`;
    my $rc = $? >> 8;
    ok $rc != 0 && $out =~ /MCPS00750: MCPRequestStateKeyFile: key file \Q$bad{$case}\E /,
        "apachectl -t refuses a $case key file (MCPS00750)"
        or diag "rc $rc: $out";
}
my $many = join ' ', ($old) x 9;
my $n = start_node(name => 't66-t', start => 0, conf => "MCPRequestStateKeyFile $many\n");
my $out = `$httpd -t -d '${\ $n->dir}' -f '${\ $n->conf_file}' 2>&1`;
like $out, qr/MCPS00750: .*at most 8 key files/, 'apachectl -t refuses a ninth key file';
$n = start_node(name => 't66-t', start => 0, conf => "MCPRequestStateKeyFile state.key $old\n");
{
    # a relative path is relative to ServerRoot (the node's directory)
    open my $in, '<', $new or die $!;
    open my $fh, '>', $n->dir . '/state.key' or die $!;
    print {$fh} <$in>;
    close $fh;
}
$out = `$httpd -t -d '${\ $n->dir}' -f '${\ $n->conf_file}' 2>&1`;
like $out, qr/Syntax OK/, 'apachectl -t takes two good key files, one relative to ServerRoot';

done_testing;
