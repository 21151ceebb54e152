/*
 * Unit tests of the OAuth protected-resource core (mcp_oauth.c): quoting,
 * new Bearer challenges, completing the challenges of an auth module
 * (RFC 9110 §11 lists: quoted commas and escapes, token68, several
 * challenges, case-insensitive names, malformed values), resource URLs
 * and their canonical form, the RFC 9728 document and its location, and
 * scope lists.
 * Run by `make -f Makefile.apxs unit`; prints TAP and "N passed, M failed".
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "apr_general.h"
#include "apr_strings.h"
#include "apr_tables.h"
#include "mcp_json.h"
#include "mcp_oauth.h"

static int passed, failed;

#define CHECK(cond, name) do {                                          \
    if (cond) { passed++; printf("ok %d - %s\n", passed + failed, name); } \
    else { failed++; printf("not ok %d - %s (%s:%d)\n", passed + failed, \
                            name, __FILE__, __LINE__); }                 \
} while (0)

static apr_pool_t *pool;

/* a and b both NULL, or equal strings; prints the difference */
static int same(const char *got, const char *want)
{
    if ((!got && !want) || (got && want && !strcmp(got, want))) {
        return 1;
    }
    printf("#   got:  %s%s%s\n#   want: %s%s%s\n", got ? "[" : "", got ? got : "NULL",
           got ? "]" : "", want ? "[" : "", want ? want : "NULL", want ? "]" : "");
    return 0;
}

static apr_array_header_t *list(const char *first, ...)
{
    apr_array_header_t *a = apr_array_make(pool, 4, sizeof(const char *));
    const char *s;
    va_list ap;

    va_start(ap, first);
    for (s = first; s; s = va_arg(ap, const char *)) {
        APR_ARRAY_PUSH(a, const char *) = s;
    }
    va_end(ap);
    return a;
}

/* the array joined by '|', to compare it in one go */
static const char *flat(const apr_array_header_t *a)
{
    return a ? apr_array_pstrcat(pool, a, '|') : "NULL";
}

/* ------------------------------------------------------------------ */

static void test_quote(void)
{
    CHECK(same(mcp_oauth_quote(pool, "mcp:tools"), "\"mcp:tools\""),
          "quote: plain text in quotes");
    CHECK(same(mcp_oauth_quote(pool, ""), "\"\""), "quote: empty string");
    CHECK(same(mcp_oauth_quote(pool, NULL), "\"\""), "quote: NULL is the empty string");
    CHECK(same(mcp_oauth_quote(pool, "say \"hi\""), "\"say \\\"hi\\\"\""),
          "quote: a double quote is escaped");
    CHECK(same(mcp_oauth_quote(pool, "a\\b\\"), "\"a\\\\b\\\\\""),
          "quote: a backslash is escaped (also a trailing one)");
    CHECK(same(mcp_oauth_quote(pool, "a\r\nb\x01" "c\x7f" "d\te"), "\"a  b c d e\""),
          "quote: CR, LF, other controls, DEL and TAB become blanks");
    CHECK(same(mcp_oauth_quote(pool, "caf\xc3\xa9, x=y"), "\"caf\xc3\xa9, x=y\""),
          "quote: UTF-8, commas and '=' are kept as they are");
}

/* ------------------------------------------------------------------ */

#define RM "https://mcp.example.com/.well-known/oauth-protected-resource/mcp"

static void test_challenge_new(void)
{
    static const char *const names[4] = {
        "error", "error_description", "resource_metadata", "scope" };
    static const char *const values[4] = {
        "insufficient_scope", "Different \"scope\"", RM, "mcp:tools mcp:admin" };
    static const char *const quoted[4] = {
        "\"insufficient_scope\"", "\"Different \\\"scope\\\"\"", "\"" RM "\"",
        "\"mcp:tools mcp:admin\"" };
    mcp_oauth_challenge_t c;
    int mask, k, all = 1;

    /* every combination of present and absent fields, in the order
     * error, error_description, resource_metadata, scope */
    for (mask = 0; mask < 16; mask++) {
        const char *v[4], *want = "Bearer", *sep = " ", *got;
        for (k = 0; k < 4; k++) {
            /* absent alternates between NULL and "" */
            v[k] = (mask & (1 << k)) ? values[k] : ((mask + k) & 1) ? "" : NULL;
            if (mask & (1 << k)) {
                want = apr_pstrcat(pool, want, sep, names[k], "=", quoted[k], NULL);
                sep = ", ";
            }
        }
        c.error = v[0];
        c.error_description = v[1];
        c.resource_metadata = v[2];
        c.scope = v[3];
        got = mcp_oauth_challenge_new(pool, &c);
        if (!same(got, want)) {
            printf("#   combination %d\n", mask);
            all = 0;
        }
    }
    CHECK(all, "challenge_new: all 16 combinations, fields in order, values quoted");

    c.error = "insufficient_scope";
    c.error_description = "Different scope(s) or other claims required";
    c.resource_metadata = RM;
    c.scope = "mcp:tools";
    CHECK(same(mcp_oauth_challenge_new(pool, &c),
               "Bearer error=\"insufficient_scope\", error_description=\"Different "
               "scope(s) or other claims required\", resource_metadata=\"" RM
               "\", scope=\"mcp:tools\""),
          "challenge_new: the research's step-up challenge, byte for byte");
    c.error = c.error_description = c.scope = NULL;
    CHECK(same(mcp_oauth_challenge_new(pool, &c), "Bearer resource_metadata=\"" RM "\""),
          "challenge_new: resource_metadata alone");
    memset(&c, 0, sizeof(c));
    CHECK(same(mcp_oauth_challenge_new(pool, &c), "Bearer"), "challenge_new: nothing: Bearer");
    CHECK(same(mcp_oauth_challenge_new(pool, NULL), "Bearer"), "challenge_new: NULL: Bearer");
    c.error_description = "line\nbreak";
    CHECK(same(mcp_oauth_challenge_new(pool, &c), "Bearer error_description=\"line break\""),
          "challenge_new: a newline in a value cannot split the header");
}

/* ------------------------------------------------------------------ */

#define ADD_RM ", resource_metadata=\"" RM "\""
#define ADD_SC ", scope=\"mcp:tools\""
#define ADD_BOTH ADD_RM ADD_SC
#define BARE_BOTH " resource_metadata=\"" RM "\"" ADD_SC

/* merge with our usual parameters; *bearer in *n */
static const char *merge(const char *value, int *n)
{
    mcp_oauth_challenge_t c = { RM, "mcp:tools", "ignored_error", "ignored" };
    return mcp_oauth_challenge_merge(pool, value, &c, n);
}

#define MERGE(value, want, want_n, name) do {                           \
    int n_ = -7;                                                        \
    const char *got_ = merge(value, &n_);                               \
    int ok_ = same(got_, want);                                         \
    if (n_ != (want_n)) {                                               \
        printf("#   bearer: got %d, want %d\n", n_, (want_n));          \
        ok_ = 0;                                                        \
    }                                                                   \
    CHECK(ok_, name);                                                   \
} while (0)

/* malformed: the very same pointer back and -1 */
#define MALFORMED(value, name) do {                                     \
    const char *in_ = (value);                                          \
    int n_ = -7;                                                        \
    const char *got_ = merge(in_, &n_);                                 \
    if (n_ != -1 || got_ != in_) {                                      \
        printf("#   bearer %d, got [%s]\n", n_, got_ ? got_ : "NULL");  \
    }                                                                   \
    CHECK(n_ == -1 && got_ == in_, name);                               \
} while (0)

static void test_merge(void)
{
    mcp_oauth_challenge_t only_rm = { RM, NULL, NULL, NULL };
    mcp_oauth_challenge_t nothing = { NULL, "", NULL, NULL };
    const char *in, *got;
    int n;

    /* no challenge at all: unchanged, 0, the caller adds a new one */
    in = "";
    got = merge(in, &n);
    CHECK(got == in && n == 0, "merge: an empty value is returned as is, 0 Bearer");
    in = " ,\t, ";
    got = merge(in, &n);
    CHECK(got == in && n == 0, "merge: only blanks and empty list elements: 0 Bearer");
    n = -7;
    got = mcp_oauth_challenge_merge(pool, NULL, &only_rm, &n);
    CHECK(got == NULL && n == 0, "merge: NULL value: NULL, 0 Bearer");
    in = "Basic realm=\"a\"";
    got = merge(in, &n);
    CHECK(got == in && n == 0, "merge: Basic alone is kept as it is, 0 Bearer");

    MERGE("Bearer", "Bearer" BARE_BOTH, 1, "merge: bare Bearer gets both parameters");
    MERGE("Bearer realm=\"x\"", "Bearer realm=\"x\"" ADD_BOTH, 1,
          "merge: Bearer realm=\"x\" gets them after its realm");
    MERGE("Bearer error=\"invalid_request\", error_description=\"No bearer token found in the request\"",
          "Bearer error=\"invalid_request\", error_description=\"No bearer token found in the request\""
          ADD_BOTH, 1, "merge: mod_auth_openidc's no-token 401 (research 3.1), exact");
    MERGE("Bearer error=\"invalid_token\", error_description=\"JWT token could not be validated\"",
          "Bearer error=\"invalid_token\", error_description=\"JWT token could not be validated\""
          ADD_BOTH, 1, "merge: mod_auth_openidc's bad-token 401 (research 3.1), exact");
    MERGE("Bearer realm=\"mcp\", error=\"invalid_request\", error_description=\"No bearer token found in the request.\"",
          "Bearer realm=\"mcp\", error=\"invalid_request\", error_description=\"No bearer token found in the request.\""
          ADD_BOTH, 1, "merge: mod_oauth2's 401 with a realm");
    MERGE("Basic realm=\"a, b\", Bearer", "Basic realm=\"a, b\", Bearer" BARE_BOTH, 1,
          "merge: a comma inside Basic's quoted realm does not start a challenge");
    MERGE("Basic realm=\"a, Bearer x\"", "Basic realm=\"a, Bearer x\"", 0,
          "merge: \"Bearer\" inside a quoted string is no challenge");
    MERGE("Bearer realm=\"a\\\"b, c\"", "Bearer realm=\"a\\\"b, c\"" ADD_BOTH, 1,
          "merge: an escaped quote and a comma inside the quoted realm");
    MERGE("Bearer realm=\"a\\\\\", scope=\"x\"", "Bearer realm=\"a\\\\\", scope=\"x\"" ADD_RM, 1,
          "merge: an escaped backslash ends right before the closing quote");
    MERGE("Bearer resource_metadata=\"https://other/x\"",
          "Bearer resource_metadata=\"https://other/x\"" ADD_SC, 1,
          "merge: a Bearer with its own resource_metadata keeps it, gets only scope");
    MERGE("Bearer Resource_Metadata=\"u\", SCOPE=\"s\"",
          "Bearer Resource_Metadata=\"u\", SCOPE=\"s\"", 1,
          "merge: parameter names are case-insensitive: nothing added");
    MERGE("Bearer scope=\"a b\"", "Bearer scope=\"a b\"" ADD_RM, 1,
          "merge: a Bearer with its own scope gets only resource_metadata");
    MERGE("Bearer realm=\"one\", Bearer realm=\"two\"",
          "Bearer realm=\"one\"" ADD_BOTH ", Bearer realm=\"two\"" ADD_BOTH, 2,
          "merge: two Bearer challenges are both completed, each at its own end");
    MERGE("Bearer, Basic realm=\"r\", Bearer scope=\"s\"",
          "Bearer" BARE_BOTH ", Basic realm=\"r\", Bearer scope=\"s\"" ADD_RM, 2,
          "merge: Bearer, Basic, Bearer: only the Bearers change");
    MERGE("Negotiate abc==, Bearer", "Negotiate abc==, Bearer" BARE_BOTH, 1,
          "merge: a token68 challenge (Negotiate abc==) then Bearer");
    MERGE("Negotiate, Basic YWxhZGRpbjpvcGVuc2VzYW1l, Bearer realm=x",
          "Negotiate, Basic YWxhZGRpbjpvcGVuc2VzYW1l, Bearer realm=x" ADD_BOTH, 1,
          "merge: bare scheme, token68 without padding, token-valued realm");
    MERGE("Basic a/b+c==", "Basic a/b+c==", 0, "merge: token68 with / + and padding");
    MERGE("bearer", "bearer" BARE_BOTH, 1, "merge: scheme 'bearer' (lower case) is Bearer");
    MERGE("BEARER realm=\"x\"", "BEARER realm=\"x\"" ADD_BOTH, 1,
          "merge: scheme 'BEARER' is Bearer");
    MERGE("Bearerish realm=\"x\"", "Bearerish realm=\"x\"", 0,
          "merge: a scheme that merely starts with Bearer is another scheme");
    MERGE("Bearer realm = \"x\" ,error= invalid_token", "Bearer realm = \"x\" ,error= invalid_token"
          ADD_BOTH, 1, "merge: BWS around '=', blanks before commas kept byte for byte");
    MERGE("Bearer ,, realm=\"x\",", "Bearer ,, realm=\"x\"" ADD_BOTH ",", 1,
          "merge: empty list elements are allowed and kept");
    MERGE("Bearer  \t", "Bearer" BARE_BOTH "  \t", 1,
          "merge: trailing blanks stay after the inserted parameters");
    MERGE("Bearer abc==", "Bearer abc==", 0,
          "merge: Bearer with a token68 (not RFC 6750) is left alone, not counted");
    MERGE("Bearer realm=\"caf\xc3\xa9\"", "Bearer realm=\"caf\xc3\xa9\"" ADD_BOTH, 1,
          "merge: obs-text (UTF-8) inside a quoted string");

    got = mcp_oauth_challenge_merge(pool, "Bearer realm=\"x\"", &only_rm, &n);
    CHECK(same(got, "Bearer realm=\"x\"" ADD_RM) && n == 1,
          "merge: no scope configured: only resource_metadata is added");
    in = "Bearer realm=\"x\"";
    got = mcp_oauth_challenge_merge(pool, in, &nothing, &n);
    CHECK(got == in && n == 1, "merge: nothing to add: the same value, Bearer counted");
    in = "Bearer realm=\"x\"";
    got = mcp_oauth_challenge_merge(pool, in, NULL, &n);
    CHECK(got == in && n == 1, "merge: no challenge data: the same value, Bearer counted");

    MALFORMED("Bearer realm=\"x", "malformed: unterminated quoted string");
    MALFORMED("Bearer realm=\"x\\", "malformed: a backslash as the last byte");
    MALFORMED("Bearer =\"x\"", "malformed: '=' with nothing before it");
    MALFORMED("Bearer realm=\"x\", =\"y\"", "malformed: a later '=' with nothing before it");
    MALFORMED("=", "malformed: a lone '='");
    MALFORMED("realm=\"x\"", "malformed: a parameter without a scheme");
    MALFORMED("Bearer realm=\"x\" junk", "malformed: text after a value before the comma");
    MALFORMED("Bearer realm=\"x\"junk", "malformed: text glued to a quoted value");
    MALFORMED("Bearer realm=\"x\", error=", "malformed: a parameter without a value");
    MALFORMED("Bearer realm=\"a\nb\"", "malformed: a control character in a quoted string");
    MALFORMED("Bearer=x", "malformed: '=' right after the scheme");
    MALFORMED("Bearer\"x\"", "malformed: a quote right after the scheme");
    MALFORMED("\"Bearer\"", "malformed: a quoted scheme");
    MALFORMED("Basic abc==, realm=\"x\"", "malformed: a parameter after a token68");
    MALFORMED("Basic abc== def", "malformed: two token68s");
    MALFORMED("Basic a=b=c, Bearer", "malformed: '=' inside a token68");
    MALFORMED("Bearer @x", "malformed: a separator where a parameter should be");
    MALFORMED("Bearer realm=\"x\"; Basic", "malformed: ';' is not a list separator");
    MALFORMED("Basic realm=\"a, Bearer", "malformed: unterminated quote that hides a Bearer");

    {
        /* linear: 50000 Bearer challenges, each completed, in bounded
         * time (a quadratic merge would take minutes); no recursion, so
         * no stack to run out of */
        const int count = 50000;
        const char *one = "Bearer realm=\"a, b\", ";
        apr_size_t len = strlen(one);
        char *big = apr_palloc(pool, len * count + 1), *p = big;
        clock_t t0;
        double secs;
        int i;
        for (i = 0; i < count; i++, p += len) {
            memcpy(p, one, len);
        }
        *p = '\0';
        t0 = clock();
        got = merge(big, &n);
        secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
        CHECK(n == count && got && strlen(got) == strlen(big) + count * strlen(ADD_BOTH),
              "merge: 50000 Bearer challenges all completed");
        printf("# 50000 challenges (%lu bytes) merged in %.3f s\n",
               (unsigned long)strlen(big), secs);
        CHECK(secs < 2.0, "merge: 50000 challenges in under 2 s of CPU");
        memset(big, ',', len * count);
        got = merge(big, &n);
        CHECK(got == big && n == 0, "merge: a megabyte of commas: 0 Bearer, unchanged");
        big[0] = '"';
        got = merge(big, &n);
        CHECK(got == big && n == -1, "merge: a megabyte inside an unterminated quote: -1");
    }
}

/* ------------------------------------------------------------------ */

static void test_urls(void)
{
    static const char *const bad[] = {
        NULL, "", "/mcp", "mcp.example.com/mcp", "//mcp.example.com/mcp",
        "ftp://mcp.example.com/mcp", "ws://mcp.example.com/mcp", "https:/mcp",
        "http:mcp", "https://", "https:///mcp", "https://mcp.example.com/mcp#frag",
        "https://mcp.example.com/#", "https://user@mcp.example.com/mcp",
        "https://user:pw@mcp.example.com/mcp", "https://mcp.example.com/mcp?x=1",
        "https://mcp.example.com/mcp?", "https://mcp.example.com:0/mcp",
        "https://mcp.example.com:65536/mcp", "https://mcp.example.com:+443/mcp",
        "https://mcp.example.com:44x/mcp", "https://mcp.example.com/m cp",
        "https://mcp.example.com/m\"cp", "https://mcp.example.com/m\\cp",
        "https://mcp.example.com/mcp\n", NULL };
    static const char *const good[] = {
        "https://mcp.example.com/mcp", "http://127.0.0.1:8080/", "HTTPS://H",
        "http://[::1]:8080/mcp", "https://h:65535/a/b/", "https://h:443", NULL };
    int i, ok;

    /* the first entry of bad is the NULL URL */
    CHECK(mcp_oauth_url_problem(pool, NULL, 1) != NULL, "url: NULL is refused");
    for (i = 1, ok = 1; bad[i]; i++) {
        const char *why = mcp_oauth_url_problem(pool, bad[i], 0);
        if (!why || !*why) {
            printf("#   accepted: %s\n", bad[i]);
            ok = 0;
        }
        if (mcp_oauth_resource_canonical(pool, bad[i])) {
            printf("#   canonical of a bad one: %s\n", bad[i]);
            ok = 0;
        }
    }
    CHECK(ok, "url: relative, other schemes, no host, fragment, userinfo, query, bad "
              "ports, blanks/quotes/controls: each refused with a reason, no canonical form");
    for (i = 0, ok = 1; good[i]; i++) {
        const char *why = mcp_oauth_url_problem(pool, good[i], 0);
        if (why) {
            printf("#   refused %s: %s\n", good[i], why);
            ok = 0;
        }
    }
    CHECK(ok, "url: absolute http(s) URLs with or without port and path are accepted");
    CHECK(same(mcp_oauth_url_problem(pool, "https://h/mcp?x=1", 0), "a query (?...) is not allowed"),
          "url: the query problem says so");
    CHECK(mcp_oauth_url_problem(pool, "https://h/doc?x=1", 1) == NULL,
          "url: a query is accepted when query_ok");
    CHECK(mcp_oauth_url_problem(pool, "https://h/doc?x=1#f", 1) != NULL,
          "url: a fragment is refused even when query_ok");
    CHECK(same(mcp_oauth_url_problem(pool, "ftp://h/", 0), "the scheme must be https or http"),
          "url: the scheme problem says so");
    CHECK(same(mcp_oauth_url_problem(pool, "https://u@h/", 0),
               "user information (user@) is not allowed"),
          "url: the userinfo problem says so");
}

static void test_canonical(void)
{
    static const char *const cases[][2] = {
        { "HTTPS://MCP.Example.com:443/mcp/", "https://mcp.example.com/mcp" },
        { "http://h:8080/", "http://h:8080/" },
        { "http://[::1]:8080/mcp", "http://[::1]:8080/mcp" },
        { "http://[FE80::A]:80/Mcp", "http://[fe80::a]/Mcp" },
        { "http://H", "http://h/" },
        { "https://h:443", "https://h/" },
        { "http://h:80/x", "http://h/x" },
        { "https://h:80/x", "https://h:80/x" },
        { "http://h:443/x", "http://h:443/x" },
        { "https://h:08443/x", "https://h:8443/x" },
        { "https://h/A/B/C", "https://h/A/B/C" },
        { "https://h/a/b//", "https://h/a/b" },
        { "HtTp://Example.COM/", "http://example.com/" },
        { NULL, NULL } };
    int i, ok;

    for (i = 0, ok = 1; cases[i][0]; i++) {
        if (!same(mcp_oauth_resource_canonical(pool, cases[i][0]), cases[i][1])) {
            ok = 0;
        }
    }
    CHECK(ok, "canonical: lowercase scheme and host, default port dropped, path case "
              "kept, trailing slash stripped but the root's, IPv6 brackets kept");
    CHECK(mcp_oauth_resource_canonical(pool, "https://h/mcp?x") == NULL,
          "canonical: a query: NULL");
    CHECK(mcp_oauth_resource_canonical(pool, "https://h/mcp#x") == NULL,
          "canonical: a fragment: NULL");
    CHECK(mcp_oauth_resource_canonical(pool, "/mcp") == NULL, "canonical: relative: NULL");
}

static void test_metadata_location(void)
{
    static const char *const cases[][3] = {
        { "https://mcp.example.com/", "/.well-known/oauth-protected-resource",
          "https://mcp.example.com/.well-known/oauth-protected-resource" },
        { "https://mcp.example.com/mcp", "/.well-known/oauth-protected-resource/mcp",
          "https://mcp.example.com/.well-known/oauth-protected-resource/mcp" },
        { "https://mcp.example.com/a/b", "/.well-known/oauth-protected-resource/a/b",
          "https://mcp.example.com/.well-known/oauth-protected-resource/a/b" },
        { "http://127.0.0.1:8080/mcp", "/.well-known/oauth-protected-resource/mcp",
          "http://127.0.0.1:8080/.well-known/oauth-protected-resource/mcp" },
        { "http://[::1]:8080/", "/.well-known/oauth-protected-resource",
          "http://[::1]:8080/.well-known/oauth-protected-resource" },
        /* not canonical yet: made so first */
        { "HTTPS://MCP.example.com:443/Mcp/", "/.well-known/oauth-protected-resource/Mcp",
          "https://mcp.example.com/.well-known/oauth-protected-resource/Mcp" },
        { NULL, NULL, NULL } };
    int i, ok;

    for (i = 0, ok = 1; cases[i][0]; i++) {
        if (!same(mcp_oauth_metadata_path(pool, cases[i][0]), cases[i][1])
            || !same(mcp_oauth_metadata_url(pool, cases[i][0]), cases[i][2])) {
            ok = 0;
        }
    }
    CHECK(ok, "metadata: path and URL for /, /mcp, /a/b, a port, IPv6, a non-canonical form");
    CHECK(mcp_oauth_metadata_path(pool, "/mcp") == NULL
          && mcp_oauth_metadata_url(pool, "ftp://h/mcp") == NULL,
          "metadata: no location for a bad resource");
    CHECK(same(MCP_OAUTH_WELL_KNOWN, "/.well-known/oauth-protected-resource"),
          "metadata: the RFC 9728 well-known name");
}

/* the offset of "name": in text, or -1 */
static long key_at(const char *text, const char *name)
{
    const char *k = strstr(text, apr_psprintf(pool, "\"%s\":", name));
    return k ? (long)(k - text) : -1;
}

static void test_metadata_json(void)
{
    mcp_oauth_metadata_t m;
    json_t *j, *v;
    json_error_t err;
    char *text, *again;
    int ok;

    memset(&m, 0, sizeof(m));
    m.resource = "https://mcp.example.com/mcp";
    m.authorization_servers = list("https://as.example.com", "https://as2.example.com/t1", NULL);
    m.scopes_supported = list("mcp:tools", "mcp:read", NULL);
    m.resource_name = "The \"MCP\" server \xc3\xa9";
    m.resource_documentation = "https://mcp.example.com/docs";
    text = mcp_oauth_metadata_json(pool, &m);
    CHECK(text != NULL, "json: the full document is made");
    if (!text) {
        return;
    }
    printf("# %s\n", text);
    j = json_loads(text, 0, &err);
    CHECK(j && json_is_object(j) && json_object_size(j) == 6,
          "json: it parses back, six fields");
    ok = j && json_is_string(json_object_get(j, "resource"))
         && !strcmp(json_string_value(json_object_get(j, "resource")), m.resource);
    CHECK(ok, "json: resource");
    v = j ? json_object_get(j, "authorization_servers") : NULL;
    CHECK(json_array_size(v) == 2
          && !strcmp(json_string_value(json_array_get(v, 0)), "https://as.example.com")
          && !strcmp(json_string_value(json_array_get(v, 1)), "https://as2.example.com/t1"),
          "json: authorization_servers, in order");
    v = j ? json_object_get(j, "scopes_supported") : NULL;
    CHECK(json_array_size(v) == 2
          && !strcmp(json_string_value(json_array_get(v, 0)), "mcp:tools")
          && !strcmp(json_string_value(json_array_get(v, 1)), "mcp:read"),
          "json: scopes_supported, in order");
    v = j ? json_object_get(j, "bearer_methods_supported") : NULL;
    CHECK(json_array_size(v) == 1 && !strcmp(json_string_value(json_array_get(v, 0)), "header"),
          "json: bearer_methods_supported is [\"header\"]");
    v = j ? json_object_get(j, "resource_name") : NULL;
    CHECK(v && !strcmp(json_string_value(v), m.resource_name),
          "json: resource_name (quotes and UTF-8 round-trip)");
    v = j ? json_object_get(j, "resource_documentation") : NULL;
    CHECK(v && !strcmp(json_string_value(v), m.resource_documentation),
          "json: resource_documentation");
    CHECK(key_at(text, "resource") == 1
          && key_at(text, "resource") < key_at(text, "authorization_servers")
          && key_at(text, "authorization_servers") < key_at(text, "scopes_supported")
          && key_at(text, "scopes_supported") < key_at(text, "bearer_methods_supported")
          && key_at(text, "bearer_methods_supported") < key_at(text, "resource_name")
          && key_at(text, "resource_name") < key_at(text, "resource_documentation"),
          "json: field order resource, authorization_servers, scopes_supported, "
          "bearer_methods_supported, resource_name, resource_documentation");
    again = j ? json_dumps(j, JSON_COMPACT) : NULL;
    CHECK(again && !strcmp(again, text), "json: compact, exactly as jansson writes it");
    free(again);
    json_decref(j);

    /* the optional fields left out */
    m.scopes_supported = list(NULL);
    m.resource_name = NULL;
    m.resource_documentation = "";
    text = mcp_oauth_metadata_json(pool, &m);
    j = text ? json_loads(text, 0, &err) : NULL;
    CHECK(j && json_object_size(j) == 3 && json_object_get(j, "resource")
          && json_object_get(j, "authorization_servers")
          && json_object_get(j, "bearer_methods_supported"),
          "json: empty scopes, NULL name, empty documentation: three fields only");
    printf("# %s\n", text ? text : "NULL");
    json_decref(j);
    m.scopes_supported = NULL;
    text = mcp_oauth_metadata_json(pool, &m);
    CHECK(text && key_at(text, "scopes_supported") == -1,
          "json: NULL scopes_supported is omitted too");

    /* nothing to publish */
    m.authorization_servers = list(NULL);
    CHECK(mcp_oauth_metadata_json(pool, &m) == NULL, "json: no authorization server: NULL");
    m.authorization_servers = NULL;
    CHECK(mcp_oauth_metadata_json(pool, &m) == NULL, "json: NULL authorization servers: NULL");
    m.authorization_servers = list("https://as.example.com", NULL);
    m.resource = NULL;
    CHECK(mcp_oauth_metadata_json(pool, &m) == NULL, "json: no resource: NULL");
    m.resource = "";
    CHECK(mcp_oauth_metadata_json(pool, &m) == NULL, "json: empty resource: NULL");
    CHECK(mcp_oauth_metadata_json(pool, NULL) == NULL, "json: no metadata: NULL");
    m.resource = "https://mcp.example.com/mcp";
    m.resource_name = "caf\xe9";
    CHECK(mcp_oauth_metadata_json(pool, &m) == NULL, "json: a name that is not UTF-8: NULL");
    m.resource_name = NULL;
    m.authorization_servers = list("https://as.example.com", "https://as\xff", NULL);
    CHECK(mcp_oauth_metadata_json(pool, &m) == NULL, "json: a server that is not UTF-8: NULL");
}

/* ------------------------------------------------------------------ */

static void test_scopes(void)
{
    CHECK(mcp_oauth_scope_valid("mcp:tools") && mcp_oauth_scope_valid("!#[]~")
          && mcp_oauth_scope_valid("https://api.example.com/x.read"),
          "scope_valid: printable ASCII scope-tokens");
    CHECK(!mcp_oauth_scope_valid(NULL) && !mcp_oauth_scope_valid("")
          && !mcp_oauth_scope_valid("a b") && !mcp_oauth_scope_valid("a\"b")
          && !mcp_oauth_scope_valid("a\\b") && !mcp_oauth_scope_valid("a\tb")
          && !mcp_oauth_scope_valid("caf\xc3\xa9") && !mcp_oauth_scope_valid("a\x7f"),
          "scope_valid: empty, blank, quote, backslash, tab, non-ASCII, DEL refused");

    CHECK(same(flat(mcp_oauth_scopes_parse(pool, "a b c")), "a|b|c"), "parse: spaces");
    CHECK(same(flat(mcp_oauth_scopes_parse(pool, "a,b,c")), "a|b|c"),
          "parse: commas (mod_auth_openidc's array join)");
    CHECK(same(flat(mcp_oauth_scopes_parse(pool, "  a,\tb ,, c  ,")), "a|b|c"),
          "parse: mixed blanks, tabs and commas, empty parts dropped");
    CHECK(same(flat(mcp_oauth_scopes_parse(pool, "a a b")), "a|a|b"),
          "parse: duplicates are kept (join and missing deduplicate)");
    CHECK(mcp_oauth_scopes_parse(pool, NULL) && mcp_oauth_scopes_parse(pool, NULL)->nelts == 0
          && mcp_oauth_scopes_parse(pool, " ,\t")->nelts == 0,
          "parse: NULL and separators only: an empty array, never NULL");

    CHECK(same(flat(mcp_oauth_scopes_missing(pool, list("a", "b", "c", NULL),
                                             list("c", "a", NULL))), "b"),
          "missing: the one not granted");
    CHECK(same(flat(mcp_oauth_scopes_missing(pool, list("c", "b", "a", NULL), list(NULL))),
               "c|b|a"), "missing: nothing granted: all, in required's order");
    CHECK(mcp_oauth_scopes_missing(pool, list("a", NULL), list("x", "a", NULL))->nelts == 0,
          "missing: all granted: empty");
    CHECK(same(flat(mcp_oauth_scopes_missing(pool, list("Mcp:Tools", NULL),
                                             list("mcp:tools", NULL))), "Mcp:Tools"),
          "missing: case-sensitive");
    CHECK(same(flat(mcp_oauth_scopes_missing(pool, list("mcp:tools", NULL),
                                             list("mcp:tool", "mcp:toolsx", NULL))), "mcp:tools"),
          "missing: exact, no prefix match");
    CHECK(same(flat(mcp_oauth_scopes_missing(pool, list("a", "a", NULL), list(NULL))), "a"),
          "missing: a scope required twice is missing once");
    CHECK(mcp_oauth_scopes_missing(pool, NULL, NULL)->nelts == 0,
          "missing: no requirement: empty");
    CHECK(same(flat(mcp_oauth_scopes_missing(pool, list("a", NULL), NULL)), "a"),
          "missing: NULL granted: all");

    CHECK(same(mcp_oauth_scopes_join(pool, list("a", "b", NULL), list("c", "a", "d", NULL)),
               "a b c d"), "join: union, a's order then b's new ones");
    CHECK(same(mcp_oauth_scopes_join(pool, list("a", "a", NULL), list("a", NULL)), "a"),
          "join: duplicates within and across removed");
    CHECK(same(mcp_oauth_scopes_join(pool, NULL, list("x", NULL)), "x")
          && same(mcp_oauth_scopes_join(pool, list("y", NULL), NULL), "y"),
          "join: one side NULL");
    CHECK(mcp_oauth_scopes_join(pool, NULL, NULL) == NULL
          && mcp_oauth_scopes_join(pool, list(NULL), list(NULL)) == NULL,
          "join: both empty: NULL");
}

int main(void)
{
    apr_initialize();
    apr_pool_create(&pool, NULL);
    test_quote();
    test_challenge_new();
    test_merge();
    test_urls();
    test_canonical();
    test_metadata_location();
    test_metadata_json();
    test_scopes();
    apr_pool_destroy(pool);
    apr_terminate();
    printf("1..%d\n", passed + failed);
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
