package MCPCluster;
# A Redis Cluster on loopback for the tests (t/73-redis-cluster.t):
# masters only, started with MCPTest::start_redis (stopped at END like
# every server of a test), joined with `redis-cli --cluster create`.
#
#   use MCPCluster;
#   my $cl = MCPCluster->start(name => 't73', masters => 3);
#   $cl->url                 redis+cluster://127.0.0.1:P1,127.0.0.1:P2
#   $cl->masters             the MCPTest::Redis objects, in creation order
#   $cl->keyslot($key)       CLUSTER KEYSLOT
#   $cl->owner($slot)        the master serving $slot (its own view)
#   $cl->migrate($slot, $from, $to, @keys)   the resharding steps
#   $cl->dbsize($m)          keys on one master
#   $cl->add_replica($m)     a replica of master $m (for a failover)
#
# Every server has cluster-require-full-coverage no, so a killed master
# costs only its own slots (the others keep answering), and a node
# timeout of 3 s. Cluster bus ports are port + 10000: ports come from
# MCPTest::free_port (below 32768) and the bus port must be free too.
use strict;
use warnings;

use Carp qw(croak);
use IO::Socket::INET;
use Time::HiRes qw(sleep time);
use MCPTest ();

# A port whose bus port (port + 10000) is free as well.
sub _cluster_port {
    for (1 .. 50) {
        my $p = MCPTest::free_port();
        my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1',
                                      LocalPort => $p + 10000,
                                      Proto => 'tcp', Listen => 1,
                                      ReuseAddr => 1) or next;
        close $s;
        return $p;
    }
    croak 'MCPCluster: no port pair (port, port + 10000) is free';
}

# MCPCluster->start(name => 'x', masters => 3, args => [more redis args])
# -> the cluster, once every master says cluster_state:ok and they agree
# on the slot map; croaks otherwise.
sub start {
    my ($class, %o) = @_;
    my $self = bless { name => $o{name} // 'cluster', n => $o{masters} // 3 },
        $class;
    croak 'MCPCluster: at least 3 masters' if $self->{n} < 3;
    for my $i (1 .. $self->{n}) {
        push @{ $self->{masters} }, MCPTest::start_redis(
            name => "$self->{name}-m$i", port => _cluster_port(),
            args => ['--cluster-enabled', 'yes',
                     '--cluster-config-file', 'nodes.conf',
                     '--cluster-node-timeout', '3000',
                     '--cluster-require-full-coverage', 'no',
                     @{ $o{args} || [] }]);
    }
    my $log = $self->{masters}[0]->dir . '/cluster-create.log';
    my @cmd = (MCPTest::Redis::_cli_bin(), '--cluster', 'create',
               (map { '127.0.0.1:' . $_->port } $self->masters),
               '--cluster-replicas', '0', '--cluster-yes');
    my $pid = fork;
    croak "fork: $!" unless defined $pid;
    if (!$pid) {
        open STDIN, '<', '/dev/null';
        open STDOUT, '>', $log or POSIX::_exit(126);
        open STDERR, '>&', \*STDOUT;
        exec('timeout', 60, @cmd) or POSIX::_exit(127);
    }
    waitpid $pid, 0;
    croak "MCPCluster: redis-cli --cluster create failed:\n"
        . MCPTest::read_from($log) if $?;
    $self->wait_ok(30)
        or croak "MCPCluster: the cluster did not become ok:\n"
               . join("\n", map { scalar $_->cli('CLUSTER', 'INFO') } $self->masters);
    return $self;
}

sub masters { @{ $_[0]{masters} } }

# ->add_replica($master) -> a new server (MCPTest::Redis) that joined the
# cluster as a replica of $master and finished its first sync; croaks
# otherwise. It takes over $master's slots when $master fails (after the
# 3 s node timeout and an election).
sub add_replica {
    my ($self, $master) = @_;
    my $i = 1 + @{ $self->{replicas} || [] };
    my $r = MCPTest::start_redis(
        name => "$self->{name}-r$i", port => _cluster_port(),
        args => ['--cluster-enabled', 'yes',
                 '--cluster-config-file', 'nodes.conf',
                 '--cluster-node-timeout', '3000',
                 '--cluster-require-full-coverage', 'no']);
    push @{ $self->{replicas} }, $r;
    my $mid = $self->id($master);
    my $got = $r->cli('CLUSTER', 'MEET', '127.0.0.1', $master->port);
    croak "MCPCluster: CLUSTER MEET: $got" unless $got eq 'OK';
    MCPTest::wait_for(sub { index(scalar $r->cli('CLUSTER', 'NODES'), $mid) >= 0 }, 10, 0.1)
        or croak 'MCPCluster: the new node never learnt of ' . $master->port;
    MCPTest::wait_for(sub { $r->cli('CLUSTER', 'REPLICATE', $mid) eq 'OK' }, 10, 0.2)
        or croak 'MCPCluster: CLUSTER REPLICATE refused';
    MCPTest::wait_for(sub { $r->cli('INFO', 'replication') =~ /master_link_status:up/ }, 15, 0.1)
        or croak 'MCPCluster: the replica never synced';
    # every master must know it as the replica, or none votes for it
    MCPTest::wait_for(sub {
        !grep { $_->cli('CLUSTER', 'NODES') !~ /^\S+ \S+ slave \Q$mid\E /m }
            grep { $_->running } $self->masters
    }, 15, 0.1) or croak 'MCPCluster: not every master knows the replica';
    return $r;
}

# ->replicas -> the servers add_replica made.
sub replicas { @{ $_[0]{replicas} || [] } }

# every server of the cluster, masters first
sub _all { ($_[0]->masters, $_[0]->replicas) }

# ->url([$n]) -> redis+cluster:// with the first $n masters as seeds (2).
sub url {
    my ($self, $n) = @_;
    my @m = $self->masters;
    $n = 2 unless defined $n;
    $n = @m if $n > @m;
    return 'redis+cluster://' . join ',', map { '127.0.0.1:' . $_->port } @m[0 .. $n - 1];
}

# ->wait_ok($timeout) -> true once every running master says
# cluster_state:ok and all of them report the same CLUSTER SLOTS.
sub wait_ok {
    my ($self, $timeout) = @_;
    return MCPTest::wait_for(sub {
        my %maps;
        for my $m (grep { $_->running } $self->_all) {
            return 0 unless $m->cli('CLUSTER', 'INFO') =~ /cluster_state:ok/;
            $maps{ join ',', $self->slot_map($m) } = 1;
        }
        return keys(%maps) == 1;
    }, $timeout // 20, 0.2);
}

# ->slot_map($m) -> "from-to:port" strings of $m's CLUSTER SLOTS, sorted.
sub slot_map {
    my ($self, $m) = @_;
    my @l = $m->cli('CLUSTER', 'SLOTS');
    # redis-cli prints the nested reply flat: from, to, ip, port, id per range
    my @out;
    for (my $i = 0; $i + 3 < @l; $i++) {
        if ($l[$i] =~ /^\d+$/ && $l[$i + 1] =~ /^\d+$/ && $l[$i + 2] =~ /^[\d.:a-f]+$/
            && $l[$i + 3] =~ /^\d+$/ && $l[$i + 2] =~ /[.:]/) {
            push @out, "$l[$i]-$l[$i + 1]:$l[$i + 3]";
            $i += 4;
        }
    }
    return sort @out;
}

# ->keyslot($key) -> its hash slot (asked of a running master).
sub keyslot {
    my ($self, $key) = @_;
    my ($m) = grep { $_->running } $self->masters;
    return scalar $m->cli('CLUSTER', 'KEYSLOT', $key);
}

# ->id($m) -> the node id of master $m.
sub id {
    my ($self, $m) = @_;
    return $self->{id}{ $m->port } //= scalar $m->cli('CLUSTER', 'MYID');
}

# ->owner($slot [, $asked]) -> the server (a master, or a replica since
# promoted) serving $slot as $asked (default: the first running master)
# sees it, or undef.
sub owner {
    my ($self, $slot, $asked) = @_;
    ($asked) = grep { $_->running } $self->masters unless $asked;
    for my $r ($self->slot_map($asked)) {
        my ($from, $to, $port) = $r =~ /^(\d+)-(\d+):(\d+)$/;
        next unless $slot >= $from && $slot <= $to;
        my ($m) = grep { $_->port == $port } $self->_all;
        return $m;
    }
    return undef;
}

# ->dbsize($m) -> how many keys master $m holds.
sub dbsize { scalar $_[1]->cli('DBSIZE') }

# ->migrate($slot, $from, $to, %o): the resharding steps of the Cluster
# spec for one slot, as redis-cli --cluster reshard runs them:
#   1. SETSLOT IMPORTING on $to, MIGRATING on $from;
#   2. $o{between}->() if given (the slot is now half-moved: ASK time);
#   3. MIGRATE of every key of the slot (CLUSTER GETKEYSINSLOT, or the
#      keys in $o{keys}) from $from to $to;
#   4. $o{after_keys}->() if given;
#   5. SETSLOT NODE $to on every master (the target first).
# Returns the keys it moved; croaks when a step is refused.
sub migrate {
    my ($self, $slot, $from, $to, %o) = @_;
    my ($fid, $tid) = ($self->id($from), $self->id($to));
    my $ok = sub {
        my ($what, $got) = @_;
        croak "MCPCluster: $what: $got" unless ($got // '') eq 'OK';
    };
    $ok->("IMPORTING on " . $to->port,
          scalar $to->cli('CLUSTER', 'SETSLOT', $slot, 'IMPORTING', $fid));
    $ok->("MIGRATING on " . $from->port,
          scalar $from->cli('CLUSTER', 'SETSLOT', $slot, 'MIGRATING', $tid));
    $o{between}->() if $o{between};
    my @keys = $o{keys} ? @{ $o{keys} }
             : grep { length } $from->cli('CLUSTER', 'GETKEYSINSLOT', $slot, 1000);
    if (@keys) {
        my $got = $from->cli('MIGRATE', '127.0.0.1', $to->port, '', 0, 5000,
                             'KEYS', @keys);
        croak "MCPCluster: MIGRATE of slot $slot: $got"
            unless $got eq 'OK' || $got eq 'NOKEY';
    }
    $o{after_keys}->() if $o{after_keys};
    for my $m ($to, $from, grep { $_ != $to && $_ != $from } $self->masters) {
        next unless $m->running;
        $ok->("SETSLOT $slot NODE on " . $m->port,
              scalar $m->cli('CLUSTER', 'SETSLOT', $slot, 'NODE', $tid));
    }
    return @keys;
}

1;
