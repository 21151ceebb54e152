package MCPSentinel;
# A Redis Sentinel setup on loopback for the tests of mod_mcp_session_redis:
# a master, a replica of it and one Sentinel (quorum 1) watching it.
#
#     my $set = MCPSentinel::start(name => 't72', master_name => 'mymaster');
#     $set->{master}, $set->{replica}       MCPTest::Redis
#     $set->{sentinel}                      MCPSentinel::Server (->cli, ->port)
#     $set->url('mymaster')                 redis+sentinel://127.0.0.1:SPORT/mymaster
#     $set->failover                        SENTINEL FAILOVER, true on "OK"
#     $set->wait_master($port, $secs)       the Sentinel names 127.0.0.1:$port
#     $set->wait_synced($secs)              the replica's link is up and the
#                                           master sees it online
#     $set->wait_replica($redis, $secs)     $redis replicates and the Sentinel
#                                           lists it
#     $set->sentinel(password => ...)       one more Sentinel on the master
#     MCPSentinel::fake()                   a fake Sentinel naming the master
#                                           the test says (->name_master)
#
# Every server is stopped at the end of the test (MCPTest's END), by PID.
use strict;
use warnings;
use Carp qw(croak);
use Time::HiRes qw(sleep time);
use MCPTest ();

# start(%opts): name (label, default "sentinel"), master_name (default
# "mymaster"), down_after (ms, default 2000), failover_timeout (ms, default
# 10000). Dies when a server does not start or the set does not settle
# within 30 s.
sub start {
    my %o = @_;
    my $name = $o{name} // 'sentinel';
    my $mname = $o{master_name} // 'mymaster';
    my $master = MCPTest::start_redis(name => "$name-master");
    my $replica = MCPTest::start_redis(
        name => "$name-replica",
        args => ['--replicaof', '127.0.0.1', $master->port,
                 '--replica-announce-ip', '127.0.0.1']);
    my $sentinel = MCPSentinel::Server->new(
        name => "$name-sentinel", master_name => $mname,
        master_port => $master->port,
        down_after => $o{down_after} // 2000,
        failover_timeout => $o{failover_timeout} // 10000);
    MCPTest::_register($sentinel);
    $sentinel->start or croak "MCPSentinel: the Sentinel did not start:\n" . $sentinel->diagnostics;
    my $self = bless { name => $name, master_name => $mname, master => $master,
                       replica => $replica, sentinel => $sentinel }, __PACKAGE__;
    $self->wait_synced(30) or croak "MCPSentinel: the replica did not sync:\n"
        . join("\n", $replica->cli('INFO', 'replication'));
    MCPTest::wait_for(sub { $self->sentinel_knows_replica }, 30, 0.2)
        or croak "MCPSentinel: the Sentinel does not know the replica:\n"
        . join("\n", $sentinel->cli('SENTINEL', 'replicas', $mname));
    return $self;
}

sub url {
    my ($self, $mname, $tail) = @_;
    return 'redis+sentinel://127.0.0.1:' . $self->{sentinel}->port . '/'
        . ($mname // $self->{master_name}) . ($tail // '');
}

# wait_synced($secs): the replica reports master_link_status:up and the
# master lists it online.
sub wait_synced {
    my ($self, $secs) = @_;
    return wait_link($self->{master}, $self->{replica}, $secs);
}

# wait_link($master, $replica, $secs): any pair of MCPTest::Redis: the
# replica's link is up and the master lists it online.
sub wait_link {
    my ($master, $replica, $secs) = @_;
    my $port = $replica->port;
    return MCPTest::wait_for(sub {
        my $r = join "\n", $replica->cli('INFO', 'replication');
        my $m = join "\n", $master->cli('INFO', 'replication');
        return $r =~ /^master_link_status:up/m && $m =~ /^slave\d+:.*port=$port,state=online/m;
    }, $secs // 30, 0.1);
}

# sentinel_knows_replica -> true when SENTINEL replicas lists the replica.
sub sentinel_knows_replica {
    my $self = shift;
    my @l = $self->{sentinel}->cli('SENTINEL', 'replicas', $self->{master_name});
    my $port = $self->{replica}->port;
    return scalar grep { $_ eq $port } @l;
}

# wait_replica($redis, $secs): $redis is a replica whose link to its master
# is up, and the Sentinel lists it (after a failover, Sentinel turns the old
# master into a replica of the new one some seconds later).
sub wait_replica {
    my ($self, $redis, $secs) = @_;
    my $port = $redis->port;
    return MCPTest::wait_for(sub {
        my $info = join "\n", $redis->cli('INFO', 'replication');
        return 0 unless $info =~ /^role:slave/m && $info =~ /^master_link_status:up/m;
        my @l = $self->{sentinel}->cli('SENTINEL', 'replicas', $self->{master_name});
        return scalar grep { $_ eq $port } @l;
    }, $secs // 30, 0.1);
}

# master_addr -> "ip:port" the Sentinel names for the master (undef if none).
sub master_addr {
    my ($self, $mname) = @_;
    my @l = $self->{sentinel}->cli('SENTINEL', 'get-master-addr-by-name',
                                   $mname // $self->{master_name});
    return @l == 2 && $l[1] =~ /^\d+$/ ? "$l[0]:$l[1]" : undef;
}

sub wait_master {
    my ($self, $port, $secs) = @_;
    return MCPTest::wait_for(sub { ($self->master_addr // '') eq "127.0.0.1:$port" },
                             $secs // 10, 0.05);
}

# failover -> true when the Sentinel accepted SENTINEL FAILOVER.
sub failover {
    my $self = shift;
    return scalar($self->{sentinel}->cli('SENTINEL', 'FAILOVER', $self->{master_name})) eq 'OK';
}

# sentinel(%opts) -> MCPSentinel::Server: one more Sentinel watching this
# set's master (quorum 1, started, stopped at the end). Options: name,
# password (its requirepass), master_name.
sub sentinel {
    my ($self, %o) = @_;
    my $port = (split /:/, $self->master_addr // ('x:' . $self->{master}->port))[1];
    my $s = MCPSentinel::Server->new(
        name => "$self->{name}-" . ($o{name} // 'sentinel2'),
        master_name => $o{master_name} // $self->{master_name},
        master_port => $port, down_after => 2000, failover_timeout => 10000,
        password => $o{password});
    MCPTest::_register($s);
    $s->start or croak "MCPSentinel: the Sentinel did not start:\n" . $s->diagnostics;
    return $s;
}

# fake(%opts) -> MCPSentinel::Fake: a process on a free port that answers
# as a Sentinel would, from a file the test rewrites: ->name_master($host,
# $port) (or no arguments: "I do not know that master"). It answers
# SENTINEL get-master-addr-by-name (any name), SUBSCRIBE (confirmed, never
# a message), PING; -ERR to anything else. For failovers a real Sentinel
# will not make on demand (a master demoted by hand).
sub fake {
    my %o = @_;
    my $f = MCPSentinel::Fake->new(%o);
    MCPTest::_register($f);
    $f->start or croak 'MCPSentinel: the fake Sentinel did not start';
    return $f;
}

# ===========================================================================
package MCPSentinel::Fake;
use strict;
use warnings;
use Carp qw(croak);
use IO::Socket::INET;
use IO::Select;
use POSIX ();

sub new {
    my ($class, %o) = @_;
    my $self = bless { %o }, $class;
    $self->{port} ||= MCPTest::free_port();
    $self->{file} = MCPTest::work_dir() . "/fake-sentinel-$self->{port}-$$.addr";
    $self->name_master;
    return $self;
}

sub port { $_[0]{port} }

# name_master($host, $port): what get-master-addr-by-name answers from now on.
sub name_master {
    my ($self, $host, $port) = @_;
    open my $fh, '>', "$self->{file}.tmp" or croak "$self->{file}: $!";
    print $fh defined $port ? "$host $port\n" : '';
    close $fh;
    rename "$self->{file}.tmp", $self->{file} or croak "$self->{file}: $!";
}

sub start {
    my $self = shift;
    my $listen = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => $self->{port},
                                       Proto => 'tcp', Listen => 16, ReuseAddr => 1)
        or return 0;
    my $pid = fork;
    croak "fork: $!" unless defined $pid;
    if ($pid) {
        close $listen;
        $self->{pid} = $pid;
        return 1;
    }
    # the child: never run the test's END blocks (POSIX::_exit)
    eval { _serve($self, $listen) };
    POSIX::_exit(0);
}

sub _bulk { defined $_[0] ? '$' . length($_[0]) . "\r\n$_[0]\r\n" : "\$-1\r\n" }

sub _answer {
    my ($self, @cmd) = @_;
    my $c = lc($cmd[0] // '');
    if ($c eq 'ping') {
        return "+PONG\r\n";
    }
    if ($c eq 'subscribe') {
        return join '', map { "*3\r\n" . _bulk('subscribe') . _bulk($cmd[$_]) . ":$_\r\n" } 1 .. $#cmd;
    }
    if ($c eq 'sentinel' && lc($cmd[1] // '') eq 'get-master-addr-by-name') {
        open my $fh, '<', $self->{file} or return "*-1\r\n";
        my $line = <$fh> // '';
        close $fh;
        my ($h, $p) = split ' ', $line;
        return defined $p ? "*2\r\n" . _bulk($h) . _bulk($p) : "*-1\r\n";
    }
    return "-ERR unknown command '$cmd[0]'\r\n";
}

# one RESP command off the front of $$buf, or () when incomplete
sub _parse {
    my ($buf) = @_;
    return () unless $$buf =~ /\A\*(\d+)\r\n/;
    my ($n, $pos) = ($1, length($&));
    my @args;
    for (1 .. $n) {
        return () unless substr($$buf, $pos) =~ /\A\$(\d+)\r\n/;
        my $len = $1;
        $pos += length($&);
        return () if length($$buf) < $pos + $len + 2;
        push @args, substr($$buf, $pos, $len);
        $pos += $len + 2;
    }
    substr($$buf, 0, $pos, '');
    return @args;
}

sub _serve {
    my ($self, $listen) = @_;
    my $sel = IO::Select->new($listen);
    my %buf;
    while (1) {
        for my $fh ($sel->can_read(1)) {
            if ($fh == $listen) {
                my $c = $listen->accept or next;
                $sel->add($c);
                $buf{fileno $c} = '';
                next;
            }
            my $n = sysread($fh, my $data, 65536);
            if (!$n) {
                delete $buf{fileno $fh};
                $sel->remove($fh);
                close $fh;
                next;
            }
            $buf{fileno $fh} .= $data;
            while (my @cmd = _parse(\$buf{fileno $fh})) {
                my $out = $self->_answer(@cmd);
                syswrite($fh, $out);
            }
        }
    }
}

sub running { $_[0]{pid} && MCPTest::pid_alive($_[0]{pid}) ? 1 : 0 }

sub stop {
    my $self = shift;
    my $pid = $self->{pid} or return 1;
    CORE::kill 'TERM', $pid;
    waitpid $pid, 0;
    delete $self->{pid};
    return 1;
}

# ===========================================================================
package MCPSentinel::Server;
# One redis-server --sentinel with its own conf file (which Sentinel
# rewrites), pidfile and log in a directory under MCPTest::work_dir();
# password: its requirepass.
use strict;
use warnings;
use Carp qw(croak);
use File::Path qw(make_path);
use POSIX ();

sub new {
    my ($class, %o) = @_;
    my $self = bless { %o }, $class;
    $self->{port} ||= MCPTest::free_port();
    $self->{dir} = MCPTest::work_dir() . "/$self->{name}-$self->{port}-$$";
    make_path($self->{dir});
    my $conf = "$self->{dir}/sentinel.conf";
    open my $fh, '>', $conf or croak "$conf: $!";
    print $fh <<"CONF";
port $self->{port}
bind 127.0.0.1
daemonize yes
pidfile $self->{dir}/sentinel.pid
logfile $self->{dir}/sentinel.log
dir $self->{dir}
sentinel monitor $self->{master_name} 127.0.0.1 $self->{master_port} 1
sentinel down-after-milliseconds $self->{master_name} $self->{down_after}
sentinel failover-timeout $self->{master_name} $self->{failover_timeout}
CONF
    print $fh "requirepass $self->{password}\n" if defined $self->{password};
    close $fh or croak "$conf: $!";
    $self->{conf} = $conf;
    return $self;
}

sub port     { $_[0]{port} }
sub dir      { $_[0]{dir} }
sub pid_file { "$_[0]{dir}/sentinel.pid" }
sub log_path { "$_[0]{dir}/sentinel.log" }
sub pid      { MCPTest::read_pidfile($_[0]->pid_file) }

sub start {
    my $self = shift;
    return 1 if $self->running;
    system(MCPTest::Redis::_server_bin(), $self->{conf}, '--sentinel') == 0 or return 0;
    return MCPTest::wait_for(sub { ($self->cli('PING') // '') eq 'PONG' }, 15) ? 1 : 0;
}

sub cli {
    my ($self, @args) = @_;
    my $pid = open(my $fh, '-|');
    croak "fork: $!" unless defined $pid;
    if (!$pid) {
        open STDERR, '>', '/dev/null';
        my @auth = defined $self->{password}
                 ? ('--no-auth-warning', '-a', $self->{password}) : ();
        exec(MCPTest::Redis::_cli_bin(), '-h', '127.0.0.1', '-p', $self->{port}, @auth, @args)
            or POSIX::_exit(127);
    }
    my @lines = <$fh>;
    close $fh;
    chomp @lines;
    return wantarray ? @lines : join("\n", @lines);
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
    CORE::kill 'TERM', $pid;
    MCPTest::wait_for(sub { !MCPTest::pid_alive($pid) }, 10, 0.05)
        or CORE::kill 'KILL', $pid;
    MCPTest::wait_for(sub { !MCPTest::pid_alive($pid) }, 5, 0.05);
    return 1;
}

sub diagnostics { MCPTest::read_from($_[0]->log_path) }

1;
