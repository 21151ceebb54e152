# The transport of mod_mcp_session_redis (modules/redis/mcpr_conn.c and
# mcpr_tls.c) without httpd: t/redis/conn_driver.c opens one connection
# and runs pipelines given on its command line. Against a real
# redis-server (a password, an ACL user, a TLS port with a CA made here,
# 127.0.0.1 and ::1) and two fake servers, it checks: pipelined replies in
# order in one write; an error reply keeps the connection usable; AUTH with
# and without a user; WRONGPASS and SELECT refusals with Redis's own text
# and never the password; NOAUTH; SELECT; CLIENT SETNAME and ROLE; TLS
# accepted by IP SAN and DNS SAN, refused on a name mismatch (verify=full),
# accepted with verify=ca; session resumption; a wrong CA refused with the verify error; IPv6;
# the deadline against a suspended (SIGSTOP) server, at open and mid-call;
# a read timeout that leaves the connection usable; a refused port; a
# protocol error (a RESP3 type byte); the server closing; the reply cap.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore);
use IO::Socket::INET;
use IPC::Open2;
use POSIX ();
use Time::HiRes qw(sleep time);
use MCPTest;

skip_unless_redis();

my $top = top_dir();
my $drv = "$top/build/redis_conn_driver";
my @src = map { "$top/$_" } qw(t/redis/conn_driver.c modules/redis/mcpr_conn.c
                               modules/redis/mcpr_tls.c modules/redis/mcpr.h);
if (!-x $drv || grep { -M $drv > -M $_ } @src) {
    system("make -C '$top' -f Makefile.apxs redis-driver >/dev/null 2>&1");
}
unless (ok -x $drv, 'the driver is built (make -f Makefile.apxs redis-driver)') {
    done_testing;
    exit 1;
}

# ---------------------------------------------------------------------
# A CA, a server certificate for localhost and 127.0.0.1 (not ::1), and
# another CA that did not sign it.
my $dir = MCPTest::work_dir() . "/t69-tls-$$";
system('mkdir', '-p', $dir);
my $ssl = sub { system("openssl @_ >>'$dir/openssl.log' 2>&1") == 0 };
my $certs_ok =
    $ssl->("req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=t69-ca "
           . "-keyout '$dir/ca.key' -out '$dir/ca.crt'")
 && $ssl->("req -newkey rsa:2048 -nodes -subj /CN=localhost "
           . "-keyout '$dir/redis.key' -out '$dir/redis.csr'")
 && do {
        open my $fh, '>', "$dir/ext" or die;
        print $fh "subjectAltName=DNS:localhost,IP:127.0.0.1\n";
        close $fh;
        1;
    }
 && $ssl->("x509 -req -in '$dir/redis.csr' -CA '$dir/ca.crt' -CAkey '$dir/ca.key' "
           . "-CAcreateserial -days 2 -extfile '$dir/ext' -out '$dir/redis.crt'")
 && $ssl->("req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=t69-other "
           . "-keyout '$dir/other.key' -out '$dir/other.crt'");
ok $certs_ok, 'openssl made a CA and a server certificate';

my $tport = free_port();
my $redis = start_redis(name => 't69-redis', args => [
    '--bind', '127.0.0.1', '::1',
    '--tls-port', $tport, '--tls-cert-file', "$dir/redis.crt",
    '--tls-key-file', "$dir/redis.key", '--tls-ca-cert-file', "$dir/ca.crt",
    '--tls-auth-clients', 'no']);
my $port = $redis->port;
# the password and the ACL user after the start (its readiness check is a
# bare PING); taken away again before the stop (SHUTDOWN without AUTH)
$redis->cli('ACL', 'SETUSER', 'mcp', 'on', '>mcppw', '~mcp:*', '+@all');
$redis->cli('CONFIG', 'SET', 'requirepass', 's3cret');
END { $redis->cli('-a', 's3cret', '--no-auth-warning', 'CONFIG', 'SET', 'requirepass', '')
          if $redis && $redis->running }

# drive(@args) -> (output, exit code)
sub drive {
    my @args = @_;
    my $pid = open(my $fh, '-|');
    die "fork: $!" unless defined $pid;
    if (!$pid) {
        open STDERR, '>&', \*STDOUT;
        exec($drv, @args) or POSIX::_exit(127);
    }
    local $/;
    my $out = <$fh>;
    close $fh;
    return ($out // '', $? >> 8);
}

my @pw  = ('-p', $port, '-a', 's3cret');
my @tls = ('-p', $tport, '-a', 's3cret', '--tls', '--ca', "$dir/ca.crt");

# ---------------------------------------------------------------------
# Pipelines, error replies, AUTH, SELECT

my ($out, $rc) = drive(@pw, '-N', 't69-name', '-r',
    'SET', 'mcp:a', '1', ',', 'GET', 'mcp:a', ',', 'HSET', 'mcp:a', 'f', 'v', ',',
    'INCR', 'mcp:a', ',', 'CLIENT', 'GETNAME', ';', 'PING', ';', 'DEL', 'mcp:a');
is $rc, 0, 'AUTH password, a pipeline of five and two more calls on one connection';
like $out, qr/^exec: ok n=5 .*\nreply 1: \+OK\nreply 2: "1"\nreply 3: -WRONGTYPE [^\n]*\nreply 4: :2\nreply 5: "t69-name"\n/m,
    'replies in order, an error reply among them (WRONGTYPE), CLIENT SETNAME done';
like $out, qr/role=master/, 'ROLE in the handshake: master';
like $out, qr/reply 1: \+PONG\n.*reply 1: :1\n/s,
    'the connection stays usable after an error reply';

($out, $rc) = drive('-p', $port, '-u', 'mcp', '-a', 'mcppw',
                    'SET', 'mcp:u', 'x', ',', 'SET', 'other', 'x', ',', 'ACL', 'WHOAMI');
like $out, qr/reply 1: \+OK\nreply 2: -NOPERM [^\n]*\nreply 3: "mcp"/,
    'AUTH user password (an ACL user): its keys, NOPERM for others';

($out, $rc) = drive('-p', $port, '-a', 'n0tthis', 'PING');
is $rc, 2, 'a wrong password fails the open';
like $out, qr/open: error EACCES .*err=AUTH: WRONGPASS invalid username-password pair/,
    'WRONGPASS: EACCES with Redis\'s own text';
unlike $out, qr/n0tthis/, 'the password is not in the message';

($out, $rc) = drive('-p', $port, '-u', 'mcp', '-a', 'wr0ng', 'PING');
like $out, qr/open: error EACCES .*err=AUTH: WRONGPASS/, 'a wrong ACL password: WRONGPASS';

($out, $rc) = drive('-p', $port, 'PING');
like $out, qr/reply 1: -NOAUTH /, 'no password: NOAUTH from Redis, as a reply';

($out, $rc) = drive(@pw, '-n', '3', 'SET', 'mcp:db', 'three', ';', 'GET', 'mcp:db');
($out) = drive(@pw, '-n', '0', 'GET', 'mcp:db');
my ($out3) = drive(@pw, '-n', '3', 'GET', 'mcp:db', ',', 'DEL', 'mcp:db');
ok $out =~ /reply 1: \(nil\)/ && $out3 =~ /reply 1: "three"\nreply 2: :1/,
    'SELECT: a key of database 3 is there, not in database 0';

($out, $rc) = drive(@pw, '-n', '99', 'PING');
like $out, qr/open: error EACCES .*err=SELECT: ERR DB index is out of range/,
    'SELECT 99 refused with Redis\'s text';

my @many = ('MSET', map { ("mcp:k$_", $_) } 1 .. 7);    # 15 arguments
($out, $rc) = drive(@pw, @many, ';', 'PING');
like $out, qr/exec: error EINVAL .*more|exec: error EINVAL .*arguments/,
    'more than MCPR_MAX_ARGS arguments: refused before sending';
like $out, qr/reply 1: \+PONG/, 'and the connection is still usable';

# ---------------------------------------------------------------------
# IPv6, TLS

($out, $rc) = drive('-h', '::1', @pw, 'PING');
like $out, qr/open: ok peer=\[::1\]:$port .*\nexec: ok n=1 .*\nreply 1: \+PONG/, 'plain over ::1';

SKIP: {
    skip 'no certificates', 10 unless $certs_ok;
    ($out, $rc) = drive('-h', '127.0.0.1', @tls, 'SET', 'mcp:t', 'v', ',', 'GET', 'mcp:t');
    like $out, qr/reply 1: \+OK\nreply 2: "v"/, 'TLS to 127.0.0.1, verified by its IP SAN';

    ($out, $rc) = drive('-h', 'localhost', @tls, 'PING');
    like $out, qr/reply 1: \+PONG/, 'TLS to localhost, verified by its DNS SAN';

    ($out, $rc) = drive('-h', '127.0.0.1', @tls, 'PING', ';', '@reopen', ';', '@reopen', ';', 'PING');
    like $out, qr/open: ok \S+ role=- resumed=0 .*reopen: ok resumed=1 .*reopen: ok resumed=1 .*reply 1: \+PONG/s,
        'a new connection to the same server resumes the TLS session (again after a resumption)';

    # No handshake command (no password, db or name): TLS 1.3's tickets
    # come with the first reply, and the session is kept then.
    ($out, $rc) = drive('-h', '127.0.0.1', '-p', $tport, '--tls', '--ca', "$dir/ca.crt",
                        'PING', ';', '@reopen');
    like $out, qr/open: ok \S+ role=- resumed=0 .*reply 1: -NOAUTH.*reopen: ok resumed=1/s,
        'without handshake commands, the next connection resumes the session too';

    ($out, $rc) = drive('-h', '::1', @tls, 'PING');
    like $out, qr/open: error .*TLS handshake with \[::1\]:$tport failed: IP address mismatch/,
        'TLS to ::1 (not in the certificate) refused with verify=full';

    ($out, $rc) = drive('-h', '::1', @tls, '--verify', 'ca', 'PING');
    like $out, qr/open: ok peer=\[::1\]:$tport.*reply 1: \+PONG/s,
        'TLS over ::1 with verify=ca (the chain only)';

    ($out, $rc) = drive('-h', '127.0.0.1', @tls, '--sni', 'wrong.example', 'PING');
    like $out, qr/TLS handshake with 127\.0\.0\.1:$tport failed: hostname mismatch/,
        'sni=wrong.example: the name is verified and refused';

    ($out, $rc) = drive('-p', $tport, '-a', 's3cret', '--tls', '--ca', "$dir/other.crt", 'PING');
    like $out, qr/TLS handshake with 127\.0\.0\.1:$tport failed: self[- ]signed certificate in certificate chain \(.*certificate verify failed/,
        'a wrong CA: the verify error and OpenSSL\'s reason';

    ($out, $rc) = drive('-p', $tport, '-a', 's3cret', '--tls', '--ca', "$dir/other.crt",
                        '--verify', 'none', 'PING');
    like $out, qr/reply 1: \+PONG/, 'verify=none accepts it';

    ($out, $rc) = drive('-p', $tport, '-a', 'n0tthis', '--tls', '--ca', "$dir/ca.crt", 'PING');
    like $out, qr/open: error EACCES .*AUTH: WRONGPASS/, 'WRONGPASS over TLS';
}

# ---------------------------------------------------------------------
# Deadlines and broken servers

my $t0 = time;
($out, $rc) = drive('-p', free_port(), 'PING');
like $out, qr/open: error ECONNREFUSED .*cannot connect to 127\.0\.0\.1:\d+: Connection refused/,
    'a closed port: connection refused';
cmp_ok time - $t0, '<', 2, 'at once';

# A blocking read that the deadline ends: the connection stays usable
# (mcpr_conn_read), the message published meanwhile comes next.
{
    my $pid = open2(my $rd, my $wr, $drv, @pw, '-t', '300',
                    'SUBSCRIBE', 'mcp:ch', ';', '@read', ';', '@stdin', ';', '@read');
    my @lines;
    my $end = time + 10;
    while (time < $end && defined(my $l = <$rd>)) {
        push @lines, $l;
        last if $l =~ /^read: /;
    }
    $redis->cli('-a', 's3cret', '--no-auth-warning', 'PUBLISH', 'mcp:ch', 'hello');
    print $wr "go\n";
    close $wr;
    local $/;
    push @lines, <$rd> // '';
    close $rd;
    waitpid $pid, 0;
    my $all = join '', @lines;
    like $all, qr/read: error TIMEUP ms=(\d+) .*\n.*read: ok .*\nreply 1: \["message", "mcp:ch", "hello"\]/s,
        'a read past its deadline: TIMEUP, the connection still usable';
}

# Suspended server: the handshake of a new connection, and a call on an
# open one, end at the deadline.
{
    $redis->suspend;
    my $t = time;
    ($out, $rc) = drive(@pw, '-t', '400', 'PING');
    my $took = time - $t;
    like $out, qr/open: error TIMEUP .*no answer from 127\.0\.0\.1:$port within/,
        'a hung server: the open ends with TIMEUP';
    ok $took >= 0.35 && $took < 1.4, sprintf('within the deadline (400 ms; took %.0f ms)', $took * 1000);
    $redis->resume;

    my $pid = open2(my $rd, my $wr, $drv, @pw, '-t', '400', '@stdin', ';', 'PING');
    my $first = <$rd> // '';
    $redis->suspend;
    $t = time;
    print $wr "go\n";
    close $wr;
    local $/;
    my $rest = <$rd> // '';
    $took = time - $t;
    close $rd;
    waitpid $pid, 0;
    $redis->resume;
    like "$first$rest", qr/open: ok.*exec: error TIMEUP ms=\d+ err=no answer from 127\.0\.0\.1:$port within \d+ ms/s,
        'a call on an open connection to a hung server: TIMEUP';
    ok $took < 1.4, sprintf('within the deadline (took %.0f ms)', $took * 1000);
}

# The reply cap: 9 MiB in one reply breaks the call, not the child.
{
    $redis->cli('-a', 's3cret', '--no-auth-warning', 'EVAL',
                "redis.call('SET', KEYS[1], string.rep('x', 9 * 1024 * 1024)) return 1", '1', 'mcp:big');
    ($out, $rc) = drive(@pw, 'STRLEN', 'mcp:big', ';', 'GET', 'mcp:big');
    like $out, qr/reply 1: :9437184\nexec: error \S+ .*reply from 127\.0\.0\.1:$port larger than 8388608 bytes/s,
        'a reply over 8 MiB: the call fails';
    $redis->cli('-a', 's3cret', '--no-auth-warning', 'DEL', 'mcp:big');
}

# Fake servers: a RESP3 reply (the reader refuses its type byte), and one
# that closes the connection.
{
    my $fport = free_port();
    my $ls = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => $fport,
                                   Listen => 5, ReuseAddr => 1) or die "listen: $!";
    my $pid = fork();
    die "fork: $!" unless defined $pid;
    if (!$pid) {
        alarm 20;
        for my $answer ("%1\r\n+a\r\n+b\r\n", undef) {
            my $c = $ls->accept or POSIX::_exit(1);
            my $buf;
            sysread $c, $buf, 4096;
            syswrite $c, $answer if defined $answer;
            sleep 0.2 if defined $answer;
            close $c;
        }
        POSIX::_exit(0);
    }
    close $ls;
    ($out, $rc) = drive('-p', $fport, 'PING');
    like $out, qr/exec: error \S+ .*protocol error from 127\.0\.0\.1:$fport: Protocol error, got "%" as reply type byte/,
        'a RESP3 reply: protocol error, the call fails';
    ($out, $rc) = drive('-p', $fport, 'PING');
    like $out, qr/exec: error EOF .*connection closed by 127\.0\.0\.1:$fport/,
        'the server closes: EOF, "connection closed by"';
    waitpid $pid, 0;
}

done_testing;
