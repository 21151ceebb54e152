/*
 * Unit tests of mod_mcp_session_redis's MCPSessionStore parser
 * (modules/redis/mcpr_url.c, httpd-free): every URL form, the options,
 * percent-decoding, describe() without the password, and every refusal,
 * none of whose messages may hold the password.
 * Run by `make -f Makefile.apxs unit`; prints TAP and "N passed, M failed".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "apr_general.h"
#include "apr_strings.h"
#include "mcpr.h"

static int passed, failed;
static apr_pool_t *pool;

#define CHECK(cond, name) do {                                          \
    if (cond) { passed++; printf("ok %d - %s\n", passed + failed, name); } \
    else { failed++; printf("not ok %d - %s (%s:%d)\n", passed + failed, \
                            name, __FILE__, __LINE__); }                 \
} while (0)

static mcpr_url_t *parse_ok(const char *spec)
{
    mcpr_url_t *u = NULL;
    const char *err = mcpr_url_parse(pool, spec, &u);

    if (err) {
        printf("# %s: %s\n", spec, err);
    }
    CHECK(err == NULL && u != NULL, apr_psprintf(pool, "accepted: %s", spec));
    return err ? NULL : u;
}

/* Refused, with a message that holds `want` and never `secret`. */
static void parse_bad(const char *spec, const char *want, const char *secret)
{
    mcpr_url_t *u = (mcpr_url_t *)1;
    const char *err = mcpr_url_parse(pool, spec, &u);

    if (err) {
        printf("# %s\n", err);
    }
    CHECK(err != NULL && u == NULL && strstr(err, want)
          && (!secret || !strstr(err, secret)),
          apr_psprintf(pool, "refused: %s (says \"%s\"%s)", spec, want,
                       secret ? ", not the password" : ""));
}

static const mcpr_hostport_t *host(const mcpr_url_t *u, int i)
{
    return &((const mcpr_hostport_t *)u->hosts->elts)[i];
}

static int is(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

static void describes(const char *spec, const char *want)
{
    mcpr_url_t *u = NULL;
    const char *d = NULL;

    if (!mcpr_url_parse(pool, spec, &u)) {
        d = mcpr_url_describe(pool, u);
    }
    if (!is(d, want)) {
        printf("# got %s\n", d ? d : "(refused)");
    }
    CHECK(is(d, want), apr_psprintf(pool, "describe %s: %s", spec, want));
}

static void forms(void)
{
    mcpr_url_t *u;

    u = parse_ok("redis://127.0.0.1");
    CHECK(u && is(u->scheme, "redis") && u->mode == MCPR_SINGLE && !u->tls
          && u->hosts->nelts == 1 && is(host(u, 0)->host, "127.0.0.1")
          && host(u, 0)->port == 6379 && u->db == -1 && !u->user
          && !u->password && !u->master && u->verify == MCPR_VERIFY_FULL
          && u->connect_timeout == 0 && u->pool_max == 0,
          "redis://HOST: port 6379, no db, no AUTH, verify full");

    u = parse_ok("REDISS://mcp:s3cret@cache.example.net:6380/2");
    CHECK(u && is(u->scheme, "rediss") && u->tls && u->mode == MCPR_SINGLE
          && is(u->user, "mcp") && is(u->password, "s3cret")
          && is(host(u, 0)->host, "cache.example.net")
          && host(u, 0)->port == 6380 && u->db == 2,
          "rediss:// (scheme case-insensitive): user, password, port, db");

    u = parse_ok("redis://:only-pass@h");
    CHECK(u && !u->user && is(u->password, "only-pass"),
          "redis://:PASSWORD@: AUTH with the password alone");

    u = parse_ok("redis://mcp@h");
    CHECK(u && is(u->user, "mcp") && !u->password,
          "redis://USER@: user, password from MCPSessionStorePasswordFile");

    u = parse_ok("redis://us%40er:p%3Ass%2Fw%25rd@h");
    CHECK(u && is(u->user, "us@er") && is(u->password, "p:ss/w%rd"),
          "user and password are percent-decoded");

    u = parse_ok("redis://u:p@ss@h");
    CHECK(u && is(u->user, "u") && is(u->password, "p@ss")
          && is(host(u, 0)->host, "h"),
          "the user part ends at the last '@' (a password may hold '@')");

    u = parse_ok("redis://[::1]:6380/0");
    CHECK(u && is(host(u, 0)->host, "::1") && host(u, 0)->port == 6380
          && u->db == 0, "[IPv6]:port, db 0");

    u = parse_ok("rediss://[2001:db8::7]");
    CHECK(u && is(host(u, 0)->host, "2001:db8::7")
          && host(u, 0)->port == 6379, "[IPv6] without a port");

    u = parse_ok("redis://h/");
    CHECK(u && u->db == -1, "a lone '/' selects nothing");

    u = parse_ok("redis://h/2147483647");
    CHECK(u && u->db == 2147483647, "db up to 2^31-1 (Redis decides)");

    u = parse_ok("redis+sentinel://s1,s2:26380,[::1]/mymaster");
    CHECK(u && u->mode == MCPR_SENTINEL && !u->tls && u->hosts->nelts == 3
          && is(host(u, 0)->host, "s1") && host(u, 0)->port == 26379
          && host(u, 1)->port == 26380 && is(host(u, 2)->host, "::1")
          && host(u, 2)->port == 26379 && is(u->master, "mymaster")
          && u->db == -1,
          "redis+sentinel://: Sentinels (default port 26379), master");

    u = parse_ok("rediss+sentinel://u:pw@s1:5000/my-master/3"
                 "?sentinel_user=su&sentinel_password=s%26p");
    CHECK(u && u->tls && is(u->master, "my-master") && u->db == 3
          && is(u->user, "u") && is(u->password, "pw")
          && is(u->sentinel_user, "su") && is(u->sentinel_password, "s&p"),
          "rediss+sentinel:// with /DB and the Sentinels' own AUTH");

    u = parse_ok("redis+cluster://n1:7000,n2:7001,n3");
    CHECK(u && u->mode == MCPR_CLUSTER && u->hosts->nelts == 3
          && host(u, 2)->port == 6379 && u->db == -1,
          "redis+cluster://: seeds (default port 6379), no db");

    u = parse_ok("rediss+cluster://:pw@n1:7000/?verify=ca");
    CHECK(u && u->tls && u->mode == MCPR_CLUSTER
          && u->verify == MCPR_VERIFY_CA && is(u->password, "pw"),
          "rediss+cluster:// with a password and an option");
}

static void options(void)
{
    mcpr_url_t *u;

    u = parse_ok("redis://h?connect_timeout=250ms&pool_max=8&name=node-a");
    CHECK(u && u->connect_timeout == apr_time_from_msec(250)
          && u->pool_max == 8 && is(u->client_name, "node-a"),
          "connect_timeout in ms, pool_max, name");
    u = parse_ok("redis://h?connect_timeout=2s");
    CHECK(u && u->connect_timeout == apr_time_from_sec(2),
          "connect_timeout in s");
    u = parse_ok("redis://h?connect_timeout=75");
    CHECK(u && u->connect_timeout == apr_time_from_msec(75),
          "connect_timeout without a unit is ms");
    u = parse_ok("rediss://h?sni=redis.internal&verify=none");
    CHECK(u && is(u->sni, "redis.internal") && u->verify == MCPR_VERIFY_NONE,
          "sni and verify=none on rediss");
    u = parse_ok("rediss://h?verify=full");
    CHECK(u && u->verify == MCPR_VERIFY_FULL, "verify=full");
    u = parse_ok("redis://h?");
    CHECK(u != NULL, "an empty query");

    parse_bad("redis://h?bogus=1", "unknown option 'bogus'", NULL);
    parse_bad("redis://h?connect_timeout=1m", "connect_timeout=1m", NULL);
    parse_bad("redis://h?connect_timeout=61s", "at most 60 s", NULL);
    parse_bad("redis://h?pool_max=0", "pool_max=0", NULL);
    parse_bad("redis://h?pool_max=x", "1-4096", NULL);
    parse_bad("redis://h?name=a%20b", "client name", NULL);
    parse_bad("redis://h?sni=x", "is for TLS", NULL);
    parse_bad("redis://h?verify=none", "is for TLS", NULL);
    parse_bad("rediss://h?verify=maybe", "full", NULL);
    parse_bad("redis://h?sentinel_password=x", "is for redis+sentinel", NULL);
    /* a sentinel_password needs no '@': no message may repeat it */
    parse_bad("redis://h?sentinel_password=hunter3", "is for redis+sentinel",
              "hunter3");
    parse_bad("redis+sentinel://s/m?sentinel_password=hunter3&pool_max=0",
              "pool_max=0", "hunter3");
    parse_bad("redis+sentinel://s/m?sentinel_Password=hunter3", "unknown option",
              "hunter3");
    parse_bad("redis+sentinel://s/m?sentinel_password=hun&ter3", "NAME=VALUE",
              "ter3");
    parse_bad("redis+sentinel://s:0/m?name=hunter3", "bad port", "hunter3");
    parse_bad("redis+sentinel://s/m?sentinel_user=u", "needs sentinel_password",
              NULL);
    parse_bad("redis://h?pool_max=1&pool_max=2", "twice", NULL);
    parse_bad("redis://h?novalue", "NAME=VALUE", NULL);
    parse_bad("redis://h?name=%zz", "%-escape", NULL);
}

static void refusals(void)
{
    parse_bad("redis:/h", "not a Redis address", NULL);
    parse_bad("memcache://h", "not a scheme of mod_mcp_session_redis", NULL);
    parse_bad("redis://", "host is empty", NULL);
    parse_bad("redis://u:hunter2@", "host is empty", "hunter2");
    parse_bad("redis://h:0", "bad port", NULL);
    parse_bad("redis://h:65536", "bad port", NULL);
    parse_bad("redis://h:x", "bad port", NULL);
    parse_bad("redis://u:hunter2@h:99999", "bad port", "hunter2");
    parse_bad("redis://h:", "bad port", NULL);
    parse_bad("redis://::1", "brackets", NULL);
    parse_bad("redis://[::1", "lacks its ']'", NULL);
    parse_bad("redis://[zz::1]", "not an IPv6 address", NULL);
    parse_bad("redis://[::1]x", "':PORT'", NULL);
    parse_bad("redis://ho st", "not a host name", NULL);
    parse_bad("redis://a,b", "takes one server", NULL);
    parse_bad("redis+sentinel://s1,/m", "a host is empty", NULL);
    parse_bad("redis://h/x", "is a number", NULL);
    parse_bad("redis://h/-1", "is a number", NULL);
    parse_bad("redis://h/2147483648", "is a number", NULL);
    parse_bad("redis+cluster://n1/0", "database 0 only", NULL);
    parse_bad("redis+sentinel://s1", "master's name", NULL);
    parse_bad("redis+sentinel://s1/", "master's name", NULL);
    parse_bad("redis+sentinel://s1/my%20master", "the master name", NULL);
    parse_bad("redis://u:hun%zzter@h", "%-escape in the password", "hun");
    parse_bad("redis://u:a%00b@h", "%-escape in the password", NULL);
    parse_bad("redis://h#frag", "'#'", NULL);
    /* a password with an unencoded '/' or '?' ends the authority early:
     * refused, and no piece of it is echoed */
    parse_bad("redis://u:pa/ss@h", "is not repeated", "ss@h");
    parse_bad("redis://u:pa?Zq9@h", "is not repeated", "Zq9");
    parse_bad("rediss://mcp:Secr3tPw@h?bogus=Secr3tPw", "unknown option",
              "Secr3tPw");
}

static void describe(void)
{
    describes("rediss://mcp:s3cret@[::1]:6380/2", "rediss://mcp:***@[::1]:6380/2");
    describes("redis://:s3cret@h", "redis://:***@h:6379");
    describes("redis://mcp@h", "redis://mcp@h:6379");
    describes("REDIS://h", "redis://h:6379");
    describes("redis+sentinel://s1,s2:5000/mymaster/1?sentinel_user=su&"
              "sentinel_password=sp&connect_timeout=1s",
              "redis+sentinel://s1:26379,s2:5000/mymaster/1?"
              "connect_timeout=1000ms&sentinel_user=su&sentinel_password=***");
    describes("rediss+cluster://n1:7000,n2?verify=ca&sni=r.example&pool_max=4"
              "&name=web1",
              "rediss+cluster://n1:7000,n2:6379?pool_max=4&name=web1&"
              "sni=r.example&verify=ca");
}

int main(void)
{
    apr_initialize();
    apr_pool_create(&pool, NULL);
    forms();
    options();
    refusals();
    describe();
    printf("1..%d\n# redis_url_tests: %d passed, %d failed\n",
           passed + failed, passed, failed);
    apr_pool_destroy(pool);
    apr_terminate();
    return failed ? 1 : 0;
}
