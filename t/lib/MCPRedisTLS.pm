package MCPRedisTLS;
# Test harness for the Redis provider module's TLS, AUTH and ACL cases: a
# private PKI made with openssl, and a redis-server that speaks TLS only
# (--port 0 --tls-port P) on 127.0.0.1 and ::1, with a password.
#
#   my $pki = MCPRedisTLS::make_pki();        # { ca, other_ca, cert, key, ... }
#   my $r = MCPRedisTLS::start(pki => $pki, password => 'pw');
#   $r->cli('ACL', 'SETUSER', 'mcp', 'on', '>pw2', '~mcp:*', '+@all');
#   $r->url(user => 'mcp', password => 'pw2', db => 3)
#       # rediss://mcp:pw2@localhost:P/3
#
# The server stops at the end of the test file (MCPTest's END, like
# start_redis()). Everything binds to loopback.
use strict;
use warnings;

use Carp qw(croak);
use File::Path qw(make_path);
use IO::Socket::IP;
use POSIX ();

use MCPTest ();

# run(@cmd) -> true when the command exited 0 (its output in $dir/pki.log).
sub _run {
    my ($log, @cmd) = @_;
    my $pid = fork // croak "fork: $!";
    if (!$pid) {
        open STDOUT, '>>', $log;
        open STDERR, '>&', \*STDOUT;
        exec(@cmd) or POSIX::_exit(127);
    }
    waitpid $pid, 0;
    return $? == 0;
}

# make_pki([$dir]) -> { dir, ca, ca_key, other_ca, cert, key, noname_cert,
# noname_key, client_cert, client_key }: absolute paths of
#   ca.crt          the CA of the tests
#   redis.crt/.key  the server, signed by ca.crt, SAN DNS:localhost,
#                   IP:127.0.0.1, IP:::1
#   noname.crt/.key signed by ca.crt, but named other.invalid only (a
#                   certificate without the host's name)
#   other-ca.crt    an unrelated CA (the "wrong CA" case)
#   client.crt/.key a client certificate signed by ca.crt
# Made once per directory (reused when present).
sub make_pki {
    my $dir = shift // MCPTest::work_dir() . "/pki-$$";
    make_path($dir);
    my %f = (dir => $dir, ca => "$dir/ca.crt", ca_key => "$dir/ca.key",
             other_ca => "$dir/other-ca.crt", cert => "$dir/redis.crt",
             key => "$dir/redis.key", noname_cert => "$dir/noname.crt",
             noname_key => "$dir/noname.key", client_cert => "$dir/client.crt",
             client_key => "$dir/client.key");
    return \%f if -s $f{client_cert};
    my $log = "$dir/pki.log";
    my @req = ('openssl', 'req', '-newkey', 'rsa:2048', '-nodes');
    my $sign = sub {
        my ($name, $subj, $ext) = @_;
        open my $fh, '>', "$dir/$name.ext" or croak "$dir/$name.ext: $!";
        print $fh "$ext\n";
        close $fh;
        _run($log, @req, '-subj', $subj, '-keyout', "$dir/$name.key",
             '-out', "$dir/$name.csr")
            && _run($log, 'openssl', 'x509', '-req', '-in', "$dir/$name.csr",
                    '-CA', $f{ca}, '-CAkey', $f{ca_key}, '-CAcreateserial',
                    '-days', '2', '-extfile', "$dir/$name.ext",
                    '-out', "$dir/$name.crt");
    };
    _run($log, 'openssl', 'req', '-x509', '-newkey', 'rsa:2048', '-nodes',
         '-days', '2', '-subj', '/CN=mcp-test-ca', '-keyout', $f{ca_key},
         '-out', $f{ca})
        && _run($log, 'openssl', 'req', '-x509', '-newkey', 'rsa:2048', '-nodes',
                '-days', '2', '-subj', '/CN=mcp-other-ca',
                '-keyout', "$dir/other-ca.key", '-out', $f{other_ca})
        && $sign->('redis', '/CN=localhost',
                   'subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1')
        && $sign->('noname', '/CN=other.invalid',
                   'subjectAltName=DNS:other.invalid')
        && $sign->('client', '/CN=mcp-client', 'extendedKeyUsage=clientAuth')
        or croak "make_pki: openssl failed:\n" . MCPTest::read_from($log);
    chmod 0644, grep { -f } values %f;     # httpd's parent reads them as root
    return \%f;
}

# have_tls_redis() -> true when redis-server and redis-cli have TLS
# (Debian's do) and openssl is there.
sub have_tls_redis {
    return 0 unless MCPTest::have_redis() && MCPTest::have_program('openssl');
    my $help = `redis-cli --help 2>&1`;
    return $help =~ /--tls\b/ ? 1 : 0;
}

# have_ipv6() -> true when ::1 can be bound.
sub have_ipv6 {
    my $s = IO::Socket::IP->new(LocalHost => '::1', LocalPort => 0, Listen => 1);
    return $s ? 1 : 0;
}

# start(%opts) -> MCPRedisTLS::Server, running. Options:
#   pki           make_pki()'s hash (default: make_pki())
#   password      requirepass (default none)
#   cert, key     the server's certificate (default pki's redis.crt)
#   auth_clients  --tls-auth-clients: no (default), yes, optional
#   port          the TLS port (default free_port())
#   args          [more redis-server args]
#   name          label of its directory
sub start {
    my %o = @_;
    my $r = MCPRedisTLS::Server->new(%o);
    MCPTest::_register($r);
    $r->start or croak("MCPRedisTLS::start: redis-server did not start:\n"
                       . $r->diagnostics);
    return $r;
}

# ===========================================================================
package MCPRedisTLS::Server;
use strict;
use warnings;
use Carp qw(croak);
use File::Path qw(make_path);

sub new {
    my ($class, %o) = @_;
    my $self = bless { %o }, $class;
    $self->{pki} ||= MCPRedisTLS::make_pki();
    $self->{cert} ||= $self->{pki}{cert};
    $self->{key} ||= $self->{pki}{key};
    $self->{auth_clients} ||= 'no';
    $self->{port} ||= MCPTest::free_port();
    $self->{name} ||= 'redis-tls';
    $self->{dir} = MCPTest::work_dir() . "/$self->{name}-$self->{port}-$$";
    make_path($self->{dir});
    return $self;
}

sub port     { $_[0]{port} }
sub dir      { $_[0]{dir} }
sub pki      { $_[0]{pki} }
sub password { $_[0]{password} }
sub pid_file { "$_[0]{dir}/redis.pid" }
sub log_path { "$_[0]{dir}/redis.log" }
sub pid      { MCPTest::read_pidfile($_[0]->pid_file) }

# ->url(%o) -> rediss://[user:password@]host:port[/db]: user, password
# (default: the server's password, undef: none), host (default localhost;
# an IPv6 address gets brackets), db, scheme (default rediss).
sub url {
    my ($self, %o) = @_;
    my $pw = exists $o{password} ? $o{password} : $self->{password};
    my $host = $o{host} // 'localhost';
    $host = "[$host]" if $host =~ /:/;
    my $auth = '';
    $auth = ($o{user} // '') . ':' . _pct($pw) . '@' if defined $pw;
    $auth = "$o{user}@" if !defined $pw && defined $o{user};
    return ($o{scheme} // 'rediss') . "://$auth$host:$self->{port}"
        . (defined $o{db} ? "/$o{db}" : '');
}

sub _pct {
    my $s = shift;
    $s =~ s/([^A-Za-z0-9._~-])/sprintf '%%%02X', ord $1/ge;
    return $s;
}

sub start {
    my $self = shift;
    return 1 if $self->running;
    my @cmd = ('redis-server', '--port', '0', '--tls-port', $self->{port},
               '--bind', '127.0.0.1', '-::1',
               '--tls-cert-file', $self->{cert}, '--tls-key-file', $self->{key},
               '--tls-ca-cert-file', $self->{pki}{ca},
               '--tls-auth-clients', $self->{auth_clients},
               '--dir', $self->{dir}, '--daemonize', 'yes',
               '--pidfile', $self->pid_file, '--logfile', $self->log_path,
               '--appendonly', 'no', '--save', '',
               (defined $self->{password} ? ('--requirepass', $self->{password}) : ()),
               @{ $self->{args} || [] });
    system(@cmd) == 0 or return 0;
    return MCPTest::wait_for(sub { ($self->cli('PING') // '') eq 'PONG' }, 15) ? 1 : 0;
}

# ->cli(@args) -> output of redis-cli over TLS as the default user (the
# server's password) on 127.0.0.1 (list context: lines). Options first:
# ->cli({ user => U, password => P, host => H, client_cert => 1 }, @args).
sub cli {
    my ($self, @args) = @_;
    my %o = ref $args[0] eq 'HASH' ? %{ shift @args } : ();
    my $pw = exists $o{password} ? $o{password} : $self->{password};
    my @cmd = ('redis-cli', '--tls', '--cacert', $self->{pki}{ca},
               '-h', $o{host} // '127.0.0.1', '-p', $self->{port},
               ($self->{auth_clients} ne 'no' || $o{client_cert}
                ? ('--cert', $self->{pki}{client_cert}, '--key', $self->{pki}{client_key})
                : ()),
               (defined $o{user} ? ('--user', $o{user}) : ()),
               (defined $pw ? ('--pass', $pw) : ()),
               '--no-auth-warning', @args);
    my $pid = open(my $fh, '-|');
    croak "fork: $!" unless defined $pid;
    if (!$pid) {
        open STDERR, '>', '/dev/null';
        exec(@cmd) or POSIX::_exit(127);
    }
    my @lines = <$fh>;
    close $fh;
    chomp @lines;
    return wantarray ? @lines : join("\n", @lines);
}

# ->acl_user($user, $password, $key_pattern): an ACL user allowed every
# command on keys matching $key_pattern only.
sub acl_user {
    my ($self, $user, $pw, $pattern) = @_;
    return $self->cli('ACL', 'SETUSER', $user, 'reset', 'on', ">$pw",
                      "~$pattern", '+@all');
}

sub running {
    my $self = shift;
    my $pid = $self->pid;
    return $pid && MCPTest::pid_alive($pid) ? 1 : 0;
}

sub stop {
    my ($self, %o) = @_;
    my $pid = $self->pid;
    return 1 unless $pid && MCPTest::pid_alive($pid);
    CORE::kill 'CONT', $pid;
    CORE::kill 'TERM', $pid;
    MCPTest::wait_for(sub { !MCPTest::pid_alive($pid) }, 10, 0.05)
        or CORE::kill 'KILL', $pid;
    MCPTest::wait_for(sub { !MCPTest::pid_alive($pid) }, 5, 0.05);
    unlink $self->pid_file;
    return 1;
}

sub kill {
    my $self = shift;
    my $pid = $self->pid or return;
    CORE::kill 'KILL', $pid;
    MCPTest::wait_for(sub { !MCPTest::pid_alive($pid) }, 10, 0.05);
    unlink $self->pid_file;
}

sub diagnostics { MCPTest::read_from($_[0]->log_path) }

1;
