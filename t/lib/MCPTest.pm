package MCPTest;
# Helpers for the mod_mcp_session test suite (t/*.t).
#
#   use FindBin; use lib "$FindBin::Bin/lib";
#   use MCPTest;
#
# HTTP:      mcp_post mcp_get mcp_delete mcp_put mcp_request url basic_auth
# MCP:       initialize init_message rpc mcp_call session_headers
# 2026-07-28: modern_post modern_meta $MODERN
# Decoding:  rpc_body rpc_final sse_events json_encode json_decode
# Checks:    check_error error_of is_session_id
# Processes: start_node start_redis start_fleet free_port wait_for
#            have_program have_redis skip_unless_redis node_dir run_node
#            start_backend skip_unless_node node_spawn node_wait gw_client $BACKEND_SID
# Logs:      access_log_pids file_size read_from grep_log wait_for_log
# Restart:   graceful_restart apache_test_graceful
# Misc:      server_mpm status_auto top_dir module_so example_so
#
# Everything started with start_node()/start_redis() is stopped at END (in
# the process that started it), also when a test dies. Then the error logs
# are checked (see "Error-log check" below): a line at warn level or worse
# that the file does not declare with "# expect-log: TAG" fails the file.
use strict;
use warnings;

use Exporter 'import';
use Carp qw(croak);
use Cwd qw(abs_path);
use File::Basename qw(dirname);
use File::Path qw(make_path);
use File::Spec;
use File::Temp qw(tempdir tempfile);
use IO::Socket::INET;
use HTTP::Request;
use LWP::UserAgent;
use MIME::Base64 qw(encode_base64);
use POSIX qw(WNOHANG);
use Time::HiRes qw(sleep time);
use JSON ();

our @EXPORT = qw(
    mcp_post mcp_get mcp_delete mcp_put mcp_request url basic_auth
    initialize init_message rpc mcp_call session_headers
    modern_post modern_meta $MODERN
    rpc_body rpc_final sse_events json_encode json_decode
    check_error error_of is_session_id
    start_node start_redis start_fleet free_port wait_for
    have_program have_redis skip_unless_redis node_dir run_node
    start_backend skip_unless_node node_spawn node_wait gw_client $BACKEND_SID
    access_log_pids file_size read_from grep_log wait_for_log
    graceful_restart apache_test_graceful
    server_mpm status_auto top_dir module_so example_so
    @VERSIONS $LATEST
);

# A client that goes away early must not kill the test.
$SIG{PIPE} = 'IGNORE';

# The protocol versions the module supports, newest first.
our @VERSIONS = ('2025-11-25', '2025-06-18', '2025-03-26');
our $LATEST   = $VERSIONS[0];

my $JSON = JSON->new->utf8->canonical->allow_nonref;

# json_encode($perl) -> JSON text (canonical key order).
sub json_encode { $JSON->encode($_[0]) }

# json_decode($text) -> Perl data, or undef if $text is not JSON.
sub json_decode {
    my $text = shift;
    return undef unless defined $text && length $text;
    my $v = eval { $JSON->decode($text) };
    return $v;
}

# top_dir() -> the source tree's top directory (the parent of t/).
sub top_dir {
    return abs_path(dirname(__FILE__) . '/../..');
}

# module_so() / example_so() -> the freshly built modules (.libs/), or
# $MCP_SESSION_SO / $MCP_EXAMPLE_SO.
sub module_so  { $ENV{MCP_SESSION_SO} || top_dir() . '/.libs/mod_mcp_session.so' }
sub example_so { $ENV{MCP_EXAMPLE_SO} || top_dir() . '/.libs/mod_mcp_example.so' }

# ---------------------------------------------------------------------------
# HTTP

# url($path_or_url [, $vhost]) -> absolute URL. A path is resolved against
# the Apache::Test server (or the Apache::Test <VirtualHost $vhost>).
sub url {
    my ($path, $vhost) = @_;
    croak 'url: no path' unless defined $path;
    return $path if $path =~ m{^https?://}i;
    $path = "/$path" unless $path =~ m{^/};
    require Apache::Test;
    my $cfg = Apache::Test::config();
    my $hostport;
    if ($vhost) {
        $hostport = $cfg->{vhosts}{$vhost}{hostport}
            or croak "url: no Apache::Test vhost '$vhost'";
    }
    else {
        $hostport = join ':', $cfg->{vars}{servername}, $cfg->{vars}{port};
    }
    return "http://$hostport$path";
}

# basic_auth($user, $password) -> the value of an Authorization header.
sub basic_auth {
    my ($user, $pass) = @_;
    return 'Basic ' . encode_base64("$user:$pass", '');
}

my %UA;
# A user agent; a new TCP connection for every request unless keepalive.
sub _ua {
    my %o = @_;
    my $key = $o{keepalive} ? 'ka' : 'plain';
    $UA{$key} ||= LWP::UserAgent->new(
        timeout      => $o{timeout} || 60,
        agent        => 'mcp-session-tests/1',
        max_redirect => 0,
        ($o{keepalive} ? (keep_alive => 8) : ()),
    );
    $UA{$key}->timeout($o{timeout} || 60);
    return $UA{$key};
}

# mcp_request($method, $url, $body, %headers) -> HTTP::Response.
# $body: undef (none), a string (sent as is) or a Perl ref (JSON-encoded).
# Headers with an undef value are not sent. Pseudo headers:
#   -user/-password  Basic credentials;  -keepalive => 1  reuse connections;
#   -timeout => s    request timeout;     -defaults => 0   no default headers.
# POST gets Content-Type: application/json and
# Accept: application/json, text/event-stream unless given.
sub mcp_request {
    my ($method, $u, $body, %h) = @_;
    my %opt;
    for my $k (grep { /^-/ } keys %h) {
        $opt{substr($k, 1)} = delete $h{$k};
    }
    my $defaults = exists $opt{defaults} ? $opt{defaults} : 1;
    my %hdr;
    if ($defaults && $method eq 'POST') {
        %hdr = ('Content-Type' => 'application/json',
                'Accept'       => 'application/json, text/event-stream');
    }
    # case-insensitive override of the defaults
    for my $k (keys %h) {
        for my $d (keys %hdr) {
            delete $hdr{$d} if lc $d eq lc $k;
        }
        $hdr{$k} = $h{$k};
    }
    if (defined $opt{user}) {
        $hdr{Authorization} = basic_auth($opt{user}, $opt{password} // '');
    }
    my $req = HTTP::Request->new($method => url($u));
    for my $k (sort keys %hdr) {
        $req->header($k => $hdr{$k}) if defined $hdr{$k};
    }
    if (defined $body) {
        my $content = ref $body ? json_encode($body) : $body;
        $req->content($content);
        $req->header('Content-Length' => length $content);
    }
    elsif ($method eq 'POST' || $method eq 'PUT') {
        $req->header('Content-Length' => 0);
    }
    return _ua(%opt)->request($req);
}

# mcp_post($path_or_url, $json_text_or_perl, %headers) -> HTTP::Response
sub mcp_post   { my ($u, $b, %h) = @_; mcp_request('POST', $u, $b, %h) }
# mcp_get($path_or_url, %headers) -> HTTP::Response
sub mcp_get    { my ($u, %h) = @_; mcp_request('GET', $u, undef, %h) }
# mcp_delete($path_or_url, %headers) -> HTTP::Response
sub mcp_delete { my ($u, %h) = @_; mcp_request('DELETE', $u, undef, %h) }
# mcp_put($path_or_url, $body, %headers) -> HTTP::Response
sub mcp_put    { my ($u, $b, %h) = @_; mcp_request('PUT', $u, $b, %h) }

# ---------------------------------------------------------------------------
# MCP

my $NEXT_ID = 1;

# rpc($method [, $params [, $id]]) -> a JSON-RPC request (hashref) with a
# fresh integer id; rpc($method, $params, undef) with an explicit undef id
# gives a notification.
sub rpc {
    my ($method, $params, @id) = @_;
    my %m = (jsonrpc => '2.0', method => $method);
    $m{params} = $params if defined $params;
    if (@id) {
        $m{id} = $id[0] if defined $id[0];
    }
    else {
        $m{id} = $NEXT_ID++;
    }
    return \%m;
}

# init_message(%opts) -> an initialize request (protocolVersion => ...).
sub init_message {
    my %o = @_;
    return rpc('initialize', {
        protocolVersion => $o{protocolVersion} // $LATEST,
        capabilities    => $o{capabilities} || {},
        clientInfo      => { name => 'mcp-session-tests', version => '1.0' },
    }, $o{id} // $NEXT_ID++);
}

# session_headers($sid [, $version]) -> (Mcp-Session-Id => ...,
# MCP-Protocol-Version => ...), the headers of a request in a session.
sub session_headers {
    my ($sid, $version) = @_;
    return ('Mcp-Session-Id' => $sid,
            'MCP-Protocol-Version' => $version // $LATEST);
}

# initialize($url, %opts) -> ($sid, $response) in list context, $sid in
# scalar context. Sends initialize, then notifications/initialized (unless
# no_initialized => 1). Options: protocolVersion, user, password,
# headers => {...} (extra headers on initialize).
sub initialize {
    my ($u, %o) = @_;
    my @auth = defined $o{user} ? (-user => $o{user}, -password => $o{password}) : ();
    my $res = mcp_post($u, init_message(%o), %{ $o{headers} || {} }, @auth);
    my $sid = $res->header('Mcp-Session-Id');
    if ($res->code == 200 && defined $sid && !$o{no_initialized}) {
        my $msg = rpc_final($res);
        my $v = ref $msg eq 'HASH' && ref $msg->{result} eq 'HASH'
              ? $msg->{result}{protocolVersion} : undef;
        my $n = mcp_post($u, rpc('notifications/initialized', undef, undef),
                         session_headers($sid, $v), @auth);
        Test::More::diag('notifications/initialized answered ' . $n->status_line)
            if $n->code != 202 && $INC{'Test/More.pm'};
    }
    return wantarray ? ($sid, $res) : $sid;
}

# mcp_call($url, $sid, $method, $params, %headers) -> ($response, $message):
# one request in a session; $message is the final JSON-RPC message (the
# response) or undef.
sub mcp_call {
    my ($u, $sid, $method, $params, %h) = @_;
    my $version = delete $h{-version};
    my $res = mcp_post($u, rpc($method, $params),
                       (defined $sid ? session_headers($sid, $version) : ()), %h);
    return ($res, rpc_final($res));
}

# ---------------------------------------------------------------------------
# 2026-07-28 (no session)

# The revision of the sessionless requests.
our $MODERN = '2026-07-28';

# modern_meta(%o) -> the params._meta envelope of a 2026-07-28 request.
# Options: version (default $MODERN), caps (clientCapabilities, default
# {}), level (logLevel), progress (progressToken), drop => [keys left out].
sub modern_meta {
    my %o = @_;
    my $p = 'io.modelcontextprotocol/';
    my %m = ("${p}protocolVersion" => $o{version} // $MODERN,
             "${p}clientCapabilities" => $o{caps} // {},
             "${p}clientInfo" => { name => 'mcp-session-tests', version => '1.0' });
    $m{"${p}logLevel"} = $o{level} if defined $o{level};
    $m{progressToken} = $o{progress} if defined $o{progress};
    delete @m{ @{ $o{drop} || [] } };
    return \%m;
}

my $MODERN_ID = 0;
# modern_post($url, $method, \%params, %o) -> ($response, $final_message,
# $id): a 2026-07-28 request as a client sends it: params._meta (see
# modern_meta), MCP-Protocol-Version, Mcp-Method, and Mcp-Name for a
# params.name or params.uri. Options: meta => {modern_meta options},
# nometa => 1, id (default "m-N"; undef: a notification), headers => {...}
# (added; a header given undef is not sent), body => text or ref sent
# instead, and mcp_request's -user/-password/-timeout.
sub modern_post {
    my ($u, $method, $params, %o) = @_;
    my %p = %{ $params || {} };
    $p{_meta} = modern_meta(%{ $o{meta} || {} }) unless $o{nometa};
    my $id = exists $o{id} ? $o{id} : 'm-' . ++$MODERN_ID;
    my %msg = (jsonrpc => '2.0', method => $method, params => \%p);
    $msg{id} = $id if defined $id;
    my $name = $p{name} // $p{uri};
    my %h = ('MCP-Protocol-Version' => $MODERN, 'Mcp-Method' => $method,
             (defined $name && !ref $name ? ('Mcp-Name' => $name) : ()));
    %h = (%h, %{ $o{headers} || {} });
    my @pass = map { $_ => $o{$_} } grep { /^-/ } keys %o;
    my $res = mcp_post($u, $o{body} // \%msg, %h, @pass);
    return ($res, rpc_final($res), $id);
}

# ---------------------------------------------------------------------------
# Decoding

# sse_events($text) -> list of { event => ..., data => ..., id => ... } of
# an SSE body (data lines joined with "\n").
sub sse_events {
    my $text = shift // '';
    $text =~ s/\r\n?/\n/g;
    my @events;
    for my $block (split /\n\n+/, $text) {
        next unless $block =~ /\S/;
        my %e;
        my @data;
        for my $line (split /\n/, $block) {
            next if $line =~ /^:/;
            my ($f, $v) = $line =~ /^([^:]*):? ?(.*)$/;
            if ($f eq 'data') { push @data, $v }
            else { $e{$f} = $v }
        }
        $e{data} = join "\n", @data if @data;
        push @events, \%e;
    }
    return @events;
}

# rpc_body($res) -> decoded JSON of an application/json body (object or
# array); for text/event-stream an arrayref of the decoded data messages
# (events without data, e.g. priming events, are left out). undef if empty
# or not decodable.
sub rpc_body {
    my $res = shift;
    my $ct = $res->header('Content-Type') // '';
    my $content = $res->decoded_content // $res->content;
    if ($ct =~ m{^text/event-stream}i) {
        my @msgs;
        for my $e (sse_events($content)) {
            next unless defined $e->{data} && length $e->{data};
            push @msgs, json_decode($e->{data});
        }
        return \@msgs;
    }
    return json_decode($content);
}

# rpc_final($res) -> the last JSON-RPC message of a response (the response
# to the request for SSE; the object itself for JSON), or undef.
sub rpc_final {
    my $res = shift;
    my $b = rpc_body($res);
    my $ct = $res->header('Content-Type') // '';
    if (ref $b eq 'ARRAY' && $ct =~ m{^text/event-stream}i) {
        return $b->[-1];
    }
    return $b;
}

# error_of($res) -> the error object {code, message} of a JSON-RPC error
# body, or undef.
sub error_of {
    my $b = json_decode(shift->content);
    return ref $b eq 'HASH' && ref $b->{error} eq 'HASH' ? $b->{error} : undef;
}

# check_error($res, $status, $code, $message_re, $name): one test asserting
# an HTTP-level error of the contract: status, Content-Type
# application/json, body {"jsonrpc":"2.0","error":{"code":C,"message":M},
# "id":null}. $message_re may be undef (any non-empty message).
sub check_error {
    my ($res, $status, $code, $re, $name) = @_;
    my @why;
    push @why, 'status ' . $res->code . " (want $status)" if $res->code != $status;
    my $ct = $res->header('Content-Type') // '';
    push @why, "Content-Type '$ct' (want application/json)"
        unless $ct =~ m{^application/json\b}i;
    my $b = json_decode($res->content);
    if (ref $b ne 'HASH') {
        push @why, 'body is not a JSON object';
    }
    else {
        push @why, 'jsonrpc is not "2.0"' unless ($b->{jsonrpc} // '') eq '2.0';
        push @why, 'id is not null' unless exists $b->{id} && !defined $b->{id};
        push @why, 'result present' if exists $b->{result};
        my $e = $b->{error};
        if (ref $e ne 'HASH') {
            push @why, 'no error object';
        }
        else {
            push @why, 'error.code ' . ($e->{code} // 'undef') . " (want $code)"
                unless defined $e->{code} && !ref $e->{code} && $e->{code} == $code
                    && $e->{code} =~ /^-?\d+$/;
            my $m = $e->{message};
            if (!defined $m || ref $m || !length $m) {
                push @why, 'error.message missing';
            }
            elsif (defined $re && $m !~ $re) {
                push @why, "error.message '$m' !~ $re";
            }
        }
    }
    my $ok = Test::More::ok(!@why, $name);
    unless ($ok) {
        Test::More::diag("  $_") for @why;
        Test::More::diag('  got: ' . $res->status_line . ' ' . substr($res->content // '', 0, 300));
    }
    return $ok;
}

# is_session_id($sid) -> true for 43 chars of base64url (32 random bytes).
sub is_session_id {
    my $sid = shift;
    return defined $sid && $sid =~ /\A[A-Za-z0-9_-]{43}\z/;
}

# ---------------------------------------------------------------------------
# Processes

# wait_for($code, $timeout_s [, $interval_s]) -> the first true value $code
# returned, or undef after $timeout_s.
sub wait_for {
    my ($code, $timeout, $interval) = @_;
    $timeout  //= 10;
    $interval //= 0.1;
    my $end = time + $timeout;
    while (1) {
        my $v = $code->();
        return $v if $v;
        return undef if time >= $end;
        sleep $interval;
    }
}

my %PORTS_GIVEN;
# free_port() -> a TCP port on 127.0.0.1 nobody listens on (20000-32767,
# below the kernel's ephemeral range; never the same twice per process).
sub free_port {
    for (1 .. 500) {
        my $p = 20000 + int(rand(12768));
        next if $PORTS_GIVEN{$p};
        my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => $p,
                                      Proto => 'tcp', Listen => 1, ReuseAddr => 1)
            or next;
        close $s;
        # nothing may answer there either (e.g. a server on another address)
        my $c = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $p,
                                      Proto => 'tcp', Timeout => 1);
        if ($c) { close $c; next }
        $PORTS_GIVEN{$p} = 1;
        return $p;
    }
    croak 'free_port: no free port found';
}

# port_open($port [, $host]) -> true when something accepts connections.
sub port_open {
    my ($port, $host) = @_;
    my $c = IO::Socket::INET->new(PeerAddr => $host || '127.0.0.1',
                                  PeerPort => $port, Proto => 'tcp', Timeout => 1);
    return 0 unless $c;
    close $c;
    return 1;
}

# pid_alive($pid) -> true while the process exists (and is not a zombie).
sub pid_alive {
    my $pid = shift;
    return 0 unless $pid && CORE::kill(0, $pid);
    if (open my $fh, '<', "/proc/$pid/stat") {
        my $stat = <$fh>;
        close $fh;
        return 0 if $stat && $stat =~ /\)\s+Z\s/;
    }
    return 1;
}

# children_of($pid) -> pids whose parent is $pid (from /proc).
sub children_of {
    my $ppid = shift;
    my @kids;
    opendir my $dh, '/proc' or return;
    for my $p (grep { /^\d+$/ } readdir $dh) {
        open my $fh, '<', "/proc/$p/stat" or next;
        my $stat = <$fh>;
        close $fh;
        push @kids, $p if $stat && $stat =~ /\)\s+\S+\s+(\d+)/ && $1 == $ppid;
    }
    closedir $dh;
    return @kids;
}

sub read_pidfile {
    my $file = shift;
    open my $fh, '<', $file or return undef;
    my $pid = <$fh>;
    close $fh;
    return undef unless defined $pid && $pid =~ /^\s*(\d+)/;
    return $1;
}

# A directory for extra servers: t/logs/extra (kept for post-mortems) when
# writable, else a fresh temporary directory.
my $WORK_DIR;
sub work_dir {
    return $WORK_DIR if $WORK_DIR;
    my $logs = top_dir() . '/t/logs';
    if (-d $logs && -w $logs) {
        $WORK_DIR = "$logs/extra";
        make_path($WORK_DIR);
        return $WORK_DIR if -d $WORK_DIR && -w $WORK_DIR;
    }
    $WORK_DIR = tempdir('mcp-tests-XXXXXX', TMPDIR => 1, CLEANUP => 0);
    return $WORK_DIR;
}

my @STARTED;      # objects to stop at END
my $OWNER = $$;   # only the process that started them stops them

sub _register { push @STARTED, $_[0]; $_[0] }

END {
    if ($$ == $OWNER) {
        my $status = $?;
        for my $obj (reverse @STARTED) {
            eval { $obj->stop(quiet => 1) };
        }
        # after the stops: what a node logs while stopping counts too
        my @bad = eval { log_check() };
        push @bad, "log check failed: $@" if $@;
        if (@bad) {
            _log_check_report(@bad);
            $status ||= 1;
        }
        $? = $status;
    }
}

# ---------------------------------------------------------------------------
# Error-log check: a test file fails when the error logs it caused hold a
# line at warn level or worse (or a crash line) that it did not declare with
#     # expect-log: MCPS00411 AH01630 ...
# comment lines (tags or plain substrings, matched against the line). It
# covers the part of t/logs/error_log written while the file ran and the
# whole error_log (and startup output) of every node it started with
# start_node(). Checked at
# END, after the nodes are stopped; MCP_TEST_LOG_CHECK=0 turns it off.

# Log lines no test file has to declare. Keep this tiny: each entry is a
# message httpd writes in normal operation of a test setup.
our @LOG_ALWAYS_OK = (
);

# [module:level] of httpd's default ErrorLogFormat, and what a dying child
# or a failed assertion writes (notice level, or raw stderr).
my $LOG_BAD_LEVEL = qr/\[[^\]\s]*:(?:warn|error|crit|alert|emerg)\]/;
my $LOG_CRASH     = qr/\bexit signal\b|\bAssertion\b.*\bfailed\b|AddressSanitizer/;

my $CHECK_LOGS = $0 =~ /\.t\z/ && ($ENV{MCP_TEST_LOG_CHECK} // 1) ne '0';
my $AT_LOG     = top_dir() . '/t/logs/error_log';
my $AT_OFFSET  = file_size($AT_LOG);   # this file's part starts here
my @NODE_LOGS;                         # logs of every start_node()
my $TEST_FILE  = $CHECK_LOGS ? abs_path($0) : undef;   # before any chdir

# expected_log($test_file) -> the tags/substrings its "# expect-log:"
# lines declare.
sub expected_log {
    my $file = shift // $0;
    open my $fh, '<', $file or return ();
    my @tags;
    while (my $line = <$fh>) {
        push @tags, split ' ', $1 if $line =~ /^\s*#\s*expect-log:\s*(.*?)\s*$/;
    }
    close $fh;
    return @tags;
}

# unexpected_log_lines($text, @expected) -> the lines of $text that are at
# warn level or worse (or crash lines) and contain none of @expected or
# @LOG_ALWAYS_OK.
sub unexpected_log_lines {
    my ($text, @expected) = @_;
    my @ok = (@expected, @LOG_ALWAYS_OK);
    my @bad;
    for my $line (split /\n/, $text // '') {
        next unless $line =~ $LOG_BAD_LEVEL || $line =~ $LOG_CRASH;
        next if grep { index($line, $_) >= 0 } @ok;
        push @bad, $line;
    }
    return @bad;
}

# log_check() -> "file: line" for each unexpected line this test file
# caused so far (empty when the check is off).
sub log_check {
    return () unless $CHECK_LOGS;
    my @expected = expected_log($TEST_FILE);
    my @bad;
    # the Apache::Test server's log, from where it was when this file began
    # (from the start if it was rotated or truncated meanwhile)
    if (-e $AT_LOG) {
        my $from = file_size($AT_LOG) >= $AT_OFFSET ? $AT_OFFSET : 0;
        push @bad, map { "t/logs/error_log: $_" }
            unexpected_log_lines(read_from($AT_LOG, $from), @expected);
    }
    my %seen;
    for my $log (grep { !$seen{$_}++ } @NODE_LOGS) {
        (my $short = $log) =~ s{^.*/t/logs/}{t/logs/};
        push @bad, map { "$short: $_" }
            unexpected_log_lines(read_from($log), @expected);
    }
    return @bad;
}

sub _log_check_report {
    my @bad = @_;
    my $max = 40;
    my @msg = ('error log: ' . scalar(@bad) . ' unexpected line(s) at warn level or worse;'
               . " declare the ones this file provokes on purpose with '# expect-log: TAG':",
               (map { "  $_" } @bad[0 .. ($#bad < $max - 1 ? $#bad : $max - 1)]),
               (@bad > $max ? ('  ... ' . (@bad - $max) . ' more') : ()));
    print STDERR map { "# $_\n" } @msg;
}

# start_node(%opts) -> MCPTest::Node: an extra, independent httpd loading
# the freshly built mod_mcp_session.so and mod_mcp_example.so. Options:
#   conf          server-level config snippet (e.g. MCPSessionStorageMode
#                 external + MCPSessionStore redis://127.0.0.1:PORT)
#   location      the MCP endpoint path (default /mcp; undef: none)
#   location_conf lines inside that <Location>
#   mpm           prefork|event|worker (default $MCP_TEST_MPM, else the
#                 Apache::Test server's MPM, else event)
#   servers       child processes to start (prefork 3, event/worker 2)
#   threads       ThreadsPerChild (event/worker, default 4); under prefork
#                 MaxRequestWorkers is at least 2 x threads
#   loglevel      default "info mcp_session:debug"
#   name          label for the directory (default "node")
#   port          default free_port()
#   server_name   ServerName (default 127.0.0.1; undef: no ServerName)
#   start         0: only write the config (default 1)
#   may_fail      1: do not die when the server does not start; check
#                 $node->running / $node->startup_output
#   state_key     0: no MCPRequestStateKeyFile added (default: a node in
#                 external mode without one gets test_state_key(), the
#                 same for every node of the test, as a real fleet has)
#   proxy_modules [names]: load these mod_NAME.so after mod_mcp_session
#                 (default: what the MCPBackend lines in conf and
#                 location_conf need, see MCPTest::Node::proxy_modules)
# The node's directory (under t/logs/extra) holds httpd.conf, error_log,
# access_log (format "%P %{Mcp-Session-Id}i %>s \"%r\""), httpd.pid.
sub start_node {
    my %o = @_;
    my $node = MCPTest::Node->new(%o);
    _register($node);
    if ($o{start} // 1) {
        my $ok = $node->start;
        croak("start_node: httpd did not start:\n" . $node->diagnostics)
            if !$ok && !$o{may_fail};
    }
    return $node;
}

# test_state_key() -> a key file (32 random bytes in hex) made once per
# test process: every node of a test seals requestState with it.
my $STATE_KEY;
sub test_state_key {
    return $STATE_KEY if $STATE_KEY && -e $STATE_KEY;
    $STATE_KEY = work_dir() . "/state-key-$$.hex";
    open my $fh, '>', $STATE_KEY or croak "$STATE_KEY: $!";
    print $fh join('', map { sprintf '%02x', int rand 256 } 1 .. 32), "\n";
    close $fh or croak "$STATE_KEY: $!";
    chmod 0644, $STATE_KEY;
    return $STATE_KEY;
}

# start_redis(%opts) -> MCPTest::Redis: a private redis-server on a free
# 127.0.0.1 port. Options: port, appendonly => 'yes'|'no' (default no),
# save => '' (default: no snapshots), args => [more redis-server args],
# name. ->stop/->start keep the data dir and port (with appendonly yes
# the data survives a restart).
sub start_redis {
    my %o = @_;
    my $r = MCPTest::Redis->new(%o);
    _register($r);
    $r->start or croak("start_redis: redis-server did not start:\n" . $r->diagnostics);
    return $r;
}

# start_fleet(%opts) -> ($redis, @nodes): a private redis-server and nodes
# in external mode sharing it, as a fleet behind a balancer. Options:
#   name    label: the redis is "NAME-redis", the nodes "NAME-a", "NAME-b", ...
#   prefix  MCPSessionKeyPrefix (default "mcp:NAME:PID:")
#   conf    more server-level lines for every node
#   nodes   how many nodes (default 2), or [ { start_node options }, ... ]
#           (a node's own conf comes after the common one)
#   redis   { start_redis options }
sub start_fleet {
    my %o = @_;
    my $name = $o{name} // 'fleet';
    my $prefix = $o{prefix} // "mcp:$name:$$:";
    my $redis = start_redis(name => "$name-redis", %{ $o{redis} || {} });
    my $common = "MCPSessionStorageMode external\n"
               . 'MCPSessionStore ' . $redis->url . "\n"
               . "MCPSessionKeyPrefix $prefix\n"
               . ($o{conf} // '');
    my $spec = $o{nodes} // 2;
    my @spec = ref $spec ? @$spec : map { {} } 1 .. $spec;
    my @nodes;
    for my $i (0 .. $#spec) {
        my %n = %{ $spec[$i] };
        my $own = delete $n{conf} // '';
        push @nodes, start_node(name => "$name-" . chr(ord('a') + $i), %n,
                                conf => $common . $own);
    }
    return ($redis, @nodes);
}

# have_program($name) -> true when $name is an executable in $PATH.
sub have_program {
    my $name = shift;
    return scalar grep { length && -x "$_/$name" } split /:/, $ENV{PATH} // '';
}

# have_redis() -> true when the redis-server start_redis() runs exists.
sub have_redis {
    my $bin = MCPTest::Redis::_server_bin();
    return $bin =~ m{/} ? -x $bin : have_program($bin);
}

# skip_unless_redis(): the whole file is skipped without redis-server.
sub skip_unless_redis {
    return if have_redis();
    require Test::More;
    Test::More::plan(skip_all => 'redis-server is not installed');
}

# node_dir() -> t/node (the Node.js scripts and their node_modules).
sub node_dir { top_dir() . '/t/node' }

# run_node(@args) -> ($exit_code, $stdout, $stderr) of `node @args` run in
# t/node; killed after 120 s.
sub run_node {
    my @args = @_;
    my $timeout = 120;
    my ($efh, $efile) = tempfile('run-node-XXXXXX', TMPDIR => 1, UNLINK => 1);
    my $pid = open(my $out, '-|');
    die "fork: $!" unless defined $pid;
    if (!$pid) {
        open STDERR, '>&', $efh or die "stderr: $!";
        chdir node_dir() or die 'chdir ' . node_dir() . ": $!";
        exec('timeout', $timeout, 'node', @args) or die "exec node: $!";
    }
    local $/;
    my $stdout = <$out> // '';
    close $out;
    my $rc = $? >> 8;
    return ($rc, $stdout, read_from($efile));
}

# gw_client(@args) -> ($exit_code, $summary, $stderr): the scripted SDK
# client t/node/gw-client.mjs (quiet), its JSON summary decoded (a summary
# with a failure when it printed none).
sub gw_client {
    my ($rc, $out, $err) = run_node(node_dir() . '/gw-client.mjs', '--quiet', @_);
    my $s = json_decode($out);
    $s = { failures => ["no summary: $out"] } unless ref $s eq 'HASH';
    return ($rc, $s, $err);
}

# A session id the TypeScript SDK makes (t/node/backend.mjs, stateful): a UUID.
our $BACKEND_SID = qr/\A[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\z/;

# skip_unless_node(): the whole file is skipped without node or without the
# SDK in t/node/node_modules.
sub skip_unless_node {
    require Test::More;
    Test::More::plan(skip_all => 'node is not installed') unless have_program('node');
    Test::More::plan(skip_all => "t/node/node_modules is missing (run 'npm install' in t/node)")
        unless -d node_dir() . '/node_modules/@modelcontextprotocol/sdk';
}

# start_backend(%opts) -> MCPTest::Backend: t/node/backend.mjs, a real MCP
# server on the official TypeScript SDK, for MCPBackend. Options:
#   mode    'stateless' | 'stateful' (default stateful)
#   port    TCP port on 127.0.0.1 (default free_port())
#   socket  listen on a unix socket instead: a path, or 1 for a fresh one
#           in a short private directory under /tmp
#   json    1: application/json answers instead of the SDK's SSE
#   name    label (reported by backend_session and stats)
#   path    MCP path (default /mcp)
#   tls     [cert.pem, key.pem]: serve HTTPS (->url is https://...)
# Waits for its ready line (dies after 30 s). Stopped at END.
#   ->url            the MCPBackend value (http://127.0.0.1:PORT/mcp or
#                    unix:/path|http://localhost/mcp)
#   ->stats          /__stats without the log (hashref; undef when down)
#   ->log            the requests it got (arrayref of {method, rpc, init,
#                    sid, status, headers, ...})
#   ->kill           SIGKILL (a crash); ->stop SIGTERM; ->start again
#   ->restart        kill + start on the same port/socket (a new process
#                    and instance: a stateful backend forgets its sessions)
#   ->suspend/resume SIGSTOP/SIGCONT (connections accepted, never answered)
#   ->refuse_init(1|0) every initialize refused (400 + JSON-RPC error) or not
#   ->instance, ->pid, ->port, ->socket
sub start_backend {
    my %o = @_;
    my $b = MCPTest::Backend->new(%o);
    _register($b);
    $b->start or croak("start_backend: backend.mjs did not start:\n" . $b->output);
    return $b;
}

# node_spawn(@args) -> a handle: `node @args` run in t/node in the
# background (stdout and stderr to files); node_wait($h [, $timeout_s])
# -> ($exit_code, $stdout, $stderr) once it ended (killed after $timeout_s,
# default 120: exit code 124). Killed at END if still running.
sub node_spawn {
    my @args = @_;
    my $p = MCPTest::Proc->new(cmd => ['node', @args], dir => node_dir());
    _register($p);
    $p->start;
    return $p;
}

sub node_wait {
    my ($p, $timeout) = @_;
    return $p->wait($timeout // 120);
}

# ---------------------------------------------------------------------------
# Logs

# file_size($file) -> current size (0 if missing); use as an offset.
sub file_size { my $f = shift; return -e $f ? -s $f : 0 }

# read_from($file [, $offset]) -> the file's text from byte $offset.
sub read_from {
    my ($file, $offset) = @_;
    open my $fh, '<', $file or return '';
    seek $fh, $offset || 0, 0;
    local $/;
    my $t = <$fh>;
    close $fh;
    return $t // '';
}

# grep_log($file, $regex [, $offset]) -> matching lines (after $offset).
sub grep_log {
    my ($file, $re, $offset) = @_;
    return grep { $_ =~ $re } split /\n/, read_from($file, $offset);
}

# wait_for_log($file, $regex, $timeout [, $offset]) -> true once a line
# matching $regex appeared after $offset.
sub wait_for_log {
    my ($file, $re, $timeout, $offset) = @_;
    return wait_for(sub { scalar grep_log($file, $re, $offset) }, $timeout // 10);
}

# access_log_pids($file, $sid [, $offset]) -> { pid => count } of the
# requests carrying Mcp-Session-Id $sid in a "%P %{Mcp-Session-Id}i ..."
# log.
sub access_log_pids {
    my ($file, $sid, $offset) = @_;
    my %pids;
    for my $line (split /\n/, read_from($file, $offset)) {
        my ($pid, $s) = split ' ', $line;
        next unless defined $s && $s eq $sid;
        $pids{$pid}++;
    }
    return \%pids;
}

# ---------------------------------------------------------------------------
# Restarts

# graceful_restart(pidfile => ..., error_log => ..., url => ...,
# signal => 'USR1', timeout => 30) -> true when the server logged
# "resuming normal operations" again and answers $url (any HTTP status
# below 500, after the old generation).
sub graceful_restart {
    my %o = @_;
    my $pid = read_pidfile($o{pidfile}) or return 0;
    my $offset = file_size($o{error_log});
    CORE::kill($o{signal} || 'USR1', $pid) or return 0;
    my $timeout = $o{timeout} || 30;
    wait_for_log($o{error_log}, qr/resuming normal operations/, $timeout, $offset)
        or return 0;
    return 1 unless $o{url};
    return wait_for(sub {
        my $r = mcp_get($o{url}, -timeout => 5);
        $r->code && $r->code < 500;
    }, $timeout);
}

# apache_test_graceful() -> graceful restart (USR1) of the Apache::Test
# server; true when it serves again.
sub apache_test_graceful {
    require Apache::Test;
    my $vars = Apache::Test::vars();
    return graceful_restart(pidfile   => "$vars->{t_logs}/httpd.pid",
                            error_log => "$vars->{t_logs}/error_log",
                            url       => url('/server-status?auto'));
}

# status_auto($url_of_server_status) -> { key => value } of
# /server-status?auto (the mod_mcp_session lines too).
sub status_auto {
    my $u = shift // '/server-status';
    $u .= '?auto' unless $u =~ /\?/;
    my $r = mcp_get($u);
    return undef unless $r->is_success;
    my %v;
    for my $line (split /\n/, $r->content) {
        $v{$1} = $2 if $line =~ /^([^:]+):\s*(.*?)\s*$/;
    }
    return \%v;
}

# server_mpm([$server_status_url]) -> 'prefork', 'event', 'worker' (as
# mod_status reports it), or $MCP_TEST_MPM.
sub server_mpm {
    my $s = status_auto(shift);
    my $mpm = $s && $s->{ServerMPM};
    return lc($mpm || $ENV{MCP_TEST_MPM} || 'event');
}

# ===========================================================================
package MCPTest::Node;
# An extra httpd (see MCPTest::start_node).
use strict;
use warnings;
use Carp qw(croak);
use File::Path qw(make_path);
use Time::HiRes qw(sleep time);

my $NODE_SEQ = 0;

sub httpd_binary {
    # Apache::Test assigns to $_ inside: a read-only $_ (map over
    # constants) would make it die and fall back to the system httpd
    local $_;
    return $ENV{MCP_HTTPD} if $ENV{MCP_HTTPD};
    my $b = eval { require Apache::Test; Apache::Test::vars()->{httpd} };
    return $b if $b && -x $b;
    return '/usr/sbin/apache2';
}

sub modules_dir {
    return $ENV{MCP_HTTPD_MODULES_DIR} if $ENV{MCP_HTTPD_MODULES_DIR};
    for my $apxs ($ENV{APACHE_TEST_APXS}, '/usr/bin/apxs', '/usr/bin/apxs2') {
        next unless $apxs && -x $apxs;
        my $d = `$apxs -q LIBEXECDIR 2>/dev/null`;
        chomp $d;
        return $d if $d && -d $d;
    }
    return '/usr/lib/apache2/modules';
}

sub new {
    my ($class, %o) = @_;
    my $self = bless { %o }, $class;
    $self->{port} ||= MCPTest::free_port();
    $self->{name} ||= 'node';
    $self->{mpm}  ||= $ENV{MCP_TEST_MPM}
                   || (eval { MCPTest::_apache_test_mpm() } // 'event');
    croak "start_node: bad mpm $self->{mpm}"
        unless $self->{mpm} =~ /^(prefork|event|worker)$/;
    $self->{location} = '/mcp' unless exists $self->{location};
    $self->{dir} = MCPTest::work_dir() . '/'
        . join('-', $self->{name}, $self->{port}, $$, ++$NODE_SEQ);
    make_path($self->{dir});
    $self->write_conf;
    # what it writes to stderr while starting (check_config) counts too
    push @NODE_LOGS, $self->error_log_path, "$self->{dir}/startup.log";
    return $self;
}

# ->url([$path]) -> http://127.0.0.1:PORT/mcp (or $path)
sub url {
    my ($self, $path) = @_;
    $path //= $self->{location} // '/';
    return "http://127.0.0.1:$self->{port}$path";
}
sub port           { $_[0]{port} }
sub dir            { $_[0]{dir} }
sub error_log_path { "$_[0]{dir}/error_log" }
sub access_log_path { "$_[0]{dir}/access_log" }
sub pid_file       { "$_[0]{dir}/httpd.pid" }
sub conf_file      { "$_[0]{dir}/httpd.conf" }
sub pid            { MCPTest::read_pidfile($_[0]->pid_file) }

# ->proxy_modules -> the proxy modules this node loads: $self->{proxy_modules}
# when given, else what its MCPBackend lines need (mod_proxy and the
# scheme's module; balancer:// adds the balancer, byrequests and shm slots;
# https:// adds mod_ssl and its session cache), else none.
sub proxy_modules {
    my $self = shift;
    return @{ $self->{proxy_modules} } if $self->{proxy_modules};
    my $text = join "\n", grep { defined } $self->{conf}, $self->{location_conf};
    my @urls = $text =~ /^\s*MCPBackend\s+"?([^"\s]+)/mgi;
    return () unless @urls;
    my @m = ('proxy');
    for my $u (@urls) {
        push @m, 'proxy_http' if $u =~ m{^(?:https?://|unix:.*\|https?://)}i;
        push @m, qw(ssl socache_shmcb) if $u =~ m{^https://|\|https://}i;
        push @m, 'proxy_fcgi' if $u =~ m{^fcgi://|\|fcgi://}i;
        push @m, qw(proxy_http proxy_balancer lbmethod_byrequests slotmem_shm)
            if $u =~ m{^balancer://}i;
    }
    my %seen;
    return grep { !$seen{$_}++ } @m;
}

sub write_conf {
    my $self = shift;
    my $dir  = $self->{dir};
    my $mods = modules_dir();
    my $mpm  = $self->{mpm};
    my $so   = MCPTest::module_so();
    my $ex   = MCPTest::example_so();
    my $servers = $self->{servers} || ($mpm eq 'prefork' ? 3 : 2);
    my $threads = $self->{threads} || 4;
    my $loglevel = $self->{loglevel} || 'info mcp_session:debug';
    my @load = map { "LoadModule ${_}_module \"$mods/mod_$_.so\"\n" }
        ("mpm_$mpm", qw(authn_core authn_file auth_basic authz_core authz_host
                        authz_user status));
    push @load, qq{LoadModule mcp_session_module "$so"\n};
    push @load, qq{LoadModule mcp_example_module "$ex"\nMCPExampleTestTools on\n} if -e $ex;
    # after mod_mcp_session, as Debian's a2enmod orders them (mcp_ < proxy)
    push @load, map { "LoadModule ${_}_module \"$mods/mod_$_.so\"\n" } $self->proxy_modules;
    my $user = $> == 0 ? "User nobody\nGroup nogroup\n" : '';
    # prefork has one worker per child: a node asked for N threads gets room
    # for N concurrent requests there too (else AH00161 and queued clients)
    my $max = $mpm eq 'prefork'
            ? ($self->{threads} && $self->{threads} > $servers ? $self->{threads} : $servers) * 2
            : $servers * $threads * 2;
    my $mpm_conf = $mpm eq 'prefork' ? <<"PREFORK" : <<"THREADED";
StartServers        $servers
MinSpareServers     $servers
MaxSpareServers     @{[ $servers * 2 ]}
ServerLimit         $max
MaxRequestWorkers   $max
PREFORK
StartServers        $servers
ServerLimit         @{[ $servers * 2 ]}
ThreadsPerChild     $threads
ThreadLimit         $threads
MinSpareThreads     $threads
MaxSpareThreads     @{[ $threads * $servers * 2 ]}
MaxRequestWorkers   $max
THREADED
    my $location = '';
    if (defined $self->{location}) {
        my $lc = $self->{location_conf} // '';
        $location = "<Location $self->{location}>\n    SetHandler mcp-session\n$lc\n</Location>\n";
    }
    my $conf = $self->{conf} // '';
    if (($self->{state_key} // 1) && $conf =~ /^\s*MCPSessionStorageMode\s+external/mi
        && $conf !~ /^\s*MCPRequestStateKeyFile\b/mi) {
        $conf .= "\nMCPRequestStateKeyFile " . MCPTest::test_state_key() . "\n";
    }
    # the same name on every node, as in a real fleet: sessions belong to
    # it (server_name => undef: none, as in Debian's default config)
    my $sn = exists $self->{server_name} ? $self->{server_name} : '127.0.0.1';
    my $server_name = defined $sn ? "ServerName $sn" : '# no ServerName';
    open my $fh, '>', $self->conf_file or croak "cannot write conf: $!";
    print $fh <<"CONF";
# generated by MCPTest::start_node
ServerRoot "$dir"
DefaultRuntimeDir "$dir"
PidFile "$dir/httpd.pid"
Listen 127.0.0.1:$self->{port}
$server_name
${user}@load
ErrorLog "$dir/error_log"
LogLevel $loglevel
LogFormat "%P %{Mcp-Session-Id}i %>s \\"%r\\"" mcpsession
CustomLog "$dir/access_log" mcpsession
DocumentRoot "$dir"
Timeout 30
KeepAlive On
MaxConnectionsPerChild 0
$mpm_conf
ExtendedStatus On
<Location /server-status>
    SetHandler server-status
</Location>

$conf

$location
CONF
    close $fh or croak "cannot write conf: $!";
}

# ->start: start (or restart after ->stop) with the same config and port;
# true once it answers HTTP.
sub start {
    my $self = shift;
    return 1 if $self->running;
    $self->write_conf if $self->{rewrite_conf};
    my $out = "$self->{dir}/startup.log";
    unlink $self->pid_file;
    my $rc = system(sprintf('%s -d %s -f %s -k start >>%s 2>&1',
                            map { _q($_) } httpd_binary(), $self->{dir},
                            $self->conf_file, $out));
    $self->{start_rc} = $rc >> 8;
    return 0 if $rc != 0 && !-e $self->pid_file;
    my $up = MCPTest::wait_for(sub {
        return 0 unless $self->pid && MCPTest::pid_alive($self->pid);
        my $r = MCPTest::mcp_get($self->url('/server-status?auto'), -timeout => 3);
        return $r->code == 200;
    }, 20);
    return $up ? 1 : 0;
}

# ->running -> true while the parent process lives.
sub running {
    my $self = shift;
    my $pid = $self->pid;
    return $pid && MCPTest::pid_alive($pid) ? 1 : 0;
}

# ->startup_output -> what httpd printed when started (config errors).
sub startup_output { MCPTest::read_from("$_[0]{dir}/startup.log") }

sub diagnostics {
    my $self = shift;
    my $log = MCPTest::read_from($self->error_log_path);
    my @tail = (split /\n/, $log)[-15 .. -1];
    return join "\n", 'startup: ' . $self->startup_output,
        'error_log tail:', grep { defined } @tail;
}

# ->stop: SIGTERM, wait until the processes are gone (SIGKILL after 15 s).
sub stop {
    my ($self, %o) = @_;
    my $pid = $self->pid;
    return 1 unless $pid && MCPTest::pid_alive($pid);
    my @kids = MCPTest::children_of($pid);
    CORE::kill 'TERM', $pid;
    my $gone = MCPTest::wait_for(sub { !MCPTest::pid_alive($pid) }, 15, 0.05);
    unless ($gone) {
        CORE::kill 'KILL', $pid, MCPTest::children_of($pid);
        MCPTest::wait_for(sub { !MCPTest::pid_alive($pid) }, 5, 0.05);
    }
    MCPTest::wait_for(sub { !grep { MCPTest::pid_alive($_) } @kids }, 10, 0.05)
        or CORE::kill 'KILL', @kids;
    MCPTest::wait_for(sub { !MCPTest::port_open($self->{port}) }, 10, 0.05);
    unlink $self->pid_file;
    return 1;
}

# ->kill: SIGKILL the parent and all children at once (a crash).
sub kill {
    my $self = shift;
    my $pid = $self->pid or return;
    my @all = ($pid, MCPTest::children_of($pid));
    CORE::kill 'KILL', @all;
    MCPTest::wait_for(sub { !grep { MCPTest::pid_alive($_) } @all }, 10, 0.05);
    unlink $self->pid_file;
}

# ->graceful: SIGUSR1; true once it logged "resuming normal operations"
# and answers again.
sub graceful {
    my ($self, %o) = @_;
    return MCPTest::graceful_restart(pidfile => $self->pid_file,
                                     error_log => $self->error_log_path,
                                     url => $self->url('/server-status?auto'),
                                     %o);
}

# ->restart: SIGHUP (full restart of the children, same parent).
sub restart {
    my ($self, %o) = @_;
    return $self->graceful(signal => 'HUP', %o);
}

# ->child_pids -> the current child processes.
sub child_pids { MCPTest::children_of($_[0]->pid // 0) }

sub _q { my $s = shift; $s =~ s/'/'\\''/g; "'$s'" }

# ===========================================================================
package MCPTest::Redis;
# A private redis-server (see MCPTest::start_redis).
use strict;
use warnings;
use Carp qw(croak);
use File::Path qw(make_path);

sub new {
    my ($class, %o) = @_;
    my $self = bless { %o }, $class;
    $self->{port} ||= MCPTest::free_port();
    $self->{name} ||= 'redis';
    $self->{appendonly} //= 'no';
    $self->{save} //= '';
    $self->{dir} = MCPTest::work_dir() . "/$self->{name}-$self->{port}-$$";
    make_path($self->{dir});
    return $self;
}

sub port     { $_[0]{port} }
sub dir      { $_[0]{dir} }
sub pid_file { "$_[0]{dir}/redis.pid" }
sub log_path { "$_[0]{dir}/redis.log" }
sub pid      { MCPTest::read_pidfile($_[0]->pid_file) }
# ->url -> redis://127.0.0.1:PORT (for MCPSessionStore)
sub url      { "redis://127.0.0.1:$_[0]{port}" }

# ->store_conf($prefix, @lines) -> the server config of an external-mode
# node on this Redis with key prefix $prefix, plus @lines.
sub store_conf {
    my ($self, $prefix, @more) = @_;
    return join "\n", 'MCPSessionStorageMode external',
        'MCPSessionStore ' . $self->url, "MCPSessionKeyPrefix $prefix", @more, '';
}

sub _server_bin { $ENV{MCP_REDIS_SERVER} || 'redis-server' }
sub _server_path {
    my $b = _server_bin();
    return $b if $b =~ m{/};
    my ($p) = grep { -x "$_/$b" } split /:/, $ENV{PATH} // '';
    return defined $p ? "$p/$b" : $b;
}
sub _cli_bin    { $ENV{MCP_REDIS_CLI} || 'redis-cli' }

# ->start: start (again) with the same dir and port; true once it answers
# PING.
sub start {
    my $self = shift;
    return 1 if $self->running;
    my @cmd = (_server_bin(),
               '--port', $self->{port}, '--bind', '127.0.0.1',
               '--dir', $self->{dir}, '--daemonize', 'yes',
               '--pidfile', $self->pid_file, '--logfile', $self->log_path,
               '--appendonly', $self->{appendonly},
               '--save', $self->{save},
               '--protected-mode', 'yes',
               @{ $self->{args} || [] });
    # the answer to PING decides, not system()'s status: under load a
    # daemonizing redis-server that came up was once reported as failed
    # (t/23 in CI); a server that really failed never answers
    my $rc = system(@cmd);
    return 0 if $rc == -1 && !-x _server_path();
    return MCPTest::wait_for(sub { ($self->cli('PING') // '') eq 'PONG' }, 15) ? 1 : 0;
}

# ->cli(@args) -> output of `redis-cli -p PORT @args` (list context: lines;
# scalar context: the output, chomped).
sub cli {
    my ($self, @args) = @_;
    my $pid = open(my $fh, '-|');
    croak "fork: $!" unless defined $pid;
    if (!$pid) {
        open STDERR, '>', '/dev/null';
        exec(_cli_bin(), '-h', '127.0.0.1', '-p', $self->{port}, @args) or POSIX::_exit(127);
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

# ->stop: orderly SHUTDOWN (persists when appendonly/save say so).
sub stop {
    my ($self, %o) = @_;
    my $pid = $self->pid;
    return 1 unless $pid && MCPTest::pid_alive($pid);
    CORE::kill 'CONT', $pid;    # in case it was suspended
    $self->cli('SHUTDOWN');
    MCPTest::wait_for(sub { !MCPTest::pid_alive($pid) }, 10, 0.05)
        or CORE::kill 'KILL', $pid;
    MCPTest::wait_for(sub { !MCPTest::pid_alive($pid) }, 5, 0.05);
    return 1;
}

# ->kill: SIGKILL (no persistence beyond what is already on disk).
sub kill {
    my $self = shift;
    my $pid = $self->pid or return;
    CORE::kill 'KILL', $pid;
    MCPTest::wait_for(sub { !MCPTest::pid_alive($pid) }, 10, 0.05);
    unlink $self->pid_file;
}

# ->suspend / ->resume: SIGSTOP / SIGCONT: Redis accepts TCP connections
# (kernel backlog) but never answers, as a hung server.
sub suspend { my $p = $_[0]->pid; CORE::kill 'STOP', $p if $p }
sub resume  { my $p = $_[0]->pid; CORE::kill 'CONT', $p if $p }

sub diagnostics {
    my $self = shift;
    return MCPTest::read_from($self->log_path);
}

# ===========================================================================
package MCPTest::Proc;
# A background process (see MCPTest::node_spawn).
use strict;
use warnings;
use Carp qw(croak);
use POSIX qw(WNOHANG);
use Time::HiRes qw(sleep time);

my $PROC_SEQ = 0;

sub new {
    my ($class, %o) = @_;
    my $self = bless { %o }, $class;
    my $base = MCPTest::work_dir() . "/proc-$$-" . ++$PROC_SEQ;
    $self->{out} = "$base.out";
    $self->{err} = "$base.err";
    return $self;
}

sub start {
    my $self = shift;
    my $pid = fork;
    croak "fork: $!" unless defined $pid;
    if (!$pid) {
        open STDIN, '<', '/dev/null';
        open STDOUT, '>', $self->{out} or POSIX::_exit(126);
        open STDERR, '>', $self->{err} or POSIX::_exit(126);
        chdir $self->{dir} if $self->{dir};
        exec(@{ $self->{cmd} }) or POSIX::_exit(127);
    }
    $self->{pid} = $pid;
    return $pid;
}

sub pid { $_[0]{pid} }

# ->running -> true until it ended (reaps it then).
sub running {
    my $self = shift;
    return 0 unless $self->{pid};
    return 1 if waitpid($self->{pid}, WNOHANG) == 0;
    $self->{rc} //= $? >> 8;
    delete $self->{pid};
    return 0;
}

sub wait {
    my ($self, $timeout) = @_;
    unless (MCPTest::wait_for(sub { !$self->running }, $timeout, 0.05)) {
        $self->stop;
        $self->{rc} = 124;
    }
    return ($self->{rc}, MCPTest::read_from($self->{out}), MCPTest::read_from($self->{err}));
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

# ===========================================================================
package MCPTest::Backend;
# t/node/backend.mjs (see MCPTest::start_backend).
use strict;
use warnings;
use Carp qw(croak);
use File::Temp qw(tempdir);
use IO::Socket::INET;
use IO::Socket::UNIX;
use POSIX qw(WNOHANG);
use Time::HiRes qw(sleep time);

my $BACKEND_SEQ = 0;

sub new {
    my ($class, %o) = @_;
    my $self = bless { %o }, $class;
    $self->{mode} ||= 'stateful';
    croak "start_backend: bad mode $self->{mode}" unless $self->{mode} =~ /^(stateless|stateful)$/;
    $self->{name} ||= "$self->{mode}-" . ++$BACKEND_SEQ;
    $self->{path} ||= '/mcp';
    if ($self->{socket}) {
        if ($self->{socket} eq '1') {
            # sun_path holds 107 bytes: a short directory, readable by httpd's user
            my $d = tempdir('mcpbe-XXXXXX', TMPDIR => 0, DIR => '/tmp', CLEANUP => 1);
            chmod 0755, $d;
            $self->{socket} = "$d/be.sock";
        }
    }
    else {
        $self->{port} ||= MCPTest::free_port();
    }
    $self->{log_file} = MCPTest::work_dir() . "/backend-$self->{name}-$$.log";
    return $self;
}

sub port     { $_[0]{port} }
sub socket   { $_[0]{socket} }
sub pid      { $_[0]{pid} }
sub instance { $_[0]{instance} }
sub mode     { $_[0]{mode} }
sub name     { $_[0]{name} }
sub output   { MCPTest::read_from($_[0]{log_file}) }

# ->url -> the MCPBackend value
sub url {
    my $self = shift;
    return "unix:$self->{socket}|http://localhost$self->{path}" if $self->{socket};
    my $scheme = $self->{tls} ? 'https' : 'http';
    return "$scheme://127.0.0.1:$self->{port}$self->{path}";
}

# ->base -> http://127.0.0.1:PORT (TCP only): for a <Proxy> or BalancerMember
sub base { "http://127.0.0.1:$_[0]{port}" }

sub start {
    my $self = shift;
    return 1 if $self->running;
    my @args = (MCPTest::node_dir() . '/backend.mjs', "--$self->{mode}", '--name', $self->{name},
                '--path', $self->{path},
                ($self->{socket} ? ('--socket', $self->{socket}) : ('--port', $self->{port})),
                ($self->{json} ? ('--json') : ()),
                ($self->{tls} ? ('--tls-cert', $self->{tls}[0], '--tls-key', $self->{tls}[1]) : ()));
    my $offset = MCPTest::file_size($self->{log_file});
    my $pid = fork;
    croak "fork: $!" unless defined $pid;
    if (!$pid) {
        open STDIN, '<', '/dev/null';
        open STDOUT, '>>', $self->{log_file} or POSIX::_exit(126);
        open STDERR, '>&', \*STDOUT;
        chdir MCPTest::node_dir();
        exec('node', @args) or POSIX::_exit(127);
    }
    $self->{pid} = $pid;
    my $line = MCPTest::wait_for(sub {
        return 0 unless $self->running;
        my ($l) = MCPTest::grep_log($self->{log_file}, qr/^backend ready /, $offset);
        return $l;
    }, 30, 0.05);
    return 0 unless $line;
    ($self->{instance}) = $line =~ /instance=(\S+)/;
    return 1;
}

sub running {
    my $self = shift;
    return 0 unless $self->{pid};
    return 1 if waitpid($self->{pid}, WNOHANG) == 0;
    delete $self->{pid};
    return 0;
}

sub _signal_wait {
    my ($self, $sig, $timeout) = @_;
    return 1 unless $self->running;
    CORE::kill 'CONT', $self->{pid};
    CORE::kill $sig, $self->{pid};
    return MCPTest::wait_for(sub { !$self->running }, $timeout, 0.02);
}

sub stop {
    my $self = shift;
    $self->_signal_wait('TERM', 10) or $self->_signal_wait('KILL', 10);
    return 1;
}

sub kill {
    my $self = shift;
    $self->_signal_wait('KILL', 10);
    return 1;
}

sub restart {
    my ($self, %o) = @_;
    $o{graceful} ? $self->stop : $self->kill;
    return $self->start;
}

sub suspend { my $p = $_[0]{pid}; CORE::kill 'STOP', $p if $p }
sub resume  { my $p = $_[0]{pid}; CORE::kill 'CONT', $p if $p }

# ->_get($path) -> the body of GET $path from the backend itself (HTTP/1.0,
# over TCP or the unix socket), or undef.
sub _get {
    my ($self, $path) = @_;
    my $s = $self->{socket}
        ? IO::Socket::UNIX->new(Peer => $self->{socket}, Type => SOCK_STREAM(), Timeout => 5)
        : IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $self->{port},
                                Proto => 'tcp', Timeout => 5);
    return undef unless $s;
    if ($self->{tls}) {
        require IO::Socket::SSL;
        IO::Socket::SSL->start_SSL($s, SSL_verify_mode => 0, Timeout => 5) or return undef;
    }
    my $text = '';
    my $ok = eval {
        local $SIG{ALRM} = sub { die "timeout\n" };
        alarm 10;
        print {$s} "GET $path HTTP/1.0\r\nHost: localhost\r\n\r\n";
        local $/;
        $text = <$s> // '';
        alarm 0;
        1;
    };
    alarm 0;
    close $s;
    return undef unless $ok && $text =~ m{\AHTTP/1\.\d 200 };
    $text =~ s/\A.*?\r\n\r\n//s;
    return $text;
}

sub stats {
    my $self = shift;
    return MCPTest::json_decode($self->_get('/__stats?log=0'));
}

# ->refuse_init(1|0): the backend refuses every initialize (400) or not
sub refuse_init {
    my ($self, $on) = @_;
    return MCPTest::json_decode($self->_get('/__control?refuse_init=' . ($on ? 1 : 0)));
}

sub log {
    my $self = shift;
    my $s = MCPTest::json_decode($self->_get('/__stats'));
    return $s ? $s->{log} : undef;
}

# ===========================================================================
package MCPTest;

# The MPM of the running Apache::Test server, from its base config.
sub _apache_test_mpm {
    my $base = top_dir() . '/t/conf/base-httpd.conf';
    open my $fh, '<', $base or return undef;
    while (<$fh>) {
        return $1 if /^LoadModule\s+mpm_(\w+)_module/;
    }
    return undef;
}

1;
