# mod_mcp_session_redis against a redis-server that speaks TLS only, with
# a password, an ACL user and a database number (t/lib/MCPRedisTLS.pm
# makes a CA and the certificates with openssl):
#   - two nodes on rediss://mcp:PW@localhost:P/3 with
#     MCPSessionStoreCACertificateFile share sessions, which land in db 3
#     under the prefix (and nowhere else);
#   - IPv6: rediss://...@[::1]:P (the connection comes from ::1);
#   - the password from MCPSessionStorePasswordFile instead of the URL;
#   - a wrong password: 503 with Retry-After, never 404, WRONGPASS in the
#     error log once per outage (not once per request);
#   - a wrong CA: 503, the certificate verify failure in the log;
#   - verification by name: a certificate of the right CA without the
#     host's name is refused (verify=full, the default) and accepted with
#     verify=ca, which checks the chain only;
#   - plain redis:// to the TLS port: 503;
#   - a client certificate when the server asks for one (and 503 without);
#   - no password in any error log, startup output or mod_status page.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore);
use Time::HiRes qw(sleep time);
use MCPTest;
use MCPRedisTLS;

# The failure cases make each child log its outage once, with Redis's
# reply or OpenSSL's reason (MCPS00820).
# expect-log: MCPS00820

unless (MCPRedisTLS::have_tls_redis()) {
    plan skip_all => 'redis-server/redis-cli with TLS, or openssl, not installed';
}
my $so = top_dir() . '/.libs/mod_mcp_session_redis.so';
unless (-e $so) {
    plan skip_all => "$so is not built (make -f Makefile.apxs)";
}

my $ADMIN_PW = "Adm1n-t71-$$-" . int(rand 1e6);
my $MCP_PW   = "mcp/pw:t71-$$-" . int(rand 1e6);   # '/' and ':' percent-encoded
my $WRONG_PW = "wr0ng-t71-$$-" . int(rand 1e6);
my @SECRETS  = ($ADMIN_PW, $MCP_PW, $WRONG_PW);
my $prefix   = "mcp:t71:$$:";

my $pki = MCPRedisTLS::make_pki();
my $redis = MCPRedisTLS::start(pki => $pki, password => $ADMIN_PW, name => 't71-redis');
ok $redis->running, 'a TLS-only redis-server with a password on 127.0.0.1 and ::1';
is scalar $redis->acl_user('mcp', $MCP_PW, "$prefix*"), 'OK',
    "an ACL user mcp allowed keys $prefix* only";

my @nodes;      # every node started: logs and mod_status checked at the end

# node($name, $store_url, %o) -> a started node (may_fail) with the module,
# the store at $store_url and the test CA (unless ca => undef/other).
sub node {
    my ($name, $url, %o) = @_;
    my $ca = exists $o{ca} ? $o{ca} : $pki->{ca};
    my $conf = qq{LoadModule mcp_session_redis_module "$so"\n}
             . "MCPSessionStorageMode external\n"
             . "MCPSessionStore $url\n"
             . "MCPSessionKeyPrefix $prefix\n"
             . "MCPSessionStoreTimeout 2\n"
             . (defined $ca ? "MCPSessionStoreCACertificateFile $ca\n" : '')
             . ($o{conf} // '');
    my $n = start_node(name => "t71-$name", conf => $conf, servers => $o{servers} // 2,
                       may_fail => 1);
    push @nodes, $n;
    return $n;
}

sub ping { mcp_post($_[0], rpc('ping'), session_headers($_[1]), -timeout => 30) }

# --- TLS, ACL user, db 3: sessions across two nodes -------------------------
my $url = $redis->url(user => 'mcp', password => $MCP_PW, db => 3);
my $A = node('a', $url);
my $B = node('b', $url);
ok $A->running && $B->running, 'two nodes start on rediss://mcp:***@localhost:P/3'
    or diag $A->diagnostics, $B->diagnostics;

my $sid = initialize($A->url);
ok is_session_id($sid), 'initialize on node A';
my ($res, $m) = mcp_call($B->url, $sid, 'tools/list');
is $res->code, 200, 'the session works on node B';
ok ref $m eq 'HASH' && ref $m->{result}{tools} eq 'ARRAY', '... with its tools';
is ping($A->url, $sid)->code, 200, 'and on node A again';

my @db3 = grep { length } $redis->cli('-n', 3, '--scan', '--pattern', "$prefix*");
my @db0 = grep { length } $redis->cli('-n', 0, '--scan', '--pattern', "$prefix*");
ok scalar(@db3), 'the session is in db 3 under the prefix (' . scalar(@db3) . ' keys)';
is scalar(@db0), 0, 'and not in db 0';
my $clients = $redis->cli('CLIENT', 'LIST');
like $clients, qr/\buser=mcp\b/, 'the nodes are connected as ACL user mcp';
like $clients, qr/\bdb=3\b.*\buser=mcp\b|\buser=mcp\b.*\bdb=3\b/, '... in db 3';

# --- IPv6 -------------------------------------------------------------------
SKIP: {
    skip 'no IPv6 on loopback', 3 unless MCPRedisTLS::have_ipv6();
    my $v6 = node('v6', $redis->url(user => 'mcp', password => $MCP_PW, db => 3,
                                     host => '::1') . '?name=t71-v6', servers => 1);
    ok $v6->running, 'a node on rediss://mcp:***@[::1]:P/3 starts' or diag $v6->diagnostics;
    my $s6 = initialize($v6->url);
    ok is_session_id($s6) && ping($B->url, $s6)->code == 200,
        'a session made over IPv6 works on node B (IPv4)';
    like scalar $redis->cli('CLIENT', 'LIST'), qr/addr=\[?::1\]?:\d+ .*name=t71-v6\b/,
        'its connection comes from ::1';
    $v6->stop;
}

# --- the password from a file --------------------------------------------------
{
    my $file = $A->dir . '/../t71-password-' . $$;
    open my $fh, '>', $file or die "$file: $!";
    print $fh "$MCP_PW\nsecond line is ignored\n";
    close $fh;
    chmod 0600, $file;   # the parent reads it as root; children never do
    my $pf = node('pwfile', $redis->url(user => 'mcp', password => undef, db => 3),
                  conf => "MCPSessionStorePasswordFile $file\n", servers => 1);
    ok $pf->running, 'a node with MCPSessionStorePasswordFile (no password in the URL) starts'
        or diag $pf->diagnostics;
    my $sp = initialize($pf->url);
    ok is_session_id($sp), 'its sessions work (initialize)';
    is ping($A->url, $sp)->code, 200, 'and reach node A';
    $pf->stop;
}

# 503 + Retry-After for initialize and for a live session on $n, $tries
# times each; returns the codes seen.
sub refused {
    my ($n, $tries) = @_;
    my %codes;
    my $first;
    for (1 .. $tries) {
        my $r = mcp_post($n->url, init_message(), -timeout => 30);
        $codes{ $r->code }++;
        $first //= $r;
        my $p = ping($n->url, $sid);
        $codes{ $p->code }++;
    }
    return (\%codes, $first);
}

sub count_lines {
    my ($n, $re, $offset) = @_;
    return scalar grep_log($n->error_log_path, $re, $offset);
}

# --- a wrong password -------------------------------------------------------
{
    my $w = node('wrongpw', $redis->url(user => 'mcp', password => $WRONG_PW, db => 3),
                 servers => 1);
    ok $w->running, 'a node with a wrong password starts (nothing connects in the parent)';
    my ($codes, $first) = refused($w, 6);
    is_deeply [sort keys %$codes], [503], 'initialize and a live session: 503 only (never 404)'
        or diag explain $codes;
    like $first->header('Retry-After') // '', qr/^\d+$/, '... with Retry-After';
    my $n = count_lines($w, qr/MCPS00820: .*WRONGPASS/);
    my %pids = map { (split ' ')[0] => 1 } split /\n/, read_from($w->access_log_path);
    ok $n >= 1 && $n <= keys %pids,
        "WRONGPASS in the error log once per outage per child ($n line(s), "
        . scalar(keys %pids) . ' child(ren), 12 requests)';
    $w->stop;
}

# --- a wrong CA -----------------------------------------------------------------
{
    my $w = node('wrongca', $url, ca => $pki->{other_ca}, servers => 1);
    ok $w->running, 'a node trusting another CA starts';
    my ($codes) = refused($w, 2);
    is_deeply [sort keys %$codes], [503], 'its requests: 503 only' or diag explain $codes;
    ok count_lines($w, qr/MCPS00820: .*certificate verify failed/),
        'the certificate verify failure is in the error log (MCPS00820)';
    $w->stop;
}

# --- verification by name ------------------------------------------------------
{
    my $other = MCPRedisTLS::start(pki => $pki, password => $ADMIN_PW, name => 't71-noname',
                                   cert => $pki->{noname_cert}, key => $pki->{noname_key});
    my $nurl = $other->url(password => $ADMIN_PW, db => 3);
    my $full = node('byname', $nurl, servers => 1);
    my ($codes) = refused($full, 2);
    is_deeply [sort keys %$codes], [503],
        'a certificate of the right CA without the name localhost: 503 (verify=full, the default)'
        or diag explain $codes;
    ok count_lines($full, qr/MCPS00820: .*hostname mismatch/),
        '... the name mismatch is in the error log (MCPS00820, hostname mismatch)';
    $full->stop;
    my $ca = node('verifyca', "$nurl?verify=ca", servers => 1);
    my $s = $ca->running ? initialize($ca->url) : undef;
    ok is_session_id($s), 'the same server with ?verify=ca (chain only): sessions work'
        or diag $ca->diagnostics;
    $ca->stop;
    $other->stop;
}

# --- plain redis:// to the TLS port ----------------------------------------------
{
    my $plain = node('plain', $redis->url(user => 'mcp', password => $MCP_PW, db => 3,
                                          scheme => 'redis'), ca => undef, servers => 1);
    ok $plain->running, 'a node on redis:// (no TLS) to the TLS port starts';
    my ($codes) = refused($plain, 2);
    is_deeply [sort keys %$codes], [503], 'its requests: 503 only' or diag explain $codes;
    $plain->stop;
}

# --- a client certificate --------------------------------------------------------
{
    my $mtls = MCPRedisTLS::start(pki => $pki, password => $ADMIN_PW, name => 't71-mtls',
                                  auth_clients => 'yes');
    my $murl = $mtls->url(password => $ADMIN_PW, db => 3);
    my $with = node('cert', $murl, servers => 1,
                    conf => "MCPSessionStoreCertificateFile $pki->{client_cert}\n"
                          . "MCPSessionStoreCertificateKeyFile $pki->{client_key}\n");
    my $s = $with->running ? initialize($with->url) : undef;
    ok is_session_id($s), 'a server that requires a client certificate: sessions work with '
        . 'MCPSessionStoreCertificateFile/KeyFile' or diag $with->diagnostics;
    $with->stop;
    my $without = node('nocert', $murl, servers => 1);
    my ($codes) = refused($without, 1);
    is_deeply [sort keys %$codes], [503], '... and get 503 without one' or diag explain $codes;
    # TLS 1.3: the server judges the certificate after the client's
    # handshake ended, so the reason is its alert or a reset, as it comes
    ok count_lines($without, qr/MCPS00820: .*(?:certificate required|reset by peer|closed)/),
        '... the outage is in the error log (the server\'s alert or its reset)';
    $without->stop;
    $mtls->stop;
}

# --- no password anywhere ---------------------------------------------------------
{
    my @pages;
    for my $n ($A, $B) {
        my $page = mcp_get($n->url('/server-status?auto'))->content // '';
        push @pages, $page;
        my $full = mcp_get($n->url('/server-status'))->content // '';
        push @pages, $full;
    }
    like $pages[0], qr/rediss/, 'mod_status names the store';
    my @leaks;
    for my $secret (@SECRETS, map { (my $e = $_) =~ s{([/:])}{sprintf '%%%02X', ord $1}ge; $e }
                    @SECRETS) {
        push @leaks, "mod_status: $secret" if grep { index($_, $secret) >= 0 } @pages;
        for my $n (@nodes) {
            for my $f ($n->error_log_path, $n->dir . '/startup.log') {
                push @leaks, "$f: $secret" if index(read_from($f), $secret) >= 0;
            }
        }
    }
    is_deeply \@leaks, [], 'no password in mod_status, the error logs or the startup output of '
        . scalar(@nodes) . ' nodes';
}

done_testing;
