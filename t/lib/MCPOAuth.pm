package MCPOAuth;
# The test authorization server (t/node/oauth-as.mjs) from Perl, and what
# the auth-module tests need around it (issue 13).
#
#   use MCPTest; use MCPOAuth;
#   MCPOAuth::skip_unless_openidc();            # or skip_unless_oauth2()
#   my $as = MCPOAuth->start(ttl => 60, sub => 'alice');
#   my $token = $as->mint(aud => 'http://127.0.0.1:P/mcp', scope => 'mcp:tools');
#   mcp_post($url, $body, MCPOAuth::bearer($token));
#
# MCPOAuth->start(%o) makes an RSA 2048 key and a self-signed certificate of
# it (for OIDCOAuthVerifyCertFiles) with openssl in a fresh directory under
# MCPTest::work_dir(), starts the AS on a free 127.0.0.1 port and waits for
# its READY line (dies after 30 s). Stopped at END like MCPTest's servers.
# Options:
#   ttl     access token lifetime in seconds (default 3600)
#   sub     the subject /authorize approves (default alice)
#   issuer  the iss of its tokens and metadata (default http://127.0.0.1:PORT)
#   scopes  scopes_supported (default "mcp:tools mcp:admin")
#   kid     key id (default "as-PORT")
#   port    default MCPTest::free_port()
#   name    label of the directory (default oauth-as)
# Methods:
#   ->issuer ->port ->kid ->dir
#   ->url($path)      http://127.0.0.1:PORT$path
#   ->metadata_url    .../.well-known/oauth-authorization-server
#   ->jwks_uri        .../jwks
#   ->key_file        the private key (PEM);  ->cert_file  its certificate
#   ->mint(%claims)   a JWT from /mint: aud (a string or an arrayref: an
#                     array claim), iss, sub, scope, exp (seconds from now,
#                     negative: expired; 'none': no exp), key (main|other:
#                     other is an unpublished key), client_id. A claim given
#                     as '' is left out. Dies unless /mint answers 200.
#   ->log             the decoded /log: [{method, path, grant_type?, status}]
#   ->get($path)      HTTP::Tiny response hash of GET $path on the AS
#   ->stop / ->start  (start again on the same port and key)
#   ->running
# Functions:
#   openidc_so() / oauth2_so()  the Debian module's path, or undef
#   skip_unless_openidc() / skip_unless_oauth2()  skip_all without that
#       module (or without node or openssl, which the AS needs)
#   bearer($token)   (Authorization => "Bearer $token") for mcp_post & co.
use strict;
use warnings;
use Carp qw(croak);
use File::Path qw(make_path);
use HTTP::Tiny;
use POSIX qw(WNOHANG);
use Time::HiRes qw(sleep);
use URI::Escape qw(uri_escape);

use MCPTest ();

my $SEQ = 0;

sub openidc_so { _so('auth_openidc') }
sub oauth2_so  { _so('oauth2') }

sub _so {
    my $f = MCPTest::Node::modules_dir() . "/mod_$_[0].so";
    return -e $f ? $f : undef;
}

sub _skip_unless {
    my ($so, $pkg) = @_;
    require Test::More;
    Test::More::plan(skip_all => "$pkg is not installed") unless $so;
    Test::More::plan(skip_all => 'node is not installed') unless MCPTest::have_program('node');
    Test::More::plan(skip_all => 'openssl is not installed') unless MCPTest::have_program('openssl');
}

sub skip_unless_openidc { _skip_unless(openidc_so(), 'libapache2-mod-auth-openidc') }
sub skip_unless_oauth2  { _skip_unless(oauth2_so(), 'libapache2-mod-oauth2') }

sub bearer { return (Authorization => "Bearer $_[0]") }

sub start {
    my ($class, %o) = @_;
    my $self = bless { ttl => 3600, sub => 'alice', name => 'oauth-as', %o }, $class;
    $self->{port} ||= MCPTest::free_port();
    $self->{kid}  ||= "as-$self->{port}";
    $self->{dir} = MCPTest::work_dir() . "/$self->{name}-$self->{port}-$$-" . ++$SEQ;
    make_path($self->{dir});
    chmod 0755, $self->{dir};   # httpd (as nobody) reads the certificate
    $self->_keys;
    MCPTest::_register($self);
    $self->start_again or croak "MCPOAuth: oauth-as.mjs did not start:\n" . $self->output;
    return $self;
}

sub _run {
    my ($self, @cmd) = @_;
    my $rc = system(@cmd) >> 8;
    croak "MCPOAuth: '@cmd' failed ($rc)" if $rc;
}

sub _keys {
    my $self = shift;
    my ($key, $cert) = ($self->key_file, $self->cert_file);
    my $quiet = "2>>$self->{dir}/openssl.log";
    $self->_run("openssl genrsa -out '$key' 2048 $quiet");
    $self->_run("openssl req -x509 -new -key '$key' -subj /CN=mcp-test-as -days 7"
                . " -out '$cert' $quiet");
    chmod 0644, $key, $cert;
}

sub dir          { $_[0]{dir} }
sub port         { $_[0]{port} }
sub kid          { $_[0]{kid} }
sub key_file     { "$_[0]{dir}/as-key.pem" }
sub cert_file    { "$_[0]{dir}/as-cert.pem" }
sub url          { "http://127.0.0.1:$_[0]{port}" . ($_[1] // '') }
sub issuer       { $_[0]{issuer} // $_[0]->url }
sub metadata_url { $_[0]->url('/.well-known/oauth-authorization-server') }
sub jwks_uri     { $_[0]->url('/jwks') }
sub output       { MCPTest::read_from("$_[0]{dir}/as.log") }

# ->start_again: (re)start the process on the same port and key.
sub start_again {
    my $self = shift;
    return 1 if $self->running;
    my @args = (MCPTest::node_dir() . '/oauth-as.mjs', '--port', $self->{port},
                '--key', $self->key_file, '--kid', $self->{kid}, '--ttl', $self->{ttl},
                '--sub', $self->{sub},
                (defined $self->{issuer} ? ('--issuer', $self->{issuer}) : ()),
                (defined $self->{scopes} ? ('--scopes', $self->{scopes}) : ()));
    my $log = "$self->{dir}/as.log";
    my $offset = MCPTest::file_size($log);
    my $pid = fork;
    croak "fork: $!" unless defined $pid;
    if (!$pid) {
        open STDIN, '<', '/dev/null';
        open STDOUT, '>>', $log or POSIX::_exit(126);
        open STDERR, '>&', \*STDOUT;
        chdir MCPTest::node_dir();
        exec('node', @args) or POSIX::_exit(127);
    }
    $self->{pid} = $pid;
    return MCPTest::wait_for(sub {
        return 0 unless $self->running;
        return scalar MCPTest::grep_log($log, qr/^READY \d+$/, $offset);
    }, 30, 0.05) ? 1 : 0;
}

sub running {
    my $self = shift;
    return 0 unless $self->{pid};
    return 1 if waitpid($self->{pid}, WNOHANG) == 0;
    delete $self->{pid};
    return 0;
}

sub stop {
    my $self = shift;
    return 1 unless $self->running;
    CORE::kill 'TERM', $self->{pid};
    MCPTest::wait_for(sub { !$self->running }, 5, 0.05) and return 1;
    CORE::kill 'KILL', $self->{pid};
    MCPTest::wait_for(sub { !$self->running }, 5, 0.05);
    return 1;
}

my $HTTP = HTTP::Tiny->new(timeout => 10, keep_alive => 0);

sub get {
    my ($self, $path) = @_;
    return $HTTP->get($self->url($path));
}

sub mint {
    my ($self, %c) = @_;
    my @q;
    for my $k (sort keys %c) {
        my $v = $c{$k};
        push @q, map { "$k=" . uri_escape($_ // '') } ref $v eq 'ARRAY' ? @$v : ($v);
    }
    my $r = $self->get('/mint?' . join('&', @q));
    croak "MCPOAuth: /mint answered $r->{status}: $r->{content}" unless $r->{status} == 200;
    return $r->{content};
}

sub log {
    my $self = shift;
    my $r = $self->get('/log');
    croak "MCPOAuth: /log answered $r->{status}" unless $r->{status} == 200;
    return MCPTest::json_decode($r->{content});
}

1;
