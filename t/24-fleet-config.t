# External mode configuration and startup: `apache2 -t` refuses external
# mode without MCPSessionStore and a malformed MCPSessionStore, each with a
# message naming the directive; a Redis that is down at startup does not
# stop httpd (503 until it is up, then sessions work without a restart);
# a Redis with requirepass, which apr_redis cannot AUTH to, is reported at
# startup.
#
# expect-log: MCPS00440
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore);
use Time::HiRes qw(sleep time);
use POSIX ();
use MCPTest;

# Nodes start with Redis down (MCPS00401, then failed calls: MCPS00411)
# and against a Redis with requirepass (MCPS00403, MCPS00411).
# expect-log: MCPS00401 MCPS00411 MCPS00403

skip_unless_redis();

plan tests => 29;

# config_test($conf) -> ($exit_code, $output) of `httpd -t` on a node
# configuration with $conf at server level.
sub config_test {
    my $conf = shift;
    my $node = start_node(name => 't24-t', conf => $conf, start => 0);
    my $cmd = sprintf "%s -d %s -f %s -t 2>&1", MCPTest::Node::httpd_binary(),
                      $node->dir, $node->conf_file;
    my $out = `$cmd`;
    return ($? >> 8, $out);
}

my ($rc, $out) = config_test("MCPSessionStorageMode external\n");
isnt $rc, 0, 'external mode without MCPSessionStore: httpd -t fails';
like $out, qr/MCPSessionStore/, '... naming MCPSessionStore' or diag $out;

for my $bad ('redis://', 'redis://host:99999', 'redis://host:port', 'redis://[::1]:6379',
             'redis://127.0.0.1:6379/2', 'nosuch://x') {
    ($rc, $out) = config_test("MCPSessionStorageMode external\nMCPSessionStore $bad\n");
    ok $rc != 0 && $out =~ /MCPSessionStore/ && $out =~ /\Q$bad\E/,
        "MCPSessionStore $bad: httpd -t fails with a message naming the directive and the value"
        or diag $out;
}
# A password in the address: refused by the built-in provider, which names
# the module that takes one, and the password stays out of the message.
($rc, $out) = config_test("MCPSessionStorageMode external\n"
                        . "MCPSessionStore redis://user:s3cr3t-pw\@127.0.0.1:6379\n");
ok $rc != 0 && $out =~ m{MCPSessionStore.*redis://\*\*\*\@127\.0\.0\.1:6379}
   && $out =~ /mod_mcp_session_redis/,
    'MCPSessionStore redis://user:PASSWORD@...: httpd -t fails, names the address without its '
    . 'password and the module that takes one' or diag $out;
unlike $out, qr/s3cr3t-pw/, '... and the password is not in the message';
# Where the base module itself names the store address, the user and
# password are "***" and the ?options left out: a scheme nobody serves,
# and an address that memory mode does not use.
($rc, $out) = config_test("MCPSessionStorageMode external\n"
                        . "MCPSessionStore nosuch://u:s3cr3t-pw\@10.0.0.1:1/x?sentinel_password=s3cr3t-pw\n");
ok $rc != 0 && $out =~ m{MCPS00103.*nosuch://\*\*\*\@10\.0\.0\.1:1/x\?\.\.\.} && $out !~ /s3cr3t-pw/,
    'an unknown scheme with a password: MCPS00103 shows the address as nosuch://***@10.0.0.1:1/x?..., '
    . 'without the password' or diag $out;
($rc, $out) = config_test("MCPSessionStorageMode memory\n"
                        . "MCPSessionStore redis://:s3cr3t-pw\@127.0.0.1:6379\n");
ok $out =~ m{MCPS00102.*redis://\*\*\*\@127\.0\.0\.1:6379} && $out !~ /s3cr3t-pw/,
    'an address memory mode does not use: MCPS00102 shows it without the password' or diag $out;
# The schemes of mod_mcp_session_redis without it: the module to load.
for my $scheme (qw(rediss redis+sentinel rediss+sentinel redis+cluster rediss+cluster)) {
    ($rc, $out) = config_test("MCPSessionStorageMode external\n"
                            . "MCPSessionStore $scheme://u:s3cr3t-pw\@127.0.0.1:6379/x\n");
    ok $rc != 0 && $out =~ /MCPS00113/ && $out =~ /LoadModule mcp_session_redis_module/
       && $out !~ /s3cr3t-pw/,
        "MCPSessionStore $scheme://... without mod_mcp_session_redis: httpd -t fails naming the "
        . 'module to load (MCPS00113), without the password' or diag $out;
}
($rc, $out) = config_test("MCPSessionStorageMode external\nMCPSessionStore redis://127.0.0.1:6379\n");
ok $rc == 0 && $out =~ /Syntax OK/, 'MCPSessionStore redis://127.0.0.1:6379: Syntax OK' or diag $out;
($rc, $out) = config_test("MCPSessionStorageMode external\nMCPSessionStore redis://localhost\n");
ok $rc == 0 && $out =~ /Syntax OK/, 'MCPSessionStore redis://localhost (default port): Syntax OK' or diag $out;

# --- Redis down at startup -----------------------------------------------------
my $port = free_port();
my $node = start_node(name => 't24-late',
                      conf => "MCPSessionStorageMode external\n"
                            . "MCPSessionStore redis://127.0.0.1:$port\n"
                            . "MCPSessionKeyPrefix mcp:t24:$$:\n");
ok $node->running, 'httpd starts although Redis is not reachable';
ok scalar(grep_log($node->error_log_path, qr/MCPS00401.*not reachable/)),
    'and logs a warning that Redis is not reachable';
my $res = mcp_post($node->url, init_message());
check_error($res, 503, -32000, qr/^Service Unavailable/, 'initialize: 503 while Redis is down');
ok defined $res->header('Retry-After'), '... with Retry-After';
my $redis = start_redis(name => 't24-redis', port => $port);
my $t0 = time;
my $sid = wait_for(sub {
    my ($s, $r) = initialize($node->url);
    return $r->code == 200 ? $s : undef;
}, 10, 0.1);
ok is_session_id($sid), sprintf('once Redis is up, initialize works (%.2f s later), no restart', time - $t0);
is mcp_post($node->url, rpc('ping'), session_headers($sid))->code, 200, 'and the session is usable';

# --- Redis with requirepass ----------------------------------------------------
# (MCPTest::Redis checks PING without a password, so start this one here)
my $pw_port = free_port();
my $pw_dir = MCPTest::work_dir() . "/t24-pw-redis-$pw_port-$$";
mkdir $pw_dir;
system('redis-server', '--port', $pw_port, '--bind', '127.0.0.1', '--daemonize', 'yes',
       '--dir', $pw_dir, '--pidfile', "$pw_dir/redis.pid", '--logfile', "$pw_dir/redis.log",
       '--save', '', '--appendonly', 'no', '--requirepass', 'secret') == 0
    or BAIL_OUT('cannot start redis-server with requirepass');
my $pw_up = wait_for(sub { -s "$pw_dir/redis.pid" && MCPTest::port_open($pw_port) }, 10);
END {
    if ($pw_dir && -s "$pw_dir/redis.pid") {
        my $p = MCPTest::read_pidfile("$pw_dir/redis.pid");
        kill 'TERM', $p if $p;
    }
}
ok $pw_up, 'a redis-server with requirepass';
my $pw_node = start_node(name => 't24-pw',
                         conf => "MCPSessionStorageMode external\n"
                               . "MCPSessionStore redis://127.0.0.1:$pw_port\n");
ok $pw_node->running, 'httpd starts against it';
my @lines = grep_log($pw_node->error_log_path, qr/MCPS00403/);
like $lines[0] // '', qr/requires a password.*NOAUTH.*no AUTH/,
    'the startup log says Redis requires a password and apr_redis cannot AUTH';
diag $lines[0] // 'no MCPS00403 line';
$res = mcp_post($pw_node->url, init_message());
check_error($res, 503, -32000, qr/^Service Unavailable/, 'initialize against it: 503, not a crash');
