package MCPPostgres;
# A private PostgreSQL for the tests of mod_mcp_session_sql (t/80-t/84):
# initdb into a work directory, a server on 127.0.0.1 and a free port
# (TCP only: no Unix socket), fsync off, a database "mcp" owned by the
# role "mcp" (trust authentication, loopback only).
#
#     use MCPPostgres;
#     MCPPostgres::skip_unless_available();     # skip_all without initdb or
#                                               # the apr_dbd pgsql driver
#     my $pg = MCPPostgres->start(name => 't81');
#     $pg->port, $pg->dir, $pg->pid             the postmaster
#     $pg->dbd_conf(%o)        DBDriver/DBDParams/DBDMin/DBDKeep/DBDMax lines
#     $pg->node_conf(%o)       LoadModule dbd + sql module, dbd_conf, external
#                              mode and MCPSessionStore sql://TABLE
#     $pg->psql($sql, %o)      rows of psql -At (list) or the output (scalar)
#     $pg->stop(mode => 'fast'|'immediate'|'smart')   $pg->start_again
#     $pg->restart(mode => 'fast')                     $pg->running
#     $pg->backend_pids        backends of application_name mcp_sql_test
#     $pg->suspend($pid) / $pg->resume($pid)           SIGSTOP / SIGCONT
#
# As root the server runs as the "postgres" user (initdb refuses root);
# otherwise as the current user (the suite runs as nobody). Every server
# is stopped at the end of the test (MCPTest's END), suspended backends
# resumed first. All settings are in postgresql.conf, so a plain start
# after a stop comes back on the same port (pg_ctl start without -o would
# otherwise pick 5432, where Debian's own cluster may run).
use strict;
use warnings;
use Carp qw(croak);
use File::Path qw(make_path);
use POSIX ();
use Time::HiRes qw(sleep time);
use MCPTest ();

# The application_name every test connection of the module carries.
our $APP_NAME = 'mcp_sql_test';

# bin_dir() -> the directory of initdb/pg_ctl/psql ($MCP_PG_BINDIR, else
# the newest /usr/lib/postgresql/N/bin), or undef.
sub bin_dir {
    return $ENV{MCP_PG_BINDIR} if $ENV{MCP_PG_BINDIR};
    my @d = sort { ($b =~ m{/(\d+)/bin$})[0] <=> ($a =~ m{/(\d+)/bin$})[0] }
            grep { -x "$_/initdb" } glob('/usr/lib/postgresql/*/bin');
    return $d[0];
}

# pgsql_driver() -> the apr_dbd pgsql driver (libaprutil1-dbd-pgsql), or undef.
sub pgsql_driver {
    my ($so) = grep { -e } glob('/usr/lib/*/apr-util-1/apr_dbd_pgsql*.so'),
                           glob('/usr/lib/apr-util-1/apr_dbd_pgsql*.so');
    return $so;
}

# available() -> (true) when initdb, pg_ctl, psql and the pgsql driver
# exist (and, as root, the postgres user); in list context (0, $why) else.
sub available {
    my $bin = bin_dir();
    return wantarray ? (0, 'PostgreSQL (initdb) is not installed') : 0
        unless $bin && -x "$bin/initdb" && -x "$bin/pg_ctl";
    return wantarray ? (0, 'psql is not installed') : 0
        unless -x "$bin/psql" || MCPTest::have_program('psql');
    return wantarray ? (0, 'the apr_dbd pgsql driver (libaprutil1-dbd-pgsql) is not installed') : 0
        unless pgsql_driver();
    return wantarray ? (0, 'running as root and there is no postgres user') : 0
        if $< == 0 && !defined getpwnam('postgres');
    return 1;
}

# skip_unless_available(): the whole file is skipped without PostgreSQL.
sub skip_unless_available {
    my ($ok, $why) = available();
    return if $ok;
    require Test::More;
    Test::More::plan(skip_all => $why);
}

# start(name => label, port => P, max_connections => N, conf => [lines])
# -> a running server; dies when it does not come up within 30 s.
sub start {
    my ($class, %o) = @_;
    my ($ok, $why) = available();
    croak "MCPPostgres: $why" unless $ok;
    my $self = bless { %o }, ref $class || $class;
    $self->{name} ||= 'pg';
    $self->{port} ||= MCPTest::free_port();
    $self->{bin}  = bin_dir();
    $self->{dir}  = _base_dir() . "/$self->{name}-pg-$self->{port}-$$";
    $self->{suspended} = {};
    make_path($self->{dir});
    MCPTest::_register($self);
    if ($< == 0) {
        my (undef, undef, $uid, $gid) = getpwnam('postgres');
        chown $uid, $gid, $self->{dir} or croak "chown $self->{dir}: $!";
    }
    chmod 0700, $self->{dir};
    my $out = $self->_run_pg('initdb', '-D', $self->data_dir, '-U', 'postgres',
                             '--auth=trust', '--encoding=UTF8', '--locale=C',
                             '--no-sync');
    croak "MCPPostgres: initdb failed:\n$out" if $?;
    $self->_write_conf;
    $self->start_again
        or croak "MCPPostgres: the server did not start:\n" . $self->diagnostics;
    $self->psql("CREATE ROLE mcp LOGIN", user => 'postgres', db => 'postgres');
    $self->psql("CREATE DATABASE mcp OWNER mcp", user => 'postgres', db => 'postgres');
    my ($one) = $self->psql('SELECT 1');
    croak "MCPPostgres: database mcp is not reachable as mcp: " . ($self->{error} // '')
        unless defined $one && $one eq '1';
    return $self;
}

# The parent of the server's directory: MCPTest::work_dir() (t/logs/extra
# in the suite), unless root runs the test and the postgres user cannot
# reach it (a private temporary dir): then a fresh directory under /tmp.
sub _base_dir {
    my $w = MCPTest::work_dir();
    return $w if $< != 0
        || system('runuser', '-u', 'postgres', '--', 'test', '-x', $w, '-a', '-r', $w) == 0;
    require File::Temp;
    my $d = File::Temp::tempdir('mcp-pg-XXXXXX', TMPDIR => 1, CLEANUP => 0);
    chmod 0755, $d;
    return $d;
}

sub name     { $_[0]{name} }
sub port     { $_[0]{port} }
sub dir      { $_[0]{dir} }
sub data_dir { "$_[0]{dir}/data" }
sub log_path { "$_[0]{dir}/server.log" }
# ->pid -> the postmaster's pid (first line of postmaster.pid), or undef.
sub pid      { MCPTest::read_pidfile($_[0]->data_dir . '/postmaster.pid') }
# ->error -> stderr of the last failed psql
sub error    { $_[0]{error} }

sub _write_conf {
    my $self = shift;
    my $conf = $self->data_dir . '/postgresql.conf';
    open my $fh, '>>', $conf or croak "$conf: $!";
    print $fh join("\n", '', '# MCPPostgres',
        "listen_addresses = '127.0.0.1'",
        "port = $self->{port}",
        "unix_socket_directories = ''",
        'fsync = off', 'synchronous_commit = off', 'full_page_writes = off',
        'shared_buffers = 16MB',
        'max_connections = ' . ($self->{max_connections} // 100),
        "log_line_prefix = '%m [%p] %a '",
        @{ $self->{conf} || [] }, '');
    close $fh or croak "$conf: $!";
}

# Runs a PostgreSQL program of bin_dir() (as postgres when root) with
# stdin from /dev/null; returns stdout+stderr, $? set.
sub _run_pg {
    my ($self, $prog, @args) = @_;
    my @cmd = ("$self->{bin}/$prog", @args);
    unshift @cmd, 'runuser', '-u', 'postgres', '--' if $< == 0;
    my $pid = open(my $fh, '-|');
    croak "fork: $!" unless defined $pid;
    if (!$pid) {
        open STDIN, '<', '/dev/null';
        open STDERR, '>&', \*STDOUT;
        # the server inherits nothing of the test's environment it cares
        # about except this: LC_ALL C so that messages are English
        $ENV{LC_ALL} = 'C';
        exec(@cmd) or POSIX::_exit(127);
    }
    local $/;
    my $out = <$fh> // '';
    close $fh;
    return $out;
}

# ->start_again: start the (stopped) server with the same data dir and
# port; true once it accepts connections.
sub start_again {
    my $self = shift;
    return 1 if $self->running;
    unlink $self->data_dir . '/postmaster.pid' if -e $self->data_dir . '/postmaster.pid';
    my $out = $self->_run_pg('pg_ctl', '-D', $self->data_dir, '-l', $self->log_path,
                             '-w', '-t', '30', 'start');
    $self->{ctl_output} = $out;
    return $self->_wait_ready(30);
}

sub _wait_ready {
    my ($self, $secs) = @_;
    return MCPTest::wait_for(sub {
        return 0 unless $self->running;
        my ($one) = $self->psql('SELECT 1', user => 'postgres', db => 'postgres');
        return defined $one && $one eq '1';
    }, $secs, 0.05) ? 1 : 0;
}

# ->restart(mode => 'fast'): pg_ctl restart (a new postmaster, every
# backend gone); true once it accepts connections again.
sub restart {
    my ($self, %o) = @_;
    $self->_resume_all;
    my $out = $self->_run_pg('pg_ctl', '-D', $self->data_dir, '-l', $self->log_path,
                             '-m', $o{mode} // 'fast', '-w', '-t', '30', 'restart');
    $self->{ctl_output} = $out;
    return $self->_wait_ready(30);
}

# ->stop(mode => 'fast'|'immediate'|'smart'): pg_ctl stop (fast by
# default); the postmaster is killed when it has not gone after 20 s.
sub stop {
    my ($self, %o) = @_;
    my $pid = $self->pid;
    return 1 unless $pid && MCPTest::pid_alive($pid);
    $self->_resume_all;
    my $out = $self->_run_pg('pg_ctl', '-D', $self->data_dir, '-m', $o{mode} // 'fast',
                             '-w', '-t', '20', 'stop');
    $self->{ctl_output} = $out;
    if (MCPTest::pid_alive($pid)) {
        CORE::kill 'KILL', $pid;
        MCPTest::wait_for(sub { !MCPTest::pid_alive($pid) }, 5, 0.05);
    }
    return MCPTest::pid_alive($pid) ? 0 : 1;
}

# ->kill: SIGKILL to the postmaster (its backends exit when they notice).
sub kill {
    my $self = shift;
    my $pid = $self->pid or return;
    $self->_resume_all;
    CORE::kill 'KILL', $pid;
    MCPTest::wait_for(sub { !MCPTest::pid_alive($pid) }, 10, 0.05);
}

sub running {
    my $self = shift;
    my $pid = $self->pid;
    return $pid && MCPTest::pid_alive($pid) ? 1 : 0;
}

# ->psql($sql, user => 'mcp', db => 'mcp', timeout => 10) -> in list
# context the output rows (psql -At: fields joined by "|"), in scalar
# context the output chomped; undef/() when psql failed ($pg->error says
# why). ON_ERROR_STOP is on; several statements may be given.
sub psql {
    my ($self, $sql, %o) = @_;
    my $psql = -x "$self->{bin}/psql" ? "$self->{bin}/psql" : 'psql';
    my $efile = "$self->{dir}/psql-$$.err";
    my $pid = open(my $fh, '-|');
    croak "fork: $!" unless defined $pid;
    if (!$pid) {
        open STDIN, '<', '/dev/null';
        open STDERR, '>', $efile;
        $ENV{PGCONNECT_TIMEOUT} = 5;
        $ENV{PGOPTIONS} = '-c statement_timeout=' . (($o{timeout} // 10) * 1000);
        $ENV{LC_ALL} = 'C';
        delete @ENV{qw(PGHOST PGPORT PGUSER PGDATABASE PGPASSWORD PGSERVICE)};
        exec('timeout', ($o{timeout} // 10) + 5, $psql, '-X', '-q', '-A', '-t',
             '-v', 'ON_ERROR_STOP=1', '-h', '127.0.0.1', '-p', $self->{port},
             '-U', $o{user} // 'mcp', '-d', $o{db} // 'mcp', '-c', $sql)
            or POSIX::_exit(127);
    }
    my @lines = <$fh>;
    close $fh;
    my $rc = $?;
    chomp @lines;
    if ($rc) {
        $self->{error} = MCPTest::read_from($efile) || "psql exit " . ($rc >> 8);
        unlink $efile;
        return wantarray ? () : undef;
    }
    unlink $efile;
    delete $self->{error};
    return wantarray ? @lines : join("\n", @lines);
}

# ->dbd_conf(min => 1, keep => 4, max => 4, exptime => S, params => 'extra
# libpq keywords', host => '127.0.0.1', port => P, connect_timeout => 2,
# app => 'mcp_sql_test') -> mod_dbd's lines for this server (host/port
# override it, e.g. for an unreachable address; app is the
# application_name, to tell one node's backends from another's).
sub dbd_conf {
    my ($self, %o) = @_;
    my $params = join ' ', 'host=' . ($o{host} // '127.0.0.1'),
        'port=' . ($o{port} // $self->{port}), 'dbname=mcp', 'user=mcp',
        'connect_timeout=' . ($o{connect_timeout} // 2),
        'application_name=' . ($o{app} // $APP_NAME), grep { defined && length } $o{params};
    return join "\n", 'DBDriver pgsql', qq{DBDParams "$params"},
        'DBDMin ' . ($o{min} // 1), 'DBDKeep ' . ($o{keep} // 4),
        'DBDMax ' . ($o{max} // 4),
        (defined $o{exptime} ? "DBDExptime $o{exptime}" : ()), '';
}

# node_conf(table => 'mcp_session', dbd => {dbd_conf options}, @lines)
# -> the server config of a node storing its sessions here: LoadModule
# dbd_module and mcp_session_sql_module (.libs/ or $MCP_SESSION_SQL_SO),
# dbd_conf, MCPSessionStorageMode external, MCPSessionStore sql://TABLE,
# then the extra lines given in conf => "...".
sub node_conf {
    my ($self, %o) = @_;
    return module_conf() . $self->dbd_conf(%{ $o{dbd} || {} })
        . "MCPSessionStorageMode external\n"
        . 'MCPSessionStore sql://' . ($o{table} // 'mcp_session') . "\n"
        . ($o{conf} // '');
}

# module_conf() -> the LoadModule lines of mod_dbd and the SQL module.
sub module_conf {
    return 'LoadModule dbd_module ' . MCPTest::Node::modules_dir() . "/mod_dbd.so\n"
         . 'LoadModule mcp_session_sql_module ' . sql_so() . "\n";
}

# sql_so() -> the freshly built mod_mcp_session_sql.so (or $MCP_SESSION_SQL_SO).
sub sql_so { $ENV{MCP_SESSION_SQL_SO} || MCPTest::top_dir() . '/.libs/mod_mcp_session_sql.so' }

# ->backend_pids(app => NAME) -> pids of the backends serving the module's
# connections (application_name mcp_sql_test, or NAME), oldest first.
sub backend_pids {
    my ($self, %o) = @_;
    (my $app = $o{app} // $APP_NAME) =~ s/'/''/g;
    my @pids = $self->psql("SELECT pid FROM pg_stat_activity WHERE application_name = "
                           . "'$app' ORDER BY backend_start", user => 'postgres',
                           db => 'postgres');
    return grep { /^\d+$/ } @pids;
}

# ->suspend($pid) / ->resume($pid): SIGSTOP / SIGCONT a backend: its
# connection stays open (the kernel ACKs) and never answers, as a hung
# database. stop/restart/kill and END resume what is still suspended.
sub suspend {
    my ($self, $pid) = @_;
    croak 'suspend: no pid' unless $pid;
    $self->{suspended}{$pid} = 1;
    return CORE::kill 'STOP', $pid;
}

sub resume {
    my ($self, $pid) = @_;
    croak 'resume: no pid' unless $pid;
    delete $self->{suspended}{$pid};
    return CORE::kill 'CONT', $pid;
}

sub _resume_all {
    my $self = shift;
    CORE::kill 'CONT', $_ for keys %{ $self->{suspended} };
    $self->{suspended} = {};
}

sub diagnostics {
    my $self = shift;
    return join "\n", grep { length } $self->{ctl_output} // '',
        MCPTest::read_from($self->log_path);
}

1;
